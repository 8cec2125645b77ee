#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Runs the fuzz targets (all by default: reader, framing_chunks, convert, convert_structured,
# archive) for SECONDS each (default 600), one after the other, one job each (the machine is
# shared).
# Idempotent: installs cargo-fuzz when missing; the growing corpora stay in fuzz/corpus/ (not in
# git), seeded from fuzz/seeds/.
#
# FUZZ_SANITIZER=none builds without AddressSanitizer: about twice the executions per second, a
# tenth of the memory and a shorter build (the CI smoke runs use it); dmpfeed's own code is safe
# Rust, the sanitizer watches the unsafe code of its dependencies. Default: address.
#
# An input is a failure when a check panics, when it takes more than 10 s (a hang) or more than
# 2 GB (-rss_limit_mb). cargo-fuzz needs nightly compiler flags (-Zsanitizer); on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets stable rustc accept them. A failure stops the run with its
# input under fuzz/artifacts/TARGET/: keep it as fuzz/regressions/TARGET-what (replayed by
# tests/fuzz_regressions.rs) and fix it (see fuzz/README.md).
set -euo pipefail

seconds="${1:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"

targets=("${@:2}")
[ ${#targets[@]} -gt 0 ] || targets=(reader framing_chunks convert convert_structured archive)
for target in "${targets[@]}"; do
    case "$target" in
        # The structured target's input is a list of choices, not a message.
        convert_structured) max_len=4096 ;;
        *) max_len=16384 ;;
    esac
    mkdir -p "fuzz/corpus/$target"
    echo "== fuzzing $target for ${seconds}s (sanitizer: $sanitizer)"
    cargo fuzz run --sanitizer "$sanitizer" --fuzz-dir fuzz "$target" \
        "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1
done

#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Runs the fuzz targets of the HL7v2 reader (all by default) for SECONDS each (default 600), one after the other
# (libFuzzer, one job: the machine is shared). Idempotent: installs cargo-fuzz when missing, keeps the
# growing corpora in fuzz/corpus/ (not in git) seeded from fuzz/seeds/.
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer); on a stable toolchain RUSTC_BOOTSTRAP=1 lets
# stable rustc accept them. A crash stops the run with its input under fuzz/artifacts/TARGET/: keep it
# under fuzz/regressions/ and add a unit test that reproduces it (see fuzz/README.md).
set -euo pipefail

seconds="${1:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1

targets=("${@:2}")
[ ${#targets[@]} -gt 0 ] || targets=(reader framing_chunks)
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -max_len=16384 -print_final_stats=1
done

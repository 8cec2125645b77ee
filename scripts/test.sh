#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): setup, formatting, lints, tests (incl. the ANS
# validator on every golden CDA), short fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
  cargo test --doc --locked
else
  cargo test --locked --no-fail-fast
fi
# Short fuzz runs (FUZZ_SMOKE_SECONDS, default 20 s per target, without the sanitizer: a
# shorter build) when cargo-fuzz is there or can be installed. The inputs that once made a
# target fail are replayed by the tests above in any case (tests/fuzz_regressions.rs); the long
# runs are scripts/fuzz.sh's (docs/security.md).
if cargo fuzz --version >/dev/null 2>&1 || cargo install --locked cargo-fuzz >&2; then
  FUZZ_SANITIZER=none scripts/fuzz.sh "${FUZZ_SMOKE_SECONDS:-20}"
else
  echo "test: cargo-fuzz cannot be installed here: fuzz smoke runs skipped" >&2
fi

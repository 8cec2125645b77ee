#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): setup, formatting, lints, tests (incl. the ANS
# validator on every golden CDA).
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

#!/usr/bin/env bash
# Installs what dmpfeed's build and tests need, idempotently (a second run installs nothing):
#  - the Rust toolchain must be there (rustup's cargo); nothing is fetched at run time;
#  - the ANS CDA validator's tools (xmllint, Saxon-HE, a Python venv with lxml) via tools/validate-cda --setup;
#  - cargo-nextest when missing (the tests also run with plain `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (https://rustup.rs)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "setup: python3 not found (needed by tools/validate-cda)" >&2; exit 2; }
command -v java >/dev/null || { echo "setup: java not found (needed by tools/validate-cda: Saxon-HE)" >&2; exit 2; }

# The validator installs xmllint and Saxon through apt when missing, and caches compiled schematrons.
tools/validate-cda --setup >&2

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest >&2 || echo "setup: cargo-nextest not installed; cargo test will be used" >&2
fi

echo "setup: ready" >&2

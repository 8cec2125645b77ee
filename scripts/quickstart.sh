#!/usr/bin/env bash
# One command on a fresh clone: set everything up, convert the bundled samples into out/, and
# validate the documents with the ANS validator.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
rm -rf out
# Exit status 1 is expected here: some samples are rejected on purpose (see samples/README.md).
status=0
target/release/dmpfeed convert samples/ --out out/ --emit mdm,xdm || status=$?
if [ "$status" -ge 2 ]; then echo "quickstart: dmpfeed failed (exit $status)" >&2; exit "$status"; fi
echo
echo "Outcomes: out/report.jsonl   Summary: out/summary.json   Documents: out/documents/"
shopt -s nullglob
docs=(out/documents/*.xml)
if [ ${#docs[@]} -gt 0 ]; then
  tools/validate-cda "${docs[@]}"
fi

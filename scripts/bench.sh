#!/usr/bin/env bash
# dmpfeed's speed side by side with the floor (issue 7), in one run:
#
#   scripts/bench.sh [MESSAGES]          # default 2000 (the issue's corpus: about 143 MB)
#
# Builds the release binary and the helpers (examples/gen_corpus.rs, floor.rs, stream_latency.rs),
# generates the corpora in bench-corpus/ if absent (gitignored), then prints for each figure the
# messages/s, MB/s (10^6 bytes), the ratio to the floor (reading the same files + one memchr
# pass), the CPU time (user + system, all threads) and the peak RSS (/usr/bin/time):
#   * dmpfeed convert, bulk, directory form, --jobs 1 and all cores, output on the disk (durable);
#   * the same with the output on tmpfs (/dev/shm): the CPU side, without the disk;
#   * one job confined to one core (taskset -c 0) against all jobs on all cores: the scaling,
#     best against best and in pairs of runs a second apart (scripts/scaling.py); for the PDF
#     messages also on a longer PDF-only corpus (PDF_MESSAGES, default 4000: ~610 MB, ~0.8 s on
#     one core), where the fixed cost of a process's start (~5 ms) weighs less than on the 800 of
#     the mixed corpus (~0.1 s);
#   * stream mode: the MLLP stream piped to `dmpfeed convert --out … --ack`, ACKs to /dev/null;
#   * stream latency p50/p99 at a steady rate (STREAM_RATE messages/s, default 100);
#   * the PDF-only and text-only sub-corpora (targets: PDF >= 1 GB/s, text >= 10,000 docs/s);
#   * the disk's own durable write speed for the same bytes (dd conv=fsync): the bound of any
#     durable output.
#   * the PDF pass-through floor: the PDF messages read and hashed (BLAKE3) on one thread and
#     written again to tmpfs by another, nothing else: the least one job does for them.
# With ARCHIVE_MESSAGES=28000 it also builds a .tar.gz of that many mixed messages (1.96 GB of
# messages, 1.34 GB gzipped) and reports the bulk peak RSS converting it (minutes, ~6 GB of disk).
#
# Environment: RUNS (best of, default 3), SCALING_PAIRS (default 9), TEXT_MESSAGES (text-only corpus, default 10000),
# PDF_MESSAGES (PDF-only corpus for the scaling, default 4000),
# STREAM_RATE (default 100), BENCH_OUT (output root on the disk measured, default bench-out/),
# BENCH_SETTLE (default 300: seconds to wait after the previous run removed its outputs, see below).
# Timings are wall-clock on a shared machine: read the ratios, run again when in doubt.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-2000}
TEXT_N=${TEXT_MESSAGES:-10000}
PDF_N=${PDF_MESSAGES:-4000}
RUNS=${RUNS:-3}
RATE=${STREAM_RATE:-100}
OUT=${BENCH_OUT:-bench-out}
CORES=$(nproc)
SHM=/dev/shm/dmpfeed-bench-$$

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (/usr/bin/time)…" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  else sudo apt-get install -y -qq time >/dev/null; fi
fi

BUILD_LOG=$(mktemp)
cargo build --release --bin dmpfeed --example gen_corpus --example floor --example stream_latency >"$BUILD_LOG" 2>&1 \
  || { cat "$BUILD_LOG" >&2; exit 2; }
rm -f "$BUILD_LOG"
BIN=target/release/dmpfeed
EX=target/release/examples

MIXED=bench-corpus/mixed-$N
TEXT=bench-corpus/text-$TEXT_N
PDFS=bench-corpus/pdf-$PDF_N
[ -f "$MIXED/corpus.json" ] || $EX/gen_corpus --out "$MIXED" --messages "$N" --form both >/dev/null
[ -f "$TEXT/corpus.json" ] || $EX/gen_corpus --out "$TEXT" --messages "$TEXT_N" --mix text --form both >/dev/null
[ -f "$PDFS/corpus.json" ] || $EX/gen_corpus --out "$PDFS" --messages "$PDF_N" --mix pdf --form dir >/dev/null
# A corpus just generated is still being written back to the disk, by kernel threads that take
# the same cores as the runs (scaling runs on 4,000 PDF files a minute after they were written:
# 1.70x; the same runs three minutes later: 1.96x). Write it all back before measuring.
sync

mkdir -p "$OUT" "$SHM"
# On ext4 without a journal, for a few minutes after many files were removed, creating files is
# up to 5x slower (the inode allocator skips recently deleted inodes: docs/performance.md, "What
# bounds the rest"). Each run removes its outputs at the end and notes when; the next one waits.
SETTLE=${BENCH_SETTLE:-300}
if [ -f "$OUT/.removed-at" ]; then
  since=$(( $(date +%s) - $(cat "$OUT/.removed-at") ))
  if [ "$since" -lt "$SETTLE" ]; then
    echo "waiting $((SETTLE - since)) s: the previous run removed its outputs ${since} s ago (BENCH_SETTLE)" >&2
    sleep $((SETTLE - since))
  fi
fi
RUN_DIR=$(mktemp -d "$OUT/run-XXXXXX")
trap 'rm -rf "$SHM"' EXIT
ROWS=$(mktemp)

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }
json_line() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }

# best_of LABEL FLOOR_MBPS MESSAGES BYTES -- COMMAND… : runs COMMAND $RUNS times (each into a fresh
# output folder, the placeholder @OUT@), keeps the shortest wall time and the largest peak RSS.
row() { printf '%s\n' "$*" >>"$ROWS"; }
best_of() {
  local label=$1 floor=$2 msgs=$3 bytes=$4; shift 5
  local best="" rss=0 cpu="" k
  for k in $(seq "$RUNS"); do
    local dir="$RUN_DIR/$(echo "$label" | tr -c 'a-zA-Z0-9' _)$k"
    case "$label" in *tmpfs*) dir="$SHM/$(basename "$dir")" ;; esac
    local cmd=("${@//@OUT@/$dir}")
    local tf; tf=$(mktemp)
    # Wall time to the nanosecond (GNU time's %e has 10 ms steps: 8 % of a 0.12 s run).
    local t0 t1; t0=$(date +%s%N)
    /usr/bin/time -f '%e %M %U %S' -o "$tf" "${cmd[@]}" >/dev/null 2>>"$RUN_DIR/stderr.log" || [ $? -eq 1 ]
    t1=$(date +%s%N)
    read -r _ kb user sys <"$tf"; rm -f "$tf"
    wall=$(python3 -c "print(($t1 - $t0) / 1e9)")
    case "$label" in *tmpfs*) rm -rf "$dir" ;; esac
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $wall < $best else 1)"; then
      best=$wall; cpu=$(python3 -c "print($user + $sys)")
    fi
    [ "$kb" -gt "$rss" ] && rss=$kb
  done
  python3 - "$label" "$floor" "$msgs" "$bytes" "$best" "$rss" "$cpu" >>"$ROWS" <<'EOF'
import sys
label, floor, msgs, nbytes, wall, rss, cpu = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
wall = max(wall, 0.01)
mbps = nbytes / wall / 1e6
print(f"| {label} | {msgs / wall:,.0f} | {mbps:,.1f} | {mbps / floor:.3f} | {wall:.3f} | {cpu:.2f} | {rss / 1024:.1f} |")
EOF
  echo "$best"
}

floor() { # floor INPUT… → prints the MB/s, best of RUNS after one run to warm the page cache
  local best=0 line
  $EX/floor "$@" >/dev/null
  for _ in $(seq "$RUNS"); do
    line=$($EX/floor "$@")
    best=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(max(float(sys.argv[2]), d['mb_per_second']))" "$line" "$best")
  done
  echo "$best"
}

MSGS=$(json "$MIXED/corpus.json" "d['all']['messages']"); BYTES=$(json "$MIXED/corpus.json" "d['all']['bytes']")
PDF_MSGS=$(json "$MIXED/corpus.json" "d['pdf']['messages']"); PDF_BYTES=$(json "$MIXED/corpus.json" "d['pdf']['bytes']")
TXT_MSGS=$(json "$TEXT/corpus.json" "d['all']['messages']"); TXT_BYTES=$(json "$TEXT/corpus.json" "d['all']['bytes']")
MLLP_BYTES=$(stat -c %s "$MIXED/stream.mllp")

F_MIXED=$(floor "$MIXED/pdf" "$MIXED/text")
F_PDF=$(floor "$MIXED/pdf")
F_TEXT=$(floor "$TEXT/text")
F_MLLP=$(floor "$MIXED/stream.mllp")
# The least a PDF conversion with one job does, whatever the conversion: one thread reads and
# hashes (BLAKE3, as dmpfeed) each file, another writes the same bytes to a new file on tmpfs.
passthrough_floor() { # INPUT → prints the MB/s, best of RUNS
  local best=0 line k
  for k in $(seq "$RUNS"); do
    line=$($EX/floor --passthrough "$SHM/passthrough-$k" "$1")
    rm -rf "$SHM/passthrough-$k"
    best=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(max(float(sys.argv[2]), d['mb_per_second']))" "$line" "$best")
  done
  echo "$best"
}
PT_PDF=$(passthrough_floor "$MIXED/pdf")

row "| figure | messages/s | MB/s | ratio to floor | seconds | CPU s | peak RSS MB |"
row "|---|---:|---:|---:|---:|---:|---:|"
for f in "floor, mixed ($MSGS messages, directory form):$F_MIXED:$MSGS:$BYTES" \
         "floor, PDF-only ($PDF_MSGS):$F_PDF:$PDF_MSGS:$PDF_BYTES" \
         "floor, text-only ($TXT_MSGS):$F_TEXT:$TXT_MSGS:$TXT_BYTES" \
         "floor, MLLP stream file:$F_MLLP:$MSGS:$MLLP_BYTES"; do
  IFS=: read -r label mbps msgs bytes <<<"$f"
  python3 -c "import sys; l,m,n,b=sys.argv[1],float(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]); w=b/m/1e6; print(f'| {l} | {n/w:,.0f} | {m:,.1f} | 1.000 | {w:.3f} | | |')" "$label" "$mbps" "$msgs" "$bytes" >>"$ROWS"
done
python3 -c "import sys; m,f,n,b=float(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]); w=b/m/1e6; print(f'| floor, PDF-only pass-through: read + BLAKE3 on one thread, the same bytes written to tmpfs by another | {n/w:,.0f} | {m:,.1f} | {m/f:.3f} | {w:.3f} | | |')" "$PT_PDF" "$F_PDF" "$PDF_MSGS" "$PDF_BYTES" >>"$ROWS"

# The disk's durable write speed for the same bytes: the bound of any durable output.
DD_BEST=""
for _ in $(seq "$RUNS"); do
  t=$( { /usr/bin/time -f '%e' dd if="$MIXED/stream.mllp" of="$RUN_DIR/dd.bin" bs=4M conv=fsync status=none; } 2>&1 | tail -1)
  rm -f "$RUN_DIR/dd.bin"
  if [ -z "$DD_BEST" ] || python3 -c "import sys; sys.exit(0 if $t < $DD_BEST else 1)"; then DD_BEST=$t; fi
done
python3 -c "import sys; b,w,f=int(sys.argv[1]),max(float(sys.argv[2]),0.01),float(sys.argv[3]); print(f'| disk: dd of the same bytes, conv=fsync (durable write bound) | | {b/w/1e6:,.1f} | {b/w/1e6/f:.3f} | {w:.2f} | | |')" "$MLLP_BYTES" "$DD_BEST" "$F_MLLP" >>"$ROWS"

# The disk's floor for durable small files: as many files as messages, of the corpus's average
# size, each written and fsynced by 16 threads (output.sync = "file" does that and more), or
# written by one thread and made durable by one syncfs (the floor of output.sync = "filesystem",
# which dmpfeed takes on this file system by default).
durable_floor() { # fsync|syncfs LABEL COUNT SIZE FLOOR_MBPS
  local best="" line fps how
  for k in $(seq "$RUNS"); do
    line=$($EX/floor "--$1" "$RUN_DIR/$1-$2-$k" "$3" "$4")
    fps=$(json_line "$line" "d['files_per_second']")
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $fps > $best else 1)"; then best=$fps; fi
  done
  case "$1" in fsync) how="written + fsynced, 16 threads" ;; *) how="written, then one syncfs" ;; esac
  python3 -c "import sys; n,fps,size,f=int(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]); print(f'| disk: {n} files of {size:,} B {sys.argv[6]} ({sys.argv[5]}) | {fps:,.0f} | {fps*size/1e6:,.1f} | {fps*size/1e6/f:.3f} | {n/fps:.2f} | | |')" "$3" "$best" "$4" "$5" "$2" "$how" >>"$ROWS"
  echo "$best"
}
FS_TEXT=$(durable_floor fsync text "$TXT_MSGS" $((TXT_BYTES / TXT_MSGS)) "$F_TEXT")
SF_TEXT=$(durable_floor syncfs text "$TXT_MSGS" $((TXT_BYTES / TXT_MSGS)) "$F_TEXT")
FS_PDF=$(durable_floor fsync pdf "$PDF_MSGS" $((PDF_BYTES / PDF_MSGS)) "$F_PDF")
SF_PDF=$(durable_floor syncfs pdf "$PDF_MSGS" $((PDF_BYTES / PDF_MSGS)) "$F_PDF")

J1=$(best_of "convert mixed, --jobs 1, disk" "$F_MIXED" "$MSGS" "$BYTES" -- $BIN convert "$MIXED/pdf" "$MIXED/text" --out @OUT@ --quiet --jobs 1)
JN=$(best_of "convert mixed, --jobs $CORES, disk" "$F_MIXED" "$MSGS" "$BYTES" -- $BIN convert "$MIXED/pdf" "$MIXED/text" --out @OUT@ --quiet --jobs "$CORES")
T1=$(best_of "convert mixed, --jobs 1, tmpfs" "$F_MIXED" "$MSGS" "$BYTES" -- $BIN convert "$MIXED/pdf" "$MIXED/text" --out @OUT@ --quiet --jobs 1)
TN=$(best_of "convert mixed, --jobs $CORES, tmpfs" "$F_MIXED" "$MSGS" "$BYTES" -- $BIN convert "$MIXED/pdf" "$MIXED/text" --out @OUT@ --quiet --jobs "$CORES")
P1=$(best_of "convert PDF-only, --jobs 1, disk" "$F_PDF" "$PDF_MSGS" "$PDF_BYTES" -- $BIN convert "$MIXED/pdf" --out @OUT@ --quiet --jobs 1)
PT1=$(best_of "convert PDF-only, --jobs 1, tmpfs" "$F_PDF" "$PDF_MSGS" "$PDF_BYTES" -- $BIN convert "$MIXED/pdf" --out @OUT@ --quiet --jobs 1)
X1=$(best_of "convert text-only, --jobs 1, disk" "$F_TEXT" "$TXT_MSGS" "$TXT_BYTES" -- $BIN convert "$TEXT/text" --out @OUT@ --quiet --jobs 1)
best_of "convert text-only, --jobs 1, tmpfs" "$F_TEXT" "$TXT_MSGS" "$TXT_BYTES" -- $BIN convert "$TEXT/text" --out @OUT@ --quiet --jobs 1 >/dev/null
XN=$(best_of "convert text-only, --jobs $CORES, disk" "$F_TEXT" "$TXT_MSGS" "$TXT_BYTES" -- $BIN convert "$TEXT/text" --out @OUT@ --quiet --jobs "$CORES")
# Scaling with cores: one job confined to one core (taskset: the reader, the worker and the
# committer share it) against all jobs on all cores. Without taskset one job already spreads its
# three threads over every core, so "--jobs N / --jobs 1" unpinned says little on a small machine.
PIN1="taskset -c 0"
C1=$(best_of "convert mixed, --jobs 1 on 1 core (taskset -c 0), tmpfs" "$F_MIXED" "$MSGS" "$BYTES" -- $PIN1 $BIN convert "$MIXED/pdf" "$MIXED/text" --out @OUT@ --quiet --jobs 1)
CP1=$(best_of "convert PDF-only, --jobs 1 on 1 core (taskset -c 0), tmpfs" "$F_PDF" "$PDF_MSGS" "$PDF_BYTES" -- $PIN1 $BIN convert "$MIXED/pdf" --out @OUT@ --quiet --jobs 1)
CPN=$(best_of "convert PDF-only, --jobs $CORES, tmpfs" "$F_PDF" "$PDF_MSGS" "$PDF_BYTES" -- $BIN convert "$MIXED/pdf" --out @OUT@ --quiet --jobs "$CORES")
CX1=$(best_of "convert text-only, --jobs 1 on 1 core (taskset -c 0), tmpfs" "$F_TEXT" "$TXT_MSGS" "$TXT_BYTES" -- $PIN1 $BIN convert "$TEXT/text" --out @OUT@ --quiet --jobs 1)
CXN=$(best_of "convert text-only, --jobs $CORES, tmpfs" "$F_TEXT" "$TXT_MSGS" "$TXT_BYTES" -- $BIN convert "$TEXT/text" --out @OUT@ --quiet --jobs "$CORES")
# The same scaling in pairs (scripts/scaling.py): one core, then all cores, a second apart, so
# that both runs of a pair see the same load from the other tenants; the median of the ratios.
PAIRS=${SCALING_PAIRS:-9}
SC_MIXED=$(SCALING_OUT="$SHM/scaling" scripts/scaling.py "$PAIRS" $BIN "$MIXED/pdf" "$MIXED/text")
SC_PDF=$(SCALING_OUT="$SHM/scaling" scripts/scaling.py "$PAIRS" $BIN "$MIXED/pdf")
SC_TEXT=$(SCALING_OUT="$SHM/scaling" scripts/scaling.py "$PAIRS" $BIN "$TEXT/text")
SC_PDF_LONG=$(SCALING_OUT="$SHM/scaling" scripts/scaling.py "$PAIRS" $BIN "$PDFS/pdf")
best_of "stream: MLLP on stdin, --ack, disk" "$F_MLLP" "$MSGS" "$MLLP_BYTES" -- sh -c "$BIN convert --out @OUT@ --ack --quiet < $MIXED/stream.mllp" >/dev/null

LAT_N=$(( MSGS < 1000 ? MSGS : 1000 ))
LAT=$($EX/stream_latency --dmpfeed $BIN --input "$MIXED/stream.mllp" --out "$RUN_DIR/latency" --rate "$RATE" --messages "$LAT_N")

echo
echo "dmpfeed $(git describe --always --dirty 2>/dev/null || echo '?') — $(date -u '+%Y-%m-%d %H:%M UTC') — $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "corpus: $MSGS mixed messages ($((BYTES / 1000000)) MB: $PDF_MSGS PDF, $((MSGS - PDF_MSGS)) text, half ISO 8859-1) + $TXT_MSGS text-only ($((TXT_BYTES / 1000000)) MB); best of $RUNS runs"
echo
cat "$ROWS"
echo
python3 - "$J1" "$JN" "$T1" "$TN" "$CORES" "$LAT" "$RATE" "$X1" "$XN" "$TXT_MSGS" "$FS_TEXT" "$P1" "$PDF_MSGS" "$FS_PDF" "$C1" "$CP1" "$CPN" "$CX1" "$CXN" "$SF_TEXT" "$SF_PDF" "$PT1" "$PT_PDF" "$PDF_BYTES" "$SC_MIXED" "$SC_PDF" "$SC_TEXT" "$SC_PDF_LONG" "$PDF_N" <<'EOF'
import json, sys
j1, jn, t1, tn, cores = map(float, sys.argv[1:6])
lat = json.loads(sys.argv[6])
x1, xn, txt_n, fs_text, p1, pdf_n, fs_pdf, c1, cp1, cpn, cx1, cxn, sf_text, sf_pdf, pt1, pt_pdf, pdf_bytes = map(float, sys.argv[8:25])
sc = [json.loads(a) for a in sys.argv[25:28]]
long_pdf, long_pdf_n = json.loads(sys.argv[28]), int(sys.argv[29])
print(f"{int(cores)} jobs / 1 job (mixed), unpinned: disk {j1 / jn:.2f}x, tmpfs {t1 / tn:.2f}x")
print(f"{int(cores)} jobs on {int(cores)} cores / 1 job on 1 core (tmpfs), best / best: mixed {c1 / tn:.2f}x, "
      f"PDF-only {cp1 / cpn:.2f}x, text-only {cx1 / cxn:.2f}x")
print(f"the same in {sc[0]['pairs']} pairs (median, lowest-highest): "
      + ", ".join(f"{name} {s['median']:.2f}x ({s['min']:.2f}-{s['max']:.2f})"
                  for name, s in zip(("mixed", "PDF-only", "text-only"), sc)))
print(f"PDF-only, {long_pdf_n:,} messages (~{long_pdf['one_core_best_s']:.1f} s on one core), in {long_pdf['pairs']} pairs: "
      f"median {long_pdf['median']:.2f}x ({long_pdf['min']:.2f}-{long_pdf['max']:.2f}), best / best "
      f"{long_pdf['one_core_best_s'] / long_pdf['all_cores_best_s']:.2f}x")
print(f"text-only on disk: {txt_n / x1:,.0f} documents/s with 1 job, {txt_n / xn:,.0f} with {int(cores)}; "
      f"the disk's floor for as many durable files: {fs_text:,.0f} files/s by fsync, {sf_text:,.0f} by syncfs "
      f"({txt_n / x1 / max(fs_text, sf_text):.0%} of the faster reached with 1 job)")
print(f"PDF-only on disk, 1 job: {pdf_n / p1:,.0f} documents/s; floor for files of that size: "
      f"{fs_pdf:,.0f} files/s by fsync, {sf_pdf:,.0f} by syncfs ({pdf_n / p1 / max(fs_pdf, sf_pdf):.0%} of the faster reached)")
print(f"PDF-only on tmpfs, 1 job: {pdf_bytes / pt1 / 1e6:,.0f} MB/s, {pdf_bytes / pt1 / 1e6 / pt_pdf:.0%} of the pass-through floor "
      f"({pt_pdf:,.0f} MB/s: reading and hashing on one thread, writing on another, nothing else)")
print(f"stream latency at {sys.argv[7]} messages/s ({lat['messages']} messages, {lat['aa']} AA): "
      f"p50 {lat['p50_ms']:.2f} ms, p90 {lat['p90_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms; "
      f"peak RSS {lat['peak_rss_kb'] / 1024:.1f} MB")
EOF

if [ -n "${ARCHIVE_MESSAGES:-}" ]; then
  # A big archive: the corpus as .tar.gz (28,000 messages = 1.96 GB of messages, 1.34 GB gzipped).
  BIG=bench-corpus/mixed-$ARCHIVE_MESSAGES
  ARCH=bench-corpus/mixed-$ARCHIVE_MESSAGES.tar.gz
  if [ ! -f "$ARCH" ]; then
    [ -f "$BIG/corpus.json" ] || $EX/gen_corpus --out "$BIG" --messages "$ARCHIVE_MESSAGES" >/dev/null
    tar -C "$BIG" -cf - pdf text | gzip -1 >"$ARCH.part" && mv "$ARCH.part" "$ARCH"
    rm -rf "$BIG"
  fi
  for j in 1 "$CORES"; do
    /usr/bin/time -f '%e %M' -o "$RUN_DIR/archive.time" $BIN convert "$ARCH" --out "$RUN_DIR/archive-$j" --quiet --jobs "$j" || [ $? -eq 1 ]
    read -r wall kb <"$RUN_DIR/archive.time"
    rm -rf "$RUN_DIR/archive-$j"
    echo "bulk, $(du -h "$ARCH" | cut -f1) .tar.gz ($ARCHIVE_MESSAGES messages), --jobs $j: ${wall} s, peak RSS $((kb / 1024)) MB"
  done
fi
rm -rf "$RUN_DIR"
date +%s >"$OUT/.removed-at"

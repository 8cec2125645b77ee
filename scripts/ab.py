#!/usr/bin/env python3
"""Interleaved A/B of dmpfeed binaries on the same corpus (docs/performance.md).

    scripts/ab.py RUNS INPUT JOBS BINARY...

Runs `BINARY convert INPUT --out OUT --jobs JOBS --quiet` RUNS times for each binary, the
binaries alternating, each run into a fresh output folder (OUT: $AB_OUT, default
/dev/shm/dmpfeed-ab, removed between runs; with AB_KEEP=1 each run gets its own folder under
OUT, left for you to remove later: on ext4, removing thousands of files just before a run slows
the file creations of that run), and prints for each binary the best and median wall
time and the median CPU time (user + system). On a shared machine two binaries compared in the
same minutes say more than two tables taken an hour apart.
"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    runs, inp, jobs, binaries = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    out = os.environ.get("AB_OUT", "/dev/shm/dmpfeed-ab")
    results = {b: [] for b in binaries}
    keep = os.environ.get("AB_KEEP") == "1"
    target = out
    for run in range(runs):
        for i, b in enumerate(binaries):
            if keep:
                target = os.path.join(out, f"{run}-{i}")
            else:
                shutil.rmtree(out, ignore_errors=True)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([b, "convert", inp, "--out", target, "--jobs", jobs, "--quiet"],
                           stdout=subprocess.DEVNULL, check=False)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            results[b].append((wall, cpu))
    if keep:
        print(f"(outputs kept in {out}: remove them when done)")
    else:
        shutil.rmtree(out, ignore_errors=True)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(inp) for f in fs)
    for b in binaries:
        walls = sorted(w for w, _ in results[b])
        cpus = [c for _, c in results[b]]
        print(f"{b}: wall best {walls[0]:.3f} s, median {statistics.median(walls):.3f} s; "
              f"CPU median {statistics.median(cpus):.3f} s; {size / walls[0] / 1e6:,.0f} MB/s at best")


if __name__ == "__main__":
    main()

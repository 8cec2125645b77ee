#!/usr/bin/env python3
"""Scaling with cores, measured in pairs (docs/performance.md, "Scaling with cores").

    scripts/scaling.py PAIRS BINARY INPUT...

Runs PAIRS pairs of conversions of INPUT: one job confined to one core
(`taskset -c 0 BINARY convert INPUT... --jobs 1`) and all jobs on all cores (`--jobs N`, N the
cores this process may use), each into a fresh output folder on tmpfs ($SCALING_OUT, default
/dev/shm/dmpfeed-scaling-PID, removed at the end). The two runs of a pair follow each other, the
first of them alternating from pair to pair. Prints one JSON line: the ratio of each pair (one
core's wall time / all cores'), their median, lowest and highest, and each side's best time.

Why pairs: on a shared machine the other tenants' load moves from one minute to the next. Two runs
a second apart see about the same load, so the ratio of a pair says more than the ratio of two
best times taken minutes apart (what the table rows of scripts/bench.sh give).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    pairs, binary, inputs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    if pairs < 1:
        sys.exit("PAIRS must be at least 1")
    cores = len(os.sched_getaffinity(0))
    out = os.environ.get("SCALING_OUT", f"/dev/shm/dmpfeed-scaling-{os.getpid()}")

    def run(one_core: bool) -> float:
        shutil.rmtree(out, ignore_errors=True)
        cmd = [binary, "convert", *inputs, "--out", out, "--quiet",
               "--jobs", "1" if one_core else str(cores)]
        return wall(["taskset", "-c", "0", *cmd] if one_core else cmd)

    one, all_ = [], []
    try:
        for i in range(pairs):
            if i % 2 == 0:
                one.append(run(True))
                all_.append(run(False))
            else:
                all_.append(run(False))
                one.append(run(True))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    ratios = sorted(a / b for a, b in zip(one, all_))
    print(json.dumps({
        "pairs": pairs,
        "cores": cores,
        "ratios": [round(r, 3) for r in ratios],
        "median": round(statistics.median(ratios), 3),
        "min": round(ratios[0], 3),
        "max": round(ratios[-1], 3),
        "one_core_best_s": round(min(one), 4),
        "all_cores_best_s": round(min(all_), 4),
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""P1's paired comparison: two commands run alternately, a ratio per pair, the median.

    pairs.py PAIRS WARMUP 'COMMAND A' 'COMMAND B'

Each pair runs A and B back to back (the order alternating from one pair to the next,
so neither always runs on the caches the other left), each spawned directly (no shell),
stdin and stdout /dev/null, as hyperfine -N runs them. Per pair: the wall time of each
(spawn to exit) and the CPU time of each (user + system, from wait4). On this shared
VM the load drifts by the second; both sides of a pair see nearly the same load, so the
median of the per-pair ratios A/B tolerates a drift that moves the medians of two
separate hyperfine series apart.

Prints one JSON object: pairs; a_wall, a_cpu, b_wall, b_cpu, the medians of A and B
(seconds); ratio_wall, ratio_cpu, the medians of the per-pair ratios A/B. A command that exits non-zero stops the run. Not a test:
nothing here asserts a time.
"""

import json
import os
import shlex
import statistics
import sys
import time

NULL = [
    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
]


def once(argv):
    """Runs argv to its end; returns (wall seconds, CPU seconds)."""
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=NULL)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"pairs.py: {shlex.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    pairs, warmup = int(sys.argv[1]), int(sys.argv[2])
    a, b = shlex.split(sys.argv[3]), shlex.split(sys.argv[4])
    for _ in range(warmup):
        once(a)
        once(b)
    runs = {"a": [], "b": []}
    for i in range(pairs):
        order = ("a", "b") if i % 2 == 0 else ("b", "a")
        for side in order:
            runs[side].append(once(a if side == "a" else b))
    ratios = [(wa / wb, ca / cb) for (wa, ca), (wb, cb) in zip(runs["a"], runs["b"])]
    median = statistics.median
    print(json.dumps({
        "pairs": pairs,
        "a_wall": median(w for w, _ in runs["a"]),
        "a_cpu": median(c for _, c in runs["a"]),
        "b_wall": median(w for w, _ in runs["b"]),
        "b_cpu": median(c for _, c in runs["b"]),
        "ratio_wall": median(r for r, _ in ratios),
        "ratio_cpu": median(r for _, r in ratios),
    }))


if __name__ == "__main__":
    main()

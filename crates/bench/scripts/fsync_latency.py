#!/usr/bin/env python3
"""fdatasync latency of the disk a database lives on: write SIZE bytes, fdatasync, N times.

    python3 crates/bench/scripts/fsync_latency.py [DIR] [N] [SIZE]

A commit cannot be faster than this; compare its tail with the commit tail of a benchmark.
"""
import os
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "."
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
size = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
path = os.path.join(directory, "fsync_latency.probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
buf = b"x" * size
latencies = []
try:
    for i in range(n):
        os.write(fd, buf)
        start = time.perf_counter()
        os.fdatasync(fd)
        latencies.append(time.perf_counter() - start)
        if i % 200 == 199:  # stay within a bounded file, as a WAL that restarts does
            os.lseek(fd, 0, 0)
finally:
    os.close(fd)
    os.unlink(path)
latencies.sort()


def q(p):
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000


print(f"n={n} size={size}: p50 {q(.5):.2f} ms, p99 {q(.99):.2f} ms, p999 {q(.999):.2f} ms, max {latencies[-1] * 1000:.2f} ms")

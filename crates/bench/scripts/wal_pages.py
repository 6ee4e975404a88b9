#!/usr/bin/env python3
"""WAL pages per commit, by b-tree, for an `outlay-bench http` run on SQLite.

    python3 crates/bench/scripts/wal_pages.py ./target/release/outlay-bench [http options]

Runs the scenario (default `http --wrk 8 --concurrency 256`), and one second into the payout
phase opens a read transaction on the bench's database: while it is open no checkpoint can copy
or reset the WAL, so every page the writer commits stays in it. Three seconds later it copies
the database and its WAL, lets go, and counts the frames written meanwhile by the b-tree (table
or index) each page belongs to (SQLite's `dbstat`). The held reader makes the WAL grow and the
writer slower: the run's own throughput and latency are not figures, the pages are.
"""
import collections
import glob
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time


def main():
    bench = sys.argv[1]
    args = sys.argv[2:] or ["--wrk", "8", "--concurrency", "256"]
    out = tempfile.mkdtemp(prefix="wal-pages-")
    log_path = os.path.join(out, "bench.log")
    before = set(glob.glob("/tmp/.tmp*/bench.db"))
    with open(log_path, "w") as log:
        proc = subprocess.Popen([bench, "http", *args], stdout=log, stderr=subprocess.STDOUT)
        db = None
        while db is None and proc.poll() is None:
            time.sleep(0.05)
            new = set(glob.glob("/tmp/.tmp*/bench.db")) - before
            db = new.pop() if new else None
        # The payout phase starts after the /healthz line.
        while proc.poll() is None and "GET /healthz" not in open(log_path).read():
            time.sleep(0.1)
        time.sleep(1.0)
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        start = os.path.getsize(db + "-wal")
        time.sleep(3.0)
        snap = os.path.join(out, "snap.db")
        shutil.copy(db, snap)
        shutil.copy(db + "-wal", snap + "-wal")
        reader.execute("COMMIT")
        reader.close()
        proc.wait()
    wal = open(snap + "-wal", "rb").read()
    page_size = struct.unpack(">I", wal[8:12])[0]
    salt = wal[16:24]
    frames = []
    offset = 32
    while offset + 24 + page_size <= len(wal):
        page, commit = struct.unpack(">II", wal[offset:offset + 8])
        if offset >= start and wal[offset + 8:offset + 16] == salt:
            frames.append((page, commit))
        offset += 24 + page_size
    # Map pages to b-trees on a copy (opening it replays the WAL into its view).
    mapped = os.path.join(out, "map.db")
    shutil.copy(snap, mapped)
    shutil.copy(snap + "-wal", mapped + "-wal")
    owner = dict(sqlite3.connect(mapped).execute("SELECT pageno, name FROM dbstat"))
    writer = [line for line in open(log_path) if line.startswith("writer:")]
    print(writer[-1].strip() if writer else "(no writer line from the bench)")
    commits = max(1, sum(1 for _, c in frames if c))
    print(f"page size {page_size}; {len(frames)} frames in {commits} commits: {len(frames) / commits:.1f} per commit")
    for name, n in collections.Counter(owner.get(p, "?") for p, _ in frames).most_common(30):
        print(f"{n / commits:8.1f}  {name}")
    shutil.rmtree(out)


if __name__ == "__main__":
    main()

"""Batch ingest: both cores, and memory that does not grow with the number of rows.

Targets (issue: store, ledger and ingest), on masks of the study's size (2880 x 1920, five
parts): a batch ingested with two processes runs at least 1.6x the one-process throughput; the
importing process's peak memory does not grow with the number of rows (the file is streamed):
a file with twice the rows may not raise it by more than 20%.

    python benchmarks/bench_ingest.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tracework.demo import data as demo_data

CHILD = textwrap.dedent("""
    import resource, sys, time, tracework
    from tracework.core.project import Category
    from tracework.demo.data import CATEGORIES
    root, batch, processes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    p = tracework.init(root, categories=[Category(n, c) for n, c in CATEGORIES.items()],
                       actor="bench")
    p = tracework.open_project(root, cli={"processes": processes})
    t = time.perf_counter()
    r = tracework.ingest_mturk(p, batch)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(r.added, dt, peak)
""")


def _ingest(tmp: Path, batch: Path, processes: int, tag: str) -> tuple[int, float, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp / f"p-{tag}"), str(batch),
                          str(processes)], check=True, capture_output=True, text=True)
    added, seconds, peak_kib = out.stdout.split()
    return int(added), float(seconds), int(peak_kib)


def _doubled(batch: Path, dest: Path) -> Path:
    with batch.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], rows[1:]
    col = header.index("AssignmentId")
    extra = [[*r[:col], r[col] + "X2", *r[col + 1:]] for r in data]
    with dest.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        w.writerows(data + extra)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        t = time.perf_counter()
        files = demo_data.generate(tmp / "gen", seed=3, frames=args.frames,
                                   workers=args.workers)
        print(f"generated {files.submissions} assignments with 2880x1920 masks "
              f"in {time.perf_counter() - t:.1f} s")
        n1, t1, m1 = _ingest(tmp, files.batch_csv, 1, "one")
        n2, t2, m2 = _ingest(tmp, files.batch_csv, 2, "two")
        double = _doubled(files.batch_csv, tmp / "double.csv")
        n3, t3, m3 = _ingest(tmp, double, 2, "double")
    speedup = (n2 / t2) / (n1 / t1)
    growth = m3 / m2
    print(f"one process:   {n1} rows in {t1:6.2f} s = {n1 / t1:6.1f} rows/s, peak {m1 / 1024:.0f} MiB")
    print(f"two processes: {n2} rows in {t2:6.2f} s = {n2 / t2:6.1f} rows/s, peak {m2 / 1024:.0f} MiB")
    print(f"two processes: {n3} rows in {t3:6.2f} s = {n3 / t3:6.1f} rows/s, peak {m3 / 1024:.0f} MiB"
          " (twice the rows)")
    ok_cores = speedup >= 1.6
    ok_memory = growth <= 1.2
    print(f"two-core speed-up {speedup:.2f}x (target >= 1.6x): {'PASS' if ok_cores else 'FAIL'}")
    print(f"peak memory with twice the rows {growth:.2f}x (target <= 1.2x): "
          f"{'PASS' if ok_memory else 'FAIL'}")
    return 0 if ok_cores and ok_memory else 1


if __name__ == "__main__":
    raise SystemExit(main())

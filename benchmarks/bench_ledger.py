"""Ledger append rate on SQLite during a bulk import.

Target (issue: store, ledger and ingest): at least 20,000 entries per second, appended inside
the import's one transaction. Printed beside it, for scale: the same entries committed one
transaction each, which is what a naive append-per-change log costs.

    python benchmarks/bench_ledger.py [--entries N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import tracework
from tracework.core import ledger
from tracework.core.project import Category

TARGET = 20_000


def _payload(i: int) -> dict[str, object]:
    return {"submission": i // 5, "kind": "mask", "category": "Body", "area": 123456.0 + i,
            "taxonomy_version": 1}


def bulk(project: tracework.Project, n: int) -> float:
    t = time.perf_counter()
    with project.store.write() as conn:
        w = ledger.LedgerWriter(conn, "bench")
        for i in range(n):
            w.append("annotation.create", f"annotation:{i}", new=_payload(i))
        w.flush()
    return n / (time.perf_counter() - t)


def one_by_one(project: tracework.Project, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        with project.store.write() as conn:
            w = ledger.LedgerWriter(conn, "bench")
            w.append("annotation.create", f"annotation:{i}", new=_payload(i))
            w.flush()
    return n / (time.perf_counter() - t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = tracework.init(Path(tmp) / "p", categories=[Category("Body", "#1f77b4")],
                                 actor="bench")
        rates = [bulk(project, args.entries) for _ in range(args.repeats)]
        naive = one_by_one(project, 500)
        verified = tracework.verify(project)
        project.close()
    rate = statistics.median(rates)
    print(f"ledger append, one transaction (bulk import): {rate:,.0f} entries/s "
          f"(median of {args.repeats} x {args.entries:,})")
    print(f"ledger append, one transaction per entry:      {naive:,.0f} entries/s")
    print(f"chain verified: {verified.entries:,} entries")
    ok = rate >= TARGET
    print(f"target >= {TARGET:,} entries/s: {'PASS' if ok else 'FAIL'} ({rate / TARGET:.2f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

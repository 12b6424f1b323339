"""`tracework verify` on a large project: the chain alone, and the chain with every table row
checked against its seal.

Builds a project with N notes, each with its ledger entry (as ``tracework note add`` writes
them, but in one transaction), sealed the way every command seals: one ``integrity.seal`` call
for the transaction. Prints the cost of sealing at write time, then verify's time with and
without the data check and the rate of the data check.

Target: the data check reads at least 50,000 rows/s, so that a million-row project verifies
in well under a minute on this machine kind.

    python benchmarks/bench_verify.py [--rows N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

import tracework
from tracework.core import integrity, ledger
from tracework.core.project import Category
from tracework.core.store import chunks
from tracework.core.store.tables_notes import notes

TARGET = 50_000


def fill(project: tracework.Project, n: int, *, seal: bool) -> float:
    """CPU seconds to write n notes with their ledger entries (and seals) in one transaction."""
    at = ledger.now()
    start = time.process_time()
    with project.store.write() as conn:
        log = ledger.LedgerWriter(conn, "bench")
        for part in chunks(range(1, n + 1), 5000):
            rows = [{"id": i, "target": f"annotation:{i}", "concern": "data_quality",
                     "text": f"the cable of frame {i} looks like part of the body", "author":
                     "bench", "created_at": at, "state": "open", "state_reason": ""}
                    for i in part]
            conn.execute(insert(notes), rows)
            for r in rows:
                log.append("note.add", r["target"], field=f"note:{r['id']}",
                           new={"note": r["id"], "concern": r["concern"], "text": r["text"]})
            if seal:
                integrity.seal(conn, "notes", part)
        log.flush()
    return time.process_time() - start


def timed(project: tracework.Project, *, data: bool) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds of one verify (SQLite runs in this process, so its work is
    in the CPU time too; on a shared machine CPU time is the steadier figure)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = tracework.verify(project, data=data)
    return time.perf_counter() - wall, time.process_time() - cpu, result.rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        plain = tracework.init(Path(tmp) / "plain", categories=[Category("Body", "#1f77b4")],
                               actor="bench")
        unsealed_write = fill(plain, n, seal=False)
        plain.close()
        project = tracework.init(Path(tmp) / "p", categories=[Category("Body", "#1f77b4")],
                                 actor="bench")
        sealed_write = fill(project, n, seal=True)
        chain = [timed(project, data=False) for _ in range(args.repeats)]
        full = [timed(project, data=True) for _ in range(args.repeats)]
        project.close()
    chain_wall = statistics.median(t[0] for t in chain)
    chain_cpu = statistics.median(t[1] for t in chain)
    full_wall = statistics.median(t[0] for t in full)
    full_cpu = statistics.median(t[1] for t in full)
    rows = full[0][2]
    data_cpu = max(full_cpu - chain_cpu, 1e-9)
    rate = rows / data_cpu
    print(f"write {n:,} notes + entries, one transaction: {unsealed_write:.2f} s CPU unsealed, "
          f"{sealed_write:.2f} s sealed ({sealed_write / unsealed_write:.2f}x)")
    print(f"verify --chain-only: {chain_wall:.2f} s wall, {chain_cpu:.2f} s CPU for {n + 1:,} "
          f"entries (median of {args.repeats})")
    print(f"verify (chain + tables): {full_wall:.2f} s wall, {full_cpu:.2f} s CPU for "
          f"{rows:,} sealed rows ({full_cpu / chain_cpu:.2f}x the chain alone)")
    print(f"data check alone: {data_cpu:.2f} s CPU, {rate:,.0f} rows/s; "
          f"a million rows: about {1_000_000 / rate:.0f} s")
    ok = rate >= TARGET
    print(f"target >= {TARGET:,} rows/s (CPU): {'PASS' if ok else 'FAIL'} ({rate / TARGET:.2f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

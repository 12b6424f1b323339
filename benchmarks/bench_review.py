"""Review at scale on the embedded store: 100,000 assignments (SQLite, WAL, one core).

Targets (RELIABILITY.md §4.2 states them for the web app's approve/reject POST, p99 < 150 ms,
and the 50-row list page, p99 < 300 ms, at 100k assignments; the library call behind each
must fit well inside, so the bar here is the same figure for the call alone):

- ``decide`` one submission (lock, check, insert, status, ledger): p99 < 150 ms over 300 calls;
- ``review_list(status="submitted", limit=50)``: p99 < 300 ms over 50 calls;
- ``propose`` over all 100k undecided submissions: ≥ 2,000 submissions/s (a whole batch
  proposed in well under a minute; set here, not in RELIABILITY.md).

The store is filled directly with rows shaped like an ingest's (3 part annotations each,
every 10th with only one part so the study's rule fires), not through ingest, which has its
own benchmark.

Run: .venv/bin/python benchmarks/bench_review.py [--submissions N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_DECIDE_P99_MS = 150.0
TARGET_LIST_P99_MS = 300.0
TARGET_PROPOSE_PER_S = 2000.0
CATS = ["Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]


def build(root: Path, n: int):  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    import tracework
    from tracework.core.ledger import now
    from tracework.core.project import Category
    from tracework.core.store.schema import annotations, batches, imports, submissions, workers

    colours = ["#1f77b4", "#d62728", "#9467bd", "#ff7f0e", "#2ca02c"]
    project = tracework.init(root / "proj", categories=[Category(c, k) for c, k in
                                                         zip(CATS, colours)], actor="bench")
    rnd = random.Random(3)
    at = now()
    with project.store.write() as conn:
        conn.execute(insert(imports).values(id=1, sha256="0" * 64, kind="mturk", file_name="x",
                                            size=0, rows=n, added=n, changed=0, conflicts=0,
                                            actor="bench", imported_at=at))
        conn.execute(insert(batches).values(id=1, platform="mturk", batch_key="B1",
                                            import_id=1, reward_cents=15))
        conn.execute(insert(workers), [{"pseudonym": f"w_{i:012d}", "platform": "mturk",
                                        "created_at": at} for i in range(500)])
        subs, anns = [], []
        for i in range(1, n + 1):
            subs.append({"id": i, "platform": "mturk", "assignment_id": f"A{i:020d}",
                         "task_id": f"H{i // 3:018d}", "batch_id": 1, "asset_id": None,
                         "worker": f"w_{rnd.randrange(500):012d}", "status": "Submitted",
                         "submit_time": "2025-03-21T16:13:12+00:00",
                         "work_time_s": float(rnd.randint(60, 600)), "time_kind": "wall_clock",
                         "reward_cents": 15, "content_sha256": f"{i:064d}", "answer": "{}",
                         "raw": "{}", "import_id": 1, "row": i, "tolerated_pixels": 0})
            parts = CATS[:1] if i % 10 == 0 else CATS[:3]
            anns += [{"submission_id": i, "worker": subs[-1]["worker"], "element": "a",
                      "kind": "mask", "category": c, "taxonomy_version": 1,
                      "area": float(rnd.randint(50, 5000))} for c in parts]
        conn.execute(insert(submissions), subs)
        conn.execute(insert(annotations), anns)
    return project


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=100_000)
    args = parser.parse_args()
    from tracework import review

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        project = build(Path(tmp), args.submissions)
        print(f"built a store of {args.submissions:,} submissions in "
              f"{time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        report = review.propose(project)
        propose_s = time.perf_counter() - t0
        rate = report.considered / propose_s
        lists = []
        for _ in range(50):
            t0 = time.perf_counter()
            review.review_list(project, status="submitted", limit=50)
            lists.append((time.perf_counter() - t0) * 1000)
        decides = []
        for sid in range(1, 301):
            t0 = time.perf_counter()
            review.decide(project, sid, "approve")
            decides.append((time.perf_counter() - t0) * 1000)
        project.close()
    rows = [
        ("propose", f"{rate:,.0f} submissions/s ({report.proposed:,} proposals, "
                    f"{propose_s:.1f} s)", f">= {TARGET_PROPOSE_PER_S:,.0f}/s",
         rate >= TARGET_PROPOSE_PER_S),
        ("review_list 50 rows", f"p50 {statistics.median(lists):.1f} ms, p99 {p99(lists):.1f} ms",
         f"p99 < {TARGET_LIST_P99_MS:.0f} ms", p99(lists) < TARGET_LIST_P99_MS),
        ("decide one", f"p50 {statistics.median(decides):.1f} ms, p99 {p99(decides):.1f} ms",
         f"p99 < {TARGET_DECIDE_P99_MS:.0f} ms", p99(decides) < TARGET_DECIDE_P99_MS),
    ]
    ok = True
    for name, measured, target, passed in rows:
        ok &= passed
        print(f"{name:<20} measured {measured:<48} target {target:<14} "
              f"{'PASS' if passed else 'FAIL'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

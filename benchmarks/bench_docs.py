"""What computed documentation costs beside the dataset export it documents.

Builds the demo project (30 frames, 40 workers, 960×640) once, then times, median of 5:
the COCO export of all submissions, and the documentation of the same selection (facts
gathered once, then Croissant with its record files, datasheet with HTML, card, credits).
No issue sets a target for it; tracework's own budget is documentation within 3× the COCO
export (it writes eight files, each synced to disk, where COCO writes one, and runs the labour
and agreement audits). Prints both side by side; exit 1 when over budget.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tracework
from tracework import docs
from tracework.dataset import select_dataset
from tracework.demo import demo
from tracework.docs.facts import gather

RUNS = 5


def _median(fn: Callable[[int], object]) -> float:
    times = []
    for i in range(RUNS):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="bench_docs_"))
    try:
        report = demo(root / "demo", frames=30, workers=40, size=(960, 640))
        project = tracework.open_project(report.project)
        out = root / "out"
        try:
            coco = _median(lambda i: tracework.export_coco(project, out / f"coco{i}",
                                                           status="all"))

            def documentation(i: int) -> None:
                facts = gather(project, select_dataset(project, status="all"))
                folder = out / f"docs{i}"
                docs.export_croissant(project, folder, facts=facts)
                docs.export_datasheet(project, folder, html=True, facts=facts)
                docs.export_card(project, folder, facts=facts)
                docs.export_credits(project, folder, facts=facts)

            documented = _median(documentation)
            anns = report.coco.annotations
        finally:
            project.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ok = documented <= 3 * coco
    print(f"annotations: {anns}")
    print(f"COCO export:                {coco * 1000:8.1f} ms  (budget: documentation ≤ 3× this)")
    print(f"documentation (measured):   {documented * 1000:8.1f} ms  "
          f"({documented / coco:.2f}× the COCO export)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

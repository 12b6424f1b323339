"""The first pass of a platform import: what knowing every person of the file costs.

A platform import reads its file twice: once keeping only who is in it (so that an id typed
into a text is replaced even when its owner's own work comes later in the file), then to
write. A Label Studio export of 3,000 tasks by 300 annotators, each annotation a box, a choice
and a textarea, one text in ten naming another annotator. Figures: the reader's one pass
alone; the whole import; the first pass as a share of the import. Target: the first pass is
at most a quarter of the import (parsing is cheap beside writing, sealing and logging), and
every typed id is replaced.

Run: python benchmarks/bench_platform_typed_ids.py [TASKS]. Exit 1 if the target fails.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

import tracework
from tracework.core.project import Category
from tracework.core.store.schema import annotations
from tracework.formats.labelstudio import read_labelstudio

PEOPLE = 300


def _user(n: int) -> int:
    return 735_000_000 + n


def _export(path: Path, tasks: int, rng: random.Random) -> int:
    """Write the export; returns how many texts name another annotator."""
    named = 0
    out = []
    for t in range(tasks):
        who = rng.randrange(PEOPLE)
        text = "two wheels, one frame"
        if t % 10 == 0:
            text = f"same as {_user((who + 1) % PEOPLE)} did"
            named += 1
        size = {"original_width": 640, "original_height": 480}
        out.append({"id": t + 1, "data": {"image": f"/data/upload/1/frame_{t:05d}.png"},
                    "annotations": [{
                        "id": 10_000 + t, "completed_by": _user(who), "lead_time": 12.5,
                        "was_cancelled": False, "created_at": "2021-03-10T08:00:00.000000Z",
                        "updated_at": "2021-03-10T08:01:00.000000Z", "result": [
                            {"id": "b", "from_name": "label", "to_name": "img",
                             "type": "rectanglelabels", **size,
                             "value": {"x": 10, "y": 10, "width": 20, "height": 30,
                                       "rotation": 0, "rectanglelabels": ["Wheel"]}},
                            {"id": "c", "from_name": "weather", "to_name": "img",
                             "type": "choices", "value": {"choices": ["Clear"]}},
                            {"id": "t", "from_name": "comment", "to_name": "img",
                             "type": "textarea", "value": {"text": [text]}}]}]})
    path.write_text(json.dumps(out), encoding="utf-8")
    return named


def main() -> int:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.json"
        named = _export(path, tasks, rng)
        start = time.perf_counter()
        works = sum(1 for _ in read_labelstudio(path).works)
        one_pass = time.perf_counter() - start
        project = tracework.init(Path(tmp) / "proj", name="bench", actor="bench",
                                 categories=[Category("Wheel", "#d62728")])
        start = time.perf_counter()
        report = tracework.ingest_labelstudio(project, path)
        whole = time.perf_counter() - start
        with project.store.read() as conn:
            texts = [str(r.value) for r in conn.execute(
                select(annotations.c.value).where(annotations.c.kind == "text"))]
        project.close()
    leaked = sum("same as 735" in t for t in texts)
    share = one_pass / whole
    print(f"{works:,} works, {PEOPLE} annotators, {named:,} texts naming another")
    print(f"reader, one pass      {one_pass:8.2f} s   ({works / one_pass:,.0f} works/s)")
    print(f"whole import          {whole:8.2f} s   ({works / whole:,.0f} works/s)")
    print(f"first pass / import   {share:8.1%}    target ≤ 25%")
    print(f"typed ids replaced    {report.redacted_ids:,} of {named:,} (left in texts: {leaked})")
    ok = share <= 0.25 and report.redacted_ids == named and leaked == 0
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

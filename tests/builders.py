"""Test helpers: a small generated example project's raw files, and ways to tamper with them."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracework.demo import data as demo_data

SMALL = {"frames": 6, "workers": 8, "size": (160, 108)}


def small_files(root: Path, **overrides: Any) -> demo_data.DemoFiles:
    """A small example batch and survey (deterministic), generated once per folder."""
    return demo_data.generate(root, seed=11, **{**SMALL, **overrides})


def truth(files: demo_data.DemoFiles) -> dict[str, Any]:
    """The generator's truth, with workers keyed by raw id and submissions naming theirs."""
    t: dict[str, Any] = json.loads(files.truth_json.read_text(encoding="utf-8"))
    t["workers"] = {w["raw_id"]: w for w in t["workers"]}
    for s in t["submissions"]:
        s["worker"] = s["worker_raw_id"]
    return t


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        w.writerows(rows)
    return path


def edited_batch(src: Path, dest: Path,
                 edit: Callable[[dict[str, str], int], dict[str, str] | None]) -> Path:
    """A copy of a batch file with ``edit(row_dict, row_number)`` applied to each data row.

    ``edit`` returns the row to write (changed in place is fine) or None to drop it.
    """
    header, rows = read_rows(src)
    out = []
    for number, cells in enumerate(rows, 1):
        row = dict(zip(header, cells))
        result = edit(row, number)
        if result is not None:
            out.append([result[h] for h in header])
    return write_rows(dest, header, out)


def copy(src: Path, dest: Path) -> Path:
    shutil.copyfile(src, dest)
    return dest

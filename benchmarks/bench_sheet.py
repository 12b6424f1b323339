"""Spreadsheet round trip at scale: export and re-import a workbook of 100,000 annotation rows.

Builds a project of 100,000 annotations (10,000 submissions by 200 workers, each row with its
ledger entry, so the Log sheet has ~110,000 rows too), then times `sheet_export` and
`sheet_import` of the unedited workbook (every cell compared with the store), each in a child
process whose peak memory (max RSS) is read back. It runs the same at a quarter of the size,
so the two peaks show how memory grows with the workbook. Target: export + import < 60 s on this
2-core machine, and peak memory of each step under MEMORY_LIMIT_MIB.

Then, side by side on the full-size project, it writes the same Annotations table (the header
in its bold grey and green fills, frozen, and every row as `sheet_export` encodes it) once with
tracework's streaming writer (`tracework.sheet_xlsx`) and once with openpyxl's write-only mode,
each in a child process, prints both times, peak memories and the ratio, and checks with
calamine that the two files hold the same cells. This is the figure that decides whether the
hand-written writer earns its place over the library.

Run: .venv/bin/python benchmarks/bench_sheet.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = 100_000
TARGET_S = 60.0
MEMORY_LIMIT_MIB = 1024


def build(root: Path, rows: int) -> None:
    import tracework
    from tracework.core import ledger
    from tracework.core.store.schema import (
        annotations,
        assets,
        batches,
        imports,
        submissions,
        vault,
        workers,
    )

    cats = [tracework.Category(n, c) for n, c in (
        ("Body", "#1f77b4"), ("Left_Button", "#d62728"), ("Right_Button", "#9467bd"),
        ("Scroll_Wheel", "#ff7f0e"), ("Cable", "#2ca02c"))]
    project = tracework.init(root, name="bench", categories=cats, actor="bench")
    rnd = random.Random(3)
    subs = rows // 10
    now = ledger.now()
    with project.store.write() as conn:
        log = ledger.LedgerWriter(conn, "bench")
        conn.execute(imports.insert().values(id=1, sha256="0" * 64, kind="mturk",
                                             file_name="bench.csv", size=0, rows=subs,
                                             added=subs, changed=0, conflicts=0, actor="bench",
                                             imported_at=now))
        conn.execute(batches.insert().values(id=1, platform="mturk", batch_key="B1",
                                             title="parts", import_id=1))
        conn.execute(assets.insert(), [{"id": i, "uri": f"frame_{i:04d}.png",
                                        "file_name": f"frame_{i:04d}.png", "sha256": "a" * 64,
                                        "width": 480, "height": 320} for i in range(1, 501)])
        names = [f"w_bench{i:07d}" for i in range(200)]
        conn.execute(vault.insert(), [{"pseudonym": w, "platform": "mturk",
                                       "platform_worker_id": f"A{i:012d}", "created_at": now}
                                      for i, w in enumerate(names)])
        conn.execute(workers.insert(), [{"pseudonym": w, "platform": "mturk", "created_at": now,
                                         "consent_link": i % 2 == 0,
                                         "consent_publish": i % 3 == 0,
                                         "consent_credit": False, "erased": False}
                                        for i, w in enumerate(names)])
        conn.execute(submissions.insert(), [{
            "id": s, "platform": "mturk", "assignment_id": f"ASSIGN{s:08d}",
            "task_id": f"HIT{s % 500:05d}", "batch_id": 1, "asset_id": s % 500 + 1,
            "worker": names[s % 200], "status": rnd.choice(["Approved", "Submitted", "Rejected"]),
            "accept_time": now, "submit_time": now, "work_time_s": rnd.uniform(30, 900),
            "time_kind": "accept_to_submit", "reward_cents": 10,
            "requester_feedback": rnd.choice(["", "thanks", "=not a formula"]),
            "content_sha256": f"{s:064x}", "answer": "{}", "raw": "{}", "tolerated_pixels": 0,
            "import_id": 1, "row": s} for s in range(1, subs + 1)])
        for s in range(1, subs + 1):
            log.append("submission.create", f"submission:{s}", new={"batch": 1})
        batch = []
        for i in range(1, rows + 1):
            s = (i - 1) // 10 + 1
            batch.append({
                "id": i, "submission_id": s, "asset_id": s % 500 + 1, "worker": names[s % 200],
                "element": "annotatedResult", "kind": "mask", "category": cats[i % 5].name,
                "taxonomy_version": 1, "rle_counts": None, "height": 320, "width": 480,
                "bbox_x": rnd.uniform(0, 400), "bbox_y": rnd.uniform(0, 300),
                "bbox_w": rnd.uniform(1, 80), "bbox_h": rnd.uniform(1, 20),
                "area": float(rnd.randint(10, 5000)), "value": None})
            log.append("annotation.create", f"annotation:{i}", new={"submission": s})
            if len(batch) == 10_000:
                conn.execute(annotations.insert(), batch)
                batch = []
        if batch:
            conn.execute(annotations.insert(), batch)
        log.flush()
    project.close()


def phase(step: str, root: Path, workbook: Path) -> None:
    """Run one step in this (child) process and print its time and report as JSON."""
    import tracework
    from tracework.fieldnotes import sheet

    project = tracework.open_project(root)
    t = time.perf_counter()
    if step == "export":
        report = sheet.sheet_export(project, workbook).as_dict()
    else:
        report = sheet.sheet_import(project, workbook, actor="bench").as_dict()
        report = {"ledger_entries": report["ledger_entries"],
                  "changes": len(report["changes"]), "stale": report["stale_cells"]}
    elapsed = time.perf_counter() - t
    project.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mib": peak, "report": report}))


def _annotation_rows(root: Path) -> tuple[list[str], list[list[object]]]:
    """The Annotations header and rows of the project at ``root``, encoded for cells."""
    import tracework
    from tracework.fieldnotes import sheet

    project = tracework.open_project(root)
    try:
        header, rows = sheet.table_rows(project, "annotations")
    finally:
        project.close()
    return header, [[sheet._cell_value(v) for v in row] for row in rows]


def _header_styles(header: list[str]) -> list[str]:
    from tracework.fieldnotes.sheet import TABLES

    editable = TABLES["annotations"].editable
    return ["editable" if name in editable else "read_only" for name in header]


def write_with_tracework(header: list[str], rows: list[list[object]], out: Path) -> None:
    from tracework.fieldnotes.sheet import _EDITABLE, _READ_ONLY
    from tracework.fieldnotes.xlsx import SheetWriter, WorkbookWriter

    styles = {i: f"{s}+bold" for i, s in enumerate(_header_styles(header))}
    book = WorkbookWriter(out, {"read_only": _READ_ONLY, "editable": _EDITABLE})

    def write(sheet: SheetWriter) -> None:
        sheet.row(header, styles=styles)
        for row in rows:
            sheet.row(row)

    book.add_sheet("Annotations", write)
    book.close()


def write_with_openpyxl(header: list[str], rows: list[list[object]], out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    from tracework.fieldnotes.sheet import _EDITABLE, _READ_ONLY

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Annotations")
    sheet.freeze_panes = "B2"
    bold = Font(bold=True)
    fills = {name: PatternFill("solid", fgColor="FF" + colour[1:])
             for name, colour in (("read_only", _READ_ONLY), ("editable", _EDITABLE))}
    cells = []
    for name, style in zip(header, _header_styles(header)):
        cell = WriteOnlyCell(sheet, value=name)
        cell.font, cell.fill = bold, fills[style]
        cells.append(cell)
    sheet.append(cells)
    for row in rows:
        sheet.append(row)
    book.save(out)


def writer_phase(which: str, root: Path, out: Path) -> None:
    """Time one writer on the project's Annotations rows (read beforehand, not timed)."""
    header, rows = _annotation_rows(root)
    write = write_with_tracework if which == "tracework" else write_with_openpyxl
    t = time.perf_counter()
    write(header, rows, out)
    elapsed = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mib": peak, "rows": len(rows),
                      "columns": len(header), "mib": out.stat().st_size / 2**20}))


def _same_cells(a: Path, b: Path) -> tuple[bool, int]:
    """Whether two workbooks' Annotations sheets hold the same cells (numbers equal to 12
    significant digits), and how many numbers are not bit-for-bit equal."""
    from python_calamine import CalamineWorkbook

    def cells(path: Path) -> list[list[object]]:
        book = CalamineWorkbook.from_path(str(path))
        return book.get_sheet_by_name("Annotations").to_python()

    inexact = 0
    left, right = cells(a), cells(b)
    if len(left) != len(right):
        return False, 0
    for x_row, y_row in zip(left, right):
        if len(x_row) != len(y_row):
            return False, inexact
        for x, y in zip(x_row, y_row):
            if x == y:
                continue
            if not (isinstance(x, float) and isinstance(y, float)
                    and math.isclose(x, y, rel_tol=1e-12)):
                return False, inexact
            inexact += 1
    return True, inexact


def compare_writers(root: Path, tmp: Path) -> tuple[float, float]:
    """Both writers on the same table, side by side; returns (tracework s, openpyxl s)."""
    got = {}
    for which in ("tracework", "openpyxl"):
        got[which] = run_phase(f"write-{which}", root, tmp / f"{which}.xlsx")
    ours, theirs = got["tracework"], got["openpyxl"]
    same, inexact = _same_cells(tmp / "tracework.xlsx", tmp / "openpyxl.xlsx")
    print(f"writing the Annotations table alone ({ours['rows']:,} rows, "
          f"{ours['columns']} columns, rows read beforehand):")
    for name, r in (("tracework.fieldnotes.xlsx", ours), ("openpyxl write-only", theirs)):
        print(f"  {name:21s} {r['seconds']:6.2f} s  peak {r['peak_mib']:6.0f} MiB   "
              f"({r['mib']:.1f} MiB file)")
    ratio = float(theirs["seconds"]) / float(ours["seconds"])  # type: ignore[arg-type]
    print(f"  openpyxl / tracework: {ratio:.1f}× the time; same cells read back: {same} "
          f"({inexact:,} numbers differ in their last digits: openpyxl writes floats as "
          "%.16g, tracework as their exact repr)")
    if not same:
        raise SystemExit("the two writers wrote different cells")
    return float(ours["seconds"]), float(theirs["seconds"])  # type: ignore[arg-type]


def run_phase(step: str, root: Path, workbook: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--phase", step, str(root), str(workbook)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(rows: int, tmp: Path) -> tuple[float, float, float, float, dict[str, object]]:
    root = tmp / f"p{rows}"
    t = time.perf_counter()
    build(root, rows)
    print(f"  built a project of {rows:,} annotations in {time.perf_counter() - t:.1f} s")
    book = tmp / f"w{rows}.xlsx"
    ex = run_phase("export", root, book)
    im = run_phase("import", root, book)
    size = book.stat().st_size / 2**20
    print(f"  export {ex['seconds']:6.1f} s  peak {ex['peak_mib']:6.0f} MiB   "
          f"({size:.1f} MiB workbook; {ex['report']['rows']})")  # type: ignore[index]
    print(f"  import {im['seconds']:6.1f} s  peak {im['peak_mib']:6.0f} MiB   "
          f"(report {im['report']})")
    return (float(ex["seconds"]), float(im["seconds"]),  # type: ignore[arg-type]
            float(ex["peak_mib"]), float(im["peak_mib"]), im["report"])  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--phase", nargs=3, metavar=("STEP", "ROOT", "WORKBOOK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        step, root, out = args.phase[0], Path(args.phase[1]), Path(args.phase[2])
        if step.startswith("write-"):
            writer_phase(step.removeprefix("write-"), root, out)
        else:
            phase(step, root, out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"quarter size ({args.rows // 4:,} annotation rows):")
        _, _, qex, qim, _ = measure(args.rows // 4, Path(tmp))
        print(f"full size ({args.rows:,} annotation rows):")
        ex, im, pex, pim, report = measure(args.rows, Path(tmp))
        compare_writers(Path(tmp) / f"p{args.rows}", Path(tmp))
    total = ex + im
    quiet = report == {"ledger_entries": 0, "changes": 0, "stale": 0}
    ok = total < TARGET_S and max(pex, pim) < MEMORY_LIMIT_MIB and quiet
    print(f"export + import of {args.rows:,} rows: {total:.1f} s (target < {TARGET_S:.0f} s); "
          f"peak memory export {pex:.0f} MiB (quarter size {qex:.0f}), import {pim:.0f} MiB "
          f"(quarter size {qim:.0f}); limit {MEMORY_LIMIT_MIB} MiB; unedited re-import "
          f"recorded nothing: {quiet}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

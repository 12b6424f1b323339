"""Every bad input of the batch file, through the whole import: a clear error naming the file
(and row and field where there is one), and nothing stored."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

import tracework
from builders import read_rows, small_files, write_rows
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store import schema
from tracework.core.store.schema import ledger, submissions, vault, workers

MASK = "Answer.annotatedResult.labeledImage.pngImageData"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("demo"))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb() -> str:
    """A valid little PNG that declares 20000 x 20000 RGBA pixels."""
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 6, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
           + _chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + _chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def _stray_colour(cell: str) -> str:
    png = base64.b64decode(cell)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    img[5:8, 5:8] = (0x56, 0x34, 0x12, 255)  # #123456 in BGRA
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


def _edit_row(n: int, column: str, value: Callable[[str], str]) -> Callable[[Path, Path], None]:
    def apply(src: Path, dest: Path) -> None:
        header, rows = read_rows(src)
        i = header.index(column)
        rows[n - 1][i] = value(rows[n - 1][i])
        write_rows(dest, header, rows)
    return apply


def _bytes(edit: Callable[[bytes], bytes]) -> Callable[[Path, Path], None]:
    def apply(src: Path, dest: Path) -> None:
        dest.write_bytes(edit(src.read_bytes()))
    return apply


def _cp1252(src: Path, dest: Path) -> None:
    header, rows = read_rows(src)
    rows[1][header.index("Title")] = "Étiquetez la souris"
    write_rows(dest, header, rows)
    dest.write_bytes(dest.read_bytes().replace("Étiquetez".encode(), "Étiquetez".encode("cp1252")))


def _declared_bomb(src: Path, dest: Path) -> None:
    """The bomb in a row that also declares the bomb's size, so only the pixel limit stops it."""
    header, rows = read_rows(src)
    rows[0][header.index(MASK)] = _bomb()
    for side in ("height", "width"):
        rows[0][header.index(f"Answer.annotatedResult.inputImageProperties.{side}")] = "20000"
    write_rows(dest, header, rows)


def _ragged(src: Path, dest: Path) -> None:
    header, rows = read_rows(src)
    rows[2].append("extra")
    write_rows(dest, header, rows)


def _duplicate_header(src: Path, dest: Path) -> None:
    header, rows = read_rows(src)
    header[header.index("Keywords")] = "Title"
    write_rows(dest, header, rows)


def _missing_columns(src: Path, dest: Path) -> None:
    header, rows = read_rows(src)
    drop = {header.index("WorkerId"), header.index("AssignmentId")}
    write_rows(dest, [h for i, h in enumerate(header) if i not in drop],
               [[c for i, c in enumerate(r) if i not in drop] for r in rows])


CASES: dict[str, tuple[Callable[[Path, Path], None], int | None, str | None, str]] = {
    "not utf-8": (_cp1252, 2, None, "UTF-8"),
    "ragged row": (_ragged, 3, None, "cells"),
    "duplicate header": (_duplicate_header, None, None, "Title"),
    "unterminated quote": (_bytes(lambda b: b + b'"3HITOPEN","a quote never closed\n'),
                           19, None, "never closed"),
    "junk after a quote": (_bytes(lambda b: b + b'"HIT,"open quote\n'), 19, None, "quote"),
    "missing columns": (_missing_columns, None, None, "AssignmentId"),
    "empty file": (_bytes(lambda b: b""), None, None, "empty"),
    "header only": (_bytes(lambda b: b.split(b"\n", 1)[0] + b"\n"), None, None, "no rows"),
    "invalid base64": (_edit_row(2, MASK, lambda c: c[:10] + "*" + c[10:]), 2, MASK, "base64"),
    "bad padding": (_edit_row(2, MASK, lambda c: c[:-3]), 2, MASK, "base64"),
    "not a png": (_edit_row(3, MASK, lambda c: base64.b64encode(b"GIF89a" + b"\0" * 40).decode()),
                  3, MASK, "PNG"),
    "decompression bomb": (_edit_row(1, MASK, lambda c: _bomb()), 1, MASK, "20000"),
    # The answer declares the bomb's size: refused by max_pixels before the PNG is looked at.
    "decompression bomb of the declared size": (
        _declared_bomb, 1, "Answer.annotatedResult.inputImageProperties", "more than the cap"),
    "truncated png": (_edit_row(3, MASK, lambda c: base64.b64encode(
        base64.b64decode(c)[:-20]).decode()), 3, MASK, "truncated"),
    "mask size mismatch": (_edit_row(2, "Answer.annotatedResult.inputImageProperties.height",
                                     lambda c: "100"), 2, MASK, "160x100"),
    "unknown colour": (_edit_row(4, MASK, _stray_colour), 4, MASK, "#123456"),
    "bad date": (_edit_row(2, "SubmitTime", lambda c: "yesterday"), 2, "SubmitTime", "yesterday"),
    "bad reward": (_edit_row(1, "Reward", lambda c: "fifteen cents"), 1, "Reward", "Reward"),
}


def _counts(project: Project) -> dict[str, int]:
    """Rows in every table of the store."""
    with project.store.read() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in schema.metadata.sorted_tables}


def _nothing_stored(project: Project, before: dict[str, int] | None = None) -> None:
    counts = _counts(project)
    for table in (submissions, workers, vault):
        assert counts[table.name] == 0
    assert counts[ledger.name] == 1
    if before is not None:
        assert counts == before     # no table gained or lost a row
    assert tracework.verify(project).ok


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_batch_is_refused_whole(sqlite_project: Project, files: Any, tmp_path: Path,
                                    case: str) -> None:
    make, row, field, words = CASES[case]
    path = tmp_path / f"{case.replace(' ', '_')}.csv"
    make(files.batch_csv, path)
    before = _counts(sqlite_project)
    with pytest.raises(InputError) as info:
        tracework.ingest_mturk(sqlite_project, path)
    err = info.value
    assert err.file is not None and Path(err.file).name == path.name, str(err)
    if row is not None:
        assert err.row == row, str(err)
    if field is not None:
        assert err.field == field, str(err)
    assert words.lower() in str(err).lower()
    _nothing_stored(sqlite_project, before)


def test_field_over_the_cap_names_the_setting(files: Any, tmp_path: Path) -> None:
    from conftest import MOUSE

    project = tracework.init(tmp_path / "p", categories=MOUSE, actor="t")
    project.close()
    project = tracework.open_project(tmp_path / "p", cli={"max_field_bytes": 500})
    try:
        with pytest.raises(InputError) as info:
            tracework.ingest_mturk(project, files.batch_csv)
        assert info.value.row == 1 and "500" in str(info.value)
        assert "max_field_bytes" in (info.value.hint or "")
        _nothing_stored(project)
    finally:
        project.close()


def test_bom_is_accepted(sqlite_project: Project, files: Any, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + files.batch_csv.read_bytes())
    assert tracework.ingest_mturk(sqlite_project, path).added == files.submissions


def test_tolerance_setting_absorbs_stray_pixels(files: Any, tmp_path: Path) -> None:
    from conftest import MOUSE

    path = tmp_path / "stray.csv"
    _edit_row(4, MASK, _stray_colour)(files.batch_csv, path)
    project = tracework.init(tmp_path / "p", categories=MOUSE, actor="t")
    project.close()
    project = tracework.open_project(tmp_path / "p", cli={"mask_tolerance": 0.01})
    try:
        report = tracework.ingest_mturk(project, path)
        assert report.added == files.submissions
        assert report.tolerated_pixels == 9
    finally:
        project.close()


def test_survey_that_lost_its_header_rows_is_refused(sqlite_project: Project, files: Any,
                                                     tmp_path: Path) -> None:
    import csv

    with files.survey_csv.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    path = write_rows(tmp_path / "survey.csv", rows[0], rows[3:])
    with pytest.raises(InputError) as info:
        tracework.ingest_qualtrics(sqlite_project, path, worker_column="workerId",
                                   consent_column="Q11")
    assert "header" in str(info.value).lower() and info.value.file is not None
    _nothing_stored(sqlite_project)

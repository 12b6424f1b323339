"""Hostile values at the boundary: each refused as an input error naming file, row and field
(never an internal error), nothing stored; and a seeded mutation fuzz of the quirk corpus in
which no case ends in anything but a clean import or a TraceworkError."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import tracework
from tracework.core.errors import InputError, TraceworkError
from tracework.core.project import Category, Project

QUIRKS = Path(__file__).parent / "data" / "quirks"
BOXES = "Answer.annotatedResult.boundingBoxes"
TASK = "Answer.taskAnswers"


def _read(name: str) -> tuple[list[str], list[list[str]]]:
    with (QUIRKS / name).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL).writerows([header, *rows])
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    return path


def _edited(tmp: Path, name: str, row: int, column: str, value: str,
            **more: str) -> Path:
    header, rows = _read(name)
    rows = [r + [""] * (len(header) - len(r)) for r in rows]
    for col, cell in {column: value, **more}.items():
        rows[row - 1][header.index(col)] = cell
    return _write(tmp / f"edited_{name}", header, rows)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = tracework.init(tmp_path / "proj", categories=[Category("Dog", "#ff0000"),
                                                      Category("Cat", "#00ff00")])
    p.close()
    return tracework.open_project(tmp_path / "proj", cli={"processes": 1})


def _boxes(w: object = 30) -> str:
    return f'[{{"height": 40, "label": "Dog", "left": 10, "top": 20, "width": {w}}}]'


BATCH_CASES: dict[str, tuple[int, str, str, str]] = {
    "a date in year 9999": (2, "SubmitTime", "Fri Dec 31 23:59:59 PST 9999", "9999"),
    "an ISO date in year 9999": (2, "AcceptTime", "9999-12-31T23:59:59-01:00", "9999"),
    "a date in year 1": (1, "ApprovalTime", "0001-01-01 00:00:00 UTC", "outside"),
    "a box of 1e400": (1, BOXES, _boxes("1e400"), "too large"),
    "a box wider than any image": (1, BOXES, _boxes("1" + "0" * 17), "number of pixels"),
    "an integer of 5000 digits": (1, BOXES, _boxes("9" * 5000), "too large"),
    "a lone surrogate in a JSON answer": (
        1, BOXES, '[{"height": 40, "label": "Dog\\ud800", "left": 1, "top": 1, "width": 1}]',
        "lone surrogate"),
    "a NUL byte in a cell": (2, "Title", "Draw\x00boxes", "NUL"),
    "an image of 46000 x 46000": (
        1, "Answer.annotatedResult.inputImageProperties.width", "46000", "more than the cap"),
    "an image side of 1e30 pixels": (
        1, "Answer.annotatedResult.inputImageProperties.height", "1" + "0" * 30,
        "whole number"),
}


@pytest.mark.parametrize("case", sorted(BATCH_CASES))
def test_hostile_batch_values_are_input_errors(project: Project, tmp_path: Path,
                                               case: str) -> None:
    row, column, value, words = BATCH_CASES[case]
    more = {}
    if column.endswith("inputImageProperties.width"):
        more = {"Answer.annotatedResult.inputImageProperties.height": "46000"}
    path = _edited(tmp_path, "batch_short_rows.csv", row, column, value, **more)
    with pytest.raises(InputError) as err:
        tracework.ingest_mturk(project, path)
    e = err.value
    assert e.file == str(path) and e.row == row and e.field is not None, str(e)
    assert words in str(e), str(e)
    assert tracework.status(project).submissions == 0


def test_a_surrogate_inside_task_answers_names_the_column(project: Project,
                                                          tmp_path: Path) -> None:
    path = _edited(tmp_path, "batch_polygons.csv", 1, TASK,
                   '[{"comment": "\\udc00"}]')
    with pytest.raises(InputError) as err:
        tracework.ingest_mturk(project, path)
    assert (err.value.row, err.value.field) == (1, TASK)


def test_a_polygon_far_outside_its_image_is_refused(project: Project, tmp_path: Path) -> None:
    answer = [{"annotatedResult": {"inputImageProperties": {"height": 10, "width": 10},
                                   "polygons": [{"label": "Dog", "vertices": [
                                       {"x": 0, "y": 0}, {"x": 1e300, "y": 0},
                                       {"x": 0, "y": 5}]}]}}]
    path = _edited(tmp_path, "batch_polygons.csv", 2, TASK, json.dumps(answer))
    with pytest.raises(InputError) as err:
        tracework.ingest_mturk(project, path)
    assert (err.value.row, err.value.field) == (2, TASK) and "vertex 2" in str(err.value)


def test_a_huge_survey_header_is_refused_at_once(project: Project, tmp_path: Path) -> None:
    n = 1_000_000
    path = tmp_path / "wide.csv"
    ids = ",".join(f"Q{i}" for i in range(n))
    path.write_text(f"StartDate,ResponseId,workerId,{ids}\n" * 3 + "x\n", encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(InputError) as err:
        tracework.ingest_qualtrics(project, path, worker_column="workerId")
    assert time.monotonic() - started < 10
    assert "1,000,003 columns, more than the cap of 20,000" in str(err.value)
    assert "max_columns" in (err.value.hint or "")


def test_survey_dates_far_away_are_input_errors(project: Project, tmp_path: Path) -> None:
    header, rows = _read("survey_typed_ids.csv")
    rows[2][0] = "9999-12-31 23:59:59"
    path = _write(tmp_path / "s.csv", header, rows)
    with pytest.raises(InputError) as err:
        tracework.ingest_qualtrics(project, path, worker_column="workerId")
    assert (err.value.row, err.value.field) == (1, "StartDate") and "9999" in str(err.value)


# -- fuzz ----------------------------------------------------------------------------------------

HOSTILE = ["", " ", "9999-12-31T23:59:59Z", "Fri Dec 31 23:59:59 PST 9999", "1e400", "-1",
           "NaN", "\x00", "\ud800", '"', "'", ";", ",", "\t", "\r\n", "[", "{", "[]", "{}",
           "[{}]", '[{"a": 1e999}]', "9" * 400, "x" * 5000, "true", "Approved", "Submitted",
           "#zzz", "46000", "0", "0.5", "A1QUIRKWORKER01", '[{"annotatedResult": {"polygons":'
           ' [{"label": "Dog", "vertices": [{"x": 1, "y": 1}]}]}}]', "\ufeff", "\u202e"]


def _mutations(rng: random.Random, header: list[str],
               rows: list[list[str]]) -> list[list[str]]:
    table = [list(header), *(list(r) for r in rows)]
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        r = rng.randrange(len(table))
        if kind < 0.6 and table[r]:
            c = rng.randrange(len(table[r]))
            table[r][c] = rng.choice(HOSTILE) if rng.random() < 0.7 else \
                table[r][c][:rng.randint(0, len(table[r][c]))]
        elif kind < 0.75 and table[r]:
            del table[r][rng.randrange(len(table[r]))]
        elif kind < 0.9:
            table[r].insert(rng.randint(0, len(table[r])), rng.choice(HOSTILE))
        elif len(table) > 2:
            del table[rng.randrange(1, len(table))]
    return table


def _fuzz(project: Project, tmp_path: Path, seed: int, cases: int,
          sources: list[tuple[str, Callable[[Path], object]]]) -> dict[str, int]:
    rng = random.Random(seed)
    outcomes = {"imported": 0, "refused": 0}
    for i in range(cases):
        name, run = sources[i % len(sources)]
        header, rows = _read(name)
        table = _mutations(rng, header, rows)
        path = tmp_path / f"case{i}_{name}"
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_MINIMAL if rng.random() < 0.5
                   else csv.QUOTE_ALL).writerows(table)
        data = buf.getvalue().encode("utf-8", errors="surrogatepass")
        if rng.random() < 0.25:  # and some damage below the CSV level
            raw = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                raw[rng.randrange(len(raw))] = rng.choice(b'\x00\xff\xfe",\n\r;{}[]\\')
            data = bytes(raw)
        path.write_bytes(data)
        before = tracework.status(project).ledger_entries
        try:
            run(path)
        except TraceworkError as exc:
            outcomes["refused"] += 1
            assert isinstance(exc, InputError) and exc.file == str(path), f"case {i}: {exc}"
            assert tracework.status(project).ledger_entries == before, f"case {i} stored"
        else:
            outcomes["imported"] += 1
    return outcomes


def test_mutated_files_end_in_an_import_or_an_input_error(project: Project,
                                                          tmp_path: Path) -> None:
    sources: list[tuple[str, Callable[[Path], object]]] = [
        ("batch_short_rows.csv", lambda p: tracework.ingest_mturk(project, p)),
        ("batch_polygons.csv", lambda p: tracework.ingest_mturk(project, p)),
        ("batch_empty_mask.csv", lambda p: tracework.ingest_mturk(project, p)),
        ("survey_typed_ids.csv", lambda p: tracework.ingest_qualtrics(
            project, p, worker_column="workerId", consent_column="Q11",
            link_by_code="MTurkCode=Answer.surveycode")),
        ("survey_excel.csv", lambda p: tracework.ingest_qualtrics(
            project, p, worker_column="workerId", consent_column="Q11")),
        ("survey_duplicate_tags.csv", lambda p: tracework.ingest_qualtrics(
            project, p, worker_column="workerId")),
    ]
    started = time.monotonic()
    outcomes = _fuzz(project, tmp_path, seed=14, cases=300, sources=sources)
    assert time.monotonic() - started < 60
    assert outcomes["imported"] + outcomes["refused"] == 300
    assert outcomes["refused"] > 100 and outcomes["imported"] > 20, outcomes
    tracework.verify(project)

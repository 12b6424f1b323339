"""Published outputs never join a chosen name to work, and free text stays in the project.

Every worker of a small project answers the survey, consents to publication and chooses a name
to be credited by; each gives free-text answers (city, the cost of a work set, an "other"
health issue) that are canaries. The project is new: it lists no free-text question, so the
text-entry questions must be found from Qualtrics' own ImportIds. Every public output is then
produced (the bundle with COCO, YOLO, records, croissant, datasheet, card, credits and the
change log; the workbook; the report; the text of every frame and contact-sheet caption) and
cut into its units: a line of a text file, a row of a worksheet, a frame. A chosen name may
appear only in the credits (CREDITS, credits.json, the card, the datasheet's credits line), and
there never in a unit that also holds a pseudonym, a label or a survey answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

import tracework
from builders import read_rows, small_files, write_rows
from tracework import docs, review
from tracework.core.project import Category, Project, open_project
from tracework.core.store.schema import submissions, workers
from tracework.core.store.tables_survey import survey_questions
from tracework.dataset.policy import survey_policy
from tracework.fieldnotes.sheet import sheet_export
from tracework.formats.qualtrics import Question, QuestionKind
from tracework.ingest.survey_questions import judge
from tracework.render import report
from tracework.render.frames import FrameStyle, panel_blocks
from tracework.render.records import select_contributions
from tracework.render.sheet import caption

MOUSE = [Category("Body", "#1f77b4"), Category("Left_Button", "#d62728"),
         Category("Right_Button", "#9467bd"), Category("Scroll_Wheel", "#ff7f0e"),
         Category("Cable", "#2ca02c")]
LABELS = tuple(c.name for c in MOUSE)
# Where a chosen name may be printed at all: the credits, which hold no one's work.
CREDITS_FILES = {"CREDITS.md", "credits.json", "README.md", "DATASHEET.md", "DATASHEET.html"}


def _name(i: int) -> str:
    return f"Zelda Quxworth {i:02d}"


def _city(i: int) -> str:
    return f"canary-city-{i:02d}"


def _cost(i: int) -> str:
    return f"canary-cost-{i:02d}"


def _health(i: int) -> str:
    return f"canary-health-{i:02d}"


@dataclass
class Built:
    project: Project
    files: Any
    names: tuple[str, ...]
    pseudonyms: tuple[str, ...]
    answers: tuple[str, ...]


def _survey_everyone_named(path: Path) -> int:
    """Every respondent consents, chooses a name, and types canary free text."""
    header, rows = read_rows(path)
    col = {name: i for i, name in enumerate(header)}
    n = 0
    for cells in rows[2:]:          # the other two header rows of a Qualtrics export
        if not cells[col["workerId"]]:
            continue
        cells[col["Q11"]], cells[col["Q12"]] = "Yes", _name(n)
        cells[col["Q4"]], cells[col["Q10"]] = _city(n), _cost(n)
        cells[col["Q9_9"]], cells[col["Q9_9_TEXT"]] = "Other", _health(n)
        n += 1
    write_rows(path, header, rows)
    return n


def _build(root: Path, publish: str | None = None) -> Built:
    files = small_files(root / "files")
    n = _survey_everyone_named(files.survey_csv)
    project = tracework.init(root / "proj", name="No join", categories=MOUSE, actor="tester",
                             credit_name_column="Q12",
                             demographics={"gender": "Q2", "city": "Q4", "cost": "Q10"})
    if publish is not None:
        toml = project.root / "tracework.toml"
        project.close()
        text = toml.read_text(encoding="utf-8").replace(
            "publish_free_text = false", f"publish_free_text = {publish}")
        toml.write_text(text, encoding="utf-8")
        project = open_project(project.root, cli={"actor": "tester"})
    tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    with project.store.read() as conn:
        ids = [r.id for r in conn.execute(select(submissions.c.id).order_by(submissions.c.id))]
        pseudonyms = tuple(r.pseudonym for r in conn.execute(select(workers.c.pseudonym)))
        named = conn.execute(select(workers.c.credit_name)
                             .where(workers.c.consent_credit.is_(True))).scalars().all()
    assert len(named) == n >= 5         # everyone who answered is credited by name
    for sid in ids[:3]:
        review.decide(project, sid, "reject", reason=f"reason {sid}: fewer than 3 parts")
    review.approve_unflagged(project, reviewer="tester")
    answers = tuple(f(i) for i in range(n) for f in (_city, _cost, _health))
    return Built(project, files, tuple(sorted(named)), pseudonyms, answers)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    b = _build(tmp_path_factory.mktemp("nojoin"))
    try:
        yield b
    finally:
        b.project.close()


def _publish_all(b: Built, out: Path) -> dict[str, list[list[str]]]:
    """Every public output, as units: ``where -> [unit texts]``."""
    docs.export_bundle(b.project, out / "bundle", status="all", images_dir=b.files.images_dir)
    report(b.project, out / "report.html")
    sheet_export(b.project, out / "book.xlsx")
    units: dict[str, list[list[str]]] = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md", ".html", ".txt",
                                              ".yaml", ".csv"):
            units[path.relative_to(out).as_posix()] = [
                [line] for line in path.read_text(encoding="utf-8").splitlines()]
    book = openpyxl.load_workbook(out / "book.xlsx", read_only=True)
    for sheet in book.worksheets:
        units[f"book.xlsx:{sheet.title}"] = [
            [str(v) for v in row if v is not None] for row in sheet.iter_rows(values_only=True)]
    book.close()
    frames = select_contributions(b.project, status="all")
    units["frames"] = [[b.text for b in panel_blocks(c, FrameStyle())]
                       + [caption(c, c.asset.file_name)] for c in frames.contributions]
    return units


def _joins(b: Built, units: dict[str, list[list[str]]]) -> list[str]:
    found = []
    for where, listing in units.items():
        allowed = where.rsplit("/", 1)[-1] in CREDITS_FILES
        for number, unit in enumerate(listing, 1):
            text = "\n".join(unit)
            names = [n for n in b.names if n in text]
            if not names:
                continue
            if not allowed:
                found.append(f"{where} #{number}: {names[0]} outside the credits")
                continue
            beside = ([p for p in b.pseudonyms if p in text] + [x for x in LABELS if x in text]
                      + [a for a in b.answers if a in text])
            if beside:
                found.append(f"{where} #{number}: {names[0]} beside {beside[0]}")
    return found


def test_no_public_output_joins_a_chosen_name_to_work(built: Built, tmp_path: Path) -> None:
    units = _publish_all(built, tmp_path)
    assert {"bundle/coco/annotations.json", "bundle/records/annotations.jsonl",
            "bundle/ledger.jsonl", "bundle/croissant.json", "bundle/CREDITS.md",
            "report.html", "book.xlsx:Workers", "book.xlsx:Log", "frames"} <= set(units)
    assert len(units["frames"]) == 18
    assert _joins(built, units) == []
    # The names of those who labelled are published, in the credits, every one of them.
    with built.project.store.read() as conn:
        labellers = sorted(n for n in conn.execute(
            select(workers.c.credit_name).distinct()
            .join(submissions, submissions.c.worker == workers.c.pseudonym)).scalars() if n)
    credits = json.loads((tmp_path / "bundle" / "credits.json").read_text(encoding="utf-8"))
    assert credits["credited"] == labellers and len(labellers) >= 4


def test_free_text_is_found_and_withheld_everywhere(built: Built, tmp_path: Path) -> None:
    with built.project.store.read() as conn:
        found = {r.question: (r.kind, r.free_text, r.why) for r in conn.execute(
            select(survey_questions))}
    assert found["Q4"] == ("text", True, "text-entry question (ImportId QID4_TEXT)")
    assert found["Q10"] == ("text", True, "text-entry question (ImportId QID10_TEXT)")
    assert found["Q12"] == ("text", True, "text-entry question (ImportId QID12_TEXT)")
    assert found["Q2"][1] is False and found["Q9"][1] is False
    assert survey_policy(built.project).per_worker_fields() == {"gender": "Q2"}
    units = _publish_all(built, tmp_path)
    leaks = [f"{where}: {a}" for where, listing in units.items() for unit in listing
             for a in built.answers if a in "\n".join(unit)]
    assert leaks == []


def test_a_project_publishes_the_free_text_it_names(tmp_path: Path) -> None:
    b = _build(tmp_path, publish='["Q4"]')
    try:
        docs.export_bundle(b.project, tmp_path / "bundle", status="all")
        coco = json.loads((tmp_path / "bundle" / "coco" / "annotations.json").read_text())
        surveys = [a["attributes"]["survey"] for a in coco["annotations"]
                   if "survey" in a.get("attributes", {})]
        assert surveys and all(s["Q4"].startswith("canary-city-") for s in surveys)
        assert not any(k in s for s in surveys for k in ("Q10", "Q12", "Q9_other"))
        text = (tmp_path / "bundle" / "coco" / "annotations.json").read_text()
        assert "canary-cost-" not in text and "canary-health-" not in text
        assert "Zelda Quxworth" not in text
    finally:
        b.project.close()


def _question(kind: QuestionKind) -> Question:
    return Question("Q7", "How much did your equipment cost?", ("Q7",), kind, "QID7")


@pytest.mark.parametrize(("kind", "values", "numeric", "expected"), [
    ("text", ["a", "a"], False, (True, "text-entry question (ImportId QID7_TEXT)", 2, 1)),
    ("single", ["18-24", "25-34", "18-24", None, ""], False, (False, "", 3, 2)),
    ("single", ["1", "2", "1500 dollars"], True,
     (True, "a numeric-values export, but answers that are not choice numbers", 3, 3)),
    ("single", ["1", "2", "3"], True, (False, "", 3, 3)),
    ("single", [f"town {i}" for i in range(8)] + ["town 1"], False,
     (True, "8 different answers of 9: not a list of choices", 9, 8)),
    ("single", [f"town {i % 7}" for i in range(9)], False, (False, "", 9, 7)),
    ("multi", [["Back pain", "x" * 61]], False,
     (True, "answers longer than 60 characters or on several lines", 1, 2)),
    ("single", ["line one\nline two"], False,
     (True, "answers longer than 60 characters or on several lines", 1, 1)),
])
def test_answer_shapes(kind: QuestionKind, values: list[Any], numeric: bool,
                       expected: tuple[bool, str, int, int]) -> None:
    f = judge(_question(kind), values, numeric=numeric)
    assert (f.free_text, f.why, f.answered, f.distinct) == expected

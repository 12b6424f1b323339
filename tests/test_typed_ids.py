"""A worker id typed into any text a file carries is replaced by a pseudonym before it is stored.

A canary worker's id is typed into an MTurk feedback answer (lower case, inside a sentence),
another worker's feedback (exactly), the requester's feedback, a survey free-text answer, an
"other" text and an embedded-data field (with spaces around it); an id-shaped string that is
no one's is typed too. Afterwards neither appears anywhere in the database outside the vault,
nor in any export (COCO, YOLO, records, workbook) or on the staff submission page; the vault
holds every text as typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

import tracework
from builders import read_rows, small_files, truth, write_rows
from test_web_support import PASSWORDS, World, client_as
from tracework import docs
from tracework.core.privacy import pseudonym
from tracework.core.project import Category, Project
from tracework.core.store.schema import metadata, submissions, vault, vault_values
from tracework.fieldnotes.sheet import sheet_export
from tracework.ingest.typed_ids import ID_TOKEN, TypedIds
from tracework.web import create_app, users

CANARY = "ACANARYTYPED7Q2X"
STRANGER = "A9NOTAWORKER1234"          # shaped like an MTurk id, but no one's
MOUSE = [Category("Body", "#1f77b4"), Category("Left_Button", "#d62728"),
         Category("Right_Button", "#9467bd"), Category("Scroll_Wheel", "#ff7f0e"),
         Category("Cable", "#2ca02c")]
FEEDBACK_OWN = f"thanks! my id is {CANARY.lower()}, please check"
FEEDBACK_OTHER = CANARY
FEEDBACK_STRANGER = f"my friend {STRANGER} did this one"
REQUESTER = f"Worker {CANARY}: good work"
CITY = f"Chicago (I am {CANARY})"
OTHER = f"ask {CANARY.lower()}"
EMBEDDED = f"  {CANARY.lower()} "


def _batch(path: Path, victim: str, other: str) -> None:
    header, rows = read_rows(path)
    col = {name: i for i, name in enumerate(header)}
    header.append("Answer.feedback")
    seen = set()
    for cells in rows:
        worker = cells[col["WorkerId"]]
        typed = ""
        if worker == victim and "own" not in seen:
            typed, seen = FEEDBACK_OWN, seen | {"own"}
            cells[col["RequesterFeedback"]] = REQUESTER
        elif worker == other and "other" not in seen:
            typed, seen = FEEDBACK_OTHER, seen | {"other"}
        elif worker not in (victim, other) and "stranger" not in seen:
            typed, seen = FEEDBACK_STRANGER, seen | {"stranger"}
        cells.append(typed)
    assert seen == {"own", "other", "stranger"}
    write_rows(path, header, rows)


def _survey(path: Path, victim: str) -> None:
    header, rows = read_rows(path)
    col = {name: i for i, name in enumerate(header)}
    header.append("typedId")
    rows[0].append("typedId")
    rows[1].append(json.dumps({"ImportId": "typedId"}))
    hit = 0
    for cells in rows[2:]:
        mine = cells[col["workerId"]] == victim
        if mine:
            cells[col["Q4"]], cells[col["Q10"]] = CITY, CANARY.lower()
            cells[col["Q9_9"]], cells[col["Q9_9_TEXT"]] = "Other", OTHER
            cells[col["Q11"]] = "Yes"
            hit += 1
        cells.append(EMBEDDED if mine else "")
    assert hit == 1
    write_rows(path, header, rows)


@pytest.fixture(scope="module")
def typed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("typed")
    files = small_files(root / "files")
    t = truth(files)
    surveyed = [w for w, info in t["workers"].items()
                if info["labelled"] and info["survey_answered"]]
    victim, other = surveyed[0], surveyed[1]
    for path in (files.batch_csv, files.survey_csv):
        path.write_text(path.read_text(encoding="utf-8-sig").replace(victim, CANARY),
                        encoding="utf-8")
    _batch(files.batch_csv, CANARY, other)
    _survey(files.survey_csv, CANARY)
    project = tracework.init(root / "proj", name="Typed ids", categories=MOUSE, actor="tester",
                             free_text_questions=["Q4", "Q10"], publish_free_text=True,
                             demographics={"city": "Q4", "cost": "Q10"})
    batch = tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    survey = tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                                        consent_column="Q11")
    try:
        yield project, files, batch, survey
    finally:
        project.close()


def _token(project: Project) -> str:
    return pseudonym(project.secret, "mturk", CANARY)


def test_typed_ids_are_pseudonyms_in_the_store(typed: Any) -> None:
    project, _, batch, survey = typed
    me = _token(project)
    # own feedback, another's feedback, the stranger, the requester's feedback; city, cost,
    # other text, embedded data
    assert (batch.redacted_ids, survey.redacted_ids) == (4, 4)
    with project.store.read() as conn:
        answers = [json.loads(r.answer) for r in conn.execute(select(submissions.c.answer))]
        feedback = sorted(a["feedback"] for a in answers if a.get("feedback"))
        requester = sorted(r.requester_feedback for r in conn.execute(
            select(submissions.c.requester_feedback)) if r.requester_feedback)
        stashed = sorted((r.field, r.value) for r in conn.execute(select(vault_values))
                         if r.field.startswith("typed text: "))
    assert feedback == sorted([f"thanks! my id is <worker {me}>, please check",
                               f"<worker {me}>", f"my friend {ID_TOKEN} did this one"])
    assert requester == [f"Worker <worker {me}>: good work"]
    assert stashed == sorted([
        ("typed text: Answer.feedback", FEEDBACK_OWN),
        ("typed text: Answer.feedback", FEEDBACK_OTHER),
        ("typed text: Answer.feedback", FEEDBACK_STRANGER),
        ("typed text: RequesterFeedback", REQUESTER),
        ("typed text: Q4", CITY), ("typed text: Q10", CANARY.lower()),
        ("typed text: Q9_9_TEXT", OTHER), ("typed text: typedId", EMBEDDED)])


def test_typed_ids_are_nowhere_outside_the_vault(typed: Any) -> None:
    project = typed[0]
    found = []
    with project.store.read() as conn:
        for table in metadata.sorted_tables:
            if table.name in ("vault", "vault_values"):
                continue
            for row in conn.execute(select(table)):
                cells = " ".join(str(v) for v in row).casefold()
                for needle in (CANARY, STRANGER):
                    if needle.casefold() in cells:
                        found.append(f"{table.name}: {needle}")
        in_vault = sorted(r.value for r in conn.execute(select(vault_values.c.value))
                          if CANARY.casefold() in r.value.casefold())
    assert found == []
    assert in_vault == sorted([FEEDBACK_OWN, FEEDBACK_OTHER, REQUESTER, CITY, CANARY.lower(),
                               OTHER, EMBEDDED])


def test_typed_ids_are_in_no_export_and_not_on_the_staff_page(typed: Any,
                                                               tmp_path: Path) -> None:
    project, files = typed[0], typed[1]
    me = _token(project)
    docs.export_bundle(project, tmp_path / "bundle", status="all", images_dir=files.images_dir)
    sheet_export(project, tmp_path / "book.xlsx")
    texts = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8")
             for p in tmp_path.rglob("*") if p.suffix in (".json", ".jsonl", ".txt", ".md",
                                                          ".html", ".yaml")}
    book = openpyxl.load_workbook(tmp_path / "book.xlsx", read_only=True)
    texts["book.xlsx"] = "\n".join(" ".join(str(v) for v in row if v is not None)
                                   for sheet in book.worksheets
                                   for row in sheet.iter_rows(values_only=True))
    book.close()
    project.store.migrate()
    users.user_add(project, "owner", "owner", PASSWORDS["owner"])
    app = create_app(project, allowed_hosts=("testserver",))
    client: TestClient = client_as(app, "owner", World(project, project.root,
                                                       files.images_dir, {}))
    with project.store.read() as conn:
        mine = [r.id for r in conn.execute(select(submissions.c.id)
                                           .where(submissions.c.worker == me))]
    for sid in mine:
        page = client.get(f"/submissions/{sid}")
        assert page.status_code == 200
        texts[f"/submissions/{sid}"] = page.text
    leaks = [where for where, body in texts.items()
             if CANARY.casefold() in body.casefold() or STRANGER.casefold() in body.casefold()]
    assert leaks == []
    # The redacted answers did travel: the city the canary typed, as published free text.
    coco = json.loads(texts["bundle/coco/annotations.json"])
    cities = {a["attributes"]["survey"]["Q4"] for a in coco["annotations"]
              if a["attributes"].get("worker") == me}
    assert cities == {f"Chicago (I am <worker {me}>)"}
    assert any(f"thanks! my id is &lt;worker {me}&gt;" in texts[f"/submissions/{sid}"]
               for sid in mine)


@pytest.mark.parametrize(("typed_text", "expected"), [
    ("A1B2C3D4E5F6G7", "<worker w_one>"),
    ("id: a1b2c3d4e5f6g7.", "id: <worker w_one>."),
    ("https://worker.mturk.com/x?workerId=A1B2C3D4E5F6G7&a=1",
     "https://worker.mturk.com/x?workerId=<worker w_one>&a=1"),
    ("XA1B2C3D4E5F6G7", "XA1B2C3D4E5F6G7"),                 # inside a longer token
    ("ACKNOWLEDGEMENTS", "ACKNOWLEDGEMENTS"),               # the shape, but a word
    ("A9ZZZZZZZZZZZZ and AQQQQQQQQQQQQ9", f"{ID_TOKEN} and {ID_TOKEN}"),
    ("w_a1b2c3d4e5f6", "w_a1b2c3d4e5f6"),                   # a pseudonym stays
    ("iVBORw0KGgo+A1B2C3D4E5F6G7/xyz", "iVBORw0KGgo+A1B2C3D4E5F6G7/xyz"),  # base64 data
    ("lab user 42 and the prolific one 5f2b3c4d5e6f7a8b9c0d1e2f",
     "lab user 42 and the prolific one <worker w_three>"),
    ("label-studio:annotator-0042-x", "label-studio:<worker w_two>-x"),
])
def test_one_pass_finds_ids_of_any_platform(sqlite_project: Project, typed_text: str,
                                            expected: str) -> None:
    held = [("w_one", "mturk", "A1B2C3D4E5F6G7"), ("w_two", "labelstudio", "annotator-0042"),
            ("w_short", "labelstudio", "42"), ("w_three", "prolific", "5f2b3c4d5e6f7a8b9c0d1e2f")]
    with sqlite_project.store.write() as conn:
        conn.execute(insert(vault), [{"pseudonym": p, "platform": f, "platform_worker_id": i,
                                      "created_at": "2026-01-01T00:00:00+00:00"}
                                     for p, f, i in held])
        scanner = TypedIds(conn, "mturk")
    assert scanner.scrub(typed_text) == expected


def test_a_typed_id_known_later_does_not_make_a_new_download_a_conflict(
        sqlite_project: Project, tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    header, rows = read_rows(files.batch_csv)
    col = {name: i for i, name in enumerate(header)}
    late = rows[-1][col["WorkerId"]]                 # whose work comes in a later batch
    first = [r for r in rows if r[col["WorkerId"]] != late]
    header.append("Answer.feedback")
    for r in rows:
        r.append(f"same object as {late.lower()}?" if r is first[0] else "")
    batch_a = write_rows(tmp_path / "a.csv", header, first)
    batch_b = write_rows(tmp_path / "b.csv", header,
                         [r for r in rows if r[col["WorkerId"]] == late])
    assert tracework.ingest_mturk(sqlite_project, batch_a).redacted_ids == 1
    tracework.ingest_mturk(sqlite_project, batch_b)
    first[1][col["AssignmentStatus"]] = "Approved"
    first[1][col["ApprovalTime"]] = "Tue Jul 15 10:00:00 PDT 2025"
    again = tracework.ingest_mturk(sqlite_project, write_rows(tmp_path / "a2.csv", header,
                                                              first))
    assert (again.conflicts, again.status_changes, again.unchanged) == (0, 1, len(first) - 1)
    with sqlite_project.store.read() as conn:
        feedback = [json.loads(r.answer).get("feedback") for r in conn.execute(
            select(submissions.c.answer).where(submissions.c.assignment_id
                                               == first[0][col["AssignmentId"]]))]
    assert feedback == [f"same object as {ID_TOKEN}?"]   # as it was first stored

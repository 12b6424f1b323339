"""The quirk corpus (tests/data/quirks, see make.py there): files in the shapes real MTurk and
Qualtrics downloads have, imported unedited through the command line to exact counts, or
refused with an exit code and a message naming file, row and field and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, Text, select

import tracework
from tracework.cli import main
from tracework.core.errors import InputError
from tracework.core.privacy import pseudonym
from tracework.core.store import schema

QUIRKS = Path(__file__).parent / "data" / "quirks"
W1, W2, W3 = "A1QUIRKWORKER01", "A2QUIRKWORKER02", "A3QUIRKWORKER03"
TRACEWORK = Path(sys.executable).with_name("tracework")


class Cli:
    """`tracework -p PROJECT …` through :func:`tracework.cli.main`, which returns the exit
    status the console script exits with."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.capsys = root, capsys

    def __call__(self, *args: str, code: int = 0) -> str:
        self.capsys.readouterr()
        status = main(["-p", str(self.root), "--set", "processes=1", *args])
        out = self.capsys.readouterr()
        text = out.out + out.err
        assert status == code, text
        return text

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))


@pytest.fixture
def tw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    root = tmp_path / "proj"
    assert main(["init", str(root), "--category", "Dog=#ff0000", "--category",
                 "Cat=#00ff00"]) == 0
    return Cli(root, capsys)


def q(name: str) -> str:
    return str(QUIRKS / name)


def _submissions(tw: Cli) -> dict[str, Any]:
    project = tracework.open_project(tw.root)
    try:
        with project.store.read() as conn:
            return {r.assignment_id: r for r in conn.execute(select(schema.submissions))}
    finally:
        project.close()


# -- MTurk layouts -----------------------------------------------------------------------------

def test_rows_without_trailing_approve_reject_import_to_exact_counts(tw: Cli) -> None:
    report = tw.json("ingest", "mturk", q("batch_short_rows.csv"))
    assert (report["rows"], report["added"], report["workers_new"]) == (4, 4, 3)
    assert report["by_category"] == {"Cat": 2, "Dog": 2}
    assert report["kept_raw"] == {"form field": 4}  # Answer.surveycode, one per row
    st = tw.json("status")
    assert (st["submissions"], st["workers"], st["respondents"]) == (4, 3, 0)
    assert st["submissions_by_status"] == {"Approved": 2, "Rejected": 1, "Submitted": 1}
    assert st["annotations_by_category"] == {"Cat": 2, "Dog": 2}
    assert tw.json("ingest", "mturk", q("batch_short_rows.csv"))["repeated"] is True


def test_every_platform_date_form_is_read(tw: Cli) -> None:
    tw("ingest", "mturk", q("batch_short_rows.csv"))
    subs = _submissions(tw)
    assert subs["3ASSIGNQUIRK0001"].approval_time == "2018-03-26T18:40:48+00:00"   # "… UTC"
    assert subs["3ASSIGNQUIRK0002"].approval_time == "2018-03-26T23:37:21+00:00"   # "… PDT …"
    assert subs["3ASSIGNQUIRK0003"].submit_time == "2018-03-27T08:00:00+00:00"     # ISO "Z"
    assert subs["3ASSIGNQUIRK0004"].rejection_time == "2018-03-28T10:00:00+00:00"  # "… GMT"
    assert subs["3ASSIGNQUIRK0001"].accept_time == "2018-03-26T23:30:00+00:00"


@pytest.mark.parametrize("name, row, field, words", [
    ("batch_split_annotation.csv", 2, "AssignmentDurationInSeconds",
     "the columns after RequesterAnnotation look shifted by 1: a cell holds a ';' or ','"),
    ("batch_long_row.csv", 1, None, "35 cells where the header has 34 columns"),
    ("batch_missing_cells.csv", 3, None, "30 cells where the header has 34 columns"),
])
def test_broken_rows_are_refused_naming_row_field_and_cause(tw: Cli, name: str, row: int,
                                                            field: str | None,
                                                            words: str) -> None:
    out = tw("ingest", "mturk", q(name), code=InputError.exit_code)
    assert name in out and f"row {row}" in out and words in out
    if field:
        assert f"field {field!r}" in out
    assert "re-download" in out  # says what to do
    assert tw.json("status")["submissions"] == 0  # nothing partial stored


def test_installed_command_refuses_a_shifted_file_with_the_input_exit_code(
        tw: Cli, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(tracework.__file__).parents[1])}
    done = subprocess.run([str(TRACEWORK), "-p", str(tw.root), "ingest", "mturk",
                           q("batch_split_annotation.csv")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == InputError.exit_code == 4
    assert "look shifted by 1" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    ok = subprocess.run([str(TRACEWORK), "-p", str(tw.root), "ingest", "mturk",
                         q("batch_short_rows.csv"), "--json"], capture_output=True, text=True,
                        env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["added"] == 4


# -- polygons, unconverted elements, empty masks -------------------------------------------------

def test_polygons_become_annotations_and_export_as_drawn(tw: Cli, tmp_path: Path) -> None:
    report = tw.json("ingest", "mturk", q("batch_polygons.csv"))
    assert report["by_category"] == {"Cat": 1, "Dog": 2}
    assert report["annotations"] == 3
    assert report["kept_raw"] == {"crowd-keypoint": 1, "form field": 1}
    out = tw("status")
    assert "1 answer of element crowd-keypoint kept raw, not converted" in out
    assert tw.json("status")["kept_raw"] == {"crowd-keypoint": 1, "form field": 1}
    tw("export", "coco", str(tmp_path / "coco"), "--status", "all")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    by_area = sorted((a["area"], a["segmentation"], a["bbox"]) for a in doc["annotations"])
    # pycocotools rasterises each polygon for area and bbox; the geometry goes out as drawn.
    assert [a for a, _, _ in by_area] == [400.0, 1000.0, 1600.0]
    assert by_area[2][1] == [[100.0, 20.0, 140.0, 20.0, 140.0, 60.0, 100.0, 60.0]]
    assert by_area[2][2] == [100.0, 20.0, 40.0, 40.0]
    assert by_area[1][1] == [[10.0, 10.0, 60.0, 10.0, 10.0, 50.0]]
    tw("export", "yolo", str(tmp_path / "yolo"), "--task", "segment", "--status", "all")
    labels = sorted((tmp_path / "yolo" / "labels" / "train").glob("*.txt"))
    lines = sorted(line for p in labels for line in p.read_text().splitlines())
    assert "1 0.500000 0.200000 0.700000 0.200000 0.700000 0.600000 0.500000 0.600000" in lines
    assert len(lines) == 3


def test_an_empty_mask_is_reported(tw: Cli) -> None:
    report = tw.json("ingest", "mturk", q("batch_empty_mask.csv"))
    assert (report["added"], report["annotations"], report["empty_masks"]) == (1, 0, 1)
    st = tw.json("status")
    assert st["empty_masks"] == 1


# -- Qualtrics as people have it ----------------------------------------------------------------

def test_excel_saved_survey_imports_with_day_first_dates_and_true_false(tw: Cli) -> None:
    tw("ingest", "mturk", q("batch_short_rows.csv"))
    report = tw.json("ingest", "qualtrics", q("survey_excel.csv"), "--worker-column",
                     "workerId", "--consent-column", "Q11")
    assert (report["added"], report["excluded"], report["linked_by_id"]) == (2, {"spam": 1}, 2)
    project = tracework.open_project(tw.root)
    try:
        with project.store.read() as conn:
            rows = {r.response_id: r for r in conn.execute(select(schema.responses))}
            consent = {r.pseudonym: (r.consent_link, r.consent_publish)
                       for r in conn.execute(select(schema.workers))}
    finally:
        project.close()
    assert rows["R_x1"].start_time == "2017-11-13T02:48:00+00:00"
    assert rows["R_x2"].start_time == "2017-11-11T14:05:00+00:00"
    assert consent[pseudonym(project.secret, "mturk", W1)] == (True, True)   # TRUE
    assert consent[pseudonym(project.secret, "mturk", W2)] == (False, False)  # FALSE
    st = tw.json("status")
    assert st["linked_by_consent"] == {"none": 1, "link": 0, "publish": 1}


def test_ambiguous_excel_dates_are_refused_with_the_option_named(tw: Cli) -> None:
    out = tw("ingest", "qualtrics", q("survey_excel_ambiguous.csv"), "--worker-column",
             "workerId", code=InputError.exit_code)
    assert "row 1" in out and "field 'StartDate'" in out and "--date-format" in out
    report = tw.json("ingest", "qualtrics", q("survey_excel_ambiguous.csv"), "--worker-column",
                     "workerId", "--date-format", "%d/%m/%Y %H:%M")
    assert report["added"] == 1


def test_duplicate_export_tags_are_told_apart_by_import_id(tw: Cli) -> None:
    report = tw.json("ingest", "qualtrics", q("survey_duplicate_tags.csv"), "--worker-column",
                     "workerId")
    assert report["added"] == 1
    project = tracework.open_project(tw.root)
    try:
        with project.store.read() as conn:
            got = {r.question: (r.label, json.loads(r.value))
                   for r in conn.execute(select(schema.answers))}
    finally:
        project.close()
    assert got == {"Q22a#QID47": ("How tired were you?", "Very"),
                   "Q22a#QID48": ("How rushed were you?", "A little")}


def test_legacy_two_row_export_is_refused_with_the_reexport_steps(tw: Cli) -> None:
    out = tw("ingest", "qualtrics", q("survey_legacy.csv"), "--worker-column", "V1",
             code=InputError.exit_code)
    assert "survey_legacy.csv" in out and "legacy Qualtrics export with 2 header rows" in out
    assert "Export data → CSV" in out


def test_preview_test_and_spam_responses_are_left_out_and_counted(tw: Cli) -> None:
    tw("ingest", "mturk", q("batch_short_rows.csv"))
    report = tw.json("ingest", "qualtrics", q("survey_response_types.csv"), "--worker-column",
                     "workerId")
    assert report["rows"] == 5 and report["added"] == 2  # normal (0) and offline (16)
    assert report["excluded"] == {"preview": 1, "spam": 1, "test": 1}
    assert report["previews_skipped"] == 1
    kept = tw.json("ingest", "qualtrics", q("survey_response_types.csv"), "--worker-column",
                   "workerId", "--include-type", "test")
    assert kept["repeated"] is True  # same file: nothing added again


# -- linking -------------------------------------------------------------------------------------

def test_typed_ids_link_after_normalising(tw: Cli) -> None:
    tw("ingest", "mturk", q("batch_short_rows.csv"))
    report = tw.json("ingest", "qualtrics", q("survey_typed_ids.csv"), "--worker-column",
                     "workerId", "--consent-column", "Q11")
    assert (report["added"], report["linked_by_id"], report["linked_by_code"]) == (3, 2, 0)
    assert report["unlinked"] == 1 and report["unlinked_reasons"] == {"no match": 1}
    assert report["excluded"] == {"preview": 1}
    st = tw.json("status")
    # Workers have submissions; respondents answered the survey (one of them unknown).
    assert (st["workers"], st["respondents"], st["people"]) == (3, 3, 4)
    assert st["linked_by_consent"] == {"none": 1, "link": 0, "publish": 1}
    out = tw("status")
    assert "consent none" in out and "respondents (with survey answers)" in out


def test_completion_codes_link_when_nothing_else_does(tw: Cli) -> None:
    tw("ingest", "mturk", q("batch_short_rows.csv"))
    report = tw.json("ingest", "qualtrics", q("survey_code_only.csv"), "--link-by-code",
                     "MTurkCode=Answer.surveycode", "--consent-column", "Q11")
    assert (report["linked_by_id"], report["linked_by_code"], report["unlinked"]) == (0, 1, 2)
    assert report["unlinked_reasons"] == {"ambiguous code (used by several workers)": 1,
                                          "no match": 1}
    project = tracework.open_project(tw.root)
    try:
        with project.store.read() as conn:
            linked = {r.response_id: r.worker for r in conn.execute(select(schema.responses))}
    finally:
        project.close()
    assert linked == {"R_code1": pseudonym(project.secret, "mturk", W1), "R_code2": None,
                      "R_code3": None}
    out = tw("ingest", "qualtrics", q("survey_code_only.csv"), "--link-by-code", "MTurkCode",
             code=InputError.exit_code)
    assert "SURVEY_COLUMN=BATCH_ANSWER_FIELD" in out


def test_no_raw_or_typed_worker_id_outside_the_vault(tw: Cli, tmp_path: Path) -> None:
    outputs = [tw("ingest", "mturk", q("batch_short_rows.csv"), "--json"),
               tw("ingest", "qualtrics", q("survey_typed_ids.csv"), "--worker-column",
                  "workerId"),
               tw("ingest", "qualtrics", q("survey_code_only.csv"), "--link-by-code",
                  "MTurkCode=Answer.surveycode"),
               tw("status"), tw("log", "--limit", "0"),
               tw("export", "coco", str(tmp_path / "coco"), "--status", "all")]
    forms = [W1, W2, W3, W1.lower(), "AUNKNOWNWORKER9", "workerId=" + W2]
    project = tracework.open_project(tw.root)
    try:
        with project.store.read() as conn:
            for table in schema.metadata.sorted_tables:
                if table.name in ("vault", "vault_values"):
                    continue
                cols = [c for c in table.columns if isinstance(c.type, (String, Text))]
                for row in conn.execute(select(*cols)) if cols else []:
                    for value in row:
                        assert not any(f in (value or "") for f in forms), table.name
            typed = [r.value for r in conn.execute(select(schema.vault_values))]
    finally:
        project.close()
    assert f" {W1.lower()}\t" in typed  # the raw typed value is kept, in the vault
    assert not [o for o in outputs if any(f in o for f in forms)]
    exported = (tmp_path / "coco" / "annotations.json").read_text()
    assert not any(f in exported for f in forms)


# -- conflicts -----------------------------------------------------------------------------------

def test_conflicts_are_listed_shown_and_resolved_as_ledger_entries(tw: Cli,
                                                                   tmp_path: Path) -> None:
    tw("ingest", "mturk", q("batch_short_rows.csv"))
    changed = tmp_path / "redownload.csv"
    text = (QUIRKS / "batch_short_rows.csv").read_text(encoding="utf-8")
    changed.write_text(text.replace('""width"": 30', '""width"": 33')
                       .replace('"CODE-222"', '"CODE-223"', 1), encoding="utf-8", newline="")
    report = tw.json("ingest", "mturk", str(changed))
    assert report["conflicts"] == 2
    assert "open conflicts" in tw("status") and tw.json("status")["open_conflicts"] == 2
    listed = tw.json("conflicts", "list")
    assert [(c["id"], c["target"], c["row"]) for c in listed] == [
        (1, "submission:1", 1), (2, "submission:2", 2)]
    shown = tw.json("conflicts", "show", "1")
    box = shown["changes"]["Answer.annotatedResult.boundingBoxes"]
    assert '"width": 30' in box["stored"] and '"width": 33' in box["incoming"]
    assert "resolve" in tw("conflicts", "resolve", "1", "--help")
    tw("conflicts", "resolve", "1", "--keep", "incoming", "--reason", "worker fixed the box")
    tw("conflicts", "resolve", "2", "--keep", "stored", "--reason", "typo in the download")
    assert tw.json("conflicts", "list") == []
    assert [c["state"] for c in tw.json("conflicts", "list", "--state", "all")] == [
        "kept incoming", "kept stored"]
    tw("conflicts", "resolve", "2", "--keep", "stored", "--reason", "again",
       code=InputError.exit_code)
    tw("conflicts", "resolve", "9", "--keep", "stored", "--reason", "x", code=5)
    entries = [json.loads(line) for line in
               tw("log", "--action", "conflict.resolve", "--json").splitlines()]
    assert sorted((e["target"], e["reason"]) for e in entries) == [
        ("conflict:1", "worker fixed the box"), ("conflict:2", "typo in the download")]
    project = tracework.open_project(tw.root)
    try:
        with project.store.read() as conn:
            widths = sorted(r.bbox_w for r in conn.execute(
                select(schema.annotations).where(schema.annotations.c.submission_id == 1)))
    finally:
        project.close()
    assert widths == [20.0, 33.0]  # the incoming boxes replaced the stored ones
    assert tw.json("status")["open_conflicts"] == 0
    tw("verify")


def test_a_survey_conflict_kept_incoming_replaces_the_answers(tw: Cli, tmp_path: Path) -> None:
    tw("ingest", "qualtrics", q("survey_typed_ids.csv"), "--worker-column", "workerId")
    changed = tmp_path / "survey_again.csv"
    text = (QUIRKS / "survey_typed_ids.csv").read_text(encoding="utf-8")
    changed.write_text(text.replace('"25-34"', '"35-44"', 1), encoding="utf-8", newline="")
    report = tw.json("ingest", "qualtrics", str(changed), "--worker-column", "workerId")
    assert (report["added"], report["unchanged"], report["conflicts"]) == (0, 2, 1)
    [conflict] = tw.json("conflicts", "list")
    assert conflict["target"] == "response:1" and conflict["fields"] == ["Q1"]
    assert tw.json("conflicts", "show", "1")["changes"] == {
        "Q1": {"stored": "25-34", "incoming": "35-44"}}
    tw("conflicts", "resolve", "1", "--keep", "incoming", "--reason", "respondent corrected")
    project = tracework.open_project(tw.root)
    try:
        with project.store.read() as conn:
            got = [json.loads(r.value) for r in conn.execute(
                select(schema.answers).where(schema.answers.c.response_id == 1)
                .where(schema.answers.c.question == "Q1"))]
    finally:
        project.close()
    assert got == ["35-44"]
    tw("verify")

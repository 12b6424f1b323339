"""Ingest of Mechanical Turk batches and Qualtrics surveys into the store, on both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

import tracework
from builders import copy, edited_batch, small_files, truth
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store.schema import (
    annotations,
    answers,
    assets,
    conflicts,
    ledger,
    responses,
    submissions,
    vault,
    vault_values,
    workers,
)
from tracework.formats import masks

MASK_FIELD = "Answer.annotatedResult.labeledImage.pngImageData"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("demo"))


def _count(project: Project, table: Any) -> int:
    with project.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _empty_except_init(project: Project) -> None:
    for table in (submissions, annotations, workers, vault, assets, responses, answers):
        assert _count(project, table) == 0, table.name
    assert _count(project, ledger) == 1  # the taxonomy entry written by init
    assert tracework.verify(project).ok


def test_batch_becomes_canonical_rows(project: Project, files: Any) -> None:
    t = truth(files)
    report = tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    assert report.rows == report.added == len(t["submissions"])
    st = tracework.status(project)
    assert st.submissions == len(t["submissions"])
    assert st.submissions_by_status == {"Submitted": len(t["submissions"])}
    assert st.workers_with_work == len({s["worker"] for s in t["submissions"]})
    expected: dict[str, int] = {}
    for s in t["submissions"]:
        for part, area in s["parts"].items():
            if area > 0:
                expected[part] = expected.get(part, 0) + 1
    assert st.annotations_by_category == dict(sorted(expected.items()))
    with project.store.read() as conn:
        rows = conn.execute(select(submissions.c.assignment_id, annotations.c.category,
                                   annotations.c.area, submissions.c.work_time_s,
                                   submissions.c.reward_cents, submissions.c.time_kind)
                            .join(submissions)).all()
        hashed = conn.execute(select(func.count()).select_from(assets)
                              .where(assets.c.sha256.is_not(None))).scalar_one()
    by_assignment = {s["assignment_id"]: s for s in t["submissions"]}
    for r in rows:
        sub = by_assignment[r.assignment_id]
        assert r.area == sub["parts"][r.category]
        assert r.work_time_s == sub["work_time_s"]
        assert r.reward_cents == 15
        assert r.time_kind == "wall_clock_accept_to_submit"
    assert hashed == t["counts"]["frames"]
    assert tracework.verify(project).ok


def test_masks_match_the_pixels(sqlite_project: Project, files: Any) -> None:
    from builders import read_rows

    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    header, rows = read_rows(files.batch_csv)
    first = dict(zip(header, rows[0]))
    colours = {k.split(".")[3]: v for k, v in first.items()
               if k.startswith("Answer.annotatedResult.labelMappings.") and v}
    png = masks.decode_base64_png(first[MASK_FIELD], max_bytes=1 << 24)
    import cv2

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    with sqlite_project.store.read() as conn:
        stored = conn.execute(select(annotations).join(submissions).where(
            submissions.c.assignment_id == first["AssignmentId"])).all()
    assert stored
    for ann in stored:
        r, g, b = (int(colours[ann.category][i:i + 2], 16) for i in (1, 3, 5))
        truth_mask = ((img[..., 2] == r) & (img[..., 1] == g) & (img[..., 0] == b)
                      & (img[..., 3] == 255))
        got = masks.rle_to_mask({"size": [ann.height, ann.width], "counts": ann.rle_counts})
        assert np.array_equal(got.astype(bool), truth_mask)
        ys, xs = np.nonzero(truth_mask)
        assert (ann.bbox_x, ann.bbox_y) == (xs.min(), ys.min())
        assert (ann.bbox_w, ann.bbox_h) == (xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def test_same_file_twice_adds_nothing(project: Project, files: Any, tmp_path: Path) -> None:
    tracework.ingest_mturk(project, files.batch_csv)
    before = tracework.status(project)
    again = tracework.ingest_mturk(project, copy(files.batch_csv, tmp_path / "renamed.csv"))
    assert again.repeated and again.added == 0
    after = tracework.status(project)
    assert after == before


def test_status_change_is_a_ledger_entry(project: Project, files: Any, tmp_path: Path) -> None:
    tracework.ingest_mturk(project, files.batch_csv)

    def approve_first(row: dict[str, str], n: int) -> dict[str, str]:
        if n == 1:
            row["AssignmentStatus"] = "Approved"
            row["ApprovalTime"] = "Tue Jul 15 10:00:00 PDT 2025"
            row["Last30DaysApprovalRate"] = "100% (1/1)"
        return row

    later = edited_batch(files.batch_csv, tmp_path / "later.csv", approve_first)
    report = tracework.ingest_mturk(project, later)
    assert (report.added, report.status_changes, report.conflicts) == (0, 1, 0)
    st = tracework.status(project)
    assert st.submissions_by_status["Approved"] == 1
    entries = tracework.log(project, action="submission.status")
    assert len(entries) == 1
    assert json.loads(entries[0].old) == "Submitted" and json.loads(entries[0].new) == "Approved"
    assert tracework.verify(project).ok


def test_changed_work_is_a_conflict_and_keeps_the_stored_value(
        project: Project, files: Any, tmp_path: Path) -> None:
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        before = conn.execute(select(submissions.c.id, submissions.c.raw,
                                     submissions.c.content_sha256)
                              .order_by(submissions.c.id)).all()

    def change_code(row: dict[str, str], n: int) -> dict[str, str]:
        if n == 2:
            row["Answer.surveycode"] = "SOMETHING_ELSE"
        return row

    report = tracework.ingest_mturk(project, edited_batch(files.batch_csv, tmp_path / "c.csv",
                                                          change_code))
    assert (report.added, report.status_changes, report.conflicts) == (0, 0, 1)
    with project.store.read() as conn:
        after = conn.execute(select(submissions.c.id, submissions.c.raw,
                                    submissions.c.content_sha256)
                             .order_by(submissions.c.id)).all()
        recorded = conn.execute(select(conflicts)).all()
    assert before == after
    assert len(recorded) == 1 and json.loads(recorded[0].fields) == ["Answer.surveycode"]
    assert tracework.status(project).open_conflicts == 1
    assert len(tracework.log(project, action="submission.conflict")) == 1


def _assert_refused(project: Project, path: Path, row: int, field: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        tracework.ingest_mturk(project, path)
    err = info.value
    assert err.file is not None and Path(err.file).name == path.name
    assert err.row == row
    assert err.field == field
    assert words in str(err)
    _empty_except_init(project)


def test_bad_base64_stores_nothing(project: Project, files: Any, tmp_path: Path) -> None:
    def corrupt(row: dict[str, str], n: int) -> dict[str, str]:
        if n == 4:
            row[MASK_FIELD] = row[MASK_FIELD][:40] + "!!!" + row[MASK_FIELD][40:]
        return row

    _assert_refused(project, edited_batch(files.batch_csv, tmp_path / "b.csv", corrupt), 4,
                    MASK_FIELD, "base64")


@pytest.mark.parametrize("cut", [30, 0.5, -12])
def test_truncated_png_stores_nothing(sqlite_project: Project, files: Any, tmp_path: Path,
                                      cut: float) -> None:
    import base64

    def truncate(row: dict[str, str], n: int) -> dict[str, str]:
        if n == 3:
            png = base64.b64decode(row[MASK_FIELD])
            at = int(len(png) * cut) if isinstance(cut, float) else cut
            row[MASK_FIELD] = base64.b64encode(png[:at]).decode()
        return row

    with pytest.raises(InputError) as info:
        tracework.ingest_mturk(sqlite_project,
                               edited_batch(files.batch_csv, tmp_path / "t.csv", truncate))
    assert info.value.row == 3 and info.value.field == MASK_FIELD
    _empty_except_init(sqlite_project)


def test_size_mismatch_stores_nothing(sqlite_project: Project, files: Any,
                                      tmp_path: Path) -> None:
    def lie(row: dict[str, str], n: int) -> dict[str, str]:
        if n == 2:
            row["Answer.annotatedResult.inputImageProperties.width"] = "161"
        return row

    _assert_refused(sqlite_project, edited_batch(files.batch_csv, tmp_path / "s.csv", lie), 2,
                    MASK_FIELD, "160")


def test_label_outside_taxonomy_stores_nothing(sqlite_project: Project, files: Any,
                                               tmp_path: Path) -> None:
    from builders import read_rows, write_rows

    header, rows = read_rows(files.batch_csv)
    i = header.index("Answer.annotatedResult.labelMappings.Cable.color")
    header[i] = "Answer.annotatedResult.labelMappings.Wire.color"
    path = write_rows(tmp_path / "w.csv", header, rows)
    with pytest.raises(InputError) as info:
        tracework.ingest_mturk(sqlite_project, path)
    assert "Wire" in str(info.value) and "taxonomy" in str(info.value)
    assert info.value.row == 1
    _empty_except_init(sqlite_project)


def test_duplicate_assignment_in_one_file(sqlite_project: Project, files: Any,
                                          tmp_path: Path) -> None:
    from builders import read_rows, write_rows

    header, rows = read_rows(files.batch_csv)
    path = write_rows(tmp_path / "d.csv", header, rows + [rows[1]])
    with pytest.raises(InputError) as info:
        tracework.ingest_mturk(sqlite_project, path)
    assert info.value.row == len(rows) + 1 and info.value.field == "AssignmentId"
    assert "row 2" in str(info.value)
    _empty_except_init(sqlite_project)


def test_missing_file_is_a_clear_error(sqlite_project: Project, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        tracework.ingest_mturk(sqlite_project, tmp_path / "nope.csv")


def test_survey_links_by_pseudonym_with_consent(project: Project, files: Any) -> None:
    t = truth(files)
    tracework.ingest_mturk(project, files.batch_csv)
    report = tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                                        consent_column="Q11")
    counts = t["counts"]
    assert report.previews_skipped == counts["survey_previews"] == 1
    assert report.added == counts["survey_responses"]
    assert report.unlinked == counts["survey_unlinked"]
    st = tracework.status(project)
    consenting = [w for w in t["workers"].values() if w["survey_answered"] and w["consent"]]
    assert st.consent["link"] == st.consent["publish"] == len(consenting)
    labelled = {s["worker"] for s in t["submissions"]}
    assert st.responses_linked == counts["consenting_linked"] == len(
        [w for raw, w in t["workers"].items()
         if raw in labelled and w["survey_answered"] and w["consent"]])
    with project.store.read() as conn:
        ips = conn.execute(select(func.count()).select_from(vault_values)
                           .where(vault_values.c.field == "IPAddress")).scalar_one()
        raw_texts = [r.raw for r in conn.execute(select(responses.c.raw))]
    assert ips == report.added
    assert not any("203.0.113." in r or "198.51.100." in r for r in raw_texts)
    again = tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                                       consent_column="Q11")
    assert again.repeated
    assert tracework.verify(project).ok


def test_answers_without_consent_column_grant_nothing(sqlite_project: Project,
                                                      files: Any) -> None:
    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    tracework.ingest_qualtrics(sqlite_project, files.survey_csv, worker_column="workerId")
    st = tracework.status(sqlite_project)
    assert st.consent == {"link": 0, "publish": 0, "credit": 0}
    assert st.responses_linked == 0


def test_survey_consent_column_must_exist(sqlite_project: Project, files: Any) -> None:
    with pytest.raises(InputError, match="Q99"):
        tracework.ingest_qualtrics(sqlite_project, files.survey_csv, worker_column="workerId",
                                   consent_column="Q99")
    _empty_except_init(sqlite_project)


def test_one_process_gives_the_same_store(tmp_path: Path, files: Any) -> None:
    """The process pool changes speed, never results."""
    from conftest import MOUSE

    heads = []
    for processes in (1, 2):
        p = tracework.init(tmp_path / f"p{processes}", categories=MOUSE, actor="t")
        p = tracework.open_project(p.root, cli={"processes": processes, "actor": "t"})
        tracework.ingest_mturk(p, files.batch_csv)
        with p.store.read() as conn:
            heads.append(conn.execute(select(annotations.c.category, annotations.c.rle_counts,
                                             annotations.c.area)
                                      .order_by(annotations.c.id)).all())
        p.close()
    assert heads[0] == heads[1]


def test_finer_consent_scopes_from_tracework_toml(tmp_path: Path) -> None:
    from conftest import MOUSE

    files = small_files(tmp_path / "gen", frames=30, workers=40)

    from tracework.core.store.schema import vault as vault_table

    p = tracework.init(tmp_path / "p", categories=MOUSE, actor="t", credit_name_column="Q12")
    p.close()
    toml = tmp_path / "p" / "tracework.toml"
    toml.write_text(toml.read_text() + '\n[consent.columns]\nQ11 = ["link"]\n')
    p = tracework.open_project(tmp_path / "p")
    try:
        tracework.ingest_mturk(p, files.batch_csv)
        tracework.ingest_qualtrics(p, files.survey_csv, worker_column="workerId")
        t = truth(files)
        assert any(w["credit_name"] for w in t["workers"].values())
        with p.store.read() as conn:
            rows = {r.platform_worker_id: r for r in conn.execute(
                select(vault_table.c.platform_worker_id, workers).join(
                    workers, workers.c.pseudonym == vault_table.c.pseudonym))}
        for raw, w in t["workers"].items():
            if not w["survey_answered"]:
                continue
            got = rows[raw]
            assert got.consent_link == bool(w["consent"])
            assert got.consent_publish is False  # only link was mapped
            assert got.consent_credit == bool(w["credit_name"])
            assert got.credit_name == w["credit_name"]
    finally:
        p.close()


# -- both answer layouts and every element kind, through the store ----------------------------

FORMATS = Path(__file__).parent / "data" / "formats"


def _as_task_answers(src: Path, dest: Path) -> Path:
    """The same batch with its dotted Answer.* columns folded into one Answer.taskAnswers
    JSON cell, as crowd-form batches of another era are downloaded."""
    from builders import read_rows, write_rows

    header, rows = read_rows(src)
    answer_cols = [h for h in header if h.startswith("Answer.")]
    out_header = [h for h in header if not h.startswith("Answer.")]
    out_header.insert(out_header.index("Approve"), "Answer.taskAnswers")
    out_rows = []
    for cells in rows:
        row = dict(zip(header, cells))
        obj: dict[str, Any] = {}
        for col in answer_cols:
            if not row[col]:
                continue
            parts = col.split(".")[1:]
            if parts[:2] == ["annotatedResult", "labelMappings"]:
                parts = ["annotatedResult", "labelMappings", ".".join(parts[2:-1]), "color"]
            value: Any = row[col]
            if parts[-1] in ("height", "width"):
                value = int(value)
            node = obj
            for key in parts[:-1]:
                node = node.setdefault(key, {})
            node[parts[-1]] = value
        row["Answer.taskAnswers"] = json.dumps([obj])
        out_rows.append([row[h] for h in out_header])
    return write_rows(dest, out_header, out_rows)


def _stored_annotations(project: Project) -> list[tuple[Any, ...]]:
    with project.store.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(submissions.c.assignment_id, annotations.c.kind, annotations.c.category,
                   annotations.c.rle_counts, annotations.c.area, annotations.c.bbox_x,
                   annotations.c.bbox_y, annotations.c.bbox_w, annotations.c.bbox_h)
            .join(submissions).order_by(submissions.c.assignment_id, annotations.c.id))]


def test_both_answer_layouts_give_the_same_annotations(tmp_path: Path, files: Any) -> None:
    from conftest import MOUSE

    folded = _as_task_answers(files.batch_csv, tmp_path / "task_answers.csv")
    from tracework.formats import mturk

    with mturk.read_batch(folded) as batch:
        assert batch.layout == "taskAnswers"
    stored = []
    for name, path in (("dotted", files.batch_csv), ("json", folded)):
        p = tracework.init(tmp_path / name, categories=MOUSE, actor="t")
        try:
            report = tracework.ingest_mturk(p, path)
            assert report.added == files.submissions
            stored.append(_stored_annotations(p))
            with p.store.read() as conn:
                codes = {r.assignment_id: json.loads(r.answer)["surveycode"]
                         for r in conn.execute(select(submissions))}
            assert len(codes) == files.submissions and all(codes.values())
        finally:
            p.close()
    assert stored[0] == stored[1] and len(stored[0]) > files.submissions


def test_boxes_classifiers_and_form_fields_from_task_answers(project: Project) -> None:
    report = tracework.ingest_mturk(project, FORMATS / "mturk_task_answers.csv")
    assert (report.rows, report.added) == (2, 2)
    with project.store.read() as conn:
        subs = {r.assignment_id: r for r in conn.execute(select(submissions))}
        anns = {(r.submission_id, r.kind, r.category): r for r in conn.execute(
            select(annotations))}
        sized = conn.execute(select(assets.c.width, assets.c.height)
                             .order_by(assets.c.id)).all()
    first, second = subs["3FAKEASSIGN0011MNBVCXZPOIU"], subs["3FAKEASSIGN0012MNBVCXZPOIU"]
    assert (first.reward_cents, first.work_time_s, first.status) == (5, 150, "Submitted")
    assert first.submit_time.startswith("2023-03-07T10:07:30")
    body = anns[(first.id, "bbox", "Body")]
    assert (body.bbox_x, body.bbox_y, body.bbox_w, body.bbox_h, body.area) == (
        243, 117, 187, 401, 187 * 401)
    assert (body.width, body.height) == (2880, 1920)
    cable = anns[(first.id, "bbox", "Cable")]
    assert (cable.bbox_w, cable.bbox_h, cable.area) == (90, 20.5, 90 * 20.5)
    assert json.loads(anns[(first.id, "class", "Mouse")].value) == "Mouse"
    assert json.loads(anns[(first.id, "labels", None)].value) == ["cable", "scroll wheel"]
    assert json.loads(anns[(second.id, "class", "Not a mouse")].value) == "Not a mouse"
    assert len([k for k in anns if k[0] == first.id]) == 4
    assert len([k for k in anns if k[0] == second.id]) == 1
    # Plain form fields are kept as raw answers, verbatim.
    answer = json.loads(first.answer)
    assert answer["comment"] == "I'm not sure if the wheel is one part or two."
    assert answer["image_attributes"] == {"blurry": True, "dim": False}
    assert json.loads(second.answer)["category"]["workerComment"] == "it is a trackpad"
    assert sized[0] == (2880, 1920)
    assert tracework.status(project).annotations_by_category == {"Body": 1, "Cable": 1}


def test_dotted_boxes_classifiers_checkboxes_and_plain_fields(sqlite_project: Project,
                                                              tmp_path: Path) -> None:
    from test_mturk_format import write_batch

    boxes = [{"height": 10, "label": "Body", "left": 1.5, "top": 2, "width": 3},
             {"height": 4, "label": "Scroll_Wheel", "left": 7, "top": 8, "width": 2}]
    path = write_batch(tmp_path / "b.csv", {
        "Answer.annotatedResult.boundingBoxes": json.dumps(boxes),
        "Answer.annotatedResult.inputImageProperties.height": "1920",
        "Answer.annotatedResult.inputImageProperties.width": "2880",
        "Answer.category.label": "Mouse",
        "Answer.confidence.high.on": "true",
        "Answer.parts.labels": "['Body', 'Cable']",
        "Answer.city": "CHICAGO",
    })
    report = tracework.ingest_mturk(sqlite_project, path)
    assert report.added == 1 and report.by_category == {"Body": 1, "Scroll_Wheel": 1}
    with sqlite_project.store.read() as conn:
        anns = conn.execute(select(annotations).order_by(annotations.c.id)).all()
        sub = conn.execute(select(submissions)).one()
    assert [(a.kind, a.category) for a in anns] == [
        ("bbox", "Body"), ("bbox", "Scroll_Wheel"), ("class", "Mouse"), ("labels", None)]
    assert (anns[0].bbox_x, anns[0].bbox_y, anns[0].bbox_w, anns[0].bbox_h) == (1.5, 2, 3, 10)
    assert json.loads(anns[3].value) == ["Body", "Cable"]
    answer = json.loads(sub.answer)
    assert answer["city"] == "CHICAGO" and answer["confidence"] == {"high": {"on": True}}
    assert sub.reward_cents == 15 and sub.time_kind == "wall_clock_accept_to_submit"
    assert sub.accept_time.startswith("2023-03-09T17:05:01")    # 09:05:01 PST


def test_box_label_outside_the_taxonomy_stores_nothing(sqlite_project: Project,
                                                       tmp_path: Path) -> None:
    from test_mturk_format import write_batch

    path = write_batch(tmp_path / "b.csv", {"Answer.r.boundingBoxes": json.dumps(
        [{"height": 1, "label": "Wheel", "left": 0, "top": 0, "width": 1}])})
    with pytest.raises(InputError) as info:
        tracework.ingest_mturk(sqlite_project, path)
    assert (info.value.row, info.value.field) == (1, "Answer.r.boundingBoxes")
    assert "'Wheel'" in str(info.value)
    _empty_except_init(sqlite_project)


def test_rows_are_kept_verbatim_but_pseudonymised(sqlite_project: Project, files: Any) -> None:
    import hashlib

    from builders import read_rows
    from tracework.core.privacy import pseudonym
    from tracework.core.store.schema import imports

    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    header, rows = read_rows(files.batch_csv)
    with sqlite_project.store.read() as conn:
        stored = {r.assignment_id: r for r in conn.execute(select(submissions))}
        (imported,) = conn.execute(select(imports)).all()
    assert imported.sha256 == hashlib.sha256(files.batch_csv.read_bytes()).hexdigest()
    assert imported.file_name == files.batch_csv.name and imported.rows == len(rows)
    for n, cells in enumerate(rows, 1):
        row = dict(zip(header, cells))
        raw = json.loads(stored[row["AssignmentId"]].raw)
        token = pseudonym(sqlite_project.secret, "mturk", row["WorkerId"])
        assert raw == {**row, "WorkerId": f"<worker {token}>"}
        assert stored[row["AssignmentId"]].row == n


def test_realistic_survey_files_link_and_keep_every_answer(project: Project) -> None:
    tracework.ingest_mturk(project, FORMATS / "mturk_task_answers.csv")
    report = tracework.ingest_qualtrics(project, FORMATS / "qualtrics_choice_text.csv",
                                        worker_column="workerId")
    assert (report.rows, report.added, report.previews_skipped) == (3, 2, 1)
    assert report.unlinked == 1       # A3FAKEWORKER003 did no work in the batch
    with project.store.read() as conn:
        got = {(r.response_id, r.question): r for r in conn.execute(
            select(responses.c.response_id, responses.c.worker, answers.c.question,
                   answers.c.value, answers.c.other_text, answers.c.label).join(answers))}
        labelled = {r.worker for r in conn.execute(select(submissions.c.worker))}
    q9 = got[("R_1FakeResp0001aa", "Q9")]
    assert json.loads(q9.value) == ["Neck pain", "Eye strain", "Other"]
    assert q9.other_text == "Tinnitus"
    assert json.loads(got[("R_1FakeResp0001aa", "Q10")].value) == "$1,200 laptop"
    assert q9.worker in labelled
    age = got[("R_3FakeResp0003cc", "Q1")]
    assert (json.loads(age.value), age.other_text) == ("Exact age (optional)", "29")
    assert got[("R_3FakeResp0003cc", "Q9")].value is None
    assert got[("R_3FakeResp0003cc", "Q9")].worker not in labelled
    assert not any(k[0] == "R_2FakePreview2bb" for k in got)
    st = tracework.status(project)
    assert (st.responses, st.responses_unlinked) == (2, 1)


def test_previews_are_kept_when_asked(sqlite_project: Project) -> None:
    report = tracework.ingest_qualtrics(sqlite_project, FORMATS / "qualtrics_numeric.csv",
                                        worker_column="workerId", include_previews=True)
    assert (report.added, report.previews_skipped) == (3, 0)


def test_yes_values_are_configurable(tmp_path: Path, files: Any) -> None:
    import csv

    from conftest import MOUSE

    with files.survey_csv.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("Q11")
    yes = sum(1 for r in rows[3:] if r[col] == "Yes" and "preview" not in r)
    for r in rows[3:]:
        r[col] = {"Yes": "Oui", "No": "Non"}.get(r[col], r[col])
    survey = tmp_path / "oui.csv"
    with survey.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows)
    p = tracework.init(tmp_path / "p", categories=MOUSE, actor="t")
    p.close()
    toml = tmp_path / "p" / "tracework.toml"
    text = toml.read_text()
    assert 'yes_values = ["Yes",' in text
    toml.write_text(text.replace('yes_values = ["Yes",', 'yes_values = ["Oui", "Yes",'))
    p = tracework.open_project(tmp_path / "p")
    try:
        tracework.ingest_mturk(p, files.batch_csv)
        tracework.ingest_qualtrics(p, survey, worker_column="workerId", consent_column="Q11")
        consent = tracework.status(p).consent
    finally:
        p.close()
    t = truth(files)
    consenting = [w for w in t["workers"].values() if w["survey_answered"] and w["consent"]]
    assert yes >= consent["link"] == consent["publish"] == len(consenting) > 0


def test_progress_is_reported_and_the_import_ends_with_a_summary(sqlite_project: Project,
                                                                 files: Any) -> None:
    seen: list[int] = []
    report = tracework.ingest_mturk(sqlite_project, files.batch_csv, progress=seen.append)
    assert seen == list(range(1, files.submissions + 1))
    summary = report.as_dict()
    assert summary["rows"] == summary["added"] == files.submissions
    assert summary["annotations"] == sum(summary["by_category"].values()) > 0
    assert summary["ledger_head"] == tracework.status(sqlite_project).ledger_head
    survey_seen: list[int] = []
    survey = tracework.ingest_qualtrics(sqlite_project, files.survey_csv,
                                        worker_column="workerId", progress=survey_seen.append)
    assert len(survey_seen) == survey.added == truth(files)["counts"]["survey_responses"]
    assert survey_seen == sorted(set(survey_seen)) and survey_seen[-1] <= survey.rows

"""Label Studio JSON export: the reader on a fixture built from the documented task format and
the quirks of real exports, the brush RLE against a test-side encoder, and the import through
the installed command (pseudonyms only outside the vault, re-import adds nothing, a bad file
stores nothing)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracework
from brush_encoder import RUN_BITS, BitWriter, encode, encode_mask
from platform_checks import count, database_without_vault, files_bytes, run
from tracework.core.errors import InputError
from tracework.core.project import Category, Project
from tracework.core.store.schema import annotations, imports, ledger, submissions, vault, workers
from tracework.formats import masks
from tracework.formats.brushrle import BrushRLEError, brush_mask, decode_brush_rle
from tracework.formats.canonical import Work
from tracework.formats.labelstudio import read_labelstudio

DATA = Path(__file__).parent / "data" / "platforms"
EXPORT = DATA / "labelstudio_export.json"
CATEGORIES = [Category("Wheel", "#d62728"), Category("Frame", "#1f77b4"),
              Category("Hub", "#2ca02c")]
# Every personal value in the fixture: user ids, e-mails, names, draft user names.
CANARIES = ["735291801", "735291802", "735291803", "735291804", "735291805", "735291806",
            "735291807", "735291899", "canary.ann@example.org", "canary.old@example.org", "Canaryfirst",
            "Canarylast", "canary.draft@example.org", "canary.reviewer@example.org",
            "canary.loose@example.org"]


def _overrun() -> list[int]:
    """A header for 16 values, then one repeated run of 20."""
    out = BitWriter()
    out.put(16, 32)
    out.put(7, 5)
    for bits in RUN_BITS:
        out.put(bits - 1, 4)
    out.put(1, 1)
    out.put(2, 2)
    out.put(19, 8)
    out.put(255, 8)
    return out.bytes()


def _mask() -> np.ndarray:
    m = np.zeros((6, 8), np.uint8)
    m[1:4, 2:6] = 1
    m[4, 3] = 1
    m[5, 7] = 1
    return m


def _works(path: Path = EXPORT) -> list[Work]:
    return list(read_labelstudio(path).works)


@pytest.fixture
def project(tmp_path: Path) -> Any:
    p = tracework.init(tmp_path / "proj", name="Bikes", categories=CATEGORIES, actor="tester")
    try:
        yield p
    finally:
        p.close()


# -- brush RLE ------------------------------------------------------------------------------


def test_brush_rle_decodes_the_fixture_stroke_exactly() -> None:
    rle = json.loads(EXPORT.read_text())[1]["annotations"][0]["result"][0]["value"]["rle"]
    mask = brush_mask(rle, 8, 6)
    assert mask.sum() == 14
    assert np.array_equal(mask, _mask().astype(bool))


@pytest.mark.parametrize("seed", range(6))
def test_brush_rle_round_trips_random_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 60, 2))
    mask = rng.random((h, w)) < (0.05, 0.5, 0.95, 0.0, 1.0, 0.3)[seed]
    decoded = brush_mask(encode_mask(mask), w, h)
    assert decoded.shape == (h, w)
    assert int(decoded.sum()) == int(mask.sum())
    assert np.array_equal(decoded, mask)


def test_brush_rle_runs_longer_than_one_field_and_long_literals() -> None:
    # 300 × 250 RGBA = 300,000 values: background runs longer than 2**16 are split in chunks;
    # a noisy row gives literal chunks of many values.
    mask = np.zeros((250, 300), bool)
    mask[100:180, 40:260] = True
    mask[10, ::2] = True
    decoded = brush_mask(encode_mask(mask), 300, 250)
    assert int(decoded.sum()) == 80 * 220 + 150
    assert np.array_equal(decoded, mask)
    values = np.arange(1000) % 256
    assert np.array_equal(decode_brush_rle(encode(values), max_values=1000), values)


@pytest.mark.parametrize(("rle", "message"), [
    (encode_mask(np.ones((2, 2), bool))[:-2], "the RLE ends at bit"),
    (_overrun(), "a run of 20 values at value 0 goes past the declared 16 values"),
    (encode_mask(np.ones((3, 2), bool)), "holds 24 values; an RGBA image of 2×2 has 16"),
    ([0, 0, 1], "fewer than its 7-byte header"),
    ([0, 0, 0, 16, 300, 0, 0], "integers from 0 to 255"),
])
def test_brush_rle_refuses_broken_streams(rle: list[int], message: str) -> None:
    with pytest.raises(BrushRLEError, match=message):
        brush_mask(rle, 2, 2)


# -- the reader -----------------------------------------------------------------------------


def test_one_work_per_annotation_and_per_loose_draft() -> None:
    pf = read_labelstudio(EXPORT)
    works = list(pf.works)
    assert [w.assignment_id for w in works] == ["1001", "1002", "1003", "1004", "1005",
                                                 "draft-502"]
    assert [(b.key, b.title) for b in pf.batches] == [("7", "Label Studio project 7")]
    assert {w.batch_key for w in works} == {"7"}
    assert [w.task_id for w in works] == ["101", "101", "102", "102", "102", "102"]
    assert [w.row for w in works] == [1, 1, 2, 2, 2, 2]
    assert pf.notes == [
        "1 model prediction not imported: they are not human work.",
        "1 task without annotations or drafts added nothing.",
        "1 draft never submitted imported as Abandoned work of the draft's user, known by "
        "e-mail only (drafts carry no user id).",
        "1 task field naming users who are not an annotation's author (updated_by, "
        "comment_authors, …) removed, not stored."]


def test_statuses_times_and_reviews() -> None:
    works = {w.assignment_id: w for w in _works()}
    assert {k: w.status for k, w in works.items()} == {
        "1001": "Submitted", "1002": "Submitted", "1003": "Rejected", "1004": "Returned",
        "1005": "Approved", "draft-502": "Abandoned"}
    assert {k: w.work_time_s for k, w in works.items()} == {
        "1001": 4.288, "1002": 12.5, "1003": 30.0, "1004": 3.5, "1005": 20.25,
        "draft-502": 7.25}
    assert {w.time_kind for w in works.values()} == {"active_seconds"}
    assert works["1001"].submit_time == datetime(2021, 3, 9, 22, 16, 8, 728353, tzinfo=UTC)
    assert works["1004"].submit_time == datetime(2021, 3, 11, 9, 10, tzinfo=UTC)
    assert works["draft-502"].submit_time is None
    rejected = works["1003"].review
    assert rejected is not None
    assert (rejected.status, rejected.reason, rejected.time) == (
        "Rejected", "The brush covers the background", datetime(2021, 3, 12, 10, tzinfo=UTC))
    assert rejected.reviewer is not None and rejected.reviewer.platform_id == "735291899"
    approved = works["1005"].review
    assert approved is not None and (approved.status, approved.reason) == ("Approved", "")
    assert works["1001"].review is None and works["1004"].review is None


def test_people_and_every_personal_value_in_person_only() -> None:
    works = {w.assignment_id: w for w in _works()}
    people = {k: (w.worker.platform_id, dict(w.worker.personal)) for k, w in works.items()
              if w.worker is not None}
    assert people == {
        "1001": ("735291801", {"created_username": "canary.ann@example.org, 735291801",
                               "draft_user": "canary.draft@example.org",
                               "draft_created_username": "canary.draft@example.org, 735291801"}),
        "1002": ("735291802", {"email": "canary.old@example.org", "first_name": "Canaryfirst",
                               "last_name": "Canarylast", "updated_by_id": "735291807"}),
        "1003": ("735291803", {}), "1004": ("735291804", {}), "1005": ("735291801", {}),
        "draft-502": ("canary.loose@example.org",
                      {"email": "canary.loose@example.org",
                       "created_username": "canary.loose@example.org, 735291805"})}
    assert {w.attribution for w in works.values()} == {"worker"}
    for work in works.values():
        outside = json.dumps([work.raw, [lb.__dict__ for lb in work.labels], work.feedback,
                              work.review.reason if work.review else ""], default=str)
        found = [c for c in CANARIES if c in outside]
        assert found == [], (work.assignment_id, found)
    # The drafts stay in the raw record, without their user.
    assert works["1001"].raw["drafts"] == [{"id": 501, "annotation": 1001, "lead_time": 2.0,
                                           "result": [],
                                           "created_at": "2021-03-09T22:10:00.000000Z"}]


def test_labels_in_pixels_by_kind() -> None:
    works = {w.assignment_id: w for w in _works()}
    kinds = Counter(lb.kind for w in works.values() for lb in w.labels)
    assert kinds == {"bbox": 2, "class": 3, "text": 1, "polygon": 1, "keypoints": 1,
                     "labels": 1, "mask": 1}
    box, rotated, clear, text = works["1001"].labels
    assert (box.category, box.bbox, box.element) == ("Wheel", (300.0, 40.0, 60.0, 80.0), "tag")
    # A 60 × 20 box turned 90° clockwise about its top-left corner (300, 200).
    assert rotated.category == "Frame"
    assert rotated.bbox == pytest.approx((280.0, 200.0, 20.0, 60.0))
    assert rotated.attributes["rotation"] == 90.0
    assert rotated.attributes["rotated_box"] == [300.0, 200.0, 60.0, 20.0]
    assert (clear.kind, clear.category, clear.value) == ("class", "Clear", "Clear")
    assert (text.kind, text.category, text.value) == ("text", None, "two wheels, one frame")
    polygon, keypoint, multi = works["1002"].labels
    assert polygon.polygon == [[60.0, 40.0, 120.0, 40.0, 120.0, 100.0]]
    assert polygon.attributes["closed"] is True
    assert (keypoint.category, keypoint.keypoints) == ("Hub", [150.0, 200.0])
    assert keypoint.attributes["point_width"] == 3.0
    assert (multi.kind, multi.category, multi.value) == ("labels", None, ["Blurred", "Dark"])
    assert works["1002"].unconverted == {"relation": 1, "rating": 1}
    (brush,) = works["1003"].labels
    assert brush.mask is not None and brush.mask["size"] == [6, 8]
    decoded = masks.rle_to_mask(brush.mask)
    assert int(decoded.sum()) == 14 and np.array_equal(decoded, _mask())
    assert (works["1001"].asset_uri, works["1001"].asset_width,
            works["1001"].asset_height) == ("/data/upload/7/frame_0001.png", 600, 400)
    assert (works["1003"].asset_width, works["1003"].asset_height) == (8, 6)
    assert works["1004"].labels == [] and works["1004"].asset_width is None


def test_a_single_task_object_is_a_list_of_one(tmp_path: Path) -> None:
    task = json.loads(EXPORT.read_text())[0]
    path = tmp_path / "101.json"
    path.write_text(json.dumps(task))
    assert [w.assignment_id for w in _works(path)] == ["1001", "1002"]


# -- refused files --------------------------------------------------------------------------


def _broken(tmp_path: Path, change: Any) -> Path:
    tasks = json.loads(EXPORT.read_text())
    change(tasks)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(tasks))
    return path


def _set(path: list[Any], value: Any) -> Any:
    def change(tasks: Any) -> None:
        node = tasks
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


@pytest.mark.parametrize(("change", "row", "field", "message"), [
    (_set([0, "annotations", 0, "result", 0, "value", "x"], "50"), 1,
     "annotations[0].result[0].value.x", "must be a number"),
    (_set([1, "annotations", 1, "completed_by"], None), 2, "annotations[1].completed_by",
     "every annotation names who made it"),
    (_set([1, "annotations", 0, "result", 0, "value", "rle"], [0, 0, 0, 192, 57, 27]), 2,
     "annotations[0].result[0].value.rle", "fewer than its 7-byte header"),
    (_set([0, "annotations", 1, "result", 0, "original_width"], 0), 1,
     "annotations[1].result[0].original_width", "positive whole number"),
    (_set([1, "annotations", 2, "was_cancelled"], "no"), 2, "annotations[2].was_cancelled",
     "true or false"),
    (_set([1, "annotations", 0, "created_at"], "yesterday"), 2, "annotations[0].created_at",
     "not an ISO 8601 date"),
    (_set([1, "annotations", 0, "reviews", 0, "accepted"], "yes"), 2,
     "annotations[0].reviews[0]", "accepted true or false"),
    (_set([1, "annotations", 1, "lead_time"], -3.5), 2, "annotations[1].lead_time",
     "must not be negative"),
    (_set([1, "annotations", 2, "id"], 1001), 2, "annotations[2].id",
     "the id 1001 is given twice (first in task 1)"),
    (_set([0, "annotations", 1, "id"], 1001), 1, "annotations[1].id",
     "the id 1001 is given twice (first in task 1)"),
])
def test_a_malformed_record_is_refused_with_file_row_and_field(
        tmp_path: Path, change: Any, row: int, field: str, message: str) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(InputError) as caught:
        _works(path)
    err = caught.value
    assert (err.file, err.row, err.field) == (str(path), row, field)
    assert message in err.detail
    assert not any(c in str(err) for c in CANARIES)


@pytest.mark.parametrize(("body", "message", "hint"), [
    ('[{"id": 1, "data": {}, "annotations": [], "id": 2}]', "appears twice", None),
    ('[{"id": 1, "data": {"x": NaN}}]', "not a number JSON allows", None),
    ('{"tasks": 1}', "not a task of Label Studio's JSON export", None),
    ('[{"image": "a.png", "annotator": 3, "annotation_id": 9, "label": []}]',
     "not a task of Label Studio's JSON export", "JSON_MIN"),
    ("", "is empty", None),
])
def test_a_malformed_file_is_refused(tmp_path: Path, body: str, message: str,
                                     hint: str | None) -> None:
    path = tmp_path / "export.json"
    path.write_text(body)
    with pytest.raises(InputError) as caught:
        read_labelstudio(path)
    assert caught.value.file == str(path)
    assert message in caught.value.detail
    if hint:
        assert hint in (caught.value.hint or "")


# -- through the importer and the installed command ----------------------------------------


def test_ingest_stores_personal_values_only_in_the_vault(project: Project,
                                                          tmp_path: Path) -> None:
    report = tracework.ingest_labelstudio(project, EXPORT)
    assert (report.rows, report.added, report.workers_new, report.annotations) == (6, 6, 5, 10)
    assert report.by_category == {"Wheel": 2, "Frame": 2, "Hub": 1}
    assert report.attributed == {"worker": 6}
    assert report.kept_raw == {"relation": 1, "rating": 1}
    with project.store.read() as conn:
        rows = conn.execute(select_submissions()).all()
        vaulted = {r.platform_worker_id for r in conn.execute(vault.select())}
    assert Counter(r.status for r in rows) == {"Submitted": 2, "Rejected": 1, "Returned": 1,
                                               "Approved": 1, "Abandoned": 1}
    assert {r.assignment_id: r.requester_feedback for r in rows}["1003"] == (
        "The brush covers the background")
    assert {r.time_kind for r in rows} == {"active_seconds"}
    assert vaulted == {"735291801", "735291802", "735291803", "735291804",
                       "canary.loose@example.org"}
    stored = database_without_vault(project.root / "tracework.db", tmp_path)
    assert [c for c in CANARIES if c.encode() in stored] == []
    bundle = tmp_path / "bundle"
    done = run("-p", str(project.root), "export", "bundle", str(bundle), "--status", "all")
    assert done.returncode == 0, done.stderr
    exported = files_bytes(bundle)
    assert b"Wheel" in exported
    assert [c for c in CANARIES if c.encode() in exported] == []


def select_submissions() -> Any:
    return submissions.select().order_by(submissions.c.id)


def test_reimport_adds_nothing(project: Project) -> None:
    first = tracework.ingest_labelstudio(project, EXPORT)
    before = [count(project, t) for t in (submissions, annotations, workers, ledger, imports)]
    again = tracework.ingest_labelstudio(project, EXPORT)
    assert first.added == 6 and again.repeated and again.added == 0
    assert [count(project, t) for t in (submissions, annotations, workers, ledger,
                                        imports)] == before


def test_the_command_imports_and_a_broken_file_exits_4_storing_nothing(
        project: Project, tmp_path: Path) -> None:
    path = _broken(tmp_path, _set([1, "annotations", 0, "result", 0, "value", "rle"],
                                  [0, 0, 0, 192, 57, 27, 254, 39]))
    done = run("-p", str(project.root), "ingest", "labelstudio", str(path))
    assert done.returncode == 4
    assert f"{path}, row 2, field 'annotations[0].result[0].value.rle'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert [count(project, t) for t in (submissions, annotations, workers, imports)] == [
        0, 0, 0, 0]
    done = run("-p", str(project.root), "ingest", "labelstudio", str(EXPORT))
    assert done.returncode == 0, done.stderr
    assert "attributed to worker  6" in done.stdout
    assert "1 result of type relation kept raw, not converted" in done.stdout
    assert count(project, submissions) == 6
    done = run("-p", str(project.root), "ingest", "labelstudio", str(EXPORT))
    assert done.returncode == 0 and "already imported" in done.stdout
    assert count(project, submissions) == 6


def test_help_is_complete() -> None:
    done = run("ingest", "labelstudio", "--help")
    assert done.returncode == 0
    for words in ("completed_by", "lead_time", "was_cancelled", "Returned", "Abandoned",
                  "JSON_MIN", "Example:", "tracework ingest labelstudio"):
        assert words in done.stdout


def test_a_shape_tool_with_a_separate_labels_control(tmp_path: Path) -> None:
    size = {"original_width": 200, "original_height": 100}
    results = [
        {"id": "r1", "type": "labels", "from_name": "label", "to_name": "img", **size,
         "value": {"x": 10, "y": 10, "width": 20, "height": 30, "labels": ["Wheel"]}},
        {"id": "r1", "type": "rectangle", "from_name": "box", "to_name": "img", **size,
         "value": {"x": 10, "y": 10, "width": 20, "height": 30, "rotation": 0}},
        {"id": "r2", "type": "polygon", "from_name": "outline", "to_name": "img", **size,
         "value": {"points": [[0, 0], [50, 0], [50, 50]]}},
        {"id": "r3", "type": "labels", "from_name": "label", "to_name": "txt",
         "value": {"start": 0, "end": 4, "labels": ["Hub"]}},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": 1, "data": {"image": "a.png"}, "annotations": [
        {"id": 5, "completed_by": 3, "result": results}]}]))
    (work,) = _works(path)
    box, polygon = work.labels
    assert (box.element, box.kind, box.category, box.bbox) == ("box", "bbox", "Wheel",
                                                               (20.0, 10.0, 40.0, 30.0))
    assert (polygon.kind, polygon.category, polygon.polygon) == (
        "polygon", None, [[0.0, 0.0, 100.0, 0.0, 100.0, 50.0]])
    assert work.unconverted == {"labels": 1}
    assert work.time_kind == "unknown" and work.work_time_s is None

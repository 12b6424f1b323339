"""COCO and YOLO exports, checked by the tools that read them: pycocotools and supervision."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sqlalchemy import select

import tracework
from builders import read_rows, small_files, truth
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store.schema import annotations, submissions, workers
from tracework.formats import masks


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def loaded(sqlite_project: Project, files: Any) -> Project:
    tracework.ingest_mturk(sqlite_project, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(sqlite_project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    return sqlite_project


def _quiet_coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def test_coco_loads_and_masks_equal_ingest(loaded: Project, files: Any, tmp_path: Path) -> None:
    report = tracework.export_coco(loaded, tmp_path / "coco", status="all",
                                   segmentation="rle", images_dir=files.images_dir)
    coco = _quiet_coco(tmp_path / "coco" / "annotations.json")
    assert len(coco.getImgIds()) == report.images == truth(files)["counts"]["frames"]
    assert report.images_copied == report.images
    header, rows = read_rows(files.batch_csv)
    pngs = {}
    for cells in rows:
        row = dict(zip(header, cells))
        colours = {k.split(".")[3]: v for k, v in row.items()
                   if k.startswith("Answer.annotatedResult.labelMappings.") and v}
        pngs[row["AssignmentId"]] = masks.decode_mask_cell(
            row["Answer.annotatedResult.labeledImage.pngImageData"], colours,
            max_bytes=1 << 24, max_pixels=10**8)
    cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == report.annotations > 0
    for ann in anns:
        decoded = pngs[ann["attributes"]["assignment_id"]]
        part = next(p for p in decoded.parts if p.category == cats[ann["category_id"]])
        assert np.array_equal(coco.annToMask(ann), masks.rle_to_mask(part.rle))
        assert ann["area"] == part.area
        assert ann["iscrowd"] == 0


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_cocoeval_against_itself_is_perfect(loaded: Project, tmp_path: Path,
                                            iou_type: str) -> None:
    tracework.export_coco(loaded, tmp_path / "coco", status="all")
    gt = _quiet_coco(tmp_path / "coco" / "annotations.json")
    results = [{**a, "score": 1.0} for a in gt.loadAnns(gt.getAnnIds())]
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_attributes_lead_back_to_submission_and_pseudonym(loaded: Project, files: Any,
                                                          tmp_path: Path) -> None:
    tracework.export_coco(loaded, tmp_path / "coco", status="all")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    with loaded.store.read() as conn:
        stored = {r.id: r for r in conn.execute(
            select(annotations.c.id, annotations.c.submission_id, submissions.c.worker,
                   submissions.c.assignment_id, submissions.c.work_time_s)
            .join(submissions))}
    t = truth(files)
    by_assignment = {s["assignment_id"]: s for s in t["submissions"]}
    from tracework.core.privacy import pseudonym

    for ann in doc["annotations"]:
        a = ann["attributes"]
        row = stored[ann["id"]]
        assert a["submission"] == row.submission_id
        assert a["worker"] == row.worker
        assert a["assignment_id"] == row.assignment_id
        raw = by_assignment[a["assignment_id"]]["worker"]
        assert a["worker"] == pseudonym(loaded.secret, "mturk", raw)
        assert a["time_on_task_s"] == by_assignment[a["assignment_id"]]["work_time_s"]
        assert a["time_kind"] == "wall_clock_accept_to_submit"
        assert a["reward_cents"] == 15 and a["review_status"] == "submitted"
        assert a["taxonomy_version"] == 1
    raw_ids = set(t["workers"])
    text = (tmp_path / "coco" / "annotations.json").read_text()
    assert not [r for r in raw_ids if r in text]
    info = doc["info"]["tracework"]
    assert info["ledger_head"] == tracework.status(loaded).ledger_head
    assert info["settings"]["mask_tolerance"] == {"value": 0.0, "source": "default"}
    assert tracework.verify(loaded, expect_head=info["ledger_head"]).ok


def test_survey_answers_only_with_publish_consent(loaded: Project, tmp_path: Path) -> None:
    tracework.export_coco(loaded, tmp_path / "coco", status="all")
    tracework.export_yolo(loaded, tmp_path / "yolo", status="all")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    with loaded.store.read() as conn:
        consent = {r.pseudonym: r.consent_publish for r in conn.execute(select(workers))}
    with_survey = {a["attributes"]["worker"] for a in doc["annotations"]
                   if "survey" in a["attributes"]}
    without = {a["attributes"]["worker"] for a in doc["annotations"]
               if "survey" not in a["attributes"]}
    assert with_survey and without
    assert all(consent[w] for w in with_survey)
    assert not any(consent[w] for w in without)
    for a in doc["annotations"]:
        if "survey" in a["attributes"]:
            assert set(a["attributes"]["survey"]) >= {"Q1", "Q2", "Q3"}
    sidecar = json.loads((tmp_path / "yolo" / "workers.json").read_text())["workers"]
    assert {w for w, v in sidecar.items() if "survey" in v} == {
        w for w in sidecar if consent[w]}
    # Withdrawing consent takes effect in the next export.
    from tracework.core.ledger import LedgerWriter
    from tracework.core.privacy import set_consent

    victim = sorted(with_survey)[0]
    with loaded.store.write() as conn:
        log = LedgerWriter(conn, "tester")
        set_consent(conn, log, victim, [], reason="withdrawn")
        log.flush()
    tracework.export_coco(loaded, tmp_path / "coco2", status="all")
    doc2 = json.loads((tmp_path / "coco2" / "annotations.json").read_text())
    assert not any("survey" in a["attributes"] for a in doc2["annotations"]
                   if a["attributes"]["worker"] == victim)


@pytest.mark.parametrize("task", ["detect", "segment"])
def test_yolo_reads_back_with_the_same_boxes(loaded: Project, files: Any, tmp_path: Path,
                                             task: str) -> None:
    import supervision as sv

    out = tmp_path / "yolo"
    report = tracework.export_yolo(loaded, out, task=task, status="all", per_worker=True,
                                   images_dir=files.images_dir)
    assert report.images_copied == report.images
    ds = sv.DetectionDataset.from_yolo(images_directory_path=str(out / "images" / "train"),
                                       annotations_directory_path=str(out / "labels" / "train"),
                                       data_yaml_path=str(out / "data.yaml"))
    assert ds.classes == ["Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]
    provenance = [json.loads(line) for line in
                  (out / "provenance.jsonl").read_text().splitlines()]
    with loaded.store.read() as conn:
        boxes = {r.id: (r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h, r.category)
                 for r in conn.execute(select(annotations))}
    by_image: dict[str, list[dict[str, Any]]] = {}
    for p in provenance:
        by_image.setdefault(p["image"], []).append(p)
    assert len(ds) == report.images
    checked = 0
    for image_path, _image, det in ds:
        rows = sorted(by_image[Path(image_path).name], key=lambda p: p["line"])
        assert len(det) == len(rows)
        for k, prov in enumerate(rows):
            x, y, w, h, cat = boxes[prov["annotation"]]
            assert ds.classes[det.class_id[k]] == cat == prov["category"]
            if task == "detect":
                # YOLO stores centres and sizes normalised to 6 decimals.
                assert det.xyxy[k] == pytest.approx([x, y, x + w, y + h], abs=0.01)
            else:
                # A polygon traced around the pixels spans at least the pixel centres.
                x0, y0, x1, y1 = det.xyxy[k]
                assert x <= x0 + 0.01 and y <= y0 + 0.01
                assert x1 <= x + w + 0.01 and y1 <= y + h + 0.01
            checked += 1
    assert checked == report.annotations or task == "segment"


def test_filters_and_default_status(loaded: Project, tmp_path: Path) -> None:
    empty = tracework.export_coco(loaded, tmp_path / "a")
    assert empty.annotations == 0  # nothing is approved yet
    only_body = tracework.export_coco(loaded, tmp_path / "b", status="all", categories=["Body"])
    doc = json.loads((tmp_path / "b" / "annotations.json").read_text())
    assert [c["name"] for c in doc["categories"]] == ["Body"]
    assert only_body.annotations == len(doc["annotations"]) > 0
    with pytest.raises(InputError, match="Wire"):
        tracework.export_coco(loaded, tmp_path / "c", status="all", categories=["Wire"])
    batch_key = "BatchId:5012345"
    by_batch = tracework.export_coco(loaded, tmp_path / "d", status="all", batches=[batch_key])
    none = tracework.export_coco(loaded, tmp_path / "e", status="all", batches=["nope"])
    assert by_batch.annotations > 0 and none.annotations == 0


def test_files_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracework.core import files as export

    target = tmp_path / "x.json"
    export.write_atomic(target, "old")

    def boom(*_a: Any, **_k: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(export.os, "fsync", boom)
    with pytest.raises(OSError):
        export.write_atomic(target, "new content")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd", "etc_passwd"), ("a b/c.jpeg", "a_b_c.jpeg"), ("..", "file"),
    (".hidden", "hidden"), ("ok-name_1.png", "ok-name_1.png"), ("\u202egnp.exe", "gnp.exe"),
])
def test_safe_names(name: str, expected: str) -> None:
    from tracework.core.files import safe_name

    assert safe_name(name) == expected


def test_coco_document_has_every_required_part(loaded: Project, files: Any,
                                               tmp_path: Path) -> None:
    from tracework.core import __version__
    from tracework.core.store.schema import batches

    tracework.export_coco(loaded, tmp_path / "coco", status="all", segmentation="rle")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert set(doc) == {"info", "licenses", "categories", "images", "annotations"}
    assert doc["licenses"] == [{"id": 1, "name": "CC-BY-4.0", "url": ""}]
    assert doc["info"]["tracework"]["version"] == __version__
    assert doc["info"]["tracework"]["format"] == "coco"
    assert [c["name"] for c in doc["categories"]] == [
        "Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]
    with loaded.store.read() as conn:
        batch = conn.execute(select(batches)).one()
    image_ids = [im["id"] for im in doc["images"]]
    assert len(image_ids) == len(set(image_ids)) == truth(files)["counts"]["frames"]
    for ann in doc["annotations"]:
        assert {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation",
                "attributes"} <= set(ann)
        seg = ann["segmentation"]
        assert isinstance(seg["counts"], str) and seg["size"] == [108, 160]
        assert ann["attributes"]["batch"] == batch.id
        assert ann["attributes"]["batch_key"] == batch.batch_key == "BatchId:5012345"
    # Several workers labelled each frame: one image entry, one annotation per worker and part.
    keys = [(a["image_id"], a["attributes"]["worker"], a["category_id"])
            for a in doc["annotations"]]
    assert len(keys) == len(set(keys))
    per_image: dict[int, set[str]] = {}
    for image_id, worker, _ in keys:
        per_image.setdefault(image_id, set()).add(worker)
    assert max(len(w) for w in per_image.values()) > 1
    assert len({a["attributes"]["assignment_id"] for a in doc["annotations"]}) == len(
        [s for s in truth(files)["submissions"] if any(v > 0 for v in s["parts"].values())])


def test_polygon_coco_loads_and_evaluates(loaded: Project, tmp_path: Path) -> None:
    tracework.export_coco(loaded, tmp_path / "coco", status="all", segmentation="polygon")
    gt = _quiet_coco(tmp_path / "coco" / "annotations.json")
    anns = gt.loadAnns(gt.getAnnIds())
    assert anns and all(isinstance(a["segmentation"], list) for a in anns)
    for ann in anns:
        drawn = gt.annToMask(ann).astype(bool)
        exact = masks.rle_to_mask(_stored_rle(loaded, ann["id"])).astype(bool)
        if exact.sum() >= 50:   # tracing a blob with a polygon loses little of it
            iou = (drawn & exact).sum() / (drawn | exact).sum()
            assert iou > 0.7, ann["id"]
    results = [{**a, "score": 1.0} for a in anns if a["segmentation"]]
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(results), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def _stored_rle(project: Project, annotation_id: int) -> dict[str, Any]:
    with project.store.read() as conn:
        r = conn.execute(select(annotations).where(annotations.c.id == annotation_id)).one()
    return {"size": [r.height, r.width], "counts": r.rle_counts}


def test_yolo_segment_rows_cover_every_traceable_mask(loaded: Project, tmp_path: Path) -> None:
    out = tmp_path / "yolo"
    report = tracework.export_yolo(loaded, out, task="segment", status="all")
    provenance = [json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()]
    with loaded.store.read() as conn:
        stored = conn.execute(select(annotations).where(annotations.c.kind == "mask")).all()
    traceable = {r.id for r in stored
                 if masks.polygons({"size": [r.height, r.width], "counts": r.rle_counts})}
    assert {p["annotation"] for p in provenance} == traceable
    assert report.annotations == len(stored)
    lines = 0
    for label in sorted((out / "labels" / "train").glob("*.txt")):
        rows = label.read_text().splitlines()
        lines += len(rows)
        for row in rows:
            values = row.split()
            assert len(values) >= 7 and len(values) % 2 == 1      # class + >= 3 points
            assert all(0.0 <= float(v) <= 1.0 for v in values[1:])
    assert lines == len(provenance)


def test_yolo_shared_label_files_read_back_with_the_same_boxes(loaded: Project, files: Any,
                                                                tmp_path: Path) -> None:
    """Without --per-worker an image's file holds every worker's rows; provenance tells them
    apart, line by line. An image where two workers drew the same box is split by worker."""
    import supervision as sv

    out = tmp_path / "yolo"
    report = tracework.export_yolo(loaded, out, status="all", images_dir=files.images_dir)
    ds = sv.DetectionDataset.from_yolo(images_directory_path=str(out / "images" / "train"),
                                       annotations_directory_path=str(out / "labels" / "train"),
                                       data_yaml_path=str(out / "data.yaml"))
    frames = truth(files)["counts"]["frames"]
    assert report.label_files_split == 4
    assert len(ds) == report.images == (frames - 4) + 12   # 4 frames split among 3 workers each
    assert len({Path(p).stem.split("__")[0] for p in ds.image_paths}) == frames
    provenance = [json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()]
    with loaded.store.read() as conn:
        stored = {r.id: r for r in conn.execute(
            select(annotations, submissions.c.worker.label("by"), submissions.c.id.label("sub"))
            .join(submissions))}
    by_file: dict[str, list[dict[str, Any]]] = {}
    for p in provenance:
        by_file.setdefault(p["label_file"], []).append(p)
        row = stored[p["annotation"]]
        assert (p["worker"], p["submission"]) == (row.by, row.sub)
    checked = 0
    for image_path, _image, det in ds:
        rows = sorted(by_file[f"labels/train/{Path(image_path).stem}.txt"],
                      key=lambda p: p["line"])
        assert [p["line"] for p in rows] == list(range(1, len(det) + 1))
        for k, prov in enumerate(rows):
            r = stored[prov["annotation"]]
            assert ds.classes[det.class_id[k]] == r.category
            assert det.xyxy[k] == pytest.approx(
                [r.bbox_x, r.bbox_y, r.bbox_x + r.bbox_w, r.bbox_y + r.bbox_h], abs=0.01)
            checked += 1
    assert checked == report.annotations == len(provenance)


# -- free text and names in the survey answers -------------------------------------------------

def _survey_with_names_and_other_texts(src: Path, dest: Path) -> list[tuple[str, str]]:
    """The survey with every consenting worker giving a credit name and an "other" text."""
    import csv

    with src.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    col = {h: i for i, h in enumerate(header)}
    given = []
    for n, cells in enumerate(rows[3:], 1):
        if cells[col["Q11"]] == "Yes" and cells[col["workerId"]]:
            cells[col["Q12"]] = f"Credit Name {n:02d}"
            cells[col["Q9_9"]] = "Other"
            cells[col["Q9_9_TEXT"]] = f"other text {n:02d}"
            given.append((cells[col["Q12"]], cells[col["Q9_9_TEXT"]]))
    with dest.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows)
    return given


@pytest.mark.parametrize("publish", [False, True])
def test_free_text_and_names_follow_the_export_policy(files: Any, tmp_path: Path,
                                                      publish: bool) -> None:
    from conftest import MOUSE

    survey = tmp_path / "survey.csv"
    given = _survey_with_names_and_other_texts(files.survey_csv, survey)
    project = tracework.init(tmp_path / "p", categories=MOUSE, actor="t",
                             credit_name_column="Q12", free_text_questions=["Q4", "Q10"],
                             publish_free_text=publish)
    try:
        tracework.ingest_mturk(project, files.batch_csv)
        tracework.ingest_qualtrics(project, survey, worker_column="workerId",
                                   consent_column="Q11")
        tracework.export_coco(project, tmp_path / "coco", status="all")
        tracework.export_yolo(project, tmp_path / "yolo", status="all")
        with project.store.read() as conn:
            consent = {r.pseudonym: (r.consent_publish, r.credit_name)
                       for r in conn.execute(select(workers))}
    finally:
        project.close()
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    surveys = {a["attributes"]["worker"]: a["attributes"]["survey"]
               for a in doc["annotations"] if "survey" in a["attributes"]}
    sidecar = json.loads((tmp_path / "yolo" / "workers.json").read_text())["workers"]
    assert surveys and {w: v["survey"] for w, v in sidecar.items() if "survey" in v} == surveys
    named = [w for w in surveys if consent[w][1]]
    assert named, "the fixture should give some publishing labeller a credit name"
    for worker, answers_ in surveys.items():
        assert consent[worker][0] is True
        assert "Q12" not in answers_                      # names only in the credits
        assert {"Q1", "Q2", "Q3", "Q9", "Q11"} <= set(answers_)
        if publish:
            assert {"Q4", "Q10"} <= set(answers_)
            assert answers_["Q9_other"].startswith("other text ")
            assert "Other" in answers_["Q9"]
        else:
            assert not {"Q4", "Q10", "Q9_other"} & set(answers_)
    exported = "".join(p.read_text(encoding="utf-8") for root in ("coco", "yolo")
                       for p in (tmp_path / root).rglob("*") if p.is_file())
    for name, other in given:
        assert name not in exported
        if not publish:
            assert other not in exported

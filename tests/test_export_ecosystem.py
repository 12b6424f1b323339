"""Exports read back by the loaders people use: pycocotools, Datumaro, Ultralytics, `datasets`,
polars, mlcroissant. Each test counts what the loader found against what tracework wrote."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from sqlalchemy import func, select

import tracework
from builders import small_files
from tracework.core.model import Annotation, Category, Dataset, Image
from tracework.core.project import Project
from tracework.core.store.schema import annotations
from tracework.formats import coco, masks, yolo


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


def _stored_masks(project: Project) -> dict[int, Any]:
    with project.store.read() as conn:
        return {r.id: r for r in conn.execute(select(annotations)
                                              .where(annotations.c.kind == "mask"))}


# -- COCO --------------------------------------------------------------------------------------

def test_coco_default_is_polygons_with_the_masks_area_and_box(loaded: Project,
                                                              tmp_path: Path) -> None:
    report = tracework.export_coco(loaded, tmp_path / "coco", status="all")
    gt = _quiet_coco(tmp_path / "coco" / "annotations.json")
    anns = gt.loadAnns(gt.getAnnIds())
    stored = _stored_masks(loaded)
    assert len(anns) == report.annotations == len(stored) == 72
    for ann in anns:
        row = stored[ann["id"]]
        assert ann["iscrowd"] == 0
        assert isinstance(ann["segmentation"], list) and ann["segmentation"]
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann["segmentation"])
        # area and bbox are the exact mask's, not the traced polygon's
        assert ann["area"] == row.area
        assert ann["bbox"] == [row.bbox_x, row.bbox_y, row.bbox_w, row.bbox_h]
        exact = masks.rle_to_mask({"size": [row.height, row.width], "counts": row.rle_counts})
        drawn = gt.annToMask(ann)
        # tracing fills holes but never leaves the mask's pixels out
        assert not np.any(exact.astype(bool) & ~drawn.astype(bool))
    assert sum(len(a["segmentation"]) for a in anns) == 94   # pieces of the 72 masks


def test_coco_rle_on_request_is_exact(loaded: Project, tmp_path: Path) -> None:
    tracework.export_coco(loaded, tmp_path / "coco", status="all", segmentation="rle")
    gt = _quiet_coco(tmp_path / "coco" / "annotations.json")
    stored = _stored_masks(loaded)
    for ann in gt.loadAnns(gt.getAnnIds()):
        row = stored[ann["id"]]
        assert ann["segmentation"] == {"size": [108, 160], "counts": row.rle_counts}
        assert ann["iscrowd"] == 0


def _one_mask_dataset(crowd: bool) -> Dataset:
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[2:5, 3:9] = 1
    encoded = mask_utils.encode(np.asfortranarray(mask))
    rle = {"size": [10, 12], "counts": encoded["counts"].decode("ascii")}
    attrs: dict[str, Any] = {"worker": "w_a"}
    if crowd:
        attrs["crowd"] = True
    ann = Annotation(1, 1, "Body", "mask", (3.0, 2.0, 6.0, 3.0), 18.0, rle, "w_a", attrs)
    return Dataset("t", [Category("Body", "#1f77b4")], [Image(1, "a.png", 12, 10, "", None)],
                   [ann], {}, ["w_a"], "head", 1)


@pytest.mark.parametrize("segmentation", coco.SEGMENTATIONS)
def test_coco_crowd_regions_are_rle_either_way(segmentation: coco.Segmentation,
                                               tmp_path: Path) -> None:
    doc = coco.to_coco(_one_mask_dataset(crowd=True), info={}, segmentation=segmentation)
    (tmp_path / "a.json").write_text(json.dumps(doc))
    gt = _quiet_coco(tmp_path / "a.json")
    [ann] = gt.loadAnns(gt.getAnnIds(iscrowd=True))
    assert ann["iscrowd"] == 1 and isinstance(ann["segmentation"], dict)
    assert int(gt.annToMask(ann).sum()) == 18
    plain = coco.to_coco(_one_mask_dataset(crowd=False), info={}, segmentation="polygon")
    assert plain["annotations"][0]["iscrowd"] == 0
    assert plain["annotations"][0]["segmentation"] == [[3.0, 2.0, 3.0, 5.0, 9.0, 5.0, 9.0, 2.0]]


def test_coco_datumaro_layout_read_by_datumaro(loaded: Project, files: Any,
                                               tmp_path: Path) -> None:
    out = tmp_path / "dm"
    report = tracework.export_coco(loaded, out, status="all", layout="datumaro", split="train",
                                   images_dir=files.images_dir)
    assert report.files == ["annotations/instances_train.json"]
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    assert sorted(p.name for p in (out / "images" / "train").iterdir()) == sorted(
        im["file_name"] for im in doc["images"])
    assert not (out / "annotations.json").exists()
    datumaro = pytest.importorskip("datumaro", reason="Datumaro is installed by `make test`")
    from datumaro.components.environment import Environment

    assert Environment().detect_dataset(str(out)) == ["coco_instances"]
    ds = datumaro.Dataset.import_from(str(out), "coco_instances")
    assert list(ds.subsets()) == ["train"]
    assert len(ds) == report.images == 6
    by_id = {a["id"]: a for a in doc["annotations"]}
    boxes = [(item, a) for item in ds for a in item.annotations if a.type.name == "bbox"]
    pieces = [a for item in ds for a in item.annotations if a.type.name == "polygon"]
    assert len(boxes) == report.annotations == 72 and len(pieces) == 94
    for item, box in boxes:
        ann = by_id[box.id]
        assert Path(item.media.path).parent == out / "images" / "train"
        assert box.attributes["worker"] == ann["attributes"]["worker"]
        assert box.attributes["submission"] == ann["attributes"]["submission"]
        assert [box.x, box.y, box.w, box.h] == pytest.approx(ann["bbox"])
        assert len([p for p in pieces if p.group == box.group == ann["id"]]) == len(
            ann["segmentation"])


def test_coco_split_name_is_checked(loaded: Project, tmp_path: Path) -> None:
    from tracework.core.errors import InputError

    with pytest.raises(InputError, match="split name"):
        tracework.export_coco(loaded, tmp_path / "dm", layout="datumaro", split="../x")


# -- YOLO --------------------------------------------------------------------------------------

def test_joined_pieces_fill_the_pieces_pixels() -> None:
    from tracework.formats.yolo import join_pieces

    pieces = [[1.0, 1.0, 1.0, 4.0, 4.0, 4.0, 4.0, 1.0], [10.0, 1.0, 10.0, 3.0, 13.0, 3.0, 13.0, 1.0],
              [2.0, 8.0, 2.0, 11.0, 6.0, 11.0, 6.0, 8.0]]
    joined = join_pieces(pieces)
    apart = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(pieces, 14, 16)))
    together = mask_utils.decode(mask_utils.frPyObjects([joined], 14, 16)[0])
    assert int(apart.sum()) == 9 + 6 + 12
    assert not np.any(apart & ~together)                    # every piece's pixel is kept
    assert int(together.sum()) - int(apart.sum()) <= 8      # the bridges add at most a line
    assert join_pieces(pieces[:1]) == pieces[0]


@pytest.fixture
def ultralytics_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ultralytics writes its settings file at import; keep it out of the user's home.
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics-settings"))
    pytest.importorskip("ultralytics", reason="Ultralytics is installed by `make test`")


@pytest.mark.parametrize("task", ["segment", "detect"])
def test_yolo_rows_and_provenance_stay_one_to_one_in_ultralytics(
        loaded: Project, files: Any, tmp_path: Path, ultralytics_home: None,
        task: yolo.Task) -> None:
    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    out = tmp_path / "yolo"
    report = tracework.export_yolo(loaded, out, task=task, status="all",
                                   images_dir=files.images_dir)
    assert (out / "classes.txt").read_text().splitlines() == [
        "Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]
    data = check_det_dataset(str(out / "data.yaml"))
    assert data["nc"] == 5 and data["names"][4] == "Cable"
    ds = YOLODataset(img_path=data["train"], data=data, task=task, augment=False, imgsz=160)
    provenance = [json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()]
    by_file: dict[str, list[dict[str, Any]]] = {}
    for p in provenance:
        by_file.setdefault(p["label_file"], []).append(p)
    stored = _stored_masks(loaded)
    names = data["names"]
    loaded_rows = 0
    for label in ds.labels:
        rows = sorted(by_file[f"labels/train/{Path(label['im_file']).stem}.txt"],
                      key=lambda p: p["line"])
        assert [p["line"] for p in rows] == list(range(1, len(label["cls"]) + 1))
        for k, prov in enumerate(rows):
            row = stored[prov["annotation"]]
            assert names[int(label["cls"][k][0])] == row.category == prov["category"]
            assert prov["submission"] == row.submission_id
            x, y, w, h = row.bbox_x, row.bbox_y, row.bbox_w, row.bbox_h
            assert label["bboxes"][k] == pytest.approx(
                [(x + w / 2) / 160, (y + h / 2) / 108, w / 160, h / 108], abs=1e-5)
        loaded_rows += len(label["cls"])
    assert len(ds.labels) == report.images
    assert loaded_rows == len(provenance) == report.label_rows == report.annotations == 72


def test_yolo_merge_keeps_one_copy_and_lists_every_maker(loaded: Project, files: Any,
                                                         tmp_path: Path,
                                                         ultralytics_home: None) -> None:
    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    out = tmp_path / "yolo"
    report = tracework.export_yolo(loaded, out, task="detect", status="all",
                                   images_dir=files.images_dir, identical="merge")
    assert report.images == report.images_copied == 6 and report.label_files_split == 0
    data = check_det_dataset(str(out / "data.yaml"))
    ds = YOLODataset(img_path=data["train"], data=data, task="detect", augment=False, imgsz=160)
    provenance = [json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()]
    rows = sum(len(label["cls"]) for label in ds.labels)
    assert rows == len(provenance) == report.label_rows == 72 - report.rows_shared
    assert report.rows_shared == 21       # boxes two careful workers drew alike
    listed = [p["annotation"] for p in provenance] + [
        s["annotation"] for p in provenance for s in p.get("same_row", [])]
    assert sorted(listed) == sorted(_stored_masks(loaded))
    for p in provenance:
        for same in p.get("same_row", []):
            assert same["worker"] != p["worker"] and same["category"] == p["category"]


# -- Parquet -----------------------------------------------------------------------------------

def test_parquet_reads_in_datasets_with_an_image_column(loaded: Project, files: Any,
                                                        tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="`datasets` is in the test extra")
    import PIL.Image

    out = tmp_path / "pq"
    report = tracework.export_parquet(loaded, out, status="all", images_dir=files.images_dir)
    assert report.files == ["data/train-00000-of-00001.parquet", "tracework.json"]
    assert report.images == report.images_copied == 6
    ds = datasets.load_dataset("parquet", data_files=str(out / report.files[0]), split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.features["objects"].feature["category_id"].names == [
        "Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]
    assert len(ds) == 6
    stored = _stored_masks(loaded)
    seen = 0
    for row in ds:
        image = row["image"]
        assert isinstance(image, PIL.Image.Image) and image.size == (row["width"], row["height"])
        assert image.size == (160, 108)
        assert (files.images_dir / row["file_name"]).is_file()
        for obj in row["objects"]:
            r = stored[obj["annotation"]]
            assert obj["category"] == r.category
            assert obj["segmentation"] == r.rle_counts
            assert obj["bbox"] == [r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h]
            assert obj["submission"] == r.submission_id
            assert json.loads(obj["provenance"])["worker"] == obj["worker"]
            seen += 1
    assert seen == report.annotations == 72


def test_parquet_reads_in_polars_one_row_per_label(loaded: Project, files: Any,
                                                   tmp_path: Path) -> None:
    import polars as pl

    out = tmp_path / "pq"
    tracework.export_parquet(loaded, out, status="all", images_dir=files.images_dir)
    frame = pl.read_parquet(out / "data" / "train-00000-of-00001.parquet")
    assert frame.height == 6
    assert frame["image"].struct.field("bytes")[0] == (
        files.images_dir / frame["file_name"][0]).read_bytes()
    labels = frame.select("image_id", "objects").explode("objects").unnest("objects")
    assert labels.height == 72
    per_worker = labels.group_by("worker").len().sort("worker")
    with loaded.store.read() as conn:
        from tracework.core.store.schema import submissions

        expected = dict(conn.execute(
            select(submissions.c.worker, func.count()).select_from(annotations)
            .join(submissions).group_by(submissions.c.worker)).all())
    assert dict(zip(per_worker["worker"], per_worker["len"])) == expected
    assert set(labels["time_kind"]) == {"wall_clock_accept_to_submit"}
    assert set(labels["reward_cents"]) == {15}


def test_parquet_without_images_keeps_the_path(loaded: Project, tmp_path: Path) -> None:
    import polars as pl

    report = tracework.export_parquet(loaded, tmp_path / "pq", status="all")
    frame = pl.read_parquet(tmp_path / "pq" / "data" / "train-00000-of-00001.parquet")
    assert report.images_copied == 0
    assert frame["image"].struct.field("bytes").null_count() == 6
    assert sorted(frame["image"].struct.field("path")) == sorted(frame["file_name"])


# -- the bundle --------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # inside mlcroissant's RDF library
def test_bundle_one_copy_each_image_and_readers_find_everything(
        loaded: Project, files: Any, tmp_path: Path, ultralytics_home: None) -> None:
    import fnmatch

    from tracework import docs

    out = tmp_path / "bundle"
    report = docs.export_bundle(loaded, out, status="all", images_dir=files.images_dir)
    images = [f for f in report.files if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    assert sorted(images) == sorted(f"yolo/images/train/{p.name}"
                                    for p in files.images_dir.iterdir())
    assert len(images) == report.images == report.images_copied == 6
    doc = json.loads((out / "croissant.json").read_text())
    [fileset] = [d for d in doc["distribution"] if d["@type"] == "cr:FileSet"]
    matched = [f for f in report.files if any(fnmatch.fnmatch(f, g) for g in fileset["includes"])]
    assert len(matched) == 6

    # mlcroissant reads both RAI fields it spells its own way, with the vocabulary's values.
    mlc = pytest.importorskip("mlcroissant")
    meta = mlc.Dataset(str(out / "croissant.json")).metadata
    assert meta.data_manipulation_protocol == doc["rai:dataManipulationProtocol"]
    assert [d.isoformat() for d in meta.data_collection_timeframe] == [
        d.replace("Z", "+00:00") for d in doc["rai:dataCollectionTimeframe"]]

    # `datasets` on the bundle folder: the card's default config has the image column.
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(ds.features["image"], datasets.Image) and len(ds) == 6
    assert sum(len(r["objects"]) for r in ds) == report.annotations == 72

    # The bundle's YOLO: one file per image, rows and provenance lines one-to-one.
    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(out / "yolo" / "data.yaml"))
    yolo_ds = YOLODataset(img_path=data["train"], data=data, task="segment", augment=False,
                          imgsz=160)
    provenance = (out / "yolo" / "provenance.jsonl").read_text().splitlines()
    assert len(yolo_ds.labels) == 6
    assert sum(len(label["cls"]) for label in yolo_ds.labels) == len(provenance)


# -- Label Studio ------------------------------------------------------------------------------

def test_label_studio_imports_the_default_coco(loaded: Project, tmp_path: Path) -> None:
    """Label Studio's COCO importer reads polygons (its RLE branch fails on iscrowd 0)."""
    pytest.importorskip("label_studio_converter", reason="label-studio-converter is in the "
                                                         "test extra")
    from label_studio_converter.imports.coco import convert_coco_to_ls

    tracework.export_coco(loaded, tmp_path / "coco", status="all")
    with contextlib.redirect_stdout(io.StringIO()):
        convert_coco_to_ls(str(tmp_path / "coco" / "annotations.json"),
                           str(tmp_path / "ls.json"))
    tasks = json.loads((tmp_path / "ls.json").read_text())
    results = [r for t in tasks for a in t["annotations"] for r in a["result"]]
    assert len(tasks) == 6
    assert sum(r["type"] == "rectanglelabels" for r in results) == 72
    assert sum(r["type"] == "polygonlabels" for r in results) == 72


def test_label_studio_export_reads_back_with_pseudonyms(loaded: Project, files: Any,
                                                        tmp_path: Path) -> None:
    pytest.importorskip("label_studio_converter")
    from label_studio_converter import Converter

    out = tmp_path / "ls"
    report = tracework.export_labelstudio(loaded, out, status="all",
                                          images_dir=files.images_dir)
    assert report.files == ["tasks.json", "label_config.xml", "tracework.json"]
    text = (out / "tasks.json").read_text()
    tasks = json.loads(text)
    stored = _stored_masks(loaded)
    with loaded.store.read() as conn:
        from tracework.core.store.schema import submissions

        subs = {r.id: r for r in conn.execute(select(submissions))}
    assert len(tasks) == 6
    objects = [a for t in tasks for a in t["annotations"]]
    assert len(objects) == len({a["tracework"]["submission"] for a in objects}) == 18
    for a in objects:
        sub = subs[a["id"]]
        assert a["completed_by"] == sub.worker and a["completed_by"].startswith("w_")
        assert a["lead_time"] == sub.work_time_s
        assert sorted(a["tracework"]["annotations"]) == sorted(
            k for k, r in stored.items() if r.submission_id == sub.id)
    from builders import truth

    raw_ids = set(truth(files)["workers"])
    assert not [r for r in raw_ids if r in text]
    # Label Studio's own converter takes the export to COCO and YOLO.
    converter = Converter(config=str(out / "label_config.xml"), project_dir=str(out),
                          download_resources=False)
    with contextlib.redirect_stdout(io.StringIO()):
        converter.convert_to_coco(str(out / "tasks.json"), str(tmp_path / "back"),
                                  is_dir=False)
    back = json.loads((tmp_path / "back" / "result.json").read_text())
    # The converter writes an image entry per annotation object: 18 for the 6 images.
    assert len(back["images"]) == 18
    assert {im["file_name"] for im in back["images"]} == {
        f"/data/local-files/?d={p.name}" for p in files.images_dir.iterdir()}
    assert sorted(c["name"] for c in back["categories"]) == sorted(
        ["Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"])
    pieces = sum(len(masks.polygons({"size": [r.height, r.width], "counts": r.rle_counts}))
                 for r in stored.values())
    assert len(back["annotations"]) == pieces == 94


# -- the commands ------------------------------------------------------------------------------

def _tracework(*args: str) -> Any:
    import os
    import shutil
    import subprocess
    import sys

    command = (shutil.which("tracework", path=str(Path(sys.executable).parent))
               or shutil.which("tracework"))
    assert command is not None
    env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    env.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([command, *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_export_commands_through_the_installed_command(loaded: Project, files: Any,
                                                       tmp_path: Path) -> None:
    root = str(loaded.root)
    images = str(files.images_dir)
    done = _tracework("-p", root, "export", "coco", str(tmp_path / "dm"), "--status", "all",
                      "--layout", "datumaro", "--split", "train", "--images", images, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == ["annotations/instances_train.json"]
    assert len(list((tmp_path / "dm" / "images" / "train").iterdir())) == 6
    done = _tracework("-p", root, "export", "parquet", str(tmp_path / "pq"), "--status", "all",
                      "--images", images, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images_copied"] == 6
    done = _tracework("-p", root, "export", "labelstudio", str(tmp_path / "ls"),
                      "--status", "all")
    assert done.returncode == 0, done.stderr
    assert "Exported LABELSTUDIO" in done.stdout
    done = _tracework("-p", root, "export", "yolo", str(tmp_path / "y"), "--status", "all")
    assert done.returncode == 0, done.stderr
    assert "4 image(s) split into per-worker label files" in done.stdout
    done = _tracework("-p", root, "export", "yolo", str(tmp_path / "y2"), "--status", "all",
                      "--identical", "merge")
    assert "21 annotation(s) share an identical row" in done.stdout
    from tracework.core.errors import InputError

    done = _tracework("-p", root, "export", "coco", str(tmp_path / "bad"), "--layout",
                      "datumaro", "--split", "a/b")
    assert done.returncode == InputError.exit_code
    assert "split name" in done.stderr and "Traceback" not in done.stderr
    for command in ("coco", "yolo", "parquet", "labelstudio"):
        helped = _tracework("export", command, "--help")
        assert helped.returncode == 0 and "Examples:" in helped.stdout, command

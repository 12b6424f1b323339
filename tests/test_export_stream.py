"""Streamed exports: the same files as the whole-document builders, written as the labels are
read; progress heard through a callback, and shown only on a terminal."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import tracework
from builders import small_files
from tracework.core.files import safe_name
from tracework.core.project import Project
from tracework.dataset.select import open_selection, select_dataset
from tracework.docs.bundle import export_bundle
from tracework.formats import coco, parquet


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("stream"))


@pytest.fixture
def loaded(sqlite_project: Project, files: Any) -> Project:
    tracework.ingest_mturk(sqlite_project, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(sqlite_project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    return sqlite_project


def _whole_document(project: Project, written: dict[str, Any], segmentation: coco.Segmentation,
                    status: str) -> bytes:
    """The COCO file as the whole-document builder makes it: ``to_coco`` of the selection
    held in memory, dumped at once (``info`` is the written one: it holds the clock)."""
    doc = coco.to_coco(select_dataset(project, status=status), info=written["info"],
                       segmentation=segmentation,
                       license_name=written["licenses"][0]["name"])
    for im in doc["images"]:
        im["file_name"] = safe_name(im["file_name"], f"image_{im['id']}")
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


@pytest.mark.parametrize("segmentation", coco.SEGMENTATIONS)
@pytest.mark.parametrize("status", ["all", "approved"])
def test_streamed_coco_is_byte_for_byte_the_whole_document(
        loaded: Project, tmp_path: Path, segmentation: coco.Segmentation, status: str) -> None:
    report = tracework.export_coco(loaded, tmp_path / "coco", status=status,
                                   segmentation=segmentation)
    streamed = (tmp_path / "coco" / "annotations.json").read_bytes()
    written = json.loads(streamed)
    assert streamed == _whole_document(loaded, written, segmentation, status)
    assert len(written["annotations"]) == report.annotations
    if status == "all":
        assert report.annotations == 72 and len(written["images"]) == report.images == 6


def test_the_coco_writer_lays_out_empty_and_nested_values_as_json_does() -> None:
    doc_head = {"info": {"a": [], "b": {}, "c": "line\nbreak é"}, "images": []}
    entries = [{"id": 1, "attributes": {"survey": {"Q2": ["x", "y"]}, "none": None}},
               {"id": 2, "segmentation": [[1.5, 2.0]], "empty": []}]
    for count in (0, 1, 2):
        buffer = io.BytesIO()
        writer = coco.Writer(buffer, doc_head)
        for entry in entries[:count]:
            writer.add(entry)
        writer.close()
        whole = {**doc_head, "annotations": entries[:count]}
        assert buffer.getvalue() == json.dumps(whole, ensure_ascii=False, indent=1).encode()


def test_progress_hears_every_annotation_written(loaded: Project, tmp_path: Path) -> None:
    for export in (tracework.export_coco, tracework.export_yolo, tracework.export_parquet):
        heard: list[tuple[int, int | None]] = []
        report = export(loaded, tmp_path / export.__name__, status="all",
                        progress=lambda done, total, heard=heard: heard.append((done, total)))
        total = report.annotations
        assert heard[0] == (0, total) and heard[-1] == (total, total), export.__name__
        assert [d for d, _ in heard] == sorted(d for d, _ in heard)
    heard = []
    bundled = export_bundle(loaded, tmp_path / "bundle", status="all",
                            progress=lambda done, total: heard.append((done, total)))
    assert heard[0] == (0, bundled.annotations) and heard[-1] == (bundled.annotations,) * 2
    assert len(heard) == 1 + bundled.images     # one call per image


def test_yolo_label_files_are_not_synced_one_by_one(loaded: Project, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tracework.core import files as written

    synced: list[int] = []
    real = written.os.fsync
    monkeypatch.setattr(written.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    report = tracework.export_yolo(loaded, tmp_path / "y", status="all")
    labels = [f for f in report.files if f.startswith("labels/")]
    assert len(labels) >= 6
    # provenance.jsonl, workers.json, data.yaml, classes.txt, tracework.json
    assert len(synced) == len(report.files) - len(labels) == 5


def test_parquet_row_groups_hold_the_rows_of_the_whole_table(loaded: Project) -> None:
    data = select_dataset(loaded, status="all")
    names = {im.id: safe_name(im.file_name, f"image_{im.id}") for im in data.images}
    whole = parquet.to_table(data, lambda im: None, lambda im: names[im.id])
    buffer = io.BytesIO()
    writer = parquet.Writer(buffer, [c.name for c in data.categories], group_rows=4)
    with open_selection(loaded, status="all") as chosen:
        class_ids = chosen.data.category_index()
        for image, anns in chosen.by_image():
            writer.add(parquet.row(image, anns, class_ids, None, names[image.id]))
    writer.close()
    buffer.seek(0)
    grouped = pq.ParquetFile(buffer)
    assert grouped.metadata.num_row_groups == 2      # six images, four to a group
    read = grouped.read()
    assert read.schema.metadata == whole.schema.metadata
    assert read.to_pylist() == whole.to_pylist()


def _without_clock(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    doc["info"].pop("date_created")
    return doc


def test_the_bundle_writes_what_each_export_writes_alone(loaded: Project, files: Any,
                                                         tmp_path: Path) -> None:
    bundled = export_bundle(loaded, tmp_path / "b", status="all", images_dir=files.images_dir)
    tracework.export_coco(loaded, tmp_path / "coco", status="all",
                          images_at="../yolo/images/train")
    tracework.export_yolo(loaded, tmp_path / "yolo", status="all", task="segment",
                          identical="merge", images_dir=files.images_dir)
    tracework.export_parquet(loaded, tmp_path / "parquet", status="all",
                             images_dir=files.images_dir)
    b = tmp_path / "b"
    assert (_without_clock(b / "coco" / "annotations.json")
            == _without_clock(tmp_path / "coco" / "annotations.json"))
    for name in ("provenance.jsonl", "workers.json", "data.yaml", "classes.txt",
                 "tracework.json"):
        assert (b / "yolo" / name).read_bytes() == (tmp_path / "yolo" / name).read_bytes()
    labels = sorted(p.relative_to(b / "yolo").as_posix() for p in (b / "yolo").rglob("*.*"))
    assert labels == sorted(p.relative_to(tmp_path / "yolo").as_posix()
                            for p in (tmp_path / "yolo").rglob("*.*"))
    part = "data/train-00000-of-00001.parquet"
    assert (pq.read_table(b / "parquet" / part).to_pylist()
            == pq.read_table(tmp_path / "parquet" / part).to_pylist())
    records = (b / "records" / "annotations.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(records) == bundled.annotations
    assert [json.loads(r)["id"] for r in records] == [
        a["id"] for a in json.loads((b / "coco" / "annotations.json").read_text())["annotations"]]


TRACEWORK = shutil.which("tracework", path=str(Path(sys.executable).parent))


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TRACEWORK_ACTOR": "tester", **env}
    for name in ("TRACEWORK_DEBUG", "TTY_COMPATIBLE", "FORCE_COLOR"):
        if name not in env:
            environment.pop(name, None)
    assert TRACEWORK is not None
    return subprocess.run([TRACEWORK, *args], env=environment, capture_output=True, text=True,
                          timeout=300, check=False)


def test_progress_shows_on_a_terminal_only_and_never_under_json(loaded: Project,
                                                                tmp_path: Path) -> None:
    root = str(loaded.root)
    # A terminal (rich's TTY_COMPATIBLE stands in for one): the bar is drawn on stderr.
    shown = _run("-p", root, "export", "coco", str(tmp_path / "t"), "--status", "all",
                 TTY_COMPATIBLE="1")
    assert shown.returncode == 0, shown.stderr
    assert "export coco" in shown.stderr and "annotations" in shown.stderr
    for command, label in (("coco", "export coco"), ("bundle", "export bundle")):
        piped = _run("-p", root, "export", command, str(tmp_path / f"p{command}"),
                     "--status", "all")
        assert piped.returncode == 0, piped.stderr
        assert label not in piped.stderr and "\x1b" not in piped.stderr
        quiet = _run("-p", root, "export", command, str(tmp_path / f"j{command}"),
                     "--status", "all", "--json", TTY_COMPATIBLE="1")
        assert quiet.returncode == 0, quiet.stderr
        assert label not in quiet.stderr and "\x1b" not in quiet.stderr + quiet.stdout
        report = json.loads(quiet.stdout)
        assert report["annotations"] == 72 and report["ledger_head"]

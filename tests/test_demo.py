"""`tracework demo`, the main job: its folder holds the exports, its summary matches the
generated truth."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from builders import truth
from click.testing import CliRunner
from pycocotools.coco import COCO

import tracework
import tracework.demo
from tracework.cli import cli
from tracework.errors import ConfigError


def test_demo_cli_at_the_study_size(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    result = CliRunner().invoke(cli, ["demo", str(out), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    class Files:
        truth_json = out / "inputs" / "truth.json"

    t = truth(Files)  # type: ignore[arg-type]
    counts = t["counts"]
    st = report["status"]
    assert st["submissions"] == counts["submissions"] == 90
    assert st["workers_with_work"] == counts["workers_labelled"] == 40
    assert st["responses"] == counts["survey_responses"]
    assert report["survey"]["previews_skipped"] == counts["survey_previews"]
    assert st["responses_unlinked"] == counts["survey_unlinked"]
    assert st["responses_linked"] == counts["consenting_linked"]
    expected: dict[str, int] = {}
    for s in t["submissions"]:
        for part, area in s["parts"].items():
            if area > 0:
                expected[part] = expected.get(part, 0) + 1
    assert st["annotations_by_category"] == dict(sorted(expected.items()))
    assert report["coco"]["images"] == counts["frames"] == 30
    assert report["coco"]["images_copied"] == 30
    coco_path = out / "export" / "coco" / "annotations.json"
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(coco_path))
    assert len(coco.getAnnIds()) == st["annotations"]
    yolo = out / "export" / "yolo"
    assert (yolo / "data.yaml").is_file() and (yolo / "provenance.jsonl").is_file()
    assert len(list((yolo / "labels" / "train").glob("*.txt"))) == 30
    assert len(list((yolo / "images" / "train").glob("*.jpeg"))) == 30
    text = coco_path.read_text()
    assert not [raw for raw in t["workers"] if raw in text]
    project = tracework.open_project(out / "project")
    try:
        assert tracework.verify(project, expect_head=st["ledger_head"]).ok
    finally:
        project.close()


def test_demo_is_deterministic_and_replaces_only_its_own_folder(tmp_path: Path) -> None:
    heads = []
    for _ in range(2):
        report = tracework.demo.demo(tmp_path / "d", frames=4, workers=6, size=(320, 213))
        heads.append((report.status.annotations, report.status.annotations_by_category,
                      (report.inputs / "Batch_5012345_batch_results.csv").read_bytes()))
    assert heads[0] == heads[1]
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("do not delete")
    with pytest.raises(ConfigError, match="not replacing"):
        tracework.demo.demo(other, frames=4, workers=6, size=(320, 213))
    assert (other / "thesis.tex").read_text() == "do not delete"

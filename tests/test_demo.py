"""`tracework demo`, the main job: its folder holds the exports, its summary matches the
generated truth."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO

import tracework
import tracework.demo
from builders import truth
from tracework.cli import cli
from tracework.core.errors import ConfigError


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
    # One label file per image, or per worker (stem__w_…) where two workers' rows on an image
    # would be identical: every image once, and an image file beside each label file.
    labels = sorted((yolo / "labels" / "train").glob("*.txt"))
    images = sorted((yolo / "images" / "train").glob("*.jpeg"))
    assert len({p.stem.split("__")[0] for p in labels}) == 30
    assert [p.stem for p in labels] == [p.stem for p in images]
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
        doc = json.loads((report.root / "export" / "coco" / "annotations.json").read_text())
        # Pseudonyms are keyed by each project's own secret; everything else must repeat.
        geometry = [(a["image_id"], a["category_id"], a["bbox"], a["area"], a["segmentation"],
                     a["attributes"]["assignment_id"], a["attributes"]["time_on_task_s"])
                    for a in doc["annotations"]]
        heads.append((report.status.annotations, report.status.annotations_by_category,
                      (report.inputs / "Batch_5012345_batch_results.csv").read_bytes(),
                      (report.inputs / "survey_export.csv").read_bytes(),
                      (report.inputs / "truth.json").read_bytes(), geometry,
                      doc["images"], report.status.consent, report.survey.as_dict()["added"]))
    assert heads[0] == heads[1]
    other_seed = tracework.demo.demo(tmp_path / "d", seed=8, frames=4, workers=6,
                                     size=(320, 213))
    assert (other_seed.inputs / "Batch_5012345_batch_results.csv").read_bytes() != heads[0][2]
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("do not delete")
    with pytest.raises(ConfigError, match="not replacing"):
        tracework.demo.demo(other, frames=4, workers=6, size=(320, 213))
    assert (other / "thesis.tex").read_text() == "do not delete"


def test_demo_prints_progress_and_a_summary_true_to_the_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The readable summary, at a small size: every figure checked against the truth."""
    real = tracework.demo.demo

    def small(*args: Any, **kwargs: Any) -> tracework.demo.DemoReport:
        return real(*args, size=(320, 213), **kwargs)

    monkeypatch.setattr(tracework.demo, "demo", small)
    out = tmp_path / "demo-out"
    result = CliRunner().invoke(cli, ["demo", str(out), "--frames", "5", "--workers", "8"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output

    class Files:
        truth_json = out / "inputs" / "truth.json"

    t = truth(Files)  # type: ignore[arg-type]
    counts = t["counts"]
    table = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1)
                 for line in result.stdout.splitlines() if re.search(r"\S\s{2,}\S", line))

    def value(label: str) -> str:
        return table[label]

    assert value("frames (assets)") == str(counts["frames"]) == "5"
    assert value("workers who labelled") == str(counts["workers_labelled"])
    # The study's rule replayed: fewer than 3 of the 5 parts labelled is rejected, with reason.
    short = sum(1 for sub in t["submissions"] if sum(a > 0 for a in sub["parts"].values()) < 3)
    done = counts["submissions"] - short
    assert value("submissions") == f"{counts['submissions']} (Approved {done}, Rejected {short})"
    assert value("review") == f"approve {done}, reject {short}"
    assert value("survey responses") == (
        f"{counts['survey_responses']} ({counts['survey_previews']} preview left out, "
        f"{counts['survey_unlinked']} unlinked)")
    consenting = [w for w in t["workers"].values() if w["survey_answered"] and w["consent"]]
    named = [w for w in consenting if w["credit_name"]]
    assert value("consent") == f"link {len(consenting)}, publish {len(consenting)}, " \
                               f"credit {len(named)}"
    expected: dict[str, int] = {}
    for s in t["submissions"]:
        for part, area in s["parts"].items():
            if area > 0:
                expected[part] = expected.get(part, 0) + 1
    parts = ", ".join(f"{k} {v}" for k, v in sorted(expected.items()))
    assert value("annotations") == f"{sum(expected.values())} ({parts})"
    coco = out / "export" / "coco" / "annotations.json"
    assert value("COCO export") == str(coco) and coco.is_file()
    assert value("YOLO export").startswith(str(out / "export" / "yolo"))
    assert "Try next:" in result.stdout and "verify --expect-head" in result.stdout
    # Progress goes to stderr, step by step and as a bar over the masks.
    for step in ("Generating 5 frames", "Creating the project", "Ingesting the Mechanical Turk",
                 "Ingesting the Qualtrics survey", "Exporting COCO and YOLO"):
        assert step in result.stderr
    assert "masks" in result.stderr
    head = value("ledger").split("head ")[1]
    project = tracework.open_project(out / "project")
    try:
        assert tracework.verify(project, expect_head=head).ok
    finally:
        project.close()


def test_the_demo_is_reviewed_and_its_audit_counts_search_time(tmp_path: Path) -> None:
    from tracework.audit import labour_audit

    report = tracework.demo.demo(tmp_path / "d", frames=4, workers=8, size=(320, 213))
    t = truth(type("Files", (), {"truth_json": report.inputs / "truth.json"}))  # type: ignore[arg-type]
    short = sum(1 for sub in t["submissions"] if sum(a > 0 for a in sub["parts"].values()) < 3)
    project = tracework.open_project(report.project)
    try:
        audit = labour_audit(project)
        assert (audit.submissions, audit.rejected) == (t["counts"]["submissions"], short)
        assert audit.approved == audit.submissions - short
        linked = [w for w in audit.workers if w.search_seconds is not None]
        assert linked and audit.total_search_hours > 0
        assert tracework.log(project, action="review.decide", actor="demo reviewer")
    finally:
        project.close()


def _ffprobe_seconds(path: Path) -> float | None:
    """The video's duration as ffprobe reads it, None without ffprobe."""
    import shutil
    import subprocess

    binary = shutil.which("ffprobe")
    if binary is None:
        return None
    done = subprocess.run([binary, "-v", "error", "-select_streams", "v:0", "-count_frames",
                           "-show_entries", "stream=nb_read_frames,avg_frame_rate:"
                           "format=duration", "-of", "json", str(path)],
                          capture_output=True, text=True, check=True)
    probe = json.loads(done.stdout)
    stream = probe["streams"][0]
    num, den = (int(v) for v in stream["avg_frame_rate"].split("/"))
    frames = int(stream["nb_read_frames"])
    assert abs(float(probe["format"]["duration"]) - frames * den / num) < 0.1
    return frames * den / num


def test_the_demo_video_lasts_under_a_minute(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The next step the demo suggests, `render video` with its default timing: a title
    card, a chapter card per image, every worker's frame and the credits in under a minute
    (the study's 30 images and 90 submissions; small images, the timing does not depend on
    them)."""
    report = tracework.demo.demo(tmp_path / "d", size=(480, 320))
    assert report.status.submissions == 90
    out = tmp_path / "labour.mp4"
    suggested = next(s for s in report.next_steps if " render video " in s)
    assert "--seconds-per-frame" not in suggested
    result = CliRunner().invoke(cli, ["-p", str(report.project), "render", "video", str(out),
                                      "--status", "all", "--images",
                                      str(report.inputs / "images"), "--size", "1280x720",
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert (written["frames"], written["chapters"], written["assets"]) == (90, 30, 30)
    # 6 s of title, 30 chapter cards of 0.5 s, 90 frames of 0.3 s, 6 s of credits.
    assert written["seconds"] == pytest.approx(6 + 30 * 0.5 + 90 * 0.3 + 6)
    assert written["seconds"] < 60
    probed = _ffprobe_seconds(out)
    with capsys.disabled():
        print(f"\ndemo video: {written['seconds']:.1f} s by the writer, "
              f"{'no ffprobe' if probed is None else f'{probed:.1f} s by ffprobe'}")
    if probed is not None:
        assert probed == pytest.approx(written["seconds"], abs=0.05)

"""`tracework inspect BUNDLE`: a published bundle checked offline, through the installed
command. A clean bundle passes; each kind of tampering is refused with exit 7 and a message
naming the first file or entry that fails. A careless edit is caught by the file hashes; the
same edit by someone who also rewrote croissant.json's hashes ("forged") is caught by the
chain, the head or the counts."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tracework
from builders import small_files
from tracework import review
from tracework.core.errors import BundleError
from tracework.core.project import Project
from tracework.demo.data import CATEGORIES
from tracework.docs import export_bundle, inspect_bundle

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")


def inspect(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert TRACEWORK is not None, "the tracework command is not installed in this environment"
    env = {**os.environ}
    env.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([TRACEWORK, "inspect", str(bundle), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("inspect")
    files = small_files(base / "raw", frames=3, workers=4)
    project: Project = tracework.init(base / "proj", name="Mouse parts", actor="tester",
                                      categories=[tracework.Category(n, c)
                                                  for n, c in CATEGORIES.items()])
    try:
        tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
        tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                                   consent_column="Q11")
        review.propose(project)
        review.approve_unflagged(project)
        export_bundle(project, base / "bundle", images_dir=files.images_dir, status="all")
    finally:
        project.close()
    return base / "bundle"


@pytest.fixture
def bundle(clean: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(clean, copy)
    return copy


def forge(bundle: Path) -> None:
    """Rewrite croissant.json's sizes and hashes to match the files as they are now."""
    doc = json.loads((bundle / "croissant.json").read_text(encoding="utf-8"))
    for item in doc["distribution"]:
        if item["@type"] == "cr:FileObject" and (bundle / item["contentUrl"]).is_file():
            data = (bundle / item["contentUrl"]).read_bytes()
            item["sha256"] = hashlib.sha256(data).hexdigest()
            item["contentSize"] = f"{len(data)} B"
    (bundle / "croissant.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")


def ledger_lines(bundle: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in
            (bundle / "ledger.jsonl").read_text(encoding="utf-8").splitlines()]


def write_ledger(bundle: Path, entries: list[dict[str, Any]]) -> None:
    (bundle / "ledger.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries),
        encoding="utf-8")


def refused(bundle: Path, check: str, problem: str) -> subprocess.CompletedProcess[str]:
    done = inspect(bundle)
    assert done.returncode == BundleError.exit_code == 7, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"first failure: {problem}\n" in done.stdout
    assert [line.split()[:2] for line in done.stdout.splitlines()
            if line.split() and line.split()[0] == check] == [[check, "FAIL"]]
    assert done.stderr.startswith(f"error: {bundle} fails the ")
    return done


def test_a_clean_bundle_passes(clean: Path) -> None:
    done = inspect(clean)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    listed = sum(1 for p in clean.rglob("*") if p.is_file()) - 1     # croissant.json aside
    head = json.loads((clean / "ledger-head.json").read_text(encoding="utf-8"))
    entries = ledger_lines(clean)
    withheld = sum(1 for e in entries if e.get("redacted"))
    assert lines[0] == (f"files   ok    {listed} of {listed} listed files match their SHA-256; "
                        "no other file; 3 copied images checked against their hash at ingest")
    assert lines[1] == (f"ledger  ok    {len(entries)} entries chained; "
                        f"{len(entries) - withheld} recomputed, {withheld} with withheld values "
                        f"checked by their links only; head {head['head'][:12]}…")
    annotations = (clean / "records" / "annotations.jsonl").read_text().splitlines()
    people = {json.loads(a)["annotator"] for a in annotations}
    assert lines[2] == (f"counts  ok    3 images, {len(annotations)} labels, {len(people)} "
                        "people, as DATASHEET.md states")
    assert lines[3] == f"ok: the bundle holds what it says; ledger head {head['head']}"
    assert head["entries"] == len(entries) and withheld == head["redacted_entries"]


def test_json_gives_every_verdict(clean: Path) -> None:
    done = inspect(clean, "--json")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert data["ok"] is True and [c["name"] for c in data["checks"]] == ["files", "ledger",
                                                                           "counts"]
    ledger = data["checks"][1]
    assert ledger["entries"] == ledger["recomputed"] + ledger["link_only"]
    assert ledger["head"] == json.loads((clean / "ledger-head.json").read_text())["head"]
    counted = Counter(json.loads(a)["category"] for a in
                      (clean / "records" / "annotations.jsonl").read_text().splitlines())
    assert data["checks"][2]["labels_by_category"] == {n: counted[n] for n in CATEGORIES}


def test_an_edited_image_is_refused(bundle: Path) -> None:
    image = bundle / "yolo" / "images" / "train" / "mouse_0002.jpeg"   # the bundle's one copy
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF                  # same size, other content
    image.write_bytes(bytes(data))
    done = refused(bundle, "files", "yolo/images/train/mouse_0002.jpeg does not match its SHA-256 in "
                                    "croissant.json: the file was changed")
    assert "fails the files check: yolo/images/train/mouse_0002.jpeg" in done.stderr
    # Rewriting croissant.json to match does not help: the image is not the one ingested.
    forge(bundle)
    recorded = {json.loads(r)["file_name"]: json.loads(r)["sha256"] for r in
                (bundle / "records" / "images.jsonl").read_text().splitlines()}
    refused(bundle, "files", "yolo/images/train/mouse_0002.jpeg is not the image recorded at ingest "
                             f"(records/images.jsonl gives its SHA-256 as "
                             f"{recorded['mouse_0002.jpeg'][:12]}…)")


def test_an_edited_annotation_file_is_refused(bundle: Path) -> None:
    path = bundle / "coco" / "annotations.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["annotations"][0]["category_id"] = 1 + doc["annotations"][0]["category_id"] % 5
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    refused(bundle, "files", "coco/annotations.json does not match its SHA-256 in "
                             "croissant.json: the file was changed")


def test_a_removed_ledger_line_is_refused(bundle: Path) -> None:
    entries = ledger_lines(bundle)
    del entries[4]
    write_ledger(bundle, entries)
    done = refused(bundle, "ledger", "ledger.jsonl line 5 holds entry 6: entry 5 is missing or "
                                     "the entries were moved")
    assert "fails the files check: ledger.jsonl" in done.stderr
    assert "(also failing: ledger)" in done.stderr
    forge(bundle)
    done = refused(bundle, "ledger", "ledger.jsonl line 5 holds entry 6: entry 5 is missing or "
                                     "the entries were moved")
    assert "fails the ledger check: ledger.jsonl line 5 holds entry 6" in done.stderr


def test_a_log_cut_at_its_end_is_refused(bundle: Path) -> None:
    entries = ledger_lines(bundle)
    head = json.loads((bundle / "ledger-head.json").read_text(encoding="utf-8"))
    write_ledger(bundle, entries[:-1])
    forge(bundle)
    refused(bundle, "ledger", f"ledger-head.json states entry {len(entries)} with head "
                              f"{head['head']}, but ledger.jsonl ends at entry "
                              f"{len(entries) - 1} with head {entries[-2]['hash']}: entries "
                              "were cut off the end")


def test_an_edited_ledger_value_is_refused(bundle: Path) -> None:
    entries = ledger_lines(bundle)
    i, e = next((i, e) for i, e in enumerate(entries)
                if e["action"] == "submission.create" and not e.get("redacted"))
    e["new"] = {**e["new"], "status": "Approved"} if e["new"].get("status") != "Approved" \
        else {**e["new"], "status": "Rejected"}
    write_ledger(bundle, entries)
    forge(bundle)
    done = refused(bundle, "ledger", f"entry {i + 1} (submission.create {e['target']}) does not "
                                     "match its hash: what it says was changed")
    assert f"fails the ledger check: entry {i + 1} (submission.create" in done.stderr


def test_a_wrong_head_is_refused(bundle: Path) -> None:
    path = bundle / "ledger-head.json"
    head = json.loads(path.read_text(encoding="utf-8"))
    real = head["head"]
    head["head"] = "f" * 64
    path.write_text(json.dumps(head, indent=1), encoding="utf-8")
    forge(bundle)
    refused(bundle, "ledger", f"ledger-head.json states entry {head['entries']} with head "
                              f"{'f' * 64}, but ledger.jsonl ends at entry {head['entries']} "
                              f"with head {real}")


def test_a_head_other_documents_do_not_name_is_refused(bundle: Path) -> None:
    path = bundle / "credits.json"
    credits = json.loads(path.read_text(encoding="utf-8"))
    real = credits["ledger_head"]
    credits["ledger_head"] = "e" * 64
    path.write_text(json.dumps(credits, indent=1), encoding="utf-8")
    forge(bundle)
    entries = len(ledger_lines(bundle))
    refused(bundle, "ledger", f"credits.json names ledger head {'e' * 64} (entry None), not the "
                              f"log's head {real} (entry {entries})")


def test_an_extra_file_is_refused(bundle: Path) -> None:
    (bundle / "yolo" / "labels" / "train" / "extra.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    refused(bundle, "files", "yolo/labels/train/extra.txt is in the bundle but not listed in "
                             "croissant.json")


def test_a_missing_file_and_a_link_are_refused(bundle: Path) -> None:
    (bundle / "CREDITS.md").unlink()
    refused(bundle, "files", "CREDITS.md is listed in croissant.json but missing from the bundle")
    (bundle / "CREDITS.md").symlink_to(bundle / "README.md")
    refused(bundle, "files", "CREDITS.md is listed in croissant.json but missing from the bundle")


def test_a_listed_path_outside_the_bundle_is_refused(bundle: Path) -> None:
    path = bundle / "croissant.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["distribution"].append({"@type": "cr:FileObject", "@id": "x", "name": "x",
                                "contentUrl": "../outside.txt", "sha256": "0" * 64})
    path.write_text(json.dumps(doc), encoding="utf-8")
    refused(bundle, "files", "croissant.json lists '../outside.txt', which is not a path inside "
                             "the bundle")


def test_an_edited_datasheet_count_is_refused(bundle: Path) -> None:
    path = bundle / "DATASHEET.md"
    text = path.read_text(encoding="utf-8")
    labels = len((bundle / "records" / "annotations.jsonl").read_text().splitlines())
    stated = f"3 images and {labels} labels ("
    assert text.count(stated) == 1
    path.write_text(text.replace(stated, f"3 images and {labels + 1} labels ("),
                    encoding="utf-8")
    refused(bundle, "files", "DATASHEET.md does not match its SHA-256 in croissant.json: the "
                             "file was changed")
    forge(bundle)
    done = refused(bundle, "counts", f"DATASHEET.md states {labels + 1} labels; "
                                     f"records/annotations.jsonl holds {labels} and "
                                     f"coco/annotations.json {labels}")
    assert "fails the counts check: DATASHEET.md states" in done.stderr


def test_an_edited_category_count_is_refused(bundle: Path) -> None:
    path = bundle / "DATASHEET.md"
    text = path.read_text(encoding="utf-8")
    rows = [json.loads(a) for a in (bundle / "records" / "annotations.jsonl").read_text()
            .splitlines()]
    cables = sum(1 for r in rows if r["category"] == "Cable")
    assert text.count(f"Cable {cables})") == 1
    path.write_text(text.replace(f"Cable {cables})", f"Cable {cables + 2})"), encoding="utf-8")
    forge(bundle)
    refused(bundle, "counts", f"DATASHEET.md states {cables + 2} Cable labels; "
                              f"records/annotations.jsonl holds {cables}")


def test_not_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = inspect(tmp_path / "nowhere")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_the_library_call_raises_the_integrity_error(bundle: Path) -> None:
    (bundle / "notes.txt").write_text("hello")
    result = inspect_bundle(bundle)
    assert (result.ok, [c.ok for c in result.checks]) == (False, [False, True, True])
    with pytest.raises(BundleError, match="notes.txt is in the bundle but not listed"):
        result.require_ok()


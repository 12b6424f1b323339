"""SageMaker Ground Truth: the output manifest alone (work attributed to the job), with the
job's worker responses (work attributed to people, identity to the vault), segmentation label
maps decoded, and refusals.

Fixtures follow the developer guide's "Output data" examples: a bounding-box job (class-map
with gaps, per-box confidence, ``job-name`` as ``labeling-job/<name>``), a semantic
segmentation job (``-ref`` attribute, ``internal-color-map`` with a white BACKGROUND, a
hex colour in upper case) whose label map is in ``images/``, an automated image
classification (``human-annotated: no``), a line not labelled yet, and worker response files
(``iteration-1/<object>/<time>.json``) of a private Cognito workforce.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

import tracework
from platform_support import (
    DATA,
    bytes_outside_vault,
    export_everything,
    run_installed,
    vault_ids,
    vault_values,
)
from tracework.core.errors import InputError
from tracework.core.project import Category, Project
from tracework.core.store.schema import imports, submissions, vault, workers
from tracework.formats.groundtruth import read_groundtruth

ROOT = DATA / "groundtruth"
MANIFEST = ROOT / "output.manifest"
RESPONSES = ROOT / "identify-mice"
IMAGES = ROOT / "images"
CANARY_WORKER = "private.us-west-2.ca4a11e5ca4a11e5"
CANARY_SUB = "ca4a11e5-0000-4000-8000-00000000c0de"
CANARY_POOL = "us-west-2_ca4a11e5Q"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = tracework.init(tmp_path / "proj", name="Mice", actor="tester", categories=[
        Category("Body", "#2acf59"), Category("Cable", "#f28333")])
    try:
        yield p
    finally:
        p.close()


def test_manifest_alone_attributes_every_label_to_its_job() -> None:
    parsed = read_groundtruth(MANIFEST)
    works = list(parsed.works)
    assert [b.key for b in parsed.batches] == ["identify-mice", "mouse-parts", "mouse-species"]
    assert [w.assignment_id for w in works] == [
        "identify-mice/0/bounding-box", "identify-mice/1/bounding-box",
        "mouse-parts/3/mouse-parts-ref", "mouse-species/4/species"]
    assert all(w.worker is None and w.attribution == "job" for w in works)
    assert [w.row for w in works] == [1, 2, 4, 5]
    body, cable = works[0].labels
    assert (body.kind, body.category, body.bbox) == ("bbox", "Body", (111.0, 134.0, 61.0, 128.0))
    assert (cable.category, dict(cable.attributes)) == ("Cable", {"class_id": 5,
                                                                  "confidence": 0.9})
    assert (works[0].asset_uri, works[0].asset_width, works[0].asset_height) == (
        "s3://tw-bucket/frames/frame_001.png", 640, 480)
    assert works[0].submit_time == datetime(2024, 3, 5, 10, 20, 13, 527256, tzinfo=UTC)
    assert works[2].labels == [] and works[2].unconverted == {
        "semantic-segmentation label map (PNG not found: give the images folder)": 1}
    species = works[3].labels[0]
    assert (species.kind, species.category, species.value) == ("class", "mouse", "0")
    assert works[0].raw["frame"] == 1 and "bounding-box-metadata" in works[0].raw
    assert parsed.notes[0].startswith("4 labelled objects are attributed to their Ground Truth "
                                      "job, not to people")
    assert "give them with --responses" in parsed.notes[0]
    assert "1 object labelled by automated data labelling" in " ".join(parsed.notes)
    assert "1 manifest line without a label yet." in parsed.notes


def test_label_map_becomes_one_mask_per_class() -> None:
    works = list(read_groundtruth(MANIFEST, images=IMAGES).works)
    seg = works[2]
    assert (seg.asset_width, seg.asset_height) == (60, 40)
    assert [(lb.kind, lb.category, lb.bbox, lb.attributes["area"]) for lb in seg.labels] == [
        ("mask", "Body", (10.0, 5.0, 20.0, 10.0), 200),
        ("mask", "Cable", (40.0, 20.0, 10.0, 10.0), 100)]
    assert seg.labels[0].mask is not None and seg.labels[0].mask["size"] == [40, 60]


def test_worker_responses_make_each_answer_a_persons_work() -> None:
    parsed = read_groundtruth(MANIFEST, responses=RESPONSES, images=IMAGES)
    works = list(parsed.works)
    people = [w for w in works if w.attribution == "worker"]
    assert [w.assignment_id for w in works if w.attribution == "job"] == [
        "mouse-parts/3/mouse-parts-ref", "mouse-species/4/species"]
    assert [w.assignment_id for w in people] == [
        "identify-mice/iteration-1/0/2024-03-05_10-02-31#1",
        "identify-mice/iteration-1/0/2024-03-05_10-02-31#2",
        "identify-mice/iteration-1/1/2024-03-05_10-05-21#1"]
    first = people[0]
    assert first.worker is not None and first.worker.platform_id == CANARY_WORKER
    assert dict(first.worker.personal) == {
        "identity issuer": f"https://cognito-idp.us-west-2.amazonaws.com/{CANARY_POOL}",
        "identity sub": CANARY_SUB, "identity userPoolId": CANARY_POOL}
    assert first.accept_time == datetime(2024, 3, 5, 10, 0, 1, 191000, tzinfo=UTC)
    assert first.submit_time == datetime(2024, 3, 5, 10, 0, 42, 321000, tzinfo=UTC)
    assert [w.work_time_s for w in people] == [40.543, 75.25, 18.0]
    assert {w.time_kind for w in people} == {"reported_time_spent"}
    assert [(lb.category, lb.bbox) for lb in people[1].labels] == [
        ("Body", (115.0, 130.0, 60.0, 120.0))]
    assert (people[2].task_id, people[2].asset_uri) == ("1", "s3://tw-bucket/frames/frame_002.png")
    assert "workerMetadata" not in json.dumps(first.raw)
    assert any("3 worker answers read for job identify-mice" in n and "those 2 objects" in n
               for n in parsed.notes)


def test_responses_outside_the_jobs_folder_need_the_label_attribute(tmp_path: Path) -> None:
    loose = tmp_path / "downloaded"
    shutil.copytree(RESPONSES / "annotations" / "worker-response", loose)
    with pytest.raises(InputError) as caught:
        read_groundtruth(MANIFEST, responses=loose)
    assert caught.value.field == "--label-attribute"
    assert "bounding-box, mouse-parts-ref, species" in str(caught.value)
    works = list(read_groundtruth(MANIFEST, responses=loose, label_attribute="bounding-box")
                 .works)
    assert sum(w.attribution == "worker" for w in works) == 3


def test_import_keeps_identity_in_the_vault_only(project: Project, tmp_path: Path) -> None:
    report = tracework.ingest_groundtruth(project, MANIFEST, responses=RESPONSES, images=IMAGES)
    assert (report.rows, report.added, report.workers_new) == (5, 5, 2)
    assert report.attributed == {"job": 2, "worker": 3}
    assert report.by_category == {"Body": 4, "Cable": 2}
    with project.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(vault)).scalar_one() == 2
        jobs = conn.execute(select(workers.c.platform).where(
            workers.c.platform == "groundtruth:job")).scalars().all()
        assert len(jobs) == 2
        times = {r.assignment_id: (r.work_time_s, r.time_kind, r.status)
                 for r in conn.execute(select(submissions))}
    assert times["identify-mice/iteration-1/0/2024-03-05_10-02-31#1"] == (
        40.543, "reported_time_spent", "Submitted")
    assert times["mouse-parts/3/mouse-parts-ref"] == (None, "unknown", "Submitted")
    again = tracework.ingest_groundtruth(project, MANIFEST, responses=RESPONSES, images=IMAGES)
    assert again.repeated and again.added == 0
    assert CANARY_WORKER in vault_ids(project)
    assert {CANARY_SUB, CANARY_POOL} <= vault_values(project)
    stored = bytes_outside_vault(project, tmp_path)
    exported = export_everything(project, tmp_path / "bundle")
    for secret in (CANARY_WORKER, CANARY_SUB, CANARY_POOL):
        assert secret.encode() not in stored and secret.encode() not in exported, secret


def _broken_manifest(tmp_path: Path, old: str, new: str) -> Path:
    text = MANIFEST.read_text()
    assert old in text
    path = tmp_path / "output.manifest"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "row", "field"), [
    ('"left": 20,', '"left": "twenty",', 2, "bounding-box.annotations[0].left"),
    ('"creation-date": "2024-03-06T08:00:00.000000"', '"creation-date": "March"', 4,
     "mouse-parts-ref-metadata.creation-date"),
    ('{"source-ref": "s3://tw-bucket/frames/frame_004.png", "frame": 4}', "", 3, None),
])
def test_malformed_manifest_refused_and_nothing_stored(project: Project, tmp_path: Path,
                                                       old: str, new: str, row: int,
                                                       field: str | None) -> None:
    path = _broken_manifest(tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        tracework.ingest_groundtruth(project, path, images=IMAGES)
    assert (caught.value.file, caught.value.row, caught.value.field) == (str(path), row, field)
    with project.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(submissions)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(imports)).scalar_one() == 0


def test_malformed_response_file_is_named(project: Project, tmp_path: Path) -> None:
    job = tmp_path / "identify-mice"
    shutil.copytree(RESPONSES, job)
    bad = job / "annotations/worker-response/iteration-1/1/2024-03-05_10-05-21.json"
    bad.write_text(bad.read_text().replace("2024-03-05T10:05:00.000Z", "soon"))
    with pytest.raises(InputError) as caught:
        tracework.ingest_groundtruth(project, MANIFEST, responses=job)
    assert (caught.value.file, caught.value.row, caught.value.field) == (
        str(bad), 2, "acceptanceTime")
    assert CANARY_WORKER not in str(caught.value)
    project.close()
    done = run_installed("--project", str(project.root), "ingest", "groundtruth",
                         str(MANIFEST), "--responses", str(job), cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert "2024-03-05_10-05-21.json, row 2, field 'acceptanceTime'" in done.stderr
    assert "Traceback" not in done.stderr and CANARY_WORKER not in done.stderr
    reopened = tracework.open_project(project.root)
    try:
        with reopened.store.read() as conn:
            assert conn.execute(select(func.count()).select_from(submissions)).scalar_one() == 0
    finally:
        reopened.close()
    ok = run_installed("--project", str(project.root), "ingest", "groundtruth", str(MANIFEST),
                       cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Per-worker provenance needs the job's worker response files" in ok.stdout


def test_verification_and_multilabel_jobs(tmp_path: Path) -> None:
    lines = [
        {"source-ref": "s3://b/a.jpg", "verify-box": "1", "verify-box-metadata": {
            "class-name": "bad", "confidence": 0.93, "type": "groundtruth/label-verification",
            "job-name": "verify-boxes", "human-annotated": "yes",
            "creation-date": "2018-11-20T22:18:13.527256",
            "worker-feedback": [{"comment": "The box on the bird is too wide."}]}},
        {"source-ref": "s3://b/b.jpg", "tags": [1, 0], "tags-metadata": {
            "job-name": "labeling-job/tags", "class-map": {"1": "bicycle", "0": "person"},
            "human-annotated": "yes", "creation-date": "2020-02-27T21:36:25.000201",
            "confidence-map": {"1": 0.95, "0": 0.77},
            "type": "groundtruth/image-classification-multilabel"}},
        {"source": "The food was delicious", "spans": {"annotations": {}},
         "spans-metadata": {"job-name": "ner", "type": "groundtruth/text-span",
                            "creation-date": "2020-10-29T00:40:39.398470"}},
    ]
    path = tmp_path / "chained.manifest"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    verify, tags, spans = read_groundtruth(path).works
    label = verify.labels[0]
    assert (label.kind, label.category, label.attributes["worker_feedback"]) == (
        "class", "bad", ["The box on the bird is too wide."])
    assert (tags.labels[0].kind, tags.labels[0].value) == ("labels", ["bicycle", "person"])
    assert (spans.labels, spans.unconverted, spans.asset_uri) == (
        [], {"type groundtruth/text-span": 1}, None)
    assert spans.raw["source"] == "The food was delicious"

"""CVAT for images 1.1 XML: the reader on fixtures built from CVAT's published format (a task
export whose jobs name no assignee but one, a job export with its assignee), XML attacks
refused, and the import through the installed command (identity only in the vault, re-import
adds nothing, a bad file stores nothing)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracework
from platform_checks import count, database_without_vault, files_bytes, run
from tracework.core.errors import InputError
from tracework.core.project import Category, Project
from tracework.core.store.schema import (
    annotations,
    assets,
    batches,
    imports,
    ledger,
    submissions,
    vault,
    workers,
)
from tracework.formats import masks
from tracework.formats.canonical import Work
from tracework.formats.cvat import read_cvat

DATA = Path(__file__).parent / "data" / "platforms"
TASK = DATA / "cvat_task.xml"
JOB = DATA / "cvat_job.xml"
CATEGORIES = [Category("car", "#fa3253"), Category("plate", "#1f77b4"),
              Category("traffic_line", "#2ca02c"), Category("wheel", "#ff7f0e")]
CANARIES = ["canary_segment_annotator", "canary.segment@example.org", "canary_owner",
            "canary.owner@example.org", "canary_task_assignee", "canary.task@example.org",
            "canary_job_annotator", "canary.job@example.org"]
# Stored nowhere, not even in the vault: the task owner and the task's assignee.
NOT_AUTHORS = ["canary_owner", "canary.owner@example.org", "canary_task_assignee",
               "canary.task@example.org"]
# The mask of CVAT's published example: runs from background, row-major over 13 × 15.
DOC_RLE = [3, 5, 7, 7, 5, 9, 3, 11, 2, 11, 2, 12, 1, 12, 1, 26, 1, 12, 1, 12, 2, 11, 3, 9, 5,
           7, 7, 5, 3]


def _works(path: Path) -> list[Work]:
    return list(read_cvat(path).works)


@pytest.fixture
def project(tmp_path: Path) -> Any:
    p = tracework.init(tmp_path / "proj", name="Streets", categories=CATEGORIES, actor="tester")
    try:
        yield p
    finally:
        p.close()


def _doc_mask() -> np.ndarray:
    values = np.repeat(np.arange(len(DOC_RLE)) % 2, DOC_RLE).astype(np.uint8)
    full = np.zeros((1200, 1600), np.uint8)
    full[888:903, 707:720] = values.reshape(15, 13)
    return full


# -- the reader -----------------------------------------------------------------------------


def test_a_task_export_one_work_per_image_attributed_to_its_job() -> None:
    pf = read_cvat(TASK)
    works = list(pf.works)
    assert [(b.key, b.title) for b in pf.batches] == [
        ("42/job-61", "bikes, job 61"), ("42/job-62", "bikes, job 62"), ("42", "bikes")]
    assert [w.assignment_id for w in works] == [
        f"task-42/job-{job}/image-{i}" for job, i in
        [("61", 0), ("61", 1), ("61", 2), ("62", 3), ("62", 4), ("62", 5)]]
    assert [w.batch_key for w in works] == ["42/job-61"] * 3 + ["42/job-62"] * 3
    assert [w.attribution for w in works] == ["job_assignee"] * 3 + ["job"] * 3
    people = [(w.worker.platform_id, dict(w.worker.personal)) if w.worker else None
              for w in works]
    assert people == [("canary_segment_annotator",
                       {"email": "canary.segment@example.org"})] * 3 + [None] * 3
    assert {(w.status, w.time_kind, w.work_time_s, w.submit_time) for w in works} == {
        ("Submitted", "unknown", None, None)}
    assert [(w.asset_uri, w.asset_width, w.asset_height) for w in works][0] == (
        "filename000.jpg", 1600, 1200)
    assert pf.notes == [
        "CVAT records no author per shape, only who a job is assigned to: each image's labels "
        "are attributed to the assignee of the job whose frames hold it, or to the job itself "
        "when the file names no assignee.",
        "The task owner and the task's assignee are not taken as the authors and are not "
        "stored."]
    assert pf.batches[0].created_at is not None
    assert pf.batches[0].created_at.isoformat() == "2024-05-02T07:11:12.123456+00:00"


def test_shapes_by_kind_with_their_attributes() -> None:
    works = _works(TASK)
    kinds = Counter(lb.kind for w in works for lb in w.labels)
    assert kinds == {"bbox": 3, "polygon": 2, "polyline": 2, "keypoints": 1, "class": 2,
                     "mask": 1}
    assert [w.unconverted for w in works] == [{"skeleton": 1}, {}, {}, {}, {"ellipse": 1}, {}]
    box, polygon, line, _, points, tag, mask = works[0].labels
    assert (box.element, box.category) == ("box", "plate")
    assert box.bbox == pytest.approx((797.33, 870.92, 168.19, 58.02))
    assert dict(box.attributes) == {"occluded": False, "z_order": 4, "source": "manual",
                                    "attributes": {"colour": "blue"}}
    assert polygon.polygon == [[561.30, 916.23, 561.30, 842.77, 554.72, 761.63, 553.62,
                                716.67]]
    assert (line.kind, line.polygon) == ("polyline", [[462.10, 0.0, 126.80, 1200.0]])
    assert points.keypoints == [574.90, 939.48, 1170.16, 907.90, 1130.69, 445.26, 600.16,
                                459.48]
    assert (tag.kind, tag.category, tag.value) == ("class", "good_frame", "good_frame")
    assert mask.mask is not None and mask.mask["size"] == [1200, 1600]
    decoded = masks.rle_to_mask(mask.mask)
    assert int(decoded.sum()) == 149
    assert np.array_equal(decoded, _doc_mask())
    (rotated,) = works[1].labels
    # A 60 × 20 box turned 90° about its centre (130, 210).
    assert rotated.bbox == pytest.approx((120.0, 180.0, 20.0, 60.0))
    assert dict(rotated.attributes) == {"occluded": True, "z_order": 0, "source": "auto",
                                        "rotation": 90.0,
                                        "rotated_box": [100.0, 200.0, 60.0, 20.0]}
    assert works[3].labels[0].attributes["group_id"] == 1
    assert works[3].labels[0].attributes["source"] == "semi-auto"
    assert works[2].labels == []
    assert works[0].raw["shapes"][6]["tag"] == "skeleton"


def test_a_job_export_names_the_jobs_assignee() -> None:
    pf = read_cvat(JOB)
    works = list(pf.works)
    assert [(w.attribution, w.worker.platform_id if w.worker else None) for w in works] == [
        ("job_assignee", "canary_job_annotator")] * 2
    assert works[0].worker is not None
    assert dict(works[0].worker.personal) == {"email": "canary.job@example.org"}
    (mask,) = works[1].labels
    assert mask.mask is not None
    decoded = masks.rle_to_mask(mask.mask)
    expected = np.zeros((48, 64), np.uint8)
    expected[45:48, 60:64] = [[1, 1, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0]]
    assert np.array_equal(decoded, expected) and int(decoded.sum()) == 8


def test_no_personal_value_outside_the_person() -> None:
    for path in (TASK, JOB):
        for work in _works(path):
            outside = json.dumps([work.raw, [lb.__dict__ for lb in work.labels]], default=str)
            assert [c for c in CANARIES if c in outside] == []


def _xml(tmp_path: Path, body: str, name: str = "annotations.xml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


_META = """<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version><meta><task><id>9</id><name>t</name>
<segments>
<segment><id>1</id><start>0</start><stop>1</stop><url>http://h/?id=71</url></segment>
<segment><id>2</id><start>1</start><stop>3</stop><url>http://h/?id=72</url></segment>
</segments></task></meta>
{images}</annotations>"""


def test_an_image_in_two_jobs_goes_to_the_first_and_the_notes_say_so(tmp_path: Path) -> None:
    path = _xml(tmp_path, _META.format(images="".join(
        f'<image id="{i}" name="{i}.png" width="4" height="4"></image>' for i in range(5))))
    pf = read_cvat(path)
    works = list(pf.works)
    assert [w.raw["job"] for w in works] == ["71", "71", "72", "72", "task-9"]
    assert [w.batch_key for w in works] == ["9/job-71", "9/job-71", "9/job-72", "9/job-72", "9"]
    assert "Frames in the overlap of two jobs are attributed to the first job." in pf.notes


def test_a_project_export_attributes_to_a_job_only_when_the_task_has_one(
        tmp_path: Path) -> None:
    body = """<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version><meta><project><id>3</id><name>p</name><tasks>
<task><id>10</id><name>a</name><segments><segment><id>1</id><start>0</start><stop>4</stop>
<url>http://h/api/jobs/81</url></segment></segments></task>
<task><id>11</id><name>b</name><segments>
<segment><id>2</id><start>0</start><stop>1</stop><url>http://h/api/jobs/82</url></segment>
<segment><id>3</id><start>2</start><stop>3</stop><url>http://h/api/jobs/83</url></segment>
</segments></task></tasks></project></meta>
<image id="0" name="a.png" subset="default" task_id="10" width="4" height="4"></image>
<image id="1" name="b.png" subset="default" task_id="11" width="4" height="4"></image>
</annotations>"""
    pf = read_cvat(_xml(tmp_path, body))
    works = list(pf.works)
    assert [(w.batch_key, w.raw["job"], w.attribution) for w in works] == [
        ("10/job-81", "81", "job"), ("11", "task-11", "job")]
    assert any("project export" in note for note in pf.notes)


# -- refused files --------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "message"), [
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
     '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
     "<annotations>&lol2;</annotations>", "document type declaration"),
    ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     "<annotations>&x;</annotations>", "document type declaration"),
    ("<annotations><version>1.1</version>&x;</annotations>",
     "not well-formed XML at line 1, column 36: undefined entity"),
    ("<annotations><version>1.1</version><meta><task>", "not well-formed XML"),
    ("<labels/>", "its root is <labels>, not <annotations>"),
    ("<annotations><version>1.0</version></annotations>", "version '1.0'"),
    ("<annotations><version>1.1</version><image id='0'/></annotations>", "no <meta> block"),
    ("<annotations><version>1.1</version><meta><dumped/></meta></annotations>",
     "no <task>, <job> or <project>"),
])
def test_a_hostile_or_wrong_file_is_refused(tmp_path: Path, body: str, message: str) -> None:
    path = _xml(tmp_path, body)
    with pytest.raises(InputError) as caught:
        _works(path)
    assert caught.value.file == str(path)
    assert message in caught.value.detail


def test_an_image_without_a_frame_number_is_refused(tmp_path: Path) -> None:
    path = _xml(tmp_path, _META.format(images='<image id="x1" name="a.png"></image>'))
    with pytest.raises(InputError) as caught:
        _works(path)
    assert (caught.value.row, caught.value.field) == (1, "image[id=x1]/@id")
    assert "must be the image's frame number, not 'x1'" in caught.value.detail


def test_an_image_id_given_twice_is_refused(tmp_path: Path) -> None:
    images = "".join(f'<image id="{i}" name="{n}.png" width="4" height="4"></image>'
                     for i, n in ((0, "a"), (1, "b"), (0, "c")))
    path = _xml(tmp_path, _META.format(images=images))
    with pytest.raises(InputError) as caught:
        _works(path)
    err = caught.value
    assert (err.row, err.field, err.detail) == (
        3, "image[id=0]", "the image id is given twice (first at image 1)")


def test_a_cvat_for_video_file_is_refused_with_the_export_to_choose(tmp_path: Path) -> None:
    path = _xml(tmp_path, _META.format(images='<track id="0" label="car"></track>'))
    with pytest.raises(InputError) as caught:
        _works(path)
    assert "'CVAT for video'" in caught.value.detail
    assert caught.value.hint == "Export the task as 'CVAT for images 1.1'."


@pytest.mark.parametrize(("shape", "field", "message"), [
    ('<box label="car" xtl="a" ytl="0" xbr="1" ybr="1"/>', "image[id=1]/box[1]@xtl",
     "must be a number"),
    ('<box label="car" xtl="5" ytl="0" xbr="1" ybr="1"/>', "image[id=1]/box[1]@xbr",
     "above or left"),
    ('<box xtl="0" ytl="0" xbr="1" ybr="1"/>', "image[id=1]/box[1]@label", "names its label"),
    ('<polygon label="car" points="0,0;1;2,2"/>', "image[id=1]/polygon[1]@points",
     "'x,y;x,y;…'"),
    ('<polygon label="car" points="0,0;1,1"/>', "image[id=1]/polygon[1]@points",
     "at least 3 points"),
    ('<mask label="car" rle="1, 2" left="0" top="0" width="2" height="2"/>',
     "image[id=1]/mask[1]@rle", "cover 3 pixels, not the mask's 2×2 = 4"),
    ('<mask label="car" rle="0, 4" left="3" top="0" width="2" height="2"/>',
     "image[id=1]/mask[1]@left", "leaves the 4×4 image"),
    ('<mask label="car" rle="0, x" left="0" top="0" width="2" height="1"/>',
     "image[id=1]/mask[1]@rle", "comma-separated list"),
])
def test_a_malformed_shape_is_refused_with_file_image_and_field(
        tmp_path: Path, shape: str, field: str, message: str) -> None:
    images = ('<image id="0" name="0.png" width="4" height="4"></image>'
              f'<image id="1" name="1.png" width="4" height="4">{shape}</image>')
    path = _xml(tmp_path, _META.format(images=images))
    with pytest.raises(InputError) as caught:
        _works(path)
    err = caught.value
    assert (err.file, err.row, err.field) == (str(path), 2, field)
    assert message in err.detail


# -- through the importer and the installed command ----------------------------------------


def test_ingest_keeps_identity_in_the_vault_and_jobs_apart(project: Project,
                                                           tmp_path: Path) -> None:
    report = tracework.ingest_cvat(project, TASK)
    assert (report.rows, report.added, report.workers_new, report.annotations) == (6, 6, 1, 11)
    assert report.attributed == {"job_assignee": 3, "job": 3}
    assert report.by_category == {"car": 5, "plate": 1, "traffic_line": 2, "wheel": 1}
    assert report.kept_raw == {"skeleton": 1, "ellipse": 1}
    job = tracework.ingest_cvat(project, JOB)
    assert (job.added, job.workers_new, job.attributed) == (2, 1, {"job_assignee": 2})
    with project.store.read() as conn:
        vaulted = sorted(r.platform_worker_id for r in conn.execute(vault.select()))
        by_worker = Counter(r.worker for r in conn.execute(submissions.select()))
        platforms = Counter(r.platform for r in conn.execute(workers.select()))
        keys = sorted(r.batch_key for r in conn.execute(batches.select()))
    assert vaulted == ["canary_job_annotator", "canary_segment_annotator"]
    assert sorted(by_worker.values()) == [2, 3, 3]
    assert platforms == {"cvat": 2, "cvat:job": 1}
    assert keys == ["42/job-61", "42/job-62", "63/job-63"]
    stored = database_without_vault(project.root / "tracework.db", tmp_path)
    assert [c for c in CANARIES if c.encode() in stored] == []
    everything = b"".join(p.read_bytes() for p in project.root.glob("tracework.db*"))
    assert [c for c in NOT_AUTHORS if c.encode() in everything] == []
    bundle = tmp_path / "bundle"
    done = run("-p", str(project.root), "export", "bundle", str(bundle), "--status", "all")
    assert done.returncode == 0, done.stderr
    exported = files_bytes(bundle)
    assert b"traffic_line" in exported
    assert [c for c in CANARIES if c.encode() in exported] == []


def test_reimport_adds_nothing(project: Project) -> None:
    first = tracework.ingest_cvat(project, TASK)
    before = [count(project, t) for t in (submissions, annotations, workers, ledger, imports)]
    again = tracework.ingest_cvat(project, TASK)
    assert first.added == 6 and again.repeated and again.added == 0
    assert [count(project, t) for t in (submissions, annotations, workers, ledger,
                                        imports)] == before


def test_the_command_hashes_images_and_a_broken_file_exits_4_storing_nothing(
        project: Project, tmp_path: Path) -> None:
    broken = _xml(tmp_path, TASK.read_text().replace('xtl="10"', 'xtl="ten"'), "broken.xml")
    done = run("-p", str(project.root), "ingest", "cvat", str(broken))
    assert done.returncode == 4
    assert f"{broken}, row 4, field 'image[id=3]/box[1]@xtl'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert [count(project, t) for t in (submissions, annotations, workers, imports)] == [
        0, 0, 0, 0]
    images = tmp_path / "images"
    images.mkdir()
    (images / "filename000.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    done = run("-p", str(project.root), "ingest", "cvat", str(TASK), "--images", str(images))
    assert done.returncode == 0, done.stderr
    assert "attributed to job assignee  3" in done.stdout
    assert "attributed to job           3" in done.stdout
    assert "CVAT records no author per shape" in done.stdout
    with project.store.read() as conn:
        digests = {r.file_name: r.sha256 for r in conn.execute(assets.select())}
    assert digests["filename000.jpg"] == hashlib.sha256(b"\xff\xd8 not really a jpeg").hexdigest()
    assert digests["filename001.jpg"] is None


def test_help_is_complete() -> None:
    done = run("ingest", "cvat", "--help")
    assert done.returncode == 0
    for words in ("assignee", "--images", "occluded", "DOCTYPE", "Example:",
                  "tracework ingest cvat"):
        assert words in done.stdout

"""Toloka results TSV: suites, verdicts, shapes in pixels, the vault, and refusals.

The fixture follows Toloka's "Receiving responses" page and Toloka-Kit's TSV fields: CRLF line
ends, a tabs-only separator line and an empty line between suites, JSON shapes in a cell
(quotes doubled), a two-task suite, a control task (GOLDEN:), a training hint, and every
status (APPROVED, REJECTED, SKIPPED, EXPIRED, and an ACTIVE row that is left out).
"""

from __future__ import annotations

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
)
from tracework.core.errors import InputError
from tracework.core.project import Category, Project
from tracework.core.store.schema import annotations, imports, submissions
from tracework.formats.toloka import image_sizes_in, read_toloka

TSV = DATA / "toloka_assignments.tsv"
IMAGES = DATA / "toloka_images"
CANARY = "ca4a11e5ca4a11e5ca4a11e5ca4a11e5"
SUITE = "00022cf7e2--65e1aaaa00000000000000a1"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = tracework.init(tmp_path / "proj", name="Mice", actor="tester", categories=[
        Category("mouse", "#1f77b4"), Category("cable", "#2ca02c"), Category("wheel", "#d62728")])
    try:
        yield p
    finally:
        p.close()


def test_one_work_per_task_with_the_suites_pay_time_and_review_divided() -> None:
    parsed = read_toloka(TSV, image_size=image_sizes_in(IMAGES))
    works = list(parsed.works)
    assert [w.assignment_id for w in works] == [
        f"{SUITE}/1", f"{SUITE}/2", "00022cf7e2--65e1aaaa00000000000000b2",
        "00022cf7e2--65e1aaaa00000000000000c3", "00022cf7e2--65e1aaaa00000000000000e5"]
    assert [w.status for w in works] == ["Approved", "Approved", "Rejected", "Returned",
                                         "Abandoned"]
    assert [w.reward_cents for w in works] == [3, 2, 3, 5, 5]
    assert [w.work_time_s for w in works] == [45.0, 45.0, 120.0, None, None]
    assert {w.time_kind for w in works} == {"wall_clock_accept_to_submit"}
    assert works[0].accept_time == datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    assert works[0].submit_time == datetime(2024, 3, 5, 10, 1, 30, tzinfo=UTC)
    assert parsed.batches[0].key == "36502786"
    assert works[0].review is not None and works[0].review.status == "Approved"
    assert works[1].review == works[0].review           # the verdict is the suite's
    rejected = works[2].review
    assert rejected is not None and rejected.status == "Rejected"
    assert rejected.reason == works[2].feedback == "The box misses the cable; see rule 3"
    assert works[0].raw["suite"] == {"assignment_id": SUITE, "tasks": 2, "position": 1}
    assert works[2].raw["control_task"] is True and works[4].raw["training_task"] is True
    assert [w.row for w in works] == [1, 2, 3, 4, 6]
    assert any("ACTIVE" in n and "1 row(s)" in n for n in parsed.notes)


def test_shapes_are_pixels_of_each_tasks_own_image() -> None:
    works = list(read_toloka(TSV, image_size=image_sizes_in(IMAGES)).works)
    box, polygon, choice = works[0].labels
    assert (box.kind, box.category, box.bbox) == ("bbox", "mouse", (160.0, 120.0, 160.0, 120.0))
    assert polygon.kind == "polygon" and polygon.polygon == [[64.0, 48.0, 128.0, 48.0, 128.0,
                                                              144.0]]
    assert (choice.kind, choice.category, choice.element) == ("class", "mouse", "category")
    point = works[1].labels[0]                          # frame_002 is 320 × 200
    assert (point.kind, point.category, point.keypoints) == ("keypoints", "wheel",
                                                             [160.0, 100.0])
    assert (works[0].asset_width, works[1].asset_width) == (640, 320)
    control = works[2].labels[0]
    assert (control.category, dict(control.attributes)) == ("cable", {"golden": "mouse"})
    assert [lb.kind for lb in works[4].labels] == ["text"]


def test_without_image_sizes_shapes_are_kept_raw_and_counted() -> None:
    parsed = read_toloka(TSV)
    works = list(parsed.works)
    key = "image-annotation shape (image size unknown)"
    assert [w.unconverted.get(key, 0) for w in works] == [2, 1, 0, 0, 0]
    assert [lb.kind for lb in works[0].labels] == ["class"]
    assert '"type":"rectangle"' in works[0].raw["OUTPUT:result"]
    assert any("3 image-annotation shapes" in n for n in parsed.notes)


def test_import_stores_pseudonyms_only_and_again_adds_nothing(project: Project,
                                                              tmp_path: Path) -> None:
    report = tracework.ingest_toloka(project, TSV, images=IMAGES)
    assert (report.rows, report.added, report.workers_new, report.annotations) == (5, 5, 3, 7)
    assert report.attributed == {"worker": 5}
    assert report.by_category == {"cable": 1, "mouse": 1, "wheel": 1}
    with project.store.read() as conn:
        rows = {r.assignment_id: r for r in conn.execute(select(submissions))}
        assert rows[f"{SUITE}/1"].status == "Approved" and rows[f"{SUITE}/1"].reward_cents == 3
        rejected = rows["00022cf7e2--65e1aaaa00000000000000b2"]
        assert rejected.status == "Rejected"
        assert rejected.requester_feedback == "The box misses the cable; see rule 3"
        assert rows["00022cf7e2--65e1aaaa00000000000000c3"].status == "Returned"
        assert rows["00022cf7e2--65e1aaaa00000000000000e5"].status == "Abandoned"
        assert rows[f"{SUITE}/1"].worker == rows["00022cf7e2--65e1aaaa00000000000000c3"].worker
        assert conn.execute(select(func.count()).select_from(annotations)).scalar_one() == 7
    again = tracework.ingest_toloka(project, TSV, images=IMAGES)
    assert again.repeated and again.added == 0
    # The same results saved again with LF line ends: another file, the same work.
    resaved = tmp_path / "resaved.tsv"
    resaved.write_bytes(TSV.read_bytes().replace(b"\r\n", b"\n"))
    later = tracework.ingest_toloka(project, resaved, images=IMAGES)
    assert (later.added, later.unchanged, later.conflicts) == (0, 5, 0)
    assert CANARY in vault_ids(project)
    assert CANARY.encode() not in bytes_outside_vault(project, tmp_path)
    assert CANARY.encode() not in export_everything(project, tmp_path / "bundle")


def _broken(tmp_path: Path, old: bytes, new: bytes) -> Path:
    data = TSV.read_bytes()
    assert old in data
    path = tmp_path / "broken.tsv"
    path.write_bytes(data.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "row", "field"), [
    (b"\tREJECTED\t", b"\tDONE\t", 3, "ASSIGNMENT:status"),
    (b"\t-\tThe box", b"\tno\tThe box", 3, "ACCEPT:verdict"),
    (b"2024-03-05T11:02:00.000", b"yesterday", 3, "ASSIGNMENT:submitted"),
    (b'""x"":0.25', b'""x"":1.25', 1, "OUTPUT:result"),
])
def test_malformed_row_refused_naming_file_row_and_field(project: Project, tmp_path: Path,
                                                         old: bytes, new: bytes, row: int,
                                                         field: str) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        tracework.ingest_toloka(project, path, images=IMAGES)
    assert (caught.value.file, caught.value.row, caught.value.field) == (str(path), row, field)
    assert CANARY not in str(caught.value)
    with project.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(submissions)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(imports)).scalar_one() == 0


def test_installed_command_exits_non_zero_on_a_malformed_file(project: Project,
                                                              tmp_path: Path) -> None:
    path = _broken(tmp_path, b"\tREJECTED\t", b"\tDONE\t")
    project.close()
    done = run_installed("--project", str(project.root), "ingest", "toloka", str(path),
                         cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert "broken.tsv, row 3, field 'ASSIGNMENT:status'" in done.stderr
    assert "Traceback" not in done.stderr and CANARY not in done.stderr
    ok = run_installed("--project", str(project.root), "ingest", "toloka", str(TSV),
                       "--images", str(IMAGES), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Left out: 1 row(s) of assignments still in progress" in ok.stdout

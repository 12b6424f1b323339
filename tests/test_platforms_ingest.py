"""The importer every platform reader shares: canonical works in, the canonical model out."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from tracework.core import ledger
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store.schema import (
    annotations,
    bonuses,
    conflicts,
    submissions,
    vault,
    vault_values,
    workers,
)
from tracework.formats import canonical as model
from tracework.formats import masks
from tracework.ingest.platforms import JOB_SUFFIX, ingest_platform

CANARY_ID = "PLATFORMID-CANARY-7731"
CANARY_MAIL = "canary.person@example.org"
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _works(status: str = "Submitted", *, box_x: float = 10.0,
           category: str = "Body") -> list[model.Work]:
    person = model.Person(CANARY_ID, {"email": CANARY_MAIL, "name": "Canary Person"})
    rle = masks.rasterise_polygons([[0, 0, 20, 0, 20, 10, 0, 10]], 40, 30).rle
    return [
        model.Work(
            row=1, assignment_id="a-1", task_id="t-1", batch_key="project-7", worker=person,
            status=status, asset_uri="https://example.org/img/mouse-01.jpg", asset_width=40,
            asset_height=30, accept_time=T0, submit_time=T0.replace(minute=3),
            work_time_s=95.5, time_kind="active_seconds", reward_cents=15, bonus_cents=5,
            labels=[
                model.Label("box", "bbox", category, bbox=(box_x, 5.0, 8.0, 4.0)),
                model.Label("outline", "polygon", "Left_Button",
                            polygon=[[1.0, 1.0, 11.0, 1.0, 11.0, 6.0]]),
                model.Label("brush", "mask", "Right_Button", mask=rle),
                model.Label("quality", "class", "good", value="good"),
                model.Label("comment", "text", None, value=f"done, mail me at {CANARY_MAIL}"),
            ],
            raw={"completed_by": {"email": CANARY_MAIL}, "note": f"by {CANARY_ID}"},
            unconverted={"videorectangle": 1}),
        model.Work(
            row=2, assignment_id="a-2", task_id="t-1", batch_key="project-7", worker=None,
            attribution="job", asset_uri="https://example.org/img/mouse-01.jpg",
            asset_width=40, asset_height=30,
            labels=[model.Label("box", "bbox", "Body", bbox=(0.0, 0.0, 5.0, 5.0))],
            review=model.Review("Rejected", "fewer than 3 of 5 parts", time=T0)),
    ]


def _reader(works: list[model.Work]) -> model.PlatformFile:
    return model.PlatformFile("labelstudio", [model.Batch("project-7", title="Mouse parts")],
                              iter(works), notes=["a note the report shows"])


def _file(tmp_path: Path, name: str = "export.json", body: str = "[1]") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def _count(project: Project, table: Table) -> int:
    with project.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_works_become_rows_with_pseudonyms_only(sqlite_project: Project, tmp_path: Path) -> None:
    path = _file(tmp_path)
    report = ingest_platform(sqlite_project, path, "labelstudio", lambda p: _reader(_works()))
    assert (report.rows, report.added, report.annotations) == (2, 2, 6)
    assert report.attributed == {"worker": 1, "job": 1}
    assert report.kept_raw == {"videorectangle": 1}
    assert report.by_category == {"Body": 2, "Left_Button": 1, "Right_Button": 1}
    assert report.notes == ["a note the report shows"]
    with sqlite_project.store.read() as conn:
        subs = {r.assignment_id: r for r in conn.execute(select(submissions))}
        assert subs["a-1"].status == "Submitted" and subs["a-1"].time_kind == "active_seconds"
        assert subs["a-1"].work_time_s == 95.5 and subs["a-1"].reward_cents == 15
        assert subs["a-2"].status == "Rejected"
        assert subs["a-2"].requester_feedback == "fewer than 3 of 5 parts"
        assert subs["a-2"].rejection_time == T0.isoformat()
        job = conn.execute(select(workers).where(workers.c.pseudonym == subs["a-2"].worker)).one()
        assert job.platform == "labelstudio" + JOB_SUFFIX
        assert conn.execute(select(vault.c.platform_worker_id)).scalars().all() == [CANARY_ID]
        stashed = dict(conn.execute(select(vault_values.c.field, vault_values.c.value)).all())
        assert stashed == {"email": CANARY_MAIL, "name": "Canary Person"}
        anns = {r.element: r for r in conn.execute(select(annotations))
                if r.submission_id == subs["a-1"].id}
        assert (anns["box"].bbox_x, anns["box"].area) == (10.0, 32.0)
        assert anns["brush"].area == 200.0 and anns["brush"].bbox_w == 20.0
        assert anns["outline"].rle_counts and anns["outline"].area and anns["outline"].area > 0
        assert json.loads(anns["quality"].value) == "good"
        token = subs["a-1"].worker
        assert json.loads(anns["comment"].value) == f"done, mail me at <worker {token}>"
        bonus = conn.execute(select(bonuses)).one()
        assert (bonus.amount_cents, bonus.state, bonus.worker) == (5, "paid", token)
        assert ledger.verify(conn).ok
    sqlite_project.close()
    data = b"".join(p.read_bytes() for p in sqlite_project.root.glob("tracework.db*"))
    # Only the vault holds them: the id in its vault row and that row's unique index, the
    # e-mail in its vault_values row; none in answers, raw records, labels or the log.
    assert data.count(CANARY_ID.encode()) == 2
    assert data.count(CANARY_MAIL.encode()) == 1


def test_same_file_again_adds_nothing(sqlite_project: Project, tmp_path: Path) -> None:
    path = _file(tmp_path)
    ingest_platform(sqlite_project, path, "labelstudio", lambda p: _reader(_works()))
    again = ingest_platform(sqlite_project, path, "labelstudio", lambda p: _reader(_works()))
    assert again.repeated and again.added == 0
    assert _count(sqlite_project, submissions) == 2


def test_new_download_changes_status_or_records_conflict(sqlite_project: Project,
                                                         tmp_path: Path) -> None:
    ingest_platform(sqlite_project, _file(tmp_path, "a.json", "[1]"), "labelstudio",
                    lambda p: _reader(_works()))
    later = ingest_platform(sqlite_project, _file(tmp_path, "b.json", "[2]"), "labelstudio",
                            lambda p: _reader(_works("Approved")))
    assert (later.added, later.status_changes, later.unchanged) == (0, 1, 1)
    edited = ingest_platform(sqlite_project, _file(tmp_path, "c.json", "[3]"), "labelstudio",
                             lambda p: _reader(_works("Approved", box_x=12.0)))
    assert edited.conflicts == 1
    assert _count(sqlite_project, conflicts) == 1
    with sqlite_project.store.read() as conn:
        box = conn.execute(select(annotations.c.bbox_x).where(annotations.c.element == "box")
                           .order_by(annotations.c.id)).scalars().first()
        assert box == 10.0


def test_unknown_category_refused_with_true_hint_and_nothing_stored(
        sqlite_project: Project, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        ingest_platform(sqlite_project, _file(tmp_path), "labelstudio",
                        lambda p: _reader(_works(category="Wheel")))
    assert "'Wheel'" in str(caught.value) and caught.value.row == 1
    assert "tracework taxonomy add Wheel" in (caught.value.hint or "")
    assert _count(sqlite_project, submissions) == 0 and _count(sqlite_project, workers) == 0


def test_unknown_status_refused(sqlite_project: Project, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="status 'Done'"):
        ingest_platform(sqlite_project, _file(tmp_path), "labelstudio",
                        lambda p: _reader(_works("Done")))
    assert _count(sqlite_project, submissions) == 0

"""Past PostgreSQL's 65,535 bound parameters: the platform upload, the review queue's decisions
and the bonus file and its confirmation query their ids in chunks, so a team-sized batch works.

The rows are written straight into the store (the ingest path is tested elsewhere); 66,000
workers each with one decided submission and one planned bonus.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

import tracework
from conftest import MOUSE
from tracework import review
from tracework.core.project import Project
from tracework.core.store import IN_CHUNK, chunks
from tracework.core.store.schema import (
    annotations,
    answers,
    assets,
    batches,
    bonuses,
    imports,
    responses,
    reviews,
    submissions,
    vault,
    workers,
)
from tracework.dataset.policy import SurveyPolicy, consenting_answers, published_demographics
from tracework.pay import export_bonuses, mark_paid
from tracework.review.queue import decisions_in_force

N = 66_000          # more ids than one PostgreSQL statement may bind (65,535)
AT = "2026-11-02T10:00:00Z"


def test_chunks_keep_order_and_bound_size() -> None:
    parts = list(chunks(range(25), 10))
    assert [len(p) for p in parts] == [10, 10, 5] and sum(parts, []) == list(range(25))
    assert list(chunks([], 3)) == [] and IN_CHUNK <= 32_766


def _fill(project: Project) -> None:
    def rows(build: object) -> list[dict[str, object]]:
        return [build(i) for i in range(N)]  # type: ignore[operator]

    with project.store.write() as conn:
        conn.execute(insert(imports).values(
            id=1, sha256="0" * 64, kind="mturk", file_name="Batch_1_batch_results.csv", size=1,
            rows=N, added=N, changed=0, conflicts=0, actor="tester", imported_at=AT))
        conn.execute(insert(batches).values(id=1, platform="mturk", batch_key="1", title="t",
                                            reward_cents=15, created_at=AT, import_id=1))
        conn.execute(insert(workers), rows(lambda i: {
            "pseudonym": f"w_{i:08d}", "platform": "mturk", "created_at": AT}))
        conn.execute(insert(vault), rows(lambda i: {
            "pseudonym": f"w_{i:08d}", "platform": "mturk",
            "platform_worker_id": f"A{i:012d}", "created_at": AT}))
        conn.execute(insert(submissions), rows(lambda i: {
            "id": i + 1, "platform": "mturk", "assignment_id": f"AS{i:010d}",
            "task_id": f"H{i:010d}", "batch_id": 1, "worker": f"w_{i:08d}",
            "status": "Approved", "submit_time": AT, "work_time_s": 60.0,
            "time_kind": "wall_clock_accept_to_submit", "reward_cents": 15,
            "content_sha256": f"{i:064d}", "answer": "{}", "raw": "{}", "import_id": 1,
            "row": i + 1}))
        conn.execute(insert(reviews), rows(lambda i: {
            "submission_id": i + 1, "decision": "approve", "reviewer": "alice",
            "created_at": AT}))
        conn.execute(insert(bonuses), rows(lambda i: {
            "worker": f"w_{i:08d}", "submission_id": i + 1, "amount_cents": 5,
            "currency": "USD", "reason": "top-up to the wage floor", "token": f"t{i:08d}",
            "created_at": AT}))


@pytest.fixture
def big(tmp_path: Path, pg_schema_url: str) -> Iterator[Project]:
    project = tracework.init(tmp_path / "proj", categories=MOUSE, database_url=pg_schema_url,
                             actor="tester")
    try:
        _fill(project)
        yield project
    finally:
        project.close()


def test_more_ids_than_postgresql_binds(big: Project, tmp_path: Path) -> None:
    with big.store.read() as conn:
        decided = decisions_in_force(conn, range(1, N + 1))
    assert len(decided) == N and {r.decision for r in decided.values()} == {"approve"}

    upload = review.export_mturk(big, tmp_path / "upload.csv")
    assert upload.rows == N
    with (tmp_path / "upload.csv").open(newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == N and written[-1]["WorkerId"] == f"A{N - 1:012d}"

    tokens = [f"t{i:08d}" for i in range(N)]
    bonus_file = export_bonuses(big, tmp_path / "bonuses.csv", tokens=tokens)
    assert bonus_file.rows == N
    assert mark_paid(big, tokens=tokens) == N


def _fill_labels_and_answers(project: Project) -> None:
    """One image and one box per submission; every worker consented and answered Q2."""
    def rows(build: object) -> list[dict[str, object]]:
        return [build(i) for i in range(N)]  # type: ignore[operator]

    with project.store.write() as conn:
        conn.execute(workers.update().values(consent_link=True, consent_publish=True))
        conn.execute(insert(assets), rows(lambda i: {
            "id": i + 1, "uri": f"https://example.org/{i}.jpg", "file_name": f"{i}.jpg",
            "width": 100, "height": 50}))
        conn.execute(insert(annotations), rows(lambda i: {
            "id": i + 1, "submission_id": i + 1, "asset_id": i + 1, "worker": f"w_{i:08d}",
            "element": "boxes", "kind": "bbox", "category": "Body", "taxonomy_version": 1,
            "bbox_x": 1.0, "bbox_y": 2.0, "bbox_w": 3.0, "bbox_h": 4.0, "area": 12.0}))
        conn.execute(insert(responses), rows(lambda i: {
            "id": i + 1, "source": "qualtrics", "response_id": f"R_{i:010d}",
            "worker": f"w_{i:08d}", "status": "IP Address", "end_time": AT,
            "content_sha256": f"{i:064d}", "raw": "{}", "import_id": 1, "row": i + 1}))
        conn.execute(insert(answers), rows(lambda i: {
            "response_id": i + 1, "question": "Q2", "label": "Gender",
            "value": json.dumps("woman" if i % 2 else "man")}))


def test_an_export_selects_more_ids_than_postgresql_binds(big: Project, tmp_path: Path) -> None:
    _fill_labels_and_answers(big)
    report = tracework.export_coco(big, tmp_path / "coco")
    assert (report.images, report.annotations, report.workers,
            report.workers_with_published_answers) == (N, N, N, N)
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text(encoding="utf-8"))
    assert len(doc["images"]) == N and len(doc["annotations"]) == N
    last = doc["annotations"][-1]
    assert (last["image_id"], last["attributes"]["worker"]) == (N, f"w_{N - 1:08d}")
    assert last["attributes"]["survey"] == {"Q2": "woman" if (N - 1) % 2 else "man"}

    policy = SurveyPolicy(demographics={"gender": "Q2"}, free_text=frozenset())
    everyone = [f"w_{i:08d}" for i in range(N)]
    with big.store.read() as conn:
        shown = published_demographics(conn, policy, everyone)
        counted = consenting_answers(conn, policy, everyone)
    assert len(shown) == len(counted) == N
    assert shown["w_00000001"] == {"gender": "woman"} and counted["w_00000000"] == {"gender": "man"}

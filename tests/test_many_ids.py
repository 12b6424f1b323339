"""Past PostgreSQL's 65,535 bound parameters: the platform upload, the review queue's decisions
and the bonus file and its confirmation query their ids in chunks, so a team-sized batch works.

The rows are written straight into the store (the ingest path is tested elsewhere); 66,000
workers each with one decided submission and one planned bonus.
"""

from __future__ import annotations

import csv
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
    batches,
    bonuses,
    imports,
    reviews,
    submissions,
    vault,
    workers,
)
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

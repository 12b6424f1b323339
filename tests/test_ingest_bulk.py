"""Bulk ingest: rows written a chunk at a time give the store row-at-a-time writing gives, and
an import holds the single writer lock only while it writes, not while it reads and decodes."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

import tracework
from builders import small_files
from conftest import MOUSE
from tracework.core import integrity
from tracework.core.errors import LedgerError
from tracework.core.ledger import Draft, LedgerWriter
from tracework.core.project import Project
from tracework.core.store.schema import annotations, ledger, submissions, workers
from tracework.fieldnotes import notes
from tracework.ingest import mturk
from tracework.ingest.common import insert_returning


def _store(project: Project) -> str:
    """What an import wrote, without the times that differ between runs; pseudonyms numbered
    in order of first appearance and content hashes (which cover them) left out: each project
    has its own secret."""
    with project.store.read() as conn:
        subs = [tuple(r) for r in conn.execute(
            select(submissions.c.id, submissions.c.assignment_id, submissions.c.worker,
                   submissions.c.asset_id, submissions.c.raw)
            .order_by(submissions.c.id))]
        anns = [tuple(r) for r in conn.execute(
            select(annotations.c.id, annotations.c.submission_id, annotations.c.kind,
                   annotations.c.category, annotations.c.rle_counts, annotations.c.area)
            .order_by(annotations.c.id))]
        who = len(conn.execute(select(workers.c.pseudonym)).all())
        log = [(r.seq, r.action, r.target, r.new) for r in conn.execute(
            select(ledger.c.seq, ledger.c.action, ledger.c.target, ledger.c.new)
            .where(ledger.c.action != "import.finish").order_by(ledger.c.seq))]
    text = json.dumps({"submissions": subs, "annotations": anns, "workers": who, "log": log})
    names: dict[str, str] = {}
    text = re.sub(r"[0-9a-f]{64}", "SHA", text)
    return re.sub(r"w_[a-z2-7]{12}", lambda m: names.setdefault(m.group(), f"W{len(names)}"),
                  text)


def test_chunks_of_any_size_write_the_same_rows_and_log(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    files = small_files(tmp_path / "files")
    stores = []
    for chunk in (1, 4, 1000):
        monkeypatch.setattr(mturk, "WRITE_CHUNK", chunk)
        project = tracework.init(tmp_path / f"chunk{chunk}", categories=MOUSE, actor="t")
        try:
            report = tracework.ingest_mturk(project, files.batch_csv)
            assert report.added == files.submissions
            assert tracework.verify(project).ok
            stores.append(_store(project))
            again = tracework.ingest_mturk(project, files.batch_csv)
            assert (again.repeated, again.added) == (True, 0)
        finally:
            project.close()
    assert stores[1] == stores[0]
    assert stores[2] == stores[0]
    log = json.loads(stores[0])["log"]
    # Row order, as one row at a time writes it: a worker's creation, the asset, the batch,
    # the submission, its annotations; then the next row.
    actions = [a for _, a, _, _ in log]
    first = actions.index("submission.create")
    assert actions[:first + 1] == ["taxonomy.version", "import.start", "worker.create",
                                   "asset.create", "batch.create", "submission.create"]
    assert actions[first + 1] == "annotation.create"
    assert actions.count("submission.create") == files.submissions


def test_another_writer_goes_on_while_an_import_decodes(project: Project,
                                                        tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    events: list[str] = []

    def other_writer() -> None:
        note = notes.add(project, "category:Body", "colours checked against the guide")
        events.append(f"note {note.id} stored")

    def progress(rows: int) -> None:
        if rows != 1:
            return
        events.append("import decoding")
        other = threading.Thread(target=other_writer)
        other.start()
        # Were the import holding the writer lock, the note could not be stored before the
        # import goes on (the join's bound only keeps a failing run from hanging).
        other.join(timeout=120)
        events.append("import goes on")

    report = tracework.ingest_mturk(project, files.batch_csv, progress=progress)
    events.append("import stored")
    assert events == ["import decoding", "note 1 stored", "import goes on", "import stored"]
    assert report.added == files.submissions
    assert [n.text for n in notes.list_notes(project)] == ["colours checked against the guide"]
    assert tracework.verify(project).ok


def _annotation(submission: Any, **values: Any) -> dict[str, Any]:
    row = {"submission_id": submission.id, "asset_id": submission.asset_id,
           "worker": submission.worker, "element": "extra", "kind": "bbox",
           "category": "Body", "taxonomy_version": 1, "rle_counts": None, "height": 108,
           "width": 160, "bbox_x": 3, "bbox_y": 4, "bbox_w": 10, "bbox_h": 20, "area": 200,
           "value": None}
    return {**row, **values}


def test_rows_sealed_from_their_inserted_values_verify(project: Project,
                                                        tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        sub = conn.execute(select(submissions).limit(1)).one()
    with project.store.write() as conn:
        log = LedgerWriter(conn, "t")
        # Integers in float columns, as a parser gives them: sealed as they read back.
        rows = [_annotation(sub), _annotation(sub, bbox_x=5)]
        ids = insert_returning(conn, annotations, rows)
        integrity.seal_inserted(conn, "annotations", rows)
        # Changed after its insert and sealed again: read back at commit.
        conn.execute(update(annotations).where(annotations.c.id == ids[1])
                     .values(category="Cable"))
        integrity.seal(conn, "annotations", [ids[1]])
        log.extend(Draft("annotation.create", f"annotation:{i}") for i in ids)
        log.flush()
    assert tracework.verify(project).ok
    with project.store.read() as conn:
        assert conn.execute(select(annotations.c.category, annotations.c.bbox_x)
                            .where(annotations.c.id.in_(ids)).order_by(annotations.c.id)
                            ).all() == [("Body", 3.0), ("Cable", 5.0)]


def test_values_that_differ_from_the_row_inserted_do_not_verify(project: Project,
                                                                tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        sub = conn.execute(select(submissions).limit(1)).one()
    with project.store.write() as conn:
        log = LedgerWriter(conn, "t")
        row = _annotation(sub)
        (ann_id,) = insert_returning(conn, annotations, [row])
        integrity.seal_inserted(conn, "annotations", [{**row, "area": 201}])
        log.append("annotation.create", f"annotation:{ann_id}")
        log.flush()
    with pytest.raises(LedgerError) as info:
        tracework.verify(project)
    assert f"table annotations, row {ann_id}: column area differs" in str(info.value)

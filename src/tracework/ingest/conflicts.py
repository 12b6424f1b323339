"""Conflicts: a re-import whose content differs from what is stored, and their resolution.

An import never overwrites stored work: it records a conflict holding the incoming record
(its cells, answer and derived annotations, worker ids already replaced by pseudonyms). A
person resolves it by keeping the stored record or the incoming one, with a reason; either
way the resolution is a ledger entry, and keeping the incoming record logs every row it
replaces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select, update

from tracework.core import integrity
from tracework.core.errors import InputError, NotFound
from tracework.core.ledger import LedgerWriter, canonical
from tracework.core.project import Project
from tracework.core.store.schema import annotations as annotation_rows
from tracework.core.store.schema import (
    answers,
    conflicts,
    imports,
    responses,
    submissions,
)

__all__ = ["Conflict", "Keep", "list_conflicts", "resolve_conflict", "show_conflict"]

Keep = Literal["stored", "incoming"]
States = Literal["open", "resolved", "all"]


@dataclass
class Conflict:
    """One conflict; ``changes`` (from :func:`show_conflict`) maps each differing field to its
    stored and incoming values."""

    id: int
    target: str
    file: str
    row: int
    fields: list[str]
    state: str
    created_at: str
    changes: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _query() -> Any:
    return (select(conflicts, imports.c.file_name)
            .join(imports, conflicts.c.import_id == imports.c.id).order_by(conflicts.c.id))


def _conflict(r: Any) -> Conflict:
    return Conflict(int(r.id), str(r.target), str(r.file_name), int(r.row),
                    list(json.loads(r.fields)), str(r.state), str(r.created_at))


def list_conflicts(project: Project, *, state: States = "open") -> list[Conflict]:
    """Conflicts in ``state`` (``open``, ``resolved`` — kept stored or incoming — or ``all``)."""
    query = _query()
    if state == "open":
        query = query.where(conflicts.c.state == "open")
    elif state == "resolved":
        query = query.where(conflicts.c.state != "open")
    with project.store.read() as conn:
        return [_conflict(r) for r in conn.execute(query)]


def _load(conn: Connection, conflict_id: int) -> Any:
    row = conn.execute(_query().where(conflicts.c.id == conflict_id)).first()
    if row is None:
        raise NotFound(f"no conflict {conflict_id}",
                            hint="`tracework conflicts list --state all` lists them.")
    return row


def _stored_values(conn: Connection, target: str) -> dict[str, str]:
    kind, _, ident = target.partition(":")
    table = submissions if kind == "submission" else responses
    row = conn.execute(select(table.c.raw).where(table.c.id == int(ident))).first()
    return dict(json.loads(row.raw)) if row is not None else {}


def show_conflict(project: Project, conflict_id: int) -> Conflict:
    """One conflict with the stored and incoming value of every field that differs."""
    with project.store.read() as conn:
        row = _load(conn, conflict_id)
        found = _conflict(row)
        stored = _stored_values(conn, found.target)
    incoming = json.loads(row.incoming).get("content", {})
    found.changes = {k: {"stored": stored.get(k), "incoming": incoming.get(k)}
                     for k in found.fields}
    return found


def resolve_conflict(project: Project, conflict_id: int, *, keep: Keep,
                     reason: str) -> Conflict:
    """Close an open conflict, keeping the stored or the incoming record; a ledger entry."""
    if keep not in ("stored", "incoming"):
        raise InputError(f"--keep must be stored or incoming, not {keep!r}", field="--keep")
    if not reason.strip():
        raise InputError("a resolution needs a reason", field="--reason",
                         hint="Say why, e.g. --reason 'the worker re-submitted the fix'.")
    with project.store.write() as conn:
        row = _load(conn, conflict_id)
        if row.state != "open":
            raise InputError(f"conflict {conflict_id} is already resolved ({row.state})",
                             field="CONFLICT_ID")
        log = LedgerWriter(conn, project.actor)
        if keep == "incoming":
            _apply_incoming(conn, log, row.target, json.loads(row.incoming), conflict_id)
        state = f"kept {keep}"
        conn.execute(update(conflicts).where(conflicts.c.id == conflict_id).values(state=state))
        integrity.seal(conn, "conflicts", [conflict_id])
        log.append("conflict.resolve", f"conflict:{conflict_id}", field="state", old="open",
                   new={"keep": keep, "target": row.target}, reason=reason.strip())
        log.flush()
        found = _conflict(row)
        found.state = state
    return found


def _apply_incoming(conn: Connection, log: LedgerWriter, target: str, kept: dict[str, Any],
                    conflict_id: int) -> None:
    kind, _, ident = target.partition(":")
    why = f"conflict {conflict_id} resolved: incoming kept"
    if kind == "submission":
        sub_id = int(ident)
        old = conn.execute(select(submissions.c.content_sha256)
                           .where(submissions.c.id == sub_id)).scalar_one()
        conn.execute(update(submissions).where(submissions.c.id == sub_id).values(
            raw=canonical(kept["raw"]), answer=canonical(kept["answer"]),
            content_sha256=kept["content_sha256"]))
        integrity.seal(conn, "submissions", [sub_id])
        log.append("submission.update", target, field="content_sha256", old=old,
                   new=kept["content_sha256"], reason=why)
        _replace_annotations(conn, log, sub_id, kept["annotations"], why)
        return
    rid = int(ident)
    old = conn.execute(select(responses.c.content_sha256)
                       .where(responses.c.id == rid)).scalar_one()
    conn.execute(update(responses).where(responses.c.id == rid).values(
        raw=canonical(kept["content"]), content_sha256=kept["content_sha256"]))
    integrity.seal(conn, "responses", [rid])
    integrity.seal_where(conn, "answers", "response_id", [rid])     # the rows deleted here
    conn.execute(delete(answers).where(answers.c.response_id == rid))
    if kept["answers"]:
        conn.execute(insert(answers), kept["answers"])
    integrity.seal_where(conn, "answers", "response_id", [rid])     # the rows that replace them
    log.append("response.update", target, field="content_sha256", old=old,
               new=kept["content_sha256"], reason=why)


def _replace_annotations(conn: Connection, log: LedgerWriter, sub_id: int,
                         rows: list[dict[str, Any]], why: str) -> None:
    gone = [int(r.id) for r in conn.execute(
        select(annotation_rows.c.id).where(annotation_rows.c.submission_id == sub_id))]
    conn.execute(delete(annotation_rows).where(annotation_rows.c.submission_id == sub_id))
    integrity.seal(conn, "annotations", gone)
    for ann_id in gone:
        log.append("annotation.delete", f"annotation:{ann_id}", reason=why)
    for values in rows:
        new_id = conn.execute(insert(annotation_rows).values(**values)
                              .returning(annotation_rows.c.id)).scalar_one()
        integrity.seal(conn, "annotations", [int(new_id)])
        log.append("annotation.create", f"annotation:{int(new_id)}",
                   new={"submission": sub_id, "kind": values["kind"],
                        "category": values["category"], "area": values["area"]},
                   reason=why)

"""Decisions typed into the platform's own file: a batch results CSV (or an upload file) with
``X`` under Approve or the reason under Reject, read back in one transaction.

This is how the study's reviewers worked; reading the file here puts those decisions, with
their reasons, into the record before the file goes to the platform. Every row is checked
first: an unknown assignment id, a row with both columns filled, an Approve cell that is not
``X``, a reason the platform would refuse, a submission decided otherwise already, each stops
the whole file with an error naming the row, and nothing is stored. Reading the same file
again changes nothing. Changing a decision from the file is explicit (``redecide``); a row that
approves a decided submission carries no reason of its own, so the reviewer gives one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from tracework.core.errors import ConflictError, InputError
from tracework.core.ledger import LedgerWriter
from tracework.core.project import Project
from tracework.core.store.schema import submissions
from tracework.formats.csvio import open_table
from tracework.review.common import UNDECIDED, in_force, lock_submission
from tracework.review.decisions import BulkReport, Choice, apply_choice, count_choice
from tracework.review.reasons import check_reason, clean_reason, reason_problem

__all__ = ["FILE_COLUMNS", "decide_file"]

FILE_COLUMNS = ("AssignmentId", "Approve", "Reject")


def _row_choice(path: Path, row: int, approve: str, reject: str, clean: bool
                ) -> Choice | None:
    if not approve and not reject:
        return None
    if approve and reject:
        raise InputError("both Approve and Reject are filled", file=str(path), row=row,
                         field="Reject", hint="Keep X under Approve or a reason under Reject.")
    if approve:
        if approve.upper() != "X":
            raise InputError(f"Approve holds {approve[:20]!r}; the platform expects X",
                             file=str(path), row=row, field="Approve")
        return Choice("approve", "", "")
    text = clean_reason(reject) if clean else reject
    problem = reason_problem(text)
    if problem is not None:
        raise InputError(problem, file=str(path), row=row, field="Reject",
                         hint="Fix the reason in the file (or pass --clean for control "
                              "characters); nothing was stored.")
    return Choice("reject", "", text)


def _same(current: Any, choice: Choice) -> bool:
    return current is not None and current.decision == choice.decision and (
        choice.decision == "approve" or current.reason_text == choice.reason_text)


def _read(conn: Connection, path: Path, max_field_bytes: int, clean: bool
          ) -> list[tuple[int, int, Choice]]:
    """(file row, submission, choice) for every filled row, all checked."""
    out: list[tuple[int, int, Choice]] = []
    seen: dict[str, int] = {}
    with open_table(path, max_field_bytes=max_field_bytes) as table:
        missing = [c for c in FILE_COLUMNS if c not in table.header]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", file=str(path),
                             hint="Use the platform's batch results or upload file layout: "
                                  "AssignmentId, Approve, Reject.")
        col = {c: table.header.index(c) for c in FILE_COLUMNS}
        for row, _line, cells in table:
            assignment = cells[col["AssignmentId"]].strip()
            first = seen.setdefault(assignment, row)
            if first != row:
                raise InputError(f"assignment appears twice (first at row {first})",
                                 file=str(path), row=row, field="AssignmentId")
            choice = _row_choice(path, row, cells[col["Approve"]].strip(),
                                 cells[col["Reject"]].strip(), clean)
            if choice is None:
                continue
            found = conn.execute(select(submissions.c.id).where(
                submissions.c.platform == "mturk",
                submissions.c.assignment_id == assignment)).first()
            if found is None:
                raise InputError(f"no submission with assignment id {assignment[:64]!r} in "
                                 "this project", file=str(path), row=row, field="AssignmentId",
                                 hint="Ingest the batch this file belongs to first; nothing "
                                      "was stored.")
            out.append((row, int(found.id), choice))
    return out


def _redecision_reason(reason: str | None, clean: bool) -> str | None:
    if reason is None or not reason.strip():
        return None
    return check_reason(clean_reason(reason) if clean else reason, field="--reason")


def _approved_again(source: Path, row: int, sid: int, reason: str | None) -> Choice:
    if reason is None:
        raise InputError(f"approving submission {sid}, decided already, needs a reason the "
                         "worker can read", file=str(source), row=row,
                         field="Approve", hint="Pass --reason \"...\" with --redecide; "
                                               "nothing was stored.")
    return Choice("approve", "", reason)


def decide_file(project: Project, path: Path | str, *, redecide: bool = False,
                reason: str | None = None, clean: bool = False,
                reviewer: str | None = None) -> BulkReport:
    """Record the decisions in a platform-layout file (one transaction, all or nothing).

    Rows with neither column filled are left undecided; a row repeating the decision in force
    is unchanged; a different decision on a decided submission needs ``redecide``, and when
    that row approves, ``reason`` (the Reject text is the reason of a rejection).
    """
    source = Path(path)
    who = reviewer or project.actor
    again = _redecision_reason(reason, clean)

    def work(conn: Connection) -> BulkReport:
        report = BulkReport()
        rows = _read(conn, source, project.settings["max_field_bytes"], clean)
        log = LedgerWriter(conn, who)
        for row, sid, choice in rows:
            current, status = in_force(conn, sid), lock_submission(conn, sid).status
            if _same(current, choice):
                report.unchanged += 1
                continue
            decided = current is not None or status != UNDECIDED
            if decided and not redecide:
                raise ConflictError(f"{source}, row {row}: submission {sid} is already "
                                    f"decided ({status})",
                                    hint="Pass --redecide to change decisions from the file; "
                                         "nothing was stored.")
            if decided and choice.decision == "approve":
                choice = _approved_again(source, row, sid, again)
            apply_choice(conn, log, sid, choice, who, redecide=redecide)
            count_choice(report, choice)
        log.flush()
        report.ledger_head = log.hash
        return report

    return project.store.run_write(work)

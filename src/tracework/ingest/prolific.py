"""Prolific exports in: submissions through the platform importer, demographics as responses.

:func:`ingest_prolific` imports the submissions export through
:func:`~tracework.ingest.platforms.ingest_platform` (one transaction, idempotent per file) and,
when given, the demographic export as one survey response per submission (``source`` =
``prolific``), linked to the participant's pseudonym, in a second transaction. Both files are
read and checked before anything is written, so a malformed demographic export stores nothing
either.

Demographic answers are the participants' own: they stay inside the project unless the worker
consents to publish (the consent a linked Qualtrics survey records), like any survey answer.

A participant whose row says ``CONSENT_REVOKED`` (in either file) has withdrawn consent: their
consent scopes are set to none (a ledger entry), no answer of theirs is stored, and every
survey response already stored for them — from Prolific or any linked survey — is removed with
its answers, its open conflicts and its vault values (a ``response.drop`` ledger entry each),
so no export can publish it. Their submissions stay: they are the record of work done and paid.

A Qualtrics survey links to these participants through ``PROLIFIC_PID``: import it with
``--platform prolific --worker-column PROLIFIC_PID``; ids are normalised the same way on both
sides, so the pseudonyms meet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from tracework.core import ledger
from tracework.core.errors import InputError
from tracework.core.ledger import LedgerWriter, canonical
from tracework.core.privacy import ensure_worker, set_consent, stash_identifying
from tracework.core.project import Project
from tracework.core.store import chunks, inserted_id
from tracework.core.store.schema import answers, conflicts, responses, vault_values
from tracework.formats import prolific
from tracework.formats.canonical import PlatformFile
from tracework.formats.csvio import sha256_file
from tracework.ingest.common import (
    ImportReport,
    Progress,
    already_imported,
    file_errors,
    finish_import,
    start_import,
)
from tracework.ingest.platforms import PlatformReport, ingest_platform

__all__ = ["DEMOGRAPHICS_KIND", "ProlificReport", "ingest_prolific"]

DEMOGRAPHICS_KIND = "prolific-demographics"
_SOURCE = "prolific"
_TYPED_ID = "typed worker id"
_REVOKED_REASON = "Prolific: the participant revoked consent (CONSENT_REVOKED)"


@dataclass
class ProlificReport(PlatformReport):
    """The submissions import, plus what the demographic export and revocations did."""

    demographics: ImportReport | None = None
    revoked: int = 0                # participants whose consent is revoked in these files
    responses_dropped: int = 0      # stored responses removed because consent was revoked
    expired_cells: int = 0          # DATA_EXPIRED cells: unknown, not stored
    extra_notes: list[str] = field(default_factory=list)


def _import_sha(file_sha: str) -> str:
    # The same file may be both the submissions and the demographic export; the import of
    # its demographics is told apart from that of its submissions by its kind.
    return hashlib.sha256(f"{DEMOGRAPHICS_KIND}\x1f{file_sha}".encode()).hexdigest()


def ingest_prolific(project: Project, submissions: Path | str, *,
                    demographics: Path | str | None = None, study: str | None = None,
                    progress: Progress | None = None) -> ProlificReport:
    """Import a Prolific submissions export and, optionally, its demographic export.

    ``study`` names the batch (default: the study id in the ``prolific_export_<id>.csv``
    file name). Returns the submissions' report with the demographics' in ``demographics``.
    """
    settings = {"max_field_bytes": project.settings["max_field_bytes"],
                "max_columns": project.settings["max_columns"]}
    demo = None
    if demographics is not None:
        with file_errors(Path(demographics)):
            # Checked as a submissions export too (statuses, dates), so that a broken row
            # stops both imports before either writes.
            prolific.read_prolific(demographics, study=study, **settings)
            demo = prolific.read_demographics(demographics, **settings)
    parsed: list[prolific.ProlificFile] = []

    pay = project.config.get("pay", {})
    currency = str(pay.get("currency", "USD")) if isinstance(pay, dict) else "USD"

    def read(path: Path) -> PlatformFile:
        found = prolific.read_prolific(path, study=study, **settings)
        if found.currency is not None and found.currency != currency:
            raise InputError(f"rewards are in {found.currency}, the project pays in {currency}",
                             file=str(path), field="Reward",
                             hint=f"Set currency = \"{found.currency}\" under [pay] in "
                                  "tracework.toml if the project pays in it.")
        parsed.append(found)
        return found

    base = ingest_platform(project, submissions, "prolific", read, progress=progress)
    report = ProlificReport(**base.__dict__)
    revoked = {pid for pf in parsed for pid in pf.revoked}
    if demo is not None:
        revoked |= {p.participant_id for p in demo.revoked}
        report.demographics = _write_demographics(project, Path(demographics or ""), demo,
                                                  revoked, report)
    elif revoked:
        _apply_revocations(project, revoked, report)
    report.revoked = len(revoked)
    return report


def _write_demographics(project: Project, path: Path, demo: prolific.Demographics,
                        revoked: set[str], report: ProlificReport) -> ImportReport:
    with file_errors(path):
        file_sha = sha256_file(path)
    sha = _import_sha(file_sha)
    out = ImportReport(file=path.name, kind=DEMOGRAPHICS_KIND, sha256=file_sha)
    with project.store.write() as conn:
        log = LedgerWriter(conn, project.actor)
        if already_imported(conn, sha):
            out.repeated = True
            _revoke(conn, log, project, revoked, report)
            log.flush()
            return out
        import_id = start_import(conn, path, sha, DEMOGRAPHICS_KIND, project.actor)
        log.append("import.start", f"import:{import_id}",
                   new={"kind": DEMOGRAPHICS_KIND, "file": path.name, "sha256": file_sha})
        known: dict[str, str] = {}
        for person in demo.participants:
            out.rows += 1
            if person.participant_id in revoked:
                continue
            token, created = ensure_worker(conn, log, project.secret, prolific.PLATFORM,
                                           person.participant_id, known)
            out.workers_new += int(created)
            report.expired_cells += len(person.expired)
            _write_response(conn, log, import_id, person, token, out)
        out.consent_changes = _revoke(conn, log, project, revoked, report)
        finish_import(conn, log, import_id, out)
    return out


def _write_response(conn: Connection, log: LedgerWriter, import_id: int,
                    person: prolific.Participant, token: str, out: ImportReport) -> None:
    content: dict[str, Any] = {"answers": person.answers, "expired": list(person.expired)}
    text = canonical(content)
    content_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    existing = conn.execute(select(responses.c.id, responses.c.content_sha256).where(
        (responses.c.source == _SOURCE)
        & (responses.c.response_id == person.submission_id))).first()
    if existing is not None:
        if existing.content_sha256 == content_sha:
            out.unchanged += 1
            return
        target = f"response:{existing.id}"
        conn.execute(insert(conflicts).values(
            target=target, import_id=import_id, row=person.row,
            fields=canonical(["answers"]), incoming=canonical(
                {"content": content, "content_sha256": content_sha}),
            state="open", created_at=ledger.now()))
        log.append("response.conflict", target, old=existing.content_sha256, new=content_sha,
                   reason=f"{out.file} row {person.row} differs; stored answers kept")
        out.conflicts += 1
        return
    result = conn.execute(insert(responses).values(
        source=_SOURCE, response_id=person.submission_id, worker=token, status="demographics",
        finished=None, start_time=None, end_time=None, duration_s=None,
        content_sha256=content_sha, raw=text, import_id=import_id, row=person.row))
    rid = inserted_id(result)
    if person.typed_id != person.participant_id:
        stash_identifying(conn, f"response:{rid}", {_TYPED_ID: person.typed_id})
    rows = [{"response_id": rid, "question": q, "label": q, "value": canonical(v),
             "other_text": None} for q, v in person.answers.items()]
    if rows:
        conn.execute(insert(answers), rows)
    log.append("response.create", f"response:{rid}", new={
        "response_id": person.submission_id, "worker": token, "answers": len(rows),
        "expired": len(person.expired), "content_sha256": content_sha})
    out.added += 1


def _apply_revocations(project: Project, revoked: set[str], report: ProlificReport) -> None:
    with project.store.write() as conn:
        log = LedgerWriter(conn, project.actor)
        _revoke(conn, log, project, revoked, report)
        log.flush()


def _revoke(conn: Connection, log: LedgerWriter, project: Project, revoked: Iterable[str],
            report: ProlificReport) -> int:
    """Consent none and no stored answers for each participant; the number of consent changes."""
    changed = 0
    known: dict[str, str] = {}
    if revoked and conn.dialect.name == "sqlite":
        # Deleted rows would otherwise stay readable in the file's free pages.
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    for pid in sorted(revoked):
        token, _ = ensure_worker(conn, log, project.secret, prolific.PLATFORM, pid, known)
        changed += set_consent(conn, log, token, [], reason=_REVOKED_REASON)
        ids = [int(r.id) for r in conn.execute(
            select(responses.c.id).where(responses.c.worker == token))]
        for part in chunks(ids):
            owners = [f"response:{i}" for i in part]
            conn.execute(delete(answers).where(answers.c.response_id.in_(part)))
            conn.execute(delete(conflicts).where(conflicts.c.target.in_(owners)))
            conn.execute(delete(vault_values).where(vault_values.c.owner.in_(owners)))
            conn.execute(delete(responses).where(responses.c.id.in_(part)))
        for rid in ids:
            log.append("response.drop", f"response:{rid}", new={"worker": token},
                       reason=_REVOKED_REASON)
        report.responses_dropped += len(ids)
    return changed

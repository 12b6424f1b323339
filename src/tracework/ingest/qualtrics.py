"""Qualtrics survey exports become responses and answers, linked to workers, in one transaction.

A response links to a worker with submissions by the worker id it carries (typed by the
respondent or passed in the survey link, normalised for matching; the typed value is kept in
the vault, since it is a raw id too) or, with ``link_by_code``, by a completion code equal to
an answer of exactly one worker's submissions. Response types that are nobody's real answers
(previews, tests, spam) are left out unless asked for, and counted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from tracework.core import integrity, ledger
from tracework.core.errors import ConfigError, InputError
from tracework.core.ledger import LedgerWriter, canonical
from tracework.core.privacy import Scope, ensure_worker, pseudonym, set_consent, stash_identifying
from tracework.core.project import Project
from tracework.core.store import inserted_id
from tracework.core.store.schema import answers, conflicts, responses, submissions
from tracework.formats import qualtrics
from tracework.formats.csvio import sha256_file
from tracework.formats.workerids import normalise_worker_id
from tracework.ingest.common import (
    ImportReport,
    Progress,
    already_imported,
    count,
    file_errors,
    finish_import,
    guard_transaction,
    iso,
    redact,
    start_import,
)
from tracework.ingest.linking import CodeIndex, Linked, parse_link_by_code

__all__ = ["ingest_qualtrics"]

#: The vault field that keeps a worker id as the respondent typed it.
TYPED_ID_FIELD = "typed worker id"


def _consent_scopes(project: Project, response: qualtrics.SurveyResponse,
                    consent_column: str | None) -> tuple[set[Scope], str | None] | None:
    """The scopes a response grants, or None when it says nothing about consent.

    Yes values compare without regard to case, so a spreadsheet's ``TRUE`` is ``True``.
    """
    cfg = project.consent_config()
    yes = {str(v).casefold() for v in cfg.get("yes_values", ["Yes", "True", "1"])}
    granted: set[Scope] = set()
    said = False

    def says_yes(column: str) -> bool:
        return (response.values.get(column) or "").strip().casefold() in yes

    if consent_column:
        said = True
        if says_yes(consent_column):
            granted.update(cfg.get("scopes", ["link", "publish"]))
    for column, scopes in dict(cfg.get("columns", {})).items():
        if column in response.values:
            said = True
            if says_yes(column):
                granted.update(scopes)
    name = None
    name_column = cfg.get("credit_name_column") or ""
    if name_column:
        said = True
        name = (response.values.get(name_column) or "").strip() or None
        if name:
            granted.add("credit")
    if not said:
        return None
    bad = granted - {"link", "publish", "credit"}
    if bad:
        raise ConfigError(f"tracework.toml [consent]: unknown scope(s) {sorted(bad)}")
    return granted, name


@dataclass
class _Options:
    worker_column: str | None
    consent_column: str | None
    platform: str
    included: frozenset[str]
    code_column: str | None
    code_index: CodeIndex | None


def ingest_qualtrics(project: Project, path: Path | str, *, worker_column: str | None = None,
                     consent_column: str | None = None, platform: str = "mturk",
                     include_previews: bool = False, include_types: Collection[str] = (),
                     multi_select: Iterable[str] = (), link_by_code: str | None = None,
                     date_format: str | None = None,
                     progress: Progress | None = None) -> ImportReport:
    """Import a Qualtrics survey export; answers link to workers by id or completion code.

    ``link_by_code`` is ``SURVEY_COLUMN=BATCH_ANSWER_FIELD`` (e.g. ``MTurkCode=surveycode``);
    ``include_types`` keeps response types left out by default (``preview``, ``test``,
    ``spam``); ``date_format`` reads dates a spreadsheet re-saved (``%m/%d/%Y %H:%M``).
    """
    path = Path(path)
    if worker_column is None and link_by_code is None:
        raise InputError("say how responses link to workers: a worker column, a completion "
                         "code, or both", field="--worker-column",
                         hint="e.g. --worker-column workerId, or --link-by-code "
                              "MTurkCode=Answer.surveycode")
    code_spec = None
    if link_by_code is not None:
        try:
            code_spec = parse_link_by_code(link_by_code)
        except ValueError as exc:
            raise InputError(str(exc), field="--link-by-code") from None
    included = frozenset(include_types) | ({"preview"} if include_previews else frozenset())
    with file_errors(path):
        sha = sha256_file(path)
    report = ImportReport(file=path.name, kind="qualtrics", sha256=sha)
    with project.store.read() as conn:
        if already_imported(conn, sha):
            report.repeated = True
            return report
    with project.store.write() as conn, file_errors(path):
        guard_transaction(conn)
        if already_imported(conn, sha):
            report.repeated = True
            return report
        log = LedgerWriter(conn, project.actor)
        import_id = start_import(conn, path, sha, "qualtrics", project.actor)
        log.append("import.start", f"import:{import_id}",
                   new={"kind": "qualtrics", "file": path.name, "sha256": sha})
        options = _Options(worker_column, consent_column, platform, included,
                           code_spec[0] if code_spec else None,
                           CodeIndex.build(conn, platform, code_spec[1]) if code_spec else None)
        with qualtrics.read_survey(path, worker_column=worker_column,
                                   multi_select=tuple(multi_select), date_format=date_format,
                                   max_field_bytes=project.settings["max_field_bytes"],
                                   max_columns=project.settings["max_columns"]) as survey:
            _check_columns(path, survey, options)
            writer = _ResponseWriter(project, conn, log, path, import_id, options, report,
                                     {q.id: q.label for q in survey.questions.values()})
            for resp in survey:
                report.rows += 1
                if resp.response_type in qualtrics.EXCLUDED_TYPES - included:
                    count(report.excluded, resp.response_type)
                    report.previews_skipped += resp.response_type == "preview"
                    continue
                writer.write(resp)
                if progress:
                    progress(report.rows)
        finish_import(conn, log, import_id, report)
    return report


def _check_columns(path: Path, survey: qualtrics.Survey, options: _Options) -> None:
    ids = {c.id for c in survey.columns}
    for name, what in ((options.consent_column, "consent column"),
                       (options.code_column, "completion code column (--link-by-code)")):
        if name and name not in ids:
            raise InputError(f"{what} {name!r} is not in the file", file=str(path), field=name,
                             hint="Name the column by its id in the first header row.")


class _ResponseWriter:
    def __init__(self, project: Project, conn: Connection, log: LedgerWriter, path: Path,
                 import_id: int, options: _Options, report: ImportReport,
                 labels: dict[str, str]) -> None:
        self.project, self.conn, self.log, self.path = project, conn, log, path
        self.import_id, self.options, self.report, self.labels = import_id, options, report, labels
        self.known: dict[str, str] = {}

    def _has_work(self, token: str) -> bool:
        return self.conn.execute(select(submissions.c.id).where(
            submissions.c.worker == token).limit(1)).first() is not None

    def _link(self, normal: str, resp: qualtrics.SurveyResponse) -> Linked:
        if normal and self._has_work(pseudonym(self.project.secret, self.options.platform,
                                                normal)):
            return Linked(pseudonym(self.project.secret, self.options.platform, normal), "id")
        index, column = self.options.code_index, self.options.code_column
        if index is not None and column is not None:
            found = index.find(resp.values.get(column, ""))
            if found.by == "code" or not normal or found.reason.startswith("ambiguous"):
                return found
        return Linked(None, "none", "no match" if normal else "no id and no code")

    def write(self, resp: qualtrics.SurveyResponse) -> None:
        typed = resp.worker_key or ""
        normal = normalise_worker_id(self.options.platform, typed) if typed.strip() else ""
        linked = self._link(normal, resp)
        token = linked.worker
        if linked.by != "code" and normal:
            token = ensure_worker(self.conn, self.log, self.project.secret,
                                  self.options.platform, normal, self.known)[0]
        values = redact(dict(resp.values), {typed, normal}, token or "")
        content = canonical(values)
        content_sha = hashlib.sha256(content.encode("utf-8")).hexdigest()
        existing = self.conn.execute(select(responses).where(
            (responses.c.source == "qualtrics")
            & (responses.c.response_id == resp.response_id))).first()
        if existing is not None:
            self._seen_before(resp, existing, values, content_sha)
            return
        rid = self._insert(resp, token, content, content_sha)
        if typed.strip() and (typed != normal or linked.by == "code"):
            stash_identifying(self.conn, f"response:{rid}", {TYPED_ID_FIELD: typed})
        self.report.added += 1
        if linked.by == "id":
            self.report.linked_by_id += 1
        elif linked.by == "code":
            self.report.linked_by_code += 1
        else:
            self.report.unlinked += 1
            count(self.report.unlinked_reasons, linked.reason)
        if token is not None:
            decided = _consent_scopes(self.project, resp, self.options.consent_column)
            if decided is not None:
                scopes, name = decided
                if set_consent(self.conn, self.log, token, scopes, credit_name=name,
                               reason=f"survey response {resp.response_id}"):
                    self.report.consent_changes += 1

    def _seen_before(self, resp: qualtrics.SurveyResponse, existing: Any,
                     values: dict[str, str], content_sha: str) -> None:
        stored_sha = existing.content_sha256
        if stored_sha == content_sha:
            self.report.unchanged += 1
            return
        target = f"response:{existing.id}"
        stored = json.loads(existing.raw)
        changed = sorted(k for k in set(values) | set(stored) if values.get(k) != stored.get(k))
        kept = {"content": values, "content_sha256": content_sha,
                "answers": answer_rows(int(existing.id), resp.answers, self.labels)}
        result = self.conn.execute(insert(conflicts).values(
            target=target, import_id=self.import_id, row=resp.row,
            fields=canonical(changed), incoming=canonical(kept), state="open",
            created_at=ledger.now()))
        integrity.seal(self.conn, "conflicts", [inserted_id(result)])
        self.log.append("response.conflict", target, old=stored_sha, new=content_sha,
                        reason=f"{self.path.name} row {resp.row} differs; stored answers kept")
        self.report.conflicts += 1

    def _insert(self, resp: qualtrics.SurveyResponse, token: str | None, content: str,
                content_sha: str) -> int:
        result = self.conn.execute(insert(responses).values(
            source="qualtrics", response_id=resp.response_id, worker=token, status=resp.status,
            finished=resp.finished, start_time=iso(resp.start), end_time=iso(resp.end),
            duration_s=resp.duration_s, content_sha256=content_sha, raw=content,
            import_id=self.import_id, row=resp.row))
        rid = inserted_id(result)
        integrity.seal(self.conn, "responses", [rid])
        stash_identifying(self.conn, f"response:{rid}", dict(resp.identifying))
        rows = answer_rows(rid, resp.answers, self.labels)
        if rows:
            self.conn.execute(insert(answers), rows)
            integrity.seal_where(self.conn, "answers", "response_id", [rid])
        self.log.append("response.create", f"response:{rid}", new={
            "response_id": resp.response_id, "worker": token, "answers": len(rows),
            "content_sha256": content_sha})
        return rid


def answer_rows(rid: int, found: dict[str, qualtrics.Answer],
                labels: dict[str, str]) -> list[dict[str, object]]:
    """The ``answers`` rows of one response."""
    return [{"response_id": rid, "question": q, "label": labels.get(q, ""),
             "value": None if ans.value is None else canonical(
                 list(ans.value) if isinstance(ans.value, tuple) else ans.value),
             "other_text": ans.other_text}
            for q, ans in found.items()]

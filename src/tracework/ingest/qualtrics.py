"""Qualtrics survey exports become responses and answers, linked to workers, in one transaction.

A response links to a worker with submissions by the worker id it carries (typed by the
respondent or passed in the survey link, normalised for matching; the typed value is kept in
the vault, since it is a raw id too) or, with ``link_by_code``, by a completion code equal to
an answer of exactly one worker's submissions. Response types that are nobody's real answers
(previews, tests, spam) are left out unless asked for, and counted. Worker ids typed inside
answers or embedded data are replaced by pseudonyms before anything is stored
(:mod:`tracework.ingest.typed_ids`), and each question is judged free text or not
(:mod:`tracework.ingest.survey_questions`).

Consent follows the newest word: a response's consent answers apply unless a stored response
of the same worker ended later; a re-imported response whose consent answers changed (a "Yes"
now "No") applies them, with their ledger entries, instead of becoming a conflict, unless the
stored copy ended later. When nothing else changed the stored response takes the new answers
(a ``response.update`` entry); other changes are still a conflict. A response under the id of
an erased worker is not stored at all, and counted (``erased_refused``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from tracework.core import integrity, ledger
from tracework.core.errors import ConfigError, InputError
from tracework.core.ledger import LedgerWriter, canonical
from tracework.core.privacy import (
    Scope,
    ensure_worker,
    is_erased,
    pseudonym,
    set_consent,
    stash_identifying,
)
from tracework.core.project import Project
from tracework.core.store import inserted_id
from tracework.core.store.schema import answers, conflicts, responses, submissions
from tracework.formats import qualtrics
from tracework.formats.csvio import sha256_file
from tracework.formats.workerids import normalise_worker_id
from tracework.ingest.common import (
    ImportReport,
    Progress,
    Spool,
    count,
    file_errors,
    finish_import,
    import_transaction,
    imported_before,
    iso,
    redact,
)
from tracework.ingest.linking import ID_FIELDS, CodeIndex, Linked, parse_link_by_code
from tracework.ingest.survey_questions import record_questions
from tracework.ingest.typed_ids import TypedIds, hash_form, vault_rows

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


def _consent_columns(project: Project, consent_column: str | None) -> set[str]:
    """The columns whose answers say something about consent."""
    cfg = project.consent_config()
    names = set(dict(cfg.get("columns", {})))
    names |= {n for n in (consent_column, cfg.get("credit_name_column")) if n}
    return names


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
        worker_column = ID_FIELDS.get(platform)
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
    if imported_before(project, sha):
        report.repeated = True
        return report
    options = _Options(worker_column, consent_column, platform, included,
                       code_spec[0] if code_spec else None, None)
    with Spool() as spool:
        # Read and parsed before the write transaction opens: other writers go on meanwhile.
        with file_errors(path), qualtrics.read_survey(
                path, worker_column=worker_column, multi_select=tuple(multi_select),
                date_format=date_format, max_field_bytes=project.settings["max_field_bytes"],
                max_columns=project.settings["max_columns"]) as survey:
            _check_columns(path, survey, options)
            for resp in survey:
                spool.put(resp)
        with import_transaction(project, path, sha, "qualtrics") as started:
            if started is None:
                report.repeated = True
                return report
            conn, log, import_id = started.conn, started.log, started.import_id
            if code_spec:
                options = replace(options, code_index=CodeIndex.build(conn, platform,
                                                                      code_spec[1]))
            writer = _ResponseWriter(project, conn, log, path, import_id, options, report,
                                     {q.id: q.label for q in survey.questions.values()})
            for resp in spool:
                report.rows += 1
                if resp.response_type in qualtrics.EXCLUDED_TYPES - included:
                    count(report.excluded, resp.response_type)
                    report.previews_skipped += resp.response_type == "preview"
                    continue
                writer.write(resp)
                if progress:
                    progress(report.rows)
            report.free_text_questions = record_questions(conn, log, survey)
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
        self.typed = TypedIds(conn, options.platform)

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
        mine = pseudonym(self.project.secret, self.options.platform, normal) if normal else None
        if any(w is not None and is_erased(self.conn, w) for w in (mine, linked.worker)):
            # The answers of a worker who asked to be forgotten are not taken in again.
            self.report.erased_refused += 1
            return
        token = linked.worker
        if linked.by != "code" and normal:
            token = ensure_worker(self.conn, self.log, self.project.secret,
                                  self.options.platform, normal, self.known)[0]
        if token is not None and normal:
            self.typed.add(normal, token)
        # Ids typed inside answers and embedded data are replaced before anything is stored
        # or hashed; the text as typed goes to the vault.
        values, typed_texts = self.typed.scrub_cells(
            redact(dict(resp.values), {typed, normal}, token or ""))
        found = {q: self._scrubbed(ans) for q, ans in resp.answers.items()}
        content = canonical(values)
        content_sha = hashlib.sha256(
            canonical(hash_form(values, typed_texts)).encode("utf-8")).hexdigest()
        existing = self.conn.execute(select(responses).where(
            (responses.c.source == "qualtrics")
            & (responses.c.response_id == resp.response_id))).first()
        if existing is not None:
            self._seen_before(resp, existing, values, content_sha, found)
            self.report.redacted_ids = self.typed.replaced
            return
        rid = self._insert(resp, token, content, content_sha, found)
        stash_identifying(self.conn, f"response:{rid}", vault_rows(typed_texts))
        self.report.redacted_ids = self.typed.replaced
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
        if token is not None and not self._newer_stored(token, rid, iso(resp.end)):
            self._apply_consent(resp, token, f"survey response {resp.response_id}")

    def _newer_stored(self, token: str, rid: int, end: str | None) -> bool:
        """Whether another stored response of the worker ended after ``end``."""
        newest = self.conn.execute(select(func.max(responses.c.end_time)).where(
            responses.c.worker == token, responses.c.id != rid)).scalar()
        return newest is not None and end is not None and str(newest) > end

    def _apply_consent(self, resp: qualtrics.SurveyResponse, token: str, reason: str) -> None:
        decided = _consent_scopes(self.project, resp, self.options.consent_column)
        if decided is not None:
            scopes, name = decided
            if name is not None and self.typed.scrub(name) != name:
                # A worker id typed as the name to be credited by: a raw id would be
                # published in the credits; no name is taken, and no credit by name.
                name = None
                scopes.discard("credit")
            if set_consent(self.conn, self.log, token, scopes, credit_name=name, reason=reason):
                self.report.consent_changes += 1

    def _scrubbed(self, answer: qualtrics.Answer) -> qualtrics.Answer:
        value = answer.value
        clean = (self.typed.scrub(value) if isinstance(value, str) else
                 tuple(self.typed.scrub(v) for v in value) if value is not None else None)
        other = self.typed.scrub(answer.other_text) if answer.other_text else answer.other_text
        return qualtrics.Answer(answer.question, clean, other)

    def _seen_before(self, resp: qualtrics.SurveyResponse, existing: Any,
                     values: dict[str, str], content_sha: str,
                     found: dict[str, qualtrics.Answer]) -> None:
        stored_sha = existing.content_sha256
        if stored_sha == content_sha:
            self.report.unchanged += 1
            return
        target = f"response:{existing.id}"
        stored = json.loads(existing.raw)
        changed = sorted(k for k in set(values) | set(stored) if values.get(k) != stored.get(k))
        about_consent = set(changed) & _consent_columns(self.project, self.options.consent_column)
        end = iso(resp.end)
        if (about_consent and existing.worker is not None
                and not (end is not None and existing.end_time is not None
                         and str(existing.end_time) > end)
                and not self._newer_stored(str(existing.worker), int(existing.id), end)):
            self._apply_consent(resp, str(existing.worker),
                                f"survey response {resp.response_id} re-imported from "
                                f"{self.path.name} row {resp.row}: consent answer changed")
            if set(changed) == about_consent:
                self._replace(resp, existing, values, content_sha)
                return
        kept = {"content": values, "content_sha256": content_sha,
                "answers": answer_rows(int(existing.id), found, self.labels)}
        result = self.conn.execute(insert(conflicts).values(
            target=target, import_id=self.import_id, row=resp.row,
            fields=canonical(changed), incoming=canonical(kept), state="open",
            created_at=ledger.now()))
        integrity.seal(self.conn, "conflicts", [inserted_id(result)])
        self.log.append("response.conflict", target, old=stored_sha, new=content_sha,
                        reason=f"{self.path.name} row {resp.row} differs; stored answers kept")
        self.report.conflicts += 1

    def _replace(self, resp: qualtrics.SurveyResponse, existing: Any, values: dict[str, str],
                 content_sha: str) -> None:
        """The stored response takes the re-imported answers (only consent answers differ)."""
        rid = int(existing.id)
        self.conn.execute(update(responses).where(responses.c.id == rid).values(
            raw=canonical(values), content_sha256=content_sha, end_time=iso(resp.end)))
        integrity.seal(self.conn, "responses", [rid])
        integrity.seal_where(self.conn, "answers", "response_id", [rid])   # their seals go
        self.conn.execute(delete(answers).where(answers.c.response_id == rid))
        rows = answer_rows(rid, resp.answers, self.labels)
        if rows:
            self.conn.execute(insert(answers), rows)
            integrity.seal_where(self.conn, "answers", "response_id", [rid])
        self.log.append("response.update", f"response:{rid}", field="content_sha256",
                        old=existing.content_sha256, new=content_sha,
                        reason=f"{self.path.name} row {resp.row}: only consent answers changed")

    def _insert(self, resp: qualtrics.SurveyResponse, token: str | None, content: str,
                content_sha: str, found: dict[str, qualtrics.Answer]) -> int:
        result = self.conn.execute(insert(responses).values(
            source="qualtrics", response_id=resp.response_id, worker=token, status=resp.status,
            finished=resp.finished, start_time=iso(resp.start), end_time=iso(resp.end),
            duration_s=resp.duration_s, content_sha256=content_sha, raw=content,
            import_id=self.import_id, row=resp.row))
        rid = inserted_id(result)
        integrity.seal(self.conn, "responses", [rid])
        stash_identifying(self.conn, f"response:{rid}", dict(resp.identifying))
        rows = answer_rows(rid, found, self.labels)
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

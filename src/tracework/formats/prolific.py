"""Prolific's study exports → submissions (canonical Works) and the participants' demographics.

The export (Study → "Download demographic data"; older studies: "Export data") is one CSV row
per submission. Its column names changed over the years, so every role is found by any of its
names, compared without regard to case, spaces and underscores:

=================  ==========================================================================
role               names
=================  ==========================================================================
submission         ``Submission id`` (current), ``session_id`` (older exports)
participant        ``Participant id`` (current), ``participant_id``, ``Participant ID``,
                   ``PROLIFIC_PID``
status             ``Status``: APPROVED, AWAITING REVIEW, REJECTED, RETURNED, TIMED-OUT,
                   SCREENED OUT, PARTIALLY APPROVED (RESERVED and ACTIVE are in progress)
started/completed  ``Started at``/``Completed at``; older ``started_datetime``/
                   ``completed_date_time``; ISO 8601, UTC (``Z`` or no zone)
reviewed/archived  ``Reviewed at`` (``reviewed_at_datetime``), ``Archived at``
time taken         ``Time taken`` (``time_taken``): seconds; empty for RETURNED rows
completion code    ``Completion code`` (older ``entered_code``)
pay                ``Reward``, ``Bonus`` (``Bonus payment``) where the export has them:
                   ``£1.50``, ``$2.00``, ``1.50 GBP`` or ``1.50``
=================  ==========================================================================

Every other column is about the participant (prescreeners, Age, Sex, Country of residence,
Total approvals …): :func:`read_demographics` reads those, and :func:`read_prolific` keeps none
of them with the submissions. Prolific writes two sentinels instead of a value, per cell:
``DATA_EXPIRED`` (the answer is too old to share: unknown, not a value) and ``CONSENT_REVOKED``
(the participant withdrew consent: none of their answers may be kept or published, so a row
holding it anywhere yields no answers at all, only the fact that consent was revoked).

Participant ids are made comparable the way survey answers are
(:func:`~tracework.formats.workerids.normalise_worker_id`: 24 lower-case hex digits), so the
pseudonym of a Prolific participant is the one a Qualtrics survey's ``PROLIFIC_PID`` links to.
Statuses map to the store's: SCREENED OUT and PARTIALLY APPROVED are paid, hence Approved (the
platform's word stays in ``raw``); RETURNED is Returned and TIMED-OUT Abandoned, both unpaid.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from os import PathLike
from pathlib import Path

from tracework.core.errors import InputError
from tracework.formats.canonical import Batch, Person, PlatformFile, Work
from tracework.formats.csvio import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_BYTES,
    Table,
    masked,
    open_table,
    quote_cell,
)
from tracework.formats.dates import parse_iso
from tracework.formats.workerids import normalise_worker_id

__all__ = ["CONSENT_REVOKED", "DATA_EXPIRED", "PLATFORM", "STATUS_MAP", "Demographics",
           "Participant", "ProlificFile", "read_demographics", "read_prolific"]

PLATFORM = "prolific"
CONSENT_REVOKED = "CONSENT_REVOKED"
DATA_EXPIRED = "DATA_EXPIRED"
_SENTINELS = (CONSENT_REVOKED, DATA_EXPIRED)

STATUS_MAP = {"APPROVED": "Approved", "AWAITING REVIEW": "Submitted", "REJECTED": "Rejected",
              "RETURNED": "Returned", "TIMED-OUT": "Abandoned", "SCREENED OUT": "Approved",
              "PARTIALLY APPROVED": "Approved"}
_IN_PROGRESS = ("RESERVED", "ACTIVE")

_ROLES: dict[str, tuple[str, ...]] = {
    "submission": ("submission id", "session id", "submission"),
    "participant": ("participant id", "prolific pid", "participant"),
    "status": ("status",),
    "started": ("started at", "started datetime", "started date time"),
    "completed": ("completed at", "completed date time", "completed datetime"),
    "reviewed": ("reviewed at", "reviewed at datetime"),
    "archived": ("archived at",),
    "time_taken": ("time taken",),
    "code": ("completion code", "entered code"),
    "reward": ("reward", "reward amount"),
    "bonus": ("bonus", "bonus payment", "bonus amount"),
    "tncs": ("custom study tncs accepted at",),
}
_SUBMISSION_ROLES = tuple(_ROLES)
_EXPORT_NAME = re.compile(r"prolific_export_([0-9a-f]{24})", re.IGNORECASE)
_MONEY = re.compile(r"(?P<pre>[£$€])?\s*(?P<amount>\d+(?:\.\d{1,2})?)\s*(?P<code>GBP|USD|EUR)?",
                    re.IGNORECASE)
_SYMBOLS = {"£": "GBP", "$": "USD", "€": "EUR"}


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip()).casefold()


def _find_roles(table: Table) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(table.header):
        key = _key(name)
        for role, names in _ROLES.items():
            if key in names:
                if role in found:
                    raise InputError(f"header: columns {table.header[found[role]]!r} and "
                                     f"{name!r} both name the {role}", file=table.name,
                                     field=name, hint="Remove one of the two columns.")
                found[role] = index
    if "participant" not in found:
        raise InputError("header: no participant id column (Participant id, participant_id, "
                         "PROLIFIC_PID); this does not look like a Prolific export",
                         file=table.name, field="Participant id")
    return found


class _Reader:
    def __init__(self, path: str | PathLike[str], max_field_bytes: int, max_columns: int) -> None:
        self.path = str(path)
        self.table = open_table(path, delimiter=",", max_field_bytes=max_field_bytes,
                                max_columns=max_columns)
        try:
            self.roles = _find_roles(self.table)
        except BaseException:
            self.table.close()
            raise
        known = set(self.roles.values())
        self.personal_columns = [i for i in range(len(self.table.header)) if i not in known]
        self.currency: str | None = None

    def cell(self, cells: list[str], role: str) -> str:
        index = self.roles.get(role)
        return cells[index].strip() if index is not None else ""

    def fail(self, row: int, line: int, role: str, message: str, pid: str) -> InputError:
        name = self.table.header[self.roles[role]] if role in self.roles else role
        return masked(InputError(f"{message} (line {line})", file=self.path, row=row,
                                 field=name), pid)

    def participant(self, row: int, line: int, cells: list[str]) -> tuple[str, str]:
        typed = self.cell(cells, "participant")
        if not typed or typed in _SENTINELS:
            raise self.fail(row, line, "participant", "the participant id is empty", "")
        return typed, normalise_worker_id(PLATFORM, typed)

    def date(self, row: int, line: int, cells: list[str], role: str, pid: str) -> datetime | None:
        text = self.cell(cells, role)
        if not text or text in _SENTINELS or text.casefold() == "not applicable":
            return None
        try:
            return parse_iso(text, UTC)
        except ValueError as exc:
            raise self.fail(row, line, role, f"{quote_cell(text)} is not a date ({exc})",
                            pid) from None

    def seconds(self, row: int, line: int, cells: list[str], pid: str) -> float | None:
        text = self.cell(cells, "time_taken")
        if not text or text in _SENTINELS:
            return None
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value < 10 ** 8:
            raise self.fail(row, line, "time_taken", f"{quote_cell(text)} is not a number of "
                            "seconds", pid)
        return value

    def cents(self, row: int, line: int, cells: list[str], role: str, pid: str) -> int | None:
        text = self.cell(cells, role)
        if not text or text in _SENTINELS:
            return None
        match = _MONEY.fullmatch(text)
        if match is None:
            raise self.fail(row, line, role, f"{quote_cell(text)} is not an amount like "
                            "'£1.50' or '1.50'", pid)
        code = (match.group("code") or _SYMBOLS.get(match.group("pre") or "", "")).upper()
        if code:
            if self.currency is not None and self.currency != code:
                raise self.fail(row, line, role, f"{quote_cell(text)} is in {code}, earlier "
                                f"rows in {self.currency}", pid)
            self.currency = code
        try:
            amount = Decimal(match.group("amount"))
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise self.fail(row, line, role, f"{quote_cell(text)} is not an amount", pid) from None
        return int((amount * 100).quantize(Decimal(1), ROUND_HALF_UP))

    def revoked(self, cells: list[str]) -> bool:
        return any(c.strip() == CONSENT_REVOKED for c in cells)

    def close(self) -> None:
        self.table.close()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _study_key(path: str, study: str | None) -> str:
    if study:
        return study
    found = _EXPORT_NAME.search(Path(path).name)
    return found.group(1).lower() if found else Path(path).stem


@dataclass
class _Tally:
    in_progress: int = 0
    screened_out: int = 0
    revoked_ids: set[str] = field(default_factory=set)


@dataclass
class ProlificFile(PlatformFile):
    """A PlatformFile that also names the participants who revoked consent (normalised ids:
    raw ids, for the vault only), so ingest can withdraw their answers."""

    revoked: frozenset[str] = frozenset()
    currency: str | None = None       # of the Reward/Bonus cells, when they name one


def _works(reader: _Reader, key: str, tally: _Tally) -> Iterator[Work]:
    with reader.table:
        for row, line, cells in reader.table:
            typed, pid = reader.participant(row, line, cells)
            status_text = reader.cell(cells, "status").upper()
            if status_text in _IN_PROGRESS:
                tally.in_progress += 1
                continue
            if status_text not in STATUS_MAP:
                raise reader.fail(row, line, "status", f"{quote_cell(status_text)} is not a "
                                  f"Prolific status ({', '.join(sorted(STATUS_MAP))})", typed)
            tally.screened_out += status_text == "SCREENED OUT"
            submission = reader.cell(cells, "submission") or f"{key}:{pid}"
            revoked = reader.revoked(cells)
            raw: dict[str, object] = {"platform_status": status_text}
            for role in _SUBMISSION_ROLES:
                if role not in ("participant",) and role in reader.roles:
                    value = reader.cell(cells, role)
                    raw[reader.table.header[reader.roles[role]]] = (
                        "<participant>" if value in (typed, pid) else value)
            if revoked:
                tally.revoked_ids.add(pid)
            yield Work(
                row=row, assignment_id=submission, task_id=key, batch_key=key,
                worker=Person(pid), status=STATUS_MAP[status_text],
                accept_time=reader.date(row, line, cells, "started", typed),
                submit_time=reader.date(row, line, cells, "completed", typed),
                work_time_s=reader.seconds(row, line, cells, typed),
                time_kind="platform_time_taken",
                reward_cents=reader.cents(row, line, cells, "reward", typed),
                bonus_cents=reader.cents(row, line, cells, "bonus", typed), raw=raw)


def read_prolific(path: str | PathLike[str], *, study: str | None = None,
                  max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
                  max_columns: int = DEFAULT_MAX_COLUMNS) -> ProlificFile:
    """Read a Prolific submissions (or demographic) export into one Work per submission.

    Read whole and checked before it is returned, so an error stores nothing. ``study``
    names the batch (default: the study id in a ``prolific_export_<id>.csv`` name, else the
    file's name).
    """
    reader = _Reader(path, max_field_bytes, max_columns)
    key = _study_key(reader.path, study)
    tally = _Tally()
    works = list(_works(reader, key, tally))
    if "reward" in reader.roles:
        notes = [f"Rewards and bonuses are read from the file's own columns"
                 f"{f' ({reader.currency})' if reader.currency else ''}."]
    else:
        notes = ["The study's reward is not in Prolific's export: set it on the batch to audit "
                 "pay."]
    if reader.personal_columns:
        names = [reader.table.header[i] for i in reader.personal_columns]
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        notes.append(f"{len(names)} columns about the participants ({shown}) are not kept with "
                     "the submissions; import them with --demographics, under each "
                     "participant's consent.")
    if tally.in_progress:
        notes.append(f"Left out: {_count(tally.in_progress, 'submission')} still in progress "
                     "(RESERVED or ACTIVE); import a later export when they are done.")
    if tally.screened_out:
        notes.append(f"Counted as approved: {_count(tally.screened_out, 'SCREENED OUT submission')}"
                     "; "
                     "Prolific pays them the screen-out reward, not the study's.")
    if tally.revoked_ids:
        notes.append(f"{_count(len(tally.revoked_ids), 'participant')} revoked their consent "
                     "(CONSENT_REVOKED): "
                     "none of their answers are kept; their submissions are kept for the "
                     "labour record.")
    return ProlificFile(platform=PLATFORM, batches=[Batch(key=key, title=f"Prolific study {key}")],
                        works=works, notes=notes, revoked=frozenset(tally.revoked_ids),
                        currency=reader.currency)


@dataclass(frozen=True)
class Participant:
    """One row of a demographic export: who, and what they answered (nothing if revoked)."""

    row: int
    submission_id: str
    participant_id: str               # normalised; a raw id: for the vault only
    typed_id: str                     # as the file wrote it
    revoked: bool
    answers: dict[str, str]           # column → value; expired cells left out
    expired: tuple[str, ...]          # columns whose cell was DATA_EXPIRED


@dataclass
class Demographics:
    """A demographic export read whole: its answer columns and one Participant per row."""

    file: str
    columns: list[str]
    participants: list[Participant] = field(default_factory=list)

    @property
    def revoked(self) -> list[Participant]:
        return [p for p in self.participants if p.revoked]


def read_demographics(path: str | PathLike[str], *, max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
                      max_columns: int = DEFAULT_MAX_COLUMNS) -> Demographics:
    """Read a Prolific demographic export: every column that is not about the submission is
    an answer. A row with ``CONSENT_REVOKED`` in any cell keeps no answer at all; a
    ``DATA_EXPIRED`` cell is left out and named in ``expired``."""
    reader = _Reader(path, max_field_bytes, max_columns)
    columns = [reader.table.header[i] for i in reader.personal_columns]
    out = Demographics(file=reader.path, columns=columns)
    with reader.table:
        for row, line, cells in reader.table:
            typed, pid = reader.participant(row, line, cells)
            revoked = reader.revoked(cells)
            answers: dict[str, str] = {}
            expired: list[str] = []
            if not revoked:
                for index in reader.personal_columns:
                    name, value = reader.table.header[index], cells[index].strip()
                    if value == DATA_EXPIRED:
                        expired.append(name)
                    elif value and value not in (typed, pid):
                        answers[name] = value
            submission = reader.cell(cells, "submission") or pid
            out.participants.append(Participant(row, submission, pid, typed, revoked, answers,
                                                tuple(expired)))
    return out

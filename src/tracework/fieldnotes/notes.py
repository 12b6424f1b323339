"""Fieldnotes: a note on anything in a project, typed by the kind of concern it raises.

A note is on a target: ``asset:N``, ``annotation:N``, ``submission:N``, ``batch:N``,
``worker:w_…`` (a pseudonym), ``category:NAME`` (any category the taxonomy has known, retired
ones included) or one cell of a table, ``cell:TABLE:ROWKEY:COLUMN`` (the tables and columns of
the workbook, see :mod:`tracework.sheet`). Each has a concern type whose colour comes from
``[concerns]`` in tracework.toml, an author and a time. Replies hang under a note; the note
itself moves between ``open``, ``answered`` and ``resolved``, each move saying who and why.
Every note, reply and move is a ledger entry.
"""


import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity, ledger, taxonomy
from tracework.core.errors import ConfigError, ConflictError, InputError, NotFound
from tracework.core.privacy import owner_of
from tracework.core.project import DEFAULT_CONCERNS, Project
from tracework.core.store import inserted_id
from tracework.core.store.schema import annotations, assets, batches, submissions, workers
from tracework.core.store.tables_notes import notes

__all__ = [
    "STATES",
    "Note",
    "State",
    "add",
    "add_in",
    "check_target",
    "concerns",
    "get",
    "list_notes",
    "mark_answered",
    "reply",
    "resolve",
    "set_state",
]

State = Literal["open", "answered", "resolved"]
STATES: tuple[State, ...] = ("open", "answered", "resolved")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID_TABLES = {"asset": assets.c.id, "annotation": annotations.c.id,
              "submission": submissions.c.id, "batch": batches.c.id}


@dataclass(frozen=True)
class Note:
    id: int
    target: str
    concern: str
    text: str
    author: str
    created_at: str
    reply_to: int | None
    state: str
    state_by: str | None
    state_reason: str
    state_at: str | None
    answered_by_version: int | None
    source: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _note(row: Any) -> Note:
    return Note(**row._mapping)


def concerns(project: Project) -> dict[str, str]:
    """Concern types and their colours: tracework.toml ``[concerns]``, else the defaults."""
    raw = project.config.get("concerns")
    if raw is None:
        return dict(DEFAULT_CONCERNS)
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("tracework.toml: [concerns] must be a table of name = \"#RRGGBB\"")
    out = {}
    for name, colour in raw.items():
        if not isinstance(colour, str) or not _COLOUR.match(colour):
            raise ConfigError(f"tracework.toml: concern {name!r} needs a colour like #e06666, "
                              f"not {colour!r}")
        out[str(name)] = colour.lower()
    return out


def check_target(conn: Connection, target: str) -> str:
    """The target, normalised; :class:`NotFound` when it names nothing in this project."""
    kind, sep, rest = target.partition(":")
    if not sep or not rest:
        raise InputError(f"target {target!r} is not KIND:ID", field="TARGET",
                         hint="e.g. asset:3, annotation:17, submission:5, batch:1, "
                              "worker:w_abc…, category:Body, cell:annotations:17:category")
    if kind in _ID_TABLES:
        if not rest.isdigit():
            raise InputError(f"{kind} id {rest!r} is not a number", field="TARGET")
        column = _ID_TABLES[kind]
        if conn.execute(select(column).where(column == int(rest))).first() is None:
            raise NotFound(f"{kind} {rest} does not exist in this project")
        return f"{kind}:{int(rest)}"
    if kind == "worker":
        if not re.fullmatch(r"w_[a-z2-7]{1,32}", rest):
            # Not echoed: it may be a platform worker id, which never appears in output.
            raise InputError("a worker target is a pseudonym like worker:w_abc123def456, "
                             "never a platform id", field="TARGET")
        if conn.execute(select(workers.c.pseudonym)
                        .where(workers.c.pseudonym == rest)).first() is None:
            raise NotFound(f"worker {rest} does not exist in this project",
                           hint="Workers are named by pseudonym (w_…), never by platform id.")
        return target
    if kind == "category":
        if rest not in taxonomy.known_names(conn):
            raise NotFound(f"category {rest!r} is in no version of the taxonomy",
                           hint="See `tracework taxonomy show`.")
        return target
    if kind == "cell":
        from tracework.fieldnotes import sheet

        sheet.check_cell(conn, rest)
        return target
    raise InputError(f"unknown target kind {kind!r}", field="TARGET",
                     hint="Use asset, annotation, submission, batch, worker, category or cell.")


def add_in(conn: Connection, log: ledger.LedgerWriter, project: Project, target: str,
           text: str, *, concern: str, author: str, reply_to: int | None = None,
           source: str | None = None) -> int:
    """Add a note inside an open write transaction; returns its id."""
    if not text.strip():
        raise InputError("a note needs text", field="TEXT")
    if reply_to is not None:
        parent = _get(conn, reply_to)
        reply_to = parent.reply_to or parent.id     # replies hang under the first note
        target, concern = parent.target, parent.concern
    else:
        types = concerns(project)
        if concern not in types:
            raise InputError(f"unknown concern type {concern!r}; tracework.toml [concerns] "
                             f"has {', '.join(types)}", field="--concern")
        target = check_target(conn, target)
    at = ledger.now()
    note_id = inserted_id(conn.execute(insert(notes).values(
        target=target, concern=concern, text=text, author=author, created_at=at,
        reply_to=reply_to, state="open", state_reason="", source=source)))
    integrity.seal(conn, "notes", [note_id])
    owner = owner_of(conn, target, author=author, source=source)
    log.append("note.reply" if reply_to else "note.add", target, field=f"note:{note_id}",
               new={"note": note_id, "concern": concern, "text": ledger.Private(text, owner),
                    "reply_to": reply_to}, actor=author)
    return int(note_id)


def add(project: Project, target: str, text: str, *, concern: str = "other",
        author: str | None = None) -> Note:
    """Add a note on a target (see the module's docstring for the target forms)."""
    who = author or project.actor

    def work(conn: Connection) -> Note:
        log = ledger.LedgerWriter(conn, who)
        note_id = add_in(conn, log, project, target, text, concern=concern, author=who)
        log.flush()
        return _get(conn, note_id)

    return project.store.run_write(work)


def _get(conn: Connection, note_id: int) -> Note:
    row = conn.execute(select(notes).where(notes.c.id == note_id)).first()
    if row is None:
        raise NotFound(f"note {note_id} does not exist", hint="See `tracework note list`.")
    return _note(row)


def get(project: Project, note_id: int) -> tuple[Note, list[Note]]:
    """A note and its replies, oldest first."""
    with project.store.read() as conn:
        note = _get(conn, note_id)
        replies = [_note(r) for r in conn.execute(
            select(notes).where(notes.c.reply_to == note_id).order_by(notes.c.id))]
    return note, replies


def reply(project: Project, note_id: int, text: str, *, author: str | None = None) -> Note:
    """Reply to a note; the reply shares its target and concern."""
    who = author or project.actor

    def work(conn: Connection) -> Note:
        parent = _get(conn, note_id)
        root = parent if parent.reply_to is None else _get(conn, parent.reply_to)
        log = ledger.LedgerWriter(conn, who)
        new_id = add_in(conn, log, project, root.target, text, concern=root.concern,
                        author=who, reply_to=root.id)
        log.flush()
        return _get(conn, new_id)

    return project.store.run_write(work)


def set_state(conn: Connection, log: ledger.LedgerWriter, note_id: int, state: State, *,
              by: str, reason: str, version: int | None = None) -> bool:
    """Move a note to ``state`` inside an open write transaction; False when already there."""
    if state not in STATES:
        raise InputError(f"unknown state {state!r}; choose one of {', '.join(STATES)}",
                         field="state")
    note = _get(conn, note_id)
    if note.reply_to is not None:
        raise InputError(f"note {note_id} is a reply; the state belongs to note {note.reply_to}",
                         field="NOTE")
    if note.state == state and version in (None, note.answered_by_version):
        return False
    values: dict[str, Any] = {"state": state, "state_by": by, "state_reason": reason,
                              "state_at": ledger.now()}
    if version is not None:
        values["answered_by_version"] = version
    conn.execute(update(notes).where(notes.c.id == note_id).values(**values))
    integrity.seal(conn, "notes", [note_id])
    owner = owner_of(conn, note.target, author=note.author, source=note.source)
    log.append("note.state", f"note:{note_id}", field="state", old=note.state, new=state,
               reason=ledger.Private(reason, owner) if reason else "", actor=by)
    return True


def resolve(project: Project, note_id: int, *, reason: str, state: State = "resolved",
            by: str | None = None) -> Note:
    """Resolve (or reopen, or mark answered) a note, saying why."""
    if not reason.strip():
        raise InputError("say why", field="--reason")
    who = by or project.actor

    def work(conn: Connection) -> Note:
        log = ledger.LedgerWriter(conn, who)
        if not set_state(conn, log, note_id, state, by=who, reason=reason):
            raise ConflictError(f"note {note_id} is already {state}")
        log.flush()
        return _get(conn, note_id)

    return project.store.run_write(work)


def mark_answered(conn: Connection, log: ledger.LedgerWriter, note_ids: Iterable[int], *,
                  version: int, by: str, reason: str) -> None:
    """Mark workers' flags answered by a taxonomy version (resolved ones stay resolved)."""
    for note_id in note_ids:
        note = _get(conn, note_id)
        if not note.target.startswith("category:") or note.reply_to is not None:
            raise InputError(f"note {note_id} is not a flag on a category (its target is "
                             f"{note.target})", field="--answers")
        state: State = "resolved" if note.state == "resolved" else "answered"
        set_state(conn, log, note_id, state, by=by,
                  reason=f"answered by taxonomy version {version}: {reason}", version=version)


def list_notes(project: Project, *, target: str | None = None, concern: str | None = None,
               state: str | None = None, author: str | None = None,
               replies: bool = False) -> list[Note]:
    """Notes, oldest first; a target ending in ``*`` matches as a prefix. Replies only when
    asked for (they share their note's target)."""
    query = select(notes).order_by(notes.c.id)
    if target:
        query = query.where(notes.c.target.startswith(target[:-1], autoescape=True)
                            if target.endswith("*") else notes.c.target == target)
    if concern:
        query = query.where(notes.c.concern == concern)
    if state:
        if state not in STATES:
            raise InputError(f"unknown state {state!r}; choose one of {', '.join(STATES)}",
                             field="--state")
        query = query.where(notes.c.state == state)
    if author:
        query = query.where(notes.c.author == author)
    if not replies:
        query = query.where(notes.c.reply_to.is_(None))
    with project.store.read() as conn:
        return [_note(r) for r in conn.execute(query)]


def count_replies(project: Project, ids: Sequence[int]) -> dict[int, int]:
    """How many replies each note has."""
    out = {i: 0 for i in ids}
    with project.store.read() as conn:
        for (parent,) in conn.execute(select(notes.c.reply_to)
                                      .where(notes.c.reply_to.in_(list(ids)))):
            out[parent] += 1
    return out

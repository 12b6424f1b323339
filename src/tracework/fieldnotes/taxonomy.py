"""The versioned taxonomy: every change of the label schema is a version with author and reason.

The store is the source of truth once a project exists. Commands (:func:`add`, :func:`rename`,
:func:`merge`, :func:`split`, :func:`map_labels`, :func:`retire`, :func:`redefine`) write new versions to the store
and leave ``tracework.toml`` alone (rewriting it would lose people's comments). The file's
``[[taxonomy.categories]]`` stay an input: the store remembers what the file said when it last
took it in, and when a person edits the file afterwards, only that edit (categories added,
removed, recoloured, redescribed) is applied on top of the versions in the store, and recorded as
a version whose reason is ``tracework.toml changed``. So a rename done by command is never undone
by the file still holding the old name, and an edit of the file is never lost.

A version lists every category it knows, retired ones included (``retired`` with the names that
replaced them), so history and old annotations stay readable. Annotations keep the version in
force when they were made; a new version changes none of them. Where an old label stands now is
said by :class:`tracework.core.taxonomy.Resolver`; a split's rule (``map_to``, or a later
:func:`map_labels`) is what lets it follow a split, and :func:`pending` lists the labels no
category in force holds.

A version can cite the workers' flags (notes on categories) it answered; they are then marked
answered by that version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from tracework.core import ledger
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.project import Project
from tracework.core.taxonomy import (
    CATEGORY_FIELDS,
    Taxonomy,
    current,
    entry,
    history,
    in_force,
    known_names,
    record_taxonomy,
    stored_version,
    sync_toml,
    version,
)

__all__ = [
    "CHANGES",
    "FlagReport",
    "PendingLabel",
    "Taxonomy",
    "TaxonomyDiff",
    "add",
    "diff",
    "flags_from_survey",
    "history",
    "in_force",
    "known_names",
    "map_labels",
    "merge",
    "pending",
    "redefine",
    "rename",
    "retire",
    "split",
    "sync_toml",
    "version",
]

CHANGES = ("init", "toml", "add", "rename", "merge", "split", "map", "retire", "redefine")
# Colours offered when a command adds a category without one: distinct, readable on masks.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
            "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")


@dataclass
class TaxonomyDiff:
    """What changed between two versions, and the changes recorded on the way."""

    old: int
    new: int
    added: list[str]
    retired: list[str]
    changed: list[dict[str, Any]]        # {name, field, old, new}
    steps: list[dict[str, Any]]          # the versions between, with change and reason

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- changing ---------------------------------------------------------------------------------

_Edit = Callable[[list[dict[str, Any]]], dict[str, Any]]


def _require(entries: list[dict[str, Any]], name: str, *, active: bool = True) -> dict[str, Any]:
    found = next((e for e in entries if e["name"] == name), None)
    if found is None or (active and found["retired"]):
        names = ", ".join(e["name"] for e in entries if not e["retired"])
        state = "is retired" if found is not None else "is not in the taxonomy"
        raise NotFound(f"category {name!r} {state} (in force: {names or 'none'})",
                       hint="See `tracework taxonomy show`.")
    return found


def _check_new_name(entries: list[dict[str, Any]], name: str) -> None:
    if not name or not name.strip() or name != name.strip():
        raise InputError(f"category name {name!r} is empty or has spaces at its ends",
                         field="name")
    if any(e["name"] == name for e in entries):
        raise ConflictError(f"category {name!r} already exists in this taxonomy (perhaps "
                            "retired)", hint="Choose another name, or `taxonomy add` it to "
                                             "bring a retired category back.")


def _check_colour(colour: str) -> str:
    import re

    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour or ""):
        raise InputError(f"colour {colour!r} is not like #1f77b4", field="colour")
    return colour.lower()


def _free_colour(entries: list[dict[str, Any]]) -> str:
    used = {e["colour"] for e in entries if not e["retired"]}
    for colour in _PALETTE:
        if colour not in used:
            return colour
    raise InputError("no free colour left in the palette", field="colour",
                     hint="Give a colour with NAME=#RRGGBB.")


def _check_colours(entries: list[dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        if e["retired"]:
            continue
        if e["colour"] in seen:
            raise ConflictError(f"categories {seen[e['colour']]!r} and {e['name']!r} would share "
                                f"the colour {e['colour']}: masks could not tell them apart",
                                hint="Give a different colour.")
        seen[e["colour"]] = e["name"]


def _change(project: Project, change: str, edit: _Edit, *, reason: str,
            answers: Sequence[int] = (), author: str | None = None) -> Taxonomy:
    """Apply ``edit`` to the version in force and record the result as a new version."""
    if not reason.strip():
        raise InputError("a taxonomy change needs a reason", field="--reason",
                         hint="Say why, e.g. --reason \"workers asked whether it is one part\".")
    who = author or project.actor

    def work(conn: Connection) -> Taxonomy:
        log = ledger.LedgerWriter(conn, who)
        number = sync_toml(project, conn, log)
        base = current(conn)
        assert base is not None
        entries = [dict(e, replaced_by=list(e["replaced_by"])) for e in base.entries]
        details = edit(entries)
        _check_colours(entries)
        record_taxonomy(conn, number + 1, entries, who, reason, log, change=change,
                        details=details, answers=list(answers))
        if answers:
            from tracework.fieldnotes import notes

            notes.mark_answered(conn, log, answers, version=number + 1, by=who, reason=reason)
        log.flush()
        return stored_version(conn, number + 1)

    return project.store.run_write(work)


def add(project: Project, name: str, *, colour: str | None = None, description: str = "",
        guideline: str = "", reason: str, answers: Sequence[int] = (),
        author: str | None = None) -> Taxonomy:
    """Add a category (or bring a retired one back)."""
    def edit(entries: list[dict[str, Any]]) -> dict[str, Any]:
        old = next((e for e in entries if e["name"] == name), None)
        if old is not None and not old["retired"]:
            raise ConflictError(f"category {name!r} is already in force",
                                hint="Use `taxonomy redefine` to change it.")
        if old is None:
            _check_new_name(entries, name)
        chosen = _check_colour(colour) if colour else _free_colour(entries)
        item = entry(name, chosen, description, guideline)
        if old is not None:
            old.update(item)
        else:
            entries.append(item)
        return {"category": name, "colour": chosen, "restored": old is not None}

    return _change(project, "add", edit, reason=reason, answers=answers, author=author)


def rename(project: Project, old: str, new: str, *, reason: str, answers: Sequence[int] = (),
           author: str | None = None) -> Taxonomy:
    """Rename a category: the old name stays in history, retired and replaced by the new."""
    def edit(entries: list[dict[str, Any]]) -> dict[str, Any]:
        source = _require(entries, old)
        _check_new_name(entries, new)
        renamed = dict(source, name=new, replaced_by=[])
        source.update(retired=True, replaced_by=[new])
        entries.insert(entries.index(source) + 1, renamed)
        return {"from": old, "to": new}

    return _change(project, "rename", edit, reason=reason, answers=answers, author=author)


def merge(project: Project, sources: Sequence[str], into: str, *, colour: str | None = None,
          reason: str, answers: Sequence[int] = (), author: str | None = None) -> Taxonomy:
    """Merge categories into one (existing or new); the sources are retired."""
    def edit(entries: list[dict[str, Any]]) -> dict[str, Any]:
        if len(set(sources)) < 1 or into in sources:
            raise InputError("merge needs source categories different from the one merged into",
                             field="sources")
        found = [_require(entries, s) for s in sources]
        target = next((e for e in entries if e["name"] == into and not e["retired"]), None)
        for item in found:
            item.update(retired=True, replaced_by=[into])
        created = target is None
        if target is None:
            _check_new_name(entries, into)
            chosen = _check_colour(colour) if colour else found[0]["colour"]
            description = "; ".join(i["description"] for i in found if i["description"])
            entries.insert(entries.index(found[0]) + 1, entry(into, chosen, description))
        elif colour:
            target["colour"] = _check_colour(colour)
        return {"from": list(sources), "into": into, "created": created}

    return _change(project, "merge", edit, reason=reason, answers=answers, author=author)


def split(project: Project, source: str, into: Sequence[tuple[str, str | None]], *,
          reason: str, map_to: str | None = None, answers: Sequence[int] = (),
          author: str | None = None) -> Taxonomy:
    """Split a category into new ones (name, colour or None for a free one); it is retired.

    The labels already made with it cannot say which new category they belong to. Without
    ``map_to`` they are exported under ``"<source> (retired)"`` and listed by :func:`pending`
    for relabelling; ``map_to`` (one of the new names) is the requester's rule that they all
    belong to that one, recorded with the version (its details, and so its ledger entry).
    """
    def edit(entries: list[dict[str, Any]]) -> dict[str, Any]:
        if len(into) < 2:
            raise InputError("a split needs at least two new categories", field="--into")
        if map_to is not None and map_to not in [n for n, _ in into]:
            raise InputError(f"--map-to {map_to!r} is not one of the new categories "
                             f"({', '.join(n for n, _ in into)})", field="--map-to",
                             hint="Name one of the --into categories, or leave --map-to out "
                                  "to relabel the old labels (see `taxonomy pending`).")
        item = _require(entries, source)
        item.update(retired=True, replaced_by=[n for n, _ in into])
        at = entries.index(item) + 1
        made = []
        for name, colour in into:
            _check_new_name(entries, name)
            chosen = _check_colour(colour) if colour else _free_colour(entries)
            entries.insert(at, entry(name, chosen))
            at += 1
            made.append({"name": name, "colour": chosen})
        return {"from": source, "into": made, **({"map_to": map_to} if map_to else {})}

    return _change(project, "split", edit, reason=reason, answers=answers, author=author)


def map_labels(project: Project, source: str, to: str, *, reason: str,
               answers: Sequence[int] = (), author: str | None = None) -> Taxonomy:
    """The rule, decided after a split or retirement, that the labels left under ``source``
    (``"<source> (retired)"``, listed by :func:`pending`) all belong to category ``to``.

    Recorded as a version (change ``map``) whose categories are unchanged; the rule is in its
    details and ledger entry. Labels made with other categories are not touched.
    """
    def edit(entries: list[dict[str, Any]]) -> dict[str, Any]:
        item = _require(entries, source, active=False)
        if not item["retired"]:
            raise ConflictError(f"category {source!r} is in force: its labels need no rule",
                                hint="Rename or merge it instead.")
        _require(entries, to)
        return {"from": source, "map_to": to}

    return _change(project, "map", edit, reason=reason, answers=answers, author=author)


def retire(project: Project, name: str, *, reason: str, answers: Sequence[int] = (),
           author: str | None = None) -> Taxonomy:
    """Retire a category: no new labels with it; old ones and its history stay."""
    def edit(entries: list[dict[str, Any]]) -> dict[str, Any]:
        _require(entries, name)["retired"] = True
        return {"category": name}

    return _change(project, "retire", edit, reason=reason, answers=answers, author=author)


def redefine(project: Project, name: str, *, colour: str | None = None,
             description: str | None = None, guideline: str | None = None, reason: str,
             answers: Sequence[int] = (), author: str | None = None) -> Taxonomy:
    """Change a category's colour, description or guideline text (None: unchanged)."""
    def edit(entries: list[dict[str, Any]]) -> dict[str, Any]:
        item = _require(entries, name)
        wanted = {"colour": _check_colour(colour) if colour else None,
                  "description": description, "guideline": guideline}
        changed = {k: {"old": item[k], "new": v} for k, v in wanted.items()
                   if v is not None and v != item[k]}
        if not changed:
            raise InputError(f"nothing to change for {name!r}",
                             hint="Give --colour, --description or --guideline with a new value.")
        item.update({k: v["new"] for k, v in changed.items()})
        return {"category": name, "fields": changed}

    return _change(project, "redefine", edit, reason=reason, answers=answers, author=author)


def diff(project: Project, old: int, new: int) -> TaxonomyDiff:
    """Categories added, retired and changed from version ``old`` to ``new``."""
    with project.store.read() as conn:
        a, b = stored_version(conn, old), stored_version(conn, new)
        lo, hi = sorted((old, new))
        steps = [stored_version(conn, n) for n in range(lo + 1, hi + 1)]
    was = {e["name"]: e for e in a.entries if not e["retired"]}
    now = {e["name"]: e for e in b.entries if not e["retired"]}
    changed = [{"name": n, "field": f, "old": was[n][f], "new": now[n][f]}
               for n in now if n in was for f in CATEGORY_FIELDS if was[n][f] != now[n][f]]
    return TaxonomyDiff(
        old=old, new=new, added=[n for n in now if n not in was],
        retired=[n for n in was if n not in now], changed=changed,
        steps=[{"version": s.version, "change": s.change, "details": s.details,
                "author": s.author, "reason": s.reason, "answers": s.answers} for s in steps])


# -- labels waiting for relabelling --------------------------------------------------------------

@dataclass(frozen=True)
class PendingLabel:
    """A label whose category is no longer in force, and no recorded rule maps it."""

    annotation: int
    asset: int | None
    file_name: str
    submission: int
    worker: str                      # pseudonym
    review_status: str
    original_category: str
    taxonomy_version: int            # the version it was made under
    current_category: str            # "<name> (retired)"
    why: str                         # the changes that left it without a category

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pending(project: Project) -> list[PendingLabel]:
    """Every label (mask, box, polygon) made under a category that was split without a rule or
    retired: exported under ``"<name> (retired)"`` until someone relabels it."""
    from tracework.core.store.schema import annotations, assets, submissions
    from tracework.core.taxonomy import Resolver

    kinds = ["mask", "bbox", "polygon"]
    with project.store.read() as conn:
        resolver = Resolver.of(conn, project)
        pairs = conn.execute(select(annotations.c.category, annotations.c.taxonomy_version)
                             .where(annotations.c.kind.in_(kinds))
                             .where(annotations.c.category.is_not(None)).distinct()).all()
        stranded = {(str(c), int(v)) for c, v in pairs if resolver.resolve(str(c), int(v)).retired}
        if not stranded:
            return []
        rows = conn.execute(
            select(annotations.c.id, annotations.c.asset_id, annotations.c.submission_id,
                   annotations.c.worker, annotations.c.category, annotations.c.taxonomy_version,
                   submissions.c.status, assets.c.file_name)
            .join(submissions, submissions.c.id == annotations.c.submission_id)
            .outerjoin(assets, assets.c.id == annotations.c.asset_id)
            .where(annotations.c.kind.in_(kinds))
            .where(annotations.c.category.in_(sorted({c for c, _ in stranded})))
            .order_by(annotations.c.asset_id, annotations.c.id)).all()
    out = []
    for r in rows:
        if (r.category, r.taxonomy_version) not in stranded:
            continue
        found = resolver.resolve(r.category, r.taxonomy_version)
        out.append(PendingLabel(int(r.id), r.asset_id, r.file_name or "", int(r.submission_id),
                                r.worker, str(r.status).lower(), found.original,
                                found.version, found.current, found.describe()))
    return out


# -- workers' flags ---------------------------------------------------------------------------

@dataclass
class FlagReport:
    """Flags taken in as notes on categories."""

    source: str
    added: list[int] = field(default_factory=list)
    repeated: int = 0               # already taken in from the same answer
    unmatched: list[str] = field(default_factory=list)   # answers naming no category

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Flag:
    key: str                  # where it came from, so reading it again adds nothing
    value: str | list[str]
    text: str
    author: str


ANONYMOUS = "anonymous worker"


def _imported_flags(conn: Connection, column: str, text_column: str | None) -> list[_Flag]:
    from tracework.core.store.schema import answers, responses, workers

    rows = conn.execute(
        select(answers.c.response_id, answers.c.question, answers.c.value,
               answers.c.other_text, responses.c.response_id.label("rid"),
               responses.c.worker, workers.c.consent_link)
        .join(responses, responses.c.id == answers.c.response_id)
        .outerjoin(workers, workers.c.pseudonym == responses.c.worker)
        .where(answers.c.question.in_([column, text_column or column]))
        .order_by(answers.c.response_id, answers.c.id)).all()
    texts = {r.response_id: (json.loads(r.value) if r.value else r.other_text)
             for r in rows if text_column and r.question == text_column}
    out = []
    for r in rows:
        if r.question != column or r.value is None:
            continue
        value = json.loads(r.value)
        # A flag carries its maker only when the worker let answers be linked to them.
        author = r.worker if r.worker and r.consent_link else ANONYMOUS
        extra = texts.get(r.response_id) or r.other_text or ""
        out.append(_Flag(f"survey:{column}:{r.rid}", value, str(extra), author))
    return out


def _file_flags(project: Project, path: Any, column: str | None,
                text_column: str | None) -> list[_Flag]:
    import csv
    from pathlib import Path

    from tracework.formats import qualtrics

    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from None
    if "category" in header and "text" in header:
        # A notes file: one flag a row (category, text, optional author).
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh, strict=True))
        return [_Flag(f"file:{path.name}:{i}", r["category"] or "", r["text"] or "",
                      (r.get("author") or "").strip() or ANONYMOUS)
                for i, r in enumerate(rows, 1)]
    if not column:
        raise InputError("give --column: the survey question holding the flags",
                         file=str(path), field="--column")
    out = []
    with qualtrics.Survey(path, worker_column=None, multi_select=(),
                          max_field_bytes=project.settings["max_field_bytes"]) as survey:
        for resp in survey:
            answer = resp.answers.get(column)
            if resp.is_preview or answer is None or answer.value is None:
                continue
            value = list(answer.value) if isinstance(answer.value, tuple) else answer.value
            note = resp.answers.get(text_column) if text_column else None
            extra = (note.value if note and isinstance(note.value, str) else "") or \
                answer.other_text or ""
            out.append(_Flag(f"survey:{column}:{resp.response_id}", value, extra, ANONYMOUS))
    return out


def _named(value: str | list[str], names: dict[str, str]) -> list[str]:
    """The categories an answer names (case-insensitive; lists and , ; separated text)."""
    parts = value if isinstance(value, list) else (
        [value] if value.strip().casefold() in names else
        [p for chunk in value.split(";") for p in chunk.split(",")])
    return [names[p.strip().casefold()] for p in parts if p.strip().casefold() in names]


def flags_from_survey(project: Project, source: str, *, column: str | None = None,
                      category: str | None = None, text_column: str | None = None,
                      concern: str = "taxonomy") -> FlagReport:
    """Take workers' flags on categories in as notes on those categories.

    ``source`` is ``imported`` (answers already ingested: a flag carries its worker's pseudonym
    only with link consent) or a file: a notes file with ``category`` and ``text`` columns, or
    a Qualtrics export (its flags stay anonymous). ``column`` holds the flagged category names
    (or, with ``category``, any answer flags that one category); ``text_column`` an optional
    comment. Reading the same answers again adds nothing.
    """
    from tracework.core.store.tables_notes import notes as notes_table
    from tracework.fieldnotes import notes

    report = FlagReport(source=source)

    def work(conn: Connection) -> FlagReport:
        report.added.clear()
        report.unmatched.clear()
        report.repeated = 0
        if source == "imported":
            if not column:
                raise InputError("give --column: the survey question holding the flags",
                                 field="--column")
            flags = _imported_flags(conn, column, text_column)
        else:
            flags = _file_flags(project, source, column, text_column)
        names = {n.casefold(): n for n in known_names(conn)}
        if category is not None and category.casefold() not in names:
            raise NotFound(f"category {category!r} is in no version of the taxonomy")
        log = ledger.LedgerWriter(conn, project.actor)
        for flag in flags:
            shown = "; ".join(flag.value) if isinstance(flag.value, list) else flag.value
            targets = [names[category.casefold()]] if category else _named(flag.value, names)
            if not targets:
                report.unmatched.append(shown)
            for name in targets:
                key = f"{flag.key}:{name}"
                if conn.execute(select(notes_table.c.id)
                                .where(notes_table.c.source == key)).first():
                    report.repeated += 1
                    continue
                text = flag.text or f"flagged in {column or 'a notes file'}: {shown}"
                report.added.append(notes.add_in(conn, log, project, f"category:{name}", text,
                                                 concern=concern, author=flag.author,
                                                 source=key))
        log.flush()
        return report

    return project.store.run_write(work)

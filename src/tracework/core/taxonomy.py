"""The taxonomy in force: categories, their versions in the store, and the edit of
``tracework.toml`` not yet recorded.

The store is the source of truth once a project exists. The file's ``[[taxonomy.categories]]``
stay an input: the store remembers what the file said when it last took it in, and when a person
edits the file afterwards, only that edit (categories added, removed, recoloured, redescribed)
is applied on top of the versions in the store and recorded as a version whose reason is
``tracework.toml changed``. The changes people make by command (add, rename, merge, split,
retire, redefine) live in :mod:`tracework.fieldnotes.taxonomy`.

A label keeps the version it was made under. :class:`Resolver` is the one place that says where
such a label stands in the taxonomy in force, by following the recorded changes; exports,
renders, audits and the ``--category`` filters all ask it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select

from tracework.core import integrity, ledger
from tracework.core.errors import ConfigError, InputError, NotFound
from tracework.core.store.schema import taxonomy_versions
from tracework.core.store.tables_notes import taxonomy_changes, taxonomy_sync

if TYPE_CHECKING:
    from tracework.core.project import Project

__all__ = [
    "CATEGORY_FIELDS",
    "RETIRED_MARK",
    "TOML_REASON",
    "Category",
    "Resolved",
    "Resolver",
    "Step",
    "Taxonomy",
    "current",
    "entries_from_toml",
    "entry",
    "history",
    "in_force",
    "known_names",
    "normal_entry",
    "parse_categories",
    "record_taxonomy",
    "stored_version",
    "sync_toml",
    "version",
]

TOML_REASON = "tracework.toml changed"
CATEGORY_FIELDS = ("colour", "description", "guideline")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Category:
    name: str
    colour: str
    description: str = ""
    guideline: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "colour": self.colour, "description": self.description,
                "guideline": self.guideline}


def entry(name: str, colour: str, description: str = "", guideline: str = "",
           retired: bool = False, replaced_by: Sequence[str] = ()) -> dict[str, Any]:
    return {"name": name, "colour": colour.lower(), "description": description,
            "guideline": guideline, "retired": retired, "replaced_by": list(replaced_by)}


def normal_entry(item: dict[str, Any]) -> dict[str, Any]:
    # Versions written before guideline text and retirement existed hold fewer keys.
    return entry(str(item["name"]), str(item.get("colour", "")),
                  str(item.get("description", "")), str(item.get("guideline", "")),
                  bool(item.get("retired", False)), item.get("replaced_by", ()))


def entries_from_toml(cats: Sequence[Category]) -> list[dict[str, Any]]:
    return [entry(c.name, c.colour, c.description, c.guideline) for c in cats]


@dataclass
class Taxonomy:
    """One version of the taxonomy: every category it knows, retired ones included."""

    version: int
    entries: list[dict[str, Any]]
    author: str = ""
    reason: str = ""
    created_at: str = ""
    change: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    answers: list[int] = field(default_factory=list)
    pending_toml: bool = False      # holds an edit of tracework.toml not yet recorded

    def active(self) -> list[Category]:
        """The categories in force, in order."""
        return [Category(e["name"], e["colour"], e["description"], e["guideline"])
                for e in self.entries if not e["retired"]]

    def get(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e["name"] == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "author": self.author, "reason": self.reason,
                "created_at": self.created_at, "change": self.change,
                "details": self.details, "answers": self.answers,
                "categories": self.entries}


def record_taxonomy(conn: Connection, version: int, categories: list[dict[str, Any]],
                    author: str, reason: str, log: ledger.LedgerWriter | None = None, *,
                    change: str = "toml", details: Mapping[str, Any] | None = None,
                    answers: Sequence[int] = ()) -> None:
    """Store one taxonomy version, what changed and the flags it answered; one ledger entry."""
    conn.execute(insert(taxonomy_versions).values(
        version=version, categories=ledger.canonical(categories), author=author, reason=reason,
        created_at=ledger.now()))
    conn.execute(insert(taxonomy_changes).values(
        version=version, change=change, details=ledger.canonical(dict(details or {})),
        answers=ledger.canonical(list(answers))))
    integrity.seal(conn, "taxonomy_versions", [version])
    integrity.seal(conn, "taxonomy_changes", [version])
    own = log is None
    writer = ledger.LedgerWriter(conn, author) if log is None else log
    writer.append("taxonomy.version", f"taxonomy:{version}", field=change,
                  new={"categories": categories, "details": dict(details or {}),
                       "answers": list(answers)}, reason=reason)
    if own:
        writer.flush()


def parse_categories(config: Mapping[str, Any]) -> list[Category]:
    raw = config.get("taxonomy", {}).get("categories", [])
    if not isinstance(raw, list):
        raise ConfigError("tracework.toml: [taxonomy] categories must be a list of tables")
    seen: set[str] = set()
    out = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"tracework.toml: taxonomy category {i} needs a name")
        name = item["name"]
        colour = str(item.get("colour", ""))
        if not _COLOUR.match(colour):
            raise ConfigError(f"tracework.toml: category {name!r} needs a colour like #1f77b4, "
                              f"not {colour!r}")
        if name in seen:
            raise ConfigError(f"tracework.toml: category {name!r} is listed twice")
        seen.add(name)
        out.append(Category(name, colour.lower(), str(item.get("description", "")),
                            str(item.get("guideline", ""))))
    return out


def _row_taxonomy(conn: Connection, row: Any) -> Taxonomy:
    change = conn.execute(select(taxonomy_changes)
                          .where(taxonomy_changes.c.version == row.version)).first()
    return Taxonomy(
        version=int(row.version), entries=[normal_entry(e) for e in json.loads(row.categories)],
        author=row.author, reason=row.reason, created_at=row.created_at,
        change=change.change if change else ("init" if row.version == 1 else "toml"),
        details=json.loads(change.details) if change else {},
        answers=json.loads(change.answers) if change else [])


def current(conn: Connection) -> Taxonomy | None:
    """The newest stored version (None before the project's first)."""
    row = conn.execute(select(taxonomy_versions)
                       .order_by(taxonomy_versions.c.version.desc()).limit(1)).first()
    return None if row is None else _row_taxonomy(conn, row)


def stored_version(conn: Connection, number: int) -> Taxonomy:
    row = conn.execute(select(taxonomy_versions)
                       .where(taxonomy_versions.c.version == number)).first()
    if row is None:
        newest = current(conn)
        raise NotFound(f"taxonomy version {number} does not exist",
                       hint=f"Versions run from 1 to {newest.version if newest else 0}; see "
                            "`tracework taxonomy history`.")
    return _row_taxonomy(conn, row)


def version(project: Project, number: int) -> Taxonomy:
    """One stored version."""
    with project.store.read() as conn:
        return stored_version(conn, number)


def history(project: Project) -> list[Taxonomy]:
    """Every version, oldest first."""
    with project.store.read() as conn:
        rows = conn.execute(select(taxonomy_versions)
                            .order_by(taxonomy_versions.c.version)).all()
        return [_row_taxonomy(conn, r) for r in rows]


def known_names(conn: Connection) -> set[str]:
    """Every category name any version has known (notes may refer to retired ones)."""
    names: set[str] = set()
    for (cats,) in conn.execute(select(taxonomy_versions.c.categories)):
        names.update(str(e["name"]) for e in json.loads(cats))
    return names


def _last_synced(conn: Connection, base: Taxonomy) -> list[dict[str, Any]]:
    row = conn.execute(select(taxonomy_sync.c.categories).where(taxonomy_sync.c.id == 1)).first()
    if row is not None:
        return [normal_entry(e) for e in json.loads(row.categories)]
    # A store from before the sync point was kept: its versions were copies of the file.
    return [e for e in base.entries if not e["retired"]]


def _toml_delta(entries: list[dict[str, Any]], before: list[dict[str, Any]],
                after: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Apply what changed in the file (before → after) to the store's entries."""
    out = [dict(e) for e in entries]
    by_name = {e["name"]: e for e in out}
    was = {e["name"]: e for e in before}
    now = {e["name"]: e for e in after}
    details: dict[str, list[str]] = {"added": [], "retired": [], "redefined": [], "ignored": []}
    for name, item in now.items():
        old = was.get(name)
        if old is not None and all(old[f] == item[f] for f in CATEGORY_FIELDS):
            continue
        target = by_name.get(name)
        if target is None and old is not None:
            details["ignored"].append(name)      # renamed or merged away by a command
        elif target is None:
            out.append(dict(item))
            by_name[name] = out[-1]
            details["added"].append(name)
        elif target["retired"] or any(target[f] != item[f] for f in CATEGORY_FIELDS):
            kind = "added" if target["retired"] else "redefined"
            target.update({f: item[f] for f in CATEGORY_FIELDS}, retired=False, replaced_by=[])
            details[kind].append(name)
    for name in was:
        if name not in now and name in by_name and not by_name[name]["retired"]:
            by_name[name]["retired"] = True
            details["retired"].append(name)
    return out, {k: v for k, v in details.items() if v}


def in_force(project: Project, conn: Connection) -> Taxonomy:
    """The taxonomy in force as ``conn`` sees it, with an unrecorded edit of the file applied."""
    wanted = entries_from_toml(parse_categories(project.config))
    base = current(conn)
    if base is None:
        return Taxonomy(version=1, entries=wanted, change="init", pending_toml=True)
    before = _last_synced(conn, base)
    if before == wanted:
        return base
    entries, details = _toml_delta(base.entries, before, wanted)
    return Taxonomy(version=base.version + (entries != base.entries), entries=entries,
                    change="toml", details=details, reason=TOML_REASON, pending_toml=True)


def _save_sync(conn: Connection, cats: list[dict[str, Any]], number: int) -> None:
    conn.execute(delete(taxonomy_sync).where(taxonomy_sync.c.id == 1))
    conn.execute(insert(taxonomy_sync).values(id=1, categories=ledger.canonical(cats),
                                              version=number, synced_at=ledger.now()))


def sync_toml(project: Project, conn: Connection, log: ledger.LedgerWriter | None = None) -> int:
    """Record an edit of tracework.toml as a version (if there is one); the version in force."""
    tax = in_force(project, conn)
    if not tax.pending_toml:
        return tax.version
    wanted = entries_from_toml(parse_categories(project.config))
    base = current(conn)
    if base is None or tax.entries != base.entries:
        reason = "created with the project" if base is None else TOML_REASON
        record_taxonomy(conn, tax.version, tax.entries, project.actor, reason, log,
                        change=tax.change, details=tax.details)
    else:
        # The file now says what the store already holds: only the sync point moves.
        writer = ledger.LedgerWriter(conn, project.actor) if log is None else log
        writer.append("taxonomy.toml_synced", f"taxonomy:{tax.version}", new=wanted,
                      reason=TOML_REASON)
        if log is None:
            writer.flush()
    _save_sync(conn, wanted, tax.version)
    return tax.version




# -- resolving old labels to the taxonomy in force --------------------------------------------

RETIRED_MARK = " (retired)"


@dataclass(frozen=True)
class Step:
    """One recorded change a label's category went through on its way to the taxonomy in force."""

    version: int
    change: str                        # the version's change: rename, merge, split, retire...
    to: str = ""                       # the category after the step ("" when it was retired)
    into: tuple[str, ...] = ()         # a split's new categories

    def text(self) -> str:
        at = f"in version {self.version}"
        if self.change == "split":
            parts = ", ".join(self.into)
            return (f"split into {parts} {at}, its labels mapped to {self.to} by the split's rule"
                    if self.to else f"split into {parts} {at}")
        if not self.to:
            return f"retired {at}" + (" (tracework.toml changed)" if self.change == "toml" else "")
        if self.change == "rename":
            return f"renamed {self.to} {at}"
        if self.change == "merge":
            return f"merged into {self.to} {at}"
        if self.change == "map":
            return f"mapped to {self.to} {at} by a rule"
        if self.change in ("add", "toml") and not self.into:
            return f"brought back {at}"
        return f"replaced by {self.to} {at}"


@dataclass(frozen=True)
class Resolved:
    """Where a label made under one version stands in the taxonomy in force."""

    original: str                      # the category it was made with
    version: int                       # the version it was made under
    current: str                       # a category in force, or "<name> (retired)"
    retired: bool = False              # no category in force holds it: waiting to be relabelled
    steps: tuple[Step, ...] = ()

    def history(self) -> list[str]:
        return [s.text() for s in self.steps]

    def describe(self) -> str:
        """The changes followed, in words, e.g. "renamed Cord in version 3"."""
        return ", then ".join(self.history()) or "unchanged"


def _dimmed(colour: str) -> str:
    # A retired category is drawn halfway to grey, so it never reads as the one that replaced
    # it (a split's new category may reuse the old colour).
    channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)] if _COLOUR.match(colour) else [0] * 3
    return "#" + "".join(f"{(c + 0x80) // 2:02x}" for c in channels)


class Resolver:
    """Maps a label's (category, version made under) to the taxonomy in force, following the
    recorded changes: a rename to the new name, a merge to the merged category, a split to the
    category its rule names (``taxonomy split --map-to``, or a later ``taxonomy map``) or else
    to ``"<name> (retired)"``, as a retirement does. Built once per export, render or audit from the stored versions
    (and an edit of tracework.toml not yet recorded); the one place labels are resolved.
    """

    def __init__(self, versions: Sequence[Taxonomy]) -> None:
        self.versions = sorted(versions, key=lambda t: t.version)
        self.newest = self.versions[-1] if self.versions else Taxonomy(version=0, entries=[])
        self._by_number = {t.version: t for t in self.versions}
        self._active = {c.name: c for c in self.newest.active()}
        self._cache: dict[tuple[str, int], Resolved] = {}

    @classmethod
    def of(cls, conn: Connection, project: Project | None = None) -> Resolver:
        """From the store's versions; with ``project``, an unrecorded edit of its file too."""
        rows = conn.execute(select(taxonomy_versions).order_by(taxonomy_versions.c.version))
        versions = [_row_taxonomy(conn, r) for r in rows.all()]
        if project is not None:
            pending = in_force(project, conn)
            if not versions or pending.version > versions[-1].version:
                versions.append(pending)
        return cls(versions)

    def active(self) -> list[Category]:
        """The categories in force, in order."""
        return list(self._active.values())

    def in_force(self, name: str) -> bool:
        return name in self._active

    def resolve(self, name: str, version: int) -> Resolved:
        """Where a label of category ``name`` made under ``version`` stands now."""
        key = (name, version)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._walk(name, version)
        return found

    def _walk(self, original: str, made_under: int) -> Resolved:
        start = self._by_number.get(made_under)
        item = start.get(original) if start is not None else None
        name, retired = original, item is None or bool(item["retired"])
        steps: list[Step] = []
        for tax in self.versions:
            if tax.version <= made_under:
                continue
            item = tax.get(name)
            if item is None:
                continue
            if retired:
                rule = tax.details.get("map_to") if (
                    tax.change == "map" and tax.details.get("from") == name) else None
                if rule:
                    retired, name = False, str(rule)
                    steps.append(Step(tax.version, "map", name))
                elif not item["retired"]:
                    retired = False
                    steps.append(Step(tax.version, tax.change, name))
                continue
            if not item["retired"]:
                continue
            replaced = [str(n) for n in item["replaced_by"]]
            rule = tax.details.get("map_to") if (
                tax.change == "split" and tax.details.get("from") == name) else None
            if len(replaced) == 1:
                steps.append(Step(tax.version, tax.change, replaced[0]))
                name = replaced[0]
            elif rule and str(rule) in replaced:
                steps.append(Step(tax.version, "split", str(rule), tuple(replaced)))
                name = str(rule)
            else:
                retired = True
                steps.append(Step(tax.version, "split" if len(replaced) > 1 else tax.change,
                                  "", tuple(replaced)))
        retired = retired or name not in self._active
        return Resolved(original, made_under, f"{name}{RETIRED_MARK}" if retired else name,
                        retired, tuple(steps))

    def resolve_name(self, name: str) -> Resolved:
        """Where category ``name`` stands now, from the newest version it was in force in."""
        if name in self._active:
            return Resolved(name, self.newest.version, name)
        last = next((t.version for t in reversed(self.versions)
                     if (e := t.get(name)) is not None and not e["retired"]), None)
        if last is None:
            if name.endswith(RETIRED_MARK) and self._known(name.removesuffix(RETIRED_MARK)):
                return Resolved(name, self.newest.version, name, True)
            raise NotFound(f"category {name!r} is in no version of the taxonomy")
        return self.resolve(name, last)

    def _known(self, name: str) -> bool:
        return any(t.get(name) is not None for t in self.versions)

    def category(self, current: str) -> Category:
        """The category a resolved name stands for (a retired one: dimmed, described)."""
        found = self._active.get(current)
        if found is not None:
            return found
        name = current.removesuffix(RETIRED_MARK)
        item = next((e for t in reversed(self.versions) if (e := t.get(name)) is not None),
                    None)
        colour = str(item["colour"]) if item else ""
        return Category(current, _dimmed(colour),
                        f"labels made under {name}, no longer in force; not yet relabelled")

    def categories(self, currents: Iterable[str]) -> list[Category]:
        """``currents`` as categories: those in force in taxonomy order, then retired ones."""
        wanted = set(currents)
        retired = sorted(n for n in wanted if n not in self._active)
        return [c for n, c in self._active.items() if n in wanted] + \
            [self.category(n) for n in retired]

    def sources(self, currents: Collection[str]) -> set[str]:
        """Every category name whose labels may resolve into ``currents`` (a superset)."""
        wanted = set(currents)
        names = {str(e["name"]) for t in self.versions for e in t.entries}
        found = set(wanted)
        for name in names:
            for t in self.versions:
                if t.get(name) is not None and self.resolve(name, t.version).current in wanted:
                    found.add(name)
                    break
        return found

    def choose(self, wanted: Collection[str], option: str = "--category"
               ) -> tuple[list[str], list[str]]:
        """The resolved categories a filter names, and a note for each old name.

        No filter chooses every category in force (retired ones join when labels use them).
        A name no version knows is refused, naming the categories in force.
        """
        if not wanted:
            return list(self._active), []
        chosen: list[str] = []
        notes: list[str] = []
        unknown: list[str] = []
        for name in wanted:
            try:
                found = self.resolve_name(name)
            except NotFound:
                unknown.append(name)
                continue
            if found.current != name:
                tail = (f"its labels are exported as {found.current!r} until relabelled "
                        "(see `tracework taxonomy pending`)" if found.retired
                        else f"selecting {found.current}")
                notes.append(f"{option} {name}: {found.describe()}; {tail}")
            if found.current not in chosen:
                chosen.append(found.current)
        if unknown:
            raise InputError(
                f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}: in "
                f"no version of the taxonomy (in force: {', '.join(self._active) or 'none'})",
                field=option, hint="See `tracework taxonomy show --retired` and "
                                   "`tracework taxonomy history`.")
        return chosen, notes

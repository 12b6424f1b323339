"""Inspecting a published bundle offline, with nothing but the bundle's folder.

:func:`inspect_bundle` makes three checks, each with a short verdict and the first thing that
fails:

``files``
    Every file the bundle's ``croissant.json`` lists (its ``cr:FileObject`` entries) is there,
    with the size and SHA-256 listed; no other file is there (``croissant.json`` itself aside:
    it cannot list its own hash), so nothing was added, removed or replaced; every glob of a
    ``cr:FileSet`` matches listed files; every copied image still has the SHA-256 its task
    image had at ingest (``records/images.jsonl``), so an image replaced together with its
    listing is caught too.
``ledger``
    The published change log (``ledger.jsonl``) is one unbroken chain: entries numbered 1, 2, …
    without a gap, each naming the previous entry's hash, each entry whose values are published
    hashing to its own hash, exactly as ``tracework verify`` recomputes the project's log. An
    entry whose values were withheld from the publication (marked ``"redacted"``) can only be
    checked by its links, and is counted as such. The chain must end at the head and length
    ``ledger-head.json`` states, and at the head ``croissant.json`` and ``credits.json`` name.
``counts``
    What the datasheet states (images, labels, labels per category, people, the change-log
    entry and head it was computed at) and what ``croissant.json`` and ``credits.json`` state
    (contributors, credited people) agree with the files: ``records/images.jsonl``,
    ``records/annotations.jsonl`` and ``coco/annotations.json``.

Nothing is followed outside the folder: a listed path that leaves it, or a link, fails the
check. The result is a :class:`Inspection`; :meth:`Inspection.require_ok` raises
:class:`~tracework.core.errors.BundleError` (exit 7) naming the first file or entry that fails.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from tracework.core import ledger
from tracework.core.errors import BundleError, InputError

__all__ = ["CHECKS", "Check", "Inspection", "inspect_bundle"]

CHECKS = ("files", "ledger", "counts")
CROISSANT = "croissant.json"
LEDGER = "ledger.jsonl"
LEDGER_HEAD = "ledger-head.json"
CREDITS = "credits.json"
DATASHEET = "DATASHEET.md"
IMAGES = "records/images.jsonl"
ANNOTATIONS = "records/annotations.jsonl"
COCO = "coco/annotations.json"

_SIZE = re.compile(r"^(\d+) ?B$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_KEYS = ("seq", "ts", "actor", "action", "target", "field", "old", "new", "reason",
               "prev_hash", "hash")
_MD_ESCAPE = re.compile(r"\\([\\`*_\[\]#|~$.)=+-])")
_COMPOSITION = re.compile(r"^(\d+) images and (\d+) labels \((.*)\), made by (\d+) people")
_COMPUTED_AT = re.compile(r"at change-log entry (\d+) \(head ([0-9a-f]{64})\)")

Progress = Callable[[int, int | None], None]


@dataclass
class Check:
    """One check's verdict: what was checked, and the first problem found (empty if none)."""

    name: str
    summary: str = ""
    problem: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problem

    def fail(self, problem: str) -> None:
        if not self.problem:     # the first problem is the one named
            self.problem = problem

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "summary": self.summary,
                "problem": self.problem or None, **self.facts}


@dataclass
class Inspection:
    """The verdicts of every check of one bundle."""

    bundle: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "ok": self.ok,
                "checks": [c.as_dict() for c in self.checks]}

    def require_ok(self) -> Inspection:
        """Itself when every check passed; else :class:`BundleError` naming the first failure."""
        failed = [c for c in self.checks if not c.ok]
        if failed:
            first = failed[0]
            others = "" if len(failed) == 1 else (
                " (also failing: " + ", ".join(c.name for c in failed[1:]) + ")")
            raise BundleError(f"{self.bundle} fails the {first.name} check: {first.problem}"
                              f"{others}",
                              hint="Do not trust this copy: get the bundle again from its "
                                   "publisher, and compare its ledger head with theirs.")
        return self


# -- reading the bundle ----------------------------------------------------------------------

class _Unreadable(Exception):
    """A file of the bundle cannot be read as what it should be (message names it)."""


def _json_file(root: Path, rel: str) -> Any:
    path = root / rel
    if path.is_symlink() or not path.is_file():
        raise _Unreadable(f"{rel} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _Unreadable(f"{rel} is not readable JSON ({type(exc).__name__})") from None


def _jsonl_rows(root: Path, rel: str) -> Iterator[tuple[int, dict[str, Any]]]:
    path = root / rel
    if path.is_symlink() or not path.is_file():
        raise _Unreadable(f"{rel} is missing")
    with path.open(encoding="utf-8", newline="\n") as fh:
        for number, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
            except ValueError:
                raise _Unreadable(f"{rel} line {number} is not JSON") from None
            if not isinstance(row, dict):
                raise _Unreadable(f"{rel} line {number} is not a JSON object")
            yield number, row


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_relative(name: Any) -> str | None:
    """``name`` as a path inside the bundle, or None if it is not one (absolute, ``..``)."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        return None
    return path.as_posix()


def _present(root: Path) -> list[str]:
    """Every entry under ``root`` that is not a plain folder: files, and links of any kind
    (never followed), as relative POSIX paths in sorted order."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in dirs:
            if (base / name).is_symlink():
                found.append((base / name).relative_to(root).as_posix())
        found.extend((base / name).relative_to(root).as_posix() for name in files)
    return sorted(found)


# -- files ------------------------------------------------------------------------------------

def _listed(doc: Any, check: Check) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("distribution"), list):
        check.fail(f"{CROISSANT} has no distribution list")
        return {}, []
    objects: dict[str, dict[str, Any]] = {}
    filesets = []
    for item in doc["distribution"]:
        kind = item.get("@type") if isinstance(item, dict) else None
        if kind == "cr:FileSet":
            filesets.append(item)
            continue
        if kind != "cr:FileObject":
            check.fail(f"{CROISSANT} lists a distribution item that is neither a FileObject "
                       "nor a FileSet")
            continue
        rel = _safe_relative(item.get("contentUrl", item.get("name")))
        if rel is None:
            check.fail(f"{CROISSANT} lists {item.get('contentUrl')!r}, which is not a path "
                       "inside the bundle")
        elif rel in objects:
            check.fail(f"{CROISSANT} lists {rel} twice")
        else:
            objects[rel] = item
    return objects, filesets


def _check_object(root: Path, rel: str, item: dict[str, Any], check: Check,
                  hashes: dict[str, str]) -> bool:
    path = root / rel
    if path.is_symlink() or not path.is_file():
        check.fail(f"{rel} is listed in {CROISSANT} but missing from the bundle")
        return False
    listed = item.get("sha256")
    if not isinstance(listed, str) or not _HEX64.match(listed):
        check.fail(f"{CROISSANT} lists {rel} without a SHA-256")
        return False
    size = _SIZE.match(str(item.get("contentSize", "")))
    if size is not None and int(size.group(1)) != path.stat().st_size:
        check.fail(f"{rel} is {path.stat().st_size} bytes; {CROISSANT} lists "
                   f"{size.group(1)} bytes: the file was changed")
        return False
    hashes[rel] = _sha256(path)
    if hashes[rel] != listed:
        check.fail(f"{rel} does not match its SHA-256 in {CROISSANT}: the file was changed")
        return False
    return True


def _check_copied_images(root: Path, hashes: dict[str, str], check: Check) -> int:
    """Each copied image against the SHA-256 its task image had at ingest (records/images):
    a replaced image is caught even where croissant.json was rewritten to match it."""
    recorded: dict[str, str] = {}
    try:
        for _, row in _jsonl_rows(root, IMAGES):
            if row.get("sha256"):
                recorded[str(row.get("file_name"))] = str(row["sha256"])
    except _Unreadable:
        return 0         # a listed file missing or unreadable is reported on its own
    checked = 0
    for rel, digest in sorted(hashes.items()):
        parts = rel.split("/")
        if len(parts) < 2 or "images" not in parts[:-1] or parts[-1] not in recorded:
            continue
        checked += 1
        if digest != recorded[parts[-1]]:
            check.fail(f"{rel} is not the image recorded at ingest ({IMAGES} gives its "
                       f"SHA-256 as {recorded[parts[-1]][:12]}…)")
    return checked


def _glob_matches(pattern: str, rel: str) -> bool:
    want, have = pattern.split("/"), rel.split("/")
    return len(want) == len(have) and all(fnmatchcase(h, w) for w, h in zip(want, have))


def _check_files(root: Path, progress: Progress | None) -> Check:
    check = Check("files")
    try:
        doc = _json_file(root, CROISSANT)
    except _Unreadable as exc:
        check.fail(str(exc))
        check.summary = f"cannot be checked: {exc}"
        return check
    objects, filesets = _listed(doc, check)
    good = 0
    hashes: dict[str, str] = {}
    for done, (rel, item) in enumerate(sorted(objects.items()), 1):
        good += _check_object(root, rel, item, check, hashes)
        if progress is not None:
            progress(done, len(objects))
    images = _check_copied_images(root, hashes, check)
    extra = [p for p in _present(root) if p != CROISSANT and p not in objects]
    if extra:
        check.fail(f"{extra[0]} is in the bundle but not listed in {CROISSANT}"
                   + (f" ({len(extra) - 1} more)" if len(extra) > 1 else ""))
    in_sets = 0
    for fileset in filesets:
        globs = fileset.get("includes") or []
        for pattern in [globs] if isinstance(globs, str) else globs:
            matched = [rel for rel in objects if _glob_matches(str(pattern), rel)]
            if not matched:
                check.fail(f"file set {fileset.get('name')!r} includes {pattern!r}, which "
                           "matches no listed file")
            in_sets += len(matched)
    check.facts = {"listed": len(objects), "matching": good, "unlisted": extra,
                   "in_file_sets": in_sets, "images_checked_against_ingest": images}
    check.summary = (f"{good} of {len(objects)} listed files match their SHA-256"
                     + (f"; {len(extra)} file(s) not listed" if extra else "; no other file")
                     + f"; {images} copied images checked against their hash at ingest")
    return check


# -- ledger -----------------------------------------------------------------------------------

def _entry_problem(number: int, e: dict[str, Any], prev: str) -> str | None:
    missing = [k for k in _ENTRY_KEYS if k not in e]
    if missing:
        return f"{LEDGER} line {number} lacks {', '.join(missing)}"
    if e["seq"] != number:
        return (f"{LEDGER} line {number} holds entry {e['seq']}: entry {number} is missing or "
                "the entries were moved")
    if e["prev_hash"] != prev:
        return (f"entry {number} ({e['action']} {e['target']}) does not follow entry "
                f"{number - 1}: an entry before it was removed, moved or changed")
    if not isinstance(e["hash"], str) or not _HEX64.match(e["hash"]):
        return f"entry {number} has no valid hash"
    if e.get("redacted"):
        return None      # its values were withheld: checked by its links only
    try:
        digest = ledger.entry_hash(prev, e["seq"], e["ts"], e["actor"], e["action"], e["target"],
                                   e["field"], ledger.canonical(e["old"]),
                                   ledger.canonical(e["new"]), e["reason"])
    except (TypeError, ValueError):
        return f"entry {number} holds values that are not JSON"
    if digest != e["hash"]:
        return (f"entry {number} ({e['action']} {e['target']}) does not match its hash: "
                "what it says was changed")
    return None


def _walk_ledger(root: Path, rel: str, check: Check) -> tuple[int, str, int]:
    prev, count, link_only = ledger.GENESIS, 0, 0
    for number, e in _jsonl_rows(root, rel):
        problem = _entry_problem(number, e, prev)
        if problem is not None:
            check.fail(problem)
            return count, prev, link_only
        link_only += bool(e.get("redacted"))
        prev, count = str(e["hash"]), number
    return count, prev, link_only


def _stated_heads(root: Path) -> list[tuple[str, Any, Any]]:
    """(file, head, entries) as the other files of the bundle state them."""
    out: list[tuple[str, Any, Any]] = []
    try:
        doc = _json_file(root, CROISSANT)
        if isinstance(doc, dict):
            out.append((CROISSANT, doc.get("tracework:ledgerHead"),
                        doc.get("tracework:ledgerEntries")))
    except _Unreadable:
        pass            # the files check says so
    if (root / CREDITS).is_file():
        try:
            credits = _json_file(root, CREDITS)
            if isinstance(credits, dict) and "ledger_head" in credits:
                out.append((CREDITS, credits.get("ledger_head"), None))
        except _Unreadable:
            pass
    return out


def _check_ledger(root: Path) -> Check:
    check = Check("ledger")
    try:
        head = _json_file(root, LEDGER_HEAD)
        if not isinstance(head, dict):
            raise _Unreadable(f"{LEDGER_HEAD} is not a JSON object")
        rel = _safe_relative(head.get("file", LEDGER))
        if rel is None:
            raise _Unreadable(f"{LEDGER_HEAD} names a log file outside the bundle")
        count, last, link_only = _walk_ledger(root, rel, check)
    except _Unreadable as exc:
        check.fail(str(exc))
        check.summary = f"cannot be checked: {exc}"
        return check
    recomputed = count - link_only
    check.facts = {"entries": count, "head": last, "recomputed": recomputed,
                   "link_only": link_only}
    if check.ok:
        if (head.get("entries"), head.get("head")) != (count, last):
            check.fail(f"{LEDGER_HEAD} states entry {head.get('entries')} with head "
                       f"{head.get('head')}, but {rel} ends at entry {count} with head {last}"
                       + (": entries were cut off the end" if isinstance(head.get("entries"), int)
                          and head["entries"] > count else ""))
        elif head.get("redacted_entries", link_only) != link_only:
            check.fail(f"{LEDGER_HEAD} states {head.get('redacted_entries')} entries with "
                       f"withheld values; {rel} has {link_only}")
        for name, stated, entries in _stated_heads(root):
            if stated != last or entries not in (None, count):
                check.fail(f"{name} names ledger head {stated} (entry {entries}), not the "
                           f"log's head {last} (entry {count})")
    check.summary = (f"{count} entries chained; {recomputed} recomputed, {link_only} with "
                     f"withheld values checked by their links only; head {last[:12]}…")
    return check


# -- counts -----------------------------------------------------------------------------------

def _unescape_md(text: str) -> str:
    return html.unescape(_MD_ESCAPE.sub(r"\1", text))


def _datasheet_statements(root: Path) -> tuple[str, str]:
    """The composition sentence and the 'computed at' sentence of the datasheet."""
    path = root / DATASHEET
    if path.is_symlink() or not path.is_file():
        raise _Unreadable(f"{DATASHEET} is missing")
    composition = computed = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        plain = _unescape_md(line.strip())
        if not composition and _COMPOSITION.match(plain):
            composition = plain
        if not computed and _COMPUTED_AT.search(plain):
            computed = plain
    if not composition:
        raise _Unreadable(f"{DATASHEET} does not state how many images and labels it holds")
    return composition, computed


def _category_counts(text: str, names: list[str]) -> dict[str, int] | None:
    """``"Body 9, Left_Button 4"`` read with the category names known (names may hold commas
    or spaces); None when it does not read that way."""
    out: dict[str, int] = {}
    rest = text
    for i, name in enumerate(names):
        match = re.match(re.escape(name) + r" (\d+)" + ("" if i == len(names) - 1 else ", "),
                         rest)
        if match is None:
            return None
        out[name] = int(match.group(1))
        rest = rest[match.end():]
    return out if not rest else None


@dataclass
class _Held:
    """What the data files hold."""

    images: int
    labels: int
    coco_images: int
    coco_labels: int
    categories: list[str]
    per_category: Counter[str]
    people: int


def _held(root: Path) -> _Held:
    images = sum(1 for _ in _jsonl_rows(root, IMAGES))
    per_category: Counter[str] = Counter()
    people: set[str] = set()
    labels = 0
    for number, row in _jsonl_rows(root, ANNOTATIONS):
        labels += 1
        per_category[str(row.get("category"))] += 1
        if not row.get("annotator"):
            raise _Unreadable(f"{ANNOTATIONS} line {number} names no annotator")
        people.add(str(row["annotator"]))
    coco = _json_file(root, COCO)
    if not isinstance(coco, dict) or not all(isinstance(coco.get(k), list) for k in
                                             ("images", "annotations", "categories")):
        raise _Unreadable(f"{COCO} is not a COCO file")
    names = [str(c.get("name")) for c in coco["categories"] if isinstance(c, dict)]
    return _Held(images, labels, len(coco["images"]), len(coco["annotations"]), names,
                 per_category, len(people))


def _compare_composition(sentence: str, held: _Held, check: Check) -> None:
    match = _COMPOSITION.match(sentence)
    if match is None:     # _datasheet_statements returns only a sentence that matches
        check.fail(f"{DATASHEET} does not state how many images and labels it holds")
        return
    images, labels, cats, people = (int(match.group(1)), int(match.group(2)), match.group(3),
                                    int(match.group(4)))
    if images != held.images or images != held.coco_images:
        check.fail(f"{DATASHEET} states {images} images; {IMAGES} holds {held.images} and "
                   f"{COCO} {held.coco_images}")
    if labels != held.labels or labels != held.coco_labels:
        check.fail(f"{DATASHEET} states {labels} labels; {ANNOTATIONS} holds {held.labels} and "
                   f"{COCO} {held.coco_labels}")
    stated = _category_counts(cats, held.categories)
    if stated is None:
        check.fail(f"{DATASHEET} counts labels by categories other than {COCO}'s "
                   f"({', '.join(held.categories)})")
    else:
        for name in held.categories:
            if stated[name] != held.per_category.get(name, 0):
                check.fail(f"{DATASHEET} states {stated[name]} {name} labels; {ANNOTATIONS} "
                           f"holds {held.per_category.get(name, 0)}")
    if people != held.people:
        check.fail(f"{DATASHEET} states {people} people made the labels; {ANNOTATIONS} names "
                   f"{held.people}")


def _compare_documents(root: Path, held: _Held, check: Check, computed: str) -> None:
    doc = _json_file(root, CROISSANT)
    head = _json_file(root, LEDGER_HEAD)
    if isinstance(doc, dict) and doc.get("tracework:contributors") not in (None, held.people):
        check.fail(f"{CROISSANT} states {doc['tracework:contributors']} contributors; "
                   f"{ANNOTATIONS} names {held.people}")
    if (root / CREDITS).is_file():
        credits = _json_file(root, CREDITS)
        if isinstance(credits, dict):
            named = len(credits.get("credited") or [])
            if credits.get("contributors") != held.people:
                check.fail(f"{CREDITS} counts {credits.get('contributors')} contributors; "
                           f"{ANNOTATIONS} names {held.people}")
            elif isinstance(doc, dict) and doc.get("tracework:creditedWorkers") not in (None,
                                                                                       named):
                check.fail(f"{CROISSANT} states {doc['tracework:creditedWorkers']} people "
                           f"credited by name; {CREDITS} names {named}")
    at = _COMPUTED_AT.search(computed)
    if at is None:
        check.fail(f"{DATASHEET} does not say at which change-log entry it was computed")
    elif isinstance(head, dict) and (int(at.group(1)), at.group(2)) != (head.get("entries"),
                                                                        head.get("head")):
        check.fail(f"{DATASHEET} was computed at change-log entry {at.group(1)} (head "
                   f"{at.group(2)}); {LEDGER_HEAD} states entry {head.get('entries')} (head "
                   f"{head.get('head')})")


def _check_counts(root: Path) -> Check:
    check = Check("counts")
    try:
        composition, computed = _datasheet_statements(root)
        held = _held(root)
        _compare_composition(composition, held, check)
        _compare_documents(root, held, check, computed)
    except _Unreadable as exc:
        check.fail(str(exc))
        check.summary = f"cannot be checked: {exc}"
        return check
    check.facts = {"images": held.images, "labels": held.labels, "people": held.people,
                   "labels_by_category": {n: held.per_category.get(n, 0)
                                          for n in held.categories}}
    check.summary = (f"{held.images} images, {held.labels} labels, {held.people} people, "
                     f"as {DATASHEET} states" if check.ok else "the documents and the files "
                     "disagree")
    return check


# -- the whole ------------------------------------------------------------------------------

def inspect_bundle(bundle: Path | str, *, progress: Progress | None = None) -> Inspection:
    """Check a published bundle offline (see the module's docstring); never writes.

    ``progress(done, total)`` is called as the listed files are hashed."""
    root = Path(bundle)
    if not root.is_dir():
        raise InputError("is not a folder: give the folder of a bundle "
                         "(`tracework export bundle`)", file=str(root))
    checks = [_check_files(root, progress), _check_ledger(root), _check_counts(root)]
    return Inspection(str(root), checks)

"""Worker ids typed into answers, found and replaced by pseudonyms before anything is stored.

Workers type ids into free text: their own in a feedback box ("my id is a1b2…, please pay"),
someone else's, a pasted link. Every text an import stores (MTurk answers, feedback and raw
cells; Qualtrics answers, "other" texts and embedded data; every label value, attribute,
raw record and feedback of the platform readers, :mod:`tracework.ingest.platforms`) goes
through :class:`TypedIds` first. It finds:

- any platform id held in the project's vault (of any platform, in any case), replaced by
  ``<worker PSEUDONYM>`` of the worker it belongs to;
- any token shaped like an id of the import's platform (:data:`~tracework.formats.workerids.
  ID_SHAPES`: MTurk ``A`` + 11–20 letters and digits) and holding a digit, which is not in the
  vault, replaced by ``<worker id>``.

An id counts only as a whole token: not inside a longer run of letters, digits, ``_``, ``+``
or ``/`` (so base64 image data and pseudonyms are left alone); ids of other shapes are found
when made of letters, digits, ``_`` and the separators ``. @ : -`` (e-mail addresses, Ground
Truth's ``private.us-east-1.…``, ``annotator-0042``). Vault ids shorter than
:data:`MIN_ID_LENGTH` characters (a Label Studio user number) are not looked for. The text as
typed goes to the vault (``vault_values``) and nowhere else.

Cost: two small patterns compiled once per import, whatever the number of workers. Shaped
ids are found by the platform's pattern and looked up in a dictionary; ids of other shapes by
splitting each run of id characters at its separators and looking up each sequence of up to
as many parts as the longest such id has. Neither loops over the vault's ids.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

import regex
from sqlalchemy import Connection, select

from tracework.core.store.schema import vault
from tracework.formats.workerids import ID_SHAPES

__all__ = ["ID_TOKEN", "MIN_ID_LENGTH", "TypedIds", "hash_form", "hash_text", "vault_rows"]

MIN_ID_LENGTH = 8
#: What an id-shaped token not in the vault becomes.
ID_TOKEN = "<worker id>"
_EDGE = "A-Za-z0-9_+/"
_DIGIT = regex.compile(r"\d")
_LETTER = regex.compile(r"[A-Za-z]")
_RUN = regex.compile(rf"[\w.@:-]{{{MIN_ID_LENGTH},}}")  # shorter runs hold no id
_PART = regex.compile(r"[^.@:-]+")
_SEPARATORS = regex.compile(r"[.@:-]")


def _edge(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "_+/")


class TypedIds:
    """Finds and replaces worker ids inside texts; built once per import.

    ``add`` makes a worker first seen in this import known; ``scrub`` returns the text with
    ids replaced. :attr:`replaced` counts the ids replaced in cells (:meth:`scrub_cells`).
    """

    def __init__(self, conn: Connection, platform: str) -> None:
        shape = ID_SHAPES.get(platform)
        self._shape = (regex.compile(f"(?<![{_EDGE}])(?:{shape})(?![{_EDGE}])", regex.IGNORECASE)
                       if shape else None)
        self._whole_shape = regex.compile(shape, regex.IGNORECASE) if shape else None
        self._platform = platform
        self._known: dict[str, str] = {}
        self._parts = 0         # the most parts an id of another shape has
        for row in conn.execute(select(vault.c.pseudonym, vault.c.platform_worker_id)):
            self.add(str(row.platform_worker_id), str(row.pseudonym))
        self.replaced = 0

    def add(self, platform_id: str, token: str) -> None:
        """Know ``platform_id`` (e.g. seen first in this import) as the worker ``token``."""
        key = platform_id.strip().casefold()
        if len(key) < MIN_ID_LENGTH:
            return
        self._known.setdefault(key, token)
        if self._whole_shape is None or not self._whole_shape.fullmatch(key):
            self._parts = max(self._parts, len(_SEPARATORS.findall(key)) + 1)

    def _shaped(self, match: regex.Match[str], strangers: bool = True) -> str:
        found = match.group(0)
        token = self._known.get(found.casefold())
        if token is not None:
            return f"<worker {token}>"
        if not strangers:
            return found
        if _DIGIT.search(found) and (self._platform != "prolific" or _LETTER.search(found)):
            return ID_TOKEN
        return found        # a word of the right length (ACKNOWLEDGEMENT), not an id

    def _in_run(self, text: str, run: regex.Match[str]) -> list[tuple[int, int, str]]:
        """Vault ids inside one run of id characters: (start, end, replacement), leftmost and
        longest first, not overlapping."""
        parts = [(m.start(), m.end()) for m in _PART.finditer(text, run.start(), run.end())]
        found, i = [], 0
        while i < len(parts):
            start = parts[i][0]
            hit = None
            if start == 0 or not _edge(text[start - 1]):
                for j in range(min(len(parts), i + self._parts) - 1, i - 1, -1):
                    end = parts[j][1]
                    if end < len(text) and _edge(text[end]):
                        continue
                    token = self._known.get(text[start:end].casefold())
                    if token is not None:
                        hit = (j, end, token)
                        break
            if hit is None:
                i += 1
                continue
            found.append((start, hit[1], f"<worker {hit[2]}>"))
            i = hit[0] + 1
        return found

    def _scrub(self, text: str, strangers: bool = True) -> tuple[str, int]:
        if not text:
            return text, 0
        replaced = 0
        if self._parts:
            pieces, last = [], 0
            for run in _RUN.finditer(text):
                for start, end, out in self._in_run(text, run):
                    pieces += [text[last:start], out]
                    last, replaced = end, replaced + 1
            if pieces:
                text = "".join(pieces) + text[last:]
        if self._shape is not None:

            def swap(match: regex.Match[str]) -> str:
                nonlocal replaced
                out = self._shaped(match, strangers)
                replaced += out != match.group(0)
                return out

            text = self._shape.sub(swap, text)
        return text, replaced

    def scrub(self, text: str, *, strangers: bool = True, counted: bool = False) -> str:
        """``text`` with every worker id in it replaced.

        ``strangers=False`` replaces only the ids of known workers, not tokens merely shaped
        like an id of the platform: for a record whose own ids (a Prolific submission or study
        id) have the shape of a worker's. ``counted`` adds the ids replaced to
        :attr:`replaced`.
        """
        clean, n = self._scrub(text, strangers)
        if counted:
            self.replaced += n
        return clean

    def scrub_cells(self, cells: dict[str, str], keep: Container[str] = ()
                    ) -> tuple[dict[str, str], dict[str, str]]:
        """The cells with ids replaced (those named in ``keep`` as they are), and the cells
        that changed, as typed: the part for the vault. Ids found count in :attr:`replaced`
        (the cells are what a file carries; answers parsed from them are not counted again)."""
        out, typed = {}, {}
        for key, value in cells.items():
            clean, n = (value, 0) if key in keep else self._scrub(value)
            out[key] = clean
            self.replaced += n
            if clean != value:
                typed[key] = value
        return out, typed

    def scrub_value(self, value: Any) -> Any:
        """A decoded answer (dicts, lists, strings) with ids replaced in every string;
        image data (``pngImageData``) is left alone."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: v if k == "pngImageData" else self.scrub_value(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.scrub_value(v) for v in value)
        return value


_TOKEN = regex.compile(r"<worker w_[a-z2-7]+>")


def hash_form(cells: dict[str, str], typed: Container[str]) -> dict[str, str]:
    """The cells as their content hash sees them: in cells where ids were typed, every
    replacement reads ``<worker id>``. Whether a typed id was known when the file was first
    imported (the worker may come later) then does not make a later download of the same work
    a conflict."""
    return {k: hash_text(v) if k in typed else v for k, v in cells.items()}


def hash_text(text: str) -> str:
    """A text in which ids were typed, as its content hash sees it (see :func:`hash_form`)."""
    return _TOKEN.sub(ID_TOKEN, text)


def vault_rows(typed: dict[str, str]) -> dict[str, str]:
    """Typed texts as ``vault_values`` fields: ``typed text: COLUMN`` (the field's length is
    bounded)."""
    return {f"typed text: {key}"[:128]: value for key, value in typed.items()}

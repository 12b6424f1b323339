"""Worker ids typed into answers, found and replaced by pseudonyms before anything is stored.

Workers type ids into free text: their own in a feedback box ("my id is a1b2…, please pay"),
someone else's, a pasted link. Every text an import stores (MTurk answers, feedback and raw
cells; Qualtrics answers, "other" texts and embedded data) goes through :class:`TypedIds`
first. It finds, in one pass per text:

- any platform id held in the project's vault (of any platform, in any case), replaced by
  ``<worker PSEUDONYM>`` of the worker it belongs to;
- any token shaped like an id of the import's platform (:data:`~tracework.formats.workerids.
  ID_SHAPES`: MTurk ``A`` + 11–20 letters and digits) and holding a digit, which is not in the
  vault, replaced by ``<worker id>``.

An id counts only as a whole token: not inside a longer run of letters, digits, ``_``, ``+``
or ``/`` (so base64 image data and pseudonyms are left alone), and vault ids shorter than
:data:`MIN_ID_LENGTH` characters (a Label Studio user number) are not looked for. The text as
typed goes to the vault (``vault_values``) and nowhere else.

Ids are matched by one compiled pattern: the shape, and a trie of the vault ids that do not
have it, so the cost per text does not grow with the number of workers.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import Any

import regex
from sqlalchemy import Connection, select

from tracework.core.store.schema import vault
from tracework.formats.workerids import ID_SHAPES

__all__ = ["ID_TOKEN", "MIN_ID_LENGTH", "TypedIds", "vault_rows"]

MIN_ID_LENGTH = 8
#: What an id-shaped token not in the vault becomes.
ID_TOKEN = "<worker id>"
_EDGE = "A-Za-z0-9_+/"
_DIGIT = regex.compile(r"\d")
_LETTER = regex.compile(r"[A-Za-z]")


class _Node:
    __slots__ = ("children", "end")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.end = False


def _trie(words: Iterable[str]) -> str:
    """A pattern matching exactly ``words``, as a trie: one branch per next character, so the
    engine follows one path whatever the number of words."""
    root = _Node()
    for word in words:
        node = root
        for ch in word:
            node = node.children.setdefault(ch, _Node())
        node.end = True
    return _branch(root)


def _branch(node: _Node) -> str:
    # Iterative would be faster to build, but ids are short: the depth is an id's length.
    alternatives = [regex.escape(ch) + _branch(child)
                    for ch, child in sorted(node.children.items())]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if node.end else body


class TypedIds:
    """Finds and replaces worker ids inside texts; built once per import.

    ``add`` makes a worker first seen in this import known; ``scrub`` returns the text with
    ids replaced and how many were.
    """

    def __init__(self, conn: Connection, platform: str) -> None:
        shape = ID_SHAPES.get(platform)
        self._shape = regex.compile(shape, regex.IGNORECASE) if shape else None
        self._platform = platform
        self._known: dict[str, str] = {}
        self._unshaped: set[str] = set()
        for row in conn.execute(select(vault.c.pseudonym, vault.c.platform_worker_id)):
            self._learn(str(row.platform_worker_id), str(row.pseudonym))
        self._pattern = self._compile()
        self._dirty = False
        self.replaced = 0

    def _learn(self, platform_id: str, token: str) -> bool:
        key = platform_id.strip().casefold()
        if len(key) < MIN_ID_LENGTH:
            return False
        self._known.setdefault(key, token)
        if self._shape is not None and self._shape.fullmatch(key):
            return False
        fresh = key not in self._unshaped
        self._unshaped.add(key)
        return fresh

    def _compile(self) -> regex.Pattern[str] | None:
        parts = []
        if self._unshaped:
            parts.append(_trie(sorted(self._unshaped)))
        if self._shape is not None:
            parts.append(self._shape.pattern)
        if not parts:
            return None
        return regex.compile(f"(?<![{_EDGE}])(?:{'|'.join(parts)})(?![{_EDGE}])",
                             regex.IGNORECASE)

    def add(self, platform_id: str, token: str) -> None:
        """Know ``platform_id`` (seen in this import) as the worker ``token``."""
        if self._learn(platform_id, token):
            self._dirty = True

    def _replace(self, match: regex.Match[str]) -> str:
        found = match.group(0)
        token = self._known.get(found.casefold())
        if token is not None:
            return f"<worker {token}>"
        if _DIGIT.search(found) and (self._platform != "prolific" or _LETTER.search(found)):
            return ID_TOKEN
        return found        # a word of the right length (ACKNOWLEDGEMENT), not an id

    def scrub(self, text: str) -> str:
        """``text`` with every worker id in it replaced."""
        return self._scrub(text)[0]

    def _scrub(self, text: str) -> tuple[str, int]:
        if self._dirty:
            self._pattern, self._dirty = self._compile(), False
        if self._pattern is None or not text:
            return text, 0
        replaced = 0

        def swap(match: regex.Match[str]) -> str:
            nonlocal replaced
            out = self._replace(match)
            replaced += out != match.group(0)
            return out

        return self._pattern.sub(swap, text), replaced

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


def vault_rows(typed: dict[str, str]) -> dict[str, str]:
    """Typed texts as ``vault_values`` fields: ``typed text: COLUMN`` (the field's length is
    bounded)."""
    return {f"typed text: {key}"[:128]: value for key, value in typed.items()}

"""Putting text from the records (names, notes, project metadata) into Markdown and HTML
without letting it format, link, script or reorder the page."""

from __future__ import annotations

import html
import re

__all__ = ["md", "html_text"]

# Bidirectional embedding/override/isolate controls could make a name or note read differently
# from what was stored; they are shown as their code point instead.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")
_SPACE = re.compile(r"\s+")
_LEADING = re.compile(r"^(\d+)([.)])")


def _visible(text: str) -> str:
    text = _BIDI.sub(lambda m: f"U+{ord(m.group()):04X}", text)
    return _CONTROL.sub("", text)


def md(text: str) -> str:
    """One paragraph of literal text for Markdown: no markup, no HTML, no line structure."""
    flat = _SPACE.sub(" ", _visible(str(text))).strip()
    flat = _MD_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))
    # What would open a list or a setext heading at the start of a paragraph.
    flat = _LEADING.sub(r"\1\\\2", flat)
    return "\\" + flat if flat.startswith(("-", "=", "+")) else flat


def html_text(text: str) -> str:
    """Literal text for HTML, with control characters removed and bidi controls shown."""
    return html.escape(_SPACE.sub(" ", _visible(str(text))).strip())

"""Paragraphs of any script, wrapped to a width and drawn with Pillow.

Lines break between words (and between CJK characters, which have no spaces); a word wider than
a whole line is the only thing ever split, and then between characters, never dropped. Each
paragraph takes its direction from its first letter (Unicode's rule), so an Arabic answer is
right-aligned and reads right to left while a Latin name inside it keeps its own order; runs of
one direction are shaped whole by libraqm. Bidirectional control characters in worker text are
removed before drawing: they could make a text read differently from what was typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
import regex
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from tracework.render.fonts import FontStack, Weight

__all__ = ["Line", "MissingGlyphs", "Paragraph", "TextPainter", "clean_text", "graphemes"]

MissingGlyphs = Literal["error", "box"]
Direction = Literal["ltr", "rtl"]

_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NO_BREAK_BEFORE = set("、。，．,.!?！？：；:;)）」』】》〉”’")


def clean_text(text: str) -> str:
    """Worker text made safe to draw: bidi overrides and control characters removed, tabs as
    spaces, line breaks kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROLS.sub("", _BIDI_CONTROLS.sub("", text))


def _strong_direction(text: str) -> Direction | None:
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return None


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and unicodedata.category(ch)[0] == "L"


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    """(word, spaces after it) pairs; each CJK character is a word of its own."""
    word, spaces = "", ""
    for ch in text:
        if ch.isspace():
            spaces += ch
            continue
        breakable = bool(word) and (_wide(ch) or _wide(word[-1])) and ch not in _NO_BREAK_BEFORE
        if spaces or breakable:
            if word:
                yield word, spaces
            word, spaces = "", ""
        word += ch
    if word or spaces:
        yield word, spaces


_GRAPHEME = regex.compile(r"\X")


def graphemes(word: str) -> list[str]:
    """The user-perceived characters of ``word`` (Unicode extended grapheme clusters: a flag, a
    skin-toned or ZWJ emoji, a letter with its marks, a Devanagari conjunct), the units a long
    word may split at."""
    return [str(g) for g in _GRAPHEME.findall(word)]


@dataclass
class _Token:
    text: str
    spaces: str
    width: float
    space_width: float
    direction: Direction | None


@dataclass
class Line:
    """One wrapped line: its tokens in logical order."""

    tokens: list[_Token] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(t.text + t.spaces for t in self.tokens).rstrip()


@dataclass
class Paragraph:
    lines: list[Line]
    direction: Direction
    size: int
    weight: Weight

    @property
    def line_height(self) -> int:
        return line_height(self.size)

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def line_height(size: int) -> int:
    # Room for Devanagari's head marks and Arabic's descending marks.
    return round(size * 1.5)


class TextPainter:
    """Measures, wraps and draws text with a regular and a bold font stack."""

    def __init__(self, regular: FontStack, bold: FontStack,
                 missing: MissingGlyphs = "error") -> None:
        self.stacks = {"regular": regular, "bold": bold}
        self.missing = missing
        self._widths: dict[tuple[str, int, str], float] = {}
        self._masks: dict[tuple[int, str, str], tuple[NDArray[np.uint8], tuple[int, int]]] = {}
        self._fonts_seen: dict[int, ImageFont.FreeTypeFont] = {}
        self._advances: dict[tuple[int, str, str], float] = {}
        self._paragraphs: dict[tuple[object, ...], NDArray[np.uint8]] = {}
        self._layouts: dict[tuple[str, int, int, str], Paragraph] = {}
        # Painted paragraphs by (mask, colour, background): panels repeat most of them.
        self._blocks: dict[tuple[int, tuple[int, ...], tuple[int, ...]],
                           tuple[NDArray[np.uint8], NDArray[np.uint8]]] = {}

    def check(self, text: str, where: str) -> None:
        """Fail clearly, naming ``where``, when a character of ``text`` has no font."""
        if self.missing == "error":
            self.stacks["regular"].check(text, where)

    def width(self, text: str, size: int, weight: Weight = "regular") -> float:
        key = (text, size, weight)
        found = self._widths.get(key)
        if found is None:
            stack = self.stacks[weight]
            found = sum(stack.font(face, size).getlength(run, direction=_run_direction(run))
                        for face, run in stack.runs(text))
            if len(self._widths) > 50_000:
                self._widths.clear()
            self._widths[key] = found
        return found

    def layout(self, text: str, width: float, size: int,
               weight: Weight = "regular") -> Paragraph:
        """``text`` wrapped to ``width`` pixels; line breaks in it start new lines."""
        key = (text, round(width), size, weight)
        found = self._layouts.get(key)
        if found is None:
            found = self._layout(text, width, size, weight)
            if len(self._layouts) > 5_000:
                self._layouts.clear()
            self._layouts[key] = found
        return found

    def _layout(self, text: str, width: float, size: int, weight: Weight) -> Paragraph:
        text = clean_text(text)
        lines: list[Line] = []
        for part in text.split("\n"):
            lines += self._wrap(part, width, size, weight)
        direction = _strong_direction(text) or "ltr"
        return Paragraph(lines or [Line()], direction, size, weight)

    def _token(self, word: str, spaces: str, size: int, weight: Weight) -> _Token:
        space = self.width(" ", size, weight) * len(spaces)
        return _Token(word, spaces, self.width(word, size, weight) if word else 0.0, space,
                      _strong_direction(word))

    def _wrap(self, text: str, width: float, size: int, weight: Weight) -> list[Line]:
        lines = [Line()]
        used = 0.0
        for word, spaces in _tokens(text):
            token = self._token(word, spaces, size, weight)
            pieces = [token] if token.width <= width else self._split(token, width, size, weight)
            for piece in pieces:
                current = lines[-1]
                gap = current.tokens[-1].space_width if current.tokens else 0.0
                if current.tokens and used + gap + piece.width > width:
                    lines.append(Line([piece]))
                    used = piece.width
                else:
                    current.tokens.append(piece)
                    used += gap + piece.width
        return lines

    def _split(self, token: _Token, width: float, size: int, weight: Weight) -> list[_Token]:
        """A word wider than a line, cut between characters into pieces that fit."""
        pieces: list[_Token] = []
        chunk = ""
        for unit in graphemes(token.text):
            if chunk and self.width(chunk + unit, size, weight) > width:
                pieces.append(self._token(chunk, "", size, weight))
                chunk = ""
            chunk += unit
        last = self._token(chunk, token.spaces, size, weight)
        return pieces + [last]

    def draw(self, canvas: NDArray[np.uint8], para: Paragraph, x: float, y: float,
             width: float, fill: tuple[int, int, int],
             background: tuple[int, int, int] | None = None) -> float:
        """Draw ``para`` onto ``canvas`` (H×W×3, channels in the order ``fill`` is given) in the
        box starting at (x, y), ``width`` wide; returns the y below it.

        Over a solid ``background`` the box is painted through a 256-entry colour table, several
        times faster than blending with what is under it.
        """
        mask = self.paragraph_mask(para, width)
        if background is None:
            _blend(canvas, mask, round(x), round(y), np.asarray(fill, np.uint16))
            return y + para.height
        key = (id(mask), fill, background)
        entry = self._blocks.get(key)
        # The entry keeps its mask alive, so the id in the key cannot name another mask.
        if entry is None or entry[0] is not mask:
            block = np.asarray(cv2.LUT(cv2.merge([mask, mask, mask]), _ramp(fill, background)),
                               np.uint8)
            entry = (mask, block)
            if len(self._blocks) > 2_000:
                self._blocks.clear()
            self._blocks[key] = entry
        _paste(canvas, entry[1], round(x), round(y))
        return y + para.height

    def paragraph_mask(self, para: Paragraph, width: float) -> NDArray[np.uint8]:
        """The paragraph's coverage, ``para.height`` × ``width``; cached, since panels repeat
        most of their paragraphs (question texts, a worker's answers) from frame to frame."""
        key = (tuple(line.text for line in para.lines), para.direction, para.size, para.weight,
               round(width))
        found = self._paragraphs.get(key)
        if found is not None:
            return found
        mask = np.zeros((para.height, max(1, round(width))), np.uint8)
        y = 0
        for line in para.lines:
            baseline = y + round(para.size * 1.12)
            for seg_x, face_runs in self._place(line, para, 0, width):
                cursor = seg_x
                for font, run, direction, advance in face_runs:
                    glyphs, (dx, dy) = self._mask(font, run, direction)
                    _stamp(mask, glyphs, round(cursor) + dx, baseline + dy)
                    cursor += advance
            y += para.line_height
        if len(self._paragraphs) > 5_000:
            self._paragraphs.clear()
        self._paragraphs[key] = mask
        return mask

    def _advance(self, font: ImageFont.FreeTypeFont, run: str, direction: Direction) -> float:
        """The run's advance width, measured once: shaping it costs as much as drawing it."""
        key = (id(font), run, direction)
        found = self._advances.get(key)
        if found is None:
            found = font.getlength(run, direction=direction)
            if len(self._advances) > 50_000:
                self._advances.clear()
            self._advances[key] = found
            self._fonts_seen[id(font)] = font      # keeps id() keys valid
        return found

    def _mask(self, font: ImageFont.FreeTypeFont, run: str, direction: Direction
              ) -> tuple[NDArray[np.uint8], tuple[int, int]]:
        """The run's coverage mask and its offset from the pen position, rendered once:
        FreeType rasterises every glyph on every call, and panels repeat most of their text."""
        key = (id(font), run, direction)
        found = self._masks.get(key)
        if found is not None:
            return found
        box = font.getbbox(run, direction=direction, anchor="ls")
        left, top, right, bottom = (int(v) for v in box)
        image = Image.new("L", (max(1, right - left), max(1, bottom - top)))
        ImageDraw.Draw(image).text((-left, -top), run, font=font, fill=255, anchor="ls",
                                   direction=direction)
        made = (np.asarray(image, np.uint8), (left, top))
        if len(self._masks) > 20_000:
            self._masks.clear()
        self._masks[key] = made
        self._fonts_seen[id(font)] = font      # keeps id() keys valid
        return made

    def _place(self, line: Line, para: Paragraph, x: float, width: float
               ) -> list[tuple[float, list[tuple[ImageFont.FreeTypeFont, str, Direction, float]]]]:
        """Each word with its left edge and its runs left to right.

        Words are drawn one by one (and cached one by one): a panel's new text is mostly
        words already seen, and FreeType rasterises every glyph of every call anew.
        """
        space = self.width(" ", para.size, para.weight)
        items: list[tuple[float, _Token | None]] = []       # (width, word or None for a gap)
        for _width, token in _visual_order(line, para.direction):
            items.append((space * _width if token is None else token.width, token))
        total = sum(w for w, _ in items)
        cursor = x + width - total if para.direction == "rtl" else x
        stack = self.stacks[para.weight]
        out = []
        for item_width, token in items:
            if token is not None:
                direction = _run_direction(token.text)
                runs = []
                for face, run in stack.runs(token.text):
                    font = stack.font(face, para.size)
                    runs.append((font, run, direction, self._advance(font, run, direction)))
                if direction == "rtl":
                    runs.reverse()
                out.append((cursor, runs))
            cursor += item_width
        return out


def _run_direction(text: str) -> Direction:
    return _strong_direction(text) or "ltr"


def _segments(line: Line, base: Direction) -> list[tuple[Direction, list[_Token]]]:
    """The line's words cut where the direction changes. Neutral words take their neighbours'
    direction when both agree, otherwise the paragraph's."""
    dirs = [t.direction for t in line.tokens]
    resolved: list[Direction] = []
    for i, d in enumerate(dirs):
        if d is not None:
            resolved.append(d)
            continue
        before = next((x for x in reversed(dirs[:i]) if x is not None), base)
        after = next((x for x in dirs[i + 1:] if x is not None), base)
        resolved.append(before if before == after else base)
    segments: list[tuple[Direction, list[_Token]]] = []
    for token, d in zip(line.tokens, resolved, strict=True):
        if segments and segments[-1][0] == d:
            segments[-1][1].append(token)
        else:
            segments.append((d, [token]))
    return segments


def _visual_order(line: Line, base: Direction) -> list[tuple[int, _Token | None]]:
    """The line's words and gaps left to right: (0, word) or (spaces, None).

    Segments of one direction keep their words in reading order inside; a right-to-left
    paragraph lays its segments from the right. The gap between two words (or segments) is
    the spaces after the one read first.
    """
    blocks: list[tuple[list[tuple[int, _Token | None]], int]] = []
    for direction, tokens in _segments(line, base):
        inner: list[tuple[int, _Token | None]] = []
        for i, token in enumerate(tokens):
            inner.append((0, token))
            if i < len(tokens) - 1 and token.spaces:
                inner.append((len(token.spaces), None))
        if direction == "rtl":
            inner.reverse()
        blocks.append((inner, len(tokens[-1].spaces)))
    order = list(range(len(blocks)))
    if base == "rtl":
        order.reverse()
    out: list[tuple[int, _Token | None]] = []
    for n, k in enumerate(order):
        if n:
            earlier = min(k, order[n - 1])
            if blocks[earlier][1]:
                out.append((blocks[earlier][1], None))
        out += blocks[k][0]
    return out


def _blend(canvas: NDArray[np.uint8], mask: NDArray[np.uint8], x: int, y: int,
           colour: NDArray[np.uint16]) -> None:
    """Paint ``colour`` through ``mask`` at (x, y), clipped to the canvas."""
    h, w = mask.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    alpha = mask[y0 - y:y1 - y, x0 - x:x1 - x, None].astype(np.uint16)
    region = canvas[y0:y1, x0:x1]
    region[:] = (region * (255 - alpha) + colour * alpha + 127) // 255


def _stamp(mask: NDArray[np.uint8], glyphs: NDArray[np.uint8], x: int, y: int) -> None:
    h, w = glyphs.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, mask.shape[1]), min(y + h, mask.shape[0])
    if x0 < x1 and y0 < y1:
        region = mask[y0:y1, x0:x1]
        np.maximum(region, glyphs[y0 - y:y1 - y, x0 - x:x1 - x], out=region)


@lru_cache(maxsize=256)
def _ramp(fill: tuple[int, int, int], background: tuple[int, int, int]) -> NDArray[np.uint8]:
    alpha = np.arange(256, dtype=np.float64)[:, None] / 255.0
    table = np.asarray(background, np.float64) * (1 - alpha) + np.asarray(fill) * alpha
    return np.round(table).astype(np.uint8).reshape(256, 1, 3)


def _paste(canvas: NDArray[np.uint8], block: NDArray[np.uint8], x: int, y: int) -> None:
    h, w = block.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = block[y0 - y:y1 - y, x0 - x:x1 - x]

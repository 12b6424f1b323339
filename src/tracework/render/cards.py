"""Title and closing cards of the video: who stands behind the dataset, and who made it.

The title card discloses the value chain from ``[value_chain]`` and ``[pay]`` of
tracework.toml. The closing credits name only the people who consented to be credited, by the
name each chose, and count everyone else; as many cards as the names need, none cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tracework.core.errors import ConfigError
from tracework.core.project import Project
from tracework.render.frames import Block, FrameStyle, fill
from tracework.render.records import Credits
from tracework.render.text import Paragraph, TextPainter

__all__ = ["chapter_blocks", "chapter_card", "credit_cards", "title_blocks", "title_card",
           "value_chain_lines"]


def _listing(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value if str(v).strip())
    return str(value or "").strip()


def value_chain_lines(project: Project) -> list[tuple[str, str]]:
    """(label, text) pairs of the value-chain disclosure; empty entries are said to be so."""
    chain = project.config.get("value_chain", {})
    pay = project.config.get("pay", {})
    chain = chain if isinstance(chain, dict) else {}
    pay = pay if isinstance(pay, dict) else {}
    requester = _listing(chain.get("requester"))
    affiliation = _listing(chain.get("affiliation"))
    if requester and affiliation:
        requester = f"{requester} ({affiliation})"
    floor = pay.get("wage_floor_per_hour") or 0
    currency = str(pay.get("currency") or "")
    floor_text = "no wage floor set"
    if floor:
        floor_text = f"{float(floor):,.2f} {currency} per hour"
        source = _listing(pay.get("floor_source"))
        if source:
            floor_text += f" ({source}"
            floor_text += f", {pay['floor_date']})" if pay.get("floor_date") else ")"
    rows = [
        ("Requester", requester),
        ("End client", _listing(chain.get("end_client"))),
        ("Intermediaries", _listing(chain.get("intermediaries")) or "none declared"),
        ("Purpose", _listing(chain.get("purpose"))),
        ("Intended uses", _listing(chain.get("intended_uses"))),
        ("Guideline version", _listing(chain.get("guideline_version"))),
        ("Wage floor", floor_text),
    ]
    return [(label, text or "not disclosed") for label, text in rows]


def _draw_blocks(canvas: NDArray[np.uint8], painter: TextPainter, style: FrameStyle,
                 blocks: Sequence[Block], box: tuple[int, int, int, int]) -> bool:
    """Draw ``blocks`` into ``box`` (shrinking the text to fit); False if even the smallest
    size does not fit."""
    x, y, w, h = box
    base = style.text_size * style.scale(style.size[0]) * 1.2
    while True:
        placed: list[tuple[Block, Paragraph, int]] = []
        top = 0
        for block in blocks:
            size = max(style.min_text_size, round(base * block.size))
            top += round(block.gap * base * 1.5)
            para = painter.layout(block.text, w, size, block.weight)
            placed.append((block, para, top))
            top += para.height
        if top <= h:
            break
        if base <= style.min_text_size:
            return False
        base = max(style.min_text_size, base * 0.9)
    for block, para, top in placed:
        painter.draw(canvas, para, x, y + top, w, block.colour, style.background)
    return True


def _blank(style: FrameStyle) -> NDArray[np.uint8]:
    width, height = style.size
    canvas = np.empty((height, width, 3), np.uint8)
    fill(canvas, (0, 0, width, height), style.background)
    return canvas


def _margins(style: FrameStyle) -> tuple[int, int, int, int]:
    width, height = style.size
    mx, my = round(width * 0.1), round(height * 0.1)
    return mx, my, width - 2 * mx, height - 2 * my


def title_blocks(project: Project, style: FrameStyle, summary: str) -> list[Block]:
    """What the opening card says: the project's name, a one-line summary, its value chain."""
    blocks = [Block(project.name, 1.8, style.ink, "bold"),
              Block(summary, 0.9, style.muted, gap=0.3),
              Block("Who stands behind this dataset", 0.9, style.accent, "bold", gap=0.8)]
    for label, text in value_chain_lines(project):
        blocks.append(Block(label, 0.75, style.muted, gap=0.25))
        blocks.append(Block(text, 1.0, style.ink))
    return blocks


def title_card(project: Project, painter: TextPainter, style: FrameStyle,
               summary: str) -> NDArray[np.uint8]:
    """The opening card: :func:`title_blocks` drawn, shrunk to fit and never cut."""
    blocks = title_blocks(project, style, summary)
    for block in blocks:
        painter.check(block.text, "the title card (tracework.toml)")
    canvas = _blank(style)
    if not _draw_blocks(canvas, painter, style, blocks, _margins(style)):
        raise ConfigError("the value-chain disclosure does not fit on the title card",
                          hint="Shorten the texts of [value_chain] in tracework.toml or render "
                               "a larger video (--size).")
    return canvas


def chapter_blocks(style: FrameStyle, file_name: str, number: int, total: int,
                   submissions: int) -> list[Block]:
    """What the card before an image's frames says: which image of how many, its file name,
    and how many submissions labelled it."""
    return [Block(f"Image {number} of {total}", 0.9, style.accent, "bold"),
            Block(file_name, 1.6, style.ink, "bold", gap=0.3),
            Block(f"labelled in {submissions} "
                  f"{'submission' if submissions == 1 else 'submissions'}", 1.0, style.muted,
                  gap=0.4)]


def chapter_card(painter: TextPainter, style: FrameStyle, file_name: str, number: int,
                 total: int, submissions: int) -> NDArray[np.uint8]:
    """The card shown before each image's frames: :func:`chapter_blocks` drawn."""
    blocks = chapter_blocks(style, file_name, number, total, submissions)
    for block in blocks:
        painter.check(block.text, f"the chapter card of {file_name}")
    canvas = _blank(style)
    if not _draw_blocks(canvas, painter, style, blocks, _margins(style)):
        raise ConfigError(f"the file name {file_name} does not fit on its chapter card",
                          hint="Render a larger video (--size).")
    return canvas


def credit_cards(credits: Credits, painter: TextPainter, style: FrameStyle,
                 ledger_head: str) -> list[NDArray[np.uint8]]:
    """Closing cards: the names of those who chose to be credited (as many cards as needed),
    the count of everyone else, and the change log's head hash."""
    for name in credits.names:
        painter.check(name, "a credited name")
    others = credits.unnamed
    closing = [
        Block(f"and {others} {'person' if others == 1 else 'people'} who chose not to be "
              "named" if credits.names else
              f"{others} {'person' if others == 1 else 'people'}, none of whom chose to be "
              "named", 1.0, style.ink, gap=0.8),
        Block("Every label shown is recorded in the project's change log; its head hash:",
              0.7, style.muted, gap=0.8),
        Block(ledger_head, 0.7, style.muted),
    ]
    heading = Block("Made by", 1.6, style.ink, "bold")
    cards: list[NDArray[np.uint8]] = []
    names = list(credits.names)
    per_card = 12
    while True:
        chunk, names = names[:per_card], names[per_card:]
        blocks = [heading] + [Block(n, 1.0, style.ink, gap=0.15) for n in chunk]
        if not names:
            blocks += closing
        canvas = _blank(style)
        if not _draw_blocks(canvas, painter, style, blocks, _margins(style)):
            if per_card == 1:
                raise ConfigError("a credited name does not fit on a credits card",
                                  hint="Render a larger video (--size).")
            names = chunk + names
            per_card = max(1, per_card // 2)
            continue
        cards.append(canvas)
        if not names:
            return cards

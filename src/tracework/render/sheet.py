"""A contact sheet: every asset and every worker's labels on it, in one PNG, for review at a
glance.

One row per asset: the image as it was given, then one thumbnail per submission with its masks,
outlines and boxes, captioned with the worker (credited name or pseudonym) and the review
status. A legend of the taxonomy's colours heads the sheet.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from tracework.core.errors import InputError
from tracework.core.files import write_atomic
from tracework.core.model import Image
from tracework.core.project import Project
from tracework.render.frames import FrameRenderer, FrameStyle, fill, fit
from tracework.render.pipeline import RenderReport, renderer_for
from tracework.render.records import Contribution, load_image, select_contributions
from tracework.render.text import MissingGlyphs

__all__ = ["MAX_SHEET_PIXELS", "render_sheet"]

MAX_SHEET_PIXELS = 200_000_000


def _caption(c: Contribution | None, file_name: str) -> str:
    if c is None:
        return file_name
    return f"{c.name} · {c.status}"


def _layout(rows: Sequence[tuple[Image, list[Contribution]]], columns: int
            ) -> list[tuple[Image, list[Contribution | None]]]:
    """Rows of cells: the first cell of an asset's first row is its plain image (None)."""
    out = []
    for asset, group in rows:
        cells: list[Contribution | None] = [None, *group]
        for start in range(0, len(cells), columns):
            out.append((asset, cells[start:start + columns]))
    return out


def _legend(canvas: NDArray[np.uint8], renderer: FrameRenderer, title: str,
            box: tuple[int, int, int, int]) -> None:
    x, y, w, _h = box
    style, painter = renderer.style, renderer.painter
    size = 22
    para = painter.layout(title, w, size, "bold")
    painter.draw(canvas, para, x, y, w, style.ink, style.background)
    cursor, top = x, y + para.height + 6
    for name, colour in zip(renderer.palette.names, renderer.palette.colours, strict=True):
        label = painter.layout(name.replace("_", " "), w, 16)
        text_w = round(painter.width(label.lines[0].text, 16)) + 2
        if cursor + 28 + text_w > x + w:
            cursor, top = x, top + label.height + 4
        cv2.rectangle(canvas, (cursor, top + 5), (cursor + 18, top + 19), colour, -1)
        painter.draw(canvas, label, cursor + 24, top, text_w, style.ink, style.background)
        cursor += 24 + text_w + 18


def render_sheet(project: Project, out: Path | str, *, images_dir: Path | str | None = None,
                 status: str = "all", batches: Collection[str] = (),
                 categories: Collection[str] = (), thumb_width: int = 320,
                 columns: int = 6, missing_glyphs: MissingGlyphs = "error",
                 font_dirs: Sequence[Path | str] = ()) -> RenderReport:
    """Write the contact sheet to ``out`` (.png)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise InputError("the contact sheet is written as PNG: give a file name ending in .png",
                         file=str(out))
    if not 64 <= thumb_width <= 2000 or not 2 <= columns <= 50:
        raise InputError("--thumb must be 64 … 2000 pixels and --columns 2 … 50",
                         field="--thumb")
    selection = select_contributions(project, status=status, batches=batches,
                                     categories=categories)
    if not selection.by_asset:
        raise InputError("nothing to show: no annotations match the selection",
                         hint="Try --status all, or check `tracework status`.")
    aspect = max(a.height / max(1, a.width) for a, _ in selection.by_asset if a.width) \
        if any(a.width for a, _ in selection.by_asset) else 0.75
    thumb_h = max(32, round(thumb_width * aspect))
    caption_h, gap, margin, header_h = 34, 8, 16, 96
    columns = min(columns, 1 + max(len(group) for _, group in selection.by_asset))
    rows = _layout(selection.by_asset, columns)
    width = 2 * margin + columns * thumb_width + (columns - 1) * gap
    height = header_h + margin + len(rows) * (thumb_h + caption_h + gap)
    if width * height > MAX_SHEET_PIXELS:
        raise InputError(f"the sheet would be {width}x{height} pixels, more than "
                         f"{MAX_SHEET_PIXELS:,}",
                         hint="Choose fewer assets (--batch, --category, --status) or a "
                              "smaller --thumb.")
    renderer = renderer_for(project, (1920, 1080), missing_glyphs, font_dirs,
                            selection.dataset.categories)
    renderer = FrameRenderer(renderer.palette, renderer.painter,
                             FrameStyle(size=(thumb_width * 4, thumb_h * 4)))
    for shown in selection.contributions:
        renderer.painter.check(_caption(shown, ""), f"the caption of {shown.worker}")
    canvas = np.empty((height, width, 3), np.uint8)
    fill(canvas, (0, 0, width, height), renderer.style.background)
    data = selection.dataset
    title = (f"{project.name}: {len(selection.by_asset)} images, "
             f"{len(selection.contributions)} submissions, {len(data.workers)} people · "
             f"ledger head {data.ledger_head[:16]}…")
    _legend(canvas, renderer, title, (margin, margin, width - 2 * margin, header_h))
    source = Path(images_dir) if images_dir is not None else None
    current: tuple[int, NDArray[np.uint8]] | None = None
    for r, (asset, cells) in enumerate(rows):
        if current is None or current[0] != asset.id:
            current = (asset.id, load_image(source, asset))
        top = header_h + margin + r * (thumb_h + caption_h + gap)
        for k, c in enumerate(cells):
            left = margin + k * (thumb_width + gap)
            _cell(canvas, renderer, current[1], c, asset.file_name,
                  (left, top, thumb_width, thumb_h))
    ok, png = cv2.imencode(".png", canvas, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise InputError("the sheet could not be encoded as PNG", file=str(out))
    write_atomic(out, png.tobytes())
    return RenderReport("sheet", str(out), frames=1, assets=len(selection.by_asset),
                        contributions=len(selection.contributions), workers=len(data.workers),
                        size=(width, height), files=[out.name], ledger_head=data.ledger_head,
                        notes=data.notes)


def _cell(canvas: NDArray[np.uint8], renderer: FrameRenderer, image: NDArray[np.uint8],
          c: Contribution | None, file_name: str, box: tuple[int, int, int, int]) -> None:
    """A thumbnail in ``box`` and its caption below: shrunk to one line when it can be,
    wrapped otherwise, never cut."""
    x, y, w, h = box
    scale = min(w / image.shape[1], h / image.shape[0])
    view = canvas[y:y + max(1, math.floor(image.shape[0] * scale)),
                  x:x + max(1, math.floor(image.shape[1] * scale))]
    fit(image, view)
    if c is not None:
        renderer.annotate(view, c, scale, names=False)
    painter, style = renderer.painter, renderer.style
    text = _caption(c, file_name)
    size = 15
    while size > 9 and painter.width(text, size) > w:
        size -= 1
    para = painter.layout(text, w, size)
    painter.draw(canvas, para, x, y + h + 2, w, style.muted if c is None else style.ink,
                 style.background)

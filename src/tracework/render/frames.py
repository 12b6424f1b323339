"""Overlay frames: each asset with a worker's annotations drawn on it, and beside it who made
them, what they consented to say about themselves, what the work paid and took, and how it was
reviewed.

``per-worker`` gives one frame per (asset, worker); ``grid`` puts everyone who labelled an
asset side by side in one frame. A :class:`FrameRenderer` draws into NumPy arrays (BGR); the
text of a panel is wrapped, never cut, and shrinks until it fits.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from tracework.core.errors import InputError
from tracework.core.project import Category, Project
from tracework.render import overlay
from tracework.render.fonts import Weight, font_stack
from tracework.render.records import Contribution
from tracework.render.text import MissingGlyphs, Paragraph, TextPainter, line_height

__all__ = [
    "Block",
    "FrameRenderer",
    "FrameStyle",
    "Layout",
    "describe_time",
    "fill",
    "fit",
    "money",
    "painter_for",
    "panel_blocks",
    "pay_text",
]

Layout = Literal["per-worker", "grid"]
BGR = tuple[int, int, int]
Box = tuple[int, int, int, int]      # x, y, width, height

_STATUS_COLOURS: dict[str, BGR] = {
    "approved": (96, 200, 96), "rejected": (90, 90, 235), "submitted": (200, 200, 200),
}
_TIME_KINDS = {
    "wall_clock_accept_to_submit": "wall clock, accept to submit",
    "active": "active time in the tool",
}


@dataclass(frozen=True)
class FrameStyle:
    """Sizes and colours of a frame; ``size`` is (width, height) in pixels."""

    size: tuple[int, int] = (1920, 1080)
    panel_share: float = 0.3
    opacity: float = 0.45
    text_size: int = 22
    min_text_size: int = 10
    background: BGR = (28, 24, 22)
    panel: BGR = (40, 34, 30)
    ink: BGR = (240, 240, 240)
    muted: BGR = (170, 170, 170)
    accent: BGR = (130, 200, 255)

    def scale(self, width: int) -> float:
        return width / 1920


@dataclass(frozen=True)
class Block:
    """One paragraph of a panel."""

    text: str
    size: float                 # relative to the style's text size
    colour: BGR
    weight: Weight = "regular"
    gap: float = 0.0            # space before it, in lines of text size


def money(cents: int | None, currency: str) -> str:
    if cents is None:
        return "not recorded"
    return f"{cents / 100:,.2f} {currency}"


def describe_time(seconds: float | None, kind: str) -> str:
    if seconds is None:
        return "not recorded"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours} h {minutes} min" if hours else (f"{minutes} min {secs} s" if minutes
                                                      else f"{secs} s")
    label = _TIME_KINDS.get(kind, kind.replace("_", " "))
    return f"{text} ({label})" if label else text


def _with_bonuses(text: str, c: Contribution) -> str:
    if c.bonus_cents:
        text += f" + bonus {money(c.bonus_cents, c.currency)}"
    if c.bonus_planned_cents:
        text += f"; bonus {money(c.bonus_planned_cents, c.currency)} planned, not yet paid"
    return text


def pay_text(c: Contribution) -> str:
    """What the work was paid, by the decision in force: paid, not paid or pending. A bonus
    is paid only once marked paid; a planned one is said to be planned."""
    reward = money(c.reward_cents, c.currency)
    if c.status == "approved" and c.paid_by_bonus:
        # Overturned after the platform's reversal window: the platform kept the rejection and
        # a bonus of the reward pays the work, once.
        if c.bonus_cents and not c.bonus_planned_cents:
            return f"Paid {money(c.bonus_cents, c.currency)} by bonus (rejection overturned)"
        text = "Not paid yet: rejection overturned"
        return _with_bonuses(text, c)
    if c.status == "approved":
        return _with_bonuses(f"Paid {reward}", c)
    if c.status == "rejected":
        text = ("Not paid: rejected in good faith, its time counts toward the wage-floor "
                "top-up" if c.good_faith else f"Not paid: rejected (reward {reward})")
        return _with_bonuses(text, c)
    if c.status == "submitted":
        return _with_bonuses(f"Pending review: {reward} if approved", c)
    if c.status == "rework":
        return _with_bonuses("Pending: asked to redo", c)
    return _with_bonuses(f"Pending: {c.status}", c)


def panel_blocks(c: Contribution, style: FrameStyle) -> list[Block]:
    """What the panel says about a contribution, top to bottom."""
    status_colour = _STATUS_COLOURS.get(c.status, style.ink)
    blocks = [
        Block(c.worker, 1.45, style.ink, "bold"),
        Block("pseudonym", 0.8, style.muted),
        Block(c.asset.file_name, 0.8, style.muted),
        Block("Review", 0.8, style.accent, "bold", gap=0.6),
        Block(c.status.capitalize(), 1.0, status_colour, "bold"),
    ]
    if c.reason:
        blocks.append(Block(c.reason, 0.9, style.ink))
    blocks += [
        Block("Pay", 0.8, style.accent, "bold", gap=0.4),
        Block(pay_text(c), 1.0, style.ink),
        Block("Time on task", 0.8, style.accent, "bold", gap=0.4),
        Block(describe_time(c.time_s, c.time_kind), 1.0, style.ink),
        Block("In their words", 0.8, style.accent, "bold", gap=0.6),
    ]
    if not c.published:
        blocks.append(Block("Survey answers not published: no consent.", 0.9, style.muted))
    elif not c.survey:
        blocks.append(Block("No survey answers to show.", 0.9, style.muted))
    for question, answer in c.survey:
        blocks.append(Block(question, 0.75, style.muted, gap=0.25))
        blocks.append(Block(answer, 0.95, style.ink))
    return blocks


def painter_for(missing: MissingGlyphs = "error",
                font_dirs: Sequence[Path | str] = ()) -> TextPainter:
    return TextPainter(font_stack("regular", font_dirs), font_stack("bold", font_dirs), missing)


def _gap(image_box: Box, panel_box: Box) -> Box:
    """The strip between a cell's image box and its panel (beside it or below it)."""
    ix, iy, iw, ih = image_box
    px, py, pw, ph = panel_box
    if px > ix:
        return ix + iw, iy, px - ix - iw, ih
    return ix, iy + ih, iw, py - iy - ih


def fill(canvas: NDArray[np.uint8], box: tuple[int, int, int, int], colour: BGR) -> None:
    """Paint a rectangle (x, y, w, h): OpenCV, as NumPy's broadcast of a colour is slow."""
    x, y, w, h = box
    if w > 0 and h > 0:
        cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), colour, -1)


def fit(image: NDArray[np.uint8], dst: NDArray[np.uint8]) -> None:
    """``image`` resized into ``dst``: halved exactly while more than twice too big (fast and
    smooth), then linear; area averaging at an arbitrary ratio costs ten times as much."""
    size = (dst.shape[1], dst.shape[0])
    while image.shape[1] >= 2 * size[0] and image.shape[0] >= 2 * size[1]:
        image = np.asarray(cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2),
                                      interpolation=cv2.INTER_AREA), np.uint8)
    if (image.shape[1], image.shape[0]) == size:
        dst[:] = image
    else:
        cv2.resize(image, size, dst=dst, interpolation=cv2.INTER_LINEAR)


def _view(image: NDArray[np.uint8], box: Box) -> tuple[int, int, int, int, float]:
    """Where ``image`` letterboxed into ``box`` lies: left, top, width, height and scale."""
    x, y, w, h = box
    src_h, src_w = image.shape[:2]
    scale = min(w / src_w, h / src_h)
    out_w, out_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    return x + (w - out_w) // 2, y + (h - out_h) // 2, out_w, out_h, scale


@dataclass
class FrameRenderer:
    """Draws overlay frames for one project's taxonomy."""

    palette: overlay.Palette
    painter: TextPainter
    style: FrameStyle = field(default_factory=FrameStyle)
    # Images fitted to their box, by the identity of the source array: one frame per worker
    # shows the same image several times in a row, and resizing it is the costliest step of
    # drawing a frame. The entry keeps its source alive, so the id cannot name another array.
    _fitted: OrderedDict[tuple[int, int, int], tuple[NDArray[np.uint8], NDArray[np.uint8]]] = \
        field(default_factory=OrderedDict, init=False, repr=False, compare=False)
    _fitted_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                         repr=False, compare=False)

    @classmethod
    def for_project(cls, project: Project, style: FrameStyle | None = None,
                    missing: MissingGlyphs = "error",
                    font_dirs: Sequence[Path | str] = (),
                    categories: Sequence[Category] | None = None) -> FrameRenderer:
        """``categories``: those drawn (default: the taxonomy in force); a selection's
        dataset names the retired ones its old labels are shown under too."""
        shown = project.categories if categories is None else categories
        palette = overlay.Palette.of([(c.name, c.colour) for c in shown])
        return cls(palette, painter_for(missing, font_dirs), style or FrameStyle())

    def check_text(self, c: Contribution) -> None:
        """Fail before drawing if a text of the panel has characters no font draws."""
        where = f"the panel of {c.worker} on {c.asset.file_name}"
        for block in panel_blocks(c, self.style):
            self.painter.check(block.text, where)
        for name in self.palette.names:
            self.painter.check(name.replace("_", " "), "the taxonomy's category names")

    def frame(self, image: NDArray[np.uint8], group: Sequence[Contribution],
              layout: Layout = "per-worker", out: NDArray[np.uint8] | None = None
              ) -> NDArray[np.uint8]:
        """One frame: a single contribution, or (``grid``) all of ``group`` side by side.

        ``out`` (height × width × 3) is drawn into when given: reusing one buffer per thread
        saves the page faults of a fresh 6 MB array for every frame. The source ``image``
        must not change while frames of it are drawn (its fitted copy is reused).
        """
        width, height = self.style.size
        canvas = out if out is not None else np.empty((height, width, 3), np.uint8)
        cells = self._cells(group, layout)
        if len(cells) > 1:
            # Cells of a grid need not tile the frame exactly: paint it all first.
            fill(canvas, (0, 0, width, height), self.style.background)
        split, base = self._fit_panels(canvas, image, cells)
        for c, image_box, panel_box in split:
            fill(canvas, _gap(image_box, panel_box), self.style.background)
            self.draw_image(canvas, image, c, image_box)
            self.draw_panel(canvas, c, panel_box, base)
        return canvas

    def _cells(self, group: Sequence[Contribution], layout: Layout
               ) -> list[tuple[Contribution, Box]]:
        width, height = self.style.size
        if layout == "per-worker" or len(group) == 1:
            return [(group[0], (0, 0, width, height))]
        cols = len(group) if len(group) <= 3 else math.ceil(math.sqrt(len(group)))
        rows = math.ceil(len(group) / cols)
        cell_w, cell_h = width // cols, height // rows
        return [(c, ((i % cols) * cell_w, (i // cols) * cell_h, cell_w, cell_h))
                for i, c in enumerate(group)]

    def _fit_panels(self, canvas: NDArray[np.uint8], image: NDArray[np.uint8],
                    cells: Sequence[tuple[Contribution, tuple[int, int, int, int]]]
                    ) -> tuple[list[tuple[Contribution, Box, Box]], float]:
        """Each cell cut into image and panel, with one text size for every panel of the frame
        (so that none looks more important); the panels widen, up to half the cell, when their
        text does not fit otherwise."""
        shares = [self.style.panel_share] + [s for s in (0.4, 0.5) if s > self.style.panel_share]
        for n, share in enumerate(shares):
            split = [(c, *self._split(canvas, image, box, share)) for c, box in cells]
            try:
                return split, min(self.text_size_for(c, panel) for c, _, panel in split)
            except InputError:
                if n == len(shares) - 1:
                    raise
        raise AssertionError("unreachable")

    def _split(self, canvas: NDArray[np.uint8], image: NDArray[np.uint8],
               box: Box, share: float | None = None) -> tuple[Box, Box]:
        """A cell cut into the image's box and the panel's box."""
        x, y, w, h = box
        gap = max(4, round(8 * self.style.scale(canvas.shape[1])))
        if h > w * 0.8:            # tall cell: image above, panel below
            image_h = min(round(h * 0.38), round(w * image.shape[0] / max(1, image.shape[1])))
            return (x, y, w, image_h), (x, y + image_h + gap, w, h - image_h - gap)
        panel_w = max(160, round(w * (share or self.style.panel_share)))
        return (x, y, w - panel_w - gap, h), (x + w - panel_w, y, panel_w, h)

    def draw_image(self, canvas: NDArray[np.uint8], image: NDArray[np.uint8],
                   c: Contribution, box: tuple[int, int, int, int]) -> None:
        """The image fitted (letterboxed) into ``box`` with ``c``'s annotations drawn on it."""
        x, y, w, h = box
        left, top, out_w, out_h, scale = _view(image, box)
        background = self.style.background
        for margin in ((x, y, w, top - y), (x, top + out_h, w, y + h - top - out_h),
                       (x, top, left - x, out_h), (left + out_w, top, x + w - left - out_w,
                                                   out_h)):
            fill(canvas, margin, background)
        view = canvas[top:top + out_h, left:left + out_w]
        view[:] = self._fitted_image(image, out_w, out_h)
        self.annotate(view, c, scale)

    def _fitted_image(self, image: NDArray[np.uint8], width: int, height: int
                      ) -> NDArray[np.uint8]:
        key = (id(image), width, height)
        with self._fitted_lock:
            entry = self._fitted.get(key)
            if entry is not None and entry[0] is image:
                self._fitted.move_to_end(key)
                return entry[1]
        fitted = np.empty((height, width, 3), np.uint8)
        fit(image, fitted)
        with self._fitted_lock:
            self._fitted[key] = (image, fitted)
            while len(self._fitted) > 4:        # a few frames in flight on a few threads
                self._fitted.popitem(last=False)
        return fitted

    def annotate(self, view: NDArray[np.uint8], c: Contribution, scale: float, *,
                 names: bool = True) -> None:
        """Masks, outlines, boxes and (unless ``names`` is false) part names of ``c`` on an
        image shown at ``scale``."""
        shapes = c.drawn_shapes()
        src_size = (c.asset.width or view.shape[1], c.asset.height or view.shape[0])
        masks = [s for s in shapes if s.rle is not None or s.mask is not None]
        if masks:
            labels = overlay.label_image(masks, self.palette, src_size,
                                         (view.shape[1], view.shape[0]))
            overlay.draw_labels(view, labels, self.palette, opacity=self.style.opacity)
        self.boxes_and_tags(view, shapes, scale, names=names)

    def _boxes_and_names(self, shapes: Sequence[overlay.Shape], scale: float
                         ) -> tuple[list[tuple[tuple[float, ...], BGR]],
                                    list[tuple[float, float, str, BGR]]]:
        colours = dict(zip(self.palette.names, self.palette.colours, strict=True))
        boxes: list[tuple[tuple[float, ...], BGR]] = []
        tags = []
        for s in shapes:
            colour = colours.get(s.category, self.style.ink)
            bx, by, bw, bh = (v * scale for v in s.box)
            boxes.append(((bx, by, bw, bh), colour))
            tags.append((bx, by, s.category.replace("_", " "), colour))
        return boxes, tags

    def _tag_size(self) -> int:
        return max(10, round(16 * self.style.scale(self.style.size[0])))

    def boxes_and_tags(self, view: NDArray[np.uint8], shapes: Sequence[overlay.Shape],
                       scale: float, *, names: bool = True) -> None:
        boxes, tags = self._boxes_and_names(shapes, scale)
        thickness = max(1, round(2 * self.style.scale(self.style.size[0])))
        overlay.draw_boxes(view, boxes, thickness=thickness)
        if names:
            overlay.draw_tags(view, tags, self.painter, size=self._tag_size())

    def tag_layout(self, image: NDArray[np.uint8], group: Sequence[Contribution],
                   layout: Layout = "per-worker") -> list[list[overlay.Tag]]:
        """Where :meth:`frame` puts the part names of each contribution it shows, in frame
        pixels (the same placement as drawn): one list of tags per cell."""
        shape = np.empty((0, self.style.size[0], 3), np.uint8)   # the split reads its width
        out = []
        for c, image_box, _panel in self._fit_panels(shape, image, self._cells(group, layout))[0]:
            left, top, out_w, out_h, scale = _view(image, image_box)
            _boxes, names = self._boxes_and_names(c.drawn_shapes(), scale)
            tags = overlay.place_tags(names, self.painter, size=self._tag_size(),
                                      image_size=(out_w, out_h))
            out.append([dataclasses.replace(t, anchor=(t.anchor[0] + left, t.anchor[1] + top),
                                            box=(t.box[0] + left, t.box[1] + top, *t.box[2:]))
                        for t in tags])
        return out

    def _padding(self) -> int:
        return max(8, round(24 * self.style.scale(self.style.size[0])))

    def text_size_for(self, c: Contribution, box: tuple[int, int, int, int]) -> float:
        """The largest text size, up to the style's, at which ``c``'s panel fits in ``box``."""
        _x, _y, w, h = box
        pad = self._padding()
        base = self.style.text_size * self.style.scale(self.style.size[0])
        blocks = panel_blocks(c, self.style)
        while True:
            last = self._measure(blocks, base, w - 2 * pad)[-1]
            if last[2] + last[1].height <= h - 2 * pad:
                return base
            if base <= self.style.min_text_size:
                raise InputError(
                    f"the panel of {c.worker} on {c.asset.file_name} does not fit in "
                    f"{w}x{h} pixels even at the smallest text size",
                    hint="Render larger frames (--size), use --layout per-worker, or list "
                         "fewer questions in tracework.toml [render] survey_questions.")
            base = max(self.style.min_text_size, base * 0.9)

    def draw_panel(self, canvas: NDArray[np.uint8], c: Contribution,
                   box: tuple[int, int, int, int], base: float | None = None) -> None:
        """The worker's panel in ``box``; its text shrinks until it fits, never cut."""
        x, y, w, h = box
        fill(canvas, box, self.style.panel)
        pad = self._padding()
        if base is None:
            base = self.text_size_for(c, box)
        for block, para, top in self._measure(panel_blocks(c, self.style), base, w - 2 * pad):
            self.painter.draw(canvas, para, x + pad, y + pad + top, w - 2 * pad, block.colour,
                              self.style.panel)

    def _measure(self, blocks: Sequence[Block], base: float, width: int
                 ) -> list[tuple[Block, Paragraph, int]]:
        """Each block laid out at ``base`` text size, with its top."""
        placed = []
        top = 0
        for block in blocks:
            size = max(self.style.min_text_size, round(base * block.size))
            top += round(block.gap * line_height(round(base)))
            para = self.painter.layout(block.text, width, size, block.weight)
            placed.append((block, para, top))
            top += para.height
        return placed

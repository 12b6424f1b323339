"""Annotations drawn on an image: semi-transparent masks, outlines, boxes and part names.

The masks of one worker on one image become a single label image (one byte per pixel: 0 for
nothing, k for the k-th category), so colouring, blending and outlining are each one OpenCV
call over the labelled region instead of one pass per mask. Images are BGR ``uint8`` arrays,
OpenCV's order; colours are given as ``#rrggbb``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from tracework.core.colours import BLACK, readable_ink
from tracework.core.errors import MaskError
from tracework.render.text import Paragraph, TextPainter

__all__ = [
    "Palette",
    "Shape",
    "Tag",
    "bgr",
    "draw_boxes",
    "draw_labels",
    "draw_tags",
    "label_image",
    "place_tags",
    "readable_on",
]

BGR = tuple[int, int, int]
_KERNEL = np.ones((3, 3), np.uint8)


def bgr(colour: str) -> BGR:
    """``#rrggbb`` as an OpenCV (blue, green, red) triple."""
    value = colour.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return (b, g, r)


def readable_on(background: BGR) -> BGR:
    """Black or white, whichever reads better on ``background`` (WCAG contrast, at least 4.5
    whatever the colour)."""
    b, g, r = background
    return (0, 0, 0) if readable_ink((r, g, b)) == BLACK else (255, 255, 255)


@dataclass(frozen=True)
class Palette:
    """Category colours as lookup tables: index 0 is "no label"."""

    names: tuple[str, ...]
    colours: tuple[BGR, ...]

    @classmethod
    def of(cls, categories: Sequence[tuple[str, str]]) -> Palette:
        if len(categories) > 255:
            raise ValueError("at most 255 categories can be drawn in one label image")
        return cls(tuple(n for n, _ in categories), tuple(bgr(c) for _, c in categories))

    def index(self, name: str) -> int:
        return self.names.index(name) + 1

    def table(self) -> NDArray[np.uint8]:
        lut = np.zeros((256, 1, 3), np.uint8)
        for i, colour in enumerate(self.colours, 1):
            lut[i, 0] = colour
        return lut


@dataclass(frozen=True)
class Shape:
    """One annotation in image pixels: its category, box and (for masks) its pixels."""

    category: str
    box: tuple[float, float, float, float]          # x, y, w, h
    mask: NDArray[np.uint8] | None = None          # (h, w) 0/1, image-sized
    rle: dict[str, object] | None = None           # or a COCO RLE, decoded on demand


def label_image(shapes: Sequence[Shape], palette: Palette, size: tuple[int, int],
                out_size: tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """One byte per pixel, the category index painted last there, for an image of ``size``
    (width, height) shown at ``out_size``. Each mask is decoded only within its box and
    scaled on its own, so a small part of a large image costs little."""
    width, height = size
    out_w, out_h = out_size or size
    sx, sy = out_w / width, out_h / height
    labels = np.zeros((out_h, out_w), np.uint8)
    for shape in shapes:
        x, y, w, h = _clip_box(shape.box, width, height)
        if not (w and h) or (shape.mask is None and shape.rle is None):
            continue
        if shape.mask is not None:
            crop = shape.mask[y:y + h, x:x + w]
        else:
            crop = _decode_window(shape.rle or {}, (x, y, w, h))
        dx0, dy0 = int(x * sx), int(y * sy)
        dx1 = min(out_w, max(dx0 + 1, round((x + w) * sx)))
        dy1 = min(out_h, max(dy0 + 1, round((y + h) * sy)))
        if (dx1 - dx0, dy1 - dy0) != (w, h):
            crop = np.asarray(cv2.resize(crop, (dx1 - dx0, dy1 - dy0),
                                         interpolation=cv2.INTER_NEAREST), np.uint8)
        labels[dy0:dy1, dx0:dx1][crop > 0] = palette.index(shape.category)
    return labels


def _clip_box(box: tuple[float, float, float, float], width: int, height: int
              ) -> tuple[int, int, int, int]:
    """A COCO box (x, y, w, h) as whole pixels inside the image, one pixel wider for safety."""
    x0 = max(0, int(np.floor(box[0])))
    y0 = max(0, int(np.floor(box[1])))
    x1 = min(width, int(np.ceil(box[0] + box[2])) + 1)
    y1 = min(height, int(np.ceil(box[1] + box[3])) + 1)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def _counts(rle: dict[str, object]) -> tuple[int, int, NDArray[np.int64]]:
    """Height, width and run lengths of a COCO RLE (compressed string or list counts)."""
    try:
        size = rle["size"]
        if not isinstance(size, list | tuple):
            raise TypeError("size")
        h, w = (int(v) for v in size)
        raw = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise MaskError("an RLE needs 'size' [h, w] and 'counts'") from None
    if isinstance(raw, (str, bytes)):
        data = raw.encode("ascii") if isinstance(raw, str) else raw
        runs: list[int] = []
        i = 0
        while i < len(data):
            value, shift, more = 0, 0, True
            while more:
                if i >= len(data):
                    raise MaskError("an RLE counts string ends inside a number")
                c = data[i] - 48
                value |= (c & 0x1F) << shift
                more = bool(c & 0x20)
                shift += 5
                i += 1
                if not more and c & 0x10:
                    value |= -1 << shift
            runs.append(value + runs[-2] if len(runs) > 2 else value)
        counts = np.asarray(runs, np.int64)
    else:
        counts = np.asarray(raw, np.int64)
    if counts.ndim != 1 or (len(counts) and counts.min() < 0) or int(counts.sum()) != h * w:
        raise MaskError(f"an RLE's counts do not cover its {h}x{w} pixels")
    return h, w, counts


def _decode_window(rle: dict[str, object], box: tuple[int, int, int, int]
                   ) -> NDArray[np.uint8]:
    """The (h, w) 0/1 pixels of an RLE inside ``box`` (x, y, w, h), decoding only its columns
    (COCO runs go down the columns)."""
    height, _width, counts = _counts(rle)
    x, y, w, h = box
    ends = np.cumsum(counts)
    starts = ends - counts
    lo, hi = x * height, (x + w) * height
    lengths = np.clip(ends, lo, hi) - np.clip(starts, lo, hi)
    values = (np.arange(len(counts)) % 2).astype(np.uint8)
    flat = np.repeat(values, lengths)
    return np.ascontiguousarray(flat.reshape(w, height).T[y:y + h])


def draw_labels(image: NDArray[np.uint8], labels: NDArray[np.uint8], palette: Palette, *,
                opacity: float = 0.45, outline: bool = True) -> None:
    """Blend the category colours into ``image`` where labelled, and outline each region."""
    rows = np.flatnonzero(labels.any(axis=1))
    if not len(rows):
        return
    cols = np.flatnonzero(labels.any(axis=0))
    y0, y1 = max(0, rows[0] - 1), min(labels.shape[0], rows[-1] + 2)
    x0, x1 = max(0, cols[0] - 1), min(labels.shape[1], cols[-1] + 2)
    roi = image[y0:y1, x0:x1]
    lab = labels[y0:y1, x0:x1]
    table = palette.table()
    colour = cv2.LUT(cv2.merge([lab, lab, lab]), table)
    blended = cv2.addWeighted(roi, 1.0 - opacity, colour, opacity, 0.0)
    cv2.copyTo(blended, lab, roi)
    if outline:
        edges = cv2.morphologyEx(lab, cv2.MORPH_GRADIENT, _KERNEL)
        owner = cv2.dilate(lab, _KERNEL)
        cv2.copyTo(cv2.LUT(cv2.merge([owner, owner, owner]), table), edges, roi)


def draw_boxes(image: NDArray[np.uint8], boxes: Sequence[tuple[tuple[float, ...], BGR]], *,
               thickness: int = 2) -> None:
    """Rectangles (x, y, w, h) in their colours."""
    for (x, y, w, h), colour in boxes:
        cv2.rectangle(image, (round(x), round(y)), (round(x + w), round(y + h)), colour,
                      thickness, lineType=cv2.LINE_AA)


@dataclass(frozen=True)
class Tag:
    """A part name placed on an image: its text laid out, the corner of the box it names
    (``anchor``) and the rectangle it takes (x, y, w, h)."""

    text: str
    colour: BGR
    anchor: tuple[int, int]
    box: tuple[int, int, int, int]
    para: Paragraph

    @property
    def led(self) -> bool:
        """Drawn away from its box, so a leader line joins them."""
        return _distance(self.box, self.anchor) > 1


def _distance(box: tuple[int, int, int, int], point: tuple[int, int]) -> float:
    x, y, w, h = box
    px, py = point
    dx = max(x - px, 0, px - (x + w))
    dy = max(y - py, 0, py - (y + h))
    return float((dx * dx + dy * dy) ** 0.5)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _nearest(lefts: set[int], tops: set[int], size: tuple[int, int], anchor: tuple[int, int],
             image_size: tuple[int, int]) -> Iterator[tuple[float, int, int]]:
    """The candidate places inside the image, nearest the anchor first (computed only when
    the preferred places are taken)."""
    w, h = size
    yield from sorted((1.0 + _distance((left, top, w, h), anchor), top, left)
                      for top in tops if 0 <= top <= image_size[1] - h
                      for left in lefts if 0 <= left <= image_size[0] - w)


def place_tags(tags: Sequence[tuple[float, float, str, BGR]], painter: TextPainter, *,
               size: int, image_size: tuple[int, int]) -> list[Tag]:
    """Where each part name goes on an image of ``image_size`` (width, height): above the
    top-left corner (x, y) of its box where that is free, else inside it, else the free place
    nearest the corner (joined to it by a leader line). No two tags overlap, and a tag covers
    another box's corner only where nothing else is free; a name that finds no free place on a
    crowded small image is left out (its box is still drawn in its colour).

    The places tried are the corner's own two, then those touching an edge of the image, of a
    tag already placed or of another corner, nearest the corner first."""
    width, height = image_size
    pad = max(2, size // 4)
    reach = max(3, size // 4)
    corners = [(int(min(max(0, x), width - 1)), int(min(max(0, y), height - 1)))
               for x, y, _, _ in tags]
    marks = [(cx - reach, cy - reach, 2 * reach + 1, 2 * reach + 1) for cx, cy in corners]
    placed: list[Tag] = []
    for i, (_x, _y, text, colour) in enumerate(tags):
        para = painter.layout(text, max(1, width - 2 * pad), size)
        text_w = max(1, min(width - 2 * pad,
                            round(max(painter.width(line.text, size) for line in para.lines))))
        tag_w, tag_h = text_w + 2 * pad, para.height
        if tag_w > width or tag_h > height:
            continue
        anchor = corners[i]
        taken = [t.box for t in placed]
        others = [m for k, m in enumerate(marks) if k != i]
        for obstacles in (taken + others, taken):
            box = _free_place(anchor, (tag_w, tag_h), obstacles, image_size)
            if box is not None:
                placed.append(Tag(text, colour, anchor, box, para))
                break
    return placed


# Places tried per tag beyond its preferred two: bounds the cost on an image of many parts.
_TRIES = 400


def _free_place(anchor: tuple[int, int], size: tuple[int, int],
                obstacles: Sequence[tuple[int, int, int, int]], image_size: tuple[int, int]
                ) -> tuple[int, int, int, int] | None:
    width, height = image_size
    tag_w, tag_h = size
    left0 = min(anchor[0], width - tag_w)
    lefts = {left0, 0, width - tag_w, anchor[0] - tag_w}
    tops = {anchor[1] - tag_h, anchor[1], 0, height - tag_h}
    for ox, oy, ow, oh in obstacles:
        lefts |= {ox + ow, ox - tag_w}
        tops |= {oy + oh, oy - tag_h}
    # Above the corner first, then inside the box, then the nearest free place.
    preferred = [(0.0, anchor[1] - tag_h, left0), (0.5, anchor[1], left0)]
    tries = itertools.islice(_nearest(lefts, tops, size, anchor, image_size), _TRIES)
    for _rank, top, left in itertools.chain(preferred, tries):
        box = (left, top, tag_w, tag_h)
        if 0 <= top <= height - tag_h and not any(_overlaps(box, o) for o in obstacles):
            return box
    return None


def draw_tags(image: NDArray[np.uint8], tags: Sequence[tuple[float, float, str, BGR]],
              painter: TextPainter, *, size: int = 18) -> list[Tag]:
    """Part names on filled tags placed by :func:`place_tags`; a tag away from its box is
    joined to the box's corner by a leader line. Returns the tags drawn."""
    height, width = image.shape[:2]
    pad = max(2, size // 4)
    placed = place_tags(tags, painter, size=size, image_size=(width, height))
    thickness = max(1, size // 12)
    for tag in placed:
        if tag.led:
            x, y, w, h = tag.box
            end = (min(max(tag.anchor[0], x), x + w - 1), min(max(tag.anchor[1], y), y + h - 1))
            cv2.line(image, tag.anchor, end, tag.colour, thickness, lineType=cv2.LINE_AA)
            cv2.circle(image, tag.anchor, thickness + 2, tag.colour, -1, lineType=cv2.LINE_AA)
    for tag in placed:
        left, top, tag_w, tag_h = tag.box
        cv2.rectangle(image, (left, top), (left + tag_w - 1, top + tag_h - 1), tag.colour, -1)
        painter.draw(image, tag.para, left + pad, top, tag_w - 2 * pad,
                     readable_on(tag.colour), tag.colour)
    return placed

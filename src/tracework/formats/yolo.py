"""YOLO (Ultralytics) label files from the canonical dataset.

One ``.txt`` per image, one row per object: detection rows are
``class x_center y_center width height`` and segmentation rows ``class x1 y1 … xn yn``, all
normalised to 0–1 by the image size, classes zero-indexed in taxonomy order. YOLO has no room
for per-annotation metadata, so :func:`label_lines` also returns which annotation each row came
from: the exporter writes that beside the labels as a provenance sidecar.

A segmentation row holds one polygon, so a mask in several pieces is joined into one polygon
(:func:`join_pieces`), as Ultralytics' own COCO converter does: one row per annotation, which
keeps rows and provenance one-to-one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from tracework.core.model import Annotation, Image
from tracework.formats.masks import polygons

__all__ = ["Task", "classes_txt", "data_yaml", "join_pieces", "label_lines"]

Task = Literal["detect", "segment"]


def _num(v: float) -> str:
    return f"{min(max(v, 0.0), 1.0):.6f}"


def label_lines(image: Image, anns: Iterable[Annotation], class_ids: dict[str, int],
                task: Task = "detect") -> list[tuple[str, Annotation]]:
    """Label rows for one image, each with the annotation it came from.

    In segmentation, a mask made of several pieces gives one row, its pieces joined by
    :func:`join_pieces`; a box annotation becomes its rectangle.
    """
    w, h = float(image.width), float(image.height)
    out: list[tuple[str, Annotation]] = []
    for ann in anns:
        cls = class_ids[ann.category]
        if task == "segment" and ann.polygon is not None:
            pieces = ann.polygon
        elif task == "detect" or ann.rle is None:
            x, y, bw, bh = ann.bbox
            if task == "segment":
                pieces = [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
            else:
                out.append((f"{cls} {_num((x + bw / 2) / w)} {_num((y + bh / 2) / h)} "
                            f"{_num(bw / w)} {_num(bh / h)}", ann))
                continue
        else:
            pieces = polygons(ann.rle)
        if not pieces:
            continue
        poly = join_pieces(pieces) if len(pieces) > 1 else pieces[0]
        coords = " ".join(_num(v / (w if i % 2 == 0 else h)) for i, v in enumerate(poly))
        out.append((f"{cls} {coords}", ann))
    return out


def join_pieces(pieces: Sequence[Sequence[float]]) -> list[float]:
    """One polygon ``[x1, y1, …]`` through every piece of a shape, in the order given.

    Each piece is entered at its vertex nearest the previous piece, walked round, and left
    back along the same zero-width bridge, so the joined polygon fills the same pixels as the
    pieces (the bridges add a line of at most one pixel).
    """
    rings = [np.asarray(p, dtype=float).reshape(-1, 2) for p in pieces if len(p) >= 6]
    if len(rings) <= 1:
        return [float(v) for v in rings[0].reshape(-1)] if rings else []
    # exits[i] on ring i and entries[i + 1] on ring i + 1: the closest pair of vertices
    exits, entries = [0] * len(rings), [0] * len(rings)
    for i in range(len(rings) - 1):
        exits[i], entries[i + 1] = _closest_pair(rings[i], rings[i + 1])
    entries[0] = exits[0]
    walk = _rotated(rings[-1], entries[-1])
    walk = np.vstack([walk, walk[:1]])
    for i in range(len(rings) - 2, -1, -1):
        ring = _rotated(rings[i], entries[i])
        k = (exits[i] - entries[i]) % len(ring)
        walk = np.vstack([ring[:k + 1], walk, ring[k:], ring[:1]])
    keep = np.any(walk != np.roll(walk, 1, axis=0), axis=1)
    return [float(v) for v in walk[keep].reshape(-1)]


def _rotated(ring: NDArray[np.float64], start: int) -> NDArray[np.float64]:
    return np.roll(ring, -start, axis=0)


def _closest_pair(a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[int, int]:
    # A tree keeps this linear-logarithmic: contours of a large mask have thousands of points.
    dist, nearest = cKDTree(b).query(a)
    i = int(np.argmin(dist))
    return i, int(np.asarray(nearest).reshape(-1)[i])


def classes_txt(names: list[str]) -> str:
    """The class names one per line, in class-id order (the file many YOLO tools read)."""
    return "".join(n.replace("\n", " ") + "\n" for n in names)


def data_yaml(names: list[str], *, train: str = "images/train", val: str = "images/train") -> str:
    """The dataset description file; strings are JSON-quoted, which YAML reads as-is.

    No ``path`` key: readers then resolve ``train``/``val`` against the yaml's own folder,
    which keeps the exported folder movable.
    """
    lines = ["# Written by tracework. Provenance of every label row: provenance.jsonl",
             f"train: {json.dumps(train)}", f"val: {json.dumps(val)}",
             f"nc: {len(names)}", "names:"]
    lines += [f"  {i}: {json.dumps(n, ensure_ascii=False)}" for i, n in enumerate(names)]
    return "\n".join(lines) + "\n"

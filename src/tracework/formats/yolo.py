"""YOLO (Ultralytics) label files from the canonical dataset.

One ``.txt`` per image, one row per object: detection rows are
``class x_center y_center width height`` and segmentation rows ``class x1 y1 … xn yn``, all
normalised to 0–1 by the image size, classes zero-indexed in taxonomy order. YOLO has no room
for per-annotation metadata, so :func:`label_lines` also returns which annotation each row came
from: the exporter writes that beside the labels as a provenance sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal

from tracework.core.model import Annotation, Image
from tracework.formats.masks import polygons

__all__ = ["Task", "label_lines", "data_yaml"]

Task = Literal["detect", "segment"]


def _num(v: float) -> str:
    return f"{min(max(v, 0.0), 1.0):.6f}"


def label_lines(image: Image, anns: Iterable[Annotation], class_ids: dict[str, int],
                task: Task = "detect") -> list[tuple[str, Annotation]]:
    """Label rows for one image, each with the annotation it came from.

    In segmentation, a mask made of several pieces gives one row per piece; a box
    annotation becomes its rectangle.
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
        for poly in pieces:
            coords = " ".join(_num(v / (w if i % 2 == 0 else h)) for i, v in enumerate(poly))
            out.append((f"{cls} {coords}", ann))
    return out


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

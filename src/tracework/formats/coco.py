"""COCO (object detection / instance segmentation) from the canonical dataset.

Always writes ``info``, ``licenses``, ``categories``, ``iscrowd``, ``area`` and ``bbox``:
pycocotools needs them. By default a mask with ``iscrowd: 0`` goes out as polygons, as the COCO
format page describes and as many readers (Label Studio's converter among them) assume; its
``area`` and ``bbox`` stay those of the exact mask. ``segmentation="rle"`` writes exact COCO
RLE with string counts instead, and a crowd region (an annotation whose attributes say
``"crowd": true``) is always RLE with ``iscrowd: 1``. Each annotation carries an ``attributes``
object with its provenance, as annotation tools that export COCO do for their own attributes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal

from tracework.core.model import Annotation, Dataset
from tracework.formats.masks import polygons

__all__ = ["LAYOUTS", "SEGMENTATIONS", "Layout", "Segmentation", "Writer", "annotation",
           "category_ids", "head", "layout_paths", "to_coco"]

Segmentation = Literal["polygon", "rle"]
SEGMENTATIONS: tuple[Segmentation, ...] = ("polygon", "rle")


def to_coco(data: Dataset, *, info: dict[str, Any], segmentation: Segmentation = "polygon",
            license_name: str = "", license_url: str = "") -> dict[str, Any]:
    """The COCO document of a dataset; ``info`` is merged into the standard info block."""
    doc = head(data, info=info, license_name=license_name, license_url=license_url)
    cat_ids = category_ids(data)
    doc["annotations"] = [annotation(ann, cat_ids, segmentation) for ann in data.annotations]
    return doc


def head(data: Dataset, *, info: dict[str, Any], license_name: str = "",
         license_url: str = "") -> dict[str, Any]:
    """Everything of the COCO document of ``data`` but its annotations, in document order."""
    cat_ids = category_ids(data)
    return {
        "info": {
            "year": datetime.now(UTC).year,
            "version": "1",
            "description": data.name,
            "contributor": "",
            "url": "",
            "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
            **info,
        },
        "licenses": [{"id": 1, "name": license_name, "url": license_url}],
        "categories": [{"id": cat_ids[c.name], "name": c.name, "supercategory": "",
                        "color": c.colour} for c in data.categories],
        "images": [{"id": im.id, "file_name": im.file_name, "width": im.width,
                    "height": im.height, "license": 1, "coco_url": im.uri,
                    "sha256": im.sha256} for im in data.images],
    }


def category_ids(data: Dataset) -> dict[str, int]:
    """COCO category ids: one-based, in taxonomy order."""
    return {c.name: i + 1 for i, c in enumerate(data.categories)}


def annotation(ann: Annotation, cat_ids: dict[str, int],
               segmentation: Segmentation = "polygon") -> dict[str, Any]:
    """One entry of the document's ``annotations``."""
    crowd = ann.rle is not None and ann.attributes.get("crowd") is True
    return {
        "id": ann.id, "image_id": ann.image_id, "category_id": cat_ids[ann.category],
        "bbox": [round(v, 2) for v in ann.bbox], "area": ann.area, "iscrowd": int(crowd),
        "segmentation": _segmentation(ann, segmentation, crowd=crowd),
        "attributes": ann.attributes,
    }


class Writer:
    """A COCO document written as its annotations come: the same bytes as
    ``json.dumps(doc, ensure_ascii=False, indent=1)`` of the whole document, without holding
    it. Give :func:`head`'s dict, :meth:`add` each annotation entry, then :meth:`close`."""

    def __init__(self, fh: BinaryIO, doc_head: dict[str, Any]) -> None:
        self._fh = fh
        self._count = 0
        self._write("{")
        for key, value in doc_head.items():
            self._write(f"\n {_dumps(key)}: {_nested(value, 1)},")
        self._write(f"\n {_dumps('annotations')}: [")

    def add(self, entry: dict[str, Any]) -> None:
        self._write(("," if self._count else "") + "\n  " + _nested(entry, 2))
        self._count += 1

    def close(self) -> None:
        self._write("\n ]\n}" if self._count else "]\n}")

    def _write(self, text: str) -> None:
        self._fh.write(text.encode("utf-8"))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)


def _nested(value: Any, depth: int) -> str:
    # JSON strings hold no raw newline, so every newline is one of the layout's.
    return _dumps(value).replace("\n", "\n" + " " * depth)


def _segmentation(ann: Annotation, segmentation: Segmentation, *, crowd: bool) -> Any:
    if ann.rle is not None and crowd:
        return _rle(ann.rle)
    if ann.polygon is not None:
        # Drawn as a polygon: exported as drawn, whatever the mask encoding asked for.
        return ann.polygon
    if ann.rle is not None:
        if segmentation == "polygon":
            return polygons(ann.rle)
        return _rle(ann.rle)
    x, y, w, h = ann.bbox
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _rle(rle: dict[str, Any]) -> dict[str, Any]:
    return {"size": list(rle["size"]), "counts": rle["counts"]}


Layout = Literal["tracework", "datumaro"]
LAYOUTS: tuple[Layout, ...] = ("tracework", "datumaro")


def layout_paths(layout: Layout, split: str = "default") -> tuple[str, str]:
    """Where the annotation file and the images go, relative to the export folder.

    "tracework": ``annotations.json`` and ``images/``. "datumaro": the layout Datumaro's COCO
    importer (and CVAT's COCO export) uses, ``annotations/instances_<split>.json`` and
    ``images/<split>/``, with ``file_name`` relative to the split's image folder.
    """
    if layout == "datumaro":
        return f"annotations/instances_{split}.json", f"images/{split}"
    return "annotations.json", "images"

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

from datetime import UTC, datetime
from typing import Any, Literal

from tracework.core.model import Annotation, Dataset
from tracework.formats.masks import polygons

__all__ = ["LAYOUTS", "SEGMENTATIONS", "Layout", "Segmentation", "layout_paths", "to_coco"]

Segmentation = Literal["polygon", "rle"]
SEGMENTATIONS: tuple[Segmentation, ...] = ("polygon", "rle")


def to_coco(data: Dataset, *, info: dict[str, Any], segmentation: Segmentation = "polygon",
            license_name: str = "", license_url: str = "") -> dict[str, Any]:
    """The COCO document of a dataset; ``info`` is merged into the standard info block."""
    cat_ids = {c.name: i + 1 for i, c in enumerate(data.categories)}
    doc: dict[str, Any] = {
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
        "annotations": [],
    }
    for ann in data.annotations:
        crowd = ann.rle is not None and ann.attributes.get("crowd") is True
        item: dict[str, Any] = {
            "id": ann.id, "image_id": ann.image_id, "category_id": cat_ids[ann.category],
            "bbox": [round(v, 2) for v in ann.bbox], "area": ann.area, "iscrowd": int(crowd),
            "segmentation": _segmentation(ann, segmentation, crowd=crowd),
            "attributes": ann.attributes,
        }
        doc["annotations"].append(item)
    return doc


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

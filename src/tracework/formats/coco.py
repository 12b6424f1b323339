"""COCO (object detection / instance segmentation) from the canonical dataset.

Always writes ``info``, ``licenses``, ``categories``, ``iscrowd``, ``area`` and ``bbox``:
pycocotools needs them. Masks go out as COCO RLE with string counts (exact) or as polygons
(lossy, for tools that read only polygons). Each annotation carries an ``attributes`` object
with its provenance, as annotation tools that export COCO do for their own attributes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from tracework.core.model import Dataset
from tracework.formats.masks import polygons

__all__ = ["to_coco"]

Segmentation = Literal["rle", "polygon"]


def to_coco(data: Dataset, *, info: dict[str, Any], segmentation: Segmentation = "rle",
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
        item: dict[str, Any] = {
            "id": ann.id, "image_id": ann.image_id, "category_id": cat_ids[ann.category],
            "bbox": [round(v, 2) for v in ann.bbox], "area": ann.area, "iscrowd": 0,
        }
        if ann.polygon is not None:
            # Drawn as a polygon: exported as drawn, whatever the mask encoding asked for.
            item["segmentation"] = ann.polygon
        elif ann.rle is not None:
            if segmentation == "polygon":
                item["segmentation"] = polygons(ann.rle)
            else:
                item["segmentation"] = {"size": list(ann.rle["size"]),
                                        "counts": ann.rle["counts"]}
        else:
            x, y, w, h = ann.bbox
            item["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
        item["attributes"] = ann.attributes
        doc["annotations"].append(item)
    return doc

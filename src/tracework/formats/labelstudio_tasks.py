"""Label Studio JSON export (a list of tasks) from the canonical dataset.

One task per image; one annotation object per submission on it (one worker's work on the
task), ``completed_by`` the worker's pseudonym, never a platform id, and ``lead_time`` the
submission's time on task (its kind is in the annotation's ``tracework`` object: Label Studio's
own lead time is active time, a platform's may be wall clock). Masks become ``polygonlabels``
results, one per piece, in percent of ``original_width``/``original_height`` as Label Studio
stores them; boxes become ``rectanglelabels``. :func:`label_config` is the labelling
interface the results are named after (``<PolygonLabels name="label">``,
``<RectangleLabels name="box">`` on ``<Image name="image">``), with the taxonomy's colours.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from xml.sax.saxutils import quoteattr

from tracework.core.model import Annotation, Dataset, Image
from tracework.formats.masks import polygons

__all__ = ["label_config", "to_tasks"]

_PROVENANCE = ("submission", "assignment_id", "task_id", "batch", "batch_key", "platform",
               "review_status", "taxonomy_version", "time_on_task_s", "time_kind",
               "reward_cents")


def label_config(categories: list[tuple[str, str]]) -> str:
    """The labelling interface XML for (name, colour) categories."""
    labels = "".join(f"    <Label value={quoteattr(n)} background={quoteattr(c)}/>\n"
                     for n, c in categories)
    return ("<View>\n  <Image name=\"image\" value=\"$image\"/>\n"
            f"  <PolygonLabels name=\"label\" toName=\"image\">\n{labels}  </PolygonLabels>\n"
            f"  <RectangleLabels name=\"box\" toName=\"image\">\n{labels}  </RectangleLabels>\n"
            "</View>\n")


def _pct(v: float, total: int) -> float:
    return v / total * 100.0 if total else 0.0


def _results(ann: Annotation, image: Image) -> list[dict[str, Any]]:
    w, h = image.width, image.height
    common = {"to_name": "image", "original_width": w, "original_height": h,
              "image_rotation": 0}
    if ann.kind == "bbox" or (ann.rle is None and ann.polygon is None):
        x, y, bw, bh = ann.bbox
        return [{"id": f"tw{ann.id}", "from_name": "box", "type": "rectanglelabels", **common,
                 "value": {"x": _pct(x, w), "y": _pct(y, h), "width": _pct(bw, w),
                           "height": _pct(bh, h), "rotation": 0,
                           "rectanglelabels": [ann.category]}}]
    pieces = ann.polygon if ann.polygon is not None else polygons(ann.rle or {})
    out = []
    for k, poly in enumerate(pieces):
        points = [[_pct(poly[i], w), _pct(poly[i + 1], h)] for i in range(0, len(poly) - 1, 2)]
        out.append({"id": f"tw{ann.id}" + (f"_{k}" if k else ""), "from_name": "label",
                    "type": "polygonlabels", **common,
                    "value": {"points": points, "closed": True,
                              "polygonlabels": [ann.category]}})
    return out


def _annotation_object(anns: list[Annotation], image: Image) -> dict[str, Any]:
    first = anns[0].attributes
    time_s = first.get("time_on_task_s")
    result = [r for ann in anns for r in _results(ann, image)]
    return {
        "id": int(first.get("submission") or anns[0].id),
        "completed_by": anns[0].worker,
        "lead_time": float(time_s) if time_s is not None else None,
        "was_cancelled": False, "ground_truth": False, "task": image.id,
        "result": result, "result_count": len(result),
        "tracework": {**{k: first.get(k) for k in _PROVENANCE},
                      "worker": anns[0].worker, "annotations": [a.id for a in anns]},
    }


def to_tasks(data: Dataset, image_url: str = "",
             names: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """The tasks, images in id order; ``data.image`` is ``image_url`` + the file name (from
    ``names`` by image id when given)."""
    by_image: dict[int, dict[Any, list[Annotation]]] = defaultdict(lambda: defaultdict(list))
    for ann in data.annotations:
        key = ann.attributes.get("submission", ("aggregate", ann.id))
        by_image[ann.image_id][key].append(ann)
    tasks = []
    for image in data.images:
        groups = by_image.get(image.id, {})
        tasks.append({
            "id": image.id,
            "data": {"image": image_url + (names or {}).get(image.id, image.file_name),
                     "tracework_image_id": image.id,
                     "sha256": image.sha256},
            "annotations": [_annotation_object(anns, image) for anns in groups.values()],
            "predictions": [],
        })
    return tasks

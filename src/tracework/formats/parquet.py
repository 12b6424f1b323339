"""Parquet in the layout of Hugging Face `datasets`: one row per image, its labels in a list.

Each row holds the image itself (``image``: a struct of ``bytes`` and ``path``, which is how
`datasets` stores its ``Image`` feature) and an ``objects`` list with one entry per label:
category, COCO box and area, the exact mask as COCO RLE counts, and the label's provenance
(worker pseudonym, submission, assignment, batch, review status, taxonomy version, time on
task and its kind, reward), plus every provenance attribute as JSON. The schema carries the
``huggingface`` metadata key that `datasets` reads its features from, so ``image`` loads as
an image and ``category_id`` as a class label; polars and pyarrow read the file as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from tracework.core.model import Annotation, Dataset, Image

__all__ = ["Writer", "row", "schema", "to_bytes", "to_table"]

# (name, arrow type, provenance attribute it comes from or "")
_OBJECT_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("annotation", pa.int64(), ""),
    ("category", pa.string(), ""),
    ("category_id", pa.int64(), ""),
    ("bbox", pa.list_(pa.float64()), ""),
    ("area", pa.float64(), ""),
    ("segmentation", pa.string(), ""),
    ("worker", pa.string(), ""),
    ("submission", pa.int64(), "submission"),
    ("assignment_id", pa.string(), "assignment_id"),
    ("batch_key", pa.string(), "batch_key"),
    ("platform", pa.string(), "platform"),
    ("review_status", pa.string(), "review_status"),
    ("taxonomy_version", pa.int64(), "taxonomy_version"),
    ("time_on_task_s", pa.float64(), "time_on_task_s"),
    ("time_kind", pa.string(), "time_kind"),
    ("reward_cents", pa.int64(), "reward_cents"),
    ("layer", pa.string(), "layer"),
    ("provenance", pa.string(), ""),
]


def _hf_value(t: pa.DataType) -> dict[str, Any]:
    if pa.types.is_list(t):
        return {"feature": _hf_value(t.value_type), "_type": "List"}
    names = {pa.int64(): "int64", pa.float64(): "float64", pa.string(): "string",
             pa.binary(): "binary"}
    return {"dtype": names[t], "_type": "Value"}


def schema(categories: list[str]) -> pa.Schema:
    """The Arrow schema, with the `datasets` features in its metadata."""
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    objects = pa.list_(pa.struct([(n, t) for n, t, _ in _OBJECT_FIELDS]))
    columns = [("image_id", pa.int64()), ("file_name", pa.string()), ("width", pa.int64()),
               ("height", pa.int64()), ("sha256", pa.string()), ("image", image),
               ("objects", objects)]
    object_features = {n: _hf_value(t) for n, t, _ in _OBJECT_FIELDS}
    object_features["category_id"] = {"names": categories, "_type": "ClassLabel"}
    features = {n: _hf_value(t) for n, t in columns[:5]}
    features["image"] = {"_type": "Image"}
    features["objects"] = {"feature": object_features, "_type": "List"}
    meta = {"info": {"features": features}}
    return pa.schema(columns, metadata={b"huggingface": json.dumps(meta).encode("utf-8")})


def _object(ann: Annotation, class_ids: dict[str, int]) -> dict[str, Any]:
    attrs = {k: v for k, v in ann.attributes.items() if k != "survey"}
    row: dict[str, Any] = {
        "annotation": ann.id, "category": ann.category, "category_id": class_ids[ann.category],
        "bbox": list(ann.bbox), "area": ann.area,
        "segmentation": ann.rle["counts"] if ann.rle else None, "worker": ann.worker,
        "provenance": json.dumps(attrs, ensure_ascii=False, sort_keys=True),
    }
    for name, _, key in _OBJECT_FIELDS:
        if key:
            row[name] = attrs.get(key)
    return row


def row(image: Image, anns: Iterable[Annotation], class_ids: dict[str, int],
        image_bytes: bytes | None, file_name: str) -> dict[str, Any]:
    """One image's row: its file (``image_bytes`` None when it is not at hand: the row then
    keeps only the path) and its labels."""
    return {"image_id": image.id, "file_name": file_name, "width": image.width,
            "height": image.height, "sha256": image.sha256,
            "image": {"bytes": image_bytes, "path": file_name},
            "objects": [_object(ann, class_ids) for ann in anns]}


def to_table(data: Dataset, image_bytes: Callable[[Image], bytes | None],
             file_names: Callable[[Image], str]) -> pa.Table:
    """The dataset as one Arrow table; ``image_bytes`` gives each image's file content (None
    when it is not at hand: the row then keeps only the path)."""
    class_ids = data.category_index()
    by_image: dict[int, list[Annotation]] = {im.id: [] for im in data.images}
    for ann in data.annotations:
        by_image[ann.image_id].append(ann)
    rows = [row(im, by_image[im.id], class_ids, image_bytes(im), file_names(im))
            for im in data.images]
    return pa.Table.from_pylist(rows, schema=schema([c.name for c in data.categories]))


def to_bytes(table: pa.Table) -> bytes:
    """The table as a Parquet file (zstd), schema metadata included."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


class Writer:
    """A Parquet file written a row group at a time: rows are held until a group holds
    ``group_rows`` images or ``group_bytes`` bytes of image files, then written out."""

    def __init__(self, fh: BinaryIO, categories: list[str], *, group_rows: int = 1_000,
                 group_bytes: int = 64 << 20) -> None:
        self._schema = schema(categories)
        self._writer = pq.ParquetWriter(fh, self._schema, compression="zstd")
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self._groups = 0
        self._limits = (group_rows, group_bytes)

    def add(self, image_row: dict[str, Any]) -> None:
        self._rows.append(image_row)
        self._bytes += len(image_row["image"]["bytes"] or b"")
        if len(self._rows) >= self._limits[0] or self._bytes >= self._limits[1]:
            self._flush()

    def close(self) -> None:
        if self._rows or not self._groups:
            self._flush()       # an empty dataset still gets its (empty) row group
        self._writer.close()

    def _flush(self) -> None:
        self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
        self._rows, self._bytes = [], 0
        self._groups += 1

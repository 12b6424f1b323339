"""Images served to the browser: a task image from the configured folder, and an annotation's
mask as a transparent PNG in its category's colour (drawn over the image, toggled per part).

Both have a server-chosen Content-Type; file names from the data never form a path outside
the images folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tracework.formats.masks import rle_to_mask

__all__ = ["IMAGE_TYPES", "find_image", "mask_png"]

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
               ".webp": "image/webp"}


def find_image(images_dir: Path | None, file_name: str) -> tuple[Path, str] | None:
    """The image file of an asset and its media type, if it is inside ``images_dir``."""
    if images_dir is None or not file_name or "\x00" in file_name:
        return None
    media = IMAGE_TYPES.get(Path(file_name).suffix.lower())
    if media is None:
        return None
    root = images_dir.resolve()
    candidate = (root / Path(file_name).name).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate, media


def _bgr(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return b, g, r


def mask_png(row: dict[str, Any], colour: str) -> bytes:
    """An RGBA PNG of the annotation's mask (or box) in ``colour``, transparent elsewhere."""
    height, width = int(row.get("height") or 0), int(row.get("width") or 0)
    if row.get("rle_counts"):
        mask = rle_to_mask({"size": [height, width], "counts": row["rle_counts"]})
    else:
        mask = np.zeros((max(height, 1), max(width, 1)), np.uint8)
        if row.get("bbox_w"):
            x, y = int(row["bbox_x"]), int(row["bbox_y"])
            w, h = int(row["bbox_w"]), int(row["bbox_h"])
            cv2.rectangle(mask, (x, y), (x + w - 1, y + h - 1), 1, thickness=2)
    out = np.zeros((*mask.shape, 4), np.uint8)
    b, g, r = _bgr(colour)
    on = mask.astype(bool)
    out[on] = (b, g, r, 255)
    ok, encoded = cv2.imencode(".png", out, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()

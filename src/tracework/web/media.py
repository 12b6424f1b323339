"""Images served to the browser: a task image from the configured folder, and an annotation's
mask as a transparent PNG in its category's colour (drawn over the image, toggled per part).

Both have a server-chosen Content-Type; file names from the data never form a path outside
the images folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tracework.core.files import write_atomic
from tracework.formats.masks import rle_to_mask

__all__ = ["IMAGE_TYPES", "PATTERNS", "THUMB_SIZES", "WORKER_COLOURS", "find_image", "mask_png",
           "thumbnail", "worker_colour"]

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


# One hue per worker on an asset page: Okabe and Ito's colour-blind-safe set first, then
# further distinct hues; the part is told apart by the pattern inside its outline.
WORKER_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9",
                  "#000000", "#f0e442", "#7f3c8d", "#11a579", "#a5aa99", "#8b4513")
PATTERNS = ("fill", "diagonal", "horizontal", "vertical", "dots", "cross")
THUMB_SIZES = (160, 320)


def worker_colour(index: int) -> str:
    return WORKER_COLOURS[index % len(WORKER_COLOURS)]


def _mask_of(row: dict[str, Any]) -> np.ndarray[Any, Any]:
    height, width = int(row.get("height") or 0), int(row.get("width") or 0)
    if row.get("rle_counts"):
        mask = rle_to_mask({"size": [height, width], "counts": row["rle_counts"]})
    else:
        mask = np.zeros((max(height, 1), max(width, 1)), np.uint8)
        if row.get("bbox_w"):
            x, y = int(row["bbox_x"]), int(row["bbox_y"])
            w, h = int(row["bbox_w"]), int(row["bbox_h"])
            cv2.rectangle(mask, (x, y), (x + w - 1, y + h - 1), 1, thickness=2)
    return mask


def _pattern(shape: tuple[int, int], pattern: str) -> np.ndarray[Any, Any]:
    """Where the pattern's ink falls, on a grid scaled to the image (about 90 cells across)."""
    h, w = shape
    step = max(6, max(h, w) // 90)
    width = max(2, step // 3)
    yy, xx = np.ogrid[0:h, 0:w]
    if pattern == "diagonal":
        return np.asarray(((xx + yy) % step) < width)
    if pattern == "horizontal":
        return np.asarray((yy % step) < width)
    if pattern == "vertical":
        return np.asarray((xx % step) < width)
    if pattern == "dots":
        return np.asarray(((xx % step) < width) & ((yy % step) < width))
    if pattern == "cross":
        return np.asarray((((xx + yy) % step) < width) | (((xx - yy) % step) < width))
    return np.ones((h, w), bool)


def mask_png(row: dict[str, Any], colour: str, pattern: str | None = None) -> bytes:
    """An RGBA PNG of the annotation's mask (or box) in ``colour``, transparent elsewhere.
    With ``pattern`` (one of :data:`PATTERNS`): a solid outline with the pattern inside, so
    one worker's parts share a hue and still differ."""
    mask = _mask_of(row)
    out = np.zeros((*mask.shape, 4), np.uint8)
    b, g, r = _bgr(colour)
    on = mask.astype(bool)
    if pattern is None:
        out[on] = (b, g, r, 255)
    else:
        out[on & _pattern(mask.shape, pattern)] = (b, g, r, 150 if pattern == "fill" else 230)
        edge = max(2, max(mask.shape) // 300)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (b, g, r, 255), thickness=edge)
    ok, encoded = cv2.imencode(".png", out, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()


def _reduced_read(path: Path, size: int) -> np.ndarray[Any, Any] | None:
    """The image decoded at the smallest JPEG reduction still at least ``size`` across."""
    probe = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_8)
    if probe is None:
        return None
    flags = cv2.IMREAD_COLOR
    for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                         (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if max(probe.shape[:2]) * 8 // factor >= size:
            flags = flag
            break
    return probe if flags == cv2.IMREAD_REDUCED_COLOR_8 else cv2.imread(str(path), flags)


def thumbnail(cache_dir: Path, image: Path, key: str, size: int,
              overlays: Sequence[tuple[dict[str, Any], str]] = ()) -> bytes:
    """A JPEG of ``image`` at most ``size`` pixels across, with ``overlays`` (annotation rows
    and their colours) drawn in; made once and kept in ``cache_dir`` under ``key`` (the
    asset's hash, the size and what is drawn), read from there afterwards."""
    if size not in THUMB_SIZES:
        raise ValueError(f"thumbnail size {size} is not one of {THUMB_SIZES}")
    drawn = hashlib.sha256(repr([(int(r["id"]), c) for r, c in overlays]).encode()
                           ).hexdigest()[:16] if overlays else "plain"
    path = cache_dir / f"{key}-{size}-{drawn}.jpg"
    if path.is_file():
        return path.read_bytes()
    picture = _reduced_read(image, size)
    if picture is None:
        raise ValueError(f"cannot read the image {image.name}")
    h, w = picture.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        picture = cv2.resize(picture, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA)
    out_h, out_w = picture.shape[:2]
    for row, colour in overlays:
        mask = cv2.resize(_mask_of(row).astype(np.uint8), (out_w, out_h),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        tint = np.array(_bgr(colour), np.float32)
        picture[mask] = (0.45 * picture[mask] + 0.55 * tint).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 82])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    data = encoded.tobytes()
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    return data

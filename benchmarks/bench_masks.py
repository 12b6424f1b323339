"""Benchmark of the mask hot path: label-colour PNG → per-category COCO RLE, bbox, area.

    python benchmarks/bench_masks.py [--masks N] [--repeat R]

Builds N masks of the size the study used (2880 × 1920 RGBA, five parts on a transparent
background) in memory and times, per mask and side by side:

* the zlib floor: ``zlib.decompress`` of the PNG's concatenated IDAT data, the least work any
  decoder must do;
* ``tracework.formats.masks.decode_label_png``;
* the straightforward path: Pillow → ``np.asarray`` → ``np.all(img == colour, -1)`` per
  category → ``pycocotools.mask.encode`` + ``area`` + ``toBbox``.

Targets: ours ≤ 2 × the floor, and naive ≥ 5 × ours (medians over the masks). Every part
is also checked to have the same RLE, area and box on both paths, so speed is not bought with
wrong answers. Each mask is encoded twice: OpenCV's default PNG settings, and zlib level 6
with adaptive filtering, closer to what browser canvas encoders write (e.g. Skia's
defaults), which is where a crowd task's masks come from. Needs Pillow for the naive path.

The floor and ours are timed alternately so that both see the same allocator state: fresh
pages for a 22 MB output cost page faults, so both run faster once glibc keeps freed memory
(try GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824),
and the floor gains more from it than ours does.
"""

from __future__ import annotations

import argparse
import io
import statistics
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as coco

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tracework.formats.masks import PartMask, decode_label_png, rle_to_mask

try:
    from PIL import Image
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("bench_masks.py needs Pillow for the naive baseline: pip install pillow")

WIDTH, HEIGHT = 2880, 1920
COLOURS = {
    "Body": "#1f77b4",
    "Cable": "#2ca02c",
    "Left_Button": "#d62728",
    "Right_Button": "#9467bd",
    "Scroll_Wheel": "#ff7f0e",
}
ENCODINGS: dict[str, list[int]] = {
    "OpenCV default": [],
    "zlib 6 + adaptive filters (browser-like)": [
        cv2.IMWRITE_PNG_COMPRESSION, 6,
        cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_ALL_FILTERS,
        cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
    ],
}
FLOOR_BOUND, NAIVE_BOUND = 2.0, 5.0


def _bgra(colour: str) -> tuple[int, int, int, int]:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r, 255


def make_mask(seed: int) -> np.ndarray:
    """A computer mouse seen from above, at a random pose: BGRA, transparent background."""
    rng = np.random.default_rng(seed)
    img = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    centre = np.array([WIDTH / 2, HEIGHT / 2]) + rng.uniform(-200, 200, 2)
    angle = rng.uniform(0, 180)
    ax, ay = rng.uniform(500, 700), rng.uniform(300, 420)
    along = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
    across = np.array([-along[1], along[0]])

    def ellipse(c: np.ndarray, axes: tuple[float, float], label: str) -> None:
        cv2.ellipse(img, (int(c[0]), int(c[1])), (int(axes[0]), int(axes[1])), angle, 0, 360,
                    _bgra(COLOURS[label]), -1, cv2.LINE_8)

    ellipse(centre, (ax, ay), "Body")
    front = centre + along * ax * 0.6
    ellipse(front - across * ay * 0.45, (ax * 0.3, ay * 0.35), "Left_Button")
    ellipse(front + across * ay * 0.45, (ax * 0.3, ay * 0.35), "Right_Button")
    ellipse(front + along * ax * 0.05, (ax * 0.09, ay * 0.06), "Scroll_Wheel")
    points = [centre + along * ax * 0.98]
    heading = np.deg2rad(angle)
    for _ in range(60):
        heading += rng.normal(0, 0.25)
        points.append(points[-1] + 25 * np.array([np.cos(heading), np.sin(heading)]))
    cable = np.clip(np.array(points), 0, [WIDTH - 1, HEIGHT - 1]).astype(np.int32)
    cv2.polylines(img, [cable], False, _bgra(COLOURS["Cable"]), int(rng.uniform(18, 30)),
                  cv2.LINE_8)
    return img


def idat_data(png: bytes) -> bytes:
    chunks, pos = [], 8
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        if kind == b"IDAT":
            chunks.append(png[pos + 8:pos + 8 + length])
        pos += 12 + length
    return b"".join(chunks)


def naive(png: bytes) -> list[dict[str, Any]]:
    img = np.asarray(Image.open(io.BytesIO(png)))
    parts = []
    for category, colour in COLOURS.items():
        rgba = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)] + [255], np.uint8)
        m = np.all(img == rgba, axis=-1)
        rle = coco.encode(np.asfortranarray(m.astype(np.uint8)))
        area = int(coco.area(rle))
        if area:
            parts.append({"category": category, "rle": rle, "area": area,
                          "bbox": tuple(float(v) for v in coco.toBbox(rle))})
    return parts


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def same_answer(ours: tuple[PartMask, ...], ref: list[dict[str, Any]]) -> int:
    """Parts checked; exits if ours and the naive path disagree anywhere."""
    if [p.category for p in ours] != [r["category"] for r in ref]:
        raise SystemExit("FAIL: the two paths found different categories")
    for p, r in zip(ours, ref):
        if (p.rle["counts"] != r["rle"]["counts"].decode("ascii") or p.area != r["area"]
                or p.bbox != r["bbox"]
                or not np.array_equal(rle_to_mask(p.rle), coco.decode(r["rle"]))):
            raise SystemExit(f"FAIL: {p.category} differs between the two paths")
    return len(ours)


def run(encoding: str, params: list[int], masks: list[np.ndarray], repeat: int) -> bool:
    rows: dict[str, list[float]] = {k: [] for k in (
        "zlib floor", "ours", "naive", "cv2.imdecode", "Pillow load", "Pillow + asarray")}
    checked, size = 0, []
    for img in masks:
        png = cv2.imencode(".png", img, params)[1].tobytes()
        idat = idat_data(png)
        buf = np.frombuffer(png, np.uint8)
        size.append(len(png))
        # Alternated, so that both see the same allocator and cache state: large outputs
        # cost page faults that vary with what ran before.
        floor, ours = [], []
        for _ in range(repeat):
            floor.append(timed(lambda: zlib.decompress(idat))[0])
            seconds, result = timed(lambda: decode_label_png(png, COLOURS))
            ours.append(seconds)
        rows["zlib floor"].append(statistics.median(floor))
        rows["ours"].append(statistics.median(ours))
        seconds, reference = timed(lambda: naive(png))
        rows["naive"].append(seconds)
        checked += same_answer(result.parts, reference)
        rows["cv2.imdecode"].append(timed(lambda: cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))[0])
        rows["Pillow load"].append(timed(lambda: Image.open(io.BytesIO(png)).load())[0])
        rows["Pillow + asarray"].append(
            timed(lambda: np.asarray(Image.open(io.BytesIO(png))))[0])
    med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
    print(f"\n{encoding}: {len(masks)} masks, median PNG {statistics.median(size) / 1024:.0f} KiB")
    print(f"  {'zlib floor':<18}{med['zlib floor']:8.1f} ms")
    print(f"  {'tracework':<18}{med['ours']:8.1f} ms")
    print(f"  {'naive':<18}{med['naive']:8.1f} ms")
    print(f"  decoders alone: cv2.imdecode {med['cv2.imdecode']:.1f} ms, Pillow load "
          f"{med['Pillow load']:.1f} ms, Pillow + np.asarray {med['Pillow + asarray']:.1f} ms")
    floor_ratio = med["ours"] / med["zlib floor"]
    naive_ratio = med["naive"] / med["ours"]
    ok_floor, ok_naive = floor_ratio <= FLOOR_BOUND, naive_ratio >= NAIVE_BOUND
    print(f"  ours / floor  = {floor_ratio:5.2f}  (target <= {FLOOR_BOUND:g})  "
          f"{'PASS' if ok_floor else 'FAIL'}")
    print(f"  naive / ours  = {naive_ratio:5.2f}  (target >= {NAIVE_BOUND:g})  "
          f"{'PASS' if ok_naive else 'FAIL'}")
    print(f"  same RLE, area and bbox on both paths: {checked} parts  PASS")
    return ok_floor and ok_naive


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--masks", type=int, default=10, help="masks to build (default 10)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timings per mask for the floor and ours (default 3)")
    args = parser.parse_args()
    if args.masks < 1 or args.repeat < 1:
        parser.error("--masks and --repeat must be at least 1")
    print(f"{WIDTH}x{HEIGHT} RGBA masks, 5 parts + transparent background; "
          f"one process, medians; OpenCV {cv2.__version__}, zlib {zlib.ZLIB_RUNTIME_VERSION}, "
          f"Pillow {Image.__version__}")
    masks = [make_mask(seed) for seed in range(args.masks)]
    ok = all([run(name, params, masks, args.repeat) for name, params in ENCODINGS.items()])
    print("\nPASS" if ok else "\nFAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Mask decoding on a two-worker Dask LocalCluster against one local process.

Target (issue: scale): on a two-worker ``LocalCluster`` (dask.distributed), mask-decoding
throughput at least 1.6x one local process, with identical annotations.

    python benchmarks/bench_cluster_decode.py [--masks N] [--width 1920 --height 1080]

Builds N synthetic label PNGs (several instances of a few categories on a transparent
background, each encoded as a crowd task's answer cell: base64 PNG) and decodes them the way
``tracework ingest mturk`` does, through :func:`tracework.core.compute.executor` with
``masks.decode_mask_cell`` and the project's mask options: once in this process (no scheduler,
one process), once with the project's scheduler set to a ``LocalCluster(n_workers=2,
threads_per_worker=1)``. Each run submits every mask, then collects the results in order.
Prints both throughputs, their ratio beside the target, and whether every decoded part
(category, RLE, box, area) is the same on both paths. Both paths are warmed up (on the
cluster, every worker imports tracework and decodes one mask) before they are timed. The
ratio a machine can show is bounded by its free cores: the load average is printed, and on a
machine whose two cores are shared with other work the ratio comes out lower. So the same
masks are also decoded by two plain OS processes (no Dask) against one: that ratio is the
most any two-worker cluster could show on this machine, and the cluster's share of it is
printed beside the target.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

import tracework
from tracework.core.compute import executor
from tracework.core.project import Category, Project
from tracework.formats import masks

COLOURS = {"Car": "#1f77b4", "Person": "#d62728", "Bicycle": "#2ca02c", "Sign": "#ff7f0e"}
TARGET = 1.6


def _bgra(colour: str) -> tuple[int, int, int, int]:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r, 255


def make_mask(seed: int, width: int, height: int) -> str:
    """A street scene's label mask: a few instances per category, as a base64 PNG cell."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 4), np.uint8)
    for name, colour in COLOURS.items():
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
            if name in ("Car", "Sign"):
                w, h = int(rng.integers(60, 400)), int(rng.integers(40, 260))
                cv2.rectangle(img, (cx, cy), (cx + w, cy + h), _bgra(colour), -1)
            else:
                axes = (int(rng.integers(20, 120)), int(rng.integers(50, 260)))
                cv2.ellipse(img, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360,
                            _bgra(colour), -1)
    ok, png = cv2.imencode(".png", img)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return base64.b64encode(png.tobytes()).decode("ascii")


def _options(project: Project) -> dict[str, object]:
    bg = project.settings["mask_background"]
    return {"background": None if bg == "transparent" else bg,
            "tolerance": project.settings["mask_tolerance"],
            "max_pixels": min(project.settings["max_mask_pixels"], project.settings["max_pixels"]),
            "max_bytes": project.settings["max_field_bytes"]}


def decode_all(project: Project, cells: list[str], size: tuple[int, int]
               ) -> tuple[float, list[masks.MaskResult]]:
    """Seconds to decode every cell through the project's executor, and the results."""
    options = _options(project)
    with executor(project, processes=1) as pool:
        # Warm-up: the first call pays for imports and a first allocation, not the clock.
        pool.submit(masks.decode_mask_cell, cells[0], COLOURS, expected_size=size,
                    **options).result()
        start = time.perf_counter()
        futures = [pool.submit(masks.decode_mask_cell, cell, COLOURS, expected_size=size,
                               **options) for cell in cells]
        results = [f.result() for f in futures]
        return time.perf_counter() - start, results


def _warm(cell: str, size: tuple[int, int]) -> int:
    return len(masks.decode_mask_cell(cell, COLOURS, expected_size=size).parts)


def _decode_share(cells: list[str], size: tuple[int, int]) -> float:
    """Seconds one process takes to decode ``cells`` one after another."""
    start = time.perf_counter()
    for cell in cells:
        masks.decode_mask_cell(cell, COLOURS, expected_size=size)
    return time.perf_counter() - start


def machine_ceiling(cells: list[str], size: tuple[int, int]) -> float:
    """How much faster two plain OS processes decode the same masks than one: the most any
    two-worker cluster on this machine could show (below 2x where the cores share memory
    bandwidth or are not wholly this machine's)."""
    half = len(cells) // 2
    alone = _decode_share(cells[:half], size) + _decode_share(cells[half:], size)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_decode_share, [cells[:1], cells[1:2]], [size, size]))   # warm-up
        start = time.perf_counter()
        list(pool.map(_decode_share, [cells[:half], cells[half:]], [size, size]))
        both = time.perf_counter() - start
    return alone / both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=40)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        sys.exit("bench_cluster_decode.py needs dask.distributed: pip install distributed")
    size = (args.width, args.height)
    cells = [make_mask(seed, *size) for seed in range(args.masks)]
    mib = sum(len(c) for c in cells) / 2**20
    print(f"{args.masks} label masks {args.width}x{args.height}, {len(COLOURS)} categories, "
          f"{mib:.1f} MiB of base64; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        tracework.init(root, categories=[Category(n, c) for n, c in COLOURS.items()],
                       actor="bench").close()
        local = tracework.open_project(root, cli={"actor": "bench", "processes": 1})
        one, expected = decode_all(local, cells, size)
        local.close()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            with Client(cluster) as client:     # every worker imports the decoder first
                client.run(_warm, cells[0], size)
            on_cluster = tracework.open_project(
                root, cli={"actor": "bench", "scheduler": cluster.scheduler_address})
            two, got = decode_all(on_cluster, cells, size)
            on_cluster.close()
    parts = sum(len(r.parts) for r in expected)
    same = got == expected
    print(f"one local process : {args.masks / one:6.2f} masks/s ({one / args.masks * 1000:.0f} "
          "ms per mask)")
    print(f"LocalCluster 2x1  : {args.masks / two:6.2f} masks/s ({two / args.masks * 1000:.0f} "
          "ms per mask)")
    ratio = one / two
    print(f"cluster / one process: {ratio:.2f}x (target >= {TARGET}x: "
          f"{'met' if ratio >= TARGET else 'NOT met'})")
    ceiling = machine_ceiling(cells, size)
    print(f"this machine's ceiling, two plain processes / one: {ceiling:.2f}x; the cluster "
          f"reaches {ratio / ceiling:.0%} of it")
    print(f"decoded annotations identical: {same} ({parts} parts in {args.masks} masks)")
    if not same:
        raise SystemExit("the cluster decoded different annotations")


if __name__ == "__main__":
    main()

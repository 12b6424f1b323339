"""From a project to a stream of frames: which frames there are, drawn in parallel, in order.

Drawing is OpenCV and NumPy work that releases the GIL, so a small thread pool keeps both cores
busy while the caller writes or encodes the previous frames; at most a few frames are held in
memory at any time.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from tracework.core.errors import InputError
from tracework.core.files import safe_name, write_atomic
from tracework.core.project import Category, Project
from tracework.render.frames import FrameRenderer, FrameStyle, Layout
from tracework.render.records import Contribution, Selection, load_image, select_contributions
from tracework.render.text import MissingGlyphs

__all__ = ["FrameJob", "RenderReport", "frame_jobs", "ordered_map", "parse_size",
           "render_frames", "renderer_for"]

T = TypeVar("T")
R = TypeVar("R")

LAYOUTS: tuple[Layout, ...] = ("per-worker", "grid")


@dataclass(frozen=True)
class FrameJob:
    """One frame to draw: an asset and the contributions it shows."""

    index: int
    name: str
    group: tuple[Contribution, ...]


@dataclass
class RenderReport:
    """What a render command wrote."""

    kind: str
    out: str
    frames: int = 0
    chapters: int = 0                                    # the video's chapter cards
    assets: int = 0
    contributions: int = 0
    workers: int = 0
    size: tuple[int, int] = (0, 0)
    files: list[str] = field(default_factory=list)
    seconds: float | None = None
    fps: float | None = None
    encoder: str | None = None
    ledger_head: str = ""
    notes: list[str] = field(default_factory=list)      # the selection's (Dataset.notes)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` as (1920, 1080), between 320x240 and 7680x4320."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"{text!r} is not a size like 1920x1080", field="--size") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise InputError(f"{w}x{h} is outside 320x240 … 7680x4320", field="--size")
    return w, h


def frame_jobs(selection: Selection, layout: Layout) -> list[FrameJob]:
    """The frames of a selection, in asset order (then worker order)."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}",
                         field="--layout")
    jobs: list[FrameJob] = []
    for asset, group in selection.by_asset:
        stem = safe_name(Path(asset.file_name).stem, f"asset_{asset.id}")
        if layout == "grid":
            jobs.append(FrameJob(len(jobs), f"{len(jobs) + 1:05d}_{stem}.png", tuple(group)))
            continue
        for c in group:
            jobs.append(FrameJob(len(jobs), f"{len(jobs) + 1:05d}_{stem}__{c.worker}.png",
                                 (c,)))
    return jobs


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int | None = None,
                ahead: int = 4) -> Iterator[R]:
    """``map(fn, items)`` on a thread pool, results in order, at most ``ahead`` pending."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="tracework-render") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def renderer_for(project: Project, size: tuple[int, int], missing_glyphs: MissingGlyphs,
                 font_dirs: Sequence[Path | str] = (),
                 categories: Sequence[Category] | None = None) -> FrameRenderer:
    cfg = project.config.get("render", {})
    dirs = list(font_dirs) + [str(d) for d in (cfg.get("font_dirs", []) if isinstance(cfg, dict)
                                               else [])]
    return FrameRenderer.for_project(project, FrameStyle(size=size), missing_glyphs, dirs,
                                     categories)


class _Images:
    """The last asset's image, kept while the next frames show the same asset."""

    def __init__(self, images_dir: Path | None) -> None:
        self.images_dir = images_dir
        self._key: int | None = None
        self._image: Any = None

    def get(self, c: Contribution) -> Any:
        if self._key != c.asset.id:
            self._image = load_image(self.images_dir, c.asset)
            self._key = c.asset.id
        return self._image


def draw_jobs(renderer: FrameRenderer, jobs: Sequence[FrameJob], images_dir: Path | None,
              layout: Layout, *, workers: int | None = None,
              finish: Callable[[Any], Any] | None = None) -> Iterator[tuple[FrameJob, Any]]:
    """Each job with its drawn frame, in order; texts are checked for fonts before drawing.

    ``finish`` (e.g. PNG or YUV conversion) runs on the drawn frame in the pool as well.
    """
    for job in jobs:
        for c in job.group:
            renderer.check_text(c)
    images = _Images(images_dir)
    # Images load in order on the caller's thread (a cache of one asset); drawing runs in
    # the pool.
    loaded = ((job, images.get(job.group[0])) for job in jobs)

    local = threading.local()

    def draw(item: tuple[FrameJob, Any]) -> tuple[FrameJob, Any]:
        job, image = item
        if finish is None:
            return job, renderer.frame(image, job.group, layout)
        # ``finish`` consumes the frame before this thread draws the next one, so each thread
        # can draw into one buffer of its own.
        if getattr(local, "canvas", None) is None:
            width, height = renderer.style.size
            local.canvas = np.empty((height, width, 3), np.uint8)
        return job, finish(renderer.frame(image, job.group, layout, out=local.canvas))

    yield from ordered_map(draw, loaded, workers=workers)


def _png(frame: Any) -> bytes:
    ok, data = cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise InputError("a frame could not be encoded as PNG")
    return bytes(data.tobytes())


def render_frames(project: Project, out: Path | str, *, images_dir: Path | str | None = None,
                  layout: Layout = "per-worker", status: str = "all",
                  batches: Collection[str] = (), categories: Collection[str] = (),
                  size: tuple[int, int] = (1920, 1080), missing_glyphs: MissingGlyphs = "error",
                  font_dirs: Sequence[Path | str] = (), workers: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> RenderReport:
    """Write one PNG per frame into ``out``: each asset with the annotations drawn on it and
    a panel saying who made them, under what pay and time, and how they were reviewed;
    ``progress(done, total)`` is told of every frame written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("the frames folder exists and is not a folder", file=str(out))
    selection = select_contributions(project, status=status, batches=batches,
                                     categories=categories)
    renderer = renderer_for(project, size, missing_glyphs, font_dirs,
                            selection.dataset.categories)
    jobs = frame_jobs(selection, layout)
    report = RenderReport("frames", str(out), assets=len(selection.by_asset),
                          contributions=len(selection.contributions),
                          workers=len(selection.dataset.workers), size=size,
                          ledger_head=selection.dataset.ledger_head,
                          notes=selection.dataset.notes)
    source = Path(images_dir) if images_dir is not None else None
    for job, png in draw_jobs(renderer, jobs, source, layout, workers=workers,
                              finish=_png):
        write_atomic(out / job.name, png)
        report.files.append(job.name)
        if progress is not None:
            progress(len(report.files), len(jobs))
    report.frames = len(report.files)
    return report

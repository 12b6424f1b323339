"""Command-line commands of the render room; registered on the main group by cli.py.

``tracework render frames|video|sheet`` and ``tracework report``: each parses its options,
calls the library function of the same name in :mod:`tracework.render`, and prints what was
written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tracework.cli.common import Group, Progress, echo_json, project_of, table
from tracework.render.frames import Layout
from tracework.render.text import MissingGlyphs
from tracework.render.video import CHAPTER_SECONDS, SECONDS_PER_FRAME

COMMANDS: list[click.Command] = []

_LAYOUT_HELP = ("per-worker: one frame per (image, worker); grid: everyone who labelled an "
                "image side by side in one frame.")


def _selection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--images", type=click.Path(file_okay=False, exists=True, path_type=Path),
                     help="Folder of the task images (checked against the SHA-256 recorded at "
                          "ingest). Without it, labels are drawn on a plain canvas."),
        click.option("--status", type=click.Choice(["approved", "submitted", "rejected", "all"]),
                     default="all", show_default=True,
                     help="Review status of the submissions to show."),
        click.option("--batch", "batches", multiple=True, metavar="BATCH",
                     help="Only this batch (id or platform batch key); repeatable."),
        click.option("--category", "categories", multiple=True, metavar="NAME",
                     help="Only this category; repeatable."),
        click.option("--missing-glyphs", type=click.Choice(["error", "box"]), default="error",
                     show_default=True,
                     help="A character no installed font can draw: stop with an error naming "
                          "it, or draw a box for it."),
        click.option("--font-dir", "font_dirs", multiple=True,
                     type=click.Path(file_okay=False, path_type=Path),
                     help="A folder of extra fonts, searched first; repeatable."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _size(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, int]:
    from tracework.render import parse_size

    return parse_size(value)


_size_option = click.option("--size", default="1920x1080", show_default=True,
                            callback=_size, metavar="WxH", help="Frame size in pixels.")
_layout_option = click.option("--layout", type=click.Choice(["per-worker", "grid"]),
                              default="per-worker", show_default=True, help=_LAYOUT_HELP)


def _print(report: Any, as_json: bool) -> None:
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote {report.kind} to {report.out}")
    rows: list[tuple[str, Any]] = [
        ("images", report.assets), ("submissions", report.contributions),
        ("people", report.workers), ("frames", report.frames),
        ("size", f"{report.size[0]}x{report.size[1]}")]
    if report.seconds is not None:
        rows += [("chapter cards", report.chapters),
                 ("duration", f"{report.seconds:.1f} s at {report.fps:g} fps"),
                 ("encoder", report.encoder)]
    rows.append(("ledger head", report.ledger_head))
    table(rows)


@click.group("render", cls=Group)
def render() -> None:
    """Pictures of the labour: overlay frames, a video, a contact sheet.

    Each image is drawn with every label on it (masks in the taxonomy's colours, outlines,
    boxes, part names) and a panel naming who made them (the name they chose to be credited
    by, or their pseudonym), the survey answers they consented to publish, their pay, time
    and review status.
    """


@render.command("frames")
@click.argument("out", type=click.Path(path_type=Path))
@_selection_options
@_layout_option
@_size_option
@click.pass_context
def frames_cmd(ctx: click.Context, out: Path, images: Path | None, status: str,
               batches: tuple[str, ...], categories: tuple[str, ...], missing_glyphs: MissingGlyphs,
               font_dirs: tuple[Path, ...], as_json: bool, layout: Layout,
               size: tuple[int, int]) -> None:
    """One PNG per frame into the folder OUT.

    \b
    Examples:
      tracework render frames out/frames --images frames/
      tracework render frames out/grid --images frames/ --layout grid --size 2560x1440
    """
    from tracework.render import render_frames

    with Progress("frames", unit="frames", enabled=False if as_json else None) as progress:
        report = render_frames(project_of(ctx), out, images_dir=images, layout=layout,
                               status=status, batches=batches, categories=categories,
                               size=size, missing_glyphs=missing_glyphs, font_dirs=font_dirs,
                               progress=progress)
    _print(report, as_json)


@render.command("video")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@_selection_options
@_layout_option
@_size_option
@click.option("--fps", type=float, default=30.0, show_default=True, help="Frames per second.")
@click.option("--seconds-per-frame", type=float, default=SECONDS_PER_FRAME,
              show_default=True,
              help="How long each frame (one worker's labels of an image) is shown.")
@click.option("--chapter-seconds", type=float, default=CHAPTER_SECONDS, show_default=True,
              help="How long the card naming each image is shown before its frames; 0: none.")
@click.option("--title-seconds", type=float, default=6.0, show_default=True,
              help="How long the title card (the value-chain disclosure) is shown; 0: none.")
@click.option("--credits-seconds", type=float, default=6.0, show_default=True,
              help="How long the closing credits are shown; 0: none.")
@click.option("--preset", type=click.Choice(["ultrafast", "superfast", "veryfast", "faster",
                                             "fast", "medium", "slow"]),
              default="ultrafast", show_default=True,
              help="libx264 speed preset: slower presets make smaller files.")
@click.option("--crf", type=click.IntRange(0, 51), default=23, show_default=True,
              help="libx264 quality (lower: better and larger).")
@click.pass_context
def video_cmd(ctx: click.Context, out: Path, images: Path | None, status: str,
              batches: tuple[str, ...], categories: tuple[str, ...], missing_glyphs: MissingGlyphs,
              font_dirs: tuple[Path, ...], as_json: bool, layout: Layout, size: tuple[int, int],
              fps: float, seconds_per_frame: float, chapter_seconds: float,
              title_seconds: float, credits_seconds: float, preset: str, crf: int) -> None:
    """An H.264 MP4 (yuv420p, plays in browsers and common players) to OUT: a title card with
    the project's value chain, a card naming each image before its frames, and closing credits (names only of people who
    consented to be credited; everyone else counted).

    \b
    Examples:
      tracework render video out/labour.mp4 --images frames/
      tracework render video out/grid.mp4 --images frames/ --layout grid --seconds-per-frame 4
    """
    from tracework.render import render_video

    with Progress("video", unit="frames", enabled=False if as_json else None) as progress:
        report = render_video(project_of(ctx), out, images_dir=images, layout=layout,
                              status=status, batches=batches, categories=categories, size=size,
                              fps=fps, seconds_per_frame=seconds_per_frame,
                              chapter_seconds=chapter_seconds, title_seconds=title_seconds,
                              credits_seconds=credits_seconds,
                              preset=preset, crf=crf, missing_glyphs=missing_glyphs,
                              font_dirs=font_dirs, progress=progress)
    _print(report, as_json)


@render.command("sheet")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@_selection_options
@click.option("--thumb", "thumb_width", type=int, default=320, show_default=True,
              help="Width of each thumbnail in pixels.")
@click.option("--columns", type=int, default=6, show_default=True,
              help="At most this many thumbnails per row (an image, then its submissions).")
@click.pass_context
def sheet_cmd(ctx: click.Context, out: Path, images: Path | None, status: str,
              batches: tuple[str, ...], categories: tuple[str, ...], missing_glyphs: MissingGlyphs,
              font_dirs: tuple[Path, ...], as_json: bool, thumb_width: int,
              columns: int) -> None:
    """A contact sheet PNG to OUT: each image, then every worker's labels on it.

    \b
    Example:
      tracework render sheet out/sheet.png --images frames/ --thumb 240
    """
    from tracework.render import render_sheet

    report = render_sheet(project_of(ctx), out, images_dir=images, status=status,
                          batches=batches, categories=categories, thumb_width=thumb_width,
                          columns=columns, missing_glyphs=missing_glyphs,
                          font_dirs=font_dirs)
    _print(report, as_json)


@click.command("report")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_context
def report_cmd(ctx: click.Context, out: Path, as_json: bool) -> None:
    """The project's story in figures, as one self-contained HTML file (no network, no
    script): review outcomes and reasons, hourly pay against the floor with and without unpaid
    time, time on task, agreement per category, group audits (suppressed as the audit does),
    fieldnotes by concern, the taxonomy's history, the change log's head hash.

    \b
    Example:
      tracework report out/report.html
    """
    from tracework.render import report

    with Progress("audits", unit="audits", enabled=False if as_json else None) as progress:
        result = report(project_of(ctx), out, progress=progress)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"Wrote the report to {result.out} ({result.bytes:,} bytes)")
    missing = [name for name, ok in result.sections.items() if not ok]
    table([("sections", ", ".join(n for n, ok in result.sections.items() if ok)),
            ("not computed", ", ".join(missing) or "none"),
            ("ledger head", result.ledger_head)])


COMMANDS += [render, report_cmd]

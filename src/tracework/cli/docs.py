"""Command-line commands of the docs room; registered on the main group by cli.py.

``export`` here is merged into the main ``tracework export`` group: croissant, datasheet,
card, credits and bundle sit beside coco and yolo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tracework import docs
from tracework.cli.common import Group, Progress, echo_json, project_of, table
from tracework.formats.coco import Segmentation
from tracework.formats.yolo import Task

COMMANDS: list[click.Command] = []


@click.group(cls=Group)
def export() -> None:
    """Write traceable datasets and their computed documentation."""


def _selection(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(f)
    f = click.option("--category", "categories", multiple=True, metavar="NAME",
                     help="Only this category; repeatable.")(f)
    f = click.option("--batch", "batches", multiple=True, metavar="BATCH",
                     help="Only this batch (id or platform batch key); repeatable.")(f)
    f = click.option("--status", type=click.Choice(["approved", "submitted", "rejected", "all"]),
                     default="approved", show_default=True,
                     help="Review status of the submissions described.")(f)
    return f


def _print(report: Any, as_json: bool, what: str) -> None:
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote {what} to {report.out}")
    table([("files", ", ".join(report.files)), ("images", report.images),
            ("annotations", report.annotations), ("workers", report.workers),
            ("credited by name", report.credited), ("ledger head", report.ledger_head)])


@export.command("croissant")
@click.argument("out", type=click.Path(path_type=Path))
@_selection
@click.pass_context
def croissant_cmd(ctx: click.Context, out: Path, status: str, batches: tuple[str, ...],
                  categories: tuple[str, ...], as_json: bool) -> None:
    """Croissant 1.1 metadata (JSON-LD) with the Responsible-AI properties computed from the
    records, to OUT (a .json file, or OUT/croissant.json).

    Describes every file in the folder it is written to, each with its SHA-256, and writes
    records/annotations.jsonl and records/images.jsonl beside it: one row per label with who
    made it (prov:wasAttributedTo a pseudonym) and under what terms.

    \b
    Examples:
      tracework export coco out/coco --images frames/
      tracework export croissant out/croissant.json --status all
    """
    report = docs.export_croissant(project_of(ctx), out, status=status, batches=batches,
                                   categories=categories)
    _print(report, as_json, "Croissant metadata")


@export.command("datasheet")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--html", is_flag=True, help="Also write the datasheet as HTML beside it.")
@_selection
@click.pass_context
def datasheet_cmd(ctx: click.Context, out: Path, html: bool, status: str,
                  batches: tuple[str, ...], categories: tuple[str, ...], as_json: bool) -> None:
    """A datasheet (Datasheets for Datasets) answered from the records, to OUT (a .md file,
    or OUT/DATASHEET.md); questions only a person can answer are marked "To be answered".

    \b
    Examples:
      tracework export datasheet out/DATASHEET.md --html
    """
    report = docs.export_datasheet(project_of(ctx), out, html=html, status=status,
                                   batches=batches, categories=categories)
    _print(report, as_json, "the datasheet")


@export.command("card")
@click.argument("out", type=click.Path(path_type=Path))
@_selection
@click.pass_context
def card_cmd(ctx: click.Context, out: Path, status: str, batches: tuple[str, ...],
             categories: tuple[str, ...], as_json: bool) -> None:
    """A Hugging Face dataset card with YAML metadata, to OUT (a .md file, or OUT/README.md).

    \b
    Example:
      tracework export card out/README.md
    """
    report = docs.export_card(project_of(ctx), out, status=status, batches=batches,
                              categories=categories)
    _print(report, as_json, "the dataset card")


@export.command("credits")
@click.argument("out", type=click.Path(path_type=Path))
@_selection
@click.pass_context
def credits_cmd(ctx: click.Context, out: Path, status: str, batches: tuple[str, ...],
                categories: tuple[str, ...], as_json: bool) -> None:
    """The people who made the dataset, by the name each chose (only those who consented to
    be credited; everyone else counted): OUT/CREDITS.md and OUT/credits.json.

    \b
    Example:
      tracework export credits out/
    """
    report = docs.export_credits(project_of(ctx), out, status=status, batches=batches,
                                 categories=categories)
    _print(report, as_json, "the credits")


@export.command("bundle")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--images", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of the task images to include (checked against the SHA-256 "
                   "recorded at ingest).")
@click.option("--segmentation", type=click.Choice(["polygon", "rle"]), default="polygon",
              show_default=True, help="COCO masks as polygons (area and bbox stay the exact "
                                      "mask's) or as exact RLE.")
@click.option("--yolo-task", type=click.Choice(["detect", "segment"]), default="segment",
              show_default=True, help="YOLO box rows or polygon rows.")
@click.option("--replace", is_flag=True, help="Overwrite an earlier bundle in OUT.")
@_selection
@click.pass_context
def bundle_cmd(ctx: click.Context, out: Path, images: Path | None, segmentation: Segmentation,
               yolo_task: Task, replace: bool, status: str, batches: tuple[str, ...],
               categories: tuple[str, ...], as_json: bool) -> None:
    """Everything to publish, in the new folder OUT: COCO, YOLO, Parquet (each image with its
    labels, what `datasets.load_dataset(OUT)` reads by default), Croissant (every file listed
    with its SHA-256), datasheet, dataset card, credits, and the change log with its head.

    Each image file is there once, in yolo/images/train/ (the COCO file names the same
    files; the Parquet file holds the images' bytes, as `datasets` needs them inline); where
    two workers' YOLO rows on an image are identical the row is written once and its
    provenance line lists both.

    \b
    Example:
      tracework export bundle release-1 --images frames/ --status approved
    """
    with Progress("export bundle", unit="annotations",
                  enabled=False if as_json else None) as progress:
        report = docs.export_bundle(project_of(ctx), out, status=status, batches=batches,
                                    categories=categories, images_dir=images,
                                    segmentation=segmentation, yolo_task=yolo_task,
                                    replace=replace, progress=progress)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote the bundle to {report.out} ({len(report.files)} files)")
    table([("images", report.images), ("annotations", report.annotations),
            ("workers", report.workers), ("credited by name", report.credited),
            ("images copied", report.images_copied),
            ("log entries redacted", report.ledger_redacted),
            ("ledger head", report.ledger_head)])
    if report.images_missing:
        click.echo(f"  {len(report.images_missing)} image file(s) not found under --images, "
                   f"e.g. {report.images_missing[0]}")


@click.command("inspect")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print every check's verdict as JSON (the exit status is the same).")
def inspect_cmd(bundle: Path, as_json: bool) -> None:
    """Check a published bundle offline, with nothing but its folder BUNDLE (no project, no
    network): that it holds exactly what it says and that its change log is unbroken.

    \b
    Three checks, each with a one-line verdict:
      files   every file croissant.json lists is there with its SHA-256 and size, and no
              file is there that it does not list (croissant.json itself aside)
      ledger  ledger.jsonl is one chain: entries 1, 2, ... each naming the previous entry's
              hash; every entry whose values are published recomputes to its hash (entries
              whose values were withheld are checked by their links and counted); it ends
              at the head ledger-head.json, croissant.json and credits.json name
      counts  the images, labels (per category), people and change-log entry the datasheet
              states, and the contributors croissant.json and credits.json state, agree with
              records/*.jsonl and coco/annotations.json

    Exits 0 when every check passes, 7 naming the first file or entry that fails, 2 when
    BUNDLE is not a folder. Compare the head printed with the one the publisher announced.

    \b
    Examples:
      tracework inspect release-1
      tracework inspect release-1 --json
    """
    with Progress("hashing files", unit="files") as progress:
        result = docs.inspect_bundle(bundle, progress=progress)
    if as_json:
        echo_json(result.as_dict())
    else:
        width = max(len(c.name) for c in result.checks)
        for c in result.checks:
            verdict = "ok  " if c.ok else "FAIL"
            click.echo(f"{c.name.ljust(width)}  {verdict}  {c.summary}")
            if not c.ok:
                click.echo(f"{' ' * width}        first failure: {c.problem}")
        if result.ok:
            head = result.check("ledger").facts.get("head", "")
            click.echo(f"ok: the bundle holds what it says; ledger head {head}")
    result.require_ok()


COMMANDS.append(export)
COMMANDS.append(inspect_cmd)

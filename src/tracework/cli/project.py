"""The root `tracework` group and the commands of a project as a whole: init, ingest, status,
log, verify, export, settings and demo. The other rooms add their commands in
:mod:`tracework.cli.app`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

import tracework
from tracework.cli.common import Group, Progress, echo_json, project_of, settings_from, table
from tracework.core.project import Category
from tracework.core.settings import SETTINGS, setting
from tracework.formats.coco import Segmentation
from tracework.formats.yolo import Task
from tracework.ingest.platforms import PlatformReport

__all__ = ["cli"]


def _parse_sets(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        name, value = item.split("=", 1)
        setting(name.strip())
        out[name.strip()] = value
    return out


_SETTINGS_HELP = "\n".join(f"  {s.name}: {s.help} (default {s.default!r})" for s in SETTINGS)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"],
                                            "max_content_width": 100})
@click.option("--project", "-p", "project_dir", default=".", envvar="TRACEWORK_PROJECT",
              show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Project folder (holds tracework.toml). Env: TRACEWORK_PROJECT.")
@click.option("--database-url", default=None,
              help="Database URL (PostgreSQL: postgresql://user@host/db). Env: "
                   "TRACEWORK_DATABASE_URL. Default: the project's SQLite file.")
@click.option("--actor", default=None, help="Name recorded in the change log for what you do "
              "now. Env: TRACEWORK_ACTOR. Default: your login name.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="A dask.distributed scheduler for the heavy work (mask decoding at ingest, "
                   "the group audits' permutation tests). Env: TRACEWORK_SCHEDULER; also "
                   "tracework.toml [compute] scheduler. Default: this machine.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Any setting for this run (see `tracework settings`).")
@click.version_option(tracework.__version__, prog_name="tracework")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path, database_url: str | None, actor: str | None,
        scheduler: str | None, sets: tuple[str, ...]) -> None:
    """tracework: every label carries its maker.

    A provenance and labour ledger for human-annotated datasets: ingest the raw records of
    annotation work, link each label to a pseudonymous worker and their consented survey
    answers, keep a verifiable log of every change, and export traceable datasets.

    \b
    Typical flow:
      tracework init myproject --category Body=#1f77b4 --category Cable=#2ca02c
      tracework -p myproject ingest mturk Batch_123_batch_results.csv --images frames/
      tracework -p myproject ingest qualtrics survey.csv --worker-column workerId \\
          --consent-column Q11
      tracework -p myproject status
      tracework -p myproject verify

    Settings (command line > TRACEWORK_<NAME> environment > tracework.toml [settings] >
    default) are listed by `tracework settings`.
    """
    settings = _parse_sets(sets)
    if database_url is not None:
        settings["database_url"] = database_url
    if actor is not None:
        settings["actor"] = actor
    if scheduler is not None:
        settings["scheduler"] = scheduler
    ctx.obj = {"project_dir": project_dir, "settings": settings, "project_obj": None}


@cli.command()
@click.argument("directory", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the folder's name).")
@click.option("--category", "categories", multiple=True, metavar="NAME=#RRGGBB",
              help="A taxonomy category and its label colour; repeat for each.")
@click.option("--requester", default="", help="Who publishes the tasks (value-chain disclosure).")
@click.option("--affiliation", default="", help="The requester's institution or company.")
@click.option("--end-client", default="", help="Who the dataset is ultimately made for.")
@click.option("--purpose", default="", help="What the dataset is for.")
@click.pass_context
def init(ctx: click.Context, directory: Path, name: str | None, categories: tuple[str, ...],
         requester: str, affiliation: str, end_client: str, purpose: str) -> None:
    """Create a project in DIRECTORY: tracework.toml, a 0600 secret and the store.

    \b
    Example:
      tracework init mouse-parts --name "Mouse parts" --category Body=#1f77b4 \\
          --category Left_Button=#d62728 --requester "A. Researcher"
    """
    cats = []
    for item in categories:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not NAME=#RRGGBB", param_hint="--category")
        cname, colour = item.split("=", 1)
        cats.append(Category(cname.strip(), colour.strip().lower()))
    settings = settings_from(ctx)
    project = tracework.init(directory, name=name, categories=cats,
                             database_url=settings.get("database_url"),
                             actor=settings.get("actor"), requester=requester,
                             affiliation=affiliation, end_client=end_client, purpose=purpose)
    project.close()
    click.echo(f"Created project {project.name!r} in {directory}")
    click.echo("  tracework.toml    edit the value chain, taxonomy, pay policy and consent here")
    click.echo("  tracework.secret  keys the pseudonyms: back it up, never share it")
    click.echo(f"Next: tracework -p {directory} ingest mturk BATCH_RESULTS.csv")


@cli.group(cls=Group)
def ingest() -> None:
    """Import raw records of annotation work (one transaction per file; re-importing adds nothing).

    \b
    Examples:
      tracework ingest mturk Batch_5012345_batch_results.csv --images frames/
      tracework ingest qualtrics survey.csv --worker-column workerId
      tracework ingest labelstudio project-7-at-2024-05-02-10-11-3f2a.json
      tracework ingest cvat annotations.xml --images images/
    """


def _print_report(report: tracework.ImportReport) -> None:
    if report.repeated:
        click.echo(f"{report.file}: already imported (sha256 {report.sha256[:12]}…); nothing added.")
        return
    click.echo(f"Imported {report.file} ({report.kind}, sha256 {report.sha256[:12]}…)")
    rows: list[tuple[str, Any]] = [("rows read", report.rows), ("added", report.added)]
    if report.kind == "mturk":
        rows += [("new workers", report.workers_new), ("annotations", report.annotations)]
        rows += [(f"  {k}", v) for k, v in sorted(report.by_category.items())]
        if report.empty_masks:
            rows.append(("empty masks (no labelled pixel)", report.empty_masks))
        if report.tolerated_pixels:
            rows.append(("tolerated pixels", report.tolerated_pixels))
    else:
        rows += [(f"left out: {k}", v) for k, v in sorted(report.excluded.items())]
        rows += [("linked by id", report.linked_by_id), ("linked by code", report.linked_by_code),
                 ("unlinked responses", report.unlinked)]
        rows += [(f"  {k}", v) for k, v in sorted(report.unlinked_reasons.items())]
        rows.append(("consent changes", report.consent_changes))
    if report.platform_behind:
        rows.append(("platform behind (decision kept)", report.platform_behind))
    rows += [("status changes", report.status_changes), ("conflicts", report.conflicts),
             ("ledger entries", report.ledger_entries), ("ledger head", report.ledger_head)]
    table(rows)
    for tag, n in sorted(report.kept_raw.items()):
        click.echo(f"{n} answer{'s' if n != 1 else ''} of element {tag} kept raw, not converted")
    if report.conflicts:
        click.echo("Conflicting rows were recorded, not applied: see `tracework conflicts list`.")


def _with_progress(label: str, run: Callable[[Progress], tracework.ImportReport]
                   ) -> tracework.ImportReport:
    with Progress(label, unit="rows") as progress:
        return run(progress)


@ingest.command("mturk")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--images", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder holding the task images, to record each asset's SHA-256.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def ingest_mturk(ctx: click.Context, file: Path, images: Path | None, as_json: bool) -> None:
    """A Mechanical Turk batch results CSV (Requester UI download).

    Both answer layouts (flattened Answer.* columns, one Answer.taskAnswers JSON column);
    rows may leave out the trailing Approve/Reject cells, as the platform's download does.
    Segmentation masks become per-category RLE, bbox and area; polygons are kept as drawn and
    rasterised; boxes and classifier answers are kept. Answers not converted (keypoints, plain
    fields) and empty masks are counted in the report. Raw worker ids go to the vault;
    everything else sees pseudonyms.

    \b
    Example:
      tracework ingest mturk Batch_5012345_batch_results.csv --images frames/
    """
    project = project_of(ctx)
    report = _with_progress("ingest", lambda p: tracework.ingest_mturk(
        project, file, images_dir=images, progress=p))
    echo_json(report.as_dict()) if as_json else _print_report(report)


@ingest.command("qualtrics")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--worker-column", default=None,
              help="Embedded-data column holding the platform worker id (e.g. workerId, "
                   "PROLIFIC_PID). Typed ids are trimmed, taken out of pasted links and "
                   "case-folded for platforms whose ids ignore case.")
@click.option("--link-by-code", default=None, metavar="SURVEY_COLUMN=BATCH_ANSWER_FIELD",
              help="Also link a response to the one worker whose submission answered the "
                   "same completion code, e.g. MTurkCode=Answer.surveycode.")
@click.option("--consent-column", default=None,
              help="A yes/no question whose yes grants the scopes in [consent] of "
                   "tracework.toml (default: link and publish).")
@click.option("--platform", default="mturk", show_default=True,
              help="Platform the worker ids belong to.")
@click.option("--multi-select", multiple=True, metavar="COLUMN",
              help="A column holding comma-joined multi-select answers; repeat for each.")
@click.option("--date-format", default=None, metavar="FORMAT",
              help="How to read dates a spreadsheet re-saved when day and month could be "
                   "either, in strftime codes, e.g. '%m/%d/%Y %H:%M'.")
@click.option("--include-previews", is_flag=True, help="Keep survey preview responses.")
@click.option("--include-type", "include_types", multiple=True,
              type=click.Choice(["preview", "test", "spam"]),
              help="Keep responses of a type left out by default; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def ingest_qualtrics(ctx: click.Context, file: Path, worker_column: str | None,
                     link_by_code: str | None, consent_column: str | None, platform: str,
                     multi_select: tuple[str, ...], date_format: str | None,
                     include_previews: bool, include_types: tuple[str, ...],
                     as_json: bool) -> None:
    """A Qualtrics survey export (CSV with the three header rows).

    Answers link to workers through the worker-id column, or a completion code; the report
    counts responses linked by id, by code and not at all, and why. Preview, test and spam
    responses are left out unless asked for, and counted. Without a consent answer a worker's
    consent is none: their answers stay inside the project.

    \b
    Examples:
      tracework ingest qualtrics survey.csv --worker-column workerId --consent-column Q11
      tracework ingest qualtrics survey.csv --link-by-code MTurkCode=Answer.surveycode
    """
    project = project_of(ctx)
    report = _with_progress("ingest", lambda p: tracework.ingest_qualtrics(
        project, file, worker_column=worker_column, consent_column=consent_column,
        platform=platform, include_previews=include_previews, include_types=include_types,
        multi_select=multi_select, link_by_code=link_by_code, date_format=date_format,
        progress=p))
    echo_json(report.as_dict()) if as_json else _print_report(report)


def _print_platform_report(report: tracework.ImportReport) -> None:
    if report.repeated or not isinstance(report, PlatformReport):
        _print_report(report)
        return
    click.echo(f"Imported {report.file} ({report.kind}, sha256 {report.sha256[:12]}…)")
    rows: list[tuple[str, Any]] = [("records read", report.rows), ("added", report.added),
                                   ("new workers", report.workers_new),
                                   ("annotations", report.annotations)]
    rows += [(f"  {k}", v) for k, v in sorted(report.by_category.items())]
    rows += [(f"attributed to {k.replace('_', ' ')}", v)
             for k, v in sorted((report.attributed or {}).items())]
    if report.platform_behind:
        rows.append(("platform behind (decision kept)", report.platform_behind))
    rows += [("status changes", report.status_changes), ("conflicts", report.conflicts),
             ("ledger entries", report.ledger_entries), ("ledger head", report.ledger_head)]
    table(rows)
    for tag, n in sorted(report.kept_raw.items()):
        click.echo(f"{n} result{'s' if n != 1 else ''} of type {tag} kept raw, not converted")
    for note in report.notes or []:
        click.echo(note)
    if report.conflicts:
        click.echo("Conflicting records were recorded, not applied: see `tracework conflicts list`.")


@ingest.command("labelstudio")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def ingest_labelstudio(ctx: click.Context, file: Path, as_json: bool) -> None:
    """A Label Studio JSON export (Export → JSON).

    Not JSON_MIN, which leaves out who made each annotation and when. One submission per
    annotation of each task. The annotator (completed_by: a user id, or a user object with
    e-mail and names), the e-mails of drafts and created_username go to the vault;
    everything else sees pseudonyms. lead_time is kept as active seconds.
    Skipped annotations (was_cancelled) are Returned: time spent, unpaid. Enterprise reviews
    make a submission Approved or Rejected, the comment its reason. A draft never submitted
    is Abandoned work of its user. Rectangles (rotation kept, box made axis-aligned),
    polygons, key points and brush masks become annotations in pixels; choices and text are
    kept; other result types are counted and kept raw. Labels must be in the project's
    taxonomy. Model predictions are not imported (the report says how many).

    \b
    Example:
      tracework ingest labelstudio project-7-at-2024-05-02-10-11-3f2a.json
    """
    project = project_of(ctx)
    report = _with_progress("ingest", lambda p: tracework.ingest_labelstudio(
        project, file, progress=p))
    echo_json(report.as_dict()) if as_json else _print_platform_report(report)


@ingest.command("cvat")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--images", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder holding the task images (the export's images/ folder), to record "
                   "each asset's SHA-256.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def ingest_cvat(ctx: click.Context, file: Path, images: Path | None, as_json: bool) -> None:
    """A CVAT for images 1.1 XML file (annotations.xml).

    The annotations.xml of a task, job or project export. One submission per image. CVAT
    records no author per shape, only who a job is assigned to: an image's labels are
    attributed to the assignee of the job whose frames hold it, or to the job itself when
    the file names none (a task export names no job assignee); the report says so. The
    task owner and task assignee are not stored. Boxes (rotation kept), polygons,
    polylines, points, masks (CVAT's RLE placed on the full image) and tags become
    annotations with occluded, z_order, source and attribute values; skeletons, ellipses
    and cuboids are counted and kept raw. Labels must be in the project's taxonomy. No time
    or pay is in the file. A file with a DOCTYPE is refused.

    \b
    Example:
      tracework ingest cvat task_42_annotations/annotations.xml --images task_42_annotations/images
    """
    project = project_of(ctx)
    report = _with_progress("ingest", lambda p: tracework.ingest_cvat(
        project, file, images_dir=images, progress=p))
    echo_json(report.as_dict()) if as_json else _print_platform_report(report)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """What the project holds: batches, submissions by status, workers, responses, annotations,
    open conflicts and the ledger head."""
    report = tracework.status(project_of(ctx))
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Project {report.project} ({report.database})")
    rows: list[tuple[str, Any]] = [
        ("imports", report.imports), ("batches", report.batches),
        ("submissions", report.submissions)]
    rows += [(f"  {k}", v) for k, v in report.submissions_by_status.items()]
    linked = report.linked_by_consent
    rows += [("workers (with submissions)", report.workers),
             ("respondents (with survey answers)", report.respondents),
             ("survey responses", report.responses),
             ("  linked to submissions", sum(linked.values())),
             ("    consent none", linked.get("none", 0)),
             ("    consent link", linked.get("link", 0)),
             ("    consent publish", linked.get("publish", 0)),
             ("  unlinked", report.responses_unlinked),
             ("consent", ", ".join(f"{k} {v}" for k, v in report.consent.items())),
             ("annotations", report.annotations)]
    rows += [(f"  {k}", v) for k, v in report.annotations_by_category.items()]
    if report.empty_masks:
        rows.append(("empty masks", report.empty_masks))
    rows += [("open conflicts", report.open_conflicts),
             ("taxonomy version", report.taxonomy_version),
             ("ledger", f"{report.ledger_entries} entries, head {report.ledger_head}")]
    table(rows)
    for tag, n in report.kept_raw.items():
        click.echo(f"{n} answer{'s' if n != 1 else ''} of element {tag} kept raw, not converted")
    if report.open_conflicts:
        click.echo("See `tracework conflicts list` to resolve the open conflicts.")


@cli.command("log")
@click.option("--target", help="e.g. submission:12, worker:w_abc…; end with * for a prefix.")
@click.option("--actor", "who", help="Only entries by this actor.")
@click.option("--action", help="e.g. submission.status; end with * for a prefix.")
@click.option("--since", help="ISO time, e.g. 2026-01-31 or 2026-01-31T12:00.")
@click.option("--until", help="ISO time.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many (0: all).")
@click.option("--oldest-first", is_flag=True, help="Oldest entries first (default newest).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one entry a line.")
@click.pass_context
def log_cmd(ctx: click.Context, target: str | None, who: str | None, action: str | None,
            since: str | None, until: str | None, limit: int, oldest_first: bool,
            as_json: bool) -> None:
    """List change-log entries, filtered.

    \b
    Examples:
      tracework log --target 'submission:*' --action submission.status
      tracework log --actor alice --since 2026-11-01 --json
    """
    items = tracework.log(project_of(ctx), target=target, actor=who, action=action, since=since,
                          until=until, limit=limit or None, newest_first=not oldest_first)
    for e in items:
        if as_json:
            click.echo(json.dumps(e.as_dict(), ensure_ascii=False))
            continue
        detail = f" {e.field}" if e.field else ""
        change = f" {e.old} → {e.new}" if e.old != "null" else (f" {e.new}" if e.new != "null" else "")
        if len(change) > 100:
            change = change[:97] + "…"
        reason = f"  ({e.reason})" if e.reason else ""
        click.echo(f"{e.seq:>6} {e.ts[:19]} {e.actor}: {e.action} {e.target}{detail}{change}{reason}")


@cli.command()
@click.option("--expect-head", metavar="HASH",
              help="A head hash recorded earlier (an export, a receipt): fails if the log no "
                   "longer contains it, which catches truncation and rewriting.")
@click.option("--chain-only", is_flag=True,
              help="Check the log's hash chain only, not the tables against it.")
@click.option("--seal-existing", is_flag=True,
              help="Once, for a project made before tracework sealed its tables: seal the "
                   "rows it holds now (after checking them yourself), with a ledger entry "
                   "saying so. Refused on a project sealed from the start.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def verify(ctx: click.Context, expect_head: str | None, chain_only: bool, seal_existing: bool,
           as_json: bool) -> None:
    """Prove that the change log and the tables it describes are intact.

    Recomputes the log's hash chain, then reads every table that carries the project's record
    (workers, submissions, annotations, responses and answers, reviews, proposals, disputes,
    bonuses, notes, taxonomy versions, imports, batches, assets, conflicts) in key order
    and checks each row against the keyed seal tracework wrote with it, and the seal record
    against the log's head.

    Fails (exit 7) naming the first log entry that was edited, deleted or moved, or the first
    table row edited, inserted or deleted outside tracework: its table, its key and the
    columns that differ.

    \b
    Examples:
      tracework verify
      tracework verify --expect-head 3f2a…   # the head printed in an export's manifest
      tracework verify --chain-only          # the log alone, faster on a large project
      tracework verify --seal-existing       # once, after upgrading an older project
    """
    project = project_of(ctx)
    if seal_existing:
        counts = tracework.seal_existing(project)
        click.echo(f"sealed {sum(counts.values())} existing rows"
                   + (f" ({', '.join(f'{n} {t}' for t, n in counts.items())})" if counts else ""))
    result = tracework.verify(project, expect_head=expect_head, data=not chain_only)
    if as_json:
        echo_json({"ok": True, "entries": result.entries, "head": result.head,
                   "rows": result.rows, "tables": result.tables,
                   "data_checked": result.data_checked})
        return
    click.echo(f"ok: {result.entries} entries verify; head {result.head}")
    if result.data_checked:
        click.echo(f"ok: {result.rows} rows in {result.tables} tables agree with the log")


@cli.group(cls=Group)
def export() -> None:
    """Write traceable datasets: every label carries who made it and under what conditions."""


_status_option = click.option(
    "--status", type=click.Choice(["approved", "submitted", "rejected", "all"]),
    default="approved", show_default=True, help="Review status of the submissions to export.")
_batch_option = click.option("--batch", "batches", multiple=True, metavar="BATCH",
                             help="Only this batch (id or platform batch key); repeatable.")
_category_option = click.option("--category", "categories", multiple=True, metavar="NAME",
                                help="Only this category; repeatable. An old name (renamed, "
                                     "merged, split) selects where its labels are now, with "
                                     "a note.")
_layer_option = click.option(
    "--layer", type=click.Choice(["individual", "aggregate", "both"]), default="individual",
    show_default=True, help="Each worker's labels, the aggregated labels of `tracework "
    "aggregate` (marked layer=aggregate), or both.")
_images_option = click.option(
    "--images", type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of the task images to copy into the export (checked against the SHA-256 "
         "recorded at ingest).")


def _print_export(report: Any, as_json: bool) -> None:
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Exported {report.format.upper()} to {report.out}")
    table([("images", report.images), ("annotations", report.annotations),
            ("workers", report.workers),
            ("  with published answers", report.workers_with_published_answers),
            ("images copied", report.images_copied), ("ledger head", report.ledger_head)])
    if report.images_missing:
        click.echo(f"  {len(report.images_missing)} image file(s) not found under --images, "
                   f"e.g. {report.images_missing[0]}")


@export.command("coco")
@click.argument("out", type=click.Path(path_type=Path))
@_status_option
@_batch_option
@_category_option
@click.option("--segmentation", type=click.Choice(["rle", "polygon"]), default="rle",
              show_default=True, help="Masks as exact RLE (string counts) or as polygons.")
@_images_option
@_layer_option
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
@click.pass_context
def export_coco_cmd(ctx: click.Context, out: Path, status: str, batches: tuple[str, ...],
                    categories: tuple[str, ...], segmentation: Segmentation, images: Path | None,
                    layer: str, as_json: bool) -> None:
    """COCO to OUT/annotations.json; each annotation has an `attributes` object with its
    provenance (worker pseudonym, submission, batch, review status, taxonomy version, time on
    task and its kind, reward; survey answers only with the worker's publish consent).

    Every label is exported under the taxonomy in force, with the category it was made with
    (`original_category`), the one it is under now (`current_category`) and the changes
    between (`category_history`); labels of a category split without a rule are under
    "NAME (retired)" (see `tracework taxonomy pending`).

    \b
    Examples:
      tracework export coco out/coco
      tracework export coco out/coco --status all --category Body --images frames/
    """
    report = tracework.export_coco(project_of(ctx), out, status=status, batches=batches,
                                   categories=categories, segmentation=segmentation,
                                   images_dir=images, layer=layer)
    _print_export(report, as_json)


@export.command("yolo")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(["detect", "segment"]), default="detect",
              show_default=True, help="Box rows or polygon rows.")
@_status_option
@_batch_option
@_category_option
@click.option("--per-worker", is_flag=True,
              help="One image copy and label file per (image, worker) instead of per image.")
@_images_option
@_layer_option
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
@click.pass_context
def export_yolo_cmd(ctx: click.Context, out: Path, task: Task, status: str,
                    batches: tuple[str, ...], categories: tuple[str, ...], per_worker: bool,
                    images: Path | None, layer: str, as_json: bool) -> None:
    """YOLO (Ultralytics layout) to OUT: data.yaml, images/train, labels/train, plus
    provenance.jsonl (every label row → annotation, worker pseudonym, submission) and
    workers.json (consented survey answers per worker).

    \b
    Examples:
      tracework export yolo out/yolo --images frames/
      tracework export yolo out/yolo --task segment --per-worker --status all --images frames/
    """
    report = tracework.export_yolo(project_of(ctx), out, task=task, status=status,
                                   batches=batches, categories=categories,
                                   per_worker=per_worker, images_dir=images, layer=layer)
    _print_export(report, as_json)


@cli.command("demo")
@click.argument("directory", required=False, default="demo-out",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same files.")
@click.option("--frames", type=click.IntRange(1, 360), default=30, show_default=True,
              help="Frames of the rotating mouse.")
@click.option("--workers", type=click.IntRange(3, 500), default=40, show_default=True,
              help="Simulated workers.")
@click.option("--review/--no-review", "reviewed", default=True, show_default=True,
              help="Replay the study's review: rules propose, a reviewer accepts the proposals "
                   "(each rejection with its reason) and approves the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo_cmd(directory: Path, seed: int, frames: int, workers: int, reviewed: bool,
             as_json: bool) -> None:
    """Build a complete example project in DIRECTORY and run the pipeline end to end.

    Generates frames of a rotating computer mouse with five parts, a Mechanical Turk batch
    results file with masks from simulated workers of varying care, and a Qualtrics survey
    export; then ingests, links, reviews (rules propose, a reviewer decides), and exports COCO
    and YOLO. Replaces an earlier demo in the same folder.

    \b
    Example:
      tracework demo demo-out --seed 7
    """
    from tracework.demo import demo

    def step(msg: str) -> None:
        if not as_json:
            click.echo(f"- {msg}", err=True)

    with Progress("  masks", unit="masks", enabled=None if not as_json else False) as progress:
        report = demo(directory, seed=seed, frames=frames, workers=workers, reviewed=reviewed,
                      step=step, progress=progress)
    if as_json:
        echo_json(report.as_dict())
        return
    s = report.status
    click.echo(f"\nDemo project ready in {report.project}")
    table([
        ("frames (assets)", report.coco.images),
        ("workers who labelled", s.workers_with_work),
        ("submissions", f"{s.submissions} ({', '.join(f'{k} {v}' for k, v in s.submissions_by_status.items())})"),
        ("review", ", ".join(f"{k} {v}" for k, v in sorted(report.review.items()))
                   or "not reviewed (--no-review)"),
        ("survey responses", f"{s.responses} ({report.survey.previews_skipped} preview left out, "
                             f"{s.responses_unlinked} unlinked)"),
        ("consent", ", ".join(f"{k} {v}" for k, v in s.consent.items())),
        ("annotations", f"{s.annotations} ({', '.join(f'{k} {v}' for k, v in s.annotations_by_category.items())})"),
        ("COCO export", f"{report.coco.out}/annotations.json"),
        ("YOLO export", f"{report.yolo.out} (segment; provenance.jsonl, workers.json)"),
        ("ledger", f"{s.ledger_entries} entries, head {s.ledger_head}"),
    ])
    click.echo("\nTry next:")
    for line in report.next_steps:
        click.echo(f"  {line}")


@cli.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def settings_cmd(ctx: click.Context, as_json: bool) -> None:
    """List every setting with its value here and the source that set it."""
    from tracework.core.settings import resolve

    obj = ctx.find_root().obj
    root = obj["project_dir"]
    file_settings: dict[str, Any] = {}
    if (root / "tracework.toml").exists():
        from tracework.core.project import load_config

        file_settings = load_config(root).get("settings", {})
    resolved = resolve(cli=settings_from(ctx), file=file_settings)
    if as_json:
        echo_json({s.name: {**resolved.manifest()[s.name], "help": s.help} for s in SETTINGS})
        return
    for s in SETTINGS:
        entry = resolved.manifest()[s.name]
        click.echo(f"{s.name} = {entry['value']!r}  [{entry['source']}]  env {s.env}")
        click.echo(f"    {s.help}")

"""The root `tracework` group and the commands of a project as a whole: init, ingest, status,
log, verify, export, settings and demo. The other rooms add their commands in
:mod:`tracework.cli.app`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

import tracework
from tracework.cli.common import Group, Progress, echo_json, project_of, settings_from, table
from tracework.core.project import Category
from tracework.core.settings import SETTINGS, setting
from tracework.dataset.export import Identical
from tracework.formats.coco import LAYOUTS, SEGMENTATIONS, Layout, Segmentation
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
      tracework ingest groundtruth output.manifest --responses job-folder/
      tracework ingest prolific prolific_export_65f0aa01.csv --demographics demographics.csv
      tracework ingest toloka assignments_from_pool_41.tsv --images frames/
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
    if report.free_text_questions:
        click.echo(f"Free text found in {', '.join(report.free_text_questions)}: withheld from "
                   "every export unless [export] publish_free_text names the question.")
    if report.redacted_ids:
        click.echo(f"{report.redacted_ids} worker id{'s' if report.redacted_ids != 1 else ''} "
                   "typed into answers replaced by pseudonyms (the typed text is in the vault).")
    if report.erased_unlinked:
        click.echo(f"{report.erased_unlinked} row(s) came under the id of an erased worker: stored "
                   "under a new pseudonym that links to nobody.")
    if report.erased_refused:
        click.echo(f"{report.erased_refused} row(s) of erased workers were not stored (their "
                   "content was erased).")


_Report = TypeVar("_Report", bound=tracework.ImportReport)


def _with_progress(label: str, run: Callable[[Progress], _Report]) -> _Report:
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
    everything else sees pseudonyms. A worker id typed into any text of the file (a feedback
    answer, the requester's feedback) is replaced by that worker's pseudonym, or by
    "<worker id>" when it is shaped like an MTurk id but no one's in the project; the text as
    typed goes to the vault only.

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
                   "PROLIFIC_PID; with --platform prolific PROLIFIC_PID is the default). "
                   "Typed ids are trimmed, taken out of pasted links and case-folded for "
                   "platforms whose ids ignore case.")
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

    Worker ids typed into answers, "other" texts or embedded data are replaced by pseudonyms
    (the text as typed goes to the vault only). Free-text questions (a text-entry ImportId
    such as QID4_TEXT, or answers shaped like free text: long, not choice numbers, or many
    different values) are recorded and named in the report; they leave the project only
    where tracework.toml [export] publish_free_text names them, e.g. ["Q4"].

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


@ingest.command("groundtruth")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--responses", type=click.Path(file_okay=False, path_type=Path),
              help="The job's worker responses: its folder, its annotations/ or "
                   "annotations/worker-response/ folder (iteration-N/<object>/<time>.json). "
                   "Without them the labels are attributed to the job, not to people.")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the semantic-segmentation label maps (the PNGs the "
                   "'-ref' attributes name), found by file name, to turn them into masks.")
@click.option("--label-attribute", default=None, metavar="NAME",
              help="The label attribute (job) the worker responses belong to, when the "
                   "manifest went through several jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def ingest_groundtruth(ctx: click.Context, manifest: Path, responses: Path | None,
                       images: Path | None, label_attribute: str | None, as_json: bool) -> None:
    """A SageMaker Ground Truth output manifest (manifests/output/output.manifest).

    Each label attribute of each line is kept with its job (job-name) as the batch:
    bounding boxes (pixels, class-map names, per-box confidence), semantic segmentation
    (masks per class from the label map PNG, with --images), image and text classification,
    label verification with the workers' feedback, multi-label classification. Other task
    types are kept raw and counted.

    The manifest names no worker: without --responses every label is attributed to its job
    and the report says so. With the job's worker response files each worker's answer is its
    own submission: workerId and identity data (sub, issuer, user pool: to the vault, never
    elsewhere), accept and submit times, active time (timeSpentInSeconds), and the labels it
    drew; the manifest's consolidated label of those objects is not stored again. Ground
    Truth's files hold no pay and no review.

    \b
    Examples:
      tracework ingest groundtruth output.manifest
      tracework ingest groundtruth output.manifest --responses identify-mice/ --images labels/
    """
    project = project_of(ctx)
    report = _with_progress("ingest", lambda p: tracework.ingest_groundtruth(
        project, manifest, responses=responses, images=images,
        label_attribute=label_attribute, progress=p))
    if as_json:
        echo_json(report.as_dict())
        return
    _print_platform_report(report)
    if report.repeated:
        for note in report.notes or []:
            click.echo(note)


@ingest.command("prolific")
@click.argument("submissions", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--demographics", type=click.Path(dir_okay=False, path_type=Path),
              help="The study's demographic export: its columns about the participants "
                   "become survey answers linked to each participant (the same file as "
                   "SUBMISSIONS is fine).")
@click.option("--study", default=None, metavar="ID",
              help="The study the submissions belong to (default: the id in a "
                   "prolific_export_<id>.csv name, else the file name).")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def ingest_prolific(ctx: click.Context, submissions: Path, demographics: Path | None,
                    study: str | None, as_json: bool) -> None:
    """A Prolific submissions export (CSV), with its demographic export if given.

    One submission per row: the participant id (Participant id, participant_id or
    PROLIFIC_PID: to the vault), status (APPROVED, AWAITING REVIEW, REJECTED, RETURNED,
    TIMED-OUT, SCREENED OUT; in-progress rows are left out and counted), started and
    completed times, time taken (Prolific's own measure), reward and bonus where the export
    has them (in the project's currency, or the import is refused). Columns about the
    participants are never kept with the submissions.

    With --demographics they become survey answers, which stay inside the project unless the
    worker consents to publish. DATA_EXPIRED cells are unknown, not values. A participant
    with CONSENT_REVOKED in any cell has their consent set to none and none of their answers
    kept: any survey response already stored for them is removed; their submissions stay.
    Link a Qualtrics survey through its PROLIFIC_PID field with `tracework ingest qualtrics
    survey.csv --platform prolific`.

    \b
    Examples:
      tracework ingest prolific prolific_export_65f0aa01b2c3d4e5f6071800.csv
      tracework ingest prolific submissions.csv --demographics prolific_export_65f0….csv
    """
    project = project_of(ctx)
    report = _with_progress("ingest", lambda p: tracework.ingest_prolific(
        project, submissions, demographics=demographics, study=study, progress=p))
    if as_json:
        data = report.as_dict()
        data["demographics"] = report.demographics.as_dict() if report.demographics else None
        echo_json(data)
        return
    _print_platform_report(report)
    if report.demographics is not None:
        demo = report.demographics
        if demo.repeated:
            click.echo(f"{demo.file}: demographics already imported; nothing added.")
        else:
            table([("demographic rows read", demo.rows), ("responses added", demo.added),
                   ("unchanged", demo.unchanged), ("conflicts", demo.conflicts),
                   ("DATA_EXPIRED cells (unknown)", report.expired_cells)])
    if report.revoked:
        click.echo(f"{report.revoked} participant(s) revoked consent: consent set to none, "
                   f"{report.responses_dropped} stored response(s) removed.")


@ingest.command("toloka")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--images", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the task images (by file name): their sizes turn Toloka's "
                   "relative image-annotation shapes into pixels. Without it shapes are kept "
                   "raw and counted.")
@click.option("--pool", default=None, metavar="ID",
              help="The pool the file belongs to (default: the id in ASSIGNMENT:link, else "
                   "the file name).")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def ingest_toloka(ctx: click.Context, file: Path, images: Path | None, pool: str | None,
                  as_json: bool) -> None:
    """A Toloka results file ("Download results" on the pool page, TSV).

    INPUT:, OUTPUT:, GOLDEN:, HINT: and ASSIGNMENT: columns; blank separator lines, CRLF
    and JSON in cells are read. Each task (row) becomes one submission, because each has its
    own input image; a task suite's status, times and review apply to all its tasks, and its
    reward (ASSIGNMENT:reward) and duration are divided evenly among them, so every worker's
    totals are the suite's. ACCEPT:verdict (+/-) and ACCEPT:comment are the review and its
    reason. Statuses: SUBMITTED, APPROVED/ACCEPTED, REJECTED, SKIPPED (returned, unpaid),
    EXPIRED (abandoned); ACTIVE rows are left out and counted. Worker ids go to the vault.

    \b
    Examples:
      tracework ingest toloka assignments_from_pool_36502786.tsv --images frames/
    """
    project = project_of(ctx)
    report = _with_progress("ingest", lambda p: tracework.ingest_toloka(
        project, file, images=images, pool=pool, progress=p))
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


def _export_progress(label: str, as_json: bool) -> Progress:
    """Annotations written, on a terminal; nothing under --json or when piped."""
    return Progress(f"export {label}", unit="annotations", enabled=False if as_json else None)


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
    if report.rows_shared:
        click.echo(f"  {report.rows_shared} annotation(s) share an identical row with another "
                   "(listed under same_row in provenance.jsonl)")
    if report.label_files_split:
        click.echo(f"  {report.label_files_split} image(s) split into per-worker label files: "
                   "two workers' rows on them were identical")
    if report.images_missing:
        click.echo(f"  {len(report.images_missing)} image file(s) not found under --images, "
                   f"e.g. {report.images_missing[0]}")


@export.command("coco")
@click.argument("out", type=click.Path(path_type=Path))
@_status_option
@_batch_option
@_category_option
@click.option("--segmentation", type=click.Choice(SEGMENTATIONS), default="polygon",
              show_default=True,
              help="Masks as polygons (area and bbox stay the exact mask's) or as exact RLE "
                   "(string counts). Crowd regions are RLE with iscrowd 1 either way.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="tracework", show_default=True,
              help="tracework: OUT/annotations.json and OUT/images/. datumaro: "
                   "OUT/annotations/instances_SPLIT.json and OUT/images/SPLIT/, as Datumaro "
                   "and CVAT lay out COCO.")
@click.option("--split", default="default", show_default=True, metavar="NAME",
              help="Split name in the datumaro layout.")
@_images_option
@_layer_option
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
@click.pass_context
def export_coco_cmd(ctx: click.Context, out: Path, status: str, batches: tuple[str, ...],
                    categories: tuple[str, ...], segmentation: Segmentation, layout: Layout,
                    split: str, images: Path | None, layer: str, as_json: bool) -> None:
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
      tracework export coco out/coco --segmentation rle --layout datumaro --split train
    """
    with _export_progress("coco", as_json) as progress:
        report = tracework.export_coco(project_of(ctx), out, status=status, batches=batches,
                                       categories=categories, segmentation=segmentation,
                                       images_dir=images, layer=layer, layout=layout,
                                       split=split, progress=progress)
    _print_export(report, as_json)


@export.command("yolo")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(["detect", "segment"]), default="detect",
              show_default=True, help="Box rows or polygon rows.")
@_status_option
@_batch_option
@_category_option
@click.option("--per-worker", is_flag=True,
              help="One image copy and label file per (image, worker) for every image. "
                   "Without it an image's file holds every worker's rows, except that an "
                   "image where two rows would be identical is split by worker anyway "
                   "(Ultralytics drops identical rows).")
@click.option("--identical", type=click.Choice(["split", "merge"]), default="split",
              show_default=True,
              help="Where two workers' rows on an image are identical: split the image into "
                   "per-worker files (one image copy each), or write the row once and list "
                   "every annotation it stands for under same_row in provenance.jsonl (one "
                   "copy of each image).")
@_images_option
@_layer_option
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
@click.pass_context
def export_yolo_cmd(ctx: click.Context, out: Path, task: Task, status: str,
                    batches: tuple[str, ...], categories: tuple[str, ...], per_worker: bool,
                    identical: Identical, images: Path | None, layer: str,
                    as_json: bool) -> None:
    """YOLO (Ultralytics layout) to OUT: data.yaml, classes.txt, images/train, labels/train,
    plus provenance.jsonl (every label row → annotation, worker pseudonym, submission) and
    workers.json (consented survey answers per worker).

    One row per annotation: a mask in several pieces becomes one polygon through all of them,
    so Ultralytics' loader reads exactly the rows provenance.jsonl lists.

    \b
    Examples:
      tracework export yolo out/yolo --images frames/
      tracework export yolo out/yolo --task segment --per-worker --status all --images frames/
    """
    with _export_progress("yolo", as_json) as progress:
        report = tracework.export_yolo(project_of(ctx), out, task=task, status=status,
                                       batches=batches, categories=categories,
                                       per_worker=per_worker, images_dir=images, layer=layer,
                                       identical=identical, progress=progress)
    _print_export(report, as_json)


@export.command("parquet")
@click.argument("out", type=click.Path(path_type=Path))
@_status_option
@_batch_option
@_category_option
@_images_option
@_layer_option
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
@click.pass_context
def export_parquet_cmd(ctx: click.Context, out: Path, status: str, batches: tuple[str, ...],
                       categories: tuple[str, ...], images: Path | None, layer: str,
                       as_json: bool) -> None:
    """Parquet to OUT/data/train-00000-of-00001.parquet, laid out as Hugging Face `datasets`
    stores images: one row per image with an `image` column (the file's bytes, given
    --images, and its name) and an `objects` list, one entry per label with its category,
    box, area, exact mask (COCO RLE counts) and provenance (worker pseudonym, submission,
    batch, review status, taxonomy version, time on task and its kind, reward). Survey
    answers are not in it. `datasets.load_dataset("parquet", data_files=...)` reads `image`
    as an image; polars and pyarrow read the file as it is.

    \b
    Examples:
      tracework export parquet out/parquet --images frames/
      tracework export parquet out/parquet --status all --category Body --images frames/
    """
    with _export_progress("parquet", as_json) as progress:
        report = tracework.export_parquet(project_of(ctx), out, status=status, batches=batches,
                                          categories=categories, images_dir=images, layer=layer,
                                          progress=progress)
    _print_export(report, as_json)


@export.command("labelstudio")
@click.argument("out", type=click.Path(path_type=Path))
@_status_option
@_batch_option
@_category_option
@click.option("--image-url", default="/data/local-files/?d=", show_default=True,
              metavar="PREFIX",
              help="Put before each image file name in the tasks' data.image (the default "
                   "suits Label Studio's local-files storage; give your storage's URL).")
@_images_option
@_layer_option
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
@click.pass_context
def export_labelstudio_cmd(ctx: click.Context, out: Path, status: str,
                           batches: tuple[str, ...], categories: tuple[str, ...],
                           image_url: str, images: Path | None, layer: str,
                           as_json: bool) -> None:
    """Label Studio JSON to OUT/tasks.json, with OUT/label_config.xml to create the project
    with: one task per image, one annotation per submission, `completed_by` the worker's
    pseudonym (never a platform id), `lead_time` the time on task, masks as polygon results
    and boxes as rectangles, each annotation's provenance in its `tracework` object. Survey
    answers are not in it.

    \b
    Examples:
      tracework export labelstudio out/ls --images frames/
      tracework export labelstudio out/ls --status all --image-url https://example.org/img/
    """
    report = tracework.export_labelstudio(project_of(ctx), out, status=status,
                                          batches=batches, categories=categories,
                                          image_url=image_url, images_dir=images, layer=layer)
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

"""Command-line commands of the audit room; registered on the main group by cli.py."""

from __future__ import annotations

from typing import Any

import click

from tracework.audit import aggregate, agreement_audit, group_audit, labour_audit
from tracework.cli.common import Group, Progress, echo_json, project_of, table
from tracework.render.html_report import refresh_audits

COMMANDS: list[click.Command] = []

_json_option = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
_explain_option = click.option("--explain", is_flag=True,
                               help="Also list the rows each figure came from.")
_status_option = click.option(
    "--status", type=click.Choice(["approved", "submitted", "rejected", "all"]), default="all",
    show_default=True, help="Review status of the submissions whose labels are used.")


def _money(value: float | None, currency: str) -> str:
    return "–" if value is None else f"{value:.2f} {currency}/h"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@click.group(cls=Group)
def audit() -> None:
    """Audit pay and unpaid time, agreement, and labelling by annotator group."""


@audit.command("refresh")
@_json_option
@click.pass_context
def refresh_cmd(ctx: click.Context, as_json: bool) -> None:
    """Compute and store the audits that `tracework report` and the web /audit page show.

    Results are kept in the store with the ledger head they rest on: while nothing changes
    they are read, not recomputed; after any change the next report recomputes them. The web
    page never computes inside a request: it shows the stored results and their age, and
    this command (or the page's refresh button) brings them up to date.

    \b
    Examples:
      tracework audit refresh
      tracework audit refresh --json
    """
    with Progress("audits", unit="audits", enabled=False if as_json else None) as progress:
        taken = refresh_audits(project_of(ctx), progress)
    if as_json:
        echo_json({"seconds": taken})
        return
    for name, seconds in taken.items():
        click.echo(f"{name}: " + ("already current" if seconds == 0.0 else f"{seconds:.2f} s"))


@audit.command("labour")
@click.option("--batch", "batches", multiple=True, metavar="BATCH",
              help="Only this batch (id or platform batch key); repeatable.")
@click.option("--platform", default=None, help="Only this platform, e.g. mturk.")
@_json_option
@_explain_option
@click.pass_context
def labour_cmd(ctx: click.Context, batches: tuple[str, ...], platform: str | None,
               as_json: bool, explain: bool) -> None:
    """Effective hourly pay per worker, counting rejected (unpaid) work and, where workers
    linked their survey answers, the time they spend searching for tasks.

    \b
    Examples:
      tracework audit labour
      tracework audit labour --batch 5012345 --json
      tracework audit labour --explain
    """
    result = labour_audit(project_of(ctx), batches=batches, platform=platform)
    if as_json:
        echo_json(result.as_dict(explain=explain))
        return
    cur, kind = result.currency, result.time_kind
    floor = (f"{result.floor_per_hour:.2f} {cur}/h ({result.floor_source or 'no source given'})"
             if result.floor_per_hour else "not set ([pay] wage_floor_per_hour)")
    click.echo(f"Labour audit (time measured as {kind})")
    table([
        ("submissions", f"{result.submissions} ({result.approved} approved, {result.rejected} "
                        f"rejected, {result.pending} pending)"),
        ("rejection rate", f"{result.rejection_rate:.1%}"),
        ("paid", f"{result.total_paid_cents / 100:.2f} {cur} reward + "
                 f"{result.total_bonus_cents / 100:.2f} {cur} bonuses"),
        ("planned, not yet paid", f"{result.total_bonus_planned_cents / 100:.2f} {cur} bonuses "
                                  "(not in the hourly figures)"),
        ("hours on paid work", f"{result.total_paid_hours:.2f} h ({kind})"),
        ("hours on unpaid work", f"{result.total_unpaid_hours:.2f} h ({kind})"),
        ("reported search time", f"{result.total_search_hours:.2f} h "
                                 f"({result.workers_with_search} linked workers)"),
        ("median hourly, paid time", f"{_money(result.median_hourly_paid, cur)} ({kind})"),
        ("median hourly, all time", f"{_money(result.median_hourly_all, cur)} ({kind})"),
        ("median hourly, with search", _money(result.median_hourly_with_search, cur)),
        ("wage floor", floor),
        ("below the floor", "–" if result.share_below_floor is None
         else f"{result.share_below_floor:.0%} of workers (all time)"),
    ])
    q = result.hourly_all_quantiles
    click.echo("hourly pay, all time: " + ", ".join(f"{k} {_num(v, 2)}" for k, v in q.items()))
    if result.rejection_reasons:
        click.echo("rejection reasons:")
        table([(reason, n) for reason, n in result.rejection_reasons.items()], "    ")
    for note in result.notes:
        click.echo(f"note: {note}")
    if explain:
        click.echo("rows (submission, worker, batch, status, paid, seconds, reward, review, reason):")
        for r in result.rows:
            click.echo(f"  {r.submission} {r.worker} {r.batch} {r.status} "
                       f"{'paid' if r.paid else 'unpaid' if r.status == 'Rejected' else 'pending'}"
                       f" {r.seconds} {r.reward_cents} {r.review or '-'} {r.reason!r}")


@audit.command("agreement")
@_status_option
@click.option("--category", "categories", multiple=True, metavar="NAME",
              help="Only this category; repeatable.")
@click.option("--batch", "batches", multiple=True, metavar="BATCH",
              help="Only this batch (id or platform batch key); repeatable.")
@_json_option
@_explain_option
@click.pass_context
def agreement_cmd(ctx: click.Context, status: str, categories: tuple[str, ...],
                  batches: tuple[str, ...], as_json: bool, explain: bool) -> None:
    """Agreement between workers: pairwise IoU of masks and boxes on the same asset, per
    category and overall; Krippendorff's alpha (nominal) for classification questions.

    \b
    Examples:
      tracework audit agreement
      tracework audit agreement --category Cable --explain
    """
    with Progress("agreement", unit="asset chunks",
                  enabled=False if as_json else None) as progress:
        result = agreement_audit(project_of(ctx), status=status, categories=categories,
                                 batches=batches, progress=progress, explain=explain)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json(result.as_dict(explain=explain))
        return
    click.echo(f"Agreement (submissions: {status})")
    for c in result.masks + result.boxes:
        click.echo(f"  {c.kind} {c.category}: mean IoU {_num(c.mean_iou)}, median "
                   f"{_num(c.median_iou)} over {c.pairs} pairs, {c.assets} assets, "
                   f"{c.workers} workers")
    click.echo(f"  overall mask IoU {_num(result.overall_mask_iou)}; box IoU "
               f"{_num(result.overall_box_iou)}")
    for k in result.classifications:
        click.echo(f"  question {k.element}: alpha {_num(k.alpha)} ({k.pairable_units} of "
                   f"{k.units} tasks with two or more answers, {k.workers} workers)")
    if result.classifications:
        click.echo(f"  overall alpha {_num(result.overall_alpha)}")
    if explain:
        click.echo("pairs (kind, asset, category, submission a, submission b, IoU):")
        for p in result.pairs:
            click.echo(f"  {p.kind} {p.asset} {p.category} {p.submission_a} {p.submission_b} "
                       f"{p.iou:.4f}")


@audit.command("groups")
@click.option("--by", "by", required=True, metavar="ATTRIBUTE",
              help="A survey question id (e.g. Q3) or an alias from [survey.attributes].")
@_status_option
@click.option("--permutations", type=click.IntRange(1, 1_000_000), default=9999,
              show_default=True, help="Permutations of the test.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the test.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Significance level, after Holm's adjustment.")
@_json_option
@_explain_option
@click.pass_context
def groups_cmd(ctx: click.Context, by: str, status: str, permutations: int, seed: int,
               alpha: float, as_json: bool, explain: bool) -> None:
    """Compare how groups of workers label (mask area, agreement, label distribution,
    aggregation weight), grouped by a linked survey answer, with small cells suppressed.

    \b
    Examples:
      tracework audit groups --by Q3
      tracework audit groups --by education --json
    """
    with Progress("permutation tests", unit="units",
                  enabled=False if as_json else None) as progress:
        result = group_audit(project_of(ctx), by, status=status, permutations=permutations,
                             seed=seed, alpha=alpha, progress=progress)
    if as_json:
        echo_json(result.as_dict(explain=explain))
        return
    click.echo(f"Group audit by {result.attribute} ({result.question}); groups under "
               f"{result.min_cell} workers are suppressed")
    table([(g, "suppressed" if n is None else n) for g, n in result.groups.items()])
    click.echo(f"  workers who did not link their answers: {result.workers_not_linked}")
    click.echo(f"test: {result.method}")
    click.echo(f"weights: {result.weights_from}")
    found = result.detected
    if not found:
        click.echo("no difference larger than chance was detected")
    for t in found:
        click.echo(f"  detected: {t.group} {t.metric} {t.category}: {t.group_mean:.3f} vs "
                   f"{t.rest_mean:.3f} (p {t.p_value:.4f}, adjusted {t.p_adjusted:.4f})")
    if explain:
        for row in result.rows:
            click.echo(f"  {row['group']} {row['metric']} {row['category']}: annotations "
                       f"{', '.join(map(str, row['annotations']))}")


@click.command("aggregate")
@click.option("--classes", type=click.Choice(["dawid-skene", "majority-vote", "none"]),
              default="dawid-skene", show_default=True, help="Method for classifications.")
@click.option("--masks", type=click.Choice(["mask-em", "pixel-majority", "none"]),
              default="mask-em", show_default=True, help="Method for segmentation masks.")
@_status_option
@click.option("--batch", "batches", multiple=True, metavar="BATCH",
              help="Only this batch (id or platform batch key); repeatable.")
@click.option("--iterations", type=click.IntRange(1, 10_000), default=None,
              help="Most EM iterations (default 100 for Dawid–Skene, 10 for masks).")
@_json_option
@click.pass_context
def aggregate_cmd(ctx: click.Context, classes: str, masks: str, status: str,
                  batches: tuple[str, ...], iterations: int | None, as_json: bool) -> None:
    """Combine workers' labels into one label per task, stored as a new, marked layer
    (individual labels are kept as they are); each worker's estimated skill is kept.

    \b
    Examples:
      tracework aggregate
      tracework aggregate --masks pixel-majority --classes majority-vote --json
    """
    with Progress("masks", unit="asset chunks", enabled=False if as_json else None) as progress:
        report = aggregate(project_of(ctx),
                           classes=None if classes == "none" else classes.replace("-", "_"),
                           masks=None if masks == "none" else masks.replace("-", "_"),
                           status=status, batches=batches, n_iter=iterations,
                           progress=progress)
    if as_json:
        echo_json(report.as_dict())
        return
    if not report.runs:
        click.echo("Nothing to aggregate: no classification or mask labels were found.")
    for run in report.runs:
        state = "unchanged since run" if run.repeated else "stored as run"
        click.echo(f"{run.kind} labels, {run.method}: {run.items} aggregated labels from "
                   f"{run.inputs} individual ones; {state} {run.run}")
        skilled = sorted((s for s in run.workers if s.skill is not None),
                         key=lambda s: (s.skill or 0.0))
        rows: list[tuple[str, Any]] = [(f"{s.worker} {s.element}", f"{s.skill:.3f} "
                                        f"({s.labels} labels)") for s in skilled[:5]]
        if rows:
            click.echo("  lowest estimated skill:")
            table(rows, "    ")
    click.echo(f"ledger head {report.ledger_head}")


COMMANDS += [audit, aggregate_cmd]

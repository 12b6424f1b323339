"""Command-line commands of the review room: ``tracework review`` and ``tracework pay``;
registered on the main group by cli.py. Each command parses, calls the library function of the
same name, and formats the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tracework import pay as pay_lib
from tracework import review as review_lib
from tracework.cli.common import Group, echo_json, project_of, table
from tracework.core.errors import InputError
from tracework.pay import receipts as receipts_lib
from tracework.review.common import Decision
from tracework.review.disputes import Outcome, Payment

COMMANDS: list[click.Command] = []

_batch = click.option("--batch", "batches", multiple=True, metavar="BATCH",
                      help="Only this batch (number or platform batch key); repeatable.")
_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group(cls=Group)
def review() -> None:
    """Fair review: rules propose, a person decides, every rejection has a reason.

    \b
    Examples (the usual round):
      tracework review rules                       # what the rules check, their reasons
      tracework review propose                     # rules record proposals, never decisions
      tracework review list --proposed             # the queue, with the evidence
      tracework review decide 12 --reject --reason-code parts_missing
      tracework review decide --accept-proposals   # or decide all as proposed
      tracework review decide --approve-unflagged  # approve what no rule flags
      tracework review export-mturk upload.csv     # upload to the platform
      tracework review export-rework repost.csv    # the items asked to be redone, to post again
      tracework review contest 12 --message "I labelled all five parts"
      tracework review resolve 12 --overturn --reason "Cable was there; our check missed it"
      tracework review receipt w_abc123def456 --out receipts/

    Rules live in [review] of tracework.toml (`tracework review rules --template` prints a
    commented section to paste); without one, the default rules are used.
    """


@review.command("rules")
@click.option("--template", is_flag=True,
              help="Print commented [review] and [pay] sections for tracework.toml instead.")
@_json
@click.pass_context
def rules_cmd(ctx: click.Context, template: bool, as_json: bool) -> None:
    """List the review rules in force: code, kind, what each checks and the reason workers see.

    \b
    Examples:
      tracework review rules
      tracework review rules --template >> tracework.toml
    """
    project = project_of(ctx)
    if template:
        click.echo(review_lib.config_template([c.name for c in project.categories]))
        click.echo("# Add to [pay]:")
        click.echo(pay_lib.PAY_TEMPLATE)
        return
    cfg = review_lib.review_config(project)
    if as_json:
        echo_json([{"code": r.code, "kind": r.kind, "propose": r.decision,
                     "checks": r.describe(), "reason": r.reason} for r in cfg.rules])
        return
    source = "defaults (no [[review.rules]] in tracework.toml)" if cfg.from_defaults \
        else "tracework.toml"
    click.echo(f"Rules from {source}; reversal window {cfg.reversal_window_days} days")
    for r in cfg.rules:
        click.echo(f"  {r.code} ({r.kind}, proposes {r.decision}): {r.describe()}")
        click.echo(f"      reason: {r.reason}")


@review.command("propose")
@_batch
@click.option("--rule", "rules", multiple=True, metavar="CODE",
              help="Run only this rule; repeatable.")
@_json
@click.pass_context
def propose_cmd(ctx: click.Context, batches: tuple[str, ...], rules: tuple[str, ...],
                as_json: bool) -> None:
    """Run the rules on undecided submissions and record proposals with their evidence.

    Proposals are never decisions: a person accepts or overrides them with `review decide`.
    Running again adds nothing already proposed.

    \b
    Examples:
      tracework review propose
      tracework review propose --batch 5012345 --rule parts_missing
    """
    report = review_lib.propose(project_of(ctx), batches=batches, rules=rules)
    if as_json:
        echo_json(report.as_dict())
        return
    rows: list[tuple[str, Any]] = [
        ("undecided submissions", report.considered),
        ("flagged", report.submissions_flagged), ("new proposals", report.proposed),
        ("already proposed", report.already_proposed)]
    rows += [(f"  {k}", v) for k, v in sorted(report.by_rule.items())]
    rows.append(("ledger head", report.ledger_head))
    table(rows)
    click.echo("Next: tracework review list --proposed")


def _print_decision(result: review_lib.DecisionResult) -> None:
    again = " (re-decision)" if result.redecided else ""
    click.echo(f"submission {result.submission_id}: {result.old_status} → {result.status}{again}")
    if result.reason_text:
        click.echo(f"  reason: {result.reason_text}")


def _print_bulk(report: review_lib.BulkReport) -> None:
    rows: list[tuple[str, Any]] = [("decided", report.decided)]
    rows += [(f"  {k}", v) for k, v in sorted(report.by_decision.items())]
    rows += [(f"  rule {k}", v) for k, v in sorted(report.by_rule.items())]
    if report.proposed_first:
        rows.append(("new proposals (left undecided)", report.proposed_first))
    if report.skipped_decided:
        rows.append(("skipped (decided meanwhile)", report.skipped_decided))
    if report.unchanged:
        rows.append(("unchanged (already so decided)", report.unchanged))
    rows.append(("ledger head", report.ledger_head))
    table(rows)


def _expect(value: str | None) -> Any:
    if value is None:
        return review_lib.UNSET
    if value.lower() in ("none", "undecided"):
        return None
    if not value.isdigit():
        raise click.BadParameter("give a decision number or 'none'", param_hint="--expect")
    return int(value)


@review.command("decide")
@click.argument("submission", required=False)
@click.option("--approve", "decision", flag_value="approve", help="Approve the work.")
@click.option("--reject", "decision", flag_value="reject",
              help="Reject it (needs --reason or --reason-code).")
@click.option("--rework", "decision", flag_value="rework",
              help="Ask for the item to be done again (needs a reason).")
@click.option("--reason-code", metavar="CODE",
              help="A rule's code: its reason (with this submission's evidence) is used.")
@click.option("--reason", metavar="TEXT",
              help="The reason the worker reads (≤ 1024 characters). With --from-file "
                   "--redecide: the reason for rows that approve a decided submission.")
@click.option("--good-faith", is_flag=True,
              help="Rejected, but done in good faith: its time is paid by `pay topup`.")
@click.option("--redecide", is_flag=True,
              help="Change a decision already made (a reason is then required).")
@click.option("--clean", is_flag=True,
              help="Turn line breaks into spaces and drop control characters in the reason "
                   "instead of refusing it.")
@click.option("--expect", "expect", metavar="DECISION|none",
              help="The decision number you saw (or 'none'): refused if it changed meanwhile.")
@click.option("--accept-proposals", is_flag=True,
              help="Bulk: decide every undecided submission as its open proposals say.")
@click.option("--approve-unflagged", is_flag=True,
              help="Bulk: run the rules, then approve every undecided submission none flags.")
@click.option("--from-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Bulk: the decisions typed into a platform-layout CSV (AssignmentId, X under "
                   "Approve or the reason under Reject); all rows or none are stored.")
@click.option("--rule", metavar="CODE", help="With --accept-proposals: only this rule's.")
@_batch
@_json
@click.pass_context
def decide_cmd(ctx: click.Context, submission: str | None, decision: Decision | None,
               reason_code: str | None, reason: str | None, good_faith: bool, redecide: bool,
               clean: bool, expect: str | None, accept_proposals: bool,
               approve_unflagged: bool, from_file: Path | None, rule: str | None,
               batches: tuple[str, ...], as_json: bool) -> None:
    """Decide one submission (by number or assignment id), or many at once.

    A rejection without a reason is refused. A submission already decided changes only with
    --redecide and a reason. If another reviewer decides the same submission first, you get a
    conflict (exit 6) and nothing of yours is stored.

    \b
    Examples:
      tracework review decide 12 --approve
      tracework review decide 13 --reject --reason-code parts_missing
      tracework review decide 14 --reject --reason "The cable is not labelled." --good-faith
      tracework review decide 13 --approve --redecide --reason "Re-checked: all parts there."
      tracework review decide --accept-proposals --rule parts_missing
      tracework review decide --approve-unflagged --batch 5012345
      tracework review decide --from-file Batch_5012345_batch_results.csv
      tracework review decide --from-file typed.csv --redecide --reason "Re-checked: all there."
    """
    project = project_of(ctx)
    bulk = [accept_proposals, approve_unflagged, from_file is not None]
    if any(bulk):
        if submission or decision or sum(bulk) > 1:
            raise InputError("use --accept-proposals, --approve-unflagged or --from-file alone, "
                             "without a submission or a decision flag")
        if from_file is not None:
            report = review_lib.decide_file(project, from_file, redecide=redecide,
                                            reason=reason, clean=clean)
        elif accept_proposals:
            report = review_lib.accept_proposals(project, rule=rule, batches=batches)
        else:
            report = review_lib.approve_unflagged(project, batches=batches)
        echo_json(report.as_dict()) if as_json else _print_bulk(report)
        return
    if not submission or not decision:
        raise InputError("name a SUBMISSION and one of --approve, --reject, --rework (or use "
                         "--accept-proposals)")
    result = review_lib.decide(project, submission, decision,
                               reason_code=reason_code, reason=reason, good_faith=good_faith,
                               redecide=redecide, clean=clean, expect_review=_expect(expect))
    echo_json(result.as_dict()) if as_json else _print_decision(result)


def _line(item: review_lib.QueueItem) -> str:
    t = "" if item.work_time_s is None else f"{item.work_time_s:.0f}s"
    open_props = [p for p in item.proposals if p["state"] == "open"]
    text = f"{item.submission_id:>6} {item.state:<10} {item.worker} {item.asset} {t}"
    if item.decision:
        text += f"  [{item.decision}{': ' + item.reason_text if item.reason_text else ''}]"
    for p in open_props:
        text += f"\n         proposed {p['decision']} by {p['rule']}: {p['evidence']}"
    if item.dispute:
        text += (f"\n         dispute {item.dispute['state']}; reversal window "
                 f"{item.dispute['window']}")
    return text


@review.command("list")
@click.option("--status", type=click.Choice(list(review_lib.STATES)),
              help="Only submissions in this state (submitted = undecided; contested = open "
                   "dispute).")
@click.option("--proposed/--not-proposed", default=None,
              help="Only those with (or without) open proposals.")
@click.option("--rule", metavar="CODE", help="Only those a rule proposed something for.")
@click.option("--worker", metavar="PSEUDONYM", help="Only this worker's (w_…).")
@_batch
@click.option("--limit", type=int, default=200, show_default=True,
              help="At most this many (0: all).")
@_json
@click.pass_context
def list_cmd(ctx: click.Context, status: str | None, proposed: bool | None, rule: str | None,
             worker: str | None, batches: tuple[str, ...], limit: int, as_json: bool) -> None:
    """The review queue: submissions with proposals, the decision in force and disputes.

    \b
    Examples:
      tracework review list --proposed
      tracework review list --status contested
      tracework review list --rule parts_missing --batch 5012345 --json
    """
    items = review_lib.review_list(project_of(ctx), status=status, proposed=proposed, rule=rule,
                                   worker=worker, batches=batches, limit=limit or None)
    if as_json:
        echo_json([i.as_dict() for i in items])
        return
    for item in items:
        click.echo(_line(item))
    click.echo(f"{len(items)} submission(s)" + (" (limit reached; --limit 0 for all)"
                                                if limit and len(items) == limit else ""))


@review.command("export-mturk")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@_batch
@click.option("--since", metavar="ISO-TIME", help="Only decisions made from this time on.")
@_json
@click.pass_context
def export_mturk_cmd(ctx: click.Context, out: Path, batches: tuple[str, ...],
                     since: str | None, as_json: bool) -> None:
    """Write Mechanical Turk's decision upload file (HITId, AssignmentId, WorkerId, Approve,
    Reject): X under Approve, or the reason under Reject.

    The platform needs its own WorkerId in this file, and tracework keeps that only in the
    vault: it is read from there for this one platform-bound file, which is written with mode
    0600 (keep it private; delete it after uploading). The export is recorded in the change
    log by row count and SHA-256. Cells are formula-neutralised.

    \b
    Example:
      tracework review export-mturk upload.csv --batch 5012345
    """
    report = review_lib.export_mturk(project_of(ctx), out, batches=batches, since=since)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote {report.rows} row(s) to {out} (mode 0600; holds platform worker ids)")
    table([(k, v) for k, v in sorted(report.by_decision.items())]
           + [(f"skipped: {k}", v) for k, v in sorted(report.skipped.items())])


@review.command("export-rework")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@_batch
@_json
@click.pass_context
def export_rework_cmd(ctx: click.Context, out: Path, batches: tuple[str, ...],
                      as_json: bool) -> None:
    """Write the input CSV of the items to post again (decided --rework): the task's input
    columns without the Input. prefix (e.g. image_url), one row per item.

    \b
    Example:
      tracework review export-rework repost.csv
    """
    report = review_lib.export_rework(project_of(ctx), out, batches=batches)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote {report.rows} item(s) to post again to {out}")


@review.command("contest")
@click.argument("submission")
@click.option("--message", required=True, help="What the worker says, kept as written.")
@_json
@click.pass_context
def contest_cmd(ctx: click.Context, submission: str, message: str, as_json: bool) -> None:
    """Record a worker's contest of a rejection (from the command line for now).

    \b
    Example:
      tracework review contest 12 --message "All five parts are labelled, please look again."
    """
    result = review_lib.contest(project_of(ctx), submission, message)
    if as_json:
        echo_json(result.as_dict())
        return
    window = ("unknown" if result.days_left is None else "expired" if result.days_left == 0
              else f"{result.days_left} days left")
    click.echo(f"submission {result.submission_id} is contested (dispute {result.dispute_id}); "
               f"platform reversal window: {window}")


@review.command("resolve")
@click.argument("submission")
@click.option("--uphold", "outcome", flag_value="uphold", help="Keep the rejection.")
@click.option("--overturn", "outcome", flag_value="overturn",
              help="Approve the work and pay it.")
@click.option("--reason", required=True, help="Why, in words the worker reads.")
@click.option("--pay", type=click.Choice(["auto", "reversal", "bonus"]), default="auto",
              show_default=True,
              help="How overturned work is paid: reversal by the platform (inside its window), "
                   "a bonus of the reward, or auto (reversal while the window is open).")
@click.option("--clean", is_flag=True, help="Clean control characters from the reason.")
@_json
@click.pass_context
def resolve_cmd(ctx: click.Context, submission: str, outcome: Outcome | None, reason: str,
                pay: Payment, clean: bool, as_json: bool) -> None:
    """Resolve a contested rejection: uphold it or overturn it, with a reason.

    \b
    Examples:
      tracework review resolve 12 --overturn --reason "The cable is labelled; our rule missed it."
      tracework review resolve 15 --uphold --reason "Only the body is labelled."
    """
    if outcome is None:
        raise InputError("pass --uphold or --overturn")
    result = review_lib.resolve(project_of(ctx), submission, outcome, reason,
                                pay=pay, clean=clean)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"submission {result.submission_id}: dispute {result.outcome}")
    if result.payment == "reversal":
        click.echo("  paid by the platform's reversal: the approval is in the next "
                   "`review export-mturk` file")
    elif result.payment == "bonus":
        click.echo(f"  paid by a bonus of {pay_lib.money(result.bonus_cents)} (token "
                   f"{result.bonus_token}): `tracework pay export-mturk bonuses.csv`")


@review.command("receipt")
@click.argument("workers", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the receipts (<pseudonym>.html and .json, mode 0600).")
@_json
@click.pass_context
def receipt_cmd(ctx: click.Context, workers: tuple[str, ...], out: Path, as_json: bool) -> None:
    """Write a private receipt per worker (by pseudonym): their submissions, decisions,
    reasons, pay, time, disputes and a ledger checkpoint, as HTML and JSON.

    \b
    Example:
      tracework review receipt w_abc123def456 --out receipts/
    """
    project = project_of(ctx)
    reports = [receipts_lib.receipt(project, w, out) for w in workers]
    if as_json:
        echo_json([r.as_dict() for r in reports])
        return
    for r in reports:
        click.echo(f"{r.worker}: {r.submissions} submission(s) → {r.html}, {r.json}")


@click.group(cls=Group)
def pay() -> None:
    """Pay to the floor: bonuses that lift effective hourly pay to the project's wage floor.

    The floor, its source and date, and the time measure trusted are set in [pay] of
    tracework.toml (`tracework review rules --template` prints the options).

    \b
    Examples:
      tracework pay topup --dry-run                # what would be paid, stored nowhere
      tracework pay topup --out bonuses.csv        # plan the bonuses, write the bonus file
      tracework pay export-mturk bonuses.csv       # the bonus file again, of planned bonuses
      tracework pay mark-paid --all-planned        # once the platform has paid them
    """


@pay.command("topup")
@_batch
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the platform's bonus file of every planned bonus (mode 0600; "
                   "holds platform worker ids read from the vault).")
@click.option("--dry-run", is_flag=True, help="Show what would be planned; store nothing.")
@_json
@click.pass_context
def topup_cmd(ctx: click.Context, batches: tuple[str, ...], out: Path | None, dry_run: bool,
              as_json: bool) -> None:
    """Plan per worker the bonus that brings pay for all completed work up to the wage floor.

    Each bonus has a deterministic idempotency token (the platform's UniqueRequestToken);
    bonuses already planned or paid count as earned, so running again pays nothing more.

    \b
    Examples:
      tracework pay topup --dry-run
      tracework pay topup --out bonuses.csv
    """
    report = pay_lib.topup(project_of(ctx), batches=batches, out=out, dry_run=dry_run)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wage floor {report.floor}; time measure: {report.time_measure}"
               + (" (dry run: nothing stored)" if dry_run else ""))
    for w in report.workers:
        earned = pay_lib.money(w.earned_cents) + (
            f" (paid {pay_lib.money(w.paid_cents)}, planned {pay_lib.money(w.planned_cents)} "
            "not yet paid)" if w.planned_cents else "")
        click.echo(f"  {w.worker}: {w.submissions} task(s), {w.time_s / 3600:.2f} h, earned "
                   f"{earned}, floor {pay_lib.money(w.target_cents)} → "
                   f"bonus {pay_lib.money(w.bonus_cents)} ({w.state})")
    rows: list[tuple[str, Any]] = [("bonuses planned", report.planned),
                                   ("amount", f"{pay_lib.money(report.planned_cents)} "
                                              f"{report.currency}")]
    if report.missing_time:
        rows.append(("submissions without a time (counted 0)", report.missing_time))
    if report.survey_fallbacks:
        rows.append(("survey time missing → platform time", report.survey_fallbacks))
    if report.bonus_file:
        rows.append(("bonus file", f"{report.bonus_file} ({report.bonus_file_rows} rows)"))
    table(rows)


@pay.command("export-mturk")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--token", "tokens", multiple=True, help="Only this bonus; repeatable.")
@_json
@click.pass_context
def pay_export_cmd(ctx: click.Context, out: Path, tokens: tuple[str, ...],
                   as_json: bool) -> None:
    """Write the platform's bonus file of planned bonuses (WorkerId, AssignmentId,
    BonusAmount like 1.50, Reason, UniqueRequestToken). WorkerId is read from the vault for
    this platform-bound file; it is written with mode 0600.

    \b
    Example:
      tracework pay export-mturk bonuses.csv
    """
    report = pay_lib.export_bonuses(project_of(ctx), out, tokens=tokens)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote {report.rows} bonus(es), {pay_lib.money(report.total_cents)} USD, to {out}")


@pay.command("mark-paid")
@click.option("--token", "tokens", multiple=True, help="A bonus the platform paid; repeatable.")
@click.option("--all-planned", is_flag=True, help="Every planned bonus was paid.")
@click.pass_context
def mark_paid_cmd(ctx: click.Context, tokens: tuple[str, ...], all_planned: bool) -> None:
    """Record bonuses as paid once the platform confirmed them.

    \b
    Examples:
      tracework pay mark-paid --all-planned
      tracework pay mark-paid --token tw-topup-3f2a...
    """
    count = pay_lib.mark_paid(project_of(ctx), tokens=tokens, all_planned=all_planned)
    click.echo(f"{count} bonus(es) marked paid")


COMMANDS += [review, pay]

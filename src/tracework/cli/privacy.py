"""`tracework worker erase` and `tracework consent set`: a worker's right to be forgotten and
to change their mind, recorded by staff."""

from __future__ import annotations

import sys

import click

import tracework
from tracework.cli.common import Group, echo_json, project_of, table
from tracework.core.errors import InputError
from tracework.core.privacy import SCOPES, Scope

__all__ = ["COMMANDS"]


@click.group(cls=Group)
def worker() -> None:
    """What staff do about one worker, named by pseudonym (w_…), never by platform id."""


@worker.command("erase")
@click.argument("pseudonym")
@click.option("--reason", required=True,
              help="Why (who asked, how, when): kept in the log as a commitment, not in the clear.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_context
def erase(ctx: click.Context, pseudonym: str, reason: str, yes: bool, as_json: bool) -> None:
    """Erase a worker (GDPR Art. 17), for good: there is no undo.

    \b
    Removed from every table: the raw platform id (vault) and the identifying values of their
    survey responses (IP address, location, the id as typed); their survey responses and
    answers, free text included; the free text of their work (answers, raw cells, requester
    feedback, review reasons, rule evidence, dispute messages and resolutions); notes they
    wrote, notes about them or their work, notes drawn from their answers; their credit name
    and every consent; the change log's private values that are theirs (credit names, note
    texts, messages: the log holds only salted commitments to them, so `tracework verify`
    still passes); their skill estimates. Their portal links and sessions are revoked.

    \b
    Kept, as anonymous labour facts: each submission's status, times, reward, bonuses and
    labels, under the pseudonym, so the labour audit and the dataset stay true to the work
    done and paid for. Later exports carry none of their answers and no credit.

    \b
    No readable trace is left in the database file: SQLite deletes with secure_delete on,
    then the write-ahead log is checkpointed (TRUNCATE) and the file is VACUUMed. On
    PostgreSQL the touched tables get VACUUM FULL; old row versions may remain in the
    server's WAL segments and backups until they are recycled (an administrator's task:
    CHECKPOINT, then rotate WAL archives and backups taken before the erasure).

    \b
    Log entries written before the log held commitments cannot be changed without breaking
    the chain: those still holding this worker's words are listed and the erasure says it is
    incomplete for them (the public log never publishes their values). A later import that
    meets this worker's raw id stores new work under a fresh pseudonym linked to nobody, takes
    no survey answers, and says so in its report.

    \b
    Example:
      tracework worker erase w_3k5n2q7r4m6p --reason "request by e-mail, 3 March" --yes
    """
    project = project_of(ctx)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("erasure cannot be undone: pass --yes to confirm it",
                             field="--yes")
        click.confirm(f"Erase worker {pseudonym} for good?", abort=True)
    report = tracework.erase_worker(project, pseudonym, reason=reason)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"worker {report.worker} erased; {report.submissions_kept} submissions kept as "
               "anonymous labour facts")
    rows: list[tuple[str, object]] = [(f"deleted {k}", v) for k, v in sorted(report.deleted.items())]
    rows += [(f"cleared {k}", v) for k, v in sorted(report.cleared.items())]
    table(rows)
    click.echo(f"store compacted (no readable copy left in the file); ledger head {report.ledger_head}")
    if report.legacy_entries:
        shown = ", ".join(str(s) for s in report.legacy_entries[:20])
        more = " …" if len(report.legacy_entries) > 20 else ""
        click.secho(f"incomplete: {len(report.legacy_entries)} older log entries still hold this "
                    f"worker's words and cannot change without breaking the chain: {shown}{more}. "
                    "The public log does not publish their values.", err=True, fg="yellow")


@click.group(cls=Group)
def consent() -> None:
    """Workers' consent, as staff record it when it reaches them another way (mail, a call)."""


@consent.command("set")
@click.argument("pseudonym")
@click.option("--scope", required=True, type=click.Choice(list(SCOPES)),
              help="link: survey answers may be joined to their work and audited; publish: "
                   "answers may leave with the dataset; credit: named in the credits.")
@click.option("--value", required=True, type=click.Choice(["yes", "no"]),
              help="yes grants the scope, no withdraws it.")
@click.option("--reason", required=True, help="Where the change came from (kept in the log).")
@click.option("--name", "credit_name", default=None,
              help="With --scope credit --value yes: the name the worker chose (kept apart "
                   "from the log, as a commitment).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def consent_set(ctx: click.Context, pseudonym: str, scope: str, value: str, reason: str,
                credit_name: str | None, as_json: bool) -> None:
    """Record a worker's consent change, with a ledger entry per changed scope.

    Withdrawing link or publish drops the worker's answers from the next exports and audits;
    withdrawing credit drops them from the credits and forgets the chosen name. A later survey
    answer about consent applies too, if it is newer.

    \b
    Examples:
      tracework consent set w_3k5n2q7r4m6p --scope publish --value no --reason "e-mail, 3 March"
      tracework consent set w_3k5n2q7r4m6p --scope credit --value yes --name "Ana P." \\
          --reason "form signed 4 March"
    """
    chosen: Scope = "link" if scope == "link" else "publish" if scope == "publish" else "credit"
    if value == "no" and credit_name is not None:
        raise InputError("--name goes with --value yes", field="--name")
    result = tracework.consent_set(project_of(ctx), pseudonym, chosen, value == "yes",
                                   reason=reason, credit_name=credit_name)
    if as_json:
        echo_json(result.as_dict())
        return
    state = "granted" if result.value else "withdrawn"
    click.echo(f"{result.worker}: {result.scope} {state}" + ("" if result.changed
                                                              else " (already so; nothing changed)"))


COMMANDS: list[click.Command] = [worker, consent]

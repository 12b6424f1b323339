"""`tracework worker record`, `tracework record …`, `tracework contact …` and `tracework batch
value-chain`: a worker's portable record, the contact line from a dataset's users to its
makers, and the conditions each batch was made under."""

from __future__ import annotations

from pathlib import Path

import click

from tracework.cli.common import Group, echo_json, project_of, table
from tracework.core import contact as contact_lib
from tracework.core.value_chain import set_batch_chain, value_chain_of_batch
from tracework.docs import record as record_lib

__all__ = ["COMMANDS"]


@click.group(cls=Group)
def worker() -> None:
    """What staff do about one worker, named by pseudonym (w_…), never by platform id."""


@worker.command("record")
@click.argument("pseudonym")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write (default: record-<pseudonym>.json; mode 0600).")
@click.option("--exclude", multiple=True, type=click.Choice(list(record_lib.EXCLUDABLE)),
              help="Leave out this kind of item (repeatable); the record says it was filtered.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
@click.pass_context
def worker_record(ctx: click.Context, pseudonym: str, out: Path | None,
                  exclude: tuple[str, ...], as_json: bool) -> None:
    """Write a worker's signed record of their work on this project: tasks, categories,
    decisions and reasons, pay, time, disputes and outcomes, the value chain of each batch,
    and the ledger checkpoint it was taken at. No platform id is in it.

    Anyone can check it offline with `tracework record verify`, against the key `tracework
    record key` prints.

    \b
    Examples:
      tracework worker record w_3k5n2q7r4m6p -o record.json
      tracework worker record w_3k5n2q7r4m6p --exclude rejected --exclude reasons
    """
    project = project_of(ctx)
    project.store.migrate()
    target = out or Path(f"record-{pseudonym}.json")
    data = record_lib.write_work_record(project, pseudonym, target, exclude=exclude)
    rec = data["record"]
    summary = {"file": str(target), "worker": rec["worker"],
               "submissions": rec["totals"]["submissions"], "filter": rec["filter"],
               "ledger_checkpoint": rec["ledger_checkpoint"], "signed_by": rec["signed_by"]}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"wrote {target}: {summary['submissions']} submissions of {rec['worker']}, "
               f"signed by {rec['signed_by']}"
               + (f"; left out {', '.join(rec['filter']['excluded'])}"
                  if rec["filter"]["filtered"] else ""))


@click.group(cls=Group)
def record() -> None:
    """Workers' signed records: the project's public key, checking a record, one page of many.

    \b
    Examples:
      tracework record key
      tracework record verify record.json --public-key ed25519:3f…
      tracework record combine a.json b.json -o page.html
    """


@record.command("key")
@click.pass_context
def record_key(ctx: click.Context) -> None:
    """Print the project's public key (ed25519:<hex>), made on first use; publish it beside
    the dataset so anyone can check the records the project signs.

    \b
    Example:
      tracework record key
    """
    click.echo(record_lib.project_public_key(project_of(ctx)))


@record.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", default=None,
              help="The project's published key (ed25519:<hex>): the record must be signed by it.")
@click.option("--log-head", default=None,
              help="The project's published log head: the record must be taken at it, or (with "
                   "--log) the published log must end at it.")
@click.option("--log", "log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The project's published log (ledger.jsonl of a bundle): the record's "
                   "checkpoint must be one of its entries.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def record_verify(file: Path, public_key: str | None, log_head: str | None, log: Path | None,
                  as_json: bool) -> None:
    """Check a work record offline, without the project: exit 0 if it is valid, 7 if it was
    altered, signed by another key, or its checkpoint is not in the published log.

    \b
    Examples:
      tracework record verify record.json --public-key ed25519:3f…
      tracework record verify record.json --log bundle/ledger.jsonl
    """
    check = record_lib.verify_record(file, public_key=public_key, log_head=log_head, log=log)
    if as_json:
        echo_json(check.as_dict())
    elif check.ok:
        left = (f"; filtered by the worker (left out {', '.join(check.excluded)})"
                if check.filtered else "; complete")
        click.echo(f"valid: record of {check.worker} on {check.project}, signed by "
                   f"{check.public_key}{' (the key given)' if check.key_given else ''}, "
                   f"taken at log entry {check.checkpoint.get('entries')}"
                   f"{' (in the published log)' if check.checkpoint_in_log else ''}{left}")
    record_lib.require_valid(check)


@record.command("combine")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML page to write.")
@click.option("--public-key", "public_keys", multiple=True,
              help="Each project's published key, one per FILE in the same order (optional).")
def record_combine(files: tuple[Path, ...], out: Path, public_keys: tuple[str, ...]) -> None:
    """Join work records of several projects into one page, each verified and shown with its
    signature status (a record that does not verify is marked so, not left out).

    \b
    Example:
      tracework record combine project-a.json project-b.json -o my-work.html
    """
    checks = record_lib.combine_records(files, out, public_keys=public_keys)
    for c in checks:
        click.echo(f"{'valid' if c.ok else 'NOT VALID'}  {c.file}"
                   + ("" if c.ok else f": {c.problem}"))
    click.echo(f"wrote {out}")


@click.group(cls=Group)
def contact() -> None:
    """The contact line from a dataset's users to the workers who made it, through the reply
    handles a bundle carries for workers who consented.

    \b
    Examples:
      tracework contact consent w_3k5n2q7r4m6p --value yes --reason "portal form"
      tracework contact send r17.abcdefghijklmnop --from "Ana, ana@lab.example" \\
          --message "Thank you: may we ask about label 17?" --private
      tracework contact replies 4
    """


@contact.command("consent")
@click.argument("pseudonym")
@click.option("--value", required=True, type=click.Choice(["yes", "no"]),
              help="yes: the worker may be written to through reply handles.")
@click.option("--linkable", is_flag=True,
              help="One handle for all the worker's annotations (they asked for it).")
@click.option("--reason", required=True, help="Where the consent came from (kept in the log).")
@click.pass_context
def contact_consent(ctx: click.Context, pseudonym: str, value: str, linkable: bool,
                    reason: str) -> None:
    """Record a worker's consent to be contacted by the dataset's users.

    \b
    Example:
      tracework contact consent w_3k5n2q7r4m6p --value yes --reason "form of 4 March"
    """
    project = project_of(ctx)
    project.store.migrate()
    changed = contact_lib.set_contact_consent(project, pseudonym, contactable=value == "yes",
                                              linkable=linkable, reason=reason)
    click.echo(f"{pseudonym}: contact {value}{' (linkable)' if linkable else ''}"
               + ("" if changed else " (unchanged)"))


@contact.command("send")
@click.argument("handle")
@click.option("--message", required=True, help="The message (at most 4000 characters).")
@click.option("--from", "sender", required=True,
              help="Who writes, as the worker should see it (a name, an address to answer).")
@click.option("--private", is_flag=True,
              help="Seal the message to the worker: the project relays it but cannot read it.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def contact_send(ctx: click.Context, handle: str, message: str, sender: str, private: bool,
                 as_json: bool) -> None:
    """Write to the worker behind a reply handle of a published bundle. The message goes to
    their portal; the change log keeps its content hash, never its text. A sender may write
    5 messages a day.

    \b
    Example:
      tracework contact send r17.abcdefghijklmnop --from "Ana, ana@lab.example" \\
          --message "May we credit you in our paper?" --private
    """
    project = project_of(ctx)
    project.store.migrate()
    sent = contact_lib.send(project, handle, message, sender=sender, private=private)
    if as_json:
        echo_json(sent.as_dict())
        return
    click.echo(f"message {sent.message} delivered{' sealed' if sent.private else ''}; "
               f"content hash {sent.content_sha256}; answers: `tracework contact replies "
               f"{sent.message}`")


@contact.command("resolve")
@click.argument("handle")
@click.pass_context
def contact_resolve(ctx: click.Context, handle: str) -> None:
    """The worker (pseudonym) and label a reply handle stands for, inside the project only:
    the handle of a worker who withdrew their consent resolves to nothing.

    \b
    Example:
      tracework contact resolve r17.abcdefghijklmnop
    """
    project = project_of(ctx)
    project.store.migrate()
    found = contact_lib.worker_of_handle(project, handle)
    click.echo(f"{found[0]}" + ("" if found[1] is None else f" (annotation {found[1]})"))


@contact.command("replies")
@click.argument("message", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def contact_replies(ctx: click.Context, message: int, as_json: bool) -> None:
    """The worker's answers to MESSAGE, with any name or address they chose to give.

    \b
    Example:
      tracework contact replies 4
    """
    project = project_of(ctx)
    project.store.migrate()
    found = contact_lib.replies(project, message)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no answer yet")
    for r in found:
        click.echo(f"{r['created_at'][:16]}: {r['answer']}"
                   + (f"\n  they give: {r['revealed']}" if r["revealed"] else ""))


@click.group(cls=Group)
def batch() -> None:
    """Batches of work and the conditions they were made under."""


@batch.command("value-chain")
@click.argument("batch_name", metavar="BATCH")
@click.option("--client", default=None, help="Who the work is for in the end.")
@click.option("--requester", default=None,
              help="Who asked for the work (default: [value_chain] requester).")
@click.option("--intermediary", "intermediaries", multiple=True,
              help="A company between requester and client (repeatable, in order).")
@click.option("--pay-cents", type=int, default=None, help="Pay per task, in cents.")
@click.option("--time-budget-s", type=int, default=None, help="Time budget per task, seconds.")
@click.option("--currency", default=None, help="Currency of the pay (default: [pay] currency).")
@click.option("--note", default="", help="Anything else a downstream auditor should know.")
@click.option("--json", "as_json", is_flag=True, help="Print the statement as JSON.")
@click.pass_context
def batch_value_chain(ctx: click.Context, batch_name: str, client: str | None,
                      requester: str | None, intermediaries: tuple[str, ...],
                      pay_cents: int | None, time_budget_s: int | None, currency: str | None,
                      note: str, as_json: bool) -> None:
    """Show, or with --client state, the value chain of BATCH (key or id): requester,
    intermediaries, client, pay and time budget. Every exported annotation of the batch carries
    it (COCO attributes, YOLO provenance.jsonl, records), and the card and Croissant list it.

    \b
    Examples:
      tracework batch value-chain b1
      tracework batch value-chain b1 --client "Acme Robotics" --intermediary "DataVendor Ltd" \\
          --pay-cents 12 --time-budget-s 300
    """
    project = project_of(ctx)
    project.store.migrate()
    if client is None:
        chain = value_chain_of_batch(project, batch_name)
    else:
        chain = set_batch_chain(project, batch_name, client=client, requester=requester,
                                intermediaries=intermediaries, pay_cents=pay_cents,
                                time_budget_s=time_budget_s, currency=currency, note=note)
    if as_json:
        echo_json(chain.as_dict())
        return
    table([(k, ", ".join(v) if isinstance(v, list) else "" if v is None else v)
           for k, v in chain.as_dict().items()])


COMMANDS: list[click.Command] = [worker, record, contact, batch]

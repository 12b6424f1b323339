"""`tracework conflicts`: list, show and resolve re-imports that differ from what is stored."""

from __future__ import annotations

import click

from tracework.cli.common import Group, echo_json, project_of, table
from tracework.ingest import list_conflicts, resolve_conflict, show_conflict

__all__ = ["COMMANDS"]


@click.group(cls=Group)
def conflicts() -> None:
    """Re-imported rows whose content differs from what is stored: nothing is overwritten
    until a person keeps the stored or the incoming record, with a reason (a ledger entry)."""


@conflicts.command("list")
@click.option("--state", type=click.Choice(["open", "resolved", "all"]), default="open",
              show_default=True, help="Which conflicts.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, state: str, as_json: bool) -> None:
    """One line per conflict: id, what it is about, the file and row, the fields that differ."""
    found = list_conflicts(project_of(ctx), state=state)  # type: ignore[arg-type]
    if as_json:
        echo_json([c.as_dict() for c in found])
        return
    if not found:
        click.echo(f"no {state if state != 'all' else ''} conflicts".replace("  ", " "))
        return
    for c in found:
        fields = ", ".join(c.fields[:6]) + (" …" if len(c.fields) > 6 else "")
        click.echo(f"{c.id:>5}  {c.state:<14} {c.target:<16} {c.file} row {c.row}: {fields}")


@conflicts.command("show")
@click.argument("conflict_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def show_cmd(ctx: click.Context, conflict_id: int, as_json: bool) -> None:
    """The stored and the incoming value of each field that differs."""
    c = show_conflict(project_of(ctx), conflict_id)
    if as_json:
        echo_json(c.as_dict())
        return
    click.echo(f"conflict {c.id} ({c.state}): {c.target}, {c.file} row {c.row}")
    rows: list[tuple[str, object]] = []
    for name, pair in c.changes.items():
        rows += [(f"{name} stored", _short(pair["stored"])),
                 (f"{name} incoming", _short(pair["incoming"]))]
    table(rows)


def _short(value: str | None, limit: int = 80) -> str:
    if value is None:
        return "(absent)"
    return value if len(value) <= limit else value[:limit - 1] + "…"


@conflicts.command("resolve")
@click.argument("conflict_id", type=int)
@click.option("--keep", type=click.Choice(["stored", "incoming"]), required=True,
              help="Keep the stored record, or replace it with the incoming one.")
@click.option("--reason", required=True, help="Why; recorded in the change log.")
@click.pass_context
def resolve_cmd(ctx: click.Context, conflict_id: int, keep: str, reason: str) -> None:
    """Close a conflict, keeping one side; a ledger entry records who, which and why.

    \b
    Example:
      tracework conflicts resolve 3 --keep incoming --reason "worker re-submitted the fix"
    """
    c = resolve_conflict(project_of(ctx), conflict_id, keep=keep,  # type: ignore[arg-type]
                         reason=reason)
    click.echo(f"conflict {c.id}: {c.state} for {c.target}")


COMMANDS: list[click.Command] = [conflicts]

"""What every command module shares: the group class that turns tracework's errors into a
message and an exit code, the project of the current invocation, progress on a terminal, and
the JSON and table printers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import rich.progress
from rich.console import Console

from tracework.core.errors import TraceworkError
from tracework.core.project import Project, open_project

__all__ = ["Group", "Progress", "echo_json", "project_of", "settings_from", "table"]


class Group(click.Group):
    """Turns tracework's errors into a message and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TraceworkError as exc:
            click.secho(f"error: {exc.message}", err=True, fg="red")
            if exc.hint:
                click.echo(f"  what to do: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)


class Progress:
    """The one progress display of every long command (rich): a bar with a rate and the time
    left when the total is known, a running count with a rate when it is not, and nothing at
    all when standard error is not a terminal (a pipe, a log file, CI).

    Use it as a context manager and call it with what is done so far::

        with Progress("ingest", unit="rows") as progress:
            ingest_mturk(project, path, progress=progress)
    """

    def __init__(self, label: str, *, unit: str = "rows", enabled: bool | None = None) -> None:
        console = Console(stderr=True)
        self.enabled = console.is_terminal if enabled is None else enabled
        self.label = label
        self._display = rich.progress.Progress(
            rich.progress.TextColumn("{task.description}"), rich.progress.BarColumn(),
            rich.progress.MofNCompleteColumn(), rich.progress.TextColumn(unit),
            rich.progress.TaskProgressColumn(), rich.progress.TimeRemainingColumn(),
            console=console, transient=True, disable=not self.enabled)
        self._task: rich.progress.TaskID | None = None

    def __enter__(self) -> Progress:
        self._display.start()
        self._task = self._display.add_task(self.label, total=None)
        return self

    def __call__(self, done: int, total: int | None = None) -> None:
        if self._task is not None:
            self._display.update(self._task, completed=done, total=total)

    def __exit__(self, *_exc: object) -> None:
        self._display.stop()


def settings_from(ctx: click.Context) -> dict[str, Any]:
    obj = ctx.find_root().obj or {}
    return dict(obj.get("settings", {}))


def project_of(ctx: click.Context) -> Project:
    obj = ctx.find_root().obj
    if obj.get("project_obj") is None:
        obj["project_obj"] = open_project(obj["project_dir"], cli=settings_from(ctx))
        ctx.find_root().call_on_close(obj["project_obj"].close)
    project: Project = obj["project_obj"]
    return project


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(rows: Sequence[tuple[str, Any]], indent: str = "  ") -> None:
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        click.echo(f"{indent}{key.ljust(width)}  {value}")

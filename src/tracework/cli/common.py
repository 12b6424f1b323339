"""What every command module shares: the group class that turns tracework's errors into a
message and an exit code, the project of the current invocation, progress on a terminal, and
the JSON and table printers."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

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
    """Shows a running count on a terminal; stays quiet when output is piped."""

    def __init__(self, label: str, enabled: bool | None = None) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.last = 0.0
        self.start = time.monotonic()

    def __call__(self, done: int) -> None:
        t = time.monotonic()
        if self.enabled and t - self.last > 0.2:
            rate = done / max(t - self.start, 1e-9)
            click.echo(f"\r{self.label}: {done} rows ({rate:.0f}/s)", nl=False, err=True)
            self.last = t

    def close(self) -> None:
        if self.enabled:
            click.echo("\r" + " " * 60 + "\r", nl=False, err=True)


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

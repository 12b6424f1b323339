"""The assembled ``tracework`` command and the entry point the console script calls.

Every command module adds its commands to the root group here; :func:`main` turns what a run
ends with into the process's exit status: a :class:`~tracework.core.errors.TraceworkError`'s
own code, 2 for a usage error, 130 for an interrupt and 70 for an internal error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from tracework.cli import audit, conflicts, docs, fieldnotes, privacy, record, render, review, web
from tracework.cli.project import cli
from tracework.core.processes import Terminated, stop_children, terminate_as_interrupt

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_USAGE", "cli", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70
EXIT_TERMINATED = 143      # 128 + SIGTERM, as a shell reports a command a signal stopped


def _register_rooms() -> None:
    for room in (conflicts, review, fieldnotes, audit, docs, render, web, privacy, record):
        for command in room.COMMANDS:
            target = cli.commands.get(command.name or "")
            if isinstance(command, click.Group) and isinstance(target, click.Group):
                for sub in command.commands.values():
                    target.add_command(sub)
            else:
                cli.add_command(command)


_register_rooms()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status; no stack trace reaches a user unless
    ``TRACEWORK_DEBUG`` is set. SIGTERM stops a command as Ctrl-C does (roll back, stop the
    worker processes) and exits 143."""
    with terminate_as_interrupt():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    try:
        # Outside standalone mode click returns the code a command exited with (our group
        # exits with a TraceworkError's code) instead of calling sys.exit itself.
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="tracework",
                          standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click turns an interrupt into Abort, keeping the interrupt as the cause.
        stopped = exc if isinstance(exc, KeyboardInterrupt) else exc.__cause__
        stop_children()
        if isinstance(stopped, Terminated):
            click.echo("stopped (SIGTERM); nothing partial was stored", err=True)
            return EXIT_TERMINATED
        click.echo("interrupted; nothing partial was stored", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("TRACEWORK_DEBUG"):
            raise
        # The message of an unexpected error may quote data (even SQL parameters), so only
        # its type is shown.
        click.echo(f"internal error ({type(exc).__name__}); nothing partial was stored. "
                   "Run again with TRACEWORK_DEBUG=1 for details and report it.", err=True)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())

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

from tracework.cli import audit, conflicts, docs, fieldnotes, privacy, render, review, web
from tracework.cli.project import cli

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_USAGE", "cli", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70


def _register_rooms() -> None:
    for room in (conflicts, review, fieldnotes, audit, docs, render, web, privacy):
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
    ``TRACEWORK_DEBUG`` is set."""
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
    except click.exceptions.Abort:
        click.echo("interrupted; nothing partial was stored", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
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

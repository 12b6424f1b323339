"""The command line: one module per room, each a thin layer that parses arguments, calls the
library function of the same name and formats the result.

``project`` holds the root group and the project-wide commands (init, ingest, status, log,
verify, export, settings, demo); ``review``, ``fieldnotes``, ``audit``, ``docs``, ``render`` and
``web`` hold their rooms' commands; ``common`` what they share; ``app`` assembles them and is
the console script's entry point. This is the top room: it may import every other, and none
imports it.
"""

from __future__ import annotations

from tracework.cli.app import cli, main

__all__ = ["cli", "main"]

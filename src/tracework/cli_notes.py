"""Command-line commands of the notes room; registered on the main group by cli.py."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

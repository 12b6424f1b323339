"""Command-line commands of the render room; registered on the main group by cli.py."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

"""Label Studio JSON exports in: :func:`tracework.formats.labelstudio.read_labelstudio` through
the shared platform importer (one transaction, idempotent, identity to the vault)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from tracework.core.project import Project
from tracework.formats.labelstudio import PLATFORM, read_labelstudio
from tracework.ingest.common import Progress
from tracework.ingest.platforms import PlatformReport, ingest_platform

__all__ = ["ingest_labelstudio"]


def ingest_labelstudio(project: Project, path: Path | str, *,
                       progress: Progress | None = None) -> PlatformReport:
    """Import a Label Studio JSON export: one submission per annotation (and per draft never
    submitted), its person by pseudonym, its results as annotations in pixels."""
    read = partial(read_labelstudio, max_pixels=int(project.settings["max_pixels"]))
    return ingest_platform(project, path, PLATFORM, read, progress=progress)

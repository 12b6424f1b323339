"""CVAT for images 1.1 XML in: :func:`tracework.formats.cvat.read_cvat` through the shared
platform importer (one transaction, idempotent, identity to the vault)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from tracework.core.project import Project
from tracework.formats.cvat import PLATFORM, read_cvat
from tracework.ingest.common import Progress
from tracework.ingest.platforms import PlatformReport, ingest_platform

__all__ = ["ingest_cvat"]


def ingest_cvat(project: Project, path: Path | str, *, images_dir: Path | None = None,
                progress: Progress | None = None) -> PlatformReport:
    """Import a CVAT for images 1.1 XML file: one submission per image, attributed to the
    assignee of the job that holds it, or to the job. With ``images_dir``, each image's local
    file is hashed into its asset."""
    read = partial(read_cvat, max_pixels=int(project.settings["max_pixels"]))
    return ingest_platform(project, path, PLATFORM, read, progress=progress,
                           images_dir=images_dir)

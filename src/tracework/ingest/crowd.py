"""SageMaker Ground Truth and Toloka files in, through the one platform importer.

Thin: each function reads its file with its :mod:`tracework.formats` reader and hands the
canonical record to :func:`~tracework.ingest.platforms.ingest_platform` (one transaction,
idempotent per file, every person to the vault). What each file cannot tell — who did a Ground
Truth job's work without its worker responses, pay that a file does not hold — is in the
report's ``notes``.
"""

from __future__ import annotations

from pathlib import Path

from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.formats import groundtruth, toloka
from tracework.formats.canonical import PlatformFile
from tracework.ingest.common import Progress
from tracework.ingest.platforms import PlatformReport, ingest_platform

__all__ = ["ingest_groundtruth", "ingest_toloka"]


def ingest_groundtruth(project: Project, manifest: Path | str, *,
                       responses: Path | str | None = None, images: Path | str | None = None,
                       label_attribute: str | None = None,
                       progress: Progress | None = None) -> PlatformReport:
    """Import a Ground Truth output manifest and, when given, the job's worker responses.

    Without ``responses`` the labels are attributed to their job, not to people (the notes
    say so). ``images`` is the folder of segmentation label maps; ``label_attribute`` names
    the job the responses belong to when the manifest went through several.
    """
    for folder, option in ((responses, "--responses"), (images, "--images")):
        if folder is not None and not Path(folder).is_dir():
            raise InputError("is not a folder", file=str(folder), field=option)

    def read(path: Path) -> PlatformFile:
        return groundtruth.read_groundtruth(
            path, responses=responses, images=images, label_attribute=label_attribute,
            max_line_bytes=project.settings["max_field_bytes"],
            max_pixels=project.settings["max_pixels"])

    report = ingest_platform(project, manifest, "groundtruth", read, progress=progress)
    if report.repeated and responses is not None:
        report.notes = ["This manifest was imported before, so its worker responses were not "
                        "read now; a manifest's worker responses are read with its first "
                        "import."]
    return report


def ingest_toloka(project: Project, path: Path | str, *, images: Path | str | None = None,
                  pool: str | None = None, progress: Progress | None = None) -> PlatformReport:
    """Import a Toloka results TSV: one submission per task, its suite's pay and time shared.

    ``images`` is a folder of the task images (looked up by file name) whose sizes turn
    Toloka's relative shapes into pixels; ``pool`` names the batch when the file's
    assignment links do not.
    """
    if images is not None and not Path(images).is_dir():
        raise InputError("is not a folder", file=str(images), field="--images")
    size = toloka.image_sizes_in(images) if images is not None else None

    def read(source: Path) -> PlatformFile:
        return toloka.read_toloka(source, pool=pool, image_size=size,
                                  max_field_bytes=project.settings["max_field_bytes"],
                                  max_columns=project.settings["max_columns"])

    return ingest_platform(project, path, "toloka", read, progress=progress)

"""Imports of annotation work: each outside file (read by :mod:`tracework.formats`) becomes
batches, submissions, annotations, workers by pseudonym and survey responses, in one
transaction, idempotently (a file's SHA-256 is recorded), with every change in the ledger.

May import: :mod:`tracework.core` and :mod:`tracework.formats`.
"""

from __future__ import annotations

from tracework.ingest.common import ImportReport
from tracework.ingest.conflicts import (
    Conflict,
    list_conflicts,
    resolve_conflict,
    show_conflict,
)
from tracework.ingest.cvat import ingest_cvat
from tracework.ingest.labelstudio import ingest_labelstudio
from tracework.ingest.mturk import MTURK_TIME_KIND, ingest_mturk
from tracework.ingest.qualtrics import ingest_qualtrics

__all__ = ["MTURK_TIME_KIND", "Conflict", "ImportReport", "ingest_cvat", "ingest_labelstudio",
           "ingest_mturk", "ingest_qualtrics",
           "list_conflicts", "resolve_conflict", "show_conflict"]

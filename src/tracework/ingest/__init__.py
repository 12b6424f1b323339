"""Imports of annotation work: each outside file (read by :mod:`tracework.formats`) becomes
batches, submissions, annotations, workers by pseudonym and survey responses, in one
transaction, idempotently (a file's SHA-256 is recorded), with every change in the ledger.

May import: :mod:`tracework.core` and :mod:`tracework.formats`.
"""

from __future__ import annotations

from tracework.ingest.importer import (
    MTURK_TIME_KIND,
    ImportReport,
    ingest_mturk,
    ingest_qualtrics,
)

__all__ = ["MTURK_TIME_KIND", "ImportReport", "ingest_mturk", "ingest_qualtrics"]

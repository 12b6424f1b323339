"""Documentation computed from the records: Croissant metadata with the Responsible-AI
vocabulary and per-annotation provenance, a datasheet, a dataset card, credits, and a
publishable bundle of all of them with the dataset and its change log, and the offline
inspection of such a bundle by anyone who receives it (:func:`inspect_bundle`).

Each function takes a project and the same selection options as the dataset exports
(``status``, ``batches``, ``categories``) and returns a report of what it wrote.
"""

from __future__ import annotations

from tracework.docs.bundle import BundleReport, export_bundle
from tracework.docs.card import export_card
from tracework.docs.credits import export_credits
from tracework.docs.croissant import DocsReport, export_croissant
from tracework.docs.datasheet import export_datasheet
from tracework.docs.inspection import Inspection, inspect_bundle

__all__ = [
    "BundleReport",
    "DocsReport",
    "Inspection",
    "export_bundle",
    "export_card",
    "export_credits",
    "export_croissant",
    "export_datasheet",
    "inspect_bundle",
]

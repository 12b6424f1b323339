"""Audits of a project: labour (pay and unpaid time), agreement, aggregation, group audits.

Each audit reads the store in one consistent snapshot and returns a dataclass with an
``as_dict()`` for JSON; every figure can be traced back to its rows (``explain``).
"""

from __future__ import annotations

from tracework.audit.aggregate import AggregateReport, aggregate
from tracework.audit.agreement import AgreementAudit, agreement_audit
from tracework.audit.alpha import krippendorff_alpha
from tracework.audit.dawid_skene import dawid_skene, majority_vote
from tracework.audit.groups import GroupAudit, group_audit
from tracework.audit.labour import LabourAudit, WorkerLabour, labour_audit
from tracework.audit.segmentation import mask_em, pixel_majority
from tracework.audit.suppress import Suppression, suppress_counts

__all__ = [
    "AggregateReport",
    "AgreementAudit",
    "GroupAudit",
    "LabourAudit",
    "Suppression",
    "WorkerLabour",
    "aggregate",
    "agreement_audit",
    "dawid_skene",
    "group_audit",
    "krippendorff_alpha",
    "labour_audit",
    "majority_vote",
    "mask_em",
    "pixel_majority",
    "suppress_counts",
]

"""Fair review: rules propose, people decide, every rejection has a reason, workers can contest.

The flow, each step a function (and a ``tracework review`` command of the same name)::

    propose(project)                       # rules from [review] of tracework.toml → proposals
    review_list(project, proposed=True)    # the queue
    decide(project, 12, "reject", reason_code="parts_missing")
    accept_proposals(project)              # or: decide all as proposed, in bulk
    decide_file(project, "batch.csv")      # or: X / reasons typed into the platform's file
    approve_unflagged(project)             # approve what no rule flags
    export_mturk(project, "upload.csv")    # the platform's decision upload file
    contest(project, 12, "I labelled all five parts")
    resolve(project, 12, "overturn", "The cable was labelled; our check missed it.")

Decisions live in the ``reviews`` table (the newest row per submission is in force) and are
mirrored in ``submissions.status`` (Approved, Rejected, Rework) with a ledger entry.
"""

from __future__ import annotations

from tracework.review.blind import Reveal, reveal, revealed, revealed_worker
from tracework.review.common import DECISIONS, Decision, window
from tracework.review.decision_file import FILE_COLUMNS, decide_file
from tracework.review.decisions import (
    UNSET,
    BulkReport,
    DecisionResult,
    ProposeReport,
    accept_proposals,
    approve_unflagged,
    decide,
    propose,
    review_config,
)
from tracework.review.disputes import ContestResult, ResolveResult, contest, resolve
from tracework.review.platform import (
    UPLOAD_COLUMNS,
    ExportReport,
    export_mturk,
    export_rework,
    platform_ids,
    write_private,
)
from tracework.review.queue import STATES, QueueItem, review_list
from tracework.review.reasons import REASON_MAX_CHARS, check_reason, clean_reason
from tracework.review.rules import KINDS, ReviewConfig, Rule, config_template

__all__ = [
    "DECISIONS",
    "FILE_COLUMNS",
    "KINDS",
    "REASON_MAX_CHARS",
    "STATES",
    "UNSET",
    "UPLOAD_COLUMNS",
    "BulkReport",
    "ContestResult",
    "Decision",
    "DecisionResult",
    "ExportReport",
    "ProposeReport",
    "QueueItem",
    "ResolveResult",
    "Reveal",
    "ReviewConfig",
    "Rule",
    "accept_proposals",
    "approve_unflagged",
    "check_reason",
    "clean_reason",
    "config_template",
    "contest",
    "decide",
    "decide_file",
    "export_mturk",
    "export_rework",
    "platform_ids",
    "propose",
    "resolve",
    "review_config",
    "review_list",
    "reveal",
    "revealed",
    "revealed_worker",
    "window",
    "write_private",
]

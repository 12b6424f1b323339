"""Tables of the audit room, on the one schema metadata (migrations: their own branch).

Aggregated labels are a layer of their own: each ``tracework aggregate`` run is a row of
``aggregation_runs`` with the labels it derived in ``aggregate_labels`` and each worker's
estimated skill in ``aggregate_workers``. Individual labels (``annotations``) are never
changed by aggregation.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from tracework.core.store.tables_base import metadata

__all__ = ["aggregation_runs", "aggregate_labels", "aggregate_workers", "audit_results"]

aggregation_runs = Table(
    "aggregation_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),            # class | mask
    Column("method", String(32), nullable=False),          # majority_vote | dawid_skene | ...
    Column("params", Text, nullable=False),                # canonical JSON
    Column("inputs_sha256", String(64), nullable=False),   # over the individual labels read
    Column("inputs", Integer, nullable=False),             # individual labels read
    Column("items", Integer, nullable=False),              # aggregated labels written
    Column("iterations", Integer),
    Column("actor", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

aggregate_labels = Table(
    "aggregate_labels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("aggregation_runs.id"), nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id")),
    Column("unit", Text, nullable=False),                  # what was labelled: task or asset key
    Column("element", Text, nullable=False),
    Column("kind", String(16), nullable=False),            # class | mask
    Column("category", Text),                              # the class, or the mask's category
    Column("confidence", Float),                           # posterior of the class / mean EM accuracy
    Column("rle_counts", Text),
    Column("height", Integer),
    Column("width", Integer),
    Column("bbox_x", Float),
    Column("bbox_y", Float),
    Column("bbox_w", Float),
    Column("bbox_h", Float),
    Column("area", Float),
    Column("workers", Text, nullable=False),               # JSON list of pseudonyms combined
    Column("submissions", Text, nullable=False),           # JSON list of submission ids
    Index("ix_aggregate_labels_run", "run_id"),
    Index("ix_aggregate_labels_asset", "asset_id"),
)

aggregate_workers = Table(
    "aggregate_workers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("aggregation_runs.id"), nullable=False),
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("element", Text, nullable=False),               # question, or mask category
    Column("labels", Integer, nullable=False),
    Column("skill", Float),                                # estimated accuracy (the weight)
    Column("confusion", Text),                             # JSON {"classes", "matrix"[observed][true]}
    Index("ix_aggregate_workers_run", "run_id"),
    Index("ix_aggregate_workers_worker", "worker"),
)


# The last result of each audit, by what it was asked (``key``: the audit, its parameters, the
# project's configuration and the shape of the result) and the ledger head it was computed at.
# Derived data: recomputed from the tables at will, never part of the ledger.
audit_results = Table(
    "audit_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),            # labour | agreement | groups …
    Column("key", String(64), nullable=False),
    Column("params", Text, nullable=False),                # canonical JSON, for people
    Column("ledger_seq", Integer, nullable=False),
    Column("ledger_head", String(64), nullable=False),
    Column("computed_at", String(32), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("result", Text, nullable=False),                # the audit as JSON
    Index("ix_audit_results_key", "key", "ledger_head"),
)

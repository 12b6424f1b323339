"""Tables of the docs room, on the one schema metadata (migrations: their own branch)."""

from __future__ import annotations

from tracework.core.store.tables_base import metadata

__all__: list[str] = []
_ = metadata

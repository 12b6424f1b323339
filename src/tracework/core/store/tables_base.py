"""The one SQLAlchemy metadata every table of a tracework store is declared on: the core tables
in :mod:`~tracework.core.store.schema`, each room's in ``tables_<room>.py``."""

from sqlalchemy import MetaData

__all__ = ["metadata"]

metadata = MetaData()

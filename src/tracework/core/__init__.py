"""The foundation every room stands on: the exception tree (``errors``), the settings table
(``settings``), the project folder (``project``), the store (``store``), the hash-chained change
log (``ledger``), pseudonyms and the vault (``privacy``), the canonical exported dataset
(``model``), the versioned taxonomy in force (``taxonomy``), atomic and neutralised files
(``files``, ``safecsv``), and status, log and verify (``status``).

This is the lowest room: it imports no other room of tracework.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

"""Fieldnotes and the categories they question: colour-coded notes on any target
(``notes``), the versioned taxonomy and the changes people make to it, with workers' flags from
a survey (``taxonomy``), the spreadsheet round trip (``sheet`` and its workbook writer
``xlsx``), and keyed cell-level diffs of tables and of the ledger (``diff``).

May import: :mod:`tracework.core` and :mod:`tracework.formats`.
"""

from __future__ import annotations

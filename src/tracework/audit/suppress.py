"""Small-cell suppression of a table of group counts, with complementary suppression.

A cell (a group's number of people) is published only when it is 0 or at least ``k``. Cells
with 0 < n < k are suppressed (primary suppression). The table's total is taken to be known
(it can usually be worked out from other published figures), so one suppressed cell alone
could be recomputed as the total minus the published cells; and several suppressed cells
whose sum is below ``k`` would reveal that each of them is small. So further cells are
suppressed, smallest first, until at least two cells are suppressed and their sum is at least
``k`` (complementary suppression). If even suppressing every non-zero cell leaves the sum
below ``k``, the total is suppressed too.

Consequence: no published cell lies strictly between 0 and ``k``, and from the published
cells and total, every suppressed cell could take at least two values, one of them at least
``k``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Suppression", "suppress_counts"]


@dataclass(frozen=True)
class Suppression:
    k: int
    published: dict[str, int]        # cells shown, with their counts
    suppressed: list[str]            # cells hidden
    primary: list[str]               # hidden because 0 < n < k
    complementary: list[str]         # hidden so that the primary ones cannot be recomputed
    total: int | None                # the margin; None when it had to be hidden as well

    def shown(self, cell: str) -> bool:
        return cell in self.published


def suppress_counts(cells: Mapping[str, int], k: int) -> Suppression:
    """Which cells of a one-way table of counts may be published with minimum cell size k."""
    if k < 1:
        raise ValueError("k must be at least 1")
    if any(n < 0 for n in cells.values()):
        raise ValueError("counts cannot be negative")
    primary = sorted(c for c, n in cells.items() if 0 < n < k)
    hidden = set(primary)
    # Candidates for complementary suppression: non-zero published cells, smallest first
    # (ties by name, so the result does not depend on the order the cells came in).
    candidates = sorted((n, c) for c, n in cells.items() if n > 0 and c not in hidden)
    complementary = []

    def unsafe() -> bool:
        hidden_sum = sum(cells[c] for c in hidden)
        return bool(hidden) and (len(hidden) == 1 or hidden_sum < k)

    while unsafe() and candidates:
        _, cell = candidates.pop(0)
        hidden.add(cell)
        complementary.append(cell)
    total: int | None = sum(cells.values())
    if unsafe() or (total is not None and 0 < total < k):
        total = None
    published = {c: n for c, n in cells.items() if c not in hidden}
    return Suppression(k, dict(sorted(published.items())), sorted(hidden), primary,
                       complementary, total)

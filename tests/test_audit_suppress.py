"""Small-cell suppression: hand cases and the property that matters (no published cell
between 0 and k; no suppressed cell recoverable from the published cells and margin)."""

from __future__ import annotations

from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from tracework.audit.suppress import suppress_counts


def test_one_small_cell_takes_the_next_smallest_with_it() -> None:
    s = suppress_counts({"a": 3, "b": 12, "c": 7, "d": 0}, 5)
    assert s.primary == ["a"]
    assert s.complementary == ["c"]            # a alone = total - b - c - d
    assert s.published == {"b": 12, "d": 0}
    assert s.total == 22


def test_small_cells_are_hidden_until_their_sum_reaches_k() -> None:
    s = suppress_counts({"a": 1, "b": 2, "c": 9, "d": 30}, 5)
    assert s.primary == ["a", "b"]             # a + b = 3 would say both are small
    assert s.complementary == ["c"]
    assert s.published == {"d": 30}


def test_everything_small_hides_the_total() -> None:
    s = suppress_counts({"a": 1, "b": 2}, 5)
    assert s.published == {} and s.total is None
    s = suppress_counts({"a": 4}, 5)
    assert s.published == {} and s.total is None


def test_nothing_small_publishes_everything() -> None:
    s = suppress_counts({"a": 5, "b": 0, "c": 17}, 5)
    assert s.suppressed == [] and s.total == 22


def _feasible_values(hidden: list[str], remainder: int, cells: dict[str, int]) -> dict[str, set[int]]:
    """Every value each hidden cell can take given the published cells and total."""
    values: dict[str, set[int]] = {c: set() for c in hidden}
    for combo in product(range(remainder + 1), repeat=len(hidden)):
        if sum(combo) == remainder:
            for c, v in zip(hidden, combo):
                values[c].add(v)
    return values


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 14), min_size=1, max_size=6),
       st.integers(1, 6))
def test_suppression_property(cells: dict[str, int], k: int) -> None:
    s = suppress_counts(cells, k)
    # 1. No published cell lies strictly between 0 and k.
    assert all(n == 0 or n >= k for n in s.published.values())
    assert set(s.published) | set(s.suppressed) == set(cells)
    assert s.total is None or s.total == sum(cells.values())
    if s.total is not None and s.suppressed:
        # 2. From what is published, each hidden cell could take several values, one of them
        # at least k: it can neither be recomputed nor shown to be small.
        remainder = s.total - sum(s.published.values())
        for cell, possible in _feasible_values(s.suppressed, remainder, cells).items():
            assert cells[cell] in possible
            assert len(possible) >= 2
            assert max(possible) >= k
    # 3. The result does not depend on the order the cells came in.
    again = suppress_counts(dict(reversed(list(cells.items()))), k)
    assert again == s

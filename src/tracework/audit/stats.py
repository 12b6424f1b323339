"""Small statistics the audits share: quantiles, a permutation test, Holm's correction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PERMUTATION_CHUNK_VALUES", "QUANTILES", "PermutationTest", "holm", "median",
           "permutation_counts", "permutation_test", "permutation_tests", "quantiles"]

# Random draws held at once by a permutation test (8 bytes each; the sorted copy and a group
# indicator as large again): a block that stays in a core's cache, where passes over it cost
# a fraction of what they cost from memory.
PERMUTATION_CHUNK_VALUES = 131_072

QUANTILES = {"min": 0.0, "p10": 0.10, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.90,
             "max": 1.0}


def quantiles(values: Sequence[float | None]) -> dict[str, float | None]:
    """Min, deciles, quartiles, median and max (linear interpolation) of the known values."""
    known = np.array([v for v in values if v is not None], dtype=np.float64)
    if known.size == 0:
        return {k: None for k in QUANTILES}
    qs = np.quantile(known, list(QUANTILES.values()))
    return {k: float(v) for k, v in zip(QUANTILES, qs, strict=True)}


def median(values: Sequence[float | None]) -> float | None:
    return quantiles(values)["median"]


@dataclass(frozen=True)
class PermutationTest:
    """Two-sided test that one group's mean differs from the rest's more than chance would."""

    statistic: float          # group mean minus the mean of the others
    p_value: float            # (1 + permutations at least as extreme) / (1 + permutations)
    permutations: int
    seed: int


def permutation_test(values: ArrayLike, in_group: ArrayLike, *, permutations: int,
                     seed: int) -> PermutationTest:
    """Shuffle group membership ``permutations`` times (a seeded NumPy PCG64 stream)."""
    (result,) = permutation_tests([(values, in_group)], permutations=permutations, seed=seed)
    return result


def _extreme(diffs: np.ndarray, observed: float) -> int:
    return int(np.count_nonzero(
        np.abs(diffs) >= abs(observed) - 1e-12 * max(1.0, abs(observed))))


def _kth_among(keys: np.ndarray, ordered: np.ndarray, others: np.ndarray, k: int
               ) -> np.ndarray:
    """Per row, the k-th smallest key of the workers taking part, from the row's sorted keys
    and the keys of the few who do not (``others``): the least position j of the sorted row
    with j = k - 1 + (others' keys up to it), found by stepping up to it."""
    rows = np.arange(len(keys))
    if others.size == 0:
        return np.asarray(ordered[:, k - 1])
    theirs = keys[:, others]
    j = np.full(len(keys), k - 1)
    while True:
        kth = ordered[rows, j]
        step = k - 1 + np.count_nonzero(theirs <= kth[:, None], axis=1)
        if np.array_equal(step, j):
            return np.asarray(kth)
        j = step


@dataclass(frozen=True)
class _Plan:
    """The tests of one draw, grouped by the workers taking part and the group size."""

    n: int                                             # workers of the draw
    observed: list[float]
    totals: list[float]
    sizes: list[tuple[int, int]]                       # per test: (its workers, k)
    units: dict[tuple[bytes, int], list[int]]          # (who takes part, k) -> tests
    columns: dict[tuple[bytes, int], np.ndarray]       # their values, and who takes part
    among: dict[bytes, np.ndarray]                     # who takes part -> their indices


def _plan(tests: Sequence[tuple[ArrayLike, ...]]) -> _Plan:
    xs = [np.asarray(t[0], dtype=np.float64) for t in tests]
    gs = [np.asarray(t[1], dtype=bool) for t in tests]
    n = len(xs[0])
    ws = [np.asarray(t[2], dtype=bool) if len(t) > 2 else np.ones(n, bool) for t in tests]
    if any(len(a) != n for a in (*xs, *gs, *ws)):
        raise ValueError("every test needs the same number of workers")
    observed, totals, sizes = [], [], []
    units: dict[tuple[bytes, int], list[int]] = {}
    among: dict[bytes, np.ndarray] = {}
    for i, (x, g, w) in enumerate(zip(xs, gs, ws, strict=True)):
        g = g & w
        k, m = int(g.sum()), int(w.sum())
        if k == 0 or k == m:
            raise ValueError("both the group and the rest need members")
        total, inside = float(x[w].sum()), float(x[g].sum())
        observed.append(inside / k - (total - inside) / (m - k))
        totals.append(total)
        sizes.append((m, k))
        key = w.tobytes()
        among.setdefault(key, np.flatnonzero(w))
        units.setdefault((key, k), []).append(i)
    columns = {}
    for (key, k), idx in units.items():
        w = np.frombuffer(key, dtype=bool)
        columns[(key, k)] = np.column_stack([np.where(w, xs[i], 0.0) for i in idx]
                                            + [w.astype(np.float64)])
    return _Plan(n, observed, totals, sizes, units, columns, among)


def permutation_counts(tests: Sequence[tuple[ArrayLike, ...]], *, permutations: int,
                       seed: int, start: int = 0, stop: int | None = None) -> list[int]:
    """For each test, how many of the permutations ``start`` to ``stop`` (of the seed's
    stream) are at least as extreme as the observed difference; see
    :func:`permutation_tests`. Ranges can run anywhere and be added up."""
    plan = _plan(tests)
    n = plan.n
    stop = permutations if stop is None else min(stop, permutations)
    bits = np.random.PCG64(seed)
    bits.advance(start * n)                    # one 64-bit draw per key
    rng = np.random.Generator(bits)
    outside = {key: np.flatnonzero(~np.frombuffer(key, dtype=bool)) for key in plan.among}
    extreme = [0] * len(plan.observed)
    rows = max(1, min(permutations, PERMUTATION_CHUNK_VALUES // n))
    for first in range(start, stop, rows):
        keys = rng.random((min(rows, stop - first), n))
        ordered = np.sort(keys, axis=1)
        inside = np.empty_like(keys)
        own: dict[bytes, np.ndarray] = {}
        for (key, k), idx in plan.units.items():
            if outside[key].size * 4 > n:       # few take part: sort their keys instead
                if key not in own:
                    own[key] = np.sort(keys[:, plan.among[key]], axis=1)
                kth = own[key][:, k - 1]
            else:
                kth = _kth_among(keys, ordered, outside[key], k)
            np.less_equal(keys, kth[:, None], out=inside, casting="unsafe")
            sums = inside @ plan.columns[(key, k)]
            _break_ties(keys, k, plan.columns[(key, k)], sums, plan.among[key])
            for col, i in enumerate(idx):
                m = plan.sizes[i][0]
                extreme[i] += _extreme(sums[:, col] / k - (plan.totals[i] - sums[:, col]) / (m - k),
                                       plan.observed[i])
    return extreme


def _break_ties(keys: np.ndarray, k: int, columns: np.ndarray, sums: np.ndarray,
                among: np.ndarray) -> None:
    """Rows where a key equal to the k-th smallest drew more than ``k`` workers (a tie of two
    random doubles, about once in 10^12 rows): the group is the ``k`` that a partial sort
    puts first."""
    tied = np.flatnonzero(sums[:, -1] != k)
    if tied.size:
        chosen = np.argpartition(keys[np.ix_(tied, among)], k - 1, axis=1)[:, :k]
        sums[tied] = columns[among][chosen].sum(axis=1)


def permutation_tests(tests: Sequence[tuple[ArrayLike, ...]], *, permutations: int,
                      seed: int) -> list[PermutationTest]:
    """:func:`permutation_test` of each (values, in_group[, among]) triple, from one shared
    stream of draws: all arrays have one entry per worker of the draw, and ``among`` (default
    everyone) marks the workers a test compares; the others' values are ignored.

    Each permutation draws one uniform key per worker (the seed's NumPy PCG64 stream, row
    after row); a test's group is the ``k`` workers with the smallest keys among those it
    compares (the first ``k`` of a random order of them). Every test sees the same
    permutations, and a test over everyone is what :func:`permutation_test` gives it alone.
    The draws come in blocks of rows small enough to stay in a core's cache: per block one
    sort of the keys gives each test's k-th smallest key, and per (workers compared, group
    size) one matrix product of the group indicators with the tests' values sums every
    test's group in every permutation.
    """
    if not tests:
        return []
    plan = _plan(tests)
    extreme = permutation_counts(tests, permutations=permutations, seed=seed)
    return [PermutationTest(o, (1.0 + e) / (1.0 + permutations), permutations, seed)
            for o, e in zip(plan.observed, extreme, strict=True)]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted

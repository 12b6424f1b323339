"""Small statistics the audits share: quantiles, a permutation test, Holm's correction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PERMUTATION_CHUNK_VALUES", "QUANTILES", "PermutationTest", "holm", "median",
           "permutation_test", "permutation_tests", "quantiles"]

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


def _break_ties(keys: np.ndarray, k: int, columns: np.ndarray, sums: np.ndarray) -> None:
    """Rows where a key equal to the k-th smallest drew more than ``k`` workers (a tie of two
    random doubles, about once in 10^12 rows): the group is the ``k`` that a partial sort
    puts first, as :func:`numpy.argpartition` always did."""
    tied = np.flatnonzero(sums[:, -1] != k)
    if tied.size:
        chosen = np.argpartition(keys[tied], k - 1, axis=1)[:, :k]
        sums[tied] = columns[chosen].sum(axis=1)


def permutation_tests(tests: Sequence[tuple[ArrayLike, ArrayLike]], *, permutations: int,
                      seed: int) -> list[PermutationTest]:
    """:func:`permutation_test` of each (values, in_group) pair, all over the same number of
    workers, from one shared stream of draws: the same results as testing each on its own
    with this seed, for the cost of drawing the permutations once.

    Each permutation draws the group as the ``k`` smallest of ``n`` uniform keys (the first
    ``k`` of a random order of the workers). The draws come in chunks of rows, so memory is
    bounded whatever the number of permutations and workers; the stream is consumed in the
    same order, so p is the same for a seed. Per chunk, one sort of the keys gives the k-th
    smallest for every group size, and per size one matrix product of the group indicators
    with the tests' values sums every test's group in every permutation.
    """
    xs = [np.asarray(v, dtype=np.float64) for v, _ in tests]
    gs = [np.asarray(g, dtype=bool) for _, g in tests]
    if not xs:
        return []
    n = len(xs[0])
    if any(len(x) != n or len(g) != n for x, g in zip(xs, gs, strict=True)):
        raise ValueError("every test needs the same number of workers")
    ks = [int(g.sum()) for g in gs]
    if any(k == 0 or k == n for k in ks):
        raise ValueError("both the group and the rest need members")
    totals = [float(x.sum()) for x in xs]
    observed = [float(x[g].sum() / k - (t - x[g].sum()) / (n - k))
                for x, g, k, t in zip(xs, gs, ks, totals, strict=True)]
    sizes = sorted(set(ks))
    # Per group size: the tests of that size, their values as columns (and a column of ones,
    # which counts the workers drawn into each group).
    by_size = {k: [i for i, ki in enumerate(ks) if ki == k] for k in sizes}
    columns = {k: np.column_stack([xs[i] for i in idx] + [np.ones(n)])
               for k, idx in by_size.items()}
    extreme = [0] * len(xs)
    rng = np.random.Generator(np.random.PCG64(seed))
    rows = max(1, min(permutations, PERMUTATION_CHUNK_VALUES // n))
    for start in range(0, permutations, rows):
        keys = rng.random((min(rows, permutations - start), n))
        ordered = np.sort(keys, axis=1)
        inside = np.empty_like(keys)
        for k in sizes:
            np.less_equal(keys, ordered[:, k - 1:k], out=inside, casting="unsafe")
            sums = inside @ columns[k]
            _break_ties(keys, k, columns[k], sums)
            for col, i in enumerate(by_size[k]):
                extreme[i] += _extreme(sums[:, col] / k - (totals[i] - sums[:, col]) / (n - k),
                                       observed[i])
    return [PermutationTest(o, (1.0 + e) / (1.0 + permutations), permutations, seed)
            for o, e in zip(observed, extreme, strict=True)]


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

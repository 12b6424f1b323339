"""Small statistics the audits share: quantiles, a permutation test, Holm's correction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PERMUTATION_CHUNK_VALUES", "QUANTILES", "PermutationTest", "holm", "median",
           "permutation_test", "quantiles"]

# Random draws held at once by a permutation test (8 bytes each, plus the chosen indices).
PERMUTATION_CHUNK_VALUES = 2_000_000

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
    x = np.asarray(values, dtype=np.float64)
    g = np.asarray(in_group, dtype=bool)
    k, n = int(g.sum()), len(x)
    if k == 0 or k == n:
        raise ValueError("both the group and the rest need members")
    total = x.sum()

    def diff(group_sums: np.ndarray) -> np.ndarray:
        return np.asarray(group_sums / k - (total - group_sums) / (n - k))

    observed = float(diff(np.array([x[g].sum()]))[0])
    rng = np.random.Generator(np.random.PCG64(seed))
    # Each permutation draws the group as the first k of a random order of the workers. The
    # draws come in chunks of rows, so memory is bounded whatever the number of permutations
    # and workers; the stream is consumed in the same order, so p is the same for a seed.
    rows = max(1, min(permutations, PERMUTATION_CHUNK_VALUES // n))
    extreme = 0
    for start in range(0, permutations, rows):
        keys = rng.random((min(rows, permutations - start), n))
        chosen = np.argpartition(keys, k - 1, axis=1)[:, :k]
        sums = x[chosen].sum(axis=1)
        extreme += int(np.count_nonzero(
            np.abs(diff(sums)) >= abs(observed) - 1e-12 * max(1.0, abs(observed))))
    p = (1.0 + extreme) / (1.0 + permutations)
    return PermutationTest(observed, p, permutations, seed)


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

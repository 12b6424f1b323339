"""Krippendorff's alpha for nominal data, with missing values.

alpha = 1 - D_o / D_e, from the coincidence matrix of the values that can be paired (units
with at least two values). For nominal data only its diagonal and margins matter:

    alpha = 1 - (n - 1) * (n - sum_c o_cc) / (n**2 - sum_c n_c**2)

where n is the number of pairable values, n_c how many of them are c, and
o_cc = sum over units u of n_uc * (n_uc - 1) / (m_u - 1), with m_u the values in unit u.
So no units × values × values array is ever built: a reliability matrix with few coders is
handled by comparing coder rows pairwise (sum_c n_uc**2 = m_u + 2 × the agreeing pairs), and
long tables of (unit, value) by counting each unit's values.

The result is undefined (NaN) when no unit has two values or all pairable values are equal.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["alpha_from_codes", "krippendorff_alpha"]

# Up to this many coders, agreement per unit is counted by comparing coder rows pairwise.
_PAIRWISE_CODERS = 24


def _alpha(n: float, observed_diag: float, margins: NDArray[np.float64]) -> float:
    spread = n * n - float(np.dot(margins, margins))
    if n < 2 or spread <= 0:
        return float("nan")
    return 1.0 - (n - 1.0) * (n - observed_diag) / spread


def _value_margins(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """How often each distinct value occurs (order irrelevant)."""
    if values.size == 0:
        return np.zeros(0)
    low, high = values.min(), values.max()
    if high - low < 1 << 20 and np.array_equal(values, np.floor(values)):
        counts = np.bincount((values - low).astype(np.int64))
        return counts[counts > 0].astype(np.float64)
    return np.unique(values, return_counts=True)[1].astype(np.float64)


def krippendorff_alpha(reliability_data: ArrayLike) -> float:
    """Nominal alpha of a coders × units matrix; NaN (or None) marks a missing value.

    Values may be numbers or strings (strings: None or "" is missing).
    """
    data = np.asarray(reliability_data)
    if data.ndim != 2:
        raise ValueError("reliability data must be a coders × units matrix")
    if data.dtype.kind not in "iufb":
        data = _codes_of_objects(data)
    data = data.astype(np.float64, copy=False)
    present = ~np.isnan(data)
    m = present.sum(axis=0)
    if data.shape[0] > _PAIRWISE_CODERS:
        coder, unit = np.nonzero(present)
        return alpha_from_codes(unit, data[coder, unit])
    pairable = m >= 2
    agreeing = np.zeros(data.shape[1])
    for i in range(data.shape[0]):
        for j in range(i + 1, data.shape[0]):
            agreeing += data[i] == data[j]   # NaN never equals anything
    sq = m + 2.0 * agreeing
    observed_diag = float(np.sum((sq[pairable] - m[pairable]) / (m[pairable] - 1.0)))
    margins = _value_margins(data[:, pairable][present[:, pairable]])
    return _alpha(float(m[pairable].sum()), observed_diag, margins)


def _codes_of_objects(data: NDArray[np.object_]) -> NDArray[np.float64]:
    flat = data.ravel()
    missing = np.array([v is None or v == "" or (isinstance(v, float) and v != v)
                        for v in flat])
    codes = np.full(flat.shape, np.nan)
    if (~missing).any():
        _, inverse = np.unique(flat[~missing].astype(str), return_inverse=True)
        codes[~missing] = inverse
    return codes.reshape(data.shape)


def alpha_from_codes(units: ArrayLike, values: ArrayLike) -> float:
    """Nominal alpha from a long table: one entry per (unit, value) given by some coder."""
    u = np.asarray(units, dtype=np.int64)
    v = np.asarray(values)
    if u.shape != v.shape or u.ndim != 1:
        raise ValueError("units and values must be one-dimensional and of equal length")
    if u.size == 0:
        return float("nan")
    _, unit_index = np.unique(u, return_inverse=True)
    _, value_index = np.unique(v, return_inverse=True)
    m = np.bincount(unit_index)
    keep = m[unit_index] >= 2
    unit_index, value_index = unit_index[keep], value_index[keep]
    if unit_index.size == 0:
        return float("nan")
    V = int(value_index.max()) + 1
    pair_counts = np.unique(unit_index * V + value_index, return_counts=True)
    per_unit = pair_counts[0] // V
    nuc = pair_counts[1].astype(np.float64)
    observed_diag = float(np.sum(nuc * (nuc - 1.0) / (m[per_unit] - 1.0)))
    margins = np.bincount(value_index).astype(np.float64)
    return _alpha(float(unit_index.size), observed_diag, margins)

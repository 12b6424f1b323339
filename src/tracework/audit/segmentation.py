"""Aggregating several workers' binary masks of one region into one mask.

Two methods, both on a stack of boolean masks of the same size (one per worker):

- :func:`pixel_majority`: a pixel is in when at least half of the workers drew it.
- :func:`mask_em`: expectation–maximisation with one accuracy per worker (the probability
  that the worker marks a pixel of the region correctly, over the union of all masks), and
  each pixel's posterior used as its prior in the next round. It follows the usual published
  formulation of this method step for step (majority start for the accuracies, E-step,
  M-step, evidence lower bound, stop when it improves by less than ``tol``).

Why :func:`mask_em` is fast: every quantity of the method depends on a pixel only through
which workers drew it. Pixels with the same pattern start with the same prior and receive the
same updates, so the whole iteration runs on the at most 2**n patterns, weighted by how many
pixels show each; the image is touched twice, to count the patterns and to paint the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["MaskEMResult", "mask_em", "pixel_majority", "stack_masks"]


def stack_masks(masks: ArrayLike) -> NDArray[np.bool_]:
    """An (n, h, w) boolean stack; refuses anything else with a plain message."""
    stack = np.asarray(masks)
    if stack.ndim != 3 or stack.shape[0] == 0:
        raise ValueError("masks must be a non-empty stack of equally sized 2-D masks")
    return stack.astype(bool, copy=False)


def pixel_majority(masks: ArrayLike) -> NDArray[np.bool_]:
    """Pixels drawn by at least half of the workers."""
    stack = stack_masks(masks)
    votes = stack.sum(axis=0, dtype=np.int32)
    result: NDArray[np.bool_] = 2 * votes >= stack.shape[0]
    return result


@dataclass(frozen=True)
class MaskEMResult:
    mask: NDArray[np.bool_]
    accuracy: NDArray[np.float64]          # per worker: P(pixel marked correctly)
    iterations: int
    loss_history: list[float] = field(default_factory=list)


def _patterns(stack: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                  NDArray[np.bool_]]:
    """Each pixel's pattern index, the pixel count per pattern, and the patterns' bits."""
    n = stack.shape[0]
    if n > 62:
        raise ValueError("mask_em takes at most 62 masks of one region")
    dtype = np.uint16 if n <= 16 else np.uint64
    code = np.zeros(stack.shape[1:], dtype)
    for j in range(n):
        code |= stack[j].astype(dtype) << dtype(j)
    if n <= 16:
        counts = np.bincount(code.ravel(), minlength=1 << n)
        present = np.flatnonzero(counts)
        index = np.zeros(1 << n, np.int64)
        index[present] = np.arange(len(present))
        pixel_pattern = index[code]
        values = present.astype(np.uint64)
        counts = counts[present]
    else:
        uniq, pixel_pattern, counts = np.unique(code.ravel(), return_inverse=True,
                                                return_counts=True)
        pixel_pattern = pixel_pattern.reshape(code.shape)
        values = uniq.astype(np.uint64)
    bits = ((values[:, None] >> np.arange(n, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    return pixel_pattern, counts.astype(np.int64), bits


def _weighted(bits: NDArray[np.bool_], accuracy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per pattern and worker: the probability of what the worker drew, if the pixel is in."""
    weighted: NDArray[np.float64] = np.where(bits, accuracy, 1.0 - accuracy)
    return weighted


def _e_step(bits: NDArray[np.bool_], accuracy: NDArray[np.float64],
            priors: NDArray[np.float64]) -> NDArray[np.float64]:
    weighted = _weighted(bits, accuracy)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        positive = np.log(priors) + np.log(weighted).sum(axis=1)
        negative = np.log(1.0 - priors) + np.log(1.0 - weighted).sum(axis=1)
        posteriors: NDArray[np.float64] = np.nan_to_num(
            np.exp(positive) / (np.exp(positive) + np.exp(negative)), nan=0.0)
    return posteriors


def _m_step(bits: NDArray[np.bool_], counts: NDArray[np.int64], posteriors: NDArray[np.float64],
            region: int, sizes: NDArray[np.float64]) -> NDArray[np.float64]:
    mass = counts * posteriors
    expected_errors = (sizes + mass.sum() - 2.0 * (mass @ bits)) / region
    accuracy: NDArray[np.float64] = 1.0 - expected_errors
    return accuracy


def _bound(bits: NDArray[np.bool_], counts: NDArray[np.int64], priors: NDArray[np.float64],
           posteriors: NDArray[np.float64], accuracy: NDArray[np.float64]) -> float:
    """The evidence lower bound, with the usual formulation's treatment of log 0 (a NaN term
    counts 0, an infinite one the largest float), summed over patterns × pixel counts."""
    weighted = _weighted(bits, accuracy)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = np.nan_to_num((np.log(weighted) + np.log(priors)[:, None])
                               * posteriors[:, None], nan=0.0)
        outside = np.nan_to_num((np.log(1.0 - weighted) + np.log(1.0 - priors)[:, None])
                                * (1.0 - posteriors)[:, None], nan=0.0)
        entropy = np.nan_to_num(np.log(posteriors) * posteriors, nan=0.0)
        total = (counts @ inside.sum(axis=1) + counts @ outside.sum(axis=1)
                 - counts @ entropy)
    return float(total)


def mask_em(masks: ArrayLike, *, n_iter: int = 10, tol: float = 1e-5,
            eps: float = 1e-15) -> MaskEMResult:
    """The EM aggregate of one region's masks (n, h, w), and each worker's estimated accuracy."""
    stack = stack_masks(masks)
    n, pixels = stack.shape[0], stack.shape[1] * stack.shape[2]
    pixel_pattern, counts, bits = _patterns(stack)
    region = int(counts[bits.any(axis=1)].sum())
    if region == 0:
        return MaskEMResult(np.zeros(stack.shape[1:], bool), np.ones(n), 0, [])
    sizes = (counts @ bits).astype(np.float64)
    priors = bits.sum(axis=1) / n
    accuracy = _m_step(bits, counts, np.round(priors), region, sizes)
    loss, history = -np.inf, []
    for _ in range(n_iter):
        posteriors = _e_step(bits, accuracy, priors)
        posteriors[posteriors < eps] = 0.0
        accuracy = _m_step(bits, counts, posteriors, region, sizes)
        new_loss = _bound(bits, counts, priors, posteriors, accuracy) / (n * pixels)
        priors = posteriors
        history.append(new_loss)
        with np.errstate(invalid="ignore"):
            if new_loss - loss < tol:
                break
        loss = new_loss
    mask: NDArray[np.bool_] = (priors > 0.5)[pixel_pattern]
    return MaskEMResult(mask, accuracy, len(history), history)

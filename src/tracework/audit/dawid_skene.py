"""Majority vote and Dawid–Skene for classification labels, on integer-coded long tables.

Input is three equal-length integer arrays, one entry per label: ``tasks`` (0…T-1),
``workers`` (0…W-1) and ``labels`` (0…K-1). Every task must have at least one label.

Dawid–Skene (1979) estimates, by expectation–maximisation, a confusion matrix per worker,
``errors[w, observed, true]`` = P(worker w answers ``observed`` | the true class is ``true``),
class priors, and a posterior over the true class of each task. The iteration follows the
usual published formulation step for step (majority-vote start, then E-step, priors, M-step
and the evidence lower bound, stopping when the bound improves by less than ``tol``), so that
the same number of iterations gives the same labels as other implementations of it.

Why it is fast: the labels are one sparse tasks × (worker, answer) matrix, so the E-step's sums
and the M-step's counts are each one sparse product; nothing of size tasks × classes is
computed beyond one exp2 and one matrix-vector product per iteration, and the bound comes from
(worker, answer) sums (see :func:`dawid_skene`). Memory: the sparse matrix and a few arrays of
tasks × classes, never labels × classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

__all__ = [
    "DawidSkeneResult",
    "MajorityVoteResult",
    "dawid_skene",
    "majority_vote",
]

# The floor applied to error rates and priors before taking logs (a class never chosen by a
# worker still has a tiny probability), as in the usual formulation.
EPS = 1e-10


@dataclass(frozen=True)
class MajorityVoteResult:
    labels: NDArray[np.int64]       # per task: the most voted class (ties: the lowest code)
    probas: NDArray[np.float64]     # (T, K): share of the task's votes per class
    skills: NDArray[np.float64]     # (W,): share of a worker's labels equal to the vote


@dataclass(frozen=True)
class DawidSkeneResult:
    labels: NDArray[np.int64]       # per task: the most probable class (ties: the lowest code)
    probas: NDArray[np.float64]     # (T, K) posterior of the true class
    priors: NDArray[np.float64]     # (K,)
    errors: NDArray[np.float64]     # (W, K, K): P(observed | true), columns sum to 1 per worker
    iterations: int
    loss_history: list[float] = field(default_factory=list)

    @property
    def skills(self) -> NDArray[np.float64]:
        """Each worker's estimated accuracy: P(answer = true class), weighted by the priors."""
        diag = np.diagonal(self.errors, axis1=1, axis2=2)
        skills: NDArray[np.float64] = diag @ self.priors
        return skills


def _codes(values: ArrayLike, name: str) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{name} must be a one-dimensional array of integer codes")
    out = arr.astype(np.int64, copy=False)
    if out.size and out.min() < 0:
        raise ValueError(f"{name} must not hold negative codes")
    return out


def _check(tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike, n_tasks: int | None,
           n_workers: int | None, n_classes: int | None
           ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], int, int, int]:
    t, w, y = _codes(tasks, "tasks"), _codes(workers, "workers"), _codes(labels, "labels")
    if not len(t) == len(w) == len(y):
        raise ValueError("tasks, workers and labels must have the same length")
    T = int(t.max()) + 1 if n_tasks is None and t.size else int(n_tasks or 0)
    W = int(w.max()) + 1 if n_workers is None and w.size else int(n_workers or 0)
    K = int(y.max()) + 1 if n_classes is None and y.size else int(n_classes or 0)
    if t.size and (t.max() >= T or w.max() >= W or y.max() >= K):
        raise ValueError("a code is not below n_tasks / n_workers / n_classes")
    if t.size and np.bincount(t, minlength=T).min() == 0:
        raise ValueError("every task needs at least one label")
    return t, w, y, T, W, K


def majority_vote(tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike, *,
                  n_tasks: int | None = None, n_workers: int | None = None,
                  n_classes: int | None = None) -> MajorityVoteResult:
    """Each task's most frequent label; ties go to the lowest class code."""
    t, w, y, T, W, K = _check(tasks, workers, labels, n_tasks, n_workers, n_classes)
    votes = np.bincount(t * K + y, minlength=T * K).reshape(T, K).astype(np.float64)
    probas = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1.0)
    winners = probas.argmax(axis=1).astype(np.int64)
    agree = np.bincount(w, weights=(winners[t] == y).astype(np.float64), minlength=W)
    per_worker = np.bincount(w, minlength=W)
    skills = np.divide(agree, per_worker, out=np.full(W, np.nan), where=per_worker > 0)
    return MajorityVoteResult(winners, probas, skills)


# With every error rate above about 2**-52, a task with at most this many labels has a
# likelihood of at least 2**-900 for every class, so 2**(sum of log2 rates) needs no shift.
# Tasks with more labels are shifted by their largest sum first.
_UNSHIFTED_MAX = 16


class _Design:
    """The labels as a sparse tasks × (worker, answer) matrix, tasks ordered by label count.

    The E-step is one sparse product (per task, the sums of log2 error rates of its labels)
    and one exp2; the prior is not added per task and class but folded into the normaliser
    and, after the M-step's sparse product, into the (worker, answer) sums, since scaling
    columns commutes with both. The M-step's product takes each task's normaliser through the
    matrix's data, so posteriors are never materialised inside the loop.
    """

    def __init__(self, t: NDArray[np.int64], w: NDArray[np.int64], y: NDArray[np.int64],
                 T: int, W: int, K: int) -> None:
        self.T, self.K, self.W = T, K, W
        per_task = np.bincount(t, minlength=T)
        self.order = np.argsort(per_task, kind="stable")     # internal position -> task
        position = np.empty(T, np.int64)
        position[self.order] = np.arange(T)
        wl = w * K + y
        self.per_task = per_task[self.order].astype(np.float64)
        self.matrix = sparse.csr_matrix((np.ones(len(t)), (position[t], wl)), shape=(T, W * K))
        self.unit = self.matrix.data
        self.row_nnz = np.diff(self.matrix.indptr)
        # The M-step's copy of the matrix shares its structure; its data carry 1 / normaliser.
        self.scaled = sparse.csr_matrix((self.unit.copy(), self.matrix.indices,
                                         self.matrix.indptr), shape=self.matrix.shape)
        self.observed_rows = np.flatnonzero(np.bincount(wl, minlength=W * K))
        self.shift_from = int(np.searchsorted(self.per_task, _UNSHIFTED_MAX, side="right"))

    def counts(self, likelihoods: NDArray[np.float64], inv_norm: NDArray[np.float64],
               priors: NDArray[np.float64]) -> NDArray[np.float64]:
        """(W*K, K): per worker and answer, the summed posteriors of the tasks answered."""
        np.multiply(self.unit, np.repeat(inv_norm, self.row_nnz), out=self.scaled.data)
        counts = np.asarray(self.scaled.T @ likelihoods)
        counts *= priors
        return counts


def _m_step(design: _Design, counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Error matrices (W, K, K) from the summed posteriors."""
    floored = np.zeros_like(counts)
    # Answers a worker never gave stay 0; the ones given are floored, as in the usual
    # formulation.
    floored[design.observed_rows] = np.maximum(counts[design.observed_rows], EPS)
    per_worker = floored.reshape(design.W, design.K, design.K)
    totals = per_worker.sum(axis=1, keepdims=True)
    errors: NDArray[np.float64] = np.divide(per_worker, totals, out=np.zeros_like(per_worker),
                                            where=totals > 0)
    return errors


def _log2_rates(errors: NDArray[np.float64]) -> NDArray[np.float64]:
    # Answers never given are -inf here, but the sparse product never reads them.
    with np.errstate(divide="ignore"):
        logs: NDArray[np.float64] = np.log2(errors.reshape(-1, errors.shape[-1]))
    return logs


@dataclass
class _Sweep:
    """One E-step. Posterior of internal task i: likelihoods[i] * priors * inv_norm[i]."""

    likelihoods: NDArray[np.float64]   # (T, K), without the prior
    inv_norm: NDArray[np.float64]      # (T,)
    log_norm: float                    # sum over tasks of ln(normaliser), shifts included

    def posteriors(self, priors: NDArray[np.float64]) -> NDArray[np.float64]:
        probas: NDArray[np.float64] = self.likelihoods * priors * self.inv_norm[:, None]
        return probas


def _e_step(design: _Design, log2_rates: NDArray[np.float64], priors: NDArray[np.float64]
            ) -> _Sweep:
    like = np.asarray(design.matrix @ log2_rates)
    shift = np.zeros(design.T)
    if design.shift_from < design.T:
        tail = like[design.shift_from:]
        shift[design.shift_from:] = tail.max(axis=1)
        tail -= shift[design.shift_from:, None]
    np.exp2(like, out=like)
    norm = like @ priors
    log_norm = float(np.log(norm).sum()) + math.log(2.0) * float(shift.sum())
    return _Sweep(like, 1.0 / norm, log_norm)


def _expected_log2(counts: NDArray[np.float64], log2_rates: NDArray[np.float64],
                   rows: NDArray[np.int64]) -> float:
    """Sum over answers given of counts × log2(error rate)."""
    return float(np.einsum("ij,ij->", counts[rows], log2_rates[rows]))


def dawid_skene(tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike, *,
                n_tasks: int | None = None, n_workers: int | None = None,
                n_classes: int | None = None, n_iter: int = 100,
                tol: float = 1e-5) -> DawidSkeneResult:
    """Dawid–Skene EM from a majority-vote start; at most ``n_iter`` iterations, stopping when
    the evidence lower bound per label improves by less than ``tol``.

    The bound is computed from per-(worker, answer) sums rather than per task and class:
    with p ∝ prior × Π rates, Σ p·ln p = Σ p·ln(prior × Π rates) − ln Z, and the first term is
    the M-step's sums times the log rates, plus the prior's share.
    """
    t, w, y, T, W, K = _check(tasks, workers, labels, n_tasks, n_workers, n_classes)
    mv = majority_vote(t, w, y, n_tasks=T, n_workers=W, n_classes=K)
    if t.size == 0 or n_iter < 1:
        return DawidSkeneResult(mv.labels, mv.probas, mv.probas.mean(axis=0) if T else
                                np.zeros(K), np.zeros((W, K, K)), 0, [])
    design = _Design(t, w, y, T, W, K)
    start = mv.probas[design.order]
    priors = start.mean(axis=0)
    errors = _m_step(design, design.counts(start, np.ones(T), np.ones(K)))
    rates = _log2_rates(errors)
    ln2 = math.log(2.0)
    loss, history = -math.inf, []
    rows = design.observed_rows
    for _ in range(n_iter):
        clipped = np.maximum(priors, EPS)
        sweep = _e_step(design, rates, clipped)
        counts = design.counts(sweep.likelihoods, sweep.inv_norm, clipped)
        sums = np.stack([sweep.inv_norm, design.per_task * sweep.inv_norm]) @ sweep.likelihoods
        mass, weighted = sums[0] * clipped, sums[1] * clipped
        # The prior enters each task's likelihood once, the error rates once per label.
        entropy = (sweep.log_norm - ln2 * _expected_log2(counts, rates, rows)
                   - float(mass @ np.log(clipped)))
        priors = mass / T
        errors = _m_step(design, counts)
        rates = _log2_rates(errors)
        joint = (ln2 * _expected_log2(counts, rates, rows)
                 + float(weighted @ np.log(np.maximum(priors, EPS))))
        new_loss = (joint + entropy) / len(t)
        history.append(new_loss)
        if new_loss - loss < tol:
            break
        loss = new_loss
    final = np.empty((T, K))
    final[design.order] = np.maximum(sweep.posteriors(clipped), EPS)
    return DawidSkeneResult(final.argmax(axis=1).astype(np.int64), final, priors, errors,
                            len(history), history)

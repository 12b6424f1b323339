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
import os
from concurrent.futures import ThreadPoolExecutor
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
# Below this many labels one block on one thread is quickest; above, the tasks are cut into
# one block per core: SciPy's sparse products and NumPy's array arithmetic release the GIL,
# so the blocks of one iteration run side by side.
_BLOCK_MIN_LABELS = 200_000


class _Block:
    """Some tasks' labels as a sparse tasks × (worker, answer) matrix, tasks ordered by label
    count.

    The E-step is one sparse product (per task, the sums of log2 error rates of its labels)
    and one exp2; the prior is not added per task and class but folded into the normaliser
    and, after the M-step's sparse product, into the (worker, answer) sums, since scaling
    columns commutes with both. The M-step's product takes each task's normaliser through the
    matrix's data, so posteriors are never materialised inside the loop.
    """

    def __init__(self, rows: NDArray[np.int64], wl: NDArray[np.int64], per_task: NDArray[np.int64],
                 n_cols: int) -> None:
        n = len(per_task)
        self.per_task = per_task.astype(np.float64)
        self.matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, wl)), shape=(n, n_cols))
        self.unit = self.matrix.data
        self.row_nnz = np.diff(self.matrix.indptr)
        # The M-step's copy of the matrix shares its structure; its data carry 1 / normaliser.
        self.scaled = sparse.csr_matrix((self.unit.copy(), self.matrix.indices,
                                         self.matrix.indptr), shape=self.matrix.shape)
        self.shift_from = int(np.searchsorted(self.per_task, _UNSHIFTED_MAX, side="right"))

    def sweep(self, log2_rates: NDArray[np.float64], priors: NDArray[np.float64]) -> _Sweep:
        """One E-step over this block's tasks and its share of the M-step's sums."""
        like = np.asarray(self.matrix @ log2_rates)
        shift = 0.0
        if self.shift_from < len(like):
            tail = like[self.shift_from:]
            top = tail.max(axis=1)
            tail -= top[:, None]
            shift = float(top.sum())
        np.exp2(like, out=like)
        # einsum, not BLAS: OpenBLAS's own threads would fight the blocks' threads.
        norm = np.einsum("ik,k->i", like, priors)
        inv_norm = 1.0 / norm
        log_norm = float(np.log(norm).sum()) + math.log(2.0) * shift
        counts = self.counts(like, inv_norm)
        sums = np.einsum("ji,ik->jk", np.stack([inv_norm, self.per_task * inv_norm]), like)
        return _Sweep(like, inv_norm, log_norm, counts, sums)

    def counts(self, likelihoods: NDArray[np.float64], inv_norm: NDArray[np.float64]
               ) -> NDArray[np.float64]:
        """(W*K, K) without the prior: this block's posteriors summed per worker and answer."""
        np.multiply(self.unit, np.repeat(inv_norm, self.row_nnz), out=self.scaled.data)
        return np.asarray(self.scaled.T @ likelihoods)


class _Design:
    """The labels cut into blocks of tasks (see :class:`_Block`), each swept on its own
    thread."""

    def __init__(self, t: NDArray[np.int64], w: NDArray[np.int64], y: NDArray[np.int64],
                 T: int, W: int, K: int, blocks: int) -> None:
        self.T, self.K, self.W = T, K, W
        per_task = np.bincount(t, minlength=T)
        self.order = np.argsort(per_task, kind="stable")     # internal position -> task
        position = np.empty(T, np.int64)
        position[self.order] = np.arange(T)
        wl = w * K + y
        self.unobserved_rows = np.flatnonzero(np.bincount(wl, minlength=W * K) == 0)
        pos = position[t]
        by_pos = np.argsort(pos, kind="stable")
        pos, wl = pos[by_pos], wl[by_pos]
        sorted_counts = per_task[self.order]
        cuts = np.linspace(0, T, blocks + 1).astype(np.int64)
        self.bounds = list(zip(cuts[:-1], cuts[1:]))
        ends = np.concatenate([[0], np.cumsum(sorted_counts)])
        self.blocks = [_Block(pos[ends[a]:ends[b]] - a, wl[ends[a]:ends[b]],
                              sorted_counts[a:b], W * K) for a, b in self.bounds]
        self.pool = ThreadPoolExecutor(blocks) if blocks > 1 else None

    def sweep(self, log2_rates: NDArray[np.float64], priors: NDArray[np.float64]
              ) -> _Iteration:
        """One E-step over all tasks, with the M-step's (worker, answer) sums."""
        if self.pool is None:
            parts = [self.blocks[0].sweep(log2_rates, priors)]
        else:
            parts = list(self.pool.map(lambda b: b.sweep(log2_rates, priors), self.blocks))
        counts = parts[0].counts
        sums = parts[0].sums
        for part in parts[1:]:
            counts += part.counts
            sums += part.sums
        counts *= priors
        return _Iteration(parts, sum(p.log_norm for p in parts), counts, sums)

    def counts(self, likelihoods: NDArray[np.float64], inv_norm: NDArray[np.float64],
               priors: NDArray[np.float64]) -> NDArray[np.float64]:
        """(W*K, K): per worker and answer, the summed posteriors of the tasks answered."""
        counts = np.add.reduce([b.counts(likelihoods[a:z], inv_norm[a:z])
                                for b, (a, z) in zip(self.blocks, self.bounds)])
        counts *= priors
        return np.asarray(counts, dtype=np.float64)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _m_step(design: _Design, counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Error matrices (W, K, K) from the summed posteriors."""
    # The answers given are floored, as in the usual formulation; answers a worker never
    # gave stay 0.
    floored = np.maximum(counts, EPS)
    floored[design.unobserved_rows] = 0.0
    per_worker = floored.reshape(design.W, design.K, design.K)
    totals = per_worker.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0          # a true class no label of the worker's was given for
    per_worker /= totals
    return per_worker


def _log2_rates(errors: NDArray[np.float64]) -> NDArray[np.float64]:
    # Rows of answers never given are 0 (not -inf): the sparse product never reads them and
    # their counts are 0, so sums over all rows need no indexing.
    flat = errors.reshape(-1, errors.shape[-1])
    logs: NDArray[np.float64] = np.log2(flat, out=np.zeros_like(flat), where=flat > 0)
    return logs


@dataclass
class _Sweep:
    """One E-step. Posterior of internal task i: likelihoods[i] * priors * inv_norm[i]."""

    likelihoods: NDArray[np.float64]   # (T, K), without the prior
    inv_norm: NDArray[np.float64]      # (T,)
    log_norm: float                    # sum over tasks of ln(normaliser), shifts included
    counts: NDArray[np.float64]        # (W*K, K): the M-step's summed posteriors
    sums: NDArray[np.float64]          # (2, K): posterior mass, and mass weighted by labels



@dataclass
class _Iteration:
    """The blocks' sweeps of one iteration, their sums added up."""

    parts: list[_Sweep]
    log_norm: float
    counts: NDArray[np.float64]        # (W*K, K), the prior applied
    sums: NDArray[np.float64]          # (2, K)

    def posteriors(self, priors: NDArray[np.float64]) -> NDArray[np.float64]:
        """(T, K) in internal task order; overwrites the sweeps' likelihoods."""
        for part in self.parts:
            part.likelihoods *= priors
            part.likelihoods *= part.inv_norm[:, None]
        if len(self.parts) == 1:
            return self.parts[0].likelihoods
        return np.concatenate([part.likelihoods for part in self.parts])


def _expected_log2(counts: NDArray[np.float64], log2_rates: NDArray[np.float64]) -> float:
    """Sum over answers given of counts × log2(error rate) (other rows are 0 in both)."""
    return float(np.einsum("ij,ij->", counts, log2_rates))


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
    blocks = max(1, min(os.cpu_count() or 1, 2, len(t) // _BLOCK_MIN_LABELS))
    design = _Design(t, w, y, T, W, K, blocks)
    try:
        start = mv.probas[design.order]
        priors = start.mean(axis=0)
        errors = _m_step(design, design.counts(start, np.ones(T), np.ones(K)))
        rates = _log2_rates(errors)
        ln2 = math.log(2.0)
        loss, history = -math.inf, []
        for _ in range(n_iter):
            clipped = np.maximum(priors, EPS)
            sweep = design.sweep(rates, clipped)
            counts = sweep.counts
            mass, weighted = sweep.sums[0] * clipped, sweep.sums[1] * clipped
            # The prior enters each task's likelihood once, the error rates once per label.
            entropy = (sweep.log_norm - ln2 * _expected_log2(counts, rates)
                       - float(mass @ np.log(clipped)))
            priors = mass / T
            errors = _m_step(design, counts)
            rates = _log2_rates(errors)
            joint = (ln2 * _expected_log2(counts, rates)
                     + float(weighted @ np.log(np.maximum(priors, EPS))))
            new_loss = (joint + entropy) / len(t)
            history.append(new_loss)
            if new_loss - loss < tol:
                break
            loss = new_loss
    finally:
        design.close()
    final = np.empty((T, K))
    probas = sweep.posteriors(clipped)
    final[design.order] = np.maximum(probas, EPS, out=probas)
    return DawidSkeneResult(final.argmax(axis=1).astype(np.int64), final, priors, errors,
                            len(history), history)

"""The audit's algorithms on hand-computed cases and against the reference packages:
Krippendorff's alpha, Dawid–Skene and majority vote, mask EM and pixel majority, the
permutation test, Holm, and the parsing of survey time ranges."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracework.audit.alpha import alpha_from_codes, krippendorff_alpha
from tracework.audit.dawid_skene import dawid_skene, majority_vote
from tracework.audit.records import parse_minutes
from tracework.audit.segmentation import mask_em, pixel_majority
from tracework.audit.stats import holm, permutation_test, quantiles

krippendorff = pytest.importorskip("krippendorff")


@contextmanager
def _reference() -> Iterator[None]:
    """The reference packages warn about their own use of pandas; not ours to fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_alpha_hand_computed() -> None:
    # Units (a,a), (a,b), (b,b): n = 6, n_a = n_b = 3, sum o_cc = 2 + 0 + 2 = 4,
    # alpha = 1 - (6 - 1)(6 - 4) / (36 - 18) = 1 - 10/18.
    data = [["a", "a", "b"], ["a", "b", "b"]]
    assert krippendorff_alpha(data) == pytest.approx(1 - 10 / 18, abs=1e-12)
    assert alpha_from_codes([0, 0, 1, 1, 2, 2], ["a", "a", "a", "b", "b", "b"]) == \
        pytest.approx(1 - 10 / 18, abs=1e-12)


def test_alpha_undefined_cases_are_nan() -> None:
    assert np.isnan(krippendorff_alpha([[1, np.nan], [np.nan, 2]]))   # nothing pairable
    assert np.isnan(krippendorff_alpha([[1, 1], [1, 1]]))             # one value only


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.integers(2, 40), st.integers(2, 6), st.floats(0, 0.6),
       st.integers(0, 2**31))
def test_alpha_equals_krippendorff_package(coders: int, units: int, values: int,
                                           missing: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, values, units)
    data = np.where(rng.random((coders, units)) < 0.7, truth,
                    rng.integers(0, values, (coders, units))).astype(float)
    data[rng.random((coders, units)) < missing] = np.nan
    if (np.sum(~np.isnan(data), axis=0) >= 2).sum() == 0 or len(np.unique(data[~np.isnan(data)])) < 2:
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    if np.isnan(expected):
        assert np.isnan(krippendorff_alpha(data))
        return
    assert krippendorff_alpha(data) == pytest.approx(expected, abs=1e-9)
    c, u = np.nonzero(~np.isnan(data))
    # Long form, rows in any order.
    order = rng.permutation(len(c))
    assert alpha_from_codes(u[order], data[c, u][order]) == pytest.approx(expected, abs=1e-9)


def test_majority_vote_ties_go_to_the_lowest_class() -> None:
    mv = majority_vote([0, 0, 1, 1, 1], [0, 1, 0, 1, 2], [2, 1, 0, 0, 1])
    assert mv.labels.tolist() == [1, 0]
    assert mv.probas[0].tolist() == [0.0, 0.5, 0.5]
    # Worker 0: task 0 says 2 (vote 1) no, task 1 says 0 (vote 0) yes.
    assert mv.skills.tolist() == [0.5, 1.0, 0.0]


def _crowd(seed: int, tasks: int, workers: int, classes: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, tasks)
    accuracy = rng.uniform(0.35, 0.95, workers)
    t = np.repeat(np.arange(tasks), 3)
    w = np.concatenate([rng.choice(workers, 3, replace=False) for _ in range(tasks)])
    right = rng.random(len(t)) < accuracy[w]
    y = np.where(right, truth[t], (truth[t] + rng.integers(1, classes, len(t))) % classes)
    return t, w, y, truth


def test_dawid_skene_equals_crowd_kit() -> None:
    aggregation = pytest.importorskip("crowdkit.aggregation")
    t, w, y, truth = _crowd(3, 600, 25, 4)
    ours = dawid_skene(t, w, y, n_iter=50)
    with _reference():
        ref = aggregation.DawidSkene(n_iter=50).fit(pd.DataFrame({"task": t, "worker": w,
                                                                  "label": y}))
    assert ours.iterations == len(ref.loss_history_)
    assert ours.loss_history == pytest.approx(ref.loss_history_, abs=1e-7)
    assert np.array_equal(ours.labels, ref.labels_.sort_index().to_numpy())
    probas = ref.probas_.sort_index()[sorted(ref.probas_.columns)].to_numpy()
    assert np.abs(ours.probas - probas).max() < 1e-8
    errors = ref.errors_.sort_index()
    assert np.allclose(ours.errors[0], errors.loc[0][sorted(errors.columns)].to_numpy())
    # Weighting workers by skill beats counting votes on workers of varying accuracy.
    assert (ours.labels == truth).mean() > (majority_vote(t, w, y).labels == truth).mean()
    assert 0 <= ours.skills.min() and ours.skills.max() <= 1


def test_dawid_skene_does_not_depend_on_row_order() -> None:
    t, w, y, _ = _crowd(5, 300, 15, 3)
    order = np.random.default_rng(1).permutation(len(t))
    a = dawid_skene(t, w, y, n_iter=30)
    b = dawid_skene(t[order], w[order], y[order], n_iter=30)
    assert np.array_equal(a.labels, b.labels)
    assert np.abs(a.probas - b.probas).max() < 1e-10
    assert np.abs(a.errors - b.errors).max() < 1e-10


def test_dawid_skene_on_two_threads_equals_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Large inputs are cut into one block of tasks per core; the result must not change.
    module = importlib.import_module("tracework.audit.dawid_skene")

    t, w, y, _ = _crowd(7, 2_000, 40, 4)
    t = np.r_[t, np.full(20, 0)]                   # one task long enough to need its shift
    w, y = np.r_[w, np.arange(20)], np.r_[y, np.zeros(20, int)]
    one = dawid_skene(t, w, y, n_iter=25)
    monkeypatch.setattr(module, "_BLOCK_MIN_LABELS", 10)
    monkeypatch.setattr(module.os, "cpu_count", lambda: 2)
    two = dawid_skene(t, w, y, n_iter=25)
    assert np.array_equal(one.labels, two.labels) and one.iterations == two.iterations
    assert np.abs(one.probas - two.probas).max() < 1e-10
    assert np.abs(one.errors - two.errors).max() < 1e-10


def test_dawid_skene_handles_tasks_with_many_labels() -> None:
    # 40 labels on one task go through the log-space path; the others multiply directly.
    rng = np.random.default_rng(2)
    t = np.r_[np.zeros(40, int), np.repeat(np.arange(1, 51), 3)]
    w = np.r_[np.arange(40), rng.integers(0, 40, 150)]
    y = np.r_[np.zeros(36, int), np.ones(4, int), rng.integers(0, 2, 150)]
    result = dawid_skene(t, w, y, n_iter=20)
    assert result.labels[0] == 0
    assert np.allclose(result.probas.sum(axis=1), 1.0, atol=1e-8)


def _masks(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.zeros((40, 60), bool)
    truth[10:30, 15:45] = True
    stack = np.stack([truth ^ (rng.random(truth.shape) < p) for p in (0.02, 0.1, 0.3)])
    return truth, stack


def test_mask_em_equals_crowd_kit() -> None:
    aggregation = pytest.importorskip("crowdkit.aggregation")
    for seed in range(3):
        _, stack = _masks(seed)
        frame = pd.DataFrame({"task": [0] * 3, "worker": [0, 1, 2], "segmentation": list(stack)})
        with _reference():
            ref = aggregation.SegmentationEM().fit_predict(frame)[0]
            mv = aggregation.SegmentationMajorityVote().fit_predict(frame)[0]
        assert np.array_equal(mask_em(stack).mask, ref)
        assert np.array_equal(pixel_majority(stack), mv)


def test_mask_em_hand_cases() -> None:
    empty = np.zeros((3, 5, 5), bool)
    assert not mask_em(empty).mask.any()
    truth, stack = _masks(7)
    result = mask_em(stack)
    # The noisiest worker gets the lowest accuracy.
    assert result.accuracy[0] > result.accuracy[1] > result.accuracy[2]
    # Shuffling the workers changes nothing but the order of the accuracies.
    again = mask_em(stack[::-1])
    assert np.array_equal(again.mask, result.mask)
    assert np.allclose(again.accuracy[::-1], result.accuracy)


def test_pixel_majority_counts_ties_in() -> None:
    stack = np.array([[[1, 1, 0, 0]], [[1, 0, 1, 0]]], bool)
    assert pixel_majority(stack).tolist() == [[True, True, True, False]]


def test_permutation_test_and_holm() -> None:
    values = [1.0, 2.0, 3.0, 10.0, 11.0, 12.0]
    result = permutation_test(values, [0, 0, 0, 1, 1, 1], permutations=9999, seed=0)
    assert result.statistic == pytest.approx(9.0)
    # Exactly 2 of the C(6, 3) = 20 splits are as extreme (this one and its mirror).
    assert result.p_value == pytest.approx(0.1, abs=0.015)
    again = permutation_test(values[::-1], [1, 1, 1, 0, 0, 0], permutations=9999, seed=0)
    assert again.statistic == result.statistic
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_permutation_draws_in_chunks_give_the_same_p_and_bounded_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    from tracework.audit import stats

    rng = np.random.default_rng(3)
    values = rng.normal(size=2000)
    values[:300] += 0.15
    group = np.arange(2000) < 300
    whole = permutation_test(values, group, permutations=999, seed=5)
    monkeypatch.setattr(stats, "PERMUTATION_CHUNK_VALUES", 2000 * 7)    # 7 rows a chunk
    tracemalloc.start()
    chunked = permutation_test(values, group, permutations=999, seed=5)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert chunked == whole and 0.0 < whole.p_value < 1.0
    # 7 × 2000 draws and their indices at a time, not 999 × 2000 (16 MB).
    assert peak < 2_000_000


def test_permutation_tests_sharing_draws_match_one_by_one_and_a_plain_numpy_test(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tracework.audit import stats

    rng = np.random.default_rng(11)
    n, perms = 300, 499
    groups = rng.choice(3, size=n, p=[0.5, 0.4, 0.1])
    columns = [rng.normal(size=n) + 0.3 * (groups == 2), rng.integers(0, 4, size=n) / 4.0]
    tests = [(x, groups == g) for x in columns for g in range(3)]
    monkeypatch.setattr(stats, "PERMUTATION_CHUNK_VALUES", n * 50)     # 50 rows a chunk
    shared = stats.permutation_tests(tests, permutations=perms, seed=4)
    assert shared == [permutation_test(x, g, permutations=perms, seed=4) for x, g in tests]
    # The same as the plain test: the group is the first k of a random order of the workers.
    keys = np.random.Generator(np.random.PCG64(4)).random((perms, n))
    order = np.argsort(keys, axis=1)
    for (x, g), got in zip(tests, shared, strict=True):
        k = int(g.sum())
        sums = x[order[:, :k]].sum(axis=1)
        diffs = sums / k - (x.sum() - sums) / (n - k)
        obs = x[g].mean() - x[~g].mean()
        extreme = np.count_nonzero(np.abs(diffs) >= abs(obs) - 1e-12 * max(1.0, abs(obs)))
        assert got.p_value == (1 + extreme) / (1 + perms)
        assert got.statistic == pytest.approx(obs, abs=1e-12)
    assert 0.0 < min(t.p_value for t in shared) < 0.05 < max(t.p_value for t in shared)
    # Tests over some of the workers (one drawn by its keys, the other by a sort of its own
    # keys): the group is the first k of a random order of those workers, from the same keys.
    for among in (np.arange(n) % 7 != 3, np.arange(n) % 3 == 0):
        ranged = stats.permutation_counts([(columns[0], groups == 2, among)],
                                          permutations=perms, seed=4, start=100)
        head = stats.permutation_counts([(columns[0], groups == 2, among)],
                                        permutations=perms, seed=4, stop=100)
        (got,) = stats.permutation_tests([(columns[0], groups == 2, among)],
                                         permutations=perms, seed=4)
        x, g = columns[0][among], (groups == 2)[among]
        k, m = int(g.sum()), int(among.sum())
        sub = np.argsort(keys[:, among], axis=1)
        sums = x[sub[:, :k]].sum(axis=1)
        diffs = sums / k - (x.sum() - sums) / (m - k)
        obs = x[g].mean() - x[~g].mean()
        extreme = np.count_nonzero(np.abs(diffs) >= abs(obs) - 1e-12 * max(1.0, abs(obs)))
        assert got.p_value == (1 + extreme) / (1 + perms)
        assert head[0] + ranged[0] == extreme       # ranges of permutations add up
    with pytest.raises(ValueError, match="same number of workers"):
        stats.permutation_tests([(columns[0], groups == 0), (columns[0][:10], groups[:10] == 0)],
                                permutations=9, seed=0)


def test_quantiles() -> None:
    q = quantiles([4.0, None, 1.0, 3.0, 2.0])
    assert (q["min"], q["median"], q["max"], q["p25"]) == (1.0, 2.5, 4.0, 1.75)
    assert quantiles([None])["median"] is None


@pytest.mark.parametrize(("text", "expected"), [
    ("1–5 min", (3.0, False)), ("5–10 min", (7.5, False)), ("15–25 min", (20.0, False)),
    ("More than 30 minutes", (30.0, True)), ("Less than 10 minutes", (5.0, False)),
    ("1h–2 hours", (90.0, False)), ("In between 2 and 8 hours", (300.0, False)),
    ("none", None)])
def test_parse_minutes(text: str, expected: tuple[float, bool] | None) -> None:
    assert parse_minutes(text) == expected

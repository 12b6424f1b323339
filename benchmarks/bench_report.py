"""The report's group audits at team scale, side by side with a plain NumPy permutation test.

A team project of 100,000 submissions with 10,000 linked (consenting) workers in three groups
of a survey answer (45% / 50% / 5%, as benchmarks/teamscale.py draws them), segmentation masks
of five parts: the report compares the groups on four figures per part (area ratio,
agreement, presence, aggregation weight), each group against the others, 9,999 permutations,
seed 0: 5 x 4 comparisons x 3 groups = 60 permutation tests over about 10,000 workers each.

The per-worker values are drawn here (the way each figure is distributed, presence on the
same discrete grid of shares a worker's submissions give), because the group audits read only
these: the store is not part of what is timed. Presence and weight are known for every linked
worker; area ratio and agreement only for workers with another worker's mask beside theirs,
which differs by part (so those comparisons are over slightly different numbers of workers).

Both sides make the same comparisons:

- the plain test: per comparison, a permutations x workers array of uniform keys from NumPy's
  PCG64 stream for the seed (one key per worker behind any figure, the comparison's workers'
  columns taken), the group as the first k of each row's argsort, the group sums gathered
  and summed; p = (1 + as extreme) / (1 + permutations);
- tracework: ``tracework.audit.groups.group_tests`` (what ``tracework report`` and
  ``tracework audit groups`` run) in this process.

Target: tracework at least 20x faster (wall time; CPU time is printed beside it, steadier on
a shared machine), the same p-value for every test.

    python benchmarks/bench_report.py [--permutations 9999] [--workers 10000] [--parts 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tracework.audit.groups import METRICS, group_tests
from tracework.core.compute import InProcess

GROUPS = {"Female": 0.45, "Male": 0.5, "Non binary": 0.05}
PARTS = ("Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable")


def inputs(workers: int, parts: int, seed: int = 1
           ) -> tuple[dict[tuple[str, str], dict[str, float]], dict[str, str]]:
    """(metric, part) -> worker -> value, and each worker's group."""
    rng = np.random.default_rng(seed)
    names = [f"w_{i:012x}" for i in range(workers)]
    membership = dict(zip(names, rng.choice(list(GROUPS), size=workers,
                                            p=list(GROUPS.values())), strict=True))
    # Heavy-tailed activity: the number of segmentation submissions behind each presence share.
    tasks = np.maximum(1, np.round(rng.pareto(1.2, workers) * 5)).astype(int)
    shown: dict[tuple[str, str], dict[str, float]] = {}
    for part in PARTS[:parts]:
        seen = rng.binomial(tasks, 0.8)
        beside = rng.random(workers) < 0.985 - 0.01 * PARTS.index(part)
        values = {
            "presence": seen / tasks,
            "weight": rng.beta(8, 2, workers),
            "area_ratio": rng.lognormal(0.0, 0.25, workers),
            "agreement": rng.beta(12, 3, workers),
        }
        for metric in METRICS:
            keep = beside if metric in ("area_ratio", "agreement") else np.ones(workers, bool)
            shown[(metric, part)] = {names[i]: float(values[metric][i])
                                     for i in np.flatnonzero(keep)}
    return shown, membership


def plain_test(x: np.ndarray, inside: np.ndarray, columns: np.ndarray, everyone: int,
               permutations: int, seed: int) -> float:
    """The straightforward permutation test: the whole permutations x workers array of keys
    at once, one key per worker behind any figure, this comparison's workers' columns taken."""
    n, k = len(x), int(inside.sum())
    keys = np.random.Generator(np.random.PCG64(seed)).random((permutations, everyone))
    order = np.argsort(keys[:, columns], axis=1)
    sums = x[order[:, :k]].sum(axis=1)
    diffs = sums / k - (x.sum() - sums) / (n - k)
    observed = x[inside].mean() - x[~inside].mean()
    extreme = np.count_nonzero(np.abs(diffs) >= abs(observed) - 1e-12 * max(1.0, abs(observed)))
    return float((1 + extreme) / (1 + permutations))


def plain(shown: dict[tuple[str, str], dict[str, float]], membership: dict[str, str],
          permutations: int, seed: int) -> dict[tuple[str, str, str], float]:
    """(group, metric, part) -> p, for the comparisons ``group_tests`` makes."""
    everyone = sorted({w for per_worker in shown.values() for w in per_worker})
    column = {w: i for i, w in enumerate(everyone)}
    out: dict[tuple[str, str, str], float] = {}
    for (metric, part), per_worker in sorted(shown.items()):
        order = sorted(per_worker)
        x = np.array([per_worker[w] for w in order])
        columns = np.array([column[w] for w in order])
        groups = np.array([membership[w] for w in order])
        present = sorted(set(groups))
        for group in present[:1] if len(present) == 2 else present:
            p = plain_test(x, groups == group, columns, len(everyone), permutations, seed)
            out[(group, metric, part)] = p
            if len(present) == 2:
                out[(present[1], metric, part)] = p
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=9999)
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--parts", type=int, default=len(PARTS), choices=range(1, 6))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shown, membership = inputs(args.workers, args.parts)
    sizes = sorted({len(v) for v in shown.values()})
    print(f"Group audits: {args.workers:,} linked workers in {len(GROUPS)} groups, "
          f"{len(shown)} comparisons over {sizes[0]:,}-{sizes[-1]:,} workers, "
          f"{args.permutations:,} permutations, seed {args.seed}")
    start, cpu = time.perf_counter(), time.process_time()
    tests = group_tests(shown, membership, args.permutations, args.seed, 0.05, InProcess())
    ours_s, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"  tracework group_tests     {ours_s:8.2f} s  ({ours_cpu:.2f} s CPU)  {len(tests)} "
          "tests", flush=True)
    start, cpu = time.perf_counter(), time.process_time()
    expected = plain(shown, membership, args.permutations, args.seed)
    plain_s, plain_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"  plain NumPy test          {plain_s:8.2f} s  ({plain_cpu:.2f} s CPU)  "
          f"{len(expected)} tests")
    got = {(t.group, t.metric, t.category): t.p_value for t in tests}
    differ = sorted(k for k in expected if got.get(k) != expected[k])
    speed = plain_s / ours_s
    ok = speed >= 20 and not differ and got.keys() == expected.keys()
    print(f"  {speed:.1f}x faster in wall time, {plain_cpu / ours_cpu:.1f}x in CPU time "
          f"(target 20x); p-values identical for seed {args.seed}: "
          f"{'yes' if not differ else f'no, {len(differ)} differ, e.g. {differ[:3]}'} "
          f"(smallest p {min(got.values()):.4f}): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

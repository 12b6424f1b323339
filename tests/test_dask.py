"""Heavy work on a Dask cluster gives exactly what this machine gives: the same annotations
from an import whose masks a two-worker ``LocalCluster`` decoded, the same p-values from group
audits whose permutation tests it ran, the same agreement and aggregated masks from the chunks
of assets it worked on; an unreachable scheduler is a clear error."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tracework
from builders import small_files
from tracework.audit import agreement as agreement_module
from tracework.audit.aggregate import aggregate, aggregate_masks
from tracework.audit.agreement import agreement_audit, asset_pairs, read_annotations
from tracework.audit.groups import group_audit
from tracework.core.errors import ConfigError
from tracework.core.project import Category, Project, open_project
from tracework.core.store.schema import annotations
from tracework.core.store.tables_audit import aggregate_labels, aggregate_workers

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")

MOUSE = [Category("Body", "#1f77b4"), Category("Left_Button", "#d62728"),
         Category("Right_Button", "#9467bd"), Category("Scroll_Wheel", "#ff7f0e"),
         Category("Cable", "#2ca02c")]
BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as local:
        yield str(local.scheduler_address)


def _new(root: Path) -> Path:
    made = tracework.init(root, name="Mouse parts", categories=MOUSE, actor="tester")
    made.close()
    toml = root / "tracework.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "min_cell = 2\n", encoding="utf-8")
    return root


def _open(root: Path, scheduler: str) -> Project:
    return open_project(root, cli={"actor": "tester", "scheduler": scheduler, "processes": 1})


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.task_prefixes)


def _labels(project: Project) -> list[tuple[Any, ...]]:
    with project.store.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(annotations.c.submission_id, annotations.c.element, annotations.c.category,
                   annotations.c.rle_counts, annotations.c.bbox_x, annotations.c.bbox_y,
                   annotations.c.bbox_w, annotations.c.bbox_h, annotations.c.area)
            .order_by(annotations.c.id))]


def test_cluster_results_are_the_local_results(cluster: str, tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    # One project copied before any import: the same secret, so the same pseudonyms.
    shutil.copytree(_new(tmp_path / "local"), tmp_path / "remote")
    local, remote = _open(tmp_path / "local", ""), _open(tmp_path / "remote", cluster)
    try:
        for p in (local, remote):
            tracework.ingest_mturk(p, files.batch_csv, images_dir=files.images_dir)
            tracework.ingest_qualtrics(p, files.survey_csv, worker_column="workerId",
                                       consent_column="Q11")
        here, there = _labels(local), _labels(remote)
        assert len(here) > 0 and here == there
        by_local = group_audit(local, "Q2", permutations=999, seed=3)
        by_cluster = group_audit(remote, "Q2", permutations=999, seed=3)
        assert by_local.tests and by_local.tests == by_cluster.tests
        assert [t.p_value for t in by_local.tests] == [t.p_value for t in by_cluster.tests]
        # And the cluster did the work (not a silent local fallback).
        with distributed.Client(cluster, set_as_default=False) as client:
            ran = client.run_on_scheduler(_task_prefixes)
        assert {"decode_mask_cell", "permutation_counts"} <= set(ran)
    finally:
        local.close()
        remote.close()


def _aggregates(project: Project) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with project.store.read() as conn:
        labels = [tuple(r) for r in conn.execute(
            select(aggregate_labels.c.unit, aggregate_labels.c.element, aggregate_labels.c.kind,
                   aggregate_labels.c.category, aggregate_labels.c.confidence,
                   aggregate_labels.c.rle_counts, aggregate_labels.c.area,
                   aggregate_labels.c.workers, aggregate_labels.c.submissions)
            .order_by(aggregate_labels.c.id))]
        skills = [tuple(r) for r in conn.execute(
            select(aggregate_workers.c.worker, aggregate_workers.c.element,
                   aggregate_workers.c.labels, aggregate_workers.c.skill)
            .order_by(aggregate_workers.c.id))]
    return labels, skills


def test_agreement_and_aggregation_on_a_cluster_are_the_local_results(
        cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks of assets, so that both runs have several work units.
    monkeypatch.setattr(agreement_module, "ASSET_CHUNK", 40)
    files = small_files(tmp_path / "files")
    shutil.copytree(_new(tmp_path / "local"), tmp_path / "remote")
    local, remote = _open(tmp_path / "local", ""), _open(tmp_path / "remote", cluster)
    try:
        for p in (local, remote):
            tracework.ingest_mturk(p, files.batch_csv, images_dir=files.images_dir)
        seen: list[tuple[int, int | None]] = []
        here = agreement_audit(local, progress=lambda done, total: seen.append((done, total)),
                               explain=True)
        there = agreement_audit(remote, explain=True)
        assert here.masks and here.as_dict(explain=True) == there.as_dict(explain=True)
        assert len(seen) > 1 and seen == [(i, None) for i in range(1, len(seen) + 1)]
        with local.store.read() as conn:      # and what all the labels at once give
            masks = read_annotations(conn, kinds=("mask",))
            whole = asset_pairs(read_annotations(conn, kinds=("mask", "bbox")))
        assert here.pairs == whole[0] + whole[1]
        by_here, by_there = aggregate(local), aggregate(remote)
        assert [(r.kind, r.inputs, r.items, r.iterations) for r in by_here.runs] == \
            [(r.kind, r.inputs, r.items, r.iterations) for r in by_there.runs]
        assert by_here.runs and by_here.runs[0].workers == by_there.runs[0].workers
        run = next(r for r in by_here.runs if r.kind == "mask")
        assert run.workers == aggregate_masks(masks, "mask_em", 10, 1e-5)[1]
        assert run.items == len(aggregate_masks(masks, "mask_em", 10, 1e-5)[0])
        assert _aggregates(local) == _aggregates(remote)
        assert _aggregates(local)[0]
        with distributed.Client(cluster, set_as_default=False) as client:
            ran = client.run_on_scheduler(_task_prefixes)
        assert {"asset_pairs", "mask_chunk"} <= set(ran)
    finally:
        local.close()
        remote.close()


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    project = _open(_new(tmp_path / "proj"), "tcp://127.0.0.1:9")
    try:
        with pytest.raises(ConfigError, match="cannot be reached"):
            tracework.ingest_mturk(project, files.batch_csv)
    finally:
        project.close()
    assert TRACEWORK is not None
    done = subprocess.run([TRACEWORK, "--project", str(tmp_path / "proj"), "--scheduler",
                           "tcp://127.0.0.1:9", "ingest", "mturk", str(files.batch_csv)],
                          env={**os.environ, "TRACEWORK_ACTOR": "tester"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == ConfigError.exit_code
    assert "cannot be reached" in done.stderr and "Traceback" not in done.stderr

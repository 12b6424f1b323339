"""The audits on real projects: the demo's generated truth (pay, times, rejections, the planted
group difference), agreement on a hand-made asset, and the aggregation layer on both
databases, through the library, the command line and the exports."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from sqlalchemy import func, insert, select

import tracework
from builders import edited_batch, small_files, truth
from tracework.audit import aggregate, agreement_audit, group_audit, labour_audit
from tracework.cli import cli
from tracework.core.errors import InputError
from tracework.core.privacy import pseudonym
from tracework.core.project import Category, Project
from tracework.core.store.schema import annotations, assets, batches, imports, submissions, workers
from tracework.core.store.tables_audit import aggregate_labels, aggregate_workers
from tracework.demo import data as demo_data

REJECT_FEEDBACK = {0: "Cable not labelled", 1: "Incomplete mask"}
SURVEY = '\n[survey]\nsearch_time_question = "Q5"\n\n[survey.attributes]\neducation = "Q3"\n'


def _later(row: dict[str, str], number: int) -> dict[str, str]:
    """The platform's later download: every 7th assignment rejected with feedback."""
    if number % 7 == 0:
        row.update(AssignmentStatus="Rejected", RejectionTime="Tue Jan 14 10:00:00 PST 2025",
                   RequesterFeedback=REJECT_FEEDBACK[number % 2])
    else:
        row.update(AssignmentStatus="Approved", ApprovalTime="Tue Jan 14 10:00:00 PST 2025")
    return row


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("audit-demo")
    files = demo_data.generate(root / "inputs", seed=7, frames=30, workers=40, size=(480, 320))
    project = tracework.init(root / "project", name="demo", actor="t",
                             categories=[Category(n, c) for n, c in demo_data.CATEGORIES.items()],
                             wage_floor=12.0, floor_source="test floor")
    tracework.ingest_mturk(project, files.batch_csv)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    tracework.ingest_mturk(project, edited_batch(files.batch_csv, root / "later.csv", _later))
    project.close()
    config = root / "project" / "tracework.toml"
    config.write_text(config.read_text(encoding="utf-8") + SURVEY, encoding="utf-8")
    opened = tracework.open_project(root / "project")
    yield opened, files
    opened.close()


def test_labour_audit_reproduces_the_generated_truth(demo: Any) -> None:
    project, files = demo
    t = truth(files)
    result = labour_audit(project)
    rejected = [s for i, s in enumerate(t["submissions"], 1) if i % 7 == 0]
    approved = [s for i, s in enumerate(t["submissions"], 1) if i % 7 != 0]
    assert (result.submissions, result.approved, result.rejected, result.pending) == \
        (len(t["submissions"]), len(approved), len(rejected), 0)
    assert result.rejection_reasons == {
        REJECT_FEEDBACK[0]: sum(1 for i in range(1, 91) if i % 7 == 0 and i % 2 == 0),
        REJECT_FEEDBACK[1]: sum(1 for i in range(1, 91) if i % 7 == 0 and i % 2 == 1)}
    assert result.total_paid_cents == 15 * len(approved)
    assert result.total_paid_hours * 3600 == pytest.approx(sum(s["work_time_s"] for s in approved))
    assert result.total_unpaid_hours * 3600 == pytest.approx(sum(s["work_time_s"] for s in rejected))
    assert result.time_kind == "wall_clock_accept_to_submit"
    by_worker = {w.worker: w for w in result.workers}
    for raw, info in t["workers"].items():
        if not info["labelled"]:
            continue
        mine = [(i, s) for i, s in enumerate(t["submissions"], 1) if s["worker"] == raw]
        w = by_worker[pseudonym(project.secret, "mturk", raw)]
        paid = [s["work_time_s"] for i, s in mine if i % 7 != 0]
        unpaid = [s["work_time_s"] for i, s in mine if i % 7 == 0]
        assert (w.paid_seconds, w.unpaid_seconds) == (sum(paid), sum(unpaid))
        assert w.paid_cents == 15 * len(paid)
        expected = (15 * len(paid) / 100) / ((sum(paid) + sum(unpaid)) / 3600)
        assert round(w.hourly_all, 2) == round(expected, 2)
        assert w.below_floor is True          # 0.15 a HIT is far below 12 an hour
    # Search time only for workers who consented to linking.
    linked = {pseudonym(project.secret, "mturk", raw) for raw, i in t["workers"].items()
              if i["consent"] and i["labelled"]}
    assert {w.worker for w in result.workers if w.search_seconds is not None} <= linked
    assert result.workers_with_search > 0


def test_group_audit_finds_the_planted_difference_and_no_other(demo: Any) -> None:
    project, files = demo
    planted = truth(files)["planted_difference"]
    assert planted["consenting_workers"] >= 5
    education = group_audit(project, "education")
    assert education.question == "Q3"
    assert education.groups[planted["answer"]] is not None     # shown: at least 5 workers
    found = {(d.group, d.metric, d.category) for d in education.detected}
    assert (planted["answer"], "area_ratio", planted["category"]) in found
    master = next(d for d in education.detected if d.group == planted["answer"])
    assert master.group_mean > master.rest_mean                 # drawn thicker
    assert all(d.category == planted["category"] for d in education.detected)
    for attribute in ("Q2", "Q1", "Q8"):
        assert group_audit(project, attribute).detected == []


def test_group_audit_suppresses_small_groups(demo: Any) -> None:
    project, _ = demo
    result = group_audit(project, "Q3", permutations=99)
    shown = {g: n for g, n in result.groups.items() if n is not None}
    assert all(n >= result.min_cell for n in shown.values())
    assert all(result.groups[g] is None for g in result.suppressed)
    assert all(c.group in shown for c in result.cells)
    assert all(c.workers is None or c.workers >= result.min_cell for c in result.cells)
    assert "99 permutations, seed 0" in result.method
    with pytest.raises(InputError, match="no survey question"):
        group_audit(project, "Q99")
    with pytest.raises(InputError, match="several answers"):
        group_audit(project, "Q9")


def test_cli_audits_as_json(demo: Any) -> None:
    project, _ = demo
    runner = CliRunner()
    base = ["-p", str(project.root)]
    out = runner.invoke(cli, base + ["audit", "labour", "--json", "--explain"],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    labour = json.loads(out.stdout)
    assert labour["rejected"] == 12 and len(labour["rows"]) == 90
    out = runner.invoke(cli, base + ["audit", "agreement", "--json"], catch_exceptions=False)
    assert {c["category"] for c in json.loads(out.stdout)["masks"]} == set(demo_data.CATEGORIES)
    out = runner.invoke(cli, base + ["audit", "groups", "--by", "Q3", "--permutations", "999"],
                        catch_exceptions=False)
    assert "detected: Master's degree area_ratio Cable" in out.stdout
    out = runner.invoke(cli, base + ["audit", "groups", "--by", "nope"])
    assert out.exit_code == 4 and "no survey question" in out.output


def _seed_masks(project: Project) -> dict[str, int]:
    """One 4×4 asset, three workers: A a 2×2 square, B the top row, C only another part;
    boxes (0,0,2,2) and (1,1,2,2); a yes/no question."""
    a = np.zeros((4, 4), np.uint8)
    a[:2, :2] = 1
    b = np.zeros((4, 4), np.uint8)
    b[0, :] = 1
    other = np.zeros((4, 4), np.uint8)
    other[3, 3] = 1
    now = "2026-01-01T00:00:00+00:00"
    ids = {}
    with project.store.write() as conn:
        conn.execute(insert(imports).values(id=1, sha256="0" * 64, kind="t", file_name="t",
                                            size=0, rows=0, added=0, changed=0, conflicts=0,
                                            actor="t", imported_at=now))
        conn.execute(insert(batches).values(id=1, platform="mturk", batch_key="B", import_id=1))
        conn.execute(insert(assets).values(id=1, uri="u", file_name="f.png", width=4, height=4))
        for n, (name, mask, category, box, answer) in enumerate([
                ("w_a", a, "Body", (0, 0, 2, 2), "yes"), ("w_b", b, "Body", (1, 1, 2, 2), "yes"),
                ("w_c", other, "Cable", None, "no")]):
            conn.execute(insert(workers).values(pseudonym=name, platform="mturk", created_at=now,
                                                consent_link=False, consent_publish=False,
                                                consent_credit=False, erased=False))
            sid = conn.execute(insert(submissions).values(
                platform="mturk", assignment_id=f"A{n}", task_id="T1", batch_id=1, asset_id=1,
                worker=name, status="Approved", time_kind="k", content_sha256="x", answer="{}",
                raw="{}", import_id=1, row=n + 1)).inserted_primary_key[0]
            ids[name] = sid
            rle = coco_mask.encode(np.asfortranarray(mask))
            base = dict(submission_id=sid, asset_id=1, worker=name, taxonomy_version=1)
            conn.execute(insert(annotations).values(
                **base, element="seg", kind="mask", category=category, height=4, width=4,
                rle_counts=rle["counts"].decode(), bbox_x=0, bbox_y=0, bbox_w=1, bbox_h=1,
                area=float(mask.sum())))
            if box is not None:
                conn.execute(insert(annotations).values(
                    **base, element="boxes", kind="bbox", category="Body", bbox_x=box[0],
                    bbox_y=box[1], bbox_w=box[2], bbox_h=box[3], area=4.0))
            conn.execute(insert(annotations).values(**base, element="ok", kind="class",
                                                    category=answer, value=f'"{answer}"'))
    return ids


def test_agreement_hand_computed(project: Project) -> None:
    _seed_masks(project)
    result = agreement_audit(project, explain=True)
    body = next(c for c in result.masks if c.category == "Body")
    # A∩B = 2 px, A∪B = 6 px: 1/3; C drew no Body, so IoU 0 with each.
    assert body.pairs == 3 and body.mean_iou == pytest.approx((1 / 3 + 0 + 0) / 3)
    cable = next(c for c in result.masks if c.category == "Cable")
    assert cable.pairs == 2 and cable.mean_iou == 0.0
    assert result.overall_mask_iou == pytest.approx((1 / 3) / 5)
    box = result.boxes[0]
    assert box.pairs == 1 and box.mean_iou == pytest.approx(1 / 7)
    # One task, answers yes, yes, no: n = 3, n_yes = 2, o_yes,yes = 2·1/2 = 1,
    # alpha = 1 - 2·(3 - 1)/(9 - 5) = 0.
    assert result.classifications[0].alpha == pytest.approx(0.0)
    explained = result.as_dict(explain=True)
    assert len(explained["pairs"]) == 6 and "pairs" not in result.as_dict()
    # Without explain the figures are the same and no pair is kept.
    plain = agreement_audit(project)
    assert plain.pairs == [] and plain.masks == result.masks and plain.boxes == result.boxes
    assert plain.overall_mask_iou == result.overall_mask_iou
    with pytest.raises(InputError):
        agreement_audit(project, categories=["Tail"])


def test_aggregation_layer_on_both_databases(project: Project, tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        before = conn.execute(select(annotations).order_by(annotations.c.id)).all()
    report = aggregate(project)
    (run,) = report.runs                       # masks only: the batch has no class questions
    assert (run.kind, run.method, run.repeated) == ("mask", "mask_em", False)
    with project.store.read() as conn:
        after = conn.execute(select(annotations).order_by(annotations.c.id)).all()
        stored = conn.execute(select(func.count()).select_from(aggregate_labels)).scalar_one()
        skills = conn.execute(select(func.count()).select_from(aggregate_workers)).scalar_one()
    assert after == before and stored == run.items > 0 and skills == len(run.workers)
    assert all(0.0 <= s.skill <= 1.0 for s in run.workers if s.skill is not None)
    assert tracework.verify(project).ok
    entries = list(tracework.log(project, action="aggregate.*", limit=None))
    assert len(entries) == 1 + run.items
    again = aggregate(project)
    assert again.runs[0].repeated and again.runs[0].run == run.run
    majority = aggregate(project, masks="pixel_majority", classes=None)
    assert majority.runs[0].method == "pixel_majority" and not majority.runs[0].repeated
    out = tmp_path / "coco"
    exported = tracework.export_coco(project, out, status="all", layer="both")
    with contextlib.redirect_stdout(io.StringIO()):
        doc = COCO(str(out / "annotations.json"))
    anns = doc.loadAnns(doc.getAnnIds())
    marked = [x for x in anns if x["attributes"]["layer"] == "aggregate"]
    assert len(marked) == majority.runs[0].items and exported.annotations == len(anns)
    assert len({x["id"] for x in anns}) == len(anns)
    assert marked[0]["attributes"]["method"] == "pixel_majority"
    assert all(x["attributes"]["layer"] == "individual" for x in anns if x not in marked)
    only = tracework.export_coco(project, tmp_path / "agg", status="all", layer="aggregate")
    assert only.annotations == len(marked)
    # YOLO and Parquet read both layers together, image by image.
    yolo = tracework.export_yolo(project, tmp_path / "yolo", status="all", layer="both",
                                 identical="merge")
    lines = [json.loads(line) for line in
             (tmp_path / "yolo" / "provenance.jsonl").read_text(encoding="utf-8").splitlines()]
    listed = [e for line in lines for e in (line, *line.get("same_row", []))]
    assert sorted(e["annotation"] for e in listed) == sorted(x["id"] for x in anns)
    assert yolo.annotations == len(anns) and yolo.label_rows == len(lines)
    assert sum(e.get("layer") == "aggregate" for e in listed) == len(marked)
    table = tracework.export_parquet(project, tmp_path / "pq", status="all", layer="both")
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "pq" / "data" / "train-00000-of-00001.parquet").to_pylist()
    assert table.annotations == sum(len(r["objects"]) for r in rows) == len(anns)
    assert [r["image_id"] for r in rows] == sorted({x["image_id"] for x in anns})
    default = json.loads((Path(tracework.export_coco(project, tmp_path / "ind", status="all").out)
                          / "annotations.json").read_text(encoding="utf-8"))
    assert all("layer" not in x["attributes"] for x in default["annotations"])
    with pytest.raises(InputError):
        aggregate(project, masks="average")


def test_class_aggregation_keeps_confusion_matrices(project: Project) -> None:
    _seed_masks(project)
    runner = CliRunner()
    out = runner.invoke(cli, ["-p", str(project.root), "--database-url",
                              project.settings["database_url"] or project.store.url,
                              "aggregate", "--classes", "majority-vote", "--masks", "none",
                              "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    (run,) = json.loads(out.stdout)["runs"]
    assert (run["kind"], run["method"], run["items"]) == ("class", "majority_vote", 1)
    report = aggregate(project, masks=None)
    (ds,) = report.runs
    assert ds.method == "dawid_skene" and ds.items == 1
    with project.store.read() as conn:
        label = conn.execute(select(aggregate_labels).where(
            aggregate_labels.c.run_id == ds.run)).one()
        rows = conn.execute(select(aggregate_workers).where(
            aggregate_workers.c.run_id == ds.run)).all()
    assert label.category == "yes" and json.loads(label.workers) == ["w_a", "w_b", "w_c"]
    confusion = json.loads(rows[0].confusion)
    assert confusion["classes"] == ["no", "yes"]
    matrix = np.array(confusion["matrix_observed_by_true"])
    assert matrix.shape == (2, 2) and np.allclose(matrix.sum(axis=0), 1.0, atol=1e-5)

"""Dataset-team scale: seconds and peak memory of every heavy step, per project size.

For each size (annotations; default 1e4 and 1e5, add 1e6 with ``--sizes 1e4,1e5,1e6``) a
synthetic team project (benchmarks/teamscale.py: boxes, heavy-tailed worker activity, a linked
survey) goes through, each step in a fresh process so that its peak RSS is its own: ingest of
the batch and the survey; the ingest floor (a bare executemany of the same rows and their
hashed ledger entries into the same kind of database), compared with the ingest of both
files and with the batch's alone, in wall-clock and in this process's CPU time; review
(approve the unflagged); the audits (first computation, then a read of the stored results);
the report; export coco; export bundle; and, served from the stored audits, the web
``/audit`` and ``/dataset`` latency (p99 of 30 requests each, in process). Printed side by
side, with the targets of the scale issue:

- peak RSS at the largest size at most 1.3x that at the one before, for exports, review, audits;
- ingest within 4x of the floor;
- ``/audit`` p99 under 300 ms after the first computation.

    python benchmarks/bench_scale.py [--sizes 1e4,1e5] [--database-url postgresql://...]
        [--stages ingest,floor | coco,bundle | ...]

A project's stages need it ingested, so any stage but the floor runs the ingest first. On
PostgreSQL each size's project and its floor get a fresh schema of their own (dropped at the
end), so one database serves the whole run.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import teamscale

CHILD = textwrap.dedent('''
    import hashlib, json, resource, statistics, sys, time
    from pathlib import Path
    import tracework
    from tracework.core.project import Category
    stage, root, batch, survey, url = sys.argv[1:6]
    sys.path.insert(0, sys.argv[6])
    import teamscale
    cats = [Category(n, c) for n, c in teamscale.CATEGORIES.items()]
    cli = {"actor": "bench", "database_url": url or None}

    def project():
        return tracework.open_project(root, cli=cli)

    t, c = time.perf_counter(), time.process_time()
    extra = {}
    if stage == "ingest":
        p = tracework.init(root, categories=cats, actor="bench", database_url=url or None)
        toml = Path(root) / "tracework.toml"
        p.close()
        toml.write_text(toml.read_text() + "\\n[survey.attributes]\\ngender = \\"Q2\\"\\n")
        p = project()
        t, c = time.perf_counter(), time.process_time()
        r = tracework.ingest_mturk(p, batch)
        batch_s, batch_cpu = time.perf_counter() - t, time.process_time() - c
        tracework.ingest_qualtrics(p, survey, worker_column="workerId", consent_column="Q11")
        extra = {"rows": r.added, "annotations": r.annotations, "batch_s": round(batch_s, 3),
                 "batch_cpu_s": round(batch_cpu, 3)}
    elif stage == "floor":
        import csv
        from sqlalchemy import insert
        from tracework.core.store.schema import batches, imports, ledger, submissions, annotations, workers
        p = tracework.init(root, categories=cats, actor="bench", database_url=url or None)
        t, c = time.perf_counter(), time.process_time()
        prev, seq, entries, subs, anns, seen = "0" * 64, 0, [], [], [], {}
        def entry(action, target, new):
            global prev, seq
            seq += 1
            body = json.dumps([seq, "2026-01-01T00:00:00Z", "bench", action, target, "", "null",
                               json.dumps(new, sort_keys=True), ""])
            prev = hashlib.sha256(prev.encode() + body.encode()).hexdigest()
            entries.append({"seq": seq, "ts": "2026-01-01T00:00:00Z", "actor": "bench",
                            "action": action, "target": target, "field": "", "old": "null",
                            "new": json.dumps(new, sort_keys=True), "reason": "", "prev_hash": "",
                            "hash": prev})
        with open(batch, newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), 1):
                w = row["WorkerId"]
                if w not in seen:
                    seen[w] = "w_" + hashlib.sha256(w.encode()).hexdigest()[:12]
                    entry("worker.create", "worker:" + seen[w], {"platform": "mturk"})
                subs.append({"id": n, "platform": "mturk", "assignment_id": row["AssignmentId"],
                             "task_id": row["HITId"], "batch_id": 1, "asset_id": None,
                             "worker": seen[w], "status": "Submitted",
                             "work_time_s": float(row["WorkTimeInSeconds"]),
                             "time_kind": "wall", "content_sha256": "0" * 64,
                             "answer": "{}", "raw": json.dumps(row), "import_id": 1, "row": n,
                             "tolerated_pixels": 0, "requester_feedback": ""})
                entry("submission.create", f"submission:{n}", {"assignment_id": row["AssignmentId"]})
                for b in json.loads(row["Answer.annotatedResult.boundingBoxes"]):
                    anns.append({"submission_id": n, "worker": seen[w], "element": "annotatedResult",
                                 "kind": "bbox", "category": b["label"], "taxonomy_version": 1,
                                 "bbox_x": b["left"], "bbox_y": b["top"], "bbox_w": b["width"],
                                 "bbox_h": b["height"], "area": float(b["width"] * b["height"])})
                    entry("annotation.create", f"annotation:{len(anns)}", {"category": b["label"]})
        with p.store.write() as conn:
            conn.execute(insert(imports).values(id=1, sha256="0" * 64, kind="mturk", file_name="b",
                         size=0, rows=0, added=0, changed=0, conflicts=0, actor="b", imported_at="x"))
            conn.execute(insert(batches).values(id=1, platform="mturk", batch_key="b", title="",
                         description="", keywords="", import_id=1))
            conn.execute(insert(workers), [{"pseudonym": v, "platform": "mturk", "created_at": "x",
                         "consent_link": False, "consent_publish": False, "consent_credit": False,
                         "erased": False} for v in seen.values()])
            conn.execute(insert(submissions), subs)
            conn.execute(insert(annotations), anns)
            base = 1 + (conn.exec_driver_sql("select count(*) from ledger").scalar() or 0)
            for e in entries:
                e["seq"] += base
            conn.execute(insert(ledger), entries)
    elif stage == "review":
        from tracework import review
        r = review.approve_unflagged(project())
        extra = {"decided": r.decided, "by_decision": r.by_decision}
    elif stage == "audits":
        from tracework.render.html_report import refresh_audits
        p = project()
        first = refresh_audits(p)
        t2 = time.perf_counter()
        again = refresh_audits(p)
        extra = {"first_s": round(t2 - t, 3), "cached_s": round(time.perf_counter() - t2, 3)}
    elif stage == "report":
        from tracework.render import report
        report(project(), Path(root).parent / "report.html")
    elif stage == "coco":
        r = tracework.export_coco(project(), Path(root).parent / "coco", status="all")
        extra = {"annotations": r.annotations}
    elif stage == "bundle":
        from tracework.docs.bundle import export_bundle
        export_bundle(project(), Path(root).parent / "bundle", status="all", replace=True)
    elif stage == "web":
        from fastapi.testclient import TestClient
        from tracework.web import users
        from tracework.web.app import create_app
        p = project()
        users.user_add(p, "owner", "owner", "a long enough password 1")
        client = TestClient(create_app(p, allowed_hosts=("testserver",)))
        client.post("/login", data={"name": "owner", "password": "a long enough password 1"})
        for path in ("/audit", "/dataset"):
            times = []
            for _ in range(30):
                s = time.perf_counter()
                assert client.get(path).status_code == 200
                times.append(time.perf_counter() - s)
            times.sort()
            extra[path] = round(times[int(0.99 * (len(times) - 1))] * 1000, 1)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 3), "cpu_s": round(cpu, 3),
                      "peak_mib": round(peak, 1), **extra}))
''')

STAGES = ("ingest", "floor", "review", "audits", "report", "coco", "bundle", "web")


def _run(stage: str, root: Path, files: teamscale.TeamFiles, url: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, stage, str(root), str(files.batch_csv),
         str(files.survey_csv), url, str(Path(__file__).parent)],
        capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"stage {stage} failed")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def _schemas(url: str, names: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """A URL per name: ``url`` itself for SQLite (each stage has its own folder), a fresh
    PostgreSQL schema each otherwise."""
    if not url:
        yield dict.fromkeys(names, "")
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    made = {n: f"bench_{n}_{secrets.token_hex(4)}" for n in names}
    with admin.begin() as conn:
        for schema in made.values():
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield {n: f"{url}{sep}options=-csearch_path%3D{s}" for n, s in made.items()}
    finally:
        with admin.begin() as conn:
            for schema in made.values():
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _ratio(results: dict[str, dict[str, float]], size: int, url: str) -> str:
    where = "PostgreSQL" if url else "SQLite"
    ingest, floor = results["ingest"]["seconds"], results["floor"]["seconds"]
    ratio = ingest / floor
    # This process's CPU time: steadier than wall time on a shared machine (the database
    # server's own work, on PostgreSQL, is in neither).
    cpu = results["ingest"]["cpu_s"] / results["floor"]["cpu_s"]
    verdict = "met" if ratio <= 4 else "NOT met"
    # The floor writes the batch's rows only: the batch's own import, survey left out, beside.
    alone = results["ingest"]["batch_s"] / floor
    alone_cpu = results["ingest"]["batch_cpu_s"] / results["floor"]["cpu_s"]
    return (f"ingest at {size:,} on {where}: {ingest:.2f} s vs floor {floor:.2f} s = "
            f"{ratio:.1f}x the bare executemany floor (target <= 4x: {verdict}); "
            f"CPU {cpu:.1f}x; the batch alone {alone:.1f}x, CPU {alone_cpu:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e4,1e5")
    parser.add_argument("--database-url", default="",
                        help="Run on PostgreSQL (a fresh schema per size and stage group).")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"Comma-separated subset of {','.join(STAGES)} (run in that "
                             "order; any stage but the floor runs the ingest first).")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    wanted = {s.strip() for s in args.stages.split(",") if s.strip()}
    if unknown := sorted(wanted - set(STAGES)):
        parser.error(f"unknown stage(s): {', '.join(unknown)}")
    if wanted - {"floor"}:
        wanted.add("ingest")
    stages = [s for s in STAGES if s in wanted]
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            work = Path(tmp) / f"n{size}"
            files = teamscale.generate(work / "files", annotations=size)
            print(f"== {size:,} annotations: {files.submissions:,} submissions, "
                  f"{files.workers:,} workers", flush=True)
            results[size] = {}
            with _schemas(args.database_url, ("proj", "floor")) as urls:
                for stage in stages:
                    group = "floor" if stage == "floor" else "proj"
                    results[size][stage] = _run(stage, work / group, files, urls[group])
                    print(f"  {stage:8s} {json.dumps(results[size][stage])}", flush=True)
    print("\nstep       " + "".join(f"{s:>22,}" for s in sizes))
    for stage in stages:
        cells = "".join(f"{results[s][stage]['seconds']:>10.2f} s {results[s][stage]['peak_mib']:>7.0f} MiB"
                        for s in sizes)
        print(f"{stage:10s} {cells}")
    big, small = sizes[-1], sizes[-2] if len(sizes) > 1 else sizes[-1]
    print()
    for stage in ("review", "audits", "coco", "bundle"):
        if stage in stages:
            ratio = results[big][stage]["peak_mib"] / results[small][stage]["peak_mib"]
            print(f"peak memory {stage} at {big:,} / at {small:,}: {ratio:.2f}x (target <= 1.3x)")
    if "ingest" in stages and "floor" in stages:
        for size in sizes:
            print(_ratio(results[size], size, args.database_url))
    if "web" in stages:
        print(f"/audit p99 at {big:,}: {results[big]['web']['/audit']} ms (target < 300 ms); "
              f"/dataset p99 {results[big]['web']['/dataset']} ms")


if __name__ == "__main__":
    main()

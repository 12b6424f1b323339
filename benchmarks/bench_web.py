"""Load on the web app: the review queue page and decision POSTs with 100,000 submissions in
SQLite, at a constant request rate from concurrent reviewers, against a real server (uvicorn)
on 127.0.0.1.

Targets (RELIABILITY 4.2): queue page (50 rows) p99 < 300 ms, decision POST p99 < 150 ms, at
20 requests/s from 10 reviewers for 60 s; zero errors, zero "database is locked".

Tool: the constant-rate client below (asyncio + httpx). Every request has a fixed start time
(t0 + i / rate) and is launched at that time whether or not earlier ones have answered (open
loop), and its latency is measured from that scheduled time. A stalled server therefore shows
up in the percentiles instead of silently slowing the sender down (coordinated omission, as
described for wrk2). Bounded: at most rate × seconds requests, each with a 10 s timeout.

    python benchmarks/bench_web.py                       # the target run (about 2 minutes)
    python benchmarks/bench_web.py --seconds 10 --submissions 20000   # a quick look
    python benchmarks/bench_web.py --audit          # /audit on the demo project only

The ``--audit`` line: ``/audit`` on the demo project (``tracework demo``, default size) from
the stored audit results (``tracework audit refresh`` first, as a deployment would), 100
sequential requests of one signed-in auditor on the real server; target p99 < 300 ms. The page
never computes an audit, so this measures reading and drawing the stored results.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

import tracework
from tracework.core.ledger import LedgerWriter, now
from tracework.core.privacy import ensure_worker
from tracework.core.project import Category, Project
from tracework.core.store.schema import assets, batches, imports, submissions
from tracework.web import users

QUEUE_P99_MS = 300.0
AUDIT_P99_MS = 300.0
DECISION_P99_MS = 150.0
REVIEWERS = 10
PASSWORD = "bench-password-123"
CATEGORIES = [Category("Body", "#1f77b4"), Category("Left_Button", "#d62728"),
              Category("Right_Button", "#9467bd"), Category("Scroll_Wheel", "#ff7f0e"),
              Category("Cable", "#2ca02c")]


def build_project(root: Path, n: int) -> Project:
    """A scratch project with ``n`` submissions: workers through the library (pseudonyms,
    vault, ledger), bulk rows for the rest, one ledger entry per submission as ingest makes."""
    project = tracework.init(root, name="bench", categories=CATEGORIES, actor="bench")
    n_workers, n_assets, n_batches = max(n // 50, 10), max(n // 20, 10), 10
    with project.store.write() as conn:
        log = LedgerWriter(conn, "bench")
        import_id = conn.execute(insert(imports).values(
            sha256=hashlib.sha256(b"bench").hexdigest(), kind="mturk", file_name="bench.csv",
            size=0, rows=n, added=n, changed=0, conflicts=0, actor="bench",
            imported_at=now())).inserted_primary_key[0]
        known: dict[str, str] = {}
        pseudonyms = [ensure_worker(conn, log, project.secret, "mturk", f"A{i:012d}", known)[0]
                      for i in range(n_workers)]
        conn.execute(insert(batches), [
            {"id": b + 1, "platform": "mturk", "batch_key": f"BatchId:{b + 1}", "title": "bench",
             "description": "", "keywords": "", "reward_cents": 15, "import_id": import_id}
            for b in range(n_batches)])
        conn.execute(insert(assets), [
            {"id": a + 1, "uri": f"https://example.org/f{a + 1}.jpeg",
             "file_name": f"f{a + 1}.jpeg", "width": 640, "height": 480}
            for a in range(n_assets)])
        rows = []
        for i in range(1, n + 1):
            status = "Submitted" if i % 5 else ("Approved" if i % 10 else "Rejected")
            rows.append({
                "id": i, "platform": "mturk", "assignment_id": f"ASG{i:010d}",
                "task_id": f"T{i % n_assets:08d}", "batch_id": i % n_batches + 1,
                "asset_id": i % n_assets + 1, "worker": pseudonyms[i % n_workers],
                "status": status, "submit_time": f"2026-01-{i % 28 + 1:02d}T12:00:00+00:00",
                "work_time_s": 60.0 + i % 300, "time_kind": "wall_clock_accept_to_submit",
                "reward_cents": 15, "requester_feedback": "",
                "content_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "answer": "{}", "raw": "{}", "tolerated_pixels": 0, "import_id": import_id,
                "row": i})
            log.append("submission.create", f"submission:{i}", new={"status": status})
            if len(rows) == 10_000:
                conn.execute(insert(submissions), rows)
                rows = []
        if rows:
            conn.execute(insert(submissions), rows)
        log.flush()
    for r in range(REVIEWERS):
        users.user_add(project, f"reviewer{r}", "reviewer", PASSWORD)
    return project


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(root: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    code = ("import uvicorn, tracework\n"
            "from tracework.web import create_app\n"
            f"p = tracework.open_project({str(root)!r})\n"
            "app = create_app(p, allowed_hosts=('127.0.0.1',))\n"
            f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')\n")
    log = log_path.open("wb")
    return subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT)


def wait_ready(base: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited; see its log")
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer in time")


async def sign_in(base: str, name: str) -> tuple[httpx.AsyncClient, str]:
    client = httpx.AsyncClient(base_url=base, timeout=10, follow_redirects=False,
                               limits=httpx.Limits(max_connections=4))
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = await client.post("/login", data={"name": name, "password": PASSWORD,
                                          "csrf_token": token})
    assert r.status_code == 303, r.text
    page = await client.get("/queue")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client, token


async def run_load(base: str, rate: float, seconds: float, n: int) -> dict[str, Any]:
    sessions = [await sign_in(base, f"reviewer{r}") for r in range(REVIEWERS)]
    # The undecided submissions are dealt round-robin to the reviewers, who take them oldest
    # first, so no two reviewers decide the same item (conflicts are a separate test).
    undecided = [i for i in range(n, 0, -1) if i % 5]
    todo = [undecided[r::REVIEWERS] for r in range(REVIEWERS)]
    total = int(rate * seconds)
    results: list[tuple[str, float, int, str]] = []

    async def one(i: int, scheduled: float) -> None:
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        # Kinds interleave (queue, decision, queue, …) and each reviewer does both in turn.
        reviewer = (i // 2) % REVIEWERS
        client, token = sessions[reviewer]
        kind = "queue" if i % 2 == 0 else "decision"
        body = ""
        try:
            if kind == "queue":
                r = await client.get("/queue")
                ok = r.status_code == 200 and r.text.count('<a href="/submissions/') >= 50
            else:
                sid = todo[reviewer].pop()
                decision = "approve" if sid % 3 else "reject"
                r = await client.post(f"/submissions/{sid}/decision", data={
                    "decision": decision, "seen": "", "csrf_token": token,
                    "reason_text": "" if decision == "approve" else "Parts are missing."})
                ok = r.status_code == 303
            status = r.status_code
            body = "" if ok else r.text[:300]
        except httpx.HTTPError as exc:
            ok, status, body = False, 0, type(exc).__name__
        done = time.perf_counter()
        results.append((kind, (done - scheduled) * 1000, status if ok else -abs(status), body))

    t0 = time.perf_counter() + 0.5
    tasks = [asyncio.create_task(one(i, t0 + i / rate)) for i in range(total)]
    await asyncio.gather(*tasks)
    for client, _ in sessions:
        await client.aclose()
    return {"results": results, "elapsed": time.perf_counter() - t0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


async def time_audit(base: str, requests: int) -> list[float]:
    client, _ = await sign_in(base, "auditor")
    try:
        first = await client.get("/audit")          # warm: templates compiled, caches filled
        assert first.status_code == 200 and "Pay and time" in first.text, first.text[:500]
        out = []
        for _ in range(requests):
            t = time.perf_counter()
            r = await client.get("/audit")
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        return out
    finally:
        await client.aclose()


def audit_main(requests: int, copy_of: Path | None) -> int:
    import shutil

    from tracework.demo import demo
    from tracework.render.html_report import refresh_audits

    with tempfile.TemporaryDirectory(prefix="tw-bench-audit-") as tmp:
        t = time.perf_counter()
        if copy_of is not None:          # an earlier `tracework demo` folder, copied untouched
            shutil.copytree(copy_of, Path(tmp) / "demo")
            root = Path(tmp) / "demo" / "project"
        else:
            root = demo(Path(tmp) / "demo").project
        project = tracework.open_project(root)
        try:
            users.user_add(project, "auditor", "auditor", PASSWORD)
            refresh_audits(project)          # after the account's ledger entry: current
            subs = tracework.status(project).submissions
        finally:
            project.close()
        print(f"demo project: {subs} submissions, audits stored, in "
              f"{time.perf_counter() - t:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(root, port, Path(tmp) / "server.log")
        try:
            wait_ready(base, proc)
            lat = asyncio.run(time_audit(base, requests))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    ok = p99 < AUDIT_P99_MS
    print(f"/audit    n={len(lat):5d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms   "
          f"target p99 < {AUDIT_P99_MS:.0f} ms   {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, total")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--audit", action="store_true",
                        help="only time /audit on the demo project from stored results")
    parser.add_argument("--audit-requests", type=int, default=100)
    parser.add_argument("--demo", type=Path, default=None,
                        help="with --audit: copy this `tracework demo` folder instead of "
                             "building one")
    args = parser.parse_args()
    if args.audit:
        return audit_main(min(args.audit_requests, 1000), args.demo)
    if args.rate * args.seconds > 5000:
        raise SystemExit("bounded: at most 5000 requests per run")
    with tempfile.TemporaryDirectory(prefix="tw-bench-web-") as tmp:
        root = Path(tmp) / "proj"
        t = time.perf_counter()
        build_project(root, args.submissions).close()
        print(f"built {args.submissions:,} submissions in {time.perf_counter() - t:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "server.log"
        proc = start_server(root, port, log_path)
        try:
            wait_ready(base, proc)
            out = asyncio.run(run_load(base, args.rate, args.seconds, args.submissions))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        server_log = log_path.read_text(errors="replace")
    results = out["results"]
    locked = server_log.count("database is locked") + sum("locked" in b for *_, b in results)
    errors = [r for r in results if r[2] < 0]
    print("tool: constant-rate asyncio/httpx client (open loop, latency from the scheduled "
          "start: no coordinated omission); uvicorn, 1 process, 127.0.0.1")
    print(f"load: {len(results)} requests in {out['elapsed']:.1f} s "
          f"({len(results) / out['elapsed']:.1f}/s) from {REVIEWERS} reviewers")
    verdict = True
    for kind, target in (("queue", QUEUE_P99_MS), ("decision", DECISION_P99_MS)):
        lat = [ms for k, ms, status, _ in results if k == kind and status > 0]
        p50, p95, p99 = (percentile(lat, q) for q in (50, 95, 99))
        ok = p99 < target
        verdict &= ok
        print(f"{kind:9s} n={len(lat):5d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
              f"p99 {p99:7.1f} ms   target p99 < {target:.0f} ms   {'PASS' if ok else 'FAIL'}")
    print(f"errors: {len(errors)} (target 0)   'database is locked': {locked} (target 0)")
    for e in errors[:5]:
        print("  ", json.dumps(e)[:300])
    verdict &= not errors and not locked
    print("PASS" if verdict else "FAIL")
    return 0 if verdict else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

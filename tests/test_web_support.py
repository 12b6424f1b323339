"""Shared pieces of the web tests: a small project with staff accounts and two workers' portal
links (built once per test process and copied per test), clients signed in as each role, and
the CSRF token of a client. Holds no tests itself."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

import tracework
from builders import small_files
from conftest import MOUSE
from tracework import review
from tracework.core import contact
from tracework.core.project import Project, open_project
from tracework.core.store.schema import annotations, submissions
from tracework.fieldnotes import notes
from tracework.web import create_app, users
from tracework.web.security import PRE_COOKIE, SESSION_COOKIE, csrf_key, csrf_token

STAFF_ROLES = ("owner", "reviewer", "auditor")
ROLES = ("anonymous", "owner", "reviewer", "auditor", "worker-own", "worker-other")
PASSWORDS = {role: f"pw-{role}-0123456789" for role in STAFF_ROLES}


@dataclass
class World:
    project: Project
    root: Path
    images: Path
    meta: dict[str, Any]

    def app(self, **override: Any) -> FastAPI:
        return create_app(self.project, **{"allowed_hosts": ("testserver",), **override})


def add_web_config(root: Path, images: Path) -> None:
    toml = root / "tracework.toml"
    toml.write_text(toml.read_text(encoding="utf-8") +
                    f'\n[web]\nimages = {json.dumps(str(images))}\n', encoding="utf-8")


def populate(project: Project, files: Any) -> dict[str, Any]:
    """Ingest the small batch and survey, add one account per role and two workers' links."""
    tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    project.store.migrate()
    for role in STAFF_ROLES:
        users.user_add(project, role, role, PASSWORDS[role])
    with project.store.read() as conn:
        rows = conn.execute(select(submissions.c.id, submissions.c.worker, submissions.c.asset_id)
                            .order_by(submissions.c.id)).all()
        a = rows[0]
        b = next(r for r in rows if r.worker != a.worker)
        aid = conn.execute(select(annotations.c.id).where(annotations.c.submission_id == a.id)
                           .order_by(annotations.c.id)).scalars().first()
        b_aid = conn.execute(select(annotations.c.id).where(annotations.c.submission_id == b.id)
                             .order_by(annotations.c.id)).scalars().first()
    token_a, _ = users.portal_link(project, a.worker)
    # A dataset user wrote to worker A through the reply handle of A's label.
    contact.set_contact_consent(project, a.worker, contactable=True, reason="portal form")
    with project.store.read() as conn:
        handle = contact.handles_for(conn, project.secret, [(aid, a.worker)])[aid]
    mid = contact.send(project, handle, "Thank you for this label.", sender="Ana, lab").message
    token_b, _ = users.portal_link(project, b.worker)
    # A's submission is rejected (the worker can contest it); another worker's rejection is
    # already contested (a reviewer can resolve it); a third submission waits for a decision.
    review.decide(project, a.id, "reject", reason="The cable is not labelled.",
                  reviewer="reviewer")
    c = next(r for r in rows if r.worker not in (a.worker, b.worker))
    review.decide(project, c.id, "reject", reason="Two parts are missing.", reviewer="reviewer")
    review.contest(project, c.id, "I labelled all five parts.")
    waiting = next(r for r in rows if r.id not in (a.id, c.id))
    note = notes.add(project, f"submission:{a.id}", "The cable mask looks shifted.",
                     concern="data_quality", author="reviewer")
    return {"worker_a": a.worker, "worker_b": b.worker, "worker_c": c.worker, "sid": a.id,
            "sid_b": b.id, "sid_c": c.id, "sid_open": waiting.id, "aid": aid, "aid_b": b_aid,
            "asset_id": a.asset_id, "token_a": token_a, "token_b": token_b, "nid": note.id,
            "mid": mid,
            "submissions": len(rows)}


_TEMPLATE: dict[str, Any] = {}


def _template(factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    if not _TEMPLATE:
        base = factory.mktemp("web-template")
        files = small_files(base / "in")
        project = tracework.init(base / "proj", name="Mouse parts", categories=MOUSE,
                                 actor="tester")
        meta = populate(project, files)
        project.close()
        add_web_config(base / "proj", files.images_dir)
        _TEMPLATE.update(root=base / "proj", images=files.images_dir, meta=meta)
    return _TEMPLATE["root"], _TEMPLATE["images"], _TEMPLATE["meta"]


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[World]:
    """A fresh copy of the web test project on SQLite."""
    root, images, meta = _template(tmp_path_factory)
    dest = tmp_path / "proj"
    shutil.copytree(root, dest)
    project = open_project(dest, cli={"actor": "tester"})
    try:
        yield World(project, dest, images, dict(meta))
    finally:
        project.close()


def csrf(client: TestClient, project: Project) -> str:
    """The CSRF token the pages would give this client."""
    key = csrf_key(project.secret)
    if client.cookies.get(SESSION_COOKIE):
        return csrf_token(key, "session", client.cookies[SESSION_COOKIE])
    if not client.cookies.get(PRE_COOKIE):
        client.get("/login")
    return csrf_token(key, "pre", client.cookies[PRE_COOKIE])


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, role: str, world: World) -> TestClient:
    """Sign ``client`` in as ``role`` through the real pages."""
    if role in STAFF_ROLES:
        r = client.post("/login", data={"name": role, "password": PASSWORDS[role],
                                         "csrf_token": csrf(client, world.project)},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
    elif role in ("worker-own", "worker-other"):
        link = world.meta["token_a" if role == "worker-own" else "token_b"]
        token = form_token(client.get(f"/p/{link}").text)
        r = client.post(f"/p/{link}", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/w/", r.text
    return client


def client_as(app: FastAPI, role: str, world: World) -> TestClient:
    return sign_in(TestClient(app, follow_redirects=False), role, world)


def outcome(response: Any) -> str:
    """A response as the authorization table spells it."""
    if response.status_code == 401 or (
            response.status_code == 303
            and response.headers.get("location", "").startswith("/login?next=")):
        return "login"
    return str(response.status_code)

"""Accounts, sessions and portal links (library and CLI) on SQLite and PostgreSQL, and the app
working on both databases; ``tracework serve --get``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from builders import small_files
from test_web_support import PASSWORDS, World, csrf, populate, world  # noqa: F401
from tracework.cli import cli
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.project import Project
from tracework.core.status import log
from tracework.core.store.tables_web import portal_links, web_sessions, web_users
from tracework.web import create_app, get_page, users


def _worker(project: Project) -> str:
    with project.store.read() as conn:
        return str(conn.execute(text("select pseudonym from workers order by pseudonym"))
                   .scalars().first())


def test_password_hash_is_salted_argon2id_and_checks(tmp_path: Path) -> None:
    a, b = users.hash_password("correct horse"), users.hash_password("correct horse")
    assert a != b and a.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert users.check_password(a, "correct horse")
    assert not users.check_password(a, "correct horsf")
    assert not users.check_password("md5$abc", "x") and not users.check_password("garbage", "x")


def test_accounts_sessions_and_links_on_both_databases(project: Project, tmp_path: Path) -> None:
    files = small_files(tmp_path / "in")
    import tracework

    tracework.ingest_mturk(project, files.batch_csv)
    alice = users.user_add(project, "alice", "reviewer", "a-long-password")
    assert (alice.name, alice.role, alice.disabled) == ("alice", "reviewer", False)
    with pytest.raises(ConflictError):
        users.user_add(project, "alice", "owner", "another-password")
    with pytest.raises(InputError):
        users.user_add(project, "bob", "admin", "a-long-password")
    with pytest.raises(InputError):
        users.user_add(project, "bob", "owner", "short")
    with pytest.raises(InputError):
        users.user_add(project, "../bob", "owner", "a-long-password")
    assert users.authenticate(project, "alice", "a-long-password") == alice
    assert users.authenticate(project, "alice", "wrong-password") is None
    assert users.authenticate(project, "nobody", "a-long-password") is None

    token, session = users.session_open(project, user=alice)
    assert users.session_get(project, token).user == alice  # type: ignore[union-attr]
    token2, _ = users.session_open(project, user=alice, replaces=token)
    assert users.session_get(project, token) is None           # rotated
    assert users.session_close(project, token2) and users.session_get(project, token2) is None

    worker = _worker(project)
    link_token, link = users.portal_link(project, worker)
    assert len(link_token) >= 43                                 # 256 bits, urlsafe base64
    assert users.portal_resolve(project, link_token) == link
    assert users.portal_resolve(project, link_token + "x") is None
    wtoken, wsession = users.session_open(project, link=link)
    assert users.session_get(project, wtoken).worker == worker  # type: ignore[union-attr]
    assert users.portal_revoke(project, worker) == 1
    assert users.portal_resolve(project, link_token) is None
    assert users.session_get(project, wtoken) is None           # revoking ends its sessions
    with pytest.raises(NotFound):
        users.portal_link(project, "w_zzzzzzzzzzzz")

    t3, _ = users.session_open(project, user=alice)
    users.user_disable(project, "alice")
    assert users.session_get(project, t3) is None
    assert users.authenticate(project, "alice", "a-long-password") is None

    # Secrets are stored as hashes only; the ledger names what happened, never a token.
    with project.store.read() as conn:
        hashes = [r.token_hash for r in conn.execute(select(portal_links.c.token_hash))]
        hashes += [r.token_hash for r in conn.execute(select(web_sessions.c.token_hash))]
        stored_pw = conn.execute(select(web_users.c.password_hash)).scalar_one()
    assert link_token not in hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert "a-long-password" not in stored_pw
    actions = [(e.action, e.target) for e in log(project, action="user.*")]
    assert actions == [("user.add", "user:alice"), ("user.disable", "user:alice")]
    portal = log(project, action="portal.*")
    assert [e.action for e in portal] == ["portal.link", "portal.revoke"]
    assert all(link_token not in e.new for e in portal)


def test_app_on_both_databases(project: Project, tmp_path: Path) -> None:
    files = small_files(tmp_path / "in")
    meta = populate(project, files)
    w = World(project, project.root, files.images_dir, meta)
    client = TestClient(create_app(project, allowed_hosts=("testserver",), images=None),
                        follow_redirects=False)
    r = client.post("/login", data={"name": "reviewer", "password": PASSWORDS["reviewer"],
                                    "csrf_token": csrf(client, project)})
    assert r.status_code == 303
    rows = client.get("/queue.json").json()["rows"]
    assert meta["sid_open"] in {row["submission_id"] for row in rows}
    r = client.post(f"/submissions/{meta['sid_open']}/decision",
                    data={"decision": "reject", "reason_text": "Parts missing.", "seen": "",
                          "csrf_token": csrf(client, project)})
    assert r.status_code == 303
    for url in ("/", "/dataset", f"/assets/{meta['asset_id']}", "/log", "/taxonomy", "/notes",
                f"/submissions/{meta['sid_open']}", f"/workers/{meta['worker_a']}"):
        assert client.get(url).status_code == 200, url
    worker = TestClient(create_app(project, allowed_hosts=("testserver",)),
                        follow_redirects=False)
    r = worker.post(f"/p/{meta['token_a']}", data={"csrf_token": csrf(worker, project)})
    assert r.status_code == 303
    assert worker.get("/w/").status_code == 200
    r = worker.post(f"/w/submissions/{meta['sid']}/contest",
                    data={"message": "I did label it.", "csrf_token": csrf(worker, project)})
    assert r.status_code == 303
    assert "I did label it." in client.get(f"/submissions/{meta['sid']}").text
    assert w.meta["sid"] == meta["sid"]


def test_every_route_of_the_table_on_both_databases(project: Project, tmp_path: Path) -> None:
    """The authorization table's pages, the portal's consent and the dataset filters on each
    database (the in-process suite runs on SQLite; this is the same app on PostgreSQL)."""
    from test_web import AUTH, concrete
    from test_web_support import client_as, outcome
    from tracework.dataset import select_dataset

    files = small_files(tmp_path / "in")
    meta = populate(project, files)
    w = World(project, project.root, files.images_dir, meta)
    app = create_app(project, allowed_hosts=("testserver",), images=files.images_dir)
    clients = {role: client_as(app, role, w) for role in ("owner", "worker-own", "worker-other")}
    for (method, path), row in AUTH.items():
        if method != "GET" or path.startswith("/static/"):
            continue
        for role, client in clients.items():
            r = client.get(concrete(path, w))
            assert outcome(r) == row[role], (path, role, r.text[:200])
    owner = clients["owner"]
    rows = owner.get("/dataset.json", params={"concern": "data_quality"}).json()["assets"]["rows"]
    assert [a["id"] for a in rows] == [meta["asset_id"]]
    worker = clients["worker-own"]
    form = {"publish": "true", "credit": "true", "credit_name": "Ana K."}
    r = worker.post("/w/consent", data={**form, "csrf_token": csrf(worker, project)})
    assert r.status_code == 303
    entries = log(project, target=f"worker:{meta['worker_a']}", action="consent.set")
    assert {e.field for e in entries if e.actor == meta["worker_a"]} >= {"credit", "credit_name"}
    with project.store.read() as conn:
        assert conn.execute(text("select consent_publish from workers where pseudonym = :w"),
                            {"w": meta["worker_a"]}).scalar_one()
    assert meta["worker_a"] in select_dataset(project, status="all").published_answers


def test_web_commands_have_help_with_examples() -> None:
    runner = CliRunner()
    for args in (["serve"], ["user"], ["user", "add"], ["user", "list"], ["user", "disable"],
                 ["portal"], ["portal", "link"], ["portal", "revoke"], ["portal", "list"]):
        r = runner.invoke(cli, [*args, "--help"], catch_exceptions=False)
        assert r.exit_code == 0, args
        assert "Example" in r.output and f"\n    tracework {' '.join(args)}" in r.output, args
        if "Commands:" in r.output:          # each subcommand's summary is whole
            assert "..." not in r.output.split("Commands:")[1], args


def test_cli_user_portal_and_serve_get(world: World) -> None:
    runner = CliRunner()
    root = str(world.root)
    r = runner.invoke(cli, ["-p", root, "user", "add", "dana", "--role", "auditor",
                            "--password-stdin"], input="a-long-password\n",
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["-p", root, "user", "list", "--json"], catch_exceptions=False)
    assert {"name": "dana", "role": "auditor"}.items() <= \
        next(u for u in json.loads(r.output) if u["name"] == "dana").items()
    worker = world.meta["worker_b"]
    r = runner.invoke(cli, ["-p", root, "portal", "link", worker, "--base-url",
                            "https://review.example.org", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    url = json.loads(r.output)["url"]
    assert url.startswith("https://review.example.org/p/")
    token = url.rsplit("/", 1)[1]
    r = runner.invoke(cli, ["-p", root, "serve", "--get", "/queue.json", "--as", "dana"],
                      catch_exceptions=False)
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True
    r = runner.invoke(cli, ["-p", root, "serve", "--get", "/w/", "--link", token],
                      catch_exceptions=False)
    assert r.exit_code == 0 and worker in r.output
    r = runner.invoke(cli, ["-p", root, "serve", "--get", "/queue"], catch_exceptions=False)
    assert r.exit_code == 0            # a redirect to the sign-in page is not an error body
    r = runner.invoke(cli, ["-p", root, "serve", "--get", "/w/", "--json"],
                      catch_exceptions=False)
    assert r.exit_code == 1 and json.loads(r.output)["status"] == 404
    r = runner.invoke(cli, ["-p", root, "portal", "revoke", worker], catch_exceptions=False)
    assert "Revoked 2 links" in r.output
    r = runner.invoke(cli, ["-p", root, "portal", "list", worker, "--json"],
                      catch_exceptions=False)
    assert [x["active"] for x in json.loads(r.output)] == [False, False]
    r = runner.invoke(cli, ["-p", root, "user", "disable", "dana"], catch_exceptions=False)
    assert r.exit_code == 0
    r = runner.invoke(cli, ["-p", root, "serve", "--get", "/", "--as", "dana"])
    assert r.exit_code == 5 and "no enabled user" in r.output


def test_get_page_signs_in_and_out(world: World) -> None:
    page = get_page(world.project, "/taxonomy", as_user="auditor")
    assert page.status == 200 and "Left_Button" in page.text
    with world.project.store.read() as conn:
        live = conn.execute(select(web_sessions).where(web_sessions.c.revoked_at.is_(None))
                            ).all()
    assert live == []

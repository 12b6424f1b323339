"""The web app's authorization, generated from ONE table (route × role → outcome), and the
defences of RELIABILITY 3.5/3.7 checked across every route: CSRF and Origin, sessions,
cookies, hosts, CORS, caching, the error envelope and output escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from test_web_support import (  # noqa: F401  (fixtures)
    PASSWORDS,
    ROLES,
    World,
    client_as,
    csrf,
    form_token,
    outcome,
    sign_in,
    world,
)
from tracework.web.security import Limits

# Outcomes: 200/303 the page or the change; login = sent to sign in (303 to /login?next= for
# a page, 401 otherwise); 403 = this role may not; 404 = does not exist for this caller.
# worker-own is the worker whose objects {sid}, {aid}, {asset_id}, {worker}, {token} name;
# worker-other is another worker.
#                                             anonymous owner reviewer auditor w-own w-other
TABLE = """
GET  /login                                   200   303   303   303   200   200
POST /login                                   303   303   303   303   303   303
POST /logout                                  303   303   303   303   303   303
GET  /p/{token}                               200   200   200   200   200   200
POST /p/{token}                               303   303   303   303   303   303
GET  /w/signed-out                            200   200   200   200   200   200
GET  /static/{path}                           200   200   200   200   200   200
GET  /openapi.json                            login 200   200   200   404   404
GET  /                                        login 200   200   200   404   404
GET  /audit                                   login 200   200   200   404   404
GET  /audit/{figure}                          login 200   200   200   404   404
POST /audit/refresh                           login 303   303   303   404   404
GET  /queue                                   login 200   200   200   404   404
GET  /submissions/{sid}                       login 200   200   200   404   404
GET  /annotations/{aid}/mask.png              login 200   200   200   404   404
GET  /assets/{asset_id}/image                 login 200   200   200   404   404
GET  /assets/{asset_id}/thumb.jpg             login 200   200   200   404   404
GET  /assets/{asset_id}                       login 200   200   200   404   404
GET  /dataset                                 login 200   200   200   404   404
GET  /log                                     login 200   200   200   404   404
GET  /taxonomy                                login 200   200   200   404   404
GET  /workers/{worker}                        login 200   200   200   404   404
GET  /notes                                   login 200   200   200   404   404
POST /submissions/{sid}/decision              login 303   303   403   404   404
POST /proposals/accept                        login 303   303   403   404   404
POST /submissions/{sid}/resolve               login 303   303   403   404   404
POST /submissions/{sid}/reveal                login 303   303   403   404   404
POST /notes                                   login 303   303   403   404   404
POST /notes/{nid}/reply                       login 303   303   403   404   404
POST /notes/{nid}/resolve                     login 303   303   403   404   404
GET  /w/                                      404   404   404   404   200   200
GET  /w/receipt                               404   404   404   404   200   200
POST /w/submissions/{sid}/contest             404   404   404   404   303   404
POST /w/notes                                 404   404   404   404   303   303
GET  /w/submissions/{sid}                     404   404   404   404   200   404
GET  /w/submissions/{sid}/image               404   404   404   404   200   404
GET  /w/annotations/{aid}/mask.png            404   404   404   404   200   404
POST /w/consent                               404   404   404   404   303   303
GET  /w/record                                404   404   404   404   200   200
GET  /w/record/download                       404   404   404   404   200   200
GET  /w/messages                              404   404   404   404   200   200
POST /w/contact                               404   404   404   404   303   303
POST /w/messages/{mid}                        404   404   404   404   303   404
"""

# The form each state-changing route is sent in the table's tests.
FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/login"): {"name": "reviewer", "password": PASSWORDS["reviewer"]},
    ("POST", "/w/consent"): {"link": "true", "publish": "false"},
    ("POST", "/w/contact"): {"contactable": "true"},
    ("POST", "/w/messages/{mid}"): {"action": "read"},
    ("POST", "/submissions/{sid}/decision"): {"decision": "approve", "seen": ""},
    ("POST", "/submissions/{sid}/resolve"): {"outcome": "uphold",
                                             "reason": "The cable is not labelled."},
    ("POST", "/notes"): {"target": "category:Body", "text": "Is the wheel part of the body?",
                         "concern": "taxonomy"},
    ("POST", "/notes/{nid}/reply"): {"text": "Checked: it is shifted by 3 px."},
    ("POST", "/submissions/{sid}/reveal"): {"reason": "The worker asked for an accommodation."},
    ("POST", "/notes/{nid}/resolve"): {"reason": "Fixed in the guideline."},
    ("POST", "/w/submissions/{sid}/contest"): {"message": "I labelled the cable too."},
    ("POST", "/w/notes"): {"target": "category:Body", "text": "Is the wheel part of it?"},
}
# Which submission a route is tried on, when not {sid} = worker A's rejected one.
SUBMISSION_OF: dict[tuple[str, str], str] = {
    ("POST", "/submissions/{sid}/decision"): "sid_open",
    ("POST", "/submissions/{sid}/resolve"): "sid_c",
}


def _table() -> dict[tuple[str, str], dict[str, str]]:
    out: dict[tuple[str, str], dict[str, str]] = {}
    for line in TABLE.strip().splitlines():
        method, path, *cells = line.split()
        assert len(cells) == len(ROLES), line
        assert (method, path) not in out, f"{method} {path} is in the table twice"
        out[(method, path)] = dict(zip(ROLES, cells, strict=True))
    return out


AUTH = _table()
CASES = [(m, p, role) for (m, p) in AUTH for role in ROLES]


def concrete(path: str, world: World, method: str = "GET") -> str:
    m = world.meta
    sid = m[SUBMISSION_OF.get((method, path), "sid")]
    return path.format(sid=sid, aid=m["aid"], asset_id=m["asset_id"], worker=m["worker_a"],
                       token=m["token_a"], nid=m["nid"], mid=m["mid"], path="app.css",
                       figure="labour")


def app_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, APIRoute):
            found |= {(method, route.path) for method in route.methods - {"HEAD"}}
        elif isinstance(route, Mount):
            found.add(("GET", f"{route.path}/{{path}}"))
        elif getattr(route, "path", "").startswith(("/docs", "/redoc")):
            found.add(("GET", route.path))
    return found


def test_every_route_is_in_the_authorization_table(world: World) -> None:
    routes = app_routes(world.app())
    assert routes - set(AUTH) == set(), "routes missing from the authorization table"
    assert set(AUTH) - routes == set(), "table rows naming no route"


@pytest.mark.parametrize("method,path,role", CASES, ids=[f"{m} {p} {r}" for m, p, r in CASES])
def test_authorization_table(world: World, method: str, path: str, role: str) -> None:
    client = client_as(world.app(), role, world)
    url = concrete(path, world, method)
    if method == "GET":
        response = client.get(url)
    else:
        data = {**FORMS.get((method, path), {}), "csrf_token": csrf(client, world.project)}
        response = client.post(url, data=data)
    assert outcome(response) == AUTH[(method, path)][role], response.text[:300]
    # Every answer, allowed or not, is personal to its caller and readable by no other origin.
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["cache-control"] == (
        "no-cache" if path.startswith("/static/") else "no-store")
    if response.status_code == 404 and role.startswith("worker"):
        # Nothing tells "exists but not yours" from "does not exist".
        assert "not yours" not in response.text and "forbidden" not in response.text.lower()


POSTS_ALLOWED = [(m, p, r) for (m, p), row in AUTH.items() if m == "POST"
                 for r, want in row.items() if want in ("200", "303")]


@pytest.mark.parametrize("method,path,role", POSTS_ALLOWED,
                         ids=[f"{p} {r}" for _, p, r in POSTS_ALLOWED])
def test_state_changes_need_csrf_and_same_origin(world: World, method: str, path: str,
                                                 role: str) -> None:
    from tracework.core.ledger import head

    client = client_as(world.app(), role, world)
    url = concrete(path, world, method)
    form = FORMS.get((method, path), {})
    with world.project.store.read() as conn:
        before = head(conn)
    assert client.post(url, data=form).status_code == 403                      # no token
    assert client.post(url, data={**form, "csrf_token": "0" * 64}).status_code == 403
    good = {**form, "csrf_token": csrf(client, world.project)}
    assert client.post(url, data=good, headers={"origin": "https://evil.example"}
                       ).status_code == 403
    assert client.post(url, data=good, headers={"origin": "null"}).status_code == 403
    assert client.post(url, data=good, headers={"sec-fetch-site": "cross-site"}
                       ).status_code == 403
    assert client.post(url, data=good, headers={"sec-fetch-site": "same-site"}
                       ).status_code == 403
    # A token in a JSON client's header is checked the same way.
    assert client.post(url, data=form, headers={"x-csrf-token": "0" * 64}).status_code == 403
    with world.project.store.read() as conn:
        assert head(conn) == before, "a refused request changed the project"
    assert client.cookies.get("tw_session") or role == "anonymous"     # still signed in
    # The same request from this site's own page goes through.
    ok = client.post(url, data=good, headers={"origin": "http://testserver",
                                              "sec-fetch-site": "same-origin"})
    assert ok.status_code in (200, 303)


def test_csrf_token_of_one_session_fails_in_another(world: World) -> None:
    app = world.app()
    alice = client_as(app, "reviewer", world)
    other = client_as(app, "owner", world)
    stolen = csrf(other, world.project)
    r = alice.post("/logout", data={"csrf_token": stolen})
    assert r.status_code == 403


def test_session_id_rotates_at_sign_in_and_planted_ids_die(world: World) -> None:
    app = world.app()
    attacker = client_as(app, "auditor", world)
    planted = attacker.cookies["tw_session"]
    # The victim's browser carries the planted id when they sign in.
    victim = TestClient(app, follow_redirects=False)
    key_token = csrf(attacker, world.project)
    r = victim.post("/login", data={"name": "reviewer", "password": PASSWORDS["reviewer"],
                                    "csrf_token": key_token},
                    headers={"cookie": f"tw_session={planted}"})
    assert r.status_code == 303
    fresh = r.cookies["tw_session"]
    assert fresh and fresh != planted
    # The planted id was revoked by the sign-in, so the attacker's copy is dead too.
    stale = TestClient(app, follow_redirects=False)
    stale.cookies.set("tw_session", planted)
    assert outcome(stale.get("/queue")) == "login"
    # The new id is the reviewer's.
    me = TestClient(app, follow_redirects=False)
    me.cookies.set("tw_session", fresh)
    assert me.get("/.json").json()["ok"] is True
    assert b"reviewer" in me.get("/").content


def test_sign_out_revokes_the_session_server_side(world: World) -> None:
    app = world.app()
    client = client_as(app, "owner", world)
    sid = client.cookies["tw_session"]
    r = client.post("/logout", data={"csrf_token": csrf(client, world.project)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set("tw_session", sid)
    assert outcome(replay.get("/")) == "login"
    assert replay.get("/queue.json").status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(world: World) -> None:
    client = TestClient(world.app(), follow_redirects=False)
    token = form_token(client.get("/login").text)
    a = client.post("/login", data={"name": "owner", "password": "wrong-wrong-wrong",
                                    "csrf_token": token})
    b = client.post("/login", data={"name": "nobody", "password": "wrong-wrong-wrong",
                                    "csrf_token": token})
    assert a.status_code == b.status_code == 401
    assert a.text == b.text
    assert "tw_session" not in client.cookies


def test_repeated_failed_sign_ins_are_slowed_down(world: World) -> None:
    app = world.app()
    clock = [1000.0]
    app.state.web.limits = Limits.make(clock=lambda: clock[0])
    client = TestClient(app, follow_redirects=False)
    token = form_token(client.get("/login").text)
    codes = [client.post("/login", data={"name": "owner", "password": f"bad-{i}-xxxxxx",
                                         "csrf_token": token}).status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    # Even the right password waits out the backoff, but no longer than that.
    right = {"name": "owner", "password": PASSWORDS["owner"], "csrf_token": token}
    assert client.post("/login", data=right).status_code == 429
    clock[0] += 1.0
    assert client.post("/login", data=right).status_code == 303


def test_cookies_hold_no_personal_data_and_are_locked_down(world: World) -> None:
    app = world.app()
    client = TestClient(app, follow_redirects=False)
    seen: list[str] = []
    r = client.get("/login")
    seen += r.headers.get_list("set-cookie")
    r = client.post("/login", data={"name": "owner", "password": PASSWORDS["owner"],
                                    "csrf_token": form_token(r.text)})
    seen += r.headers.get_list("set-cookie")
    worker = TestClient(app, follow_redirects=False)
    link = world.meta["token_a"]
    r = worker.get(f"/p/{link}")
    seen += r.headers.get_list("set-cookie")
    r = worker.post(f"/p/{link}", data={"csrf_token": form_token(r.text)})
    seen += r.headers.get_list("set-cookie")
    assert seen
    for header in seen:
        name, _, rest = header.partition("=")
        assert name in ("tw_session", "tw_pre")
        value = rest.split(";")[0]
        for personal in ("owner", world.meta["worker_a"], "reviewer", link):
            assert personal not in value
        lower = header.lower()
        assert "httponly" in lower and "samesite=" in lower
        if value and "max-age=0" not in lower:
            assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", value)


def test_secure_cookies_when_configured(world: World) -> None:
    client = TestClient(world.app(secure_cookies=True), follow_redirects=False)
    r = client.get("/login")
    assert "secure" in r.headers["set-cookie"].lower()


def test_unknown_host_is_refused(world: World) -> None:
    client = TestClient(world.app(), follow_redirects=False)
    for host in ("evil.example", "127.0.0.1.evil.example", "testserver.evil.example"):
        r = client.get("/login", headers={"host": host})
        assert r.status_code == 400 and "tw_pre" not in r.headers.get("set-cookie", "")
    assert client.post("/login", headers={"host": "evil.example"},
                       data={"name": "owner", "password": PASSWORDS["owner"]}).status_code == 400
    assert client.get("/login", headers={"host": "testserver"}).status_code == 200


def test_the_host_allow_list_defaults_to_loopback_and_refuses_a_wildcard(world: World) -> None:
    from tracework.core.errors import ConfigError
    from tracework.web.core import WebConfig

    assert WebConfig.from_project(world.project).allowed_hosts == ("127.0.0.1", "localhost")
    toml = world.root / "tracework.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[web]\n", '[web]\nallowed_hosts = ["*"]\n'), encoding="utf-8")
    from tracework.core.project import open_project

    reopened = open_project(world.root)
    try:
        with pytest.raises(ConfigError, match="allowed_hosts"):
            WebConfig.from_project(reopened)
    finally:
        reopened.close()


def test_no_cors_and_no_caching_of_pages(world: World) -> None:
    client = client_as(world.app(), "owner", world)
    anonymous = TestClient(world.app(), follow_redirects=False)
    assert "access-control-allow-origin" not in anonymous.get(
        "/login", headers={"origin": "https://evil.example"}).headers
    for path in ("/", "/queue", "/queue.json", "/static/app.css"):
        r = client.get(path, headers={"origin": "https://evil.example"})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        if not path.startswith("/static/"):
            assert r.headers["cache-control"] == "no-store"
    options = client.options("/queue", headers={"origin": "https://evil.example",
                                                "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in options.headers


# GET routes that answer a file, not a page: no JSON twin.
NOT_PAGES = (".png", ".jpg", "/image", "{path}", "openapi.json", "/download")   # files, not pages


@pytest.mark.parametrize("role", ["anonymous", "owner", "worker-own"])
def test_every_page_has_a_json_twin(world: World, role: str) -> None:
    client = client_as(world.app(), role, world)
    checked = set()
    for method, path in AUTH:
        if method != "GET" or AUTH[(method, path)][role] != "200" or path.endswith(NOT_PAGES):
            continue
        url = concrete(path, world)
        page = client.get(url)
        assert page.status_code == 200 and (
            "text/html" in page.headers["content-type"]), (url, page.headers)
        # "/.json" and "/w/.json" for the pages whose path ends with a slash.
        for r in (client.get(url + ".json"),
                  client.get(url, headers={"accept": "application/json"}),
                  client.get(url, params={"format": "json"})):
            assert r.status_code == 200, (url, r.text[:200])
            assert r.headers["content-type"] == "application/json"
            assert r.json()["ok"] is True and len(r.json()) > 2, url
        checked.add(path)
    pages = {p for (m, p), row in AUTH.items() if m == "GET" and row[role] == "200"
             and not p.endswith(NOT_PAGES)}
    assert checked == pages and checked


def test_every_html_page_route_is_covered_by_a_twin_test() -> None:
    # Each page is a 200 for at least one of the roles the twin test runs as.
    pages = {p for (m, p) in AUTH if m == "GET" and not p.endswith(NOT_PAGES)}
    seen = {p for (m, p), row in AUTH.items() if m == "GET"
            and any(row[r] == "200" for r in ("anonymous", "owner", "worker-own"))}
    assert pages <= seen


def test_queue_json_has_the_rows_the_page_shows(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    data = client.get("/queue.json", params={"status": ""}).json()
    assert len(data["rows"]) == world.meta["submissions"] and data["more"] is False
    page = client.get("/queue", params={"status": ""}).text
    for row in data["rows"]:
        assert f'href="/submissions/{row["submission_id"]}"' in page
    waiting = client.get("/queue.json").json()["rows"]
    assert world.meta["sid"] not in {r["submission_id"] for r in waiting}      # decided
    assert world.meta["sid_open"] in {r["submission_id"] for r in waiting}
    contested = client.get("/queue.json", params={"status": "contested"}).json()["rows"]
    assert [r["submission_id"] for r in contested] == [world.meta["sid_c"]]


@pytest.mark.parametrize("url,status", [
    ("/submissions/999999", 404), ("/submissions/abc", 400), ("/queue?status=Bogus", 400),
    ("/queue?page=0", 400), ("/dataset?category=Nope", 400), ("/log?limit=100000", 400),
    ("/no/such/page", 404), ("/workers/w_zzzzzzzzzzzz", 404)])
def test_one_error_envelope(world: World, url: str, status: int) -> None:
    client = client_as(world.app(), "owner", world)
    r = client.get(url, headers={"accept": "application/json"})
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"ok", "error", "errors", "status"}
    assert body["ok"] is False and body["status"] == status and body["errors"]
    html = client.get(url)
    assert html.status_code == status and "text/html" in html.headers["content-type"]
    assert "Traceback" not in html.text


SQL_PROBES = ["1 OR 1=1", "1'; DROP TABLE submissions; --", "' UNION SELECT * FROM vault --",
              "w_x' OR '1'='1"]


@pytest.mark.parametrize("probe", SQL_PROBES)
def test_sql_in_filters_changes_nothing_and_leaks_nothing(world: World, probe: str) -> None:
    client = client_as(world.app(), "owner", world)
    for url, params in (("/queue", {"worker": probe}), ("/queue", {"batch": probe}),
                        ("/dataset", {"worker": probe}), ("/log", {"target": probe}),
                        ("/log", {"actor": probe}), ("/log", {"action": probe})):
        r = client.get(url + ".json", params=params)
        assert r.status_code in (200, 400), (url, params, r.text[:200])
        if r.status_code == 200:
            data = r.json()
            rows = data["rows"] if url == "/queue" else data["assets"]["rows"] \
                if url == "/dataset" else data["entries"]
            assert rows == []
        assert "sqlite" not in r.text.lower() and "syntax" not in r.text.lower()
    assert len(client.get("/queue.json", params={"status": ""}).json()["rows"]) \
        == world.meta["submissions"]


def test_a_script_signs_in_and_posts_with_the_json_twins(world: World) -> None:
    client = TestClient(world.app(), follow_redirects=False)
    first = client.get("/login.json").json()
    assert first["ok"] is True and re.fullmatch(r"[0-9a-f]{64}", first["csrf_token"])
    r = client.post("/login", data={"name": "owner", "password": PASSWORDS["owner"]},
                    headers={"accept": "application/json", "x-csrf-token": first["csrf_token"]})
    assert r.status_code == 200 and r.json()["user"] == {
        "name": "owner", "role": "owner", "disabled": False,
        "created_at": r.json()["user"]["created_at"]}
    token = client.get("/queue.json").json()["csrf_token"]
    assert token != first["csrf_token"]                 # bound to the new session
    r = client.post("/logout", headers={"accept": "application/json", "x-csrf-token": token})
    assert r.status_code == 200 and r.json() == {"ok": True, "next": "/login"}


def test_audit_page_shows_the_audit_figures(world: World) -> None:
    from tracework.audit.labour import labour_audit

    expected = labour_audit(world.project)
    app = world.app()
    client = client_as(app, "auditor", world)
    before = client.get("/audit.json").json()["audit"]
    assert before["missing"] is True and before["figures"] == []
    assert "not been computed yet" in client.get("/audit").text
    token = client.get("/audit.json").json()["csrf_token"]
    r = client.post("/audit/refresh", headers={"accept": "application/json",
                                               "x-csrf-token": token})
    assert r.status_code == 200 and r.json()["started"] is True
    app.state.web.background.wait(120)
    after = client.get("/audit.json").json()["audit"]
    assert after["missing"] is False and all(c["current"] for c in after["computed"])
    labour = next(f for f in after["figures"] if f["key"] == "labour")["values"]
    assert labour["submissions"] == expected.submissions
    assert labour["rejected"] == expected.rejected and labour["approved"] == expected.approved
    assert "submissions" in client.get("/audit").text

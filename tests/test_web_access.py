"""Who gets in, and how often they may try: Argon2id passwords and the upgrade of earlier
scrypt hashes, the sign-in and portal-link limits (on an injected clock, never sleeping),
portal links that expire and rotate, and the public URL and trusted proxies of a server behind
a reverse proxy (the real nginx round trip is in test_web_proxy.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from builders import small_files
from test_web_support import PASSWORDS, World, csrf, form_token, world  # noqa: F401
from tracework.cli import cli
from tracework.core.errors import ConfigError
from tracework.core.project import Project
from tracework.core.status import log
from tracework.core.store.schema import workers
from tracework.core.store.tables_web import portal_links, web_users
from tracework.web import users
from tracework.web.core import WebConfig
from tracework.web.security import Backoff, Limiter, Limits


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def _app(world: World, clock: Clock, limits: Limits | None = None, **override: object
         ) -> FastAPI:
    app = world.app(**override)
    app.state.web.limits = limits or Limits.make(clock=clock)
    return app


def _login(client: TestClient, world: World, name: str, password: str) -> int:
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": csrf(client, world.project)}).status_code


def _stored_hash(world: World, name: str) -> str:
    with world.project.store.read() as conn:
        return str(conn.execute(select(web_users.c.password_hash)
                                .where(web_users.c.name == name)).scalar_one())


# -- passwords ---------------------------------------------------------------------------------

def test_an_earlier_scrypt_hash_signs_in_once_and_is_replaced_by_argon2id(world: World) -> None:
    old = users.scrypt_hash(PASSWORDS["reviewer"])
    assert old.startswith("scrypt$16384$8$1$") and users.needs_rehash(old)
    with world.project.store.write() as conn:
        conn.execute(update(web_users).where(web_users.c.name == "reviewer")
                     .values(password_hash=old))
    # A wrong password neither signs in nor touches the stored hash.
    assert users.authenticate(world.project, "reviewer", "not-the-password") is None
    assert _stored_hash(world, "reviewer") == old
    client = TestClient(world.app(), follow_redirects=False)
    assert _login(client, world, "reviewer", PASSWORDS["reviewer"]) == 303
    fresh = _stored_hash(world, "reviewer")
    assert fresh.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and not users.needs_rehash(fresh)
    assert users.check_password(fresh, PASSWORDS["reviewer"])
    assert not users.check_password(old.replace("scrypt$", "scrypt$1"), PASSWORDS["reviewer"])
    # Signing in again keeps the new hash as it is.
    assert users.authenticate(world.project, "reviewer", PASSWORDS["reviewer"]) is not None
    assert _stored_hash(world, "reviewer") == fresh


def test_weaker_argon2_parameters_are_upgraded_too(world: World) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw-auditor-0123456789")
    assert users.check_password(weak, PASSWORDS["auditor"]) and users.needs_rehash(weak)
    with world.project.store.write() as conn:
        conn.execute(update(web_users).where(web_users.c.name == "auditor")
                     .values(password_hash=weak))
    assert users.authenticate(world.project, "auditor", PASSWORDS["auditor"]) is not None
    assert not users.needs_rehash(_stored_hash(world, "auditor"))


# -- limits ------------------------------------------------------------------------------------

def test_backoff_waits_double_after_the_free_failures_and_are_capped() -> None:
    clock = Clock()
    backoff = Backoff(free=5, base=1.0, cap=60.0, window=900.0, clock=clock)
    assert [backoff.delay(n) for n in range(4, 14)] == [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    for _ in range(7):
        backoff.failed("owner")
    assert backoff.retry_after("owner") == 4.0
    clock.now += 3.0
    assert backoff.retry_after("owner") == 1.0 and backoff.retry_after("reviewer") == 0.0
    clock.now += 900.0            # failures leave the window
    assert backoff.retry_after("owner") == 0.0
    backoff.failed("owner")
    assert backoff.retry_after("owner") == 0.0
    # attempt() checks and counts at once: of guesses sent side by side, `free` go on and
    # the next is refused before any password is checked; refused ones count nothing.
    assert [backoff.attempt("alice") for _ in range(7)] == [0.0] * 5 + [1.0, 1.0]
    clock.now += 1.0
    assert backoff.attempt("alice") == 0.0 and backoff.retry_after("alice") == 2.0
    backoff.reset("alice")
    assert backoff.attempt("alice") == 0.0


def test_limiter_frees_a_key_when_its_oldest_failures_leave_the_window() -> None:
    clock = Clock()
    limiter = Limiter(limit=3, window=100.0, clock=clock)
    for step in (0.0, 10.0, 10.0):
        clock.now += step
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 100.0 - 20.0 and limiter.blocked("10.0.0.1")
    assert not limiter.blocked("10.0.0.2")
    clock.now += 80.0
    assert not limiter.blocked("10.0.0.1")


def test_one_accounts_failures_slow_down_that_account_only_and_success_forgets_them(
        world: World) -> None:
    clock = Clock()
    app = _app(world, clock)
    client = TestClient(app, follow_redirects=False)
    assert [_login(client, world, "owner", f"wrong-{i}-xxxxxxx") for i in range(5)] == [401] * 5
    slowed = client.post("/login.json", data={"name": "owner", "password": "wrong-5-xxxxxxx",
                                              "csrf_token": csrf(client, world.project)})
    assert slowed.status_code == 429 and slowed.headers["retry-after"] == "1"   # waits 1 s
    assert slowed.json()["errors"] == [{"message": "too many failed sign-ins",
                                        "hint": "Wait 1 second and try again."}]
    assert _login(client, world, "owner", PASSWORDS["owner"]) == 429
    # Another account, from the same address, is not held up by the owner's failures.
    other = TestClient(app, follow_redirects=False)
    assert _login(other, world, "reviewer", PASSWORDS["reviewer"]) == 303
    clock.now += 1.0
    assert _login(client, world, "owner", "wrong-6-xxxxxxx") == 401       # checked, failed
    assert _login(client, world, "owner", PASSWORDS["owner"]) == 429      # now waits 2 s
    clock.now += 2.0
    assert _login(client, world, "owner", PASSWORDS["owner"]) == 303
    # The success forgot the failures: a typo afterwards is not held up.
    fresh = TestClient(app, follow_redirects=False)
    assert _login(fresh, world, "owner", "typo-xxxxxxxxx") == 401
    assert _login(fresh, world, "owner", PASSWORDS["owner"]) == 303


def test_an_attacker_cannot_keep_the_owner_out_longer_than_the_cap(world: World) -> None:
    clock = Clock()
    limits = Limits(sign_in_address=Limiter(limit=1000, window=900.0, clock=clock),
                    sign_in_account=Backoff(free=2, base=1.0, cap=4.0, window=900.0,
                                            clock=clock),
                    portal_address=Limiter(limit=10, window=300.0, clock=clock))
    app = _app(world, clock, limits)
    attacker = TestClient(app, follow_redirects=False, client=("203.0.113.9", 4000))
    owner = TestClient(app, follow_redirects=False, client=("198.51.100.7", 5000))
    for i in range(8):   # guesses as fast as the backoff lets them be checked
        while _login(attacker, world, "owner", f"guess-{i}-xxxxxxx") == 429:
            clock.now += 1.0
    assert limits.sign_in_account.retry_after("owner") == 4.0            # never more than the cap
    assert _login(owner, world, "owner", PASSWORDS["owner"]) == 429
    clock.now += 4.0
    assert _login(owner, world, "owner", PASSWORDS["owner"]) == 303


def test_failures_from_one_address_block_that_address_until_the_window_passes(
        world: World) -> None:
    clock = Clock()
    limits = Limits(sign_in_address=Limiter(limit=3, window=900.0, clock=clock),
                    sign_in_account=Backoff(clock=clock),
                    portal_address=Limiter(limit=10, window=300.0, clock=clock))
    app = _app(world, clock, limits)
    spray = TestClient(app, follow_redirects=False, client=("203.0.113.9", 4000))
    names = ("owner", "reviewer", "auditor")
    assert [_login(spray, world, n, "wrong-password-x") for n in names] == [401] * 3
    # One failure per account: no account backoff; the address is what is blocked, even for
    # a right password, and another address is not.
    assert _login(spray, world, "auditor", PASSWORDS["auditor"]) == 429
    elsewhere = TestClient(app, follow_redirects=False, client=("198.51.100.7", 5000))
    assert _login(elsewhere, world, "owner", PASSWORDS["owner"]) == 303
    clock.now += 899.0
    assert _login(spray, world, "auditor", PASSWORDS["auditor"]) == 429
    clock.now += 1.0
    assert _login(spray, world, "auditor", PASSWORDS["auditor"]) == 303


def test_portal_link_guesses_are_limited_apart_from_sign_ins(world: World) -> None:
    clock = Clock()
    app = _app(world, clock)
    guesser = TestClient(app, follow_redirects=False)
    codes = [guesser.get(f"/p/guess-{i:02d}-{'x' * 30}").status_code for i in range(11)]
    assert codes == [404] * 10 + [429]
    # Even a real link waits out the window from that address...
    assert guesser.get(f"/p/{world.meta['token_a']}").status_code == 429
    # ...but staff sign-in from the same address is a separate limit.
    assert _login(guesser, world, "owner", PASSWORDS["owner"]) == 303
    clock.now += 300.0
    r = guesser.get(f"/p/{world.meta['token_a']}")
    assert r.status_code == 200 and form_token(r.text)


# -- portal links ------------------------------------------------------------------------------

def _days_left(expires_at: str | None) -> float:
    assert expires_at is not None
    left = datetime.fromisoformat(expires_at) - datetime.now(UTC)
    return left / timedelta(days=1)


def test_portal_links_expire_after_the_configured_days(world: World) -> None:
    worker = world.meta["worker_a"]
    _, link = users.portal_link(world.project, worker)
    assert 89.99 < _days_left(link.expires_at) <= 90.0
    toml = world.root / "tracework.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[web]\n", "[web]\nportal_link_days = 7\n"), encoding="utf-8")
    world.project.config["web"]["portal_link_days"] = 7
    _, week = users.portal_link(world.project, worker)
    assert 6.99 < _days_left(week.expires_at) <= 7.0
    _, given = users.portal_link(world.project, worker, expires_days=2)
    assert 1.99 < _days_left(given.expires_at) <= 2.0
    assert WebConfig.from_project(world.project).portal_link_days == 7
    world.project.config["web"]["portal_link_days"] = 0
    with pytest.raises(ConfigError, match="portal_link_days"):
        WebConfig.from_project(world.project)


def test_a_link_past_its_expiry_opens_nothing_and_ends_its_sessions(world: World) -> None:
    app = world.app()
    client = TestClient(app, follow_redirects=False)
    token = world.meta["token_a"]
    r = client.post(f"/p/{token}", data={"csrf_token": form_token(client.get(f"/p/{token}").text)})
    assert r.status_code == 303 and client.get("/w/").status_code == 200
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="microseconds")
    with world.project.store.write() as conn:
        conn.execute(update(portal_links).where(portal_links.c.worker == world.meta["worker_a"])
                     .values(expires_at=past))
    assert client.get("/w/").status_code == 404
    assert client.get(f"/p/{token}").status_code == 404


def test_rotating_a_link_from_the_cli_stops_the_old_one(world: World) -> None:
    app = world.app()
    worker_id = world.meta["worker_a"]
    old = world.meta["token_a"]
    client = TestClient(app, follow_redirects=False)
    client.post(f"/p/{old}", data={"csrf_token": form_token(client.get(f"/p/{old}").text)})
    assert client.get("/w/").status_code == 200
    before = {link.id for link in users.portal_links_of(world.project, worker_id)}
    result = CliRunner().invoke(cli, ["--project", str(world.root), "portal", "link", worker_id,
                                      "--rotate", "--json", "--base-url",
                                      "https://review.example.org/"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["rotated"] is True and out["worker"] == worker_id
    assert out["url"].startswith("https://review.example.org/p/")
    assert 89.99 < _days_left(out["expires_at"]) <= 90.0
    new = out["url"].rsplit("/", 1)[1]
    assert client.get(f"/p/{old}").status_code == 404
    assert client.get("/w/").status_code == 404               # the old link's session ended
    fresh = TestClient(app, follow_redirects=False)
    r = fresh.post(f"/p/{new}", data={"csrf_token": form_token(fresh.get(f"/p/{new}").text)})
    assert r.status_code == 303 and fresh.get("/w/").status_code == 200
    links = users.portal_links_of(world.project, worker_id)
    assert {link.id for link in links if link.active} == {out["link"]}
    entry = next(e for e in log(world.project, newest_first=True) if e.action == "portal.link")
    assert json.loads(entry.new) == {"link": out["link"], "expires_at": out["expires_at"],
                                     "replaces": sorted(before)}
    # Another worker's link is untouched.
    assert TestClient(app).get(f"/p/{world.meta['token_b']}").status_code == 200


def test_portal_link_prints_the_public_url_by_default(world: World) -> None:
    toml = world.root / "tracework.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[web]\n", '[web]\npublic_url = "https://review.example.org:443/"\n'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--project", str(world.root), "portal", "link",
                                      world.meta["worker_b"], "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["url"].startswith("https://review.example.org/p/")


# -- behind a proxy ----------------------------------------------------------------------------

def test_public_url_is_the_origin_forms_are_accepted_from(world: World) -> None:
    app = world.app(public_url="https://Review.Example.org:443")
    config = app.state.web.config
    assert config.public_url == "https://review.example.org"
    assert "review.example.org" in config.allowed_hosts
    # As the proxy asks: plain http, the public host, the browser's https Origin.
    client = TestClient(app, base_url="http://review.example.org", follow_redirects=False)
    page = client.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()
    # The client does not send a Secure cookie over http; the browser, over https, does.
    pre = page.headers["set-cookie"].split(";")[0]
    data = {"name": "owner", "password": PASSWORDS["owner"], "csrf_token": form_token(page.text)}
    refused = client.post("/login", data=data, headers={"origin": "http://review.example.org",
                                                        "cookie": pre})
    assert refused.status_code == 403 and "another origin" in refused.text
    r = client.post("/login", data=data, headers={"origin": "https://review.example.org",
                                                  "sec-fetch-site": "same-origin", "cookie": pre})
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def test_without_a_public_url_an_https_origin_through_a_proxy_is_refused(world: World) -> None:
    client = TestClient(world.app(allowed_hosts=("review.example.org",)),
                        base_url="http://review.example.org", follow_redirects=False)
    page = client.get("/login")
    r = client.post("/login", headers={"origin": "https://review.example.org"},
                    data={"name": "owner", "password": PASSWORDS["owner"],
                          "csrf_token": form_token(page.text)})
    assert r.status_code == 403 and "another origin" in r.text


@pytest.mark.parametrize("url", ["ftp://review.example.org", "review.example.org",
                                 "https://review.example.org/tracework", "https://"])
def test_a_public_url_that_is_not_an_origin_is_refused(world: World, url: str) -> None:
    with pytest.raises(ConfigError, match="public_url"):
        world.app(public_url=url)


def test_the_public_url_setting_and_environment_win_over_the_web_table(world: World) -> None:
    from tracework.core.project import open_project

    toml = world.root / "tracework.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[web]\n", '[web]\npublic_url = "https://from-file.example.org"\n'), encoding="utf-8")
    project = open_project(world.root, cli={"public_url": "https://from-cli.example.org"})
    try:
        assert WebConfig.from_project(project).public_url == "https://from-cli.example.org"
    finally:
        project.close()
    project = open_project(world.root)
    try:
        assert WebConfig.from_project(project).public_url == "https://from-file.example.org"
    finally:
        project.close()


def test_forwarded_headers_count_only_from_trusted_proxies(world: World) -> None:
    app = world.app(allowed_hosts=("review.example.org",), trusted_proxies=("10.0.0.0/8",))
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-host": "review.example.org",
                 "x-forwarded-for": "192.0.2.1, 198.51.100.7, 10.0.0.3"}
    proxy = TestClient(app, base_url="http://10.0.0.2:8000", follow_redirects=False,
                       client=("10.0.0.2", 4000))
    page = proxy.get("/login", headers=forwarded)
    assert page.status_code == 200 and "secure" in page.headers["set-cookie"].lower()
    clock = Clock()
    limits = Limits.make(clock=clock)
    limits.sign_in_address.limit = 1
    app.state.web.limits = limits
    r = proxy.post("/login", headers={**forwarded, "origin": "https://review.example.org",
                                      "cookie": page.headers["set-cookie"].split(";")[0]},
                   data={"name": "owner", "password": "wrong-password-x",
                         "csrf_token": form_token(page.text)})
    # The client is the last address the trusted proxies did not add; what it wrote itself
    # (192.0.2.1) is not believed.
    assert r.status_code == 401
    assert limits.sign_in_address.blocked("198.51.100.7")
    assert not limits.sign_in_address.blocked("192.0.2.1")
    assert not limits.sign_in_address.blocked("10.0.0.2")
    # The same headers from anyone else change nothing: the host is not allowed.
    other = TestClient(app, base_url="http://10.0.0.2:8000", client=("192.0.2.50", 4000))
    assert other.get("/login", headers=forwarded).status_code == 400
    with pytest.raises(ConfigError, match="trusted_proxies"):
        world.app(trusted_proxies=("proxy.example.org",))


def test_serve_help_states_the_limits_in_force() -> None:
    limits = Limits.make()
    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    account, address, portal = (limits.sign_in_account, limits.sign_in_address,
                                limits.portal_address)
    assert f"after {account.free} failed sign-ins to one account" in text
    assert f"({account.base:g} s, doubling, at most a minute;" in text and account.cap == 60
    assert f"{address.limit} failures from one address refuse it for " \
           f"{address.window / 60:g} minutes" in text
    assert f"{portal.limit} unknown portal links from one address refuse it for " \
           f"{portal.window / 60:g} minutes" in text
    assert "--public-url URL" in text and "--trusted-proxy ADDRESS" in text


def test_upgrade_and_rotation_on_both_databases(project: Project, tmp_path: Path) -> None:
    import tracework

    tracework.ingest_mturk(project, small_files(tmp_path / "in").batch_csv)
    users.user_add(project, "alice", "reviewer", "a-long-password")
    with project.store.write() as conn:
        conn.execute(update(web_users).where(web_users.c.name == "alice")
                     .values(password_hash=users.scrypt_hash("a-long-password")))
    assert users.authenticate(project, "alice", "a-long-password") is not None
    with project.store.read() as conn:
        stored = conn.execute(select(web_users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and users.check_password(stored, "a-long-password")

    with project.store.read() as conn:
        worker = str(conn.execute(select(workers.c.pseudonym).order_by(workers.c.pseudonym))
                     .scalars().first())
    first, _ = users.portal_link(project, worker)
    second, _ = users.portal_link(project, worker)
    assert users.portal_resolve(project, first) and users.portal_resolve(project, second)
    session, _ = users.session_open(project, link=users.portal_resolve(project, first))
    third, link = users.portal_link(project, worker, rotate=True, expires_days=3)
    assert users.portal_resolve(project, first) is None
    assert users.portal_resolve(project, second) is None
    assert users.session_get(project, session) is None
    assert users.portal_resolve(project, third) == link and 2.99 < _days_left(link.expires_at)
    entries = log(project, action="portal.link")
    assert json.loads(entries[-1].new)["replaces"] == [link.id - 2, link.id - 1]


def test_the_portal_shows_a_worker_their_own_bonuses_only(world: World) -> None:
    from test_web_phone import pay_bonuses
    from test_web_support import client_as

    paid, planned = pay_bonuses(world)
    app = world.app()
    mine = client_as(app, "worker-own", world).get("/w/.json").json()["bonuses"]
    assert (mine["paid_cents"], mine["planned_cents"]) == (paid, planned)
    assert [(b["amount_cents"], b["state"], b["submission_id"]) for b in mine["rows"]] == \
        [(paid, "paid", None), (planned, "planned", None)]
    assert mine["rows"][1]["reason"].startswith("Top-up to our wage floor of 40.00 USD")
    other = client_as(app, "worker-other", world).get("/w/.json").json()["bonuses"]
    assert other == {"rows": [], "paid_cents": 0, "planned_cents": 0}
    summary = client_as(app, "worker-own", world).get("/w/.json").json()["summary"]
    # Pay per hour counts the bonus paid, not the one planned.
    assert summary["paid_per_hour"] == round(
        (summary["paid_cents"] + paid) / 100 / (summary["work_time_s"] / 3600), 2)
    page = client_as(app, "worker-own", world).get("/w/").text
    assert "planned, not paid yet" in page and f"{planned / 100:.2f} USD" in page

"""A team server behind a real https reverse proxy: Debian's nginx terminates TLS with a
self-signed certificate and forwards to `tracework serve` on loopback over plain http. Through
it, staff and a worker sign in and make every kind of POST the app has; each must succeed.
A positive control shows the same round trip refused without ``--public-url`` (the bug this
setting fixes), and a second run trusts the proxy's X-Forwarded-* headers instead of naming the
public URL. Skipped, saying why, when nginx or openssl is missing."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from test_web_support import PASSWORDS, World, world  # noqa: F401

NGINX = os.environ.get("TRACEWORK_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl")


def _missing() -> str | None:
    if not Path(NGINX).exists():
        return f"no nginx at {NGINX} (Debian: apt-get install nginx)"
    if OPENSSL is None:
        return "no openssl command (Debian: apt-get install openssl)"
    try:
        import httpx  # noqa: F401
    except ImportError:
        return "the httpx package is not installed"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host {host_header};
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


@dataclass
class Proxied:
    url: str            # what users type: https://localhost:PORT
    cert: Path


def _certificate(tmp: Path) -> Path:
    subprocess.run([str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True)
    return tmp / "cert.pem"


@contextmanager
def behind_nginx(world: World, tmp_path: Path, *serve_args: str,
                 host_header: str = "$http_host") -> Iterator[Proxied]:
    """nginx on https://localhost:PORT in front of `tracework serve SERVE_ARGS` (``{url}`` in
    an argument is replaced by that public URL); ``host_header`` is what nginx sends as Host."""
    tmp = tmp_path / "nginx"
    tmp.mkdir()
    cert = _certificate(tmp)
    port, upstream = _free_port(), _free_port()
    public = f"https://localhost:{port}"
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port, upstream=upstream,
                                                      host_header=host_header),
                                    encoding="utf-8")
    serve_log = tmp_path / "serve.log"
    with open(serve_log, "wb") as out:
        app = subprocess.Popen(
            [sys.executable, "-m", "tracework", "--project", str(world.root), "serve",
             "--port", str(upstream), *(a.format(url=public) for a in serve_args)],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(upstream, app, serve_log)
        nginx_log = tmp / "nginx-error.log"
        nginx_log.touch()
        web = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                                "-e", str(nginx_log)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(port, web, nginx_log)
            yield Proxied(public, cert)
        finally:
            _stop(web)
    finally:
        _stop(app)


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


class Browserish:
    """An httpx client that sends what a browser sends with a form post from the page."""

    def __init__(self, proxied: Proxied) -> None:
        import ssl

        import httpx

        self.base = proxied.url
        trust = ssl.create_default_context(cafile=str(proxied.cert))
        self.client = httpx.Client(base_url=proxied.url, verify=trust,
                                   follow_redirects=False, timeout=30)

    def get(self, path: str) -> tuple[int, str]:
        r = self.client.get(path)
        return r.status_code, r.text

    def post(self, path: str, form_page: str, data: dict[str, str]) -> tuple[int, str]:
        status, html = self.get(form_page)
        assert status == 200, (form_page, status, html[:500])
        r = self.client.post(path, data={**data, "csrf_token": _token(html)},
                             headers={"origin": self.base, "sec-fetch-site": "same-origin",
                                      "referer": f"{self.base}{form_page}"})
        return r.status_code, r.headers.get("location", "") or r.text

    def cookies(self) -> list[str]:
        return [f"{c.name} secure={c.secure}" for c in self.client.cookies.jar]

    def close(self) -> None:
        self.client.close()


def _post_routes(world: World) -> set[str]:
    app = world.app()
    return {r.path for r in app.routes if isinstance(r, APIRoute) and "POST" in r.methods}


def _every_post(world: World, proxied: Proxied) -> dict[str, int]:
    """Each POST route of the app, made through the proxy as a user of the pages would."""
    m = world.meta
    done: dict[str, int] = {}
    staff, worker = Browserish(proxied), Browserish(proxied)
    try:
        done["/login"], where = staff.post("/login", "/login", {
            "name": "reviewer", "password": PASSWORDS["reviewer"], "next": "/queue"})
        assert where == "/queue", where
        assert staff.cookies() and all("secure=True" in c for c in staff.cookies())
        sid = m["sid_open"]
        done["/submissions/{sid}/decision"], _ = staff.post(
            f"/submissions/{sid}/decision", f"/submissions/{sid}",
            {"decision": "reject", "reason_text": "The wheel is not labelled."})
        done["/submissions/{sid}/reveal"], _ = staff.post(
            f"/submissions/{sid}/reveal", f"/submissions/{sid}",
            {"reason": "The worker asked for an accommodation."})
        done["/submissions/{sid}/resolve"], _ = staff.post(
            f"/submissions/{m['sid_c']}/resolve", f"/submissions/{m['sid_c']}",
            {"outcome": "uphold", "reason": "Two parts are still missing."})
        done["/proposals/accept"], _ = staff.post("/proposals/accept", "/queue", {})
        done["/notes"], _ = staff.post("/notes", "/notes", {
            "target": f"submission:{m['sid']}", "text": "Checked through the proxy.",
            "concern": "other"})
        done["/notes/{nid}/reply"], _ = staff.post(f"/notes/{m['nid']}/reply", "/notes",
                                                   {"text": "Agreed."})
        done["/notes/{nid}/resolve"], _ = staff.post(f"/notes/{m['nid']}/resolve", "/notes",
                                                     {"reason": "Mask redrawn."})
        done["/audit/refresh"], _ = staff.post("/audit/refresh", "/audit", {})

        link = m["token_a"]
        done["/p/{token}"], where = worker.post(f"/p/{link}", f"/p/{link}", {})
        assert where == "/w/", where
        done["/w/submissions/{sid}/contest"], _ = worker.post(
            f"/w/submissions/{m['sid']}/contest", f"/w/submissions/{m['sid']}",
            {"message": "The cable is labelled: it is the thin grey part."})
        done["/w/consent"], _ = worker.post("/w/consent", "/w/", {
            "link": "true", "credit": "true", "credit_name": "Ada Example"})
        done["/w/notes"], _ = worker.post("/w/notes", "/w/", {
            "target": "mine", "text": "Sent through the proxy."})
        done["/w/contact"], _ = worker.post("/w/contact", "/w/messages", {
            "contactable": "true"})
        done["/w/messages/{mid}"], _ = worker.post(
            f"/w/messages/{m['mid']}", "/w/messages", {"action": "read"})
        done["/logout"], where = worker.post("/logout", "/w/", {})
        assert where == "/w/signed-out", where
        status, _ = staff.post("/logout", "/queue", {})
        assert status == 303
    finally:
        staff.close()
        worker.close()
    return done


def test_every_post_succeeds_through_an_https_proxy_with_public_url(
        world: World, tmp_path: Path) -> None:
    with behind_nginx(world, tmp_path, "--public-url", "{url}") as proxy:
        done = _every_post(world, proxy)
    assert set(done) == _post_routes(world), "a POST route is not exercised through the proxy"
    assert {path: status for path, status in done.items() if status != 303} == {}
    from tracework.core.status import log

    actions = {e.action for e in log(world.project)}
    assert {"review.decide", "review.contest", "review.resolve", "review.reveal",
            "consent.set"} <= actions, \
        actions


def test_every_post_succeeds_when_the_proxy_is_trusted_instead(
        world: World, tmp_path: Path) -> None:
    # The proxy sends its own upstream address as Host: only X-Forwarded-Host names the
    # public one, believed because the proxy is trusted.
    with behind_nginx(world, tmp_path, "--trusted-proxy", "127.0.0.1",
                      host_header="$proxy_host") as proxy:
        done = _every_post(world, proxy)
    assert {path: status for path, status in done.items() if status != 303} == {}


def test_without_public_url_the_proxy_is_refused(world: World, tmp_path: Path) -> None:
    # The positive control: how a team server behaved before the setting.
    with behind_nginx(world, tmp_path) as proxy:
        client = Browserish(proxy)
        try:
            status, body = client.post("/login", "/login", {"name": "reviewer",
                                                            "password": PASSWORDS["reviewer"]})
        finally:
            client.close()
    assert status == 403 and "another origin" in body

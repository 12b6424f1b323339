"""In a real headless Chromium (Debian's package): a reviewer signs in and rejects a submission
with a reason; the worker opens their private link, reads the reason and contests it; the
reviewer sees the contest. Screenshots are saved (set TRACEWORK_SCREENSHOTS to keep them in a
folder of your choice) and their paths printed. Skipped, saying why, when Chromium or the
playwright package is missing; Playwright never downloads a browser here."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_web_support import PASSWORDS, World, world  # noqa: F401

CHROMIUM = os.environ.get("TRACEWORK_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(world: World) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    app = world.app(allowed_hosts=("127.0.0.1",))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _browser(p: Any, profile: Path) -> Any:
    profile.mkdir(parents=True, exist_ok=True)
    return p.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
        viewport={"width": 1280, "height": 900})


def test_reject_contest_round_trip(world: World, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("TRACEWORK_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    sid = world.meta["sid_open"]
    problems: list[str] = []
    reason = "The scroll wheel is not labelled."
    message = "I labelled the wheel: it is the small orange part."

    def watch(page: Any) -> None:
        page.on("console", lambda m: problems.append(m.text)
                if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

    with sync_playwright() as p:
        staff = _browser(p, tmp_path / "profile-reviewer")
        page = staff.new_page()
        watch(page)
        page.goto(f"{server}/queue")
        assert "/login" in page.url
        page.fill("input[name=name]", "reviewer")
        page.fill("input[name=password]", PASSWORDS["reviewer"])
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        if page.url != f"{server}/queue":
            page.screenshot(path=str(shots / "0-login-failed.png"))
            raise AssertionError(page.content()[:3000])
        page.goto(f"{server}/submissions/{sid}")
        # The masks are drawn over the image, and a part can be hidden (key 1 toggles it).
        masks = page.locator("img.mask")
        assert masks.count() >= 1
        page.keyboard.press("1")
        assert masks.first.is_hidden()
        page.keyboard.press("1")
        assert masks.first.is_visible()
        # The opacity slider applies to every mask.
        assert masks.first.evaluate("m => getComputedStyle(m).opacity") == "0.6"
        page.locator("input[data-opacity]").evaluate(
            "s => { s.value = '25'; s.dispatchEvent(new Event('input')); }")
        assert {masks.nth(i).evaluate("m => getComputedStyle(m).opacity")
                for i in range(masks.count())} == {"0.25"}
        # Keys: r focuses the reason, x (outside a text field) rejects.
        page.keyboard.press("r")
        assert page.evaluate("document.activeElement.name") == "reason_text"
        page.keyboard.type(reason)
        page.locator("h1").click()
        page.screenshot(path=str(shots / "1-reviewer-rejects.png"), full_page=True)
        with page.expect_navigation():
            page.keyboard.press("x")
        assert f"/submissions/{sid}" not in page.url           # on to the next waiting item
        assert "/submissions/" in page.url

        # The worker gets a private link; the reviewer's rejection awaits them.
        worker_ctx = _browser(p, tmp_path / "profile-worker")
        wpage = worker_ctx.new_page()
        watch(wpage)
        from tracework.web import users

        with world.project.store.read() as conn:
            from sqlalchemy import text

            who = conn.execute(text("select worker from submissions where id = :i"),
                               {"i": sid}).scalar_one()
        token, _ = users.portal_link(world.project, who)
        wpage.goto(f"{server}/p/{token}")
        wpage.click("button[type=submit]")
        wpage.wait_for_url(f"{server}/w/")
        assert reason in wpage.content()
        wpage.click(f"a[href='/w/submissions/{sid}']")
        assert reason in wpage.locator(".reason").inner_text()
        wpage.fill("textarea[name=message]", message)
        wpage.screenshot(path=str(shots / "2-worker-contests.png"), full_page=True)
        wpage.click("form.contest button[type=submit]")
        wpage.wait_for_url(f"{server}/w/submissions/{sid}")
        assert "You contested" in wpage.content()

        page.goto(f"{server}/queue?status=contested")
        assert page.locator(f"a[href='/submissions/{sid}']").count() == 1
        page.goto(f"{server}/submissions/{sid}")
        assert message in page.locator(".contest-message").inner_text()
        # While the contest is open, the reviewer answers it rather than deciding afresh.
        assert page.locator("button[value=overturn]").count() == 1
        assert page.locator("button[value=reject]").count() == 0
        page.screenshot(path=str(shots / "3-reviewer-sees-contest.png"), full_page=True)
        # The audits are never computed inside a request: the page offers a refresh, which runs
        # in the background; the charts appear once it is done.
        page.goto(f"{server}/audit")
        assert "not been computed yet" in page.content()
        page.click("form[action='/audit/refresh'] button[type=submit]")
        page.wait_for_url(f"{server}/audit")
        for _ in range(240):
            if page.locator("figure.chart svg").count() >= 3:
                break
            page.wait_for_timeout(500)
            page.reload()
        assert page.locator("figure.chart svg").count() >= 3
        page.screenshot(path=str(shots / "4-audit-charts.png"), full_page=True)
        staff.close()
        worker_ctx.close()
    for name in ("1-reviewer-rejects.png", "2-worker-contests.png", "3-reviewer-sees-contest.png",
                 "4-audit-charts.png"):
        path = shots / name
        assert path.stat().st_size > 5000
        print(f"screenshot: {path}")
    csp = [m for m in problems if "Content Security Policy" in m or "Refused" in m]
    assert csp == [] and problems == []


def _sign_in(page: Any, server: str, name: str) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_blind_review_reveal_redecision_audit_and_thumbnails(world: World, server: str,
                                                             tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright
    from sqlalchemy import update

    from tracework.core.store.schema import workers
    from tracework.render.html_report import refresh_audits

    shots = Path(os.environ.get("TRACEWORK_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    sid, worker = world.meta["sid"], world.meta["worker_a"]
    with world.project.store.write() as conn:
        conn.execute(update(workers).where(workers.c.pseudonym == worker)
                     .values(consent_link=True, consent_credit=True, credit_name="Ana K."))
    refresh_audits(world.project)
    problems: list[str] = []
    with sync_playwright() as p:
        staff = _browser(p, tmp_path / "profile-blind")
        page = staff.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        _sign_in(page, server, "reviewer")
        # Blind by default: no survey answers, no credit name; a reason reveals them.
        page.goto(f"{server}/submissions/{sid}")
        assert page.locator("[data-blind]").is_visible()
        assert page.locator("[data-survey-answers]").count() == 0
        assert "Ana K." not in page.content()
        page.screenshot(path=str(shots / "5-blind-review.png"), full_page=True)
        page.click("form[data-reveal] button[type=submit]")     # empty reason: refused
        assert page.url == f"{server}/submissions/{sid}"
        assert page.locator("[data-survey-answers]").count() == 0
        page.fill("form[data-reveal] input[name=reason]", "The worker asked for an "
                  "accommodation.")
        with page.expect_navigation():
            page.click("form[data-reveal] button[type=submit]")
        assert page.locator("[data-survey-answers] dt").count() >= 1
        assert "credited as Ana K." in page.locator("#worker-context + p").inner_text()
        assert "The worker asked for an accommodation." in page.locator(
            "[data-revealed]").inner_text()
        page.screenshot(path=str(shots / "6-revealed.png"), full_page=True)
        # Re-decision with the keyboard: a rejects again needs a reason first.
        assert page.locator("form[data-redecide]").count() == 1
        page.locator("h1").click()
        page.keyboard.press("a")                # the required reason stops the form
        assert page.url.startswith(f"{server}/submissions/{sid}")
        assert page.evaluate("document.activeElement.name") == "reason_text"
        page.keyboard.type("Re-checked: the cable is labelled.")
        page.locator("h1").click()
        page.screenshot(path=str(shots / "7-redecision.png"), full_page=True)
        with page.expect_navigation():
            page.keyboard.press("a")
        page.goto(f"{server}/submissions/{sid}")
        assert "Approved" in page.locator("h1 .status").inner_text()
        history = page.locator("table.log").inner_text()
        assert "status Rejected → Approved: Re-checked: the cable is labelled." in history
        # The raw entry is one click away.
        raw = page.locator("details.raw").first
        assert not raw.locator("code").is_visible()
        raw.locator("summary").click()
        assert raw.locator("code").is_visible()
        # The audit page: figures in words, each with its JSON twin, from the stored results.
        page.goto(f"{server}/audit")
        assert page.locator("section[data-figure]").count() == 4
        assert "% of workers below the floor" in page.content() or \
            "no wage floor set" in page.content()
        assert page.locator("[data-age]").inner_text().startswith("Figures computed")
        assert page.locator("figure.chart svg").count() >= 3
        page.screenshot(path=str(shots / "8-audit.png"), full_page=True)
        twin = page.locator("section[data-figure=labour] a[data-json]").get_attribute("href")
        assert twin == "/audit/labour.json"
        answer = page.request.get(f"{server}{twin}")      # with the browser's session
        assert answer.status == 200
        assert [f["key"] for f in answer.json()["audit"]["figures"]] == ["labour"]
        # The dataset browser: thumbnails of the image and of every worker's version.
        page.goto(f"{server}/dataset?category=Cable")
        thumbs = page.locator("img.thumb")
        assert thumbs.count() >= 2
        for i in range(min(thumbs.count(), 12)):
            thumbs.nth(i).scroll_into_view_if_needed()
        page.wait_for_function(
            "() => [...document.querySelectorAll('img.thumb')].slice(0, 12)"
            ".every(i => i.complete && i.naturalWidth > 0)", timeout=60000)
        widths = page.evaluate("[...document.querySelectorAll('img.thumb')].slice(0, 12)"
                               ".map(i => i.naturalWidth)")
        assert widths and all(w == 160 for w in widths)
        assert page.locator("select[name=category] option[selected]").inner_text() == "Cable"
        page.screenshot(path=str(shots / "9-dataset-thumbnails.png"), full_page=True)
        # The asset page: one colour per worker, with who is who.
        page.goto(f"{server}/assets/{world.meta['asset_id']}")
        assert page.locator("[data-legend-workers] li[data-worker]").count() >= 2
        page.wait_for_function("() => [...document.querySelectorAll('img.mask')]"
                               ".every(i => i.complete && i.naturalWidth > 0)", timeout=60000)
        page.screenshot(path=str(shots / "10-asset-by-worker.png"), full_page=True)
        staff.close()
    for name in ("5-blind-review.png", "6-revealed.png", "7-redecision.png", "8-audit.png",
                 "9-dataset-thumbnails.png", "10-asset-by-worker.png"):
        path = shots / name
        assert path.stat().st_size > 5000
        print(f"screenshot: {path}")
    assert problems == []

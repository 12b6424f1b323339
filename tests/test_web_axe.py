"""Accessibility checked by a tool: axe-core runs in a real headless Chromium on every page of
the web app (the staff pages signed in, the worker's portal, the sign-in page) and finds no
violation of impact serious or critical.

axe-core comes from npm (`make` installs it into .venv/node; TRACEWORK_AXE names another
axe.min.js). Skipped, saying why, when axe-core, Chromium or the playwright package is
missing; Playwright never downloads a browser here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from test_web_browser import CHROMIUM, _missing, server  # noqa: F401
from test_web_support import PASSWORDS, World, world  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
# Where `make` puts it: beside this checkout's virtualenv, or the one running the tests.
AXE_CANDIDATES = [Path(os.environ["TRACEWORK_AXE"])] if os.environ.get("TRACEWORK_AXE") else [
    root / "node" / "node_modules" / "axe-core" / "axe.min.js"
    for root in (ROOT / ".venv", Path(sys.prefix))]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SEVERE = ("serious", "critical")


def _axe() -> Path | None:
    return next((p for p in AXE_CANDIDATES if p.is_file()), None)


def _why_skip() -> str | None:
    if _axe() is None:
        return ("axe-core is not installed (`make check` installs it with npm, or: npm install "
                "--prefix .venv/node axe-core@4)")
    return _missing()


pytestmark = pytest.mark.skipif(_why_skip() is not None, reason=_why_skip() or "")

# Runs axe on the page as it stands; only what a person would meet: violations with their
# rule, impact and the elements (CSS selectors) that break it.
RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return {passed: result.passes.length, rules: result.passes.map(r => r.id),
    violations: result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '')
        .replace(/\\s+/g, ' ').slice(0, 200))}))};
}"""


def _check(page: Any, axe: str, url: str, found: dict[str, list[dict[str, Any]]]) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    page.evaluate(axe)
    result = page.evaluate(RUN)
    # The checker ran its rules on the page (colour contrast among them), not on nothing.
    assert result["passed"] > 5 and "color-contrast" in result["rules"] + [
        v["id"] for v in result["violations"]], (url, result["passed"])
    severe = [v for v in result["violations"] if v["impact"] in SEVERE]
    if severe:
        found[url] = severe


def _report(found: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for url, violations in found.items():
        lines.append(url)
        for v in violations:
            lines.append(f"  {v['id']} ({v['impact']}): {v['help']}")
            lines += [f"    {t}" for t in v["targets"][:8]]
    return "\n".join(lines)


def test_every_page_passes_axe(world: World, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tracework.docs.datasheet import export_datasheet
    from tracework.fieldnotes import notes
    from tracework.render.html_report import refresh_audits, report
    from tracework.web import users

    refresh_audits(world.project)      # the audit page with its charts, as after a refresh
    # Every state a note is drawn in: open, answered by a reply, resolved (drawn faded).
    meta = world.meta
    notes.reply(world.project, meta["nid"], "It is shifted by two pixels.", author="owner")
    done = notes.add(world.project, f"submission:{meta['sid']}", "The wheel is hard to see.",
                     concern="ambiguous_guideline", author="reviewer")
    notes.resolve(world.project, done.id, reason="guideline updated", by="owner")
    axe = _axe().read_text(encoding="utf-8")  # type: ignore[union-attr]
    found: dict[str, list[dict[str, Any]]] = {}
    checked: list[str] = []
    with sync_playwright() as p:
        # The app's CSP allows no inline script: the checker is let in by the browser, not by
        # loosening the pages' policy.
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile-staff"), executable_path=CHROMIUM, headless=True,
            args=ARGS, viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page = context.new_page()
        _check(page, axe, f"{server}/login", found)
        checked.append("/login")
        page.fill("input[name=name]", "owner")
        page.fill("input[name=password]", PASSWORDS["owner"])
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, page.content()[:2000]
        staff = ["/", "/queue", "/queue?status=contested", f"/submissions/{meta['sid']}",
                 f"/submissions/{meta['sid_c']}", f"/submissions/{meta['sid_open']}",
                 f"/assets/{meta['asset_id']}", "/dataset", "/audit", "/audit/labour", "/log", "/taxonomy",
                 "/notes", f"/workers/{meta['worker_a']}", "/submissions/999999"]
        for path in staff:
            _check(page, axe, server + path, found)
            checked.append(path)
        # The static report and the datasheet, pages of their own.
        report(world.project, tmp_path / "report.html")
        export_datasheet(world.project, tmp_path / "DATASHEET.md", html=True, status="all")
        for name in ("report.html", "DATASHEET.html"):
            _check(page, axe, (tmp_path / name).as_uri(), found)
            checked.append(name)
        context.close()

        worker = p.chromium.launch_persistent_context(
            str(tmp_path / "profile-worker"), executable_path=CHROMIUM, headless=True,
            args=ARGS, viewport={"width": 1280, "height": 900}, bypass_csp=True)
        wpage = worker.new_page()
        token, _ = users.portal_link(world.project, meta["worker_a"])
        _check(wpage, axe, f"{server}/p/{token}", found)
        checked.append("/p/…")
        wpage.click("button[type=submit]")
        wpage.wait_for_url(f"{server}/w/")
        for path in ("/w/", f"/w/submissions/{meta['sid']}", "/w/record", "/w/messages"):
            _check(wpage, axe, server + path, found)
            checked.append(path)
        wpage.context.clear_cookies()
        _check(wpage, axe, f"{server}/w/signed-out", found)
        checked.append("/w/signed-out")
        worker.close()
    print(f"\naxe-core checked {len(checked)} pages: {', '.join(checked)}")
    assert found == {}, "axe-core found serious or critical violations:\n" + _report(found)

"""The worker portal on a phone, in a real headless Chromium (Debian's package): at 360 and 390
px wide nothing scrolls sideways, text is at least 16 px, every button, link and form field of
the main flow is at least 44 px tall, and the worker sees the bonuses paid and the top-ups
planned for them; the same pages at 1280 px for comparison. Screenshots are saved as the other
browser test saves them (TRACEWORK_SCREENSHOTS to choose the folder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from test_web_browser import ARGS, CHROMIUM, _missing, server  # noqa: F401
from test_web_support import World, world  # noqa: F401
from tracework import pay, review
from tracework.core.store.schema import bonuses, submissions
from tracework.fieldnotes import notes

pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")

VIEWPORTS = [(360, 740), (390, 844), (1280, 800)]

# What the page measures: its width against the window's, the base font size, and each target
# of the main flow (visible links, buttons, form fields and the labels around checkboxes) that
# is smaller than a fingertip.
MEASURE = """() => {
  const small = [];
  const targets = document.querySelectorAll(
    'header a, header button, main a, main button, main select, main textarea, ' +
    'main input:not([type=hidden]):not([type=checkbox]), main label');
  for (const el of targets) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.height < 44 || (el.tagName === 'BUTTON' && box.width < 44)) {
      small.push(`${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}" ` +
                 `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          font: parseFloat(getComputedStyle(document.body).fontSize), small: small,
          targets: targets.length};
}"""


def pay_bonuses(world: World) -> tuple[int, int]:
    """A paid top-up and, after the wage floor rises, a planned one for worker A."""
    worker = world.meta["worker_a"]
    project = world.project
    with project.store.read() as conn:
        waiting = conn.execute(select(submissions.c.id).where(
            submissions.c.worker == worker, submissions.c.status == "Submitted")).scalars().all()
    for sid in waiting:
        review.decide(project, sid, "approve", reviewer="reviewer")
    project.config.setdefault("pay", {}).update(wage_floor_per_hour=20, currency="USD")
    assert pay.topup(project).planned == 1
    assert pay.mark_paid(project, all_planned=True) == 1
    project.config["pay"]["wage_floor_per_hour"] = 40
    assert pay.topup(project).planned == 1
    with project.store.read() as conn:
        rows = conn.execute(select(bonuses.c.amount_cents, bonuses.c.state)
                            .where(bonuses.c.worker == worker)).all()
    paid = sum(r.amount_cents for r in rows if r.state == "paid")
    planned = sum(r.amount_cents for r in rows if r.state == "planned")
    assert paid > 0 and planned > 0
    return paid, planned


def test_the_portal_fits_a_phone_and_shows_bonuses(world: World, server: str,
                                                   tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    # One long unbroken word in a reason and a note must wrap, not widen the page.
    long_word = "https://example.org/guidelines/" + "x" * 150
    with world.project.store.read() as conn:
        first_waiting = conn.execute(select(submissions.c.id).where(
            submissions.c.worker == world.meta["worker_a"],
            submissions.c.status == "Submitted").order_by(submissions.c.id)).scalars().first()
    review.decide(world.project, first_waiting, "reject", reviewer="reviewer",
                  reason=f"See {long_word}")
    notes.add(world.project, f"worker:{world.meta['worker_a']}", long_word, concern="other",
              author=world.meta["worker_a"])
    paid, planned = pay_bonuses(world)
    shots = Path(os.environ.get("TRACEWORK_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    token = world.meta["token_a"]
    sid = world.meta["sid"]
    problems: list[str] = []
    measured: dict[str, Any] = {}
    saved: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for width, height in VIEWPORTS:
            context = browser.new_context(viewport={"width": width, "height": height},
                                          device_scale_factor=1, has_touch=width < 600,
                                          is_mobile=width < 600)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            pages = (("door", f"/p/{token}"), ("home", "/w/"),
                     ("submission", f"/w/submissions/{sid}"))
            for name, path in pages:
                if name == "home":
                    page.click("button[type=submit]")
                    page.wait_for_url(f"{server}/w/")
                else:
                    page.goto(f"{server}{path}")
                measured[f"{name}@{width}"] = found = page.evaluate(MEASURE)
                shot = shots / f"portal-{name}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                saved.append(shot)
                if name == "door":
                    continue
                if name == "home":
                    assert f"{paid / 100:.2f} USD" in page.locator("#bonus-paid").inner_text()
                    assert f"{planned / 100:.2f} USD" in \
                        page.locator("#bonus-planned").inner_text()
                    states = page.locator("#bonuses tr.bonus td[data-label=state]")
                    assert [states.nth(i).inner_text() for i in range(states.count())] == \
                        ["paid", "planned, not paid yet"]
            context.close()
        browser.close()
    for key, found in measured.items():
        print(f"{key}: page {found['scrollWidth']} px wide in a {found['innerWidth']} px "
              f"window, text {found['font']} px, {found['targets']} targets all >= 44 px")
        assert found["targets"] > 0, key
        assert found["scrollWidth"] <= found["innerWidth"], (key, found)
        assert found["font"] >= 16, (key, found)
        assert found["small"] == [], (key, found["small"])
    for shot in saved:
        assert shot.stat().st_size > 3000
        print(f"screenshot: {shot}")
    assert problems == []

"""In a real headless Chromium: a worker opens their private link, downloads a signed record
leaving out their rejected work (it verifies and says it was filtered), says the dataset's
users may write to them, reads a private message that the requester's store cannot read, and
answers it, giving a name. Skipped, saying why, when Chromium or playwright is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from test_web_browser import _browser, _missing, server  # noqa: F401  (fixture)
from test_web_support import World, world  # noqa: F401
from tracework.core import contact
from tracework.core.store.schema import metadata
from tracework.docs import record

pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")

SEALED_TEXT = "Could we cite you in our paper? (sealed zq-77)"


def _store_text(world: World) -> str:
    parts = []
    with world.project.store.read() as conn:
        for table in metadata.sorted_tables:
            parts += [json.dumps([str(v) for v in row]) for row in conn.execute(select(table))]
    return "\n".join(parts)


def test_record_download_and_a_private_message_in_the_portal(world: World, server: str,
                                                             tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("TRACEWORK_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    worker = world.meta["worker_a"]
    problems: list[str] = []

    def watch(page: Any) -> None:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

    with sync_playwright() as p:
        browser = _browser(p, tmp_path / "profile-worker")
        page = browser.new_page()
        watch(page)
        page.goto(f"{server}/p/{world.meta['token_a']}")
        page.click("main button[type=submit]")
        page.wait_for_url(f"{server}/w/")
        page.click("text=Your signed work record")
        page.wait_for_url(f"{server}/w/record")
        page.check("input[name=exclude][value=rejected]")
        with page.expect_download() as info:
            page.click("text=Download my signed record")
        saved = tmp_path / "record.json"
        info.value.save_as(str(saved))
        page.screenshot(path=str(shots / "record.png"), full_page=True)

        check = record.verify_record(saved, public_key=record.project_public_key(world.project))
        assert check.ok, check.problem
        assert (check.worker, check.filtered, check.excluded) == (worker, True, ["rejected"])
        doc = json.loads(saved.read_text(encoding="utf-8"))
        assert doc["record"]["filter"]["left_out"]["submissions"] == 1   # A's rejection
        assert "Rejected" not in {s["status"] for s in doc["record"]["submissions"]}

        # A dataset user writes a private message to a handle of A's label.
        with world.project.store.read() as conn:
            handle = contact.handles_for(conn, world.project.secret,
                                         [(world.meta["aid"], worker)])[world.meta["aid"]]
        sent = contact.send(world.project, handle, SEALED_TEXT, sender="Dr. Ana, lab.example",
                            private=True)
        assert SEALED_TEXT not in _store_text(world)

        page.goto(f"{server}/w/")
        page.click("text=Messages from the dataset's users")
        page.wait_for_url(f"{server}/w/messages")
        assert page.is_checked("input[name=contactable]")
        article = page.locator(f"#m{sent.message}")
        assert SEALED_TEXT in article.inner_text()
        assert "private: sealed to you" in article.inner_text()
        assert "Thank you for this label." in page.locator("#messages").inner_text()
        article.locator("textarea[name=text]").fill("Yes, gladly.")
        article.locator("input[name=reveal]").fill("Maria P., maria@example.org")
        article.locator("button[value=answer]").click()
        page.wait_for_load_state()
        answered = page.locator(f"#m{sent.message}").inner_text()
        assert "You answered" in answered and "Maria P., maria@example.org" in answered
        page.screenshot(path=str(shots / "messages.png"), full_page=True)
        print(f"screenshots: {shots / 'record.png'} {shots / 'messages.png'}")
        browser.close()
    assert contact.replies(world.project, sent.message) == [
        {"answer": "Yes, gladly.", "revealed": "Maria P., maria@example.org",
         "created_at": contact.replies(world.project, sent.message)[0]["created_at"]}]
    assert SEALED_TEXT not in _store_text(world)
    assert problems == []

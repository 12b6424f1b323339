"""The web app's flows end to end, in-process: reviewing (decide, conflicts, bulk, contests),
the worker portal (own data only, consent into the next export, contest, notes, receipt),
fieldnotes, and output escaping of hostile text on every page."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select, text, update

from test_web import AUTH, concrete
from test_web_support import (  # noqa: F401  (fixtures)
    ROLES,
    World,
    client_as,
    csrf,
    world,
)
from tracework import review
from tracework.core.status import log
from tracework.core.store.schema import submissions, workers
from tracework.dataset import select_dataset
from tracework.fieldnotes import notes


def _post(client: Any, world: World, url: str, **form: str) -> Any:
    return client.post(url, data={**form, "csrf_token": csrf(client, world.project)})


def _status(world: World, sid: int) -> str:
    with world.project.store.read() as conn:
        return str(conn.execute(select(submissions.c.status)
                                .where(submissions.c.id == sid)).scalar_one())


def test_reject_with_reason_goes_to_the_next_waiting_item(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    sid = world.meta["sid_open"]
    page = client.get(f"/submissions/{sid}")
    assert page.status_code == 200 and 'name="decision" value="reject"' in page.text
    r = _post(client, world, f"/submissions/{sid}/decision", decision="reject",
              reason_text="The scroll wheel is not labelled.", seen="")
    assert r.status_code == 303
    following = r.headers["location"]
    assert re.fullmatch(r"/submissions/\d+", following) and following != f"/submissions/{sid}"
    assert _status(world, sid) == "Rejected"
    entries = log(world.project, target=f"submission:{sid}", newest_first=True)
    assert any(e.actor == "reviewer" for e in entries)
    shown = client.get(f"/submissions/{sid}.json").json()
    assert shown["review"]["current"]["reason_text"] == "The scroll wheel is not labelled."
    assert shown["review"]["current"]["reviewer"] == "reviewer"


def test_rejection_without_reason_is_refused_and_nothing_stored(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    sid = world.meta["sid_open"]
    r = client.post(f"/submissions/{sid}/decision", headers={"accept": "application/json"},
                    data={"decision": "reject", "reason_text": "", "seen": "",
                          "csrf_token": csrf(client, world.project)})
    assert r.status_code == 400 and r.json()["ok"] is False
    assert "reason" in r.json()["error"]
    assert _status(world, sid) == "Submitted"


def test_second_reviewer_on_the_same_item_sees_a_conflict(world: World) -> None:
    app = world.app()
    first, second = client_as(app, "reviewer", world), client_as(app, "owner", world)
    sid = world.meta["sid_open"]
    # Both opened the item while it was undecided.
    seen_first = first.get(f"/submissions/{sid}.json").json()["review"]["version"]
    seen_second = second.get(f"/submissions/{sid}.json").json()["review"]["version"]
    assert seen_first == seen_second == ""
    assert _post(first, world, f"/submissions/{sid}/decision", decision="approve",
                 seen=seen_first).status_code == 303
    r = _post(second, world, f"/submissions/{sid}/decision", decision="reject",
              reason_text="Parts are missing.", seen=seen_second)
    assert r.status_code == 409
    assert "conflict" in r.text.lower() or "decided" in r.text.lower()
    assert _status(world, sid) == "Approved"          # nothing of the second is stored
    shown = second.get(f"/submissions/{sid}.json").json()["review"]["current"]
    assert shown["decision"] == "approve" and shown["reviewer"] == "reviewer"


def test_bulk_acceptance_of_proposals(world: World) -> None:
    project = world.project
    review.propose(project)
    proposed = [i.submission_id for i in review.review_list(project, proposed=True,
                                                            status="submitted")]
    client = client_as(world.app(), "reviewer", world)
    r = client.post("/proposals/accept", headers={"accept": "application/json"},
                    data={"csrf_token": csrf(client, project)})
    assert r.status_code == 200, r.text
    assert r.json()["report"]["decided"] == len(proposed)
    for sid in proposed:
        assert _status(world, sid) in ("Rejected", "Rework")


def test_worker_sees_reason_contests_and_reviewer_sees_and_resolves(world: World) -> None:
    app = world.app()
    worker = client_as(app, "worker-own", world)
    sid = world.meta["sid"]
    home = worker.get("/w/")
    assert home.status_code == 200 and "The cable is not labelled." in home.text
    page = worker.get(f"/w/submissions/{sid}")
    assert "The cable is not labelled." in page.text and "Contest this decision" in page.text
    r = _post(worker, world, f"/w/submissions/{sid}/contest",
              message="I labelled the cable: it is the thin line at the bottom.")
    assert r.status_code == 303 and r.headers["location"] == f"/w/submissions/{sid}"
    again = worker.get(f"/w/submissions/{sid}")
    assert "Contest this decision" not in again.text and "You contested" in again.text
    # Contesting twice is a conflict, not a second dispute.
    assert _post(worker, world, f"/w/submissions/{sid}/contest", message="again").status_code \
        == 409
    entry = log(world.project, target=f"submission:{sid}", action="review.contest")[0]
    assert entry.actor == world.meta["worker_a"]
    staff = client_as(app, "reviewer", world)
    queue = staff.get("/queue.json", params={"status": "contested"}).json()["rows"]
    assert sid in {r["submission_id"] for r in queue}
    detail = staff.get(f"/submissions/{sid}")
    assert "the thin line at the bottom" in detail.text
    r = _post(staff, world, f"/submissions/{sid}/resolve", outcome="overturn",
              reason="You are right: the cable is labelled.")
    assert r.status_code == 303
    assert _status(world, sid) == "Approved"
    after = worker.get(f"/w/submissions/{sid}").text
    assert "You are right: the cable is labelled." in after


def test_portal_consent_is_a_ledger_entry_and_reaches_the_next_export(world: World) -> None:
    project = world.project
    worker = world.meta["worker_a"]
    with project.store.write() as conn:          # a worker who answered the survey
        has = conn.execute(text("select count(*) from responses where worker = :w"),
                           {"w": worker}).scalar()
    if not has:
        pytest.skip("worker A has no survey response in this generated batch")
    before = select_dataset(project, status="all")
    with project.store.read() as conn:
        old = conn.execute(select(workers).where(workers.c.pseudonym == worker)).one()
    client = client_as(world.app(), "worker-own", world)
    r = _post(client, world, "/w/consent", link="true", publish="true", credit="true",
              credit_name="Ana K.")
    assert r.status_code == 303
    with project.store.read() as conn:
        row = conn.execute(select(workers).where(workers.c.pseudonym == worker)).one()
    assert (row.consent_link, row.consent_publish, row.consent_credit, row.credit_name) == \
        (True, True, True, "Ana K.")
    entries = log(project, target=f"worker:{worker}", action="consent.set")
    changed = {scope for scope in ("link", "publish", "credit")
               if not getattr(old, f"consent_{scope}")} | {"credit_name"}
    mine = [e for e in entries if e.actor == worker]
    assert {e.field for e in mine} == changed
    assert all(e.reason == "set by the worker in the portal" for e in mine)
    after = select_dataset(project, status="all")
    assert worker in after.published_answers
    if worker not in before.published_answers:
        assert any(a.worker == worker and "survey" in a.attributes for a in after.annotations)
    # Withdrawing takes effect the same way.
    _post(client, world, "/w/consent")
    assert worker not in select_dataset(project, status="all").published_answers


def test_consent_needs_a_name_to_credit(world: World) -> None:
    client = client_as(world.app(), "worker-own", world)
    r = client.post("/w/consent", headers={"accept": "application/json"},
                    data={"credit": "true", "credit_name": " ",
                          "csrf_token": csrf(client, world.project)})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "credit_name"


def test_worker_cannot_reach_anything_of_another_worker(world: World) -> None:
    app = world.app()
    other = client_as(app, "worker-other", world)
    m = world.meta
    missing = other.get("/w/submissions/999999", headers={"accept": "application/json"})
    assert missing.status_code == 404
    for url in (f"/w/submissions/{m['sid']}", f"/w/submissions/{m['sid']}/image",
                f"/w/annotations/{m['aid']}/mask.png", f"/w/submissions/{m['sid']}.json"):
        r = other.get(url, headers={"accept": "application/json"})
        assert r.status_code == 404, url
        assert r.json()["error"].replace(str(m["sid"]), "N").replace(str(m["aid"]), "N") \
            in (missing.json()["error"].replace("999999", "N"), "no mask N")
    r = _post(other, world, f"/w/submissions/{m['sid']}/contest", message="not mine")
    assert r.status_code == 404
    r = _post(other, world, "/w/notes", target=f"submission:{m['sid']}", text="x")
    assert r.status_code == 404
    # Staff pages do not exist for a worker either.
    for method, path in AUTH:
        if method == "GET" and AUTH[(method, path)]["worker-other"] == "404":
            assert other.get(concrete(path, world)).status_code == 404, path
    # Their own pages show none of A's submissions.
    home = other.get("/w/.json").json()
    assert m["sid"] not in {s["id"] for s in home["submissions"]["rows"]}
    assert all(s["worker"] == m["worker_b"] for s in home["submissions"]["rows"])
    receipt = other.get("/w/receipt.json").json()["receipt"]
    assert receipt["worker"] == m["worker_b"]
    assert m["sid"] not in {s["submission"] for s in receipt["submissions"]}


def test_portal_link_revocation_and_expiry(world: World) -> None:
    from tracework.web import users

    app = world.app()
    worker = client_as(app, "worker-own", world)
    assert worker.get("/w/").status_code == 200
    users.portal_revoke(world.project, world.meta["worker_a"])
    assert worker.get("/w/").status_code == 404               # its session ended too
    assert worker.get(f"/p/{world.meta['token_a']}").status_code == 404
    token, _ = users.portal_link(world.project, world.meta["worker_a"], expires_days=1)
    with world.project.store.write() as conn:
        conn.execute(text("update portal_links set expires_at = '2000-01-01T00:00:00+00:00' "
                          "where revoked_at is null"))
    assert worker.get(f"/p/{token}").status_code == 404


def test_portal_notes_and_flags_reach_the_taxonomy_page(world: World) -> None:
    app = world.app()
    worker = client_as(app, "worker-own", world)
    r = _post(worker, world, "/w/notes", target="category:Cable",
              text="Should the plug count as cable?")
    assert r.status_code == 303
    flags = notes.list_notes(world.project, target="category:Cable")
    assert [(n.author, n.concern) for n in flags] == [(world.meta["worker_a"], "taxonomy")]
    staff = client_as(app, "reviewer", world)
    assert "Should the plug count as cable?" in staff.get("/taxonomy").text
    assert "Should the plug count as cable?" in worker.get("/w/").text


def test_fieldnotes_add_reply_resolve(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    sid = world.meta["sid"]
    r = _post(client, world, "/notes", target=f"submission:{sid}", text="Mask edge bleeds.",
              concern="data_quality", back=f"/submissions/{sid}")
    assert r.status_code == 303 and r.headers["location"] == f"/submissions/{sid}"
    made = [n for n in notes.list_notes(world.project, target=f"submission:{sid}")
            if n.text == "Mask edge bleeds."][0]
    _post(client, world, f"/notes/{made.id}/reply", text="Seen it too.")
    _post(client, world, f"/notes/{made.id}/resolve", reason="Guideline updated.")
    note, replies = notes.get(world.project, made.id)
    assert note.state == "resolved" and [x.text for x in replies] == ["Seen it too."]
    page = client.get(f"/submissions/{sid}").text
    assert "Mask edge bleeds." in page and "Seen it too." in page
    listed = client.get("/notes.json", params={"target": f"submission:{sid}"}).json()["notes"]
    assert {n["text"] for n in listed} >= {"Mask edge bleeds."}
    # Open redirects are not possible through "back".
    r = _post(client, world, "/notes", target=f"submission:{sid}", text="x",
              back="//evil.example/")
    assert r.headers["location"] == "/notes"


def test_receipt_download_is_an_attachment(world: World) -> None:
    client = client_as(world.app(), "worker-own", world)
    r = client.get("/w/receipt")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    assert "The cable is not labelled." in r.text


def test_masks_and_images_are_served_with_fixed_types(world: World) -> None:
    import cv2
    import numpy as np

    client = client_as(world.app(), "auditor", world)
    m = world.meta
    png = client.get(f"/annotations/{m['aid']}/mask.png")
    assert png.headers["content-type"] == "image/png"
    img = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_UNCHANGED)
    with world.project.store.read() as conn:
        ann = conn.execute(text("select height, width, area, category from annotations "
                                "where id = :i"), {"i": m["aid"]}).one()
    assert img.shape == (ann.height, ann.width, 4)
    assert int((img[:, :, 3] > 0).sum()) == int(ann.area)
    colour = {c.name: c.colour for c in world.project.categories}[ann.category]
    ys, xs = np.nonzero(img[:, :, 3])
    b, g, r = img[ys[0], xs[0], :3]
    assert f"#{r:02x}{g:02x}{b:02x}" == colour
    image = client.get(f"/assets/{m['asset_id']}/image")
    assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    assert image.headers["x-content-type-options"] == "nosniff"


def test_image_names_cannot_leave_the_images_folder(world: World) -> None:
    secret = world.images.parent / "outside.jpeg"
    secret.write_bytes(b"\xff\xd8 not for the browser")
    with world.project.store.write() as conn:
        conn.execute(text("update assets set file_name = :f where id = :i"),
                     {"f": "../outside.jpeg", "i": world.meta["asset_id"]})
    client = client_as(world.app(), "owner", world)
    r = client.get(f"/assets/{world.meta['asset_id']}/image")
    assert r.status_code == 404


XSS = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>',
       "javascript:alert(1)", "</script><script>alert(2)</script>", "\u202egnp.exe"]
_RAW = ("<script>alert", "<img src=x", "</script><script>", 'href="javascript:',
        "onerror=alert(1)>")


def _plant(world: World) -> None:
    """Hostile text in every free-text field a worker or the data controls."""
    project, m = world.project, world.meta
    payload = " ".join(XSS)
    with project.store.write() as conn:
        conn.execute(update(submissions).values(
            requester_feedback=payload,
            answer=json.dumps({"comment": payload, "annotatedResult": {}})))
        conn.execute(text("update answers set other_text = :p, value = :v"),
                     {"p": payload, "v": json.dumps(payload)})
        conn.execute(text("update workers set credit_name = :p, consent_credit = :t, "
                          "consent_link = :t"), {"p": payload, "t": True})
        conn.execute(text("update assets set file_name = :p"), {"p": payload + ".jpeg"})
        conn.execute(text("update batches set batch_key = :p, title = :p"), {"p": payload})
    review.contest(project, m["sid"], payload)
    notes.add(project, f"submission:{m['sid']}", payload, author=m["worker_a"])
    notes.add(project, "category:Body", payload, concern="taxonomy", author=payload[:60])
    nid = notes.list_notes(project, target=f"submission:{m['sid']}")[0].id
    notes.reply(project, nid, payload, author="reviewer")


def test_hostile_text_is_inert_on_every_page(world: World) -> None:
    _plant(world)
    app = world.app()
    seen_payload = 0
    for role in ROLES:
        client = client_as(app, role, world)
        for (method, path), row in AUTH.items():
            if method != "GET" or row[role] != "200" or path.endswith((".png", "/image")):
                continue
            for url in (concrete(path, world), concrete(path, world) + "?target=submission:*"):
                r = client.get(url)
                body = r.text
                if path.endswith("/download"):
                    # A file to save, not a page: JSON, an attachment, never sniffed as HTML.
                    assert r.headers["content-type"].startswith("application/json"), url
                    assert r.headers["content-disposition"].startswith("attachment"), url
                    assert r.headers["x-content-type-options"] == "nosniff", url
                    json.loads(body)
                    continue
                for raw in _RAW:
                    assert raw not in body, (role, url, raw)
                seen_payload += "&lt;script&gt;alert" in body
                if "html" in r.headers.get("content-type", ""):
                    assert "<script>" not in body.replace(
                        '<script src="/static/app.js" defer></script>', "")
    assert seen_payload >= 10      # the payload was shown (escaped), not just absent
    # Error pages quote input escaped too.
    client = client_as(app, "owner", world)
    r = client.get("/queue", params={"status": XSS[1]})
    assert r.status_code == 400 and "<img src=x" not in r.text

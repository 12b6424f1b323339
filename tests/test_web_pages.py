"""What the staff pages and the portal show, checked against the store: the review queue's
viewer, proposals, reasons, shortcuts and next item; the worker's consented context; the
dataset browser's filters and each annotation's history; the log's filters; the taxonomy's
history; the audit's figures and charts; the portal's pay and time; credit names reaching the
next export."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import escape
from sqlalchemy import func, select, text, update

from test_web_support import World, client_as, csrf, world  # noqa: F401  (fixtures)
from tracework import review
from tracework.core.status import log
from tracework.core.store.schema import annotations, submissions, workers
from tracework.fieldnotes import notes


def _post(client: Any, world: World, url: str, **form: str) -> Any:
    return client.post(url, data={**form, "csrf_token": csrf(client, world.project)})


def _one(world: World, query: Any) -> Any:
    with world.project.store.read() as conn:
        return conn.execute(query).one()


def test_viewer_overlays_each_part_with_a_toggle_and_an_opacity_slider(world: World) -> None:
    sid = world.meta["sid"]
    with world.project.store.read() as conn:
        parts = conn.execute(select(annotations.c.id, annotations.c.category)
                             .where(annotations.c.submission_id == sid)
                             .where(annotations.c.kind.in_(("mask", "bbox")))
                             .order_by(annotations.c.id)).all()
    assert parts
    client = client_as(world.app(), "reviewer", world)
    page = client.get(f"/submissions/{sid}").text
    masks = re.findall(r'<img class="mask" data-part="(\d+)" src="([^"]+)"', page)
    toggles = re.findall(r'data-toggle="(\d+)"', page)
    assert [int(p) for p, _ in masks] == [int(p) for p in toggles] == [p.id for p in parts]
    assert [src for _, src in masks] == [f"/annotations/{p.id}/mask.png" for p in parts]
    assert re.search(r'<input type="range" min="0" max="100" value="\d+" data-opacity>', page)
    for _, src in masks:
        r = client.get(src)
        assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert f'src="/assets/{world.meta["asset_id"]}/image"' in page
    # The JSON twin names the same parts, each with its category's colour.
    colours = {c.name: c.colour for c in world.project.categories}
    shown = client.get(f"/submissions/{sid}.json").json()["parts"]
    assert [(p["id"], p["colour"]) for p in shown if p["kind"] in ("mask", "bbox")] == \
        [(p.id, colours[p.category]) for p in parts]


def test_proposals_and_their_evidence_are_shown(world: World) -> None:
    review.propose(world.project)
    item = review.review_list(world.project, proposed=True)[0]
    proposal = item.proposals[0]
    client = client_as(world.app(), "reviewer", world)
    data = client.get(f"/submissions/{item.submission_id}.json").json()["review"]["proposals"]
    assert [(p["rule"], p["decision"], p["evidence"]) for p in data] == \
        [(p["rule"], p["decision"], p["evidence"]) for p in item.proposals]
    page = client.get(f"/submissions/{item.submission_id}").text
    assert f"by rule <bdi>{proposal['rule']}</bdi>" in page
    assert "<summary>evidence</summary>" in page and proposal["evidence"] in page
    queue = client.get("/queue", params={"status": ""}).text
    assert f"{proposal['decision']} · <bdi>{proposal['rule']}</bdi>" in queue


def test_reason_chosen_from_the_configured_reasons(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    sid = world.meta["sid_open"]
    page = client.get(f"/submissions/{sid}").text
    configured = [r.code for r in review.review_config(world.project).rules]
    offered = re.findall(r'<option value="([a-z_]+)" data-text=', page)
    assert offered == configured
    r = _post(client, world, f"/submissions/{sid}/decision", decision="reject",
              reason_code=configured[0], seen="")
    assert r.status_code == 303
    current = client.get(f"/submissions/{sid}.json").json()["review"]["current"]
    assert current["decision"] == "reject" and current["reason_code"] == configured[0]
    assert current["reason_text"]          # the rule's reason, in words the worker reads


def test_rework_is_a_decision_with_a_reason(world: World) -> None:
    client = client_as(world.app(), "owner", world)
    sid = world.meta["sid_open"]
    r = _post(client, world, f"/submissions/{sid}/decision", decision="rework",
              reason_text="Please add the cable.", seen="")
    assert r.status_code == 303
    current = client.get(f"/submissions/{sid}.json").json()["review"]
    assert current["state"] == "rework"
    assert (current["current"]["decision"], current["current"]["reason_text"]) == \
        ("rework", "Please add the cable.")


def test_next_item_after_a_decision_is_the_next_one_waiting(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    with world.project.store.read() as conn:
        waiting = list(conn.execute(select(submissions.c.id)
                                    .where(submissions.c.status == "Submitted")
                                    .order_by(submissions.c.id)).scalars())
    assert len(waiting) >= 3
    first = waiting[0]
    page = client.get(f"/submissions/{first}").text
    assert f'<a href="/submissions/{waiting[1]}" data-key="n" rel="next">' in page
    r = _post(client, world, f"/submissions/{first}/decision", decision="approve", seen="")
    assert r.headers["location"] == f"/submissions/{waiting[1]}"
    # From the last one waiting, the queue wraps round to the first still waiting.
    r = _post(client, world, f"/submissions/{waiting[-1]}/decision", decision="approve", seen="")
    assert r.headers["location"] == f"/submissions/{waiting[1]}"


def test_keyboard_shortcuts_are_on_the_page(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    page = client.get(f"/submissions/{world.meta['sid_open']}").text
    for key, value in (("a", "approve"), ("x", "reject"), ("w", "rework")):
        assert f'value="{value}" data-key="{key}"' in page
    assert 'data-key-focus="r"' in page and 'data-key="n"' in page
    assert 'data-key="o"' in client.get("/queue").text
    # The auditor reads only: no decision form, so no decision keys.
    auditor = client_as(world.app(), "auditor", world)
    assert 'data-key="x"' not in auditor.get(f"/submissions/{world.meta['sid_open']}").text


def test_review_is_blind_until_a_reviewer_reveals_with_a_recorded_reason(world: World) -> None:
    worker = world.meta["worker_a"]
    with world.project.store.read() as conn:
        answered = conn.execute(text("select count(*) from responses where worker = :w"),
                                {"w": worker}).scalar()
    assert answered, "worker A answered the survey in the small batch"
    with world.project.store.write() as conn:
        conn.execute(update(workers).where(workers.c.pseudonym == worker)
                     .values(consent_link=True, consent_credit=True, credit_name="Ana K."))
    client = client_as(world.app(), "reviewer", world)
    sid = world.meta["sid"]
    url = f"/submissions/{sid}"
    full = client_as(world.app(), "owner", world)
    # Blind by default: no survey answer, no credit name, in the page or its JSON twin.
    blind = client.get(url + ".json").json()
    assert blind["context"]["answers"] == [] and blind["context"]["credit_name"] is None
    assert blind["blind"]["on"] is True and blind["blind"]["hidden"] > 0
    page = client.get(url).text
    with world.project.store.read() as conn:
        values = [r.label or r.question for r in conn.execute(text(
            "select a.label, a.question from answers a join responses r on a.response_id = r.id"
            " where r.worker = :w"), {"w": worker})]
    assert values and "data-survey-answers" not in page and "Ana K." not in page
    assert "Blind review." in page and f'action="/submissions/{sid}/reveal"' in page
    # The worker's own page is no way around it: blind too, page and twin.
    wpage = client.get(f"/workers/{worker}")
    assert wpage.status_code == 200 and "Blind review." in wpage.text
    assert "Ana K." not in wpage.text and str(escape(values[0])) not in wpage.text
    wtwin = client.get(f"/workers/{worker}.json").json()
    assert wtwin["context"]["answers"] == [] and wtwin["context"]["credit_name"] is None
    # A reason is required; nothing is recorded without one.
    r = _post(client, world, url + "/reveal", reason="  ")
    assert r.status_code == 400
    assert log(world.project, action="review.reveal") == []
    r = _post(client, world, url + "/reveal", reason="The worker asked for an accommodation.")
    assert r.status_code == 303 and r.headers["location"] == url + "#worker-context"
    entry = log(world.project, action="review.reveal")
    assert [(e.actor, e.target, e.reason) for e in entry] == \
        [("reviewer", f"submission:{sid}", "The worker asked for an accommodation.")]
    shown = client.get(url + ".json").json()
    assert shown["blind"]["on"] is False and shown["context"]["credit_name"] == "Ana K."
    assert len(shown["context"]["answers"]) == blind["blind"]["hidden"]
    page = client.get(url).text
    assert "data-survey-answers" in page and "credited as <bdi>Ana K.</bdi>" in page
    assert str(escape(values[0])) in page
    assert "The worker asked for an accommodation." in page
    # Revealed for that reviewer on that submission only: another reviewer still sees it blind.
    assert full.get(url + ".json").json()["context"]["answers"] == []
    # The revealing reviewer sees the worker's page in full; another staff member does not.
    wtwin = client.get(f"/workers/{worker}.json").json()
    assert len(wtwin["context"]["answers"]) == blind["blind"]["hidden"]
    assert wtwin["context"]["credit_name"] == "Ana K."
    assert full.get(f"/workers/{worker}.json").json()["context"]["answers"] == []
    assert "Ana K." not in full.get(f"/workers/{worker}").text
    # Without consent to linking, revealing shows nothing more.
    with world.project.store.write() as conn:
        conn.execute(update(workers).where(workers.c.pseudonym == worker)
                     .values(consent_link=False))
    assert client.get(url + ".json").json()["context"]["answers"] == []
    assert "did not consent to linking" in client.get(url).text
    # The history says it in words.
    assert "revealed the worker&#39;s survey answers to the reviewer: The worker asked" in page


def test_a_decided_submission_is_decided_again_with_a_reason(world: World) -> None:
    client = client_as(world.app(), "reviewer", world)
    sid = world.meta["sid"]                     # rejected by the fixture
    page = client.get(f"/submissions/{sid}").text
    assert 'name="redecide" value="1"' in page and "data-redecide" in page
    assert re.search(r'<textarea name="reason_text"[^>]*required', page)
    seen = client.get(f"/submissions/{sid}.json").json()["review"]["version"]
    assert seen
    # Approving a rejected submission again needs a reason the worker reads.
    r = _post(client, world, f"/submissions/{sid}/decision", decision="approve", seen=seen,
              redecide="1", reason_text="")
    assert r.status_code == 400
    # Without the re-decision flag it stays a conflict, as before.
    r = _post(client, world, f"/submissions/{sid}/decision", decision="approve", seen=seen,
              reason_text="Re-checked.")
    assert r.status_code == 409
    r = _post(client, world, f"/submissions/{sid}/decision", decision="approve", seen=seen,
              redecide="1", reason_text="Re-checked: the cable is labelled.")
    assert r.status_code == 303
    data = client.get(f"/submissions/{sid}.json").json()["review"]["current"]
    assert (data["decision"], data["reason_text"], data["reviewer"]) == \
        ("approve", "Re-checked: the cable is labelled.", "reviewer")
    assert _one(world, select(submissions.c.status).where(submissions.c.id == sid))[0] == \
        "Approved"
    decide = log(world.project, target=f"submission:{sid}", action="review.decide")
    assert decide[-1].as_dict()["new"]["redecide"] is True
    # A stale page (the decision it saw is no longer in force) is still refused.
    r = _post(client, world, f"/submissions/{sid}/decision", decision="reject", seen=seen,
              redecide="1", reason_text="Changed my mind.")
    assert r.status_code == 409
    page = client.get(f"/submissions/{sid}").text
    assert "status Rejected → Approved: Re-checked: the cable is labelled." in page
    assert "decided again: approve: Re-checked: the cable is labelled." in page


def test_history_says_what_changed_in_words_with_the_raw_entry_one_click_away(
        world: World) -> None:
    client = client_as(world.app(), "auditor", world)
    sid = world.meta["sid"]
    page = client.get(f"/submissions/{sid}").text
    assert "status Submitted → Rejected: The cable is not labelled." in page
    assert "decided: reject: The cable is not labelled." in page
    entries = client.get(f"/submissions/{sid}.json").json()["history"]
    raw = page.count('<details class="raw"><summary>raw entry</summary>')
    assert raw == len(entries) > 0
    # The JSON twin carries the same words next to the raw entry.
    assert "status Submitted → Rejected: The cable is not labelled." in \
        [e["words"] for e in entries if e["action"] == "submission.status"]
    asset = client.get(f"/assets/{world.meta['asset_id']}").text
    with world.project.store.read() as conn:
        first = conn.execute(select(annotations.c.id, annotations.c.category,
                                    annotations.c.kind, annotations.c.area,
                                    annotations.c.submission_id)
                             .where(annotations.c.asset_id == world.meta["asset_id"])
                             .order_by(annotations.c.id)).first()
    assert first is not None
    assert (f"created: {first.category} {first.kind}, {first.area:,.0f} px, in submission "
            f"{first.submission_id}, taxonomy v1") in asset


def _dataset(client: Any, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.get("/dataset.json", params=params).json()["assets"]["rows"]
    return rows


def test_dataset_browser_filters_match_the_store(world: World) -> None:
    client = client_as(world.app(), "auditor", world)
    m = world.meta

    def expected(*conditions: Any) -> list[int]:
        with world.project.store.read() as conn:
            return list(conn.execute(
                select(annotations.c.asset_id).distinct()
                .select_from(annotations.join(submissions,
                                              annotations.c.submission_id == submissions.c.id))
                .where(annotations.c.asset_id.is_not(None), *conditions)
                .order_by(annotations.c.asset_id)).scalars())

    everything = _dataset(client)
    assert [a["id"] for a in everything] == expected()
    # Every annotation shown names who made it and its submission's status.
    for asset in everything:
        for n in asset["annotations"]:
            row = _one(world, select(annotations.c.worker, annotations.c.category,
                                     submissions.c.status)
                       .join(submissions, annotations.c.submission_id == submissions.c.id)
                       .where(annotations.c.id == n["id"]))
            assert (n["worker"], n["category"], n["status"]) == tuple(row)
    by_cat = _dataset(client, category="Cable")
    assert [a["id"] for a in by_cat] == expected(annotations.c.category == "Cable")
    assert {n["category"] for a in by_cat for n in a["annotations"]} == {"Cable"}
    by_worker = _dataset(client, worker=m["worker_a"])
    assert [a["id"] for a in by_worker] == expected(annotations.c.worker == m["worker_a"])
    assert {n["worker"] for a in by_worker for n in a["annotations"]} == {m["worker_a"]}
    rejected = _dataset(client, status="Rejected")
    assert [a["id"] for a in rejected] == expected(submissions.c.status == "Rejected")
    assert {n["status"] for a in rejected for n in a["annotations"]} == {"Rejected"}
    batch = _one(world, select(submissions.c.batch_id).where(submissions.c.id == m["sid"]))[0]
    assert [a["id"] for a in _dataset(client, batch=batch)] == \
        expected(submissions.c.batch_id == batch)
    assert _dataset(client, batch=batch + 1000) == []
    # Combined filters narrow together.
    both = _dataset(client, category="Body", status="Rejected")
    assert [a["id"] for a in both] == expected(annotations.c.category == "Body",
                                               submissions.c.status == "Rejected")


def test_dataset_browser_filters_by_concern_of_fieldnotes(world: World) -> None:
    client = client_as(world.app(), "auditor", world)
    m = world.meta
    # The fixture's note is a data_quality note on submission A: its asset is the one found.
    assert [a["id"] for a in _dataset(client, concern="data_quality")] == [m["asset_id"]]
    assert _dataset(client, concern="harmful_content") == []
    other = _one(world, select(annotations.c.id, annotations.c.asset_id)
                 .where(annotations.c.asset_id != m["asset_id"])
                 .order_by(annotations.c.id).limit(1))
    notes.add(world.project, f"annotation:{other.id}", "Offensive label name?",
              concern="harmful_content", author="reviewer")
    assert [a["id"] for a in _dataset(client, concern="harmful_content")] == [other.asset_id]
    notes.add(world.project, f"asset:{m['asset_id']}", "Blurry photo.", concern="harmful_content",
              author="reviewer")
    assert [a["id"] for a in _dataset(client, concern="harmful_content")] == \
        sorted({other.asset_id, m["asset_id"]})
    page = client.get("/dataset", params={"concern": "harmful_content"}).text
    assert "<option selected>harmful_content</option>" in page
    assert client.get("/dataset.json", params={"concern": "nope"}).status_code == 400


def test_each_annotation_has_its_history_from_the_ledger(world: World) -> None:
    client = client_as(world.app(), "auditor", world)
    asset = client.get(f"/assets/{world.meta['asset_id']}.json").json()["asset"]
    assert asset["annotations"]
    for n in asset["annotations"]:
        entries = log(world.project, target=f"annotation:{n['id']}")
        assert [e["seq"] for e in n["history"]] == [e.seq for e in entries]
        create = n["history"][0]
        assert create["action"] == "annotation.create"
        assert create["new"]["category"] == n["category"]
        assert create["new"]["submission"] == n["submission_id"]
    page = client.get(f"/assets/{world.meta['asset_id']}").text
    assert page.count("<summary>history (") == len(asset["annotations"])
    assert "annotation.create" in page


def test_log_filters_return_only_matching_entries(world: World) -> None:
    client = client_as(world.app(), "auditor", world)
    sid = world.meta["sid"]
    decided = client.get("/log.json", params={"action": "review.decide"}).json()["entries"]
    assert decided and {e["action"] for e in decided} == {"review.decide"}
    assert [e["seq"] for e in decided] == \
        [e.seq for e in log(world.project, action="review.decide", newest_first=True)]
    mine = client.get("/log.json", params={"target": f"submission:{sid}"}).json()["entries"]
    assert mine and {e["target"] for e in mine} == {f"submission:{sid}"}
    by = client.get("/log.json", params={"actor": "reviewer"}).json()["entries"]
    assert by and {e["actor"] for e in by} == {"reviewer"}
    two = client.get("/log.json", params={"limit": 2}).json()["entries"]
    seqs = [e.seq for e in log(world.project, newest_first=True, limit=2)]
    assert [e["seq"] for e in two] == seqs
    page = client.get("/log", params={"action": "review.decide"}).text
    assert page.count("<td>review.decide</td>") == len(decided)


def test_taxonomy_page_shows_categories_versions_and_flags(world: World) -> None:
    client = client_as(world.app(), "auditor", world)
    data = client.get("/taxonomy.json").json()
    assert [c["name"] for c in data["categories"]] == [c.name for c in world.project.categories]
    assert data["versions"][-1]["version"] == 1
    assert data["versions"][-1]["reason"] == "created with the project"
    notes.add(world.project, "category:Cable", "Is the plug part of it?", concern="taxonomy",
              author=world.meta["worker_a"])
    flags = client.get("/taxonomy.json").json()["flags"]
    assert [(f["target"], f["author"], f["text"]) for f in flags] == \
        [("category:Cable", world.meta["worker_a"], "Is the plug part of it?")]


def test_audit_page_says_the_figures_in_words_from_stored_results(world: World) -> None:
    from tracework.audit.labour import labour_audit
    from tracework.core.project import open_project
    from tracework.render.html_report import refresh_audits
    from tracework.web import create_app

    toml = world.root / "tracework.toml"
    toml.write_text(re.sub(r"wage_floor_per_hour = [0-9.]+", "wage_floor_per_hour = 12.0",
                           toml.read_text(encoding="utf-8")), encoding="utf-8")
    project = open_project(world.root, cli={"actor": "tester"})
    app = create_app(project, allowed_hosts=("testserver",))
    client = client_as(app, "auditor", world)
    assert client.get("/audit/labour.json").json()["audit"]["figures"] == []
    with project.store.read() as conn:
        waiting = [i for i in conn.execute(select(submissions.c.id).where(
            submissions.c.status == "Submitted").order_by(submissions.c.id)).scalars()
            if i != world.meta["sid_open"]]
    for sid in waiting[:3]:
        review.decide(project, sid, "approve", reviewer="reviewer")
    refresh_audits(project)        # the page shows stored audits, never computes them
    expected = labour_audit(project)
    data = client.get("/audit.json").json()["audit"]
    keys = [f["key"] for f in data["figures"]]
    assert keys == ["labour", "rejections", "agreement", "groups"]
    assert data["age"]["current"] is True and data["age"]["words"].endswith("up to date")
    labour = next(f for f in data["figures"] if f["key"] == "labour")
    facts = dict(map(tuple, labour["facts"]))
    cur = expected.currency
    assert cur == "USD"
    assert facts["Paid"].startswith(f"${expected.total_paid_cents / 100:,.2f} in rewards")
    below = sum(1 for w in expected.workers if w.below_floor)
    judged = sum(1 for w in expected.workers if w.below_floor is not None)
    assert expected.floor_per_hour and expected.share_below_floor is not None
    assert facts["Below the wage floor"] == (
        f"{100 * expected.share_below_floor:.0f}% of workers below the floor of "
        f"${expected.floor_per_hour:,.2f}/h ({below} of {judged}), counting unpaid time")
    assert facts["Median hourly pay"].startswith(
        f"${expected.median_hourly_paid:,.2f}/h for paid time only; "
        f"${expected.median_hourly_all:,.2f}/h counting unpaid time")
    minutes = round(expected.total_unpaid_hours * 60)
    assert f"{minutes} min unpaid (rejected work)" in facts["Time on task"] or \
        f"{minutes // 60} h {minutes % 60:02d} min unpaid" in facts["Time on task"]
    assert labour["values"]["hourly_all"] == sorted(
        w.hourly_all for w in expected.workers if w.hourly_all is not None)
    assert labour["charts"][0].startswith("<svg")
    rejections = next(f for f in data["figures"] if f["key"] == "rejections")
    assert {r["reason"]: r["count"] for r in rejections["rows"]} == expected.rejection_reasons
    agreement = next(f for f in data["figures"] if f["key"] == "agreement")
    from tracework.audit.agreement import agreement_audit

    truth = agreement_audit(project)
    assert [(r["category"], r["pairs"]) for r in agreement["rows"]] == \
        [(a.category, a.pairs) for a in [*truth.masks, *truth.boxes]]
    groups = next(f for f in data["figures"] if f["key"] == "groups")
    assert set(groups["legend"]) == {"area_ratio", "agreement", "presence", "weight"}
    page = client.get("/audit").text
    for key in keys:
        assert f'<a href="/audit/{key}.json" data-json>' in page
        twin = client.get(f"/audit/{key}.json").json()["audit"]["figures"]
        assert [f["key"] for f in twin] == [key]
    assert "% of workers below the floor of $" in page
    assert "area ratio <small>(area_ratio)</small>" in page and "style=" not in page
    if groups["audits"]:
        assert "Small groups are hidden." in page
    assert client.get("/audit/nothing").status_code == 404
    # A decision after the audits (two entries: the decision and the status change): the page
    # says how stale the figures are, still without
    # computing them.
    review.decide(project, world.meta["sid_open"], "approve", reviewer="reviewer")
    stale = client.get("/audit.json").json()["audit"]["age"]
    assert stale["current"] is False and stale["changes"] == 2
    assert "before 2 changes" in client.get("/audit").text
    project.close()


def test_portal_shows_the_workers_own_pay_and_time(world: World) -> None:
    worker = world.meta["worker_a"]
    with world.project.store.read() as conn:
        rows = conn.execute(select(submissions.c.status,
                                   func.coalesce(func.sum(submissions.c.reward_cents), 0),
                                   func.coalesce(func.sum(submissions.c.work_time_s), 0.0),
                                   func.count())
                            .where(submissions.c.worker == worker)
                            .group_by(submissions.c.status)).all()
    by = {r[0]: r for r in rows}
    client = client_as(world.app(), "worker-own", world)
    summary = client.get("/w/.json").json()["summary"]
    assert summary["submissions"] == sum(r[3] for r in rows)
    assert summary["paid_cents"] == (by["Approved"][1] if "Approved" in by else 0)
    assert summary["unpaid_rejected_cents"] == by["Rejected"][1]
    assert abs(summary["work_time_s"] - sum(r[2] for r in rows)) < 1e-6
    page = client.get("/w/").text
    assert f"{by['Rejected'][1] / 100:.2f}" in page


def test_credit_name_set_in_the_portal_reaches_the_next_export(world: World) -> None:
    from tracework.dataset import select_dataset
    from tracework.docs.facts import gather

    project = world.project
    client = client_as(world.app(), "worker-own", world)
    before = gather(project, select_dataset(project, status="all")).credits
    assert "Ana K." not in before.names
    r = _post(client, world, "/w/consent", credit="true", credit_name="Ana K.")
    assert r.status_code == 303
    after = gather(project, select_dataset(project, status="all")).credits
    assert "Ana K." in after.names
    entry = log(project, target=f"worker:{world.meta['worker_a']}", action="consent.set")
    assert any(e.field == "credit_name" and e.as_dict()["new"] == "Ana K." and
               e.actor == world.meta["worker_a"] for e in entry)
    _post(client, world, "/w/consent")
    assert "Ana K." not in gather(project, select_dataset(project, status="all")).credits.names


def test_a_worker_cannot_note_on_another_workers_things(world: World) -> None:
    client = client_as(world.app(), "worker-own", world)
    m = world.meta
    for target in (f"worker:{m['worker_b']}", f"submission:{m['sid_b']}",
                   f"asset:{m['asset_id']}", f"note:{m['nid']}"):
        r = _post(client, world, "/w/notes", target=target, text="peek")
        assert r.status_code == 404, target
    assert [n for n in notes.list_notes(world.project) if n.text == "peek"] == []


def test_asset_page_gives_each_worker_one_colour_with_a_legend(world: World) -> None:
    from tracework.web.media import PATTERNS, WORKER_COLOURS

    client = client_as(world.app(), "auditor", world)
    asset_id = world.meta["asset_id"]
    with world.project.store.read() as conn:
        rows = conn.execute(select(annotations.c.id, annotations.c.worker, annotations.c.category)
                            .where(annotations.c.asset_id == asset_id)
                            .order_by(annotations.c.id)).all()
    makers = list(dict.fromkeys(r.worker for r in rows))
    assert len(makers) >= 2, "several workers labelled the fixture's asset"
    data = client.get(f"/assets/{asset_id}.json").json()
    assert [(m["worker"], m["colour"]) for m in data["makers"]] == \
        [(w, WORKER_COLOURS[i]) for i, w in enumerate(makers)]
    assert {m["worker"]: m["parts"] for m in data["makers"]} == \
        {w: sum(1 for r in rows if r.worker == w) for w in makers}
    names = [c.name for c in world.project.categories]
    for n in data["asset"]["annotations"]:
        hue, pattern = makers.index(n["worker"]), names.index(n["category"])
        assert n["colour"] == WORKER_COLOURS[hue] and n["pattern"] == PATTERNS[pattern]
        assert n["mask_src"] == f"/annotations/{n['id']}/mask.png?hue={hue}&pattern={pattern}"
    page = client.get(f"/assets/{asset_id}").text
    for w in makers:
        assert f'data-worker="{w}" data-colour="{WORKER_COLOURS[makers.index(w)]}"' in page
    assert page.count("<li data-pattern=") == len(names)
    # The overlay is drawn in the worker's hue: an outline of that colour, a pattern inside.
    import cv2
    import numpy as np

    first = data["asset"]["annotations"][0]
    png = client.get(first["mask_src"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    picture = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_UNCHANGED)
    drawn = picture[picture[:, :, 3] > 0][:, :3]
    hexed = WORKER_COLOURS[makers.index(first["worker"])].lstrip("#")
    bgr = [int(hexed[i:i + 2], 16) for i in (4, 2, 0)]
    assert len(drawn) and (drawn == bgr).all()
    assert client.get(f"/annotations/{first['id']}/mask.png?hue=99").status_code == 400


def test_dataset_browser_shows_cached_thumbnails_of_every_workers_version(world: World) -> None:
    client = client_as(world.app(), "auditor", world)
    asset_id = world.meta["asset_id"]
    page = client.get("/dataset", params={"category": "Cable"}).text
    with world.project.store.read() as conn:
        makers = list(dict.fromkeys(conn.execute(
            select(annotations.c.worker).where(annotations.c.asset_id == asset_id,
                                               annotations.c.category == "Cable")
            .order_by(annotations.c.id)).scalars()))
        sha = conn.execute(text("select sha256 from assets where id = :i"),
                           {"i": asset_id}).scalar_one()
    row = page[page.index(f'<tr data-asset="{asset_id}">'):]
    row = row[:row.index("</tr>")]
    assert f'src="/assets/{asset_id}/thumb.jpg?size=160"' in row
    shown = re.findall(r'<figure class="version" data-worker="(w_[a-z0-9]+)">', row)
    assert shown == makers
    # The filters stay in the URL of the pages that follow.
    assert re.search(r'<option selected>Cable</option>', page)
    cache = world.root / ".cache" / "thumbnails"
    assert not cache.exists()
    plain = client.get(f"/assets/{asset_id}/thumb.jpg", params={"size": 160})
    assert plain.status_code == 200 and plain.content[:3] == b"\xff\xd8\xff"
    files = sorted(p.name for p in cache.iterdir())
    assert files == [f"{sha}-160-plain.jpg"]
    again = client.get(f"/assets/{asset_id}/thumb.jpg", params={"size": 160})
    assert again.content == plain.content and sorted(p.name for p in cache.iterdir()) == files
    mine = client.get(f"/assets/{asset_id}/thumb.jpg", params={"size": 160, "worker": makers[0]})
    assert mine.status_code == 200 and mine.content != plain.content
    assert len(list(cache.iterdir())) == 2
    import cv2
    import numpy as np

    small = cv2.imdecode(np.frombuffer(plain.content, np.uint8), cv2.IMREAD_COLOR)
    assert max(small.shape[:2]) == 160
    assert client.get(f"/assets/{asset_id}/thumb.jpg", params={"size": 999}).status_code == 400
    assert client.get(f"/assets/{asset_id}/thumb.jpg",
                      params={"worker": "w_nobodyhere00"}).status_code == 404


def test_the_demo_serves_its_images(tmp_path: Any) -> None:
    import tracework.demo
    from tracework.core.project import open_project
    from tracework.web.core import WebConfig

    report = tracework.demo.demo(tmp_path / "d", frames=2, workers=3, size=(96, 64))
    project = open_project(report.project)
    try:
        images = WebConfig.from_project(project).images
        assert images == (tmp_path / "d" / "inputs" / "images").resolve()
        assert images is not None and sorted(p.suffix for p in images.iterdir())
    finally:
        project.close()
    assert f"tracework -p {report.project} serve" in report.next_steps

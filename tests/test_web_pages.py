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


def test_worker_context_shows_survey_answers_only_with_consent(world: World) -> None:
    worker = world.meta["worker_a"]
    with world.project.store.read() as conn:
        answered = conn.execute(text("select count(*) from responses where worker = :w"),
                                {"w": worker}).scalar()
    assert answered, "worker A answered the survey in the small batch"
    client = client_as(world.app(), "reviewer", world)
    url = f"/submissions/{world.meta['sid']}"
    with world.project.store.write() as conn:
        conn.execute(update(workers).where(workers.c.pseudonym == worker)
                     .values(consent_link=False, consent_credit=True, credit_name="Ana K."))
    hidden = client.get(url + ".json").json()["context"]
    assert hidden["answers"] == [] and hidden["consent"]["link"] is False
    assert hidden["credit_name"] == "Ana K."
    page = client.get(url).text
    assert f'by <a href="/workers/{worker}">{worker}</a>' in page
    assert "did not consent to linking" in page and "credited as <bdi>Ana K.</bdi>" in page
    with world.project.store.write() as conn:
        conn.execute(update(workers).where(workers.c.pseudonym == worker)
                     .values(consent_link=True, consent_credit=False))
    shown = client.get(url + ".json").json()["context"]
    assert shown["answers"] and shown["consent"]["link"] is True
    assert shown["credit_name"] is None                  # not consented to crediting now
    label = shown["answers"][0]["label"] or shown["answers"][0]["question"]
    assert str(escape(label)) in client.get(url).text


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


def test_audit_page_draws_the_charts_of_the_report(world: World) -> None:
    from tracework.render.html_report import refresh_audits

    refresh_audits(world.project)        # the page shows stored audits, never computes them
    client = client_as(world.app(), "auditor", world)
    charts = client.get("/audit.json").json()["audit"]["charts"]
    keys = [c["key"] for c in charts]
    assert {"review.chart", "pay.chart", "time.chart"} <= set(keys)
    review_chart = next(c for c in charts if c["key"] == "review.chart")["svg"]
    states = {i.state for i in review.review_list(world.project)}
    assert review_chart.startswith("<svg") and all(s in review_chart for s in states)
    assert next(c for c in charts if c["key"] == "time.chart")["title"] == "Minutes per submission"
    page = client.get("/audit").text
    assert page.count("<figure class=\"chart\"") == len(charts)
    assert "<figcaption>Minutes per submission" in page
    assert 'data-chart="pay.chart"><svg' in page and "style=" not in page


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

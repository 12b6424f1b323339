"""The contact line and the value chain: handles only for consenting workers and unlinkable
without opt-in, messages reach the worker, a sealed one is unreadable in the requester's store,
senders are rate-limited and can be blocked; every exported annotation carries its batch's
value chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tracework
from builders import small_files
from tracework.core import contact
from tracework.core.errors import ConflictError, NotFound
from tracework.core.ledger import entries
from tracework.core.project import Project
from tracework.core.store.schema import annotations, metadata, submissions
from tracework.core.value_chain import set_batch_chain
from tracework.dataset.export import export_coco, export_yolo
from tracework.dataset.select import select_dataset
from tracework.web.users import portal_link

SECRET_TEXT = "my-private-question-about-label-zq81"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("contact"))


def _approved(project: Project, files: Any) -> dict[str, list[int]]:
    """Ingest, approve everything; each worker's annotation ids."""
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        ids = [r.id for r in conn.execute(select(submissions.c.id))]
        by_worker: dict[str, list[int]] = {}
        for r in conn.execute(select(annotations.c.id, annotations.c.worker)
                              .order_by(annotations.c.id)):
            by_worker.setdefault(r.worker, []).append(int(r.id))
    for sid in ids:
        tracework.review.decide(project, sid, "approve")
    return by_worker


def _two_workers(by_worker: dict[str, list[int]]) -> tuple[str, str]:
    many = sorted((w for w, a in by_worker.items() if len(a) >= 2), key=lambda w: -len(by_worker[w]))
    return many[0], many[1]


def test_handles_only_for_consenting_workers_and_unlinkable(project: Project, files: Any) -> None:
    by_worker = _approved(project, files)
    yes, no = _two_workers(by_worker)
    assert contact.set_contact_consent(project, yes, contactable=True, reason="portal form")
    data = select_dataset(project)
    mine = [a for a in data.annotations if a.worker == yes]
    others = [a for a in data.annotations if a.worker != yes]
    assert len(mine) == len(by_worker[yes]) >= 2 and others
    assert all("reply_handle" not in a.attributes for a in others)
    handles = [a.attributes["reply_handle"] for a in mine]
    assert len(set(handles)) == len(handles)
    # Two handles of one worker share nothing but the annotation ids they name.
    tags = [h.split(".", 1)[1] for h in handles]
    assert len(set(tags)) == len(tags)
    for (a, h) in zip(mine, handles, strict=True):
        assert h.startswith(f"r{a.id}.") and yes not in h and yes[2:] not in h
    with project.store.read() as conn:
        assert contact.resolve_handle(conn, project.secret, handles[0]) == (yes, mine[0].id)
        forged = f"r{mine[1].id}.{tags[0]}"
        assert contact.resolve_handle(conn, project.secret, forged) is None

    # Opting in to linkable handles: one handle for all their annotations.
    contact.set_contact_consent(project, yes, contactable=True, linkable=True, reason="asked")
    linked = {a.attributes["reply_handle"] for a in select_dataset(project).annotations
              if a.worker == yes}
    assert len(linked) == 1 and next(iter(linked)).startswith("rw.")
    with project.store.read() as conn:
        assert contact.resolve_handle(conn, project.secret, next(iter(linked))) == (yes, None)

    # Withdrawn: no handle in the next export, and old handles take no messages.
    contact.set_contact_consent(project, yes, contactable=False, reason="changed their mind")
    assert all("reply_handle" not in a.attributes for a in select_dataset(project).annotations)
    with pytest.raises(NotFound):
        contact.send(project, handles[0], "hello", sender="Ana")


def _all_text(project: Project) -> str:
    """Every value of every table, as text: what anyone holding the store can read."""
    parts = []
    with project.store.read() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


def test_a_message_reaches_the_worker_and_a_sealed_one_stays_sealed(project: Project,
                                                                    files: Any) -> None:
    by_worker = _approved(project, files)
    worker, _ = _two_workers(by_worker)
    contact.set_contact_consent(project, worker, contactable=True, reason="portal form")
    handle = next(a.attributes["reply_handle"] for a in select_dataset(project).annotations
                  if a.worker == worker)
    with pytest.raises(ConflictError, match="cannot receive private messages yet"):
        contact.send(project, handle, SECRET_TEXT, sender="Ana", private=True)
    token, link = portal_link(project, worker)

    plain = contact.send(project, handle, "Thanks for label 3!", sender="Ana, ana@lab.example")
    sealed = contact.send(project, handle, SECRET_TEXT, sender="Ana, ana@lab.example",
                          private=True)
    assert sealed.private and not plain.private

    # The requester's store: the plain message is there, the sealed one nowhere in the clear.
    everything = _all_text(project)
    assert "Thanks for label 3!" in everything
    assert SECRET_TEXT not in everything
    if not project.store.url.startswith("postgresql"):
        db = project.root / "tracework.db"
        raw = b"".join(p.read_bytes() for p in db.parent.glob("tracework.db*"))
        assert SECRET_TEXT.encode() not in raw
    # The ledger keeps the content hash, not the body, and no sender in the clear.
    with project.store.read() as conn:
        logged = [e for e in entries(conn, action="contact.message")]
    assert [json.loads(e.new)["content_sha256"] for e in logged] == [plain.content_sha256,
                                                                     sealed.content_sha256]
    assert not [e for e in logged if "Thanks" in e.new or "ana@lab" in e.new]

    # Without the portal session the worker sees that a sealed message is there, unopened.
    unopened = contact.inbox(project, worker)
    assert [(m.private, m.body) for m in unopened] == [(True, None),
                                                       (False, "Thanks for label 3!")]
    # Entering the portal with the link re-wraps the key for the session: it opens.
    contact.open_for_session(project, link.id, worker, token, "session-id-1")
    opened = contact.inbox(project, worker, session_token="session-id-1")
    assert opened[0].body == SECRET_TEXT and opened[0].sender == "Ana, ana@lab.example"
    assert contact.inbox(project, worker, session_token="a-guessed-session")[0].body is None
    assert SECRET_TEXT not in _all_text(project)

    # The worker answers and reveals a name; the sender reads it.
    contact.answer(project, worker, sealed.message, "Happy to talk", reveal="Maria, m@x.example")
    assert contact.replies(project, sealed.message)[0]["revealed"] == "Maria, m@x.example"
    assert contact.inbox(project, worker)[0].state == "answered"


def test_senders_are_rate_limited_and_can_be_blocked(project: Project, files: Any) -> None:
    by_worker = _approved(project, files)
    a, b = _two_workers(by_worker)
    for w in (a, b):
        contact.set_contact_consent(project, w, contactable=True, reason="form")
    handles = {a_.worker: a_.attributes["reply_handle"]
               for a_ in select_dataset(project).annotations if a_.worker in (a, b)}
    first = contact.send(project, handles[a], "one", sender="Spammer")
    assert contact.act_on(project, a, first.message, "report") == "reported"
    with pytest.raises(ConflictError, match="does not take messages from this sender"):
        contact.send(project, handles[a], "again", sender="  spammer ")
    for n in range(contact.PER_DAY - 1):
        contact.send(project, handles[b], f"message {n}", sender="Spammer")
    with pytest.raises(contact.RateLimited):
        contact.send(project, handles[b], "one too many", sender="Spammer")
    assert len(contact.inbox(project, b)) == contact.PER_DAY - 1
    with project.store.read() as conn:
        assert [e.target for e in entries(conn, action="contact.report")] == [
            f"message:{first.message}"]
    with pytest.raises(NotFound):
        contact.act_on(project, b, first.message, "block")   # not b's message


def test_the_batch_value_chain_is_on_every_exported_annotation(project: Project, files: Any,
                                                               tmp_path: Path) -> None:
    _approved(project, files)
    with project.store.read() as conn:
        batch_ids = sorted({int(r.batch_id) for r in conn.execute(select(submissions.c.batch_id))})
    stated = set_batch_chain(project, str(batch_ids[0]), client="Acme Robotics",
                             intermediaries=["DataVendor Ltd", "Sub Ltd"], pay_cents=12,
                             time_budget_s=300)
    expected = stated.as_dict()
    assert expected["stated_in"] == "batch" and expected["client"] == "Acme Robotics"

    coco = export_coco(project, tmp_path / "coco")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text(encoding="utf-8"))
    assert coco.annotations == len(doc["annotations"]) > 0
    for ann in doc["annotations"]:
        chain = ann["attributes"]["value_chain"]
        if ann["attributes"]["batch"] == batch_ids[0]:
            assert chain == expected
        else:
            assert chain["stated_in"] == "project"

    export_yolo(project, tmp_path / "yolo")
    lines = [json.loads(x) for x in (tmp_path / "yolo" / "provenance.jsonl")
             .read_text(encoding="utf-8").splitlines()]
    assert lines
    for line in lines:
        for entry in [line, *line.get("same_row", [])]:
            assert entry["value_chain"]["batch"] == entry["batch_key"]
            if entry["batch"] == batch_ids[0]:
                assert entry["value_chain"]["intermediaries"] == ["DataVendor Ltd", "Sub Ltd"]
    with project.store.read() as conn:
        assert [json.loads(e.new)["client"] for e in entries(conn, action="batch.value_chain")
                ] == ["Acme Robotics"]


def test_croissant_and_the_card_state_each_batch_value_chain(project: Project, files: Any,
                                                             tmp_path: Path) -> None:
    by_worker = _approved(project, files)
    worker, _ = _two_workers(by_worker)
    contact.set_contact_consent(project, worker, contactable=True, reason="form")
    with project.store.read() as conn:
        batch_id = min(int(r.batch_id) for r in conn.execute(select(submissions.c.batch_id)))
    set_batch_chain(project, str(batch_id), client="Acme Robotics",
                    intermediaries=["DataVendor Ltd"], pay_cents=12, time_budget_s=300)
    tracework.docs.export_croissant(project, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "croissant.json").read_text(encoding="utf-8"))
    chains = doc["tracework:batchValueChains"]
    assert [c["tracework:client"] for c in chains if c["tracework:statedIn"] == "batch"] == [
        "Acme Robotics"]
    names = {f["name"] for rs in doc["recordSet"] if rs["name"] == "annotations"
             for f in rs["field"]}
    assert {"client", "intermediaries", "pay_cents_per_task", "reply_handle"} <= names
    rows = [json.loads(x) for x in (tmp_path / "out" / "records" / "annotations.jsonl")
            .read_text(encoding="utf-8").splitlines()]
    assert rows
    for row in rows:
        if row["batch"] == batch_id:
            assert (row["client"], row["intermediaries"], row["pay_cents_per_task"],
                    row["time_budget_s_per_task"]) == ("Acme Robotics", "DataVendor Ltd", 12, 300)
        assert bool(row["reply_handle"]) == (row["annotator"] == worker)
    tracework.docs.export_card(project, tmp_path / "README.md")
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "#### Conditions of work per batch" in card
    assert "for Acme Robotics; 0.12 USD per task, time budget 300 s per task" in card


def test_erasing_a_worker_removes_their_mailbox_and_handles(project: Project,
                                                            files: Any) -> None:
    by_worker = _approved(project, files)
    worker, other = _two_workers(by_worker)
    contact.set_contact_consent(project, worker, contactable=True, reason="form")
    set_batch_chain(project, "1", client="Acme Robotics")
    token, link = portal_link(project, worker)
    handle = next(a.attributes["reply_handle"] for a in select_dataset(project).annotations
                  if a.worker == worker)
    sent = contact.send(project, handle, "a question", sender="Ana", private=True)
    contact.open_for_session(project, link.id, worker, token, "session-2")
    contact.answer(project, worker, sent.message, "an answer", reveal="Maria")
    assert tracework.verify(project).ok
    tracework.erase_worker(project, worker, reason="asked by e-mail")
    assert contact.inbox(project, worker) == []
    with project.store.read() as conn:
        assert contact.resolve_handle(conn, project.secret, handle) is None
        assert contact.contact_consent_of(conn, [worker]) == {}
    assert "Maria" not in _all_text(project) and "an answer" not in _all_text(project)
    assert all("reply_handle" not in a.attributes for a in select_dataset(project).annotations)
    assert tracework.verify(project).ok
    assert other != worker


def test_contact_and_value_chain_commands_exit_codes(tmp_path: Path, files: Any) -> None:
    import os
    import shutil
    import subprocess
    import sys

    from conftest import MOUSE

    tool = shutil.which("tracework", path=str(Path(sys.executable).parent))
    assert tool is not None

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
        env.pop("TRACEWORK_DEBUG", None)
        return subprocess.run([tool, "-p", str(root), *args], env=env, capture_output=True,
                              text=True, timeout=300, check=False)

    root = tmp_path / "proj"
    tracework.init(root, name="Mouse parts", categories=MOUSE, actor="tester").close()
    project = tracework.open_project(root)
    try:
        worker, _ = _two_workers(_approved(project, files))
    finally:
        project.close()
    done = run("batch", "value-chain", "1", "--client", "Acme Robotics", "--intermediary",
               "DataVendor Ltd", "--pay-cents", "12", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["intermediaries"] == ["DataVendor Ltd"]
    shown = run("batch", "value-chain", "1", "--json")
    assert json.loads(shown.stdout)["client"] == "Acme Robotics"
    done = run("batch", "value-chain", "no-such-batch")
    assert done.returncode == 5 and "no batch 'no-such-batch'" in done.stderr
    done = run("batch", "value-chain", "1", "--client", "X", "--pay-cents", "-3")
    assert done.returncode == 4 and "--pay-cents must be 0 or more" in done.stderr

    assert run("contact", "consent", worker, "--value", "yes", "--reason", "form").returncode == 0
    project = tracework.open_project(root)
    try:
        handle = next(a.attributes["reply_handle"] for a in select_dataset(project).annotations
                      if a.worker == worker)
    finally:
        project.close()
    done = run("contact", "send", handle, "--from", "Ana", "--message", "Thanks!", "--json")
    assert done.returncode == 0, done.stderr
    mid = json.loads(done.stdout)["message"]
    done = run("contact", "send", "r1.aaaaaaaaaaaaaaaa", "--from", "Ana", "--message", "hi")
    assert done.returncode == 5 and "takes no messages" in done.stderr
    done = run("contact", "send", handle, "--from", "Ana", "--message", "   ")
    assert done.returncode == 4 and "the message is empty" in done.stderr
    for n in range(contact.PER_DAY - 1):
        assert run("contact", "send", handle, "--from", "Ana", "--message", f"{n}").returncode == 0
    done = run("contact", "send", handle, "--from", "ana", "--message", "again")
    assert done.returncode == 6 and "the most a day allows" in done.stderr
    assert "Traceback" not in done.stderr
    done = run("contact", "resolve", handle)
    assert done.returncode == 0 and done.stdout.startswith(worker + " (annotation ")
    assert run("contact", "resolve", "rw.aaaaaaaaaaaaaaaa").returncode == 5
    done = run("contact", "replies", str(mid))
    assert done.returncode == 0 and done.stdout.strip() == "no answer yet"
    assert run("contact", "replies", "999").returncode == 5
    assert run("verify").returncode == 0

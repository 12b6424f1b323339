"""Fieldnotes: every kind of target, replies, resolution, filters, the ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import tracework
from builders import small_files
from tracework.cli import cli
from tracework.core.errors import ConfigError, ConflictError, InputError, NotFound
from tracework.core.project import DEFAULT_CONCERNS, Project
from tracework.core.store.schema import assets, batches, workers
from tracework.fieldnotes import notes


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def loaded(project: Project, files: Any) -> Project:
    tracework.ingest_mturk(project, files.batch_csv)
    return project


def _first(project: Project, column: Any) -> Any:
    with project.store.read() as conn:
        return conn.execute(select(column).order_by(column).limit(1)).scalar_one()


def test_a_note_on_each_kind_of_target(loaded: Project) -> None:
    worker = _first(loaded, workers.c.pseudonym)
    asset = _first(loaded, assets.c.id)
    batch = _first(loaded, batches.c.id)
    targets = [f"asset:{asset}", "annotation:3", "submission:2", f"batch:{batch}",
               f"worker:{worker}", "category:Cable", "cell:annotations:3:category",
               "cell:submissions:2:requester_feedback", f"cell:workers:{worker}:platform",
               "cell:taxonomy:Body:colour"]
    made = [notes.add(loaded, t, f"about {t}", concern="data_quality") for t in targets]
    assert [n.target for n in made] == targets
    assert [n.id for n in made] == list(range(1, 11))
    assert {n.state for n in made} == {"open"}
    assert {n.author for n in made} == {"tester"}
    entries = tracework.log(loaded, action="note.add")
    assert [e.target for e in entries] == targets
    # Each note has its time (UTC), taken in the transaction that wrote its ledger entry.
    for n, e in zip(made, entries):
        made_at, logged_at = datetime.fromisoformat(n.created_at), datetime.fromisoformat(e.ts)
        assert made_at.utcoffset() == timedelta(0)
        assert timedelta(0) <= logged_at - made_at < timedelta(seconds=5)
    assert entries[0].as_dict()["new"] == {"note": 1, "concern": "data_quality",
                                           "text": f"about asset:{asset}", "reply_to": None}
    assert entries[0].field == "note:1"
    assert tracework.verify(loaded).ok


@pytest.mark.parametrize("target", [
    "asset:999", "annotation:999", "submission:999", "batch:999", "worker:w_nobody",
    "category:Wire", "cell:annotations:999:category", "cell:annotations:1:nope",
    "cell:submissions:999:requester_feedback"])
def test_a_note_on_nothing_is_refused(loaded: Project, target: str) -> None:
    with pytest.raises(NotFound):
        notes.add(loaded, target, "x")
    assert notes.list_notes(loaded) == []


@pytest.mark.parametrize("target", ["asset", "asset:x", "planet:3", "cell:annotations:1",
                                    "cell:log:1:seq"])
def test_a_malformed_target_is_refused(sqlite_project: Project, target: str) -> None:
    with pytest.raises(InputError):
        notes.add(sqlite_project, target, "x")


def test_unknown_concern_and_empty_text_are_refused(project: Project) -> None:
    with pytest.raises(InputError, match="concern"):
        notes.add(project, "category:Body", "x", concern="gossip")
    with pytest.raises(InputError, match="text"):
        notes.add(project, "category:Body", "  ")


def test_replies_and_resolution(project: Project) -> None:
    first = notes.add(project, "category:Body", "one part or two?", concern="taxonomy",
                      author="w_aaaa")
    r1 = notes.reply(project, first.id, "two, the shell comes off", author="bob")
    r2 = notes.reply(project, r1.id, "agreed", author="carol")   # a reply to a reply
    assert (r1.reply_to, r2.reply_to) == (first.id, first.id)
    assert (r2.target, r2.concern) == ("category:Body", "taxonomy")
    note, replies = notes.get(project, first.id)
    assert [r.text for r in replies] == ["two, the shell comes off", "agreed"]
    done = notes.resolve(project, first.id, reason="guideline v2 says two", by="alice")
    assert (done.state, done.state_by, done.state_reason) == ("resolved", "alice",
                                                              "guideline v2 says two")
    with pytest.raises(ConflictError):
        notes.resolve(project, first.id, reason="again")
    with pytest.raises(InputError, match="reply"):
        notes.resolve(project, r1.id, reason="x")
    reopened = notes.resolve(project, first.id, state="open", reason="came up again")
    assert (reopened.state, reopened.state_by, reopened.state_reason) == (
        "open", "tester", "came up again")
    answered = notes.resolve(project, first.id, state="answered", reason="see reply 2",
                             by="bob")
    assert (answered.state, answered.state_by, answered.state_reason) == (
        "answered", "bob", "see reply 2")
    with pytest.raises(InputError, match="say why"):
        notes.resolve(project, first.id, reason=" ")
    states = tracework.log(project, action="note.state")
    assert [(e.target, e.actor, e.old, e.new, e.reason) for e in states] == [
        ("note:1", "alice", '"open"', '"resolved"', "guideline v2 says two"),
        ("note:1", "tester", '"resolved"', '"open"', "came up again"),
        ("note:1", "bob", '"open"', '"answered"', "see reply 2")]
    assert [e.action for e in tracework.log(project, target="category:Body")] == [
        "note.add", "note.reply", "note.reply"]


def test_list_filters(project: Project) -> None:
    notes.add(project, "category:Body", "a", concern="taxonomy", author="ann")
    notes.add(project, "category:Cable", "b", concern="harmful_content", author="ben")
    notes.add(project, "category:Cable", "c", concern="taxonomy", author="ann")
    notes.reply(project, 1, "reply")
    notes.resolve(project, 3, reason="done")

    def ids(**kw: Any) -> list[int]:
        return [n.id for n in notes.list_notes(project, **kw)]

    assert ids() == [1, 2, 3]
    assert ids(target="category:Cable") == [2, 3]
    assert ids(target="category:*") == [1, 2, 3]
    assert ids(concern="taxonomy") == [1, 3]
    assert ids(state="resolved") == [3]
    assert ids(state="open", author="ann") == [1]
    assert ids(replies=True) == [1, 2, 3, 4]
    assert notes.count_replies(project, [1, 2]) == {1: 1, 2: 0}


def test_default_concern_types_and_their_colours(project: Project) -> None:
    assert notes.concerns(project) == DEFAULT_CONCERNS == {
        "ambiguous_guideline": "#f6b26b", "harmful_content": "#e06666",
        "data_quality": "#ffd966", "privacy": "#8e7cc3", "taxonomy": "#6fa8dc",
        "other": "#b7b7b7"}
    assert notes.add(project, "category:Body", "x").concern == "other"


def _with_concerns(tmp_path: Path, table: str) -> Project:
    p = tracework.init(tmp_path / "p", categories=[tracework.Category("Body", "#1f77b4")],
                       actor="t")
    text = (tmp_path / "p" / "tracework.toml").read_text(encoding="utf-8")
    start = text.index("[concerns]")
    end = text.index("[consent]")
    (tmp_path / "p" / "tracework.toml").write_text(
        text[:start] + table + "\n" + text[end:], encoding="utf-8")
    p.close()
    return tracework.open_project(tmp_path / "p")


def test_a_concern_without_a_colour_is_a_config_error(tmp_path: Path) -> None:
    p = _with_concerns(tmp_path, '[concerns]\nslur = "red"\n')
    try:
        with pytest.raises(ConfigError, match="concern 'slur' needs a colour"):
            notes.add(p, "category:Body", "x", concern="slur")
        assert notes.list_notes(p) == []
    finally:
        p.close()


def test_concern_types_come_from_tracework_toml(tmp_path: Path) -> None:
    p = _with_concerns(tmp_path, '[concerns]\nslur = "#FF0000"\n')
    try:
        assert notes.concerns(p) == {"slur": "#ff0000"}
        assert notes.add(p, "category:Body", "x", concern="slur").concern == "slur"
        with pytest.raises(InputError):
            notes.add(p, "category:Body", "x", concern="other")
    finally:
        p.close()


def test_cli_note_round(sqlite_project: Project) -> None:
    root = str(sqlite_project.root)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["-p", root, "--actor", "alice", *args],
                             catch_exceptions=False)

    out = run("note", "add", "category:Body", "is it one part?", "--concern", "taxonomy")
    assert out.exit_code == 0 and "note 1 added on category:Body" in out.output
    assert run("note", "reply", "1", "yes").exit_code == 0
    out = run("note", "list", "--state", "open")
    assert "#1 [taxonomy] category:Body  open, 1 reply" in out.output
    assert run("note", "add", "category:Cable", "offensive?", "--concern",
               "harmful_content", "--author", "w_abc").exit_code == 0
    out = run("note", "list", "--target", "category:*", "--concern", "harmful_content")
    assert out.output.splitlines() == ["#3 [harmful_content] category:Cable  open",
                                       "    w_abc " + notes.get(sqlite_project, 3)[0]
                                       .created_at[:19] + ": offensive?"]
    assert run("note", "list", "--author", "nobody").output == "no notes\n"
    out = run("note", "resolve", "1", "--reason", "settled")
    assert "note 1 is now resolved (alice: settled)" in out.output
    out = run("note", "add", "asset:42", "x")
    assert out.exit_code == 5 and "asset 42 does not exist" in out.output
    out = run("note", "show", "1", "--json")
    assert '"replies"' in out.output and '"text": "yes"' in out.output


def test_a_platform_id_as_worker_target_is_not_echoed(sqlite_project: Project) -> None:
    with pytest.raises(InputError) as info:
        notes.add(sqlite_project, "worker:A3RAWPLATFORMID", "x")
    assert "A3RAWPLATFORMID" not in str(info.value) and "pseudonym" in str(info.value)

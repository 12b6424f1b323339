"""The versioned taxonomy: changes as versions, old annotations on their version, workers'
flags cited by the version that answered them, tracework.toml and the store in step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import tracework
from builders import edited_batch, small_files, write_rows
from tracework.cli import cli
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.project import Project
from tracework.core.store.schema import annotations, submissions
from tracework.fieldnotes import notes, taxonomy


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("demo"))


def _names(project: Project) -> list[str]:
    return [c.name for c in project.categories]


def _versions_by_category(project: Project) -> dict[tuple[str, int], int]:
    with project.store.read() as conn:
        rows = conn.execute(select(annotations.c.category, annotations.c.taxonomy_version,
                                   func.count()).group_by(annotations.c.category,
                                                          annotations.c.taxonomy_version))
        return {(r[0], r[1]): r[2] for r in rows}


def test_split_keeps_old_annotations_on_the_old_version(project: Project, files: Any,
                                                        tmp_path: Path) -> None:
    tracework.ingest_mturk(project, files.batch_csv)
    before = _versions_by_category(project)
    assert {v for _, v in before} == {1} and before[("Body", 1)] > 0
    v2 = taxonomy.split(project, "Body", [("Shell", "#0000ff"), ("Base", None)],
                        reason="workers asked whether it is one part or two", author="alice")
    assert (v2.version, v2.change, v2.author) == (2, "split", "alice")
    body = v2.get("Body")
    assert body is not None and body["retired"] and body["replaced_by"] == ["Shell", "Base"]
    assert _names(project) == ["Shell", "Base", "Left_Button", "Right_Button", "Scroll_Wheel",
                               "Cable"]
    assert _versions_by_category(project) == before          # nothing was relabelled
    # A later batch with the old label is refused; the taxonomy in force no longer has it.
    later = edited_batch(files.batch_csv, tmp_path / "later.csv",
                         lambda row, n: {**row, "AssignmentId": row["AssignmentId"] + "x"})
    with pytest.raises(InputError, match="'Body'"):
        tracework.ingest_mturk(project, later)
    assert taxonomy.version(project, 1).get("Body") == {
        "name": "Body", "colour": "#1f77b4", "description": "", "guideline": "",
        "retired": False, "replaced_by": []}
    entry = tracework.log(project, action="taxonomy.version")[-1]
    assert (entry.target, entry.field, entry.actor) == ("taxonomy:2", "split", "alice")
    assert entry.as_dict()["new"]["details"] == {
        "from": "Body", "into": [{"name": "Shell", "colour": "#0000ff"},
                                 {"name": "Base", "colour": "#1f77b4"}]}


def test_annotations_record_the_version_in_force_when_made(project: Project, files: Any,
                                                           tmp_path: Path) -> None:
    tracework.ingest_mturk(project, files.batch_csv)
    first = _versions_by_category(project)
    v2 = taxonomy.redefine(project, "Body", guideline="The shell, without the buttons.",
                           reason="workers asked what Body covers")
    later = edited_batch(files.batch_csv, tmp_path / "later.csv",
                         lambda row, n: {**row, "AssignmentId": row["AssignmentId"] + "x"})
    tracework.ingest_mturk(project, later)
    after = _versions_by_category(project)
    # The first batch stays on version 1; the same labels made later carry version 2.
    assert {k: v for k, v in after.items() if k[1] == 1} == first
    assert {(c, v): n for (c, v), n in after.items() if v == v2.version} == {
        (c, 2): n for (c, _), n in first.items()}
    with project.store.read() as conn:
        made = conn.execute(select(annotations.c.taxonomy_version, func.count())
                            .join(submissions, submissions.c.id == annotations.c.submission_id)
                            .where(submissions.c.assignment_id.endswith("x"))
                            .group_by(annotations.c.taxonomy_version)).all()
    assert [tuple(r) for r in made] == [(2, sum(first.values()))]


def test_a_worker_flag_is_cited_by_the_version_that_answered_it(project: Project) -> None:
    flag = notes.add(project, "category:Scroll_Wheel", "is the wheel part of the body?",
                     concern="taxonomy", author="w_flagger00001")
    other = notes.add(project, "category:Cable", "unrelated", concern="taxonomy")
    v2 = taxonomy.redefine(project, "Scroll_Wheel", guideline="The wheel only, never the body.",
                           reason="answering a worker", answers=[flag.id], author="alice")
    assert v2.answers == [flag.id]
    answered, _ = notes.get(project, flag.id)
    assert (answered.state, answered.answered_by_version, answered.state_by) == (
        "answered", 2, "alice")
    assert answered.state_reason == "answered by taxonomy version 2: answering a worker"
    assert notes.get(project, other.id)[0].state == "open"
    assert taxonomy.history(project)[-1].answers == [flag.id]
    states = tracework.log(project, action="note.state")
    assert [(e.target, e.new) for e in states] == [(f"note:{flag.id}", '"answered"')]
    with pytest.raises(InputError, match="not a flag on a category"):
        n = notes.add(project, "cell:taxonomy:Body:colour", "x")
        taxonomy.retire(project, "Cable", reason="x", answers=[n.id])
    assert len(taxonomy.history(project)) == 2              # the refused change stored nothing


def test_every_change_kind_and_history_and_diff(project: Project) -> None:
    taxonomy.add(project, "Side_Button", colour="#e377c2", description="thumb", reason="r1",
                 author="ann")
    taxonomy.rename(project, "Cable", "Cord", reason="r2", author="ben")
    taxonomy.merge(project, ["Left_Button", "Right_Button"], "Button", reason="r3")
    taxonomy.retire(project, "Side_Button", reason="r4", author="ann")
    taxonomy.redefine(project, "Body", colour="#000000", description="the shell", reason="r5")
    taxonomy.add(project, "Side_Button", colour="#e377c2", reason="r6")   # brought back
    hist = taxonomy.history(project)
    assert [(t.version, t.change, t.author, t.reason) for t in hist] == [
        (1, "init", "tester", "created with the project"), (2, "add", "ann", "r1"),
        (3, "rename", "ben", "r2"), (4, "merge", "tester", "r3"),
        (5, "retire", "ann", "r4"), (6, "redefine", "tester", "r5"),
        (7, "add", "tester", "r6")]
    entries = tracework.log(project, action="taxonomy.version")
    assert [(e.target, e.field, e.actor, e.reason) for e in entries[1:]] == [
        (f"taxonomy:{t.version}", t.change, t.author, t.reason) for t in hist[1:]]
    assert _names(project) == ["Body", "Button", "Scroll_Wheel", "Cord", "Side_Button"]
    d = taxonomy.diff(project, 1, 6)
    assert d.added == ["Button", "Cord"]
    assert d.retired == ["Left_Button", "Right_Button", "Cable"]
    assert d.changed == [{"name": "Body", "field": "colour", "old": "#1f77b4", "new": "#000000"},
                         {"name": "Body", "field": "description", "old": "", "new": "the shell"}]
    assert [s["change"] for s in d.steps] == ["add", "rename", "merge", "retire", "redefine"]
    merged = hist[3].get("Button")
    assert merged is not None and merged["colour"] == "#d62728"    # the first source's colour
    assert hist[-1].get("Cable") == {"name": "Cable", "colour": "#2ca02c", "description": "",
                                     "guideline": "", "retired": True, "replaced_by": ["Cord"]}


def test_bad_changes_store_nothing(project: Project) -> None:
    with pytest.raises(NotFound):
        taxonomy.retire(project, "Wire", reason="x")
    with pytest.raises(ConflictError, match="share"):
        taxonomy.add(project, "Wire", colour="#1F77B4", reason="x")
    with pytest.raises(ConflictError, match="already"):
        taxonomy.rename(project, "Body", "Cable", reason="x")
    with pytest.raises(InputError, match="reason"):
        taxonomy.retire(project, "Body", reason=" ")
    with pytest.raises(InputError, match="two"):
        taxonomy.split(project, "Body", [("A", None)], reason="x")
    with pytest.raises(InputError, match="colour"):
        taxonomy.add(project, "Wire", colour="red", reason="x")
    with pytest.raises(NotFound):
        taxonomy.diff(project, 1, 9)
    assert len(taxonomy.history(project)) == 1
    assert len(tracework.log(project)) == 1


def _edit_toml(project: Project, old: str, new: str) -> Project:
    path = project.root / "tracework.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    project.close()
    return tracework.open_project(project.root)


def test_a_hand_edit_of_the_toml_is_a_version_and_commands_are_not_undone(
        sqlite_project: Project) -> None:
    p = sqlite_project
    taxonomy.rename(p, "Cable", "Cord", reason="clearer")
    # The file still says Cable: that is not a change, so nothing fights the rename.
    with p.store.write() as conn:
        assert p.taxonomy_version(conn) == 2
    p = _edit_toml(p, 'name = "Scroll_Wheel"\ncolour = "#ff7f0e"',
                   'name = "Scroll_Wheel"\ncolour = "#ff7f0e"\nguideline = "only the wheel"\n'
                   '\n[[taxonomy.categories]]\nname = "Side_Button"\ncolour = "#e377c2"')
    try:
        assert _names(p)[-1] == "Side_Button"          # seen before it is recorded
        assert len(taxonomy.history(p)) == 2
        with p.store.write() as conn:
            assert p.taxonomy_version(conn) == 3
            assert p.taxonomy_version(conn) == 3           # once only
        v3 = taxonomy.history(p)[-1]
        assert (v3.change, v3.reason) == ("toml", "tracework.toml changed")
        assert v3.details == {"added": ["Side_Button"], "redefined": ["Scroll_Wheel"]}
        assert _names(p) == ["Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cord",
                             "Side_Button"]
        assert p.categories[3].guideline == "only the wheel"
    finally:
        p.close()


def test_removing_a_category_from_the_toml_retires_it(sqlite_project: Project) -> None:
    cable = '[[taxonomy.categories]]\nname = "Cable"\ncolour = "#2ca02c"\ndescription = ""\n'
    p = _edit_toml(sqlite_project, cable, "")
    try:
        with p.store.write() as conn:
            assert p.taxonomy_version(conn) == 2
        v2 = taxonomy.history(p)[-1]
        assert v2.details == {"retired": ["Cable"]}
        assert v2.get("Cable")["retired"] is True  # type: ignore[index]
    finally:
        p.close()


def test_flags_from_imported_survey_answers(project: Project, files: Any) -> None:
    tracework.ingest_mturk(project, files.batch_csv)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    with project.store.read() as conn:
        from tracework.core.store.schema import answers
        questions = sorted({q for (q,) in conn.execute(select(answers.c.question))})
        free = conn.execute(select(func.count()).select_from(answers)
                            .where(answers.c.question == questions[0],
                                   answers.c.value.is_not(None))).scalar_one()
    report = taxonomy.flags_from_survey(project, "imported", column=questions[0],
                                        category="Body")
    assert len(report.added) == free and report.unmatched == []
    flagged = notes.list_notes(project, target="category:Body")
    assert len(flagged) == free
    assert {n.concern for n in flagged} == {"taxonomy"}
    # A flag names its worker only with link consent.
    with project.store.read() as conn:
        from tracework.core.store.schema import workers
        linked = {w for (w,) in conn.execute(select(workers.c.pseudonym)
                                             .where(workers.c.consent_link.is_(True)))}
    assert {n.author for n in flagged} <= linked | {taxonomy.ANONYMOUS}
    again = taxonomy.flags_from_survey(project, "imported", column=questions[0],
                                       category="Body")
    assert (again.added, again.repeated) == ([], free)


def test_flags_from_a_notes_file(sqlite_project: Project, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "flags.csv", ["category", "text", "author"], [
        ["body", "one part or two?", "w_aaaa"], ["Cable", "offensive in my language", ""],
        ["Wire", "no such category", ""]])
    report = taxonomy.flags_from_survey(sqlite_project, str(path))
    assert len(report.added) == 2 and report.unmatched == ["Wire"]
    got = [(n.target, n.text, n.author) for n in notes.list_notes(sqlite_project)]
    assert got == [("category:Body", "one part or two?", "w_aaaa"),
                   ("category:Cable", "offensive in my language", taxonomy.ANONYMOUS)]
    taxonomy.split(sqlite_project, "Body", [("Shell", None), ("Base", None)], reason="asked",
                   answers=report.added[:1])
    assert notes.get(sqlite_project, report.added[0])[0].answered_by_version == 2


def test_old_annotations_stay_readable_by_their_version(sqlite_project: Project,
                                                        files: Any) -> None:
    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    taxonomy.rename(sqlite_project, "Cable", "Cord", reason="clearer")
    with sqlite_project.store.read() as conn:
        row = conn.execute(select(annotations.c.taxonomy_version)
                           .where(annotations.c.category == "Cable").limit(1)).scalar_one()
        status = conn.execute(select(submissions.c.status).limit(1)).scalar_one()
    assert row == 1 and status
    assert taxonomy.version(sqlite_project, row).get("Cable")["retired"] is False  # type: ignore[index]


def test_cli_taxonomy(sqlite_project: Project) -> None:
    runner = CliRunner()
    root = str(sqlite_project.root)

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["-p", root, "--actor", "alice", *args],
                             catch_exceptions=False)

    assert run("note", "add", "category:Body", "two parts?", "--concern", "taxonomy").exit_code == 0
    out = run("taxonomy", "split", "Body", "--into", "Shell=#0000ff", "--into", "Base",
              "--reason", "asked", "--answers", "1")
    assert out.exit_code == 0, out.output
    assert "taxonomy version 2 (split) by alice: asked; answers notes 1" in out.output
    out = run("taxonomy", "history")
    assert "2 " in out.output and "reason: asked; answers notes 1" in out.output
    out = run("taxonomy", "diff", "1", "2")
    assert "+ Shell" in out.output and "- Body" in out.output
    out = run("taxonomy", "show", "--retired")
    assert "Body  retired → Shell, Base" in out.output
    out = run("taxonomy", "retire", "Nope", "--reason", "x")
    assert out.exit_code == 5


def test_flags_from_a_survey_file_stay_anonymous(sqlite_project: Project, files: Any) -> None:
    with files.survey_csv.open(encoding="utf-8-sig") as fh:
        header = fh.readline().strip().split(",")
    question = next(h.strip('"') for h in header if h.strip('"').startswith("Q"))
    report = taxonomy.flags_from_survey(sqlite_project, str(files.survey_csv), column=question,
                                        category="Cable")
    flagged = notes.list_notes(sqlite_project, target="category:Cable")
    assert len(flagged) == len(report.added) > 0
    assert {n.author for n in flagged} == {taxonomy.ANONYMOUS}
    again = taxonomy.flags_from_survey(sqlite_project, str(files.survey_csv), column=question,
                                       category="Cable")
    assert again.added == [] and again.repeated == len(report.added)

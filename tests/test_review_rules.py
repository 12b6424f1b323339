"""Review rules from tracework.toml and the safe expression language: on hand-built facts, and
every rule kind on a generated batch with a too-fast, a duplicate and an empty submission."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import tracework
from builders import read_rows, small_files, truth, write_rows
from tracework import review
from tracework.core.errors import ConfigError
from tracework.core.project import Project, open_project
from tracework.core.store.schema import submissions
from tracework.review import expr
from tracework.review import facts as facts_module
from tracework.review.rules import Facts, load_review_config

CATS = ["Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]


def _facts(**over: Any) -> Facts:
    base: dict[str, Any] = dict(
        id=7, worker="w_x", task_id="HIT1", asset_id=1, asset_name="mouse_0001.jpeg",
        batch_id=1, status="Submitted", time_kind="wall_clock", work_time_s=300.0,
        reward_cents=15, areas={"Body": 900.0, "Cable": 40.0}, annotations=2,
        answer={"annotatedResult": {"labeledImage": {"pngImageData": "sha256:x"}},
                "surveycode": "ABC"},
        batch_median_s=400.0, batch_timed=10, earlier=None)
    base.update(over)
    return Facts(**base)


def _rules(*tables: dict[str, Any]) -> Any:
    return load_review_config({"review": {"rules": list(tables)}}, CATS)


def test_defaults_without_a_review_section() -> None:
    cfg = load_review_config({}, CATS)
    assert cfg.from_defaults and [r.code for r in cfg.rules] == ["parts_missing", "empty",
                                                                  "duplicate"]
    assert cfg.rule("parts_missing").check(_facts()) == "2 of 5 parts: Body, Cable"  # type: ignore[union-attr]
    assert cfg.rule("parts_missing").check(  # type: ignore[union-attr]
        _facts(areas={c: 5.0 for c in CATS[:3]})) is None


def test_required_parts_counts_only_parts_of_the_minimum_area() -> None:
    cfg = _rules({"code": "p", "kind": "required_parts", "min_parts": 2, "min_area_px": 50,
                  "reason": "Only {evidence}."})
    rule = cfg.rules[0]
    evidence = rule.check(_facts())
    assert evidence == "1 of 5 parts: Body"
    assert rule.reason_for(evidence) == "Only 1 of 5 parts: Body."


def test_min_area_too_fast_empty_duplicate() -> None:
    cfg = _rules(
        {"code": "tiny", "kind": "min_area", "min_area_px": 50, "reason": "r",
         "propose": "rework"},
        {"code": "fast", "kind": "too_fast", "fraction": 0.25, "reason": "r"},
        {"code": "empty", "kind": "empty_answer", "ignore": ["surveycode"], "reason": "r"},
        {"code": "dup", "kind": "duplicate", "reason": "r"})
    tiny, fast, empty, dup = cfg.rules
    assert tiny.decision == "rework"
    assert tiny.check(_facts()) == "Cable 40 px, under the minimum of 50 px per part"
    assert fast.check(_facts()) is None
    assert fast.check(_facts(work_time_s=99.0)) == (
        "99 s of work, under 25% of the batch's median 400 s (100 s)")
    assert fast.check(_facts(work_time_s=99.0, batch_timed=4)) is None  # median of too few
    assert fast.check(_facts(work_time_s=None)) is None
    assert empty.check(_facts()) is None
    assert empty.check(_facts(areas={}, annotations=0)) == "no labelled part and no answer"
    no_ignore = _rules({"code": "e", "kind": "empty_answer", "reason": "r"}).rules[0]
    assert no_ignore.check(_facts(areas={}, annotations=0)) is None  # the survey code counts
    assert dup.check(_facts()) is None
    assert dup.check(_facts(earlier=(3, "asset"))) == (
        "earlier submission 3 on the same asset mouse_0001.jpeg")


def test_expression_rule_evidence_names_the_values_it_saw() -> None:
    rule = _rules({"code": "x", "kind": "expression", "reason": "r",
                   "expression": "work_time_s < 120 and (parts < 3 or area.Cable == 0) "
                                 "and answer.surveycode != 'OK'"}).rules[0]
    assert rule.check(_facts()) is None
    assert rule.check(_facts(work_time_s=60.0)) == (
        "work_time_s = 60, parts = 2, area.Cable = 40, answer.surveycode = 'ABC'")
    assert rule.check(_facts(work_time_s=None)) is None  # missing values compare false


@pytest.mark.parametrize("text,problem", [
    ("__import__('os').system('x')", "cannot read the expression"),
    ("work_time_s.__class__ < 1", "unknown field"),
    ("open < 1", "unknown field 'open'"),
    ("parts < 'three'", "mixes a number and text"),
    ("status < 'A'", "only be compared with == or !="),
    ("area.Wheel > 0", "'Wheel' is not a category"),
    ("parts < 3 and", "expected a field"),
    ("(parts < 3", "is not closed"),
    ("parts", "expected a comparison"),
    ("parts < 3 parts", "unexpected 'parts'"),
    ("", "empty"),
    ("(" * 30 + "parts < 3" + ")" * 30, "nests deeper than 20"),
    ("parts<1 or " * 70 + "parts<1", "more than 200 parts"),
    ("x" * 1001, "longer than 1000"),
])
def test_unsafe_or_broken_expressions_are_config_errors(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(")):
        _rules({"code": "bad", "kind": "expression", "reason": "r", "expression": text})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_fails_as_a_config_error(text: str) -> None:
    try:
        parsed = expr.parse(text, categories=CATS)
    except ConfigError:
        return
    parsed.evaluate(_facts().value)


@pytest.mark.parametrize("table,problem", [
    ({"code": "Bad Code", "kind": "duplicate", "reason": "r"}, "must be lowercase"),
    ({"code": "a", "kind": "magic", "reason": "r"}, "kind 'magic'"),
    ({"code": "a", "kind": "duplicate"}, "needs a reason"),
    ({"code": "a", "kind": "duplicate", "reason": "two\nlines"}, "control character"),
    ({"code": "a", "kind": "duplicate", "reason": "r" * 1030}, "at most 1024"),
    ({"code": "a", "kind": "required_parts", "min_parts": 6, "reason": "r"},
     "between 1 and 5"),
    ({"code": "a", "kind": "required_parts", "reason": "r"}, "needs min_parts"),
    ({"code": "a", "kind": "min_area", "min_area_px": 5, "categories": ["Wheel"],
      "reason": "r"}, "not in the taxonomy"),
    ({"code": "a", "kind": "too_fast", "fraction": 1.5, "reason": "r"}, "between"),
    ({"code": "a", "kind": "duplicate", "reason": "r", "propose": "approve"},
     "reject or rework"),
])
def test_bad_rule_tables(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        _rules(table)


def test_rule_codes_are_unique() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        _rules({"code": "a", "kind": "duplicate", "reason": "r"},
               {"code": "a", "kind": "empty_answer", "reason": "r"})


def test_template_is_valid_toml_with_the_defaults() -> None:
    import tomllib

    from tracework.review import config_template

    cfg = load_review_config(tomllib.loads(config_template(CATS)), CATS)
    assert not cfg.from_defaults
    assert [r.code for r in cfg.rules] == [r.code for r in load_review_config({}, CATS).rules]
    assert (cfg.reversal_window_days, cfg.rework_upload) == (30, "approve")


# -- every rule kind from tracework.toml, on a generated batch --------------------------------

RULES_TOML = """
[review]
reversal_window_days = 30

[[review.rules]]
code = "parts_missing"
kind = "required_parts"
min_parts = 3
reason = "Only {evidence}."

[[review.rules]]
code = "tiny"
kind = "min_area"
min_area_px = 50
propose = "rework"
reason = "Some parts are too small ({evidence})."

[[review.rules]]
code = "fast"
kind = "too_fast"
fraction = 0.25
reason = "Done too quickly: {evidence}."

[[review.rules]]
code = "empty"
kind = "empty_answer"
ignore = ["surveycode"]
reason = "Nothing was submitted."

[[review.rules]]
code = "dup"
kind = "duplicate"
reason = "Already submitted ({evidence})."

[[review.rules]]
code = "quick_thin"
kind = "expression"
expression = "work_time_s < 10 and parts < 5"
reason = "Very quick and incomplete ({evidence})."
"""
DUP, EMPTY = "3DUPLICATEASSIGNMENT0000000001", "3EMPTYASSIGNMENT00000000000001"


def _hostile_batch(files: Any, dest: Path) -> tuple[Path, list[dict[str, str]]]:
    """The batch with row 1 done in 5 s, row 2 submitted twice by its worker, and one
    submission with nothing in it; returns the file and its rows as dicts."""
    header, rows = read_rows(files.batch_csv)
    col = {c: i for i, c in enumerate(header)}
    rows[0][col["WorkTimeInSeconds"]] = "5"
    dup = list(rows[1])
    dup[col["AssignmentId"]] = DUP
    empty = list(rows[2])
    empty[col["AssignmentId"]], empty[col["WorkerId"]] = EMPTY, "A3EMPTYWORKER1"
    for name in header:
        if name.startswith("Answer."):
            empty[col[name]] = ""
    rows += [dup, empty]
    return write_rows(dest, header, rows), [dict(zip(header, r)) for r in rows]


def _with_rules(project: Project, toml: str) -> Project:
    with (project.root / "tracework.toml").open("a", encoding="utf-8") as fh:
        fh.write(toml)
    return open_project(project.root, cli={
        "database_url": project.settings["database_url"] or None, "actor": "tester"})


def _expected(files: Any, rows: list[dict[str, str]], ids: dict[str, int]
              ) -> dict[tuple[int, str], str]:
    """(submission, rule) → evidence, worked out from the generator's truth and the edits."""
    parts = {s["assignment_id"]: s["parts"] for s in truth(files)["submissions"]}
    parts[DUP], parts[EMPTY] = parts[rows[1]["AssignmentId"]], {}
    times = [float(r["WorkTimeInSeconds"]) for r in rows]
    median = statistics.median(times)
    out: dict[tuple[int, str], str] = {}
    for r in rows:
        sid, p = ids[r["AssignmentId"]], parts[r["AssignmentId"]]
        done = [c for c in CATS if p.get(c, 0) > 0]
        if len(done) < 3:
            out[(sid, "parts_missing")] = f"{len(done)} of 5 parts: {', '.join(done) or 'none'}"
        small = [f"{c} {p[c]:g} px" for c in CATS if 0 < p.get(c, 0) < 50]
        if small:
            out[(sid, "tiny")] = f"{', '.join(small)}, under the minimum of 50 px per part"
        if float(r["WorkTimeInSeconds"]) < 10:
            out[(sid, "fast")] = (f"5 s of work, under 25% of the batch's median {median:g} s "
                                  f"({median * 0.25:g} s)")
            out[(sid, "quick_thin")] = f"work_time_s = 5, parts = {len(done)}"
    out[(ids[EMPTY], "empty")] = "no labelled part and no answer"
    out[(ids[DUP], "dup")] = (f"earlier submission {ids[rows[1]['AssignmentId']]} on the same "
                              f"task {rows[1]['HITId']}")
    return out


@pytest.mark.parametrize("chunk", [None, 3])
def test_every_rule_kind_from_tracework_toml_proposes_with_its_evidence(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        chunk: int | None) -> None:
    if chunk is not None:       # submissions read a few at a time: the same proposals
        monkeypatch.setattr(facts_module, "CHUNK", chunk)
    files = small_files(tmp_path / "files")
    path, rows = _hostile_batch(files, tmp_path / "hostile.csv")
    configured = _with_rules(project, RULES_TOML)
    try:
        cfg = review.review_config(configured)
        assert not cfg.from_defaults
        assert [r.code for r in cfg.rules] == ["parts_missing", "tiny", "fast", "empty", "dup",
                                               "quick_thin"]
        tracework.ingest_mturk(configured, path)
        with configured.store.read() as conn:
            ids = {r.assignment_id: int(r.id) for r in conn.execute(
                select(submissions.c.assignment_id, submissions.c.id))}
        expected = _expected(files, rows, ids)
        assert {rule for _, rule in expected} == {r.code for r in cfg.rules}
        report = review.propose(configured)
        got = {(i.submission_id, p["rule"]): p["evidence"]
               for i in review.review_list(configured, proposed=True) for p in i.proposals}
        assert got == expected
        assert report.proposed == len(expected)
        fast = [p for i in review.review_list(configured, rule="fast") for p in i.proposals
                if p["rule"] == "fast"][0]
        assert fast["reason"] == f"Done too quickly: {fast['evidence']}."
        tiny = [p for i in review.review_list(configured, rule="tiny") for p in i.proposals
                if p["rule"] == "tiny"]
        assert tiny and {p["decision"] for p in tiny} == {"rework"}
    finally:
        configured.close()


def test_a_reason_that_would_break_the_platform_limit_points_to_the_record() -> None:
    rule = _rules({"code": "p", "kind": "required_parts", "min_parts": 3,
                   "reason": "Only {evidence}."}).rules[0]
    assert rule.reason_for("2 of 5 parts: Body\nCable") == "Only see the review record."
    assert rule.reason_for("x" * 1020) == "Only see the review record."
    assert rule.reason_for("1 of 5 parts: Body") == "Only 1 of 5 parts: Body."

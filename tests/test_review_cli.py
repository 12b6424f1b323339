"""`tracework review` and `tracework pay` through the command line: help, flow, exit codes."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from builders import edited_batch, small_files
from tracework.cli import cli
from tracework.core.errors import ConflictError, InputError, NotFound

CATS = ["Body=#1f77b4", "Left_Button=#d62728", "Right_Button=#9467bd",
        "Scroll_Wheel=#ff7f0e", "Cable=#2ca02c"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("review_cli"))


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def proj(tmp_path: Path, files: Any) -> str:
    p = str(tmp_path / "proj")
    init = ["init", p, "--name", "Mouse"]
    for c in CATS:
        init += ["--category", c]
    assert _run(*init).exit_code == 0
    assert _run("-p", p, "ingest", "mturk", str(files.batch_csv)).exit_code == 0
    return p


def _examples(text: str, group: str) -> list[list[str]]:
    """The example command lines in a help text, as argument lists after the group's name
    (a trailing # comment and shell redirection left off)."""
    out = []
    for line in text.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith(f"tracework {group} "):
            words = shlex.split(line)[2:]
            cut = [i for i, w in enumerate(words) if w in (">", ">>", "|")]
            out.append(words[:cut[0]] if cut else words)
    return out


@pytest.mark.parametrize("group", ["review", "pay"])
def test_help_is_complete_and_every_example_parses(group: str) -> None:
    command = cli.commands[group]
    assert isinstance(command, click.Group)
    shown = CliRunner().invoke(cli, [group, "--help"], catch_exceptions=False).output
    listed = _examples(shown, group)
    assert {words[0] for words in listed} == set(command.commands), \
        f"tracework {group} --help should show an example of every command"
    for name, sub in command.commands.items():
        assert (sub.help or "").strip(), f"{group} {name} has no help"
        for param in sub.params:
            if isinstance(param, click.Option):
                assert (param.help or "").strip(), f"{group} {name} {param.opts[0]} has no help"
        text = CliRunner().invoke(cli, [group, name, "--help"], catch_exceptions=False).output
        assert "Example" in text, f"{group} {name} --help shows no example"
        own = [w for w in _examples(text, group) if w[0] == name]
        assert own, f"{group} {name} --help has no example of itself"
        listed += own
    for words in listed:
        sub = command.commands[words[0]]
        # Parsing checks every option and argument of the example exists and fits.
        sub.make_context(words[0], list(words[1:]))


def test_review_round_through_the_cli(proj: str, tmp_path: Path) -> None:
    r = _run("-p", proj, "review", "propose", "--json")
    proposed = json.loads(r.stdout)
    assert proposed["proposed"] == proposed["by_rule"]["parts_missing"] > 0
    r = _run("-p", proj, "review", "list", "--proposed", "--json")
    queue = json.loads(r.stdout)
    assert len(queue) == proposed["proposed"]
    first = str(queue[0]["submission_id"])
    r = _run("-p", proj, "review", "decide", first, "--reject")
    assert r.exit_code == InputError.exit_code and "needs a reason" in r.output
    assert "Traceback" not in r.output
    r = _run("-p", proj, "review", "decide", first, "--reject", "--reason-code",
             "parts_missing")
    assert r.exit_code == 0 and "Submitted → Rejected" in r.output
    r = _run("-p", proj, "review", "decide", first, "--approve")
    assert r.exit_code == ConflictError.exit_code and "--redecide" in r.output
    r = _run("-p", proj, "review", "decide", "--accept-proposals", "--json")
    assert json.loads(r.stdout)["decided"] == len(queue) - 1
    r = _run("-p", proj, "review", "decide", "--approve-unflagged")
    assert r.exit_code == 0 and "approve" in r.output
    r = _run("-p", proj, "review", "list", "--status", "submitted", "--json")
    assert json.loads(r.stdout) == []
    r = _run("-p", proj, "review", "contest", first, "--message", "All parts are labelled.")
    assert r.exit_code == 0 and "contested" in r.output
    r = _run("-p", proj, "review", "list", "--status", "contested")
    assert r.output.splitlines()[0].split()[:2] == [first, "contested"]
    r = _run("-p", proj, "review", "resolve", first, "--overturn", "--reason",
             "The cable is labelled.", "--pay", "bonus")
    assert r.exit_code == 0 and "bonus of 0.15" in r.output
    out = tmp_path / "upload.csv"
    r = _run("-p", proj, "review", "export-mturk", str(out))
    assert r.exit_code == 0 and "mode 0600" in r.output
    assert out.read_bytes().startswith(b"HITId,AssignmentId,WorkerId,Approve,Reject\r\n")
    worker = queue[0]["worker"]
    r = _run("-p", proj, "review", "receipt", worker, "--out", str(tmp_path / "rc"))
    assert r.exit_code == 0 and (tmp_path / "rc" / f"{worker}.html").exists()
    r = _run("-p", proj, "verify")
    assert r.exit_code == 0


def test_unknown_submission_and_bad_flags(proj: str) -> None:
    r = _run("-p", proj, "review", "decide", "424242", "--approve")
    assert r.exit_code == NotFound.exit_code and "no submission '424242'" in r.output
    r = _run("-p", proj, "review", "decide", "1")
    assert r.exit_code == InputError.exit_code and "--approve" in r.output
    r = _run("-p", proj, "review", "decide", "1", "--approve", "--accept-proposals")
    assert r.exit_code == InputError.exit_code
    r = _run("-p", proj, "review", "resolve", "1", "--reason", "x")
    assert r.exit_code == InputError.exit_code and "--uphold or --overturn" in r.output
    r = _run("-p", proj, "pay", "topup")
    assert r.exit_code == 3 and "no wage floor" in r.output


def test_rules_and_template(proj: str) -> None:
    r = _run("-p", proj, "review", "rules")
    assert "parts_missing (required_parts, proposes reject)" in r.output
    r = _run("-p", proj, "review", "rules", "--template")
    assert "[[review.rules]]" in r.output and "time_measure = \"platform\"" in r.output


def test_redecide_from_a_file_through_the_cli(proj: str, files: Any, tmp_path: Path) -> None:
    first = {1: ("", "Only 2 of 5 parts.")}
    second = {1: ("X", "")}

    def typed(marks: dict[int, tuple[str, str]], name: str) -> str:
        def edit(row: dict[str, str], number: int) -> dict[str, str]:
            if number in marks:
                row["Approve"], row["Reject"] = marks[number]
            return row
        return str(edited_batch(files.batch_csv, tmp_path / name, edit))

    r = _run("-p", proj, "review", "decide", "--from-file", typed(first, "a.csv"), "--json")
    assert json.loads(r.stdout)["by_decision"] == {"reject": 1}
    again = typed(second, "b.csv")
    r = _run("-p", proj, "review", "decide", "--from-file", again)
    assert r.exit_code == ConflictError.exit_code and "--redecide" in r.output
    r = _run("-p", proj, "review", "decide", "--from-file", again, "--redecide")
    assert r.exit_code == InputError.exit_code and "needs a reason" in r.output
    r = _run("-p", proj, "review", "decide", "--from-file", again, "--redecide", "--reason",
             "Re-checked: all parts are there.", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["by_decision"] == {"approve": 1}
    r = _run("-p", proj, "review", "list", "--status", "approved", "--json")
    assert [i["reason_text"] for i in json.loads(r.stdout)] == ["Re-checked: all parts are there."]

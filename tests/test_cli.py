"""The command line: complete help, settings precedence, errors without stack traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from builders import small_files
from tracework.cli import cli, main
from tracework.core import settings as settings_mod
from tracework.core.errors import ConfigError, InputError, ProjectNotFound


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
    return out


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, cmd in _commands(cli):
        if not (cmd.help or "").strip():
            missing.append(" ".join(path))
        for param in cmd.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    for param in cli.params:
        if isinstance(param, click.Option) and not (param.help or "").strip() \
                and param.name not in ("version",):
            missing.append(f"tracework {param.opts[0]}")
    assert missing == []


@pytest.mark.parametrize("path", [p for p, _ in _commands(cli)])
def test_help_runs(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_every_setting_has_help() -> None:
    assert all(s.help.strip() for s in settings_mod.SETTINGS)


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["init", str(tmp_path / "p")], catch_exceptions=False)
    toml = tmp_path / "p" / "tracework.toml"
    toml.write_text(toml.read_text() + "mask_tolerance = 0.25\nmin_cell = 7\n")
    monkeypatch.setenv("TRACEWORK_MIN_CELL", "9")
    result = runner.invoke(cli, ["-p", str(tmp_path / "p"), "--set", "processes=1",
                                 "settings", "--json"], catch_exceptions=False)
    data = json.loads(result.stdout)
    assert data["mask_tolerance"]["value"] == 0.25 and data["mask_tolerance"]["source"] == "file"
    assert data["min_cell"]["value"] == 9 and data["min_cell"]["source"] == "env"
    assert data["processes"]["value"] == 1 and data["processes"]["source"] == "cli"
    assert data["max_field_bytes"]["source"] == "default"


def test_bad_setting_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="min_cell"):
        settings_mod.resolve(cli={"min_cell": "many"}, env={})
    with pytest.raises(ConfigError, match="unknown setting"):
        settings_mod.resolve(file={"colour_scheme": "dark"}, env={})


def test_full_flow_through_the_cli(tmp_path: Path) -> None:
    files = small_files(tmp_path / "gen")
    runner = CliRunner()
    p = str(tmp_path / "proj")
    r = runner.invoke(cli, ["init", p, "--name", "Mouse", "--category", "Body=#1f77b4",
                            "--category", "Left_Button=#d62728", "--category",
                            "Right_Button=#9467bd", "--category", "Scroll_Wheel=#ff7f0e",
                            "--category", "Cable=#2ca02c"], catch_exceptions=False)
    assert r.exit_code == 0 and "Created project 'Mouse'" in r.output
    r = runner.invoke(cli, ["-p", p, "ingest", "mturk", str(files.batch_csv), "--images",
                            str(files.images_dir)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert f"added           {files.submissions}" in r.output
    r = runner.invoke(cli, ["-p", p, "ingest", "mturk", str(files.batch_csv)],
                      catch_exceptions=False)
    assert "already imported" in r.output
    r = runner.invoke(cli, ["-p", p, "status", "--json"], catch_exceptions=False)
    st = json.loads(r.stdout)
    assert st["submissions"] == files.submissions
    r = runner.invoke(cli, ["-p", p, "verify"], catch_exceptions=False)
    assert r.exit_code == 0 and st["ledger_head"] in r.output
    r = runner.invoke(cli, ["-p", p, "verify", "--expect-head", "f" * 64],
                      catch_exceptions=False)
    assert r.exit_code == 7 and "checkpoint" in r.output
    r = runner.invoke(cli, ["-p", p, "log", "--action", "submission.create", "--limit", "3"],
                      catch_exceptions=False)
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 3


def test_input_error_exit_code_and_message(tmp_path: Path) -> None:
    runner = CliRunner()
    p = str(tmp_path / "proj")
    runner.invoke(cli, ["init", p], catch_exceptions=False)
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    r = runner.invoke(cli, ["-p", p, "ingest", "mturk", str(bad)], catch_exceptions=False)
    assert r.exit_code == InputError.exit_code
    assert "empty.csv" in r.output and "Traceback" not in r.output


def test_no_project_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["-p", str(tmp_path / "nowhere"), "status"],
                           catch_exceptions=False)
    assert r.exit_code == ProjectNotFound.exit_code
    assert "tracework init" in r.output


def test_main_hides_internal_errors(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import tracework

    def explode(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("secret detail ACANARY7Q2X9Z4")

    monkeypatch.setattr(tracework, "status", explode)
    monkeypatch.delenv("TRACEWORK_DEBUG", raising=False)
    monkeypatch.setattr("tracework.cli.project.project_of", lambda ctx: None)
    code = main(["status"])
    err = capsys.readouterr().err
    assert code == 70
    assert "RuntimeError" in err and "ACANARY" not in err and "Traceback" not in err


def test_init_refuses_an_existing_project(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["init", str(tmp_path)], catch_exceptions=False)
    r = runner.invoke(cli, ["init", str(tmp_path)], catch_exceptions=False)
    assert r.exit_code == ConfigError.exit_code and "already exists" in r.output


def test_init_writes_the_value_chain_taxonomy_concerns_and_pay_policy(tmp_path: Path) -> None:
    import tomllib

    from tracework.core.project import DEFAULT_CONCERNS

    r = CliRunner().invoke(cli, [
        "init", str(tmp_path / "p"), "--name", "Mouse parts", "--category", "Body=#1F77B4",
        "--category", "Cable=#2ca02c", "--requester", "A. Researcher", "--affiliation",
        "Some University", "--end-client", "none", "--purpose", "teaching"],
        catch_exceptions=False)
    assert r.exit_code == 0, r.output
    root = tmp_path / "p"
    config = tomllib.loads((root / "tracework.toml").read_text(encoding="utf-8"))
    assert config["project"]["name"] == "Mouse parts"
    chain = config["value_chain"]
    assert (chain["requester"], chain["affiliation"], chain["end_client"], chain["purpose"]) == (
        "A. Researcher", "Some University", "none", "teaching")
    assert chain["intermediaries"] == [] and chain["intended_uses"] == []
    assert chain["guideline_version"] == "1"
    assert config["taxonomy"]["categories"] == [
        {"name": "Body", "colour": "#1f77b4", "description": ""},
        {"name": "Cable", "colour": "#2ca02c", "description": ""}]
    assert config["concerns"] == dict(DEFAULT_CONCERNS)
    assert config["pay"]["currency"] == "USD" and config["pay"]["wage_floor_per_hour"] == 0.0
    assert "Yes" in config["consent"]["yes_values"]
    assert sorted(p.name for p in root.iterdir()) == [
        ".gitignore", "tracework.db", "tracework.secret", "tracework.toml"]
    secret = (root / "tracework.secret").read_text().strip()
    for db in root.glob("tracework.db*"):
        data = db.read_bytes()
        assert secret.encode() not in data and bytes.fromhex(secret) not in data


def test_manifests_never_show_a_database_password() -> None:
    shown = settings_mod.resolve(cli={"database_url": "postgresql://tw:s3cr3t@db.example/tw"},
                                 env={}).manifest()["database_url"]
    assert shown == {"value": "postgresql://tw:***@db.example/tw", "source": "cli"}


def test_progress_is_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from tracework.cli.common import Progress

    with Progress("ingest") as progress:        # pytest's stderr is not a terminal
        for done in range(0, 5000, 250):
            progress(done)
        progress(10, total=10)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert not Progress("x").enabled and Progress("x", enabled=True).enabled

"""Privacy of the computed documentation: a canary worker id and canary free-text answers
must appear in no exported file, whatever the worker consented to; free text is published per
worker only when the project enables it and the worker consented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tracework
from builders import read_rows, small_files, truth, write_rows
from tracework import docs
from tracework.cli import cli
from tracework.core.privacy import pseudonym
from tracework.docs.croissant import ANNOTATIONS_FILE

CANARY = "ACANARYDOCS7Q2X"
CITY = "Canarytown-城市-4411"
COST = "canary-laptop-cost-9923"
OTHER = "canary-other-health-5519"
FREE = (CITY, COST, OTHER)
# A second worker, who labelled and answered the survey but did not consent to publication.
SHY_CITY = "canary-shy-city-3307"
SHY_COST = "canary-shy-cost-6618"
SHY = (SHY_CITY, SHY_COST)
# Documents that describe or count; per-worker answers never go into them.
DESCRIBING = ("croissant.json", "DATASHEET.md", "DATASHEET.html", "README.md", "CREDITS.md",
              "credits.json", "ledger.jsonl", "ledger-head.json")

SECTION = """
[export]
publish_free_text = {publish}
free_text_questions = ["Q4", "Q10"]

[export.demographics]
gender = "Q2"
city = "Q4"
costs = "Q10"
"""


def _edit_survey(path: Path, victim: str, shy: str) -> None:
    header, rows = read_rows(path)
    col = {name: i for i, name in enumerate(header)}
    hit = 0
    for cells in rows[2:]:          # the two other header rows of a Qualtrics export
        if cells[col["workerId"]] == victim:
            cells[col["Q4"]], cells[col["Q10"]] = CITY, COST
            cells[col["Q9_9"]], cells[col["Q9_9_TEXT"]] = "Other", OTHER
            cells[col["Q11"]] = "Yes"
            hit += 1
        elif cells[col["workerId"]] == shy:
            cells[col["Q4"]], cells[col["Q10"]] = SHY_CITY, SHY_COST
            cells[col["Q11"]] = "No"
            hit += 1
    assert hit == 2
    write_rows(path, header, rows)


@pytest.fixture(scope="module")
def canary_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The small example; one labelling, surveyed worker becomes the canary, consenting to
    everything, with canary free-text answers."""
    files = small_files(tmp_path_factory.mktemp("docs_canary"))
    t = truth(files)
    surveyed = [w for w, info in t["workers"].items()
                if info["labelled"] and info["survey_answered"]]
    victim, shy = surveyed[0], surveyed[1]
    _edit_survey(files.survey_csv, victim, shy)
    for path in (files.batch_csv, files.survey_csv):
        text = path.read_text(encoding="utf-8-sig")
        assert victim in text
        path.write_text(text.replace(victim, CANARY), encoding="utf-8")
    return files


def _init(runner: CliRunner, proj: Path, database_url: str, publish: bool) -> list[str]:
    base = ["-p", str(proj), "--actor", "tester"]
    if database_url:
        base += ["--database-url", database_url]
    db = ["--database-url", database_url] if database_url else []
    result = runner.invoke(cli, [*db, "init", str(proj), "--category", "Body=#1f77b4",
                                 "--category", "Left_Button=#d62728", "--category",
                                 "Right_Button=#9467bd", "--category", "Scroll_Wheel=#ff7f0e",
                                 "--category", "Cable=#2ca02c"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    toml = proj / "tracework.toml"
    text = toml.read_text(encoding="utf-8").replace('credit_name_column = ""',
                                                    'credit_name_column = "Q12"')
    section = SECTION.format(publish="true" if publish else "false")
    toml.write_text(text.replace("[settings]", section + "\n[settings]"), encoding="utf-8")
    return base


def _files_with(root: Path, needles: tuple[str, ...]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {n}" for n in needles if n.encode() in data]
    return found


def _run_all(runner: CliRunner, base: list[str], files: Any, out: Path) -> list[str]:
    outputs = []

    def run(*args: str) -> None:
        result = runner.invoke(cli, [*base, *args], catch_exceptions=False)
        outputs.append(result.output)
        assert result.exit_code == 0, result.output

    run("ingest", "mturk", str(files.batch_csv))
    run("ingest", "qualtrics", str(files.survey_csv), "--worker-column", "workerId",
        "--consent-column", "Q11")
    run("export", "bundle", str(out / "bundle"), "--status", "all", "--images",
        str(files.images_dir))
    run("export", "croissant", str(out / "alone" / "croissant.json"), "--status", "all",
        "--json")
    run("export", "datasheet", str(out / "alone" / "DATASHEET.md"), "--html", "--status", "all")
    run("export", "card", str(out / "alone" / "README.md"), "--status", "all")
    run("export", "credits", str(out / "alone"), "--status", "all", "--json")
    return outputs


def test_canary_id_and_free_text_appear_in_no_document(database_url: str, tmp_path: Path,
                                                       canary_files: Any) -> None:
    runner = CliRunner()
    proj = tmp_path / "proj"
    base = _init(runner, proj, database_url, publish=False)
    out = tmp_path / "out"
    outputs = _run_all(runner, base, canary_files, out)
    assert not [o for o in outputs if CANARY in o or any(t in o for t in FREE)]
    # Everything the docs room writes: no raw id, no free text.
    documents = [p for p in out.rglob("*") if p.is_file()
                 and not p.relative_to(out).as_posix().startswith(("bundle/coco/",
                                                                   "bundle/yolo/"))]
    assert len(documents) >= 15
    leaks = [f"{p}: {n}" for p in documents for n in (CANARY, *FREE, *SHY)
             if n.encode() in p.read_bytes()]
    assert leaks == []
    # The dataset exports of the bundle carry no raw id either.
    assert _files_with(out / "bundle", (CANARY,)) == []
    # The canary's labels are there, under the pseudonym, with its consented closed answer.
    secret = (proj / "tracework.secret").read_text().strip()
    token = pseudonym(bytes.fromhex(secret), "mturk", CANARY)
    rows = [json.loads(line) for line in
            (out / "bundle" / ANNOTATIONS_FILE).read_text().splitlines()]
    mine = [r for r in rows if r["annotator"] == token]
    assert mine and all(r["annotator_gender"] for r in mine)
    assert all("annotator_city" not in r and "annotator_costs" not in r for r in rows)


def test_canary_free_text_absent_from_coco_and_yolo(tmp_path: Path, canary_files: Any) -> None:
    runner = CliRunner()
    base = _init(runner, tmp_path / "proj", "", publish=False)
    _run_all(runner, base, canary_files, tmp_path / "out")
    assert _files_with(tmp_path / "out", (*FREE, *SHY)) == []


def test_free_text_only_when_enabled_and_consented(tmp_path: Path,
                                                   canary_files: Any) -> None:
    runner = CliRunner()
    proj = tmp_path / "proj"
    base = _init(runner, proj, "", publish=True)
    outputs = _run_all(runner, base, canary_files, tmp_path / "out")
    assert [o for o in outputs if any(t in o for t in (CANARY, *FREE, *SHY))] == []
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "bundle" / ANNOTATIONS_FILE).read_text().splitlines()]
    project = tracework.open_project(proj)
    try:
        with project.store.read() as conn:
            from sqlalchemy import select

            from tracework.core.store.schema import workers

            consent = {w.pseudonym: w.consent_publish for w in conn.execute(select(workers))}
    finally:
        project.close()
    assert any(r["annotator_city"] == CITY for r in rows)
    for r in rows:
        if not consent[r["annotator"]]:
            assert r["annotator_city"] == r["annotator_costs"] == ""
    # "Other, please say" text stays out of the records even then: it is in no published
    # field of them.
    assert _files_with(tmp_path / "out" / "bundle" / "records", (OTHER,)) == []
    # The aggregate never counts free text.
    doc = json.loads((tmp_path / "out" / "bundle" / "croissant.json").read_text())
    assert CITY not in json.dumps(doc.get("rai:annotatorDemographics", ""))
    demographics = doc["rai:annotatorDemographics"]
    assert [line.split(" (")[0] for line in demographics[1:]] == ["gender"]
    assert any("Free-text answers (city, costs) are published per annotation" in t
               for t in doc["rai:personalSensitiveInformation"])
    # Free text leaves per annotation only: no describing document carries any of it.
    for folder in ("bundle", "alone"):
        for name in DESCRIBING:
            path = tmp_path / "out" / folder / name
            if path.is_file():
                data = path.read_text(encoding="utf-8")
                assert [t for t in (*FREE, *SHY) if t in data] == [], path
    # Whatever the project enables: no raw id anywhere, and nothing of a worker who did not
    # consent, in any file, dataset exports included.
    assert _files_with(tmp_path / "out", (CANARY, *SHY)) == []


def test_export_section_errors_are_clear(sqlite_project: Any) -> None:
    toml = sqlite_project.root / "tracework.toml"
    toml.write_text(toml.read_text().replace(
        "[settings]", "[export]\nfree_text_questions = \"Q4\"\n\n[settings]"))
    project = tracework.open_project(sqlite_project.root)
    try:
        with pytest.raises(tracework.TraceworkError, match="free_text_questions must be a list"):
            docs.export_card(project, sqlite_project.root / "out")
    finally:
        project.close()

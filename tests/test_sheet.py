"""The spreadsheet round trip: export, edit, import; structure and read-only cells guarded."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

import tracework
from builders import small_files
from tracework.cli import cli
from tracework.core.errors import ConflictError, InputError
from tracework.core.project import DEFAULT_CONCERNS, Project
from tracework.core.store.schema import annotations, submissions, workers
from tracework.fieldnotes import notes, sheet


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def loaded(project: Project, files: Any) -> Project:
    tracework.ingest_mturk(project, files.batch_csv)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    return project


def _col(ws: Any, name: str) -> int:
    return [c.value for c in ws[1]].index(name) + 1


def _letter(ws: Any, name: str) -> str:
    return openpyxl.utils.get_column_letter(_col(ws, name))


def _entries(project: Project) -> int:
    return tracework.verify(project).entries


def _export(project: Project, tmp_path: Path) -> Path:
    out = tmp_path / "work.xlsx"
    sheet.sheet_export(project, out)
    return out


def _other_category(current: str) -> str:
    return "Cable" if current != "Cable" else "Body"


def test_full_round_trip_three_cells_and_a_note_are_four_entries(loaded: Project,
                                                                 tmp_path: Path) -> None:
    noted = notes.add(loaded, "cell:annotations:3:category", "looks like the cable",
                      concern="data_quality", author="bob")
    notes.add(loaded, "submission:2", "feedback is rude", concern="harmful_content")
    path = _export(loaded, tmp_path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Annotations", "Submissions", "Workers", "Taxonomy", "Notes", "Log",
                             "_tracework"]
    ann, sub = wb["Annotations"], wb["Submissions"]
    # Row r holds annotation r - 1 (ids start at 1, sorted).
    cat = _col(ann, "category")
    marked = ann.cell(4, cat)
    assert marked.fill.fgColor.rgb == "FF" + DEFAULT_CONCERNS["data_quality"][1:].upper()
    assert marked.comment is not None and "bob: looks like the cable" in marked.comment.text
    assert sub.cell(3, 1).comment is not None and "feedback is rude" in sub.cell(3, 1).comment.text
    assert sub.cell(3, 1).fill.fgColor.rgb == "FFE06666"
    assert ann.cell(1, cat).fill.fgColor.rgb == "FFB6D7A8"          # editable header
    assert ann.cell(1, 1).fill.fgColor.rgb == "FFD9D9D9"            # read-only header
    assert wb["Log"].protection.sheet and not ann.protection.sheet
    assert wb["_tracework"].sheet_state == "hidden"
    # Three edits and a new note.
    old1, old2 = ann.cell(2, cat).value, ann.cell(5, cat).value
    ann.cell(2, cat).value = _other_category(old1)
    ann.cell(5, cat).value = _other_category(old2)
    fb = _col(sub, "requester_feedback")
    sub.cell(2, fb).value = "Thank you, all five parts are there."
    ws = wb["Notes"]
    ws.append([None, "annotation:1", "ambiguous_guideline", "is a cable end part of Cable?",
               "carol"])
    wb.save(path)
    before = _entries(loaded)
    report = sheet.sheet_import(loaded, path, actor="alice")
    assert _entries(loaded) - before == 4 == report.ledger_entries
    new = tracework.log(loaded, limit=4, newest_first=True)[::-1]
    assert [(e.action, e.target, e.actor) for e in new] == [
        ("annotation.category", "annotation:1", "alice"),
        ("annotation.category", "annotation:4", "alice"),
        ("submission.requester_feedback", "submission:1", "alice"),
        ("note.add", "annotation:1", "carol")]
    assert (new[0].as_dict()["old"], new[0].as_dict()["new"]) == (old1, _other_category(old1))
    assert "Annotations!H2" in new[0].reason
    with loaded.store.read() as conn:
        got = conn.execute(select(annotations.c.category).where(annotations.c.id == 4)).scalar()
        fb_now = conn.execute(select(submissions.c.requester_feedback)
                              .where(submissions.c.id == 1)).scalar()
    assert (got, fb_now) == (_other_category(old2), "Thank you, all five parts are there.")
    added = notes.list_notes(loaded, target="annotation:1")
    assert [(n.text, n.author, n.concern) for n in added] == [
        ("is a cable end part of Cable?", "carol", "ambiguous_guideline")]
    assert noted.id == 1
    # The same workbook again: nothing.
    again = sheet.sheet_import(loaded, path, actor="alice")
    assert (again.ledger_entries, again.changes, again.notes_added) == (0, [], [])
    assert _entries(loaded) - before == 4
    assert tracework.verify(loaded).ok


def _edited(path: Path, edit: Any) -> Path:
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    return path


@pytest.mark.parametrize("edit, where", [
    (lambda wb: wb["Annotations"].cell(2, 3).__setattr__("value", 999), "Annotations!C2"),
    (lambda wb: wb["Annotations"].cell(3, 1).__setattr__("value", 999), "Annotations!A3"),
    (lambda wb: wb["Submissions"].cell(3, 14).__setattr__("value", "0" * 64), "Submissions!N3"),
    (lambda wb: wb["Log"].cell(2, 3).__setattr__("value", "mallory"), "Log!C2"),
    (lambda wb: wb["Taxonomy"].cell(2, 2).__setattr__("value", "#000000"), "Taxonomy!B2"),
    (lambda wb: wb["Workers"].cell(2, 2).__setattr__("value", "prolific"), "Workers!B2"),
])
def test_read_only_edits_are_refused_naming_the_cell(loaded: Project, tmp_path: Path,
                                                     edit: Any, where: str) -> None:
    path = _export(loaded, tmp_path)

    def both(wb: Any) -> None:
        edit(wb)
        wb["Annotations"].cell(2, 8).value = _other_category(wb["Annotations"].cell(2, 8).value)

    _edited(path, both)
    before = _entries(loaded)
    with pytest.raises(InputError) as info:
        sheet.sheet_import(loaded, path, actor="alice")
    assert where in str(info.value) and "nothing was recorded" in str(info.value)
    assert _entries(loaded) == before


def _rename(wb: Any) -> None:
    wb["Submissions"].title = "Subs"


def _move(wb: Any) -> None:
    ws = wb["Annotations"]
    ws.cell(1, 2).value, ws.cell(1, 3).value = ws.cell(1, 3).value, ws.cell(1, 2).value


def _duplicate(wb: Any) -> None:
    ws = wb["Annotations"]
    ws.append([c.value for c in ws[3]])


def _add_row(wb: Any) -> None:
    ws = wb["Submissions"]
    ws.append([999] + [c.value for c in ws[2]][1:])


def _extra_column(wb: Any) -> None:
    wb["Annotations"].cell(5, 30).value = "mine"


@pytest.mark.parametrize("edit, message", [
    (_rename, r"sheet 'Submissions' is missing \(sheets now: Annotations, Subs, "),
    (_move, r"Annotations!B1: expected column 'submission', found 'asset'"),
    (_duplicate, r"Annotations!A\d+: id 2 appears twice \(first in row 3\)"),
    (_add_row, r"Submissions!A\d+: id 999 is not in the store: rows cannot be added"),
    (_extra_column, r"Annotations!AD5: a cell outside the table's columns"),
])
def test_a_changed_structure_records_nothing(loaded: Project, tmp_path: Path, edit: Any,
                                             message: str) -> None:
    def with_a_good_edit_too(wb: Any) -> None:
        edit(wb)
        subs = wb["Submissions" if "Submissions" in wb.sheetnames else "Subs"]
        subs.cell(2, _col(subs, "requester_feedback")).value = "new feedback"

    path = _edited(_export(loaded, tmp_path), with_a_good_edit_too)
    before = _entries(loaded)
    with pytest.raises(InputError, match=message) as info:
        sheet.sheet_import(loaded, path)
    assert "nothing was recorded" in str(info.value)
    assert _entries(loaded) == before
    with loaded.store.read() as conn:
        feedback = conn.execute(select(submissions.c.requester_feedback)
                                .where(submissions.c.id == 1)).scalar()
    assert feedback != "new feedback"


def test_a_bad_category_and_a_stale_cell(loaded: Project, tmp_path: Path) -> None:
    path = _export(loaded, tmp_path)
    _edited(path, lambda wb: wb["Annotations"].cell(2, 8).__setattr__("value", "Wire"))
    with pytest.raises(InputError, match=r"Annotations!H2: 'Wire' is not a category of "
                                         r"taxonomy version 1"):
        sheet.sheet_import(loaded, path)
    # The store moved on after the export: the same cell edited there is a conflict.
    path = _export(loaded, tmp_path)
    with loaded.store.write() as conn:
        log = tracework.core.ledger.LedgerWriter(conn, "dave")
        conn.execute(update(annotations).where(annotations.c.id == 1).values(category="Cable"))
        log.append("annotation.category", "annotation:1", field="category", new="Cable")
        log.flush()
    _edited(path, lambda wb: wb["Annotations"].cell(2, 8).__setattr__("value", "Body"))
    with pytest.raises(ConflictError, match="Annotations!H2"):
        sheet.sheet_import(loaded, path)


FORMULAS = ['=HYPERLINK("http://x.invalid","click")', "+1+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=1+1", "\r=1+1"]


def test_formula_text_is_neutralised_in_workbook_and_csv(loaded: Project,
                                                         tmp_path: Path) -> None:
    with loaded.store.write() as conn:
        for i, evil in enumerate(FORMULAS, 1):
            conn.execute(update(submissions).where(submissions.c.id == i)
                         .values(requester_feedback=evil))
    path = _export(loaded, tmp_path)
    wb = openpyxl.load_workbook(path)
    sub = wb["Submissions"]
    fb_col = _col(sub, "requester_feedback")
    got = [(sub.cell(i + 1, fb_col).value, sub.cell(i + 1, fb_col).data_type)
           for i in range(1, len(FORMULAS) + 1)]
    assert got == [("'" + evil, "s") for evil in FORMULAS]
    assert sheet.sheet_import(loaded, path).ledger_entries == 0   # read back as stored
    out = tmp_path / "subs.csv"
    assert sheet.sheet_export_csv(loaded, "submissions", out) == 18
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    fb = rows[0].index("requester_feedback")
    assert [r[fb] for r in rows[1:len(FORMULAS) + 1]] == ["'" + evil for evil in FORMULAS]
    assert sheet.encode_text("'=x") == "''=x" and sheet.decode_text("''=x") == "'=x"
    assert sheet.decode_text(sheet.encode_text("'plain")) == "'plain"
    assert sheet.encode_text("plain = text") == "plain = text"


def test_a_noted_formula_is_neutral_in_the_notes_sheet(loaded: Project,
                                                       tmp_path: Path) -> None:
    notes.add(loaded, "annotation:1", "=1+1 is what I typed", concern="other")
    ws = openpyxl.load_workbook(_export(loaded, tmp_path))["Notes"]
    cell = ws.cell(2, _col(ws, "text"))
    assert (cell.value, cell.data_type) == ("'=1+1 is what I typed", "s")


def test_every_ledger_entry_and_note_is_in_the_workbook(loaded: Project,
                                                       tmp_path: Path) -> None:
    first = notes.add(loaded, "category:Body", "one part or two?", concern="taxonomy")
    notes.reply(loaded, first.id, "two", author="bob")
    out = tmp_path / "work.xlsx"
    report = sheet.sheet_export(loaded, out)
    check = tracework.verify(loaded)
    assert report.rows["Log"] == check.entries == report.ledger_entries
    assert report.rows["Notes"] == 2
    with loaded.store.read() as conn:
        counts = {t: conn.execute(select(func.count()).select_from(table)).scalar_one()
                  for t, table in (("Annotations", annotations), ("Submissions", submissions),
                                   ("Workers", workers))}
    assert {k: report.rows[k] for k in counts} == counts
    wb = openpyxl.load_workbook(out, read_only=True)
    log = list(wb["Log"].iter_rows(values_only=True))
    assert [r[0] for r in log[1:]] == list(range(1, check.entries + 1))
    assert log[-1][-1] == report.ledger_head
    notes_rows = list(wb["Notes"].iter_rows(values_only=True))
    assert [(r[0], r[3], r[6]) for r in notes_rows[1:]] == [
        (1, "one part or two?", None), (2, "two", 1)]
    wb.close()


@pytest.mark.parametrize("table", list(sheet.TABLES))
def test_csv_export_of_every_table(loaded: Project, tmp_path: Path, table: str) -> None:
    from tracework.core.safecsv import neutralise

    notes.add(loaded, "category:Body", "-is it one part?", concern="taxonomy")
    header, rows = sheet.table_rows(loaded, table)
    assert rows, f"the {table} table is empty in this fixture"
    out = tmp_path / f"{table}.csv"
    assert sheet.sheet_export_csv(loaded, table, out) == len(rows)
    with out.open(newline="", encoding="utf-8") as fh:
        got = list(csv.reader(fh))
    assert got[0] == header
    assert got[1:] == [[neutralise(v) for v in row] for row in rows]
    # The same header and keys as the workbook's sheet of that table.
    book = openpyxl.load_workbook(_export(loaded, tmp_path), read_only=True)
    try:    # a read-only workbook keeps its file open until closed
        sheet_rows = list(book[sheet.TABLES[table].title].iter_rows(values_only=True))
    finally:
        book.close()
    assert list(sheet_rows[0]) == header
    assert [str(r[0]) for r in sheet_rows[1:]] == [r[0] for r in got[1:]]


def test_csv_export_of_an_unknown_table_is_refused(loaded: Project, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown table 'vault'"):
        sheet.sheet_export_csv(loaded, "vault", tmp_path / "v.csv")
    assert not (tmp_path / "v.csv").exists()


def test_workers_sheet_has_pseudonyms_and_published_answers_only(loaded: Project,
                                                                 tmp_path: Path) -> None:
    header, rows = sheet.table_rows(loaded, "workers")
    with loaded.store.read() as conn:
        publishing = {w for (w,) in conn.execute(select(workers.c.pseudonym)
                                                 .where(workers.c.consent_publish.is_(True)))}
    answers_at = [i for i, h in enumerate(header) if h.startswith("answer:")]
    assert answers_at and publishing
    for row in rows:
        assert row[0].startswith("w_")
        has_answers = any(row[i] not in (None, "") for i in answers_at)
        assert has_answers == (row[0] in publishing)
    raw = set(json_raw_ids(loaded))
    text = _export(loaded, tmp_path).read_bytes()
    import zipfile
    with zipfile.ZipFile(tmp_path / "work.xlsx") as z:
        body = b"".join(z.read(n) for n in z.namelist())
    assert text and not any(r.encode() in body for r in raw)


def json_raw_ids(project: Project) -> list[str]:
    from tracework.core.store.schema import vault

    with project.store.read() as conn:
        return [r for (r,) in conn.execute(select(vault.c.platform_worker_id))]


def test_cli_sheet_and_csv(loaded: Project, tmp_path: Path) -> None:
    runner = CliRunner()
    root = str(loaded.root)
    if not loaded.store.is_sqlite:
        pytest.skip("the CLI is exercised on SQLite; the library paths run on both")
    out = runner.invoke(cli, ["-p", root, "sheet", "export", str(tmp_path / "w.xlsx")],
                        catch_exceptions=False)
    assert out.exit_code == 0 and "Annotations" in out.output
    out = runner.invoke(cli, ["-p", root, "sheet", "import", str(tmp_path / "w.xlsx"),
                              "--actor", "alice"], catch_exceptions=False)
    assert out.exit_code == 0 and "0 ledger entries (nothing changed)" in out.output
    out = runner.invoke(cli, ["-p", root, "sheet", "export", "--csv", "log",
                              str(tmp_path / "log.csv")], catch_exceptions=False)
    assert out.exit_code == 0
    with (tmp_path / "log.csv").open(newline="", encoding="utf-8") as fh:
        assert len(list(csv.reader(fh))) == 1 + _entries(loaded)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    out = runner.invoke(cli, ["-p", root, "sheet", "import", str(bad)], catch_exceptions=False)
    assert out.exit_code == 4 and "cannot read the workbook" in out.output


def test_libreoffice_opens_the_workbook_with_colours_and_comments(sqlite_project: Project,
                                                                  files: Any,
                                                                  tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install -y "
                    "--no-install-recommends libreoffice-calc-nogui")
    p = sqlite_project
    tracework.ingest_mturk(p, files.batch_csv)
    notes.add(p, "cell:annotations:3:category", "looks like the cable", concern="data_quality")
    notes.add(p, "category:Body", "=one part or two?", concern="taxonomy")
    path = _export(p, tmp_path)
    profile = f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}"
    for fmt, outdir in (("pdf", "pdf"), ("xlsx", "lo")):
        done = subprocess.run([soffice, profile, "--headless", "--convert-to", fmt, "--outdir",
                               str(tmp_path / outdir), str(path)], capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / outdir / f"work.{fmt}").stat().st_size > 1000
    wb = openpyxl.load_workbook(tmp_path / "lo" / "work.xlsx")
    ann, tax = wb["Annotations"], wb["Taxonomy"]
    cell = ann.cell(4, _col(ann, "category"))
    assert cell.fill.fgColor.rgb.upper().endswith(DEFAULT_CONCERNS["data_quality"][1:].upper())
    assert cell.comment is not None and "looks like the cable" in cell.comment.text
    body = tax.cell(2, 1)
    assert body.value == "Body" and body.comment is not None
    assert "=one part or two?" in body.comment.text
    # The workbook LibreOffice saved still imports, and records nothing.
    assert sheet.sheet_import(p, tmp_path / "lo" / "work.xlsx").ledger_entries == 0


def _split_notes(project: Project, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """25 notes, and worksheets lowered to 10 rows (a header and 9)."""
    from tracework.fieldnotes import xlsx

    ids = [notes.add(project, "category:Body", f"=note {n}", concern="taxonomy").id
           for n in range(25)]
    monkeypatch.setattr(xlsx, "MAX_ROWS", 10)
    return ids


def test_a_table_longer_than_a_worksheet_continues_on_further_sheets(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _split_notes(project, monkeypatch)
    out = tmp_path / "split.xlsx"
    result = CliRunner().invoke(cli, ["-p", str(project.root), "sheet", "export", str(out)],
                                env={"TRACEWORK_DATABASE_URL": project.settings["database_url"]},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("the Notes table (25 rows) was split over 3 sheets, each with its header: Notes, "
            "Notes (2), Notes (3) (a worksheet holds at most 10 rows)") in result.output
    entries = _entries(project)
    log_sheets = -(-entries // 9)
    assert f"the Log table ({entries} rows) was split over {log_sheets} sheets" in result.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Annotations", "Submissions", "Workers", "Taxonomy", "Notes",
                             "Notes (2)", "Notes (3)", "Log",
                             *(f"Log ({n})" for n in range(2, log_sheets + 1)), "_tracework"]
    header = [c.value for c in wb["Notes"][1]]
    parts = [wb[t] for t in ("Notes", "Notes (2)", "Notes (3)")]
    assert [ws.max_row for ws in parts] == [10, 10, 8]
    assert all([c.value for c in ws[1]] == header for ws in parts)
    assert all(ws.freeze_panes == "B2" for ws in parts)
    found = [row[0] for ws in parts for row in ws.iter_rows(min_row=2, values_only=True)]
    assert found == ids
    texts = [row[header.index("text")] for ws in parts
             for row in ws.iter_rows(min_row=2, values_only=True)]
    assert texts == [f"'=note {n}" for n in range(25)]
    logged = [row[0] for t in wb.sheetnames if t == "Log" or t.startswith("Log (")
              for row in wb[t].iter_rows(min_row=2, values_only=True)]
    assert logged == list(range(1, entries + 1))
    report = sheet.sheet_export(project, tmp_path / "again.xlsx")
    assert report.split["Notes"] == ["Notes", "Notes (2)", "Notes (3)"]
    assert (report.rows["Notes"], report.rows["Log"], report.max_rows) == (25, entries, 10)
    # The workbook read back takes in the further sheets too, and records nothing.
    assert sheet.sheet_import(project, out).ledger_entries == 0


def test_edits_on_a_further_sheet_are_taken_in_and_refused_naming_it(
        loaded: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracework.fieldnotes import xlsx

    monkeypatch.setattr(xlsx, "MAX_ROWS", 10)
    path = _export(loaded, tmp_path)
    wb = openpyxl.load_workbook(path)
    assert "Annotations (2)" in wb.sheetnames and "Log (2)" in wb.sheetnames
    ann = wb["Annotations (2)"]
    cat = _col(ann, "category")
    annotation_id = ann.cell(3, 1).value
    assert annotation_id == 11                        # 9 on the first sheet, then 10, 11
    new = _other_category(ann.cell(3, cat).value)
    ann.cell(3, cat).value = new
    wb["Notes"].append([None, "category:Body", "taxonomy", "one more", "carol"])
    wb.save(path)
    report = sheet.sheet_import(loaded, path)
    assert [(c["cell"], c["target"], c["new"]) for c in report.changes] == [
        (f"Annotations (2)!{_letter(ann, 'category')}3", "annotation:11", new)]
    assert len(report.notes_added) == 1
    # A read-only edit on a further sheet is refused naming that sheet; a row copied from
    # one sheet to another is a duplicate.
    path = _export(loaded, tmp_path)
    wb = openpyxl.load_workbook(path)
    wb["Log (2)"].cell(2, 4).value = "forged"
    wb.save(path)
    with pytest.raises(InputError, match=r"Log \(2\)!D2 \(action: "):
        sheet.sheet_import(loaded, path)
    path = _export(loaded, tmp_path)
    wb = openpyxl.load_workbook(path)
    wb["Annotations (3)"].append([c.value for c in wb["Annotations"][2]])
    wb.save(path)
    with pytest.raises(InputError, match=r"Annotations \(3\)!A\d+: id 1 appears twice "
                                         r"\(first in row 2\)"):
        sheet.sheet_import(loaded, path)


def test_libreoffice_reads_every_sheet_of_a_split_table(
        sqlite_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install -y "
                    "--no-install-recommends libreoffice-calc-nogui")
    ids = _split_notes(sqlite_project, monkeypatch)
    path = tmp_path / "split.xlsx"
    sheet.sheet_export(sqlite_project, path)
    profile = f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}"
    # The CSV filter's last token -1 writes every sheet, as split-SHEET.csv.
    done = subprocess.run([soffice, profile, "--headless", "--convert-to",
                           "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,"
                           "false,false,-1", "--outdir", str(tmp_path / "csv"), str(path)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    found: list[int] = []
    for title in ("Notes", "Notes (2)", "Notes (3)"):
        with (tmp_path / "csv" / f"split-{title}.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[0][:4] == ["id", "target", "concern", "text"]
        found += [int(r[0]) for r in rows[1:]]
    assert found == ids

"""Keyed cell-level diffs of tables and of the ledger, with hand-computed answers."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

import tracework
from builders import small_files, write_rows
from tracework.cli import cli
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.fieldnotes import diff, notes, sheet, taxonomy
from tracework.fieldnotes.diff import CellChange

HEADER = ["id", "category", "area", "note"]


def _tables(tmp_path: Path) -> tuple[Path, Path]:
    a = write_rows(tmp_path / "a.csv", HEADER, [
        ["1", "Body", "10", ""], ["2", "Cable", "5", "x"], ["3", "Body", "7", "y"],
        ["4", "Wheel", "1", ""]])
    # Shuffled: 4 removed, 5 added, 1 and 3 changed, 2 unchanged.
    b = write_rows(tmp_path / "b.csv", HEADER, [
        ["3", "Cable", "7", ""], ["5", "Body", "2", ""], ["2", "Cable", "5", "x"],
        ["1", "Body", "10.0", ""]])
    return a, b


def test_keyed_cell_diff_of_csv(tmp_path: Path) -> None:
    a, b = _tables(tmp_path)
    result = diff.diff_files(a, b)
    assert result.key == "id"
    assert result.added == ["5"] and result.removed == ["4"]
    # In the order of B's rows, then of its columns; text compared exactly ("10" ≠ "10.0").
    assert result.changed == [CellChange("3", "category", "Body", "Cable"),
                              CellChange("3", "note", "y", None),
                              CellChange("1", "area", "10", "10.0")]
    assert diff.diff_files(a, a).empty


def test_columns_added_and_removed_and_key_choice(tmp_path: Path) -> None:
    a = write_rows(tmp_path / "a.csv", ["k", "x", "y"], [["a", "1", "2"], ["b", "3", "4"]])
    b = write_rows(tmp_path / "b.csv", ["x", "k", "z"], [["1", "a", "9"], ["5", "b", "9"]])
    result = diff.diff_files(a, b, key="k")
    assert (result.columns_added, result.columns_removed) == (["z"], ["y"])
    assert result.changed == [CellChange("b", "x", "3", "5")]


def test_duplicate_or_missing_keys_are_errors(tmp_path: Path) -> None:
    b, _ = _tables(tmp_path)
    a = write_rows(tmp_path / "dupkey.csv", HEADER, [["1", "Body", "1", ""], ["1", "Cable", "2", ""]])
    with pytest.raises(InputError, match="key '1' appears more than once"):
        diff.diff_files(a, b)
    with pytest.raises(InputError, match="no key column 'nope'"):
        diff.diff_files(b, b, key="nope")
    dup = write_rows(tmp_path / "dup.csv", ["id", "id"], [["1", "2"]])
    with pytest.raises(InputError):
        diff.diff_files(dup, dup)


def test_diff_of_two_workbooks(tmp_path: Path) -> None:
    paths = []
    for name, rows in (("a", [[1, "Body"], [2, "Cable"]]), ("b", [[2, "Wheel"], [3, "Body"]])):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Annotations"
        ws.append(["id", "category"])
        for r in rows:
            ws.append(r)
        wb.save(tmp_path / f"{name}.xlsx")
        paths.append(tmp_path / f"{name}.xlsx")
    result = diff.diff_files(*paths, sheet="annotations")
    assert (result.added, result.removed) == (["3"], ["1"])
    assert result.changed == [CellChange("2", "category", "Cable", "Wheel")]
    with pytest.raises(InputError, match="--sheet"):
        diff.diff_files(*paths)


def test_ledger_diff(project: Project) -> None:
    start = 1                                           # init wrote entry 1
    note = notes.add(project, "category:Body", "two parts?", concern="taxonomy")   # 2
    notes.resolve(project, note.id, reason="a")         # 3: open → resolved
    notes.resolve(project, note.id, state="open", reason="b")   # 4: back to open
    taxonomy.redefine(project, "Body", colour="#000000", reason="c")  # 5
    result = diff.diff_ledger(project, start, 5)
    # The note's state ended where it began; the note and the new version show.
    assert result.changed == [
        CellChange("category:Body", "note:1", None,
                   '{"concern":"taxonomy","note":1,"reply_to":null,"text":"two parts?"}'),
        CellChange("taxonomy:2", "redefine", None, result.changed[1].new)]
    assert result.added == []
    assert diff.diff_ledger(project, 2, 3).changed == [
        CellChange("note:1", "state", "open", "resolved")]
    with pytest.raises(InputError):
        diff.diff_ledger(project, 3, 99)


def test_cli_diff_prints_and_writes_csv(tmp_path: Path) -> None:
    a, b = _tables(tmp_path)
    out = CliRunner().invoke(cli, ["diff", str(a), str(b), "--csv", str(tmp_path / "d.csv")],
                             catch_exceptions=False)
    assert out.exit_code == 0
    assert out.output.splitlines() == [
        "1 row(s) added, 1 removed, 3 cell(s) changed (key id)",
        "+ 5", "- 4", "~ 3  category: 'Body' → 'Cable'", "~ 3  note: 'y' → ∅",
        "~ 1  area: '10' → '10.0'"]
    with (tmp_path / "d.csv").open(newline="", encoding="utf-8") as fh:
        rows: list[Any] = list(csv.reader(fh))
    assert rows[0] == ["change", "key", "column", "old", "new"]
    assert rows[1:4] == [["added", "5", "", "", ""], ["removed", "4", "", "", ""],
                         ["changed", "3", "category", "Body", "Cable"]]
    assert len(rows) == 6


def test_diff_of_two_exported_workbooks(sqlite_project: Project, tmp_path: Path) -> None:
    p = sqlite_project
    tracework.ingest_mturk(p, small_files(tmp_path / "demo").batch_csv)
    sheet.sheet_export(p, tmp_path / "monday.xlsx")
    seq = tracework.verify(p).entries
    wb = openpyxl.load_workbook(tmp_path / "monday.xlsx")
    ann = wb["Annotations"]
    col = [c.value for c in ann[1]].index("category") + 1
    old = ann.cell(3, col).value
    new = "Cable" if old != "Cable" else "Body"
    ann.cell(3, col).value = new                          # annotation 2
    wb.save(tmp_path / "edited.xlsx")
    assert sheet.sheet_import(p, tmp_path / "edited.xlsx", actor="alice").ledger_entries == 1
    sheet.sheet_export(p, tmp_path / "friday.xlsx")
    result = diff.diff_files(tmp_path / "monday.xlsx", tmp_path / "friday.xlsx",
                             sheet="annotations")
    assert (result.key, result.added, result.removed) == ("id", [], [])
    assert result.changed == [CellChange("2", "category", old, new)]
    log = diff.diff_files(tmp_path / "monday.xlsx", tmp_path / "friday.xlsx", sheet="log")
    assert (log.added, log.removed, log.changed) == ([str(seq + 1)], [], [])
    # The same change read from the ledger between the two exports.
    runner = CliRunner()
    out = runner.invoke(cli, ["-p", str(p.root), "diff", "--ledger", str(seq), str(seq + 1),
                              "--csv", str(tmp_path / "ledger.csv")], catch_exceptions=False)
    assert out.exit_code == 0
    assert out.output.splitlines() == [
        "0 row(s) added, 0 removed, 1 cell(s) changed (key target)",
        f"~ annotation:2  category: {old!r} → {new!r}"]
    with (tmp_path / "ledger.csv").open(newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["change", "key", "column", "old", "new"],
                                        ["changed", "annotation:2", "category", old, new]]
    out = runner.invoke(cli, ["-p", str(p.root), "diff", "--ledger", "a", "b"],
                        catch_exceptions=False)
    assert out.exit_code != 0 and "ledger positions" in out.output

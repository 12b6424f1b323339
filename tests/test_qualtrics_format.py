"""Qualtrics exports: header rows, value modes, question grouping, previews and bad files."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracework.core.errors import InputError
from tracework.formats.qualtrics import Answer, read_survey

DATA = Path(__file__).parent / "data" / "formats"
CHOICE_TEXT = str(DATA / "qualtrics_choice_text.csv")
NUMERIC = str(DATA / "qualtrics_numeric.csv")
CANARY = "A3CANARYW0RKER7Q"
Q9 = "Do you suffer from any work-related health issues? (several allowed)"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def imp(import_id: str, **more: str) -> str:
    return json.dumps({"ImportId": import_id, **more}, separators=(",", ":"))


# Columns of a small export: (id, label, row-3 cell).
BASIC = [
    ("StartDate", "Start Date", imp("startDate", timeZone="UTC")),
    ("Status", "Response Type", imp("status")),
    ("Finished", "Finished", imp("finished")),
    ("ResponseId", "Response ID", imp("_recordId")),
    ("IPAddress", "IP Address", imp("ipAddress")),
    ("Q2", "What is your gender?", imp("QID2")),
    ("Q9", f"{Q9} - Selected Choice", imp("QID9")),
    ("Q9_9_TEXT", f"{Q9} - Other - Text", imp("QID9_9_TEXT")),
    ("workerId", "workerId", imp("workerId")),
]


def row(**cells: str) -> dict[str, str]:
    return {"StartDate": "2025-03-09 10:05:01", "Status": "IP Address", "Finished": "True",
            "ResponseId": "R_1", "IPAddress": "203.0.113.7", "Q2": "Female",
            "workerId": CANARY, **cells}


def write_survey(path: Path, rows: list[dict[str, str]], columns: list[tuple[str, str, str]]
                 = BASIC, *, header_rows: int = 3, encoding: str = "utf-8",
                 delimiter: str = ",") -> str:
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, delimiter=delimiter)
        for i in range(header_rows):
            writer.writerow([c[i] for c in columns])
        for r in rows:
            writer.writerow([r.get(c[0], "") for c in columns])
    return str(path)


def responses(path: str, worker_column: str | None = "workerId", **kwargs: object) -> list:
    with read_survey(path, worker_column=worker_column, **kwargs) as survey:  # type: ignore
        return list(survey)


def failure(path: str, worker_column: str | None = "workerId", **kwargs: object) -> InputError:
    with pytest.raises(InputError) as info:
        responses(path, worker_column, **kwargs)
    err = info.value
    for text in (str(err), err.hint or ""):
        assert CANARY not in text, "a raw worker id leaked into an error message"
    assert path in str(err)
    return err


# -- realistic files ---------------------------------------------------------------------------

def test_choice_text_export() -> None:
    with read_survey(CHOICE_TEXT, worker_column="workerId") as survey:
        assert survey.value_mode == "text"
        assert survey.sha256 == hashlib.sha256(Path(CHOICE_TEXT).read_bytes()).hexdigest()
        assert survey.columns[0].import_meta == {"ImportId": "startDate",
                                                 "timeZone": "America/Denver"}
        assert survey.columns[-1].id == "workerId"  # the nameless trailing column is dropped
        q9 = survey.questions["Q9"]
        assert q9.kind == "multi" and q9.label == Q9 and q9.import_id == "QID9"
        assert q9.columns == (*(f"Q9_{i}" for i in range(1, 10)), "Q9_9_TEXT")
        assert [q.kind for q in survey.questions.values()] == [
            "single", "single", "single", "text", "multi", "text"]
        first, preview, partial = list(survey)
    assert (first.row, first.line, first.response_id) == (1, 4, "R_1FakeResp0001aa")
    assert first.worker_key == "A1FAKEWORKER001" and not first.is_preview
    assert first.finished is True and first.progress == 100 and first.duration_s == 463
    assert first.start == utc(2025, 3, 9, 16, 5, 1)           # America/Denver, MST = UTC-7
    assert first.language == "EN"
    assert first.answers["Q9"] == Answer("Q9", ("Neck pain", "Eye strain", "Other"), "Tinnitus")
    assert first.answers["Q10"] == Answer("Q10", "$1,200 laptop", None)
    assert first.answers["Q4"].value == "CHICAGO"
    assert first.identifying == {"IPAddress": "203.0.113.7", "LocationLatitude": "41.8781",
                                 "LocationLongitude": "-87.6298"}
    for key in ("IPAddress", "LocationLatitude", "ResponseId", "StartDate", "Status"):
        assert key not in first.values
    assert first.values["Q9_DO"] == "1|2|3|4|5|6|7|8|9" and "Q9_DO" not in first.answers
    assert first.values["workerId"] == "A1FAKEWORKER001"
    assert preview.is_preview and preview.status == "Survey Preview"
    assert partial.finished is False and partial.progress == 40
    assert partial.start == utc(2025, 7, 2, 5, 30)             # MDT = UTC-6
    assert partial.answers["Q1"] == Answer("Q1", "Exact age (optional)", "29")
    assert partial.answers["Q9"] == Answer("Q9", None, None)
    assert partial.answers["Q10"].value is None


def test_numeric_export_names_breakout_choices_from_the_labels() -> None:
    with read_survey(NUMERIC, worker_column="workerId") as survey:
        assert survey.value_mode == "numeric"
        assert survey.questions["Q9"].kind == "multi"  # legacy QID9_1 ImportIds
        first, preview, partial = list(survey)
    assert first.status == "0" and first.finished is True and not first.is_preview
    assert first.answers["Q9"] == Answer("Q9", ("Neck pain", "Eye strain", "Other"), "Tinnitus")
    assert first.answers["Q2"].value == "2"  # a recode value: the header has no code list
    assert preview.status == "1" and preview.is_preview
    assert partial.finished is False
    assert partial.answers["Q9"].value is None  # every choice 0: nothing selected


def test_utf16_tab_separated_export(tmp_path: Path) -> None:
    with open(NUMERIC, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    out = tmp_path / "export.tsv"
    with open(out, "w", newline="", encoding="utf-16") as f:
        csv.writer(f, delimiter="\t").writerows(rows)
    got = responses(str(out))
    assert [r.response_id for r in got] == [r.response_id for r in responses(NUMERIC)]
    assert got[0].answers["Q9"].value == ("Neck pain", "Eye strain", "Other")


# -- grouping and modes ------------------------------------------------------------------------

def test_comma_joined_multi_select(tmp_path: Path) -> None:
    path = write_survey(tmp_path / "s.csv", [row(Q9="Neck pain,Eye strain,Other",
                                                 Q9_9_TEXT="Tinnitus")])
    with read_survey(path, worker_column="workerId", multi_select=["Q9"]) as survey:
        assert survey.questions["Q9"].kind == "multi"
        (r,) = list(survey)
    assert r.answers["Q9"] == Answer("Q9", ("Neck pain", "Eye strain", "Other"), "Tinnitus")


def test_without_multi_select_the_joined_cell_stays_one_value(tmp_path: Path) -> None:
    (r,) = responses(write_survey(tmp_path / "s.csv", [row(Q9="Neck pain,Eye strain")]))
    assert r.answers["Q9"].value == "Neck pain,Eye strain"


def test_choice_id_breakouts_in_numeric_mode(tmp_path: Path) -> None:
    columns = [*BASIC[:5],
               ("Q3_1", f"{Q9} - Neck pain", imp("QID3", choiceId="1")),
               ("Q3_2", f"{Q9} - Lower back pain", imp("QID3", choiceId="2")),
               ("Q3_4", f"{Q9} - Eye strain", imp("QID3", choiceId="4")),
               ("Q3_4_TEXT", f"{Q9} - Eye strain - Text", imp("QID3_4_TEXT")),
               ("Q3_FIRST_CLICK", "Timing - First Click", imp("QID3_FIRST_CLICK"))]
    path = write_survey(tmp_path / "s.csv", [row(Status="0", Finished="1", Q3_1="1",
                                                 Q3_2="0", Q3_4="1", Q3_4_TEXT="mostly")],
                        columns)
    with read_survey(path, worker_column=None) as survey:
        assert survey.value_mode == "numeric"
        assert list(survey.questions) == ["Q3"]
        (r,) = list(survey)
    assert r.answers["Q3"] == Answer("Q3", ("Neck pain", "Eye strain"), "mostly")
    assert r.values["Q3_FIRST_CLICK"] == "" and r.worker_key is None


def test_preview_by_distribution_channel(tmp_path: Path) -> None:
    columns = [*BASIC, ("DistributionChannel", "Distribution Channel",
                        imp("distributionChannel"))]
    path = write_survey(tmp_path / "s.csv", [row(), row(ResponseId="R_2",
                                                        DistributionChannel="preview")], columns)
    assert [r.is_preview for r in responses(path)] == [False, True]


def test_unknown_status_codes_are_kept(tmp_path: Path) -> None:
    (r,) = responses(write_survey(tmp_path / "s.csv", [row(Status="Spam")]))
    assert r.status == "Spam" and not r.is_preview


def test_single_quoted_legacy_import_ids(tmp_path: Path) -> None:
    columns = [(c[0], c[1], c[2].replace('"', "'").replace(":", ": ")) for c in BASIC]
    (r,) = responses(write_survey(tmp_path / "s.csv", [row()], columns))
    assert r.response_id == "R_1" and r.answers["Q2"].value == "Female"


def test_value_mode_unknown_without_status_or_finished(tmp_path: Path) -> None:
    columns = [c for c in BASIC if c[0] not in ("Status", "Finished")]
    with read_survey(write_survey(tmp_path / "s.csv", [row()], columns),
                     worker_column=None) as survey:
        assert survey.value_mode == "unknown"


# -- header problems ---------------------------------------------------------------------------

def test_lost_header_rows_2_and_3(tmp_path: Path) -> None:
    path = write_survey(tmp_path / "s.csv", [row(), row(ResponseId="R_2"), row(ResponseId="R_3")],
                        header_rows=1)
    err = failure(path)
    assert "missing" in str(err) and "header rows" in str(err)
    assert err.hint is not None and "Export" in err.hint


def test_lost_header_rows_with_a_single_response(tmp_path: Path) -> None:
    err = failure(write_survey(tmp_path / "s.csv", [row()], header_rows=1))
    assert "header rows 2 and 3" in str(err)


def test_lost_import_id_row(tmp_path: Path) -> None:
    err = failure(write_survey(tmp_path / "s.csv", [row(), row(ResponseId="R_2")],
                               header_rows=2))
    assert "third header row" in str(err) and "ImportId" in str(err)


def test_legacy_two_header_row_export(tmp_path: Path) -> None:
    columns = [("V1", "ResponseID", ""), ("V2", "ResponseSet", ""), ("V3", "Name", ""),
               ("Q1", "What's your age?", "")]
    path = write_survey(tmp_path / "s.csv", [{"V1": "R_1", "V2": "Default", "Q1": "2"}],
                        columns, header_rows=2)
    err = failure(path, worker_column=None)
    assert "legacy" in str(err) and err.hint is not None


def test_partly_broken_import_id_row_names_the_columns(tmp_path: Path) -> None:
    columns = [*BASIC[:-1], ("Q5", "Why?", "Q5 text")]
    err = failure(write_survey(tmp_path / "s.csv", [row()], columns))
    assert err.field == "Q5" and "'Q5'" in str(err)


def test_header_only_export_has_no_rows(tmp_path: Path) -> None:
    assert "no rows" in str(failure(write_survey(tmp_path / "s.csv", [])))


def test_missing_worker_column_lists_the_other_columns(tmp_path: Path) -> None:
    err = failure(write_survey(tmp_path / "s.csv", [row()]), worker_column="PROLIFIC_PID")
    assert "'PROLIFIC_PID'" in str(err) and err.field == "PROLIFIC_PID"
    listed = str(err).split("columns other than questions are:")[1]
    assert "workerId" in listed and "ResponseId" in listed
    assert "Q2" not in listed and "Q9" not in listed


def test_multi_select_column_must_exist(tmp_path: Path) -> None:
    err = failure(write_survey(tmp_path / "s.csv", [row()]), multi_select=["Q99"])
    assert "'Q99'" in str(err)


def test_unknown_time_zone_in_the_header(tmp_path: Path) -> None:
    columns = [("StartDate", "Start Date", imp("startDate", timeZone="Mars/Olympus")),
               *BASIC[1:]]
    err = failure(write_survey(tmp_path / "s.csv", [row()], columns))
    assert err.field == "StartDate" and "Mars/Olympus" in str(err)


def test_missing_response_id_column(tmp_path: Path) -> None:
    columns = [c for c in BASIC if c[0] != "ResponseId"]
    assert "ResponseId" in str(failure(write_survey(tmp_path / "s.csv", [row()], columns)))


# -- row problems ------------------------------------------------------------------------------

def test_duplicate_response_ids_name_both_rows(tmp_path: Path) -> None:
    path = write_survey(tmp_path / "s.csv", [row(), row(ResponseId="R_2"), row()])
    err = failure(path)
    assert err.row == 3 and "row 1" in str(err) and err.field == "ResponseId"


@pytest.mark.parametrize(("cells", "field", "message"), [
    ({"StartDate": "09/03/2025 10:05"}, "StartDate", "not a date"),
    ({"StartDate": f"{CANARY}"}, "StartDate", "<worker id>"),
    ({"ResponseId": ""}, "ResponseId", "empty"),
])
def test_bad_cells_name_row_and_field(tmp_path: Path, cells: dict[str, str], field: str,
                                      message: str) -> None:
    err = failure(write_survey(tmp_path / "s.csv", [row(ResponseId="R_0"), row(**cells)]))
    assert err.row == 2 and "row 2" in str(err)
    assert err.field == field and repr(field) in str(err) and message in str(err)


def test_bad_progress(tmp_path: Path) -> None:
    columns = [*BASIC, ("Progress", "Progress", imp("progress"))]
    err = failure(write_survey(tmp_path / "s.csv", [row(Progress="most")], columns))
    assert err.row == 1 and err.field == "Progress"


def test_data_in_the_nameless_last_column_is_an_error(tmp_path: Path) -> None:
    columns = [*BASIC, ("", "", "")]
    err = failure(write_survey(tmp_path / "s.csv", [row(**{"": "stray"})], columns))
    assert err.row == 1 and "nameless" in str(err)


def test_ragged_row(tmp_path: Path) -> None:
    path = write_survey(tmp_path / "s.csv", [row()])
    Path(path).write_text(Path(path).read_text(encoding="utf-8") + '"a","b"\r\n',
                          encoding="utf-8")
    err = failure(path)
    assert err.row == 2 and "2 cells" in str(err)


def test_cp1252_export(tmp_path: Path) -> None:
    path = write_survey(tmp_path / "s.csv", [row(Q2="Homme, né")])
    Path(path).write_bytes(Path(path).read_text(encoding="utf-8").encode("cp1252"))
    err = failure(path)
    assert err.row == 1 and "UTF-8" in str(err)


def test_the_worker_key_is_not_in_the_repr(tmp_path: Path) -> None:
    (r,) = responses(write_survey(tmp_path / "s.csv", [row()]))
    assert r.worker_key == CANARY and CANARY not in repr(r)

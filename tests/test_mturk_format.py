"""Mechanical Turk batch results: both answer layouts, every element kind, and bad files."""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracework.core.errors import InputError
from tracework.formats import mturk
from tracework.formats.mturk import (
    ApprovalRate,
    BoundingBoxes,
    Box,
    Choice,
    FormField,
    MultiChoice,
    Segmentation,
    content_fields,
    read_batch,
)

DATA = Path(__file__).parent / "data" / "formats"
# A worker id that must never show up in an error message.
CANARY = "A3CANARYW0RKER7Q"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGOQL9/yHwAETQJKE0On6gAAAABJRU5Er"
       "kJggg==")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fixed_cells(**over: str) -> dict[str, str]:
    cells = dict.fromkeys(mturk.FIXED_COLUMNS, "")
    cells.update({
        "HITId": "3HITFAKE000000000000000000001", "HITTypeId": "3TYPEFAKE0000000000000000001",
        "Title": "Segment the mouse", "Description": "Colour each part", "Keywords": "image",
        "Reward": "$0.15", "CreationTime": "Mon Mar 06 08:59:21 PST 2023",
        "MaxAssignments": "3", "RequesterAnnotation": "BatchId:5123456;OriginalHitTemplateId:1;",
        "AssignmentDurationInSeconds": "600", "AutoApprovalDelayInSeconds": "259200",
        "Expiration": "Mon Mar 13 08:59:21 PDT 2023", "LifetimeInSeconds": "604800",
        "AssignmentId": "3ASSIGNFAKE00000000000000001", "WorkerId": CANARY,
        "AssignmentStatus": "Submitted", "AcceptTime": "Thu Mar 09 09:05:01 PST 2023",
        "SubmitTime": "Thu Mar 09 09:10:02 PST 2023", "WorkTimeInSeconds": "301",
        "LifetimeApprovalRate": "100% (25/25)",
    })
    cells.update(over)
    return cells


def write_batch(path: Path, answers: dict[str, str], *, inputs: dict[str, str] | None = None,
                rows: list[dict[str, str]] | None = None, columns: list[str] | None = None,
                **over: str) -> str:
    """A batch file as MTurk writes it: every cell quoted, fixed columns, inputs, answers."""
    inputs = {"Input.image_url": "https://example.org/mouse_0001_out.jpeg"} if inputs is None \
        else inputs
    row = {**fixed_cells(**over), **inputs, **answers, "Approve": "", "Reject": ""}
    header = columns or [*mturk.FIXED_COLUMNS, *inputs, *answers, "Approve", "Reject"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for r in rows if rows is not None else [row]:
            writer.writerow([r.get(h, "") for h in header])
    return str(path)


def assignments(path: str, **kwargs: int) -> list[mturk.Assignment]:
    with read_batch(path, **kwargs) as batch:
        return list(batch)


def only(path: str) -> mturk.Assignment:
    (a,) = assignments(path)
    return a


def failure(path: str, **kwargs: int) -> InputError:
    with pytest.raises(InputError) as info:
        assignments(path, **kwargs)
    err = info.value
    for text in (str(err), err.hint or ""):
        assert CANARY not in text, "a raw worker id leaked into an error message"
    assert path in str(err)
    return err


def task_answers(obj: object) -> dict[str, str]:
    return {"Answer.taskAnswers": json.dumps(obj)}


# -- realistic files ---------------------------------------------------------------------------

def test_dotted_segmentation_batch_as_in_the_study() -> None:
    path = str(DATA / "mturk_segmentation_dotted.csv")
    with read_batch(path) as batch:
        assert batch.layout == "dotted"
        assert batch.sha256 == hashlib.sha256(Path(path).read_bytes()).hexdigest()
        first, rejected, pending = list(batch)
    assert (first.row, first.line, first.status) == (1, 2, "Approved")
    assert first.worker_id == "A1FAKEWORKER001"
    assert first.reward_cents == 15 and first.batch_key == "BatchId:5123456"
    assert first.creation_time == utc(2023, 3, 6, 16, 59, 21)          # PST = UTC-8
    assert first.expiration == utc(2023, 3, 13, 15, 59, 21)            # PDT = UTC-7
    assert first.approval_time == utc(2023, 3, 10, 19, 0, 0)
    assert first.work_time_s == 301 and first.assignment_duration_s == 600
    assert first.lifetime_s is None and first.max_assignments == 1
    assert first.inputs == {"image_url": "https://example.org/frames/mouse_0001_out.jpeg"}
    assert first.approval_rates == {"lifetime": ApprovalRate(100.0, 25, 25),
                                    "last30": ApprovalRate(100.0, 3, 3),
                                    "last7": ApprovalRate(0.0, 0, 0)}
    (seg,) = first.elements
    assert isinstance(seg, Segmentation)
    assert seg.name == "annotatedResult" and (seg.width, seg.height) == (2880, 1920)
    assert seg.colours == {"Body": "#1f77b4", "Cable": "#2ca02c", "Left_Button": "#d62728"}
    assert seg.png_base64 == PNG
    assert rejected.status == "Rejected" and rejected.rejection_time == utc(2023, 3, 10, 19, 1)
    assert rejected.requester_feedback == "Only 1 out 5 elements segmented"
    assert rejected.approval_rates == {"lifetime": ApprovalRate(98.0, None, None),
                                       "last30": None, "last7": None}
    assert pending.status == "Submitted" and pending.approve_mark == "X"
    assert pending.accept_time == utc(2012, 6, 8, 16, 16, 48)
    colours = pending.elements[0].colours  # type: ignore[union-attr]
    assert colours["Scroll_Wheel"] == "#ff7f0e" and len(colours) == 5  # upper case normalised


def test_task_answers_batch_with_boxes_classifiers_and_form_fields() -> None:
    path = str(DATA / "mturk_task_answers.csv")
    with read_batch(path) as batch:
        assert batch.layout == "taskAnswers"
        first, second = list(batch)
    assert first.reward_cents == 5 and first.batch_key == first.hit_type_id
    assert first.submit_time == utc(2023, 3, 7, 10, 7, 30)             # GMT
    assert first.creation_time == utc(2023, 3, 7, 10, 0, 0)             # UTC
    assert first.elements == (
        BoundingBoxes("annotatedResult", (Box("Body", 243, 117, 187, 401),
                                          Box("Cable", 0, 3, 90, 20.5)), 2880, 1920),
        Choice("category", "Mouse"),
        MultiChoice("tags", ("cable", "scroll wheel")),
        FormField("image_attributes", {"blurry": True, "dim": False}),
        FormField("comment", "I'm not sure if the wheel is one part or two."),
    )
    assert first.answer["annotatedResult"]["inputImageProperties"] == {"height": 1920,
                                                                        "width": 2880}
    assert second.elements == (
        BoundingBoxes("annotatedResult", (), 2880, 1920),
        Choice("category", "Not a mouse"),
        FormField("category.workerComment", "it is a trackpad"),
    )


# -- dotted layout -----------------------------------------------------------------------------

def test_label_names_may_contain_dots(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {
        "Answer.annotatedResult.labelMappings.Left.Button.color": "#D62728",
        "Answer.annotatedResult.labelMappings.v2.0.wheel.color": "#abc",
        "Answer.annotatedResult.labeledImage.pngImageData": PNG,
    })
    (seg,) = only(path).elements
    assert isinstance(seg, Segmentation)
    assert seg.colours == {"Left.Button": "#d62728", "v2.0.wheel": "#aabbcc"}
    assert (seg.width, seg.height) == (None, None)


def test_dotted_classifiers_checkboxes_and_boxes(tmp_path: Path) -> None:
    boxes = [{"height": 10, "label": "Body", "left": 1.5, "top": 2, "width": 3}]
    path = write_batch(tmp_path / "b.csv", {
        "Answer.annotatedResult.boundingBoxes": json.dumps(boxes),
        "Answer.annotatedResult.inputImageProperties.height": "1920",
        "Answer.annotatedResult.inputImageProperties.width": "2880",
        "Answer.category.label": "Mouse",
        "Answer.confidence.high.on": "true",
        "Answer.confidence.low.on": "false",
        "Answer.parts.labels": "['Body', 'Cable']",
        "Answer.rating.1": "false",
        "Answer.rating.3": "true",
        "Answer.tags.labels": '["a", "b"]',
    })
    a = only(path)
    assert a.elements == (
        BoundingBoxes("annotatedResult", (Box("Body", 1.5, 2, 3, 10),), 2880, 1920),
        Choice("category", "Mouse"),
        FormField("confidence", {"high": {"on": True}, "low": {"on": False}}),
        MultiChoice("parts", ("Body", "Cable")),
        FormField("rating", {"1": False, "3": True}),
        MultiChoice("tags", ("a", "b")),
    )


def test_answer_columns_are_found_by_name_in_any_order(tmp_path: Path) -> None:
    answers = {f"Answer.Choice{i}": f"v{i}" for i in (1, 10, 11, 2)}
    header = ["Reject", *answers, "WorkerId", "Approve", "AssignmentStatus", "HITId",
              "AssignmentId"]
    path = write_batch(tmp_path / "b.csv", answers, inputs={}, columns=header)
    a = only(path)
    assert a.hit_id == "3HITFAKE000000000000000000001" and a.status == "Submitted"
    assert a.answer == {"Choice1": "v1", "Choice10": "v10", "Choice11": "v11", "Choice2": "v2"}
    assert a.reward_cents is None and a.creation_time is None and a.title == ""


def test_plain_form_fields_stay_strings(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {"Answer.agree": "true", "Answer.city": "CHICAGO",
                                            "Answer.code": "END2025"})
    with read_batch(path) as batch:
        assert batch.layout == "plain"
        (a,) = list(batch)
    assert a.elements == (FormField("agree", "true"), FormField("city", "CHICAGO"),
                          FormField("code", "END2025"))


def test_empty_answer_cells_give_no_elements(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {
        "Answer.annotatedResult.labelMappings.Body.color": "",
        "Answer.annotatedResult.labeledImage.pngImageData": "",
        "Answer.category.label": "",
    })
    a = only(path)
    assert a.answer == {} and a.elements == ()


def test_empty_task_answers_cell_is_an_empty_answer(tmp_path: Path) -> None:
    a = only(write_batch(tmp_path / "b.csv", {"Answer.taskAnswers": ""}))
    assert a.answer == {} and a.elements == ()


def test_instance_segmentation_colours_are_accepted(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", task_answers([{"crowd": {
        "instances": [{"color": "#1F77B4", "label": "Body"},
                      {"color": "#2ca02c", "label": "Cable"}],
        "labeledImage": {"pngImageData": PNG},
        "inputImageProperties": {"height": 10, "width": 20}}}]))
    (seg,) = only(path).elements
    assert seg == Segmentation("crowd", PNG, {"Body": "#1f77b4", "Cable": "#2ca02c"}, 20, 10)


# -- other columns -----------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "cents"), [("$0.15", 15), ("0.15", 15), ("$1.5", 150),
                                             ("$2", 200), ("", None)])
def test_reward(tmp_path: Path, cell: str, cents: int | None) -> None:
    assert only(write_batch(tmp_path / "b.csv", {"Answer.q": "x"}, Reward=cell)).reward_cents \
        == cents


@pytest.mark.parametrize(("cell", "rate"), [
    ("100% (25/25)", ApprovalRate(100.0, 25, 25)), ("0% (0/0)", ApprovalRate(0.0, 0, 0)),
    ("98%", ApprovalRate(98.0, None, None)), ("97.5% (39/40)", ApprovalRate(97.5, 39, 40)),
    ("", None), ("unknown", None), ("100", None),
])
def test_approval_rates_are_read_tolerantly(tmp_path: Path, cell: str,
                                            rate: ApprovalRate | None) -> None:
    a = only(write_batch(tmp_path / "b.csv", {"Answer.q": "x"}, Last7DaysApprovalRate=cell))
    assert a.approval_rates["last7"] == rate


def test_iso_dates_with_an_offset_are_accepted(tmp_path: Path) -> None:
    a = only(write_batch(tmp_path / "b.csv", {"Answer.q": "x"},
                         AcceptTime="2023-03-09T17:05:01Z"))
    assert a.accept_time == utc(2023, 3, 9, 17, 5, 1)


def test_content_fields_leave_out_review_columns(tmp_path: Path) -> None:
    answers = {"Answer.q": "x"}
    before = only(write_batch(tmp_path / "a.csv", answers))
    after = only(write_batch(tmp_path / "b.csv", answers, AssignmentStatus="Approved",
                             ApprovalTime="Fri Mar 10 11:00:00 PST 2023",
                             LifetimeApprovalRate="99% (99/100)"))
    changed = only(write_batch(tmp_path / "c.csv", {"Answer.q": "y"}))
    assert content_fields(before) == content_fields(after) != content_fields(changed)
    assert not set(content_fields(before)) & mturk.REVIEW_COLUMNS
    assert mturk.REVIEW_COLUMNS == {
        "AssignmentStatus", "AutoApprovalTime", "ApprovalTime", "RejectionTime",
        "RequesterFeedback", "LifetimeApprovalRate", "Last30DaysApprovalRate",
        "Last7DaysApprovalRate", "Approve", "Reject"}


def test_the_worker_id_is_not_in_the_repr(tmp_path: Path) -> None:
    a = only(write_batch(tmp_path / "b.csv", {"Answer.q": "x"}))
    assert a.worker_id == CANARY and CANARY not in repr(a)


# -- encodings and file shapes through read_batch ----------------------------------------------

def test_utf8_bom_batch(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {"Answer.q": "x"})
    Path(path).write_bytes(b"\xef\xbb\xbf" + Path(path).read_bytes())
    assert only(path).worker_id == CANARY


def test_utf16_tab_separated_batch(tmp_path: Path) -> None:
    src = write_batch(tmp_path / "b.csv", {"Answer.q": "Zoë, yes"})
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    out = tmp_path / "b.tsv"
    with open(out, "w", newline="", encoding="utf-16") as f:
        csv.writer(f, delimiter="\t").writerows(rows)
    assert only(str(out)).answer == {"q": "Zoë, yes"}


def test_cp1252_batch_is_refused(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {"Answer.city": "Bogotá"})
    Path(path).write_bytes(Path(path).read_text(encoding="utf-8").encode("cp1252"))
    err = failure(path)
    assert err.row == 1 and "UTF-8" in str(err)


def test_ragged_batch_row(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {"Answer.q": "x"})
    Path(path).write_text(Path(path).read_text(encoding="utf-8") + '"only","three","cells"\n',
                          encoding="utf-8")
    err = failure(path)
    assert err.row == 2 and "3 cells" in str(err)


def test_mask_over_the_cap_names_the_setting(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {
        "Answer.annotatedResult.labeledImage.pngImageData": PNG * 100})
    err = failure(path, max_field_bytes=1000)
    assert err.row == 1 and "1,000" in str(err)
    assert err.hint is not None and "max_field_bytes" in err.hint


def test_duplicate_columns_are_refused(tmp_path: Path) -> None:
    header = [*mturk.FIXED_COLUMNS, "Answer.q", "Answer.q", "Approve", "Reject"]
    err = failure(write_batch(tmp_path / "b.csv", {"Answer.q": "x"}, columns=header))
    assert "'Answer.q'" in str(err) and "columns 28 and 29" in str(err)


def test_all_missing_required_columns_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text('"HITId","Title"\n"3HIT","t"\n', encoding="utf-8")
    err = failure(str(path))
    for name in ("AssignmentId", "WorkerId", "AssignmentStatus", "Answer.*"):
        assert name in str(err)
    assert "'HITId'" not in str(err)


def test_header_only_batch_has_no_rows(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {"Answer.q": "x"}, rows=[])
    assert "no rows" in str(failure(path))


# -- bad rows ----------------------------------------------------------------------------------

def bad_answer_cases() -> Iterator[tuple[str, dict[str, str], str, str]]:
    ta = "Answer.taskAnswers"
    yield "duplicate key", {ta: '[{"q": 1, "q": 2}]'}, ta, "appears twice"
    yield "NaN", {ta: '[{"q": NaN}]'}, ta, "NaN"
    yield "deep nesting", {ta: "[" * 50_000 + "]" * 50_000}, ta, "nested"
    yield "not one object", {ta: '[{"a": 1}, {"b": 2}]'}, ta, "one object"
    yield "not JSON", {ta: "{oops"}, ta, "not valid JSON"
    yield "box without left", task_answers([{"r": {"boundingBoxes": [
        {"label": "Body", "top": 1, "width": 2, "height": 3}]}}]), ta, "left must be a number"
    yield "box label not text", task_answers([{"r": {"boundingBoxes": [
        {"label": 7, "left": 0, "top": 1, "width": 2, "height": 3}]}}]), ta, "label"
    yield "bad colour", {
        "Answer.r.labelMappings.Body.color": "blue",
        "Answer.r.labeledImage.pngImageData": PNG}, "Answer.r.labelMappings.Body.color", "#rrggbb"
    yield "shared colour", {
        "Answer.r.labelMappings.Body.color": "#1f77b4",
        "Answer.r.labelMappings.Cable.color": "#1F77B4",
        "Answer.r.labeledImage.pngImageData": PNG}, "Answer.r.labelMappings", "share"
    yield "bad size", {
        "Answer.r.inputImageProperties.width": "wide",
        "Answer.r.labeledImage.pngImageData": PNG}, "Answer.r.inputImageProperties.width", "size"
    yield "labels not a list", {"Answer.tags.labels": "cat"}, "Answer.tags.labels", "JSON list"
    yield "labels an object", {"Answer.tags.labels": '{"a": 1}'}, "Answer.tags.labels", "list"
    yield "labels not strings", {"Answer.tags.labels": "[1, 2]"}, "Answer.tags.labels", "string"
    yield "boxes in NaN", {"Answer.r.boundingBoxes": '[{"left": NaN}]'}, \
        "Answer.r.boundingBoxes", "NaN"


@pytest.mark.parametrize(("answers", "field", "message"),
                         [c[1:] for c in bad_answer_cases()],
                         ids=[c[0] for c in bad_answer_cases()])
def test_bad_answers_name_row_and_field(tmp_path: Path, answers: dict[str, str], field: str,
                                        message: str) -> None:
    good = {**fixed_cells(), **{k: "" for k in answers}}
    bad = {**fixed_cells(AssignmentId="3ASSIGNFAKE2"), **answers}
    path = write_batch(tmp_path / "b.csv", answers, rows=[good, bad])
    err = failure(path)
    assert err.row == 2 and "row 2" in str(err)
    assert err.field == field and repr(field) in str(err)
    assert message in str(err)


@pytest.mark.parametrize(("column", "cell", "message"), [
    ("AssignmentStatus", "Pending", "not one of Submitted, Approved, Rejected"),
    ("AssignmentStatus", "", "not one of"),
    ("AcceptTime", "Thu Mar 09 09:05:01 CET 2023", "time zone"),
    ("AcceptTime", "yesterday", "not a date"),
    ("SubmitTime", "Thu Feb 30 09:05:01 PST 2023", "not a valid date"),
    ("ApprovalTime", "2023-03-09 17:05:01", "not a date"),
    ("Reward", "fifteen cents", "dollars"),
    ("Reward", "$0.155", "dollars"),
    ("WorkTimeInSeconds", "5 min", "whole number"),
    ("WorkerId", "", "empty"),
    ("AssignmentId", " ", "empty"),
])
def test_bad_cells_name_row_and_field(tmp_path: Path, column: str, cell: str,
                                      message: str) -> None:
    path = write_batch(tmp_path / "b.csv", {"Answer.q": "x"},
                       rows=[fixed_cells(), fixed_cells(**{column: cell})])
    err = failure(path)
    assert err.row == 2 and err.field == column and repr(column) in str(err)
    assert message in str(err)


def test_a_worker_id_in_a_quoted_cell_is_masked(tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.csv", {"Answer.q": "x"}, AssignmentStatus=CANARY,
                       AcceptTime=f"{CANARY} oops")
    err = failure(path)
    assert "<worker id>" in str(err) and err.field == "AssignmentStatus"


def test_answer_columns_that_clash_are_refused(tmp_path: Path) -> None:
    err = failure(write_batch(tmp_path / "b.csv", {"Answer.a": "1", "Answer.a.b": "2"}))
    assert "'Answer.a'" in str(err) and "'Answer.a.b'" in str(err)


# -- fuzz --------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["label", "labels", "boundingBoxes", "labeledImage", "pngImageData", "labelMappings",
         "color", "instances", "inputImageProperties", "width", "left", "x"]), inner,
        max_size=4),
    max_leaves=12)
_cells = (st.text(max_size=20) | _json.map(json.dumps) | _json.map(lambda v: json.dumps([v]))
          | st.sampled_from(["true", "false", "#abc", "[NaN]", "['a', 1]", "Mon Mar 06"]))
_columns = st.sampled_from([
    "Answer.a.labels", "Answer.a.boundingBoxes", "Answer.a.labelMappings.B.x.color",
    "Answer.a.labeledImage.pngImageData", "Answer.a.inputImageProperties.width",
    "Answer.b.label", "Answer.taskAnswers", "AcceptTime", "Reward", "AssignmentStatus"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_columns, _cells, min_size=1, max_size=5))
def test_any_cells_give_records_or_an_input_error(cells: dict[str, str]) -> None:
    fixed = {k: v for k, v in cells.items() if not k.startswith("Answer.")}
    answers = {k: v for k, v in cells.items() if k.startswith("Answer.")} or {"Answer.q": ""}
    with tempfile.TemporaryDirectory() as folder:
        path = write_batch(Path(folder) / "f.csv", answers, **fixed)
        try:
            assignments(path)
        except InputError as err:
            assert CANARY not in str(err)

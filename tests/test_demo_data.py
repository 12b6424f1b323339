"""The example project generator: files like the platforms', and a record of what was planted."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tracework.demo.data import CATEGORIES, SURVEY_QUESTIONS, DemoFiles, generate

SMALL = {"size": (480, 320), "frames": 10, "workers": 14, "jobs": 1}

# FORMATS.md 1.1, typed out again here rather than imported, so the test checks the module.
MTURK_FIXED = [
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime",
    "MaxAssignments", "RequesterAnnotation", "AssignmentDurationInSeconds",
    "AutoApprovalDelayInSeconds", "Expiration", "NumberOfSimilarHITs", "LifetimeInSeconds",
    "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime", "SubmitTime",
    "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback",
    "WorkTimeInSeconds", "LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate",
]
PNG_COLUMN = "Answer.annotatedResult.labeledImage.pngImageData"
MAPPING = re.compile(r"^Answer\.annotatedResult\.labelMappings\.(.+)\.color$")
MTURK_TIME = re.compile(r"^(\w{3}) (\w{3}) (\d{2}) (\d{2}):(\d{2}):(\d{2}) (PST|PDT) (\d{4})$")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(tmp_path_factory.mktemp("demo"), seed=7, **SMALL)


def batch_rows(files: DemoFiles) -> tuple[list[str], list[dict[str, str]]]:
    csv.field_size_limit(1 << 30)
    with files.batch_csv.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def survey_table(files: DemoFiles) -> list[list[str]]:
    with files.survey_csv.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def truth(files: DemoFiles) -> dict[str, Any]:
    return json.loads(files.truth_json.read_text(encoding="utf-8"))


def decode_mask(cell: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(base64.b64decode(cell, validate=True), np.uint8),
                        cv2.IMREAD_UNCHANGED)


def hex_bgr(colour: str) -> tuple[int, int, int]:
    return int(colour[5:7], 16), int(colour[3:5], 16), int(colour[1:3], 16)


def mask_areas(mask: np.ndarray) -> dict[str, int]:
    areas = {}
    for name, colour in CATEGORIES.items():
        hit = np.all(mask == (*hex_bgr(colour), 255), axis=-1)
        if hit.any():
            areas[name] = int(hit.sum())
    return areas


def utc(cell: str) -> datetime:
    """Parse the Requester UI's Pacific-time stamps; Python's %Z knows neither PST nor PDT."""
    m = MTURK_TIME.match(cell)
    assert m, cell
    _, mon, day, hh, mm, ss, zone, year = m.groups()
    local = datetime(int(year), MONTHS.index(mon) + 1, int(day), int(hh), int(mm), int(ss))
    return (local + timedelta(hours=8 if zone == "PST" else 7)).replace(tzinfo=UTC)


def digests(files: DemoFiles) -> dict[str, str]:
    return {str(p.relative_to(files.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(files.root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_files(demo: DemoFiles, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", seed=7, **SMALL)
    other = generate(tmp_path / "other", seed=8, **SMALL)
    assert digests(again) == digests(demo)
    changed = {k for k, v in digests(other).items() if digests(demo).get(k) != v}
    assert {"Batch_5012345_batch_results.csv", "survey_export.csv", "truth.json",
            "images/mouse_0001.jpeg"} <= changed


def test_processes_do_not_change_the_files(tmp_path: Path) -> None:
    args = {**SMALL, "frames": 4, "workers": 6}
    alone = generate(tmp_path / "one", **{**args, "jobs": 1})
    pooled = generate(tmp_path / "two", **{**args, "jobs": 2})
    assert digests(alone) == digests(pooled)


def test_batch_csv_has_the_requester_ui_layout(demo: DemoFiles) -> None:
    columns, rows = batch_rows(demo)
    assert columns[:27] == MTURK_FIXED
    assert columns[27] == "Input.image_url"
    assert columns[-2:] == ["Approve", "Reject"]
    answers = columns[28:-2]
    assert answers == sorted(answers) and all(c.startswith("Answer.") for c in answers)
    assert {MAPPING.match(c).group(1) for c in answers if MAPPING.match(c)} == set(CATEGORIES)
    first = demo.batch_csv.read_text(encoding="utf-8").splitlines()[0]
    assert first == ",".join(f'"{c}"' for c in columns)  # every cell quoted, as MTurk does
    assert len(rows) == demo.submissions == 30
    for row in rows:
        assert row["AssignmentStatus"] == "Submitted" and row["Answer.surveycode"] == "END2025"
        assert row["Reward"] == "$0.15" and row["MaxAssignments"] == "3"
        assert row["RequesterAnnotation"] == "BatchId:5012345;OriginalHitTemplateId:928390;"
        assert row["LifetimeApprovalRate"] == "0% (0/0)"
        assert row["Approve"] == row["Reject"] == ""
        name = row["Input.image_url"].rsplit("/", 1)[1]
        assert (demo.images_dir / name).is_file()
    per_hit: dict[str, set[str]] = {}
    for row in rows:
        per_hit.setdefault(row["HITId"], set()).add(row["WorkerId"])
    assert all(len(crew) == 3 for crew in per_hit.values())


def test_every_mask_decodes_to_the_frame_with_only_mapped_colours(demo: DemoFiles) -> None:
    _, rows = batch_rows(demo)
    for row in rows:
        assert not row[PNG_COLUMN].startswith("data:")
        mask = decode_mask(row[PNG_COLUMN])
        height = int(row["Answer.annotatedResult.inputImageProperties.height"])
        width = int(row["Answer.annotatedResult.inputImageProperties.width"])
        assert mask.shape == (height, width, 4) == (320, 480, 4)
        mapped = {m.group(1): v for c, v in row.items() if (m := MAPPING.match(c)) and v}
        allowed = {(*hex_bgr(v), 255) for v in mapped.values()} | {(0, 0, 0, 0)}
        packed = np.unique(np.ascontiguousarray(mask).view(np.uint32))
        seen = {tuple(int(x) for x in c) for c in packed.view(np.uint8).reshape(-1, 4)}
        assert seen <= allowed, row["AssignmentId"]
        assert set(mask_areas(mask)) == set(mapped)
        assert all(CATEGORIES[k] == v for k, v in mapped.items())


def test_work_time_is_submit_minus_accept_in_pacific_time(demo: DemoFiles) -> None:
    _, rows = batch_rows(demo)
    created = {utc(r["CreationTime"]) for r in rows}
    assert len(created) == 1
    for row in rows:
        accept, submit = utc(row["AcceptTime"]), utc(row["SubmitTime"])
        work = int(row["WorkTimeInSeconds"])
        assert accept + timedelta(seconds=work) == submit
        assert 0 < work < 600 == int(row["AssignmentDurationInSeconds"])
        assert utc(row["AutoApprovalTime"]) == submit + timedelta(seconds=259200)
        assert accept > min(created) and submit.year == 2025
    try:
        from zoneinfo import ZoneInfo
        pacific = ZoneInfo("America/Los_Angeles")
    except Exception:  # no tz database here: the module's own rule is all there is
        return
    for row in rows:
        for column in ("CreationTime", "AcceptTime", "SubmitTime", "AutoApprovalTime"):
            assert utc(row[column]).astimezone(pacific).tzname() == row[column].split()[4]


def test_qualtrics_export_has_three_header_rows(demo: DemoFiles) -> None:
    assert demo.survey_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    table = survey_table(demo)
    ids, labels, imports = table[:3]
    assert len(ids) == len(labels) == len(imports) and all(len(r) == len(ids) for r in table)
    parsed = [json.loads(cell) for cell in imports]
    assert all("ImportId" in p for p in parsed)
    by_id = dict(zip(ids, parsed, strict=True))
    assert by_id["StartDate"] == {"ImportId": "startDate", "timeZone": "America/Los_Angeles"}
    assert by_id["ResponseId"] == {"ImportId": "_recordId"}
    assert by_id["Q4"] == {"ImportId": "QID4_TEXT"}
    assert by_id["Q9_1"] == {"ImportId": "QID9", "choiceId": "1"}
    assert by_id["workerId"] == {"ImportId": "workerId"}
    assert ids.index("workerId") > max(ids.index(q.id) for q in SURVEY_QUESTIONS if not q.multiple)
    label = dict(zip(ids, labels, strict=True))
    assert label["Q9_3"].endswith(" - Selected Choice - Eye strain")
    assert label["Q9_9_TEXT"].endswith(" - Other - Text")
    rows = [dict(zip(ids, r, strict=True)) for r in table[3:]]
    assert all(re.fullmatch(r"R_[0-9A-Za-z]{15}", r["ResponseId"]) for r in rows)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["StartDate"]) for r in rows)
    previews = [r for r in rows if r["Status"] == "Survey Preview"]
    assert len(previews) == 1 and previews[0]["workerId"] == ""
    answered = [r for r in rows if r["Status"] == "IP Address"]
    assert len(answered) == len(rows) - 1
    assert all(r["IPAddress"].startswith(("203.0.113.", "198.51.100.")) for r in answered)
    assert {r["Q11"] for r in answered} <= {"Yes", "No"}
    for r in rows:
        start = datetime.fromisoformat(r["StartDate"])
        assert datetime.fromisoformat(r["EndDate"]) - start == timedelta(
            seconds=int(r["Duration (in seconds)"]))


def test_truth_counts_match_the_files(demo: DemoFiles) -> None:
    record = truth(demo)
    counts = record["counts"]
    _, rows = batch_rows(demo)
    table = survey_table(demo)
    survey = [dict(zip(table[0], r, strict=True)) for r in table[3:]]
    labellers = {r["WorkerId"] for r in rows}
    assert counts["frames"] == demo.frames == len(list(demo.images_dir.glob("mouse_*.jpeg"))) == 10
    assert counts["submissions"] == len(rows) == len(record["submissions"])
    assert counts["workers_labelled"] == len(labellers) == demo.workers == 14
    assert counts["survey_rows"] == len(survey)
    assert counts["survey_previews"] == 1
    linked = [r for r in survey if r["workerId"] in labellers]
    assert counts["survey_linked"] == len(linked)
    assert counts["survey_unlinked"] == sum(1 for r in survey if r["workerId"]
                                            and r["workerId"] not in labellers) == 1
    assert counts["consenting_linked"] == sum(1 for r in linked if r["Q11"] == "Yes")
    workers = {w["raw_id"]: w for w in record["workers"]}
    for r in linked:
        assert workers[r["workerId"]]["consent"] == (r["Q11"] == "Yes")
        assert workers[r["workerId"]]["education"] == (r["Q3"] or None)
    by_assignment = {r["AssignmentId"]: r for r in rows}
    for sub in record["submissions"]:
        row = by_assignment[sub["assignment_id"]]
        assert row["WorkerId"] == sub["worker_raw_id"]
        assert row["Input.image_url"].endswith("/" + sub["frame_file"])
        assert int(row["WorkTimeInSeconds"]) == sub["work_time_s"]
        assert mask_areas(decode_mask(row[PNG_COLUMN])) == sub["parts"]


def test_some_parts_are_hidden_at_some_angles(demo: DemoFiles) -> None:
    frames = truth(demo)["frames"]
    assert [f["angle_degrees"] for f in frames] == [36.0 * i for i in range(10)]
    assert all({"Body", "Cable"} <= set(f["visible_parts"]) for f in frames)
    assert any(len(f["visible_parts"]) < len(CATEGORIES) for f in frames)


def test_workers_have_mturk_ids_and_every_care_profile(demo: DemoFiles) -> None:
    workers = truth(demo)["workers"]
    assert all(re.fullmatch(r"A[A-Z0-9]{12,13}", w["raw_id"]) for w in workers)
    assert len({w["raw_id"] for w in workers}) == len(workers)
    assert {w["care_profile"] for w in workers if w["labelled"]} == {"careful", "partial", "loose"}


def test_masters_graduates_draw_the_cable_thicker(demo: DemoFiles) -> None:
    record = truth(demo)
    planted = record["planted_difference"]
    education = {w["raw_id"]: w["education"] for w in record["workers"]}
    masters = {w for w, e in education.items() if e == "Master's degree"}
    labellers = {s["worker_raw_id"] for s in record["submissions"]}
    assert set(planted["extra_dilation_px"]) == masters & labellers
    assert planted["consenting_workers"] >= 5
    # Frames show more or less cable as the mouse turns: compare each mask with its frame's truth.
    shown = {f["file"]: f["visible_parts"]["Cable"] for f in record["frames"]}
    drawn: dict[bool, list[float]] = {True: [], False: []}
    for sub in record["submissions"]:
        if "Cable" in sub["parts"]:
            share = sub["parts"]["Cable"] / shown[sub["frame_file"]]
            drawn[sub["worker_raw_id"] in masters].append(share)
    assert drawn[True] and drawn[False]
    assert np.mean(drawn[True]) > 1.2 * np.mean(drawn[False])


def test_progress_counts_every_submission(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    files = generate(tmp_path, size=(160, 120), frames=3, workers=4, jobs=1,
                     progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, files.submissions) for i in range(1, files.submissions + 1)]


def test_one_frame_at_the_study_size(tmp_path: Path) -> None:
    files = generate(tmp_path, frames=1, workers=3, jobs=1)
    _, rows = batch_rows(files)
    assert cv2.imread(str(files.images_dir / "mouse_0001.jpeg")).shape == (1920, 2880, 3)
    assert all(decode_mask(r[PNG_COLUMN]).shape == (1920, 2880, 4) for r in rows)


@pytest.mark.parametrize("args", [{"frames": 0}, {"workers": 2}, {"workers": 31},
                                  {"size": (32, 32)}])
def test_impossible_projects_are_refused(tmp_path: Path, args: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, **{"frames": 10, "workers": 10, "jobs": 1, **args})

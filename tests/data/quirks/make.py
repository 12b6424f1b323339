"""Writes the quirk corpus: small files in the shapes seen in real MTurk and Qualtrics
downloads (FORMATS.md §14). Run `python tests/data/quirks/make.py` to rebuild them; the tests
read the files as committed."""

from __future__ import annotations

import base64
import csv
import io
import json
import zlib
from pathlib import Path

HERE = Path(__file__).parent

FIXED = ["HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime",
         "MaxAssignments", "RequesterAnnotation", "AssignmentDurationInSeconds",
         "AutoApprovalDelayInSeconds", "Expiration", "NumberOfSimilarHITs", "LifetimeInSeconds",
         "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime", "SubmitTime",
         "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback",
         "WorkTimeInSeconds", "LifetimeApprovalRate", "Last30DaysApprovalRate",
         "Last7DaysApprovalRate"]

W1, W2, W3 = "A1QUIRKWORKER01", "A2QUIRKWORKER02", "A3QUIRKWORKER03"


def fixed(n: int, worker: str, status: str = "Approved", **over: str) -> dict[str, str]:
    row = {
        "HITId": f"3HITQUIRK{n:04d}", "HITTypeId": "3TYPEQUIRK0001", "Title": "Draw boxes",
        "Description": "Draw a box around each animal", "Keywords": "image, boxes",
        "Reward": "$0.10", "CreationTime": "Mon Mar 26 09:00:00 PDT 2018", "MaxAssignments": "1",
        "RequesterAnnotation": "BatchId:3210987;OriginalHitTemplateId:928390909;",
        "AssignmentDurationInSeconds": "3600", "AutoApprovalDelayInSeconds": "259200",
        "Expiration": "Mon Apr 02 09:00:00 PDT 2018", "NumberOfSimilarHITs": "",
        "LifetimeInSeconds": "", "AssignmentId": f"3ASSIGNQUIRK{n:04d}", "WorkerId": worker,
        "AssignmentStatus": status, "AcceptTime": "Mon Mar 26 16:30:00 PDT 2018",
        "SubmitTime": "Mon Mar 26 16:37:21 PDT 2018",
        "AutoApprovalTime": "Thu Mar 29 16:37:21 PDT 2018",
        "ApprovalTime": "Mon Mar 26 18:00:00 PDT 2018" if status == "Approved" else "",
        "RejectionTime": "", "RequesterFeedback": "", "WorkTimeInSeconds": "441",
        "LifetimeApprovalRate": "100% (12/12)", "Last30DaysApprovalRate": "100% (12/12)",
        "Last7DaysApprovalRate": "100% (12/12)"}
    row.update(over)
    return row


def write(name: str, header: list[str], rows: list[list[str]], *, eol: str = "\r\n") -> None:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator=eol)
    w.writerow(header)
    w.writerows(rows)
    (HERE / name).write_text(buf.getvalue(), encoding="utf-8", newline="")


def boxes(*items: tuple[str, int, int, int, int]) -> str:
    return json.dumps([{"height": h, "label": lab, "left": x, "top": y, "width": w}
                       for lab, x, y, w, h in items])


def box_batch() -> None:
    """The platform's own download: data rows leave out the empty Approve and Reject cells;
    auto-approved rows write ApprovalTime in another form; CRLF line endings."""
    answers = ["Answer.annotatedResult.boundingBoxes",
               "Answer.annotatedResult.inputImageProperties.height",
               "Answer.annotatedResult.inputImageProperties.width", "Answer.surveycode"]
    header = [*FIXED, "Input.image_url", *answers, "Approve", "Reject"]
    data = [
        (fixed(1, W1, ApprovalTime="2018-03-26 18:40:48 UTC"), "https://x.test/img/1.jpg",
         boxes(("Dog", 10, 20, 30, 40), ("Cat", 50, 10, 20, 20)), "CODE-111"),
        (fixed(2, W2, ApprovalTime="Mon Mar 26 16:37:21 PDT 2018"), "https://x.test/img/1.jpg",
         boxes(("Dog", 12, 22, 28, 38)), "CODE-222"),
        (fixed(3, W1, "Submitted", SubmitTime="2018-03-27T08:00:00Z"),
         "https://x.test/img/2.jpg", boxes(), "CODE-111b"),
        (fixed(4, W3, "Rejected", RejectionTime="2018-03-28 10:00:00 GMT"),
         "https://x.test/img/2.jpg", boxes(("Cat", 1, 2, 3, 4)), "CODE-222"),
    ]
    rows = [[f[c] for c in FIXED] + [url, b, "480", "640", code] for f, url, b, code in data]
    write("batch_short_rows.csv", header, rows)
    # The same batch with a hand edit: RequesterAnnotation split at its ';' on row 2.
    split = [list(r) for r in rows]
    i = FIXED.index("RequesterAnnotation")
    split[1][i:i + 1] = ["BatchId:3210987", "OriginalHitTemplateId:928390909;"]
    write("batch_split_annotation.csv", header, split)
    # A row one cell too long at the end is not a trailing omission.
    long = [list(r) + ["X", "", "extra"] for r in rows]
    write("batch_long_row.csv", header, long)
    # A row that lost more than the optional trailing cells.
    short = [list(r) for r in rows]
    short[2] = short[2][:-2]
    write("batch_missing_cells.csv", header, short)


def polygon_batch() -> None:
    """crowd-polygon in one Answer.taskAnswers cell, and a crowd-keypoint answer beside it."""
    header = [*FIXED, "Input.image_url", "Answer.taskAnswers", "Approve", "Reject"]
    size = {"height": 100, "width": 200}
    p1 = {"annotatedResult": {"inputImageProperties": size, "polygons": [
        {"label": "Dog", "vertices": [{"x": 10, "y": 10}, {"x": 60, "y": 10}, {"x": 10, "y": 50}]},
        {"label": "Cat", "vertices": [{"x": 100, "y": 20}, {"x": 140, "y": 20},
                                      {"x": 140, "y": 60}, {"x": 100, "y": 60}]}]}}
    p2 = {"annotatedResult": {"inputImageProperties": size, "polygons": [
        {"label": "Dog", "vertices": [{"x": 0, "y": 0}, {"x": 20, "y": 0}, {"x": 20, "y": 20},
                                      {"x": 0, "y": 20}]}]},
          "keypoints": {"inputImageProperties": size, "keypoints": [
              {"label": "nose", "x": 5, "y": 6}]},
          "comment": "tail hidden"}
    rows = [[fixed(i, w)[c] for c in FIXED] + ["https://x.test/img/p.jpg",
                                                json.dumps([answer])]
            for i, w, answer in ((11, W1, p1), (12, W2, p2))]
    write("batch_polygons.csv", header, rows, eol="\n")


def _png(width: int, height: int) -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))
    raw = b"".join(b"\x00" + b"\x00" * (4 * width) for _ in range(height))
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
           + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def empty_mask_batch() -> None:
    """A semantic-segmentation answer whose mask is all background."""
    header = [*FIXED, "Input.image_url", "Answer.annotatedResult.inputImageProperties.height",
              "Answer.annotatedResult.inputImageProperties.width",
              "Answer.annotatedResult.labelMappings.Dog.color",
              "Answer.annotatedResult.labeledImage.pngImageData", "Approve", "Reject"]
    rows = [[fixed(21, W1)[c] for c in FIXED]
            + ["https://x.test/img/m.png", "8", "12", "#ff0000", _png(12, 8)]]
    write("batch_empty_mask.csv", header, rows)


QUALTRICS_META = [("StartDate", "Start Date", {"ImportId": "startDate", "timeZone": "UTC"}),
                  ("EndDate", "End Date", {"ImportId": "endDate", "timeZone": "UTC"}),
                  ("Status", "Response Type", {"ImportId": "status"}),
                  ("Finished", "Finished", {"ImportId": "finished"}),
                  ("ResponseId", "Response ID", {"ImportId": "_recordId"})]


def survey(name: str, questions: list[tuple[str, str, dict[str, str]]],
           rows: list[list[str]]) -> None:
    cols = [*QUALTRICS_META, *questions]
    header = [c[0] for c in cols]
    labels = [c[1] for c in cols]
    imports = [json.dumps(c[2]) for c in cols]
    write(name, header, [labels, imports, *rows])


def surveys() -> None:
    qs = [("Q1", "Age group", {"ImportId": "QID1"}),
          ("Q11", "May we link your answers to your work?", {"ImportId": "QID11"}),
          ("workerId", "workerId", {"ImportId": "workerId"}),
          ("MTurkCode", "MTurkCode", {"ImportId": "MTurkCode"})]
    start = ["2018-03-26 16:40:00", "2018-03-26 16:45:00"]
    # Workers typed their own ids: lower case, spaces and tabs, a pasted link; one unknown.
    survey("survey_typed_ids.csv", qs, [
        [*start, "0", "1", "R_typed1", "25-34", "Yes", f" {W1.lower()}\t", ""],
        [*start, "0", "1", "R_typed2", "35-44", "No",
         f"https://worker.mturk.com/projects?workerId={W2}&ref=w", ""],
        [*start, "0", "1", "R_typed3", "18-24", "Yes", "AUNKNOWNWORKER9", ""],
        [*start, "1", "1", "R_preview", "18-24", "Yes", "", ""],
    ])
    # Only the completion code links the files; CODE-222 was used by two workers.
    survey("survey_code_only.csv", qs, [
        [*start, "0", "1", "R_code1", "25-34", "Yes", "", "code-111 "],
        [*start, "0", "1", "R_code2", "35-44", "Yes", "", "CODE-222"],
        [*start, "0", "1", "R_code3", "45-54", "No", "", "CODE-999"],
    ])
    # Saved in Excel: dates like 13/11/2017 2:48 (day first, shown by 13), TRUE/FALSE consent.
    excel = [("Q11", "Consent", {"ImportId": "QID11"}),
             ("workerId", "workerId", {"ImportId": "workerId"})]
    survey("survey_excel.csv", excel, [
        ["13/11/2017 2:48", "13/11/2017 2:59", "IP Address", "TRUE", "R_x1", "TRUE", W1],
        ["11/11/2017 14:05", "11/11/2017 14:20", "IP Address", "TRUE", "R_x2", "FALSE", W2],
        ["11/11/2017 14:05", "11/11/2017 14:20", "Spam", "FALSE", "R_x3", "TRUE", W3],
    ])
    survey("survey_excel_ambiguous.csv", excel, [
        ["03/04/2017 2:48", "03/04/2017 2:59", "IP Address", "TRUE", "R_a1", "1", W1],
    ])
    # Two questions exported under one tag, told apart by their ImportIds.
    dup = [("Q22a", "How tired were you?", {"ImportId": "QID47"}),
           ("Q22a", "How rushed were you?", {"ImportId": "QID48"}),
           ("workerId", "workerId", {"ImportId": "workerId"})]
    survey("survey_duplicate_tags.csv", dup, [
        [*start, "0", "1", "R_d1", "Very", "A little", W1]])
    # Response types as numbers: 0 normal, 1 preview, 2 test, 8 spam, 16 offline.
    survey("survey_response_types.csv", qs[:3], [
        [*start, code, "1", f"R_t{code}", "25-34", "Yes", W1 if code == "0" else W3]
        for code in ("0", "1", "2", "8", "16")])
    # The legacy export: two header rows, V1… ids, no ImportId row.
    write("survey_legacy.csv", ["V1", "V2", "V8", "V9", "Q1"],
          [["ResponseID", "ResponseSet", "StartDate", "EndDate", "Age group"],
           ["R_old1", "Default", "2016-01-01 10:00:00", "2016-01-01 10:05:00", "25-34"]])


if __name__ == "__main__":
    box_batch()
    polygon_batch()
    empty_mask_batch()
    surveys()

"""A synthetic team-sized project: a Mechanical Turk box batch and its linked Qualtrics survey.

Realistic in the ways that matter for scale: worker activity is heavy-tailed (a few workers do
much of the work, most do a handful of tasks, as on real crowd platforms), each image is
labelled by three workers, every submission draws one box per part it saw, and about seven in
ten workers answer the survey, most of them consenting to the link. Deterministic for a seed.

    python benchmarks/teamscale.py OUT_DIR --annotations 100000
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CATEGORIES = {"Body": "#1f77b4", "Left_Button": "#d62728", "Right_Button": "#9467bd",
              "Scroll_Wheel": "#ff7f0e", "Cable": "#2ca02c"}
WIDTH, HEIGHT = 1280, 720
PER_IMAGE = 3
_FIXED = ("HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime",
          "MaxAssignments", "RequesterAnnotation", "AssignmentDurationInSeconds",
          "AutoApprovalDelayInSeconds", "Expiration", "NumberOfSimilarHITs",
          "LifetimeInSeconds", "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime",
          "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime",
          "RequesterFeedback", "WorkTimeInSeconds", "LifetimeApprovalRate",
          "Last30DaysApprovalRate", "Last7DaysApprovalRate")
_RESULT = "Answer.annotatedResult"
_COLUMNS = (*_FIXED, "Input.image_url", f"{_RESULT}.boundingBoxes",
            f"{_RESULT}.inputImageProperties.height", f"{_RESULT}.inputImageProperties.width",
            "Answer.surveycode")
_SURVEY = (("StartDate", "Start Date", "startDate"), ("EndDate", "End Date", "endDate"),
           ("Status", "Response Type", "status"), ("Progress", "Progress", "progress"),
           ("Duration (in seconds)", "Duration (in seconds)", "duration"),
           ("Finished", "Finished", "finished"), ("RecordedDate", "Recorded Date", "recordedDate"),
           ("ResponseId", "Response ID", "_recordId"),
           ("Q2", "What is your gender?", "QID2"),
           ("Q11", "May we link your answers to your labelling work?", "QID11"),
           ("workerId", "workerId", "workerId"))


@dataclass(frozen=True)
class TeamFiles:
    batch_csv: Path
    survey_csv: Path
    submissions: int
    annotations: int
    workers: int


def _time(seconds: int) -> str:
    stamp = np.datetime64(1_700_000_000 + seconds, "s").astype(object)
    return stamp.strftime("%a %b %d %H:%M:%S PST %Y")


def _qualtrics_time(seconds: int) -> str:
    return str(np.datetime64(1_700_000_000 + seconds, "s")).replace("T", " ")


def generate(out: Path, *, annotations: int, seed: int = 0) -> TeamFiles:
    """Write ``batch.csv`` and ``survey.csv`` with about ``annotations`` boxes."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    parts = list(CATEGORIES)
    submissions = max(PER_IMAGE, annotations // 4)          # about four parts seen per image
    workers = max(10, min(50_000, submissions // 20))
    # Heavy-tailed activity: worker i is chosen with weight 1 / (i + 1) ** 0.8.
    weights = 1.0 / np.arange(1, workers + 1) ** 0.8
    chosen = rng.choice(workers, size=submissions, p=weights / weights.sum())
    raw_ids = [f"A{(seed * 7919 + i * 104729) % 10**12:012d}X{i:05d}" for i in range(workers)]
    written = 0
    batch = out / "batch.csv"
    with batch.open("w", encoding="utf-8", newline="") as fh:
        rows = csv.writer(fh, quoting=csv.QUOTE_ALL)
        rows.writerow(_COLUMNS)
        for s in range(submissions):
            image, accept = s // PER_IMAGE, 3600 + s * 7
            seen = [p for p in parts if rng.random() < 0.8] or parts[:1]
            boxes = []
            for part in seen:
                w, h = int(rng.integers(20, 400)), int(rng.integers(20, 300))
                boxes.append({"label": part, "left": int(rng.integers(0, WIDTH - w)),
                              "top": int(rng.integers(0, HEIGHT - h)), "width": w, "height": h})
            written += len(boxes)
            work = int(rng.lognormal(np.log(150), 0.5))
            cells = {
                "HITId": f"3H{image:018d}", "HITTypeId": "3TEAMSCALE0000000000000000000",
                "Title": "Box the parts of a computer mouse", "Description": "Draw boxes.",
                "Keywords": "image, boxes", "Reward": "$0.15", "CreationTime": _time(0),
                "MaxAssignments": str(PER_IMAGE),
                "RequesterAnnotation": "BatchId:7000001;", "AssignmentDurationInSeconds": "3600",
                "AutoApprovalDelayInSeconds": "259200", "Expiration": _time(7 * 86400),
                "AssignmentId": f"3A{s:028d}", "WorkerId": raw_ids[int(chosen[s])],
                "AssignmentStatus": "Submitted", "AcceptTime": _time(accept),
                "SubmitTime": _time(accept + work), "AutoApprovalTime": _time(accept + 259200),
                "WorkTimeInSeconds": str(work), "LifetimeApprovalRate": "0% (0/0)",
                "Last30DaysApprovalRate": "0% (0/0)", "Last7DaysApprovalRate": "0% (0/0)",
                "Input.image_url": f"https://example-bucket.s3.amazonaws.com/team/{image:07d}.jpg",
                f"{_RESULT}.boundingBoxes": json.dumps(boxes),
                f"{_RESULT}.inputImageProperties.height": str(HEIGHT),
                f"{_RESULT}.inputImageProperties.width": str(WIDTH),
                "Answer.surveycode": "TEAM"}
            rows.writerow([cells.get(c, "") for c in _COLUMNS])
    survey = out / "survey.csv"
    active = sorted(set(int(w) for w in chosen))
    with survey.open("w", encoding="utf-8-sig", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow([c[0] for c in _SURVEY])
        rows.writerow([c[1] for c in _SURVEY])
        rows.writerow([json.dumps({"ImportId": c[2]}) for c in _SURVEY])
        for n, w in enumerate(active):
            if rng.random() > 0.7:
                continue
            start = 3600 + n * 11
            rows.writerow([_qualtrics_time(start), _qualtrics_time(start + 120), "IP Address",
                           "100", "120", "True", _qualtrics_time(start + 120),
                           f"R_{n:015d}", rng.choice(["Female", "Male", "Non binary"],
                                                    p=[0.45, 0.5, 0.05]),
                           "Yes" if rng.random() < 0.85 else "No", raw_ids[w]])
    return TeamFiles(batch, survey, submissions, written, len(active))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--annotations", type=float, default=1e4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = generate(args.out, annotations=int(args.annotations), seed=args.seed)
    print(f"{files.submissions} submissions, {files.annotations} boxes, {files.workers} workers"
          f" -> {files.batch_csv}, {files.survey_csv}")


if __name__ == "__main__":
    main()

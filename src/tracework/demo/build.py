"""``tracework demo``: a complete example project, end to end, on the embedded store.

It imitates the study tracework grew from: frames of a computer mouse rotating on itself, five
parts labelled on Mechanical Turk by simulated workers of varying care, and the workers' survey
in Qualtrics' export format. The demo generates those raw files, then runs the real pipeline on
them: init, ingest of the batch and the survey, linking by pseudonym, COCO and YOLO exports.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracework import review
from tracework.core.errors import ConfigError
from tracework.core.project import CONFIG_FILE, Category, init
from tracework.core.status import StatusReport, status
from tracework.dataset.export import ExportReport, export_coco, export_yolo
from tracework.demo import data as demo_data
from tracework.ingest import ImportReport, ingest_mturk, ingest_qualtrics

__all__ = ["DemoReport", "demo"]

Step = Callable[[str], None]


@dataclass
class DemoReport:
    root: Path
    inputs: Path
    project: Path
    batch: ImportReport
    survey: ImportReport
    review: dict[str, int]                 # decision -> submissions, empty when not reviewed
    coco: ExportReport
    yolo: ExportReport
    status: StatusReport
    next_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root), "inputs": str(self.inputs), "project": str(self.project),
            "batch": self.batch.as_dict(), "survey": self.survey.as_dict(),
            "review": dict(self.review),
            "coco": self.coco.as_dict(), "yolo": self.yolo.as_dict(),
            "status": self.status.as_dict(), "next_steps": self.next_steps,
        }


def demo(directory: Path | str = "demo-out", *, seed: int = 7, frames: int = 30,
         workers: int = 40, size: tuple[int, int] = (2880, 1920), replace: bool = True,
         reviewed: bool = True, step: Step | None = None,
         progress: Callable[[int, int], None] | None = None) -> DemoReport:
    """Build the example project in ``directory`` and run the pipeline on it.

    With ``reviewed`` (the default) the study's review is replayed the fair way: the rules
    propose (fewer than 3 of 5 parts, empty, duplicate), a reviewer accepts the proposals,
    each rejection with its reason, and approves the rest.
    """
    say = step or (lambda _msg: None)
    root = Path(directory)
    project_dir = root / "project"
    if root.exists():
        if not replace:
            raise ConfigError(f"{root} exists", hint="Choose another folder or allow replacing it.")
        if any(root.iterdir()) and not (project_dir / "tracework.toml").exists():
            raise ConfigError(f"{root} exists and does not hold an earlier demo; not replacing it",
                              hint="Choose an empty or new folder.")
        shutil.rmtree(root)
    say(f"Generating {frames} frames, masks from {workers} simulated workers and a survey")
    files = demo_data.generate(root / "inputs", seed=seed, frames=frames, workers=workers,
                               size=size, progress=progress)
    say("Creating the project")
    project = init(
        project_dir, name="Mouse parts (tracework demo)",
        categories=[Category(n, c) for n, c in demo_data.CATEGORIES.items()],
        actor="demo", requester="Demo Requester", affiliation="tracework demo lab",
        end_client="none (research)",
        purpose="Semantic segmentation of the parts of a computer mouse, made traceable",
        intended_uses=["teaching", "research on data work"], guideline_version="1",
        wage_floor=12.0, floor_source="Prolific recommended minimum (USD)",
        floor_date="2025-01-01", credit_name_column="Q12",
        # The survey asked to publish the answers with the work (Q11), as the study's video did.
        free_text_questions=["Q4", "Q10"], publish_free_text=True,
        demographics={"age_range": "Q1", "gender": "Q2", "education": "Q3", "city": "Q4",
                      "work_set_cost": "Q10"},
        search_time_question="Q5",
        survey_attributes={"age_range": "Q1", "gender": "Q2", "education": "Q3"})
    try:
        say("Ingesting the Mechanical Turk batch results")
        batch = ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
        say("Ingesting the Qualtrics survey and linking answers by pseudonym")
        survey = ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                                  consent_column="Q11")
        decided: dict[str, int] = {}
        if reviewed:
            say("Reviewing: the rules propose, a reviewer decides, every rejection has a reason")
            review.propose(project)
            for bulk in (review.accept_proposals(project, reviewer="demo reviewer"),
                         review.approve_unflagged(project, reviewer="demo reviewer")):
                for decision, n in bulk.by_decision.items():
                    decided[decision] = decided.get(decision, 0) + n
        say("Exporting COCO and YOLO with per-annotation provenance")
        out = root / "export"
        coco = export_coco(project, out / "coco", status="all", images_dir=files.images_dir)
        yolo = export_yolo(project, out / "yolo", task="segment", status="all",
                           images_dir=files.images_dir)
        report = DemoReport(root=root, inputs=files.root, project=project_dir, batch=batch,
                            survey=survey, review=decided, coco=coco, yolo=yolo, status=status(project))
    finally:
        project.close()
    images = files.images_dir
    _serve_images(project_dir, images)
    p = f"tracework -p {project_dir}"
    report.next_steps = [
        f"{p} status",
        f"{p} serve",
        f"{p} review list --status rejected",
        f"{p} audit labour",
        f"{p} export bundle {root / 'bundle'} --status all --images {images}",
        f"{p} report {root / 'report.html'}",
        f"{p} render video {root / 'labour.mp4'} --status all --images {images}",
        f"{p} log --action 'consent.*'",
        f"{p} verify --expect-head {report.status.ledger_head}",
        f"python -c \"from pycocotools.coco import COCO; COCO('{out / 'coco' / 'annotations.json'}')\"",
    ]
    return report


def _serve_images(project_dir: Path, images: Path) -> None:
    """Point ``tracework serve`` at the demo's task images (``[web] images``), relative to the
    project so the demo folder can be moved as a whole."""
    toml = project_dir / CONFIG_FILE
    relative = Path(os.path.relpath(images, project_dir)).as_posix()
    text = toml.read_text(encoding="utf-8")
    if "\n[web]" not in text:
        toml.write_text(text.rstrip("\n") + f"\n\n[web]\nimages = {json.dumps(relative)}\n",
                        encoding="utf-8")

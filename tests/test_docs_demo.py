"""The demo project's documentation: a complete, hashed bundle, credits as the workers chose,
and a datasheet whose compensation answer states the labour audit's figures."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracework
from tracework import docs
from tracework.core.project import Project
from tracework.dataset import select_dataset
from tracework.demo import DemoReport, demo
from tracework.docs import answers
from tracework.docs.datasheet import datasheet
from tracework.docs.facts import gather
from tracework.docs.ledger_export import check_chain

REJECTED = (2, 5, 11)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    """The demo, reviewed: three submissions rejected with a reason, the rest approved."""
    from tracework.review.decisions import decide

    report = demo(tmp_path_factory.mktemp("docs_demo") / "demo", frames=6, workers=10,
                  size=(160, 108), reviewed=False)
    project = tracework.open_project(report.project)
    try:
        for sid in range(1, report.status.submissions + 1):
            if sid in REJECTED:
                decide(project, sid, "reject", reason="the cable is not labelled",
                       reviewer="reviewer")
            else:
                decide(project, sid, "approve", reviewer="reviewer")
        report.status = tracework.status(project)
    finally:
        project.close()
    return report


@pytest.fixture(scope="module")
def demo_bundle(demo_run: DemoReport, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo's bundle, with the task images; the project closed again."""
    out = tmp_path_factory.mktemp("docs_demo_bundle") / "release"
    project = tracework.open_project(demo_run.project)
    try:
        report = docs.export_bundle(project, out, status="all",
                                    images_dir=demo_run.inputs / "images")
    finally:
        project.close()
    return out, report


@pytest.fixture
def demo_project(demo_run: DemoReport) -> Iterator[Project]:
    project = tracework.open_project(demo_run.project)
    try:
        yield project
    finally:
        project.close()


def _demo_truth(demo_run: DemoReport) -> dict[str, Any]:
    return json.loads((demo_run.inputs / "truth.json").read_text(encoding="utf-8"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # inside mlcroissant's RDF library
def test_demo_bundle_is_complete_and_every_file_hashed(demo_run: DemoReport,
                                                       demo_bundle: Any) -> None:
    out, report = demo_bundle
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == set(report.files)
    expected_top = {"croissant.json", "README.md", "DATASHEET.md", "DATASHEET.html",
                    "CREDITS.md", "credits.json", "ledger.jsonl", "ledger-head.json"}
    assert expected_top <= files
    assert {f.split("/")[0] for f in files} == expected_top | {"coco", "yolo", "parquet",
                                                              "records"}
    truth = _demo_truth(demo_run)
    assert sum(f.startswith("yolo/images/train/") for f in files) == truth["counts"]["frames"] == 6
    assert not [f for f in files if f.startswith("coco/images/")]     # one copy of each image
    doc = json.loads((out / "croissant.json").read_text())
    listed = {d["@id"]: d["sha256"] for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    assert set(listed) == files - {"croissant.json"}
    for name, sha in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name
    assert check_chain(out / "ledger.jsonl") == (demo_run.status.ledger_entries,
                                                 demo_run.status.ledger_head)
    cli = Path(sys.executable).with_name("mlcroissant")
    run = subprocess.run([str(cli), "validate", "--jsonld", str(out / "croissant.json")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "error(s)" not in run.stdout + run.stderr
    # Every COCO file of the bundle is there in full: images, labels, per-label provenance.
    coco = json.loads((out / "coco" / "annotations.json").read_text())
    assert len(coco["images"]) == 6 and len(coco["annotations"]) == report.annotations > 0
    assert {f"yolo/images/train/{im['file_name']}" for im in coco["images"]} <= files
    assert coco["info"]["tracework"]["images"] == "../yolo/images/train"
    yolo_labels = {f for f in files if f.startswith("yolo/labels/")}
    assert len(yolo_labels) == 6
    # What the COCO file carries of the survey, per label, is stated in the documentation.
    surveys = {a["attributes"]["worker"]: a["attributes"]["survey"]
               for a in coco["annotations"] if "survey" in a["attributes"]}
    asked = sorted({q for answers in surveys.values() for q in answers},
                   key=lambda q: int(q[1:]) if q[1:].isdigit() else 10**6)
    assert surveys and "Q9" in asked          # the health question, for those who consented
    stated = (f"The COCO and YOLO exports carry, with each label, the survey answers of its "
              f"maker for the {len(surveys)} workers who consented to publication: "
              + ", ".join(asked) + ".")
    assert stated in json.loads((out / "croissant.json").read_text())[
        "rai:personalSensitiveInformation"]
    assert stated in (out / "DATASHEET.md").read_text()
    # The Croissant file reads back the bundle's own COCO labels.
    mlc = pytest.importorskip("mlcroissant")
    records = list(mlc.Dataset(str(out / "croissant.json")).records("annotations"))
    by_id = {a["id"]: a for a in coco["annotations"]}
    assert sorted(r["annotations/id"] for r in records) == sorted(by_id)
    for r in records:
        a = by_id[r["annotations/id"]]
        assert (r["annotations/image_id"], r["annotations/category_id"],
                list(r["annotations/bbox"]), r["annotations/area"]) == (
            a["image_id"], a["category_id"], a["bbox"], a["area"])
        assert r["annotations/annotator"].decode() == a["attributes"]["worker"]
    # The credits name exactly the contributors who asked to be credited.
    names = sorted((w["credit_name"] for w in truth["workers"]
                    if w["credit_name"] and w["labelled"] and w["consent"]),
                   key=lambda n: (n.casefold(), n))
    credits = json.loads((out / "credits.json").read_text())
    assert credits["credited"] == names and len(names) > 0
    assert credits["contributors"] == demo_run.status.workers_with_work


def test_demo_compensation_answer_states_the_audit_figures(demo_project: Project) -> None:
    labour = pytest.importorskip("tracework.audit.labour")
    audit = labour.labour_audit(demo_project)
    facts = gather(demo_project, select_dataset(demo_project, status="all"))
    sheet = datasheet(facts)
    text = " ".join(a.text for a in sheet.question("Who was involved").answers)
    cur = audit.currency
    assert (audit.submissions, audit.approved, audit.rejected, audit.pending) == (18, 15, 3, 0)
    assert audit.total_paid_cents > 0 and audit.median_hourly_paid is not None
    assert audit.total_unpaid_hours > 0
    for figure in (answers.money(audit.total_paid_cents / 100, cur),
                   answers.money(audit.total_bonus_cents / 100, cur),
                   answers.money(audit.median_hourly_paid, cur),
                   answers.money(audit.median_hourly_all, cur),
                   answers.money(audit.floor_per_hour, cur),
                   f"{audit.total_paid_hours:,.2f} h", f"{audit.total_unpaid_hours:,.2f} h",
                   f"{audit.approved} approved", f"{audit.rejected} rejected",
                   f"{audit.pending} pending"):
        assert figure in text, figure
    assert f"{100 * audit.share_below_floor:.1f}% of workers were paid below it" in text
    assert "12.00 USD per hour" in text        # the demo's wage floor
    assert "Prolific recommended minimum" in text
    assert "rejection rate 16.7%" in text      # 3 of 18


def test_demo_labour_extension_states_the_audit(demo_project: Project, demo_bundle: Any) -> None:
    """Pay, unpaid time, rejections, the wage floor and the value chain: the RAI vocabulary
    has no property for them, so they are in the tracework: extension, as audited."""
    from tracework.audit.labour import labour_audit

    out, _ = demo_bundle
    doc = json.loads((out / "croissant.json").read_text())
    audit = labour_audit(demo_project)
    tw = doc["tracework:labour"]
    assert tw["@type"] == "tracework:LabourConditions"
    assert tw["tracework:currency"] == audit.currency == "USD"
    assert tw["tracework:totalPaid"] == round(audit.total_paid_cents / 100, 2) > 0
    assert tw["tracework:totalBonus"] == round(audit.total_bonus_cents / 100, 2)
    assert tw["tracework:paidHours"] == audit.total_paid_hours
    assert tw["tracework:unpaidHours"] == audit.total_unpaid_hours > 0
    assert tw["tracework:medianHourlyPaid"] == audit.median_hourly_paid
    assert tw["tracework:medianHourlyAll"] == audit.median_hourly_all
    assert tw["tracework:wageFloorPerHour"] == audit.floor_per_hour == 12.0
    assert tw["tracework:wageFloorSource"] == "Prolific recommended minimum (USD)"
    assert tw["tracework:shareBelowFloor"] == audit.share_below_floor
    assert (tw["tracework:submissions"], tw["tracework:approved"], tw["tracework:rejected"],
            tw["tracework:pending"]) == (18, 15, 3, 0)
    assert tw["tracework:rejectionRate"] == pytest.approx(3 / 18)
    # The one reason was given 3 times, fewer than k = 5: counted, not quoted.
    assert tw["tracework:rejectionReasons"] == [{"tracework:reason": "other reasons",
                                                 "tracework:count": 3}]
    assert tw["tracework:workers"] == len(audit.workers)
    chain = demo_project.config["value_chain"]
    vc = doc["tracework:valueChain"]
    assert vc["tracework:requester"] == chain["requester"] == "Demo Requester"
    assert vc["tracework:affiliation"] == chain["affiliation"]
    assert vc["tracework:endClient"] == chain["end_client"]
    assert vc["tracework:purpose"] == chain["purpose"]
    assert vc["tracework:guidelineVersion"] == "1"
    assert doc["rai:dataUseCases"] == ["teaching", "research on data work"]


def _consenting_answers(project: Project) -> dict[str, dict[str, Any]]:
    """Latest survey answers (question -> value) of contributors with link and publish
    consent, read from the store here rather than through tracework.docs."""
    from sqlalchemy import select

    from tracework.core.store.schema import answers as answer_rows
    from tracework.core.store.schema import responses, submissions, workers

    with project.store.read() as conn:
        people = {r.worker for r in conn.execute(select(submissions.c.worker))}
        ok = {w.pseudonym for w in conn.execute(select(workers)) if w.consent_link
              and w.consent_publish and not w.erased and w.pseudonym in people}
        latest = {r.worker: r.id for r in conn.execute(
            select(responses.c.worker, responses.c.id)
            .order_by(responses.c.end_time, responses.c.id)) if r.worker in ok}
        out: dict[str, dict[str, Any]] = {w: {} for w in latest}
        by_id = {rid: w for w, rid in latest.items()}
        for a in conn.execute(select(answer_rows)):
            if a.response_id in by_id and a.value is not None:
                out[by_id[a.response_id]][a.question] = json.loads(a.value)
    return out


def _free_text(project: Project) -> list[str]:
    """Every free-text survey answer of the project (Q4 city, Q10 costs, "other" texts)."""
    from sqlalchemy import select

    from tracework.core.store.schema import answers as answer_rows

    with project.store.read() as conn:
        rows = conn.execute(select(answer_rows)).all()
    found = [json.loads(a.value) for a in rows if a.question in ("Q4", "Q10") and a.value]
    return [str(v) for v in found] + [a.other_text for a in rows if a.other_text]


@pytest.mark.parametrize("k", [None, 2])
def test_demo_demographics_are_suppressed_aggregates(demo_run: DemoReport, tmp_path: Path,
                                                     k: int | None) -> None:
    """The demo publishes free text per worker (publish_free_text = true): the aggregates
    still count only the closed questions, with k = the min_cell setting."""
    from collections import Counter

    from tracework.audit.suppress import suppress_counts

    project = tracework.open_project(demo_run.project,
                                     cli={"min_cell": k} if k is not None else None)
    try:
        want_k = project.settings["min_cell"]
        assert want_k == (k or 5)
        policy = project.config["export"]
        assert policy["publish_free_text"] is True
        assert policy["free_text_questions"] == ["Q4", "Q10"]
        docs.export_croissant(project, tmp_path, status="all")
        docs.export_datasheet(project, tmp_path / "DATASHEET.md", html=True, status="all")
        docs.export_card(project, tmp_path / "README.md", status="all")
        consenting = _consenting_answers(project)
        free = _free_text(project)
    finally:
        project.close()
    doc = json.loads((tmp_path / "croissant.json").read_text())
    lines = doc["rai:annotatorDemographics"]
    assert lines[0].startswith(f"Counts over the {len(consenting)} contributors who consented")
    assert f"fewer than {want_k} people are withheld" in lines[0]
    # city (Q4) and work_set_cost (Q10) are free text: never aggregated.
    assert [line.split(" (")[0] for line in lines[1:]] == ["age_range", "gender", "education"]
    demo = {"age_range": "Q1", "gender": "Q2", "education": "Q3"}
    for line, (name, question) in zip(lines[1:], demo.items()):
        given = [a.get(question) for a in consenting.values()]
        counts = Counter(str(v) for v in given if v not in (None, ""))
        empty = len(given) - sum(1 for v in given if v not in (None, ""))
        expected = suppress_counts({**counts, **({"(no answer)": empty} if empty else {})},
                                   want_k)
        shown = {a: n for a, n in expected.published.items() if a != "(no answer)"}
        text = ", ".join(f"{a}: {n}" for a, n in shown.items()) or "none shown"
        assert line.startswith(f"{name} ({question}): {text}"), line
        assert all(n >= want_k for n in shown.values())
    if k == 2:
        assert any(": none shown" not in line for line in lines[1:])
    # Per annotation, consenting workers' free text is there (the demo enables it) ...
    rows = [json.loads(line) for line in
            (tmp_path / "records" / "annotations.jsonl").read_text().splitlines()]
    assert any(r["annotator_city"] for r in rows)
    # ... and no free-text answer is in any document that aggregates or describes. Short
    # common words ("none", "mouse") could occur in any prose, so only answers that cannot
    # are looked for: those with a character outside ASCII letters and spaces.
    distinctive = {v for v in free if v.strip() and not all(c.isascii() and (c.isalpha() or
                                                                            c == " ")
                                                           for c in v)
                   and len(v) >= 4}
    assert len(distinctive) >= 3, distinctive
    for name in ("croissant.json", "DATASHEET.md", "DATASHEET.html", "README.md"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert [v for v in distinctive if v in text] == [], name


def test_demo_card_metadata_parses_with_huggingface_hub(demo_bundle: Any) -> None:
    hub = pytest.importorskip("huggingface_hub")
    out, _ = demo_bundle
    card = hub.DatasetCard.load(out / "README.md")
    data = card.data
    assert isinstance(data, hub.DatasetCardData)
    again = hub.DatasetCardData(**data.to_dict())        # the metadata round-trips
    assert again.to_dict() == data.to_dict()
    assert data.annotations_creators == ["crowdsourced"]
    assert data.pretty_name == "Mouse parts (tracework demo)"
    assert data.license == "cc-by-4.0"
    assert data.task_categories == ["image-segmentation"]
    assert data.task_ids == ["semantic-segmentation"]
    assert data.size_categories == ["n<1K"]
    # In a bundle the card points the Hub at the images with their labels (the default) and
    # at the per-label records, which are there.
    images, records = data.configs
    assert (images["config_name"], images["default"]) == ("images", True)
    assert records["config_name"] == "annotations"
    for config in (images, records):
        (split,) = config["data_files"]
        assert (out / split["path"]).is_file()
    # The annotation sections are filled from the records.
    assert "#### Who are the annotators?" in card.text
    assert "10 crowdworkers recruited on Amazon Mechanical Turk" in card.text
    assert "Compensation: 10 workers made 18 submissions: 15 approved, 3 rejected" in card.text


def _demo_sheet(project: Project) -> Any:
    return datasheet(gather(project, select_dataset(project, status="all")))


def test_demo_datasheet_says_each_answer_once(demo_project: Project) -> None:
    from tracework.docs.datasheet import render_html, render_markdown

    sheet = _demo_sheet(demo_project)
    text = render_markdown(sheet)
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    repeated = {p: paragraphs.count(p) for p in paragraphs if paragraphs.count(p) > 1}
    assert repeated == {}
    # The compensation paragraph is said once, and pointed to where it is asked again.
    compensation = answers.compensation(gather(demo_project, select_dataset(demo_project,
                                                                            status="all")))
    assert sum(compensation in a.text for s in sheet.sections for q in s.questions
               for a in q.answers) == 1
    cost = sheet.question("What did the work cost").answers
    assert [a.text for a in cost] == [
        "Said under Collection process, in the second paragraph of the answer to “Who was "
        "involved in the data collection process (e.g., students, crowdworkers, contractors) "
        "and how were they compensated (e.g., how much were crowdworkers paid)?”"]
    assert sheet.question("Who was involved").answers[1].text == compensation
    html = render_html(sheet)
    blocks = [b for b in html.split("<dd") if "</dd>" in b]
    assert len(blocks) == len(set(blocks))


def test_demo_datasheet_lists_are_lists(demo_project: Project) -> None:
    from tracework.docs.datasheet import render_html, render_markdown

    sheet = _demo_sheet(demo_project)
    (uses,) = sheet.question("What (other) tasks").answers
    assert uses.items == ("teaching", "research on data work")
    text = render_markdown(sheet)
    assert ("**What (other) tasks could the dataset be used for?**\n\n- teaching\n"
            "- research on data work\n*(from tracework.toml)*\n") in text
    assert "teaching research on data work" not in text
    assert ("<dd class=\"answer\"><ul><li><bdi>teaching</bdi></li><li><bdi>research on data "
            "work</bdi></li></ul>") in render_html(sheet)
    # The demographics: how they were counted, then one item per question.
    facts = gather(demo_project, select_dataset(demo_project, status="all"))
    head, tables = sheet.question("Does the dataset identify any subpopulations").answers
    assert head.text.startswith("Counts over the")
    assert len(tables.items) == len(facts.demographics) >= 2
    for item, table in zip(tables.items, facts.demographics, strict=True):
        n = len(table.answers_withheld)
        if n:
            assert f"; {n} {'category' if n == 1 else 'categories'} withheld" in item
        assert "answers withheld" not in item and "answer withheld" not in item

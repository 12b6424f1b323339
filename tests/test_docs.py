"""Computed documentation: Croissant (checked by mlcroissant), the dataset card (parsed by
huggingface_hub), the datasheet, credits and the bundle."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

import tracework
from builders import small_files
from tracework import docs
from tracework.core.errors import ConflictError
from tracework.core.privacy import set_consent
from tracework.core.project import Project
from tracework.core.store.schema import responses, submissions, workers
from tracework.docs import answers
from tracework.docs.card import hub_license, size_category, yaml_front_matter
from tracework.docs.croissant import ANNOTATIONS_FILE
from tracework.docs.ledger_export import check_chain
from tracework.docs.text import html_text, md
from tracework.docs.vocab import RAI_PROPERTIES, TRACEWORK_PROPERTIES

# The RAI vocabulary (croissant_rai.ttl), typed out here from the format reference so that a
# misspelling in the code cannot also be in the test's list.
VOCABULARY = {
    "dataCollection", "dataCollectionType", "dataCollectionMissingData",
    "dataCollectionRawData", "dataCollectionTimeframe", "dataImputationProtocol",
    "dataManipulationProtocol", "dataPreprocessingProtocol", "dataAnnotationProtocol",
    "dataAnnotationPlatform", "dataAnnotationAnalysis", "annotationsPerItem",
    "annotatorDemographics", "machineAnnotationTools", "dataReleaseMaintenancePlan",
    "personalSensitiveInformation", "dataSocialImpact", "dataBiases", "dataLimitations",
    "dataUseCases",
}

EXPORT_SECTION = """
[export]
publish_free_text = false
free_text_questions = ["Q4", "Q10"]

[export.demographics]
age = "Q1"
gender = "Q2"
education = "Q3"
"""


def configure(project: Project, section: str = EXPORT_SECTION, **meta: Any) -> Project:
    """Reopen ``project`` with an [export] section (and [project] keys) in tracework.toml."""
    path = project.root / "tracework.toml"
    text = path.read_text(encoding="utf-8")
    for key, value in meta.items():
        line = f"{key} = {json.dumps(value)}"
        if re.search(rf"^{key} = ", text, flags=re.M):
            text = re.sub(rf"^{key} = .*$", line, text, count=1, flags=re.M)
        else:
            text = text.replace("[project]\n", f"[project]\n{line}\n", 1)
    text = text.replace('credit_name_column = ""', 'credit_name_column = "Q12"')
    path.write_text(text.replace("[settings]", section + "\n[settings]"), encoding="utf-8")
    url = project.settings["database_url"] or None
    return tracework.open_project(project.root, cli={"database_url": url, "actor": "tester"})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("docs"))


@pytest.fixture
def loaded(project: Project, files: Any) -> Iterator[Project]:
    p = configure(project, license="CC-BY-4.0", keywords="mouse")
    tracework.ingest_mturk(p, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(p, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def sqlite_loaded(sqlite_project: Project, files: Any) -> Iterator[Project]:
    p = configure(sqlite_project, license="CC-BY-4.0")
    tracework.ingest_mturk(p, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(p, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    try:
        yield p
    finally:
        p.close()


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def _terms(value: Any) -> Iterator[str]:
    """Every key and every string value (types, equivalent properties) of a JSON document."""
    yield from _keys(value)
    if isinstance(value, dict):
        for v in value.values():
            yield from _terms(v) if not isinstance(v, str) else iter([v])
    elif isinstance(value, list):
        for v in value:
            yield from _terms(v) if not isinstance(v, str) else iter([v])


# -- Croissant ---------------------------------------------------------------------------------

def test_every_rai_key_is_in_the_vocabulary(loaded: Project, tmp_path: Path) -> None:
    assert set(RAI_PROPERTIES) == VOCABULARY and len(RAI_PROPERTIES) == 20
    docs.export_croissant(loaded, tmp_path / "out", status="all")
    doc = json.loads((tmp_path / "out" / "croissant.json").read_text())
    rai = [k for k in _keys(doc) if k.startswith("rai:")]
    # mlcroissant's two spellings ride along, each beside its vocabulary twin, same value.
    aliases = {"dataCollectionTimeFrame": "dataCollectionTimeframe",
               "dataDataManipulationProtocol": "dataManipulationProtocol"}
    for alias, twin in aliases.items():
        assert doc.get(f"rai:{alias}") == doc.get(f"rai:{twin}"), alias
    rai = [k for k in rai if k.removeprefix("rai:") not in aliases]
    assert rai and all(k.removeprefix("rai:") in VOCABULARY for k in rai), rai
    for wanted in ("dataCollection", "dataCollectionType", "dataCollectionTimeframe",
                   "dataAnnotationProtocol", "dataAnnotationPlatform", "annotationsPerItem",
                   "annotatorDemographics", "personalSensitiveInformation",
                   "dataLimitations", "dataReleaseMaintenancePlan"):
        assert f"rai:{wanted}" in doc, wanted
    # Properties of cardinality ONE take one text.
    for one in VOCABULARY - {"dataCollectionType", "dataCollectionTimeframe",
                             "dataPreprocessingProtocol", "dataAnnotationPlatform",
                             "dataAnnotationAnalysis", "annotatorDemographics",
                             "machineAnnotationTools", "dataReleaseMaintenancePlan",
                             "personalSensitiveInformation", "dataBiases", "dataLimitations",
                             "dataUseCases"}:
        assert isinstance(doc.get(f"rai:{one}", ""), str), one
    tw = {t.removeprefix("tracework:") for t in _terms(doc) if t.startswith("tracework:")}
    assert tw and tw <= TRACEWORK_PROPERTIES, tw - TRACEWORK_PROPERTIES
    assert doc["@context"]["prov"] == "http://www.w3.org/ns/prov#"
    assert doc["@context"]["foaf"] == "http://xmlns.com/foaf/0.1/"
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"


def test_timeframe_and_counts_come_from_the_records(loaded: Project, tmp_path: Path) -> None:
    docs.export_croissant(loaded, tmp_path / "c.json", status="all")
    doc = json.loads((tmp_path / "c.json").read_text())
    with loaded.store.read() as conn:
        start, end = conn.execute(select(func.min(submissions.c.accept_time),
                                         func.max(submissions.c.submit_time))).one()
        people = conn.execute(select(func.count(func.distinct(submissions.c.worker)))).scalar()
    assert doc["rai:dataCollectionTimeframe"] == [start, end]
    assert doc["tracework:contributors"] == people == 8
    # small_files: 6 frames, each labelled by 3 workers.
    assert doc["rai:annotationsPerItem"] == "3 people labelled every item"
    assert doc["rai:dataAnnotationPlatform"] == ["Amazon Mechanical Turk", "Qualtrics",
                                                 "tracework"]
    assert doc["tracework:valueChain"]["tracework:guidelineVersion"] == "1"


RECOMMENDED_COLLECTION_TYPES = {
    "Surveys", "Secondary Data analysis", "Physical data collection", "Direct measurement",
    "Document analysis", "Manual Human Curator", "Software Collection", "Experiments",
    "Web Scraping", "Web API", "Focus groups", "Self-reporting", "Customer feedback data",
    "User-generated content data", "Passive Data Collection", "Others",
}


def test_rai_answers_state_the_records(loaded: Project, tmp_path: Path) -> None:
    from tracework.audit.agreement import agreement_audit
    from tracework.audit.labour import labour_audit

    docs.export_croissant(loaded, tmp_path / "c.json", status="all")
    doc = json.loads((tmp_path / "c.json").read_text())
    protocol = doc["rai:dataAnnotationProtocol"]
    cats = ", ".join(c.name for c in loaded.categories)
    assert f"Task: label the parts of each image ({cats})." in protocol
    assert "Workforce: 8 crowdworkers recruited on Amazon Mechanical Turk" in protocol
    assert "Guideline version: 1;" in protocol
    with loaded.store.read() as conn:
        statuses = dict(conn.execute(select(submissions.c.status, func.count())
                                     .group_by(submissions.c.status)).all())
    # Nothing was reviewed in tracework: the review rule reports the platform's statuses.
    assert "Review: No review decisions were recorded in tracework" in protocol
    for status, n in statuses.items():
        assert f"{status.lower()} {n}" in protocol, status
    labour = labour_audit(loaded)
    assert f"Compensation: {len(labour.workers)} workers made {labour.submissions} " \
           "submissions" in protocol
    assert answers.money(labour.total_paid_cents / 100, labour.currency) in protocol
    # Agreement, per category, as the agreement audit computed it; no aggregation was run.
    analysis = doc["rai:dataAnnotationAnalysis"]
    audit = agreement_audit(loaded, status="all")
    measured = [c for c in audit.masks if c.mean_iou is not None]
    assert measured
    for c in measured:
        assert any(line.startswith(f"{c.category} (masks): mean IoU between pairs of "
                                   f"annotators {c.mean_iou:.3f}, median {c.median_iou:.3f} "
                                   f"over {c.pairs} pairs") for line in analysis), c.category
    assert f"Overall mask IoU: {audit.overall_mask_iou:.3f}." in analysis
    assert analysis[-1].startswith("No aggregation")
    assert set(doc["rai:dataCollectionType"]) <= RECOMMENDED_COLLECTION_TYPES
    assert doc["rai:dataCollectionType"] == ["Manual Human Curator", "Surveys", "Self-reporting"]
    from tracework.core import ledger

    with loaded.store.read() as conn:
        ledger_seq, ledger_head = ledger.head(conn)
    assert f"entry {ledger_seq}, head {ledger_head}" in doc["rai:dataReleaseMaintenancePlan"][0]
    assert any("pseudonym" in t for t in doc["rai:personalSensitiveInformation"])
    assert "Free-text answers (Q10, Q12, Q4) are never published per worker." in \
        doc["rai:personalSensitiveInformation"]


def test_rai_answers_from_project_metadata(project: Project, tmp_path: Path) -> None:
    p = configure(project, license="CC-BY-4.0", social_impact="Makes data work visible.",
                  biases=["Workers recruited from one platform"],
                  machine_annotation_tools=["none"], use_cases=["benchmarking"],
                  data_collection_type=["Manual Human Curator", "Others"])
    path = p.root / "tracework.toml"
    path.write_text(path.read_text().replace("intended_uses = []",
                                             'intended_uses = ["teaching"]'))
    p.close()
    p = tracework.open_project(p.root, cli={"database_url": p.settings["database_url"] or None})
    try:
        docs.export_croissant(p, tmp_path / "c.json", status="all")
    finally:
        p.close()
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["rai:dataSocialImpact"] == "Makes data work visible."
    assert doc["rai:dataBiases"] == ["Workers recruited from one platform"]
    assert doc["rai:machineAnnotationTools"] == ["none"]
    assert doc["rai:dataUseCases"] == ["teaching", "benchmarking"]
    assert doc["rai:dataCollectionType"] == ["Manual Human Curator", "Others"]


def test_tracework_extension_is_documented() -> None:
    from tracework.docs import vocab

    text = vocab.__doc__ or ""
    assert "Namespace IRI :data:`TRACEWORK_NS` (prefix ``tracework``)" in text
    assert vocab.CROISSANT_CONTEXT["tracework"] == vocab.TRACEWORK_NS
    # Every term written is described in the module's documentation, by its prefixed name.
    missing = sorted(t for t in TRACEWORK_PROPERTIES if f"tracework:{t}" not in text)
    assert missing == []
    # What the RAI vocabulary has no property for lives there.
    for term in ("totalPaid", "unpaidHours", "rejectionRate", "wageFloorPerHour",
                 "valueChain"):
        assert term in TRACEWORK_PROPERTIES and term not in VOCABULARY


# mlcroissant's RDF library warns about its own deprecated API; not tracework's concern.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_croissant_validates_and_reads_back_the_coco_labels(sqlite_loaded: Project,
                                                             tmp_path: Path) -> None:
    mlc = pytest.importorskip("mlcroissant")
    out = tmp_path / "out"
    tracework.export_coco(sqlite_loaded, out / "coco", status="all", segmentation="rle")
    docs.export_croissant(sqlite_loaded, out, status="all")
    cli = Path(sys.executable).with_name("mlcroissant")
    run = subprocess.run([str(cli), "validate", "--jsonld", str(out / "croissant.json")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "error(s)" not in run.stdout + run.stderr and "Done." in run.stderr
    coco = json.loads((out / "coco" / "annotations.json").read_text())
    dataset = mlc.Dataset(str(out / "croissant.json"))
    records = list(dataset.records("annotations"))
    assert len(records) == len(coco["annotations"]) == 72
    assert {r["annotations/id"] for r in records} == {a["id"] for a in coco["annotations"]}
    # The reference library reads the per-value provenance as Croissant 1.1 defines it.
    anns = next(rs for rs in dataset.metadata.record_sets if rs.id == "annotations")
    category = next(f for f in anns.fields if f.id == "annotations/category")
    (who,) = category.annotations
    assert who.id == "annotations/category/annotator"
    assert who.equivalentProperty == ["prov:wasAttributedTo"]
    assert {str(t) for t in who.data_types} == {"http://www.w3.org/ns/prov#Person",
                                                "http://xmlns.com/foaf/0.1/Person"}
    subs = {f.id: f for f in who.sub_fields}
    assert subs["annotations/category/annotator/id"].source.extract.column == "annotator"
    by_id = {a["id"]: a for a in coco["annotations"]}
    for r in records:
        a = by_id[r["annotations/id"]]
        assert r["annotations/image_id"] == a["image_id"]
        assert r["annotations/category_id"] == a["category_id"]
        assert list(r["annotations/bbox"]) == a["bbox"]
        assert r["annotations/area"] == a["area"]
        assert r["annotations/annotator"].decode() == a["attributes"]["worker"]
        assert r["annotations/segmentation"].decode() == a["segmentation"]["counts"]
        assert r["annotations/review_status"].decode() == a["attributes"]["review_status"]
        assert [r["annotations/mask_height"], r["annotations/mask_width"]] == \
            a["segmentation"]["size"]
        assert r["annotations/submission"] == a["attributes"]["submission"]
    images = list(mlc.Dataset(str(out / "croissant.json")).records("images"))
    assert sorted(r["images/id"] for r in images) == sorted(i["id"] for i in coco["images"])


def test_each_label_is_attributed_to_its_maker(loaded: Project, tmp_path: Path) -> None:
    docs.export_croissant(loaded, tmp_path / "out", status="all")
    doc = json.loads((tmp_path / "out" / "croissant.json").read_text())
    anns = next(rs for rs in doc["recordSet"] if rs["@id"] == "annotations")
    category = next(f for f in anns["field"] if f["@id"] == "annotations/category")
    who = category["annotation"]
    assert who["equivalentProperty"] == "prov:wasAttributedTo"
    assert who["dataType"] == ["prov:Person", "foaf:Person"]
    subs = {s["@id"].rsplit("/", 1)[1]: s for s in who["subField"]}
    assert subs["id"]["source"]["extract"]["column"] == "annotator"
    assert subs["gender"]["equivalentProperty"] == "foaf:gender"
    assert set(subs) == {"id", "age", "gender", "education"}
    rows = [json.loads(line) for line in
            (tmp_path / "out" / ANNOTATIONS_FILE).read_text().splitlines()]
    with loaded.store.read() as conn:
        consent = {w.pseudonym: w.consent_publish for w in conn.execute(select(workers))}
        answers_q2 = {}
        for r in conn.execute(select(responses.c.worker, responses.c.raw)):
            if r.worker:
                answers_q2[r.worker] = json.loads(r.raw).get("Q2", "")
    assert any(consent[r["annotator"]] for r in rows)
    assert any(not consent[r["annotator"]] for r in rows)
    for r in rows:
        expected = answers_q2.get(r["annotator"], "") if consent[r["annotator"]] else ""
        assert r["annotator_gender"] == expected
        assert "annotator_city" not in r


# -- dataset card ------------------------------------------------------------------------------

def test_card_metadata_parses_with_huggingface_hub(sqlite_loaded: Project, tmp_path: Path) -> None:
    hub = pytest.importorskip("huggingface_hub")
    docs.export_card(sqlite_loaded, tmp_path / "card", status="all")
    card = hub.DatasetCard.load(tmp_path / "card" / "README.md")
    data = card.data
    assert data.annotations_creators == ["crowdsourced"]
    assert data.task_categories == ["image-segmentation"]
    assert data.size_categories == ["n<1K"]
    assert data.license == "cc-by-4.0"
    assert data.pretty_name == "Mouse parts"
    assert "## Annotations" in card.text or "### Annotations" in card.text
    assert "Who are the annotators?" in card.text


@pytest.mark.parametrize("n,name", [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"),
                                    (99_999, "10K<n<100K"), (1_000_000, "1M<n<10M")])
def test_size_category_bounds(n: int, name: str) -> None:
    assert size_category(n) == name


def test_hub_license_ids() -> None:
    assert hub_license("CC-BY-4.0") == ("cc-by-4.0", "")
    assert hub_license("Apache-2.0") == ("apache-2.0", "")
    assert hub_license("MIT") == ("mit", "")
    assert hub_license("LicenseRef-mine") == ("other", "LicenseRef-mine")


@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True),
                       st.one_of(st.text(), st.lists(st.text(), min_size=1), st.integers()),
                       max_size=5))
def test_yaml_front_matter_round_trips(meta: dict[str, Any]) -> None:
    text = yaml_front_matter(meta)
    assert text.startswith("---\n") and text.endswith("\n---\n")
    assert yaml.safe_load(text.strip().strip("-")) == (meta or None)


# -- datasheet ---------------------------------------------------------------------------------

def test_datasheet_answers_from_the_records(loaded: Project, tmp_path: Path) -> None:
    report = docs.export_datasheet(loaded, tmp_path / "ds.md", html=True, status="all")
    assert report.files == ["ds.md", "ds.html"]
    text = (tmp_path / "ds.md").read_text()
    for heading in ("Motivation", "Composition", "Collection process",
                    "Preprocessing, cleaning, labeling", "Uses", "Distribution", "Maintenance",
                    "For data workers"):
        assert f"## {heading}" in text
    from tracework.dataset import select_dataset
    from tracework.docs.datasheet import datasheet
    from tracework.docs.facts import gather

    facts = gather(loaded, select_dataset(loaded, status="all"))
    sheet = datasheet(facts)
    assert "8 crowdworkers" in sheet.question("Who was involved").answers[0].text
    with loaded.store.read() as conn:
        start, end = conn.execute(select(func.min(submissions.c.accept_time),
                                         func.max(submissions.c.submit_time))).one()
        consented = {scope: sum(1 for w in conn.execute(select(workers))
                                if getattr(w, f"consent_{scope}") and not w.erased)
                     for scope in ("link", "publish", "credit")}
    when = sheet.question("Over what timeframe").answers[0].text
    assert when.startswith(f"Labels were submitted between {start} and {end}.")
    revoke = sheet.question("If consent was obtained").answers[0].text
    assert "revoked at any time through the worker's private page" in revoke
    asked = sheet.question("Did the individuals in question consent").answers[0].text
    for scope, n in consented.items():
        assert f"{scope}: {n}" in asked, scope
    tools = sheet.question("Is the software").answers[0].text
    assert tools.startswith(f"tracework {tracework.__version__}")
    assert "Amazon Mechanical Turk" in tools
    labelling = sheet.question("Was any preprocessing").answers[0].text
    assert "COCO run-length encoding" in labelling and "Guideline version: 1" in labelling
    how = sheet.question("How will the dataset be distributed").answers[0].text
    assert "SHA-256" in how and "change log" in how
    updated = sheet.question("Will the dataset be updated").answers[0].text
    assert facts.ledger_head in updated
    assert not sheet.question("Who funded").answered    # only a person knows
    funding = ("To be answered by the dataset's creators, in tracework.toml [project] funding: "
               "the records cannot answer this.")
    assert sheet.question("Who funded").answers[0].text == funding
    assert f"**Who funded the creation of the dataset?**\n\n*{md(funding)}*" in text
    html = (tmp_path / "ds.html").read_text()
    assert "Content-Security-Policy" in html and "<script" not in html


def test_markdown_and_html_text_is_inert() -> None:
    hostile = "# Title\n- item <script>alert(1)</script> [x](javascript:alert(1)) `c` \u202eevil"
    out = md(hostile)
    assert "\n" not in out and "<script" not in out and "](" not in out.replace("\\]", "")
    assert out.startswith("\\#") and "U+202E" in out
    assert md("1. first") == "1\\. first" and md("- x").startswith("\\-")
    assert "<script" not in html_text(hostile) and "U+202E" in html_text(hostile)


# -- credits -----------------------------------------------------------------------------------

def test_credits_name_only_those_who_consented(loaded: Project, tmp_path: Path) -> None:
    from tracework.core.ledger import LedgerWriter

    with loaded.store.read() as conn:
        people = sorted({r.worker for r in conn.execute(select(submissions.c.worker))})
    with loaded.store.write() as conn:
        log = LedgerWriter(conn, "tester")
        for w in people:
            set_consent(conn, log, w, ["link"], reason="test reset")
        set_consent(conn, log, people[0], ["credit"], credit_name="Zoë Q.", reason="test")
        set_consent(conn, log, people[1], ["credit", "publish"], credit_name="ada L",
                    reason="test")
        # A name without the credit scope is not a consent to be named.
        set_consent(conn, log, people[2], ["link"], credit_name="Hidden Name", reason="test")
        log.flush()
    report = docs.export_credits(loaded, tmp_path / "cr", status="all")
    assert report.credited == 2 and report.workers == 8
    doc = json.loads((tmp_path / "cr" / "credits.json").read_text())
    assert doc["credited"] == ["ada L", "Zoë Q."]
    assert doc["contributors"] == 8 and doc["not_named"] == 6
    text = (tmp_path / "cr" / "CREDITS.md").read_text()
    assert "- ada L" in text and "- Zoë Q." in text and "6 more people" in text
    # The other documents name the same people, and only them.
    docs.export_datasheet(loaded, tmp_path / "cr" / "DATASHEET.md", html=True, status="all")
    docs.export_card(loaded, tmp_path / "cr" / "README.md", status="all")
    docs.export_croissant(loaded, tmp_path / "cr", status="all")
    sheet = (tmp_path / "cr" / "DATASHEET.md").read_text()
    assert "Credited by the name each chose: ada L, Zoë Q.; 6 more chose not to be named." \
        in sheet
    card = (tmp_path / "cr" / "README.md").read_text()
    assert "Credits: ada L, Zoë Q., and 6 more who chose not to be named." in card
    croissant = json.loads((tmp_path / "cr" / "croissant.json").read_text())
    # Croissant also describes each annotation's maker: names stay in the credits files.
    assert "contributor" not in croissant
    assert croissant["tracework:creditedWorkers"] == 2
    for path in (tmp_path / "cr").rglob("*"):
        if not path.is_file():
            continue
        content = path.read_text()
        assert "Hidden Name" not in content, path
        if path.parent.name != "records":    # labels carry pseudonyms; credits never do
            assert not any(w in content for w in people), path


# -- bundle and ledger -------------------------------------------------------------------------

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundle_lists_every_file_with_its_hash(loaded: Project, files: Any,
                                               tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    report = docs.export_bundle(loaded, out, status="all", images_dir=files.images_dir)
    listed = set(report.files)
    for part in ("coco/annotations.json", "yolo/data.yaml", "yolo/provenance.jsonl",
                 "records/annotations.jsonl", "records/images.jsonl", "DATASHEET.md",
                 "DATASHEET.html", "README.md", "CREDITS.md", "credits.json", "ledger.jsonl",
                 "ledger-head.json", "croissant.json"):
        assert part in listed, part
    assert sum(1 for f in listed if f.startswith("yolo/images/train/")) == 6
    assert not [f for f in listed if f.startswith("coco/images/")]     # one copy of each image
    doc = json.loads((out / "croissant.json").read_text())
    objects = {d["@id"]: d for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    assert set(objects) == listed - {"croissant.json"}
    for name, obj in objects.items():
        assert obj["sha256"] == _sha(out / name), name
        assert obj["contentSize"] == f"{(out / name).stat().st_size} B"
    count, head = check_chain(out / "ledger.jsonl")
    with loaded.store.read() as conn:
        from tracework.core import ledger

        assert (count, head) == ledger.head(conn)
    assert json.loads((out / "ledger-head.json").read_text())["head"] == head
    assert doc["tracework:ledgerHead"] == head == report.ledger_head
    with pytest.raises(ConflictError):
        docs.export_bundle(loaded, out, status="all")
    again = docs.export_bundle(loaded, out, status="all", replace=True)
    assert "yolo/images/train/mouse_0001.jpeg" not in again.files    # no stale files kept


def test_published_log_keeps_out_names_and_notes(loaded: Project, tmp_path: Path) -> None:
    from tracework.core.ledger import LedgerWriter
    from tracework.fieldnotes import notes

    with loaded.store.read() as conn:
        person = conn.execute(select(submissions.c.worker)).first()[0]
    with loaded.store.write() as conn:
        log = LedgerWriter(conn, "tester")
        set_consent(conn, log, person, ["credit"], credit_name="Withdrawn Name", reason="t")
        set_consent(conn, log, person, [], credit_name=None, reason="withdrew")
        log.flush()
    notes.add(loaded, f"worker:{person}", "NOTE-ABOUT-A-PERSON", concern="other")
    notes.add(loaded, "category:Cable", "Cable ends are hard to see", concern="taxonomy")
    from tracework.docs.ledger_export import export_ledger

    result = export_ledger(loaded, tmp_path)
    text = (tmp_path / "ledger.jsonl").read_text()
    assert "Withdrawn Name" not in text and "NOTE-ABOUT-A-PERSON" not in text
    # The names and the notes' texts are published as salted commitments, so these entries
    # are published whole and their hashes recomputed from the published log alone.
    published = [json.loads(line) for line in text.splitlines()]
    sealed = [e for e in published if e["field"] == "credit_name" or e["action"] == "note.add"]
    assert len(sealed) == 4 and not [e for e in sealed if "redacted" in e]
    assert [e["new"]["text"]["commit"][:7] for e in sealed if e["action"] == "note.add"] == [
        "sha256:", "sha256:"]
    assert check_chain(tmp_path / "ledger.jsonl") == (result.entries, result.head)
    sheet = docs.export_datasheet(loaded, tmp_path / "ds.md", status="all")
    ds = Path(sheet.out).read_text()
    assert "Cable ends are hard to see" in ds and "NOTE-ABOUT-A-PERSON" not in ds
    from tracework.dataset import select_dataset
    from tracework.docs.datasheet import datasheet
    from tracework.docs.facts import gather

    workers_section = datasheet(gather(loaded, select_dataset(loaded, status="all"))).sections[-1]
    assert workers_section.title == "For data workers"
    hard = next(q for q in workers_section.questions if q.text.startswith("What was hard"))
    assert [(a.text, a.source) for a in hard.answers] == [
        ("[taxonomy] Cable ends are hard to see", "fieldnotes")]


def test_published_log_links_responses_only_with_consent(loaded: Project,
                                                         tmp_path: Path) -> None:
    from tracework.docs.ledger_export import export_ledger

    with loaded.store.read() as conn:
        linkable = {w.pseudonym for w in conn.execute(select(workers))
                    if w.consent_link and not w.erased}
        answered = {r.worker for r in conn.execute(select(responses.c.worker)) if r.worker}
    assert answered & linkable and answered - linkable     # both kinds in the example
    result = export_ledger(loaded, tmp_path)
    entries = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    created = [e for e in entries if e["action"] == "response.create"]
    named = {e["new"]["worker"] for e in created if e["new"]}
    assert named == answered & linkable
    hidden = [e for e in created if not e["new"]]
    assert len(hidden) >= len(answered - linkable) and all(
        e["redacted"] == ["old", "new"] for e in hidden)
    text = (tmp_path / "ledger.jsonl").read_text()
    for w in answered - linkable:
        assert f'"target": "worker:{w}"' in text       # the worker is there, by pseudonym ...
        assert not any(w in json.dumps(e["new"]) for e in created)   # ... but not the link
    assert check_chain(tmp_path / "ledger.jsonl") == (result.entries, result.head)


def test_answers_phrase_money_and_shares() -> None:
    assert answers.money(1234.5, "USD") == "1,234.50 USD"
    assert answers.money(None, "USD") == "not measured"
    assert answers.reason_counts({"blank": 2}) == [("blank", 2)]
    assert answers.reason_counts([("blank", 2), ("late", 1)]) == [("blank", 2), ("late", 1)]


def test_demographic_tables_use_the_audit_suppression() -> None:
    from tracework.docs.rooms import NO_ANSWER, demographic_tables

    people = {f"w{i}": {"gender": g} for i, g in enumerate(
        ["Female", "Female", "Female", "Male", "Male", "Non binary", "", None])}
    (table,) = demographic_tables(people, {"gender": "Q2"}, k=2)
    # Non binary (1) is under k; the two who left it empty are withheld with it (the smallest
    # other cell) so that it cannot be worked out from the total.
    assert table.answers_shown == {"Female": 3, "Male": 2}
    assert table.answers_withheld == ["Non binary"]
    assert sorted(table.suppression.suppressed) == [NO_ANSWER, "Non binary"]
    assert table.unanswered == 2 and table.unanswered_shown is None
    # One person leaving it empty is a small cell like any other.
    people = {f"w{i}": {"gender": g} for i, g in enumerate(["Female"] * 5 + ["Male"] * 5 + [""])}
    (table,) = demographic_tables(people, {"gender": "Q2"}, k=5)
    assert table.unanswered == 1 and table.unanswered_shown is None
    assert NO_ANSWER in table.suppression.suppressed
    lines = answers.demographics_lines(_facts_with(table, people=11, k=5))
    assert "left it empty" not in " ".join(lines)
    # Enough of them, and it is shown.
    people = {f"w{i}": {"gender": g} for i, g in enumerate(["Female"] * 5 + [""] * 5)}
    (table,) = demographic_tables(people, {"gender": "Q2"}, k=5)
    assert table.unanswered_shown == 5
    assert answers.demographics_lines(_facts_with(table, people=10, k=5))[1] == (
        "gender (Q2): Female: 5; 5 left it empty.")


def _facts_with(table: Any, *, people: int, k: int) -> Any:
    """Just enough of the facts for :func:`answers.demographics_lines`."""
    from types import SimpleNamespace

    from tracework.dataset.policy import SurveyPolicy

    return SimpleNamespace(policy=SurveyPolicy({"gender": "Q2"}, frozenset()), min_cell=k,
                           demographic_answers={f"w{i}": {} for i in range(people)},
                           demographics=[table])


def test_fewer_people_than_k_are_not_counted_exactly() -> None:
    from tracework.docs.rooms import demographic_tables

    people = {f"w{i}": {"gender": g} for i, g in enumerate(["Female", "Female", "Male"])}
    (table,) = demographic_tables(people, {"gender": "Q2"}, k=5)
    lines = answers.demographics_lines(_facts_with(table, people=3, k=5))
    assert lines[0].startswith("Counts over the fewer than 5 contributors who consented")
    # Two answer options (categories) are withheld, not two people's answers.
    assert lines[1] == "gender (Q2): none shown; 2 categories withheld."


def test_one_withheld_category_is_said_in_the_singular() -> None:
    from types import SimpleNamespace

    table = SimpleNamespace(name="gender", question="Q2", answers_shown={"Female": 6},
                            answers_withheld=["Non-binary"], unanswered_shown=None)
    lines = answers.demographics_lines(_facts_with(table, people=9, k=5))
    assert lines[1] == "gender (Q2): Female: 6; 1 category withheld."


def _consenting_answers(project: Project, question: str) -> list[str]:
    """Worked out here from the store, not through tracework.docs: the answers to ``question``
    of the contributors who consented to linking and publication (latest response each)."""
    with project.store.read() as conn:
        people = {r.worker for r in conn.execute(select(submissions.c.worker))}
        ok = {w.pseudonym for w in conn.execute(select(workers)) if w.consent_link
              and w.consent_publish and not w.erased and w.pseudonym in people}
        latest: dict[str, str] = {}
        for r in conn.execute(select(responses.c.worker, responses.c.raw)
                              .order_by(responses.c.end_time, responses.c.id)):
            if r.worker in ok:
                latest[r.worker] = str(json.loads(r.raw).get(question) or "")
    return list(latest.values())


def _shown(line: str) -> dict[str, int]:
    """The answer counts one published demographics line shows."""
    cells = line.split(": ", 1)[1].split(";")[0].rstrip(".")
    if cells == "none shown":
        return {}
    return {v: int(n) for v, n in (c.rsplit(": ", 1) for c in cells.split(", "))}


@pytest.mark.parametrize("k", [None, 2, 3])
def test_published_demographics_have_no_small_cells(loaded: Project, tmp_path: Path,
                                                    k: int | None) -> None:
    from collections import Counter

    from tracework.audit.suppress import suppress_counts

    assert loaded.settings["min_cell"] == 5        # the default
    project = loaded
    if k is not None:       # k is the min_cell setting, here given on the command line
        url = loaded.settings["database_url"] or None
        project = tracework.open_project(loaded.root, cli={"database_url": url,
                                                           "min_cell": k})
    try:
        want_k = project.settings["min_cell"]
        assert want_k == (k or 5)
        docs.export_croissant(project, tmp_path / "c.json", status="all")
        doc = json.loads((tmp_path / "c.json").read_text())
        lines = doc["rai:annotatorDemographics"]
        assert lines[0].startswith("Counts over the ")
        assert f"fewer than {want_k} people are withheld" in lines[0]
        assert [line.split(" (")[0] for line in lines[1:]] == ["age", "gender", "education"]
        for line in lines[1:]:
            for cell in re.findall(r"(?:: |; )(\d+)(?:[,;.]| left it empty)", line):
                assert int(cell) == 0 or int(cell) >= want_k, line
        # The gender line shows exactly what the audit room's suppression lets out of the
        # consenting contributors' answers.
        given = _consenting_answers(project, "Q2")
        counts = Counter(a for a in given if a)
        expected = suppress_counts({**counts, **({"(no answer)": len(given) - sum(
            counts.values())} if len(given) > sum(counts.values()) else {})}, want_k)
        shown = _shown(lines[2])
        assert shown == {a: n for a, n in expected.published.items() if a != "(no answer)"}
        if k == 2:
            assert shown, "k = 2 should let some of the small example's answers out"
    finally:
        if project is not loaded:
            project.close()


def test_docs_commands_have_help_with_an_example() -> None:
    from tracework.cli import cli

    export = cli.commands["export"]
    for name in ("croissant", "datasheet", "card", "credits", "bundle"):
        sub = export.commands[name]  # type: ignore[attr-defined]
        assert "Example" in (sub.help or ""), name

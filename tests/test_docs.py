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
from builders import small_files
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

import tracework
from tracework import docs
from tracework.docs import answers
from tracework.docs.card import hub_license, size_category, yaml_front_matter
from tracework.docs.croissant import ANNOTATIONS_FILE
from tracework.docs.ledger_export import check_chain
from tracework.docs.text import html_text, md
from tracework.docs.vocab import RAI_PROPERTIES, TRACEWORK_PROPERTIES
from tracework.errors import ConflictError
from tracework.privacy import set_consent
from tracework.project import Project
from tracework.store.schema import responses, submissions, workers

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


def configure(project: Project, section: str = EXPORT_SECTION, **meta: str) -> Project:
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


# mlcroissant's RDF library warns about its own deprecated API; not tracework's concern.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_croissant_validates_and_reads_back_the_coco_labels(sqlite_loaded: Project,
                                                             tmp_path: Path) -> None:
    mlc = pytest.importorskip("mlcroissant")
    out = tmp_path / "out"
    tracework.export_coco(sqlite_loaded, out / "coco", status="all")
    docs.export_croissant(sqlite_loaded, out, status="all")
    cli = Path(sys.executable).with_name("mlcroissant")
    run = subprocess.run([str(cli), "validate", "--jsonld", str(out / "croissant.json")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "error(s)" not in run.stderr
    coco = json.loads((out / "coco" / "annotations.json").read_text())
    records = list(mlc.Dataset(str(out / "croissant.json")).records("annotations"))
    assert len(records) == len(coco["annotations"]) == 72
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
    from tracework.docs.datasheet import datasheet
    from tracework.docs.facts import gather
    from tracework.dataset import select_dataset

    sheet = datasheet(gather(loaded, select_dataset(loaded, status="all")))
    assert "8 crowdworkers" in sheet.question("Who was involved").answers[0].text
    assert sheet.question("Over what timeframe").answered
    revoke = sheet.question("If consent was obtained").answers[0].text
    assert "revoked" in revoke
    assert not sheet.question("Who funded").answered    # only a person knows
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
    from tracework.ledger import LedgerWriter

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
    for path in (tmp_path / "cr").iterdir():
        content = path.read_text()
        assert "Hidden Name" not in content
        assert not any(w in content for w in people)


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
    assert sum(1 for f in listed if f.startswith("coco/images/")) == 6
    doc = json.loads((out / "croissant.json").read_text())
    objects = {d["@id"]: d for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    assert set(objects) == listed - {"croissant.json"}
    for name, obj in objects.items():
        assert obj["sha256"] == _sha(out / name), name
        assert obj["contentSize"] == f"{(out / name).stat().st_size} B"
    count, head = check_chain(out / "ledger.jsonl")
    with loaded.store.read() as conn:
        from tracework import ledger

        assert (count, head) == ledger.head(conn)
    assert json.loads((out / "ledger-head.json").read_text())["head"] == head
    assert doc["tracework:ledgerHead"] == head == report.ledger_head
    with pytest.raises(ConflictError):
        docs.export_bundle(loaded, out, status="all")
    again = docs.export_bundle(loaded, out, status="all", replace=True)
    assert "coco/images/mouse_0001.jpeg" not in again.files    # no stale files kept


def test_published_log_keeps_out_names_and_notes(loaded: Project, tmp_path: Path) -> None:
    from tracework import notes
    from tracework.ledger import LedgerWriter

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
    assert result.redacted >= 4
    assert check_chain(tmp_path / "ledger.jsonl") == (result.entries, result.head)
    sheet = docs.export_datasheet(loaded, tmp_path / "ds.md", status="all")
    ds = Path(sheet.out).read_text()
    assert "Cable ends are hard to see" in ds and "NOTE-ABOUT-A-PERSON" not in ds


def test_answers_phrase_money_and_shares() -> None:
    assert answers.money(1234.5, "USD") == "1,234.50 USD"
    assert answers.money(None, "USD") == "not measured"
    assert answers.reason_counts({"blank": 2}) == [("blank", 2)]
    assert answers.reason_counts([("blank", 2), ("late", 1)]) == [("blank", 2), ("late", 1)]


def test_demographic_tables_use_the_audit_suppression() -> None:
    from tracework.docs.rooms import demographic_tables

    people = {f"w{i}": {"gender": g} for i, g in enumerate(
        ["Female", "Female", "Female", "Male", "Male", "Non binary", ""])}
    (table,) = demographic_tables(people, {"gender": "Q2"}, k=2)
    # Non binary (1) is under k; Male (2) is withheld with it so it cannot be worked out.
    assert table.suppression.published == {"Female": 3}
    assert sorted(table.suppression.suppressed) == ["Male", "Non binary"]
    assert table.unanswered == 1


def test_published_demographics_have_no_small_cells(loaded: Project, tmp_path: Path) -> None:
    docs.export_croissant(loaded, tmp_path / "c.json", status="all")
    doc = json.loads((tmp_path / "c.json").read_text())
    lines = doc["rai:annotatorDemographics"]
    assert lines[0].startswith("Counts over the ")
    assert [line.split(" (")[0] for line in lines[1:]] == ["age", "gender", "education"]
    for line in lines[1:]:
        for cell in re.findall(r": (\d+)[,;.]", line):
            assert int(cell) == 0 or int(cell) >= loaded.settings["min_cell"], line


def test_docs_commands_have_help_with_an_example() -> None:
    from tracework.cli import cli

    export = cli.commands["export"]
    for name in ("croissant", "datasheet", "card", "credits", "bundle"):
        sub = export.commands[name]  # type: ignore[attr-defined]
        assert "Example" in (sub.help or ""), name

"""Croissant 1.1 metadata, with the Responsible-AI vocabulary computed from the records.

:func:`export_croissant` writes ``croissant.json`` describing every file of the folder it is
written to (a tracework bundle, or any export folder), each file with its SHA-256 and size,
and two record sets read from JSON Lines files it writes beside it under ``records/``:

- ``images``: one record per image (id, file name, size, SHA-256, how many labels and people);
- ``annotations``: one record per label, the same labels as the COCO export of the same
  selection (id, image, category, box, area, RLE mask) with its provenance. The category
  field carries Croissant 1.1's per-value provenance: an ``annotation`` whose
  ``equivalentProperty`` is ``prov:wasAttributedTo``, a ``prov:Person``/``foaf:Person`` with
  the worker's pseudonym and, for workers who consented to publication, the demographic
  answers the project publishes (see :mod:`tracework.docs.policy`).

When the folder holds image files, a ``FileSet`` and an ``image_files`` record set give their
content. Every ``rai:`` property is one of the vocabulary's 20; pay, unpaid time, rejections,
the wage floor and the value chain go in the ``tracework:`` extension documented in
:mod:`tracework.docs.vocab`. ``croissant.json`` itself is the one file it cannot list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracework.core.files import open_atomic, safe_name, write_atomic
from tracework.core.model import Annotation
from tracework.core.project import Project
from tracework.dataset import supervision
from tracework.dataset.policy import published_demographics
from tracework.dataset.select import open_selection
from tracework.docs import answers
from tracework.docs.facts import Facts, gather
from tracework.docs.vocab import CONFORMS_TO, CROISSANT_CONTEXT, MLCROISSANT_SPELLINGS, RAI_MANY
from tracework.formats import coco

__all__ = ["DocsReport", "croissant_document", "export_croissant", "records_writer",
           "write_records",
           "ANNOTATIONS_FILE", "IMAGES_FILE", "CROISSANT_FILE"]

CROISSANT_FILE = "croissant.json"
ANNOTATIONS_FILE = "records/annotations.jsonl"
IMAGES_FILE = "records/images.jsonl"

_MEDIA = {
    ".json": "application/json", ".jsonl": "application/jsonlines", ".md": "text/markdown",
    ".html": "text/html", ".txt": "text/plain", ".yaml": "application/yaml",
    ".yml": "application/yaml", ".csv": "text/csv", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".png": "image/png", ".parquet": "application/x-parquet",
}
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass
class DocsReport:
    """What a documentation export wrote."""

    format: str
    out: str
    files: list[str] = field(default_factory=list)
    images: int = 0
    annotations: int = 0
    workers: int = 0
    credited: int = 0
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def target_file(out: Path | str, default_name: str, suffixes: Collection[str]) -> Path:
    """``out`` itself when it ends in one of ``suffixes``, else ``out/default_name``."""
    path = Path(out)
    return path if path.suffix.lower() in suffixes else path / default_name


# -- the record files ------------------------------------------------------------------------

def _annotation_row(item: dict[str, Any], cats: dict[int, str], names: dict[int, str],
                    demographics: dict[str, dict[str, str]],
                    fields: Collection[str]) -> dict[str, Any]:
    """The flat row of one COCO annotation (RLE segmentation), with its provenance."""
    attrs = item["attributes"]
    seg = item["segmentation"]
    rle = seg if isinstance(seg, dict) else None
    worker = str(attrs["worker"])
    row = {
        "id": item["id"], "image_id": item["image_id"],
        "file_name": names.get(item["image_id"], ""),
        "category_id": item["category_id"], "category": cats[item["category_id"]],
        "original_category": str(attrs.get("original_category", cats[item["category_id"]])),
        "bbox": item["bbox"], "area": float(item["area"]),
        "segmentation": rle["counts"] if rle else "",
        "mask_height": int(rle["size"][0]) if rle else 0,
        "mask_width": int(rle["size"][1]) if rle else 0,
        "annotator": worker,
        "submission": int(attrs["submission"]), "batch": int(attrs["batch"]),
        "review_status": str(attrs["review_status"]),
        "taxonomy_version": int(attrs["taxonomy_version"]),
        "time_on_task_s": float(attrs["time_on_task_s"] or 0.0),
        "time_kind": str(attrs["time_kind"]),
        "reward_cents": int(attrs["reward_cents"] or 0),
        **supervision.columns_of(attrs),
    }
    published = demographics.get(worker, {})
    for name in fields:
        row[f"annotator_{name}"] = published.get(name, "")
    return row


def _image_rows(facts: Facts) -> Iterator[dict[str, Any]]:
    labels = facts.labels
    for im in facts.data.images:
        yield {"id": im.id, "file_name": safe_name(im.file_name, f"image_{im.id}"),
               "width": im.width, "height": im.height, "sha256": im.sha256 or "",
               "labels": labels.per_image.get(im.id, 0),
               "annotators": labels.people.get(im.id, 0)}


def _jsonl(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


@contextmanager
def records_writer(project: Project, facts: Facts,
                   folder: Path) -> Iterator[Callable[[Annotation], None]]:
    """``records/annotations.jsonl`` under ``folder``, one row per annotation the block adds
    (the same labels as the COCO export of the selection, in its order), and, when the block
    ends, ``records/images.jsonl``."""
    fields = list(facts.policy.per_worker_fields())
    with project.store.read() as conn:
        published = published_demographics(conn, facts.policy, facts.data.workers)
    data = facts.data
    cat_ids = coco.category_ids(data)
    cats = {i: name for name, i in cat_ids.items()}
    names = {im.id: safe_name(im.file_name, f"image_{im.id}") for im in data.images}
    with open_atomic(folder / ANNOTATIONS_FILE) as fh:

        def add(ann: Annotation) -> None:
            fh.write(_jsonl(_annotation_row(coco.annotation(ann, cat_ids, "rle"), cats, names,
                                            published, fields)))

        yield add
    with open_atomic(folder / IMAGES_FILE) as fh:
        for row in _image_rows(facts):
            fh.write(_jsonl(row))


def write_records(project: Project, facts: Facts, folder: Path) -> list[str]:
    """Write ``records/annotations.jsonl`` and ``records/images.jsonl`` under ``folder``, from
    the annotations of ``facts.data``."""
    if len(facts.data.annotations) != facts.labels.total:
        raise ValueError("these facts hold no annotations to write: stream them through "
                         "records_writer")
    with records_writer(project, facts, folder) as add:
        for ann in facts.data.annotations:
            add(ann)
    return [ANNOTATIONS_FILE, IMAGES_FILE]


# -- distribution ------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path, skip: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path == skip or not path.is_file() or path.is_symlink():
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue    # temporary files of an atomic write, hidden files
        found.append(path)
    return found


def _file_object(folder: Path, path: Path) -> dict[str, Any]:
    rel = path.relative_to(folder).as_posix()
    return {"@type": "cr:FileObject", "@id": rel, "name": rel, "contentUrl": rel,
            "contentSize": f"{path.stat().st_size} B",
            "encodingFormat": _MEDIA.get(path.suffix.lower(), "application/octet-stream"),
            "sha256": _sha256(path)}


def _image_globs(folder: Path, files: list[Path]) -> list[str]:
    globs = set()
    for path in files:
        if path.suffix.lower() in _IMAGE_SUFFIXES:
            parent = path.parent.relative_to(folder).as_posix()
            globs.add(f"{parent}/*{path.suffix}" if parent != "." else f"*{path.suffix}")
    return sorted(globs)


def distribution(folder: Path, skip: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """A FileObject (with SHA-256 and size) for every file under ``folder``, a FileSet for
    the image files; and the image globs."""
    files = _files(folder, skip)
    out = [_file_object(folder, p) for p in files]
    globs = _image_globs(folder, files)
    if globs:
        out.append({"@type": "cr:FileSet", "@id": "image-files", "name": "image-files",
                    "description": "The images, as copied into the export(s).",
                    "encodingFormat": sorted({_MEDIA[p.suffix.lower()] for p in files
                                              if p.suffix.lower() in _IMAGE_SUFFIXES}),
                    "includes": globs})
    return out, globs


# -- record sets -------------------------------------------------------------------------------

def _field(rs: str, name: str, dtype: Any, source: str | None, description: str,
           **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "cr:Field", "@id": f"{rs}/{name}", "name": name,
                           "description": description, "dataType": dtype}
    if source is not None:
        out["source"] = {"fileObject": {"@id": source}, "extract": {"column": name}}
    out.update(extra)
    return out


def _annotator(facts: Facts) -> dict[str, Any]:
    """Croissant 1.1's per-value provenance: who made each label."""
    rs = "annotations/category/annotator"

    def sub(name: str, column: str, description: str, **extra: Any) -> dict[str, Any]:
        out = _field(rs, name, "sc:Text", None, description, **extra)
        out["source"] = {"fileObject": {"@id": ANNOTATIONS_FILE}, "extract": {"column": column}}
        return out

    subs = [sub("id", "annotator", "Pseudonym of the worker who made the label.")]
    for name, question in facts.policy.per_worker_fields().items():
        label = facts.policy.labels.get(question, question)
        extra: dict[str, Any] = {"equivalentProperty": "foaf:gender"} if name == "gender" else {}
        subs.append(sub(name, f"annotator_{name}",
                        f"Survey answer to {question} ({label!r}); empty unless the worker "
                        "consented to publication.", **extra))
    return {"@type": "cr:Field", "@id": rs, "name": "annotator",
            "description": "The person who made the label.",
            "dataType": ["prov:Person", "foaf:Person"],
            "equivalentProperty": "prov:wasAttributedTo", "subField": subs}


def _annotations_set(facts: Facts) -> dict[str, Any]:
    rs, src = "annotations", ANNOTATIONS_FILE
    tw = "tracework:"
    fields = [
        _field(rs, "id", "sc:Integer", src, "Annotation id (the COCO export's id)."),
        _field(rs, "image_id", "sc:Integer", src, "Image id.",
               references={"field": {"@id": "images/id"}}),
        _field(rs, "file_name", "sc:Text", src, "File name of the image."),
        _field(rs, "category_id", "sc:Integer", src, "COCO category id."),
        _field(rs, "category", ["sc:Text", "cr:Label"], src,
               "The label's category in the taxonomy in force (an old label of a category "
               "split without a rule, or retired: \"<name> (retired)\").",
               annotation=_annotator(facts)),
        _field(rs, "original_category", "sc:Text", src,
               "The category the label was made with, under taxonomy_version."),
        _field(rs, "bbox", "cr:BoundingBox", src,
               "Bounding box [x, y, width, height] in pixels from the top-left corner."),
        _field(rs, "area", "sc:Float", src, "Mask area in pixels (box area for boxes)."),
        _field(rs, "segmentation", "sc:Text", src,
               "COCO compressed RLE counts of the mask (size: mask_height × mask_width); "
               "empty for boxes."),
        _field(rs, "mask_height", "sc:Integer", src, "Mask height (0 for boxes)."),
        _field(rs, "mask_width", "sc:Integer", src, "Mask width (0 for boxes)."),
        _field(rs, "annotator", "sc:Text", src, "Pseudonym of the worker who made the label."),
        _field(rs, "submission", "sc:Integer", src, "Submission the label came from.",
               equivalentProperty=f"{tw}submission"),
        _field(rs, "batch", "sc:Integer", src, "Batch of tasks.",
               equivalentProperty=f"{tw}batch"),
        _field(rs, "review_status", "sc:Text", src, "approved, rejected or submitted.",
               equivalentProperty=f"{tw}reviewStatus"),
        _field(rs, "taxonomy_version", "sc:Integer", src,
               "Taxonomy version the label was made under.",
               equivalentProperty=f"{tw}taxonomyVersion"),
        _field(rs, "time_on_task_s", "sc:Float", src, "Seconds spent on the task.",
               equivalentProperty=f"{tw}timeOnTask"),
        _field(rs, "time_kind", "sc:Text", src, "What time_on_task_s measures."),
        _field(rs, "reward_cents", "sc:Integer", src,
               f"Posted reward of the task, in cents of {facts.currency}.",
               equivalentProperty=f"{tw}reward"),
        *(_field(rs, name, dtype, src, what) for name, dtype, what in supervision.COLUMNS),
    ]
    return {"@type": "cr:RecordSet", "@id": rs, "name": rs,
            "description": "One record per label, with who made it and under what terms.",
            "key": {"@id": f"{rs}/id"}, "field": fields}


def _images_set() -> dict[str, Any]:
    rs, src = "images", IMAGES_FILE
    return {"@type": "cr:RecordSet", "@id": rs, "name": rs,
            "description": "One record per image.", "key": {"@id": f"{rs}/id"},
            "field": [
                _field(rs, "id", "sc:Integer", src, "Image id."),
                _field(rs, "file_name", "sc:Text", src, "File name."),
                _field(rs, "width", "sc:Integer", src, "Width in pixels."),
                _field(rs, "height", "sc:Integer", src, "Height in pixels."),
                _field(rs, "sha256", "sc:Text", src, "SHA-256 recorded when the task was "
                                                     "imported."),
                _field(rs, "labels", "sc:Integer", src, "Labels on the image."),
                _field(rs, "annotators", "sc:Integer", src, "People who labelled it."),
            ]}


def _image_files_set() -> dict[str, Any]:
    rs = "image_files"

    def prop(name: str, dtype: str, what: str, description: str) -> dict[str, Any]:
        return {"@type": "cr:Field", "@id": f"{rs}/{name}", "name": name,
                "description": description, "dataType": dtype,
                "source": {"fileSet": {"@id": "image-files"}, "extract": {"fileProperty": what}}}

    return {"@type": "cr:RecordSet", "@id": rs, "name": rs,
            "description": "The image files themselves.",
            "field": [prop("content", "sc:ImageObject", "content", "The image."),
                      prop("file_name", "sc:Text", "filename", "Its file name.")]}


def _categories_set(facts: Facts) -> dict[str, Any]:
    rs = "categories"
    return {"@type": "cr:RecordSet", "@id": rs, "name": rs, "dataType": "sc:Enumeration",
            "description": "The taxonomy in force, with the label colour of each category.",
            "key": {"@id": f"{rs}/name"},
            "field": [{"@type": "cr:Field", "@id": f"{rs}/{n}", "name": n, "dataType": t}
                      for n, t in (("id", "sc:Integer"), ("name", "sc:Text"),
                                   ("colour", "sc:Text"))],
            "data": [{f"{rs}/id": i + 1, f"{rs}/name": c.name, f"{rs}/colour": c.colour}
                     for i, c in enumerate(facts.data.categories)]}


# -- the document --------------------------------------------------------------------------

def _license_url(license_id: str) -> str:
    if license_id.startswith(("http://", "https://")):
        return license_id
    return f"https://spdx.org/licenses/{license_id or 'NOASSERTION'}.html"


def _creator(facts: Facts) -> dict[str, Any]:
    person: dict[str, Any] = {"@type": "sc:Person",
                              "name": str(facts.chain.get("requester") or facts.name)}
    if facts.chain.get("affiliation"):
        person["affiliation"] = {"@type": "sc:Organization",
                                 "name": str(facts.chain["affiliation"])}
    return person


def rai_properties(facts: Facts) -> dict[str, Any]:
    """Every RAI property the records (or tracework.toml) can answer, vocabulary spellings."""
    a = answers
    values: dict[str, Any] = {
        "dataCollection": a.collection(facts),
        "dataCollectionType": a.collection_types(facts),
        "dataCollectionMissingData": a.missing_data(facts),
        "dataCollectionRawData": a.raw_data(facts),
        "dataCollectionTimeframe": a.timeframe(facts),
        "dataImputationProtocol": a.imputation(facts),
        "dataManipulationProtocol": a.manipulation(facts),
        "dataPreprocessingProtocol": a.preprocessing(facts),
        "dataAnnotationProtocol": a.annotation_protocol(facts),
        "dataAnnotationPlatform": a.annotation_platforms(facts),
        "dataAnnotationAnalysis": a.agreement_lines(facts),
        "annotationsPerItem": a.annotations_per_item(facts),
        "annotatorDemographics": a.demographics_lines(facts),
        "machineAnnotationTools": answers.config_list(facts.meta.get("machine_annotation_tools")),
        "dataReleaseMaintenancePlan": a.maintenance(facts),
        "personalSensitiveInformation": a.sensitive_information(facts),
        "dataSocialImpact": str(facts.meta.get("social_impact") or ""),
        "dataBiases": answers.config_list(facts.meta.get("biases")),
        "dataLimitations": a.limitations(facts),
        "dataUseCases": a.use_cases(facts),
    }
    out = {}
    for name, value in values.items():
        if not value:
            continue    # unanswered: left out rather than filled with a placeholder
        if name not in RAI_MANY and isinstance(value, list):
            value = " ".join(value)
        out[f"rai:{name}"] = value
        if name in MLCROISSANT_SPELLINGS:
            out[f"rai:{MLCROISSANT_SPELLINGS[name]}"] = value
    return out


def _labour_node(facts: Facts) -> dict[str, Any] | None:
    a = facts.labour
    if a is None:
        return None
    tw = "tracework:"
    return {
        "@type": f"{tw}LabourConditions", f"{tw}currency": a.currency,
        f"{tw}timeKind": a.time_kind, f"{tw}wageFloorPerHour": a.floor_per_hour or 0,
        f"{tw}wageFloorSource": a.floor_source or "", f"{tw}submissions": a.submissions,
        f"{tw}approved": a.approved, f"{tw}rejected": a.rejected, f"{tw}pending": a.pending,
        f"{tw}rejectionRate": a.rejection_rate,
        f"{tw}rejectionReasons": [{f"{tw}reason": r, f"{tw}count": n}
                                  for r, n in answers.published_reasons(facts)],
        f"{tw}totalPaid": round(a.total_paid_cents / 100, 2),
        f"{tw}totalBonus": round(a.total_bonus_cents / 100, 2),
        f"{tw}paidHours": a.total_paid_hours, f"{tw}unpaidHours": a.total_unpaid_hours,
        f"{tw}medianHourlyPaid": a.median_hourly_paid,
        f"{tw}medianHourlyAll": a.median_hourly_all,
        f"{tw}shareBelowFloor": a.share_below_floor, f"{tw}workers": len(a.workers),
    }


def _batch_chain_node(c: dict[str, Any]) -> dict[str, Any]:
    tw = "tracework:"
    return {"@type": f"{tw}BatchValueChain", f"{tw}batch": c["batch"],
            f"{tw}requester": c["requester"], f"{tw}intermediaries": c["intermediaries"],
            f"{tw}client": c["client"], f"{tw}payPerTask": c["pay_cents_per_task"],
            f"{tw}currency": c["currency"], f"{tw}timeBudgetPerTask": c["time_budget_s_per_task"],
            f"{tw}note": c["note"], f"{tw}statedIn": c["stated_in"]}


def _value_chain_node(facts: Facts) -> dict[str, Any]:
    c, tw = facts.chain, "tracework:"
    return {"@type": f"{tw}ValueChain", f"{tw}requester": str(c.get("requester", "")),
            f"{tw}affiliation": str(c.get("affiliation", "")),
            f"{tw}endClient": str(c.get("end_client", "")),
            f"{tw}intermediaries": [str(i) for i in c.get("intermediaries", [])],
            f"{tw}purpose": str(c.get("purpose", "")),
            f"{tw}guidelineVersion": facts.guideline_version}


def croissant_document(facts: Facts, folder: Path, skip: Path) -> dict[str, Any]:
    """The Croissant JSON-LD describing ``folder`` (whose record files are written)."""
    meta = facts.meta
    dist, globs = distribution(folder, skip)
    record_sets = [_images_set(), _annotations_set(facts), _categories_set(facts)]
    if globs:
        record_sets.append(_image_files_set())
    doc: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT, "@type": "sc:Dataset", "conformsTo": CONFORMS_TO,
        "name": facts.name,
        "description": str(meta.get("description") or answers.collection(facts)),
        "license": _license_url(str(meta.get("license") or "")),
        "url": str(meta.get("url") or f"urn:tracework:ledger:{facts.ledger_head}"),
        "creator": _creator(facts),
        "datePublished": datetime.now(UTC).date().isoformat(),
        "keywords": ["crowdsourced annotation", "data work", "provenance",
                     *answers.config_list(meta.get("keywords"))],
    }
    for key, prop in (("version", "version"), ("citation", "citeAs")):
        if meta.get(key):
            doc[prop] = str(meta[key])
    # Names stay in the credits files: this document also describes each annotation's maker,
    # and a name beside that description would join a person to their labels.
    doc.update(rai_properties(facts))
    labour = _labour_node(facts)
    if labour is not None:
        doc["tracework:labour"] = labour
    doc["tracework:valueChain"] = _value_chain_node(facts)
    doc["tracework:batchValueChains"] = [_batch_chain_node(c) for c in facts.data.value_chains]
    doc["tracework:ledgerHead"] = facts.ledger_head
    doc["tracework:ledgerEntries"] = facts.ledger_entries
    doc["tracework:contributors"] = facts.contributors
    doc["tracework:creditedWorkers"] = len(facts.credits.names)
    doc["distribution"] = dist
    doc["recordSet"] = record_sets
    return doc


def export_croissant(project: Project, out: Path | str, *, status: str = "approved",
                     batches: Collection[str] = (), categories: Collection[str] = (),
                     facts: Facts | None = None, records: bool = True) -> DocsReport:
    """Write ``croissant.json`` (or the ``.json`` path given) and its record files, describing
    every file of the folder it lands in.

    ``facts`` lets the bundle pass the facts it already gathered for the same selection;
    ``records=False``: the record files are already written (the bundle streams them).
    """
    target = target_file(out, CROISSANT_FILE, (".json", ".jsonld"))
    folder = target.parent
    files = [ANNOTATIONS_FILE, IMAGES_FILE]
    if facts is None:
        with open_selection(project, status=status, batches_=batches,
                            categories=categories) as chosen:
            facts = gather(project, chosen.data, chosen.labels)
            with records_writer(project, facts, folder) as add:
                for ann in chosen.annotations():
                    add(ann)
    elif records:
        write_records(project, facts, folder)
    doc = croissant_document(facts, folder, target)
    write_atomic(target, json.dumps(doc, ensure_ascii=False, indent=1))
    return DocsReport("croissant", str(target), files=[*files, target.name],
                      images=len(facts.data.images), annotations=facts.labels.total,
                      workers=facts.contributors, credited=len(facts.credits.names),
                      ledger_head=facts.ledger_head)

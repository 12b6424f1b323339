"""A Hugging Face dataset card (``README.md``): YAML metadata and the card's sections, filled
from the same facts as the datasheet.

The YAML front matter is written by PyYAML's safe dumper, which quotes every string that a
YAML reader would take for something else (``on``, ``null``, ``1e3``, a leading ``- ``), so no
answer from the records can turn into YAML syntax.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from tracework.core.files import write_atomic
from tracework.core.project import Project
from tracework.dataset.export import PARQUET_FILE
from tracework.docs import answers as A
from tracework.docs.croissant import ANNOTATIONS_FILE, DocsReport, target_file
from tracework.docs.facts import Facts, facts_of
from tracework.docs.text import md

# Where a bundle keeps its Parquet export (tracework.docs.bundle writes it there).
BUNDLE_PARQUET = f"parquet/{PARQUET_FILE}"

__all__ = ["card_metadata", "render_card", "export_card", "yaml_front_matter",
           "size_category", "hub_license"]

_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
          (1_000_000_000, "100M<n<1B"), (10_000_000_000, "1B<n<10B"),
          (100_000_000_000, "10B<n<100B"), (1_000_000_000_000, "100B<n<1T"))

# SPDX ids whose Hub id is not simply the lower-cased SPDX id.
_HUB_LICENSES = {"cc0-1.0": "cc0-1.0", "gpl-3.0-only": "gpl-3.0", "gpl-2.0-only": "gpl-2.0",
                 "lgpl-3.0-only": "lgpl-3.0", "agpl-3.0-only": "agpl-3.0"}
_KNOWN_HUB = {"apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0",
              "cc-by-nc-sa-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-4.0", "cc-by-3.0", "cc0-1.0",
              "odc-by", "odbl", "pddl", "bsd-3-clause", "bsd-2-clause", "gpl-3.0", "gpl-2.0",
              "lgpl-3.0", "agpl-3.0", "mpl-2.0", "cdla-permissive-2.0", "cdla-sharing-1.0",
              "openrail", "unlicense", "other"}


def size_category(n: int) -> str:
    for bound, name in _SIZES:
        if n < bound:
            return name
    return "n>1T"


def hub_license(spdx: str) -> tuple[str, str]:
    """The Hub's license id for an SPDX id, and the license name when the Hub says ``other``."""
    key = spdx.strip().lower()
    key = _HUB_LICENSES.get(key, key)
    if key in _KNOWN_HUB:
        return key, ""
    return "other", spdx.strip() or "not stated"


# -- YAML --------------------------------------------------------------------------------------

# Characters YAML reads as line breaks. PyYAML's emitter leaves them bare inside single-quoted
# and plain scalars, where a reader folds them into a space, so a string holding one is
# written double-quoted, where they are escaped (\N, \L, \P) and read back unchanged.
_YAML_BREAKS = frozenset("\x85\u2028\u2029")


class _CardDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, with strings that hold a YAML line break double-quoted."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _YAML_BREAKS.intersection(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CardDumper.add_representer(str, _represent_str)


def yaml_front_matter(meta: Mapping[str, Any]) -> str:
    """``---``-delimited YAML of a mapping of strings, numbers, lists and mappings."""
    body = yaml.dump(dict(meta), Dumper=_CardDumper, sort_keys=False, allow_unicode=True,
                     width=1_000_000, default_flow_style=False) if meta else ""
    return "---\n" + body + "---\n" if body else "---\n\n---\n"


def card_metadata(f: Facts, *, with_data_files: bool = False,
                  with_images: bool = False) -> dict[str, Any]:
    """The card's YAML metadata."""
    license_id, license_name = hub_license(str(f.meta.get("license") or ""))
    tasks = []
    if "mask" in f.annotation_kinds:
        tasks.append("image-segmentation")
    if "bbox" in f.annotation_kinds:
        tasks.append("object-detection")
    meta: dict[str, Any] = {
        "pretty_name": f.name,
        "license": license_id,
    }
    if license_name:
        meta["license_name"] = license_name
    meta.update({
        "annotations_creators": ["crowdsourced"],
        "source_datasets": ["original"],
        "size_categories": [size_category(len(f.data.images))],
        "task_categories": tasks or ["image-segmentation"],
        "tags": ["tracework", "data-work", "annotator-provenance", "croissant"],
    })
    if "mask" in f.annotation_kinds:
        meta["task_ids"] = ["semantic-segmentation"]
    if with_data_files:
        meta["configs"] = [{"config_name": "annotations",
                            "data_files": [{"split": "train", "path": ANNOTATIONS_FILE}]}]
    if with_images:
        # The images with their labels load by default: `load_dataset(folder)` has an image
        # column; the flat label records stay one config away.
        meta.setdefault("configs", []).insert(0, {
            "config_name": "images", "default": True,
            "data_files": [{"split": "train", "path": BUNDLE_PARQUET}]})
    return meta


def _section(title: str, *paragraphs: str, level: int = 2) -> list[str]:
    out = [f"{'#' * level} {title}", ""]
    for p in paragraphs:
        out += [p, ""]
    return out


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {md(i)}" for i in items) if items else f"*{md(A.TO_BE_ANSWERED)}*"


def _or_tba(text: str) -> str:
    return md(text) if text else f"*{md(A.TO_BE_ANSWERED)}*"


def _chain_lines(f: Facts) -> list[str]:
    """Who asked for each batch's work, through whom, for which client, at what pay and time
    budget: the same statement every label of the batch carries (``value_chain``)."""
    out = []
    for c in f.data.value_chains:
        through = " → ".join(c["intermediaries"]) or "no intermediary"
        pay = ("pay not stated" if c["pay_cents_per_task"] is None else
               f"{c['pay_cents_per_task'] / 100:.2f} {c['currency']} per task")
        budget = ("" if c["time_budget_s_per_task"] is None else
                  f", time budget {c['time_budget_s_per_task']} s per task")
        out.append(f"Batch {c['batch']}: asked by {c['requester'] or 'not stated'}, through "
                   f"{through}, for {c['client'] or 'a client not stated'}; {pay}{budget} "
                   f"(stated for the {'batch' if c['stated_in'] != 'project' else 'project'}).")
    return out


def render_card(f: Facts, *, with_data_files: bool = False, with_images: bool = False) -> str:
    """The whole README.md."""
    c = f.chain
    credits = (", ".join(md(n) for n in f.credits.names) + f", and {f.credits.unnamed} more "
               "who chose not to be named." if f.credits.names else
               f"{f.credits.contributors} people; none asked to be credited by name.")
    lines = [yaml_front_matter(card_metadata(f, with_data_files=with_data_files,
                                             with_images=with_images)),
             f"# Dataset card for {md(f.name)}", "",
             md(str(f.meta.get("description") or A.collection(f))), ""]
    lines += _section("Dataset details",
                      f"- **Curated by:** {_or_tba(str(c.get('requester') or ''))}"
                      + (f" ({md(str(c['affiliation']))})" if c.get("affiliation") else ""),
                      f"- **Made for:** {_or_tba(str(c.get('end_client') or ''))}",
                      f"- **Funded by:** {_or_tba(str(f.meta.get('funding') or ''))}",
                      f"- **License:** {md(str(f.meta.get('license') or 'not stated'))}",
                      f"- **Change-log head:** `{f.ledger_head}` ({f.ledger_entries} entries)")
    lines += _section("Uses", "### Direct use", _bullets(A.use_cases(f)),
                      "### Out-of-scope use",
                      _bullets(A.config_list(f.meta.get("out_of_scope"))))
    lines += _section("Dataset structure", md(
        f"{len(f.data.images)} images, {f.labels.total} labels. COCO "
        "(coco/annotations.json) and YOLO (yolo/) files; records/annotations.jsonl holds one "
        "row per label with who made it and under what terms; croissant.json describes every "
        "file with its SHA-256.")
        + (f" {BUNDLE_PARQUET} holds each image with its labels and their provenance "
           "(`datasets.load_dataset` on this folder reads it, with an image column)."
           if with_images else ""))
    lines += _section("Dataset creation", level=2)
    lines += _section("Curation rationale", _or_tba(str(c.get("purpose") or "")), level=3)
    lines += _section("Source data", md(A.collection(f)), level=3)
    lines += _section("Data collection and processing", _bullets(A.preprocessing(f)), level=4)
    lines += _section("Who are the source data producers?",
                      _or_tba(str(f.meta.get("source_producers") or "")), level=4)
    lines += _section("Annotations", level=3)
    lines += _section("Annotation process", md(A.annotation_protocol(f)),
                      md("Analysis: " + (" ".join(A.agreement_lines(f)) or "not computed.")),
                      level=4)
    lines += _section("Who are the annotators?", md(A.workforce(f) + "."),
                      md("Compensation: " + A.compensation(f)),
                      _bullets(A.demographics_lines(f)), "Credits: " + credits, level=4)
    chains = _chain_lines(f)
    lines += _section("Conditions of work per batch", _bullets(chains) if chains else
                      "No label in this selection.", level=4)
    lines += _section("Personal and sensitive information",
                      _bullets(A.sensitive_information(f)), md(A.consent(f)), level=3)
    lines += _section("Bias, risks, and limitations",
                      _bullets(A.limitations(f) + A.config_list(f.meta.get("biases"))))
    lines += _section("Citation", md(str(f.meta.get("citation") or ""))
                      or f"*{md(A.TO_BE_ANSWERED)}*")
    lines += _section("Dataset card contact", _or_tba(str(f.meta.get("contact") or "")))
    return "\n".join(lines)


def export_card(project: Project, out: Path | str, *, status: str = "approved",
                batches: Collection[str] = (), categories: Collection[str] = (),
                facts: Facts | None = None) -> DocsReport:
    """Write the dataset card (``OUT`` ending in .md, else ``OUT/README.md``)."""
    target = target_file(out, "README.md", (".md", ".markdown"))
    if facts is None:
        facts = facts_of(project, status=status, batches=batches, categories=categories)
    with_data = (target.parent / ANNOTATIONS_FILE).is_file()
    with_images = (target.parent / BUNDLE_PARQUET).is_file()
    write_atomic(target, render_card(facts, with_data_files=with_data, with_images=with_images))
    return DocsReport("card", str(target), files=[target.name], images=len(facts.data.images),
                      annotations=facts.labels.total, workers=facts.contributors,
                      credited=len(facts.credits.names), ledger_head=facts.ledger_head)

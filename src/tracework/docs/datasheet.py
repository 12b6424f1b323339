"""A datasheet (Gebru et al., "Datasheets for Datasets") computed from the records.

The seven sections and their questions follow the paper (paraphrased closely). Each answer
says where it comes from: ``records`` (computed from the project's store and audits),
``tracework.toml`` (metadata people wrote) or ``fieldnotes``; a question only a person can
answer is marked "To be answered". A last section asks the questions data workers put to a
dataset: who worked on it, what was hard, how it should not be used.

The compensation answer (Collection process, "who was involved … and how were they
compensated") states the labour audit's figures: pay, bonuses, paid and unpaid hours, median
effective hourly pay with and without unpaid time, the wage floor and the share below it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tracework.core.files import write_atomic
from tracework.core.project import Project
from tracework.docs import answers as A
from tracework.docs.croissant import DocsReport, target_file
from tracework.docs.facts import Facts, facts_of
from tracework.docs.text import html_text, md

__all__ = ["Answer", "Question", "Section", "Datasheet", "datasheet", "render_markdown",
           "render_html", "export_datasheet"]

Source = Literal["records", "tracework.toml", "fieldnotes", "to be answered"]


@dataclass(frozen=True)
class Answer:
    """One paragraph of an answer, or (``items``) a list, whose ``text`` joins them."""

    text: str
    source: Source
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[Answer, ...]

    @property
    def answered(self) -> bool:
        return any(a.source != "to be answered" for a in self.answers)


@dataclass(frozen=True)
class Section:
    title: str
    questions: tuple[Question, ...]


@dataclass
class Datasheet:
    title: str
    intro: str
    sections: list[Section] = field(default_factory=list)

    def question(self, starts: str) -> Question:
        """The first question whose text starts with ``starts`` (for readers and tests)."""
        for section in self.sections:
            for q in section.questions:
                if q.text.startswith(starts):
                    return q
        raise KeyError(starts)


def _tba(where: str = "") -> Answer:
    """The mark of a question only a person can answer, naming where the answer goes."""
    if not where:
        return Answer(A.TO_BE_ANSWERED, "to be answered")
    return Answer(f"To be answered by the dataset's creators, in {where}: the records cannot "
                  "answer this.", "to be answered")


def _q(text: str, *found: Answer | str | None, source: Source = "records") -> Question:
    """A question with the answers found; strings are answers from ``source``. A "to be
    answered" mark stays only when nothing answers the question."""
    got = tuple(a if isinstance(a, Answer) else Answer(a, source) for a in found if a)
    answered = tuple(a for a in got if a.source != "to be answered")
    return Question(text, answered or got[:1] or (_tba(),))


def _toml(value: object, key: str) -> Answer:
    """The metadata ``key`` of tracework.toml as an answer: a list stays a list."""
    items = A.config_list(value)
    if not items:
        return _tba(f"tracework.toml {key}")
    if len(items) == 1:
        return Answer(items[0], "tracework.toml")
    return Answer("; ".join(items), "tracework.toml", tuple(items))


def _listed(items: list[str], source: Source = "records") -> Answer | None:
    """Items as one answer: a list when there are several."""
    if len(items) <= 1:
        return Answer(items[0], source) if items else None
    return Answer("; ".join(items), source, tuple(items))


def _demographics(f: Facts) -> list[Answer | None]:
    """How the counts were made, then one list item per question."""
    head, *tables = A.demographics_lines(f)
    return [Answer(head, "records"), _listed(tables)]


def _motivation(f: Facts) -> Section:
    c = f.chain
    who = ", ".join(p for p in (
        f"requester {c.get('requester')}" if c.get("requester") else "",
        f"affiliation {c.get('affiliation')}" if c.get("affiliation") else "",
        f"made for {c.get('end_client')}" if c.get("end_client") else "",
        "through " + ", ".join(c["intermediaries"]) if c.get("intermediaries") else "") if p)
    return Section("Motivation", (
        _q("For what purpose was the dataset created?",
           _toml(c.get("purpose"), "[value_chain] purpose")),
        _q("Who created the dataset, and on behalf of which entity?",
           Answer(who + ". The labels were made by the crowdworkers credited below.",
                  "tracework.toml") if who else None),
        _q("Who funded the creation of the dataset?",
           _toml(f.meta.get("funding"), "[project] funding")),
        _q("Any other comments?",
           _toml(f.meta.get("motivation_comments"), "[project] motivation_comments")),
    ))


def _by_category(f: Facts) -> str:
    counts = f.labels.by_category
    return ", ".join(f"{c.name} {counts.get(c.name, 0)}" for c in f.data.categories)


def _composition(f: Facts) -> Section:
    d = f.data
    return Section("Composition", (
        _q("What do the instances that comprise the dataset represent?",
           f"Images, each with the part labels that workers drew on it "
           f"({', '.join(c.name for c in d.categories)})."),
        _q("How many instances are there in total?",
           f"{len(d.images)} images and {f.labels.total} labels ({_by_category(f)}), "
           f"made by {f.contributors} people; {A.annotations_per_item(f)}."),
        _q("Does the dataset contain all possible instances or is it a sample?",
           _toml(f.meta.get("sampling"), "[project] sampling")),
        _q("What data does each instance consist of?",
           "An image file and its labels. Each label has a category, a mask (COCO RLE) or box, "
           "its area, and its provenance: the worker's pseudonym, submission, batch, review "
           "status, taxonomy version, time on task, the kind of time measured, and reward."),
        _q("Is there a label or target associated with each instance?",
           "Yes: per-person part labels; labels are not merged, so disagreement stays visible."),
        _q("Is any information missing from individual instances?", A.missing_data(f)),
        _q("Are relationships between individual instances made explicit?",
           "Yes: every label links to its image, its submission, its batch and, by pseudonym, "
           "to the person who made it."),
        _q("Are there recommended data splits?", _toml(f.meta.get("splits"), "[project] splits")),
        _q("Are there any errors, sources of noise, or redundancies in the dataset?",
           " ".join(A.limitations(f)) or None,
           "Redundancy is deliberate: " + A.annotations_per_item(f) + "."),
        _q("Is the dataset self-contained, or does it link to external resources?",
           "Self-contained: every file of the bundle is listed with its SHA-256 in "
           "croissant.json."),
        _q("Does the dataset contain data that might be considered confidential?",
           _toml(f.meta.get("confidential"), "[project] confidential")),
        _q("Does the dataset contain data that, if viewed directly, might be offensive, "
           "insulting, threatening, or might otherwise cause anxiety?",
           *_notes_about(f, {"harmful_content"})),
        _q("Does the dataset relate to people?",
           "Yes, through the people who made the labels: each label carries its maker's "
           "pseudonym. " + " ".join(A.sensitive_information(f))),
        _q("Does the dataset identify any subpopulations (e.g., by age, gender)?",
           *_demographics(f)),
        _q("Is it possible to identify individuals, either directly or indirectly?",
           "Not from tracework's files by design: pseudonyms instead of platform ids, free text "
           f"withheld, and groups smaller than {f.min_cell} suppressed in every aggregate. "
           "People who chose to be credited are named in the credits, apart from their labels."),
        _q("Does the dataset contain data that might be considered sensitive in any way?",
           _toml(f.meta.get("sensitive_information"), "[project] sensitive_information")),
    ))


def _collection(f: Facts) -> Section:
    survey = (f" The workers' survey ran from {f.survey_start} to {f.survey_end}."
              if f.survey_start and f.survey_end else "")
    span = (f"Labels were submitted between {f.work_start} and {f.work_end}.{survey}"
            if f.work_start else None)
    return Section("Collection process", (
        _q("How was the data associated with each instance acquired?",
           "Labels were drawn directly by people on each image. Survey answers were reported "
           "by the workers themselves and are not validated."),
        _q("What mechanisms or procedures were used to collect the data? How were they "
           "validated?",
           "Tasks on " + ", ".join(A.annotation_platforms(f)) + ". " + A.review_rules(f)),
        _q("If the dataset is a sample from a larger set, what was the sampling strategy?",
           _toml(f.meta.get("sampling"), "[project] sampling")),
        _q("Who was involved in the data collection process (e.g., students, crowdworkers, "
           "contractors) and how were they compensated (e.g., how much were crowdworkers "
           "paid)?", A.workforce(f) + ".", A.compensation(f)),
        _q("Over what timeframe was the data collected?", span),
        _q("Were any ethical review processes conducted (e.g., by an institutional review "
           "board)?", _toml(f.meta.get("ethical_review"), "[project] ethical_review")),
        _q("Did you collect the data from the individuals in question directly, or obtain it "
           "via third parties or other sources?",
           "Directly from the workers, through " + ", ".join(f.platform_names())
           + (" and the survey platform" if f.survey_sources else "") + "."),
        _q("Were the individuals in question notified about the data collection?",
           _toml(f.meta.get("notification"), "[project] notification")),
        _q("Did the individuals in question consent to the collection and use of their data?",
           A.consent_given(f)),
        _q("If consent was obtained, were the consenting individuals provided with a mechanism "
           "to revoke their consent in the future or for certain uses?",
           A.consent_revocation()),
        _q("Has an analysis of the potential impact of the dataset and its use on data subjects "
           "(e.g., a data protection impact analysis) been conducted?",
           _toml(f.meta.get("impact_analysis"), "[project] impact_analysis")),
    ))


def _preprocessing(f: Facts) -> Section:
    from tracework.core import __version__

    return Section("Preprocessing, cleaning, labeling", (
        _q("Was any preprocessing/cleaning/labeling of the data done?",
           " ".join(A.preprocessing(f)) + " " + A.annotation_task(f)),
        _q("Was the raw data saved in addition to the preprocessed/cleaned/labeled data?",
           A.raw_data(f)),
        _q("Is the software that was used to preprocess/clean/label the data available?",
           f"tracework {__version__} (library and command line); labelling on "
           + ", ".join(f.platform_names()) + "."),
    ))


def _uses(f: Facts) -> Section:
    return Section("Uses", (
        _q("Has the dataset been used for any tasks already?",
           _toml(f.meta.get("used_for"), "[project] used_for")),
        _q("Is there a repository that links to any or all papers or systems that use the "
           "dataset?", _toml(f.meta.get("url"), "[project] url")),
        _q("What (other) tasks could the dataset be used for?",
           _listed(A.use_cases(f), "tracework.toml")),
        _q("Is there anything about the composition of the dataset or the way it was "
           "collected and preprocessed/cleaned/labeled that might impact future uses?",
           " ".join(A.limitations(f)) or None,
           "Labels can be filtered by who made them and under what conditions."),
        _q("Are there tasks for which the dataset should not be used?",
           _toml(f.meta.get("out_of_scope"), "[project] out_of_scope"),
           *_notes_about(f, {"misuse"})),
    ))


def _distribution(f: Facts) -> Section:
    return Section("Distribution", (
        _q("Will the dataset be distributed to third parties outside of the entity on behalf "
           "of which the dataset was created?",
           _toml(f.meta.get("distribution"), "[project] distribution")),
        _q("How will the dataset be distributed (e.g., tarball on website, API, GitHub)?",
           "As a tracework bundle: COCO and YOLO files, Croissant metadata listing every file "
           "with its SHA-256, this datasheet, a dataset card, the credits, and the change log.",
           _toml(f.meta.get("url"), "[project] url")),
        _q("Will the dataset be distributed under a copyright or other intellectual property "
           "(IP) license, and/or under applicable terms of use (ToU)?",
           _toml(f.meta.get("license"), "[project] license")),
        _q("Have any third parties imposed IP-based or other restrictions on the data?",
           _toml(f.meta.get("restrictions"), "[project] restrictions")),
        _q("Do any export controls or other regulatory restrictions apply?",
           _toml(f.meta.get("export_controls"), "[project] export_controls")),
    ))


def _maintenance(f: Facts) -> Section:
    return Section("Maintenance", (
        _q("Who will be supporting/hosting/maintaining the dataset?",
           _toml(f.meta.get("maintainer") or f.chain.get("requester"), "[project] maintainer")),
        _q("How can the owner/curator/manager of the dataset be contacted?",
           _toml(f.meta.get("contact"), "[project] contact")),
        _q("Will the dataset be updated? How often, by whom, and how will updates be "
           "communicated?", " ".join(A.maintenance(f))),
        _q("If the dataset relates to people, are there applicable limits on the retention of "
           "the data associated with the instances?",
           "Consent can be withdrawn; a withdrawn worker's answers and name leave the next "
           "release.", _toml(f.meta.get("retention"), "[project] retention")),
        _q("Will older versions of the dataset continue to be supported/hosted/maintained?",
           _toml(f.meta.get("older_versions"), "[project] older_versions")),
        _q("If others want to extend/augment/build on/contribute to the dataset, is there a "
           "mechanism for them to do so?",
           _toml(f.meta.get("contributions"), "[project] contributions")),
    ))


def _note_text(note: object) -> str:
    concern = getattr(note, "concern", "")
    text = str(getattr(note, "text", note))
    return f"[{concern}] {text}" if concern else text


def _notes_about(f: Facts, concerns: Collection[str] | None = None) -> list[Answer]:
    """The fieldnotes of ``concerns`` (all when None), or where such an answer would go."""
    found = [n for n in f.notes if concerns is None or getattr(n, "concern", "") in concerns]
    if not found and concerns is not None:
        return [_tba("a fieldnote of concern " + " or ".join(sorted(concerns))
                     + " (`tracework note add`)")]
    return [Answer(_note_text(n), "fieldnotes") for n in found]


def _workers(f: Facts) -> Section:
    named = (f"Credited by the name each chose: {', '.join(f.credits.names)}; "
             f"{f.credits.unnamed} more chose not to be named." if f.credits.names else
             f"{f.credits.contributors} people; none asked to be credited by name.")
    hard = [a for a in _notes_about(f) if not a.text.startswith("[harmful_content]")] or [
        _tba("fieldnotes on the guidelines, the taxonomy or the content (`tracework note add`)")]
    return Section("For data workers", (
        _q("Who worked on this dataset?", A.workforce(f) + ".", named,
           *_demographics(f)),
        _q("What did the work cost the people who did it?", A.compensation(f)),
        _q("What was hard about the work (unclear guidelines, categories that did not fit, "
           "disturbing content)?", *hard),
        _q("In the words of the people who made it, how should this dataset not be used?",
           *_notes_about(f, {"misuse"})),
    ))


def datasheet(f: Facts) -> Datasheet:
    """The datasheet of the facts' selection."""
    intro = (f"Computed by tracework from the project's records at change-log entry "
             f"{f.ledger_entries} (head {f.ledger_head}). Answers marked 'To be answered' need "
             "a person who knows.")
    ds = Datasheet(f"Datasheet: {f.name}", intro)
    ds.sections = _said_once([_motivation(f), _composition(f), _collection(f),
                              _preprocessing(f), _uses(f), _distribution(f), _maintenance(f),
                              _workers(f)])
    return ds


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _said_once(sections: list[Section]) -> list[Section]:
    """Each answer said once: where a question's answer was already given to an earlier
    question, it points there (to the paragraph, when that answer has several) instead of
    repeating it."""
    first: dict[str, tuple[str, str, int, int]] = {}  # text -> section, question, paragraph, of
    out = []
    for section in sections:
        questions = []
        for q in section.questions:
            # An answer, or the earlier question it was said under (a pointer to word later).
            kept: list[Answer | tuple[str, str, int, Source]] = []
            told: dict[tuple[str, str], list[int]] = {}   # earlier question -> paragraphs
            for n, a in enumerate(q.answers):
                if a.text not in first or a.text == A.TO_BE_ANSWERED:
                    first.setdefault(a.text, (section.title, q.text, n, len(q.answers)))
                    kept.append(a)
                    continue
                where, asked, para, of = first[a.text]
                if (where, asked) not in told:
                    told[(where, asked)] = []
                    kept.append((where, asked, of, a.source))
                told[(where, asked)].append(para)
            questions.append(Question(q.text, tuple(_pointer(a, told) for a in kept)))
        out.append(Section(section.title, tuple(questions)))
    return out


def _pointer(a: Answer | tuple[str, str, int, Source], told: dict[tuple[str, str], list[int]]
             ) -> Answer:
    """An answer as it is, or the words that point to the earlier question it was said
    under."""
    if isinstance(a, Answer):
        return a
    where, asked, of, source = a
    if source == "to be answered":
        return Answer(f"To be answered with “{asked}” ({where}).", source)
    paragraphs = told[(where, asked)]
    place = ("" if len(paragraphs) == of else
             "the " + " and ".join(_ORDINALS[min(p, len(_ORDINALS) - 1)] for p in paragraphs)
             + (" paragraph" if len(paragraphs) == 1 else " paragraphs") + " of ")
    end = "" if asked.endswith(("?", ".")) else "."
    return Answer(f"Said under {where}, in {place}the answer to “{asked}”{end}", source)


_SOURCE_NOTE = {"records": "", "tracework.toml": " *(from tracework.toml)*",
                "fieldnotes": " *(fieldnote)*", "to be answered": ""}


def render_markdown(ds: Datasheet) -> str:
    lines = [f"# {md(ds.title)}", "", md(ds.intro), ""]
    for section in ds.sections:
        lines += [f"## {md(section.title)}", ""]
        for q in section.questions:
            lines += [f"**{md(q.text)}**", ""]
            for a in q.answers:
                if a.items:
                    lines += [f"- {md(item)}" for item in a.items]
                    lines += [_SOURCE_NOTE[a.source].strip(), ""] if _SOURCE_NOTE[a.source] \
                        else [""]
                    continue
                text = f"*{md(a.text)}*" if a.source == "to be answered" else md(a.text)
                lines += [f"{text}{_SOURCE_NOTE[a.source]}", ""]
    return "\n".join(lines)


def render_html(ds: Datasheet) -> str:
    body = [f"<h1>{html_text(ds.title)}</h1>", f"<p>{html_text(ds.intro)}</p>"]
    for section in ds.sections:
        body.append(f"<section><h2>{html_text(section.title)}</h2><dl>")
        for q in section.questions:
            body.append(f"<dt>{html_text(q.text)}</dt>")
            for a in q.answers:
                cls = "tba" if a.source == "to be answered" else "answer"
                src = "" if a.source in ("records", "to be answered") else (
                    f' <span class="src">({html_text(a.source)})</span>')
                if a.items:
                    listed = "".join(f"<li><bdi>{html_text(i)}</bdi></li>" for i in a.items)
                    body.append(f'<dd class="{cls}"><ul>{listed}</ul>{src}</dd>')
                else:
                    body.append(f'<dd class="{cls}"><bdi>{html_text(a.text)}</bdi>{src}</dd>')
        body.append("</dl></section>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">"
            f"<title>{html_text(ds.title)}</title><style>"
            "body{font:16px/1.5 system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em}"
            "dt{font-weight:600;margin-top:1em}dd{margin:.3em 0 0 1.5em}"
            ".tba{color:#8a5a00;font-style:italic}.src{color:#666;font-size:.9em}"
            "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def export_datasheet(project: Project, out: Path | str, *, html: bool = False,
                     status: str = "approved", batches: Collection[str] = (),
                     categories: Collection[str] = (), facts: Facts | None = None) -> DocsReport:
    """Write the datasheet as Markdown (``OUT`` ending in .md, else ``OUT/DATASHEET.md``),
    and with ``html`` also as HTML beside it."""
    target = target_file(out, "DATASHEET.md", (".md", ".markdown"))
    if facts is None:
        facts = facts_of(project, status=status, batches=batches, categories=categories)
    ds = datasheet(facts)
    write_atomic(target, render_markdown(ds))
    files = [target.name]
    if html:
        page = target.with_suffix(".html")
        write_atomic(page, render_html(ds))
        files.append(page.name)
    return DocsReport("datasheet", str(target), files=files, images=len(facts.data.images),
                      annotations=facts.labels.total, workers=facts.contributors,
                      credited=len(facts.credits.names), ledger_head=facts.ledger_head)

"""Sentences computed from :class:`~tracework.docs.facts.Facts`: the answers that the
Croissant RAI properties, the datasheet and the dataset card share.

Each function returns plain text (or a list of texts); the documents place them. Where the
records cannot answer, a function returns an empty result and the document says who should
answer instead (:data:`TO_BE_ANSWERED`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tracework.audit.suppress import suppress_counts
from tracework.docs.facts import Facts

__all__ = [
    "TO_BE_ANSWERED",
    "money",
    "annotation_platforms",
    "annotation_protocol",
    "annotation_task",
    "annotation_versions",
    "annotations_per_item",
    "agreement_lines",
    "collection",
    "consent_given",
    "consent_revocation",
    "collection_types",
    "compensation",
    "config_list",
    "reason_counts",
    "review_rules",
    "consent",
    "demographics_lines",
    "imputation",
    "limitations",
    "maintenance",
    "manipulation",
    "missing_data",
    "preprocessing",
    "published_reasons",
    "raw_data",
    "sensitive_information",
    "timeframe",
    "use_cases",
    "workforce",
]

TO_BE_ANSWERED = "To be answered by the dataset's creators: the records cannot answer this."

_TIME_KINDS = {
    "wall_clock_accept_to_submit": "wall-clock time from accepting a task to submitting it",
    "active": "active time in the annotation tool",
}


def money(amount: float | None, currency: str) -> str:
    return "not measured" if amount is None else f"{amount:,.2f} {currency}"


def _pct(share: float | None) -> str:
    return "not measured" if share is None else f"{100 * share:.1f}%"


def _hours(h: float | None) -> str:
    return "not measured" if h is None else f"{h:,.2f} h"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _listing(items: Iterable[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def config_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return []


def workforce(f: Facts) -> str:
    where = _listing(f.platform_names()) or "an annotation platform"
    return (f"{_plural(f.workers_with_work, 'crowdworker')} recruited on {where}, known in "
            "every file by a pseudonym (a keyed hash of the platform and the platform's worker "
            "id; raw ids never leave the project)")


def timeframe(f: Facts) -> list[str]:
    """ISO 8601 start and end of the annotation work, from submission times."""
    return [t for t in (f.work_start, f.work_end) if t]


def collection(f: Facts) -> str:
    d = f.data
    text = (f"{_plural(len(d.images), 'image')} were annotated with "
            f"{_plural(f.labels.total, 'label')} ({_listing(f.annotation_kinds)}) in "
            f"{_plural(len(f.batches), 'batch', 'batches')} of tasks by {workforce(f)}.")
    if f.work_start and f.work_end:
        text += f" Work was submitted between {f.work_start} and {f.work_end}."
    if f.responses:
        text += (f" {_plural(f.responses, 'survey response')} about the workers and their "
                 f"working conditions were collected on {_listing(_names(f.survey_sources))}; "
                 f"{f.responses_linked} are linked to labelling work with the worker's consent.")
    purpose = str(f.chain.get("purpose") or "")
    if purpose:
        text += f" Purpose: {purpose}."
    return text


def _names(platforms: Iterable[str]) -> list[str]:
    from tracework.docs.facts import PLATFORM_NAMES

    return [PLATFORM_NAMES.get(p, p) for p in platforms]


def collection_types(f: Facts) -> list[str]:
    configured = config_list(f.meta.get("data_collection_type"))
    if configured:
        return configured
    found = ["Manual Human Curator"]
    if f.responses:
        found += ["Surveys", "Self-reporting"]
    return found


def annotation_platforms(f: Facts) -> list[str]:
    return _names([*f.platforms, *f.survey_sources]) + ["tracework"]


def _batch_terms(f: Facts) -> list[str]:
    out = []
    for b in f.batches:
        parts = [f"batch {b.key!r} on {_names([b.platform])[0]}"]
        if b.title:
            parts.append(f"task {b.title!r}")
        if b.reward_cents is not None:
            parts.append(f"posted reward {money(b.reward_cents / 100, f.currency)} per "
                         "assignment")
        if b.max_assignments:
            parts.append(f"{_plural(b.max_assignments, 'worker')} per item")
        if b.time_allotted_s:
            parts.append(f"{b.time_allotted_s // 60} min allotted")
        out.append(", ".join(parts))
    return out


def review_rules(f: Facts) -> str:
    if not f.decisions:
        if f.submissions_by_status:
            counts = ", ".join(f"{k.lower()} {v}" for k, v in f.submissions_by_status.items())
            return (f"No review decisions were recorded in tracework; statuses as the platform "
                    f"reported them: {counts}.")
        return "No submissions were reviewed."
    text = ("Every decision was taken by a person, with a reason for each rejection: "
            + ", ".join(f"{k} {v}" for k, v in f.decisions.items()) + ".")
    if f.rules_used:
        text += " Rules that proposed decisions: " + ", ".join(
            f"{k} ({v})" for k, v in f.rules_used.items()) + "."
    rules = f.review_config.get("rules")
    if isinstance(rules, list) and rules:
        text += f" {_plural(len(rules), 'review rule')} configured."
    return text


def annotation_protocol(f: Facts) -> str:
    """The whole protocol in one paragraph (Croissant, the dataset card): the task, who did
    it, under which guideline and taxonomy, how it was reviewed and paid."""
    return (f"{_task(f)} Workforce: {workforce(f)}. {annotation_versions(f)} Review: "
            f"{review_rules(f)} Compensation: {compensation(f)}")


def _task(f: Facts) -> str:
    return f"Task: label the parts of each image ({', '.join(c.name for c in f.data.categories)})."


def annotation_versions(f: Facts) -> str:
    """The protocol without who did the work, how it was reviewed and paid (which the
    datasheet answers under their own questions): guideline, taxonomy, distribution."""
    text = (f"Guideline version: {f.guideline_version or 'not recorded'}; taxonomy version"
            f"{'s' if len(f.taxonomy) > 1 else ''} "
            f"{', '.join(str(t['version']) for t in f.taxonomy) or 'not recorded'}, each label "
            "records the version it was made under.")
    terms = _batch_terms(f)
    if terms:
        text += " Distribution: " + "; ".join(terms) + "."
    return text


def annotation_task(f: Facts) -> str:
    """The task, guideline, taxonomy and distribution of the protocol."""
    return f"{_task(f)} {annotation_versions(f)}"


def annotations_per_item(f: Facts) -> str:
    low, median, high = f.per_item
    if not f.data.images:
        return "no items"
    if low == high:
        return f"{_plural(low, 'person', 'people')} labelled every item"
    return f"a median of {median:g} people labelled each item (between {low} and {high})"


def reason_counts(value: Any) -> list[tuple[str, int]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), int(v)) for k, v in value.items()]
    out = []
    for item in value:
        if isinstance(item, tuple | list) and len(item) == 2:
            out.append((str(item[0]), int(item[1])))
        else:
            out.append((str(getattr(item, "reason", getattr(item, "code", item))),
                        int(getattr(item, "count", 1))))
    return out


def _hourly(value: float | None, currency: str, what: str) -> str:
    if value is None:
        return f"not measurable {what} (no decided work with a recorded time)"
    return f"{money(value, currency)} per hour {what}"


def _planned(cents: int, currency: str) -> str:
    """A clause for bonuses planned but not paid yet: shown, never counted as paid."""
    if not cents:
        return ""
    return f" (and {money(cents / 100, currency)} in bonuses planned but not yet paid)"


def compensation(f: Facts) -> str:
    """Who was paid how much, for how many hours, from the labour audit's figures."""
    a = f.labour
    posted = "; ".join(_batch_terms(f))
    if a is None:
        return f"The labour audit was not computed; posted terms: {posted}." if posted \
            else TO_BE_ANSWERED
    cur = a.currency
    kind = _TIME_KINDS.get(a.time_kind, a.time_kind)
    text = (f"{_plural(len(a.workers), 'worker')} made {_plural(a.submissions, 'submission')}: "
            f"{a.approved} approved, {a.rejected} rejected, {a.pending} pending (rejection rate "
            f"{_pct(a.rejection_rate)}). They were paid "
            f"{money(a.total_paid_cents / 100, cur)} in rewards and "
            f"{money(a.total_bonus_cents / 100, cur)} in bonuses"
            f"{_planned(a.total_bonus_planned_cents, cur)}, for "
            f"{_hours(a.total_paid_hours)} of paid work; {_hours(a.total_unpaid_hours)} went "
            f"into work that was not paid. Median effective hourly pay: "
            f"{_hourly(a.median_hourly_paid, cur, 'over paid work')}; "
            f"{_hourly(a.median_hourly_all, cur, 'counting unpaid time')}. Time is measured as "
            f"{kind}.")
    if a.pending:
        text += (f" {a.pending} submissions were not decided yet: they are in neither "
                 "figure.")
    if a.floor_per_hour:
        source = f" ({a.floor_source})" if a.floor_source else ""
        below = ("share of workers paid below it: not measurable yet"
                 if a.share_below_floor is None else
                 f"{_pct(a.share_below_floor)} of workers were paid below it, counting "
                 "unpaid time")
        text += f" Wage floor: {money(a.floor_per_hour, cur)} per hour{source}; {below}."
    else:
        text += " No wage floor was set for the project."
    if posted:
        text += f" Posted terms: {posted}."
    reasons = published_reasons(f)
    if reasons:
        text += " Rejection reasons: " + ", ".join(f"{r} ({n})" for r, n in reasons) + "."
    return text


def published_reasons(f: Facts) -> list[tuple[str, int]]:
    """Rejection reasons with their counts; a reason given fewer than ``min_cell`` times (it
    may be a text written to one person) is counted under "other reasons" instead, by the
    audit room's suppression rule."""
    if f.labour is None:
        return []
    counts = dict(reason_counts(f.labour.rejection_reasons))
    if not counts:
        return []
    s = suppress_counts(counts, f.min_cell)
    shown = list(s.published.items())
    hidden = sum(counts[c] for c in s.suppressed)
    return shown + ([("other reasons", hidden)] if hidden else [])


def demographics_lines(f: Facts) -> list[str]:
    """Suppressed aggregates, one line per field, or why there are none."""
    if not f.policy.aggregate_fields():
        return ["No survey questions are named as annotator demographics "
                "([export.demographics] in tracework.toml)."]
    people = len(f.demographic_answers)
    # The number of people counted is a margin of every table: below k it is withheld too.
    counted = (_plural(people, "contributor") if people == 0 or people >= f.min_cell else
               f"fewer than {f.min_cell} contributors")
    lines = [f"Counts over the {counted} who consented to linking and publishing their survey "
             f"answers; answers given by fewer than {f.min_cell} people are withheld (with as "
             "many others as needed so that they cannot be worked out). Free-text answers are "
             "never counted."]
    for t in f.demographics:
        shown = ", ".join(f"{value}: {n}" for value, n in t.answers_shown.items()) or "none shown"
        line = f"{t.name} ({t.question}): {shown}"
        if t.answers_withheld:
            # Each withheld cell is one answer option (a category), not one person's answer.
            line += f"; {_plural(len(t.answers_withheld), 'category', 'categories')} withheld"
        if t.unanswered_shown:
            line += f"; {t.unanswered_shown} left it empty"
        lines.append(line + ".")
    return lines


def agreement_lines(f: Facts) -> list[str]:
    """Agreement between annotators, and how final labels relate to individual ones."""
    out = []
    a = f.agreement
    if a is not None:
        for c in [*a.masks, *a.boxes]:
            if c.mean_iou is None:
                continue
            out.append(f"{c.category} ({c.kind}s): mean IoU between pairs of annotators "
                       f"{c.mean_iou:.3f}, median {c.median_iou:.3f} over {c.pairs} pairs on "
                       f"{c.assets} items.")
        if a.overall_mask_iou is not None:
            out.append(f"Overall mask IoU: {a.overall_mask_iou:.3f}.")
        if a.overall_box_iou is not None:
            out.append(f"Overall box IoU: {a.overall_box_iou:.3f}.")
        for q in a.classifications:
            if q.alpha is not None:
                out.append(f"Question {q.element}: Krippendorff's alpha {q.alpha:.3f} over "
                           f"{q.units} tasks.")
    if f.aggregations:
        out += [f"Aggregated {r.kind} labels ({r.method}): {r.items} items from {r.inputs} "
                f"individual labels, run {r.created_at}; the individual labels are kept."
                for r in f.aggregations]
    else:
        out.append("No aggregation: the dataset holds every person's labels, not merged.")
    return out


def consent(f: Facts) -> str:
    """What workers were asked to consent to and how many did, then how to revoke it."""
    return consent_given(f) + " " + consent_revocation()


def consent_given(f: Facts) -> str:
    c = f.consent
    return (f"Workers were asked in the survey whether their answers may be linked to their "
            f"work (link: {c.get('link', 0)} said yes), published with the dataset (publish: "
            f"{c.get('publish', 0)}) and whether they want to be credited by name (credit: "
            f"{c.get('credit', 0)}). Without an answer a worker's consent is none.")


def consent_revocation() -> str:
    return ("Consent can be changed or revoked at any time through the worker's private page "
            "or by writing to the requester; the next export follows it, and every change is "
            "in the change log.")


def sensitive_information(f: Facts) -> list[str]:
    out = ["Each label names its maker by pseudonym only; platform worker ids, IP addresses "
           "and survey locations stay in the project's vault and are not published."]
    per_worker = f.policy.per_worker_fields()
    if per_worker:
        out.append("Per annotation, the answers of workers who consented to publication: "
                   + ", ".join(per_worker) + ".")
    else:
        out.append("No survey answers are published per worker.")
    free_shown = [name for name, q in per_worker.items() if f.policy.is_free_text(q)]
    if free_shown:
        out.append("Free-text answers (" + ", ".join(free_shown) + ") are published per "
                   "annotation for workers who consented to publication, because the project "
                   "enables it; they are never counted in aggregates.")
    withheld = sorted(q for q in f.policy.free_text if not f.policy.publishes(q))
    if withheld and not free_shown:
        out.append("Free-text answers (" + ", ".join(withheld)
                   + ") are never published per worker.")
    elif withheld:
        out.append("Other free-text answers (" + ", ".join(withheld)
                   + ") are never published per worker.")
    in_dataset = sorted({q for answers in f.data.published_answers.values() for q in answers},
                        key=_natural)
    if in_dataset:
        people = _plural(len(f.data.published_answers), "worker")
        out.append("The COCO and YOLO exports carry, with each label, the survey answers of its "
                   f"maker for the {people} who consented to publication: "
                   + ", ".join(in_dataset) + ".")
    out += config_list(f.meta.get("sensitive_information"))
    return out


def _natural(question: str) -> tuple[Any, ...]:
    """Q2 before Q10."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", question))


def limitations(f: Facts) -> list[str]:
    out = []
    low, _, high = f.per_item
    if f.data.images and low < 2:
        out.append("Some items were labelled by a single person: no agreement can be measured "
                   "on them.")
    out.append("Labels are kept per person, not merged into one consensus label: uses that "
               "need one label per item must aggregate them.")
    rejected = f.submissions_by_status.get("Rejected", 0)
    pending = f.submissions_by_status.get("Submitted", 0)
    total = sum(f.submissions_by_status.values())
    if pending:
        out.append(f"{pending} of {total} submissions had not been reviewed when this was "
                   "computed.")
    if f.responses:
        out.append("Survey answers are self-reported and were not validated.")
    if total and rejected:
        out.append(f"{rejected} of {total} submissions were rejected; the export's status "
                   f"filter is {f.data.filters.get('status')!r}.")
    if len(f.taxonomy) > 1:
        out.append(f"The taxonomy changed {len(f.taxonomy) - 1} time(s); labels record the "
                   "version they were made under.")
    if f.open_conflicts:
        out.append(f"{f.open_conflicts} conflicting re-imports are unresolved.")
    return out + config_list(f.meta.get("limitations"))


def use_cases(f: Facts) -> list[str]:
    return config_list(f.chain.get("intended_uses")) + config_list(f.meta.get("use_cases"))


def maintenance(f: Facts) -> list[str]:
    out = [f"Every change to the data is an entry of a hash-chained change log; this release "
           f"is at entry {f.ledger_entries}, head {f.ledger_head} (check with `tracework verify "
           f"--expect-head {f.ledger_head}`). A new release is a new export of the project."]
    return out + config_list(f.meta.get("maintenance"))


def raw_data(f: Facts) -> str:
    if not f.imports:
        return "No raw files were imported."
    files = "; ".join(f"{i['kind']} file {i['file']} ({i['rows']} rows, sha256 {i['sha256']})"
                      for i in f.imports)
    return ("The raw platform and survey files are kept verbatim in the project and "
            f"content-hashed: {files}. They are not published: they hold platform worker ids.")


def preprocessing(f: Facts) -> list[str]:
    out = []
    if "mask" in f.annotation_kinds:
        out.append("Each worker's label-colour PNG mask was decoded exactly into one mask per "
                   "category (COCO run-length encoding), its bounding box and its pixel area; "
                   "colours outside the label map are refused, never guessed.")
    if "bbox" in f.annotation_kinds:
        out.append("Bounding boxes are kept as the workers drew them, in pixels.")
    out.append("Every label keeps its provenance: worker pseudonym, submission, batch, review "
               "status, taxonomy version, time on task and reward.")
    return out


def missing_data(f: Facts) -> str:
    unanswered = max(f.workers_with_work - f.responses_linked, 0)
    return (f"{unanswered} of {f.workers_with_work} workers have no survey answers linked to "
            "their work (they did not answer, or did not consent to linking); their labels are "
            "kept. Unanswered survey questions stay empty.")


def imputation(f: Facts) -> str:
    return "None: missing labels and answers are left missing; nothing is imputed."


def manipulation(f: Facts) -> str:
    return (f"Changes after import (review decisions, status updates from the platform, "
            f"consent changes) are recorded in the change log ({f.ledger_entries} entries), "
            "each with its actor, time and reason; raw inputs are never overwritten.")

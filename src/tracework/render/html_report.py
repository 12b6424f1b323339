"""``tracework report``: the project's story in figures, as one self-contained HTML file.

Sections: submissions and review outcomes with their reasons; effective hourly pay against the
wage floor, with and without unpaid time; time on task; agreement per category; group audits
(suppressed as the audit suppresses them); fieldnotes by concern; the taxonomy's history; the
change log's head hash.

Every figure comes from the room that owns it: the review room's queue, the audit room's
labour, agreement and group audits, the notes room's fieldnotes and the taxonomy's history.
This module computes no wage and suppresses no cell: it counts, draws and escapes.

The page needs nothing from outside: no script at all, CSS inline and allowed by its hash in a
``Content-Security-Policy`` meta tag (``default-src 'none'``), charts drawn as inline SVG. The
template is rendered with Jinja2 with autoescaping on, and worker-supplied text is wrapped in
``<bdi>`` so right-to-left text cannot reorder what surrounds it.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import select

from tracework import review
from tracework.audit.agreement import AgreementAudit, agreement_audit
from tracework.audit.cache import CacheMode, NotComputed, cached
from tracework.audit.groups import GroupAudit, group_audit
from tracework.audit.labour import LabourAudit, labour_audit
from tracework.audit.progress import Progress, tell
from tracework.core import ledger
from tracework.core.errors import ConfigError, InputError
from tracework.core.files import write_atomic
from tracework.core.project import Project
from tracework.dataset.policy import survey_policy
from tracework.fieldnotes import notes, taxonomy
from tracework.render import svg
from tracework.render.cards import value_chain_lines
from tracework.render.records import credits

__all__ = ["METRIC_TITLES", "ReportResult", "Section", "agreement", "groups", "labour",
           "metric_legend", "metric_title", "refresh_audits", "report", "report_html",
           "report_sections"]

TEMPLATES = Path(__file__).parent / "templates"
# The group audit's figures in plain words: the table's row titles and its legend.
METRIC_TITLES = {
    "area_ratio": ("Mask size", "the worker's mask area divided by the mean area of the other "
                   "workers' masks of the same part on the same image (1 = the same size)"),
    "agreement": ("Overlap with others", "mean overlap (intersection over union) of the "
                  "worker's masks with the other workers' masks of the same image "
                  "(1 = identical)"),
    "presence": ("Part labelled", "share of the worker's segmentation submissions that "
                 "contain the part (1 = always)"),
    "weight": ("Estimated accuracy", "the weight the label aggregation gave the worker's "
               "masks, its estimate of how often they are right (0 to 1)"),
}
STATE_COLOURS = {"approved": "#2e8b57", "rejected": "#c0392b", "rework": "#e69f00",
                 "submitted": "#8c96a5", "contested": "#8e44ad"}


@dataclass
class Section:
    """One part of the report: available, or the reason it is not."""

    title: str
    available: bool = True
    why: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportResult:
    out: str
    sections: dict[str, bool]
    ledger_head: str
    ledger_entries: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _money(value: float | None, currency: str) -> str:
    return "not measured" if value is None else f"{value:,.2f} {currency}"


def _share(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.0f}%"


def _review_section(project: Project) -> Section:
    title = "Submissions and review outcomes"
    items = review.review_list(project)
    states = Counter(i.state for i in items)
    reasons: dict[tuple[str, str], int] = Counter()
    for i in items:
        if i.decision in ("reject", "rework"):
            reasons[(i.reason_code or "(no code)", i.reason_text or "(no text)")] += 1
    disputes = Counter(str(i.dispute.get("state", "open")) for i in items if i.dispute)
    rows: list[dict[str, Any]] = [{"code": code, "text": text, "count": n}
            for (code, text), n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    by_code: Counter[str] = Counter()
    for r in rows:
        by_code[r["code"]] += r["count"]
    chart = svg.bars([svg.Bar(code, n, "#c0392b") for code, n in by_code.most_common(12)],
                     title="Rejections and rework by reason code") if rows else None
    return Section(title, data={"chart": _states_chart(dict(states)), "total": len(items),
                                "reasons": rows, "reasons_chart": chart,
                                "disputes": dict(disputes), "source": "review queue"})


def _states_chart(counts: dict[str, int]) -> Any:
    order = ["approved", "rejected", "rework", "contested", "submitted"]
    keys = [k for k in order if counts.get(k)] + sorted(k for k in counts if k not in order)
    return svg.stacked([svg.Bar(k, counts[k], STATE_COLOURS.get(k, "#8c96a5")) for k in keys],
                       title="Submissions by review state")


def _pay_section(labour: LabourAudit) -> Section:
    title = "Effective hourly pay against the floor"
    cur = labour.currency
    floor = labour.floor_per_hour
    reference = (floor, f"floor {floor:,.2f} {cur}/h") if floor else None
    paid = [w.hourly_paid for w in labour.workers if w.hourly_paid is not None]
    every = [w.hourly_all for w in labour.workers if w.hourly_all is not None]
    chart = svg.strip([("paid time only", paid, labour.median_hourly_paid),
                       ("with unpaid time", every, labour.median_hourly_all)],
                      title="Each worker's effective hourly pay", unit="", reference=reference)
    facts = [
        ("Median hourly pay, paid time only", _money(labour.median_hourly_paid, cur)),
        ("Median hourly pay, counting unpaid time", _money(labour.median_hourly_all, cur)),
        ("Wage floor", _money(floor, cur) + (f" ({labour.floor_source})"
                                            if floor and labour.floor_source else "")
         if floor else "no floor set"),
        ("Workers below the floor (counting unpaid time)", _share(labour.share_below_floor)),
        ("Paid in rewards", _money(labour.total_paid_cents / 100, cur)),
        ("Paid in bonuses", _money(labour.total_bonus_cents / 100, cur)),
        ("Bonuses planned, not yet paid (not in the figures above)",
         _money(labour.total_bonus_planned_cents / 100, cur)),
        ("Hours of paid work", f"{labour.total_paid_hours:,.2f}"),
        ("Hours of unpaid work (rejected)", f"{labour.total_unpaid_hours:,.2f}"),
        ("Hours spent searching for work (reported in the survey, unpaid)",
         _search_hours(labour)),
        ("Median hourly pay, counting unpaid and search time",
         _money(labour.median_hourly_with_search, cur)),
        ("Time measured as", labour.time_kind.replace("_", " ")),
    ]
    return Section(title, data={"chart": chart, "facts": facts, "notes": list(labour.notes),
                                "workers": len(labour.workers), "currency": cur})


def _search_hours(labour: LabourAudit) -> str:
    if not labour.workers_with_search:
        return "not measured"
    n = labour.workers_with_search
    return (f"{labour.total_search_hours:,.2f}, reported by {n} "
            f"{'worker' if n == 1 else 'workers'}")


def _time_section(labour: LabourAudit) -> Section:
    title = "Time on task"
    groups: dict[str, list[float]] = defaultdict(list)
    for row in labour.rows:
        if row.seconds is None:
            continue
        kind = "paid" if row.paid else ("unpaid (rejected)" if row.status == "Rejected"
                                        else "not yet decided")
        groups[kind].append(row.seconds / 60)
    colours = {"paid": "#2e8b57", "unpaid (rejected)": "#c0392b", "not yet decided": "#8c96a5"}
    series = [(k, groups[k], colours[k]) for k in colours if groups.get(k)]
    chart = svg.histogram(series, title="Minutes per submission", unit=" min")
    return Section(title, data={"chart": chart, "missing": labour.missing_time,
                                "kind": labour.time_kind.replace("_", " ")})


def labour(project: Project, mode: CacheMode = "current") -> LabourAudit:
    """The labour audit the report shows, from the store while the ledger has not moved."""
    return cached(project, "labour", {}, LabourAudit, lambda: labour_audit(project),
                  mode=mode).value


def agreement(project: Project, mode: CacheMode = "current") -> AgreementAudit:
    """The agreement audit the report shows, from the store while the ledger has not moved."""
    return cached(project, "agreement", {}, AgreementAudit, lambda: agreement_audit(project),
                  mode=mode).value


def groups(project: Project, by: str, mode: CacheMode = "current") -> GroupAudit:
    """The group audit by ``by`` the report shows (its permutation tests are the report's
    slowest part), from the store while the ledger has not moved."""
    return cached(project, "groups", {"by": by}, GroupAudit, lambda: group_audit(project, by),
                  mode=mode).value


def _agreement_section(project: Project, mode: CacheMode) -> Section:
    title = "Agreement per category"
    audit = agreement(project, mode)
    colours = {c.name: c.colour for c in project.categories}
    masks = [svg.Bar(a.category, a.mean_iou, colours.get(a.category, "#3b6ea5"),
                     f"{a.pairs} pairs on {a.assets} images") for a in audit.masks]
    boxes = [svg.Bar(a.category, a.mean_iou, colours.get(a.category, "#3b6ea5"),
                     f"{a.pairs} pairs") for a in audit.boxes]
    return Section(title, data={
        "masks": svg.bars(masks, title="Mean IoU between workers' masks", max_value=1.0)
        if masks else None,
        "boxes": svg.bars(boxes, title="Mean IoU between workers' boxes", max_value=1.0)
        if boxes else None,
        "overall": audit.overall_mask_iou,
        "classes": [{"element": c.element, "alpha": c.alpha, "units": c.units}
                    for c in audit.classifications]})


def _group_attributes(project: Project) -> list[str]:
    cfg = project.config.get("render", {})
    chosen = cfg.get("report_groups") if isinstance(cfg, dict) else None
    if chosen is not None:
        if not isinstance(chosen, list) or not all(isinstance(v, str) for v in chosen):
            raise ConfigError("tracework.toml [render] report_groups must be a list of survey "
                              "questions or [survey.attributes] names, e.g. [\"gender\"]")
        return list(chosen)
    survey = project.config.get("survey", {})
    attributes = survey.get("attributes", {}) if isinstance(survey, dict) else {}
    return sorted(attributes) if isinstance(attributes, dict) else []


def _groups_section(project: Project, mode: CacheMode) -> Section:
    title = "Group audits"
    audits: list[dict[str, Any]] = []
    policy = survey_policy(project)
    for by in _group_attributes(project):
        try:
            audit = groups(project, by, mode)
        except InputError as exc:
            audits.append({"by": by, "error": exc.message})
            continue
        except NotComputed:
            audits.append({"by": by, "error": "not computed yet: run `tracework audit refresh`"})
            continue
        if not policy.publishes(audit.question):
            # Group names would be the free text itself (a city, a sum): withheld.
            audits.append({"by": by, "error": f"question {audit.question} holds free text, "
                           "which is published only where tracework.toml [export] "
                           "publish_free_text names it"})
            continue
        metrics: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        for cell in audit.cells:
            metrics[(cell.metric, cell.category)][cell.group] = cell
        rows = [(metric_title(metric), category, cells)
                for (metric, category), cells in sorted(metrics.items())]
        legend = sorted({metric_title(m): metric_legend(m) for m, _ in metrics}.items())
        audits.append({"by": by, "audit": audit, "groups": list(audit.groups),
                       "metrics": rows, "legend": legend, "error": ""})
    why = "" if audits else ("no group audit configured: list survey questions in "
                             "tracework.toml [render] report_groups or [survey.attributes]")
    return Section(title, data={"audits": audits, "none": why})


def metric_title(metric: str) -> str:
    """The group audit's figure ``metric`` as a column title in plain words."""
    if metric.startswith("share:"):
        return f"Answered “{metric[len('share:'):]}”"
    return METRIC_TITLES.get(metric, (metric.replace("_", " "), ""))[0]


def metric_legend(metric: str) -> str:
    """What the figure ``metric`` measures, in a sentence."""
    if metric.startswith("share:"):
        return (f"share of the worker's answers to the question that chose "
                f"“{metric[len('share:'):]}” (1 = always)")
    return METRIC_TITLES.get(metric, ("", "a figure of the group audit"))[1]


def _notes_section(project: Project) -> Section:
    title = "Fieldnotes by concern"
    found = notes.list_notes(project)
    colours = notes.concerns(project)
    by: dict[str, list[Any]] = defaultdict(list)
    for n in found:
        by[n.concern].append(n)
    order = sorted(by, key=lambda k: (-len(by[k]), k))
    chart = svg.bars([svg.Bar(k, len(by[k]), colours.get(k, "#b7b7b7")) for k in order],
                     title="Fieldnotes per concern type") if order else None
    return Section(title, data={"chart": chart, "groups": [
        {"concern": k, "colour": colours.get(k, "#b7b7b7"), "notes": by[k]} for k in order]})


def _taxonomy_section(project: Project) -> Section:
    title = "The taxonomy's history"
    return Section(title, data={"versions": list(reversed(taxonomy.history(project)))})


def _header(project: Project) -> dict[str, Any]:
    from tracework.core import __version__

    with project.store.read() as conn:
        entries, head = ledger.head(conn)
        from tracework.core.store.schema import submissions
        contributors = sorted({r.worker for r in conn.execute(
            select(submissions.c.worker).distinct())})
    return {"name": project.name, "chain": value_chain_lines(project),
            "credits": credits(project, contributors), "ledger_head": head,
            "ledger_entries": entries, "version": __version__,
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def report_sections(project: Project, mode: CacheMode = "current") -> dict[str, Section]:
    """The report's sections by key, each with its figures and inline SVG charts; the web
    dashboard shows the same. The audits come from the store (:mod:`tracework.audit.cache`):
    ``mode="latest"`` never computes one and raises ``NotComputed`` for an audit never run."""
    work = labour(project, mode)
    return {
        "review": _review_section(project),
        "pay": _pay_section(work),
        "time": _time_section(work),
        "agreement": _agreement_section(project, mode),
        "groups": _groups_section(project, mode),
        "notes": _notes_section(project),
        "taxonomy": _taxonomy_section(project),
    }


def refresh_audits(project: Project, progress: Progress | None = None) -> dict[str, float]:
    """Compute and store every audit the report and the web page show, at today's ledger
    head; the seconds each took (0.0 for one already current). ``progress`` is called with
    the audits done and their number."""
    taken: dict[str, float] = {}
    attributes = _group_attributes(project)
    total = 2 + len(attributes)
    tell(progress, 0, total)
    work = cached(project, "labour", {}, LabourAudit, lambda: labour_audit(project))
    taken["labour"] = 0.0 if work.hit else work.seconds
    tell(progress, 1, total)
    agree = cached(project, "agreement", {}, AgreementAudit, lambda: agreement_audit(project))
    taken["agreement"] = 0.0 if agree.hit else agree.seconds
    tell(progress, 2, total)
    for done, by in enumerate(attributes, 3):
        def run(by: str = by) -> GroupAudit:
            return group_audit(project, by)
        try:
            group = cached(project, "groups", {"by": by}, GroupAudit, run)
        except InputError:
            continue
        finally:
            tell(progress, done, total)
        taken[f"groups:{by}"] = 0.0 if group.hit else group.seconds
    return taken


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["share"] = _share
    env.filters["num"] = lambda v, digits=2: "–" if v is None else f"{v:,.{digits}f}"
    env.globals["swatch"] = svg.swatch
    env.globals["metric_title"] = metric_title
    return env


def content_security_policy(css: str) -> str:
    """No scripts, no fetches, no frames, no forms; only this page's own style block."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def _build(project: Project) -> tuple[str, dict[str, Section], dict[str, Any]]:
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    template = _environment().get_template("report.html.j2")
    header, sections = _header(project), report_sections(project)
    # The policy is tracework's own constant text (no double quote): written verbatim.
    html = template.render(css=css, csp=Markup(content_security_policy(css)), header=header,
                           sections=sections)
    return html, sections, header


def report_html(project: Project) -> str:
    """The report as an HTML string."""
    return _build(project)[0]


def report(project: Project, out: Path | str, *, progress: Progress | None = None
           ) -> ReportResult:
    """Write the report to ``out`` (.html), atomically. The audits it shows are brought up
    to date first (:func:`refresh_audits`), with ``progress`` called per audit."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report is an HTML file: give a name ending in .html",
                         file=str(out))
    refresh_audits(project, progress)
    html, sections, header = _build(project)
    write_atomic(out, html)
    return ReportResult(str(out), {k: s.available for k, s in sections.items()},
                        header["ledger_head"], header["ledger_entries"],
                        len(html.encode("utf-8")))

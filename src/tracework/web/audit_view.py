"""The ``/audit`` page in words people read: pay against the wage floor, time paid and unpaid,
rejections by reason, agreement per category and the group audits, each figure with its JSON
twin (``/audit/<figure>.json``) and the age of the stored result it comes from.

Everything here reads stored audit results (:mod:`tracework.audit.cache`, ``latest``): no audit
is ever computed inside a request. Figures are aggregates: the labour chart draws each worker's
hourly pay as an unnamed dot, as the report does; no pseudonym leaves the audit room here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from markupsafe import Markup

from tracework import review
from tracework.audit.agreement import AgreementAudit
from tracework.audit.cache import NotComputed, Stored, stored
from tracework.audit.groups import GroupAudit
from tracework.audit.labour import LabourAudit
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.dataset.policy import survey_policy
from tracework.render import svg
from tracework.render.html_report import agreement, groups, labour

__all__ = ["FIGURES", "GROUP_LEGEND", "audit_page", "ago", "money", "hours"]

FIGURES = ("labour", "rejections", "agreement", "groups")
T = TypeVar("T")

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}

# What each group-audit figure means, in the words the page prints under the tables.
GROUP_LEGEND = {
    "area_ratio": "how large the group's masks are next to other workers' masks of the same "
                  "part on the same image (1.0: the same size; 1.2: a fifth larger)",
    "agreement": "mean overlap (IoU, 0 to 1) of the group's masks with other workers' masks "
                 "of the same part on the same image",
    "presence": "share of the group's submissions that contain the part at all",
    "weight": "how much the group's work counts when workers' masks are merged into one "
              "(the aggregation's estimate of each worker's accuracy, 0 to 1)",
}


def money(value: float | None, currency: str, per: str = "") -> str:
    """``$10.50``, ``€3.00/h``, ``12.00 CHF``; "not measured" for None."""
    if value is None:
        return "not measured"
    symbol = _SYMBOLS.get(currency.upper())
    text = f"{symbol}{value:,.2f}" if symbol else f"{value:,.2f} {currency}"
    return text + per


def hours(value: float) -> str:
    """Hours as ``3 h 20 min`` (``45 min`` under an hour)."""
    minutes = int(round(value * 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def ago(computed_at: str, now: datetime | None = None) -> str:
    """``3 minutes ago``, ``2 hours ago``, ``just now``."""
    try:
        then = datetime.fromisoformat(computed_at)
    except ValueError:
        return computed_at
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = max(0.0, ((now or datetime.now(UTC)) - then).total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            return f"{_plural(int(seconds // size), unit)} ago"
    return "just now"


def _age(row: Stored | None) -> dict[str, Any]:
    if row is None:
        return {"computed_at": None, "changes": None, "current": False, "words": "not computed"}
    words = f"computed {ago(row.computed_at)}"
    words += (", up to date" if row.current else
              f", before {_plural(row.changes_since, 'change')}")
    return {"computed_at": row.computed_at, "changes": row.changes_since,
            "current": row.current, "words": words}


def _newest(rows: Sequence[Stored], kind: str, params: dict[str, Any]) -> Stored | None:
    text = json.dumps(params, sort_keys=True)
    return next((r for r in rows if r.kind == kind and r.params == text), None)


def _stored_or_none(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except NotComputed:
        return None


def _labour(audit: LabourAudit) -> dict[str, Any]:
    cur = audit.currency
    floor = audit.floor_per_hour
    paid = sorted(w.hourly_paid for w in audit.workers if w.hourly_paid is not None)
    every = sorted(w.hourly_all for w in audit.workers if w.hourly_all is not None)
    below = sum(1 for w in audit.workers if w.below_floor)
    judged = sum(1 for w in audit.workers if w.below_floor is not None)
    reference = (floor, f"floor {money(floor, cur, '/h')}") if floor else None
    chart = svg.strip([("paid time only", paid, audit.median_hourly_paid),
                       ("with unpaid time", every, audit.median_hourly_all)],
                      title="Each worker's effective hourly pay", reference=reference)
    if floor and audit.share_below_floor is not None:
        share = (f"{100 * audit.share_below_floor:.0f}% of workers below the floor of "
                 f"{money(floor, cur, '/h')} ({below} of {judged}), counting unpaid time")
    elif floor:
        share = f"floor {money(floor, cur, '/h')}; no worker has measured time"
    else:
        share = "no wage floor set (tracework.toml [pay] wage_floor_per_hour)"
    median = (f"{money(audit.median_hourly_paid, cur, '/h')} for paid time only; "
              f"{money(audit.median_hourly_all, cur, '/h')} counting unpaid time")
    if audit.workers_with_search:
        median += (f"; {money(audit.median_hourly_with_search, cur, '/h')} counting the time "
                   "spent searching for tasks too")
    pay = f"{money(audit.total_paid_cents / 100, cur)} in rewards"
    if audit.total_bonus_cents:
        pay += f", {money(audit.total_bonus_cents / 100, cur)} in bonuses"
    if audit.total_bonus_planned_cents:
        pay += (f" ({money(audit.total_bonus_planned_cents / 100, cur)} of bonuses planned, "
                "not yet paid)")
    time = (f"{hours(audit.total_paid_hours)} paid; {hours(audit.total_unpaid_hours)} unpaid "
            "(rejected work)")
    if audit.total_pending_hours:
        time += f"; {hours(audit.total_pending_hours)} waiting for a decision"
    search = (f"{hours(audit.total_search_hours)} searching for tasks, unpaid, as "
              f"{_plural(audit.workers_with_search, 'worker')} reported in the survey"
              if audit.workers_with_search else "not asked in the survey")
    facts = [
        ("Below the wage floor", share),
        ("Median hourly pay", median),
        ("Paid", pay),
        ("Time on task", time),
        ("Time searching for tasks", search),
        ("Work", f"{_plural(len(audit.workers), 'worker')}, "
                 f"{_plural(audit.submissions, 'submission')}: {audit.approved:,} approved, "
                 f"{audit.rejected:,} rejected, {audit.pending:,} waiting"),
        ("Time measured as", audit.time_kind.replace("_", " ")),
    ]
    values = {
        "currency": cur, "floor_per_hour": floor, "floor_source": audit.floor_source,
        "workers": len(audit.workers), "workers_below_floor": below,
        "workers_with_time": judged, "share_below_floor": audit.share_below_floor,
        "median_hourly_paid": audit.median_hourly_paid,
        "median_hourly_all": audit.median_hourly_all,
        "median_hourly_with_search": audit.median_hourly_with_search,
        "paid_cents": audit.total_paid_cents, "bonus_cents": audit.total_bonus_cents,
        "bonus_planned_cents": audit.total_bonus_planned_cents,
        "paid_hours": audit.total_paid_hours, "unpaid_hours": audit.total_unpaid_hours,
        "pending_hours": audit.total_pending_hours, "search_hours": audit.total_search_hours,
        "workers_with_search": audit.workers_with_search, "submissions": audit.submissions,
        "approved": audit.approved, "rejected": audit.rejected, "pending": audit.pending,
        "time_kind": audit.time_kind,
        # The dots of the chart: each worker's figure, unnamed and sorted.
        "hourly_paid": paid, "hourly_all": every,
    }
    return {"title": "Pay and time", "facts": facts, "charts": [chart],
            "notes": list(audit.notes), "values": values}


def _rejections(project: Project, audit: LabourAudit) -> dict[str, Any]:
    texts = {r.code: r.describe() for r in review.review_config(project).rules}
    rows: list[dict[str, Any]] = [
        {"reason": key, "words": texts.get(key, ""), "count": n,
         "share": n / audit.rejected if audit.rejected else 0.0}
        for key, n in audit.rejection_reasons.items()]
    chart = svg.bars([svg.Bar(str(r["reason"]), int(r["count"]), "#c0392b") for r in rows[:12]],
                     title="Rejections by reason") if rows else None
    decided = audit.approved + audit.rejected
    words = (f"{_plural(audit.rejected, 'submission')} of {decided:,} decided "
             f"({100 * audit.rejection_rate:.0f}%)")
    if audit.pending:
        words += f"; {audit.pending:,} still waiting for a decision"
    facts = [("Rejected", words)]
    return {"title": "Rejections by reason", "facts": facts,
            "charts": [chart] if chart else [], "rows": rows, "notes": [],
            "values": {"rejected": audit.rejected, "submissions": audit.submissions,
                       "rejection_rate": audit.rejection_rate, "reasons": rows}}


def _agreement(project: Project, audit: AgreementAudit) -> dict[str, Any]:
    colours = {c.name: c.colour for c in project.categories}
    rows = [{"category": a.category, "kind": "masks" if a.kind == "mask" else "boxes",
             "mean_iou": a.mean_iou, "median_iou": a.median_iou, "pairs": a.pairs,
             "images": a.assets, "workers": a.workers} for a in [*audit.masks, *audit.boxes]]
    charts = []
    for kind, items in (("masks", audit.masks), ("boxes", audit.boxes)):
        if items:
            charts.append(svg.bars(
                [svg.Bar(a.category, a.mean_iou, colours.get(a.category, "#3b6ea5"),
                         f"{a.pairs} pairs on {a.assets} images") for a in items],
                title=f"Mean overlap (IoU) between workers' {kind}", max_value=1.0))
    overall = ("not measured" if audit.overall_mask_iou is None
               else f"{audit.overall_mask_iou:.2f} mean overlap (IoU, 0 to 1) of two workers' "
                    "masks of the same part on the same image")
    facts = [("All masks", overall)]
    classes: list[dict[str, Any]] = [{"question": c.element, "alpha": c.alpha, "units": c.units,
                "workers": c.workers} for c in audit.classifications]
    for c in classes:
        alpha = "not measured" if c["alpha"] is None else f"{c['alpha']:.2f}"
        facts.append((f"Answers to {c['question']}",
                      f"Krippendorff's alpha {alpha} over {_plural(c['units'], 'item')} "
                      "(1: full agreement, 0: no better than chance)"))
    return {"title": "Agreement per category", "facts": facts, "charts": charts, "rows": rows,
            "notes": list(audit.notes),
            "values": {"overall_mask_iou": audit.overall_mask_iou,
                       "overall_box_iou": audit.overall_box_iou, "categories": rows,
                       "classifications": classes}}


def _group(project: Project, by: str, audit: GroupAudit) -> dict[str, Any]:
    if not survey_policy(project).publishes(audit.question):
        return {"by": by, "error": f"question {audit.question} holds free text, which is shown "
                "only where tracework.toml [export] publish_free_text names it"}
    names = list(audit.groups)
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in audit.cells:
        row = table.setdefault((cell.metric, cell.category),
                               {"metric": cell.metric, "category": cell.category, "cells": {}})
        row["cells"][cell.group] = None if cell.mean is None else round(cell.mean, 3)
    detected = [{"group": t.group, "metric": t.metric, "category": t.category,
                 "difference": round(t.difference, 3), "p_adjusted": t.p_adjusted}
                for t in audit.detected]
    return {"by": by, "error": "", "question": audit.question, "min_cell": audit.min_cell,
            "groups": [{"name": g, "workers": audit.groups[g]} for g in names],
            "workers_linked": audit.workers_linked, "workers_not_linked": audit.workers_not_linked,
            "rows": [table[k] for k in sorted(table)], "detected": detected,
            "method": audit.method, "permutations": audit.permutations, "alpha": audit.alpha}


def _groups(project: Project, rows: Sequence[Stored]) -> dict[str, Any]:
    chosen = sorted({json.loads(r.params).get("by", "") for r in rows if r.kind == "groups"})
    audits = []
    for by in chosen:
        def read(by: str = by) -> GroupAudit:
            return groups(project, by, "latest")
        try:
            found = _stored_or_none(read)
        except InputError as exc:
            audits.append({"by": by, "error": exc.message})
            continue
        if found is not None:
            item = _group(project, by, found)
            item["age"] = _age(_newest(rows, "groups", {"by": by}))
            audits.append(item)
    k = next((a["min_cell"] for a in audits if a.get("min_cell")), None)
    rule = (f"A group of fewer than {k} workers is not shown, nor any figure resting on fewer "
            f"than {k} workers; further groups are hidden when needed so that a hidden one "
            "cannot be worked out from the totals. Only workers who consented to linking "
            "their survey answers to their work are counted.") if k else ""
    return {"title": "Group audits", "audits": audits, "legend": GROUP_LEGEND,
            "suppression": rule, "charts": [], "facts": [], "notes": [],
            "values": {"audits": audits, "legend": GROUP_LEGEND, "suppression": rule}}


def audit_page(project: Project, only: str | None = None) -> dict[str, Any]:
    """The figures of ``/audit`` (or of one of them, ``only``) from the stored results."""
    rows = stored(project)
    work = _stored_or_none(lambda: labour(project, "latest"))
    agree = _stored_or_none(lambda: agreement(project, "latest"))
    figures: list[dict[str, Any]] = []
    wanted = FIGURES if only is None else (only,)
    labour_age = _age(_newest(rows, "labour", {}))
    for key in wanted:
        figure: dict[str, Any] | None = None
        if key == "labour" and work is not None:
            figure = {**_labour(work), "age": labour_age}
        elif key == "rejections" and work is not None:
            figure = {**_rejections(project, work), "age": labour_age}
        elif key == "agreement" and agree is not None:
            figure = {**_agreement(project, agree), "age": _age(_newest(rows, "agreement", {}))}
        elif key == "groups":
            figure = _groups(project, rows)
            ages = [a["age"] for a in figure["audits"] if "age" in a]
            figure["age"] = ages[0] if ages else _age(None)
            if not figure["audits"] and work is None:
                figure = None
        if figure is not None:
            figure["key"] = key
            figure["json"] = f"/audit/{key}.json"
            figure["charts"] = [Markup(c) for c in figure["charts"]]
            figures.append(figure)
    ages = [f["age"] for f in figures if f["age"]["computed_at"]]
    oldest = min(ages, key=lambda a: a["computed_at"], default=_age(None))
    return {"missing": work is None and agree is None, "figures": figures, "age": oldest,
            "computed": [{"kind": r.kind, "params": r.params, "computed_at": r.computed_at,
                          "current": r.current, "changes_since": r.changes_since}
                         for r in rows]}

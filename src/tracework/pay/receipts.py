"""Worker receipts: a plain, private summary for one worker, as HTML and JSON.

A receipt lists the worker's submissions with the decision, the reason, what was paid, the time
counted and any dispute (with the platform's reversal window), their bonuses, and the ledger
head at the time it was made. A bonus counts as paid only once marked paid; until then it is
shown as planned. Every dispute the worker raised is counted by state (open, upheld,
overturned), a submission contested again after an upheld rejection twice. The ledger head is
a checkpoint that ``tracework verify --expect-head`` checks, so a later rewrite of the record is
caught against the copy the worker holds.

The worker is named by pseudonym only. Platform ids are not written: the assignment is shown by
the last characters of its id, enough for the worker to find it in their own history. Reviewer
names are left out (a decision is shown as made by a reviewer or on the platform). The HTML
escapes every value, loads nothing from elsewhere, and forbids scripts by its
Content-Security-Policy; both files are written with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from tracework.core import ledger
from tracework.core.errors import NotFound
from tracework.core.files import safe_name
from tracework.core.project import Project
from tracework.core.store.schema import assets, batches, bonuses, submissions, workers
from tracework.core.store.tables_review import review_disputes
from tracework.pay import money, pay_policy
from tracework.review.decisions import review_config
from tracework.review.platform import write_private
from tracework.review.queue import decisions_in_force, disputes_of

__all__ = ["ReceiptReport", "receipt", "receipt_data", "render_html"]

_STATUS_WORDS = {"Submitted": "waiting for review", "Approved": "approved",
                 "Rejected": "rejected", "Rework": "asked to redo (paid)"}


@dataclass
class ReceiptReport:
    worker: str
    html: str
    json: str
    submissions: int
    ledger_head: str
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _hint(assignment_id: str) -> str:
    return "…" + assignment_id[-6:] if len(assignment_id) > 6 else "…"


def _submission(s: Any, d: Any, dispute: dict[str, Any] | None, by_bonus: bool,
                bonus: tuple[int, int], rework_paid: bool) -> dict[str, Any]:
    paid = s.status == "Approved" and not by_bonus or s.status == "Rework" and rework_paid
    reason = (d.reason_text if d is not None else
              s.requester_feedback if s.status != "Submitted" else "")
    return {
        "submission": int(s.id), "assignment": _hint(s.assignment_id), "batch": s.title,
        "item": s.file_name or "", "submitted_at": s.submit_time,
        "time_s": s.work_time_s, "time_kind": s.time_kind, "reward_cents": s.reward_cents,
        "status": s.status, "status_words": _STATUS_WORDS.get(s.status, s.status),
        "decided_by": (None if s.status == "Submitted" else
                       "platform" if d is None or d.source == "platform" else "reviewer"),
        "rule": d.rule if d is not None else None, "reason": reason,
        "good_faith": bool(d.good_faith) if d is not None else False,
        "reward_paid_cents": int(s.reward_cents or 0) if paid else 0,
        "bonus_cents": bonus[0],                # paid
        "bonus_planned_cents": bonus[1],        # planned, not yet paid
        "dispute": None if dispute is None else {
            k: dispute[k] for k in ("state", "opened_at", "resolution", "resolved_at",
                                    "payment", "window_ends", "days_left", "window")},
    }


def receipt_data(project: Project, worker: str, *, now: datetime | None = None
                 ) -> dict[str, Any]:
    """Everything a receipt shows, as plain data (the JSON receipt)."""
    cfg = review_config(project)
    policy = pay_policy(project)
    with project.store.read() as conn:
        if conn.execute(select(workers.c.pseudonym).where(
                workers.c.pseudonym == worker)).first() is None:
            raise NotFound(f"no worker {worker!r} in this project",
                           hint="Name the worker by pseudonym (w_…), as `tracework review list` "
                                "shows it.")
        subs = list(conn.execute(
            select(submissions, batches.c.title, assets.c.file_name)
            .join(batches, submissions.c.batch_id == batches.c.id)
            .outerjoin(assets, submissions.c.asset_id == assets.c.id)
            .where(submissions.c.worker == worker).order_by(submissions.c.id)))
        ids = [int(s.id) for s in subs]
        decided = decisions_in_force(conn, ids)
        disputes = disputes_of(conn, ids, cfg.reversal_window_days, now)
        paid_bonuses = _bonuses(conn, worker)
        dispute_counts = _dispute_counts(conn, worker)
        entries, head = ledger.head(conn)
    per_sub: dict[int, tuple[int, int]] = {}
    for b in paid_bonuses:
        if b["for_submission"] is not None:
            paid, planned = per_sub.get(b["for_submission"], (0, 0))
            if b["state"] == "paid":
                paid += b["amount_cents"]
            else:
                planned += b["amount_cents"]
            per_sub[b["for_submission"]] = (paid, planned)
    rows = [_submission(s, decided.get(int(s.id)), disputes.get(int(s.id)),
                        (disputes.get(int(s.id)) or {}).get("payment") == "bonus",
                        per_sub.get(int(s.id), (0, 0)), cfg.rework_upload == "approve")
            for s in subs]
    return {
        "about": "Your work on this project: each submission, its decision and reason, what "
                 "was paid and the time counted. Keep this file: its ledger checkpoint lets "
                 "anyone check later that the record was not rewritten.",
        "project": project.name,
        "requester": project.config.get("value_chain", {}).get("requester", ""),
        "worker": worker,
        "generated_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "wage_floor": policy.describe() if policy.floor_per_hour > 0 else None,
        "ledger_checkpoint": {"entries": entries, "head": head,
                              "check": f"tracework verify --expect-head {head}"},
        "totals": _totals(rows, paid_bonuses, dispute_counts),
        "submissions": rows,
        "bonuses": paid_bonuses,
    }


def _bonuses(conn: Connection, worker: str) -> list[dict[str, Any]]:
    out = []
    for b in conn.execute(select(bonuses).where(bonuses.c.worker == worker,
                                                bonuses.c.state != "cancelled")
                          .order_by(bonuses.c.id)):
        overturn = b.token.startswith("tw-overturn-")
        out.append({"amount_cents": int(b.amount_cents), "currency": b.currency,
                    "reason": b.reason, "state": b.state, "created_at": b.created_at,
                    "for_submission": int(b.submission_id) if overturn else None})
    return out


def _dispute_counts(conn: Connection, worker: str) -> dict[str, int]:
    """Every dispute the worker raised, by state (a submission contested twice counts twice)."""
    counts = {"open": 0, "upheld": 0, "overturned": 0}
    for (state,) in conn.execute(
            select(review_disputes.c.state)
            .join(submissions, review_disputes.c.submission_id == submissions.c.id)
            .where(submissions.c.worker == worker)):
        counts[state] = counts.get(state, 0) + 1
    return counts


def _totals(rows: list[dict[str, Any]], bonuses_: list[dict[str, Any]],
            disputes: dict[str, int]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    reward = sum(r["reward_paid_cents"] for r in rows)
    bonus = sum(b["amount_cents"] for b in bonuses_ if b["state"] == "paid")
    planned = sum(b["amount_cents"] for b in bonuses_ if b["state"] == "planned")
    time_s = sum(r["time_s"] or 0 for r in rows if r["status"] != "Submitted")
    return {
        "submissions": len(rows), "by_status": counts,
        "contested": sum(disputes.values()), "disputes": disputes,
        "reward_paid_cents": reward, "bonus_cents": bonus, "bonus_planned_cents": planned,
        "decided_time_s": time_s,
        # Pay per hour counts what was paid: a planned bonus is not paid yet.
        "pay_per_hour": round((reward + bonus) / 100 / (time_s / 3600), 2) if time_s else None,
    }


_STYLE = ("body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
          "padding:0 1rem;color:#222}table{border-collapse:collapse;width:100%}"
          "th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;"
          "vertical-align:top}th{background:#f4f4f4}.bad{color:#a40000}.ok{color:#1d6b1d}"
          "code{font-size:13px;word-break:break-all}bdi{unicode-bidi:isolate}")


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _e(value: Any) -> str:
    """Escaped text, isolated so right-to-left or override characters cannot reorder the page."""
    return f"<bdi>{escape('' if value is None else str(value), quote=True)}</bdi>"


def _dispute_cell(d: dict[str, Any] | None, status: str, planned: bool) -> str:
    if d is None:
        return "can be contested" if status == "Rejected" else ""
    overturned = ("contested; rejection overturned, to be paid by a bonus (planned)" if planned
                  else "contested; rejection overturned, paid")
    text = {"open": "contested, waiting for a decision", "upheld": "contested; rejection upheld",
            "overturned": overturned}.get(d["state"], d["state"])
    if d.get("resolution"):
        text += f": {d['resolution']}"
    return _e(text) + f"<br>reversal window: {_e(d['window'])}"


def _row(r: dict[str, Any], currency: str) -> str:
    cls = "bad" if r["status"] == "Rejected" else "ok" if r["status"] == "Approved" else ""
    time = "" if r["time_s"] is None else f"{r['time_s'] / 60:.1f} min"
    pay = f'{money(r["reward_paid_cents"] + r["bonus_cents"])} {currency}'
    if r["bonus_planned_cents"]:
        pay += f' (+ {money(r["bonus_planned_cents"])} {currency} planned, not yet paid)'
    reason = r["reason"] + (" (counted as done in good faith)" if r["good_faith"] else "")
    cells = [_e(r["submission"]), _e(r["assignment"]), _e(r["item"]), _e(r["submitted_at"]),
             _e(time), f'<span class="{cls}">{_e(r["status_words"])}</span>', _e(reason),
             _e(pay), _dispute_cell(r["dispute"], r["status"], bool(r["bonus_planned_cents"]))]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _disputes_line(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "Contested: none."
    return (f"Contested: {total} (open {counts.get('open', 0)}, upheld {counts.get('upheld', 0)}, "
            f"overturned {counts.get('overturned', 0)}).")


def render_html(data: dict[str, Any], currency: str = "USD") -> str:
    """The HTML receipt of :func:`receipt_data`'s result."""
    t = data["totals"]
    head = data["ledger_checkpoint"]
    rows = "\n".join(_row(r, currency) for r in data["submissions"])
    bonus_rows = "\n".join(
        f"<tr><td>{_e(money(b['amount_cents']) + ' ' + b['currency'])}</td>"
        f"<td>{_e(b['reason'])}</td><td>{_e(b['state'])}</td></tr>" for b in data["bonuses"])
    rate = "not yet known" if t["pay_per_hour"] is None else f"{t['pay_per_hour']:.2f} {currency}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_csp()}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Your work receipt: {_e(data['project'])}</title>
<style>{_STYLE}</style></head><body>
<h1>Your work receipt</h1>
<p>Project {_e(data['project'])}{' by ' + _e(data['requester']) if data['requester'] else ''}.
You appear here as {_e(data['worker'])}. Made {_e(data['generated_at'])}.</p>
<p>{_e(data['about'])}</p>
<h2>Summary</h2>
<p>{_e(t['submissions'])} submissions; reward paid {_e(money(t['reward_paid_cents']))} {_e(currency)},
bonuses paid {_e(money(t['bonus_cents']))} {_e(currency)}, bonuses planned (not yet paid)
{_e(money(t['bonus_planned_cents']))} {_e(currency)}; time counted {_e(f"{t['decided_time_s'] / 3600:.2f}")} h;
pay per hour (paid only) {_e(rate)}{'; our wage floor: ' + _e(data['wage_floor']) if data['wage_floor'] else ''}.</p>
<p>{_e(_disputes_line(t['disputes']))}</p>
<h2>Submissions</h2>
<table><tr><th>#</th><th>assignment</th><th>item</th><th>submitted</th><th>time</th>
<th>decision</th><th>reason</th><th>paid</th><th>dispute</th></tr>
{rows}
</table>
<h2>Bonuses</h2>
<table><tr><th>amount</th><th>reason</th><th>state</th></tr>
{bonus_rows or '<tr><td colspan="3">none</td></tr>'}
</table>
<h2>Checkpoint</h2>
<p>Ledger entry {_e(head['entries'])}, head <code>{_e(head['head'])}</code>.</p>
</body></html>
"""


def receipt(project: Project, worker: str, out: Path | str, *,
            now: datetime | None = None) -> ReceiptReport:
    """Write ``OUT/<pseudonym>.html`` and ``OUT/<pseudonym>.json`` for one worker (mode 0600)."""
    data = receipt_data(project, worker, now=now)
    folder = Path(out)
    base = safe_name(worker, "worker")
    html_path, json_path = folder / f"{base}.html", folder / f"{base}.json"
    write_private(json_path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    write_private(html_path, render_html(data, pay_policy(project).currency))
    return ReceiptReport(worker, str(html_path), str(json_path), len(data["submissions"]),
                         data["ledger_checkpoint"]["head"], [str(html_path), str(json_path)])

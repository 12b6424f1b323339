"""A worker's portable, verifiable record of their work on a project.

A worker downloads it from the portal or staff write it with ``tracework worker record
PSEUDONYM``; anyone checks it offline with ``tracework record verify FILE``, and a worker joins
records of several projects into one page of their own with ``tracework record combine``.

The file is JSON (UTF-8)::

    {
      "format": "tracework.work-record",   "version": 1,
      "record": {                                   <- everything signed
        "project": "…",  "worker": "w_…",            (a pseudonym; never a platform id)
        "taken_at": "2026-…Z",
        "signed_by": "ed25519:<hex>",                the project's public key
        "ledger_checkpoint": {"entries": N, "head": "<sha256 hex>"},
        "filter": {"filtered": true|false, "excluded": ["rejected", …],
                   "left_out": {"submissions": N, "bonuses": N}},
        "value_chain": {"project": {requester, affiliation, end_client, intermediaries, …},
                        "batches": {"<batch key>": {requester, intermediaries, client,
                                    pay_cents_per_task, currency, time_budget_s_per_task, …}}},
        "totals": {submissions, by_status, reward_paid_cents, bonus_cents, decided_time_s,
                   pay_per_hour, disputes: {open, upheld, overturned}},
        "submissions": [{submission, batch, batch_title, item, categories, submitted_at,
                         time_s, time_kind, status, decided_by, reason, good_faith,
                         reward_cents, reward_paid_cents, bonus_cents,
                         dispute: {state, opened_at, resolution, resolved_at} | null}, …],
        "bonuses": [{amount_cents, currency, reason, state, created_at}, …]
      },
      "signature": {"algorithm": "ed25519", "public_key": "ed25519:<hex>",
                    "value": "<base64 of 64 bytes>"}
    }

The signature is Ed25519 over the UTF-8 bytes of the canonical JSON of ``record``: keys sorted,
separators ``,`` and ``:`` without spaces, non-ASCII characters as themselves (Python's
``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``). A record is
valid when the signature verifies under ``record.signed_by`` (and under the key the verifier
was given, if any: the project publishes it with ``tracework record key``). Its checkpoint is
the head of the project's change log when it was taken: given the project's published log
(``ledger.jsonl`` of a bundle), the verifier checks that the checkpoint is an entry of that
log, so the project cannot later rewrite the history the record stands on.

What the worker leaves out (``exclude``: rejected or pending work, reasons, disputes,
bonuses) is gone from the file, and ``filter`` says what kinds were left out and how many
items: it is signed, so a filtered record cannot pass for a full one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy import select

from tracework.core import signing
from tracework.core.errors import InputError, LedgerError
from tracework.core.files import write_atomic
from tracework.core.project import Project
from tracework.core.store import chunks
from tracework.core.store.schema import annotations as annotation_rows
from tracework.core.store.schema import batches, submissions
from tracework.core.value_chain import chains_of
from tracework.docs.ledger_export import check_chain
from tracework.pay import money
from tracework.pay.receipts import receipt_data
from tracework.review.platform import write_private

__all__ = [
    "EXCLUDABLE",
    "FORMAT",
    "Exclude",
    "RecordCheck",
    "RecordInvalid",
    "combine_records",
    "project_public_key",
    "verify_record",
    "work_record",
    "write_work_record",
]

FORMAT = "tracework.work-record"
VERSION = 1
Exclude = Literal["rejected", "pending", "reasons", "disputes", "bonuses"]
EXCLUDABLE: tuple[Exclude, ...] = get_args(Exclude)
_STATUS_OF = {"rejected": "Rejected", "pending": "Submitted"}


class RecordInvalid(LedgerError):
    """A work record does not verify: altered, signed by another key, or off the log."""


def project_public_key(project: Project) -> str:
    """The project's public key, ``ed25519:<hex>``, made with its key pair on first use."""
    return signing.public_key_text(signing.project_key(project.root))


def _details(project: Project, ids: Sequence[int]) -> tuple[dict[int, str], dict[int, list[str]],
                                                            dict[str, dict[str, Any]]]:
    """Each submission's batch key and categories, and each batch's value chain."""
    batch_of: dict[int, int] = {}
    keys: dict[int, str] = {}
    cats: dict[int, set[str]] = {}
    with project.store.read() as conn:
        for part in chunks(sorted(ids)):
            for r in conn.execute(select(submissions.c.id, batches.c.id.label("bid"),
                                         batches.c.batch_key)
                                  .join(batches, submissions.c.batch_id == batches.c.id)
                                  .where(submissions.c.id.in_(part))):
                batch_of[int(r.id)], keys[int(r.bid)] = int(r.bid), str(r.batch_key)
            for a in conn.execute(select(annotation_rows.c.submission_id,
                                         annotation_rows.c.category)
                                  .where(annotation_rows.c.submission_id.in_(part))):
                if a.category:
                    cats.setdefault(int(a.submission_id), set()).add(str(a.category))
        chains = chains_of(project, conn, set(batch_of.values()))
    return ({sid: keys[bid] for sid, bid in batch_of.items()},
            {sid: sorted(c) for sid, c in cats.items()},
            {keys[bid]: chain.as_dict() for bid, chain in chains.items()})


def _entry(r: dict[str, Any], batch: str, categories: list[str],
           excluded: Collection[str]) -> dict[str, Any]:
    dispute = r["dispute"]
    return {
        "submission": r["submission"], "batch": batch, "batch_title": r["batch"],
        "item": r["item"], "categories": categories, "submitted_at": r["submitted_at"],
        "time_s": r["time_s"], "time_kind": r["time_kind"], "status": r["status"],
        "decided_by": r["decided_by"],
        "reason": None if "reasons" in excluded else r["reason"],
        "good_faith": r["good_faith"], "reward_cents": r["reward_cents"],
        "reward_paid_cents": r["reward_paid_cents"], "bonus_cents": r["bonus_cents"],
        "dispute": None if dispute is None or "disputes" in excluded else {
            k: dispute[k] for k in ("state", "opened_at", "resolution", "resolved_at")},
    }


def _totals(rows: list[dict[str, Any]], bonuses: list[dict[str, Any]],
            disputes: dict[str, int] | None) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    reward = sum(r["reward_paid_cents"] for r in rows)
    bonus = sum(b["amount_cents"] for b in bonuses if b["state"] == "paid")
    time_s = sum(r["time_s"] or 0 for r in rows if r["status"] != "Submitted")
    return {"submissions": len(rows), "by_status": counts, "reward_paid_cents": reward,
            "bonus_cents": bonus, "decided_time_s": time_s,
            "pay_per_hour": round((reward + bonus) / 100 / (time_s / 3600), 2) if time_s
            else None,
            "disputes": disputes}


def _excluded(exclude: Collection[str]) -> list[str]:
    wanted = sorted(set(exclude))
    unknown = [e for e in wanted if e not in EXCLUDABLE]
    if unknown:
        raise InputError(f"cannot leave out {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(EXCLUDABLE)}", field="--exclude")
    return wanted


def work_record(project: Project, worker: str, *, exclude: Collection[str] = (),
                now: datetime | None = None) -> dict[str, Any]:
    """The signed record of ``worker``'s work (see the module docstring for its format)."""
    excluded = _excluded(exclude)
    receipt = receipt_data(project, worker, now=now)
    rows = receipt["submissions"]
    dropped = {_STATUS_OF[e] for e in excluded if e in _STATUS_OF}
    kept = [r for r in rows if r["status"] not in dropped]
    kept_ids = {r["submission"] for r in kept}
    batch_of, cats, chains = _details(project, [r["submission"] for r in kept])
    entries = [_entry(r, batch_of.get(r["submission"], ""), cats.get(r["submission"], []),
                      excluded) for r in kept]
    bonuses = [] if "bonuses" in excluded else [
        {k: b[k] for k in ("amount_cents", "currency", "reason", "state", "created_at")}
        for b in receipt["bonuses"]
        if b["for_submission"] is None or b["for_submission"] in kept_ids]
    disputes = None if "disputes" in excluded else receipt["totals"]["disputes"]
    key = signing.project_key(project.root)
    public = signing.public_key_text(key)
    chain = {k: v for k, v in project.config.get("value_chain", {}).items()
             if isinstance(v, (str, list))}
    checkpoint = receipt["ledger_checkpoint"]
    record = {
        "project": project.name, "worker": worker,
        "taken_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "signed_by": public,
        "ledger_checkpoint": {"entries": checkpoint["entries"], "head": checkpoint["head"]},
        "filter": {"filtered": bool(excluded), "excluded": excluded,
                   "left_out": {"submissions": len(rows) - len(kept),
                                "bonuses": len(receipt["bonuses"]) - len(bonuses)}},
        "value_chain": {"project": chain, "batches": chains},
        "totals": _totals(entries, bonuses, disputes),
        "submissions": entries,
        "bonuses": bonuses,
    }
    return {"format": FORMAT, "version": VERSION, "record": record,
            "signature": {"algorithm": "ed25519", "public_key": public,
                          "value": signing.sign(key, record)}}


def write_work_record(project: Project, worker: str, out: Path | str, *,
                      exclude: Collection[str] = ()) -> dict[str, Any]:
    """Write the signed record to ``out`` (mode 0600: it is the worker's own)."""
    data = work_record(project, worker, exclude=exclude)
    write_private(Path(out), json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    return data


# -- verifying --------------------------------------------------------------------------------

@dataclass
class RecordCheck:
    """What a verification found. ``problem`` is empty for a valid record."""

    file: str
    ok: bool
    problem: str = ""
    project: str = ""
    worker: str = ""
    public_key: str = ""
    key_given: bool = False
    checkpoint: dict[str, Any] = field(default_factory=dict)
    checkpoint_in_log: bool | None = None
    filtered: bool = False
    excluded: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.pop("record")
        return out


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a JSON work record ({type(exc).__name__})", file=str(path),
                         hint="Give the .json file the portal or `tracework worker record` "
                              "wrote.") from None


def _shape_problem(doc: Any) -> str:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return f"it is not a work record (no \"format\": \"{FORMAT}\")"
    if doc.get("version") != VERSION:
        return f"its version {doc.get('version')!r} is not one this tracework reads ({VERSION})"
    record, sig = doc.get("record"), doc.get("signature")
    if not isinstance(record, dict) or not isinstance(sig, dict):
        return "it has no record or no signature"
    if sig.get("algorithm") != "ed25519" or not isinstance(sig.get("value"), str):
        return "its signature is not an Ed25519 signature"
    checkpoint = record.get("ledger_checkpoint")
    if not isinstance(checkpoint, dict) or not isinstance(record.get("signed_by"), str):
        return "its record has no signer or no ledger checkpoint"
    if sig.get("public_key", record["signed_by"]) != record["signed_by"]:
        return "its signature names another key than the signer its record names"
    return ""


def _check_log(check: RecordCheck, log: Path, log_head: str | None) -> str:
    """Whether the record's checkpoint is an entry of the published log (and that log's head
    is the one given)."""
    try:
        count, head = check_chain(log)
    except FileNotFoundError:
        raise InputError("no such file", file=str(log)) from None
    except (ValueError, KeyError, TypeError) as exc:
        return f"the published log {log} does not verify: {exc}"
    if log_head is not None and head != log_head:
        return f"the published log {log} ends at {head}, not at the head given ({log_head})"
    wanted = int(check.checkpoint.get("entries", -1))
    with log.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if number == wanted:
                check.checkpoint_in_log = json.loads(line).get("hash") == check.checkpoint["head"]
                break
        else:
            check.checkpoint_in_log = wanted == 0 and count >= 0
    if not check.checkpoint_in_log:
        return (f"the record's checkpoint (entry {wanted}) is not in the published log: the "
                "log was rewritten after the record was taken, or the record is another "
                "project's")
    return ""


def verify_record(path: Path | str, *, public_key: str | None = None,
                  log_head: str | None = None, log: Path | str | None = None) -> RecordCheck:
    """Check a work record offline: its shape, its signature (under ``public_key`` if given),
    and, given the published log or head, its checkpoint. Never raises for a bad record: the
    result says what is wrong. Raises :class:`InputError` for a file that cannot be read."""
    file = Path(path)
    doc = _load(file)
    check = RecordCheck(str(file), False)
    problem = _shape_problem(doc)
    if problem:
        check.problem = problem
        return check
    record, sig = doc["record"], doc["signature"]
    check.record = record
    check.project, check.worker = str(record.get("project", "")), str(record.get("worker", ""))
    check.public_key, check.checkpoint = record["signed_by"], record["ledger_checkpoint"]
    filt = record.get("filter") if isinstance(record.get("filter"), dict) else {}
    check.filtered, check.excluded = bool(filt.get("filtered")), list(filt.get("excluded", []))
    try:
        signer = signing.parse_public_key(record["signed_by"], field="record.signed_by")
    except InputError:
        check.problem = "its signer is not an Ed25519 public key"
        return check
    if public_key is not None:
        check.key_given = True
        given = signing.parse_public_key(public_key)
        if bytes(given) != bytes(signer):
            check.problem = (f"it was signed by {record['signed_by']}, not by the key given "
                             f"({signing.public_key_text(given)})")
            return check
    if not signing.signature_valid(signer, record, sig["value"]):
        check.problem = ("its signature does not match its content: the record was altered "
                         "after it was signed")
        return check
    if log is not None:
        check.problem = _check_log(check, Path(log), log_head)
    elif log_head is not None and log_head != check.checkpoint.get("head"):
        check.problem = (f"it was taken at log head {check.checkpoint.get('head')}, not at the "
                         f"head given ({log_head}); pass the published log (--log "
                         "ledger.jsonl) to check an earlier checkpoint")
    check.ok = not check.problem
    return check


def require_valid(check: RecordCheck) -> RecordCheck:
    if not check.ok:
        raise RecordInvalid(f"{check.file}: not a valid work record: {check.problem}")
    return check


# -- one page of several projects --------------------------------------------------------------

_STYLE = ("body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
          "padding:0 1rem;color:#222}table{border-collapse:collapse;width:100%}"
          "th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;"
          "vertical-align:top}th{background:#f4f4f4}.bad{color:#a40000}.ok{color:#1d6b1d}"
          "section{margin-bottom:2.5rem}code{font-size:12px;word-break:break-all}"
          "bdi{unicode-bidi:isolate}")


def _e(value: Any) -> str:
    return f"<bdi>{escape('' if value is None else str(value), quote=True)}</bdi>"


def _submission_row(s: dict[str, Any]) -> str:
    paid = money(int(s.get("reward_paid_cents") or 0) + int(s.get("bonus_cents") or 0))
    time = "" if s.get("time_s") is None else f"{float(s['time_s']) / 60:.1f} min"
    cells = [s.get("batch_title"), ", ".join(s.get("categories", [])), s.get("status"),
             s.get("reason") or "", paid, time]
    return "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>"


def _section(check: RecordCheck) -> str:
    if not check.record:
        return (f'<section><h2>{_e(Path(check.file).name)}</h2><p class="bad">Not a work '
                f"record: {_e(check.problem)}</p></section>")
    r = check.record
    status = (f'<p class="ok">Signature valid, by <code>{_e(check.public_key)}</code>'
              f"{' (the key given)' if check.key_given else ''}.</p>" if check.ok else
              f'<p class="bad">NOT VERIFIED: {_e(check.problem)}</p>')
    filt = (f"<p>Filtered by the worker: left out {_e(', '.join(check.excluded))} "
            f"({_e(r['filter']['left_out'].get('submissions', 0))} submissions).</p>"
            if check.filtered else "<p>Complete: nothing left out.</p>")
    t = r.get("totals", {})
    currency = next((c.get("currency", "") for c in r.get("value_chain", {})
                     .get("batches", {}).values() if isinstance(c, dict)), "")
    chain = r.get("value_chain", {}).get("project", {})
    paid = money(int(t.get("reward_paid_cents") or 0) + int(t.get("bonus_cents") or 0))
    rows = "".join(_submission_row(s) for s in r.get("submissions", []))
    return f"""<section>
<h2>{_e(r.get('project'))}</h2>
{status}
<p>As {_e(r.get('worker'))}; taken {_e(r.get('taken_at'))} at log entry
{_e(check.checkpoint.get('entries'))}, head <code>{_e(check.checkpoint.get('head'))}</code>.
For {_e(chain.get('requester', ''))}{', client ' + _e(chain['end_client']) if chain.get('end_client') else ''}.</p>
{filt}
<p>{_e(t.get('submissions'))} submissions; paid {_e(paid)} {_e(currency)};
time {_e(f"{(t.get('decided_time_s') or 0) / 3600:.2f}")} h.</p>
<table><tr><th>batch</th><th>categories</th><th>decision</th><th>reason</th><th>paid</th><th>time</th></tr>
{rows}</table>
</section>"""


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def combine_records(paths: Sequence[Path | str], out: Path | str, *,
                    public_keys: Sequence[str] = ()) -> list[RecordCheck]:
    """One HTML page of several projects' records, each verified and its signature status
    shown (``public_keys``: keys the records must be signed by, one per record, in order)."""
    if not paths:
        raise InputError("name at least one record to combine", field="FILES")
    if public_keys and len(public_keys) != len(paths):
        raise InputError("give one --public-key per record, in the same order",
                         field="--public-key")
    checks = [verify_record(p, public_key=public_keys[i] if public_keys else None)
              for i, p in enumerate(paths)]
    sections = "\n".join(_section(c) for c in checks)
    valid = sum(c.ok for c in checks)
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_csp()}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Work records</title><style>{_STYLE}</style></head><body>
<h1>Work records</h1>
<p>{valid} of {len(checks)} records verified. Each project signed its record with its own
key; check any of them with <code>tracework record verify FILE --public-key KEY</code>.</p>
{sections}
</body></html>
"""
    write_atomic(Path(out), html)
    return checks

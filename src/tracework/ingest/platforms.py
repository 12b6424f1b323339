"""One importer for every platform reader: a :class:`~tracework.formats.canonical.PlatformFile`
becomes rows of the canonical model, in one write transaction.

The reader parses; this module writes, the same way for Label Studio, CVAT, Ground Truth,
Prolific and Toloka: the file is hashed first (the same file imported again adds nothing), the
works are streamed once, every :class:`~tracework.formats.canonical.Person` goes to the vault
(its platform id to ``vault``, the rest of what identifies it to ``vault_values``) and only its
pseudonym is stored anywhere else: any personal value of a work's own person that the reader
left in the raw record, a label value or a feedback text is replaced by the pseudonym before
it is stored. Work the file attributes to no person (a job) is stored under the job's own
pseudonym, whose platform is ``<platform>:job`` and which has no vault row: it names a job,
not a person.

People type ids into free text too: their own, another worker's. Every text stored (label
values and attributes, the raw record, feedback) also goes through
:class:`~tracework.ingest.typed_ids.TypedIds`, which knows every platform id and personal
value in the vault and, from a first pass over the file that keeps only who is in it, every
person of this file (their platform id and personal values), wherever in the file their own
work comes: any of these typed anywhere becomes that person's pseudonym, and the text as typed
goes to the vault (``typed text: …`` of the submission). Tokens only shaped like a platform's ids are replaced
in free text, not in the raw record (a Prolific submission id has the shape of a participant
id). The content hash reads every such replacement as ``<worker id>``, as for Mechanical Turk.
The first pass reads the file once more (its parse, not its writes, is done twice).

A work already stored (same platform and assignment id) is compared by the hash of its content
(labels and raw record, not its status): the same content with a new status is a status change
with its ledger entry; different content is recorded as a conflict and the stored value kept,
exactly as for Mechanical Turk (``tracework conflicts``).
"""


import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity, ledger
from tracework.core.errors import InputError, MaskError
from tracework.core.ledger import LedgerWriter, canonical
from tracework.core.privacy import ensure_worker, pseudonym, stash_identifying
from tracework.core.project import Project
from tracework.core.store import inserted_id
from tracework.core.store.schema import (
    annotations,
    batches,
    bonuses,
    conflicts,
    submissions,
    vault,
    vault_values,
    workers,
)
from tracework.formats import canonical as model
from tracework.formats import masks
from tracework.formats.csvio import sha256_file
from tracework.ingest.common import (
    Assets,
    ImportReport,
    Progress,
    Spool,
    check_labels,
    count,
    file_errors,
    finish_import,
    import_transaction,
    imported_before,
    iso,
)
from tracework.ingest.typed_ids import TypedIds, hash_text, vault_rows

__all__ = ["JOB_SUFFIX", "PlatformReport", "ingest_platform"]

#: Appended to a platform's name for the pseudo-worker that stands for a job.
JOB_SUFFIX = ":job"

Reader = Callable[[Path], model.PlatformFile]


@dataclass
class PlatformReport(ImportReport):
    """An import report with what a platform file alone cannot tell (``notes``) and how its
    work was attributed (``attributed``: worker / job_assignee / job → submissions)."""

    notes: list[str] | None = None
    attributed: dict[str, int] | None = None


def ingest_platform(project: Project, path: Path | str, kind: str, read: Reader, *,
                    progress: Progress | None = None,
                    images_dir: Path | None = None) -> PlatformReport:
    """Import one platform file read by ``read``. One transaction; idempotent per file.

    ``kind`` names the reader (``labelstudio``, ``cvat`` …) in the imports table and the
    report. Errors the reader raises (:class:`InputError` naming file, row and field) leave
    the store as it was. With ``images_dir``, each asset's local file there is hashed.
    """
    path = Path(path)
    with file_errors(path):
        sha = sha256_file(path)
    report = PlatformReport(file=path.name, kind=kind, sha256=sha, notes=[], attributed={})
    if imported_before(project, sha):
        report.repeated = True
        return report
    with Spool() as spool:
        # Read and parsed before the write transaction opens: other writers go on meanwhile.
        # The same pass keeps who is in the file: a worker may type the id of someone whose
        # own work comes later in it.
        people: dict[str, model.Person] = {}
        with file_errors(path):
            parsed = read(path)
            for work in parsed.works:
                if work.worker is not None:
                    people.setdefault(work.worker.platform_id, work.worker)
                spool.put(work)
        with import_transaction(project, path, sha, kind) as started:
            if started is None:
                report.repeated = True
                return report
            conn, log, import_id = started.conn, started.log, started.import_id
            version = project.taxonomy_version(conn)
            typed = _people_of(conn, project.secret, parsed.platform, people.values())
            writer = _Writer(project, conn, log, path, import_id, version, parsed, report,
                             typed, images_dir)
            for work in spool:
                writer.write(work)
                if progress:
                    progress(report.rows)
            report.notes = list(parsed.notes)
            report.redacted_ids = typed.replaced
            finish_import(conn, log, import_id, report)
    return report


def _people_of(conn: Connection, secret: bytes, platform: str,
               people: Iterable[model.Person]) -> TypedIds:
    """The ids and personal values of everyone in the vault and in the file (``people``, kept
    while the file was read), each to be replaced by its owner's pseudonym where typed."""
    typed = TypedIds(conn, platform)
    for row in conn.execute(select(vault_values.c.owner, vault_values.c.value)
                            .join(vault, vault.c.pseudonym == vault_values.c.owner)):
        typed.add(str(row.value), str(row.owner))    # e-mails, user names of the vault
    for person in people:
        token = pseudonym(secret, platform, person.platform_id)
        for value in (person.platform_id, *person.personal.values()):
            if value:
                typed.add(value, token)
    return typed


class _Writer:
    def __init__(self, project: Project, conn: Connection, log: LedgerWriter, path: Path,
                 import_id: int, version: int, parsed: model.PlatformFile,
                 report: PlatformReport, typed: TypedIds,
                 images_dir: Path | None = None) -> None:
        self.project, self.conn, self.log, self.path = project, conn, log, path
        self.import_id, self.version, self.report = import_id, version, report
        self.typed = typed
        self.platform = parsed.platform
        self.batch_specs = {b.key: b for b in parsed.batches}
        self.batch_ids: dict[str, int] = {}
        self.known: dict[str, str] = {}
        self.stashed: set[str] = set()
        self.jobs: set[str] = set()
        self.assets = Assets(conn, log, images_dir)
        pay = project.config.get("pay", {})
        self.currency = str(pay.get("currency", "USD")) if isinstance(pay, dict) else "USD"

    # -- who ------------------------------------------------------------------------------

    def _person(self, person: model.Person) -> str:
        token, created = ensure_worker(self.conn, self.log, self.project.secret, self.platform,
                                       person.platform_id, self.known)
        self.report.workers_new += int(created)
        personal = {k: v for k, v in person.personal.items() if v}
        if token not in self.stashed and personal:
            have = {(r.field, r.value) for r in self.conn.execute(
                select(vault_values.c.field, vault_values.c.value)
                .where(vault_values.c.owner == token))}
            stash_identifying(self.conn, token, {k: v for k, v in personal.items()
                                                 if (k, v) not in have})
        self.stashed.add(token)
        return token

    def _job(self, batch_key: str) -> str:
        """The pseudonym standing for a job: derived like a worker's, but not a person."""
        platform = self.platform + JOB_SUFFIX
        token = pseudonym(self.project.secret, platform, batch_key)
        if token in self.jobs:
            return token
        exists = self.conn.execute(
            select(workers.c.pseudonym).where(workers.c.pseudonym == token)).first()
        if exists is None:
            self.conn.execute(insert(workers).values(
                pseudonym=token, platform=platform, created_at=ledger.now(), consent_link=False,
                consent_publish=False, consent_credit=False, erased=False))
            integrity.seal(self.conn, "workers", [token])
            self.log.append("worker.create", f"worker:{token}",
                            new={"platform": platform, "job": batch_key})
        self.jobs.add(token)
        return token

    # -- what -----------------------------------------------------------------------------

    def _batch_id(self, key: str, row: int) -> int:
        if key in self.batch_ids:
            return self.batch_ids[key]
        found = self.conn.execute(select(batches.c.id).where(
            (batches.c.platform == self.platform) & (batches.c.batch_key == key))).first()
        if found is not None:
            self.batch_ids[key] = int(found.id)
            return int(found.id)
        spec = self.batch_specs.get(key, model.Batch(key=key))
        result = self.conn.execute(insert(batches).values(
            platform=self.platform, batch_key=key, title=spec.title,
            description=spec.description, keywords="", reward_cents=spec.reward_cents,
            max_assignments=spec.max_assignments, time_allotted_s=spec.time_allotted_s,
            auto_approval_delay_s=None, created_at=iso(spec.created_at),
            import_id=self.import_id))
        batch_id = inserted_id(result)
        integrity.seal(self.conn, "batches", [batch_id])
        self.log.append("batch.create", f"batch:{batch_id}", new={
            "platform": self.platform, "batch_key": key, "title": spec.title,
            "reward_cents": spec.reward_cents, "time_allotted_s": spec.time_allotted_s})
        self.batch_ids[key] = batch_id
        return batch_id

    def _check(self, work: model.Work) -> None:
        if work.status not in model.STATUSES:
            raise InputError(f"status {work.status!r} is not one of {', '.join(model.STATUSES)}",
                             file=str(self.path), row=work.row, field="status")
        check_labels(self.project, self.conn,
                     (lb.category for lb in work.labels
                      if lb.kind in _TAXONOMY_KINDS and lb.category is not None),
                     self.path, work.row, "labels")

    def write(self, work: model.Work) -> None:
        self.report.rows += 1
        self._check(work)
        if work.worker is not None:
            token = self._person(work.worker)
            secrets = _personal_values(work.worker)
        else:
            token = self._job(work.batch_key)
            secrets = set()
        attributed = self.report.attributed if self.report.attributed is not None else {}
        count(attributed, work.attribution)
        self.report.attributed = attributed
        # Ids typed inside any text are replaced before anything is stored or hashed: the
        # person's own values first, then anyone's id the import knows.
        found = _Typed(self.typed)
        pairs = [found.label(_redact(_label_dict(lb), secrets, token), n)
                 for n, lb in enumerate(work.labels)]
        labels = [clean for clean, _ in pairs]
        raw, raw_hashed = found.tree(_redact(work.raw, secrets, token), "raw",
                                     strangers=False, counted=True)
        feedback, _ = found.tree(_redact(work.review.reason if work.review and work.review.reason
                                         else work.feedback, secrets, token), "feedback")
        content = {"task_id": work.task_id, "batch": work.batch_key, "asset": work.asset_uri,
                   "labels": labels, "raw": raw}
        hashed = {**content, "labels": [h for _, h in pairs], "raw": raw_hashed}
        content_sha = hashlib.sha256(canonical(hashed).encode("utf-8")).hexdigest()
        existing = self.conn.execute(select(submissions).where(
            (submissions.c.platform == self.platform)
            & (submissions.c.assignment_id == work.assignment_id))).first()
        if existing is None:
            self._insert(work, token, labels, raw, str(feedback), content_sha, found.texts)
        elif existing.content_sha256 == content_sha:
            self._status_change(work, existing, str(feedback), found.texts)
        else:
            self._conflict(work, existing, content, content_sha)

    def _insert(self, work: model.Work, token: str, labels: list[dict[str, Any]],
                raw: Any, feedback: str, content_sha: str, typed: dict[str, str]) -> None:
        asset_id = (self.assets.get(work.asset_uri, work.asset_width, work.asset_height)
                    if work.asset_uri else None)
        batch_id = self._batch_id(work.batch_key, work.row)
        status = work.review.status if work.review is not None else work.status
        decided = work.review.time if work.review is not None else None
        result = self.conn.execute(insert(submissions).values(
            platform=self.platform, assignment_id=work.assignment_id, task_id=work.task_id,
            batch_id=batch_id, asset_id=asset_id, worker=token, status=status,
            accept_time=iso(work.accept_time), submit_time=iso(work.submit_time),
            work_time_s=work.work_time_s, time_kind=work.time_kind,
            reward_cents=work.reward_cents,
            approval_time=iso(decided) if status == "Approved" else None,
            rejection_time=iso(decided) if status == "Rejected" else None,
            requester_feedback=feedback, content_sha256=content_sha,
            answer=canonical([{k: v for k, v in lb.items() if k not in _GEOMETRY_KEYS}
                              for lb in labels]),
            raw=canonical(raw), tolerated_pixels=0, import_id=self.import_id, row=work.row))
        sub_id = inserted_id(result)
        stash_identifying(self.conn, f"submission:{sub_id}", vault_rows(typed))
        integrity.seal(self.conn, "submissions", [sub_id])
        self.log.append("submission.create", f"submission:{sub_id}", new={
            "assignment_id": work.assignment_id, "task_id": work.task_id, "batch": batch_id,
            "asset": asset_id, "worker": token, "status": status,
            "work_time_s": work.work_time_s, "time_kind": work.time_kind,
            "reward_cents": work.reward_cents, "attribution": work.attribution,
            "content_sha256": content_sha})
        rows = [self._annotation_row(lb, sub_id, asset_id, token, work) for lb in labels]
        if rows:
            ann_ids = [int(r.id) for r in self.conn.execute(
                insert(annotations).returning(annotations.c.id, sort_by_parameter_order=True),
                rows)]
            integrity.seal(self.conn, "annotations", ann_ids)
            for ann_id, row in zip(ann_ids, rows, strict=True):
                self.log.append("annotation.create", f"annotation:{ann_id}", new={
                    "submission": sub_id, "kind": row["kind"], "category": row["category"],
                    "area": row["area"], "taxonomy_version": self.version})
                if row["category"] is not None and row["kind"] in _TAXONOMY_KINDS:
                    count(self.report.by_category, row["category"])
        if work.bonus_cents:
            self._bonus(work, sub_id, token)
        for what, n in work.unconverted.items():
            count(self.report.kept_raw, what, n)
        self.report.annotations += len(rows)
        self.report.added += 1

    def _annotation_row(self, label: Mapping[str, Any], sub_id: int, asset_id: int | None,
                        token: str, work: model.Work) -> dict[str, Any]:
        row: dict[str, Any] = {
            "submission_id": sub_id, "asset_id": asset_id, "worker": token,
            "element": label["element"], "kind": label["kind"], "category": label["category"],
            "taxonomy_version": self.version, "rle_counts": None, "height": work.asset_height,
            "width": work.asset_width, "bbox_x": None, "bbox_y": None, "bbox_w": None,
            "bbox_h": None, "area": None, "value": None}
        kind = label["kind"]
        try:
            if kind == "bbox":
                x, y, w, h = label["bbox"]
                row.update(bbox_x=x, bbox_y=y, bbox_w=w, bbox_h=h, area=float(w * h))
            elif kind == "mask":
                rle = label["mask"]
                (h_px, w_px), (x, y, w, h), area = masks.rle_geometry(rle)
                row.update(rle_counts=rle["counts"], height=h_px, width=w_px, bbox_x=x,
                           bbox_y=y, bbox_w=w, bbox_h=h, area=float(area))
            elif kind == "polygon":
                rings = label["polygon"]
                row["value"] = canonical(rings)
                if work.asset_width and work.asset_height:
                    raster = masks.rasterise_polygons(
                        rings, work.asset_width, work.asset_height,
                        max_pixels=self.project.settings["max_pixels"])
                    x, y, w, h = raster.bbox
                    row.update(rle_counts=raster.rle["counts"], bbox_x=x, bbox_y=y, bbox_w=w,
                               bbox_h=h, area=float(raster.area))
                else:
                    xs = [v for ring in rings for v in ring[0::2]]
                    ys = [v for ring in rings for v in ring[1::2]]
                    row.update(bbox_x=min(xs), bbox_y=min(ys), bbox_w=max(xs) - min(xs),
                               bbox_h=max(ys) - min(ys), area=None)
            elif kind in ("polyline", "keypoints"):
                points = label["polygon"] if kind == "polyline" else label["keypoints"]
                row["value"] = canonical(points)
                flat = [v for ring in points for v in ring] if kind == "polyline" else points
                xs, ys = flat[0::2], flat[1::2]
                if xs:
                    row.update(bbox_x=min(xs), bbox_y=min(ys), bbox_w=max(xs) - min(xs),
                               bbox_h=max(ys) - min(ys))
            else:
                row["value"] = canonical(label["value"])
        except (MaskError, ValueError) as exc:
            raise InputError(f"{kind} label of {label['element']!r} cannot be read: {exc}",
                             file=str(self.path), row=work.row, field=str(label["element"])
                             ) from None
        return row

    def _bonus(self, work: model.Work, sub_id: int, token: str) -> None:
        """A bonus the platform reports as paid: recorded once (its token is the assignment)."""
        key = f"{self.platform}:{work.assignment_id}:bonus"
        bonus_token = hashlib.sha256(key.encode("utf-8")).hexdigest()
        result = self.conn.execute(insert(bonuses).values(
            worker=token, submission_id=sub_id, amount_cents=work.bonus_cents,
            currency=self.currency, reason=f"bonus paid on {self.platform}", token=bonus_token,
            state="paid", created_at=ledger.now()))
        integrity.seal(self.conn, "bonuses", [inserted_id(result)])
        self.log.append("bonus.paid", f"submission:{sub_id}", new={
            "worker": token, "amount_cents": work.bonus_cents, "currency": self.currency,
            "token": bonus_token}, reason=f"reported by {self.path.name}")

    def _status_change(self, work: model.Work, existing: Any, feedback: str,
                       typed: dict[str, str]) -> None:
        status = work.review.status if work.review is not None else work.status
        decided = iso(work.review.time) if work.review is not None else None
        new: dict[str, Any] = {"status": status, "requester_feedback": feedback}
        if decided and status == "Approved":
            new["approval_time"] = decided
        if decided and status == "Rejected":
            new["rejection_time"] = decided
        old = {k: getattr(existing, k) for k in new}
        if old == new:
            self.report.unchanged += 1
            return
        if status == "Submitted" and existing.status != "Submitted":
            self.log.append("submission.platform_behind", f"submission:{existing.id}",
                            field="status", old=existing.status, new=status,
                            reason=f"platform download {self.path.name}; the decision stands")
            self.report.platform_behind += 1
            return
        self.conn.execute(update(submissions).where(submissions.c.id == existing.id)
                          .values(**new))
        if "feedback" in typed and old["requester_feedback"] != feedback:
            stash_identifying(self.conn, f"submission:{existing.id}",
                              vault_rows({"feedback": typed["feedback"]}))
        integrity.seal(self.conn, "submissions", [existing.id])
        for key in new:
            if old[key] != new[key]:
                self.log.append("submission.status" if key == "status" else "submission.update",
                                f"submission:{existing.id}", field=key, old=old[key],
                                new=new[key], reason=f"platform download {self.path.name}")
        self.report.status_changes += 1

    def _conflict(self, work: model.Work, existing: Any, content: dict[str, Any],
                  content_sha: str) -> None:
        stored_sha = str(existing.content_sha256)
        result = self.conn.execute(insert(conflicts).values(
            target=f"submission:{existing.id}", import_id=self.import_id, row=work.row,
            fields=canonical(["content"]), incoming=canonical(
                {"content": content, "content_sha256": content_sha}),
            state="open", created_at=ledger.now()))
        integrity.seal(self.conn, "conflicts", [inserted_id(result)])
        self.log.append("submission.conflict", f"submission:{existing.id}",
                        old=stored_sha, new=content_sha,
                        reason=f"{self.path.name} row {work.row} differs in content; "
                        "stored value kept")
        self.report.conflicts += 1


# Label kinds checked against the taxonomy (their category is a class of the project).
_TAXONOMY_KINDS = ("mask", "bbox", "polygon", "polyline", "keypoints")
_GEOMETRY_KEYS = ("bbox", "polygon", "mask", "keypoints")


def _label_dict(label: model.Label) -> dict[str, Any]:
    return {"element": label.element, "kind": label.kind, "category": label.category,
            "bbox": list(label.bbox) if label.bbox is not None else None,
            "polygon": label.polygon, "mask": dict(label.mask) if label.mask else None,
            "keypoints": label.keypoints, "value": label.value,
            "attributes": dict(label.attributes)}


class _Typed:
    """One work's texts with typed ids replaced, each in two forms: as stored, and as the
    content hash sees it (every replacement read as ``<worker id>``). ``texts`` keeps each
    changed text as typed (where it is → the text), for the vault."""

    def __init__(self, typed: TypedIds) -> None:
        self.typed = typed
        self.texts: dict[str, str] = {}

    def tree(self, value: Any, where: str, *, strangers: bool = True,
             counted: bool = False) -> tuple[Any, Any]:
        """``value`` (JSON-like) with ids replaced in every string, and its hash form.
        Tokens only shaped like an id of no known worker are replaced with ``strangers``;
        ids found are counted in the report when ``counted`` (the raw record: what the file
        carries; the labels and feedback read from it are not counted again)."""
        if isinstance(value, str):
            clean = self.typed.scrub(value, strangers=strangers, counted=counted)
            if clean == value:
                return value, value
            self.texts[where] = value
            return clean, hash_text(clean)
        if isinstance(value, dict):
            pairs = {k: self.tree(v, f"{where}/{k}", strangers=strangers, counted=counted)
                     for k, v in value.items()}
            return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
        if isinstance(value, list | tuple):
            items = [self.tree(v, f"{where}/{n}", strangers=strangers, counted=counted)
                     for n, v in enumerate(value)]
            return [p[0] for p in items], [p[1] for p in items]
        return value, value

    def label(self, label: dict[str, Any], n: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """A label with ids replaced in its value and attributes, and in its category when
        the category is an answer rather than a class of the taxonomy; and its hash form.
        Geometry is no one's typing (an RLE string may hold any run of digits)."""
        clean, hashed = dict(label), dict(label)
        keys = ["value", "attributes"]
        if label["kind"] not in _TAXONOMY_KINDS and isinstance(label["category"], str):
            keys.append("category")
        for key in keys:
            clean[key], hashed[key] = self.tree(label[key], f"labels/{n}/{key}")
        return clean, hashed


def _personal_values(person: model.Person) -> set[str]:
    values = {person.platform_id, *person.personal.values()}
    return {v for v in values if v and len(v.strip()) >= 3}


def _redact(value: Any, secrets: set[str], token: str) -> Any:
    """``value`` with every occurrence of a personal value replaced by the pseudonym."""
    if not secrets:
        return value
    if isinstance(value, str):
        out = value
        for secret in sorted(secrets, key=len, reverse=True):
            if secret in out:
                out = out.replace(secret, f"<worker {token}>")
        return out
    if isinstance(value, dict):
        return {_redact(k, secrets, token): _redact(v, secrets, token) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets, token) for v in value]
    return value

"""Ingest: raw platform records become rows of the canonical model, in one transaction each.

``ingest_mturk`` works in two phases. Staging reads the batch results file a row at a time,
decodes its masks in a pool of processes (or on a Dask cluster) with a bounded window of rows
in flight, and spools each row with its decoded masks to an unnamed temporary file: no write
transaction is open, so other writers (a review, a note) go on meanwhile. Writing then opens
one write transaction and reads the spool back in chunks of :data:`WRITE_CHUNK` rows: per
chunk one query each for the stored submissions, workers and assets it names, one
``executemany`` per table, ledger entries hashed in row order and inserted in bulk, and seals
collected for the commit. Memory is bounded by the window and the chunk, not the file; a
failure or a kill at any point leaves the store as it was (:mod:`tracework.ingest.qualtrics`
keeps the same promise for a survey export). Polygons are kept as given and rasterised for RLE,
bbox and area; every answer not turned into an annotation is counted in the report, by
element, as are empty masks.

Re-importing a file already imported (same SHA-256) adds nothing. A row whose assignment is
already stored is compared by the hash of its work content: the same work with a new status is
a status change (a ledger entry); different work is recorded as a conflict and the stored value
is left as it was. Worker ids typed into any text of a row (answers, feedback) are replaced by
pseudonyms before the row is hashed or stored (:mod:`tracework.ingest.typed_ids`).
"""


import hashlib
import json
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity, ledger
from tracework.core.compute import executor, scheduler_address
from tracework.core.errors import InputError, MaskError
from tracework.core.ledger import Draft, LedgerWriter, Private, canonical
from tracework.core.privacy import (
    pseudonym,
    stash_identifying,
    unlinked_pseudonym,
    worker_row,
)
from tracework.core.project import Project
from tracework.core.store import chunks, inserted_id
from tracework.core.store.schema import (
    annotations,
    batches,
    conflicts,
    submissions,
    vault,
    vault_values,
    workers,
)
from tracework.formats import masks, mturk
from tracework.formats.csvio import sha256_file
from tracework.ingest.common import (
    Assets,
    Deferred,
    ImportReport,
    Progress,
    Ref,
    Spool,
    check_labels,
    count,
    file_errors,
    finish_import,
    import_transaction,
    imported_before,
    insert_returning,
    iso,
    paused_gc,
    redact,
)
from tracework.ingest.typed_ids import TypedIds, hash_form, vault_rows

__all__ = ["GEOMETRY_KINDS", "MTURK_TIME_KIND", "ingest_mturk"]

MTURK_TIME_KIND = "wall_clock_accept_to_submit"
DASK_WINDOW = 256
#: Staged rows written per chunk: one query per table to look up, one executemany to insert.
WRITE_CHUNK = 1000

#: Annotation kinds that carry a taxonomy category and a geometry.
GEOMETRY_KINDS = ("mask", "bbox", "polygon")


def _platform_behind(stored: str, incoming: str) -> bool:
    """Whether a platform status would move a submission back: the platform only moves work
    forward (Submitted to Approved or Rejected, Rejected to Approved by a reversal)."""
    if incoming == "Submitted":
        return stored != "Submitted"
    return incoming == "Rejected" and stored == "Approved"


# -- Mechanical Turk ---------------------------------------------------------------------------

def _asset_uri(a: mturk.Assignment) -> str:
    """The item a HIT asked about: the first input that names a file, else the HIT itself."""
    for value in a.inputs.values():
        tail = PurePosixPath(urlparse(value).path).suffix.lower()
        if tail in (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"):
            return value
    for value in a.inputs.values():
        if value:
            return value
    return f"mturk-hit:{a.hit_id}"


@dataclass
class _MaskJob:
    element: mturk.Segmentation
    future: Future[masks.MaskResult] | None
    result: masks.MaskResult | None = None


def _mask_field(seg: mturk.Segmentation) -> str:
    return f"{mturk.ANSWER_PREFIX}{seg.name}.labeledImage.pngImageData"


def _mask_options(project: Project) -> dict[str, Any]:
    bg = project.settings["mask_background"]
    return {
        "background": None if bg == "transparent" else bg,
        "tolerance": project.settings["mask_tolerance"],
        "max_pixels": min(project.settings["max_mask_pixels"], project.settings["max_pixels"]),
        "max_bytes": project.settings["max_field_bytes"],
    }


def _processes(project: Project) -> int:
    wanted = project.settings["processes"]
    return wanted if wanted > 0 else (os.cpu_count() or 1)


def ingest_mturk(project: Project, path: Path | str, *, images_dir: Path | str | None = None,
                 progress: Progress | None = None) -> ImportReport:
    """Import a Mechanical Turk batch results CSV. One transaction; idempotent per file.

    ``progress`` is called with the number of rows read and decoded so far (the long part,
    done before the write transaction opens)."""
    path = Path(path)
    images = Path(images_dir) if images_dir is not None else None
    with file_errors(path):
        sha = sha256_file(path)
    report = ImportReport(file=path.name, kind="mturk", sha256=sha)
    if imported_before(project, sha):
        report.repeated = True
        return report
    with Spool() as spool:
        _stage(project, path, spool, progress)
        with paused_gc(), import_transaction(project, path, sha, "mturk") as started:
            if started is None:
                report.repeated = True
                return report
            conn, log, import_id = started.conn, started.log, started.import_id
            version = project.taxonomy_version(conn)
            writer = _MturkWriter(project, conn, log, path, import_id, version, images, report)
            for chunk in chunks(spool, WRITE_CHUNK):
                writer.write(chunk)
            finish_import(conn, log, import_id, report)
    return report


_Staged = tuple[mturk.Assignment, list[_MaskJob]]


def _stage(project: Project, path: Path, spool: Spool, progress: Progress | None) -> None:
    """Read the file and decode its masks into ``spool``, outside any write transaction: a
    long import holds the store's single writer lock only while it writes."""
    processes = _processes(project)
    # In flight at once: enough to keep every decoder busy (a cluster has many), few enough
    # that memory stays bounded.
    window = DASK_WINDOW if scheduler_address(project) else max(4, processes * 4)
    with executor(project, processes=processes) as pool, project.store.read() as conn, \
            file_errors(path), \
            mturk.read_batch(path, max_field_bytes=project.settings["max_field_bytes"],
                             max_pixels=project.settings["max_pixels"],
                             max_columns=project.settings["max_columns"]) as batch:
        for a, jobs in _decode(batch, pool, conn, project, path, window):
            spool.put((a, jobs))
            if progress:
                progress(spool.count)


def _decode(batch: Iterable[mturk.Assignment], pool: Executor, conn: Connection,
            project: Project, path: Path, limit: int) -> Iterator[_Staged]:
    """Each row with its masks decoded, in file order, at most ``limit`` rows in flight."""
    options = _mask_options(project)
    window: deque[_Staged] = deque()
    seen: dict[str, int] = {}
    for a in batch:
        first = seen.setdefault(a.assignment_id, a.row)
        if first != a.row:
            raise InputError(f"assignment appears twice in this file (first at row {first})",
                             file=str(path), row=a.row, field="AssignmentId")
        jobs = []
        for el in a.elements:
            if isinstance(el, mturk.Segmentation):
                check_labels(project, conn, el.colours, path, a.row,
                             f"{mturk.ANSWER_PREFIX}{el.name}.labelMappings")
                size = (el.width, el.height) if el.width and el.height else None
                fut = pool.submit(masks.decode_mask_cell, el.png_base64, el.colours,
                                  expected_size=size, **options)
                jobs.append(_MaskJob(el, fut))
        window.append((a, jobs))
        while len(window) >= limit:
            yield _resolved(*window.popleft(), path)
    while window:
        yield _resolved(*window.popleft(), path)


def _resolved(a: mturk.Assignment, jobs: list[_MaskJob], path: Path) -> _Staged:
    for job in jobs:
        if job.future is None:
            continue
        try:
            job.result = job.future.result()
        except MaskError as exc:
            raise exc.located(file=str(path), row=a.row, field=_mask_field(job.element)) from None
        job.future = None
    return a, jobs


@dataclass
class _Planned:
    """A new submission of a chunk, inserted with the others."""

    row: dict[str, Any]
    asset: Ref
    ref: Ref
    typed: dict[str, str]
    annotations: list[dict[str, Any]]
    annotation_refs: list[Ref]


class _MturkWriter:
    """Writes staged rows a chunk at a time: one query each for the chunk's stored
    submissions, workers and assets, one ``executemany`` per table, and the chunk's ledger
    entries in row order (the chain row-at-a-time writing would make)."""

    def __init__(self, project: Project, conn: Connection, log: LedgerWriter, path: Path,
                 import_id: int, version: int, images: Path | None,
                 report: ImportReport) -> None:
        self.project, self.conn, self.log, self.path = project, conn, log, path
        self.import_id, self.version, self.report = import_id, version, report
        self.assets = Assets(conn, log, images)
        self.batches: dict[str, int] = {}
        self.known_workers: dict[str, str] = {}
        self.typed = TypedIds(conn, "mturk")
        self.erased: dict[str, bool] = {}
        self.unlinked: set[str] = set()
        self.entries: list[Draft | Deferred] = []
        self.new_vault: list[dict[str, Any]] = []
        self.new_workers: list[dict[str, Any]] = []
        self.planned: list[_Planned] = []
        self.existing: dict[str, Any] = {}
        self.uris: dict[str, str] = {}

    def _entry(self, draft: Draft | Deferred) -> None:
        self.entries.append(draft)

    def _batch_id(self, a: mturk.Assignment) -> int:
        if a.batch_key in self.batches:
            return self.batches[a.batch_key]
        row = self.conn.execute(select(batches.c.id).where(
            (batches.c.platform == "mturk") & (batches.c.batch_key == a.batch_key))).first()
        if row is None:
            result = self.conn.execute(insert(batches).values(
                platform="mturk", batch_key=a.batch_key, title=a.title,
                description=a.description, keywords=a.keywords, reward_cents=a.reward_cents,
                max_assignments=a.max_assignments, time_allotted_s=a.assignment_duration_s,
                auto_approval_delay_s=a.auto_approval_delay_s,
                created_at=iso(a.creation_time), import_id=self.import_id))
            batch_id = inserted_id(result)
            integrity.seal(self.conn, "batches", [batch_id])
            self._entry(Draft("batch.create", f"batch:{batch_id}", new={
                "platform": "mturk", "batch_key": a.batch_key, "title": a.title,
                "reward_cents": a.reward_cents, "time_allotted_s": a.assignment_duration_s}))
        else:
            batch_id = int(row.id)
        self.batches[a.batch_key] = batch_id
        return batch_id

    def _prefetch(self, chunk: list[_Staged]) -> None:
        """What the chunk's rows need from the store, one query per table."""
        ids = [a.assignment_id for a, _ in chunk]
        self.existing = {str(r.assignment_id): r for r in self.conn.execute(
            select(submissions).where((submissions.c.platform == "mturk")
                                      & submissions.c.assignment_id.in_(ids)))}
        tokens = {pseudonym(self.project.secret, "mturk", a.worker_id) for a, _ in chunk
                  if a.worker_id not in self.known_workers}
        tokens |= {str(r.worker) for r in self.existing.values()}
        tokens -= set(self.erased)
        for part in chunks(sorted(tokens)):
            for r in self.conn.execute(select(workers.c.pseudonym, workers.c.erased)
                                       .where(workers.c.pseudonym.in_(part))):
                self.erased[str(r.pseudonym)] = bool(r.erased)
        self.uris = {a.assignment_id: _asset_uri(a) for a, _ in chunk}
        self.assets.prefetch(self.uris.values())

    def _is_erased(self, token: str) -> bool:
        return self.erased.get(token, False)

    def _worker(self, a: mturk.Assignment) -> str:
        """The row's worker, planning a new one (vault and workers rows, ledger entry) on first
        sight."""
        known = self.known_workers.get(a.worker_id)
        if known is not None:
            return known
        mine = pseudonym(self.project.secret, "mturk", a.worker_id)
        at = ledger.now()
        if self._is_erased(mine):
            # The worker asked to be forgotten: new work under their id is stored, and
            # paid, but under a pseudonym that nothing links to them (no vault row).
            token = unlinked_pseudonym()
            self.new_workers.append(worker_row(token, "mturk", at))
            self._entry(Draft("worker.create", f"worker:{token}",
                              new={"platform": "mturk", "unlinked": True},
                              reason=f"{self.path.name}: work under the id of an erased "
                              "worker, stored without a link to the person"))
            self.unlinked.add(token)
        else:
            token = mine
            if token not in self.erased:
                self.new_vault.append({"pseudonym": token, "platform": "mturk",
                                       "platform_worker_id": a.worker_id, "created_at": at})
                self.new_workers.append(worker_row(token, "mturk", at))
                self._entry(Draft("worker.create", f"worker:{token}",
                                  new={"platform": "mturk"}))
                self.report.workers_new += 1
        self.erased.setdefault(token, False)
        self.known_workers[a.worker_id] = token
        return token

    def write(self, chunk: list[_Staged]) -> None:
        self._prefetch(chunk)
        for a, jobs in chunk:
            self._row(a, jobs)
        self._flush()

    def _row(self, a: mturk.Assignment, jobs: list[_MaskJob]) -> None:
        self.report.rows += 1
        existing = self.existing.get(a.assignment_id)
        if existing is not None and self._is_erased(str(existing.worker)):
            # Work of an erased worker, already kept as an anonymous labour fact: its incoming
            # text would bring back what the erasure removed.
            self.report.erased_refused += 1
            return
        token = self._worker(a)
        if token in self.unlinked:
            self.report.erased_unlinked += 1
        self.typed.add(a.worker_id, token)
        # Ids typed inside any text are replaced before anything is stored or hashed; the
        # image data of masks is no one's typing.
        cells, typed = self.typed.scrub_cells(
            redact(a.cells, a.worker_id, token),
            keep={k for k in a.cells if k.endswith(".pngImageData")})
        content_fields = {k: v for k, v in cells.items() if k not in mturk.NON_CONTENT_COLUMNS}
        content_sha = hashlib.sha256(
            canonical(hash_form(content_fields, typed)).encode("utf-8")).hexdigest()
        if existing is None:
            self._insert(a, jobs, token, content_sha, cells, typed)
        elif existing.content_sha256 == content_sha:
            self._status_change(a, existing)
        else:
            self._conflict(a, existing, content_sha, jobs, cells, content_fields)
        self.report.redacted_ids = self.typed.replaced

    def _insert(self, a: mturk.Assignment, jobs: list[_MaskJob], token: str,
                content_sha: str, cells: dict[str, str], typed: dict[str, str]) -> None:
        width = height = None
        for job in jobs:
            if job.result is not None:
                width, height = job.result.width, job.result.height
        for el in a.elements:
            if isinstance(el, (mturk.BoundingBoxes, mturk.Polygons)) and el.width and el.height:
                width, height = width or el.width, height or el.height
        asset = self.assets.plan(self.uris[a.assignment_id], width, height, self.entries)
        batch_id = self._batch_id(a)
        tolerated = sum(j.result.tolerated_pixels for j in jobs if j.result is not None)
        answer = self.typed.scrub_value(_answer_summary(a.answer))
        row = {
            "platform": "mturk", "assignment_id": a.assignment_id, "task_id": a.hit_id,
            "batch_id": batch_id, "asset_id": None, "worker": token, "status": a.status,
            "accept_time": iso(a.accept_time), "submit_time": iso(a.submit_time),
            "work_time_s": a.work_time_s, "time_kind": MTURK_TIME_KIND,
            "reward_cents": a.reward_cents, "approval_time": iso(a.approval_time),
            "rejection_time": iso(a.rejection_time),
            "requester_feedback": self.typed.scrub(a.requester_feedback),
            "content_sha256": content_sha, "answer": canonical(answer), "raw": canonical(cells),
            "tolerated_pixels": tolerated, "import_id": self.import_id, "row": a.row}
        sub = Ref()
        anns = list(self._annotation_rows(a, jobs, 0, 0, token))
        plan = _Planned(row, asset, sub, typed, anns, [Ref() for _ in anns])
        self.planned.append(plan)
        entry = {"assignment_id": a.assignment_id, "task_id": a.hit_id, "batch": batch_id,
                 "asset": None, "worker": token, "status": a.status,
                 "work_time_s": a.work_time_s, "time_kind": MTURK_TIME_KIND,
                 "reward_cents": a.reward_cents, "content_sha256": content_sha}
        self._entry(lambda: Draft("submission.create", f"submission:{sub.id}",
                                  new={**entry, "asset": asset.id}))
        for ann, ref in zip(anns, plan.annotation_refs, strict=True):
            self._entry(self._annotation_entry(sub, ref, ann))
            if ann["category"] is not None and ann["kind"] in GEOMETRY_KINDS:
                count(self.report.by_category, ann["category"])
        self.report.annotations += len(anns)
        self._count_unconverted(a, jobs)
        self.report.tolerated_pixels += tolerated
        self.report.added += 1

    def _annotation_entry(self, sub: Ref, ref: Ref, ann: dict[str, Any]) -> Deferred:
        new = {"kind": ann["kind"], "category": ann["category"], "area": ann["area"],
               "taxonomy_version": self.version}
        return lambda: Draft("annotation.create", f"annotation:{ref.id}",
                             new={"submission": sub.id, **new})

    def _flush(self) -> None:
        """Insert what the chunk planned, then append its ledger entries in row order."""
        if self.new_vault:
            self.conn.execute(insert(vault), self.new_vault)
        if self.new_workers:
            self.conn.execute(insert(workers), self.new_workers)
            integrity.seal(self.conn, "workers", [w["pseudonym"] for w in self.new_workers])
        self.assets.insert_planned()
        for plan in self.planned:
            plan.row["asset_id"] = plan.asset.id
        sub_ids = insert_returning(self.conn, submissions, [p.row for p in self.planned])
        stash, anns, refs = [], [], []
        for plan, sub_id in zip(self.planned, sub_ids, strict=True):
            plan.ref.id = plan.row["id"] = sub_id
            stash += [{"owner": f"submission:{sub_id}", "field": k, "value": v}
                      for k, v in vault_rows(plan.typed).items() if v]
            for ann in plan.annotations:
                ann["submission_id"], ann["asset_id"] = sub_id, plan.asset.id
            anns += plan.annotations
            refs += plan.annotation_refs
        if stash:
            self.conn.execute(insert(vault_values), stash)
        ann_ids = insert_returning(self.conn, annotations, anns)
        for ref, ann, ann_id in zip(refs, anns, ann_ids, strict=True):
            ref.id = ann["id"] = ann_id
        integrity.seal_inserted(self.conn, "submissions", (p.row for p in self.planned))
        integrity.seal_inserted(self.conn, "annotations", anns)
        self.log.extend(e if isinstance(e, Draft) else e() for e in self.entries)
        self.entries, self.new_vault, self.new_workers, self.planned = [], [], [], []

    def _count_unconverted(self, a: mturk.Assignment, jobs: list[_MaskJob]) -> None:
        """Answers kept raw, by element, and masks with no labelled pixel: never silent."""
        for el in a.elements:
            if isinstance(el, (mturk.Unconverted, mturk.FormField)):
                count(self.report.kept_raw, mturk.element_tag(el))
        self.report.empty_masks += sum(
            1 for job in jobs if job.result is not None and not job.result.parts)

    def _annotation_rows(self, a: mturk.Assignment, jobs: list[_MaskJob], sub_id: int,
                         asset_id: int, token: str) -> Iterator[dict[str, Any]]:
        base = {"submission_id": sub_id, "asset_id": asset_id, "worker": token,
                "taxonomy_version": self.version, "rle_counts": None, "height": None,
                "width": None, "bbox_x": None, "bbox_y": None, "bbox_w": None,
                "bbox_h": None, "area": None, "value": None}
        for job in jobs:
            assert job.result is not None
            for part in job.result.parts:
                x, y, w, h = part.bbox
                yield {**base, "element": job.element.name, "kind": "mask",
                       "category": part.category, "rle_counts": part.rle["counts"],
                       "height": job.result.height, "width": job.result.width,
                       "bbox_x": x, "bbox_y": y, "bbox_w": w, "bbox_h": h,
                       "area": float(part.area)}
        for el in a.elements:
            if isinstance(el, mturk.BoundingBoxes):
                check_labels(self.project, self.conn, (b.label for b in el.boxes), self.path, a.row,
                              f"{mturk.ANSWER_PREFIX}{el.name}.boundingBoxes")
                for box in el.boxes:
                    yield {**base, "element": el.name, "kind": "bbox", "category": box.label,
                           "height": el.height, "width": el.width, "bbox_x": box.left,
                           "bbox_y": box.top, "bbox_w": box.width, "bbox_h": box.height,
                           "area": float(box.width * box.height)}
            elif isinstance(el, mturk.Polygons):
                check_labels(self.project, self.conn, (p.label for p in el.polygons), self.path, a.row,
                              f"{mturk.ANSWER_PREFIX}{el.name}.polygons")
                for poly in el.polygons:
                    yield {**base, **self._polygon_row(el, poly, a.row)}
            elif isinstance(el, mturk.Choice):
                yield {**base, "element": el.name, "kind": "class", "category": el.label,
                       "value": canonical(el.label)}
            elif isinstance(el, mturk.MultiChoice):
                yield {**base, "element": el.name, "kind": "labels", "category": None,
                       "value": canonical(list(el.labels))}

    def _polygon_row(self, el: mturk.Polygons, poly: mturk.Polygon, row: int) -> dict[str, Any]:
        """A polygon kept as given; rasterised for RLE, bbox and area when the size is known."""
        flat = [float(v) for point in poly.vertices for v in point]
        out: dict[str, Any] = {"element": el.name, "kind": "polygon", "category": poly.label,
                               "value": canonical([flat]), "width": el.width,
                               "height": el.height}
        if el.width and el.height:
            try:
                raster = masks.rasterise_polygons([flat], el.width, el.height,
                                                  max_pixels=self.project.settings["max_pixels"])
            except MaskError as exc:
                where = f"{mturk.ANSWER_PREFIX}{el.name}.inputImageProperties"
                raise exc.located(file=str(self.path), row=row, field=where) from None
            x, y, w, h = raster.bbox
            out.update(rle_counts=raster.rle["counts"], bbox_x=x, bbox_y=y, bbox_w=w,
                       bbox_h=h, area=float(raster.area))
        else:
            xs, ys = flat[0::2], flat[1::2]
            out.update(bbox_x=min(xs), bbox_y=min(ys), bbox_w=max(xs) - min(xs),
                       bbox_h=max(ys) - min(ys), area=_shoelace(xs, ys))
        return out

    def _status_change(self, a: mturk.Assignment, existing: Any) -> None:
        """A new platform status is a ledger entry; one that would undo a decision is not
        applied."""
        feedback = self.typed.scrub(a.requester_feedback)
        new = {"status": a.status, "approval_time": iso(a.approval_time),
               "rejection_time": iso(a.rejection_time), "requester_feedback": feedback}
        old = {k: getattr(existing, k) for k in new}
        if old == new:
            self.report.unchanged += 1
            return
        if _platform_behind(str(existing.status), a.status):
            # A download taken before the decision file went up, or a rejection overturned by
            # bonus (the platform keeps showing it rejected): the decision stands, the lag is
            # recorded.
            self._entry(Draft("submission.platform_behind", f"submission:{existing.id}",
                              field="status", old=existing.status, new=a.status,
                              reason=f"platform download {self.path.name}; the decision stands"))
            self.report.platform_behind += 1
            return
        self.conn.execute(update(submissions).where(submissions.c.id == existing.id).values(**new))
        if feedback != a.requester_feedback and old["requester_feedback"] != feedback:
            stash_identifying(self.conn, f"submission:{existing.id}",
                              vault_rows({"RequesterFeedback": a.requester_feedback}))
        integrity.seal(self.conn, "submissions", [existing.id])
        for key in new:
            if old[key] != new[key]:
                # Feedback is typed to a person: the entry commits to it, never holds it.
                private = key == "requester_feedback"
                self._entry(Draft(
                    "submission.status" if key == "status" else "submission.update",
                    f"submission:{existing.id}", field=key,
                    old=Private(old[key], existing.worker) if private else old[key],
                    new=Private(new[key], existing.worker) if private else new[key],
                    reason=f"platform download {self.path.name}"))
        self.report.status_changes += 1

    def _conflict(self, a: mturk.Assignment, existing: Any, content_sha: str,
                  jobs: list[_MaskJob], cells: dict[str, str],
                  incoming: dict[str, str]) -> None:
        """Recorded, not applied: the incoming row, its answer and its annotations are kept
        with the conflict, so that ``tracework conflicts resolve --keep incoming`` can apply
        them without the file."""
        token = self.known_workers[a.worker_id]
        stored = _stored_content(existing)
        changed = sorted(k for k in set(incoming) | set(stored)
                         if incoming.get(k) != stored.get(k))
        rows = list(self._annotation_rows(a, jobs, int(existing.id), existing.asset_id, token))
        kept = {"content": incoming, "content_sha256": content_sha, "raw": cells,
                "answer": self.typed.scrub_value(_answer_summary(a.answer)),
                "annotations": rows}
        result = self.conn.execute(insert(conflicts).values(
            target=f"submission:{existing.id}", import_id=self.import_id, row=a.row,
            fields=canonical(changed), incoming=canonical(kept), state="open",
            created_at=ledger.now()))
        integrity.seal(self.conn, "conflicts", [inserted_id(result)])
        self._entry(Draft("submission.conflict", f"submission:{existing.id}",
                          old=existing.content_sha256, new=content_sha,
                          reason=f"{self.path.name} row {a.row} differs in "
                          f"{', '.join(changed) or 'content'}; stored value kept"))
        self.report.conflicts += 1


def _shoelace(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2


def _stored_content(existing: Any) -> dict[str, str]:
    raw = json.loads(existing.raw)
    return {k: v for k, v in raw.items() if k not in mturk.NON_CONTENT_COLUMNS}


def _answer_summary(answer: Any) -> Any:
    """The answer object with embedded PNG data replaced by its SHA-256 (the raw row keeps it)."""
    if isinstance(answer, dict):
        out = {}
        for k, v in answer.items():
            if k == "pngImageData" and isinstance(v, str):
                out[k] = "sha256:" + hashlib.sha256(v.encode("ascii", "replace")).hexdigest()
            else:
                out[k] = _answer_summary(v)
        return out
    if isinstance(answer, list):
        return [_answer_summary(v) for v in answer]
    return answer

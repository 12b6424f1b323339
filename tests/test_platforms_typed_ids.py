"""A worker's raw id typed into another worker's free text, through every platform reader.

In each file, worker A types worker B's raw platform id (or e-mail) into a free-text answer:
a Label Studio textarea, a Toloka OUTPUT text and short answer and the requester's comment, a
CVAT attribute, a Prolific completion code, a field of a Ground Truth worker's answer. B's own
work comes later in the file, or B is known only from the vault (an earlier import). The
stored texts read ``<worker PSEUDONYM>`` of B; B's id is nowhere in the store but the vault
(which keeps the texts as typed), nor in any export; importing the same work again adds
nothing and makes no conflict.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

import tracework
from platform_checks import database_without_vault
from platform_support import DATA
from tracework import docs
from tracework.core.privacy import pseudonym
from tracework.core.project import Category, Project
from tracework.core.store.schema import annotations, metadata, submissions, vault_values
from tracework.fieldnotes.sheet import sheet_export

LS_B, LS_C_MAIL = "735291803", "canary.old@example.org"   # B works later; C's e-mail
TOLOKA_B = "77777777aaaaaaaa77777777aaaaaaaa"                 # whose one row is the last
CVAT_B = "canary_job_annotator"                              # in the vault, from the job
PROLIFIC_B = "60a1b2c3d4e5f60718293a4c"                      # whose row is the third
GT_B = "private.us-west-2.0b1d2c3e4f506172"                   # the next answer's worker
GT_B_SUB = "0b1d2c3e-0000-4000-8000-000000000002"             # and their Cognito subject


@dataclass(frozen=True)
class Case:
    kind: str
    categories: tuple[str, ...]
    build: Callable[[Path], Path]                 # writes the file with the typed ids
    ingest: Callable[[Project, Path], Any]
    canaries: tuple[str, ...]                     # raw values typed, stored only in the vault
    expected: Callable[[Callable[[str], str]], dict[str, str]]  # stored text → where
    vaulted: tuple[str, ...]                      # where the texts as typed are: fields
    redacted: int                                 # ids found in the file's raw records
    answer_in_book: bool = True                   # the workbook shows the answer redacted


def _replace(source: Path, out: Path, *pairs: tuple[str, str]) -> Path:
    text = source.read_bytes().decode("utf-8")
    for old, new in pairs:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    out.write_bytes(text.encode("utf-8"))
    return out


LS_TEXT = f"two wheels, same as {LS_B} and {LS_C_MAIL}"


def _labelstudio(tmp: Path) -> Path:
    return _replace(DATA / "labelstudio_export.json", tmp / "labelstudio_export.json",
                    ('"two wheels, one frame"', json.dumps(LS_TEXT)))


TOLOKA_LONG = (f"The cable runs under the mouse, as {TOLOKA_B} also marked it; a remark far "
               "longer than any category name could be.")
TOLOKA_SHORT = f"see {TOLOKA_B}"
TOLOKA_COMMENT = f"The box misses the cable; see rule 3 and {TOLOKA_B}"


def _toloka(tmp: Path) -> Path:
    return _replace(DATA / "toloka_assignments.tsv", tmp / "toloka_assignments.tsv",
                    ("\tmouse\t\t\thttps", f"\t{TOLOKA_LONG}\t\t\thttps"),
                    ("\tcable\tmouse\t", f"\t{TOLOKA_SHORT}\tmouse\t"),
                    ("The box misses the cable; see rule 3", TOLOKA_COMMENT))


CVAT_TEXT = f"blue, said {CVAT_B}"


def _cvat(tmp: Path) -> Path:
    return _replace(DATA / "cvat_task.xml", tmp / "cvat_task.xml",
                    ('<attribute name="colour">blue</attribute>',
                     f'<attribute name="colour">{CVAT_TEXT}</attribute>'))


def _ingest_cvat(project: Project, path: Path) -> Any:
    tracework.ingest_cvat(project, DATA / "cvat_job.xml")     # B comes into the vault
    return tracework.ingest_cvat(project, path)


def _prolific(tmp: Path) -> Path:
    return _replace(DATA / "prolific_export_65f0aa01b2c3d4e5f6071800.csv",
                    tmp / "prolific_export_65f0aa01b2c3d4e5f6071800.csv",
                    (",C1NLQCNF,312,", f",{PROLIFIC_B},312,"))


GT_TEXT = f"checked with {GT_B} (sub {GT_B_SUB})"


def _groundtruth(tmp: Path) -> Path:
    shutil.copytree(DATA / "groundtruth", tmp / "groundtruth")
    response = next((tmp / "groundtruth" / "identify-mice").rglob("iteration-1/0/*.json"))
    data = json.loads(response.read_text(encoding="utf-8"))
    data["answers"][0]["answerContent"]["comment"] = GT_TEXT
    response.write_text(json.dumps(data), encoding="utf-8")
    return tmp / "groundtruth" / "output.manifest"


def _ingest_groundtruth(project: Project, manifest: Path) -> Any:
    return tracework.ingest_groundtruth(project, manifest, responses=manifest.parent
                                        / "identify-mice", images=manifest.parent / "images")


CASES = [
    Case("labelstudio", ("Wheel", "Frame", "Hub"), _labelstudio,
         lambda p, f: tracework.ingest_labelstudio(p, f), (LS_B, LS_C_MAIL),
         lambda t: {f"two wheels, same as {t('735291803')} and {t('735291802')}": "label"},
         ("labels/3/value", "raw/annotation/result/3/value/text/0"), 2),
    Case("toloka", ("mouse", "cable", "wheel"), _toloka,
         lambda p, f: tracework.ingest_toloka(p, f, images=DATA / "toloka_images"),
         (TOLOKA_B,),
         lambda t: {TOLOKA_LONG.replace(TOLOKA_B, t(TOLOKA_B)): "label",
                    TOLOKA_SHORT.replace(TOLOKA_B, t(TOLOKA_B)): "label",
                    TOLOKA_COMMENT.replace(TOLOKA_B, t(TOLOKA_B)): "feedback"},
         ("labels/2/value", "raw/OUTPUT:category", "labels/0/value", "labels/0/category",
          "raw/OUTPUT:category", "raw/ACCEPT:comment", "feedback"), 3),
    Case("cvat", ("car", "plate", "traffic_line", "wheel"), _cvat, _ingest_cvat, (CVAT_B,),
         lambda t: {CVAT_TEXT.replace(CVAT_B, t(CVAT_B)): "attribute"},
         ("labels/0/attributes/attributes/colour", "raw/shapes/0/children/0/text"), 1, False),
    Case("prolific", ("Body",), _prolific, lambda p, f: tracework.ingest_prolific(p, f),
         (PROLIFIC_B,), lambda t: {t(PROLIFIC_B): "raw"}, ("raw/Completion code",), 1, False),
    Case("groundtruth", ("Body", "Cable"), _groundtruth, _ingest_groundtruth,
         (GT_B, GT_B_SUB),
         lambda t: {f"checked with {t(GT_B)} (sub {t(GT_B)})": "raw"},
         ("raw/answerContent/comment",), 2, False),
]


@pytest.fixture(params=CASES, ids=[c.kind for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def project(tmp_path: Path, database_url: str, case: Case) -> Iterator[Project]:
    p = tracework.init(tmp_path / "proj", name="Typed", actor="tester",
                       database_url=database_url or None, publish_free_text=True,
                       categories=[Category(c, "#1f77b4") for c in case.categories])
    try:
        yield p
    finally:
        p.close()


def _stored_texts(project: Project) -> str:
    """Every stored answer, raw record, feedback and annotation value, as one text."""
    with project.store.read() as conn:
        rows = [" ".join(str(v) for v in r) for r in conn.execute(select(
            submissions.c.answer, submissions.c.raw, submissions.c.requester_feedback))]
        rows += [str(r.value) for r in conn.execute(select(annotations.c.value))]
    return "\n".join(rows)


def _outside_vault(project: Project, canaries: tuple[str, ...]) -> list[str]:
    """Where any canary is found in any table but the vault's, case-insensitively."""
    found = []
    with project.store.read() as conn:
        for table in metadata.sorted_tables:
            if table.name in ("vault", "vault_values"):
                continue
            for row in conn.execute(select(table)):
                cells = " ".join(str(v) for v in row).casefold()
                found += [f"{table.name}: {c}" for c in canaries if c.casefold() in cells]
    return found


def _exports(project: Project, out: Path) -> dict[str, str]:
    docs.export_bundle(project, out / "bundle", status="all")
    sheet_export(project, out / "book.xlsx")
    texts = {p.relative_to(out).as_posix(): p.read_bytes().decode("utf-8", "replace")
             for p in (out / "bundle").rglob("*") if p.is_file()}
    book = openpyxl.load_workbook(out / "book.xlsx", read_only=True)
    texts["book.xlsx"] = "\n".join(" ".join(str(v) for v in row if v is not None)
                                   for sheet in book.worksheets
                                   for row in sheet.iter_rows(values_only=True))
    book.close()
    return texts


def test_an_id_typed_into_free_text_is_a_pseudonym_everywhere_but_the_vault(
        project: Project, database_url: str, case: Case, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    path = case.build(tmp_path / "in")
    report = case.ingest(project, path)
    assert (report.redacted_ids, report.conflicts) == (case.redacted, 0)

    def token(raw_id: str) -> str:
        return f"<worker {pseudonym(project.secret, case.kind, raw_id)}>"

    stored = _stored_texts(project)
    assert [t for t in case.expected(token) if t not in stored] == []
    if case.kind == "prolific":
        # Its own ids have the participants' shape, and are kept: they are no one's.
        with project.store.read() as conn:
            first = json.loads(conn.execute(select(submissions.c.raw).where(
                submissions.c.row == 1)).scalar_one())
        assert (first["Submission id"], first["Completion code"]) == (
            "65f0aa01b2c3d4e5f6071801", token(PROLIFIC_B))
    with project.store.read() as conn:
        vaulted = [(r.field, r.value) for r in conn.execute(select(vault_values).where(
            vault_values.c.field.like("typed text: %")).order_by(vault_values.c.id))]
    assert sorted(f for f, _ in vaulted) == sorted(f"typed text: {f}" for f in case.vaulted)
    typed = [value for _, value in vaulted]
    assert [c for c in case.canaries if not any(c in value for value in typed)] == []
    assert _outside_vault(project, case.canaries) == []
    if not database_url:
        outside = database_without_vault(project.root / "tracework.db", tmp_path)
        assert [c for c in case.canaries if c.encode() in outside] == []
    exported = _exports(project, tmp_path / "out")
    leaks = [(where, c) for where, body in exported.items() for c in case.canaries
             if c.casefold() in body.casefold()]
    assert leaks == []
    # The redacted answers did travel: the workbook shows each submission's answer.
    assert case.answer_in_book == any(
        text in exported["book.xlsx"] for text, where in case.expected(token).items()
        if where == "label")

    again = case.ingest(project, path)
    assert again.repeated and again.added == 0
    # The same work in another file (one more line end): nothing new, and no conflict.
    shutil.copytree(tmp_path / "in", tmp_path / "resaved")
    resaved = tmp_path / "resaved" / path.relative_to(tmp_path / "in")
    resaved.write_bytes(path.read_bytes() + (b"\n" if case.kind != "cvat" else b" "))
    later = case.ingest(project, resaved)
    assert (later.added, later.conflicts) == (0, 0)

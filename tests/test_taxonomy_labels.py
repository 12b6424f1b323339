"""Taxonomy changes never lose a label: after a rename, merge, split (with and without a rule)
or a chain of them, every export holds every label, each with the category it was made with and
the one it stands under now; old names still filter, with a note; the import check reads the
taxonomy in force and its hint names the command that would help."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO
from sqlalchemy import func, select

import tracework
from builders import read_rows, small_files, write_rows
from tracework import docs
from tracework.audit import aggregate, agreement_audit
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.project import Project
from tracework.core.store.schema import annotations
from tracework.dataset import select_dataset
from tracework.fieldnotes import taxonomy
from tracework.render.sheet import render_sheet

# Labels of the small example batch by category (status all): 72 in all.
BEFORE = {"Body": 18, "Cable": 16, "Scroll_Wheel": 16, "Left_Button": 12, "Right_Button": 10}
TOTAL = 72
BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("labels"))


@pytest.fixture
def labelled(project: Project, files: Any) -> Project:
    tracework.ingest_mturk(project, files.batch_csv)
    return project


def _stored(project: Project) -> dict[str, int]:
    with project.store.read() as conn:
        rows = conn.execute(select(annotations.c.category, func.count())
                            .where(annotations.c.kind == "mask")
                            .group_by(annotations.c.category)).all()
    return {str(c): int(n) for c, n in rows}


def _coco(project: Project, out: Path, **kw: Any) -> tuple[dict[str, Any], COCO]:
    tracework.export_coco(project, out, status="all", **kw)
    path = out / "annotations.json"
    return json.loads(path.read_text(encoding="utf-8")), COCO(str(path))


def _moves(doc: dict[str, Any]) -> Counter[tuple[str, str, str]]:
    """(original, current, COCO category name) of every annotation, counted."""
    names = {c["id"]: c["name"] for c in doc["categories"]}
    return Counter((a["attributes"]["original_category"], a["attributes"]["current_category"],
                    names[a["category_id"]]) for a in doc["annotations"])


def _yolo(project: Project, out: Path) -> Counter[tuple[str, str, str]]:
    """(original, current, class name of the label line) of every YOLO row, counted."""
    tracework.export_yolo(project, out, status="all")
    names = [line.split(": ", 1)[1].strip('"') for line in
             (out / "data.yaml").read_text(encoding="utf-8").splitlines()
             if line.startswith("  ") and ": " in line]
    found: Counter[tuple[str, str, str]] = Counter()
    rows = [json.loads(line) for line in
            (out / "provenance.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        label = (out / row["label_file"]).read_text(encoding="utf-8").splitlines()[row["line"] - 1]
        cls = names[int(label.split()[0])]
        assert row["category"] == row["current_category"] == cls
        found[(row["original_category"], row["current_category"], cls)] += 1
    return found


def _same(moves: dict[tuple[str, str], int]) -> Counter[tuple[str, str, str]]:
    return Counter({(o, c, c): n for (o, c), n in moves.items()})


def test_a_rename_exports_old_labels_under_the_new_name(labelled: Project,
                                                        tmp_path: Path) -> None:
    assert _stored(labelled) == BEFORE
    doc, _ = _coco(labelled, tmp_path / "before")
    assert len(doc["annotations"]) == TOTAL
    assert _moves(doc) == _same({(n, n): c for n, c in BEFORE.items()})
    taxonomy.rename(labelled, "Cable", "Cord", reason="workers found 'Cable' unclear")
    doc, coco = _coco(labelled, tmp_path / "after")
    assert len(doc["annotations"]) == TOTAL
    assert _moves(doc) == _same({("Body", "Body"): 18, ("Cable", "Cord"): 16,
                                 ("Scroll_Wheel", "Scroll_Wheel"): 16,
                                 ("Left_Button", "Left_Button"): 12,
                                 ("Right_Button", "Right_Button"): 10})
    assert [c["name"] for c in doc["categories"]] == [
        "Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cord"]
    cord = coco.getCatIds(catNms=["Cord"])
    assert len(coco.getAnnIds(catIds=cord)) == 16
    moved = [a for a in doc["annotations"] if a["attributes"]["original_category"] == "Cable"]
    assert {(a["attributes"]["taxonomy_version"], tuple(a["attributes"]["category_history"]))
            for a in moved} == {(1, ("renamed Cord in version 2",))}
    assert _yolo(labelled, tmp_path / "yolo") == _moves(doc)
    assert _stored(labelled) == BEFORE                       # nothing stored was relabelled


def test_a_merge_exports_the_sources_under_the_merged_category(labelled: Project,
                                                               tmp_path: Path) -> None:
    taxonomy.merge(labelled, ["Left_Button", "Right_Button"], "Button", reason="one part")
    doc, coco = _coco(labelled, tmp_path / "coco")
    assert len(doc["annotations"]) == TOTAL
    assert _moves(doc) == _same({("Body", "Body"): 18, ("Cable", "Cable"): 16,
                                 ("Scroll_Wheel", "Scroll_Wheel"): 16,
                                 ("Left_Button", "Button"): 12, ("Right_Button", "Button"): 10})
    assert [c["name"] for c in doc["categories"]] == ["Body", "Button", "Scroll_Wheel", "Cable"]
    assert len(coco.getAnnIds(catIds=coco.getCatIds(catNms=["Button"]))) == 22
    assert _yolo(labelled, tmp_path / "yolo") == _moves(doc)


def test_a_split_without_a_rule_keeps_old_labels_under_a_retired_category(
        labelled: Project, tmp_path: Path) -> None:
    taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], reason="two parts")
    doc, coco = _coco(labelled, tmp_path / "coco")
    assert len(doc["annotations"]) == TOTAL
    assert _moves(doc)[("Body", "Body (retired)", "Body (retired)")] == 18
    assert sum(_moves(doc).values()) == TOTAL
    assert doc["categories"][-1] == {"id": 7, "name": "Body (retired)", "supercategory": "",
                                     "color": "#4f7b9a"}        # Body's #1f77b4, dimmed
    assert [c["name"] for c in doc["categories"][:6]] == [
        "Top_Shell", "Base", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]
    assert len(coco.getAnnIds(catIds=[7])) == 18
    retired = [a for a in doc["annotations"] if a["category_id"] == 7]
    assert {tuple(a["attributes"]["category_history"]) for a in retired} == {
        ("split into Top_Shell, Base in version 2",)}
    assert _yolo(labelled, tmp_path / "yolo") == _moves(doc)
    # Listed for relabelling: exactly the Body labels, nothing else.
    with labelled.store.read() as conn:
        body_ids = sorted(int(i) for (i,) in conn.execute(
            select(annotations.c.id).where(annotations.c.category == "Body")))
    waiting = taxonomy.pending(labelled)
    assert sorted(p.annotation for p in waiting) == body_ids and len(body_ids) == 18
    assert {(p.original_category, p.taxonomy_version, p.current_category, p.why)
            for p in waiting} == {("Body", 1, "Body (retired)",
                                   "split into Top_Shell, Base in version 2")}
    data = select_dataset(labelled, status="all")
    assert data.notes == ["18 labels made under categories no longer in force are exported as "
                          "'Body (retired)'; `tracework taxonomy pending` lists them for "
                          "relabelling"]


def test_an_old_name_filters_with_a_note(labelled: Project, tmp_path: Path) -> None:
    taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], reason="two parts")
    taxonomy.rename(labelled, "Cable", "Cord", reason="clearer")
    report = tracework.export_coco(labelled, tmp_path / "body", status="all",
                                   categories=["Body", "Cable"])
    assert report.annotations == 18 + 16
    assert report.notes[:2] == [
        "--category Body: split into Top_Shell, Base in version 2; its labels are exported as "
        "'Body (retired)' until relabelled (see `tracework taxonomy pending`)",
        "--category Cable: renamed Cord in version 3; selecting Cord"]
    doc = json.loads((tmp_path / "body" / "annotations.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in doc["categories"]] == ["Cord", "Body (retired)"]
    assert doc["info"]["tracework"]["filters"]["category_notes"] == report.notes[:2]
    # The retired category's own name filters too, without a note.
    plain = tracework.export_coco(labelled, tmp_path / "retired", status="all",
                                  categories=["Body (retired)"])
    assert (plain.annotations, plain.notes[:-1]) == (18, [])
    with pytest.raises(InputError, match="unknown category Wheel: in no version of the "
                                         "taxonomy"):
        tracework.export_coco(labelled, tmp_path / "none", categories=["Wheel"])


def test_a_split_with_a_rule_maps_every_old_label(labelled: Project, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--map-to 'Shell' is not one of the new categories"):
        taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], map_to="Shell",
                       reason="two parts")
    v2 = taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], map_to="Base",
                        reason="the old outlines follow the base")
    assert v2.details["map_to"] == "Base"
    entry = tracework.log(labelled, action="taxonomy.version")[-1]
    assert entry.as_dict()["new"]["details"]["map_to"] == "Base"       # the rule is in the log
    doc, coco = _coco(labelled, tmp_path / "coco")
    assert len(doc["annotations"]) == TOTAL
    assert _moves(doc)[("Body", "Base", "Base")] == 18
    assert "Body (retired)" not in {c["name"] for c in doc["categories"]}
    assert len(coco.getAnnIds(catIds=coco.getCatIds(catNms=["Base"]))) == 18
    assert {tuple(a["attributes"]["category_history"]) for a in doc["annotations"]
            if a["attributes"]["original_category"] == "Body"} == {
        ("split into Top_Shell, Base in version 2, its labels mapped to Base by the split's "
         "rule",)}
    assert taxonomy.pending(labelled) == []
    assert _yolo(labelled, tmp_path / "yolo") == _moves(doc)


def test_a_rule_given_after_the_split_maps_the_waiting_labels(labelled: Project,
                                                                tmp_path: Path) -> None:
    taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], reason="two parts")
    taxonomy.retire(labelled, "Scroll_Wheel", reason="not a part of this mouse")
    assert Counter(p.current_category for p in taxonomy.pending(labelled)) == {
        "Body (retired)": 18, "Scroll_Wheel (retired)": 16}
    with pytest.raises(ConflictError, match="'Base' is in force"):
        taxonomy.map_labels(labelled, "Base", "Top_Shell", reason="x")
    with pytest.raises(NotFound, match="'Wheel' is not in the taxonomy"):
        taxonomy.map_labels(labelled, "Body", "Wheel", reason="x")
    v4 = taxonomy.map_labels(labelled, "Body", "Top_Shell", reason="checked: they follow the top",
                             author="alice")
    assert (v4.version, v4.change, v4.details) == (4, "map", {"from": "Body",
                                                             "map_to": "Top_Shell"})
    assert v4.entries == taxonomy.version(labelled, 3).entries      # categories unchanged
    doc, _ = _coco(labelled, tmp_path / "coco")
    assert len(doc["annotations"]) == TOTAL
    assert _moves(doc) == _same({("Body", "Top_Shell"): 18, ("Cable", "Cable"): 16,
                                 ("Scroll_Wheel", "Scroll_Wheel (retired)"): 16,
                                 ("Left_Button", "Left_Button"): 12,
                                 ("Right_Button", "Right_Button"): 10})
    assert {tuple(a["attributes"]["category_history"]) for a in doc["annotations"]
            if a["attributes"]["original_category"] == "Body"} == {
        ("split into Top_Shell, Base in version 2", "mapped to Top_Shell in version 4 by a rule")}
    assert Counter(p.current_category for p in taxonomy.pending(labelled)) == {
        "Scroll_Wheel (retired)": 16}


def test_a_category_removed_from_the_toml_keeps_its_labels(sqlite_project: Project,
                                                            files: Any, tmp_path: Path) -> None:
    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    path = sqlite_project.root / "tracework.toml"
    cable = '[[taxonomy.categories]]\nname = "Cable"\ncolour = "#2ca02c"\ndescription = ""\n'
    path.write_text(path.read_text(encoding="utf-8").replace(cable, ""), encoding="utf-8")
    sqlite_project.close()
    p = tracework.open_project(sqlite_project.root)
    try:
        # The edit is not recorded yet; the export already reads it, and loses nothing.
        assert len(taxonomy.history(p)) == 1
        doc, _ = _coco(p, tmp_path / "coco")
        assert len(doc["annotations"]) == TOTAL
        assert _moves(doc)[("Cable", "Cable (retired)", "Cable (retired)")] == 16
        assert {tuple(a["attributes"]["category_history"]) for a in doc["annotations"]
                if a["attributes"]["original_category"] == "Cable"} == {
            ("retired in version 2 (tracework.toml changed)",)}
    finally:
        p.close()


def _later(src: Path, dest: Path, rename: dict[str, str], suffix: str) -> Path:
    """The batch again as new assignments whose label mappings use other names."""
    header, rows = read_rows(src)
    for old, new in rename.items():
        header = [h.replace(f".labelMappings.{old}.", f".labelMappings.{new}.") for h in header]
    at = header.index("AssignmentId")
    for row in rows:
        row[at] += suffix
    return write_rows(dest, header, rows)


def test_a_chain_of_changes_and_labels_made_on_the_way(labelled: Project, files: Any,
                                                       tmp_path: Path) -> None:
    taxonomy.rename(labelled, "Cable", "Cord", reason="r1")                          # v2
    # A second batch labelled under version 2, with the new name.
    tracework.ingest_mturk(labelled, _later(files.batch_csv, tmp_path / "v2.csv",
                                            {"Cable": "Cord"}, "v2"))
    taxonomy.merge(labelled, ["Left_Button", "Right_Button"], "Button", reason="r2")  # v3
    taxonomy.rename(labelled, "Button", "Buttons", reason="r3")                      # v4
    taxonomy.split(labelled, "Cord", [("Plug", None), ("Wire", None)], map_to="Wire",
                   reason="r4")                                                      # v5
    taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], reason="r5")  # v6
    doc, _ = _coco(labelled, tmp_path / "coco")
    assert len(doc["annotations"]) == 2 * TOTAL
    assert _moves(doc) == _same({("Body", "Body (retired)"): 36, ("Cable", "Wire"): 16,
                                 ("Cord", "Wire"): 16, ("Scroll_Wheel", "Scroll_Wheel"): 32,
                                 ("Left_Button", "Buttons"): 24,
                                 ("Right_Button", "Buttons"): 20})
    histories = {(a["attributes"]["original_category"], a["attributes"]["taxonomy_version"]):
                 tuple(a["attributes"]["category_history"]) for a in doc["annotations"]}
    assert histories[("Cable", 1)] == (
        "renamed Cord in version 2",
        "split into Plug, Wire in version 5, its labels mapped to Wire by the split's rule")
    assert histories[("Cord", 2)] == (
        "split into Plug, Wire in version 5, its labels mapped to Wire by the split's rule",)
    assert histories[("Left_Button", 2)] == ("merged into Button in version 3",
                                             "renamed Buttons in version 4")
    assert histories[("Body", 1)] == ("split into Top_Shell, Base in version 6",)
    assert _yolo(labelled, tmp_path / "yolo") == _moves(doc)
    assert len(taxonomy.pending(labelled)) == 36
    # An old name of the chain filters to where it ended.
    report = tracework.export_coco(labelled, tmp_path / "left", status="all",
                                   categories=["Left_Button"])
    assert report.annotations == 44
    assert report.notes == ["--category Left_Button: merged into Button in version 3, then "
                            "renamed Buttons in version 4; selecting Buttons"]


def test_a_category_brought_back_takes_its_old_labels_back(labelled: Project,
                                                           tmp_path: Path) -> None:
    taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], reason="two parts")
    taxonomy.add(labelled, "Body", colour="#000000", reason="one part after all")
    doc, _ = _coco(labelled, tmp_path / "coco")
    assert _moves(doc)[("Body", "Body", "Body")] == 18
    assert {tuple(a["attributes"]["category_history"]) for a in doc["annotations"]
            if a["attributes"]["original_category"] == "Body"} == {
        ("split into Top_Shell, Base in version 2", "brought back in version 3")}
    assert taxonomy.pending(labelled) == []


def test_renders_and_audits_resolve_the_same_way(labelled: Project, files: Any,
                                                 tmp_path: Path) -> None:
    aggregate(labelled, classes=None, masks="pixel_majority")
    taxonomy.rename(labelled, "Cable", "Cord", reason="clearer")
    taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], reason="two parts")
    # The contact sheet draws every submission, the retired category in its legend.
    sheet = render_sheet(labelled, tmp_path / "sheet.png", images_dir=files.images_dir,
                         thumb_width=64)
    assert (sheet.contributions, sheet.notes) == (18, select_dataset(labelled,
                                                                     status="all").notes)
    # Agreement per category under the names in force; an old name filters with a note.
    result = agreement_audit(labelled)
    assert [c.category for c in result.masks] == sorted(
        ["Body (retired)", "Cord", "Left_Button", "Right_Button", "Scroll_Wheel"])
    cord = agreement_audit(labelled, categories=["Cable"])
    assert [c.category for c in cord.masks] == ["Cord"]
    assert cord.masks == agreement_audit(labelled, categories=["Cord"]).masks
    assert cord.notes == ["--category Cable: renamed Cord in version 2; selecting Cord"]
    # Aggregated labels made before the changes are exported under the names in force too.
    layer = select_dataset(labelled, status="all", layer="aggregate")
    found = Counter((a.attributes["original_category"], a.category) for a in layer.annotations)
    assert found and set(found) == {("Body", "Body (retired)"), ("Cable", "Cord"),
                                    ("Left_Button", "Left_Button"),
                                    ("Right_Button", "Right_Button"),
                                    ("Scroll_Wheel", "Scroll_Wheel")}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # inside mlcroissant's RDF library
def test_croissant_records_carry_both_categories(sqlite_project: Project, files: Any,
                                                 tmp_path: Path) -> None:
    mlc = pytest.importorskip("mlcroissant")
    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    taxonomy.split(sqlite_project, "Body", [("Top_Shell", None), ("Base", None)], reason="r1")
    taxonomy.rename(sqlite_project, "Cable", "Cord", reason="r2")
    docs.export_croissant(sqlite_project, tmp_path, status="all")
    records = list(mlc.Dataset(str(tmp_path / "croissant.json")).records("annotations"))
    assert len(records) == TOTAL
    found = Counter((r["annotations/original_category"].decode(),
                     r["annotations/category"].decode()) for r in records)
    assert found == {("Body", "Body (retired)"): 18, ("Cable", "Cord"): 16,
                     ("Scroll_Wheel", "Scroll_Wheel"): 16, ("Left_Button", "Left_Button"): 12,
                     ("Right_Button", "Right_Button"): 10}


def test_the_import_check_reads_the_taxonomy_in_force(labelled: Project, files: Any,
                                                      tmp_path: Path) -> None:
    taxonomy.split(labelled, "Body", [("Top_Shell", None), ("Base", None)], reason="two parts")
    # tracework.toml still lists Body: the store's versions are the taxonomy in force.
    assert 'name = "Body"' in (labelled.root / "tracework.toml").read_text(encoding="utf-8")
    still_body = _later(files.batch_csv, tmp_path / "body.csv", {}, "b")
    with pytest.raises(InputError) as refused:
        tracework.ingest_mturk(labelled, still_body)
    assert "label(s) 'Body' are not in the project's taxonomy in force" in str(refused.value)
    assert refused.value.hint == (
        "'Body' was split into Top_Shell, Base in version 2. To accept the label(s) as they "
        "are, add each to the taxonomy in force, e.g. `tracework taxonomy add Body --reason "
        "\"...\"`, then import again.")
    unknown = _later(files.batch_csv, tmp_path / "wheel.csv",
                     {"Scroll_Wheel": "Wheel", "Body": "Base"}, "w")
    with pytest.raises(InputError) as refused:
        tracework.ingest_mturk(labelled, unknown)
    assert refused.value.hint is not None and refused.value.hint.startswith(
        "'Wheel' is in no version of the taxonomy. To accept the label(s) as they are, add "
        "each to the taxonomy in force, e.g. `tracework taxonomy add Wheel --reason")
    assert _stored(labelled) == BEFORE                           # nothing partial stored
    # The hint is true: after the command it names, the batch is accepted.
    taxonomy.add(labelled, "Wheel", reason="the new mouse has a wheel")
    renamed = _later(files.batch_csv, tmp_path / "wheel2.csv",
                     {"Scroll_Wheel": "Wheel", "Body": "Base"}, "w2")
    report = tracework.ingest_mturk(labelled, renamed)
    assert report.by_category == {"Base": 18, "Cable": 16, "Wheel": 16, "Left_Button": 12,
                                  "Right_Button": 10}


# -- through the installed command ---------------------------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess[str]:
    assert TRACEWORK is not None
    env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    env.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([TRACEWORK, *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_commands_through_the_installed_tracework(files: Any, tmp_path: Path) -> None:
    root = str(tmp_path / "proj")
    cats = [a for name, colour in (("Body", "#1f77b4"), ("Left_Button", "#d62728"),
                                   ("Right_Button", "#9467bd"), ("Scroll_Wheel", "#ff7f0e"),
                                   ("Cable", "#2ca02c")) for a in ("--category", f"{name}={colour}")]
    assert _run("init", root, *cats).returncode == 0
    p = ("-p", root)
    assert _run(*p, "ingest", "mturk", str(files.batch_csv)).returncode == 0
    empty = _run(*p, "taxonomy", "pending")
    assert (empty.returncode, empty.stdout) == (
        0, "no label waits for relabelling: every label has a category in force\n")
    wrong = _run(*p, "taxonomy", "split", "Body", "--into", "Top_Shell", "--into", "Base",
                 "--map-to", "Shell", "--reason", "two parts")
    assert wrong.returncode == 4 and "--map-to 'Shell' is not one of the new categories" in \
        wrong.stderr
    assert _run(*p, "taxonomy", "split", "Body", "--into", "Top_Shell", "--into", "Base",
                "--reason", "two parts").returncode == 0
    assert _run(*p, "taxonomy", "rename", "Cable", "Cord", "--reason", "clearer").returncode == 0
    listed = _run(*p, "taxonomy", "pending", "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert len(rows) == 18 and {(r["original_category"], r["current_category"])
                                for r in rows} == {("Body", "Body (retired)")}
    text = _run(*p, "taxonomy", "pending")
    assert text.stdout.splitlines()[0] == "18 label(s) wait for relabelling: 18 'Body (retired)'"
    nowhere = _run(*p, "taxonomy", "map", "Body", "Shell", "--reason", "x")
    assert nowhere.returncode == NotFound.exit_code != 0
    assert "category 'Shell' is not in the taxonomy" in nowhere.stderr
    out = tmp_path / "coco"
    done = _run(*p, "export", "coco", str(out), "--status", "all", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["annotations"] == TOTAL
    body = _run(*p, "export", "coco", str(tmp_path / "body"), "--status", "all",
                "--category", "Body")
    assert body.returncode == 0
    assert body.stderr.splitlines()[0] == (
        "note: --category Body: split into Top_Shell, Base in version 2; its labels are "
        "exported as 'Body (retired)' until relabelled (see `tracework taxonomy pending`)")
    unknown = _run(*p, "export", "coco", str(tmp_path / "x"), "--category", "Wheel")
    assert unknown.returncode == 4 and "in no version of the taxonomy" in unknown.stderr
    later = _later(files.batch_csv, tmp_path / "later.csv", {}, "x")
    refused = _run(*p, "ingest", "mturk", str(later))
    assert refused.returncode == 4
    assert "`tracework taxonomy add Body --reason" in refused.stderr
    assert _run(*p, "taxonomy", "add", "Body", "--reason", "one part").returncode == 0
    accepted = _run(*p, "ingest", "mturk", str(_later(files.batch_csv, tmp_path / "l2.csv",
                                                      {"Cable": "Cord"}, "y")))
    assert accepted.returncode == 0, accepted.stderr
    both = _run(*p, "export", "yolo", str(tmp_path / "yolo"), "--status", "all", "--json")
    assert both.returncode == 0 and json.loads(both.stdout)["annotations"] == 2 * TOTAL

"""Every colour pair tracework puts text in reaches WCAG AA contrast (4.5:1): the web pages'
and the static pages' inks on their backgrounds, the concern colours the workbook fills cells
with, the category colours the video writes part names on, and the video's panels. Where the
background is chosen by a person (a category's or a concern's colour), the ink is chosen per
background, and it reaches 4.5 whatever the colour."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

import tracework
from builders import small_files
from conftest import MOUSE
from tracework.core.colours import AA, BLACK, WHITE, contrast, luminance, readable_ink, rgb
from tracework.core.project import DEFAULT_CONCERNS, Project
from tracework.fieldnotes import notes, sheet
from tracework.fieldnotes.xlsx import SheetWriter, WorkbookWriter
from tracework.render import svg
from tracework.render.frames import FrameStyle
from tracework.render.overlay import readable_on

SRC = Path(tracework.__file__).parent
# The category colours tracework proposes (the taxonomy's palette), the demo's, the tests'.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
           "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")


def _hex(bgr: tuple[int, int, int]) -> str:
    b, g, r = bgr
    return f"#{r:02x}{g:02x}{b:02x}"


def test_wcag_contrast_values() -> None:
    assert contrast(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == 1.0
    assert contrast("#777777", WHITE) == pytest.approx(4.48, abs=0.01)    # just short of AA
    assert contrast("#767676", WHITE) == pytest.approx(4.54, abs=0.01)    # just enough
    assert contrast("#1f77b4", WHITE) == contrast(WHITE, "#1f77b4")
    assert luminance("#fff") == pytest.approx(1.0) and rgb("#0a0B0c") == (10, 11, 12)


def test_the_ink_chosen_reads_on_any_background() -> None:
    # Every 15th level of each channel (4,913 colours), and the colours either side of the
    # luminance where black and white contrast equally.
    levels = range(0, 256, 15)
    backgrounds = [f"#{r:02x}{g:02x}{b:02x}" for r in levels for g in levels for b in levels]
    backgrounds += ["#757575", "#767676", "#777777", "#7a7a7a", "#808080", "#8a8a8a"]
    worst = min(contrast(bg, readable_ink(bg)) for bg in backgrounds)
    assert worst >= 4.58 - 0.01 >= AA
    assert readable_ink("#ffd966") == BLACK and readable_ink("#1f3b73") == WHITE


@pytest.mark.parametrize("colour", PALETTE + tuple(c.colour for c in MOUSE))
def test_category_colours_take_a_readable_ink_in_the_video(colour: str) -> None:
    # A part's name is written on a tag of its category's colour, in readable_on's ink.
    r, g, b = rgb(colour)
    ink = readable_on((b, g, r))
    assert contrast(colour, _hex(ink)) >= AA, (colour, ink)


def test_the_taxonomy_palette_is_the_one_checked() -> None:
    from tracework.fieldnotes import taxonomy

    assert tuple(taxonomy._PALETTE) == PALETTE


@pytest.mark.parametrize("name", sorted(DEFAULT_CONCERNS))
def test_concern_colours_have_a_readable_ink(name: str) -> None:
    colour = DEFAULT_CONCERNS[name]
    assert contrast(colour, readable_ink(colour)) >= AA
    assert contrast(colour, BLACK) >= AA        # the defaults all read in black


def _cell_colours(path: Path) -> list[tuple[str, str, str]]:
    """(cell, fill, ink) of every filled cell of a workbook, as openpyxl reads them."""
    found = []
    for ws in openpyxl.load_workbook(path):
        for row in ws.iter_rows():
            for cell in row:
                if cell.fill is None or cell.fill.fill_type != "solid":
                    continue
                fill = "#" + str(cell.fill.fgColor.rgb)[-6:].lower()
                ink = cell.font.color.rgb if cell.font.color is not None else "FF000000"
                found.append((f"{ws.title}!{cell.coordinate}", fill, "#" + str(ink)[-6:].lower()))
    return found


def test_the_workbook_writes_each_fill_in_its_readable_ink(tmp_path: Path) -> None:
    fills = {**{f"concern:{k}": v for k, v in DEFAULT_CONCERNS.items()},
             "concern:dark": "#1f3b73", "concern:night": "#000000"}
    book = WorkbookWriter(tmp_path / "w.xlsx", fills)
    names = list(fills)

    def rows(writer: SheetWriter) -> None:
        writer.row(names, styles={i: f"{n}+bold" for i, n in enumerate(names)})
        writer.row(names, styles=dict(enumerate(names)))

    book.add_sheet("Colours", rows)
    book.close()
    cells = _cell_colours(tmp_path / "w.xlsx")
    assert len(cells) == 2 * len(fills)
    for where, fill, ink in cells:
        assert ink == readable_ink(fill), where
        assert contrast(fill, ink) >= AA, (where, fill, ink)
    assert {ink for _, fill, ink in cells if fill in ("#1f3b73", "#000000")} == {WHITE}


def test_every_filled_cell_of_an_exported_workbook_reads(sqlite_project: Project,
                                                         tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    for k, concern in enumerate(sorted(DEFAULT_CONCERNS), 1):
        notes.add(sqlite_project, f"cell:annotations:{k}:category", f"note {k}",
                  concern=concern, author="tester")
    out = tmp_path / "sheet.xlsx"
    sheet.sheet_export(sqlite_project, out)
    cells = _cell_colours(out)
    fills = {fill for _, fill, _ in cells}
    assert set(DEFAULT_CONCERNS.values()) <= fills and len(fills) >= len(DEFAULT_CONCERNS) + 2
    for where, fill, ink in cells:
        assert contrast(fill, ink) >= AA, (where, fill, ink)


def _css_variables(css: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", css))


def test_web_page_inks_on_their_backgrounds() -> None:
    css = (SRC / "web" / "static" / "app.css").read_text(encoding="utf-8")
    var = _css_variables(css)
    page = "#ffffff"                                     # the body has no background of its own
    dispute = re.search(r"\.dispute \{[^}]*background: (#[0-9a-fA-F]{6})", css)
    assert dispute is not None
    for ink in ("fg", "muted", "accent", "ok", "bad", "warn"):
        for background in (page, dispute.group(1)):
            assert contrast(var[ink], background) >= AA, (ink, var[ink], background)
    # Nothing is faded below its ink: an opacity under 1 on text would lower its contrast
    # (the later rule of a selector wins, as in the cascade).
    opacity = {sel.strip().split("*/")[-1].strip(): float(v) for sel, v in
               re.findall(r"([^{}]+)\{[^}]*opacity:\s*([\d.]+)", css)}
    assert {sel for sel, v in opacity.items() if v < 1} == {".viewer .stage .mask"}  # not text


def test_static_page_inks_on_their_backgrounds() -> None:
    report = (SRC / "render" / "templates" / "report.css").read_text(encoding="utf-8")
    backgrounds = set(re.findall(r"background: (#[0-9a-fA-F]{3,6})", report)) | {"#ffffff"}
    inks = set(re.findall(r"(?<![-\w])color: (#[0-9a-fA-F]{3,6})", report))
    assert len(backgrounds) >= 3 and len(inks) >= 3
    for ink in inks:
        for background in backgrounds:
            assert contrast(ink, background) >= AA, (ink, background)
    # The charts' text: ink, muted and the wage floor's red, on the white section.
    for ink in (svg.INK, svg.MUTED, "#c0392b"):
        assert contrast(ink, "#ffffff") >= AA, ink
    # The datasheet's and the receipt's own styles.
    from tracework.docs.datasheet import Datasheet, render_html
    from tracework.pay import receipts

    sheet = render_html(Datasheet("t", "i"))
    receipt = Path(receipts.__file__).read_text(encoding="utf-8")
    for text in (sheet, receipt):
        for ink in re.findall(r"(?<![-\w])color:(#[0-9a-fA-F]{3,6})", text):
            assert contrast(ink, "#ffffff") >= AA, ink
    assert contrast(BLACK, "#f4f4f4") >= AA            # the receipt's table header


def test_video_panel_inks_on_the_panel() -> None:
    from tracework.render.frames import _STATUS_COLOURS

    style = FrameStyle()
    for ink in (style.ink, style.muted, style.accent, *_STATUS_COLOURS.values()):
        for background in (style.panel, style.background):
            assert contrast(_hex(ink), _hex(background)) >= AA, (ink, background)

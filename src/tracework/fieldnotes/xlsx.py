"""A small streaming .xlsx writer for tracework's workbooks.

Writes exactly what :mod:`tracework.sheet` needs (text, numbers and booleans; a bold coloured
header; cells filled with a concern colour and carrying a comment; frozen header; sheet
protection; a hidden sheet) straight to the zip as it goes, so memory stays bounded and each
cell costs a string format instead of a cell object: openpyxl's write-only mode spent most of a
100,000-row export building and serialising cell objects (benchmarks/bench_sheet.py writes the
same Annotations table both ways and prints the ratio: 7–8× here). Floats are written as their
exact ``repr``, so they read back bit for bit. The files are read back by openpyxl and
LibreOffice in the tests.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from tracework.core.colours import BLACK, readable_ink

__all__ = ["MAX_ROWS", "SheetFull", "SheetWriter", "WorkbookWriter", "column_letter"]

#: The most rows a worksheet holds (Excel, LibreOffice and the OOXML readers agree); read at
#: each row, so a test may lower it.
MAX_ROWS = 1_048_576

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_ENTITIES = {"\r": "&#13;"}          # a bare CR would be read back as LF


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text(value: str) -> str:
    return escape(value, _ENTITIES)


class SheetFull(Exception):
    """A sheet was given more rows than a worksheet holds."""

    def __init__(self, rows: int) -> None:
        super().__init__(f"a worksheet holds at most {rows:,} rows")
        self.rows = rows


class SheetWriter:
    """Rows of one sheet, written in order."""

    def __init__(self, book: WorkbookWriter, index: int, stream: IO[bytes]) -> None:
        self.book, self.index, self.stream = book, index, stream
        self.rows = 0
        self.letters: list[str] = []
        self.comments: list[tuple[str, int, int, str, str]] = []   # ref, row, col, author, text
        self._buffer: list[str] = []

    def _letters(self, width: int) -> list[str]:
        while len(self.letters) < width:
            self.letters.append(column_letter(len(self.letters)))
        return self.letters

    def row(self, values: Sequence[Any], styles: dict[int, str] | None = None,
            comments: dict[int, tuple[str, str]] | None = None) -> None:
        """One row: values (str, int, float, bool or None); ``styles`` maps a column to a
        named style; ``comments`` a column to (author, text)."""
        if self.rows >= MAX_ROWS:
            raise SheetFull(MAX_ROWS)
        self.rows += 1
        n = self.rows
        letters = self._letters(len(values))
        parts = [f'<row r="{n}">']
        style_ids = self.book.style_ids
        for i, value in enumerate(values):
            s = f' s="{style_ids[styles[i]]}"' if styles and i in styles else ""
            ref = f"{letters[i]}{n}"
            if value is None or value == "":
                if s:
                    parts.append(f'<c r="{ref}"{s}/>')
            elif value is True or value is False:
                parts.append(f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, (int, float)):
                parts.append(f'<c r="{ref}"{s}><v>{value!r}</v></c>')
            else:
                parts.append(f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">'
                             f'{_text(str(value))}</t></is></c>')
        parts.append("</row>")
        self._buffer.append("".join(parts))
        if comments:
            for i, (author, text) in comments.items():
                self.comments.append((f"{letters[i]}{n}", n - 1, i, author, text))
        if len(self._buffer) >= 500:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.stream.write("".join(self._buffer).encode("utf-8"))
            self._buffer = []


_VML_HEAD = ('<xml xmlns:v="urn:schemas-microsoft-com:vml" '
             'xmlns:o="urn:schemas-microsoft-com:office:office" '
             'xmlns:x="urn:schemas-microsoft-com:office:excel">'
             '<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{n}"/></o:shapelayout>'
             '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
             'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
             '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')
_VML_SHAPE = ('<v:shape id="_x0000_s{id}" type="#_x0000_t202" '
              'style="position:absolute;margin-left:59.25pt;margin-top:1.5pt;width:220pt;'
              'height:110pt;z-index:1;visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
              '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
              '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"/>'
              '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
              '<x:Anchor>{col1}, 15, {row}, 2, {col2}, 15, {row2}, 16</x:Anchor>'
              '<x:AutoFill>False</x:AutoFill><x:Row>{row}</x:Row><x:Column>{col}</x:Column>'
              '</x:ClientData></v:shape>')


class WorkbookWriter:
    """A workbook written sheet by sheet; :meth:`close` writes the parts that list them."""

    def __init__(self, path: Path, fills: dict[str, str]) -> None:
        """``fills``: named solid fills (style name → ``#rrggbb``); each also exists in bold,
        as ``NAME+bold``, for headers."""
        self.path = path
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self.fills = dict(fills)
        names = list(self.fills)
        self.style_ids = {name: i + 1 for i, name in enumerate(names)}
        self.style_ids.update({f"{name}+bold": len(names) + i + 1 for i, name in enumerate(names)})
        self.sheets: list[tuple[str, bool, bool]] = []        # title, hidden, has comments

    def add_sheet(self, title: str, rows: Any, *, protect: bool = False, hidden: bool = False,
                  freeze: bool = True) -> int:
        """Write a sheet from ``rows``, a callable that gets the :class:`SheetWriter`."""
        index = len(self.sheets) + 1
        with self.zip.open(f"xl/worksheets/sheet{index}.xml", "w", force_zip64=True) as stream:
            pane = ('<sheetViews><sheetView workbookViewId="0"><pane xSplit="1" ySplit="1" '
                    'topLeftCell="B2" activePane="bottomRight" state="frozen"/>'
                    '<selection pane="bottomRight"/></sheetView></sheetViews>' if freeze else "")
            stream.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                         f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">{pane}'
                         '<sheetFormatPr defaultRowHeight="15"/><sheetData>'.encode())
            sheet = SheetWriter(self, index, stream)
            rows(sheet)
            sheet.flush()
            tail = "</sheetData>"
            if protect:
                tail += ('<sheetProtection sheet="1" objects="1" scenarios="1" '
                         'formatColumns="0" autoFilter="0" sort="0"/>')
            if sheet.comments:
                tail += '<legacyDrawing r:id="rIdVml"/>'
            stream.write((tail + "</worksheet>").encode("utf-8"))
        if sheet.comments:
            self._comments(index, sheet.comments)
        self.sheets.append((title, hidden, bool(sheet.comments)))
        return sheet.rows

    def _comments(self, index: int, comments: list[tuple[str, int, int, str, str]]) -> None:
        authors = sorted({c[3] for c in comments})
        who = {a: i for i, a in enumerate(authors)}
        body = "".join(
            f'<comment ref="{ref}" authorId="{who[author]}"><text><r><t xml:space="preserve">'
            f"{_text(text)}</t></r></text></comment>" for ref, _, _, author, text in comments)
        self.zip.writestr(
            f"xl/comments{index}.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<comments xmlns="{_MAIN}">'
            "<authors>" + "".join(f"<author>{_text(a)}</author>" for a in authors)
            + f"</authors><commentList>{body}</commentList></comments>")
        shapes = "".join(_VML_SHAPE.format(id=1024 * index + k + 1, row=row, row2=row + 4,
                                           col=col, col1=col + 1, col2=col + 3)
                         for k, (_, row, col, _, _) in enumerate(comments))
        self.zip.writestr(f"xl/drawings/vmlDrawing{index}.vml",
                          _VML_HEAD.format(n=index) + shapes + "</xml>")
        self.zip.writestr(
            f"xl/worksheets/_rels/sheet{index}.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rIdVml" Type="{_REL}/vmlDrawing" '
            f'Target="../drawings/vmlDrawing{index}.vml"/>'
            f'<Relationship Id="rIdComments" Type="{_REL}/comments" '
            f'Target="../comments{index}.xml"/></Relationships>')

    def _styles(self) -> str:
        fills = "".join(f'<fill><patternFill patternType="solid"><fgColor rgb="FF{c[1:].upper()}"/>'
                        f'<bgColor indexed="64"/></patternFill></fill>' for c in self.fills.values())
        # Fonts 0 and 1 are black (regular, bold), 2 and 3 white: a fill's text is in the ink
        # that contrasts most with it (WCAG AA), a dark concern colour's in white.
        ink = [0 if readable_ink(c) == BLACK else 2 for c in self.fills.values()]
        plain = "".join(f'<xf numFmtId="0" fontId="{ink[i]}" fillId="{i + 2}" borderId="0" '
                        f'xfId="0" applyFont="1" applyFill="1"/>' for i in range(len(self.fills)))
        bold = "".join(f'<xf numFmtId="0" fontId="{ink[i] + 1}" fillId="{i + 2}" borderId="0" '
                       f'xfId="0" applyFont="1" applyFill="1"/>' for i in range(len(self.fills)))
        count = 1 + 2 * len(self.fills)
        white = '<color rgb="FFFFFFFF"/>'
        return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<styleSheet xmlns="{_MAIN}">'
                '<fonts count="4"><font><sz val="11"/><name val="Calibri"/></font>'
                '<font><b/><sz val="11"/><name val="Calibri"/></font>'
                f'<font><sz val="11"/>{white}<name val="Calibri"/></font>'
                f'<font><b/><sz val="11"/>{white}<name val="Calibri"/></font></fonts>'
                f'<fills count="{len(self.fills) + 2}"><fill><patternFill patternType="none"/>'
                f'</fill><fill><patternFill patternType="gray125"/></fill>{fills}</fills>'
                '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
                '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
                f'borderId="0"/></cellStyleXfs><cellXfs count="{count}"><xf numFmtId="0" '
                f'fontId="0" fillId="0" borderId="0" xfId="0"/>{plain}{bold}</cellXfs>'
                '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
                '</cellStyles></styleSheet>')

    def close(self) -> None:
        sheets = "".join(
            f'<sheet name={quoteattr(title)} sheetId="{i}"'
            f'{" state=" + chr(34) + "hidden" + chr(34) if hidden else ""} r:id="rId{i}"/>'
            for i, (title, hidden, _) in enumerate(self.sheets, 1))
        self.zip.writestr("xl/workbook.xml",
                          f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                          f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><bookViews>'
                          '<workbookView activeTab="0"/></bookViews>'
                          f"<sheets>{sheets}</sheets></workbook>")
        n = len(self.sheets)
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" '
                       f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
        self.zip.writestr("xl/_rels/workbook.xml.rels",
                          f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                          f'<Relationships xmlns="{_PKG_REL}">{rels}'
                          f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" '
                          'Target="styles.xml"/></Relationships>')
        self.zip.writestr("xl/styles.xml", self._styles())
        self.zip.writestr("_rels/.rels",
                          f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                          f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
                          f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
                          "</Relationships>")
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            f'ContentType="{_CT}.worksheet+xml"/>' for i in range(1, n + 1))
        overrides += "".join(
            f'<Override PartName="/xl/comments{i}.xml" ContentType="{_CT}.comments+xml"/>'
            for i, (_, _, has) in enumerate(self.sheets, 1) if has)
        self.zip.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns='
            '"http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="vml" ContentType="application/vnd.openxmlformats-'
            'officedocument.vmlDrawing"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
            f"{overrides}</Types>")
        self.zip.close()

    def abort(self) -> None:
        self.zip.close()

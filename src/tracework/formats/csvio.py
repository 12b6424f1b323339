"""A streaming CSV/TSV reader for files made by other programs, which may be hostile or broken.

:func:`open_table` reads one record at a time (memory is bounded by one record), so a batch of
hundreds of rows each carrying a multi-megabyte mask never sits in memory whole. Every way a file
can be malformed becomes an :class:`~tracework.core.errors.InputError` naming the file, the data row
(1-based, the first record after the header rows is row 1) and the physical line:

- encoding: UTF-8 with or without a byte-order mark, or UTF-16 LE/BE with a byte-order mark (what
  Excel and Qualtrics write as "Unicode text"). Bytes that are not valid in the detected encoding
  are an error giving the byte offset; nothing is ever replaced or guessed (a cp1252 re-save
  would otherwise turn workers' words into mojibake without anyone noticing);
- delimiter: comma or tab, chosen from the header line (the one with more unquoted occurrences);
- quoting: the stdlib reader in strict mode, so an unterminated quote or junk after a closing
  quote is an error instead of swallowing the rest of the file into one cell;
- cell size: at most ``max_field_bytes`` characters per cell (equal to bytes for ASCII such as
  base64 masks), and at most ``4 * max_field_bytes + 1 MiB`` characters per record, so a file
  without line breaks or with an unmatched quote cannot exhaust memory;
- shape: every record must have as many cells as the header (the stdlib ``DictReader`` would pad
  or pile extras under ``None`` silently); header names must be unique; a file without data
  rows is an error. Blank lines after the last record are ignored; a blank line between records
  is a row with no cells, hence an error.

About ``csv.field_size_limit``: it is one value for the whole process. A table sets it to its own
cap immediately before handing each line to the parser (no Python code runs between that call
and the parse, so tables with different caps in different threads do not disturb each other),
and puts back the value it found when it is closed.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from os import PathLike
from types import TracebackType
from typing import BinaryIO

from tracework.core.errors import InputError

__all__ = [
    "DEFAULT_MAX_COLUMNS",
    "DEFAULT_MAX_FIELD_BYTES",
    "Table",
    "loads_json",
    "masked",
    "open_table",
    "quote_cell",
    "sha256_file",
]

DEFAULT_MAX_FIELD_BYTES = 16 * 2**20

#: Most columns a header may have: real exports have hundreds, rarely thousands, and every
#: column costs work on every row.
DEFAULT_MAX_COLUMNS = 20_000

#: Deepest nesting accepted in a JSON cell; crowd-form answers are a handful of levels deep.
MAX_JSON_DEPTH = 64

#: Bytes read from the file at a time. Small values are only useful to tests.
_CHUNK_BYTES = 1 << 20

_RECORD_SLACK = 1 << 20
_RECORD_CELLS = 4

_EOL = re.compile(r"\r\n|\r|\n")

_UTF8_HINT = ("Re-save the file as UTF-8 (in Excel: Save As → \"CSV UTF-8 (Comma delimited)\") "
              "and import it again.")

_CAP_HINT = ("If cells this large are expected, raise the setting max_field_bytes (in "
             "tracework.toml, or the environment variable TRACEWORK_MAX_FIELD_BYTES).")

HeaderCheck = Callable[["Table"], None]


def sha256_file(path: str | PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _detect_encoding(head: bytes) -> tuple[str, int]:
    """The codec to read with and the length of the byte-order mark to skip."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32", 4
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    return "utf-8", 0


_QUOTED = re.compile(r'"[^"]*"?')


def _sniff_delimiter(first_line: str) -> str:
    bare = _QUOTED.sub("", first_line)
    return "\t" if bare.count("\t") > bare.count(",") else ","


def _open_binary(path: str | PathLike[str]) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=str(path)) from None
    except PermissionError:
        raise InputError("cannot be read (permission denied)", file=str(path)) from None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Table:
    """An open delimited file: ``header``, ``extra_header_rows`` and an iterator of records.

    Iterating yields ``(row, line, cells)``: the 1-based data row, the physical line the record
    starts on, and its cells (as many as the header has). Use as a context manager, or call
    :meth:`close`. Create with :func:`open_table`.
    """

    def __init__(self, path: str | PathLike[str], *, max_field_bytes: int, header_rows: int,
                 delimiter: str | None, check_header: HeaderCheck | None,
                 ragged: bool = False, duplicate_names: bool = False,
                 max_columns: int = DEFAULT_MAX_COLUMNS, blank_lines: bool = False) -> None:
        if max_field_bytes < 1:
            raise ValueError("max_field_bytes must be positive")
        if header_rows < 1:
            raise ValueError("header_rows must be at least 1")
        self.name = str(path)
        self.max_field_bytes = max_field_bytes
        self.max_record_chars = _RECORD_CELLS * max_field_bytes + _RECORD_SLACK
        self.header: list[str] = []
        self.extra_header_rows: list[list[str]] = []
        self.delimiter = delimiter or ","
        self.encoding = "utf-8"
        self._header_rows = header_rows
        self._ragged, self._duplicate_names = ragged, duplicate_names
        self._blank_lines = blank_lines
        self.max_columns = max_columns
        self._previous_limit = csv.field_size_limit()
        self._file: BinaryIO = _open_binary(path)
        self._closed = False
        self._lines_read = 0
        self._record_chars = 0
        self._row = 0  # data row being read; 0 while reading the header rows
        self._header_index = 0
        self._pending: tuple[int, int, list[str]] | None = None
        self._exhausted = False
        try:
            self._start(delimiter, check_header)
        except BaseException:
            self.close()
            raise

    # -- reading physical lines --------------------------------------------------------------

    def _where(self) -> str:
        if self._row:
            return f"row {self._row}"
        return f"header row {self._header_index + 1}"

    def _error(self, message: str, *, line: int | None = None, hint: str | None = None,
               field: str | None = None) -> InputError:
        if line is not None:
            message = f"{message} (line {line})"
        if not self._row:
            message = f"{self._where()}: {message}"
        return InputError(message, file=self.name, row=self._row or None, field=field,
                          hint=hint)

    def _decode_error(self, exc: UnicodeDecodeError, offset: int) -> InputError:
        bad = exc.object[exc.start:exc.end]
        shown = " ".join(f"0x{b:02X}" for b in bad[:4])
        name = "UTF-16" if self.encoding.startswith("utf-16") else "UTF-8"
        return self._error(
            f"the file is not valid {name}: byte {shown} at byte offset {offset} "
            "(perhaps it was saved as Windows-1252/Latin-1 by a spreadsheet program)",
            line=self._lines_read + 1, hint=_UTF8_HINT)

    def _lines(self, start: int) -> Iterator[str]:
        """Physical lines with their line endings (``newline=''``), decoded strictly."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        consumed = start
        parts: list[str] = []
        held = 0
        carry = ""
        while True:
            chunk = self._file.read(_CHUNK_BYTES)
            final = not chunk
            buffered = len(decoder.getstate()[0])
            bad: tuple[UnicodeDecodeError, int] | None = None
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                # Hand over the valid part first, so the error names the row it belongs to.
                bad = exc, consumed - buffered + exc.start
                text = exc.object[:exc.start].decode(self.encoding)
            consumed += len(chunk)
            text = carry + text
            carry = ""
            # A CR at the end of a chunk may be the first half of CRLF.
            if text.endswith("\r") and not final and bad is None:
                carry, text = "\r", text[:-1]
            begin = 0
            for match in _EOL.finditer(text):
                piece = text[begin:match.end()]
                begin = match.end()
                if parts:
                    parts.append(piece)
                    piece = "".join(parts)
                    parts.clear()
                    held = 0
                yield self._hand_over(piece)
            rest = text[begin:]
            if rest:
                parts.append(rest)
                held += len(rest)
                if self._record_chars + held > self.max_record_chars:
                    raise self._too_long()
            if bad is not None:
                raise self._decode_error(*bad)
            if final:
                if parts:
                    yield self._hand_over("".join(parts))
                return

    def _hand_over(self, line: str) -> str:
        self._lines_read += 1
        self._record_chars += len(line)
        if self._record_chars > self.max_record_chars:
            raise self._too_long()
        # Set here, not once: the limit is process-wide and another table may have changed it.
        csv.field_size_limit(self.max_field_bytes)
        return line

    def _too_long(self) -> InputError:
        return self._error(
            f"the record is longer than {self.max_record_chars:,} characters "
            f"({_RECORD_CELLS} cells of the {self.max_field_bytes:,}-character cap plus 1 MiB); "
            "this usually means a quote that is never closed",
            line=self._lines_read + 1, hint=_CAP_HINT)

    # -- reading records ---------------------------------------------------------------------

    def _start(self, delimiter: str | None, check_header: HeaderCheck | None) -> None:
        head = self._file.read(4)
        self.encoding, bom = _detect_encoding(head)
        if self.encoding == "utf-32":
            raise InputError("the file is encoded as UTF-32, which is not supported",
                             file=self.name, hint=_UTF8_HINT)
        self._file.seek(bom)
        lines = self._lines(bom)
        first = next(lines, None)
        if first is None:
            raise InputError("no rows: the file is empty", file=self.name)
        if "\x00" in first:
            raise self._error("the header contains NUL characters: the file looks like UTF-16 "
                              "without a byte-order mark", line=1, hint=_UTF8_HINT)
        if delimiter is None:
            self.delimiter = _sniff_delimiter(first)
        # The first line was read ahead to sniff; count it again as part of the header record.
        self._lines_read = 0

        def replay() -> Iterator[str]:
            yield self._hand_over(first)
            yield from lines

        self._reader = csv.reader(replay(), delimiter=self.delimiter, quotechar='"',
                                  doublequote=True, skipinitialspace=False, strict=True)
        header = self._next_record()
        if header is None or not header[1]:
            raise InputError("the first line, which should be the header, is blank",
                             file=self.name)
        self.header = header[1]
        if len(self.header) > self.max_columns:
            raise InputError(f"header: {len(self.header):,} columns, more than the cap of "
                             f"{self.max_columns:,}", file=self.name,
                             hint="If the file is real, raise the setting max_columns.")
        if not self._duplicate_names:
            self._check_duplicates()
        for index in range(1, self._header_rows):
            self._header_index = index
            record = self._next_record()
            if record is None:
                break
            self._check_width(record[0], record[1])
            self.extra_header_rows.append(record[1])
        if check_header is not None:
            check_header(self)
        self._row = 1
        if len(self.extra_header_rows) < self._header_rows - 1:
            raise InputError(f"no rows: the file ends inside its {self._header_rows} header rows",
                             file=self.name)
        self._pending = self._next_data()
        if self._pending is None:
            raise InputError("no rows: the file has a header but no data", file=self.name)

    def _next_record(self) -> tuple[int, list[str]] | None:
        """The next record and the line it starts on; None at the end of the file."""
        line = self._lines_read + 1
        self._record_chars = 0
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise self._csv_error(str(exc), line) from None
        return line, cells

    def _csv_error(self, text: str, line: int) -> InputError:
        if text.startswith("field larger than field limit"):
            return self._error(
                f"a cell is larger than the cap of {self.max_field_bytes:,} characters",
                line=line, hint=_CAP_HINT)
        if text == "unexpected end of data":
            return self._error("a quoted cell is never closed: the file ends inside quotes",
                               line=line, hint="Check the row for a stray double quote.")
        if "expected after" in text:
            return self._error(
                f"text follows a closing quote inside a cell ({text}); a double quote inside "
                "a quoted cell must be written twice (\"\")", line=line)
        return self._error(f"malformed CSV: {text}", line=line)

    def _check_width(self, line: int, cells: list[str]) -> None:
        if len(cells) != len(self.header):
            what = "a blank line" if not cells else _plural(len(cells), "cell")
            raise self._error(f"{what} where the header has {len(self.header)} columns",
                              line=line)

    def _check_duplicates(self) -> None:
        seen: dict[str, int] = {}
        for position, name in enumerate(self.header, start=1):
            if name in seen:
                raise InputError(
                    f"header: column name {name!r} appears twice, at columns {seen[name]} and "
                    f"{position}; one would hide the other", file=self.name,
                    hint="Rename or remove one of the two columns.")
            seen[name] = position

    def _next_data(self) -> tuple[int, int, list[str]] | None:
        record = self._next_record()
        if record is None:
            return None
        line, cells = record
        if self._blank_lines:
            # Separator lines: empty, or only delimiters (a row of empty cells).
            while not any(cells):
                record = self._next_record()
                if record is None:
                    return None
                line, cells = record
        if not cells:
            # Blank lines may only trail the data.
            blank_line = line
            while True:
                record = self._next_record()
                if record is None:
                    return None
                if record[1]:
                    raise self._error(f"a blank line where the header has "
                                      f"{len(self.header)} columns", line=blank_line)
        if not self._ragged:
            self._check_width(line, cells)
        return self._row, line, cells

    def peek(self) -> tuple[int, int, list[str]] | None:
        """The first data record, before iteration begins (None once iteration has begun)."""
        return self._pending

    def __iter__(self) -> Iterator[tuple[int, int, list[str]]]:
        if self._pending is not None:
            first, self._pending = self._pending, None
            yield first
        while not self._exhausted:
            self._row += 1
            record = self._next_data()
            if record is None:
                self._exhausted = True
                return
            yield record

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._file.close()
            csv.field_size_limit(self._previous_limit)

    def __enter__(self) -> Table:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_table(path: str | PathLike[str], *, max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
               header_rows: int = 1, delimiter: str | None = None,
               check_header: HeaderCheck | None = None, ragged: bool = False,
               duplicate_names: bool = False,
               max_columns: int = DEFAULT_MAX_COLUMNS, blank_lines: bool = False) -> Table:
    """Open a CSV or TSV file for streaming; see the module docstring for what is checked.

    ``header_rows`` > 1 keeps rows 2.. of the header in ``extra_header_rows`` (Qualtrics writes
    three). ``check_header`` is called with the table once the header rows are read, before the
    "no rows" check, so a format can explain a wrong header better than "no rows" would; it
    sees fewer extra rows than asked for when the file is that short. ``delimiter`` skips
    sniffing. ``ragged`` hands data records of any width to the caller, which must check
    them (a format that knows which trailing cells may be left out); ``duplicate_names`` lets
    a header repeat a name, for a format that tells such columns apart by other header rows;
    a header of more than ``max_columns`` columns is refused before any work per column.
    ``blank_lines`` skips blank lines and rows of empty cells anywhere in the data (Toloka
    puts them between task suites); they are not counted as data rows, and the physical
    line each record starts on stays the file's.
    """
    return Table(path, max_field_bytes=max_field_bytes, header_rows=header_rows,
                 delimiter=delimiter, check_header=check_header, ragged=ragged,
                 duplicate_names=duplicate_names, max_columns=max_columns,
                 blank_lines=blank_lines)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


#: Most digits accepted in a JSON integer: no count of pixels or seconds needs more, and
#: Python refuses to convert more than 4300 anyway.
MAX_JSON_INT_DIGITS = 18


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"the number {text[:20]}… is too large")
    return int(text)


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise ValueError("text holds a NUL character (U+0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text holds a lone surrogate (an escape such as \\ud800 that is "
                         "half of a character)") from None


def loads_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Parse JSON found in a cell, refusing what ``json.loads`` lets through silently.

    Refused: a key repeated in one object (``json.loads`` keeps the last), ``NaN``,
    ``Infinity`` and numbers too large to be finite, and nesting deeper than ``max_depth``
    (deep enough to exhaust the stack, or to make later recursive code fail), integers of more
    than :data:`MAX_JSON_INT_DIGITS` digits, and strings holding NUL or a lone surrogate
    (which no database column or UTF-8 file can hold). Raises
    :class:`ValueError` with a message meant for users; callers add the file, row and field.
    """
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                           parse_float=_finite, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError(f"JSON nested more than {max_depth} levels deep") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, (dict, list)):
            if isinstance(node, dict):
                for key in node:
                    _check_text(key)
            if depth > max_depth:
                raise ValueError(f"JSON nested more than {max_depth} levels deep")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return value


def quote_cell(value: str, limit: int = 40) -> str:
    """A cell's text for an error message: quoted, and cut short if long."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def masked(exc: InputError, secret: str, placeholder: str = "<worker id>") -> InputError:
    """The error with ``secret`` (a raw worker id) replaced wherever a quoted cell carried it.

    Format readers quote bad cells to help users; a cell can hold a worker id when columns
    are swapped, and raw worker ids must never reach a message.
    """
    if not secret or secret not in exc.detail:
        return exc
    return type(exc)(exc.detail.replace(secret, placeholder), file=exc.file, row=exc.row,
                     field=exc.field, hint=exc.hint)

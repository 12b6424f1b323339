"""Dates as the platforms and the spreadsheets that re-save their files write them.

Every parser returns a UTC-aware :class:`~datetime.datetime` or raises :class:`ValueError` with a
message meant for users (the format adds file, row and field). A date outside
:data:`MIN_YEAR`–:data:`MAX_YEAR` is refused: no annotation work was done then, and dates near
the ends of Python's range overflow when converted between zones.

Forms read by :func:`parse_platform_date`:

- ``Mon Mar 06 08:59:21 PST 2023`` (the Requester UI; zones PST, PDT, UTC, GMT);
- ``2018-03-26 18:40:48 UTC`` (auto-approved rows of the same files; UTC or GMT);
- ISO 8601 with an offset or ``Z``: ``2019-12-01T12:00:00Z``, ``2019-12-01 12:00:00+01:00``.

:func:`parse_sheet_date` reads what a spreadsheet program writes when it re-saves a file:
``11/11/2017 2:48`` or ``11/11/2017 2:48:05`` (or with ``-`` / ``.``), day and month in an order
that a ``date_format`` (``strftime`` codes) fixes when the cell alone cannot tell.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

__all__ = ["MAX_YEAR", "MIN_YEAR", "SheetDates", "parse_platform_date"]

MIN_YEAR = 1990
MAX_YEAR = 2100

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# Python's %Z knows only UTC/GMT and the local zone's names, so the Pacific names are mapped here.
_ZONES = {"PST": -8, "PDT": -7, "UTC": 0, "GMT": 0}
_JAVA = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) "
    r"([A-Za-z]+) (\d{4})")
_NAMED_UTC = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) (UTC|GMT)")
_ISO_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?"
                        r"(Z|[+-]\d{2}:?\d{2})?")
_SHEET = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?"
                    r"(?: ?([AaPp][Mm]))?")

_PLATFORM_EXAMPLE = "'Mon Mar 06 08:59:21 PST 2023'"


def _in_range(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year {value.year} is outside {MIN_YEAR}–{MAX_YEAR}")
    return value.astimezone(UTC)


def _year(text: str) -> int:
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"the year {year} is outside {MIN_YEAR}–{MAX_YEAR}")
    return year


def parse_iso(cell: str, default_zone: tzinfo | None = None) -> datetime:
    """ISO 8601; without an offset the time is in ``default_zone`` (refused when None)."""
    if _ISO_SHAPE.fullmatch(cell) is None:
        raise ValueError("not an ISO 8601 date")
    _year(cell[:4])
    parsed = datetime.fromisoformat(cell.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        if default_zone is None:
            raise ValueError("an ISO 8601 date without a time zone offset")
        parsed = parsed.replace(tzinfo=default_zone)
    return _in_range(parsed)


def parse_platform_date(cell: str) -> datetime:
    """A Mechanical Turk date in any of the forms in the module docstring."""
    match = _JAVA.fullmatch(cell)
    if match is not None:
        month, day, hh, mm, ss, zone, year = match.groups()
        if zone.upper() not in _ZONES:
            raise ValueError(f"unknown time zone {zone!r}; MTurk writes PST, PDT, UTC or GMT")
        if month not in _MONTHS:
            raise ValueError("unknown month")
        offset = timezone(timedelta(hours=_ZONES[zone.upper()]))
        try:
            local = datetime(_year(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss),
                             tzinfo=offset)
        except ValueError as exc:
            raise ValueError(f"not a valid date ({exc})") from None
        return _in_range(local)
    named = _NAMED_UTC.fullmatch(cell)
    if named is not None:
        return parse_iso(named.group(1), UTC)
    try:
        return parse_iso(cell)
    except ValueError as exc:
        raise ValueError(f"not a date like {_PLATFORM_EXAMPLE}, '2018-03-26 18:40:48 UTC' or "
                         f"ISO 8601 with an offset ({exc})") from None


class SheetDates:
    """Reads spreadsheet-style dates of one file, keeping day/month order consistent.

    With ``date_format`` every such cell is read with it. Without, a cell whose first or
    second number is over 12 shows the order, and that order must hold for the whole file; a
    cell that could be read either way (``03/04/2017``) is refused with a hint naming the
    ``--date-format`` option, unless an earlier cell already showed the order.
    """

    def __init__(self, date_format: str | None = None) -> None:
        self.date_format = date_format
        self.order: str | None = None  # "dm" or "md", once a cell has shown it

    def parse(self, cell: str, zone: tzinfo) -> datetime | None:
        """The date, or None when the cell is not in a spreadsheet form at all."""
        if self.date_format:
            try:
                parsed = datetime.strptime(cell, self.date_format)
            except ValueError:
                if _SHEET.fullmatch(cell) is None:
                    return None
                raise ValueError(f"does not match --date-format {self.date_format!r}") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=zone)
            return _in_range(parsed)
        match = _SHEET.fullmatch(cell)
        if match is None:
            return None
        first, _, second, year, hh, mm, ss, half = match.groups()
        a, b = int(first), int(second)
        order = "dm" if a > 12 else "md" if b > 12 else None
        if order is not None and self.order is not None and order != self.order:
            raise ValueError("its day and month are in the other order than in earlier rows")
        if order is None and a != b:
            order = self.order
            if order is None:
                raise ValueError("day and month cannot be told apart (a spreadsheet re-saved "
                                 "the file)")
        self.order = self.order or order
        day, month = (a, b) if order == "dm" else (b, a)
        hour = int(hh)
        if half:
            if not 1 <= hour <= 12:
                raise ValueError("an hour of AM/PM time must be 1 to 12")
            hour = hour % 12 + (12 if half.lower() == "pm" else 0)
        local = datetime(_year(year), month, day, hour, int(mm), int(ss or 0), tzinfo=zone)
        return _in_range(local)

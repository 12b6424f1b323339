"""Dates in every form the platforms and spreadsheets write, and typed worker ids made
comparable: each form a case with its exact value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracework.formats.dates import SheetDates, parse_platform_date
from tracework.formats.workerids import normalise_worker_id


@pytest.mark.parametrize("cell, expected", [
    ("Mon Mar 06 08:59:21 PST 2023", datetime(2023, 3, 6, 16, 59, 21, tzinfo=UTC)),
    ("Fri Jun 08 09:21:50 PDT 2012", datetime(2012, 6, 8, 16, 21, 50, tzinfo=UTC)),
    ("Mon Mar 26 16:37:21 UTC 2018", datetime(2018, 3, 26, 16, 37, 21, tzinfo=UTC)),
    ("Mon Mar 26 16:37:21 GMT 2018", datetime(2018, 3, 26, 16, 37, 21, tzinfo=UTC)),
    ("2018-03-26 18:40:48 UTC", datetime(2018, 3, 26, 18, 40, 48, tzinfo=UTC)),
    ("2018-03-26 18:40:48 GMT", datetime(2018, 3, 26, 18, 40, 48, tzinfo=UTC)),
    ("2019-12-01T12:00:00Z", datetime(2019, 12, 1, 12, 0, tzinfo=UTC)),
    ("2019-12-01T12:00:00+01:00", datetime(2019, 12, 1, 11, 0, tzinfo=UTC)),
    ("2019-12-01 12:00:00.250-08:00", datetime(2019, 12, 1, 20, 0, 0, 250000, tzinfo=UTC)),
])
def test_platform_date_forms(cell: str, expected: datetime) -> None:
    assert parse_platform_date(cell) == expected


@pytest.mark.parametrize("cell, words", [
    ("2019-12-01T12:00:00", "without a time zone"),
    ("Thu Mar 09 09:05:01 CET 2023", "unknown time zone"),
    ("Fri Dec 31 23:59:59 PST 9999", "outside 1990–2100"),
    ("9999-12-31T23:59:59-01:00", "outside 1990–2100"),
    ("26/03/2018 18:40", "not a date like"),
])
def test_platform_dates_refused(cell: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_platform_date(cell)


def test_sheet_dates_learn_the_order_from_an_unambiguous_cell() -> None:
    zone = timezone(timedelta(hours=-7))
    dates = SheetDates()
    assert dates.parse("11/11/2017 2:48", zone) == datetime(2017, 11, 11, 9, 48, tzinfo=UTC)
    assert dates.parse("13/11/2017 2:48 PM", zone) == datetime(2017, 11, 13, 21, 48,
                                                               tzinfo=UTC)
    assert dates.order == "dm"
    assert dates.parse("03/04/2017 10:00:30", UTC) == datetime(2017, 4, 3, 10, 0, 30,
                                                               tzinfo=UTC)
    with pytest.raises(ValueError, match="other order"):
        dates.parse("04/13/2017 10:00", UTC)
    assert dates.parse("2017-04-03 10:00", UTC) is None  # not a spreadsheet form


def test_sheet_dates_refuse_ambiguity_unless_told() -> None:
    with pytest.raises(ValueError, match="cannot be told apart"):
        SheetDates().parse("03/04/2017 10:00", UTC)
    told = SheetDates("%m/%d/%Y %H:%M")
    assert told.parse("03/04/2017 10:00", UTC) == datetime(2017, 3, 4, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not match --date-format"):
        told.parse("03/04/2017 10:00:01", UTC)


@pytest.mark.parametrize("platform, typed, expected", [
    ("mturk", "A1B2C3D4E5F6G7", "A1B2C3D4E5F6G7"),
    ("mturk", " a1b2c3d4e5f6g7\t", "A1B2C3D4E5F6G7"),
    ("mturk", "A1B2 C3D4E5F6G7", "A1B2C3D4E5F6G7"),
    ("mturk", "https://worker.mturk.com/x?assignmentId=3X&workerId=a1b2c3d4e5f6g7&hitId=3Y",
     "A1B2C3D4E5F6G7"),
    ("mturk", "my id: A1B2C3D4E5F6G7", "A1B2C3D4E5F6G7"),
    ("mturk", "not an id", "NOTANID"),
    ("prolific", " 5F1A2B3C4D5E6F7A8B9C0D1E ", "5f1a2b3c4d5e6f7a8b9c0d1e"),
    ("prolific", "https://app.prolific.co/s?PROLIFIC_PID=5f1a2b3c4d5e6f7a8b9c0d1e",
     "5f1a2b3c4d5e6f7a8b9c0d1e"),
    ("toloka", " Worker-X ", "Worker-X"),
])
def test_typed_worker_ids_normalise(platform: str, typed: str, expected: str) -> None:
    assert normalise_worker_id(platform, typed) == expected

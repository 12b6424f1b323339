"""Formula neutralisation of CSV cells."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracework.core.safecsv import FORMULA_STARTS, csv_text, neutralise


@pytest.mark.parametrize("cell,expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+SUM(A1)", "'+SUM(A1)"),
    ("-2+3", "'-2+3"), ("@cmd", "'@cmd"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("\0x", "'\0x"),
    ("-3", "-3"), ("+1.5", "+1.5"), ("plain", "plain"), (None, ""), (12, "12"), (True, "true"),
])
def test_neutralise(cell: object, expected: str) -> None:
    assert neutralise(cell) == expected


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_no_cell_reads_back_as_a_formula(cells: list[str]) -> None:
    text = csv_text(["a"] * len(cells), [cells])
    back = list(csv.reader(io.StringIO(text, newline="")))[1]
    for original, got in zip(cells, back):
        assert not got.startswith(FORMULA_STARTS) or got.lstrip("+-").replace(".", "", 1).isdigit()
        assert got in (original, "'" + original)

"""CSV exports carry text buyers typed: a spreadsheet must show it, never run it."""

import csv
import io
from decimal import Decimal

import pytest

from webhooks import spreadsheet


@pytest.mark.parametrize(
    "typed",
    ['=HYPERLINK("http://evil.test","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx"],
)
def test_a_formula_is_kept_as_text(typed: str) -> None:
    assert spreadsheet.cell(typed) == "'" + typed


@pytest.mark.parametrize("value", ["Anna, Street 1", "-5.00", "", 3, Decimal("-2.50"), None])
def test_text_and_numbers_stay_as_they_are(value: object) -> None:
    assert spreadsheet.cell(value) == value


def test_a_written_row_reads_back_as_text() -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["buyer", "ship_to"])
    writer.writerow(spreadsheet.row({"buyer": "web:anna", "ship_to": "=1+1, Berlin"}))
    [read] = csv.reader(io.StringIO(out.getvalue()))
    assert read == ["web:anna", "'=1+1, Berlin"]

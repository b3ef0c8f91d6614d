"""CSV cells that a spreadsheet shows as text, never runs.

Exports carry text buyers typed (display names, shipping addresses). Excel, LibreOffice and
Google Sheets run a cell that starts with = + - @ (or a tab or carriage return) as a formula:
`=HYPERLINK(...)` in a name would run on the seller's machine. Such text gets a leading `'`,
which spreadsheets read as "this is text" (OWASP's advice); numbers stay numbers.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        Decimal(value)  # "-5.00" is a number, not a formula
    except InvalidOperation:
        return "'" + value
    return value


def row(values: dict[str, Any]) -> dict[str, Any]:
    return {key: cell(value) for key, value in values.items()}

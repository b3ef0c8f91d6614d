"""The packing list as a seller prints it: one line per item, grouped by package, as CSV
(formula-safe: names and addresses are typed by buyers) or a printable HTML page. The CLI
(`livebuy packing-list`) and the dashboard print the same."""

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from commerce.service_layer.packages import Package
from webhooks import spreadsheet

COLUMNS = ["package", "buyer", "address", "order", "sku", "item", "variant", "quantity"]
TEMPLATES = Path(__file__).parent / "dashboard" / "templates"
_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html"])
)


def lines(packages: list[Package]) -> list[dict[str, Any]]:
    return [
        {
            "package": p.key,
            "buyer": p.buyer or p.identity,
            "address": p.ship_to,
            "order": o.ref,
            "sku": o.sku,
            "item": o.name,
            "variant": o.variant,
            "quantity": o.quantity,
        }
        for p in packages
        for o in p.orders
    ]


def to_csv(packages: list[Package]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(spreadsheet.row(line) for line in lines(packages))
    return out.getvalue()


def title(show: str | None, since: datetime | None, until: datetime | None) -> str:
    if show:
        return f"Packing list: show {show.upper()}"
    if since and until:
        return f"Packing list: paid {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC"
    if since:
        return f"Packing list: paid since {since:%Y-%m-%d %H:%M} UTC"
    return "Packing list"


def to_html(packages: list[Package], heading: str, printed: datetime) -> str:
    """A page of its own (no script, no dashboard chrome): the browser prints it."""
    page = _pages.get_template("packing.html")
    return page.render(
        packages=packages,
        heading=heading,
        printed=printed,
        units=sum(p.units for p in packages),
    )

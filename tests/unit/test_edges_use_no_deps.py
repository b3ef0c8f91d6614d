"""Chat adapters and pages talk to the core through bus commands and the read side
(service_layer.queries), never through the handlers' `deps`: no module of bots/ or webhooks/
names it, however it would reach it (an attribute, a variable, an argument, an import)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EDGES = ("bots", "webhooks")


def names_of_deps(source: str) -> list[int]:
    """The lines that name `deps` (or `Deps`) in any way."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        named: list[str | None] = []
        match node:
            case ast.Name(id=name) | ast.Attribute(attr=name) | ast.arg(arg=name):
                named = [name]
            case ast.keyword(arg=name):
                named = [name]
            case ast.alias(name=name, asname=asname):
                named = [asname, name.rpartition(".")[2]]
            case ast.ImportFrom(module=module):
                named = [(module or "").rpartition(".")[2]]
        if any(n is not None and n.casefold() == "deps" for n in named):
            lines.append(getattr(node, "lineno", 0))
    return sorted(set(lines))


def modules() -> list[Path]:
    return sorted(p for edge in EDGES for p in (ROOT / edge).rglob("*.py"))


def test_the_edges_are_all_looked_at() -> None:
    found = {p.relative_to(ROOT).as_posix() for p in modules()}
    assert {"bots/telegram/adapter.py", "webhooks/stripe.py", "webhooks/app.py"} <= found


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_of_bots_or_webhooks_names_deps(path: Path) -> None:
    assert names_of_deps(path.read_text()) == [], f"{path} names deps"


@pytest.mark.parametrize(
    "source",
    [
        "bus.deps.store.drops()",
        "deps = bus().deps",
        "def f(deps): pass",
        "f(deps=1)",
        "from commerce.service_layer.deps import Deps",
        "from commerce.service_layer import deps",
        "import commerce.service_layer.deps as d",
    ],
)
def test_every_way_of_naming_deps_is_caught(source: str) -> None:
    assert names_of_deps(source) == [1]


def test_other_names_pass() -> None:
    assert names_of_deps("queries.live_drops(bus.reads, chat)\ndependencies = 1") == []

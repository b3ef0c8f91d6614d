"""A newcomer's first minutes, on SQLite and PostgreSQL: every command the start-up banner
suggests works on a fresh database and on a used one, a port in use is said before any banner,
and `livebuy demo` leaves the shop's own database alone."""

import shlex
import socket
from pathlib import Path

import pytest
from aiohttp import web

from commerce.config import Settings
from webhooks.cli import serve
from webhooks.cli.common import with_bus
from webhooks.devtools import demo
from webhooks.keys import SETTINGS


def suggested_commands(database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The banner's "Try:" lines for this database, as argument lists."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    sku = with_bus(serve.free_sku)
    text = serve.banner(Settings(_env_file=None), "127.0.0.1", 8080, sku=sku)  # type: ignore[call-arg]
    tried = text.split("Try:", 1)[1].splitlines()[:3]
    return [shlex.split(line.split("(prints", 1)[0])[1:] for line in tried]


def test_the_banner_hints_work_on_a_fresh_and_on_a_used_database(
    cli, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    config = Settings(_env_file=None)  # type: ignore[call-arg]
    assert with_bus(lambda bus: serve.seed_demo(bus, config)) is True  # what `make run` seeds
    first = suggested_commands(database_url, monkeypatch)
    for command in first:
        out = cli(*command)
    assert "1 × Mug for €12.00" in out and "Pay now: http" in out
    # Used once: the next banner suggests another product, and its hints work as well.
    second = suggested_commands(database_url, monkeypatch)
    assert second != first
    for command in second:
        out = cli(*command)
    assert "1 × Cap for €12.00" in out and "Pay now: http" in out


def test_a_port_in_use_is_said_before_any_banner(cli, database_url: str) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        output = cli("run", "--port", port, ok=False, PUBLIC_BASE_URL="")
    assert f"cannot listen on 127.0.0.1:{port}" in output and "--port" in output
    assert "livebuy serving" not in output and "Try:" not in output
    assert "(none)" in cli("product", "list")  # nothing seeded either


def test_the_demo_runs_on_a_database_of_its_own(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    served: list[str] = []

    async def record(app: web.Application, *_: object) -> None:
        served.append(app[SETTINGS].database_url)

    monkeypatch.setattr(demo, "serve_with_show", record)
    out = cli("demo", "--port", "0", PUBLIC_BASE_URL="")
    assert "The demo runs on a temporary database" in out and "untouched" in out
    [temporary] = served
    assert temporary.startswith("sqlite:///") and "livebuy-demo-" in temporary
    assert not Path(temporary.removeprefix("sqlite:///")).exists()  # removed when it stops
    assert "(none)" in cli("product", "list")

    chosen = f"sqlite:///{tmp_path / 'show.db'}"
    out = cli("demo", "--port", "0", "--database", chosen, PUBLIC_BASE_URL="")
    assert f"The demo runs on the database {chosen}." in out
    assert served[-1] == chosen and (tmp_path / "show.db").exists()

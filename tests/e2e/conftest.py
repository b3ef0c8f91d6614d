"""The `cli` fixture: the `livebuy` command in-process (typer's runner) on the test database."""

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from webhooks.cli import app

runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    env = {
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{closed_port()}",  # no emulator is running
    }

    def run(*args: str, ok: bool = True, **extra: str) -> str:
        result = runner.invoke(app, list(args), env=env | extra)
        output = result.output
        assert "Traceback" not in output
        assert (result.exit_code == 0) is ok, output
        return output

    return run

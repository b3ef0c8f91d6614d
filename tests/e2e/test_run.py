"""`livebuy run` as a real process: migrates, serves, says what is on, stops cleanly."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import free_port

LIVEBUY = Path(sys.executable).parent / "livebuy"


def get(url: str) -> tuple[int, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own server)
        return response.status, json.loads(response.read())


def test_run_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "TELEGRAM_", "DISCORD_", "LIVEBUY_", "DATABASE_"))
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path}/shop.db",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [str(LIVEBUY), "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        assert get(f"http://127.0.0.1:{port}/readyz") == (200, {"status": "ok", "database": "ok"})
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "telegram   off (TELEGRAM_BOT_TOKEN not set)" in output
    assert "discord    off (DISCORD_BOT_TOKEN not set)" in output
    assert "stripe     local emulator (STRIPE_SECRET_KEY not set)" in output
    assert "Traceback" not in output
    assert "a drop of 20 Demo tees is live in /chat/demo" in output  # local mode, empty DB
    drops = subprocess.run(
        [str(LIVEBUY), "drop", "list", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [demo] = json.loads(drops.stdout)
    assert (demo["code"], demo["channels"], demo["remaining"]) == ("TEE", "web:demo", 20)
    listed = subprocess.run(
        [str(LIVEBUY), "orders", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(listed.stdout) == []  # run migrated the database


def test_run_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ) | {"DATABASE_URL": f"sqlite:///{tmp_path}/shop.db"}
        result = subprocess.run(
            [str(LIVEBUY), "run", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr

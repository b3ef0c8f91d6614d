"""`make run` on a fresh clone says what it is doing before pip's quiet install (#19 item 12):
a one-line "installing …, about a minute" comes first."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_the_first_install_says_so_before_pip(tmp_path: Path) -> None:
    venv = tmp_path / "fresh"  # no virtual environment yet: what a fresh clone runs
    plan = subprocess.run(
        ["make", "-n", f"VENV={venv}", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pip = next(i for i, line in enumerate(plan) if "pip install" in line)
    said = [line for line in plan[:pip] if line.startswith("echo ")]
    assert said and "installing" in said[0] and "about a minute" in said[0], plan

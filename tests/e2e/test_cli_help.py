"""`livebuy --help` and every command's help read as written: no Python types as
placeholders (`<bool>`, `<str>`), and no sentence broken where the source code wrapped it."""

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from webhooks.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # wide enough for every paragraph to stay on one line


def commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group, with the words that reach it."""
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += commands(sub, (*path, name))
    return found


EVERY = commands(typer.main.get_command(app))


def test_every_command_is_checked() -> None:
    paths = {" ".join(path) for path, _ in EVERY}
    assert {"", "run", "drop start", "shipping zone add", "bench flash-drop"} <= paths
    assert len(paths) > 50


@pytest.mark.parametrize("path", [path for path, _ in EVERY], ids=" ".join)
def test_help_has_no_type_placeholders(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    for placeholder in ("<bool>", "<str>", "<int>", "<float>", "<list[", "<path>"):
        assert placeholder not in result.output, (path, placeholder, result.output)


def one_line(output: str) -> str:
    """The help's text with the boxes' borders gone and every run of spaces one space."""
    lines = [re.sub(r"[│╭╮╰╯─]", " ", line) for line in output.splitlines()]
    return "\n".join(" ".join(line.split()) for line in lines)


def sentences(text: str | None) -> list[str]:
    """A help's paragraphs, each as the words it is made of."""
    return [" ".join(p.split()) for p in (text or "").split("\n\n") if p.strip()]


@pytest.mark.parametrize("path", [path for path, _ in EVERY], ids=" ".join)
def test_help_paragraphs_are_not_broken_mid_sentence(path: tuple[str, ...]) -> None:
    """On a wide terminal each paragraph of a command's help, each command's summary in its
    group's list and each option's help are one line each."""
    command = dict(EVERY)[path]
    shown = one_line(runner.invoke(app, [*path, "--help"], env=WIDE).output)
    lines = shown.splitlines()
    expected = sentences(command.help)
    for sub in getattr(command, "commands", {}).values():
        expected += sentences(sub.short_help or sub.help)[:1]
    for param in command.params:
        expected += sentences(getattr(param, "help", None))
    for paragraph in expected:
        # Rich markup such as [bold] is not in our texts; backticks and quotes are kept.
        assert any(paragraph in line for line in lines), (path, paragraph, shown)

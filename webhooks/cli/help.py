"""How `livebuy … --help` reads.

Typer (0.2x, with its own click) shows every parameter's Python type as a placeholder
(`--yes <bool>`, `--price <str>`) and, in its command lists and in any paragraph after the
first, keeps a docstring's line breaks, so sentences break where the source wrapped them.
The root group tidies every command once it is built: a docstring's paragraphs are joined
into lines for the terminal to wrap, a flag shows no placeholder, and a value is named
after its option (`--price PRICE`, `--for DURATION`); choices keep their list.
"""

import inspect
from typing import Any

from typer import Context
from typer.core import TyperArgument, TyperGroup


class TidyGroup(TyperGroup):
    """The `livebuy` group: every command under it tidied as it is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy(self)


def tidy(command: Any) -> None:
    """Joins the lines of each help paragraph and names every placeholder, down the tree."""
    command.help = unwrap(command.help)
    command.short_help = unwrap(command.short_help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = unwrap(param.help)
        if param.metavar is None:
            param.metavar = placeholder(param)
        if isinstance(param, TyperArgument) and param.metavar is not None:
            # Typer prints an argument's Python type next to its name, whatever its
            # metavar: the name in capitals says it (and the usage line shows it).
            setattr(param, "display_type_rich", _no_type)  # noqa: B010 (a method, on purpose)
    # --help itself is a flag: made (and kept) once per command, without a placeholder.
    help_option = command.get_help_option(Context(command))
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)


def unwrap(text: str | None) -> str | None:
    """Each paragraph on one line; a paragraph marked `\\b` (click's "keep as written") is
    left alone, and so is everything after `\\f` (not shown)."""
    if not text:
        return text
    shown, cut, hidden = text.partition("\f")
    paragraphs = [p.strip("\n") for p in inspect.cleandoc(shown).split("\n\n")]
    joined = [p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs if p]
    return "\n\n".join(joined) + cut + hidden


def placeholder(param: Any) -> str | None:
    """ "" for a flag (it takes no value), None for a choice (its choices show), else the
    option's name in capitals."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice:
        return None
    return (param.name or "value").upper()


def _no_type(ctx: Context) -> None:
    return None

"""`livebuy say`: one chat message through the same grammar and core as the chat adapters."""

from typing import Annotated

import typer

from bots import console
from bots.rendering import Renderer
from commerce.domain.errors import CommerceError
from webhooks.cli.common import fail, settings, with_bus


def say(
    text: Annotated[str, typer.Argument(help="The message, e.g. '#buy TEE 2 M'.")],
    chat: Annotated[str, typer.Option("--chat", help="The chat, e.g. web:demo.")] = "web:demo",
    sender: Annotated[
        str, typer.Option("--as", help="Who says it: a name or an identity like telegram:42.")
    ] = "console",
    locale: Annotated[str | None, typer.Option("--locale", help="en, de, fr or es.")] = None,
) -> None:
    """Send one chat message through the same grammar and core as the chat adapters."""
    try:
        msg = console.message(chat, sender, text)
    except CommerceError as exc:
        raise fail(str(exc)) from None
    outcome = with_bus(lambda bus: bus.handle(msg), payments=True)
    renderer = Renderer(locale or settings().livebuy_locale)
    for line in console.lines(renderer.outcome(outcome, who=f"@{msg.display_name}")):
        typer.echo(line)

"""`livebuy seller …`: who may run drops from a chat."""

from typing import Annotated

import typer

from commerce.domain import commands as c
from webhooks.cli.common import with_bus

seller_app = typer.Typer(help="Who may run drops from a chat.", no_args_is_help=True)


@seller_app.command("add")
def seller_add(
    identity: Annotated[str, typer.Argument(help="e.g. telegram:123 or discord:456")],
    role: Annotated[str, typer.Option("--role", help="owner or cohost")] = "owner",
) -> None:
    """Allow an identity to run drops from chats."""
    with_bus(lambda bus: bus.handle(c.AddSeller(identity, role)))
    typer.echo(f"{identity} is now a seller ({role})")

"""`livebuy db …`: the database schema."""

import typer

from webhooks.cli.common import settings, upgrade_schema

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the schema (Alembic migrations)."""
    upgrade_schema(settings().database_url)
    typer.echo("database schema is up to date")

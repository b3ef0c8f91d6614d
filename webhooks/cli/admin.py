"""`livebuy admin …`: who is signed in to the dashboard, and ending their sessions.

Registered on the main `livebuy` command by webhooks/cli/__init__.py.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.dashboard_sessions import SqlSessions
from webhooks.cli.common import Format, emit, fail, settings, with_engine

admin_app: typer.Typer = typer.Typer(
    help="Administration of the service itself.", no_args_is_help=True
)
sessions_app = typer.Typer(
    help="Dashboard sessions: list them, end one or all.", no_args_is_help=True
)
admin_app.add_typer(sessions_app, name="sessions")

SESSION_COLUMNS = ["id", "created", "last_seen", "ip", "user_agent"]


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@sessions_app.command("list")
def sessions_list(
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
) -> None:
    """The dashboard sessions that still hold (times in UTC)."""
    config = settings()

    async def work(engine: AsyncEngine) -> list[dict[str, Any]]:
        found = await SqlSessions(engine, config.session_idle).sessions(datetime.now(UTC))
        return [
            {
                "id": s.id,
                "created": _when(s.created_at),
                "last_seen": _when(s.last_seen_at),
                "ip": s.ip,
                "user_agent": s.user_agent[:60],
            }
            for s in found
        ]

    emit(with_engine(work, config), fmt, SESSION_COLUMNS)


@sessions_app.command("revoke")
def sessions_revoke(
    session_id: Annotated[
        str | None, typer.Argument(help="The id `sessions list` shows (or its start).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="End every session.")] = False,
) -> None:
    """End a dashboard session at once: its browser must sign in again."""
    if every == (session_id is not None):
        raise fail("give a session id or --all")
    config = settings()

    async def work(engine: AsyncEngine) -> str:
        sessions = SqlSessions(engine, config.session_idle)
        if session_id is None:
            return f"Ended {await sessions.revoke_all()} session(s)."
        return f"Ended session {await sessions.revoke(session_id)}."

    typer.echo(with_engine(work, config))

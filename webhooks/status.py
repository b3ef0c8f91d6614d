"""`livebuy status`: the workers, who holds each singleton duty, the outbox, the last webhook."""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.leases import SqlLeases
from commerce.adapters.outbox import SqlOutbox
from commerce.adapters.sql import maybe_utc

LAST_WEBHOOK = text("SELECT MAX(received_at) FROM payment_event")


def ago(then: datetime, now: datetime) -> str:
    seconds = int((now - then).total_seconds())
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


async def status_report(engine: AsyncEngine, now: datetime) -> str:
    leases = SqlLeases(engine, "status:0:-")
    workers, duties = await leases.workers(), await leases.leases()
    lines = [f"workers ({len(workers)})"]
    lines += [
        f"  {w.id}  up since {w.started_at:%Y-%m-%d %H:%M:%S}Z, seen {ago(w.seen_at, now)}"
        + ("  (silent: dead?)" if (now - w.seen_at).total_seconds() > 10 else "")
        for w in workers
    ] or ["  none running"]
    lines.append("duties")
    lines += [
        f"  {d.name:<10} {d.holder if d.expires_at > now else 'nobody (free)'}"
        + (f"  since {d.taken_at:%H:%M:%S}Z" if d.expires_at > now else "")
        for d in duties
    ] or ["  none taken yet"]
    lines.append("outbox")
    for platform in ("telegram", "discord"):
        counts = await SqlOutbox(engine).counts(platform)
        lines.append(
            f"  {platform:<10} {counts.pending} waiting, {counts.sent} sent"
            f" ({counts.edits} board edits), {counts.undeliverable} undeliverable"
        )
    async with engine.connect() as conn:
        last = maybe_utc((await conn.execute(LAST_WEBHOOK)).scalar())
    lines.append(f"last webhook  {ago(last, now) if last else 'none yet'}")
    return "\n".join(lines)

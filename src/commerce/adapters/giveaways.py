"""SqlGiveaways: giveaways and polls on SQLite or PostgreSQL (the GiveawayStore port).

An entry first takes the giveaway row's lock (a no-op UPDATE: the row lock on PostgreSQL; on
SQLite BEGIN IMMEDIATE has locked the database already), then looks for the customer's entry
and numbers a new one with `entries = entries + 1`: one entry per customer, numbered in
arrival order, whichever chat it came from. Votes are one row per (poll, customer), decided by
the primary key (`ON CONFLICT DO NOTHING`). The draw is computed by the pure rule
(domain/giveaways.py) from the stored seed and entries, under the same lock, once.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.claim_batch import resolve_customers
from commerce.adapters.claims import INSERT_ORDER, new_order_ref, take_units
from commerce.adapters.db import connection, transaction
from commerce.adapters.shipping import prize_shipping
from commerce.adapters.sql import maybe_utc, order_view, record_transition, sql, utc
from commerce.domain.errors import Conflict, NotFound
from commerce.domain.giveaways import commitment, draw
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import (
    EntryResult,
    GiveawayDraw,
    GiveawayRecord,
    GiveawayView,
    PollOptionView,
    PollView,
    VoteResult,
)

# How long a winner's order holds the prize: an order of 0 is marked paid by the sweeper at
# once (this only matters if it crashed in between); the shipping has a day to be paid, as
# a checkout link allows at most (Stripe's 24 hours), then the unit goes back to stock.
WINNER_HOLD = timedelta(days=1)

GIVEAWAY_PRODUCT = sql(
    "SELECT p.id, p.sku FROM product p WHERE p.sku = :code AND EXISTS"
    " (SELECT 1 FROM variant v WHERE v.product_id = p.id AND v.stock >= 1)"
)
# Live and taking entries in the chat (a giveaway without channels is in every chat).
OPEN_IN_CHAT = sql(
    "SELECT g.id FROM giveaway g WHERE g.status = 'live' AND g.ends_at > :now"
    " AND (EXISTS (SELECT 1 FROM giveaway_channel c WHERE c.giveaway_id = g.id"
    " AND c.chat = :chat) OR NOT EXISTS (SELECT 1 FROM giveaway_channel c"
    " WHERE c.giveaway_id = g.id)) ORDER BY g.id DESC LIMIT 1"
)
OPEN_ANYWHERE = sql(
    "SELECT id FROM giveaway WHERE status = 'live' AND ends_at > :now ORDER BY id DESC LIMIT 1"
)
OPEN_BY_ID = sql("SELECT id FROM giveaway WHERE id = :id AND status = 'live' AND ends_at > :now")
INSERT_GIVEAWAY = sql(
    "INSERT INTO giveaway (code, product_id, seed, commitment, status, outcome, entries,"
    " winner_name, winner_identity, winner_chat, show_id, started_by, starts_at, ends_at)"
    " VALUES (:code, :product_id, :seed, :commitment, 'live', '', 0, '', '', '', :show_id,"
    " :actor, :now, :ends_at) RETURNING id"
)
INSERT_GIVEAWAY_CHANNEL = sql(
    "INSERT INTO giveaway_channel (giveaway_id, chat) VALUES (:id, :chat)"
)
LOCK_GIVEAWAY = sql("UPDATE giveaway SET entries = entries WHERE id = :id")
# Votes of one poll one at a time (as entries): each vote's counts then include every vote
# before it. Concurrent votes each counted in their own snapshot on PostgreSQL, and the
# board could show 1 after two votes.
LOCK_POLL = sql("UPDATE poll SET status = status WHERE id = :id")
# `entries` counts the entries there are: the column numbers them, and an entry can leave
# (its person linked this identity to one that had entered already).
GIVEAWAY_COLUMNS = (
    "g.id, g.code, g.seed, g.commitment, g.status, g.outcome, (SELECT COUNT(*) FROM"
    " giveaway_entry e WHERE e.giveaway_id = g.id) AS entries, g.winner_number,"
    " g.winner_name, g.show_id, g.starts_at, g.ends_at, g.product_id, g.started_by,"
    " p.sku, p.name, p.currency, p.digital"
)
SELECT_GIVEAWAY = sql(
    f"SELECT {GIVEAWAY_COLUMNS} FROM giveaway g JOIN product p ON p.id = g.product_id"
    " WHERE g.id = :id"
)
GIVEAWAY_CHANNELS = sql("SELECT chat FROM giveaway_channel WHERE giveaway_id = :id ORDER BY chat")
CUSTOMER_OF = sql("SELECT customer_id FROM identity WHERE key = :key")
ENTRY_OF = sql(
    "SELECT number FROM giveaway_entry WHERE giveaway_id = :id AND customer_id = :customer_id"
)
NEXT_NUMBER = sql("UPDATE giveaway SET entries = entries + 1 WHERE id = :id RETURNING entries")
INSERT_ENTRY = sql(
    "INSERT INTO giveaway_entry (giveaway_id, number, customer_id, identity, chat, name,"
    " created_at) VALUES (:id, :number, :customer_id, :identity, :chat, :name, :now)"
)
ENTRIES = sql(
    "SELECT number, name, identity, chat FROM giveaway_entry WHERE giveaway_id = :id"
    " ORDER BY number"
)
DUE = sql(
    "SELECT id FROM giveaway WHERE status = 'live' AND ends_at <= :now ORDER BY ends_at LIMIT 100"
)
VARIANT_IN_STOCK = sql(
    "SELECT id FROM variant WHERE product_id = :product_id AND stock >= 1 ORDER BY id LIMIT 1"
)
# The winner's unit, as a free sale that has ended already.
INSERT_PRIZE = sql(
    "INSERT INTO drops (code, product_id, price_minor, currency, quantity, remaining,"
    " per_buyer_limit, policy, hold_seconds, status, waitlist_len, started_by, starts_at,"
    " ends_at, ended_at, confirm, promo) VALUES (:code, :product_id, 0, :currency, 1, 1,"
    " NULL, 'hold', :hold, 'ended', 0, :actor, :starts_at, :now, :now, 'always', :promo)"
    " RETURNING id"
)
DRAWN = sql(
    "UPDATE giveaway SET status = 'drawn', outcome = :outcome, winner_number = :number,"
    " winner_name = :name, winner_identity = :identity, winner_chat = :chat,"
    " drop_id = :drop_id, order_id = :order_id, drawn_at = :now"
    " WHERE id = :id AND status = 'live'"
)
UNSETTLED = sql(
    "SELECT g.id, o.ref FROM giveaway g JOIN orders o ON o.id = g.order_id"
    " WHERE g.status = 'drawn' AND o.status = 'reserved' AND o.amount_minor = 0"
    " ORDER BY g.id LIMIT 100"
)

LIVE_POLLS_IN_CHAT = sql(
    "SELECT p.id FROM poll p WHERE p.status = 'live' AND (EXISTS (SELECT 1 FROM"
    " poll_channel c WHERE c.poll_id = p.id AND c.chat = :chat) OR NOT EXISTS"
    " (SELECT 1 FROM poll_channel c WHERE c.poll_id = p.id)) ORDER BY p.id DESC"
)
LIVE_POLLS = sql("SELECT id FROM poll WHERE status = 'live' ORDER BY id DESC")
# The cards a chat room shows whoever opens it: what runs there, and what ended there lately
# (a giveaway's draw, a poll's result); newest first.
GIVEAWAYS_IN_CHAT = sql(
    "SELECT g.id FROM giveaway g WHERE (g.status = 'live' OR g.drawn_at >= :since)"
    " AND (EXISTS (SELECT 1 FROM giveaway_channel c WHERE c.giveaway_id = g.id"
    " AND c.chat = :chat) OR NOT EXISTS (SELECT 1 FROM giveaway_channel c"
    " WHERE c.giveaway_id = g.id)) ORDER BY g.id DESC LIMIT :limit"
)
POLLS_IN_CHAT = sql(
    "SELECT p.id FROM poll p WHERE (p.status = 'live' OR p.closed_at >= :since)"
    " AND (EXISTS (SELECT 1 FROM poll_channel c WHERE c.poll_id = p.id AND c.chat = :chat)"
    " OR NOT EXISTS (SELECT 1 FROM poll_channel c WHERE c.poll_id = p.id))"
    " ORDER BY p.id DESC LIMIT :limit"
)
LIVE_POLL_BY_ID = sql("SELECT id FROM poll WHERE id = :id AND status = 'live'")
CLOSE_POLL = sql(
    "UPDATE poll SET status = 'closed', closed_at = :now WHERE id = :id AND status = 'live'"
)
INSERT_POLL = sql(
    "INSERT INTO poll (question, status, show_id, started_by, started_at)"
    " VALUES (:question, 'live', :show_id, :actor, :now) RETURNING id"
)
INSERT_OPTION = sql(
    "INSERT INTO poll_option (poll_id, number, label) VALUES (:id, :number, :label)"
)
INSERT_POLL_CHANNEL = sql("INSERT INTO poll_channel (poll_id, chat) VALUES (:id, :chat)")
SELECT_POLL = sql(
    "SELECT id, question, status, show_id, started_at, closed_at FROM poll WHERE id = :id"
)
POLL_OPTIONS = sql(
    "SELECT o.number, o.label, (SELECT COUNT(*) FROM poll_vote v WHERE v.poll_id = o.poll_id"
    " AND v.choice = o.number) AS votes FROM poll_option o WHERE o.poll_id = :id"
    " ORDER BY o.number"
)
POLL_CHANNELS = sql("SELECT chat FROM poll_channel WHERE poll_id = :id ORDER BY chat")
HAS_OPTION = sql("SELECT 1 FROM poll_option WHERE poll_id = :id AND number = :number")
INSERT_VOTE = sql(
    "INSERT INTO poll_vote (poll_id, customer_id, identity, choice, created_at)"
    " VALUES (:id, :customer_id, :identity, :number, :now)"
    " ON CONFLICT (poll_id, customer_id) DO NOTHING"
)
VOTE_OF = sql("SELECT choice FROM poll_vote WHERE poll_id = :id AND customer_id = :customer_id")


async def giveaway_view(conn: AsyncConnection, giveaway_id: int) -> GiveawayView:
    row = (await conn.execute(SELECT_GIVEAWAY, {"id": giveaway_id})).one()
    channels = (await conn.execute(GIVEAWAY_CHANNELS, {"id": giveaway_id})).scalars().all()
    drawn = row.status == "drawn"
    return GiveawayView(
        id=row.id,
        code=row.code,
        sku=row.sku,
        name=row.name,
        commitment=row.commitment,
        status=row.status,
        outcome=row.outcome,
        entries=row.entries,
        channels=tuple(channels),
        starts_at=utc(row.starts_at),
        ends_at=utc(row.ends_at),
        show_id=row.show_id,
        seed=row.seed if drawn else None,  # secret until the draw
        winner_number=row.winner_number,
        winner_name=row.winner_name,
    )


async def poll_view(conn: AsyncConnection, poll_id: int) -> PollView:
    row = (await conn.execute(SELECT_POLL, {"id": poll_id})).one()
    options = (await conn.execute(POLL_OPTIONS, {"id": poll_id})).all()
    channels = (await conn.execute(POLL_CHANNELS, {"id": poll_id})).scalars().all()
    return PollView(
        id=row.id,
        question=row.question,
        options=tuple(PollOptionView(o.number, o.label, int(o.votes)) for o in options),
        status=row.status,
        channels=tuple(channels),
        started_at=utc(row.started_at),
        closed_at=maybe_utc(row.closed_at),
        show_id=row.show_id,
    )


class SqlGiveaways:
    """Giveaways (entries, the draw, the winner's order) and polls in the shop's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # giveaways ----------------------------------------------------------------------------

    async def start_giveaway(
        self,
        sku: str,
        channels: tuple[str, ...],
        actor: str,
        show_id: int | None,
        seed: str,
        ends_at: datetime,
        now: datetime,
    ) -> GiveawayView:
        async with transaction(self.engine) as conn:
            product = (await conn.execute(GIVEAWAY_PRODUCT, {"code": sku})).first()
            if product is None:
                raise NotFound(f"no product {sku} in stock to give away")
            for chat in channels or (None,):
                query = OPEN_ANYWHERE if chat is None else OPEN_IN_CHAT
                if (await conn.execute(query, {"chat": chat, "now": now})).first() is not None:
                    raise Conflict("a giveaway is running here already")
            giveaway_id = (
                await conn.execute(
                    INSERT_GIVEAWAY,
                    {
                        "code": product.sku,
                        "product_id": product.id,
                        "seed": seed,
                        "commitment": commitment(seed),
                        "show_id": show_id,
                        "actor": actor[:80],
                        "now": now,
                        "ends_at": ends_at,
                    },
                )
            ).scalar_one()
            for chat in channels:
                await conn.execute(INSERT_GIVEAWAY_CHANNEL, {"id": giveaway_id, "chat": chat})
            return await giveaway_view(conn, giveaway_id)

    async def enter(
        self,
        chat: str,
        identity: str,
        display_name: str,
        name: str,
        giveaway_id: int | None,
        now: datetime,
    ) -> EntryResult | None:
        async with transaction(self.engine) as conn:
            names = {identity: display_name or identity.partition(":")[2]}
            customer_id = (await resolve_customers(conn, names, now))[identity]
        async with transaction(self.engine) as conn:
            if giveaway_id is not None:
                found = await conn.execute(OPEN_BY_ID, {"id": giveaway_id, "now": now})
            else:
                found = await conn.execute(OPEN_IN_CHAT, {"chat": chat, "now": now})
            live = found.scalar()
            if live is None:
                return None
            await conn.execute(LOCK_GIVEAWAY, {"id": live})
            if (await conn.execute(OPEN_BY_ID, {"id": live, "now": now})).first() is None:
                return None  # pragma: no cover (drawn while this entry waited for the lock)
            keys = {"id": live, "customer_id": customer_id}
            number = (await conn.execute(ENTRY_OF, keys)).scalar()
            if number is not None:
                return EntryResult(await giveaway_view(conn, live), number, already=True)
            number = (await conn.execute(NEXT_NUMBER, {"id": live})).scalar_one()
            await conn.execute(
                INSERT_ENTRY,
                {
                    **keys,
                    "number": number,
                    "identity": identity,
                    "chat": chat,
                    "name": name,
                    "now": now,
                },
            )
            return EntryResult(await giveaway_view(conn, live), number)

    async def draw_due(self, now: datetime, shipping: Money | None) -> list[GiveawayDraw]:
        async with connection(self.engine) as conn:
            due = (await conn.execute(DUE, {"now": now})).scalars().all()
        draws = []
        for giveaway_id in due:
            async with transaction(self.engine) as conn:
                await conn.execute(LOCK_GIVEAWAY, {"id": giveaway_id})
                row = (await conn.execute(SELECT_GIVEAWAY, {"id": giveaway_id})).one()
                if row.status != "live" or utc(row.ends_at) > now:
                    continue  # pragma: no cover (another sweeper came first)
                draws.append(await self._draw(conn, row, shipping, now))
        return draws

    async def _draw(
        self, conn: AsyncConnection, row: Any, shipping: Money | None, now: datetime
    ) -> GiveawayDraw:
        entries = (await conn.execute(ENTRIES, {"id": row.id})).all()
        index = draw(row.seed, [(e.number, e.name) for e in entries])
        outcome, order_id, drop_id, winner = "no_entries", None, None, None
        if index is not None:
            winner = entries[index]
            # What the winner pays: the shipping, if the shop asks for it and there is
            # something to ship (priced in the shop's currency: a product in another one
            # is given free rather than charged a wrong amount), else nothing.
            # With shipping zones, the zone of the winner's address decides (as any package
            # of the shop); without any, LIVEBUY_GIVEAWAY_SHIPPING.
            to_pay = await prize_shipping(
                conn, row.product_id, row.currency, winner.identity, row.show_id, shipping
            )
            order_id, drop_id = await self._prize(conn, row, winner, to_pay, now)
            outcome = "won" if order_id is not None else "no_stock"
        won = order_id is not None and winner is not None
        await conn.execute(
            DRAWN,
            {
                "id": row.id,
                "outcome": outcome,
                "number": winner.number if won and winner else None,
                "name": winner.name if won and winner else "",
                "identity": winner.identity if won and winner else "",
                "chat": winner.chat if won and winner else "",
                "drop_id": drop_id,
                "order_id": order_id,
                "now": now,
            },
        )
        view = await giveaway_view(conn, row.id)
        if order_id is None or winner is None:
            return GiveawayDraw(view)
        order = await order_view(conn, order_id)
        return GiveawayDraw(view, order, winner.identity, winner.chat)

    async def _prize(
        self, conn: AsyncConnection, row: Any, winner: Any, to_pay: Money | None, now: datetime
    ) -> tuple[int | None, int | None]:
        """The winner's unit: an ended sale of one, and an order of 0 (or of the shipping)
        that holds it."""
        variant_id = (
            await conn.execute(VARIANT_IN_STOCK, {"product_id": row.product_id})
        ).scalar()
        customer_id = (await conn.execute(CUSTOMER_OF, {"key": winner.identity})).scalar()
        if variant_id is None or customer_id is None:
            return None, None
        drop_id = (
            await conn.execute(
                INSERT_PRIZE,
                {
                    "code": row.code,
                    "product_id": row.product_id,
                    "currency": row.currency,
                    "hold": int(WINNER_HOLD.total_seconds()),
                    "actor": row.started_by,
                    "starts_at": utc(row.starts_at),
                    "now": now,
                    # A promo never gets a checkout (the sweeper pays it); the shipping does.
                    "promo": to_pay is None,
                },
            )
        ).scalar_one()
        keys = {"drop_id": drop_id, "variant_id": variant_id, "q": 1}
        if await take_units(conn, keys, live_only=False) is not None:
            return None, drop_id  # pragma: no cover (sold elsewhere at this very moment)
        order_id: int = (
            await conn.execute(
                INSERT_ORDER,
                {
                    "ref": new_order_ref(),
                    "drop_id": drop_id,
                    "product_id": row.product_id,
                    "variant_id": variant_id,
                    "customer_id": customer_id,
                    "identity": winner.identity,
                    "chat": winner.chat,
                    "q": 1,
                    "price": to_pay.minor if to_pay else 0,
                    "amount": to_pay.minor if to_pay else 0,
                    "currency": row.currency,
                    "holds": True,
                    "hold_expires_at": now + WINNER_HOLD,
                    "now": now,
                },
            )
        ).scalar_one()
        cause = f"giveaway:{row.id}"
        await record_transition(conn, order_id, None, OrderStatus.RESERVED, cause, now)
        return order_id, drop_id

    async def unsettled(self) -> list[tuple[int, str]]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(UNSETTLED)).all()
        return [(int(r.id), str(r.ref)) for r in rows]

    async def giveaway(self, giveaway_id: int) -> GiveawayRecord:
        async with connection(self.engine) as conn:
            if (await conn.execute(SELECT_GIVEAWAY, {"id": giveaway_id})).first() is None:
                raise NotFound(f"no giveaway {giveaway_id}")
            view = await giveaway_view(conn, giveaway_id)
            entries = (await conn.execute(ENTRIES, {"id": giveaway_id})).all()
        return GiveawayRecord(view, tuple((e.number, e.name) for e in entries))

    async def giveaways_in_chat(
        self, chat: str, since: datetime, limit: int
    ) -> list[GiveawayView]:
        """The chat's live giveaways and those drawn since `since`, newest first."""
        keys = {"chat": chat, "since": since, "limit": limit}
        async with connection(self.engine) as conn:
            ids = (await conn.execute(GIVEAWAYS_IN_CHAT, keys)).scalars().all()
            return [await giveaway_view(conn, i) for i in ids]

    async def polls_in_chat(self, chat: str, since: datetime, limit: int) -> list[PollView]:
        """The chat's live polls and those closed since `since`, newest first."""
        keys = {"chat": chat, "since": since, "limit": limit}
        async with connection(self.engine) as conn:
            ids = (await conn.execute(POLLS_IN_CHAT, keys)).scalars().all()
            return [await poll_view(conn, i) for i in ids]

    # polls --------------------------------------------------------------------------------

    async def start_poll(
        self,
        question: str,
        options: tuple[str, ...],
        channels: tuple[str, ...],
        actor: str,
        show_id: int | None,
        now: datetime,
    ) -> tuple[PollView, list[PollView]]:
        async with transaction(self.engine) as conn:
            live: set[int] = set()
            if channels:
                for chat in channels:
                    found = await conn.execute(LIVE_POLLS_IN_CHAT, {"chat": chat})
                    live.update(found.scalars().all())
            else:
                live.update((await conn.execute(LIVE_POLLS)).scalars().all())
            closed = []
            for poll_id in sorted(live):
                await conn.execute(CLOSE_POLL, {"id": poll_id, "now": now})
                closed.append(await poll_view(conn, poll_id))
            keys = {"question": question, "show_id": show_id, "actor": actor[:80], "now": now}
            poll_id = (await conn.execute(INSERT_POLL, keys)).scalar_one()
            for number, label in enumerate(options, 1):
                option = {"id": poll_id, "number": number, "label": label}
                await conn.execute(INSERT_OPTION, option)
            for chat in channels:
                await conn.execute(INSERT_POLL_CHANNEL, {"id": poll_id, "chat": chat})
            return await poll_view(conn, poll_id), closed

    async def vote(
        self, chat: str, identity: str, option: int, poll_id: int | None, now: datetime
    ) -> VoteResult | None:
        async with transaction(self.engine) as conn:
            names = {identity: identity.partition(":")[2]}
            customer_id = (await resolve_customers(conn, names, now))[identity]
        async with transaction(self.engine) as conn:
            live = await self._live_poll(conn, chat, poll_id)
            if live is None:
                return None
            await conn.execute(LOCK_POLL, {"id": live})
            if await self._live_poll(conn, None, live) is None:
                return None  # pragma: no cover (closed while this vote waited for the lock)
            if (await conn.execute(HAS_OPTION, {"id": live, "number": option})).first() is None:
                return None
            keys = {"id": live, "customer_id": customer_id}
            added = await conn.execute(
                INSERT_VOTE, {**keys, "identity": identity, "number": option, "now": now}
            )
            if added.rowcount == 1:
                return VoteResult(await poll_view(conn, live), option)
            earlier = (await conn.execute(VOTE_OF, keys)).scalar_one()
            return VoteResult(await poll_view(conn, live), earlier, already=True)

    async def end_poll(self, chat: str | None, poll_id: int | None, now: datetime) -> PollView:
        async with transaction(self.engine) as conn:
            live = await self._live_poll(conn, chat, poll_id)
            if live is None:
                raise NotFound("no poll is live here")
            await conn.execute(CLOSE_POLL, {"id": live, "now": now})
            return await poll_view(conn, live)

    async def _live_poll(
        self, conn: AsyncConnection, chat: str | None, poll_id: int | None
    ) -> int | None:
        if poll_id is not None:
            found = await conn.execute(LIVE_POLL_BY_ID, {"id": poll_id})
        elif chat is not None:
            found = await conn.execute(LIVE_POLLS_IN_CHAT, {"chat": chat})
        else:
            found = await conn.execute(LIVE_POLLS)
        value = found.scalar()
        return None if value is None else int(value)

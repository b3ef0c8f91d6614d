"""SqlAuctions: auctions on SQLite or PostgreSQL (the AuctionStore port).

Every bid is one transaction that first takes the auction row's lock (a no-op UPDATE: the row
lock on PostgreSQL; on SQLite BEGIN IMMEDIATE has locked the database already), reads the
state, lets the pure rules (domain/auctions.py) decide, and writes the new state with an
UPDATE guarded by the sequence number it read, so two bids can never both build on one state.
Accepted visible bids get the next sequence number of their auction: the order the server
received them in, whichever chat they came from. The end time lives in the row, so a restart
changes nothing: the sweeper closes what is due.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, TextClause, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.claim_batch import resolve_customers
from commerce.adapters.claims import INSERT_ORDER, new_order_ref, take_units
from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import order_view, record_transition, sql, utc
from commerce.adapters.tables import UTCDateTime
from commerce.domain.auctions import (
    MAX_AUCTION,
    AuctionState,
    AuctionTerms,
    BidRefusal,
    CloseMode,
    Ladder,
    PastBid,
    ResultKind,
    place_bid,
    result,
    runner_up,
)
from commerce.domain.commands import PlaceBid
from commerce.domain.errors import Conflict, InvalidInput, NotFound
from commerce.domain.identity import ChatRef, Identity
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import normalise_sku
from commerce.service_layer.results import (
    AuctionOffer,
    AuctionView,
    BidRefusalReason,
    BidResult,
    BidStatus,
)


def q(statement: str) -> TextClause:
    """`sql()` plus the parameter types this module adds (times, and amounts that may be
    NULL)."""
    clause = sql(statement)
    extra = {"starts_at": UTCDateTime, "closed_at": UTCDateTime, "price": BigInteger}
    names = [n for n in extra if f":{n}" in statement]
    return clause.bindparams(*(bindparam(n, type_=extra[n]()) for n in names))


COLUMNS = """
    a.id, a.code, a.product_id, a.variant_id, a.currency, a.start_minor, a.reserve_minor,
    a.ladder, a.close, a.soft_seconds, a.pay_seconds, a.status, a.outcome, a.price_minor,
    a.leader_customer_id, a.leader_identity, a.leader_chat, a.leader_max_minor, a.bid_count,
    a.last_seq, a.drop_id, a.order_id, a.started_by, a.starts_at, a.ends_at,
    p.sku, p.name, c.display_name AS leader_name, p.image, p.description
"""
SELECT_AUCTION = q(
    f"SELECT {COLUMNS} FROM auction a JOIN product p ON p.id = a.product_id"
    " LEFT JOIN customer c ON c.id = a.leader_customer_id WHERE a.id = :id"
)
SELECT_CHANNELS = q("SELECT chat FROM auction_channel WHERE auction_id = :id ORDER BY chat")
LIST_AUCTIONS = q(
    "SELECT id FROM auction WHERE (:status IS NULL OR status = :status) ORDER BY id DESC"
)
LIVE_WITH_CODE = q("SELECT id FROM auction WHERE code = :code AND status = 'live'")
PRODUCT_VARIANT = q(
    "SELECT p.id AS product_id, p.currency, v.id AS variant_id FROM product p"
    " JOIN variant v ON v.product_id = p.id WHERE p.sku = :code AND v.stock >= 1"
    " ORDER BY v.id LIMIT 1"
)
INSERT_AUCTION = q(
    "INSERT INTO auction (code, product_id, variant_id, currency, start_minor, reserve_minor,"
    " ladder, close, soft_seconds, pay_seconds, status, outcome, leader_identity, leader_chat,"
    " leader_max_minor, bid_count, last_seq, started_by, starts_at, ends_at)"
    " VALUES (:code, :product_id, :variant_id, :currency, :start, :reserve, :ladder, :close,"
    " :soft, :pay, 'live', '', '', '', 0, 0, 0, :actor, :now, :ends_at) RETURNING id"
)
INSERT_CHANNEL = q("INSERT INTO auction_channel (auction_id, chat) VALUES (:id, :chat)")
FIND_LIVE = q(
    "SELECT a.id FROM auction a WHERE a.status = 'live' AND (EXISTS (SELECT 1 FROM"
    " auction_channel c WHERE c.auction_id = a.id AND c.chat = :chat) OR NOT EXISTS"
    " (SELECT 1 FROM auction_channel c WHERE c.auction_id = a.id)) ORDER BY a.id DESC LIMIT 1"
)
# A proxy bid from a private chat: the latest live auction on the bidder's platform.
LATEST_LIVE = q(
    "SELECT a.id FROM auction a WHERE a.status = 'live' AND (EXISTS (SELECT 1 FROM"
    " auction_channel c WHERE c.auction_id = a.id AND c.chat LIKE :platform) OR NOT EXISTS"
    " (SELECT 1 FROM auction_channel c WHERE c.auction_id = a.id)) ORDER BY a.id DESC LIMIT 1"
)
FIND_TO_END = q(
    "SELECT a.id FROM auction a WHERE a.status = 'live' AND (:code IS NULL OR a.code = :code)"
    " AND (:chat IS NULL OR EXISTS (SELECT 1 FROM auction_channel c WHERE c.auction_id = a.id"
    " AND c.chat = :chat) OR NOT EXISTS (SELECT 1 FROM auction_channel c"
    " WHERE c.auction_id = a.id)) ORDER BY a.id DESC LIMIT 1"
)
END_NOW = q("UPDATE auction SET ends_at = :now WHERE id = :id AND status = 'live'")
# A no-op update: the portable way to take the auction's row lock.
LOCK_AUCTION = q("UPDATE auction SET last_seq = last_seq WHERE id = :id")
SAVE_STATE = q(
    "UPDATE auction SET price_minor = :price, leader_customer_id = :leader,"
    " leader_identity = :leader_identity, leader_chat = :leader_chat,"
    " leader_max_minor = :leader_max, bid_count = :bids, last_seq = :seq, ends_at = :ends_at"
    " WHERE id = :id AND status = 'live' AND last_seq = :read_seq"
)
BID_BY_KEY = q(
    "SELECT auction_id, seq, status, reason, kind, customer_id FROM bid WHERE key = :key"
)
INSERT_BID = q(
    "INSERT INTO bid (auction_id, seq, key, customer_id, identity, chat, kind, amount_minor,"
    " status, reason, created_at) VALUES (:id, :seq, :key, :customer_id, :identity, :chat,"
    " :kind, :amount, :status, :reason, :now)"
)
DUE = q(
    "SELECT id FROM auction WHERE status = 'live' AND ends_at <= :now ORDER BY ends_at LIMIT 100"
)
INSERT_SALE = q(
    "INSERT INTO drops (code, product_id, price_minor, currency, quantity, remaining,"
    " per_buyer_limit, policy, hold_seconds, status, waitlist_len, started_by, starts_at,"
    " ends_at, ended_at) VALUES (:code, :product_id, :price, :currency, 1, 1, NULL, 'hold',"
    " :pay, 'ended', 0, :actor, :starts_at, :now, :now) RETURNING id"
)
CLOSE = q(
    "UPDATE auction SET status = 'closed', outcome = :outcome, closed_at = :now,"
    " drop_id = :drop_id, order_id = :order_id WHERE id = :id AND status = 'live'"
)
UNPAID = q(
    "SELECT a.id FROM auction a JOIN orders o ON o.id = a.order_id WHERE a.status = 'closed'"
    " AND o.status IN ('expired', 'cancelled') ORDER BY a.id LIMIT 100"
)
ORDER_STATE = q("SELECT status, customer_id, identity FROM orders WHERE id = :id")
ADD_STRIKE = q(
    "INSERT INTO strike (customer_id, order_id, cause, created_at)"
    " VALUES (:customer_id, :order_id, :cause, :now) ON CONFLICT (order_id) DO NOTHING"
)
OFFERED = q("SELECT DISTINCT customer_id FROM orders WHERE drop_id = :drop_id")
VISIBLE_BIDS = q(
    "SELECT customer_id, amount_minor, seq, identity, chat FROM bid"
    " WHERE auction_id = :id AND seq IS NOT NULL ORDER BY seq"
)
REOFFER = q("UPDATE auction SET order_id = :order_id, outcome = :outcome WHERE id = :id")
CUSTOMER_OF = q("SELECT customer_id FROM identity WHERE key = :key")
# A buyer's strikes follow the card (#18): theirs and those of whoever paid with their card.
STRIKES = q(
    "SELECT COUNT(*) FROM strike s WHERE s.customer_id = :customer_id OR s.customer_id IN"
    " (SELECT o2.customer_id FROM orders o1 JOIN orders o2"
    " ON o2.card_fingerprint = o1.card_fingerprint WHERE o1.customer_id = :customer_id)"
)

_REFUSALS = {
    BidRefusal.ENDED: BidRefusalReason.ENDED,
    BidRefusal.TOO_LOW: BidRefusalReason.TOO_LOW,
    BidRefusal.ALREADY_LEADING: BidRefusalReason.ALREADY_LEADING,
}


def terms_of(row: Any) -> AuctionTerms:
    return AuctionTerms(
        start=row.start_minor,
        # The duration only matters when the auction starts; soft close may have grown it.
        duration=min(
            max(utc(row.ends_at) - utc(row.starts_at), timedelta(seconds=1)), MAX_AUCTION
        ),
        close=CloseMode(row.close),
        reserve=row.reserve_minor,
        ladder=Ladder.parse(row.ladder),
        soft_window=timedelta(seconds=row.soft_seconds),
    )


def state_of(row: Any) -> AuctionState:
    leader = row.leader_customer_id
    return AuctionState(
        ends_at=utc(row.ends_at),
        price=row.price_minor,
        leader=None if leader is None else str(leader),
        leader_max=row.leader_max_minor,
        bids=row.bid_count,
        seq=row.last_seq,
    )


async def auction_view(conn: AsyncConnection, auction_id: int) -> AuctionView:
    row = (await conn.execute(SELECT_AUCTION, {"id": auction_id})).one()
    channels = (await conn.execute(SELECT_CHANNELS, {"id": auction_id})).scalars().all()
    return to_view(row, tuple(channels))


def to_view(row: Any, channels: tuple[str, ...]) -> AuctionView:
    currency = row.currency
    terms, state = terms_of(row), state_of(row)
    price = row.price_minor
    reserve = row.reserve_minor
    return AuctionView(
        id=row.id,
        code=row.code,
        sku=row.sku,
        name=row.name,
        start=Money(row.start_minor, currency),
        price=None if price is None else Money(price, currency),
        minimum=Money(state.minimum(terms), currency),
        leader=row.leader_identity or None,
        bids=row.bid_count,
        close=row.close,
        reserve_met=None if reserve is None else price is not None and price >= reserve,
        status=row.status,
        outcome=row.outcome,
        channels=channels,
        starts_at=utc(row.starts_at),
        ends_at=utc(row.ends_at),
        leader_name=(row.leader_name or "") if row.leader_identity else "",
        image=row.image,
        description=row.description,
    )


class SqlAuctions:
    """Auctions, bids and strikes in the shop's SQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def start_auction(
        self,
        terms: AuctionTerms,
        sku: str,
        code: str | None,
        channels: tuple[str, ...],
        actor: str,
        pay: timedelta,
        now: datetime,
    ) -> AuctionView:
        sku = normalise_sku(sku)
        auction_code = normalise_sku(code or sku)
        async with transaction(self.engine) as conn:
            product = (await conn.execute(PRODUCT_VARIANT, {"code": sku})).first()
            if product is None:
                raise NotFound(f"no product {sku} in stock to auction")
            if (await conn.execute(LIVE_WITH_CODE, {"code": auction_code})).first():
                raise Conflict(f"an auction {auction_code} is live already")
            auction_id = (
                await conn.execute(
                    INSERT_AUCTION,
                    {
                        "code": auction_code,
                        "product_id": product.product_id,
                        "variant_id": product.variant_id,
                        "currency": product.currency,
                        "start": terms.start,
                        "reserve": terms.reserve,
                        "ladder": terms.ladder.format(),
                        "close": terms.close.value,
                        "soft": int(terms.soft_window.total_seconds()),
                        "pay": int(pay.total_seconds()),
                        "actor": actor[:80],
                        "now": now,
                        "ends_at": now + terms.duration,
                    },
                )
            ).scalar_one()
            for chat in sorted(set(channels)):
                await conn.execute(INSERT_CHANNEL, {"id": auction_id, "chat": chat})
            return await auction_view(conn, auction_id)

    async def meet_bidders(self, bids: Sequence[PlaceBid], now: datetime) -> None:
        """The bidders of a batch seen for the first time become customers now, in a
        transaction of their own and in sorted order (as the claim writer's buyers), before
        the batch's unit of work: deciding the bids, it then creates none. Created there, one
        worker's batch of one auction could hold a new bidder's row and wait for another's
        that a batch of another auction, on another worker, created first and holding it,
        waits for the first one's (a deadlock PostgreSQL breaks by failing a bid)."""
        names: dict[str, str] = {}
        for bid in bids:
            try:
                identity = str(Identity.parse(bid.identity))
            except InvalidInput:
                continue  # it fails alone when decided
            names.setdefault(identity, bid.display_name or identity.partition(":")[2])
        if len(names) < 2:  # one new bidder a batch: its bid's unit waits for nobody else's
            return
        async with transaction(self.engine) as conn:
            await resolve_customers(conn, names, now)

    async def lock_for_bids(self, bids: Sequence[PlaceBid]) -> None:
        """Locks the live auctions these bids go to, in ascending id order: a batch of bids
        of several auctions (service_layer/bid_turns.py) then never holds one auction while
        waiting for another that a batch of another worker, holding that one, waits to lock
        after its own (a deadlock PostgreSQL breaks by failing a bid). Each bid takes its
        auction's lock again when it is decided (a lock already held: at once)."""
        async with transaction(self.engine) as conn:
            ids: set[int] = set()
            wheres = {where for where in map(_where, bids) if where is not None}
            if len(wheres) < 2:  # all from one place, to one auction: its first bid locks it
                return
            for chat, identity, private in sorted(wheres):
                auction_id = await _live_auction(conn, chat, identity, private)
                if auction_id is not None:
                    ids.add(auction_id)
            for auction_id in sorted(ids):
                await conn.execute(LOCK_AUCTION, {"id": auction_id})

    async def place_bid(self, bid: PlaceBid, now: datetime) -> BidResult:
        identity, chat = str(Identity.parse(bid.identity)), str(ChatRef.parse(bid.chat))
        async with transaction(self.engine) as conn:
            known = (await conn.execute(BID_BY_KEY, {"key": bid.key})).first()
            if known is not None:
                return await _replay(conn, known)
            auction_id = await _live_auction(conn, chat, identity, bid.private)
            if auction_id is None:
                return BidResult(BidStatus.REFUSED, reason=BidRefusalReason.NO_LIVE_AUCTION)
            # The auction's lock first, the bidder's customer row after it: a batch of bids
            # (service_layer/bid_turns.py) holds the lock while it creates its bidders, and
            # a worker that had created one before waiting for the lock would deadlock it.
            await conn.execute(LOCK_AUCTION, {"id": auction_id})
            names = {identity: bid.display_name or identity.partition(":")[2]}
            customer_id = (await resolve_customers(conn, names, now))[identity]
            row = (await conn.execute(SELECT_AUCTION, {"id": auction_id})).one()
            if row.status != "live":  # pragma: no cover (closed while this bid waited)
                view = await auction_view(conn, auction_id)
                return BidResult(BidStatus.REFUSED, view, reason=BidRefusalReason.ENDED)
            try:
                amount = Money.parse(bid.amount, row.currency).minor
            except InvalidInput:
                amount = 0
            terms, state = terms_of(row), state_of(row)
            me = str(customer_id)
            out = place_bid(terms, state, me, amount, now, bid.proxy)
            record = {
                "id": auction_id,
                "key": bid.key,
                "customer_id": customer_id,
                "identity": identity,
                "chat": chat,
                "kind": "max" if bid.proxy else "bid",
                "amount": amount,
                "now": now,
            }
            if not out.accepted:
                reason = _REFUSALS[out.refusal] if out.refusal else BidRefusalReason.ENDED
                await conn.execute(
                    INSERT_BID, {**record, "seq": None, "status": "refused", "reason": reason}
                )
                view = await auction_view(conn, auction_id)
                return BidResult(
                    BidStatus.REFUSED,
                    view,
                    Money(amount, row.currency),
                    reason=reason,
                    proxy=bid.proxy,
                )
            new = out.state
            leading = new.leader == me
            saved = await conn.execute(
                SAVE_STATE,
                {
                    "id": auction_id,
                    "read_seq": state.seq,
                    "price": new.price,
                    "leader": int(new.leader) if new.leader else None,
                    "leader_identity": identity if leading else row.leader_identity,
                    "leader_chat": chat if leading else row.leader_chat,
                    "leader_max": new.leader_max,
                    "bids": new.bids,
                    "seq": new.seq,
                    "ends_at": new.ends_at,
                },
            )
            if saved.rowcount != 1:  # pragma: no cover (the lock makes this impossible)
                raise Conflict("the auction changed meanwhile; bid again")
            # The message's own row keeps what was asked (a proxy's maximum stays private to
            # the database); each visible bid has a numbered row, a proxy's under an auto key.
            own_seq = None
            for placed in out.placed:
                mine = placed.bidder == me
                if mine and not placed.auto:
                    own_seq = placed.seq
                if mine and not placed.auto and not bid.proxy:
                    await conn.execute(
                        INSERT_BID,
                        {
                            **record,
                            "seq": placed.seq,
                            "amount": placed.amount,
                            "status": "accepted",
                            "reason": "",
                        },
                    )
                    continue
                await conn.execute(
                    INSERT_BID,
                    {
                        "id": auction_id,
                        "seq": placed.seq,
                        "key": f"auto:{auction_id}:{placed.seq}",
                        "customer_id": int(placed.bidder),
                        "identity": identity if mine else row.leader_identity,
                        "chat": chat if mine else row.leader_chat,
                        "kind": "auto",
                        "amount": placed.amount,
                        "status": "accepted",
                        "reason": "",
                        "now": now,
                    },
                )
            if own_seq is None or bid.proxy:
                await conn.execute(
                    INSERT_BID, {**record, "seq": None, "status": "accepted", "reason": ""}
                )
            status = BidStatus.LEADING if out.leading else BidStatus.OUTBID
            if own_seq is None and out.leading:  # a leader's higher maximum
                status = BidStatus.RAISED
            lost = out.outbid is not None and out.outbid != me and state.leader is not None
            return BidResult(
                status,
                await auction_view(conn, auction_id),
                Money(amount, row.currency),
                seq=own_seq,
                proxy=bid.proxy,
                extended=out.extended,
                outbid_identity=row.leader_identity if lost else None,
                outbid_chat=row.leader_chat if lost else None,
            )

    async def end_auction(self, code: str | None, chat: str | None, now: datetime) -> int:
        async with transaction(self.engine) as conn:
            auction_id = (await conn.execute(FIND_TO_END, {"code": code, "chat": chat})).scalar()
            if auction_id is None:
                raise NotFound(f"no live auction {code or ''} to end".replace("  ", " "))
            await conn.execute(END_NOW, {"id": auction_id, "now": now})
            return int(auction_id)

    async def close_due(self, now: datetime) -> list[AuctionOffer]:
        async with connection(self.engine) as conn:
            due = (await conn.execute(DUE, {"now": now})).scalars().all()
        closed = []
        # By ascending id, as a batch of bids locks its auctions (lock_for_bids): in the
        # order they ran out, the sweeper's unit and a batch could wait for each other.
        for auction_id in sorted(due):
            async with transaction(self.engine) as conn:
                await conn.execute(LOCK_AUCTION, {"id": auction_id})
                row = (await conn.execute(SELECT_AUCTION, {"id": auction_id})).one()
                if row.status != "live" or utc(row.ends_at) > now:
                    continue  # pragma: no cover (another sweeper, or a late bid, came first)
                end = result(terms_of(row), state_of(row))
                outcome, drop_id, order_id = end.kind.value, None, None
                if end.kind is ResultKind.SOLD and end.price is not None:
                    drop_id = (
                        await conn.execute(
                            INSERT_SALE,
                            {
                                "code": row.code,
                                "product_id": row.product_id,
                                "price": end.price,
                                "currency": row.currency,
                                "pay": row.pay_seconds,
                                "actor": row.started_by,
                                "starts_at": utc(row.starts_at),
                                "now": now,
                            },
                        )
                    ).scalar_one()
                    order_id = await _offer(
                        conn,
                        row,
                        drop_id,
                        row.leader_customer_id,
                        row.leader_identity,
                        row.leader_chat,
                        end.price,
                        "auction:won",
                        now,
                    )
                    if order_id is None:
                        outcome = "no_stock"
                params = {"id": auction_id, "outcome": outcome, "now": now}
                await conn.execute(CLOSE, {**params, "drop_id": drop_id, "order_id": order_id})
                order = await order_view(conn, order_id) if order_id is not None else None
                closed.append(AuctionOffer(await auction_view(conn, auction_id), order))
        return closed

    async def second_chances(self, now: datetime) -> list[AuctionOffer]:
        async with connection(self.engine) as conn:
            unpaid = (await conn.execute(UNPAID)).scalars().all()
        offers = []
        for auction_id in unpaid:
            async with transaction(self.engine) as conn:
                await conn.execute(LOCK_AUCTION, {"id": auction_id})
                row = (await conn.execute(SELECT_AUCTION, {"id": auction_id})).one()
                if row.order_id is None:  # pragma: no cover (another sweeper was first)
                    continue
                lapsed = (await conn.execute(ORDER_STATE, {"id": row.order_id})).one()
                if lapsed.status not in (OrderStatus.EXPIRED, OrderStatus.CANCELLED):
                    continue  # pragma: no cover (paid meanwhile)
                struck = None
                if lapsed.status == OrderStatus.EXPIRED:
                    await conn.execute(
                        ADD_STRIKE,
                        {
                            "customer_id": lapsed.customer_id,
                            "order_id": row.order_id,
                            "cause": f"auction:{row.code}:unpaid",
                            "now": now,
                        },
                    )
                    struck = lapsed.identity
                offered = (await conn.execute(OFFERED, {"drop_id": row.drop_id})).scalars()
                bids = (await conn.execute(VISIBLE_BIDS, {"id": auction_id})).all()
                past = [PastBid(str(b.customer_id), b.amount_minor, b.seq) for b in bids]
                nxt = runner_up(terms_of(row), past, [str(c) for c in offered])
                order_id, outcome = None, "unpaid"
                if nxt is not None:
                    by_seq = {b.seq: b for b in bids}[nxt.seq]
                    order_id = await _offer(
                        conn,
                        row,
                        row.drop_id,
                        int(nxt.bidder),
                        by_seq.identity,
                        by_seq.chat,
                        nxt.amount,
                        "auction:second_chance",
                        now,
                    )
                    outcome = "sold" if order_id is not None else "no_stock"
                await conn.execute(
                    REOFFER, {"id": auction_id, "order_id": order_id, "outcome": outcome}
                )
                order = await order_view(conn, order_id) if order_id is not None else None
                view = await auction_view(conn, auction_id)
                offers.append(AuctionOffer(view, order, second_chance=True, struck=struck))
        return offers

    async def auctions(self, status: str | None = None) -> list[AuctionView]:
        async with connection(self.engine) as conn:
            ids = (await conn.execute(LIST_AUCTIONS, {"status": status})).scalars().all()
            return [await auction_view(conn, i) for i in ids]

    async def strikes(self, identity: str) -> int:
        """Unpaid wins recorded against the buyer behind `identity`."""
        async with connection(self.engine) as conn:
            customer = (await conn.execute(CUSTOMER_OF, {"key": identity})).scalar()
            if customer is None:
                return 0
            return int((await conn.execute(STRIKES, {"customer_id": customer})).scalar_one())


async def _offer(
    conn: AsyncConnection,
    row: Any,
    drop_id: int,
    customer_id: int,
    identity: str,
    chat: str,
    price: int,
    cause: str,
    now: datetime,
) -> int | None:
    """The auction's unit for one buyer at `price`: an order with the payment deadline."""
    keys = {"drop_id": drop_id, "variant_id": row.variant_id, "q": 1}
    if await take_units(conn, keys, live_only=False) is not None:
        return None  # the unit was sold elsewhere meanwhile
    order_id: int = (
        await conn.execute(
            INSERT_ORDER,
            {
                "ref": new_order_ref(),
                "drop_id": drop_id,
                "product_id": row.product_id,
                "variant_id": row.variant_id,
                "customer_id": customer_id,
                "identity": identity,
                "chat": chat,
                "q": 1,
                "price": price,
                "amount": price,
                "currency": row.currency,
                "holds": True,
                "hold_expires_at": now + timedelta(seconds=row.pay_seconds),
                "now": now,
            },
        )
    ).scalar_one()
    await record_transition(conn, order_id, None, OrderStatus.RESERVED, cause, now)
    return order_id


def _where(bid: PlaceBid) -> tuple[str, str, bool] | None:
    """Where a bid looks for its auction (its chat; from a private chat, also the bidder's
    platform), or None for a bid that cannot be read (it fails alone when decided)."""
    try:
        identity, chat = str(Identity.parse(bid.identity)), str(ChatRef.parse(bid.chat))
    except InvalidInput:
        return None
    return chat, identity if bid.private else "", bid.private


async def _live_auction(
    conn: AsyncConnection, chat: str, identity: str, private: bool
) -> int | None:
    """The live auction a bid from `chat` goes to: the chat's, or, for a bid from a private
    chat, the latest live one on the bidder's platform."""
    auction_id: int | None = (await conn.execute(FIND_LIVE, {"chat": chat})).scalar()
    if auction_id is None and private:
        platform = f"{identity.partition(':')[0]}:%"
        auction_id = (await conn.execute(LATEST_LIVE, {"platform": platform})).scalar()
    return auction_id


async def _replay(conn: AsyncConnection, known: Any) -> BidResult:
    """The answer a redelivered bid message gets: its first result, as things stand now."""
    view = await auction_view(conn, known.auction_id)
    if known.status == "refused":
        return BidResult(
            BidStatus.REFUSED, view, reason=BidRefusalReason(known.reason), duplicate=True
        )
    row = (await conn.execute(SELECT_AUCTION, {"id": known.auction_id})).one()
    leading = row.leader_customer_id == known.customer_id
    return BidResult(
        BidStatus.LEADING if leading else BidStatus.OUTBID,
        view,
        seq=known.seq,
        proxy=known.kind == "max",
        duplicate=True,
    )

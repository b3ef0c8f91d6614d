"""Builds the core (store, bus) from settings; the one place that picks the adapters."""

import gc

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.app_settings import SqlPayLinks
from commerce.adapters.auctions import SqlAuctions
from commerce.adapters.cards import SqlCards
from commerce.adapters.clock import LogNotifier, SystemClock
from commerce.adapters.db import create_engine
from commerce.adapters.email_sign_ins import SqlEmailSignIns
from commerce.adapters.giveaways import SqlGiveaways
from commerce.adapters.ledger import SqlLedger
from commerce.adapters.read_model import SqlReadModel
from commerce.adapters.repository import SqlStore
from commerce.adapters.room_lines import SqlRoomLines
from commerce.adapters.shipments import SqlShipments
from commerce.adapters.shipping import SqlShipping
from commerce.adapters.shows import SqlShows
from commerce.adapters.throttle import MemoryThrottle
from commerce.adapters.unit_of_work import sql_units
from commerce.adapters.web_viewers import SqlWebViewers
from commerce.config import Settings
from commerce.domain.payments import LimitBreach
from commerce.service_layer import queries
from commerce.service_layer.deps import Deps
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.packages import Letters
from commerce.service_layer.ports import Clock, Notifier, PaymentGateway
from commerce.service_layer.unit_of_work import CollectingNotifier
from commerce.service_layer.units_left import UnitsLeftNews


def bootstrap(
    settings: Settings,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    payments: PaymentGateway | None = None,
    letters: Letters | None = None,
    units_left: bool = False,
) -> MessageBus:
    """The bus with real adapters; tests pass fakes for the ports they want to watch.
    `letters` (from the composition root: they render in the chat platforms' words) turns
    news for a buyer into outbox messages; without it buyers are not told. `units_left`: claims
    and releases are told as `UnitsLeft` notices, coalesced (the app's boards and overlays;
    tests of the core that count the notices leave it off)."""
    engine = engine or create_engine(settings.database_url)
    store = SqlStore(
        engine,
        strikes=settings.livebuy_strikes,
        web_first_paid=settings.livebuy_web_claims == "first-paid",
    )
    auctions, giveaways, shows = SqlAuctions(engine), SqlGiveaways(engine), SqlShows(engine)
    ledger, cards, shipping = SqlLedger(engine), SqlCards(engine), SqlShipping(engine)
    pay_links = SqlPayLinks(engine, settings.public_base_url)
    shipments, web_viewers = SqlShipments(engine), SqlWebViewers(engine)
    email_sign_ins, room_lines = SqlEmailSignIns(engine), SqlRoomLines(engine)
    deps = Deps(
        store=store,
        ledger=ledger,
        clock=clock or SystemClock(),
        notifier=CollectingNotifier(notifier or LogNotifier()),
        payments=payments,
        sellers=settings.sellers,
        hold=settings.hold,
        auctions=auctions,
        invoice_platforms=invoice_platforms(settings),
        cards=cards,
        shows=shows,
        public_url=settings.public_base_url.rstrip("/"),
        confirm_window=settings.confirm_window,
        async_payment_wait=settings.async_payment_wait,
        giveaways=giveaways,
        giveaway_shipping=settings.giveaway_shipping,
        pay_links=pay_links,
        shipments=shipments,
        letters=letters,
        ship_within=settings.livebuy_ship_within,
        shipping=shipping,
        bundle_window=settings.bundle_window,
        stripe_tax=settings.livebuy_stripe_tax,
        web_viewers=web_viewers,
        web_claims_signed_in=settings.livebuy_web_claims == "signed-in",
        limit_breach=LimitBreach(settings.livebuy_limit_breach),
        room_lines=room_lines,
        email_sign_ins=email_sign_ins,
        views=SqlReadModel(engine),
        throttle=MemoryThrottle(rate) if (rate := settings.rate_per_buyer) else None,
        # The unit hands out these very objects (one of each serves every unit).
        units=sql_units(
            engine,
            auctions,
            giveaways,
            shows,
            store,
            ledger,
            cards,
            shipping,
            shipments=shipments,
            web_viewers=web_viewers,
            email_sign_ins=email_sign_ins,
            room_lines=room_lines,
            pay_links=pay_links,
        ),
    )
    bus = MessageBus(deps)
    if units_left:
        read = lambda code: queries.latest_drop(bus.reads, code)  # noqa: E731
        deps.units_left = news = UnitsLeftNews(read, deps.notifier.notify)
        # One mark per drop and claim batch, once the batch has committed.
        store.claims.after_batch.append(news.claimed)
    return bus


_frozen = False
# The collector's thresholds once the server runs: the youngest generation is collected
# after 20,000 net allocations instead of 700, and a full collection waits for 100 middle
# ones instead of 10. A burst of 10,000 claims in flight holds a few hundred thousand
# objects (tasks, their coroutines, commands, answers) for a second or so; with the
# defaults each burst paid two or three full collections walking all of them (about a third
# of a 10,000-claim flash drop's time here). Cycles are still collected, a little later;
# `livebuy bench local-memory` keeps the resident memory in check.
GC_THRESHOLDS = (20_000, 20, 100)


def freeze_startup_heap() -> None:
    """Once a server has started: what start-up made (modules, tables, compiled statements)
    lives as long as the process, so it is moved out of the garbage collector's reach.
    Otherwise every full collection walks it again while thousands of claims are in flight;
    a flash drop of 10,000 claims spent about half of its event loop's time so. Once per
    process: a later call would also pin whatever garbage exists by then."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)


def invoice_platforms(settings: Settings) -> frozenset[str]:
    """Telegram buyers pay with Telegram's own invoices once a payment provider token (a
    Stripe one, from @BotFather) is set for the bot."""
    provider = settings.telegram_payment_provider_token
    if settings.telegram_bot_token and provider and provider.get_secret_value():
        return frozenset({"telegram"})
    return frozenset()

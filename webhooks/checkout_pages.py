"""The buyer's pay link (`/pay/<order>`), which opens Stripe Checkout, and where Checkout sends
buyers back: a short page about their order."""

import logging
from html import escape

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from bots.web.chat import COOKIE
from commerce.domain.commands import CheckPayment, OpenPayment, RecogniseWebViewer
from commerce.domain.errors import NotFound
from commerce.domain.orders import OrderStatus
from commerce.domain.pay_links import claimant_only
from commerce.service_layer import queries
from commerce.service_layer.results import OrderView, PageKind, PaymentPage
from webhooks.keys import BUS

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;
margin:3rem auto;padding:0 1rem;line-height:1.5;overflow-wrap:anywhere}}
h1{{font-size:1.4rem}}a.back{{display:inline-block;padding:.5rem 1.2rem;background:#635bff;
color:#fff;border-radius:.4rem;text-decoration:none;font-weight:600}}</style></head>
<body><h1>{title}</h1><p>{body}</p>{back}</body></html>"""


def page(
    title: str,
    body: str,
    refresh: bool = False,
    status: int = 200,
    order: OrderView | None = None,
) -> web.Response:
    """A short page; with `order`, a way back to the chat the order came from."""
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    back = ""
    if order is not None and order.chat.startswith("web:"):
        room = order.chat.removeprefix("web:")
        back = f'<p><a class="back" href="/chat/{escape(room)}">Back to #{escape(room)}</a></p>'
    elif order is not None:  # Telegram or Discord: the app is where the buyer left it
        back = "<p>You can close this page and go back to the chat.</p>"
    html = PAGE.format(title=escape(title), body=escape(body), refresh=meta, back=back)
    return web.Response(text=html, content_type="text/html", status=status)


@routes.get("/pay/{ref}")
async def pay(request: web.Request) -> web.Response:
    """The link a buyer got for an order: on to Stripe's page (made now, the first time), or
    what happened instead."""
    ref, token = request.match_info["ref"][:20], request.query.get("t", "")[:40]
    bus = request.app[BUS]
    # A Twitch or YouTube order's link was said in a public chat: its claimant only pays,
    # once signed in with that platform (webhooks.signin's /p/ page).
    claimed = await queries.paid_through(bus.reads, ref, token)
    if claimed is not None and claimant_only(claimed.identity):
        cookie = request.cookies.get(COOKIE, "")
        viewer = await bus.handle(RecogniseWebViewer(cookie)) if cookie else None
        if viewer is None or claimed.identity not in await queries.signed_in_as(bus.reads, viewer):
            raise web.HTTPSeeOther(f"/p/{claimed.ref}?t={token}")
    result: PaymentPage = await bus.handle(OpenPayment(ref, token))
    order = result.order
    if result.kind is PageKind.PAY and result.url is not None:
        raise web.HTTPSeeOther(result.url)
    if order is None:
        return page("Unknown link", "This payment link is not valid.", status=404)
    if result.kind is PageKind.PAID:
        return page(f"Order {order.ref}", f"Order {order.ref} is paid already.")
    if result.kind is PageKind.CONFIRMING:
        return page("Confirming your payment…", f"Order {order.ref}: one moment.", refresh=True)
    if result.kind is PageKind.REVIEW:
        return page(
            f"Order {order.ref}",
            f"Order {order.ref} could not be paid here: the shop looks into it and will get "
            "back to you. Nothing was charged.",
            status=409,
        )
    if result.kind is PageKind.ENDED:
        return page(
            "This hold has ended",
            f"Order {order.ref} was not paid in time, and its units went back. Type "
            f"#buy {order.drop_code} in the chat to try again while units are left.",
            status=410,
        )
    response = page(
        "Payment page unavailable",
        f"The payment page for order {order.ref} could not be opened just now. Your hold "
        "still runs: open this link again in a minute.",
        status=503,
    )
    response.headers["Retry-After"] = "60"
    return response


@routes.get("/checkout/done")
async def done(request: web.Request) -> web.Response:
    if request.query.get("card"):  # a card saved with /card (its webhook tells the chat)
        return page("Card saved", "Back in the chat, buy with #buy and one confirm.")
    ref = request.query.get("order", "")
    try:
        # Stripe redirects here often before its webhook arrives: the page asks Stripe.
        order = await request.app[BUS].handle(CheckPayment(ref[:20]))
    except NotFound:
        return page("Unknown order", f"There is no order {ref[:20]}.", status=404)
    except DBAPIError as exc:
        if not _lost_a_race(exc):
            raise
        # The webhook of this very payment was applied at the same moment and PostgreSQL
        # chose this side to give way (a deadlock or a serialization failure): the webhook
        # pays the order, and the page, refreshed, reads it paid.
        log.warning("checkout done page for %s gave way to a concurrent update", ref[:20])
        return page("Confirming your payment…", f"Order {ref[:20]}: one moment.", refresh=True)
    if order.status in (OrderStatus.RESERVED, OrderStatus.CHECKOUT_OPEN):
        # Stripe redirects before its webhook arrives: the page waits for it.
        return page("Confirming your payment…", f"Order {order.ref}: one moment.", refresh=True)
    if order.status is OrderStatus.PAID:
        return page(
            "Thank you!",
            f"Order {order.ref} is paid: {order.quantity} × {order.description}, {order.amount}.",
            order=order,
        )
    return page(f"Order {order.ref}", f"Order {order.ref} is {order.status.value}.", order=order)


@routes.get("/checkout/cancelled")
async def cancelled(request: web.Request) -> web.Response:
    if request.query.get("card"):
        return page("No card saved", "Nothing changed; type /card in the chat to try again.")
    ref = request.query.get("order", "")[:20]
    try:
        order: OrderView | None = await queries.order(request.app[BUS].reads, ref)
    except NotFound:
        order = None
    return page(
        "Checkout cancelled",
        f"Nothing was charged for order {ref}. Your hold lasts until it expires; type /pass "
        "in the chat to give it up now.",
        order=order,
    )


# PostgreSQL's "deadlock detected" and "could not serialize access": the transaction was
# chosen to give way to another one, and trying again later succeeds.
GAVE_WAY = frozenset({"40P01", "40001"})


def _lost_a_race(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in GAVE_WAY

"""Sign-in for web chat viewers (#18 item 2): Telegram's Login Widget, Discord's OAuth2 and
one-time email links, each off until configured (commerce.config.Settings).

Each route proves who the browser's person is, then hands the bus a SignIn of the viewer's
identity (the `livebuy_viewer` cookie, issued by the web chat) to that account: the core
joins them as /link does. Nothing here changes an identity before the proof holds: a forged
or stale Telegram login, a wrong OAuth state or a used link is a 4xx page and no change.

    GET  /auth/telegram/login?room=   the page with Telegram's widget (redirect mode)
    GET  /auth/telegram?id=…&hash=…   where the widget sends the signed login
    GET  /auth/discord?room=          to Discord's authorize page, with a state bound to
                                      this viewer (a cookie of ours)
    GET  /auth/discord/callback       the code for the user, then signed in
    GET  /p/{ref}?t=…                 a Twitch or YouTube buyer's public link: the claimant
                                      on to pay, anyone else "reserved for @anna"
    GET  /auth/twitch?link=           to Twitch's authorize page (state as for Discord)
    GET  /auth/twitch/callback        the code for the user, signed in, back to the link
    GET  /auth/google?link=           to Google's (scope youtube.readonly), then
    GET  /auth/google/callback        the code for the channel, signed in, back to the link
    GET  /auth/email?room=            the form; POST sends the link (15 minutes, once)
    GET  /auth/email/{token}          asks to confirm (mail scanners only GET); POST signs in
    GET  /dev/mail                    local mode without SMTP: the links sent, for this machine
"""

import hmac
import html
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from bots.web.chat import COOKIE, ROOM, set_viewer_cookie
from commerce.adapters.throttle import MemoryThrottle
from commerce.config import Settings
from commerce.domain.commands import (
    AskEmailSignIn,
    IssueWebViewer,
    RecogniseWebViewer,
    RedeemEmailSignIn,
    SignIn,
)
from commerce.domain.errors import CommerceError, Conflict
from commerce.domain.fulfilment import tracking_link
from commerce.domain.orders import OrderStatus
from commerce.domain.pace import Rate
from commerce.domain.pay_links import claimant_only
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView
from commerce.service_layer.sign_in import EMAIL_LINK_TTL
from webhooks.headers import COMMON_CSP
from webhooks.keys import BUS
from webhooks.peers import client_ip
from webhooks.signin.discord_oauth import DiscordOAuth, OAuthFailed, new_state
from webhooks.signin.mail import DevMailbox, MailFailed, SmtpMailer, sign_in_message
from webhooks.signin.stream_oauth import GoogleOAuth, TwitchOAuth
from webhooks.signin.telegram_login import LoginRefused, verify_login

log = logging.getLogger(__name__)
RETURN = "livebuy_return"  # the room to go back to once signed in
STATE = "livebuy_oauth_state"  # "<state>:<viewer>": Discord's answer must bring the state back
MAILBOX = web.AppKey("dev_mailbox", DevMailbox)
URL = re.compile(r"https?://[^\s<>\"]+")
LINKS_PER_ADDRESS = Rate(3, 15 * 60)  # a person who lost a mail asks again; a bomber stops
LINKS_PER_CLIENT = Rate(10, 15 * 60)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
PAY_RETURN = "livebuy_pay_return"  # the /p/ link a Twitch or YouTube sign-in goes back to
CLAIMANT_LINK = re.compile(r"^/p/[A-Za-z0-9]{1,20}\?t=[A-Za-z0-9_=-]{1,40}$")
PROVIDERS = {"twitch": ("Twitch", "/auth/twitch"), "youtube": ("Google", "/auth/google")}


def sign_ins(settings: Settings) -> list[tuple[str, str]]:
    """The configured sign-ins, as (label, path): the web chat's buttons."""
    offered = []
    if settings.telegram_sign_in:
        offered.append(("Telegram", "/auth/telegram/login"))
    if settings.discord_sign_in:
        offered.append(("Discord", "/auth/discord"))
    if settings.email_sign_in:
        offered.append(("email", "/auth/email"))
    return offered


def install(app: web.Application, settings: Settings) -> None:
    routes = web.RouteTableDef()
    secure = settings.secure_cookies
    base = settings.public_base_url.rstrip("/")
    new_viewers = MemoryThrottle(rate) if (rate := settings.rate_per_ip) else None

    async def viewer(request: web.Request) -> tuple[str, str | None]:
        """The browser's web identity, and a new cookie when it had none we issued."""
        bus = request.config_dict[BUS]
        cookie = request.cookies.get(COOKIE, "")
        identity = await bus.handle(RecogniseWebViewer(cookie)) if cookie else None
        if identity is not None:
            return identity, None
        # New identities cost as much here as on the chat page (LIVEBUY_RATE_PER_IP).
        ip = client_ip(request)
        if new_viewers is not None and not _loopback(ip) and not new_viewers.allows(ip):
            raise web.HTTPTooManyRequests(
                text="too many new visitors from your address: wait a little",
                headers={"Retry-After": str(new_viewers.retry_after(ip))},
            )
        cookie, identity = await bus.handle(IssueWebViewer())
        return identity, cookie

    def back_to(request: web.Request) -> str:
        room = request.cookies.get(RETURN, "")
        return f"/chat/{room}" if ROOM.match(room) else "/"

    def remember_room(request: web.Request, response: web.StreamResponse) -> None:
        room = request.query.get("room", "").lower()
        if ROOM.match(room):
            response.set_cookie(
                RETURN, room, max_age=3600, httponly=True, samesite="Lax", secure=secure
            )

    async def signed_in(
        request: web.Request, account: str, go_to: str | None = None
    ) -> web.Response:
        """The proof held: the viewer becomes `account`, then back to their room."""
        identity, cookie = await viewer(request)
        try:
            await request.config_dict[BUS].handle(SignIn(identity, account))
        except CommerceError as exc:
            return page("Sign-in failed", str(exc), status=_status(exc))
        log.info("web viewer %s signed in (%s)", identity, account.partition(":")[0])
        response = web.Response(status=303, headers={"Location": go_to or back_to(request)})
        if cookie is not None:
            set_viewer_cookie(response, cookie, secure)
        return response

    async def start_oauth(
        request: web.Request, authorize_url: str, state: str, path: str
    ) -> web.Response:
        """To the provider's authorize page, with the state bound to this browser's viewer."""
        identity, cookie = await viewer(request)
        response = web.Response(status=302, headers={"Location": authorize_url})
        # The state comes back only to this browser, for this viewer (CSRF).
        response.set_cookie(
            STATE,
            f"{state}:{identity}",
            max_age=600,
            httponly=True,
            samesite="Lax",
            secure=secure,
            path=path,
        )
        if cookie is not None:
            set_viewer_cookie(response, cookie, secure)
        return response

    async def refused_state(request: web.Request, provider: str) -> web.Response | None:
        """A 403 page unless the callback brings back the state this viewer was given."""
        state = request.query.get("state", "")
        expected, _, started_by = request.cookies.get(STATE, "").partition(":")
        if not state or not expected or not hmac.compare_digest(state, expected):
            return page(
                "Sign-in refused",
                f"this {provider} sign-in was not started in this browser: start it again",
                status=403,
            )
        identity = await request.config_dict[BUS].handle(
            RecogniseWebViewer(request.cookies.get(COOKIE, ""))
        )
        if identity is None or identity != started_by:
            return page(
                "Sign-in refused",
                f"this {provider} sign-in was started by another chat session",
                status=403,
            )
        if request.query.get("error"):  # e.g. access_denied: the person said no
            return page("Not signed in", f"{provider} sign-in was cancelled.", status=400)
        code = request.query.get("code", "")
        if not code or len(code) > 512:
            return page("Sign-in failed", f"{provider} sent no authorization code", status=400)
        return None

    # Telegram ---------------------------------------------------------------------------

    if settings.telegram_sign_in and settings.telegram_bot_token is not None:
        bot_token = settings.telegram_bot_token
        widget = settings.telegram_login_widget_url
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(widget))

        @routes.get("/auth/telegram/login")
        async def telegram_page(request: web.Request) -> web.Response:
            script = (
                f'<script async src="{html.escape(widget)}"'
                f' data-telegram-login="{html.escape(settings.telegram_login_bot.strip())}"'
                f' data-size="large" data-auth-url="{html.escape(base)}/auth/telegram"'
                ' data-request-access="write"></script>'
            )
            response = page("Sign in with Telegram", "Sign in with your Telegram account:", script)
            # Telegram's script, and the frame it opens, come from Telegram.
            response.headers["Content-Security-Policy"] = (
                f"{COMMON_CSP}; script-src 'self' {origin};"
                f" frame-src {origin} https://oauth.telegram.org; form-action 'self';"
                " frame-ancestors 'none'"
            )
            remember_room(request, response)
            return response

        @routes.get("/auth/telegram")
        async def telegram_login(request: web.Request) -> web.Response:
            fields = {key: request.query[key] for key in request.query}
            now = request.config_dict[BUS].clock.now()
            try:
                user_id = verify_login(fields, bot_token.get_secret_value(), now)
            except LoginRefused as exc:
                return page("Sign-in refused", str(exc), status=403)
            return await signed_in(request, f"telegram:{user_id}")

    # Discord ----------------------------------------------------------------------------

    if settings.discord_sign_in and settings.discord_client_secret is not None:
        oauth = DiscordOAuth(
            settings.discord_client_id.strip(),
            settings.discord_client_secret.get_secret_value(),
            settings.discord_oauth_base_url,
            settings.discord_api_base_url,
            f"{base}/auth/discord/callback",
        )

        @routes.get("/auth/discord")
        async def discord_start(request: web.Request) -> web.Response:
            state = new_state()
            response = await start_oauth(
                request, oauth.authorize_url(state), state, "/auth/discord"
            )
            remember_room(request, response)
            return response

        @routes.get("/auth/discord/callback")
        async def discord_callback(request: web.Request) -> web.Response:
            if (refused := await refused_state(request, "Discord")) is not None:
                return refused
            try:
                user_id = await oauth.user_id(request.query["code"])
            except OAuthFailed as exc:
                return page("Sign-in failed", str(exc), status=502)
            response = await signed_in(request, f"discord:{user_id}")
            response.del_cookie(STATE, path="/auth/discord")
            return response

    # Twitch and YouTube: the buyer of a public /p/ link ---------------------------------

    twitch = google = None
    if settings.twitch_sign_in and settings.twitch_client_secret is not None:
        twitch = TwitchOAuth(
            settings.twitch_client_id.strip(),
            settings.twitch_client_secret.get_secret_value(),
            settings.twitch_oauth_base_url,
            settings.twitch_api_base_url,
            f"{base}/auth/twitch/callback",
        )
    if settings.youtube_sign_in and settings.youtube_client_secret is not None:
        google = GoogleOAuth(
            settings.youtube_client_id.strip(),
            settings.youtube_client_secret.get_secret_value(),
            settings.youtube_oauth_authorize_url,
            settings.youtube_oauth_token_url,
            settings.youtube_api_base_url,
            f"{base}/auth/google/callback",
        )

    def pay_return(request: web.Request) -> str | None:
        link = request.cookies.get(PAY_RETURN, "")
        return link if CLAIMANT_LINK.match(link) else None

    async def start_for_link(
        request: web.Request, authorize_url: str, state: str, path: str
    ) -> web.Response:
        link = request.query.get("link", "")
        if not CLAIMANT_LINK.match(link):
            return page("Sign-in failed", "open your link from the chat again", status=400)
        response = await start_oauth(request, authorize_url, state, path)
        response.set_cookie(
            PAY_RETURN, link, max_age=600, httponly=True, samesite="Lax", secure=secure
        )
        return response

    async def back_to_link(request: web.Request, account: str, path: str) -> web.Response:
        response = await signed_in(request, account, go_to=pay_return(request) or "/")
        response.del_cookie(STATE, path=path)
        response.del_cookie(PAY_RETURN)
        return response

    def stream_sign_in(
        path: str,
        provider: str,
        authorize_url: Callable[[str], str],
        account_of: Callable[[str], Awaitable[str]],
        prefix: str,
    ) -> None:
        """The sign-in of a platform whose buyers pay through claimant links (Twitch,
        YouTube's Google): `path` starts it, `path`/callback signs the browser in as
        `prefix:<the account OAuth proved>` and goes back to the link."""

        async def start(request: web.Request) -> web.Response:
            state = new_state()
            return await start_for_link(request, authorize_url(state), state, path)

        async def callback(request: web.Request) -> web.Response:
            if (refused := await refused_state(request, provider)) is not None:
                return refused
            try:
                account = await account_of(request.query["code"])
            except OAuthFailed as exc:
                return page("Sign-in failed", str(exc), status=502)
            return await back_to_link(request, f"{prefix}:{account}", path)

        routes.get(path)(start)
        routes.get(f"{path}/callback")(callback)

    if twitch is not None:
        stream_sign_in("/auth/twitch", "Twitch", twitch.authorize_url, twitch.user_id, "twitch")
    if google is not None:
        stream_sign_in(
            "/auth/google", "Google", google.authorize_url, google.channel_id, "youtube"
        )

    async def after_the_sale(bus: MessageBus, order: OrderView) -> web.Response | None:
        """A shipped order's tracking, or a cancelled one's end, for its claimant only (the
        chat heard only that there is news); None while there is something to pay."""
        item = f"{order.quantity} × {order.description}, {order.total}"
        title = f"Order {order.ref}"
        if order.status is OrderStatus.CANCELLED:
            return page(title, f"{item}: this order was cancelled. Nothing was charged.")
        if order.status is not OrderStatus.FULFILLED:
            return None
        shipped = await queries.shipment(bus.reads, order.ref)
        if shipped is None:
            return page(title, f"{item}: this order has shipped.")
        tracking, carrier = shipped
        by = f" ({carrier})" if carrier else ""
        link = tracking_link(carrier, tracking)
        follow = (
            f'<p><a id="tracking" href="{html.escape(link)}">Follow the package</a></p>'
            if link
            else ""
        )
        return page(title, f"{item}: this order has shipped. Tracking: {tracking}{by}", follow)

    @routes.get("/p/{ref}")
    async def claimant_link(request: web.Request) -> web.Response:
        """The pay link said in a Twitch or YouTube chat: only its claimant pays through it."""
        ref, token = request.match_info["ref"][:20], request.query.get("t", "")[:40]
        bus = request.config_dict[BUS]
        order = await queries.paid_through(bus.reads, ref, token)
        if order is None or not claimant_only(order.identity):
            return page("Unknown link", "This link is not valid.", status=404)
        cookie = request.cookies.get(COOKIE, "")
        identity = await bus.handle(RecogniseWebViewer(cookie)) if cookie else None
        accounts = await queries.signed_in_as(bus.reads, identity) if identity else []
        if order.identity in accounts:  # the claimant: on to pay, as /pay/ does
            after = await after_the_sale(bus, order)
            if after is not None:  # what the chat was told of by this link (bots/letters.py)
                return after
            raise web.HTTPSeeOther(f"/pay/{order.ref}?t={token}")
        # The name the buyer chats under (kept with their orders), never one from the link.
        name = (await queries.buyer_name(bus.reads, order.ref)).strip().lstrip("@")[:40]
        reserved = (
            f"This one is reserved for @{name}."
            if name
            else "This one is reserved for the buyer named in the chat."
        )
        item = f"{order.quantity} × {order.description}, {order.total}"
        platform = order.identity.partition(":")[0]
        provider, path = PROVIDERS[platform]
        if accounts:  # signed in as somebody else: not theirs to pay
            return page(
                item,
                f"{reserved} Only the viewer who claimed it can pay for it.",
                status=403,
            )
        offered = twitch if platform == "twitch" else google
        if offered is None:
            return page(item, f"{reserved} Sign-in with {provider} is not set up in this shop.")
        link = f"/p/{order.ref}?t={token}"
        button = (
            f'<p><a id="sign-in" href="{path}?link={quote(link, safe="")}">'
            f"Sign in with {provider} to pay</a></p>"
        )
        return page(item, f"{reserved} Is it you? Sign in to pay for it.", button)

    # Email ------------------------------------------------------------------------------

    if settings.email_sign_in:
        mailer: SmtpMailer | DevMailbox
        if settings.smtp_url is not None:
            mailer = SmtpMailer(settings.smtp_url.get_secret_value().strip())
        else:
            mailer = app[MAILBOX] = DevMailbox()
        sender = settings.livebuy_mail_from
        per_address = MemoryThrottle(LINKS_PER_ADDRESS)
        per_client = MemoryThrottle(LINKS_PER_CLIENT)
        minutes = int(EMAIL_LINK_TTL.total_seconds() // 60)

        @routes.get("/auth/email")
        async def email_form(request: web.Request) -> web.Response:
            form = (
                '<form method="post" action="/auth/email">'
                '<label>Your email <input type="email" name="email" id="email" required'
                ' maxlength="64" autocomplete="email"></label>'
                '<button type="submit">Send me a link</button></form>'
            )
            response = page("Sign in with email", "We send you a link to sign in with.", form)
            remember_room(request, response)
            return response

        @routes.post("/auth/email")
        async def email_send(request: web.Request) -> web.Response:
            bus = request.config_dict[BUS]
            # Only from the chat's own pages: a cross-site form sends no (SameSite) cookie.
            cookie = request.cookies.get(COOKIE, "")
            if not cookie or await bus.handle(RecogniseWebViewer(cookie)) is None:
                return page("Open the chat first", "then ask for a sign-in link.", status=403)
            form = await request.post()
            room = request.cookies.get(RETURN, "")
            typed = str(form.get("email", ""))
            # Nobody mails an address (or from one client address) more than a few links.
            key = typed.strip().lower()[:100]
            for throttle, who in ((per_address, key), (per_client, client_ip(request))):
                if not throttle.allows(who):
                    wait = str(throttle.retry_after(who))
                    return page(
                        "Too many links",
                        "too many sign-in links were asked for: wait a few minutes",
                        status=429,
                        headers={"Retry-After": wait},
                    )
            try:
                token, address = await bus.handle(
                    AskEmailSignIn(typed, room if ROOM.match(room) else "")
                )
            except CommerceError as exc:
                return page("Not sent", str(exc), status=400)
            link = f"{base}/auth/email/{token}"
            try:
                await mailer.send(sign_in_message(sender, address, link, minutes))
            except MailFailed as exc:
                return page("Not sent", str(exc), status=502)
            return page(
                "Check your email",
                f"We sent a sign-in link to {address}. It works once, for {minutes} minutes.",
            )

        @routes.get("/auth/email/{token}")
        async def email_confirm(request: web.Request) -> web.Response:
            token = request.match_info["token"]
            if not TOKEN.match(token):
                return page("Sign-in failed", "this sign-in link is not valid", status=400)
            _, cookie = await viewer(request)  # the POST below needs this browser's cookie
            form = (
                f'<form method="post" action="/auth/email/{token}">'
                '<button type="submit" id="confirm">Sign in</button></form>'
            )
            response = page("Sign in", "Sign in to the live chat in this browser?", form)
            if cookie is not None:
                set_viewer_cookie(response, cookie, secure)
            return response

        @routes.post("/auth/email/{token}")
        async def email_redeem(request: web.Request) -> web.Response:
            bus = request.config_dict[BUS]
            identity = await bus.handle(RecogniseWebViewer(request.cookies.get(COOKIE, "")))
            if identity is None:
                return page("Open the link again", "then press Sign in.", status=403)
            try:
                _, room = await bus.handle(
                    RedeemEmailSignIn(request.match_info["token"], identity)
                )
            except CommerceError as exc:
                return page("Sign-in failed", str(exc), status=_status(exc))
            log.info("web viewer %s signed in (email)", identity)
            return web.Response(
                status=303, headers={"Location": f"/chat/{room}" if ROOM.match(room) else "/"}
            )

        if isinstance(mailer, DevMailbox):

            @routes.get("/dev/mail")
            async def dev_mail(request: web.Request) -> web.Response:
                if not _loopback(request.remote or ""):
                    raise web.HTTPNotFound()  # a local tool: never for the public
                letters = request.app[MAILBOX].letters
                items = "".join(
                    f"<article><h2>{html.escape(letter.subject)}</h2>"
                    f"<p>to {html.escape(letter.to)}</p>"
                    f"<pre>{_links(letter.body)}</pre></article>"
                    for letter in letters
                )
                return page(
                    "Local mailbox",
                    "Emails this server sent in local mode (no SMTP_URL), newest first.",
                    items or "<p>No email yet.</p>",
                )

    app.add_routes(routes)


def _links(body: str) -> str:
    """The text, escaped, with its links clickable."""
    return URL.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', html.escape(body))


def _status(exc: CommerceError) -> int:
    return 409 if isinstance(exc, Conflict) else 400


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def page(
    title: str,
    text: str,
    body: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A small page of its own (a 4xx says what went wrong and what to do)."""
    return web.Response(
        status=status,
        headers=headers,
        content_type="text/html",
        text=(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui,"
            "sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}button,input{font-size:"
            "1rem;padding:.5rem}input{width:100%;box-sizing:border-box;margin:.4rem 0}"
            "pre{white-space:pre-wrap;overflow-wrap:anywhere}</style></head><body>"
            f'<h1>{html.escape(title)}</h1><p id="message">{html.escape(text)}</p>{body}'
            "</body></html>"
        ),
    )

"""Sign-in for web chat viewers (#18 item 2): a web identity proves it is a person's account.

The proof itself is the web adapter's (a Telegram login's hash, a Discord OAuth answer, the
email link's token); what it proves is decided here: the web identity joins the account's
customer exactly as a redeemed /link code joins two identities, so the limit, the card, the
strikes and the bundle are the person's from then on, and a seller's account makes the
browser a seller's.
"""

import hashlib
import secrets
from datetime import timedelta

from commerce.domain import commands as c
from commerce.domain.errors import Conflict, InvalidInput, NotAllowed
from commerce.domain.identity import Identity, email_account
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import Cards, EmailSignIns, Linked

EMAIL_LINK_TTL = timedelta(minutes=15)
# Twitch and YouTube buyers sign in on their /p/ link (commerce.domain.pay_links).
SIGN_IN_PLATFORMS = frozenset({"telegram", "discord", "email", "twitch", "youtube"})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cards(deps: Deps) -> Cards:
    if deps.cards is None:
        raise NotAllowed("sign-in is not set up in this shop")
    return repos(deps).cards


def _links(deps: Deps) -> EmailSignIns:
    if deps.email_sign_ins is None:
        raise NotAllowed("email sign-in is not set up in this shop")
    return repos(deps).email_sign_ins


async def sign_in(cmd: c.SignIn, deps: Deps) -> Linked:
    viewer, account = Identity.parse(cmd.identity), Identity.parse(cmd.account)
    if viewer.platform != "web":
        raise InvalidInput("only a web chat viewer signs in")
    if account.platform not in SIGN_IN_PLATFORMS:
        raise InvalidInput("sign in with Telegram, Discord, Twitch, YouTube or an email link")
    # A browser signed in as one person (a shared computer) does not join a second person's
    # account to the first one's customer: they would share a card and a limit. /link, which
    # needs both accounts in hand, still joins accounts on purpose.
    signed_in = await repos(deps).web_viewers.accounts(str(viewer)) if deps.web_viewers else []
    if signed_in and str(account) not in signed_in:
        raise Conflict(
            f"this browser is signed in as {signed_in[0]} already: to sign in as somebody"
            " else, open the chat in a private window"
        )
    return await _cards(deps).join(str(account), str(viewer), deps.clock.now())


async def ask_email_sign_in(cmd: c.AskEmailSignIn, deps: Deps) -> tuple[str, str]:
    """(the one-time token for the link, the address it goes to)."""
    address = email_account(cmd.email).removeprefix("email:")
    now = deps.clock.now()
    token = secrets.token_urlsafe(32)
    await _links(deps).issue(token_hash(token), address, cmd.room, now + EMAIL_LINK_TTL, now)
    return token, address


async def redeem_email_sign_in(cmd: c.RedeemEmailSignIn, deps: Deps) -> tuple[Linked, str]:
    """The link used and the viewer signed in, in one unit of work: (Linked, room)."""
    if not cmd.token or len(cmd.token) > 100:
        raise InvalidInput("this sign-in link is not valid: ask for a new one")
    used = await _links(deps).redeem(token_hash(cmd.token), deps.clock.now())
    if used is None:
        raise InvalidInput("this sign-in link was used already or has expired: ask for a new one")
    email, room = used
    linked = await sign_in(c.SignIn(cmd.identity, f"email:{email}"), deps)
    return linked, room

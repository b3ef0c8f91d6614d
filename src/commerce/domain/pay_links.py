"""The shop's own pay link for an order: PUBLIC_BASE_URL/pay/<ref>?t=<token>.

A claim's answer carries this link, not a payment provider's: the provider's checkout is made
only when the buyer opens it, so answering a claim never waits on the provider, buyers who
never pay cost no provider call, and a link that is opened late is never a dead end. The token
(an HMAC of the order ref under the shop's key) keeps order refs from being tried one by one.
"""

import base64
import hashlib
import hmac
import re


def token(key: bytes, ref: str) -> str:
    digest = hmac.new(key, ref.upper().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def genuine(key: bytes, ref: str, given: str) -> bool:
    return hmac.compare_digest(token(key, ref).encode(), given.encode())


def url(public_url: str, key: bytes, ref: str) -> str:
    return f"{public_url.rstrip('/')}/pay/{ref}?t={token(key, ref)}"


# Twitch and YouTube have no usable private messages: the pay link is said in the chat for
# everyone to read. There it becomes the claimant's link, /p/<ref>?t=<token>: the same ref and
# token (no second code system), on a page that pays only after the person has signed in
# with the platform account that claimed (webhooks.signin).
CLAIMANT_PLATFORMS = frozenset({"twitch", "youtube"})
_PAY_PATH = re.compile(r"/pay/([A-Za-z0-9]{1,20})\?t=([A-Za-z0-9_=-]{1,40})")


def claimant_only(identity: str) -> bool:
    """Whether an order of this buyer is paid through the claimant's link only."""
    return identity.partition(":")[0] in CLAIMANT_PLATFORMS


def for_claimant(text: str) -> str:
    """`text` with each pay link in it made the claimant's link (said publicly)."""
    return _PAY_PATH.sub(lambda m: f"/p/{m[1]}?t={m[2]}", text)

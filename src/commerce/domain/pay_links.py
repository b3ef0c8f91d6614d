"""The shop's own pay link for an order: PUBLIC_BASE_URL/pay/<ref>?t=<token>.

A claim's answer carries this link, not a payment provider's: the provider's checkout is made
only when the buyer opens it, so answering a claim never waits on the provider, buyers who
never pay cost no provider call, and a link that is opened late is never a dead end. The token
(an HMAC of the order ref under the shop's key) keeps order refs from being tried one by one.
"""

import base64
import hashlib
import hmac


def token(key: bytes, ref: str) -> str:
    digest = hmac.new(key, ref.upper().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def genuine(key: bytes, ref: str, given: str) -> bool:
    return hmac.compare_digest(token(key, ref).encode(), given.encode())


def url(public_url: str, key: bytes, ref: str) -> str:
    return f"{public_url.rstrip('/')}/pay/{ref}?t={token(key, ref)}"

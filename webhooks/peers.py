"""Who is asking: the client's address, behind trusted reverse proxies or not.

Only the peer of the TCP connection is known for sure. X-Forwarded-For is believed only when
that peer is in LIVEBUY_TRUSTED_PROXIES (anybody can send the header); then its entries are
read from the right, skipping trusted proxies, and the first other address is the client's.
Without trusted proxies a proxy on this machine makes every client look like 127.0.0.1: see
docs/deploy.md.
"""

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from webhooks.keys import SETTINGS

FORWARDING = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(value: str) -> Address | None:
    """The address (IPv4-mapped IPv6 as plain IPv4); None if it is none."""
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_ip(request: web.Request) -> str:
    peer = request.remote or ""
    client = _ip(peer)
    proxies = request.config_dict[SETTINGS].trusted_proxies
    if not _trusted(client, proxies):
        return str(client) if client is not None else peer
    hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
    for hop in reversed([h for h in hops if h.strip()]):
        address = _ip(hop)
        if address is None:  # garbage where an address should be: keep the last one known
            break
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)


def from_loopback(request: web.Request) -> bool:
    """The client is on this machine: a loopback peer that forwards nobody else's request
    (unless it is a trusted proxy and the client it names is local too)."""
    proxies = request.config_dict[SETTINGS].trusted_proxies
    if not _trusted(_ip(request.remote or ""), proxies) and any(
        name in request.headers for name in FORWARDING
    ):
        return False
    client = _ip(client_ip(request))
    return client is not None and client.is_loopback

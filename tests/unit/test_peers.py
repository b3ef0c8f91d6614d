"""The client's address: X-Forwarded-For only from trusted proxies, read from the right."""

from unittest.mock import Mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from tests.conftest import test_settings
from webhooks.keys import SETTINGS
from webhooks.peers import client_ip, from_loopback


def request(peer: str, proxies: str = "", **headers: str) -> web.Request:
    app = web.Application()
    app[SETTINGS] = test_settings("sqlite://", livebuy_trusted_proxies=proxies)
    transport = Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    return make_mocked_request("GET", "/", headers=headers, app=app, transport=transport)


@pytest.mark.parametrize(
    ("peer", "proxies", "forwarded", "client"),
    [
        ("203.0.113.9", "", "", "203.0.113.9"),
        ("203.0.113.9", "", "198.51.100.1", "203.0.113.9"),  # nobody trusted: header ignored
        ("127.0.0.1", "", "198.51.100.1", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "10.0.0.0/8", "6.6.6.6, 198.51.100.1, 10.0.0.5", "198.51.100.1"),
        ("10.1.2.3", "10.0.0.0/8", "10.0.0.7, 10.0.0.5", "10.0.0.7"),
        ("10.1.2.3", "10.0.0.0/8", "", "10.1.2.3"),
        ("10.1.2.3", "10.0.0.0/8", "garbage, 10.0.0.5", "10.0.0.5"),
        ("::ffff:127.0.0.1", "127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(peer: str, proxies: str, forwarded: str, client: str) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    assert client_ip(request(peer, proxies, **headers)) == client


def test_loopback_means_this_machine_and_nobody_it_forwards_for() -> None:
    assert from_loopback(request("127.0.0.1"))
    assert from_loopback(request("::1"))
    assert not from_loopback(request("192.0.2.2"))
    assert not from_loopback(request("127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}))
    assert not from_loopback(request("127.0.0.1", **{"X-Real-IP": "203.0.113.9"}))
    trusted = "127.0.0.1"
    assert from_loopback(request("127.0.0.1", trusted, **{"X-Forwarded-For": "127.0.0.1"}))
    assert not from_loopback(request("127.0.0.1", trusted, **{"X-Forwarded-For": "192.0.2.7"}))


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        test_settings("sqlite://", livebuy_trusted_proxies="127.0.0.1, proxy.local")

"""No test reaches the network: a TCP connection to an address that is neither loopback nor
one of this machine's own fails the test that made it (tests/conftest.py installs the guard).

Some tests deliberately connect to a non-loopback address of this machine (to be seen as an
outside client), so the machine's own interface addresses are allowed, collected once at the
start. The guard patches `socket.socket.connect` and `connect_ex`, which every Python client
goes through (asyncio's `sock_connect`, aiohttp, httpx, asyncpg); it cannot see inside a
subprocess, and it leaves datagram sockets alone (a connected UDP socket sends nothing: tests
use one to learn the outgoing interface). The connection is refused with `OffNetwork` (an
OSError, so the product's own "unreachable" handling runs) and recorded; the test fails at
teardown even if the product swallowed the error.
"""

import contextlib
import ipaddress
import json
import socket
import subprocess
from collections.abc import Callable
from typing import Any

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


class OffNetwork(ConnectionRefusedError):
    """A test tried to leave this machine."""


def own_addresses() -> frozenset[str]:
    """This machine's interface addresses (`ip -j addr`, and its host name's)."""
    found: set[str] = set()
    try:
        out = subprocess.run(
            ["ip", "-j", "addr"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
        for interface in json.loads(out or "[]"):
            found.update(a["local"] for a in interface.get("addr_info", []) if "local" in a)
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    with contextlib.suppress(OSError):
        found.update(str(i[4][0]) for i in socket.getaddrinfo(socket.gethostname(), None))
    return frozenset(found)


class NetworkGuard:
    def __init__(self) -> None:
        self.allowed: frozenset[str] = frozenset()
        self.violations: list[str] = []

    def permits(self, host: str) -> bool:
        host = host.split("%", 1)[0]  # an IPv6 zone
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host == "localhost":
                return True
            try:
                resolved = {str(i[4][0]) for i in socket.getaddrinfo(host, None)}
            except OSError:
                return True  # it cannot be connected to either
            return all(self.permits(r) for r in resolved)
        if address.is_loopback or address.is_unspecified:
            return True
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None and (mapped.is_loopback or str(mapped) in self.allowed):
            return True
        return str(address) in self.allowed

    def check(self, sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # a Unix socket
        if sock.type != socket.SOCK_STREAM:
            return
        host = str(address[0])
        if not self.permits(host):
            what = f"connection to {host}:{address[1]} (not this machine)"
            self.violations.append(what)
            raise OffNetwork(what)

    def install(self) -> None:
        self.allowed = own_addresses()
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            guard.check(sock, address)
            _connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard.check(sock, address)
            return _connect_ex(sock, address)

        patch: Callable[..., Any]
        for name, patch in (("connect", connect), ("connect_ex", connect_ex)):
            setattr(socket.socket, name, patch)

    def uninstall(self) -> None:
        socket.socket.connect = _connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]

    def take(self) -> list[str]:
        """The violations since the last call (and forgets them)."""
        seen, self.violations = self.violations, []
        return seen


GUARD = NetworkGuard()

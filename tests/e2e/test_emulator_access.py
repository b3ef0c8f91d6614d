"""The local Stripe emulator is for this machine only: other machines get 403 (the API, the
checkout page, the `_test/` routes) unless LIVEBUY_EMULATOR_PUBLIC=1, and its API and `_test/`
routes take only the key the server generated for it.

A request from another machine is a real one: the app listens on loopback and on an address
of this machine that is not loopback, and a client connecting to that address is seen by the
server with that (non-loopback) address as its peer."""

import asyncio
import base64
import ipaddress
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.commands import ChatMessage
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView
from tests.conftest import test_settings
from tests.e2e.conftest import checkout_page, emulator_auth, free_port
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS


def outside_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # sends nothing: picks the outgoing interface
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback else address


OUTSIDE = outside_address()
needs_outside = pytest.mark.skipif(
    OUTSIDE is None, reason="this machine has no non-loopback address to connect from"
)


@dataclass
class Shop:
    bus: MessageBus
    local: str  # the app through loopback
    outside: str  # the same app through the non-loopback address
    key: str  # the key the server generated for its emulator
    http: ClientSession

    async def checkout(self, who: str) -> OrderView:
        outcome = await self.bus.handle(
            ChatMessage(f"web:demo:{who}", "web:demo", f"web:{who}", "#buy", who)
        )
        assert isinstance(outcome, chat.Claimed) and outcome.result.order is not None
        link = outcome.result.order.checkout_url
        assert link is not None and link.startswith(f"{self.local}/pay/")
        page = await checkout_page(self.http, link)  # the buyer opens it: the session is made
        assert page.startswith(f"{self.local}/stripe-emulator/pay/")
        order = await self.bus.deps.store.order(outcome.result.order.ref)
        assert order.checkout_session is not None
        return replace(order, checkout_url=page)  # here: the Checkout page the link led to

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def until(self, ref: str, status: OrderStatus) -> None:
        for _ in range(200):
            if (await self.bus.deps.store.order(ref)).status is status:
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"order {ref} is not {status}")


ShopFactory = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def open_shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[ShopFactory]:
    """The whole app in local mode (no Stripe key), served as `livebuy run --host 0.0.0.0`
    would be reached: on loopback and on the machine's other address."""
    runners: list[web.AppRunner] = []

    async def start(**settings: Any) -> Shop:
        assert OUTSIDE is not None
        port = free_port()
        local = f"http://127.0.0.1:{port}"
        app = create_app(
            test_settings(database_url, public_base_url=local, **settings),
            engine=engine,
            sweep_every=3600,
        )
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await web.TCPSite(runner, OUTSIDE, port).start()
        bus = app[BUS]
        await add_product(bus)
        await start_drop(bus, quantity=5)
        key = (await emulator_auth(engine))["Authorization"].removeprefix("Bearer ")
        return Shop(bus, local, f"http://{OUTSIDE}:{port}", key, http)

    async with ClientSession() as http:
        yield start
        for runner in runners:
            await runner.cleanup()


def says_how_to_use_real_keys(text: str) -> bool:
    return all(
        words in text
        for words in ("this machine only", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
    ) and ("LIVEBUY_EMULATOR_PUBLIC=1" in text)


@needs_outside
async def test_other_machines_are_refused_and_told_how_to_set_real_keys(
    open_shop: ShopFactory,
) -> None:
    shop = await open_shop()
    http = shop.http
    order = await shop.checkout("anna")
    pay_page = order.checkout_url.replace(shop.local, shop.outside)  # type: ignore[union-attr]
    # The app itself answers there: the refusals below are the emulator's.
    assert (await http.get(f"{shop.outside}/healthz")).status == 200

    page = await http.get(pay_page)
    assert page.status == 403
    assert says_how_to_use_real_keys(await page.text())
    assert "TEST MODE" not in await page.text()
    paid = await http.post(pay_page, data={"card": "4242424242424242"}, allow_redirects=False)
    assert paid.status == 403
    emulator = f"{shop.outside}/stripe-emulator"
    # The API, even with the right key: nobody elsewhere reads sessions and addresses.
    events = await http.get(f"{emulator}/v1/events", headers=shop.auth())
    assert events.status == 403
    error = (await events.json())["error"]
    assert error["type"] == "invalid_request_error" and says_how_to_use_real_keys(error["message"])
    session = f"{emulator}/v1/checkout/sessions/{order.checkout_session}"
    assert (await http.get(session, headers=shop.auth())).status == 403
    for path in (f"/_test/pay/{order.checkout_session}", "/_test/disputes/pi_x"):
        assert (await http.post(f"{emulator}{path}", headers=shop.auth())).status == 403
    assert (await http.get(f"{emulator}/_test/deliveries", headers=shop.auth())).status == 403
    # A proxy on this machine relaying someone else's request is not this machine either.
    relayed = await http.get(order.checkout_url, headers={"X-Forwarded-For": "203.0.113.7"})  # type: ignore[arg-type]
    assert relayed.status == 403

    assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.CHECKOUT_OPEN
    # This machine pays as before.
    here = await http.get(order.checkout_url)  # type: ignore[arg-type]
    assert here.status == 200 and "TEST MODE" in await here.text()
    done = await http.post(order.checkout_url, allow_redirects=False)  # type: ignore[arg-type]
    assert done.status == 303
    await shop.until(order.ref, OrderStatus.PAID)


@needs_outside
async def test_the_api_takes_only_the_key_the_server_made(open_shop: ShopFactory) -> None:
    shop = await open_shop()
    http, events = shop.http, f"{shop.local}/stripe-emulator/v1/events"
    assert re.fullmatch(r"sk_test_[0-9a-f]{48}", shop.key)
    # The app's own gateway uses it: a checkout was made through the API.
    await shop.checkout("ben")

    wrong = await http.get(events, headers=shop.auth("sk_test_x"))
    assert wrong.status == 401
    assert await wrong.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_*",
        }
    }
    guessed = "sk_test_" + "0" * 40 + "beef"
    refused = await http.get(events, headers=shop.auth(guessed))
    message = (await refused.json())["error"]["message"]
    assert refused.status == 401 and guessed not in message
    assert message == "Invalid API Key provided: sk_test_" + "*" * 32 + "beef"
    none = await http.get(events)
    assert none.status == 401
    assert "did not provide an API key" in (await none.json())["error"]["message"]
    # Any sk_test_ key used to do: one that differs in its last character does not.
    near = shop.key[:-1] + ("0" if shop.key[-1] != "0" else "1")
    assert (await http.get(events, headers=shop.auth(near))).status == 401

    assert (await http.get(events, headers=shop.auth())).status == 200
    basic = base64.b64encode(f"{shop.key}:".encode()).decode()  # curl -u KEY:
    assert (await http.get(events, headers={"Authorization": f"Basic {basic}"})).status == 200


@needs_outside
async def test_test_routes_need_the_key(open_shop: ShopFactory) -> None:
    shop = await open_shop()
    http, emulator = shop.http, f"{shop.local}/stripe-emulator"
    order = await shop.checkout("cleo")
    pay = f"{emulator}/_test/pay/{order.checkout_session}"
    assert (await http.post(pay)).status == 401
    assert (await http.post(pay, headers=shop.auth("sk_test_x"))).status == 401
    assert (await http.get(f"{emulator}/_test/deliveries")).status == 401
    assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.CHECKOUT_OPEN
    assert (await http.post(pay, headers=shop.auth())).status == 200
    await shop.until(order.ref, OrderStatus.PAID)

    session = f"{emulator}/v1/checkout/sessions/{order.checkout_session}"
    intent = (await (await http.get(session, headers=shop.auth())).json())["payment_intent"]
    dispute = f"{emulator}/_test/disputes/{intent}"
    refused = await http.post(dispute)  # what anyone could do before
    assert refused.status == 401
    assert (await refused.json())["error"]["type"] == "invalid_request_error"
    assert (await http.post(dispute, headers=shop.auth("sk_test_x"))).status == 401
    await asyncio.sleep(0.2)  # a dispute's webhook would have arrived
    assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.PAID
    assert (await http.post(dispute, headers=shop.auth())).status == 200
    await shop.until(order.ref, OrderStatus.DISPUTED)


@needs_outside
async def test_public_lets_other_machines_in_but_still_takes_only_the_key(
    open_shop: ShopFactory,
) -> None:
    shop = await open_shop(livebuy_emulator_public=True)
    http = shop.http
    order = await shop.checkout("dev")
    pay_page = order.checkout_url.replace(shop.local, shop.outside)  # type: ignore[union-attr]
    page = await http.get(pay_page)
    assert page.status == 200 and "TEST MODE" in await page.text()
    events = f"{shop.outside}/stripe-emulator/v1/events"
    assert (await http.get(events, headers=shop.auth())).status == 200
    assert (await http.get(events, headers=shop.auth("sk_test_x"))).status == 401
    paid = await http.post(pay_page, allow_redirects=False)
    assert paid.status == 303
    await shop.until(order.ref, OrderStatus.PAID)


# `livebuy run` as the Docker image runs it: every interface, local mode -----------------

LIVEBUY = Path(sys.executable).parent / "livebuy"


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own server)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Local mode on a fresh SQLite file, whatever the developer's environment says."""
    mine = ("STRIPE_", "TELEGRAM_", "DISCORD_", "LIVEBUY_", "DATABASE_", "PUBLIC_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(mine)}
    return env | {"DATABASE_URL": f"sqlite:///{tmp_path}/shop.db"} | extra


def serve(tmp_path: Path, port: int, **extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(LIVEBUY), "run", "--host", "0.0.0.0", "--port", str(port)],  # noqa: S104
        cwd=tmp_path,
        env=environment(tmp_path, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return process
        except OSError:
            pass
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return output


def buy_with_the_cli(tmp_path: Path, port: int, who: str) -> tuple[str, str]:
    """`livebuy say ... '#buy TEE'`: the checkout link it prints, and all it printed."""
    said = subprocess.run(
        [str(LIVEBUY), "say", "--chat", "web:demo", "--as", who, "#buy TEE"],
        cwd=tmp_path,
        env=environment(tmp_path, LIVEBUY_PORT=str(port)),  # the server's public URL
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert said.returncode == 0, said.stdout + said.stderr
    link = re.search(r"http://127\.0\.0\.1:\d+/pay/\S+", said.stdout)
    assert link is not None, said.stdout + said.stderr
    return checkout_of(link.group()), said.stdout + said.stderr


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the redirect is the answer wanted


def checkout_of(pay_link: str) -> str:
    """The Checkout page a buyer's pay link leads to (opened from this machine)."""
    try:
        urllib.request.build_opener(_Stay).open(pay_link, timeout=5)
    except urllib.error.HTTPError as moved:
        assert moved.code == 303, moved.read().decode()
        return str(moved.headers["Location"])
    raise AssertionError(f"{pay_link} did not lead to a Checkout page")


@needs_outside
def test_run_on_every_interface_shows_the_pay_page_to_this_machine_only(tmp_path: Path) -> None:
    port = free_port()
    process = serve(tmp_path, port)
    try:
        # The CLI, another process, makes the checkout through the running server's emulator:
        # it reads the key the server made from the database.
        link, printed = buy_with_the_cli(tmp_path, port, "alice")
        assert fetch(link)[0] == 200
        status, text = fetch(link.replace("127.0.0.1", str(OUTSIDE)))
        assert status == 403 and says_how_to_use_real_keys(text)
    finally:
        output = stop(process)
    with sqlite3.connect(tmp_path / "shop.db") as db:
        query = "SELECT value FROM app_setting WHERE key = 'stripe_emulator_key'"
        (key,) = db.execute(query).fetchone()
    assert key.startswith("sk_test_") and key not in output + printed
    assert "Traceback" not in output
    assert "the Stripe test emulator (its checkout pages too) answers this machine only" in output
    assert "ANYONE" not in output

    public = serve(tmp_path, port, LIVEBUY_EMULATOR_PUBLIC="1")
    try:
        link, printed = buy_with_the_cli(tmp_path, port, "bob")
        status, text = fetch(link.replace("127.0.0.1", str(OUTSIDE)))
        assert status == 200 and "TEST MODE" in text
    finally:
        output = stop(public)
    assert "WARNING: LIVEBUY_EMULATOR_PUBLIC=1: the Stripe test emulator answers ANYONE" in output
    with sqlite3.connect(tmp_path / "shop.db") as db:
        assert db.execute(query).fetchone() == (key,)  # kept: the CLI still had it right
    assert key not in output + printed

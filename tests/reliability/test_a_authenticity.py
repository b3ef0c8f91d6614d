"""Catalogue A, webhook authenticity and transport (cases 1-13): signed bodies posted to the
real app's /webhooks/stripe (aiohttp's test client, the fake payment gateway behind it), on
SQLite and PostgreSQL."""

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.errors import InvalidInput
from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import OrderPaid, OrderView
from tests.conftest import test_settings
from tests.e2e import conftest as e2e
from tests.e2e import test_stripe_webhook as hooks
from tests.e2e.stripe_signing import SECRET, event_body, session, sign
from tests.e2e.test_stripe_webhook import (
    bus_of,
    completed,
    post,
    status,
)
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.payments import payment_setup

pytestmark = pytest.mark.reliability

# The webhook tests' own fixtures: the app with the fake gateway, an order, its notifier.
client, order, flaky = hooks.client, hooks.order, hooks.flaky
cli = e2e.cli  # the `livebuy` command, in-process

S = OrderStatus
PII = ("Anna Buyer", "Street 1", "10115", "Berlin")  # what the test session's body carries


async def events_stored(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT COUNT(*) FROM payment_event"))).scalar_one())


async def refused_untouched(client: TestClient, engine: AsyncEngine, order: OrderView) -> None:  # type: ignore[type-arg]
    """Nothing happened: no event row (not even a malformed one), the order as it was."""
    assert await events_stored(engine) == 0
    assert await status(client, order) is S.CHECKOUT_OPEN
    assert [e.to_status for e in await bus_of(client).deps.store.history(order.ref)] == [
        "reserved",
        "checkout_open",
    ]


Serve = Callable[..., AbstractAsyncContextManager[TestClient]]  # type: ignore[type-arg]


@pytest.fixture
def serve(database_url: str, engine: AsyncEngine, clock: FakeClock) -> Serve:
    """The app with a given webhook secret setting (and other settings), an order open."""

    @asynccontextmanager
    async def run(secret: str, **settings: object) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
        app = create_app(
            test_settings(database_url, **settings),
            engine=engine,
            clock=clock,
            notifier=FakeNotifier(),
            payments=FakePaymentGateway(),
            webhook_secret=secret,
            sweep_every=3600,
        )
        async with TestClient(TestServer(app)) as client:
            yield client

    return run


async def open_order(client: TestClient) -> OrderView:  # type: ignore[type-arg]
    bus = bus_of(client)
    await add_product(bus)
    await start_drop(bus, quantity=2)
    result = await buy(bus, "web:anna")
    assert result.order is not None
    return result.order


def digest(body: bytes, secret: str, at: int) -> str:
    return hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()


# 1 -----------------------------------------------------------------------------------------


async def test_c001_a_signed_completion_is_stored_once_and_pays_the_order(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    flaky: FakeNotifier,
) -> None:
    body = completed(order)
    assert await post(client, body, sign(body)) == (200, {"received": True})
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, processed_at FROM payment_event"))).all()
    assert [r.id for r in rows] == [f"evt_done_{order.ref}_1"] and rows[0].processed_at
    assert await status(client, order) is S.PAID
    assert [n.order.ref for n in flaky.of(OrderPaid)] == [order.ref]  # type: ignore[attr-defined]


# 2-7: refused before anything is written ---------------------------------------------------


async def test_c002_a_body_reserialised_after_signing_is_refused_and_nothing_stored(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
) -> None:
    body = completed(order)
    header = sign(body)
    reserialised = json.dumps(json.loads(body), indent=2, sort_keys=True).encode()
    assert json.loads(reserialised) == json.loads(body)  # the same event, other bytes
    code, reply = await post(client, reserialised, header)
    assert code == 400 and reply == {"error": "invalid signature"}
    await refused_untouched(client, engine, order)


async def test_c003_another_secret_is_refused_and_logged_without_the_bodys_pii(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = completed(order)
    with caplog.at_level(logging.INFO):
        code, _ = await post(client, body, sign(body, "whsec_someone_else"))
    assert code == 400
    await refused_untouched(client, engine, order)
    [refusal] = [r for r in caplog.records if "stripe webhook refused" in r.getMessage()]
    assert refusal.levelno == logging.WARNING
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(pii in logged for pii in PII)


async def test_c004_a_missing_signature_header_is_refused_before_any_write(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
) -> None:
    body = completed(order)
    code, reply = await post(client, body, None)
    assert code == 400 and "error" in reply
    await refused_untouched(client, engine, order)


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc", "t=abc,v1=zzz", "v0=0123abcd", "t=1700000000", "v1=", ",,,", "t=,v1="],
)
async def test_c005_a_malformed_signature_header_is_refused(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    header: str,
) -> None:
    code, reply = await post(client, completed(order), header)
    assert code == 400 and "error" in reply
    await refused_untouched(client, engine, order)


@pytest.mark.parametrize("age", [301, 3600, 24 * 3600])
async def test_c006_a_replayed_request_older_than_300_seconds_is_refused(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    age: int,
) -> None:
    body = completed(order)
    code, _ = await post(client, body, sign(body, at=int(time.time()) - age))  # valid HMAC
    assert code == 400
    await refused_untouched(client, engine, order)


@pytest.mark.parametrize(("ahead", "accepted"), [(3600, False), (330, False), (60, True)])
async def test_c007_a_timestamp_far_ahead_is_refused_and_60_seconds_ahead_accepted(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    ahead: int,
    accepted: bool,
) -> None:
    body = completed(order)
    code, _ = await post(client, body, sign(body, at=int(time.time()) + ahead))
    if accepted:
        assert code == 200 and await status(client, order) is S.PAID
    else:
        assert code == 400
        await refused_untouched(client, engine, order)


# 8: a secret roll --------------------------------------------------------------------------

OLD, NEW = "whsec_old_secret", "whsec_new_secret"


@pytest.mark.parametrize("configured", [OLD, NEW, f"{NEW},{OLD}", f" {OLD} , {NEW} "])
async def test_c008_two_v1_signatures_during_a_secret_roll_are_accepted_by_either_secret(
    serve: Serve, configured: str
) -> None:
    async with serve(configured) as client:
        order = await open_order(client)
        at = int(time.time())
        body = completed(order)
        both = f"t={at},v1={digest(body, OLD, at)},v1={digest(body, NEW, at)}"
        # Neither secret of the roll: refused whatever else is configured.
        stranger = f"t={at},v1={digest(body, 'whsec_third', at)}"
        assert (await post(client, body, stranger))[0] == 400
        assert await post(client, body, both) == (200, {"received": True})
        assert await status(client, order) is S.PAID
        # A header signed by only one of the configured secrets is enough too.
        for secret in {OLD, NEW} & {s.strip() for s in configured.split(",")}:
            again = completed(order, 2 if secret == OLD else 3)
            assert (await post(client, again, sign(again, secret)))[0] == 200


def test_c008_the_setting_takes_several_comma_separated_secrets() -> None:
    settings = test_settings(
        "sqlite://",
        stripe_secret_key="sk_test_x",
        stripe_webhook_secret=f" {NEW}, {OLD} ,",
    )
    assert settings.webhook_secrets == f"{NEW},{OLD}"
    assert payment_setup(settings).webhook_secret == f"{NEW},{OLD}"


# 9: no secret, no webhooks -----------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", " , "])
def test_c009_stripe_keys_without_a_webhook_secret_refuse_to_start(
    secret: str | None,
) -> None:
    settings = test_settings(
        "sqlite://", stripe_secret_key="sk_test_x", stripe_webhook_secret=secret
    )
    with pytest.raises(InvalidInput, match="STRIPE_WEBHOOK_SECRET must be set"):
        payment_setup(settings)
    with pytest.raises(InvalidInput, match="STRIPE_WEBHOOK_SECRET must be set"):
        create_app(settings)


def test_c009_livebuy_run_refuses_to_start_with_one_line(cli: Callable[..., str]) -> None:
    output = cli("run", ok=False, STRIPE_SECRET_KEY="sk_test_x", STRIPE_WEBHOOK_SECRET="")
    assert output.strip() == ("error: STRIPE_WEBHOOK_SECRET must be set when STRIPE_SECRET_KEY is")


def test_c009_local_mode_without_keys_keeps_its_generated_emulator_secret() -> None:
    setup = payment_setup(test_settings("sqlite://"))
    assert setup.emulated and setup.webhook_secret.startswith("whsec_")
    assert len(setup.webhook_secret) > 30


async def test_c009_an_app_without_a_secret_accepts_no_event_even_one_signed_with_nothing(
    serve: Serve, engine: AsyncEngine
) -> None:
    async with serve("") as client:
        order = await open_order(client)
        body = completed(order)
        assert (await post(client, body, sign(body, "")))[0] == 400  # HMAC with an empty key
        await refused_untouched(client, engine, order)


# 10-12: signed, yet not an event this endpoint reads ----------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"plain text", b"\xff\xfe\xfd not utf-8", b'{"id": "evt_\xc3\x28"}'],
    ids=["broken JSON", "text", "invalid UTF-8", "invalid UTF-8 in JSON"],
)
async def test_c010_a_signed_body_that_is_not_json_or_not_utf8_answers_400_and_is_logged(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        code, reply = await post(client, body, sign(body))
    assert code == 400 and "error" in reply
    assert await status(client, order) is S.CHECKOUT_OPEN
    assert any(r.name == "webhooks.stripe" for r in caplog.records)


async def test_c011_a_body_over_the_limit_answers_413_and_a_60_kb_event_is_accepted(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
) -> None:
    huge = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    headers = {"Stripe-Signature": sign(huge)}
    response = await client.post("/webhooks/stripe", data=io.BytesIO(huge), headers=headers)
    assert response.status == 413
    assert await status(client, order) is S.CHECKOUT_OPEN
    # Stripe's events are tens of KB at most (long line items, custom fields): well under.
    big = session(order.ref, f"cs_{order.ref}") | {"custom_text": {"note": "x" * 60_000}}
    body = event_body("evt_big", "checkout.session.completed", big)
    assert len(body) > 60_000
    assert await post(client, body, sign(body)) == (200, {"received": True})
    assert await status(client, order) is S.PAID


async def test_c012_a_thin_v2_event_answers_400_with_a_clear_log_line(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    caplog: pytest.LogCaptureFixture,
) -> None:
    thin = {
        "id": "evt_test_65R9Ijk9Ud6kwTJZ3UuCrHNyzhY",
        "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered",
        "created": "2024-09-17T06:20:52.246Z",
        "livemode": False,
        "related_object": {"id": "mtr_123", "type": "billing.meter", "url": "/v1/billing/meters"},
    }
    body = json.dumps(thin).encode()
    with caplog.at_level(logging.WARNING):
        code, reply = await post(client, body, sign(body))
    assert code == 400 and "thin event" in reply["error"]
    [line] = [r.getMessage() for r in caplog.records if "thin event" in r.getMessage()]
    assert "v2.core.event" in line and "snapshot" in line
    assert await status(client, order) is S.CHECKOUT_OPEN
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT type, processed_at FROM payment_event"))).all()
    assert [(k.type, k.processed_at is not None) for k in kept] == [("malformed", True)]


# 13: an endpoint registered in the wrong mode ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "livemode"),
    [(None, True), ("sk_test_x", True), ("sk_live_x", False), ("rk_live_x", False)],
    ids=["emulator gets live", "test key gets live", "live key gets test", "restricted live"],
)
async def test_c013_an_event_of_the_other_mode_is_acknowledged_ignored_and_logged(
    serve: Serve,
    engine: AsyncEngine,
    key: str | None,
    livemode: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve(SECRET, stripe_secret_key=key) as client:
        order = await open_order(client)
        event = json.loads(completed(order)) | {"livemode": livemode}
        body = json.dumps(event).encode()
        with caplog.at_level(logging.WARNING):
            code, reply = await post(client, body, sign(body))
        assert code == 200 and "misconfiguration" in reply["ignored"]
        assert await status(client, order) is S.CHECKOUT_OPEN
        [line] = [r for r in caplog.records if "misconfiguration" in r.getMessage()]
        assert line.levelno == logging.ERROR
        async with engine.connect() as conn:
            query = text("SELECT outcome, processed_at FROM payment_event")
            [(outcome, processed_at)] = (await conn.execute(query)).all()
        assert outcome.startswith("ignored: misconfiguration") and processed_at is not None
        # The shop's own mode is applied as ever.
        right = json.dumps(event | {"id": "evt_right", "livemode": not livemode}).encode()
        assert (await post(client, right, sign(right)))[0] == 200
        assert await status(client, order) is S.PAID

"""Which Stripe the service talks to: the real one (keys set) or the built-in emulator."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.app_settings import emulator_key
from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.config import Settings
from commerce.domain.errors import InvalidInput

EMULATOR_PREFIX = "/stripe-emulator"


@dataclass(frozen=True)
class PaymentSetup:
    webhook_secret: str
    emulated: bool
    api_base: str
    public_base_url: str
    api_key: str | None = None  # None in local mode: the emulator's key, in the database
    currency: str = "eur"  # the shop's (LIVEBUY_CURRENCY)

    async def key(self, engine: AsyncEngine) -> str:
        """STRIPE_SECRET_KEY, or the key the local emulator accepts (made on the first run and
        kept in the database, so every process of this shop and the CLI agree on it)."""
        return self.api_key or await emulator_key(engine, datetime.now(UTC))

    async def gateway(self, engine: AsyncEngine) -> StripePaymentGateway:
        """A gateway with the key (close it when done)."""
        return StripePaymentGateway(
            await self.key(engine), self.api_base, self.public_base_url, currency=self.currency
        )


def payment_setup(settings: Settings) -> PaymentSetup:
    """Real Stripe when STRIPE_SECRET_KEY is set, else the emulator mounted on this server."""
    base = settings.public_base_url.rstrip("/")
    if settings.stripe_secret_key is None:
        # The emulator signs and this process verifies: a fresh secret per process is enough.
        secret = "whsec_" + secrets.token_hex(24)
        return PaymentSetup(
            secret, True, base + EMULATOR_PREFIX, base, currency=settings.livebuy_currency
        )
    # Never fail open: with real keys and no secret no webhook could be verified.
    secret = settings.webhook_secrets
    if not secret:
        raise InvalidInput("STRIPE_WEBHOOK_SECRET must be set when STRIPE_SECRET_KEY is")
    key = settings.stripe_secret_key.get_secret_value()
    return PaymentSetup(
        secret, False, settings.stripe_api_base, base, key, settings.livebuy_currency
    )

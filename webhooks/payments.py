"""Which Stripe the service talks to: the real one (keys set) or the built-in emulator."""

import secrets
from dataclasses import dataclass

from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.config import Settings
from commerce.domain.errors import InvalidInput

# The emulator accepts any sk_test_ key; this one names itself in logs and dashboards.
EMULATOR_KEY = "sk_test_livebuy_local_emulator"
EMULATOR_PREFIX = "/stripe-emulator"


@dataclass(frozen=True)
class PaymentSetup:
    gateway: StripePaymentGateway
    webhook_secret: str
    emulated: bool


def payment_setup(settings: Settings) -> PaymentSetup:
    """Real Stripe when STRIPE_SECRET_KEY is set, else the emulator mounted on this server."""
    base = settings.public_base_url.rstrip("/")
    if settings.stripe_secret_key is None:
        # The emulator signs and this process verifies: a fresh secret per process is enough.
        gateway = StripePaymentGateway(EMULATOR_KEY, base + EMULATOR_PREFIX, base)
        return PaymentSetup(gateway, "whsec_" + secrets.token_hex(24), emulated=True)
    if settings.stripe_webhook_secret is None:
        raise InvalidInput("STRIPE_WEBHOOK_SECRET must be set when STRIPE_SECRET_KEY is")
    gateway = StripePaymentGateway(
        settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base, base
    )
    return PaymentSetup(gateway, settings.stripe_webhook_secret.get_secret_value(), False)

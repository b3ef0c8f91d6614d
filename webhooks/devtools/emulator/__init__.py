"""A Stripe test emulator: the subset of Stripe's API livebuy uses, plus a hosted checkout
page, served by livebuy itself in local mode (no STRIPE_SECRET_KEY). The production code
path runs unchanged against it: the stripe library, form-encoded requests, idempotency keys,
and webhooks signed exactly like Stripe's. Never mounted when real keys are set."""

from webhooks.devtools.emulator.app import create_emulator

__all__ = ["create_emulator"]

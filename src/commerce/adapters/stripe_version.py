"""The Stripe API version livebuy speaks, in one place.

It is the version the `stripe` library was generated for: pyproject.toml pins the library
exactly, so upgrading it is the one way to move to a newer API version (its typed parameters
and objects then match what is sent and read). Every request names it (`Stripe-Version`), and
the built-in emulator answers and labels its events with it.
"""

from typing import Final

import stripe

API_VERSION: Final[str] = stripe.api_version

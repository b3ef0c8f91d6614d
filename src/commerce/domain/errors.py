"""Errors the core raises for input it refuses; adapters show their message to the user."""


class CommerceError(Exception):
    """Base class: the message is safe to show to a user or operator."""


class InvalidInput(CommerceError):
    """A value (price, quantity, identity, duration) is malformed."""


class NotFound(CommerceError):
    """A product, drop or order does not exist."""


class Conflict(CommerceError):
    """The request contradicts the current state (duplicate SKU, drop already live, ...)."""


class NotAllowed(CommerceError):
    """The caller may not do this (a buyer using a seller command, someone else's order)."""


class SignInNeeded(CommerceError):
    """The web chat viewer must sign in first (LIVEBUY_WEB_CLAIMS=signed-in)."""

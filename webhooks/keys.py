"""Typed keys of the aiohttp application's state."""

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.leases import SqlLeases
from commerce.config import Settings
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Outbox

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
BUS = web.AppKey("bus", MessageBus)
STRIPE_WEBHOOK_SECRET = web.AppKey("stripe_webhook_secret", str)
OUTBOX = web.AppKey("outbox", Outbox)
ADMIN_TOKEN = web.AppKey("admin_token", str)
LEASES = web.AppKey("leases", SqlLeases)

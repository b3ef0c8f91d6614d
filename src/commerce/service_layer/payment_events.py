"""Payment webhooks as the core keeps them: stored before they are acknowledged, applied,
and marked with what became of them (an unknown order is waited for, then kept as a dead
letter that reconciliation retries). The HTTP endpoint (webhooks/stripe.py) verifies and
parses; everything it writes goes through these commands."""

from dataclasses import dataclass
from enum import StrEnum

from commerce.domain import commands as c
from commerce.service_layer.deps import Deps
from commerce.service_layer.payments import OrderNotKnownYet, apply_payment_event
from commerce.service_layer.ports import Ledger


class Processing(StrEnum):
    APPLIED = "applied"  # done: `outcome` says what happened to the order
    WAITING = "waiting"  # its order is unknown yet: left pending, retried
    DEAD_LETTER = "dead_letter"  # unknown for too long: acknowledged, kept for reconciliation
    FAILED = "failed"  # left pending, retried


@dataclass(frozen=True, slots=True)
class EventProcessed:
    status: Processing
    outcome: str = ""
    error: BaseException | None = None  # why it is waiting, dead or failed (for the log)

    @property
    def settled(self) -> bool:
        """Nothing left for the provider's retries to do (a 2xx)."""
        return self.status in (Processing.APPLIED, Processing.DEAD_LETTER)


def ledger_of(deps: Deps) -> Ledger:
    if deps.ledger is None:  # pragma: no cover (bootstrap always wires it)
        raise RuntimeError("this core was built without a payment ledger")
    return deps.ledger


async def store_event(cmd: c.StorePaymentEvent, deps: Deps) -> bool:
    now = deps.clock.now()
    return await ledger_of(deps).store_event(cmd.event_id, cmd.type, cmd.payload, now)


async def keep_malformed(cmd: c.KeepMalformedEvent, deps: Deps) -> str:
    return await ledger_of(deps).store_malformed(cmd.payload, cmd.reason, deps.clock.now())


async def mark_event(cmd: c.MarkPaymentEvent, deps: Deps) -> None:
    await ledger_of(deps).mark_event(cmd.event_id, cmd.outcome, deps.clock.now(), cmd.done)


async def process_event(cmd: c.ProcessPaymentEvent, deps: Deps) -> EventProcessed:
    """Applies a stored event; a failure leaves it pending (the provider retries, and so
    does the reprocessing duty)."""
    ledger, event = ledger_of(deps), cmd.event
    try:
        outcome = await apply_payment_event(c.ApplyPaymentEvent(event), deps)
    except OrderNotKnownYet as exc:
        # Its order may still be committing: retried for a while, then a dead letter.
        now = deps.clock.now()
        if await ledger.wait_for_order(event.id, f"waiting: {exc}", now - cmd.wait_for_order):
            return EventProcessed(Processing.WAITING, error=exc)
        await ledger.dead_letter(event.id, str(exc), now)
        return EventProcessed(Processing.DEAD_LETTER, error=exc)
    except Exception as exc:
        error = f"error: {type(exc).__name__}: {exc}"
        await ledger.mark_event(event.id, error, deps.clock.now(), False)
        return EventProcessed(Processing.FAILED, error=exc)
    await ledger.mark_event(event.id, outcome, deps.clock.now(), True)
    return EventProcessed(Processing.APPLIED, outcome)


async def claim_event(cmd: c.ClaimPaymentEvent, deps: Deps) -> bool:
    return await ledger_of(deps).claim_event(cmd.event_id, deps.clock.now())

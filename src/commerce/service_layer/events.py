"""Events: what happened in a use case that other use cases go on from. A handler emits
them; inside a unit of work they are handled after its commit (their handlers may call
Stripe), outside one at once. The bus maps each event to its handlers (messagebus.EVENTS),
so the modules that react need not be imported by the ones that emit."""

from dataclasses import dataclass

from commerce.service_layer.deps import Deps
from commerce.service_layer.results import Release
from commerce.service_layer.unit_of_work import later


@dataclass(frozen=True, slots=True)
class HoldReleased:
    """A hold ended (cancelled, passed, expired): its checkout is closed and the buyers
    promoted from the waitlist are asked to pay."""

    release: Release
    close_checkout: bool = True


Event = HoldReleased


async def emit(event: Event, deps: Deps) -> None:
    dispatch = deps.dispatch
    if dispatch is None:
        raise RuntimeError("events are dispatched by the message bus (deps.dispatch unset)")

    async def handle() -> None:
        await dispatch(event)

    await later(handle)

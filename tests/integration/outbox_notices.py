"""A notifier that writes the outbox as the chat adapters do (for the unit of work tests),
and the script a crash test runs in a process of its own."""

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from commerce.adapters.db import active, create_engine
from commerce.adapters.outbox import SqlOutbox
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.results import Notice
from commerce.service_layer.unit_of_work import after_commit
from tests.fakes import FakeClock


@dataclass
class OutboxNotifier:
    """Each notice becomes one outbox message to telegram chat 1, named after the notice."""

    outbox: SqlOutbox
    clock: FakeClock
    on_wake: Callable[[], None] = lambda: None
    wakes: list[bool] = field(default_factory=list)  # per wake: was a transaction still open
    fail: bool = False

    async def notify(self, notice: Notice) -> None:
        if self.fail:
            raise RuntimeError("the notifier failed")
        await self.outbox.put([Outgoing("telegram", "1", type(notice).__name__)], self.clock.now())
        after_commit(self._wake)

    def _wake(self) -> None:
        self.wakes.append(active() is not None)
        self.on_wake()


async def ready_drop(bus_handle: Callable[[c.Command], object]) -> None:
    """A product TEE and its live drop, told to telegram chat 1."""
    spec = ProductSpec("TEE", "Tee", Money(2500, "eur"), "", ())
    await bus_handle(c.AddProduct(spec, 5))  # type: ignore[misc]
    terms = DropTerms(
        "TEE", 5, Money(2500, "eur"), None, None, DropPolicy.HOLD, timedelta(minutes=10)
    )
    await bus_handle(c.StartDrop(terms, ("telegram:1",)))  # type: ignore[misc]


async def _crash_after_commit(url: str) -> None:
    """Ends the drop and is killed (SIGKILL) once the change has committed, before any
    courier could deliver the notice."""
    engine = create_engine(url)
    clock = FakeClock()
    notifier = OutboxNotifier(SqlOutbox(engine), clock)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    bus = bootstrap(settings, engine, clock=clock, notifier=notifier)
    await ready_drop(bus.handle)
    notifier.on_wake = lambda: os.kill(os.getpid(), signal.SIGKILL)
    await bus.handle(c.EndDrop("TEE"))
    print("not killed", file=sys.stderr)  # never reached


if __name__ == "__main__":
    asyncio.run(_crash_after_commit(sys.argv[1]))

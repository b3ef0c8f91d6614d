"""Group commit: the commands of one kind that arrive together share one unit of work.

Like the claim writer, one task per kind takes whatever is waiting (up to `max_batch`) and
runs the handlers one after the other in one unit of work, each in a part of its own (a
savepoint: a command that fails is undone alone and its caller gets the error), commits once,
and answers every caller after that commit. What a handler split off (`later`: Stripe calls)
runs in its caller's task after the answer, not in the batch's. Concurrent Stripe webhooks
thus cost one BEGIN and one COMMIT together instead of one each; on SQLite they would wait
for the one pooled connection in turn anyway.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from commerce.service_layer.unit_of_work import UnitOfWork, UnitsOfWork, Work

log = logging.getLogger(__name__)

Handle = Callable[[Any], Awaitable[Any]]
# A batch path: given the commands still to run (inside the unit), the results of those at
# their head it could handle at once (none, some or all), in order.
HandleMany = Callable[[list[Any]], Awaitable[list[Any]]]
Answer = tuple[Any, list[Work]]
T = TypeVar("T")


def answer(future: asyncio.Future[T], outcome: T | Exception) -> None:
    """Answers a caller of a batching task (this one, the claim writer). A caller that gave
    up (its request was cancelled) has no future left to answer: the task goes on with the
    others instead of dying on it."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def stop(
    task: "asyncio.Task[Any] | None",
    waiting: Iterable["asyncio.Future[Any]"] = (),
    why: str = "stopped (shutdown)",
) -> None:
    """Stops a batching task (this one, bid turns, the claim writer) at shutdown: cancels it,
    waits for its end, then answers every caller still waiting with an error, so nobody waits
    forever. `waiting` is read once the task has ended (a generator over its queue, as
    `drained`): the batch the task was deciding is answered by the task itself."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for future in waiting:
        answer(future, RuntimeError(why))


def drained(queue: "asyncio.Queue[T]") -> Iterator[T]:
    """What is left in the queue, taken out as it is read."""
    while not queue.empty():
        yield queue.get_nowait()


async def in_part(unit: UnitOfWork, handle: Handle, command: Any) -> "Answer | Exception":
    """The command handled in a part of the unit of its own (a savepoint): if it fails, what
    it wrote is undone alone and the error is its caller's answer; the batch goes on."""
    try:
        async with unit.part() as part:
            result = await handle(command)
    except Exception as exc:
        return exc
    return result, part.follow_ups


class GroupCommit:
    def __init__(
        self,
        units: UnitsOfWork,
        handle: Handle,
        max_batch: int = 100,
        handle_many: HandleMany | None = None,
    ) -> None:
        self.units, self.handle, self.max_batch = units, handle, max_batch
        self.handle_many = handle_many
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future[Answer]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # for tests: how many units served the commands

    async def submit(self, command: Any) -> Answer:
        """The handler's result, once its unit has committed, and the work it split off."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))
        return await future

    async def close(self) -> None:
        await stop(self._task, (future for _, future in drained(self._queue)), STOPPED)
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                answers = await self._apply([command for command, _ in batch])
            except BaseException as exc:  # the unit failed: every caller hears it
                for _, future in batch:
                    answer(future, exc if isinstance(exc, Exception) else _stopped())
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), outcome in zip(batch, answers, strict=True):
                answer(future, outcome)

    async def _apply(self, commands: list[Any]) -> list[Answer | Exception]:
        answers: list[Answer | Exception] = []
        async with self.units() as unit:
            if len(commands) == 1 and self.handle_many is None:
                # alone: its failure is the unit's, no savepoint needed
                result = await self.handle(commands[0])
                answers.append((result, unit.split_off()))
            else:
                batch_path = self.handle_many
                while len(answers) < len(commands):
                    # The batch path takes what it can at the head; the next command runs
                    # the usual way (in a part of its own), then the batch path again: the
                    # commands keep their order of arrival.
                    if batch_path is not None:
                        rest = commands[len(answers) :]
                        done = await self._many(unit, batch_path, rest, len(commands) == 1)
                        if done is None:  # it failed (a deadlock): one by one from here
                            batch_path, done = None, []
                        answers.extend((result, []) for result in done)
                        if len(answers) == len(commands):
                            break
                    answers.append(await in_part(unit, self.handle, commands[len(answers)]))
            await unit.commit()
        self.batches += 1
        return answers

    async def _many(
        self, unit: UnitOfWork, many: HandleMany, commands: list[Any], alone: bool
    ) -> list[Any] | None:
        """The batch path's results, or None if it failed. In a group it runs in a part: a
        database error there (a deadlock with another worker) undoes only what it wrote, and
        its commands go on the usual way instead of failing the whole group. A command alone
        needs no savepoint: its failure is the unit's, as on the usual path."""
        if alone:
            return await many(commands)
        try:
            async with unit.part():
                return await many(commands)
        except Exception:
            log.warning("the batch path failed; its commands go one by one", exc_info=True)
            return None


STOPPED = "the group commit stopped (shutdown)"


def _stopped() -> Exception:
    return RuntimeError(STOPPED)

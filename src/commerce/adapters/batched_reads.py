"""Reads asked for together, answered by one query: what every chat message asks (is its
sender a seller?) costs one turn on the database for all the messages arriving at once,
instead of one each (on SQLite, each a turn on the one pooled connection).

The first caller starts a task that reads every key waiting, answers their callers, and
reads again while more wait; it ends when nobody waits, so no task outlives the requests.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from commerce.service_layer.group_commit import answer

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedReads(Generic[K, V]):
    def __init__(
        self, read: Callable[[list[K]], Awaitable[dict[K, V]]], missing: V, max_batch: int = 500
    ) -> None:
        self._read, self._missing, self._max_batch = read, missing, max_batch
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._reader: asyncio.Task[None] | None = None
        self.reads = 0  # for tests: how many queries served the callers

    async def get(self, key: K) -> V:
        """The value of `key` (`missing` when the read found none)."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, future))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._drain(), name="batched-reads")
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    found = await self._read(sorted({key for key, _ in batch}, key=str))
                except Exception as exc:  # every caller hears about it
                    for _, future in batch:
                        answer(future, exc)
                    continue
                self.reads += 1
                for key, future in batch:
                    answer(future, found.get(key, self._missing))
        finally:  # cancelled (a shutdown): nobody waits for ever
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:
                answer(future, RuntimeError("the read was stopped"))

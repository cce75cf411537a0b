"""The rate limiter for asyncio: the same pyrate-limiter bucket and accounting, waited on with asyncio.

All the accounting (the bucket, its margin, what the ``X-Discogs-Ratelimit*`` headers and 429s add)
stays in :class:`~musicagent._runtime.ratelimit.RateLimiter`; only the waiting differs. Tasks wait
their turn on an :class:`asyncio.Lock` (one task sleeps on the bucket, as one thread does in the sync
client) and sleep with :func:`asyncio.sleep`.

Where a bucket operation runs: the in-memory bucket is a few microseconds of pure Python, so it runs
in the event loop. SQLite and Redis stores do blocking I/O (a file lock, a network round trip), so
their operations run in a worker thread (:func:`asyncio.to_thread`). That keeps one implementation of
the accounting for both clients, and a store shared with sync clients and other processes sees the
same entries from all of them; ``benchmarks/async_limiter.py`` measured the thread hop (see
docs/benchmarks.md), which is small next to a store round trip and negligible next to a 1 s request slot.

Cancellation: a task cancelled while it waits (for its turn or for a slot to free) has taken no slot
and leaves the turn to the next task. An offloaded store write is not interrupted halfway: a task
cancelled during one waits for it to finish before the cancellation goes on, so the store is never
left half-written (the slot it may have taken counts as used, which errs towards fewer requests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from .ratelimit import RateLimiter, Slot
from .waits import announce, limit_reason

__all__ = ["AsyncLimiterWait"]

T = TypeVar("T")


class AsyncLimiterWait:
    """Async acquire/observe over one :class:`RateLimiter` (one per AsyncDiscogs client)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self._offload = limiter.shared
        self._turn: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # a lock belongs to one event loop

    def __repr__(self) -> str:
        return f"<AsyncLimiterWait {self.limiter!r}>"

    async def _run(self, operation: Callable[[], T]) -> T:
        """Run a bucket operation: inline for memory, in a thread for a store (never cut off halfway)."""
        if not self._offload:
            return operation()
        task = asyncio.ensure_future(asyncio.to_thread(operation))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # Let the store write finish (a thread cannot be stopped anyway); then cancel as asked.
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: a store failure after cancellation is not "never retrieved"
            raise

    async def acquire(
        self, timeout: float | None = None, *, store_timeout: float | None = None
    ) -> tuple[float, Slot] | None:
        """Wait until a request may be sent: ``(seconds waited, slot)``, or None if ``timeout`` would run out.

        The slot goes back to :meth:`settle` once the answer is in (as the sync client's does), or to
        :meth:`give_back` when the request never left.
        """
        start = time.monotonic()
        end = None if timeout is None else start + timeout
        loop = asyncio.get_running_loop()
        if self._turn is None or self._loop is not loop:
            self._turn, self._loop = asyncio.Lock(), loop
        turn = self._turn
        if timeout is None:
            await turn.acquire()
        else:
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    await turn.acquire()
            except TimeoutError:
                trouble = self.limiter.store_trouble(start)  # queued behind a task stuck on the store?
                if trouble is not None:
                    raise trouble from None
                return None
        told = False
        try:
            while True:
                wait, slot = await self._run(lambda: self.limiter.try_take(end, store_timeout))
                if slot is not None:
                    return time.monotonic() - start, slot
                if end is not None and time.monotonic() + wait > end:
                    return None
                told = told or announce(wait, limit_reason(self.limiter.requests, self.limiter.window))
                await asyncio.sleep(wait)
        finally:
            turn.release()

    def settle(self, slot: Slot) -> None:
        """After the answer: hold the slot longer if it came late (no store I/O: runs in the loop)."""
        self.limiter.settle(slot)

    async def give_back(self, slot: Slot, *, timeout: float | None = None) -> None:
        """Free the slot of a request that never left (see :meth:`RateLimiter.give_back`)."""
        await self._run(lambda: self.limiter.give_back(slot, timeout=timeout))

    async def observe(
        self, headers: Mapping[str, str], *, rejected: bool = False, timeout: float | None = None
    ) -> None:
        """Fold the server's figures into the bucket (see :meth:`RateLimiter.observe`)."""
        await self._run(lambda: self.limiter.observe(headers, rejected=rejected, timeout=timeout))

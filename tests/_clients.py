"""Both clients behind the sync API, so one behaviour test runs against ``Discogs`` and ``AsyncDiscogs``.

``SyncView(AsyncDiscogs(...))`` walks the async resource tree like the sync one; each call runs as a
task on an event loop in a background thread and the test waits for it. Every task started from one
test thread runs in the same :mod:`contextvars` context, so ``last_response`` reads the way it does
after a sequence of awaits in one task. A list method awaits the first page at once (as the sync
client fetches it at once) and the page it returns iterates lazily, one ``__anext__`` at a time, so a
test that counts page requests sees exactly what ``async for`` does.

Tests parametrize over :data:`FLAVORS` and build their client with :func:`make_client`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import threading
import weakref
from collections.abc import Coroutine, Iterator
from typing import Any

from musicagent import AsyncDiscogs, Discogs
from musicagent._runtime.pagination import AsyncPage, AsyncPaginator

FLAVORS = ("sync", "async")


class LoopThread:
    """An event loop in a daemon thread; :meth:`run` runs a coroutine there and returns its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._contexts = threading.local()

    def _context(self) -> contextvars.Context:
        context: contextvars.Context | None = getattr(self._contexts, "value", None)
        if context is None:
            context = self._contexts.value = contextvars.copy_context()
        return context

    def read(self, getter: Any) -> Any:
        """Read a property the way this thread's tasks see it (``last_response`` is per task)."""
        return self._context().run(getter)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        context = self._context()
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def start() -> None:
            task = self.loop.create_task(coro, context=context)

            def finish(t: asyncio.Task[Any]) -> None:
                if t.cancelled():
                    done.cancel()
                elif t.exception() is not None:
                    done.set_exception(t.exception())  # type: ignore[arg-type]
                else:
                    done.set_result(t.result())

            task.add_done_callback(finish)

        self.loop.call_soon_threadsafe(start)
        return done.result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is self._thread:
            return  # collected on its own thread: stopping is all it can do
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


class SyncPageView:
    """An :class:`AsyncPage` with the sync :class:`Page`'s methods."""

    def __init__(self, page: AsyncPage[Any], runner: LoopThread) -> None:
        self.page = page
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)

    def __repr__(self) -> str:
        return repr(self.page)

    def next_page(self) -> SyncPageView | None:
        following = self._runner.run(self.page.next_page())
        return None if following is None else SyncPageView(following, self._runner)

    def iter_pages(self) -> Iterator[SyncPageView]:
        return self._drive(self.page.iter_pages(), wrap=True)

    def __iter__(self) -> Iterator[Any]:
        return self._drive(aiter(self.page), wrap=False)

    def _drive(self, iterator: Any, *, wrap: bool) -> Iterator[Any]:
        while True:
            try:
                value = self._runner.run(anext(iterator))
            except StopAsyncIteration:
                return
            yield SyncPageView(value, self._runner) if wrap else value


class SyncView:
    """A node of an async client's resource tree (or the client) seen through the sync API."""

    def __init__(self, target: Any, runner: LoopThread) -> None:
        self._target = target
        self._runner = runner
        self._views: dict[int, tuple[Any, SyncView]] = {}  # one view per object: `is` keeps working

    def _view(self, value: Any) -> SyncView:
        known = self._views.get(id(value))
        if known is None or known[0] is not value:
            known = self._views[id(value)] = (value, SyncView(value, self._runner))
        return known[1]

    @property
    def unwrapped(self) -> Any:
        return self._target

    def __repr__(self) -> str:
        return repr(self._target)

    def __getattr__(self, name: str) -> Any:
        value = self._runner.read(lambda: getattr(self._target, name))
        if inspect.iscoroutinefunction(value):
            return lambda *args, **kwargs: self._runner.run(value(*args, **kwargs))
        if callable(value) and not isinstance(value, type):

            def call(*args: Any, **kwargs: Any) -> Any:
                result = value(*args, **kwargs)
                if isinstance(result, AsyncPaginator):
                    return SyncPageView(self._runner.run(_first(result)), self._runner)
                if inspect.isawaitable(result):
                    return self._runner.run(_awaited(result))
                return self._view(result) if _is_tree(result) else result

            return call
        return self._view(value) if _is_tree(value) else value

    def close(self) -> None:
        """``aclose()``: like ``Discogs.close()``, the client stays usable (its loop thread ends with the view)."""
        self._runner.run(self._target.aclose())

    def __enter__(self) -> SyncView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _first(paginator: AsyncPaginator[Any]) -> AsyncPage[Any]:
    return await paginator


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _is_tree(value: Any) -> bool:
    """Resources and helper objects of the async client (they have async methods to wrap)."""
    module = type(value).__module__
    return (
        module.startswith("musicagent.")
        and any(
            inspect.iscoroutinefunction(getattr(type(value), n, None))
            for n in dir(type(value))
            if not n.startswith("__")
        )
    ) or type(value).__name__.startswith("Async")


def make_client(flavor: str, **kwargs: Any) -> Any:
    """A ``Discogs``, or an ``AsyncDiscogs`` behind :class:`SyncView`, built with the same arguments."""
    if flavor == "sync":
        return Discogs(**kwargs)
    runner = LoopThread()
    view = SyncView(AsyncDiscogs(**kwargs), runner)
    weakref.finalize(view, runner.stop)  # the loop thread lives as long as the view
    return view


def is_page(value: Any) -> bool:
    from musicagent import Page

    return isinstance(value, Page) or (isinstance(value, SyncPageView) and isinstance(value.page, AsyncPage))

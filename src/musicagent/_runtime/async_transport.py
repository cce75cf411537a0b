"""The asyncio shell of the request pipeline: aiohttp sends the bytes, asyncio sleeps.

Everything else is the I/O-free core shared with the sync client (:mod:`._runtime.core`): the
request and its headers (credential rules included), the status errors, the retry decision and wait,
the decoding and the log lines. This module only maps aiohttp's outcomes onto the core's terms
(:func:`core.received` for an answer, :func:`core.failure` kinds for no answer) and loops.

aiohttp is imported when the first request is sent, never at ``import musicagent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import core
from .async_ratelimit import AsyncLimiterWait
from .auth import Credentials
from .errors import APITimeoutError, ConfigurationError, DownloadError, ResponseDecodeError, _RequestError
from .metrics import Metrics
from .ratelimit import RateLimiter, Slot

if TYPE_CHECKING:
    import aiohttp

    from .cache_store import ResponseCache
    from .config import Settings

__all__ = ["AsyncTransport"]

T = TypeVar("T")

_CHUNK = 64 * 1024


_modules: list[Any] = []  # aiohttp and yarl's URL, once imported


def _aiohttp() -> Any:
    if not _modules:
        try:
            import aiohttp
            from yarl import URL  # aiohttp's own URL type
        except ImportError as exc:  # pragma: no cover - the [async] extra is a dev dependency
            raise ConfigurationError("AsyncDiscogs needs aiohttp: pip install 'musicagent[async]'") from exc
        _modules[:] = [aiohttp, URL]
    return _modules[0]


class _Bound:
    """One attempt's wall-clock bound: a ``with`` block that turns its expiry into ``TimeoutError``.

    The semantics of :func:`asyncio.timeout` (the task is cancelled when the bound passes, and the
    cancellation becomes ``TimeoutError`` unless someone else cancelled the task too), but kept by
    :class:`_Bounds`' one timer instead of a timer handle of its own.
    """

    __slots__ = ("_bounds", "_cancelling", "expired", "task", "when")

    def __init__(self, bounds: _Bounds, task: asyncio.Task[Any], when: float) -> None:
        self._bounds = bounds
        self.task = task
        self._cancelling = task.cancelling()
        self.when = when
        self.expired = False

    def __enter__(self) -> _Bound:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._bounds.live.discard(self)
        if self.expired and self.task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc

    def reschedule(self, when: float) -> None:
        """Move the bound to ``when`` (the loop's clock), as ``asyncio.Timeout.reschedule`` does."""
        self.when = when
        self._bounds.arm(when)


class _Bounds:
    """The bounds of every attempt in flight on one event loop, kept by a single timer.

    :func:`asyncio.timeout` schedules and cancels a timer handle per attempt: some 25 Python calls,
    as much CPU as all the rest of the client's own work on a request (docs/benchmarks.md). An
    attempt here is a set entry; the timer is set for the earliest bound only, and since attempts
    start with the same timeout one after another, that is rarely earlier than the one already set.
    When it fires, it cancels the tasks whose bound has passed and is set again for the earliest left.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.live: set[_Bound] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._at = math.inf

    def bound(self, seconds: float) -> _Bound:
        """A bound ``seconds`` from now for the current task (use it as ``with``)."""
        task = asyncio.current_task(self.loop)
        if task is None:
            raise RuntimeError("an AsyncDiscogs request must run inside an asyncio task")
        bound = _Bound(self, task, self.loop.time() + seconds)
        self.live.add(bound)
        if bound.when < self._at:
            self.arm(bound.when)
        return bound

    def arm(self, when: float) -> None:
        """Make sure the timer fires by ``when``."""
        if when >= self._at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = self.loop.call_at(when, self._fire), when

    def _fire(self) -> None:
        self._timer, self._at = None, math.inf
        now = self.loop.time()
        earliest = math.inf
        for bound in list(self.live):
            if bound.when <= now:
                self.live.discard(bound)
                bound.expired = True
                bound.task.cancel()
            elif bound.when < earliest:
                earliest = bound.when
        if earliest < math.inf:
            self.arm(earliest)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = None, math.inf


class AsyncTransport:
    """Owns the aiohttp session, the limiter wait and the metrics of one AsyncDiscogs client."""

    def __init__(
        self,
        settings: Settings,
        *,
        credentials: Credentials,
        user_agent: str,
        limiter: RateLimiter | None,
        cache: ResponseCache | None = None,
        pool_size: int = 100,  # concurrent requests beyond it wait for a connection
    ) -> None:
        """The same arguments as the sync ``Transport``: both come from one set of settings."""
        self.builder = core.RequestBuilder(settings, credentials, user_agent)
        self.credentials = credentials
        self.limiter = limiter
        self.cache = cache
        self.max_response_bytes = settings.max_response_bytes
        self.max_download_bytes = settings.max_download_bytes
        self.metrics = Metrics()
        self._wait = AsyncLimiterWait(limiter) if limiter is not None else None
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bounds: _Bounds | None = None
        self._default_timeouts: Any = None
        # Per task, like the sync client's per thread: a task sees the answer to its own last call.
        self._last: contextvars.ContextVar[core.RawResponse | None] = contextvars.ContextVar(
            "musicagent_last_response", default=None
        )

    def __repr__(self) -> str:
        return f"<AsyncTransport {self.builder.base_url} auth={self.credentials.kind} limiter={self.limiter!r}>"

    @property
    def last_response(self) -> core.RawResponse | None:
        return self._last.get()

    # -- the session -------------------------------------------------------------------------------
    def _session_now(self) -> aiohttp.ClientSession:
        """The session of the running loop, made on first use (a session belongs to one loop)."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            aiohttp = _aiohttp()
            resolver = _resolver(aiohttp, loop)
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300, resolver=resolver)
            # The proxy is the core's decision for the base URL (HTTPS_PROXY/NO_PROXY), as in the sync
            # shell. No cookie jar: like the sync client, no state is carried from one answer to the next.
            session = aiohttp.ClientSession(
                connector=connector,
                proxy=core.proxy_for(self.builder.base_url),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
                # Sent on every request: given once, they are not walked header by header per request.
                headers=self.builder.static_headers,
            )
            # aiohttp repeats an idempotent request once, unseen, when a kept-alive connection turns out
            # closed. Retries are the core's alone (each one counted, paced by the limiter, logged),
            # as urllib3's are switched off in the sync shell. aiohttp has no public switch for it.
            if hasattr(session, "_retry_connection"):
                session._retry_connection = False
            if self._bounds is not None:
                self._bounds.close()
            self._session, self._loop, self._bounds = session, loop, _Bounds(loop)
        return session

    def _timeouts(self, aiohttp: Any, seconds: float) -> Any:
        """aiohttp's connect timeout for an attempt; the default one is built once."""
        if seconds != self.builder.timeout:
            return aiohttp.ClientTimeout(total=None, sock_connect=seconds)
        if self._default_timeouts is None:
            self._default_timeouts = aiohttp.ClientTimeout(total=None, sock_connect=seconds)
        return self._default_timeouts

    async def aclose(self) -> None:
        """Close the session and its connections (a later call opens a new one)."""
        session, self._session = self._session, None
        if self._bounds is not None:
            self._bounds.close()
        if session is not None and not session.closed:
            await session.close()
        if self.cache is not None:
            self.cache.store.close()  # a file or Redis connection, as the sync shell closes it; reopened on use

    # -- one call ----------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        fields: Mapping[str, Any] | None = None,
        parse: Callable[[core.RawResponse], T],
        options: core.RequestOptions | None = None,
        operation: str | None = None,
    ) -> T:
        """Send with limiter and retries; ``parse`` runs inside the retry loop so truncated bodies retry.

        With a response cache, the same hook as the sync shell: a GET it can answer sends nothing,
        and a write makes what it changed stale (``operation`` picks the rules).
        """
        call = self.builder.call(method, path, query=query, json=json, fields=fields, options=options)
        if self.cache is not None:

            async def send(parse: Callable[[core.RawResponse], T]) -> T:
                return await self._run(call, parse, None)

            return await self.cache.serve_async(
                call, operation, options, parse, send=send, on_hit=self._remember, metrics=self.metrics
            )
        return await self._run(call, parse, None)

    def _remember(self, raw: core.RawResponse) -> None:
        """A cached answer becomes this task's ``last_response``, as a fresh one would."""
        self._last.set(raw)

    async def download(
        self, url: str, destination: str | os.PathLike[str], *, options: core.RequestOptions | None = None
    ) -> Path:
        """Stream a GET body to ``destination`` atomically, following redirects (credentials stay behind)."""
        target = core.download_target(destination)
        call = self.builder.call("GET", url, options=core.download_options(options), url_parameter="url")
        return await self._run(call, lambda raw: target, target)

    # -- the loop --------------------------------------------------------------------------------
    async def _run(self, call: core.Call, parse: Callable[[core.RawResponse], T], stream_to: Path | None) -> T:
        """Attempt, and while the core says so, sleep and attempt again (the sync shell's loop)."""
        try:
            while True:
                try:
                    return await self._attempt(call, parse, stream_to)
                except core.Failure as failed:
                    wait = core.next_wait(call, failed)
                    if wait is None:
                        core.log_give_up(call, failed)
                        raise failed.error from None
                    self.metrics.record_retry()
                    core.log_retry(call, wait, failed)
                    await asyncio.sleep(wait)
        except _RequestError as error:
            error.attempts = call.attempts
            # The library's exception it was mapped from stays reachable as __context__ otherwise (through
            # the Failure), quoting in clear what a hostile server echoed: the message was masked, not it.
            error.__context__ = None
            raise error from None

    async def _attempt(self, call: core.Call, parse: Callable[[core.RawResponse], T], stream_to: Path | None) -> T:
        """One attempt: wait for the limiter, send, read, map the status, parse."""
        left = call.begin_attempt()
        # The session (and the aiohttp import, on the first call) before the slot: a slot must be
        # taken just before sending, or the requests arrive later than the limiter thinks they did.
        session = self._session_now()
        slot: Slot | None = None
        if self._wait is not None:
            got = await self._wait.acquire(left, store_timeout=call.timeout)
            if got is None:
                raise APITimeoutError("the deadline would run out while waiting for the rate limiter", **call.where())
            waited, slot = got
            if waited > 0.001:
                self.metrics.record_wait(waited)
                core.log_limiter_wait(call, waited)
        try:
            raw = await self._send(session, call, stream_to)
        except core.Failure as failed:
            if self._wait is not None and slot is not None and not failed.reached:
                # Discogs never saw it: the slot is not counted.
                await self._wait.give_back(slot, timeout=call.attempt_timeout(call.time_left()))
                slot = None
            raise
        finally:
            if self._wait is not None and slot is not None:
                self._wait.settle(slot)
        error = core.status_error(raw)
        if error is not None:
            raise error
        try:
            return parse(raw)
        except ResponseDecodeError as exc:
            if not exc.transient:
                raise
            raise core.Failure(exc, reached=True) from None

    async def _send(self, session: aiohttp.ClientSession, call: core.Call, stream_to: Path | None) -> core.RawResponse:
        """Send the request once and read the whole answer within the attempt's wall-clock bound.

        The bound is ``timeout``, cut to what the deadline leaves (limiter waits included), held over
        connect, headers and body alike (the sync shell's watchdog) by the loop's :class:`_Bounds`.
        """
        timeout = call.attempt_timeout(call.time_left())
        headers = self.builder.call_headers(call)  # with the session's static_headers
        aiohttp, url_type = _modules
        url = url_type(call.url, encoded=True)  # already percent-encoded: sent as it is
        bounds = self._bounds
        assert bounds is not None  # made with the session
        t0 = time.monotonic()
        try:
            with bounds.bound(timeout) as bound:
                async with session.request(
                    call.method,
                    url,
                    data=call.body,
                    headers=headers,
                    allow_redirects=stream_to is not None,  # downloads only; API calls never follow
                    max_redirects=6,  # aiohttp counts the answer that is one too many: 5 followed, as urllib3
                    middlewares=None if stream_to is None else (_refuse_redirects,),
                    timeout=self._timeouts(aiohttp, timeout),
                ) as response:
                    status = response.status
                    version = response.version  # None when no head was read (a recorded cassette's answer)
                    if status < 100 or (version is not None and version.major != 1):
                        _drop_connection(response)
                        shown = f"HTTP/{version.major}.{version.minor}" if version else ""
                        raise _MalformedHead(f"a malformed status line: {shown} {status:03d}")
                    if stream_to is not None and 200 <= status < 300:
                        await self._stream(call, response, stream_to, bound, timeout)
                        data = b""
                    elif _whole(call, response, self.max_response_bytes, "max_response_bytes"):
                        data = await response.read()
                    else:
                        data = await _read_body(call, response, self.max_response_bytes, "max_response_bytes")
                    resp_headers: Mapping[str, str] = response.headers
        except TimeoutError:
            self.metrics.record_failure()
            raise core.overrun(call, timeout) from None
        except aiohttp.TooManyRedirects as exc:
            # As urllib3 leaves it in the sync shell: the last redirect is the answer (a final APIError
            # naming where it pointed), not a broken connection to try again.
            last = exc.history[-1]
            status, resp_headers, data = last.status, last.headers, b""
        except (aiohttp.ClientError, OSError, _MalformedHead) as exc:
            self.metrics.record_failure()
            raise core.failure(call, _kind(aiohttp, exc), _reason(exc), timeout) from None
        elapsed = time.monotonic() - t0
        self.metrics.record_response(status, elapsed)
        if self._wait is not None:
            await self._wait.observe(resp_headers, rejected=status == 429, timeout=timeout)
        raw = core.received(call, status, resp_headers, data, elapsed)
        self._last.set(raw)
        core.log_response(call, raw)
        return raw

    async def _stream(
        self, call: core.Call, response: aiohttp.ClientResponse, target: Path, bound: _Bound, timeout: float
    ) -> None:
        """Write a download to ``target`` atomically, in bounded chunks, at most ``max_download_bytes``.

        As in the sync shell, each chunk that arrives earns the attempt another ``timeout``, up to the
        call's deadline. Disk failures are a DownloadError; the connection's own errors pass through.
        """
        from .files import atomic_file

        aiohttp = _aiohttp()
        loop = asyncio.get_running_loop()
        end = None if call.deadline is None else call.started + call.deadline
        written = earned = 0
        try:
            with atomic_file(target) as fh:
                async for chunk in response.content.iter_chunked(_CHUNK):
                    written += len(chunk)
                    if written > self.max_download_bytes:
                        raise core.too_large(call, self.max_download_bytes, "max_download_bytes")
                    fh.write(chunk)
                    if written - earned >= _CHUNK:  # progress is counted in whole chunks, as urllib3 reads them
                        earned = written
                        now = time.monotonic()
                        until = now + timeout if end is None else min(now + timeout, end)
                        bound.reschedule(loop.time() + (until - now))
        except aiohttp.ClientError:
            raise  # ClientOSError is an OSError too: the connection's, not the disk's
        except OSError as exc:
            raise DownloadError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None


def _resolver(aiohttp: Any, loop: asyncio.AbstractEventLoop) -> Any:
    """aiohttp's threaded resolver, its lookups in daemon threads of their own instead of asyncio's default executor.

    The system resolver cannot be interrupted: a lookup a DNS server never answers holds its thread
    for the resolver's own timeout (5 s per try and server by default) after the attempt has given
    up. In the default executor (a few threads, shared with the application's ``to_thread`` and
    ``run_in_executor`` calls) a handful of those would stall everything else queued there. A
    lookup runs once per host and five minutes (``ttl_dns_cache``), so a thread each costs nothing
    that matters. With aiodns installed, aiohttp's own non-blocking resolver is kept.
    """
    if aiohttp.resolver.DefaultResolver is not aiohttp.ThreadedResolver:
        return None
    return aiohttp.ThreadedResolver(loop=_DaemonLookups(loop))  # it calls only these two methods of its loop


class _DaemonLookups:
    """``getaddrinfo`` and ``getnameinfo`` as a loop offers them, each run in a daemon thread of its own."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
        return await self._in_thread(socket.getaddrinfo, *args, **kwargs)

    async def getnameinfo(self, *args: Any) -> Any:
        return await self._in_thread(socket.getnameinfo, *args)

    async def _in_thread(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = self._loop
        future: asyncio.Future[Any] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if future.done():  # the attempt gave up (cancelled) while the resolver still waited
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        def run() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (function(*args, **kwargs), None)
            except Exception as exc:
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits for it
                loop.call_soon_threadsafe(settle, *outcome)

        threading.Thread(target=run, name="musicagent-dns", daemon=True).start()
        return await future


def _whole(call: core.Call, response: aiohttp.ClientResponse, limit: int, setting: str) -> bool:
    """Whether the body can be read in one go: an uncompressed one whose declared length is within ``limit``.

    aiohttp stops at the declared length, so only a compressed or undeclared body needs :func:`_read_body`.
    """
    length = response.content_length
    if length is None or response.headers.get("Content-Encoding"):
        return False
    if length > limit:
        raise core.too_large(call, limit, setting)
    return True


async def _read_body(call: core.Call, response: aiohttp.ClientResponse, limit: int, setting: str) -> bytes:
    """A compressed or undeclared body, refusing more than ``limit`` bytes (counted decoded, as in the sync shell)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise core.too_large(call, limit, setting)
        parts.append(chunk)
    return b"".join(parts)


async def _refuse_redirects(request: Any, handler: Any) -> Any:
    """The sync shell's redirect rule (see ``transport._redirects_class``): a redirect that
    :func:`.urls.redirect_refusal` refuses is not followed but is the answer, as the one redirect too many is."""
    from .urls import redirect_refusal

    response = await handler(request)
    location = response.headers.get("Location") if 300 <= response.status < 400 else None
    if location and redirect_refusal(str(request.url), location) is not None:
        response.close()
        raise _aiohttp().TooManyRedirects(response.request_info, (response,))
    return response


class _MalformedHead(Exception):
    """A head aiohttp accepts but http.client refuses (status ``099`` or ``000``, ``HTTP/2.0`` over HTTP/1):
    refused here too, so both clients read one answer the same way."""


def _drop_connection(response: aiohttp.ClientResponse) -> None:
    """Close the connection of an answer that is not to be trusted, even when aiohttp has already put it back
    in the pool (it does as soon as the declared body is in): the next request must not read what follows."""
    protocol = getattr(response, "_protocol", None)  # aiohttp keeps it after releasing the connection
    transport = getattr(protocol, "transport", None)
    if transport is not None:
        transport.close()
    response.close()


def _kind(aiohttp: Any, exc: BaseException) -> core.FailureKind:
    """aiohttp's exception as one of the core's failure kinds (which decide retries and messages)."""
    if isinstance(exc, _MalformedHead):
        return "connection"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "tls"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect_timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect"  # refused, DNS, unreachable proxy: no byte of the request was sent
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "read_timeout"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "decode" if "can not decode" in str(exc).lower() else "truncated"
    if isinstance(exc, aiohttp.ClientResponseError) and "can not decode content-encoding" in str(exc).lower():
        return "decode"  # an encoding it cannot undo (brotli, uninstalled), refused at the head: urllib3's decode error
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientResponseError):
        return "connection"
    return "request"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _aiohttp().ServerDisconnectedError) and not isinstance(exc.message, str):
        return "the connection closed inside the response head"  # its message is the half-read head's repr
    return str(exc) or type(exc).__name__

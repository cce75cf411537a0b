"""The asyncio shell of the request pipeline: aiohttp sends the bytes, asyncio sleeps.

Everything else is the I/O-free core shared with the sync client (:mod:`._runtime.core`): the
request and its headers (credential rules included), the status errors, the retry decision and wait,
the decoding and the log lines. This module only maps aiohttp's outcomes onto the core's terms
(:func:`core.received` for an answer, :func:`core.failure` kinds for no answer) and loops.

aiohttp is imported when the first request is sent, never at ``import musicagent``.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import core
from .async_ratelimit import AsyncLimiterWait
from .errors import APITimeoutError, ConfigurationError, ResponseDecodeError, _RequestError
from .files import atomic_download
from .metrics import Metrics
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    import aiohttp

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


class AsyncTransport:
    """Owns the aiohttp session, the limiter wait and the metrics of one AsyncDiscogs client."""

    def __init__(self, builder: core.RequestBuilder, limiter: RateLimiter | None, *, pool_size: int = 100) -> None:
        self.builder = builder
        self.limiter = limiter
        self.metrics = Metrics()
        self._wait = AsyncLimiterWait(limiter) if limiter is not None else None
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._default_timeouts: Any = None
        # Per task, like the sync client's per thread: a task sees the answer to its own last call.
        self._last: contextvars.ContextVar[core.RawResponse | None] = contextvars.ContextVar(
            "musicagent_last_response", default=None
        )

    def __repr__(self) -> str:
        return f"<AsyncTransport {self.builder.base_url} auth={self.credentials.kind} limiter={self.limiter!r}>"

    @property
    def credentials(self) -> Any:
        return self.builder.credentials

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
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            # The proxy is the core's decision for the base URL (HTTPS_PROXY/NO_PROXY), as in the sync
            # shell. No cookie jar: like the sync client, no state is carried from one answer to the next.
            session = aiohttp.ClientSession(
                connector=connector,
                proxy=core.proxy_for(self.builder.base_url),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
            # aiohttp repeats an idempotent request once, unseen, when a kept-alive connection turns out
            # closed. Retries are the core's alone (each one counted, paced by the limiter, logged),
            # as urllib3's are switched off in the sync shell. aiohttp has no public switch for it.
            if hasattr(session, "_retry_connection"):
                session._retry_connection = False
            self._session, self._loop = session, loop
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
        if session is not None and not session.closed:
            await session.close()

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
    ) -> T:
        """Send with limiter and retries; ``parse`` runs inside the retry loop so truncated bodies retry."""
        call = self.builder.call(method, path, query=query, json=json, fields=fields, options=options)
        return await self._run(call, parse, None)

    async def download(
        self, url: str, destination: str | os.PathLike[str], *, options: core.RequestOptions | None = None
    ) -> Path:
        """Stream a GET body to ``destination`` atomically, following redirects (credentials stay behind)."""
        target = core.download_target(destination)
        call = self.builder.call("GET", url, options=core.download_options(options))
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
            raise error from None

    async def _attempt(self, call: core.Call, parse: Callable[[core.RawResponse], T], stream_to: Path | None) -> T:
        """One attempt: wait for the limiter, send, read, map the status, parse."""
        left = call.begin_attempt()
        # The session (and the aiohttp import, on the first call) before the slot: a slot must be
        # taken just before sending, or the requests arrive later than the limiter thinks they did.
        session = self._session_now()
        if self._wait is not None:
            waited = await self._wait.acquire(left)
            if waited is None:
                raise APITimeoutError("the deadline would run out while waiting for the rate limiter", **call.where())
            if waited > 0.001:
                self.metrics.record_wait(waited)
                core.log_limiter_wait(call, waited)
            left = call.time_left()
        raw = await self._send(session, call, call.attempt_timeout(left), stream_to)
        error = core.status_error(raw)
        if error is not None:
            raise error
        try:
            return parse(raw)
        except ResponseDecodeError as exc:
            if not exc.transient:
                raise
            raise core.Failure(exc, reached=True) from None

    async def _send(
        self, session: aiohttp.ClientSession, call: core.Call, timeout: float, stream_to: Path | None
    ) -> core.RawResponse:
        """Send the request once and read the answer; a failure of the exchange becomes the core's error."""
        headers = self.builder.headers(call)
        aiohttp = _aiohttp()
        url = _modules[1](call.url, encoded=True)  # already percent-encoded: sent as it is
        t0 = time.monotonic()
        try:
            # asyncio.timeout bounds the whole attempt (connect, headers, body) by the wall clock.
            async with asyncio.timeout(timeout):
                async with session.request(
                    call.method,
                    url,
                    data=call.body,
                    headers=headers,
                    allow_redirects=stream_to is not None,  # downloads only; API calls never follow
                    max_redirects=5,
                    timeout=self._timeouts(aiohttp, timeout),
                ) as response:
                    status = response.status
                    if stream_to is not None and 200 <= status < 300:
                        await _stream(response, stream_to)
                        data = b""
                    else:
                        data = await response.read()
                    resp_headers: Mapping[str, str] = response.headers
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.metrics.record_failure()
            raise core.failure(call, _kind(aiohttp, exc), _reason(exc), timeout) from None
        elapsed = time.monotonic() - t0
        self.metrics.record_response(status, elapsed)
        if self._wait is not None:
            await self._wait.observe(resp_headers, rejected=status == 429)
        raw = core.received(call, status, resp_headers, data, elapsed)
        self._last.set(raw)
        core.log_response(call, raw)
        return raw


def _kind(aiohttp: Any, exc: BaseException) -> core.FailureKind:
    """aiohttp's exception as one of the core's failure kinds (which decide retries and messages)."""
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
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientResponseError):
        return "connection"
    return "request"


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _stream(response: aiohttp.ClientResponse, target: Path) -> None:
    """Copy a body to ``target`` in chunks through the shared atomic writer (disk errors: DownloadError)."""
    with atomic_download(target) as out:
        async for chunk in response.content.iter_chunked(_CHUNK):
            out.write(chunk)

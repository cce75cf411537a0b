"""The sync shell: send one attempt with urllib3, sleep between attempts; the rest is :mod:`.core`.

Everything that decides something (what to send, what an answer means, whether and when to retry)
lives in the I/O-free :mod:`.core`, shared with the async shell; this module only moves bytes and
sleeps. urllib3 runs with ``retries=False`` so that the core's policy alone retries. Everything that
can go wrong comes out as a :mod:`musicagent` exception.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import core
from .auth import Credentials
from .core import Call, Failure, RawResponse, RequestOptions
from .errors import (
    APITimeoutError,
    ConfigurationError,
    DiscogsError,
    DownloadError,
    ResponseDecodeError,
    _RequestError,
)
from .metrics import Metrics
from .ratelimit import RateLimiter

if TYPE_CHECKING:  # urllib3 is imported with the first request (_Pools), not with the client
    import urllib3

    from .cache_store import ResponseCache
    from .config import Settings
    from .watchdog import Guard

__all__ = ["RawResponse", "RequestOptions", "Transport"]

T = TypeVar("T")


class _Pools:
    """urllib3's side of a transport, built on its first request: importing urllib3 costs start-up time."""

    def __init__(self, base_url: str, maxsize: int, timeout: float) -> None:
        import urllib3

        from . import headers, watchdog
        from .urls import UnsafeURLError, origin_of

        try:
            origin_of(base_url)  # the settings checked it with urllib.parse alone; now urllib3 reads it too
        except UnsafeURLError as exc:
            raise ConfigurationError(f"invalid base_url {base_url!r}: {exc}") from None
        self.watchdog = watchdog  # imported with urllib3; kept here so each attempt does not run an import statement
        self.manager = _make_pool(base_url, maxsize)
        headers.install(self.manager)  # header blocks read without the email package: see headers.py
        watchdog.install(self.manager)  # attempts bounded by the wall clock: see watchdog.py
        self.direct = type(self.manager) is urllib3.PoolManager  # no proxy in between
        self.base = self.manager.connection_from_url(base_url)
        self.default_timeout = timeout
        self.timeout = urllib3.Timeout(connect=timeout, read=_read_timeout(timeout))
        self.no_retries = urllib3.Retry(total=False, redirect=False)  # what retries=False means, built once
        # Downloads follow redirects and let every error through as it is (the core retries).
        self.download_redirects = _redirects_class()(
            total=None, connect=False, read=False, other=False, redirect=5, raise_on_redirect=False
        )

    def timeouts(self, seconds: float) -> urllib3.Timeout:
        """The connect and read timeouts of one attempt (the default one built once)."""
        return (
            self.timeout
            if seconds == self.default_timeout
            else self.timeout.__class__(connect=seconds, read=_read_timeout(seconds))
        )


def _read_timeout(seconds: float) -> float | None:
    """The socket timeout of each read: none where the watchdog's shutdown wakes a blocked read.

    The watchdog bounds every attempt by the wall clock by shutting its socket down, which ends a
    blocked ``recv`` at once on Linux and macOS; there a per-read timeout adds nothing but a
    ``poll()`` before every ``recv``. Elsewhere reads keep the timeout as well.
    """
    return None if sys.platform in ("linux", "darwin") else seconds


@functools.cache
def _redirects_class() -> type[urllib3.Retry]:
    """urllib3's redirect policy, refusing what :func:`.urls.redirect_refusal` refuses.

    A server that puts the token into the URL it redirects to (``?token=…``) would hand it to
    wherever that points, past the rule that drops ``Authorization`` on leaving the host; a
    ``file:`` or ``ftp:`` Location was a connection error, retried. urllib3 consults the policy
    before following; refusing here leaves the redirect as the answer (a final ``APIError`` naming
    where it pointed and why, masked), as the one redirect too many is.
    """
    import urllib3
    from urllib3.exceptions import MaxRetryError, ResponseError

    from .urls import redirect_refusal

    class Redirects(urllib3.Retry):
        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: Any = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Redirects:
            location = response.get_redirect_location() if response is not None else None
            why = redirect_refusal(url or "", location) if location else None
            if why is not None:
                raise MaxRetryError(_pool, url or "", ResponseError(why))
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return Redirects


def _make_pool(base_url: str, maxsize: int) -> urllib3.PoolManager:
    """urllib3 ignores proxy variables, so honour HTTPS_PROXY/HTTP_PROXY/NO_PROXY here (the core decides)."""
    import urllib3

    proxy = core.proxy_for(base_url)
    common: dict[str, Any] = {"num_pools": 8, "maxsize": maxsize, "block": False, "retries": False}
    if proxy is not None:
        return urllib3.ProxyManager(proxy, **common)
    return urllib3.PoolManager(**common)


class Transport:
    """Owns the connection pool, the limiter and the metrics of one client; safe to share between threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        credentials: Credentials,
        user_agent: str,
        limiter: RateLimiter | None,
        cache: ResponseCache | None = None,
        pool_maxsize: int = 32,  # threads beyond it would open (and drop) connections of their own
    ) -> None:
        self.builder = core.RequestBuilder(settings, credentials, user_agent)
        self.max_response_bytes = settings.max_response_bytes
        self.max_download_bytes = settings.max_download_bytes
        self.base_url = settings.base_url
        self.credentials = credentials
        self.limiter = limiter
        self.metrics = Metrics()
        self.cache = cache
        self._local = threading.local()
        self._pool_maxsize = pool_maxsize
        self._pools_built: _Pools | None = None
        self._pools_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Transport {self.base_url} auth={self.credentials.kind} limiter={self.limiter!r}>"

    @property
    def _pools(self) -> _Pools:
        pools = self._pools_built
        if pools is None:
            with self._pools_lock:
                if self._pools_built is None:
                    self._pools_built = _Pools(self.base_url, self._pool_maxsize, self.builder.timeout)
                pools = self._pools_built
        return pools

    # -- public --------------------------------------------------------------------------------
    @property
    def last_response(self) -> RawResponse | None:
        return getattr(self._local, "last", None)

    def close(self) -> None:
        pools, self._pools_built = self._pools_built, None  # the next request builds fresh ones
        if pools is not None:
            pools.manager.clear()
        if self.cache is not None:
            self.cache.store.close()  # a file or Redis connection; reopened on the next use

    def url_for(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        return self.builder.url_for(path, query)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        fields: Mapping[str, Any] | None = None,
        parse: Callable[[RawResponse], T],
        options: RequestOptions | None = None,
        operation: str | None = None,
    ) -> T:
        """Send with limiter and retries; ``parse`` runs inside the retry loop so truncated bodies retry.

        The deadline bounds everything (limiter waits, attempts, backoff sleeps); when it runs out
        between attempts the APITimeoutError names the last failure. With a response cache, a GET it
        can answer sends nothing, and a write makes what it changed stale (``operation`` picks the rules).
        """
        call = self.builder.call(method, path, query=query, json=json, fields=fields, options=options)
        if self.cache is not None:

            def send(parse: Callable[[RawResponse], T]) -> T:
                return self._run(call, parse, None)

            return self.cache.serve(
                call, operation, options, parse, send=send, on_hit=self._remember, metrics=self.metrics
            )
        return self._run(call, parse, None)

    def _remember(self, raw: RawResponse) -> None:
        self._local.last = raw

    def download(self, url: str, destination: str | os.PathLike[str], *, options: RequestOptions | None = None) -> Path:
        """Stream a GET body to ``destination`` atomically (temporary file, then rename)."""
        target = core.download_target(destination)
        call = self.builder.call("GET", url, options=core.download_options(options), url_parameter="url")
        return self._run(call, lambda raw: target, target)

    # -- the loop --------------------------------------------------------------------------------
    def _run(self, call: Call, parse: Callable[[RawResponse], T], stream_to: Path | None) -> T:
        """Attempt, and while the core says so, sleep and attempt again."""
        try:
            while True:
                try:
                    return self._attempt(call, parse, stream_to)
                except Failure as failed:
                    wait = core.next_wait(call, failed)
                    if wait is None:
                        core.log_give_up(call, failed)
                        raise failed.error from None
                    self.metrics.record_retry()
                    core.log_retry(call, wait, failed)
                    time.sleep(wait)
        except _RequestError as error:
            error.attempts = call.attempts
            # The library's exception it was mapped from stays reachable as __context__ otherwise (through
            # the Failure), quoting in clear what a hostile server echoed: the message was masked, not it.
            error.__context__ = None
            raise error from None

    def _attempt(self, call: Call, parse: Callable[[RawResponse], T], stream_to: Path | None) -> T:
        """One attempt: wait for the limiter, send, read, map the status, parse."""
        left = call.begin_attempt()
        self._pools  # noqa: B018 - built (urllib3 imported) before a limiter slot is taken, not between it and the send
        self._acquire(call, left)
        try:
            core.check_cancelled(call)
            raw = self._send(call, stream_to)
        except Failure as failed:
            if self.limiter is not None and not failed.reached:
                # Discogs never saw it: the slot is not counted.
                self.limiter.give_back(timeout=call.attempt_timeout(call.time_left()))
            raise
        finally:
            if self.limiter is not None:
                self.limiter.settle()  # nothing left to settle after give_back
        error = core.status_error(raw)
        if error is not None:
            raise error
        try:
            return parse(raw)
        except ResponseDecodeError as exc:
            if not exc.transient:
                raise
            raise Failure(exc, reached=True) from None

    def _acquire(self, call: Call, left: float | None) -> None:
        if self.limiter is None:
            return
        waited = self.limiter.acquire(timeout=left, store_timeout=call.timeout)
        if waited is None:
            raise APITimeoutError("the deadline would run out while waiting for the rate limiter", **call.where())
        if waited > 0.001:
            self.metrics.record_wait(waited)
            core.log_limiter_wait(call, waited)

    def _send(self, call: Call, stream_to: Path | None) -> RawResponse:
        """Send the request once and read the whole answer within the attempt's wall-clock bound.

        The bound is ``timeout``, cut to what the deadline leaves (limiter waits included); the
        watchdog enforces it on every byte of the exchange, not just the gaps between them.
        """
        timeout = call.attempt_timeout(call.time_left())
        headers = self.builder.headers(call)
        pools = self._pools
        watchdog = pools.watchdog
        timeouts = pools.timeouts(timeout)
        t0 = time.monotonic()
        guard = watchdog.arm(t0 + timeout)
        response: urllib3.BaseHTTPResponse | None = None
        try:
            response = self._open(pools, call, headers, timeouts, stream_to)
            if stream_to is not None and 200 <= response.status < 300:
                data = b""
                self._stream(call, response, stream_to, guard, timeout)
            else:
                data = _read_body(call, response, self.max_response_bytes, "max_response_bytes", guard)
            if watchdog.disarm(guard):
                # Cut off while reading: what arrived may look complete (headers cut short read
                # as an empty answer), but it is not.
                raise _Overrun
        except Exception as exc:
            fired = watchdog.disarm(guard)
            if response is not None:
                response.close()  # a half-read answer leaves nothing reusable on the connection
                response.release_conn()
            mapped = core.overrun(call, timeout) if fired else _failure(call, exc, timeout)
            if mapped is None:
                raise
            self.metrics.record_failure()
            raise mapped from None
        response.release_conn()
        elapsed = time.monotonic() - t0
        self.metrics.record_response(response.status, elapsed)
        if self.limiter is not None:
            self.limiter.observe(response.headers, rejected=response.status == 429, timeout=timeout)
        raw = core.received(call, response.status, response.headers, data, elapsed)
        self._local.last = raw
        core.log_response(call, raw)
        return raw

    def _open(
        self, pools: _Pools, call: Call, headers: dict[str, str], timeouts: urllib3.Timeout, stream_to: Path | None
    ) -> urllib3.BaseHTTPResponse:
        """Send the request; the answer's headers are read, its body is not."""
        if self.builder.on_base(call.url) and pools.direct and stream_to is None:
            # Straight to the base host's pool: PoolManager.request would re-parse the URL each time.
            return pools.base.urlopen(
                call.method,
                call.url[len(self.base_url) :],
                body=call.body,
                headers=headers,
                timeout=timeouts,
                retries=pools.no_retries,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
        # A download may be redirected to storage elsewhere: PoolManager follows it and drops
        # the Authorization header when the host changes. API calls never follow redirects.
        return pools.manager.request(
            call.method,
            call.url,
            body=call.body,
            headers=headers,
            timeout=timeouts,
            retries=pools.no_retries if stream_to is None else pools.download_redirects,
            redirect=stream_to is not None,
            preload_content=False,
        )

    def _stream(
        self, call: Call, response: urllib3.BaseHTTPResponse, target: Path, guard: Guard, timeout: float
    ) -> None:
        """Write a download to ``target`` atomically, in bounded chunks, at most ``max_download_bytes``.

        Each chunk that arrives earns the attempt another ``timeout`` (a large file on a slow link
        is not cut off), up to the call's deadline; a server that stops sending is.
        """
        end = None if call.deadline is None else call.started + call.deadline
        written = 0

        def chunks() -> Iterator[bytes]:
            nonlocal written
            for chunk in response.stream(_CHUNK):
                if guard.fired:  # the socket was shut down, but Linux still hands over what streams in
                    raise _Overrun
                written += len(chunk)
                if written > self.max_download_bytes:
                    raise core.too_large(call, self.max_download_bytes, "max_download_bytes")
                yield chunk
                next_end = time.monotonic() + timeout
                guard.extend(next_end if end is None else min(next_end, end))

        from .files import atomic_write

        try:
            atomic_write(target, chunks())
        except OSError as exc:
            raise DownloadError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None


_CHUNK = 64 * 1024


class _Overrun(Exception):
    """The watchdog fired although reading did not fail."""


def _read_body(call: Call, response: urllib3.BaseHTTPResponse, limit: int, setting: str, guard: Guard) -> bytes:
    """The decoded body, refusing more than ``limit`` bytes, and stopping when the watchdog has fired.

    Decoding runs chunk by chunk (urllib3 2 bounds what each ``read(amt)`` decompresses), so a
    small compressed body that expands to gigabytes stops at the limit instead of filling memory.
    A socket the watchdog shut down still hands over what keeps streaming in (Linux), so a server
    sending without end at full speed is stopped here, by the flag, rather than by the size cap.
    """
    length = response.length_remaining
    headers = response.headers  # ``in`` first: HTTPHeaderDict.get raises and catches a KeyError for a missing key
    if length is not None and ("content-encoding" not in headers or not headers["content-encoding"]):
        if length > limit:
            raise core.too_large(call, limit, setting)
        return response.read()
    parts: list[bytes] = []
    size = 0
    for chunk in response.stream(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise core.too_large(call, limit, setting)
        if guard.fired:
            raise _Overrun
        parts.append(chunk)
    return b"".join(parts)


def _failure(call: Call, exc: Exception, timeout: float) -> Failure | _RequestError | None:
    """urllib3's exception as the core's failure kind; None for anything that is not the exchange's."""
    from urllib3.exceptions import (
        ConnectTimeoutError,
        DecodeError,
        HTTPError,
        NewConnectionError,
        ProtocolError,
        ProxyError,
        ReadTimeoutError,
        SSLError,
    )

    reason = str(getattr(exc, "reason", None) or exc)
    # NewConnectionError subclasses ConnectTimeoutError: neither sent a byte of the request.
    if isinstance(exc, NewConnectionError):
        return core.failure(call, "connect", reason, timeout)
    if isinstance(exc, ConnectTimeoutError):
        return core.failure(call, "connect_timeout", reason, timeout)
    if isinstance(exc, ReadTimeoutError):
        return core.failure(call, "read_timeout", reason, timeout)
    if isinstance(exc, SSLError):
        return core.failure(call, "tls", reason, timeout)
    if isinstance(exc, DecodeError):
        return core.failure(call, "decode", reason, timeout)
    if isinstance(exc, ProtocolError) and _truncated(exc):
        return core.failure(call, "truncated", reason, timeout)
    if isinstance(exc, ProtocolError | ProxyError):
        return core.failure(call, "connection", reason, timeout)
    if isinstance(exc, HTTPError | OSError):
        return core.failure(call, "request", reason, timeout)
    if isinstance(exc, ValueError) and not isinstance(exc, DiscogsError):
        # What urllib3 lets through from a malformed answer (a negative chunk size, a redirect
        # to "http://[::1"): the answer's fault, as a malformed head is, not a crash of the call.
        return core.failure(call, "connection", f"malformed answer: {reason}", timeout)
    return None


def _truncated(exc: Exception) -> bool:
    """urllib3 wraps http.client's IncompleteRead (short Content-Length, bad chunk) in ProtocolError."""
    import http.client

    return isinstance(exc, http.client.IncompleteRead) or any(
        isinstance(arg, http.client.IncompleteRead) for arg in exc.args
    )

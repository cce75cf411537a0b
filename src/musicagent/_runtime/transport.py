"""The sync shell: send one attempt with urllib3, sleep between attempts; the rest is :mod:`.core`.

Everything that decides something (what to send, what an answer means, whether and when to retry)
lives in the I/O-free :mod:`.core`, shared with the async shell; this module only moves bytes and
sleeps. urllib3 runs with ``retries=False`` so that the core's policy alone retries. Everything that
can go wrong comes out as a :mod:`musicagent` exception.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import core
from .auth import Credentials
from .core import Call, Failure, RawResponse, RequestOptions
from .errors import APITimeoutError, ResponseDecodeError, _RequestError
from .files import atomic_download
from .metrics import Metrics
from .ratelimit import RateLimiter

if TYPE_CHECKING:  # urllib3 is imported with the first request (_Pools), not with the client
    import urllib3

__all__ = ["RawResponse", "RequestOptions", "Transport"]

T = TypeVar("T")


class _Pools:
    """urllib3's side of a transport, built on its first request: importing urllib3 costs start-up time."""

    def __init__(self, base_url: str, maxsize: int, timeout: float) -> None:
        import urllib3

        from . import headers

        self.manager = _make_pool(base_url, maxsize)
        headers.install(self.manager)  # header blocks read without the email package: see headers.py
        self.direct = type(self.manager) is urllib3.PoolManager  # no proxy in between
        self.base = self.manager.connection_from_url(base_url)
        self.default_timeout = timeout
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.no_retries = urllib3.Retry(total=False, redirect=False)  # what retries=False means, built once
        # Downloads follow redirects and let every error through as it is (the core retries).
        self.download_redirects = urllib3.Retry(
            total=None, connect=False, read=False, other=False, redirect=5, raise_on_redirect=False
        )

    def timeouts(self, seconds: float) -> urllib3.Timeout:
        """The connect and read timeouts of one attempt (the default one built once)."""
        return (
            self.timeout if seconds == self.default_timeout else self.timeout.__class__(connect=seconds, read=seconds)
        )


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
        *,
        base_url: str,
        credentials: Credentials,
        user_agent: str,
        timeout: float,
        max_retries: int,
        deadline: float | None,
        limiter: RateLimiter | None,
        pool_maxsize: int = 32,  # threads beyond it would open (and drop) connections of their own
    ) -> None:
        self.builder = core.RequestBuilder(
            base_url=base_url,
            credentials=credentials,
            user_agent=user_agent,
            timeout=timeout,
            max_retries=max_retries,
            deadline=deadline,
        )
        self.base_url = base_url
        self.credentials = credentials
        self.limiter = limiter
        self.metrics = Metrics()
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
    ) -> T:
        """Send with limiter and retries; ``parse`` runs inside the retry loop so truncated bodies retry.

        The deadline bounds everything (limiter waits, attempts, backoff sleeps); when it runs out
        between attempts the APITimeoutError names the last failure.
        """
        call = self.builder.call(method, path, query=query, json=json, fields=fields, options=options)
        return self._run(call, parse, None)

    def download(self, url: str, destination: str | os.PathLike[str], *, options: RequestOptions | None = None) -> Path:
        """Stream a GET body to ``destination`` atomically (temporary file, then rename)."""
        target = core.download_target(destination)
        call = self.builder.call("GET", url, options=core.download_options(options))
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
            raise error from None

    def _attempt(self, call: Call, parse: Callable[[RawResponse], T], stream_to: Path | None) -> T:
        """One attempt: wait for the limiter, send, read, map the status, parse."""
        left = call.begin_attempt()
        self._pools  # noqa: B018 - built (urllib3 imported) before a limiter slot is taken, not between it and the send
        self._acquire(call, left)
        raw = self._send(call, call.attempt_timeout(left), stream_to)
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
        waited = self.limiter.acquire(timeout=left)
        if waited is None:
            raise APITimeoutError("the deadline would run out while waiting for the rate limiter", **call.where())
        if waited > 0.001:
            self.metrics.record_wait(waited)
            core.log_limiter_wait(call, waited)

    def _send(self, call: Call, timeout: float, stream_to: Path | None) -> RawResponse:
        """Send the request once and read the answer; a failure of the exchange becomes the core's error."""
        headers = self.builder.headers(call)
        pools = self._pools
        timeouts = pools.timeouts(timeout)
        t0 = time.monotonic()
        try:
            if self.builder.on_base(call.url) and pools.direct and stream_to is None:
                # Straight to the base host's pool: PoolManager.request would re-parse the URL each time.
                response = pools.base.urlopen(
                    call.method,
                    call.url[len(self.base_url) :],
                    body=call.body,
                    headers=headers,
                    timeout=timeouts,
                    retries=pools.no_retries,
                    redirect=False,
                    assert_same_host=False,
                )
            else:
                # A download may be redirected to storage elsewhere: PoolManager follows it and drops
                # the Authorization header when the host changes. API calls never follow redirects.
                response = pools.manager.request(
                    call.method,
                    call.url,
                    body=call.body,
                    headers=headers,
                    timeout=timeouts,
                    retries=pools.no_retries if stream_to is None else pools.download_redirects,
                    redirect=stream_to is not None,
                    preload_content=stream_to is None,
                )
            if stream_to is not None and 200 <= response.status < 300:
                data = b""
                _stream(response, stream_to)
            else:
                data = response.data if stream_to is None else response.read()
        except Exception as exc:
            mapped = _failure(call, exc, timeout)
            if mapped is None:
                raise
            self.metrics.record_failure()
            raise mapped from None
        elapsed = time.monotonic() - t0
        self.metrics.record_response(response.status, elapsed)
        if self.limiter is not None:
            self.limiter.observe(response.headers, rejected=response.status == 429)
        raw = core.received(call, response.status, response.headers, data, elapsed)
        self._local.last = raw
        core.log_response(call, raw)
        return raw


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
    return None


def _truncated(exc: Exception) -> bool:
    """urllib3 wraps http.client's IncompleteRead (short Content-Length, bad chunk) in ProtocolError."""
    import http.client

    return isinstance(exc, http.client.IncompleteRead) or any(
        isinstance(arg, http.client.IncompleteRead) for arg in exc.args
    )


def _stream(response: urllib3.BaseHTTPResponse, target: Path) -> None:
    """Copy a body to ``target`` in chunks through the atomic writer (disk failures: DownloadError)."""
    try:
        with atomic_download(target) as out:
            for chunk in response.stream(64 * 1024):
                out.write(chunk)
    finally:
        response.release_conn()

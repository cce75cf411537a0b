"""One request, end to end: rate limiter, urllib3 pool, status mapping, decoding, retries, logging.

Retries are backoff's job (exponential, full jitter, capped, ``Retry-After`` honoured); urllib3 runs
with ``retries=False`` so the two never multiply. A request that may have reached the server is only
repeated when repeating it is harmless: GET/HEAD, or a 429 (Discogs rejects those before doing any
work). Everything that can go wrong comes out as a :mod:`musicagent` exception.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import json as _json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import urllib3
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

from . import log as _log
from .auth import Credentials
from .config import is_loopback
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    DownloadError,
    InvalidParameterError,
    RateLimitError,
    ResponseDecodeError,
    _RequestError,
    error_for_status,
)
from .metrics import Metrics
from .ratelimit import RateLimiter

__all__ = ["RawResponse", "RequestOptions", "Transport"]

T = TypeVar("T")

_NO_RETRIES = urllib3.Retry(total=False, redirect=False)  # what retries=False means, built once
_DOWNLOAD_REDIRECTS = urllib3.Retry(  # follow redirects; let every error through as it is (backoff retries)
    total=None, connect=False, read=False, other=False, redirect=5, raise_on_redirect=False
)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0
_MAX_RETRY_AFTER = 120.0  # a server asking for longer gets the RateLimitError, with its retry_after
_REQUEST_ID_HEADERS = ("X-Request-Id", "X-Amzn-Trace-Id", "CF-Ray")


@dataclass(frozen=True)
class RequestOptions:
    """Per-call overrides; None means "use the client's setting"."""

    timeout: float | None = None
    max_retries: int | None = None
    deadline: float | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RawResponse:
    """The HTTP side of the last response: status, headers (rate-limit figures among them), timing."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    elapsed: float
    attempts: int
    request_id: str
    content: bytes = field(default=b"", repr=False)


class _Retryable(Exception):
    """Carries a musicagent error through backoff; ``reached`` says the server may have acted on it."""

    def __init__(self, error: _RequestError, *, reached: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.reached = reached
        self.retry_after: float | None = getattr(error, "retry_after", None)


def _waits(time_left: Callable[[], float | None]) -> Generator[float, Any, None]:
    """Backoff wait generator: ``Retry-After`` when the server sent one, else capped full-jitter expo.

    backoff sends each exception into the generator (that is how ``Retry-After`` reaches it) and,
    with ``jitter=None``, sleeps exactly what it yields. Under a deadline a jittered wait takes at most
    half of what is left, so another attempt still fits (a ``Retry-After`` that does not fit gives up).
    """
    import backoff  # only once a retry is needed: it imports asyncio

    attempt = 0
    exc = yield 0.0
    while True:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            value = float(retry_after)
        else:
            value = backoff.full_jitter(min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt))
            left = time_left()
            if left is not None:
                value = max(0.0, min(value, left / 2))
        attempt += 1
        exc = yield value


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _excerpt(data: bytes, limit: int = 200) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return " ".join(text.split())


def _error_message(data: bytes, status: int, content_type: str) -> tuple[str, Any]:
    """The Discogs ``message`` when the body is the usual JSON error, else a short description."""
    body: Any = None
    if data:
        try:
            body = _json.loads(data)
        except (ValueError, RecursionError):
            body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"], _masked(body)
    if not data:
        return f"HTTP {status} with an empty body", None
    kind = "an HTML page" if "html" in content_type.lower() or data.lstrip()[:1] == b"<" else "a non-JSON body"
    return f"HTTP {status} with {kind}: {_excerpt(data)}", _log.mask(_excerpt(data, 1000))


def _masked(value: Any) -> Any:
    """The error body kept on an exception, with secrets hidden in every string it holds."""
    if isinstance(value, str):
        return _log.mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _truncated(exc: ProtocolError) -> bool:
    """urllib3 wraps http.client's IncompleteRead (short Content-Length, bad chunk) in ProtocolError."""
    return isinstance(exc, http.client.IncompleteRead) or any(
        isinstance(arg, http.client.IncompleteRead) for arg in exc.args
    )


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
        self.base_url = base_url
        self.credentials = credentials
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_retries = max_retries
        self.deadline = deadline
        self.limiter = limiter
        self.metrics = Metrics()
        self._local = threading.local()
        self._base_host = urlsplit(base_url).hostname or ""
        self._base_prefix = base_url + "/"
        self._pool = self._make_pool(base_url, pool_maxsize)
        self._direct = type(self._pool) is urllib3.PoolManager  # no proxy in between
        self._base: urllib3.HTTPConnectionPool | None = None
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._static_headers = {
            "User-Agent": user_agent,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
        }
        # OAuth signs every attempt afresh (nonce, timestamp); the other credentials never change.
        self._auth = None if credentials.kind == "oauth" else credentials.header()

    def __repr__(self) -> str:
        return f"<Transport {self.base_url} auth={self.credentials.kind} limiter={self.limiter!r}>"

    @staticmethod
    def _make_pool(base_url: str, maxsize: int) -> urllib3.PoolManager:
        """urllib3 ignores proxy variables, so honour HTTPS_PROXY/HTTP_PROXY/NO_PROXY here."""
        parts = urlsplit(base_url)
        proxy = getproxies().get(parts.scheme or "https")
        common: dict[str, Any] = {"num_pools": 8, "maxsize": maxsize, "block": False, "retries": False}
        if proxy and not proxy_bypass(parts.hostname or ""):
            return urllib3.ProxyManager(proxy, **common)
        return urllib3.PoolManager(**common)

    # -- public --------------------------------------------------------------------------------
    @property
    def last_response(self) -> RawResponse | None:
        return getattr(self._local, "last", None)

    def close(self) -> None:
        self._pool.clear()
        self._base = None

    def _base_pool(self) -> urllib3.HTTPConnectionPool:
        pool = self._base
        if pool is None:
            pool = self._base = self._pool.connection_from_url(self.base_url)
        return pool

    def url_for(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = self.base_url + (path if path.startswith("/") else "/" + path)
        pairs = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        if pairs:
            url += ("&" if "?" in url else "?") + urlencode(pairs)
        return url

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
        method = method.upper()
        opts = options or RequestOptions()
        if opts.extra_query:
            query = {**(query or {}), **opts.extra_query}
        url = self.url_for(path, query)
        shown = _path_of(url)
        body, content_type = _encode_body(json, fields)
        max_retries = self.max_retries if opts.max_retries is None else opts.max_retries
        deadline = self.deadline if opts.deadline is None else opts.deadline
        timeout = self.timeout if opts.timeout is None else opts.timeout
        cid = os.urandom(6).hex()
        started = time.monotonic()
        attempts = 0
        last: _RequestError | None = None
        idempotent = method in _IDEMPOTENT

        def time_left() -> float | None:
            return None if deadline is None else deadline - (time.monotonic() - started)

        def attempt() -> T:
            nonlocal attempts, last
            left = time_left()
            if left is not None and left <= 0:
                raise APITimeoutError(
                    f"the {deadline:g}s deadline ran out; the last attempt failed with: {last}",
                    method=method,
                    url=shown,
                    request_id=cid,
                )
            attempts += 1
            try:
                raw = self._send(
                    method, url, shown, body, content_type, opts.extra_headers, timeout, left, cid, attempts
                )
                try:
                    return parse(raw)
                except ResponseDecodeError as exc:
                    if not exc.transient:
                        raise
                    raise _Retryable(exc, reached=True) from None
            except _Retryable as exc:
                last = exc.error
                raise

        def give_up(exc: Exception) -> bool:
            assert isinstance(exc, _Retryable)
            if not idempotent and exc.reached and not isinstance(exc.error, RateLimitError):
                return True  # the server may have acted on it: never create anything twice
            left = time_left()
            wait = exc.retry_after
            if wait is not None and (wait > _MAX_RETRY_AFTER or (left is not None and wait > left)):
                return True
            return left is not None and left <= 0

        def on_backoff(details: Any) -> None:
            self.metrics.record_retry()
            if _log.is_enabled():
                _log.get_logger().bind(correlation_id=cid).warning(
                    "retrying {} {} in {:.2f}s after attempt {}: {}",
                    method,
                    shown,
                    details["wait"],
                    details["tries"],
                    details["exception"].error,
                )

        def on_giveup(details: Any) -> None:
            if _log.is_enabled():
                _log.get_logger().bind(correlation_id=cid).error(
                    "giving up on {} {} after {} attempt(s): {}",
                    method,
                    shown,
                    details["tries"],
                    details["exception"].error,
                )

        # The first attempt runs bare: building backoff's retry loop costs time on every call, and
        # most calls succeed. Only after a retryable failure is the loop built; it starts by
        # replaying that failure, so backoff counts and waits exactly as if it had run from the start.
        first: _Retryable | None = None
        try:
            return attempt()
        except _Retryable as exc:
            if max_retries > 0 and not give_up(exc):
                first = exc
            else:
                on_giveup({"tries": attempts, "exception": exc})
                error: _RequestError = exc.error
        except _RequestError as exc:
            error = exc
        if first is None:
            error.attempts = attempts
            raise error from None

        def retried() -> T:
            nonlocal first
            if first is not None:
                replay, first = first, None
                raise replay
            return attempt()

        import backoff

        retrying = backoff.on_exception(
            functools.partial(_waits, time_left),
            _Retryable,
            max_tries=max_retries + 1,
            jitter=None,
            giveup=give_up,
            on_backoff=on_backoff,
            on_giveup=on_giveup,
            raise_on_giveup=True,
            logger=None,
        )(retried)
        try:
            return retrying()
        except _Retryable as exc:
            error = exc.error
        except _RequestError as exc:
            error = exc
        error.attempts = attempts
        raise error from None

    def download(self, url: str, destination: str | os.PathLike[str], *, options: RequestOptions | None = None) -> Path:
        """Stream a GET body to ``destination`` atomically (temporary file, then rename)."""
        target = Path(destination)
        if not target.parent.is_dir():
            raise InvalidParameterError("destination", f"directory {str(target.parent)!r} does not exist")
        if target.is_dir():
            raise InvalidParameterError("destination", f"{str(target)!r} is a directory; name the file to write")

        def save(raw: RawResponse) -> Path:
            return target

        # A download is whatever the resource is (CSV, an image), not the API's JSON.
        headers = dict((options.extra_headers if options else None) or {})
        headers.setdefault("Accept", "*/*")
        options = dataclasses.replace(options or RequestOptions(), extra_headers=headers)
        self._local.stream_to = target
        try:
            return self.request("GET", url, parse=save, options=options)
        finally:
            self._local.stream_to = None

    # -- one attempt ---------------------------------------------------------------------------
    def _headers(
        self, url: str, on_base: bool, content_type: str | None, extra: Mapping[str, str] | None, cid: str
    ) -> dict[str, str]:
        headers = {**self._static_headers, "X-Request-Id": cid}
        if on_base or _may_carry_credentials(url, self._base_host):
            auth = self._auth if self._auth is not None else self.credentials.header()
            if auth:
                headers["Authorization"] = auth
        if content_type:
            headers["Content-Type"] = content_type
        if extra:
            headers.update(extra)
        return headers

    def _acquire(self, left: float | None, where: dict[str, Any]) -> None:
        if self.limiter is None:
            return
        waited = self.limiter.acquire(timeout=left)
        if waited is None:
            raise APITimeoutError("the deadline would run out while waiting for the rate limiter", **where)
        if waited > 0.001:
            self.metrics.record_wait(waited)
            if _log.is_enabled():
                _log.get_logger().bind(correlation_id=where["request_id"]).debug(
                    "waited {:.3f}s for the rate limiter", waited
                )

    def _send(
        self,
        method: str,
        url: str,
        shown: str,
        body: bytes | None,
        content_type: str | None,
        extra_headers: Mapping[str, str] | None,
        timeout: float,
        left: float | None,
        cid: str,
        attempt: int,
    ) -> RawResponse:
        where: dict[str, Any] = {"method": method, "url": shown, "request_id": cid, "attempts": attempt}
        self._acquire(left, where)
        if left is not None:
            timeout = max(0.001, min(timeout, left))
        on_base = url.startswith(self._base_prefix)
        headers = self._headers(url, on_base, content_type, extra_headers, cid)
        stream_to: Path | None = getattr(self._local, "stream_to", None)
        timeouts = self._timeout if timeout == self.timeout else urllib3.Timeout(connect=timeout, read=timeout)
        t0 = time.monotonic()
        try:
            if on_base and self._direct and stream_to is None:
                # Straight to the base host's pool: PoolManager.request would re-parse the URL each time.
                response = self._base_pool().urlopen(
                    method,
                    url[len(self.base_url) :],
                    body=body,
                    headers=headers,
                    timeout=timeouts,
                    retries=_NO_RETRIES,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=stream_to is None,
                )
            else:
                # A download may be redirected to storage elsewhere: PoolManager follows it and drops
                # the Authorization header when the host changes. API calls never follow redirects.
                response = self._pool.request(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    timeout=timeouts,
                    retries=_NO_RETRIES if stream_to is None else _DOWNLOAD_REDIRECTS,
                    redirect=stream_to is not None,
                    preload_content=stream_to is None,
                )
            if stream_to is not None and 200 <= response.status < 300:
                data = b""
                _stream(response, stream_to)
            else:
                data = response.data if stream_to is None else response.read()
        except (NewConnectionError, ConnectTimeoutError) as exc:
            # NewConnectionError subclasses ConnectTimeoutError: neither sent a byte of the request.
            self.metrics.record_failure()
            cls = APIConnectionError if isinstance(exc, NewConnectionError) else APITimeoutError
            raise _Retryable(cls(f"could not connect: {_reason(exc)}", **where), reached=False) from None
        except ReadTimeoutError:
            self.metrics.record_failure()
            raise _Retryable(APITimeoutError(f"no response within {timeout:g}s", **where), reached=True) from None
        except SSLError as exc:
            self.metrics.record_failure()
            raise APIConnectionError(f"TLS failed: {_reason(exc)}", **where) from None
        except (ProtocolError, ProxyError, DecodeError) as exc:
            self.metrics.record_failure()
            text = _reason(exc)
            error: _RequestError
            if isinstance(exc, DecodeError):
                error = ResponseDecodeError(f"could not decode the response: {text}", **where)
            elif isinstance(exc, ProtocolError) and _truncated(exc):
                error = ResponseDecodeError(f"the response body was truncated: {text}", **where)
            else:
                error = APIConnectionError(f"the connection failed: {text}", **where)
            raise _Retryable(error, reached=True) from None
        except (HTTPError, OSError) as exc:
            self.metrics.record_failure()
            raise _Retryable(APIConnectionError(f"the request failed: {_reason(exc)}", **where), reached=True) from None
        elapsed = time.monotonic() - t0
        status = response.status
        resp_headers = response.headers
        self.metrics.record_response(status, elapsed)
        if self.limiter is not None:
            self.limiter.observe(resp_headers, rejected=status == 429)
        request_id = next((resp_headers[h] for h in _REQUEST_ID_HEADERS if h in resp_headers), cid)
        raw = RawResponse(method, where["url"], status, resp_headers, elapsed, attempt, request_id, data)
        self._local.last = raw
        if _log.is_enabled():
            _log.get_logger().bind(correlation_id=cid).info(
                "{} {} -> {} in {:.0f} ms (attempt {}, rate-limit remaining {})",
                method,
                where["url"],
                status,
                elapsed * 1000,
                attempt,
                resp_headers.get("X-Discogs-Ratelimit-Remaining", "?"),
            )
        if 200 <= status < 300:
            return raw
        message, parsed = _error_message(data, status, resp_headers.get("Content-Type", ""))
        if 300 <= status < 400:
            where_to = _log.mask(resp_headers.get("Location", "nowhere"))
            message = f"HTTP {status} redirect to {where_to} (API calls do not follow redirects)"
        kw: dict[str, Any] = {**where, "status_code": status, "headers": resp_headers, "body": parsed}
        kw["request_id"] = request_id
        err: APIError
        if status == 429:
            err = RateLimitError(message, retry_after=_retry_after(resp_headers), **kw)
        else:
            err = error_for_status(status)(message, **kw)
        if status in _RETRY_STATUSES:
            raise _Retryable(err, reached=True)
        raise err


def _stream(response: urllib3.BaseHTTPResponse, target: Path) -> None:
    """Copy a body to ``target`` in chunks through a temporary file in the same directory.

    A failure of the local disk is a :class:`DownloadError` (not retried); one of the connection
    stays a urllib3 error for the caller to map and retry.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        response.release_conn()
        raise DownloadError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.stream(64 * 1024):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DownloadError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        response.release_conn()


def _encode_body(json: Any, fields: Mapping[str, Any] | None) -> tuple[bytes | None, str | None]:
    if fields is not None:
        body, content_type = urllib3.encode_multipart_formdata(dict(fields))
        return body, content_type
    if json is not None:
        try:
            text = _json.dumps(json, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError("json", f"cannot be sent as JSON: {exc}") from None
        return text.encode("utf-8"), "application/json"
    return None, None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _may_carry_credentials(url: str, base_host: str) -> bool:
    """Credentials go to the API's own host or Discogs' (image) hosts, and only over https.

    The base URL was checked at construction (plain http only on loopback); an absolute URL given
    later (an image, ``request()``) is checked here, so a token never crosses the network in clear.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host != base_host and host != "discogs.com" and not host.endswith(".discogs.com"):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host == base_host and is_loopback(host))


def _path_of(url: str) -> str:
    """The URL as it may appear in logs and errors (credentials never are in it; masked anyway).

    Path segments are percent-encoded, so only a query can hold ``token=...``: without one, the
    registered secrets are all there is to hide (and the regex is skipped on the hot path).
    """
    return _log.mask(url) if "=" in url else _log.mask_secrets(url)


def _reason(exc: BaseException) -> str:
    return _log.mask(str(getattr(exc, "reason", None) or exc))

"""The request pipeline without I/O: what to send, what an answer means, whether and when to try again.

Both transport shells (urllib3 for the sync client, aiohttp for the async one) are thin loops around
these pieces: they build a :class:`Call`, send one attempt with their library, turn what came back
into a :class:`RawResponse` (:func:`received`) or a :class:`Failure` (:func:`failure`), and ask
:func:`next_wait` how long to sleep before the next attempt. Nothing here opens a socket or sleeps,
so the retry policy can be read, and tested, as plain functions.

The policy: 429 and 5xx answers and broken connections are retried with capped exponential backoff
and full jitter (``Retry-After`` honoured exactly), within ``max_retries`` and the call's
``deadline``. A request that may have reached the server is only repeated when repeating it is
harmless: GET/HEAD/OPTIONS, or a 429 (Discogs rejects those before doing any work).
"""

from __future__ import annotations

import dataclasses
import json as _json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus, urlsplit

from . import log as _log
from . import waits
from .auth import Credentials
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CallCancelledError,
    InvalidParameterError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    _RequestError,
    error_for_status,
)
from .log import mask_headers
from .params import check_url_query, is_token
from .urls import (
    Origin,
    UnsafeURLError,
    base_may_carry_credentials,
    check_path,
    may_carry_credentials,
    origin_of,
    redirect_refusal,
)

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "Call",
    "Failure",
    "RawResponse",
    "RequestBuilder",
    "RequestOptions",
    "backoff_wait",
    "encode_body",
    "failure",
    "next_wait",
    "received",
    "retry_after",
    "shown_url",
    "status_error",
]

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 0.5  # seconds before the first retry, doubled each time, at most BACKOFF_CAP
BACKOFF_CAP = 30.0
MAX_RETRY_AFTER = 120.0  # a server asking for longer gets the RateLimitError, with its retry_after
REQUEST_ID_HEADERS = ("X-Request-Id", "X-Amzn-Trace-Id", "CF-Ray")


@dataclass(frozen=True)
class RequestOptions:
    """Per-call overrides; None means "use the client's setting"."""

    timeout: float | None = None
    max_retries: int | None = None
    deadline: float | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, Any] | None = None
    cache: bool | None = None  # False: neither read nor fill the response cache for this call


@dataclass(frozen=True)
class RawResponse:
    """The HTTP side of the last response: status, headers (rate-limit figures among them), timing.

    ``headers`` are masked the way :attr:`APIError.headers` are (a server may echo credentials);
    the runtime reads the unmasked ones.
    """

    method: str
    url: str
    status: int
    raw_headers: Mapping[str, str] = field(repr=False)
    elapsed: float
    attempts: int
    request_id: str
    content: bytes = field(default=b"", repr=False)
    from_cache: bool = False  # served by the response cache: no request was sent (attempts is 0)

    @cached_property
    def headers(self) -> Mapping[str, str]:
        return mask_headers(self.raw_headers)


@dataclass(slots=True)
class Call:
    """One logical call, the same for each of its attempts: what to send, its limits and its clock.

    ``url`` is what goes on the wire; ``shown`` is the same URL as it may appear in logs and errors.
    ``last`` is the error of the latest failed attempt, named when the deadline runs out.
    """

    method: str
    url: str
    shown: str
    body: bytes | None
    content_type: str | None
    extra_headers: Mapping[str, str] | None
    timeout: float
    deadline: float | None
    max_retries: int
    origin: Origin | None = None  # where an absolute URL connects; None for a path under the base URL
    cid: str = field(default_factory=lambda: os.urandom(6).hex())
    started: float = field(default_factory=time.monotonic)
    attempts: int = 0
    last: _RequestError | None = None

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT

    def time_left(self) -> float | None:
        """Seconds until the deadline (negative once past it), or None without one."""
        return None if self.deadline is None else self.deadline - (time.monotonic() - self.started)

    def where(self) -> dict[str, Any]:
        """What every error of this call carries to be traced (never the token)."""
        return {"method": self.method, "url": self.shown, "request_id": self.cid, "attempts": self.attempts}

    def begin_attempt(self) -> float | None:
        """Count an attempt and return the time left; past the deadline, the timeout names the last failure."""
        left = self.time_left()
        if left is not None and left <= 0:
            why = " before the first attempt" if self.last is None else f"; the last attempt failed with: {self.last}"
            raise APITimeoutError(f"the {self.deadline:g}s deadline ran out{why}", **self.where())
        self.attempts += 1
        return left

    def attempt_timeout(self, left: float | None) -> float:
        """The socket timeout of an attempt: the call's ``timeout``, cut to what the deadline leaves."""
        return self.timeout if left is None else max(0.001, min(self.timeout, left))


class Failure(Exception):
    """An attempt that failed in a way another attempt may fix (a shell raises it, :func:`next_wait` judges it).

    ``reached`` says the server may have acted on the request (so only a harmless one is repeated).
    """

    def __init__(self, error: _RequestError, *, reached: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.reached = reached
        self.retry_after: float | None = getattr(error, "retry_after", None)


class _Cancelling(threading.local):
    event: threading.Event | None = None  # a class default: no AttributeError raised and caught on every check


_cancelling = _Cancelling()


@contextmanager
def cancel_when(event: threading.Event) -> Iterator[None]:
    """Within the block, this thread's calls send no further attempt once ``event`` is set.

    For callers that run the sync client in a worker thread they cannot interrupt (the MCP server
    answering a cancelled tool call): a request still waiting for the rate limiter or a retry when
    its caller gives up must not go out later, since a write would then still happen. The shells
    check it after the limiter's wait, just before sending (:func:`check_cancelled`).
    """
    previous = _cancelling.event
    _cancelling.event = event
    try:
        yield
    finally:
        _cancelling.event = previous


def check_cancelled(call: Call) -> None:
    """Raise a final :class:`Failure` (nothing was sent) when the call's caller has cancelled it."""
    event = _cancelling.event
    if event is not None and event.is_set():
        raise Failure(CallCancelledError("cancelled by its caller before it was sent", **call.where()), reached=False)


# -- building the request ---------------------------------------------------------------------------


def query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def with_query(url: str, query: Mapping[str, Any] | None) -> str:
    """``url`` with the query's non-None values appended (booleans as Discogs writes them), as ``urlencode`` would."""
    pairs = [f"{_quoted(k)}={_quoted(query_value(v))}" for k, v in (query or {}).items() if v is not None]
    if pairs:
        url += ("&" if "?" in url else "?") + "&".join(pairs)
    return url


_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"


def _quoted(text: str) -> str:
    """``quote_plus(text)``, skipped when nothing in it needs escaping (``per_page``, ``2``).

    A list page's query is built on every request: ``urlencode`` costs 1.4 µs a pair, this check 0.1.
    """
    return quote_plus(text) if text.rstrip(_UNRESERVED) else text


def encode_body(json: Any, fields: Mapping[str, Any] | None) -> tuple[bytes | None, str | None]:
    """(body, content type) for a JSON or multipart request; (None, None) for neither."""
    if fields is not None:
        import urllib3  # its multipart encoder is pure; both shells have urllib3 installed

        body, content_type = urllib3.encode_multipart_formdata(dict(fields))
        return body, content_type
    if json is not None:
        try:
            text = _json.dumps(json, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError("json", f"cannot be sent as JSON: {exc}") from None
        except RecursionError:
            raise InvalidParameterError("json", "is nested too deeply to be sent as JSON") from None
        return text.encode("utf-8"), "application/json"
    return None, None


def shown_url(url: str) -> str:
    """The URL as it may appear in logs and errors (credentials never are in it; masked anyway).

    Path segments are percent-encoded, so only a query can hold ``token=...``: without one, the
    registered secrets are all there is to hide (and the regex is skipped on the hot path).
    """
    return _log.mask(url) if "=" in url else _log.mask_secrets(url)


# -- reading the answer ---------------------------------------------------------------------------------


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None.

    Zero, negative, NaN or a date already past are None too: honoured, they would retry at once, again
    and again through a storm of 429s; the backoff spaces those retries instead.
    """
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        from email.utils import parsedate_to_datetime  # rare, and the email package is slow to import

        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return seconds if seconds > 0 else None


def received(call: Call, status: int, headers: Mapping[str, str], content: bytes, elapsed: float) -> RawResponse:
    """The response of the current attempt, with the server's request id when it sent one."""
    request_id = next((headers[h] for h in REQUEST_ID_HEADERS if h in headers), call.cid)
    return RawResponse(call.method, call.shown, status, headers, elapsed, call.attempts, request_id, content)


def _excerpt(data: bytes, limit: int = 200) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return " ".join(text.split())


def _masked(value: Any) -> Any:
    """The error body kept on an exception, with secrets hidden in every string it holds."""
    if isinstance(value, str):
        return _log.mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def error_message(data: bytes, status: int, content_type: str) -> tuple[str, Any]:
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


def status_error(raw: RawResponse) -> APIError | Failure | None:
    """None for a 2xx answer; else its typed error, wrapped in a :class:`Failure` when it may be retried."""
    status = raw.status
    if 200 <= status < 300:
        return None
    headers = raw.raw_headers
    message, parsed = error_message(raw.content, status, headers.get("Content-Type", ""))
    if 300 <= status < 400:
        location = headers.get("Location", "")
        why = redirect_refusal(raw.url, location) if location else None
        why = f"not followed: {why}" if why else "API calls do not follow redirects; downloads follow 5"
        message = f"HTTP {status} redirect to {_log.mask(location or 'nowhere')} ({why})"
    kw: dict[str, Any] = {
        "method": raw.method,
        "url": raw.url,
        "request_id": raw.request_id,
        "attempts": raw.attempts,
        "status_code": status,
        "headers": headers,
        "body": parsed,
    }
    err: APIError
    if status == 429:
        err = RateLimitError(message, retry_after=retry_after(headers), **kw)
    else:
        err = error_for_status(status)(message, **kw)
    return Failure(err, reached=True) if status in RETRY_STATUSES else err


FailureKind = Literal[
    "connect", "connect_timeout", "read_timeout", "deadline", "tls", "truncated", "decode", "connection", "request"
]


def failure(call: Call, kind: FailureKind, reason: str, timeout: float) -> Failure | _RequestError:
    """The error for an attempt that got no usable answer, and whether it may be retried.

    A shell maps its library's exceptions to one of these kinds. Only ``connect`` and
    ``connect_timeout`` are known not to have reached the server; TLS failures are not retried.
    """
    reason = _log.mask(reason)
    where = call.where()
    if kind == "connect":
        return Failure(APIConnectionError(f"could not connect: {reason}", **where), reached=False)
    if kind == "connect_timeout":
        return Failure(APITimeoutError(f"could not connect: {reason}", **where), reached=False)
    if kind == "read_timeout":
        left = call.time_left()
        if left is None or left > 0.01:
            return Failure(APITimeoutError(f"no complete response within {timeout:g}s", **where), reached=True)
        # the attempt had only what the deadline left: it is the deadline that ran out
        kind, reason = "deadline", f"the {call.deadline:g}s deadline ran out"
    if kind == "deadline":  # what failed before says why there were retries at all
        before = f"; the attempt before failed with: {call.last}" if call.last is not None else ""
        return Failure(APITimeoutError(f"{reason} during attempt {call.attempts}{before}", **where), reached=True)
    if kind == "tls":
        return APIConnectionError(f"TLS failed: {reason}", **where)
    if kind == "truncated":
        return Failure(ResponseDecodeError(f"the response body was truncated: {reason}", **where), reached=True)
    if kind == "decode":
        return Failure(ResponseDecodeError(f"could not decode the response: {reason}", **where), reached=True)
    if kind == "connection":
        return Failure(APIConnectionError(f"the connection failed: {reason}", **where), reached=True)
    return Failure(APIConnectionError(f"the request failed: {reason}", **where), reached=True)


def overrun(call: Call, timeout: float) -> Failure | _RequestError:
    """An attempt cut off by its wall-clock bound: the deadline ran out, or the attempt's ``timeout`` did
    (:func:`failure` tells which)."""
    return failure(call, "read_timeout", "the answer did not complete in time", timeout)


def too_large(call: Call, limit: int, setting: str) -> ResponseTooLargeError:
    """An answer past the size cap: final (the same answer would come again), and says which setting to raise."""
    return ResponseTooLargeError(
        f"the response is larger than {setting}={limit:,} bytes once decompressed "
        f"(raise {setting} if such an answer is expected)",
        transient=False,
        **call.where(),
    )


# -- whether, and when, to try again ------------------------------------------------------------------------


def backoff_wait(retry: int, left: float | None) -> float:
    """Capped exponential backoff with full jitter before retry number ``retry`` (0 for the first).

    Under a deadline the wait takes at most half of what is left, so another attempt still fits.
    """
    import backoff  # only once a retry is needed: it imports asyncio

    wait = float(backoff.full_jitter(min(BACKOFF_CAP, BACKOFF_BASE * 2**retry)))
    return wait if left is None else max(0.0, min(wait, left / 2))


def next_wait(call: Call, failed: Failure) -> float | None:
    """Seconds to sleep before the next attempt of ``call``, or None to give up with ``failed.error``.

    Gives up when the retries are spent, when the request may have reached the server and is not
    harmless to repeat (anything but GET/HEAD/OPTIONS, a 429 excepted), when the server's
    ``Retry-After`` exceeds :data:`MAX_RETRY_AFTER` or the time left, or when the deadline has run out.
    """
    call.last = failed.error
    if call.attempts > call.max_retries or isinstance(failed.error, CallCancelledError):
        return None
    if failed.reached and not call.idempotent and not isinstance(failed.error, RateLimitError):
        return None  # the server may have acted on it: never create anything twice
    left = call.time_left()
    if left is not None and left <= 0:
        return None
    if failed.retry_after is not None:
        if failed.retry_after > MAX_RETRY_AFTER or (left is not None and failed.retry_after > left):
            return None
        return failed.retry_after
    return backoff_wait(call.attempts - 1, left)


# -- what a user can read about it ------------------------------------------------------------------------


def log_response(call: Call, raw: RawResponse) -> None:
    if _log.is_enabled():
        _log.get_logger().bind(correlation_id=call.cid).info(
            "{} {} -> {} in {:.0f} ms (attempt {}, rate-limit remaining {})",
            call.method,
            call.shown,
            raw.status,
            raw.elapsed * 1000,
            call.attempts,
            raw.raw_headers.get("X-Discogs-Ratelimit-Remaining", "?"),
        )


def log_retry(call: Call, wait: float, failed: Failure) -> None:
    error = failed.error
    what = _log.mask(str(getattr(error, "message", error)))  # without the URL __str__ appends
    status = getattr(error, "status_code", None)
    what = f"Discogs answered {status}: {what}" if status else what
    waits.announce(wait, f"{what} Then {call.method} {call.shown} again", log=False)
    if _log.is_enabled():
        _log.get_logger().bind(correlation_id=call.cid).warning(
            "retrying {} {} in {:.2f}s after attempt {}: {}", call.method, call.shown, wait, call.attempts, failed.error
        )


def log_give_up(call: Call, failed: Failure) -> None:
    if _log.is_enabled():
        _log.get_logger().bind(correlation_id=call.cid).error(
            "giving up on {} {} after {} attempt(s): {}", call.method, call.shown, call.attempts, failed.error
        )


def log_limiter_wait(call: Call, waited: float) -> None:
    if _log.is_enabled():
        _log.get_logger().bind(correlation_id=call.cid).debug("waited {:.3f}s for the rate limiter", waited)


# -- the client's fixed facts ----------------------------------------------------------------------------------


class RequestBuilder:
    """What every request of one client shares: base URL, credentials, defaults, fixed headers.

    It turns a method, a path and per-call options into a :class:`Call`, and gives each attempt its
    headers (OAuth signs every attempt afresh: nonce, timestamp; other credentials never change).
    """

    def __init__(self, settings: Settings, credentials: Credentials, user_agent: str) -> None:
        base_url = settings.base_url
        self.base_url = base_url
        self.credentials = credentials
        self.timeout = settings.timeout
        self.max_retries = settings.max_retries
        self.deadline = settings.deadline
        self.base_prefix = base_url + "/"
        self.credentials_hosts = credentials_hosts = settings.credentials_hosts
        self._base_origin = origin_of(base_url, cross_check=False)  # settings refused what parsers disagree on
        self._base_carries = base_may_carry_credentials(self._base_origin, credentials_hosts)
        self.static_headers = {  # the same on every request of this client
            "User-Agent": user_agent,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
        }
        self._auth = None if credentials.kind == "oauth" else credentials.header()

    def url_for(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        """An absolute URL as it is, else the path under the base URL; with the query appended."""
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = self.base_url + (path if path.startswith("/") else "/" + path)
        return with_query(url, query)

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        fields: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
        url_parameter: str = "path",
    ) -> Call:
        """Everything an attempt needs, checked and encoded once (bad input fails here, before sending).

        An absolute URL is parsed once, the way the connection will read it (:func:`.urls.origin_of`);
        ``url_parameter`` names the argument it came from in the error when it is refused.
        """
        if not isinstance(method, str) or not is_token(method):
            raise InvalidParameterError("method", f"{method!r} is not an HTTP method such as 'GET' or 'POST'")
        method = method.upper()
        opts = options or _NO_OPTIONS
        if opts.extra_query:
            query = {**(query or {}), **opts.extra_query}
        origin = None
        try:
            if path.startswith(("http://", "https://")):
                origin = origin_of(path)
            else:
                check_path(path)
        except UnsafeURLError as exc:
            raise InvalidParameterError(url_parameter, f"{shown_url(path)!r} {exc}") from None
        if "?" in path:
            check_url_query(url_parameter, path)  # "/x?token=…": the rule request(params=…) is held to
        url = self.url_for(path, query)
        body, content_type = encode_body(json, fields)
        return Call(
            method=method,
            url=url,
            shown=shown_url(url),
            body=body,
            content_type=content_type,
            extra_headers=opts.extra_headers,
            timeout=self.timeout if opts.timeout is None else opts.timeout,
            deadline=self.deadline if opts.deadline is None else opts.deadline,
            max_retries=self.max_retries if opts.max_retries is None else opts.max_retries,
            origin=origin,
        )

    def on_base(self, url: str) -> bool:
        return url.startswith(self.base_prefix)

    def carries_credentials(self, call: Call) -> bool:
        """Credentials go where :func:`.urls.may_carry_credentials` allows (``credentials_hosts`` widens it)."""
        if call.origin is None:
            return self._base_carries
        return may_carry_credentials(call.origin, self._base_origin, self.credentials_hosts)

    def headers(self, call: Call) -> dict[str, str]:
        """The headers of one attempt; credentials only where :meth:`carries_credentials` allows."""
        return {**self.static_headers, **self.call_headers(call)}

    def call_headers(self, call: Call) -> dict[str, str]:
        """What :meth:`headers` adds to :attr:`static_headers` for this attempt (and may override in them).

        The async shell gives aiohttp the static ones once, as the session's defaults, and these per request.
        """
        headers = {"X-Request-Id": call.cid}
        if self.carries_credentials(call):
            auth = self._auth if self._auth is not None else self.credentials.header()
            if auth:
                headers["Authorization"] = auth
        if call.content_type:
            headers["Content-Type"] = call.content_type
        if call.extra_headers:
            headers.update(call.extra_headers)
        return headers


_NO_OPTIONS = RequestOptions()


# -- downloads (shared by both shells; added for the async client) ------------------------------------------


def download_target(destination: str | os.PathLike[str]) -> Path:
    """The file a download writes, refused before sending when its directory is missing or it is one."""
    target = Path(destination)
    if not target.parent.is_dir():
        raise InvalidParameterError("destination", f"directory {str(target.parent)!r} does not exist")
    if target.is_dir():
        raise InvalidParameterError("destination", f"{str(target)!r} is a directory; name the file to write")
    return target


def download_options(options: RequestOptions | None) -> RequestOptions:
    """A download accepts whatever the resource is (CSV, an image), not the API's JSON."""
    headers = dict((options.extra_headers if options else None) or {})
    headers.setdefault("Accept", "*/*")
    return dataclasses.replace(options or _NO_OPTIONS, extra_headers=headers)


def proxy_for(base_url: str) -> str | None:
    """The proxy HTTPS_PROXY/HTTP_PROXY/NO_PROXY give for the base URL, read once per client.

    Neither shell's library is left to read the environment itself: urllib3 does not, and aiohttp's
    ``trust_env`` looks it up (and ``.netrc``) in a worker thread on every request.
    """
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(base_url)
    proxy = getproxies().get(parts.scheme or "https")
    return proxy if proxy and not proxy_bypass(parts.hostname or "") else None

"""The runtime's client: settings, transport, and the calls generated methods make.

Layers, bottom up: this module knows nothing of the spec; the generated ``Discogs``
(``_generated/client.py``) adds the resource tree on top of :class:`BaseClient`; the public
``Discogs`` (``lib/client.py``) subclasses it with the hand-written features that call generated resources.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Never, Protocol, Self, TypeVar

from . import pagination, params
from .auth import Credentials
from .config import Settings
from .errors import ConfigurationError, PermissionDeniedError, ResponseDecodeError, ResponseValidationError
from .metrics import Metrics, MetricsSnapshot
from .operations import OperationInfo
from .pagination import Page
from .ratelimit import RateLimiter, RateLimitState, parse_rate_headers
from .transport import RawResponse, RequestOptions, Transport

if TYPE_CHECKING:  # pydantic is imported with the first model, not with the client
    from pydantic import BaseModel

    from .cache_store import ResponseCache

__all__ = ["BaseClient", "ClientBase", "Resource", "decode_form", "decode_model", "not_json", "options_of"]

M = TypeVar("M", bound="BaseModel")
I = TypeVar("I")  # noqa: E741


class _Transport(Protocol):
    """What the shared client code reads from either transport shell."""

    credentials: Credentials
    limiter: RateLimiter | None
    metrics: Metrics

    @property
    def last_response(self) -> RawResponse | None: ...


TT = TypeVar("TT", bound=_Transport)  # the transport: urllib3 (sync) or aiohttp (async)

_AUTO: Any = "auto"


def not_json(raw: RawResponse, label: str, *, deep: bool = False) -> ResponseDecodeError:
    """An empty body is what the server meant to send (no retry); a garbled one may be cut off.

    ``deep``: JSON nested past the parser's limit; it would come again the same, so it is not retried.
    """
    empty = not raw.content.strip()
    what = "an empty body" if empty else "a body that is not valid JSON"
    if deep:
        what = "a JSON body nested too deeply to decode"
    return ResponseDecodeError(
        f"{label}: HTTP {raw.status} with {what}",
        status_code=raw.status,
        transient=not (empty or deep),
        body_excerpt=raw.content[:200].decode("utf-8", "replace"),
        method=raw.method,
        url=raw.url,
        request_id=raw.request_id,
    )


def _validate_json(model: type[M], content: bytes) -> M:
    """``model.model_validate_json`` with the cyclic garbage collector paused.

    A page whose items hold nested models (a collection item's ``basic_information`` with its
    artists, labels and formats) builds thousands of tracked objects, and every 700 allocations the
    collector runs over the page being built; pausing it runs it once, after (a 100-item collection
    page of real items, about 1,800 tracked objects: 0.82 ms to validate paused, 1.28 ms not).
    Validation makes no cycles for it to find. A collector that the application turned off stays off.
    """
    if not gc.isenabled():
        return model.model_validate_json(content)
    gc.disable()
    try:
        return model.model_validate_json(content)
    finally:
        gc.enable()


def decode_model(model: type[M], raw: RawResponse, operation: str) -> M:
    """Validate a JSON body straight from bytes; bad JSON is a decode error, a bad shape names the field."""
    try:
        return _validate_json(model, raw.content)
    except ValueError as exc:  # pydantic's ValidationError is one; it is loaded by now (model is a model)
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        errors = exc.errors(include_url=False, include_input=False)
        invalid = [str(e["msg"]) for e in errors if e["type"] == "json_invalid"]
        if invalid:
            raise not_json(raw, operation, deep=any("recursion limit" in m for m in invalid)) from None
        where = {"method": raw.method, "url": raw.url, "request_id": raw.request_id}
        first = errors[0]
        field = ".".join(str(p) for p in first["loc"]) or "(body)"
        error = ResponseValidationError(
            f"{operation}: the response does not match {model.__name__}: field {field!r}: {first['msg']}",
            errors=[dict(e) for e in errors],
            **where,
        )
    # Raised outside the handler: pydantic's error, kept as __context__ otherwise, quotes the body's values.
    raise error


def _unknown_arguments(cls: str, unknown: Mapping[str, Any], init: Any) -> TypeError:
    """``Discogs() got an unexpected keyword argument 'tokn' (did you mean 'token'?)``."""
    import difflib
    import inspect

    known = [name for name in inspect.signature(init).parameters if name not in ("self", "unknown")]
    name = next(iter(unknown))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (it takes: {', '.join(known)})"
    return TypeError(f"{cls}() got an unexpected keyword argument {name!r}{hint}")


def decode_form(raw: RawResponse) -> dict[str, str]:
    """A form-encoded answer (the OAuth token steps) as a dict."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.content.decode("utf-8", "replace"), keep_blank_values=True))


class ClientBase(Generic[TT]):
    """What both clients share: their settings (one signature, one resolution), transport state, repr.

    A subclass builds its transport (:meth:`_make_transport`): urllib3 for :class:`BaseClient`,
    aiohttp for ``AsyncBaseClient``, from the same settings.
    """

    default_user_agent: ClassVar[str] = "musicagent"
    """Sent when no ``user_agent`` is configured; the public client names its version here."""

    def __init__(
        self,
        token: str | None = None,
        *,
        user_agent: str | None = None,
        base_url: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        rate_limit: tuple[int, float] | None = _AUTO,
        rate_limit_store: str | None = None,
        cache: str | None = None,
        cache_ttl: float | Mapping[str, float] | None = None,
        credentials_hosts: Sequence[str] | None = None,
        max_response_bytes: int | None = None,
        max_download_bytes: int | None = None,
        env: Mapping[str, str] | None = None,
        dotenv: str | os.PathLike[str] | None = None,
        **unknown: Never,
    ) -> None:
        """Arguments win over environment variables (``DISCOGS_TOKEN``, ``DISCOGS_BASE_URL``, ...),
        which win over a ``.env`` file in the working directory. ``rate_limit=(requests, seconds)``
        sizes the local limiter (default: 60/60 s with credentials, 25/60 s without); ``None`` turns
        it off. ``rate_limit_store`` shares the limit: ``sqlite:///path.db`` between processes,
        ``redis://host:6379/0`` between machines. Credentials are only sent to Discogs' hosts and
        loopback; ``credentials_hosts`` names other hosts (a proxy) that may receive them.
        ``max_response_bytes`` caps an answer held in memory, ``max_download_bytes`` a download,
        both counted after decompression.
        ``cache`` keeps answers (``memory``, ``sqlite:///path.db``, ``redis://host:6379/1``; off by
        default) for the spec's per-operation times, or ``cache_ttl`` seconds (a number, or
        ``{"artists.*": 604800}``).
        """
        if unknown:  # Python would name ClientBase.__init__; say the class the user wrote, and what was meant
            raise _unknown_arguments(type(self).__name__, unknown, ClientBase.__init__)
        arguments: dict[str, Any] = {
            "token": token,
            "user_agent": user_agent,
            "base_url": base_url,
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "access_token": access_token,
            "access_token_secret": access_token_secret,
            "timeout": timeout,
            "max_retries": max_retries,
            "deadline": deadline,
            "rate_limit_store": rate_limit_store,
            "cache": cache,
            "cache_ttl": cache_ttl,
            "credentials_hosts": credentials_hosts,
            "max_response_bytes": max_response_bytes,
            "max_download_bytes": max_download_bytes,
        }
        if rate_limit is not _AUTO:
            arguments["rate_limit"] = rate_limit
        settings = Settings.resolve(arguments, environ=env, dotenv=Path(dotenv) if dotenv is not None else None)
        if cache_ttl is not None and settings.cache is None:  # an argument that would silently do nothing
            raise ConfigurationError(
                "cache_ttl has no effect without a cache: pass cache='memory' (or sqlite:///…, redis://…) "
                "or set DISCOGS_CACHE"
            )
        self._settings = settings

        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        credentials = Credentials(
            token=secret(settings.token),
            consumer_key=settings.consumer_key,
            consumer_secret=secret(settings.consumer_secret),
            access_token=secret(settings.access_token),
            access_token_secret=secret(settings.access_token_secret),
        )
        rate = settings.effective_rate_limit
        limiter = RateLimiter(rate[0], rate[1], settings.rate_limit_store) if rate is not None else None
        self._transport = self._make_transport(
            settings,
            credentials=credentials,
            user_agent=settings.user_agent or self.default_user_agent,
            limiter=limiter,
            cache=self._open_cache(settings, credentials),
        )

    def _make_transport(self, settings: Settings, **parts: Any) -> TT:
        raise NotImplementedError  # pragma: no cover - each client builds its own

    def _open_cache(self, settings: Settings, credentials: Credentials) -> ResponseCache | None:
        if settings.cache is None:
            return None
        from .cache_store import open_cache  # only with a cache: it imports sqlite3

        return open_cache(
            settings.cache, credentials=credentials, ttl=settings.cache_ttl, operations=self._cache_operations()
        )

    def _cache_operations(self) -> Iterable[OperationInfo]:
        """The operations' cache rules (TTLs, invalidations); the layer above, which has the spec, says."""
        return ()

    def __repr__(self) -> str:
        kind = self._transport.credentials.kind
        return f"<{type(self).__name__} base_url={self._settings.base_url!r} auth={kind}>"

    # -- state a user can read -----------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def last_response(self) -> RawResponse | None:
        """The HTTP side of this thread's most recent response (status, headers, timing)."""
        return self._transport.last_response

    @property
    def rate_limit(self) -> RateLimitState:
        """The server's last rate-limit figures and the local limiter's state."""
        limiter = self._transport.limiter
        if limiter is None:
            last = self._transport.last_response
            limit, used, remaining = parse_rate_headers(last.headers) if last else (None, None, None)
            return RateLimitState(limit, used, remaining, None, None, None, None)
        return limiter.state()

    @property
    def metrics(self) -> MetricsSnapshot:
        """Requests, retries, 429s, limiter waits and latency percentiles so far."""
        return self._transport.metrics.snapshot()


class BaseClient(ClientBase[Transport]):
    """Configuration, connection pool, rate limiter and metrics shared by every resource."""

    def _make_transport(self, settings: Settings, **parts: Any) -> Transport:
        return Transport(settings, **parts)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections (the client stays usable; new connections open on demand)."""
        self._transport.close()

    # -- what generated methods call -----------------------------------------------------------
    def _fetch(
        self,
        operation: str,
        method: str,
        path: str,
        model: type[M],
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        fields: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> M:
        return self._transport.request(
            method,
            path,
            query=query,
            json=json,
            fields=fields,
            parse=lambda raw: decode_model(model, raw, operation),
            options=options,
            operation=operation,
        )

    def _fetch_none(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        fields: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> None:
        self._transport.request(
            method,
            path,
            query=query,
            json=json,
            fields=fields,
            parse=lambda raw: None,
            options=options,
            operation=operation,
        )

    def _fetch_form(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> dict[str, str]:
        return self._transport.request(
            method, path, query=query, parse=decode_form, options=options, operation=operation
        )

    def _download(
        self, operation: str, path: str, destination: str | os.PathLike[str], *, options: RequestOptions | None = None
    ) -> Path:
        return self._transport.download(path, destination, options=options)

    def _page(
        self,
        operation: str,
        path: str,
        model: type[BaseModel],
        items_field: str,
        item_type: type[I],
        *,
        query: dict[str, Any],
        limit: int | None,
        options: RequestOptions | None,
        page_cap: int | None = None,
        page_cap_hint: str = "",
    ) -> Page[I]:
        """Fetch one page now; the Page fetches the following ones on demand with the same query.

        ``page_cap`` and ``page_cap_hint`` come from the spec (``x-musicagent-page-cap``): a 403 past
        that page is explained with the hint rather than left as a bare "forbidden".
        """
        first = pagination.plan(query, limit)

        def fetch(number: int) -> Page[I]:
            try:
                body = self._fetch(
                    operation, "GET", path, model, query=pagination.query_for(query, first, number), options=options
                )
            except PermissionDeniedError as exc:
                pagination.explain_cap(exc, number, page_cap, page_cap_hint)
                raise
            return Page(body, items_field, fetch, limit=limit, page_number=number)

        return fetch(first)


class Resource:
    """Base of the generated resource classes: they only hold the client they call through."""

    __slots__ = ("_client",)

    def __init__(self, client: BaseClient) -> None:
        self._client = client


def options_of(
    timeout: float | None,
    max_retries: int | None,
    extra_headers: Mapping[str, str] | None,
    extra_query: Mapping[str, Any] | None,
    cache: bool | None = None,
) -> RequestOptions | None:
    """Per-call options, or None when none were given (the common case allocates nothing)."""
    if timeout is None and max_retries is None and extra_headers is None and extra_query is None and cache is None:
        return None
    if cache is not None:
        params.check_bool("cache", cache)
    if extra_headers is not None:
        params.check_headers("extra_headers", extra_headers)
    if extra_query is not None:
        params.check_query("extra_query", extra_query)
    if timeout is not None:
        params.check_number("timeout", timeout, exclusive_minimum=0)
    if max_retries is not None:
        params.check_int("max_retries", max_retries, minimum=0, maximum=20)
    return RequestOptions(
        timeout=timeout, max_retries=max_retries, extra_headers=extra_headers, extra_query=extra_query, cache=cache
    )

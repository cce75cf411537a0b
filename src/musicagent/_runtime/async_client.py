"""The runtime's asyncio client: the calls generated async methods make, over the aiohttp shell.

It mirrors :class:`~musicagent._runtime.client.BaseClient` call for call and shares everything that
is not I/O with it: settings, credentials and limiter come from the same :func:`client.configure`,
bodies are decoded by the same functions, pages are planned by the same pagination helpers. aiohttp is
imported on the first request, so importing this module (which every generated resource module
does) costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel

from . import core, pagination
from .async_transport import AsyncTransport
from .client import _AUTO, configure, decode_form, decode_model
from .config import Settings
from .errors import PermissionDeniedError
from .metrics import MetricsSnapshot
from .pagination import AsyncPage, AsyncPaginator
from .ratelimit import RateLimitState, parse_rate_headers

__all__ = ["AsyncBaseClient", "AsyncResource"]

M = TypeVar("M", bound=BaseModel)
I = TypeVar("I")  # noqa: E741


class AsyncBaseClient:
    """Configuration, aiohttp session, rate limiter and metrics shared by every async resource.

    Use it as ``async with`` (or call :meth:`aclose`) so the session's connections are closed.
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
        env: Mapping[str, str] | None = None,
        dotenv: str | os.PathLike[str] | None = None,
    ) -> None:
        """The same settings, from the same sources, as the sync client (see ``Discogs``)."""
        setup = configure(
            token=token,
            user_agent=user_agent,
            base_url=base_url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            timeout=timeout,
            max_retries=max_retries,
            deadline=deadline,
            rate_limit=rate_limit,
            rate_limit_store=rate_limit_store,
            env=env,
            dotenv=dotenv,
            default_user_agent=self.default_user_agent,
        )
        self._settings = setup.settings
        self._transport = AsyncTransport(setup.builder, setup.limiter)

    def __repr__(self) -> str:
        kind = self._transport.credentials.kind
        return f"<{type(self).__name__} base_url={self._settings.base_url!r} auth={kind}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the aiohttp session and its connections (a later call opens a new one)."""
        await self._transport.aclose()

    # -- state a user can read -----------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def last_response(self) -> core.RawResponse | None:
        """The HTTP side of this task's most recent response (status, headers, timing)."""
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

    # -- what generated methods call -----------------------------------------------------------
    async def _fetch(
        self,
        operation: str,
        method: str,
        path: str,
        model: type[M],
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        fields: Mapping[str, Any] | None = None,
        options: core.RequestOptions | None = None,
    ) -> M:
        return await self._transport.request(
            method,
            path,
            query=query,
            json=json,
            fields=fields,
            parse=lambda raw: decode_model(model, raw, operation),
            options=options,
        )

    async def _fetch_none(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        fields: Mapping[str, Any] | None = None,
        options: core.RequestOptions | None = None,
    ) -> None:
        await self._transport.request(
            method, path, query=query, json=json, fields=fields, parse=lambda raw: None, options=options
        )

    async def _fetch_form(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        options: core.RequestOptions | None = None,
    ) -> dict[str, str]:
        return await self._transport.request(method, path, query=query, parse=decode_form, options=options)

    async def _download(
        self,
        operation: str,
        path: str,
        destination: str | os.PathLike[str],
        *,
        options: core.RequestOptions | None = None,
    ) -> Path:
        return await self._transport.download(path, destination, options=options)

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
        options: core.RequestOptions | None,
        page_cap: int | None = None,
        page_cap_hint: str = "",
    ) -> AsyncPaginator[I]:
        """Nothing is sent yet: the paginator fetches the first page when awaited or iterated."""
        first = pagination.plan(query, limit)

        async def fetch(number: int) -> AsyncPage[I]:
            try:
                body = await self._fetch(
                    operation, "GET", path, model, query=pagination.query_for(query, first, number), options=options
                )
            except PermissionDeniedError as exc:
                pagination.explain_cap(exc, number, page_cap, page_cap_hint)
                raise
            return AsyncPage(body, items_field, fetch, limit=limit, page_number=number)

        return AsyncPaginator(fetch, first, limit)


class AsyncResource:
    """Base of the generated async resource classes: they only hold the client they call through."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncBaseClient) -> None:
        self._client = client

"""The runtime's asyncio client: the calls generated async methods make, over the aiohttp shell.

It mirrors :class:`~musicagent._runtime.client.BaseClient` call for call and shares everything that
is not I/O with it: the settings and their resolution (:class:`~musicagent._runtime.client.ClientBase`),
the decoding functions, the pagination helpers. aiohttp is
imported on the first request, so importing this module (which every generated resource module
does) costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import BaseModel

from . import core, pagination
from .async_transport import AsyncTransport
from .client import ClientBase, decode_form, decode_model
from .config import Settings
from .errors import PermissionDeniedError
from .pagination import AsyncPage, AsyncPaginator

__all__ = ["AsyncBaseClient", "AsyncResource"]

M = TypeVar("M", bound=BaseModel)
I = TypeVar("I")  # noqa: E741


class AsyncBaseClient(ClientBase[AsyncTransport]):
    """Configuration, aiohttp session, rate limiter and metrics shared by every async resource.

    The settings are the sync client's (:class:`ClientBase`: same arguments, environment, ``.env``).
    Use it as ``async with`` (or call :meth:`aclose`) so the session's connections are closed.
    """

    def _make_transport(self, settings: Settings, **parts: Any) -> AsyncTransport:
        return AsyncTransport(settings, **parts)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the aiohttp session and its connections (a later call opens a new one)."""
        await self._transport.aclose()

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
            operation=operation,
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
            method,
            path,
            query=query,
            json=json,
            fields=fields,
            parse=lambda raw: None,
            options=options,
            operation=operation,
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
        return await self._transport.request(
            method, path, query=query, parse=decode_form, options=options, operation=operation
        )

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

"""The public ``AsyncDiscogs``: the generated async operations plus the same hand-written features.

Composed like ``Discogs`` (``lib/client.py``): ``AsyncBaseClient`` (runtime, aiohttp shell) → generated
``AsyncDiscogs`` (the async resource tree, ``_generated/async_client.py``) → ``AsyncDiscogs`` (this
module). The features share their checks and parsing with the sync ones and only await the sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar

from .._generated import async_client as _generated
from .._runtime.client import options_of
from .._runtime.operations import OperationInfo
from .._runtime.params import check_query
from .._version import __version__
from .client import json_or_none
from .images import AsyncImagesResource
from .oauth import AsyncOAuthFlow

__all__ = ["AsyncDiscogs"]


class AsyncDiscogs(_generated.AsyncDiscogs):
    """The Discogs API client for asyncio: ``async with AsyncDiscogs(token=..., user_agent="app/1.0") as discogs``.

    Every method of ``Discogs``, with the same parameters, checks, results and errors, as a coroutine;
    list methods return an ``AsyncPaginator`` (``await`` it for the first page, ``async for`` it for
    every item). Close it with ``async with`` or ``await discogs.aclose()``.
    """

    default_user_agent: ClassVar[str] = f"musicagent/{__version__}"

    def _cache_operations(self) -> tuple[OperationInfo, ...]:
        """The spec's cache rules, as for ``Discogs`` (the same response cache plugs into both)."""
        from .._generated.operations import OPERATIONS

        return OPERATIONS

    @cached_property
    def images(self) -> AsyncImagesResource:
        """Download signed image URLs through the limiter: ``await discogs.images.download(url, path)``."""
        return AsyncImagesResource(self)

    def oauth_flow(self, *, callback: str | None = "oob") -> AsyncOAuthFlow:
        """The OAuth 1.0a steps for this client's consumer key and secret, awaited (see :class:`OAuthFlow`).

        ``callback`` is where Discogs sends the user after authorizing; ``"oob"`` (out of band) shows
        them a verifier code instead; ``None`` sends no ``oauth_callback`` at all.
        """
        return AsyncOAuthFlow(self, callback=callback)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
    ) -> Any:
        """Call any endpoint (one newer than the spec, say) with the same limiter, retries and errors.

        Returns the decoded JSON (None for an empty body). A GET is cached only when ``cache_ttl``
        says so (a number, or a ``"request"`` key): the spec knows nothing of the endpoint.
        """
        options = options_of(timeout, max_retries, extra_headers, None, cache)
        if params is not None:
            check_query("params", params)
        parse = json_or_none(f"{method.upper()} {path}")
        return await self._transport.request(
            method.upper(), path, query=params, json=json, parse=parse, options=options
        )

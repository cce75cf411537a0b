"""Image downloads: Discogs image URLs are signed, need credentials and count against the rate limit.

They live outside the API's path space (``i.discogs.com``), so they are not a spec operation; this
small resource sends them through the same transport (limiter, retries, errors) and writes the file
atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._runtime.client import options_of
from .._runtime.errors import InvalidParameterError

if TYPE_CHECKING:
    from .._runtime.async_client import AsyncBaseClient
    from .._runtime.client import BaseClient
    from .._runtime.core import RequestOptions

__all__ = ["AsyncImagesResource", "ImagesResource", "image_options"]


def image_options(url: str, timeout: float | None, max_retries: int | None) -> RequestOptions | None:
    """Check an image URL before anything is sent; the per-call options of its download."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameterError("url", "must be a non-empty image URL (Image.uri); images need credentials")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError("url", f"not an absolute http(s) URL: {url!r}")
    return options_of(timeout, max_retries, {"Accept": "image/*"}, None)


class ImagesResource:
    """``discogs.images``."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def download(
        self,
        url: str,
        destination: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Fetch the image at ``url`` (as found in ``Image.uri``) into ``destination``; returns the path.

        Image URLs are signed: use them exactly as Discogs sent them (editing one gives a 404).
        """
        options = image_options(url, timeout, max_retries)
        return self._client._transport.download(url, destination, options=options)


class AsyncImagesResource:
    """``discogs.images`` of ``AsyncDiscogs``."""

    def __init__(self, client: AsyncBaseClient) -> None:
        self._client = client

    async def download(
        self,
        url: str,
        destination: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Fetch the image at ``url`` (as found in ``Image.uri``) into ``destination``; returns the path.

        Image URLs are signed: use them exactly as Discogs sent them (editing one gives a 404).
        """
        options = image_options(url, timeout, max_retries)
        return await self._client._transport.download(url, destination, options=options)

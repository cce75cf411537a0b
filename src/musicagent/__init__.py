"""musicagent: a typed Python SDK for the Discogs API, generated from an OpenAPI description.

>>> from musicagent import Discogs
>>> discogs = Discogs(token="...", user_agent="myapp/1.0")
>>> discogs.artists.get(108713).name
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Silent until enable_logging(): no log record is made (and loguru is not imported) before that.
from ._runtime.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CallCancelledError,
    ConfigurationError,
    ConflictError,
    DiscogsError,
    DownloadError,
    ForbiddenError,
    InvalidParameterError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RateLimitStoreError,
    ResourceNotFoundError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from ._runtime.log import disable_logging, enable_logging
from ._runtime.pagination import Page, PageInfo
from ._runtime.ratelimit import RateLimitState
from ._runtime.transport import RawResponse
from ._version import __version__
from .lib.client import Discogs

if TYPE_CHECKING:
    from . import models as models
    from ._runtime.pagination import AsyncPage as AsyncPage
    from ._runtime.pagination import AsyncPaginator as AsyncPaginator
    from .lib.async_client import AsyncDiscogs as AsyncDiscogs

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncDiscogs",
    "AsyncPage",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "CallCancelledError",
    "ConfigurationError",
    "ConflictError",
    "Discogs",
    "DiscogsError",
    "DownloadError",
    "ForbiddenError",
    "InvalidParameterError",
    "MethodNotAllowedError",
    "NotFoundError",
    "Page",
    "PageInfo",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitStoreError",
    "RateLimitState",
    "RawResponse",
    "ResourceNotFoundError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "ServerError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "__version__",
    "disable_logging",
    "enable_logging",
    "models",
]


def __getattr__(name: str) -> Any:
    """``musicagent.models`` is imported on first use: building the models costs import time."""
    if name == "models":
        import importlib

        return importlib.import_module(".models", __name__)
    if name == "AsyncDiscogs":  # the async client (and aiohttp, on its first request) only when asked for
        from .lib.async_client import AsyncDiscogs

        return AsyncDiscogs
    if name in ("AsyncPage", "AsyncPaginator"):
        from ._runtime import pagination

        return getattr(pagination, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

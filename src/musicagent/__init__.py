"""musicagent: a typed Python SDK for the Discogs API, generated from an OpenAPI description.

>>> from musicagent import Discogs
>>> discogs = Discogs(token="...", user_agent="myapp/1.0")
>>> discogs.artists.get(108713).name
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from loguru import logger as _logger

_logger.disable("musicagent")  # a library stays silent until its user calls enable_logging()

from ._generated.client import Discogs  # noqa: E402
from ._runtime.errors import (  # noqa: E402
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    DiscogsError,
    ForbiddenError,
    InvalidParameterError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResourceNotFoundError,
    ResponseDecodeError,
    ResponseValidationError,
    ServerError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from ._runtime.log import disable_logging, enable_logging  # noqa: E402
from ._runtime.pagination import Page, PageInfo  # noqa: E402
from ._runtime.ratelimit import RateLimitState  # noqa: E402
from ._runtime.transport import RawResponse  # noqa: E402

if TYPE_CHECKING:
    from . import models as models

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "Discogs",
    "DiscogsError",
    "ForbiddenError",
    "InvalidParameterError",
    "MethodNotAllowedError",
    "NotFoundError",
    "Page",
    "PageInfo",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitState",
    "RawResponse",
    "ResourceNotFoundError",
    "ResponseDecodeError",
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
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

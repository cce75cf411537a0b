"""The exception hierarchy: every failure a user can meet is one of these.

Catching :class:`DiscogsError` catches everything the SDK raises on purpose; no bare urllib3, json or
pydantic exception escapes a request. Messages pass through :func:`~musicagent._runtime.log.mask`,
so a token echoed back by a proxy's error page never reaches a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .redact import mask, mask_data, mask_headers

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CallCancelledError",
    "ConfigurationError",
    "ConflictError",
    "DiscogsError",
    "DownloadError",
    "ForbiddenError",
    "InvalidParameterError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitStoreError",
    "ResourceNotFoundError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "ServerError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "error_for_status",
]


class DiscogsError(Exception):
    """Base of every musicagent error."""

    message: str

    def __init__(self, message: str) -> None:
        message = mask(message)
        super().__init__(message)
        self.message = message


class ConfigurationError(DiscogsError, ValueError):
    """A setting (argument, environment variable or `.env` entry) has a bad value."""


class DownloadError(DiscogsError):
    """A download arrived but could not be written where it was asked to go (a local disk problem).

    Not retried: asking the server again would not make the directory writable.
    """


class InvalidParameterError(DiscogsError, ValueError, TypeError):
    """An argument was rejected before any request was sent.

    It is both a ``ValueError`` and a ``TypeError`` so code written against either keeps working.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class _RequestError(DiscogsError):
    """An error tied to one request; carries what is needed to trace it (never the token)."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.method = method
        self.url = url
        self.request_id = request_id
        self.attempts = attempts
        super().__init__(message)

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return mask(f"{self.message}{where}{tries}")


class APIConnectionError(_RequestError):
    """The server could not be reached, or the connection broke before a full response arrived."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the timeout, or the call's deadline ran out."""


class RateLimitStoreError(APIConnectionError):
    """The shared rate-limit store (SQLite file, Redis server) failed; no request was sent."""


class CallCancelledError(_RequestError):
    """The call was cancelled by its caller (:func:`musicagent._runtime.core.cancel_when`) before an
    attempt was sent: that attempt never reached Discogs."""


class ResponseDecodeError(_RequestError):
    """The response body was not the JSON Discogs promises (an HTML proxy page, a truncated body…).

    ``transient`` says whether asking again may help (a cut-off body) or not (an empty one).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body_excerpt: str = "",
        transient: bool = True,
        **kw: Any,
    ) -> None:
        self.status_code = status_code
        self.body_excerpt = mask(body_excerpt)
        self.transient = transient
        super().__init__(message, **kw)


class ResponseTooLargeError(ResponseDecodeError):
    """The answer grew past ``max_response_bytes`` (or ``max_download_bytes``) once decompressed.

    Not retried: the server would send the same answer again. Memory stays bounded: decoding
    stops at the limit.
    """


class ResponseValidationError(_RequestError):
    """The body was JSON but did not match the operation's schema; names the field that failed."""

    def __init__(self, message: str, *, errors: list[dict[str, object]] | None = None, **kw: Any) -> None:
        self.errors = errors or []
        super().__init__(message, **kw)


class APIError(_RequestError):
    """Discogs answered with an error status; ``message`` is the Discogs message."""

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Mapping[str, str] | None = None,
        body: object = None,
        **kw: Any,
    ) -> None:
        self.status_code = status_code
        self.headers = mask_headers(headers or {})  # a proxy may echo credentials
        self.body = mask_data(body)  # a server may echo credentials in its error body too
        super().__init__(message, **kw)

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {super().__str__()}"


class BadRequestError(APIError):
    """400: malformed request; Discogs also answers OAuth problems with 400."""


class AuthenticationError(APIError):
    """401: credentials missing or invalid."""


class PermissionDeniedError(APIError):
    """403: authenticated but not allowed (private data, or inventory pages above 100)."""


class NotFoundError(APIError):
    """404: the resource does not exist."""


class MethodNotAllowedError(APIError):
    """405."""


class ConflictError(APIError):
    """409: e.g. an inventory export or upload is already running."""


class UnsupportedMediaTypeError(APIError):
    """415: an upload had the wrong content type."""


class UnprocessableEntityError(APIError):
    """422: Discogs understood the request but rejected its values."""


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` is the server's advice in seconds, when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(APIError):
    """5xx: Discogs failed; the message may hold a support code."""


# Names from the original plan stay importable.
ResourceNotFoundError = NotFoundError
ForbiddenError = PermissionDeniedError

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)

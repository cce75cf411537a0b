"""The program name, the exit statuses and what each means, and how a failure becomes one of them.

Defined once: ``main()`` returns these codes, ``--help`` lists them from :data:`EXIT_CODES`, and
``login`` and ``mock`` print under the same :data:`PROG` name.
"""

from __future__ import annotations

import re

from .._runtime.errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    DiscogsError,
    DownloadError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from .._runtime.log import mask
from ..export import ExportError

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_TERMINATED",
    "EXIT_RATE_LIMITED",
    "EXIT_USAGE",
    "PROG",
    "OutputError",
    "Terminated",
    "UsageError",
    "exit_code_for",
    "message",
]

PROG = "musicagent"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_RATE_LIMITED = 5
EXIT_NETWORK = 6
EXIT_API = 7
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141
EXIT_TERMINATED = 143

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_FAILURE, "local failure (the output file could not be written)"),
    (EXIT_USAGE, "usage: bad command line, invalid argument or setting (nothing was sent)"),
    (EXIT_AUTH, "authentication: credentials missing, invalid or not allowed (HTTP 401/403)"),
    (EXIT_NOT_FOUND, "not found (HTTP 404)"),
    (EXIT_RATE_LIMITED, "rate limited (HTTP 429 after the retries)"),
    (EXIT_NETWORK, "network: connection failed or timed out"),
    (EXIT_API, "other API error (4xx/5xx), or a response that is not what the API promises"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
    (EXIT_PIPE, "stdout was closed early (e.g. piped into head)"),
    (EXIT_TERMINATED, "terminated (SIGTERM); an output file is left as it was"),
)
"""What each exit status means; the help epilog is made from it."""


class UsageError(Exception):
    """A bad command line; the CLI turns it into exit code 2 and a one-line message."""


class Terminated(BaseException):
    """SIGTERM, raised where the command was, so that an export in progress removes its temporary file."""


class OutputError(Exception):
    """``-o`` names a place that cannot be written; exit code 1. Checked before any request."""


_CODE_BY_CLASS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
    ((OutputError, DownloadError), EXIT_FAILURE),
    ((UsageError, InvalidParameterError, ConfigurationError, ExportError), EXIT_USAGE),
    ((AuthenticationError, PermissionDeniedError), EXIT_AUTH),
    (NotFoundError, EXIT_NOT_FOUND),
    (RateLimitError, EXIT_RATE_LIMITED),
    (APIConnectionError, EXIT_NETWORK),
    (DiscogsError, EXIT_API),
    (KeyboardInterrupt, EXIT_INTERRUPTED),
    (Terminated, EXIT_TERMINATED),
)
"""Checked in order, so the most specific class wins (a timeout is a network error, not any API error)."""


def exit_code_for(exc: BaseException) -> int:
    """The exit code of a failure (:data:`_CODE_BY_CLASS`); anything else is a local failure."""
    return next((code for kinds, code in _CODE_BY_CLASS if isinstance(exc, kinds)), EXIT_FAILURE)


def message(exc: BaseException) -> str:
    """One line, secrets masked, with a hint where the fix is usually the same."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, AuthenticationError):
        text += " (pass --token or set DISCOGS_TOKEN)"
    elif isinstance(exc, RateLimitError) and exc.retry_after is not None:
        text += f" (retry after {exc.retry_after:g} s)"
    elif isinstance(exc, OSError) and not isinstance(exc, DiscogsError) and exc.filename is not None:
        text = f"{exc.strerror or text}: {exc.filename}"
    elif isinstance(exc, ConfigurationError):  # a setting given as an option is named as the option
        text = re.sub(r"^invalid argument '(\w+)'", lambda m: f"invalid option --{m[1].replace('_', '-')}", text)
    return mask(text)

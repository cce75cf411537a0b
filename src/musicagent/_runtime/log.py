"""Logging through loguru: silent until the user calls :func:`enable_logging`.

A library must not configure logging behind its user's back: nothing is logged, and loguru is not
even imported, until :func:`enable_logging`; from then on the package's namespace is enabled and the
sinks asked for are added. Every record passes through :func:`mask`, so a token, secret or OAuth
signature never reaches a sink, whatever a message happens to contain.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loguru import Logger, Record

__all__ = [
    "disable_logging",
    "enable_logging",
    "get_logger",
    "is_enabled",
    "mask",
    "mask_headers",
    "mask_secrets",
    "register_secret",
]

# ``name=value`` (query strings, ``Discogs token=…``, OAuth ``oauth_signature="…"``) or a quoted value after
# a colon (JSON, dict reprs). An unquoted word after a colon is prose ("'consumer_key': consumer_key is
# set but ..."), not a credential, and stays readable.
_PATTERN = re.compile(
    r"(?i)((?:token|secret|key|signature|oauth_verifier)"
    r"(?:\s*=\s*[\"']?|[\"']?\s*:\s*[\"']))([^\s&,\"'}]+)"
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_sink_ids: list[int] = []
_enabled = False


def register_secret(value: str | None) -> None:
    """Remember a credential so that :func:`mask` hides it wherever it appears."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def mask_secrets(text: str) -> str:
    """Hide the registered secrets only: enough for text that cannot hold ``name=value`` pairs."""
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def mask(text: str) -> str:
    """Hide registered secrets and anything shaped like ``token=...`` / ``oauth_signature=...``."""
    return _PATTERN.sub(r"\1***", mask_secrets(text))


def mask_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """A copy of response headers with credentials hidden: the one masking for every place that shows them."""
    from urllib3 import HTTPHeaderDict  # case-insensitive, as the headers it copies

    masked = HTTPHeaderDict()
    for name, value in headers.items():
        masked.add(name, mask(value))
    return masked


def _mask_record(record: Record) -> None:
    record["extra"].setdefault("correlation_id", "-")
    record["message"] = mask(record["message"])
    for key, value in list(record["extra"].items()):
        if isinstance(value, str):
            record["extra"][key] = mask(value)


_patched: Logger | None = None


def get_logger() -> Logger:
    """The package's masking logger (imports loguru on first use; callers check is_enabled() first)."""
    global _patched
    if _patched is None:
        from loguru import logger

        _patched = logger.patch(_mask_record)
    return _patched


def is_enabled() -> bool:
    """Cheap check the hot path uses so that no log work is done while logging is off."""
    return _enabled


_CONSOLE_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{extra[correlation_id]}</cyan> {message}"
)
_FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {extra[correlation_id]} {message} | {extra}"


def enable_logging(
    level: str | int = "INFO",
    *,
    json: bool = False,
    console: bool = True,
    file: str | Path | None = None,
    rotation: str | int | None = "10 MB",
    retention: str | int | None = "7 days",
    error_file: str | Path | None = None,
    sink: Any = None,
) -> None:
    """Turn on musicagent's logs: console (stderr), a rotating file, JSON lines, a separate error log.

    ``json=True`` writes one JSON object per record (for log aggregation). ``error_file`` gets only
    ERROR and above. ``sink`` adds any loguru sink (a callable, a stream). Calling again replaces the
    previous setup; other loguru sinks of the application are left alone.
    """
    global _enabled
    from loguru import logger

    disable_logging()
    owned = lambda record: record["name"] is not None and record["name"].startswith("musicagent")  # noqa: E731
    common: dict[str, Any] = {"level": level, "serialize": json, "filter": owned, "enqueue": False}
    _replace_default_handler(logger)  # our records go to the sinks asked for here, not also to stderr
    if console:
        _sink_ids.append(logger.add(sys.stderr, format=_CONSOLE_FORMAT, colorize=None, **common))
    if file is not None:
        _sink_ids.append(logger.add(str(file), format=_FILE_FORMAT, rotation=rotation, retention=retention, **common))
    if error_file is not None:
        error_common = {**common, "level": "ERROR"}
        _sink_ids.append(
            logger.add(str(error_file), format=_FILE_FORMAT, rotation=rotation, retention=retention, **error_common)
        )
    if sink is not None:
        _sink_ids.append(logger.add(sink, format=_FILE_FORMAT, **common))
    logger.enable("musicagent")
    _enabled = True


def _replace_default_handler(logger: Logger) -> None:
    """Stop loguru's untouched default stderr handler from printing our records a second time.

    It is swapped for an equivalent handler that skips musicagent's records, so the application's
    own messages still print as before. A handler the application configured itself is left alone.
    """
    try:
        logger.remove(0)
    except ValueError:
        return  # already removed or replaced by the application
    logger.add(sys.stderr, filter=lambda record: not (record["name"] or "").startswith("musicagent"))


def disable_logging() -> None:
    """Remove the sinks :func:`enable_logging` added and silence the namespace again."""
    global _enabled
    _enabled = False
    if not _sink_ids and "loguru" not in sys.modules:
        return
    from loguru import logger

    logger.disable("musicagent")
    while _sink_ids:
        try:
            logger.remove(_sink_ids.pop())
        except ValueError:
            pass

"""Logging through loguru: silent until the user calls :func:`enable_logging`.

A library must not configure logging behind its user's back: nothing is logged, and loguru is not
even imported, until :func:`enable_logging`; from then on the package's namespace is enabled and the
sinks asked for are added. Every record passes through :func:`mask`, so a token, secret or OAuth
signature never reaches a sink, whatever a message happens to contain.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from .redact import mask, mask_headers, mask_secrets, register_secret

if TYPE_CHECKING:
    from loguru import Logger, Record

__all__ = [
    "LogLevel",
    "disable_logging",
    "enable_logging",
    "get_logger",
    "is_enabled",
    "mask",
    "mask_headers",
    "mask_secrets",
    "register_secret",
]

LogLevel = Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"]
"""loguru's level names; rate-limit waits of 2 s or more are INFO, each request INFO, retries WARNING."""

_sink_ids: list[int] = []
_enabled = False


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


def _checked_level(level: object) -> str | int:
    """A level loguru knows, or a ConfigurationError naming the bad value (loguru would raise a bare ValueError)."""
    names = get_args(LogLevel)
    if isinstance(level, str) and level.strip().upper() in names:
        return level.strip().upper()
    if isinstance(level, int) and not isinstance(level, bool) and level >= 0:
        return level
    from .errors import ConfigurationError

    raise ConfigurationError(f"enable_logging: level must be one of {', '.join(names)} or a number >= 0, not {level!r}")


def enable_logging(
    level: LogLevel | int = "INFO",
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
    checked = _checked_level(level)  # before anything changes: a bad call leaves the current setup alone
    from loguru import logger

    disable_logging()
    owned = lambda record: record["name"] is not None and record["name"].startswith("musicagent")  # noqa: E731
    common: dict[str, Any] = {"level": checked, "serialize": json, "filter": owned, "enqueue": False}
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

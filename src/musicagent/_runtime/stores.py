"""Where a shared store lives: one reading of the ``memory``, ``sqlite://`` and ``redis://`` URLs.

The rate limiter (``rate_limit_store``) and the response cache (``cache``) both take a store URL.
They read it here, so the same text names the same place to both: ``~`` is expanded, a SQLite URL
without a file is refused (SQLite would open a private temporary database per connection, sharing
nothing), and ``memory`` and ``memory://`` mean the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

__all__ = ["StoreURL", "parse_store_url"]

_REDIS_SCHEMES = ("redis", "rediss", "unix")


class StoreURL(NamedTuple):
    kind: Literal["memory", "sqlite", "redis"]
    url: str  # as given, stripped; a Redis URL goes to redis-py as it is
    path: Path | None  # the SQLite file, ``~`` expanded
    query: str  # ``max_mb=…`` and the like, for the store that reads it


def parse_store_url(text: str) -> StoreURL:
    """Read a store URL; a ``ValueError`` says what is wrong without repeating the URL (it may hold a password)."""
    text = text.strip()
    parts = urlsplit(text)
    if text.lower() == "memory" or parts.scheme == "memory":
        return StoreURL("memory", text, None, parts.query)
    if parts.scheme == "sqlite":
        raw = parts.netloc + parts.path  # sqlite:///abs/file.db, sqlite://relative.db, sqlite:///~/file.db
        if raw.startswith("/~"):
            raw = raw[1:]
        if not raw.strip("/"):
            raise ValueError("sqlite:// needs a file, e.g. sqlite:///~/.cache/musicagent.db")
        return StoreURL("sqlite", text, Path(raw).expanduser(), parts.query)
    if parts.scheme in _REDIS_SCHEMES:
        return StoreURL("redis", text, None, parts.query)
    raise ValueError("must be memory, sqlite:///path/to/file.db or redis://host:6379/0")

"""Where a shared store lives: one reading of the ``memory``, ``sqlite://`` and ``redis://`` URLs.

The rate limiter (``rate_limit_store``) and the response cache (``cache``) both take a store URL.
They read it here, so the same text names the same place to both: ``~`` is expanded, a SQLite URL
without a file is refused (SQLite would open a private temporary database per connection, sharing
nothing), and ``memory`` and ``memory://`` mean the same. Both also judge a SQLite file here: whether
it is still the file they opened, and whether it is damaged.
"""

from __future__ import annotations

import os
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

__all__ = [
    "STORE_DEADLINE",
    "StoreURL",
    "bound_redis",
    "file_identity",
    "is_damage",
    "parse_store_url",
    "sound_database",
]

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


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int, bool] | None:
    """(device, inode, cut short) of a store's SQLite file; None when it is missing.

    A connection keeps using a file that was deleted or replaced, unseen by every process that
    opens the path afterwards: another device or inode means the store must be opened again. A
    store file is never shorter than its 100-byte header once opened (WAL mode writes it at once),
    so a shorter one was truncated.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size < 100


def is_damage(exc: BaseException) -> bool:
    """A SQLite error of the file itself (overwritten, truncated, its table gone), not of contention."""
    import sqlite3

    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and "locked" not in text and "busy" not in text


def sound_database(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is missing, empty, or a SQLite database that passes ``quick_check``
    (a busy one counts as sound: contention is not damage)."""
    import sqlite3

    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if head and head != b"SQLite format 3\x00":
        return False
    try:
        conn = sqlite3.connect(path, timeout=1.0)
        try:
            return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return not is_damage(exc)


STORE_DEADLINE: ContextVar[float | None] = ContextVar("musicagent_store_deadline", default=None)
"""The monotonic time by which the current store call must answer (None: the store's own timeouts).

A context variable, not a thread-local: ``asyncio.to_thread`` copies it into the worker thread that
runs an async client's store call. The limiter sets it around each of its store calls, the cache
around each lookup, write and invalidation (from what the call's deadline leaves)."""


def bound_redis(client: Any) -> None:
    """Make ``client``'s reads wait at most until :data:`STORE_DEADLINE`.

    redis-py sets one socket timeout per connection; a frozen server (SIGSTOP) would hold each call
    for all of it. Before every read the timeout is cut to what the call has left.
    """
    pool = client.connection_pool
    base = pool.connection_class

    class Bounded(base):  # type: ignore[misc,valid-type]
        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            end = STORE_DEADLINE.get()
            if end is not None:
                self.update_current_socket_timeout(max(0.001, min(end - time.monotonic(), self.socket_timeout or 5)))
            try:
                return super().read_response(*args, **kwargs)
            finally:
                if end is not None:
                    self.update_current_socket_timeout(-1)

    Bounded.__name__ = f"Bounded{base.__name__}"
    pool.connection_class = Bounded

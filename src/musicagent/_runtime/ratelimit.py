"""Client-side rate limiting with pyrate-limiter, corrected by what Discogs reports.

Discogs counts requests per source IP in a moving 60-second window. The local limiter is a sliding
window log (pyrate-limiter) that every thread of a client shares; its window is a little longer than
the server's so that network jitter never lets a request land inside the server's window early. The
``X-Discogs-Ratelimit*`` headers are the truth when other processes share the IP: when the server has
counted more than we did, the difference is added to the local bucket, so the next request waits
for the window instead of drawing a 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyrate-limiter imports asyncio, sqlite3 and multiprocessing: keep imports lazy
    from pyrate_limiter import AbstractBucket, Limiter

__all__ = ["RateLimitState", "RateLimiter", "parse_rate_headers"]

_ITEM = "discogs"


@dataclass(frozen=True)
class RateLimitState:
    """What the client knows about its allowance right now.

    ``limit``/``used``/``remaining`` are the server's figures from the last response (None before
    the first); ``local_limit``/``window`` describe the local limiter (None when it is off).
    """

    limit: int | None
    used: int | None
    remaining: int | None
    updated_at: float | None
    local_limit: int | None
    window: float | None
    local_in_window: int | None


def parse_rate_headers(headers: Mapping[str, str]) -> tuple[int | None, int | None, int | None]:
    """(limit, used, remaining) from Discogs' headers; missing or garbled values are None."""

    def number(name: str) -> int | None:
        raw = headers.get(name)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    return (
        number("X-Discogs-Ratelimit"),
        number("X-Discogs-Ratelimit-Used"),
        number("X-Discogs-Ratelimit-Remaining"),
    )


def _margin(window: float) -> float:
    """Extra local window: 1% of it, at least 50 ms and at most 1 s."""
    return min(1.0, max(0.05, window * 0.01))


def _make_bucket(requests: int, window: float, store: str | None) -> AbstractBucket:
    from pyrate_limiter import InMemoryBucket, Rate

    rates = [Rate(requests, int((window + _margin(window)) * 1000))]
    if store is None or store.startswith("memory://"):
        return InMemoryBucket(rates)
    if store.startswith("sqlite://"):
        from pyrate_limiter import SQLiteBucket

        path = store.removeprefix("sqlite://")  # sqlite:///abs/file.db or sqlite://relative.db
        return SQLiteBucket.init_from_file(
            rates, table=f"musicagent_{requests}_{int(window * 1000)}", db_path=path, use_file_lock=True
        )
    from pyrate_limiter import RedisBucket
    from redis import Redis

    client: Any = Redis.from_url(store)
    return RedisBucket.init(rates, client, f"musicagent:ratelimit:{requests}:{int(window * 1000)}")


def _limiter_for(bucket: AbstractBucket) -> Limiter:
    from pyrate_limiter import Limiter

    return Limiter(bucket)


class RateLimiter:
    """Shared by all threads of one client; thread-safe."""

    def __init__(self, requests: int, window: float, store: str | None = None) -> None:
        self.requests = requests
        self.window = window
        self.store = store
        self._bucket = _make_bucket(requests, window, store)
        self._limiter = _limiter_for(self._bucket)
        self._lock = threading.Lock()
        self._server: tuple[int | None, int | None, int | None] = (None, None, None)
        self._updated_at: float | None = None

    def acquire(self, timeout: float | None = None) -> float | None:
        """Block until a request may be sent; the seconds waited, or None if ``timeout`` ran out."""
        start = time.monotonic()
        ok = self._limiter.try_acquire(_ITEM, blocking=True, timeout=-1 if timeout is None else max(timeout, 0.0))
        if not ok:
            return None
        return time.monotonic() - start

    def _in_window(self) -> int:
        bucket = self._bucket
        bucket.leak(bucket.now())
        count = bucket.count()
        return int(count) if isinstance(count, int) else 0

    def observe(self, headers: Mapping[str, str]) -> None:
        """Fold the server's view into the local bucket (see the module docstring)."""
        limit, used, remaining = parse_rate_headers(headers)
        if limit is None and used is None and remaining is None:
            return
        with self._lock:
            self._server = (limit, used, remaining)
            self._updated_at = time.time()
            if limit is not None and 0 < limit < self.requests and self.store is None:
                # The server grants less than we assumed (e.g. 25 for anonymous calls): shrink.
                self.requests = limit
                self._bucket = _make_bucket(limit, self.window, None)
                self._limiter = _limiter_for(self._bucket)
            capacity = self.requests if limit is None else min(limit, self.requests)
            if used is None and remaining is not None:
                used = capacity - remaining
            if used is None:
                return
            deficit = min(used, capacity) - self._in_window()
            if deficit > 0:
                self._limiter.try_acquire(_ITEM, weight=deficit, blocking=False)

    def state(self) -> RateLimitState:
        limit, used, remaining = self._server
        return RateLimitState(
            limit=limit,
            used=used,
            remaining=remaining,
            updated_at=self._updated_at,
            local_limit=self.requests,
            window=self.window,
            local_in_window=self._in_window(),
        )

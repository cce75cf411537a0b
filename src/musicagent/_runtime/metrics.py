"""Counters a user can read to see what the client did: requests, retries, 429s, waits, latency."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field

__all__ = ["Metrics", "MetricsSnapshot"]


@dataclass(frozen=True)
class MetricsSnapshot:
    """A consistent copy, so a reader never sees counters from two different moments.

    ``requests`` counts attempts sent (answered or not), ``errors`` those that got no response,
    ``rate_limited`` the 429s seen, ``limiter_wait_seconds`` the time spent waiting for the local
    limiter across all threads; latencies (seconds) cover answered attempts.
    """

    requests: int
    retries: int
    rate_limited: int
    errors: int
    limiter_wait_seconds: float
    statuses: dict[int, int]
    latency_p50: float | None
    latency_p90: float | None
    latency_p99: float | None
    latency_max: float | None
    cache_hits: int = 0  # answers the response cache served (no request, no limiter slot)
    cache_misses: int = 0  # cacheable calls it could not serve

    def __repr__(self) -> str:
        """Rounded, with units: ``MetricsSnapshot(12 requests, 1 retry, 0 rate-limited, ... p50 84 ms)``."""
        from .waits import describe

        def ms(seconds: float | None) -> str:
            return "-" if seconds is None else f"{seconds * 1000:.0f} ms"

        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(self.statuses.items()))
        cache = ""
        if self.cache_hits or self.cache_misses:
            cache = f"; cache {self.cache_hits} hits, {self.cache_misses} misses"
        return (
            f"MetricsSnapshot({self.requests} requests, {self.retries} retries, {self.rate_limited} rate-limited, "
            f"{self.errors} errors, waited {describe(self.limiter_wait_seconds)} for the limiter; "
            f"latency p50 {ms(self.latency_p50)}, p90 {ms(self.latency_p90)}, p99 {ms(self.latency_p99)}, "
            f"max {ms(self.latency_max)}; statuses {{{statuses}}}{cache})"
        )


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Metrics:
    """Thread-safe; latencies are kept for the most recent ``window`` requests."""

    window: int = 10_000
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    limiter_wait_seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    _latencies: deque[float] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._latencies = deque(maxlen=self.window)

    def record_response(self, status: int, seconds: float) -> None:
        with self._lock:
            self.requests += 1
            self.statuses[status] += 1
            if status == 429:
                self.rate_limited += 1
            self._latencies.append(seconds)

    def record_failure(self) -> None:
        """An attempt that got no response (connection refused or reset, timeout, truncated body)."""
        with self._lock:
            self.requests += 1
            self.errors += 1

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def record_wait(self, seconds: float) -> None:
        with self._lock:
            self.limiter_wait_seconds += seconds

    def record_cache(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.cache_hits += 1
            else:
                self.cache_misses += 1

    def snapshot(self) -> MetricsSnapshot:
        with self._lock:
            ordered = sorted(self._latencies)
            return MetricsSnapshot(
                requests=self.requests,
                retries=self.retries,
                rate_limited=self.rate_limited,
                errors=self.errors,
                limiter_wait_seconds=self.limiter_wait_seconds,
                statuses=dict(self.statuses),
                latency_p50=_percentile(ordered, 0.5),
                latency_p90=_percentile(ordered, 0.9),
                latency_p99=_percentile(ordered, 0.99),
                latency_max=ordered[-1] if ordered else None,
                cache_hits=self.cache_hits,
                cache_misses=self.cache_misses,
            )

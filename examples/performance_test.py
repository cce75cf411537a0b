"""Throughput and latency of N calls from T threads sharing one client, with the client's metrics.

Usage: python examples/performance_test.py [--calls N] [--threads T]

Against the real API the client's limiter keeps to Discogs' 60 requests per moving minute, so
more than 60 calls take minutes: the report shows how long the limiter made them wait.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _offline import USER_AGENT, run

from musicagent import Discogs, DiscogsError


def workload(discogs: Discogs) -> list[Callable[[], Any]]:
    """A mix of recorded single-object calls and one-page list calls."""
    return [
        lambda: discogs.artists.get(108713),
        lambda: discogs.releases.get(40522),
        lambda: discogs.masters.get(1000),
        lambda: discogs.labels.get(1),
        lambda: discogs.artists.releases(45, limit=50).items,
        lambda: discogs.search(q="nirvana", limit=50).items,
    ]


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40, help="number of API calls (default 40)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads (default 4)")
    args = parser.parse_args(argv)

    discogs = Discogs(user_agent=USER_AGENT)
    with discogs:
        calls = workload(discogs)
        failed: list[int] = []  # list.append is atomic: no lock needed between the threads

        def one(number: int) -> None:
            try:
                calls[number % len(calls)]()
            except DiscogsError as exc:
                failed.append(number)
                print(f"  call {number} failed: {exc}", file=sys.stderr)

        print(f"{args.calls} calls from {args.threads} threads against {discogs.settings.base_url} ...")
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            list(pool.map(one, range(args.calls)))
        elapsed = time.perf_counter() - start

        m = discogs.metrics
        print(f"done in {elapsed:.2f}s: {args.calls / elapsed:.1f} calls/s, {len(failed)} failed")
        print(f"requests {m.requests}, retries {m.retries}, 429s {m.rate_limited}, statuses {m.statuses}")
        print(f"latency p50 {ms(m.latency_p50)}, p90 {ms(m.latency_p90)}, p99 {ms(m.latency_p99)}")
        print(
            f"waited for the rate limiter {m.limiter_wait_seconds:.2f}s; {discogs.rate_limit.remaining} requests left"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))

"""``timeout`` bounds a whole attempt and ``deadline`` a whole call, by the wall clock (issue 9, item 2).

The servers drip: every byte arrives well within the socket timeout, so only a bound on the whole
exchange can stop them. Each test allows a generous margin for a loaded machine (the bound must
still be far below what the drip would take: 10 s and more).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from musicagent import APITimeoutError, Discogs

from .conftest import LocalServer

Client = Callable[..., Discogs]
SLACK = 1.5  # seconds a loaded 2-core machine may add to a bound


def timed(call: Callable[[], object]) -> tuple[float, BaseException]:
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        call()
    return time.monotonic() - started, info.value


def test_the_deadline_bounds_a_dripped_body(server: LocalServer, client: Client) -> None:
    """Issue figure: a body at 4 bytes/s kept ``timeout=1, deadline=3`` busy for 20 s."""
    server.fail(*["drip_body"] * 10)
    d = client(timeout=1, deadline=3, max_retries=5)
    elapsed, error = timed(lambda: d.artists.get(1))
    assert elapsed < 3 + SLACK
    assert error.attempts >= 2  # each attempt was cut at its 1 s timeout, then retried (a GET)


def test_the_timeout_bounds_one_attempt_of_a_dripped_body(server: LocalServer, client: Client) -> None:
    server.fail("drip_body")
    d = client(timeout=1, max_retries=0)
    elapsed, error = timed(lambda: d.artists.get(1))
    assert elapsed < 1 + SLACK
    assert "no complete response within 1s" in str(error)


def test_the_deadline_bounds_dripped_headers(server: LocalServer, client: Client) -> None:
    """Issue figure: headers dripped byte by byte took 15 s against ``deadline=2``."""
    server.drip_every = 0.1
    server.fail(*["drip_headers"] * 10)
    d = client(timeout=30, deadline=2, max_retries=5)
    elapsed, error = timed(lambda: d.artists.get(1))
    assert elapsed < 2 + SLACK
    assert "deadline" in str(error)


def test_a_dripped_answer_to_a_write_is_cut_and_not_repeated(server: LocalServer, client: Client) -> None:
    server.fail("drip_body", "drip_body")
    d = client(timeout=1, max_retries=3)
    elapsed, _ = timed(lambda: d.request("POST", "/marketplace/listings", json={"release_id": 1}))
    assert elapsed < 1 + SLACK
    assert server.count("POST") == 1  # it may have reached the server: never sent twice


def test_a_dripped_download_is_cut_and_leaves_no_file(server: LocalServer, client: Client, tmp_path: Path) -> None:
    server.fail("drip_body")
    target = tmp_path / "out.json"
    d = client(timeout=1, max_retries=0)
    elapsed, _ = timed(lambda: d._transport.download("/file", target))
    assert elapsed < 1 + SLACK
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_keeps_arriving_is_not_cut_by_the_timeout(
    server: LocalServer, client: Client, tmp_path: Path
) -> None:
    """``timeout`` bounds a download's progress (each 64 KiB chunk), not its total length."""
    chunk = 64 * 1024

    def slow_big(_: object) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/csv"}, b"x" * (6 * chunk)

    server.routes["/big.csv"] = slow_big
    server.drip_every = 0.25
    server.drip_size = chunk
    server.fail("drip_raw")  # the route, dripped
    target = tmp_path / "big.csv"
    d = client(timeout=1, max_retries=0)
    d._transport.download("/big.csv", target)  # 6 chunks 0.25 s apart: 1.5 s in all, more than the timeout
    assert target.stat().st_size == 6 * chunk

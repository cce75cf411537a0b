"""Counters a user can read, and the credentials each kind of auth sends."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from musicagent import Discogs, ServerError
from musicagent._runtime.auth import Credentials, oauth_header
from musicagent._runtime.metrics import Metrics, _percentile

from .conftest import LocalServer

Client = Callable[..., Discogs]


def test_metrics_count_what_happened(server: LocalServer, client: Client) -> None:
    d = client(rate_limit=(3, 0.3), max_retries=3)
    assert d.metrics.requests == 0 and d.metrics.latency_p50 is None
    server.fail("500", "429", "reset")
    for _ in range(4):
        d.request("GET", "/x")
    m = d.metrics
    assert m.requests == 7  # 4 answered, 1 500, 1 429, 1 reset connection
    assert m.retries == 3
    assert m.rate_limited == 1
    assert m.errors == 1  # the reset: no response at all
    assert m.statuses == {200: 4, 500: 1, 429: 1}
    assert m.limiter_wait_seconds > 0  # 3 per 0.3 s: the later requests waited
    assert m.latency_p50 is not None and m.latency_p90 is not None and m.latency_p99 is not None
    assert m.latency_p50 <= m.latency_p90 <= m.latency_p99 <= (m.latency_max or 0)
    server.fail("500", "500", "500", "500")
    with pytest.raises(ServerError):
        d.request("GET", "/x")
    assert d.metrics.retries == 6


def test_metrics_are_thread_safe() -> None:
    metrics = Metrics(window=100)

    def work() -> None:
        for i in range(1000):
            metrics.record_response(200 if i % 10 else 429, 0.001 * (i % 7))
            metrics.record_retry()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = metrics.snapshot()
    assert snap.requests == 8000 and snap.retries == 8000 and snap.rate_limited == 800
    assert snap.statuses == {200: 7200, 429: 800}


def test_percentile() -> None:
    assert _percentile([], 0.5) is None
    assert _percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert _percentile([1.0, 2.0], 0.99) == 2.0


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"token": "tok-abcdef"}, "Discogs token=tok-abcdef"),
        ({"consumer_key": "ck", "consumer_secret": "cs-secret"}, "Discogs key=ck, secret=cs-secret"),
        ({}, None),
    ],
)
def test_credentials_headers(server: LocalServer, kwargs: dict[str, Any], expected: str | None) -> None:
    d = Discogs(base_url=server.url, rate_limit=None, **kwargs)
    d.request("GET", "/x")
    assert server.seen[-1].headers.get("Authorization") == expected
    assert "secret" not in repr(Credentials(**kwargs)) or "cs-secret" not in repr(Credentials(**kwargs))


def test_oauth_header_is_fresh_per_attempt(server: LocalServer) -> None:
    server.fail("500")
    d = Discogs(
        base_url=server.url,
        consumer_key="ck",
        consumer_secret="cs&x",
        access_token="at-123456",
        access_token_secret="ats-123456",
        rate_limit=None,
    )
    d.request("GET", "/x")
    first, second = (s.headers["Authorization"] for s in server.seen)
    assert first != second  # a new nonce for the retry
    # RFC 5849: the signature is encode(consumer secret) & encode(token secret), encoded again in the header
    assert 'oauth_signature="cs%2526x%26ats-123456"' in first and 'oauth_token="at-123456"' in first


def test_oauth_header_for_the_token_dance() -> None:
    value = oauth_header("ck", "cs", callback="https://example.org/cb", verifier="v123")
    assert 'oauth_callback="https%3A%2F%2Fexample.org%2Fcb"' in value
    assert 'oauth_verifier="v123"' in value and 'oauth_signature="cs%26"' in value
    assert "oauth_token=" not in value
    assert Credentials(consumer_key="ck", consumer_secret="cs", access_token="at").kind == "oauth"
    assert Credentials(consumer_key="ck").kind == "none"


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://api.discogs.com/artists/1", True),
        ("https://i.discogs.com/abc/image.jpg", True),
        ("http://i.discogs.com/abc/image.jpg", False),  # never in clear text
        ("https://evildiscogs.com/x", False),
        ("https://example.org/x", False),
    ],
)
def test_credentials_go_only_to_discogs_hosts_over_https(url: str, sent: bool) -> None:
    transport = Discogs(token="tok-abcdef", rate_limit=None, env={}, dotenv=os.devnull)._transport
    headers = transport.builder.headers(transport.builder.call("GET", url))
    assert ("Authorization" in headers) is sent

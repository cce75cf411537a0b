"""Retries and typed errors against servers that fail N times, then answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from musicagent import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    Discogs,
    DiscogsError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    ResponseValidationError,
    ServerError,
    enable_logging,
)
from musicagent._runtime import core
from musicagent._runtime.core import RequestOptions

from .conftest import LocalServer

Client = Callable[..., Discogs]


@pytest.mark.parametrize("fault", ["500", "502html", "503", "504", "reset", "slow", "truncated", "429"])
def test_get_is_retried_until_it_succeeds(server: LocalServer, client: Client, fault: str) -> None:
    server.slow_seconds = 0.6
    server.fail(fault, fault)
    d = client(timeout=0.3, max_retries=3)
    artist = d.artists.get(7)
    assert artist.id == 7
    assert server.count("GET") == 3
    assert d.metrics.retries == 2
    assert d.last_response is not None and d.last_response.attempts == 3


def test_the_final_error_says_how_many_attempts_were_made(server: LocalServer, client: Client) -> None:
    server.fail(*["502html"] * 4)
    d = client(max_retries=3)
    with pytest.raises(ServerError) as info:
        d.artists.get(1)
    err = info.value
    assert err.status_code == 502 and err.attempts == 4
    assert "HTML page" in str(err) and "Bad Gateway" in str(err)
    assert "after 4 attempts" in str(err)
    assert "(GET /artists/1)" in str(err.args[0]) or "/artists/1" in str(err)


def test_a_post_is_not_repeated_after_a_500(server: LocalServer, client: Client) -> None:
    server.fail("500")
    d = client(max_retries=5)
    with pytest.raises(ServerError) as info:
        d.request("POST", "/marketplace/listings", json={"release_id": 1})
    assert server.count("POST") == 1
    assert info.value.attempts == 1 and d.metrics.retries == 0


@pytest.mark.parametrize("fault", ["reset", "truncated", "slow"])
def test_a_post_that_may_have_reached_the_server_is_not_repeated(
    server: LocalServer, client: Client, fault: str
) -> None:
    server.slow_seconds = 0.5
    server.fail(fault)
    d = client(max_retries=5, timeout=0.25)
    with pytest.raises((APIConnectionError, ResponseDecodeError)):
        d.request("PUT", "/users/x/wants/1", json={"notes": "n"})
    assert server.count("PUT") == 1


def test_a_post_is_repeated_after_a_429(server: LocalServer, client: Client) -> None:
    """Discogs refuses a 429 before doing any work, so repeating it creates nothing twice."""
    server.fail("429")
    d = client(max_retries=2)
    assert d.request("POST", "/things", json={"a": 1}) == {"created": True, "echo": {"a": 1}}
    assert server.count("POST") == 2


def test_a_post_is_repeated_when_it_never_reached_the_server(client: Client) -> None:
    with socket.socket() as closed:  # a port nobody listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    d = Discogs(base_url=f"http://127.0.0.1:{port}", token="t0k3n-abcdef", rate_limit=None, max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        d.request("POST", "/things", json={})
    assert info.value.attempts == 3 and "could not connect" in str(info.value)
    assert "after 3 attempts" in str(info.value)


def test_retry_after_is_honoured_exactly(server: LocalServer, client: Client) -> None:
    server.retry_after = "0.3"
    server.fail("429")
    d = client(max_retries=2)
    lines: list[str] = []
    enable_logging("WARNING", console=False, sink=lambda m: lines.append(str(m)))
    d.request("GET", "/x")
    assert any("in 0.30s after attempt 1" in line for line in lines), lines


def test_retry_after_longer_than_the_deadline_gives_up_at_once(server: LocalServer, client: Client) -> None:
    server.retry_after = "30"
    server.fail("429")
    d = client(max_retries=5, deadline=2.0)
    with pytest.raises(RateLimitError) as info:
        d.request("GET", "/x")
    assert info.value.retry_after == 30 and info.value.attempts == 1


def test_retry_after_beyond_the_cap_gives_up(server: LocalServer, client: Client) -> None:
    server.retry_after = "3600"
    server.fail("429")
    with pytest.raises(RateLimitError) as info:
        client(max_retries=5).request("GET", "/x")
    assert info.value.retry_after == 3600


def test_the_deadline_bounds_all_attempts(server: LocalServer, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "BACKOFF_BASE", 0.2)
    server.fail(*["500"] * 50)
    # 21 attempts with waits doubling from 0.2 s would take minutes; the deadline leaves room for a
    # first attempt on a loaded machine, so the error can always say what failed before it ran out
    d = client(max_retries=20, deadline=2.0)
    started = time.monotonic()
    with pytest.raises(DiscogsError) as info:
        d.request("GET", "/x")
    assert time.monotonic() - started < 10  # bounded by the deadline, not by 21 attempts
    err = info.value
    assert isinstance(err, ServerError | APITimeoutError)
    assert err.attempts < 21
    if isinstance(err, APITimeoutError):  # run out in a wait, or during an attempt
        assert "deadline ran out" in str(err) and "HTTP 500" in str(err), str(err)


def test_a_deadline_cutting_an_attempt_says_what_failed_before(server: LocalServer, client: Client) -> None:
    server.slow_seconds = 20.0
    server.fail("500", "slow")
    d = client(timeout=30, deadline=3.0, max_retries=5)
    with pytest.raises(APITimeoutError) as info:
        d.request("GET", "/x")
    message = str(info.value)
    assert "deadline ran out during attempt 2" in message and "HTTP 500" in message, message


def test_the_deadline_cuts_a_slow_answer(server: LocalServer, client: Client) -> None:
    server.slow_seconds = 2.0
    server.fail("slow", "slow", "slow")
    d = client(timeout=10, deadline=0.3, max_retries=5)
    with pytest.raises(APITimeoutError):
        d.request("GET", "/x")


def test_the_deadline_applies_to_the_limiter_wait(server: LocalServer, client: Client) -> None:
    d = client(rate_limit=(1, 30.0), deadline=0.5)
    d.request("GET", "/x")
    with pytest.raises(APITimeoutError, match="rate limiter"):
        d.request("GET", "/x")
    assert server.count() == 1


def test_deadline_error_between_attempts_names_the_last_failure(
    server: LocalServer, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a backoff sleep ever outlast the deadline, the timeout still names what failed."""

    monkeypatch.setattr(core, "backoff_wait", lambda retry, left: 0.5)
    server.fail("500", "500")
    with pytest.raises(APITimeoutError) as info:
        client(max_retries=5, deadline=0.3).request("GET", "/x")
    assert "0.3s deadline ran out" in str(info.value) and "HTTP 500: fault 500" in str(info.value)
    assert info.value.attempts == 1


def test_per_call_options_override_the_client(server: LocalServer, client: Client) -> None:
    server.fail("500")
    d = client(max_retries=5)
    with pytest.raises(ServerError) as info:
        d.artists.get(1, max_retries=0)
    assert info.value.attempts == 1
    server.slow_seconds = 0.5
    server.fail("slow")
    with pytest.raises(APITimeoutError, match=r"no complete response within 0\.2s"):
        d.artists.get(1, timeout=0.2, max_retries=0)
    assert d.artists.get(1, extra_query={"x": True}, extra_headers={"X-Test": "1"}).id == 1
    assert server.seen[-1].path.endswith("?x=true") and server.seen[-1].headers["X-Test"] == "1"


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        ("404", NotFoundError, "fault 404"),
        ("418", APIError, "fault 418"),
        ("301", APIError, "HTTP 301"),
        ("html200", ResponseDecodeError, "not valid JSON"),
        ("garbage", ResponseDecodeError, "not valid JSON"),
    ],
)
def test_every_failure_is_a_musicagent_error(
    server: LocalServer, client: Client, fault: str, error: type[DiscogsError], text: str
) -> None:
    server.fail(fault)
    with pytest.raises(error, match=text):
        client(max_retries=0).artists.get(1)


def test_a_body_that_fails_validation_names_the_endpoint_and_field(server: LocalServer, client: Client) -> None:
    server.fail("invalid")
    with pytest.raises(ResponseValidationError) as info:
        client(max_retries=3).artists.get(1)
    err = info.value
    assert "id" in str(err) and "Artist" in str(err)
    assert err.errors and err.attempts == 1  # validation is not retried: the body will not change


def test_escape_hatch(server: LocalServer, client: Client) -> None:
    d = client(rate_limit=(5, 1.0))
    assert d.request("GET", "/anything", params={"q": "a b", "n": 2, "skip": None}) == {
        "ok": True,
        "method": "GET",
        "path": "/anything?q=a+b&n=2",
    }
    assert d.request("post", "/made", json={"a": [1]})["echo"] == {"a": [1]}
    server.fail("empty")
    assert d.request("DELETE", "/gone") is None
    assert d.rate_limit.local_in_window == 3 and d.metrics.requests == 3
    server.fail("garbage")
    with pytest.raises(ResponseDecodeError, match="not valid JSON"):
        d.request("GET", "/x", max_retries=0)


def test_headers_sent(server: LocalServer, client: Client) -> None:
    d = client(user_agent="bench/1.0 +https://example.org")
    d.request("GET", "/x")
    headers = server.seen[-1].headers
    assert headers["User-Agent"] == "bench/1.0 +https://example.org"
    assert headers["Authorization"].startswith("Discogs token=")
    assert len(headers["X-Request-Id"]) == 12


def test_absolute_urls_to_other_hosts_get_no_credentials(server: LocalServer, client: Client) -> None:
    d = client()
    other = server.url.replace("127.0.0.1", "localhost")
    d.request("GET", other + "/elsewhere")
    assert "Authorization" not in server.seen[-1].headers


def test_download_streams_to_a_file(server: LocalServer, client: Client, tmp_path: object) -> None:
    from pathlib import Path

    target = Path(str(tmp_path)) / "out.json"
    d = client()
    assert d._transport.download(server.url + "/file", target) == target
    assert b'"ok": true' in target.read_bytes()
    server.fail("404")
    with pytest.raises(NotFoundError):
        d._transport.download("/file", target, options=RequestOptions(max_retries=0))
    with pytest.raises(DiscogsError, match="does not exist"):
        d._transport.download("/file", Path(str(tmp_path)) / "missing" / "out.json")


def test_error_bodies_of_every_shape(server: LocalServer, client: Client) -> None:
    d = client(max_retries=0)
    server.fail("500empty")
    with pytest.raises(ServerError, match="HTTP 500 with an empty body"):
        d.request("GET", "/x")
    server.fail("500list")
    with pytest.raises(ServerError) as info:
        d.request("GET", "/x")
    assert info.value.body == {"message": "failed", "detail": ["token=***", {"n": 1}]}


def test_a_body_that_cannot_be_decompressed_is_retried(server: LocalServer, client: Client) -> None:
    server.fail("badgzip")
    d = client(max_retries=1)
    assert d.artists.get(3).id == 3
    server.fail("badgzip")
    with pytest.raises(ResponseDecodeError, match="could not decode"):
        d.artists.get(3, max_retries=0)


def test_multipart_fields(server: LocalServer, client: Client) -> None:
    d = client()
    d._transport.request(
        "POST",
        "/inventory/upload/add",
        fields={"upload": ("add.csv", b"release_id,price\n1,2.5\n", "text/csv")},
        parse=lambda raw: None,
    )
    seen = server.seen[-1]
    assert seen.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b"release_id,price" in seen.body


def test_http_proxy_from_the_environment(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib3 ignores HTTP_PROXY; the transport honours it (the local server plays the proxy)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("NO_PROXY", "")
    d = Discogs(base_url=f"http://127.0.0.1:{port}", token="t0k3n-proxy", rate_limit=None, max_retries=0)
    assert d.request("GET", "/via-proxy")["ok"] is True
    assert server.seen[-1].path == f"http://127.0.0.1:{port}/via-proxy"

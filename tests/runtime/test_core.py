"""The retry policy and the status mapping as plain functions: no server, no sleeping.

These are the rules both transport shells (sync and async) follow; the behaviour tests in
``test_retries.py`` check that the sync shell really follows them against a live server.
"""

from __future__ import annotations

import pytest

from musicagent import APIConnectionError, APITimeoutError, NotFoundError, RateLimitError, ServerError
from musicagent._runtime import core
from musicagent._runtime.core import Call, Failure
from musicagent._runtime.urls import UnsafeURLError, origin_of

H = {"Content-Type": "application/json"}


def make_call(method: str = "GET", *, max_retries: int = 3, deadline: float | None = None) -> Call:
    return Call(
        method=method,
        url="https://api.discogs.com/x",
        shown="https://api.discogs.com/x",
        body=None,
        content_type=None,
        extra_headers=None,
        timeout=10.0,
        deadline=deadline,
        max_retries=max_retries,
    )


def answer(call: Call, status: int, body: bytes = b'{"message": "m"}', headers: dict[str, str] = H) -> object:
    call.begin_attempt()
    return core.status_error(core.received(call, status, headers, body, 0.01))


def test_a_2xx_is_no_error() -> None:
    assert answer(make_call(), 200) is None
    assert answer(make_call(), 204, b"") is None


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses_become_failures(status: int) -> None:
    result = answer(make_call(), status)
    assert isinstance(result, Failure) and result.reached
    assert result.error.status_code == status  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_other_statuses_are_final_errors(status: int) -> None:
    result = answer(make_call(), status)
    assert not isinstance(result, Failure)
    assert getattr(result, "status_code", None) == status
    if status == 404:
        assert isinstance(result, NotFoundError) and result.message == "m"
    if status == 501:
        assert isinstance(result, ServerError)


def test_a_get_is_retried_with_growing_jittered_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "BACKOFF_BASE", 1.0)
    monkeypatch.setattr(core, "BACKOFF_CAP", 4.0)
    call = make_call(max_retries=6)
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    for ceiling in ceilings:
        failed = answer(call, 503)
        assert isinstance(failed, Failure)
        waits = [core.backoff_wait(call.attempts - 1, None) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # full jitter spreads over the whole range, not a fixed value
        assert core.next_wait(call, failed) is not None
    failed = answer(call, 503)
    assert isinstance(failed, Failure)
    assert core.next_wait(call, failed) is None  # 1 attempt + 6 retries spent
    assert call.last is failed.error


def test_no_retries_means_one_attempt() -> None:
    call = make_call(max_retries=0)
    failed = answer(call, 500)
    assert isinstance(failed, Failure) and core.next_wait(call, failed) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_a_write_that_reached_the_server_is_not_repeated(method: str) -> None:
    call = make_call(method)
    failed = answer(call, 500)
    assert isinstance(failed, Failure) and core.next_wait(call, failed) is None
    timed_out = core.failure(call, "read_timeout", "slow", 1.0)
    assert isinstance(timed_out, Failure) and core.next_wait(call, timed_out) is None


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_a_write_is_repeated_after_a_429_or_when_it_never_left(method: str) -> None:
    call = make_call(method)
    limited = answer(call, 429, headers={"Retry-After": "2"})
    assert isinstance(limited, Failure) and core.next_wait(call, limited) == 2.0
    refused = core.failure(call, "connect", "refused", 1.0)
    assert isinstance(refused, Failure) and not refused.reached
    assert isinstance(refused.error, APIConnectionError) and core.next_wait(call, refused) is not None
    connect_timeout = core.failure(call, "connect_timeout", "slow", 1.0)
    assert isinstance(connect_timeout, Failure) and isinstance(connect_timeout.error, APITimeoutError)
    assert core.next_wait(call, connect_timeout) is not None


def test_tls_failures_are_final() -> None:
    assert not isinstance(core.failure(make_call(), "tls", "bad certificate", 1.0), Failure)


def test_retry_after_is_exact_and_bounded() -> None:
    call = make_call()
    limited = answer(call, 429, headers={"Retry-After": "0.3"})
    assert isinstance(limited, Failure) and isinstance(limited.error, RateLimitError)
    assert core.next_wait(call, limited) == 0.3
    too_long = answer(make_call(), 429, headers={"Retry-After": str(core.MAX_RETRY_AFTER + 1)})
    assert isinstance(too_long, Failure) and core.next_wait(make_call(), too_long) is None


def test_the_deadline_shapes_the_waits() -> None:
    call = make_call(deadline=1.0)
    limited = answer(call, 429, headers={"Retry-After": "5"})
    assert isinstance(limited, Failure) and core.next_wait(call, limited) is None  # cannot fit
    failed = answer(call, 500)
    assert isinstance(failed, Failure)
    wait = core.next_wait(call, failed)
    assert wait is not None and wait <= 0.5  # at most half of what is left
    expired = make_call(deadline=1.0)
    expired.started -= 2.0
    assert core.next_wait(expired, failed) is None
    with pytest.raises(APITimeoutError, match=r"1s deadline ran out; the last attempt failed with: HTTP 500"):
        expired.begin_attempt()
    never = make_call(deadline=1.0)
    never.started -= 2.0  # spent before the first attempt (a limiter wait, say): there is no failure to name
    with pytest.raises(APITimeoutError, match=r"^the 1s deadline ran out before the first attempt \(GET "):
        never.begin_attempt()


def test_attempt_timeout_is_cut_to_the_deadline() -> None:
    call = make_call(deadline=0.5)
    assert call.attempt_timeout(call.begin_attempt()) <= 0.5
    assert make_call().attempt_timeout(None) == 10.0


def test_retry_after_parsing() -> None:
    assert core.retry_after({}) is None
    assert core.retry_after({"Retry-After": "3"}) == 3
    # Nothing usable (a storm of them would retry at once, again and again): the backoff decides.
    assert core.retry_after({"Retry-After": "-3"}) is None
    assert core.retry_after({"Retry-After": "0"}) is None
    assert core.retry_after({"Retry-After": "nan"}) is None
    assert core.retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert core.retry_after({"Retry-After": "soon"}) is None


def test_error_messages_describe_bodies_that_are_not_discogs_json() -> None:
    assert core.error_message(b"", 502, "")[0] == "HTTP 502 with an empty body"
    assert core.error_message(b"<html>x</html>", 502, "text/html")[0].startswith("HTTP 502 with an HTML page")
    assert core.error_message(b'{"message": "token=abc"}', 500, "")[1] == {"message": "token=***"}
    moved = answer(make_call(), 301, headers={"Location": "https://x.example/?token=abc"})
    assert "redirect to https://x.example/?token=***" in str(moved)


def test_the_request_id_comes_from_the_server_when_it_sends_one() -> None:
    call = make_call()
    call.begin_attempt()
    assert core.received(call, 200, {"CF-Ray": "abc"}, b"", 0.0).request_id == "abc"
    assert core.received(call, 200, {}, b"", 0.0).request_id == call.cid


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://api.discogs.com:99999/x", "cannot be parsed"),
        ("https://api.discogs.com:abc/x", "cannot be parsed"),
        ("https://[::1/x", "cannot be parsed"),
        ("ftp://api.discogs.com/x", "absolute http"),
        ("https:///x", "absolute http"),
        ("https://api.discogs.com%2f@127.0.0.1/", "user info"),
        ("https://ΑΒΓ.com/", "by one parser"),  # urllib3 reads the IDNA form, urllib.parse does not
        ("https://api.discogs.com\\@127.0.0.1/", "backslashes"),
    ],
)
def test_urls_that_two_parsers_could_read_differently_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError, match=reason):
        origin_of(url)


def test_the_origin_is_what_the_connection_uses() -> None:
    assert origin_of("https://API.discogs.com/x") == ("https", "api.discogs.com", 443)
    assert origin_of("http://[::1]:8080/x") == ("http", "::1", 8080)
    assert origin_of("http://localhost/x", cross_check=False) == ("http", "localhost", 80)


@pytest.mark.parametrize(
    "query",
    [
        {"page": 2, "per_page": 100, "sort": None},
        {"q": "a b&c=d/é~+%", "type": "release"},
        {"k~_.-": "~_.-", "x y": "", "flag": True, "off": False},
        {"artist": "Sigur Rós", "title": "( )", "year": 1999},
    ],
)
def test_a_query_is_encoded_as_urlencode_encodes_it(query: dict[str, object]) -> None:
    """Plain names and values skip quoting; anything else is escaped exactly as the standard library does."""
    from urllib.parse import urlencode

    expected = urlencode([(k, core.query_value(v)) for k, v in query.items() if v is not None])
    assert core.with_query("https://api.example/x", query) == "https://api.example/x?" + expected
    assert core.with_query("https://api.example/x?a=1", query) == "https://api.example/x?a=1&" + expected

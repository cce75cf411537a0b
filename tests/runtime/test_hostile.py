"""Hostile servers: endless, malformed, lying or redirecting answers end in a typed error, in time, with bounded
memory and no credentials where they do not belong. Both clients, against real local servers that write raw bytes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _clients import FLAVORS, make_client

from musicagent import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    Discogs,
    DiscogsError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
)

from .conftest import TOKEN, LocalServer
from .localserver import serve, serve_raw

SLACK = 1.5  # seconds a loaded 2-core machine may add to a bound
MIB = 2**20


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(flavor: str) -> Iterator[Callable[..., Discogs]]:
    """Clients of a given base URL, closed after the test."""
    made: list[Discogs] = []

    def make(url: str, **kwargs: Any) -> Discogs:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("rate_limit", None)
        kwargs.setdefault("timeout", 5.0)
        made.append(make_client(flavor, base_url=url, env={}, dotenv=os.devnull, **kwargs))
        return made[-1]

    yield make
    for d in made:
        d.close()


def head(status: str = "200 OK", *lines: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *lines]) + "\r\n\r\n").encode("latin-1")


def endless(first: bytes, piece: bytes, pause: float = 0.0) -> Callable[[socket.socket], None]:
    """``first``, then ``piece`` forever, as fast as the client takes it (or ``pause`` seconds apart)."""

    def answer(sock: socket.socket) -> None:
        sock.sendall(first)
        while True:
            sock.sendall(piece)
            if pause:
                time.sleep(pause)

    return answer


def endless_json(framing: str) -> tuple[bytes, bytes]:
    """The head and the repeated piece of a JSON answer that never ends, chunked or close-delimited."""
    if framing == "chunked":
        first = head("200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked")
        return first, b"10000\r\n" + b" " * 65536 + b"\r\n"
    return head("200 OK", "Content-Type: application/json", "Connection: close"), b" " * 65536


def once(data: bytes) -> Callable[[socket.socket], None]:
    return lambda sock: sock.sendall(data)


def timed(call: Callable[[], object], error: type[BaseException]) -> tuple[float, Any]:
    started = time.monotonic()
    with pytest.raises(error) as info:
        call()
    return time.monotonic() - started, info.value


# -- endless bodies: the size caps and the deadline -------------------------------------------------------


def test_an_endless_download_at_full_speed_stops_at_the_deadline(
    connect: Callable[..., Discogs], tmp_path: Path
) -> None:
    """The watchdog shuts the socket down, but Linux keeps handing over what still streams in: the
    reader itself must stop. Before, the sync client wrote on until ``max_download_bytes``."""
    body = endless(head("200 OK", "Content-Type: image/jpeg", "Connection: close"), b"\xff" * 65536)
    with serve_raw(body) as server:
        d = connect(server.url, deadline=1.0, max_retries=0, max_download_bytes=2 * 2**30)
        elapsed, _ = timed(lambda: d.images.download(server.url + "/a.jpg", tmp_path / "a.jpg"), APITimeoutError)
    assert elapsed < 1.0 + SLACK
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_an_endless_api_answer_at_full_speed_stops_at_the_deadline(
    connect: Callable[..., Discogs], framing: str
) -> None:
    """As for downloads: with a size cap far away, the deadline, not the cap, ends the read.

    64 KiB every 10 ms: no read waits long, and the test's own memory stays small (at loopback speed
    a second buffers gigabytes). Before the fix the read went on to the 64 MiB cap, ten seconds on.
    """
    with serve_raw(endless(*endless_json(framing), pause=0.01)) as server:
        d = connect(server.url, deadline=1.0, max_retries=0, max_response_bytes=64 * MIB)
        elapsed, _ = timed(lambda: d.request("GET", "/endless"), APITimeoutError)
    assert elapsed < 1.0 + SLACK


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_an_endless_answer_stops_at_the_size_cap_and_is_not_retried(
    connect: Callable[..., Discogs], tmp_path: Path, framing: str
) -> None:
    with serve_raw(endless(*endless_json(framing))) as server:
        d = connect(server.url, max_retries=3, max_response_bytes=MIB, max_download_bytes=MIB)
        _, error = timed(lambda: d.request("GET", "/endless"), ResponseTooLargeError)
        assert "max_response_bytes" in str(error) and server.requests == 1
        _, error = timed(lambda: d.images.download(server.url + "/a.jpg", tmp_path / "a.jpg"), ResponseTooLargeError)
        assert "max_download_bytes" in str(error) and server.requests == 2
    assert list(tmp_path.iterdir()) == []


def test_a_content_length_far_beyond_the_cap_is_refused_before_reading(connect: Callable[..., Discogs]) -> None:
    lying = once(head("200 OK", "Content-Type: application/json", "Content-Length: 999999999999") + b'{"a": 1}')
    with serve_raw(lying) as server:
        d = connect(server.url, max_retries=3, max_response_bytes=MIB)
        timed(lambda: d.request("GET", "/lying"), ResponseTooLargeError)
        assert server.requests == 1


def test_a_content_length_longer_than_the_body_is_a_truncated_answer(
    connect: Callable[..., Discogs], tmp_path: Path
) -> None:
    lying = once(head("200 OK", "Content-Type: application/json", "Content-Length: 5000") + b'{"a": 1}')
    with serve_raw(lying) as server:
        d = connect(server.url, max_retries=1)
        _, error = timed(lambda: d.request("GET", "/short"), ResponseDecodeError)
        assert "truncated" in str(error) and server.requests == 2  # a GET cut off is asked again
        timed(lambda: d.images.download(server.url + "/a.jpg", tmp_path / "a.jpg"), ResponseDecodeError)
    assert list(tmp_path.iterdir()) == []


def test_a_get_cut_off_mid_body_every_time_is_retried_only_while_the_deadline_allows(
    connect: Callable[..., Discogs], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that always breaks off halfway: the most retries allowed, with backoffs that would
    add up to far more than the deadline (20 of them, from 0.5 s up), end at the deadline."""
    from musicagent._runtime import core

    monkeypatch.setattr(core, "BACKOFF_BASE", 0.5)
    cut = once(head("200 OK", "Content-Type: application/json", "Content-Length: 500") + b'{"id": 1, "na')
    with serve_raw(cut) as server:
        d = connect(server.url, max_retries=20, deadline=1.5)
        elapsed, error = timed(lambda: d.request("GET", "/x"), DiscogsError)
    assert isinstance(error, APIConnectionError | ResponseDecodeError), repr(error)
    assert elapsed < 1.5 + SLACK
    assert 2 <= server.requests < 21 and error.attempts <= server.requests + 1  # the last one may die unsent


# -- malformed heads -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        once(b"HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\n{}"),
        once(b"\x00\x01 not http at all\r\n\r\n"),
        once(head("200 OK", *["X-Many: 1"] * 5000, "Content-Length: 2") + b"{}"),
        once(head("200 OK", "X-Long: " + "a" * 10 * MIB, "Content-Length: 2") + b"{}"),
        endless(b"HTTP/1.1 200 OK\r\nX-Endless: ", b"a" * 65536),
        once(b'{"id": 1, "name": "an HTTP/0.9 answer: a body without a head"}'),
        once(b"HTTP/1.1 2000000000000000000000000000 OK\r\nContent-Length: 2\r\n\r\n{}"),
    ],
    ids=[
        "bad status code",
        "not a status line",
        "5000 headers",
        "a 10 MB header line",
        "an endless header line",
        "HTTP/0.9",
        "a status code of 28 digits",
    ],
)
def test_a_malformed_head_is_a_connection_error_in_time(
    connect: Callable[..., Discogs], answer: Callable[[socket.socket], None]
) -> None:
    with serve_raw(answer) as server:
        d = connect(server.url, max_retries=1, timeout=5.0)
        elapsed, error = timed(lambda: d.request("GET", "/x"), APIConnectionError)
    assert not isinstance(error, APITimeoutError)  # refused as malformed, not waited out
    assert elapsed < 5.0 and server.requests == 2  # a GET that got no answer is asked again


@pytest.mark.parametrize("value", ["-1", "-5", "abc", "+8", "8, 8", "9" * 40])
def test_an_invalid_content_length_is_a_connection_error_in_both_clients(
    connect: Callable[..., Discogs], value: str
) -> None:
    """aiohttp refuses the head; the sync client read "no length" and waited for a close that, on a
    kept-alive connection, never came (its timeout, then again for every retry)."""

    def answer(sock: socket.socket) -> None:
        sock.sendall(head("200 OK", "Content-Type: application/json", f"Content-Length: {value}") + b'{"a": 1}')
        time.sleep(10)  # keeps the connection open, as a kept-alive one is

    with serve_raw(answer) as server:
        d = connect(server.url, max_retries=1, timeout=5.0)
        elapsed, error = timed(lambda: d.request("GET", "/x"), APIConnectionError)
    assert not isinstance(error, APITimeoutError) and "Content-Length" in str(error)
    assert elapsed < 5.0 and server.requests == 2  # refused at once; a GET is asked again, as for any bad head


@pytest.mark.parametrize("size", [b"-2", b"zz", b"f" * 18])
def test_a_bogus_chunk_size_is_a_typed_error(connect: Callable[..., Discogs], size: bytes) -> None:
    """A negative size used to escape the sync client as a bare ValueError from deep inside urllib3."""
    first = head("200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked")
    with serve_raw(once(first + size + b"\r\n{}\r\n0\r\n\r\n")) as server:
        d = connect(server.url, max_retries=1)
        elapsed, error = timed(lambda: d.request("GET", "/x"), DiscogsError)
    assert isinstance(error, APIConnectionError | ResponseDecodeError) and not isinstance(error, APITimeoutError)
    assert elapsed < 5.0 and server.requests == 2


@pytest.mark.parametrize("encoding", ["br", "zstd-but-not-really", "gzip"])
def test_a_body_in_an_encoding_that_cannot_be_decoded_is_a_decode_error_in_both_clients(
    connect: Callable[..., Discogs], encoding: str
) -> None:
    """Bytes that are not JSON under a Content-Encoding the client cannot undo (not asked for: it asks
    for gzip and deflate). aiohttp refused brotli at the head, as a connection error, while urllib3
    passed the bytes on and failed to decode them: both now call it what it is."""
    body = b"\x8b\x05\x80not json, not brotli"
    answer = once(
        head(
            "200 OK", "Content-Type: application/json", f"Content-Encoding: {encoding}", f"Content-Length: {len(body)}"
        )
        + body
    )
    with serve_raw(answer) as server:
        d = connect(server.url, max_retries=1)
        timed(lambda: d.request("GET", "/x"), ResponseDecodeError)
    assert server.requests == 2  # a GET is asked again, as for any body that did not decode


def test_an_unknown_encoding_name_over_a_plain_body_is_read_as_it_is(connect: Callable[..., Discogs]) -> None:
    body = b'{"id": 1}'
    answer = once(
        head("200 OK", "Content-Type: application/json", "Content-Encoding: x-bogus", f"Content-Length: {len(body)}")
        + body
    )
    with serve_raw(answer) as server:
        assert connect(server.url).request("GET", "/x") == {"id": 1}


# -- bodies that parse badly ------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["request", "model"])
def test_json_nested_100000_deep_is_a_final_decode_error(connect: Callable[..., Discogs], call: str) -> None:
    """Valid JSON, but no Discogs body nests like this: a typed error at once, not retried (it would come again)."""
    body = b"[" * 100_000 + b"]" * 100_000
    deep = once(head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}") + body)
    with serve_raw(deep) as server:
        d = connect(server.url, max_retries=3)
        send = (lambda: d.request("GET", "/deep")) if call == "request" else (lambda: d.artists.get(1))
        _, error = timed(send, ResponseDecodeError)
    assert "nested too deeply" in str(error) and not error.transient
    assert server.requests == 1


# -- 429 storms ------------------------------------------------------------------------------------------------------


def rate_limited(retry_after: str) -> Callable[[socket.socket], None]:
    return once(head("429 Too Many Requests", f"Retry-After: {retry_after}", "Content-Length: 2") + b"{}")


@pytest.mark.parametrize("value", [str(10**9), "1e309", "inf"])
def test_an_absurd_retry_after_gives_up_at_once(connect: Callable[..., Discogs], value: str) -> None:
    with serve_raw(rate_limited(value)) as server:
        d = connect(server.url, max_retries=5, deadline=30.0)
        elapsed, error = timed(lambda: d.request("GET", "/x"), RateLimitError)
    assert elapsed < SLACK and server.requests == 1
    assert error.retry_after is not None and error.retry_after > 10**8


@pytest.mark.parametrize("value", ["-5", "0", "nan", "Wed, 21 Oct 2015 07:28:00 GMT", "soon"])
def test_a_retry_after_that_says_nothing_usable_falls_back_to_backoff(
    connect: Callable[..., Discogs], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Negative, zero, NaN or a date in the past would retry at once, again and again in a 429 storm."""
    from musicagent._runtime import core

    monkeypatch.setattr(core, "BACKOFF_BASE", 0.2)  # three jittered waits: 0.7 s expected, 0.05 s rarely
    with serve_raw(rate_limited(value)) as server:
        d = connect(server.url, max_retries=3)
        elapsed, error = timed(lambda: d.request("GET", "/x"), RateLimitError)
    assert error.retry_after is None and error.attempts == server.requests == 4
    assert elapsed > 0.05  # at once, the four go in milliseconds


# -- redirects ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_download_redirected_to_another_host_carries_no_credentials(
    connect: Callable[..., Discogs], server: LocalServer, tmp_path: Path, status: int
) -> None:
    with serve() as other:
        server.routes["/a.jpg"] = lambda seen: (status, {"Location": other.url + "/stolen.jpg"}, b"")
        other.routes["/stolen.jpg"] = lambda seen: (200, {"Content-Type": "image/jpeg"}, b"JPEG")
        d = connect(server.url)
        d.images.download(server.url + "/a.jpg", tmp_path / "a.jpg")
        assert server.seen[0].headers["Authorization"] == f"Discogs token={TOKEN}"
        assert [s.path for s in other.seen] == ["/stolen.jpg"]
        assert "Authorization" not in other.seen[0].headers
        assert (tmp_path / "a.jpg").read_bytes() == b"JPEG"
        with pytest.raises(APIError) as info:  # an API call never follows
            d.request("GET", "/a.jpg")
        assert info.value.status_code == status and len(other.seen) == 1


@pytest.mark.parametrize("spelling", ["?token={}", "?t=1&secret={}", "/{}/a.jpg", "?x=Discogs%20token%3D{}"])
def test_a_download_redirect_carrying_the_token_in_its_url_is_not_followed(
    connect: Callable[..., Discogs], server: LocalServer, tmp_path: Path, spelling: str
) -> None:
    """Authorization stays behind on another host, but a token the server writes into the Location
    would go along in the URL: that redirect is the answer instead, a final error that masks it."""
    with serve() as other:
        stolen = other.url + spelling.format(TOKEN)
        server.routes["/a.jpg"] = lambda seen: (302, {"Location": stolen}, b"")
        d = connect(server.url, max_retries=3)
        _, error = timed(lambda: d.images.download(server.url + "/a.jpg", tmp_path / "a.jpg"), APIError)
        assert error.status_code == 302 and other.seen == [] and server.count() == 1
    assert TOKEN not in str(error) and TOKEN not in repr(error) and TOKEN not in str(error.headers)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ("file:///etc/passwd", "not file:"),
        ("ftp://127.0.0.1/a.jpg", "not ftp:"),
        ("FTP://127.0.0.1/a.jpg", "not ftp:"),
        ("data:,JPEG", "not data:"),
        ("javascript:alert(1)", "not javascript:"),
    ],
)
def test_a_download_redirected_to_another_scheme_is_one_final_error_naming_it(
    connect: Callable[..., Discogs], server: LocalServer, tmp_path: Path, location: str, named: str
) -> None:
    """Before, each was a connection error ("No host specified", "Not supported URL scheme"), retried
    as if the network had failed: the same redirect came back every time."""
    server.routes["/a.jpg"] = lambda seen: (302, {"Location": location}, b"")
    d = connect(server.url, max_retries=3)
    elapsed, error = timed(lambda: d.images.download(server.url + "/a.jpg", tmp_path / "a.jpg"), APIError)
    assert error.status_code == 302 and named in str(error) and location in str(error)
    assert server.count() == 1 and error.attempts == 1 and elapsed < SLACK
    assert list(tmp_path.iterdir()) == []


_HTTPS_TO_HTTP = r"""
import json, os, ssl, sys
sys.path[:0] = sys.argv[2].split(os.pathsep)
from _clients import make_client
from runtime.localserver import TOKEN, serve

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(os.environ["SSL_CERT_FILE"], os.environ["TEST_KEY"])
with serve(context) as tls_server, serve() as server:
    tls_server.routes["/a.jpg"] = lambda seen: (302, {"Location": server.url + "/a.jpg"}, b"")
    server.routes["/a.jpg"] = lambda seen: (200, {"Content-Type": "image/jpeg"}, b"JPEG")
    d = make_client(sys.argv[1], base_url=tls_server.url, token=TOKEN, rate_limit=None, env={}, dotenv=os.devnull)
    d.images.download(tls_server.url + "/a.jpg", sys.argv[3])
    d.close()
    print(json.dumps([[s.headers.get("Authorization") for s in state.seen] for state in (tls_server, server)]))
"""


def test_an_https_download_redirected_to_http_carries_no_credentials(
    flavor: str, certificate: tuple[str, str], tmp_path: Path
) -> None:
    """In a child process: aiohttp reads SSL_CERT_FILE (the test's certificate) once, when first imported."""
    tests = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(tests), str(tests.parent / "src")])
    env = {**os.environ, "SSL_CERT_FILE": certificate[0], "TEST_KEY": certificate[1]}
    target = tmp_path / "a.jpg"
    args = [sys.executable, "-c", _HTTPS_TO_HTTP, flavor, path, str(target)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    over_tls, over_http = json.loads(done.stdout.strip().splitlines()[-1])
    assert over_tls == [f"Discogs token={TOKEN}"]
    assert over_http == [None]
    assert target.read_bytes() == b"JPEG"


def test_a_download_redirected_in_a_loop_is_one_final_error(
    connect: Callable[..., Discogs], server: LocalServer, tmp_path: Path
) -> None:
    server.routes["/loop.jpg"] = lambda seen: (302, {"Location": server.url + "/loop.jpg"}, b"")
    d = connect(server.url, max_retries=3)
    _, error = timed(lambda: d.images.download(server.url + "/loop.jpg", tmp_path / "a.jpg"), APIError)
    assert "redirect" in str(error) and error.status_code == 302
    assert server.count() == 6  # the request and 5 redirects followed, once: asking again would loop again
    assert list(tmp_path.iterdir()) == []


# -- TLS that never completes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("server_does", ["nothing", "drip"])
def test_a_tls_handshake_that_never_completes_ends_at_the_deadline(
    connect: Callable[..., Discogs], server_does: str
) -> None:
    """The server accepts TCP and then says nothing (or a byte now and then): the deadline still holds."""

    def answer(sock: socket.socket) -> None:
        if server_does == "drip":  # a TLS record header, then its body a byte at a time
            for byte in b"\x16\x03\x03\x00\x50" + b"\x02" * 80:
                sock.sendall(bytes([byte]))
                time.sleep(0.3)
        time.sleep(30)

    with serve_raw(answer, read_request=False) as server:
        url = server.url.replace("http://", "https://")  # loopback https: credentials go, as to the mock
        d = connect(url, timeout=30.0, deadline=1.5, max_retries=5)
        elapsed, _ = timed(lambda: d.artists.get(1), APITimeoutError)
    assert elapsed < 1.5 + SLACK


# -- one reading of a head in both clients ---------------------------------------------------------------------


def held(data: bytes) -> Callable[[socket.socket], None]:
    """``data``, then the connection kept open, as a kept-alive one is (nothing says the answer is over)."""

    def answer(sock: socket.socket) -> None:
        sock.sendall(data)
        time.sleep(10)

    return answer


@pytest.mark.parametrize(
    "answer",
    [
        held(b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\n{}"),
        held(b"HTTP/1.1 000 Odd\r\nContent-Length: 2\r\n\r\n{}"),
        held(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
        held(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n{"a": 1}\r\n'),
        held(b"HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 2\r\n\r\n{}"),
        held(b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\n{}"),
        once(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"),
        once(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"),
    ],
    ids=[
        "status 099",
        "status 000",
        "HTTP/2.0 over HTTP/1",
        "a body without the blank line before it",
        "a space in a header name",
        "a space before the colon",
        "closed inside the head",
        "closed inside the head, with a length",
    ],
)
def test_a_malformed_head_reads_the_same_in_both_clients(
    connect: Callable[..., Discogs], answer: Callable[[socket.socket], None]
) -> None:
    """The rule (README, "Hostile answers"): HTTP/1.x, a status of three digits from 100, ``Name: value``
    lines, a blank line. Anything else is an APIConnectionError at once (a GET is asked again on a new
    connection). Before, the async client answered 099 as ``APIError`` 99 and waited out the timeout on
    the connection it kept; the sync one read a head cut off by a close as an empty 200 (``None``) and
    waited for a blank line after a body line."""
    with serve_raw(answer) as server:
        d = connect(server.url, max_retries=1, timeout=5.0)
        elapsed, error = timed(lambda: d.request("GET", "/x"), APIConnectionError)
    assert not isinstance(error, APITimeoutError), repr(error)
    assert elapsed < 5.0 and server.requests == 2


@pytest.mark.parametrize("interim", ["102 Processing", "103 Early Hints\r\nLink: </a.css>; rel=preload"])
def test_interim_answers_before_the_real_one_are_skipped_in_both_clients(
    connect: Callable[..., Discogs], interim: str
) -> None:
    """RFC 9110 §15.2: any 1xx (but 101) comes before the final answer. The sync client skipped only
    100 and took a 103 as the answer (an APIError), leaving the real one on the connection."""
    body = b'{"a": 1}'
    final = head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}") + body
    with serve_raw(held(f"HTTP/1.1 {interim}\r\n\r\n".encode() + final)) as server:
        assert connect(server.url, max_retries=0).request("GET", "/x") == {"a": 1}
    assert server.requests == 1


def test_endless_interim_answers_end_at_the_timeout(connect: Callable[..., Discogs]) -> None:
    with serve_raw(endless(b"", b"HTTP/1.1 103 Early Hints\r\n\r\n", pause=0.001)) as server:
        d = connect(server.url, max_retries=0, timeout=1.0)
        elapsed, _ = timed(lambda: d.request("GET", "/x"), APITimeoutError)
    assert elapsed < 1.0 + SLACK


_AFTER_A_CASSETTE = r"""
import os, sys, time
sys.path[:0] = sys.argv[1].split(os.pathsep)
import vcr
from musicagent import APIConnectionError, Discogs
from runtime.localserver import serve_raw

with vcr.use_cassette(os.path.join(sys.argv[2], "none.yaml"), record_mode="none"):
    from musicagent._runtime import headers, transport  # what a first request inside a cassette imports

def answer(sock):
    sock.sendall(b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}")
    time.sleep(10)

with serve_raw(answer) as server:
    d = Discogs(base_url=server.url, rate_limit=None, timeout=5, max_retries=0, env={}, dotenv=os.devnull)
    try:
        d.request("GET", "/x")
    except APIConnectionError as exc:
        print(type(exc).__name__, exc)
"""


def test_the_head_rules_hold_after_the_runtime_was_first_imported_inside_a_cassette(tmp_path: Path) -> None:
    """headers.py bound urllib3's connection classes at import: inside a vcrpy cassette those were vcrpy's
    stubs, so for the rest of the process urllib3's own classes read heads with http.client (a 103 taken
    as the answer, a bad Content-Length waited out). Seen when the cassette tests ran before these."""
    tests = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(tests), str(tests.parent / "src")])
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_A_CASSETTE, path, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "APIConnectionError" in done.stdout and "invalid Content-Length" in done.stdout, done.stdout


# -- what an error holds: nothing of the library's below it ------------------------------------------------------


def _every_text(error: BaseException) -> str:
    """Everything reachable from an error: messages, reprs, args, headers, body, and the exceptions it chains."""
    texts, seen, stack = [], set(), [error]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        texts += [str(item), repr(item), repr(item.args), repr(vars(item))]
        stack += [item.__context__, item.__cause__]
    return "\n".join(texts)


_ECHO = f"Discogs token={TOKEN}".encode()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nX A: " + _ECHO + b"\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 099 " + _ECHO + b"\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: " + TOKEN.encode() + b"\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + TOKEN.encode() + b"\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(_ECHO), _ECHO),
    ],
    ids=["a header line", "the status line", "Content-Length", "a chunk size", "a body that is not JSON"],
)
def test_a_credential_echoed_into_a_malformed_answer_is_nowhere_in_the_error_or_what_it_chains(
    connect: Callable[..., Discogs], answer: bytes
) -> None:
    """The messages were masked, but ``__context__`` kept the library's own exception (urllib3's,
    aiohttp's, json's with its ``doc``), the token in clear: a traceback printer or error tracker
    that walks the chain showed it."""
    with serve_raw(held(answer)) as server:
        d = connect(server.url, max_retries=0)
        _, error = timed(lambda: d.request("GET", "/x"), DiscogsError)
    assert error.__context__ is None and error.__cause__ is None
    assert TOKEN not in _every_text(error)

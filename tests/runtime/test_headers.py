"""Header blocks are read without the email package, and read exactly as http.client reads them.

The reference is http.client's own ``parse_headers`` (the standard library, not this SDK): every
block below is parsed both ways and the results compared. The end-to-end tests use a real socket
server that writes raw bytes, so status handling, chunked bodies and keep-alive run for real.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from musicagent import Discogs
from musicagent._runtime import headers

BLOCKS = {
    "discogs": (
        b"Server: openresty\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
        b"X-Discogs-Ratelimit: 60\r\nX-Discogs-Ratelimit-Used: 1\r\nX-Discogs-Ratelimit-Remaining: 59\r\n\r\n"
    ),
    "repeated names": b"Set-Cookie: a=1\r\nset-cookie: b=2\r\nVary: Accept\r\nVary: Origin\r\n\r\n",
    "empty and spaced values": b"X-Empty:\r\nX-Spaces:    padded  \r\nX-Tab:\tvalue\r\n\r\n",
    "colon in the value": b"Link: <https://api.discogs.com/x?page=2>; rel=next\r\nX-Time: 12:30:00\r\n\r\n",
    "latin-1 bytes": b"X-Name: Bj\xf6rk\r\n\r\n",
    "bare LF line ends": b"Content-Type: text/plain\nContent-Length: 0\n\n",
    "folded value": b"X-Long: first\r\n  second\r\nContent-Length: 0\r\n\r\n",
    "lone CR in a value": b"X-A: a\rb\r\nX-B: 1\r\n\r\n",
    "control characters in a value": b"X-A:\x0bb\x85c\r\nX-B: trailing \r\n\r\n",
    "no headers": b"\r\n",
}


@pytest.mark.parametrize("block", list(BLOCKS.values()), ids=list(BLOCKS))
def test_a_header_block_reads_as_http_client_reads_it(block: bytes) -> None:
    reference = http.client.parse_headers(io.BytesIO(block))
    ours, first = headers._message(headers._header_lines(io.BytesIO(block)))
    assert isinstance(ours, http.client.HTTPMessage)
    assert first == {name.lower(): reference.get(name) for name, _ in reversed(reference.items())}
    assert ours.items() == reference.items()
    assert [ours.get(name) for name, _ in reference.items()] == [reference.get(name) for name, _ in reference.items()]
    assert ours.get("absent", "fallback") == reference.get("absent", "fallback") == "fallback"
    assert ours.get_all("set-cookie") == reference.get_all("set-cookie")
    assert ours.is_multipart() == reference.is_multipart()
    assert ours.get_content_type() == reference.get_content_type()


class _Bytes:
    """What http.client.HTTPResponse reads from: a socket's makefile(), here over fixed bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))  # type: ignore[arg-type]


ANSWERS = {
    "1.1 sized": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "1.1 close": b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\n{}",
    "1.1 chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 9\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "1.1 unsized": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}",
    "1.1 no content": b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    "1.1 not modified": b"HTTP/1.1 304 Not Modified\r\n\r\n",
    "1.1 after 100": b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    "1.0 plain": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "1.0 keep-alive": b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}",
    "1.0 keep-alive header": b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n{}",
    "1.0 proxy-connection": b"HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
    "0.9": b"HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "folded": b"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("answer", list(ANSWERS.values()), ids=list(ANSWERS))
def test_a_response_begins_as_http_clients_does(answer: bytes, method: str) -> None:
    """Status, version, framing (length, chunked) and keep-alive come out as http.client decides them."""
    reference = http.client.HTTPResponse(_Bytes(answer), method=method)  # type: ignore[arg-type]
    ours = headers._Response(_Bytes(answer), method=method)  # type: ignore[arg-type]
    reference.begin()
    ours.begin()
    seen = [(r.status, r.reason, r.version, r.chunked, r.length, r.will_close) for r in (reference, ours)]
    assert seen[0] == seen[1]
    assert ours.msg.items() == reference.msg.items()
    assert ours.read() == reference.read()


def test_a_status_line_of_another_protocol_is_refused_like_http_client_refuses_it() -> None:
    with pytest.raises(http.client.UnknownProtocol):
        headers._Response(_Bytes(b"HTTP/2.0 200 OK\r\n\r\n")).begin()  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [b"two", b"-2", b"", b"2, 2"])
def test_a_content_length_that_is_not_digits_is_refused_unlike_http_client(length: bytes) -> None:
    """http.client reads it as "no length" (the body runs to the close); aiohttp refuses it, and so do we."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\n{}"
    with pytest.raises(http.client.HTTPException, match="invalid Content-Length"):
        headers._Response(_Bytes(answer)).begin()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "block",
    [
        b"Content-Length: 0\r\nnot a header\r\nX-After: 1\r\n\r\n",
        b"Bad Name: 1\r\nContent-Length: 0\r\n\r\n",
        b"X-A : 1\r\n\r\n",
        b'Content-Length: 8\r\n{"a": 1}\r\n',
        b"Content-Type: application/json\r\n",
    ],
    ids=["line without a colon", "name with a space", "space before the colon", "body line", "no blank line"],
)
def test_a_header_block_http_client_would_guess_at_is_refused_as_aiohttp_refuses_it(block: bytes) -> None:
    """http.client reads on past a line that is not ``Name: value`` and takes a close as the end of the
    head; aiohttp refuses both, and so do we (the async client must read one answer the same way)."""
    with pytest.raises(http.client.HTTPException):
        headers._message(headers._header_lines(io.BytesIO(block)))


def test_too_many_or_too_long_header_lines_meet_http_clients_limits() -> None:
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        headers._header_lines(io.BytesIO(b"X: 1\r\n" * 101 + b"\r\n"))
    with pytest.raises(http.client.LineTooLong):
        headers._header_lines(io.BytesIO(b"X: " + b"a" * 70000 + b"\r\n\r\n"))


# -- end to end, against a server that writes raw bytes -----------------------------------------------


class RawServer:
    """Answers each request on a connection with the next scripted raw response."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as reader:
                while self.answers:
                    request = [reader.readline()]
                    while request[-1] not in (b"\r\n", b""):
                        request.append(reader.readline())
                    if request[0] == b"":
                        break
                    answer = self.answers.pop(0)
                    conn.sendall(answer)
                    if b"Connection: close" in answer:
                        conn.shutdown(socket.SHUT_RDWR)  # the body ends with the connection
                        break

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    server = RawServer(list(request.param))
    yield server
    server.close()


def _client(url: str) -> Discogs:
    return Discogs(token="t0k3n-headers", base_url=url, rate_limit=None, max_retries=0, timeout=10)


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    b'X-Discogs-Ratelimit-Remaining: 58\r\n\r\n5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
)
LENGTH = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"b": 2}'
CLOSE = b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"c": 3}'
CONTINUE = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" + LENGTH


@pytest.mark.parametrize("raw_server", [[CHUNKED, LENGTH, LENGTH]], indirect=True)
def test_chunked_and_sized_bodies_share_one_kept_alive_connection(raw_server: RawServer) -> None:
    discogs = _client(raw_server.url)
    assert discogs.request("GET", "/one") == {"a": 1}
    assert discogs.last_response is not None and discogs.last_response.headers["x-discogs-ratelimit-remaining"] == "58"
    assert discogs.request("GET", "/two") == {"b": 2}
    assert discogs.request("GET", "/three") == {"b": 2}
    assert raw_server.connections == 1


@pytest.mark.parametrize("raw_server", [[CLOSE, CONTINUE]], indirect=True)
def test_a_body_that_ends_with_the_connection_and_an_interim_100_answer(raw_server: RawServer) -> None:
    discogs = _client(raw_server.url)
    assert discogs.request("GET", "/closing") == {"c": 3}
    assert discogs.request("GET", "/after-continue") == {"b": 2}
    assert raw_server.connections == 2


@pytest.mark.parametrize("raw_server", [[LENGTH]], indirect=True)
def test_the_clients_connections_read_responses_with_this_module(raw_server: RawServer) -> None:
    """Guards the gain measured in docs/benchmarks.md: the plain reader is the one in use."""
    discogs = _client(raw_server.url)
    discogs.request("GET", "/x")
    assert discogs._transport._pools.base.ConnectionCls.response_class is headers._Response


# -- writing request header lines ------------------------------------------------------------------


class _Recorder:
    """A server that records each request's head as it arrived on the socket and answers an empty 200."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while True:
                    while b"\r\n\r\n" not in data:
                        more = conn.recv(65536)
                        if not more:
                            break
                        data += more
                    if b"\r\n\r\n" not in data:
                        break
                    head, _, data = data.partition(b"\r\n\r\n")
                    self.heads.append(head)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


HEADER_SETS = {
    "the client's own": {
        "User-Agent": "musicagent/1.0 +https://example.org",
        "Accept": "application/vnd.discogs.v2.discogs+json",
        "Authorization": "Discogs token=abc123",
        "X-Request-Id": "0a1b2c3d4e5f",
    },
    "OAuth": {"Authorization": 'OAuth oauth_consumer_key="k", oauth_nonce="n", oauth_signature="a%26b"'},
    "latin-1 value": {"User-Agent": "Bj\xf6rk/1.0"},
    "tab and empty values": {"X-Tab": "a\tb", "X-Empty": ""},
    "odd but legal name": {"X-Name With Space": "1", "X~Odd!#$%&'*+.^_`|": "2"},
    "SKIP_HEADER where urllib3 allows it": {"Accept-Encoding": "@@@SKIP_HEADER@@@", "User-Agent": "@@@SKIP_HEADER@@@"},
    "non-str value": {"X-Count": 5},
    "bytes value": {"X-Raw": b"raw"},
    "CR LF in a value": {"X-Inject": "a\r\nInjected: 1"},
    "lone LF in a value": {"X-Inject": "a\nb"},
    "colon in a name": {"X:Y": "1"},
    "empty name": {"": "1"},
    "non-ASCII name": {"T\xebst": "1"},
    "non-latin-1 value": {"X-Snow": "\u2603"},
    "SKIP_HEADER elsewhere": {"X-Foo": "@@@SKIP_HEADER@@@"},
}


def _sent(connection_class: type, recorder: _Recorder, headers_: dict) -> bytes | tuple[type, str]:
    conn = connection_class("127.0.0.1", recorder.port)
    try:
        conn.request("GET", "/releases/1?a=b", headers=headers_)
        conn.getresponse().read()
    except Exception as exc:  # what the reference refuses must be refused the same way
        return type(exc), str(exc)
    finally:
        conn.close()
    deadline = time.monotonic() + 5
    while not recorder.heads and time.monotonic() < deadline:
        time.sleep(0.01)
    return recorder.heads.pop()


@pytest.mark.parametrize("headers_", list(HEADER_SETS.values()), ids=list(HEADER_SETS))
def test_request_header_lines_reach_the_wire_as_urllib3_writes_them(headers_: dict) -> None:
    """urllib3's own connection class is the reference: same bytes, or the same refusal."""
    from urllib3.connection import HTTPConnection

    recorder = _Recorder()
    try:
        ours = _sent(headers._with_our_response(HTTPConnection), recorder, headers_)
        reference = _sent(HTTPConnection, recorder, headers_)
    finally:
        recorder.sock.close()
    assert ours == reference


@pytest.mark.parametrize("raw_server", [[LENGTH]], indirect=True)
def test_the_clients_connections_write_header_lines_with_this_module(raw_server: RawServer) -> None:
    """Guards the gain measured in docs/benchmarks.md: the short path is the one in use."""
    discogs = _client(raw_server.url)
    discogs.request("GET", "/x")
    assert discogs._transport._pools.base.ConnectionCls.putheader.__module__ == headers.__name__

"""The one local HTTP server of the runtime tests and the rate-limit benchmark.

A ``ThreadingHTTPServer`` on 127.0.0.1 with a free port (plain or TLS). It enforces ``limit`` requests
per ``window`` seconds the way Discogs does (a moving window, 429 beyond it, the three
``X-Discogs-Ratelimit*`` headers), counts the 429s it sends, and plays a queue of faults (500, an HTML
502, a reset connection, a slow or dripped answer, a truncated body, ...) before answering normally.
Routes (``server.routes[path] = handler``) answer anything else a test needs.

No pytest here: ``benchmarks/ratelimit.py`` imports it too. The fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "tok-7f3a9c1e5b2d4680"


def artist_body(artist_id: int) -> dict[str, Any]:
    """The smallest body the Artist model accepts."""
    return {
        "id": artist_id,
        "name": "x",
        "data_quality": "Correct",
        "releases_url": f"https://api.discogs.com/artists/{artist_id}/releases",
        "resource_url": f"https://api.discogs.com/artists/{artist_id}",
    }


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class LocalServer:
    """State shared with the handler threads; tests read the counters and script the faults."""

    limit: int | None = None
    window: float = 1.0
    report_limit: int | None = None  # X-Discogs-Ratelimit, when it should differ from ``limit``
    faults: deque[str] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    admitted: deque[float] = field(default_factory=deque)  # arrival times inside the window
    arrivals: list[float] = field(default_factory=list)  # every admitted request, ever
    rejected: int = 0
    slow_seconds: float = 1.0
    drip_every: float = 0.25  # seconds between two pieces of a dripped answer
    drip_size: int = 4  # bytes per piece of a dripped body (headers drip one byte at a time)
    retry_after: str | None = None
    routes: dict[str, Callable[[Seen], tuple[int, dict[str, str], bytes]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def fail(self, *faults: str) -> None:
        """Queue faults for the next requests, in order."""
        self.faults.extend(faults)

    def add_phantoms(self, count: int) -> None:
        """Requests from "another process" on the same IP: they count against the window now."""
        with self.lock:
            now = time.monotonic()
            self.admitted.extend([now] * count)

    def max_in_window(self) -> int:
        """The most admitted requests that ever fell inside one window (the limit must hold)."""
        times = sorted(self.arrivals)
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= self.window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def count(self, method: str | None = None) -> int:
        return sum(1 for s in self.seen if method is None or s.method == method)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def _answer(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
        with state.lock:
            state.seen.append(seen)
            fault = state.faults.popleft() if state.faults else None
        if fault is not None and self._fault(fault):
            return
        headers: dict[str, str] = {}
        if state.limit is not None:
            with state.lock:
                now = time.monotonic()
                while state.admitted and now - state.admitted[0] >= state.window:
                    state.admitted.popleft()
                if len(state.admitted) >= state.limit:
                    state.rejected += 1
                    allowed = False
                else:
                    state.admitted.append(now)
                    state.arrivals.append(now)
                    allowed = True
                used = len(state.admitted)
            reported = state.report_limit or state.limit
            headers = {
                "X-Discogs-Ratelimit": str(reported),
                "X-Discogs-Ratelimit-Used": str(used),
                "X-Discogs-Ratelimit-Remaining": str(max(0, reported - used)),
            }
            if not allowed:
                if state.retry_after is not None:
                    headers["Retry-After"] = state.retry_after
                self._send(429, {"message": "You are making requests too quickly."}, headers)
                return
        path = self.path.split("?", 1)[0]
        route = state.routes.get(path)
        if route is not None:
            status, extra, raw = route(seen)
            self._send_raw(status, raw, {**headers, **extra})
        elif path.startswith("/artists/"):
            self._send(200, artist_body(int(path.rsplit("/", 1)[1])), headers)
        elif self.command == "POST":
            is_json = self.headers.get("Content-Type", "").startswith("application/json")
            self._send(201, {"created": True, "echo": json.loads(body) if is_json else len(body)}, headers)
        else:
            self._send(200, {"ok": True, "method": self.command, "path": self.path}, headers)

    def _fault(self, fault: str) -> bool:
        """Play one fault; False when the request should then be answered normally."""
        state = self.server.state
        if fault in ("500", "503", "504", "404", "418", "301"):
            self._send(int(fault), {"message": f"fault {fault}"}, {})
        elif fault == "502html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
            self._send_raw(502, page, {"Content-Type": "text/html"})
        elif fault == "429":
            extra = {"Retry-After": state.retry_after} if state.retry_after is not None else {}
            self._send(429, {"message": "You are making requests too quickly."}, extra)
        elif fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            self.connection.close()
        elif fault == "slow":
            time.sleep(state.slow_seconds)
            self.close_connection = True
        elif fault == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(b'{"id": 1, "name": "x", "data_')
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault == "drip_body":  # headers at once, then the body a few bytes at a time
            body = json.dumps({**artist_body(1), "padding": "x" * 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            self._drip(body, state.drip_size)
        elif fault == "drip_headers":  # the status line and headers one byte at a time
            body = json.dumps(artist_body(1)).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            self._drip((head + "X-Padding: " + "p" * 100 + "\r\n\r\n").encode() + body, 1)
        elif fault == "drip_raw":  # the route's answer, its body dripped in pieces of drip_size
            status, extra, raw = state.routes[self.path.split("?", 1)[0]](Seen("GET", self.path, {}, b"", 0.0))
            self.send_response(status)
            for name, value in {**extra, "Content-Length": str(len(raw))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.flush()
            self._drip(raw, state.drip_size)
        elif fault == "html200":
            self._send_raw(200, b"<html><body>Proxy login required</body></html>", {"Content-Type": "text/html"})
        elif fault == "garbage":
            self._send_raw(200, b'{"id": 1, "name": ', {"Content-Type": "application/json"})
        elif fault == "500empty":
            self._send_raw(500, b"", {})
        elif fault == "500list":
            self._send(500, {"message": "failed", "detail": ["token=leaked-abc123", {"n": 1}]}, {})
        elif fault == "badgzip":
            self._send_raw(200, b"this is not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"})
        elif fault == "invalid":
            self._send(200, {"id": "not-a-number", "name": "x"}, {})
        elif fault == "empty":
            self._send_raw(204, b"", {})
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(f"unknown fault {fault!r}")
        return True

    def _drip(self, data: bytes, size: int) -> None:
        """Write ``data`` in pieces of ``size`` bytes, ``drip_every`` seconds apart, until done or cut off."""
        self.close_connection = True
        try:
            for start in range(0, len(data), size):
                self.wfile.write(data[start : start + size])
                self.wfile.flush()
                time.sleep(self.server.state.drip_every)
        except OSError:
            pass  # the client gave up: what the drip tests expect

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        self._send_raw(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})

    def _send_raw(self, status: int, raw: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops SYNs from 8 threads: a 1 s retransmit
    state: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken pipes after a client timeout are expected here


@contextlib.contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    """Run a local server on a free port until the block ends; ``tls`` makes it an https server."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = LocalServer()
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    httpd.state.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@dataclass
class RawAnswerServer:
    """A server that answers each request with whatever bytes ``answer(sock)`` writes (hostile ones too).

    ``requests`` counts the requests it read. The connection closes after each answer.
    """

    url: str
    requests: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)


@contextlib.contextmanager
def serve_raw(answer: Callable[[socket.socket], None], *, read_request: bool = True) -> Iterator[RawAnswerServer]:
    """Run a raw-bytes server on a free port until the block ends: malformed, endless or lying answers.

    ``read_request=False`` answers as soon as a connection is accepted (a TLS handshake that never completes).
    """
    listener = socket.create_server(("127.0.0.1", 0))
    state = RawAnswerServer(f"http://127.0.0.1:{listener.getsockname()[1]}")

    def handle(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            try:
                if not read_request:
                    answer(conn)
                    return
                lines = [reader.readline(65536)]
                while lines[-1] not in (b"\r\n", b"\n", b""):
                    lines.append(reader.readline(65536))
                state.requests += 1
                fields = (line.decode("latin-1").split(":", 1) for line in lines[1:-1])
                state.headers.append({name.strip(): value.strip() for name, value in fields})
                answer(conn)
            except OSError:
                pass  # the client gave up: what hostile tests expect

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()

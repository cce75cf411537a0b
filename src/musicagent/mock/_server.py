"""The mock Discogs server: recorded answers over real HTTP, with Discogs' moving rate-limit window."""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ._cassettes import Interaction, load_cassettes, normalize_path, query_of

__all__ = ["NOT_FOUND_MESSAGE", "TOO_MANY_MESSAGE", "MockServer", "default_cassettes", "find_match"]

NOT_FOUND_MESSAGE = "The requested resource was not found."
TOO_MANY_MESSAGE = "You are making requests too quickly."
# Never part of what selects a recording: page size changes nothing about which page is asked for,
# and credentials differ between the recording and the replay.
IGNORED_PARAMS = frozenset({"per_page", "token", "key", "secret"})
_DISCOGS_ORIGINS = ("https://api.discogs.com", "http://api.discogs.com")
_JSON = "application/json"


def default_cassettes() -> Path | None:
    """The repository's ``cassettes/`` in a source checkout, else the copy packaged in the wheel."""
    package = Path(__file__).resolve().parent
    candidates = [package / "cassettes", package / "cassettes.json"]
    if package.parents[1].name == "src":  # src/musicagent/mock: an editable install of the repository
        candidates.insert(0, package.parents[2] / "cassettes")
    return next((candidate for candidate in candidates if candidate.exists()), None)


def _significant(query: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {k: v for k, v in query.items() if k not in IGNORED_PARAMS and not k.startswith("oauth_")}


def _page(query: Mapping[str, tuple[str, ...]]) -> str:
    """The page number asked for, as text (absent means 1, like Discogs); unparsable values stay as sent."""
    values = query.get("page")
    if not values:
        return "1"
    try:
        return str(int(values[-1]))
    except ValueError:
        return values[-1]


def find_match(
    interactions: Sequence[Interaction],
    method: str,
    raw_path: str,
    raw_query: str,
    *,
    authenticated: bool = True,
) -> Interaction | None:
    """The recording that answers this request, or None.

    Same method (HEAD is answered by GET recordings) and path; no significant parameter that both
    the request and the recording name with different values (so ``/releases/1`` is answered by a
    recording of ``/releases/1?curr_abbr=USD``, but ``q=beatles`` never by ``q=nirvana``); the same
    page. Among several: a recorded 401 is preferred for a request without credentials and used last
    for one with them (as Discogs would answer), then the one matching the most parameters, then the
    one the request left out the fewest parameters of, then a success over a recorded failure, then
    the one recorded with the same ``per_page``, then the first loaded: never a matter of timing.
    """
    wanted_method = "GET" if method == "HEAD" else method
    path = normalize_path(raw_path)
    query = query_of(raw_query)
    significant = _significant(query)
    page = _page(query)
    best: Interaction | None = None
    best_score: tuple[int, ...] = (-1,)
    for candidate in interactions:
        if candidate.method != wanted_method or candidate.path != path or _page(candidate.query) != page:
            continue
        recorded = {k: v for k, v in _significant(candidate.query).items() if k != "page"}
        if any(k in significant and significant[k] != v for k, v in recorded.items()):
            continue  # a parameter both sides name, with different values: another question
        matched = sum(1 for k, v in recorded.items() if significant.get(k) == v)
        score = (
            int((candidate.status == 401) != authenticated),
            matched,
            matched - len(recorded),  # fewer recorded parameters the request left out
            int(candidate.status < 400),  # a recorded failure only when nothing else fits
            int(candidate.query.get("per_page") == query.get("per_page")),
        )
        if score > best_score:
            best, best_score = candidate, score
    return best


def _has_credentials(authorization: str | None, raw_query: str) -> bool:
    """Discogs auth travels in ``Authorization`` or in the query (``token``, ``key``, ``oauth_token``)."""
    if authorization:
        return True
    query = query_of(raw_query)
    return any(query.get(name) for name in ("token", "key", "oauth_token"))


class _Window:
    """Discogs' moving window: at most ``limit`` requests in any ``seconds``; refused ones are not counted."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> tuple[bool, int, float]:
        """(allowed, used in the window, seconds until the oldest request leaves it)."""
        with self._lock:
            now = self._clock()
            while self._times and self._times[0] <= now - self.seconds:
                self._times.popleft()
            allowed = len(self._times) < self.limit
            if allowed:
                self._times.append(now)
            wait = self._times[0] + self.seconds - now if self._times else 0.0
            return allowed, len(self._times), max(0.0, wait)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled clients reuse connections
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def version_string(self) -> str:
        return "musicagent-mock"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.owner.log
        if log is not None:
            log(f"{self.address_string()} {format % args}")

    def _handle(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(length)  # drained so the connection stays usable; bodies are not matched
        elif "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._drain_chunks()
        parts = urlsplit(self.path)
        self.server.owner._respond(self, self.command, parts.path, parts.query, self.headers.get("Authorization"))

    def _drain_chunks(self) -> None:
        """Read a chunked request body to its end, so the next request on the connection parses."""
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                self.close_connection = True
                return
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            self.rfile.read(size + 2)  # the chunk and its CRLF

    def do_GET(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        """Discogs answers what it does not allow with a JSON 405, not the stdlib's HTML 501."""
        body = _error("The method is not allowed for the requested URL.")
        self.server.owner._send(
            self, "OPTIONS", 405, "Method Not Allowed", [("Allow", "GET, HEAD, POST, PUT, DELETE")], body
        )

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: MockServer

    def __init__(self, address: tuple[str, int], owner: MockServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is its own business: no traceback on stderr unless logging."""
        log = self.owner.log
        if log is not None:
            log(f"{client_address[0]} error: {sys.exc_info()[1]!r}")

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """End kept-alive connections too, so a stopped server answers nobody."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class MockServer:
    """Replays recorded Discogs answers on ``host:port`` (port 0: a free one) for any HTTP client.

    ``cassettes`` is a directory searched recursively for ``*.yaml``/``*.json`` vcrpy cassettes, or
    one such file (default: :func:`default_cassettes`). ``rate_limit=(requests, seconds)`` sizes the
    moving window reported in ``X-Discogs-Ratelimit*`` headers; beyond it the answer is 429 (with
    ``Retry-After``, which Discogs itself does not send). ``None`` turns limiting and those headers
    off. Recorded ``https://api.discogs.com`` links are rewritten to this server (``rewrite_urls``)
    so that clients following ``pagination.urls`` or ``resource_url`` stay offline. ``log`` receives
    one line per request; the default logs nothing.
    """

    def __init__(
        self,
        cassettes: Path | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: tuple[int, float] | None = (60, 60.0),
        rewrite_urls: bool = True,
        log: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_limit is not None and (rate_limit[0] < 1 or rate_limit[1] <= 0):
            raise ValueError("rate_limit needs at least 1 request per a positive number of seconds")
        chosen = Path(cassettes) if cassettes is not None else default_cassettes()
        self.cassettes = chosen
        self.host = host
        self.port = port
        self.rate_limit = rate_limit
        self.rewrite_urls = rewrite_urls
        self.log = log
        self._clock = clock
        self.interactions: tuple[Interaction, ...] = ()
        self._window: _Window | None = None
        self._httpd: _HTTPServer | None = None
        self._url: str | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = self._url or "stopped"
        return f"<MockServer {state} ({len(self.interactions)} interactions)>"

    @property
    def url(self) -> str:
        """The base URL to give a client (``http://127.0.0.1:PORT``), once started."""
        if self._url is None:
            raise RuntimeError("the mock server is not running: call start() first")
        return self._url

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> MockServer:
        """Load the cassettes, bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self.interactions = tuple(load_cassettes(self.cassettes)) if self.cassettes is not None else ()
        self._window = _Window(*self.rate_limit, self._clock) if self.rate_limit is not None else None
        httpd = _HTTPServer((self.host, self.port), self)
        self.port = int(httpd.server_address[1])
        self._url = f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"musicagent-mock:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and every open connection; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._url = None
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- answering -----------------------------------------------------------------------------
    def _respond(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        raw_path: str,
        raw_query: str,
        authorization: str | None = None,
    ) -> None:
        """Answer one request: 429 past the window, the recording when one matches, else 404."""
        rate_headers: list[tuple[str, str]] = []
        if self._window is not None:
            allowed, used, wait = self._window.admit()
            limit = self._window.limit
            rate_headers = [
                ("X-Discogs-Ratelimit", str(limit)),
                ("X-Discogs-Ratelimit-Used", str(used)),
                ("X-Discogs-Ratelimit-Remaining", str(max(0, limit - used))),
            ]
            if not allowed:
                retry = [("Retry-After", str(max(1, math.ceil(wait))))]
                self._send(handler, method, 429, "Too Many Requests", rate_headers + retry, _error(TOO_MANY_MESSAGE))
                return
        authenticated = _has_credentials(authorization, raw_query)
        match = find_match(self.interactions, method, raw_path, raw_query, authenticated=authenticated)
        if match is None:
            self._send(handler, method, 404, "Not Found", rate_headers, _error(NOT_FOUND_MESSAGE))
            return
        headers = [(k, v) for k, v in match.headers if not k.lower().startswith("x-discogs-ratelimit")]
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", _JSON))
        body = match.body
        if method in ("GET", "HEAD") and match.status == 200:
            capped = self._cap_pagination(body, method, raw_path, raw_query, authenticated)
            if capped is not None:
                body = capped
                headers = [(k, v) for k, v in headers if k.lower() not in ("link", "content-length")]
        base = self._url
        if self.rewrite_urls and base is not None:
            headers = [(k, _rewrite(v, base)) for k, v in headers]
            body = _rewrite(body.decode("utf-8", "surrogateescape"), base).encode("utf-8", "surrogateescape")
        headers.append(("X-Musicagent-Mock-Cassette", match.source))
        self._send(handler, method, match.status, match.reason, headers + rate_headers, body)

    def _cap_pagination(
        self, body: bytes, method: str, raw_path: str, raw_query: str, authenticated: bool
    ) -> bytes | None:
        """A recorded page claims every page of its listing; lower ``pages`` to the recorded ones.

        Without this a client iterating a recording of page 1 of 23 would meet a 404 at page 2;
        with it, the last recorded page says it is the last (no ``next`` link), and iteration ends.
        None when the body needs no change.
        """
        if b'"pagination"' not in body:
            return None
        try:
            data = json.loads(body)
            pagination = data["pagination"]
            page, pages = int(pagination["page"]), int(pagination["pages"])
        except (ValueError, KeyError, TypeError):
            return None
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        last = page
        while last < pages:
            query["page"] = str(last + 1)
            if find_match(self.interactions, method, raw_path, urlencode(query), authenticated=authenticated) is None:
                break
            last += 1
        if last == pages:
            return None
        pagination["pages"] = last
        per_page = pagination.get("per_page")
        if isinstance(per_page, int) and isinstance(pagination.get("items"), int):
            pagination["items"] = min(pagination["items"], per_page * last)
        urls = pagination.get("urls")
        if isinstance(urls, dict):
            urls.pop("last", None)
            if page >= last:
                urls.pop("next", None)
        return json.dumps(data, ensure_ascii=False).encode("utf-8")

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        method: str,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        handler.send_response(status, reason or None)
        if not any(k.lower() == "content-type" for k, _ in headers):
            handler.send_header("Content-Type", _JSON)
        for name, value in headers:
            handler.send_header(name, value)
        if status not in (204, 304):  # these never have a body, nor a length
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if method != "HEAD" and status not in (204, 304) and body:
            handler.wfile.write(body)


def _rewrite(text: str, base: str) -> str:
    """Point recorded Discogs links at ``base``, also where JSON escaped their slashes (PHP re-saves)."""
    for origin in _DISCOGS_ORIGINS:
        text = text.replace(origin, base).replace(origin.replace("/", "\\/"), base.replace("/", "\\/"))
    return text


def _error(message: str) -> bytes:
    return json.dumps({"message": message}).encode("utf-8")

"""The mock Discogs server: recordings, auth, state, images and stubs over real HTTP (or HTTPS)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import math
import re
import socket
import ssl
import sys
import threading
import time
import typing
from collections import deque
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from .._runtime.operations import OperationInfo
from .._runtime.redact import mask
from ._auth import UNAUTHORIZED_MESSAGE, check, credential_kind, is_credential_param
from ._cassettes import Interaction, load_cassettes, normalize_path, query_of
from ._match import allowed_methods, find_match, nearest, request_line, route, significant, wrong_path_param
from ._oauth import AUTHORIZE_PATH, OAuthFlow, oauth_values
from ._refs import References, collect
from ._sort import SORT_PARAMS, sort_field, sorted_items
from ._state import Answer, State
from ._stubs import RecordedRequest, Stub, StubRegistry

__all__ = [
    "ANSWER_HEADER",
    "NOT_FOUND_MESSAGE",
    "TOO_MANY_MESSAGE",
    "MockServer",
    "default_cassettes",
    "find_match",
]

NOT_FOUND_MESSAGE = "The requested resource was not found."
METHOD_NOT_ALLOWED_MESSAGE = "The method is not allowed for the requested URL."
TOO_MANY_MESSAGE = "You are making requests too quickly."
# Every answer says where it came from: recorded | state | synthesized | stub | refused | image | miss | strict
ANSWER_HEADER = "X-Musicagent-Mock"
MAX_BODY = 16 * 1024 * 1024  # a request body larger than this is refused (413) rather than read into memory
_DISCOGS_ORIGINS = ("https://api.discogs.com", "http://api.discogs.com")
# Image hosts Discogs links to; their URLs are served by the mock itself under /_images/<host>/.
_IMAGE_HOSTS = re.compile(
    r"https?:(\\?/)(\\?/)((?:i|img|s|st|api-img)\.discogs\.com|(?:secure\.|www\.)?gravatar\.com)(\\?/)"
)
# Paths the mock answers with its image: its own /_images/<host>/..., and the API's old image paths.
_IMAGE_PATHS = ("/_images/", "/image/", "/images/")
_JSON = "application/json"
_OAUTH_PATHS = frozenset({"/oauth/request_token", "/oauth/access_token", AUTHORIZE_PATH})
_WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def default_cassettes() -> Path | None:
    """The repository's ``cassettes/`` in a source checkout, else the copy packaged in the wheel."""
    package = Path(__file__).resolve().parent
    candidates = [package / "cassettes", package / "cassettes.json"]
    if package.parents[1].name == "src":  # src/musicagent/mock: an editable install of the repository
        candidates.insert(0, package.parents[2] / "cassettes")
    return next((candidate for candidate in candidates if candidate.exists()), None)


def _image() -> bytes:
    return resources.files(__package__).joinpath("data/cover.jpg").read_bytes()


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
        owner = self.server.owner
        self.request.settimeout(owner.idle_timeout)  # no read or write waits longer, TLS handshake included
        if owner.ssl_context is not None:
            self.server.watch(self.request, busy=False)
            try:
                wrapped = owner.ssl_context.wrap_socket(self.request, server_side=True)
            finally:
                self.server.forget(self.request)
            self.request = wrapped
        super().setup()
        self.server.watch(self.connection, busy=False)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.forget(self.connection)

    def handle_one_request(self) -> None:
        """Each request must arrive whole within ``idle_timeout`` of the last answer (idle, slowloris)."""
        self.server.watch(self.connection, busy=False)
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.owner.log
        if log is not None:
            log(f"{self.address_string()} {format % args}")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line per request, with credentials in the query masked (the stdlib logs the raw line)."""
        if self.server.owner.log is not None:
            line = mask(self.requestline)  # the SDK's one masking: secret parameters, not oauth_nonce
            self.log_message('"%s" %s %s', line, str(code), str(size))

    def _read_body(self) -> bytes | None:
        """The request body (None when too large: answered 413 and the connection closed)."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            self.close_connection = True
            return None
        if length > 0:
            return self.rfile.read(length)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunks()
        return b""

    def _read_chunks(self) -> bytes | None:
        """Read a chunked request body to its end, so the next request on the connection parses."""
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                self.close_connection = True
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size + 2)[:size])  # the chunk and its CRLF

    def _handle(self) -> None:
        body = self._read_body()
        self.server.watch(self.connection, busy=True)
        owner = self.server.owner
        if body is None:
            owner._send(
                self,
                self.command,
                413,
                "Payload Too Large",
                [(ANSWER_HEADER, "refused"), ("Connection", "close")],
                _error("The request body is too large."),
            )
            return
        parts = urlsplit(self.path)
        owner._respond(self, self.command, parts.path, parts.query, body)

    def do_GET(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        """Discogs answers what it does not allow with a JSON 405, not the stdlib's HTML 501."""
        body = _error(METHOD_NOT_ALLOWED_MESSAGE)
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
    request_queue_size = 1024  # the listen backlog: a burst of clients waits in the kernel, not in SYN retries
    owner: MockServer

    def __init__(self, address: tuple[str, int], owner: MockServer) -> None:
        self.owner = owner
        self._connections: dict[socket.socket, tuple[bool, float]] = {}  # socket -> (busy, since)
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is its own business: no traceback on stderr unless logging."""
        log = self.owner.log
        if log is not None:
            log(f"{client_address[0]} error: {sys.exc_info()[1]!r}")

    def watch(self, connection: socket.socket, *, busy: bool) -> None:
        with self._connections_lock:
            self._connections[connection] = (busy, time.monotonic())

    def forget(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(connection, None)

    def reap(self, timeout: float) -> int:
        """Close connections waiting for (the rest of) a request longer than ``timeout``; how many."""
        now = time.monotonic()
        with self._connections_lock:
            stale = [c for c, (busy, since) in self._connections.items() if not busy and now - since > timeout]
        for connection in stale:
            _shutdown(connection)
        return len(stale)

    def close_connections(self) -> None:
        """End kept-alive connections too, so a stopped server answers nobody."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            _shutdown(connection)


def _shutdown(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class MockServer:
    """An offline Discogs on ``host:port`` (port 0: a free one) for any HTTP client.

    ``cassettes`` is a directory searched recursively for ``*.yaml``/``*.json`` vcrpy cassettes, or
    one such file (default: :func:`default_cassettes`). ``rate_limit=(requests, seconds)`` sizes the
    moving window reported in ``X-Discogs-Ratelimit*`` headers; beyond it the answer is 429 (with
    ``Retry-After``, which Discogs itself does not send); ``None`` turns it off. ``user`` is who the
    credentials belong to (default: the user of the recorded ``/oauth/identity``); their own data
    can be changed. ``strict`` answers only recordings (and stubs, state and auth refusals):
    anything synthesized or missing is a 501. ``ssl_context`` serves HTTPS. ``idle_timeout`` closes
    a connection whose next request has not arrived whole in that many seconds. ``log`` receives
    one line per request and explains every miss.
    """

    def __init__(
        self,
        cassettes: Path | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: tuple[int, float] | None = (60, 60.0),
        rewrite_urls: bool = True,
        strict: bool = False,
        user: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 20.0,
        log: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_limit is not None and (rate_limit[0] < 1 or rate_limit[1] <= 0):
            raise ValueError("rate_limit needs at least 1 request per a positive number of seconds")
        if idle_timeout <= 0:
            raise ValueError("idle_timeout must be a positive number of seconds")
        chosen = Path(cassettes) if cassettes is not None else default_cassettes()
        self.cassettes = chosen
        self.host = host
        self.port = port
        self.rate_limit = rate_limit
        self.rewrite_urls = rewrite_urls
        self.strict = strict
        self.user = user
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self.log = log
        self._clock = clock
        self.interactions: tuple[Interaction, ...] = ()
        self._references = References()
        self._stubs = StubRegistry()
        self._oauth = OAuthFlow()
        self._state: State | None = None
        self._window: _Window | None = None
        self._httpd: _HTTPServer | None = None
        self._url: str | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

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
        loaded = load_cassettes(self.cassettes) if self.cassettes is not None else []
        self.interactions = tuple(_error_on_one_line(_absolute(interaction)) for interaction in loaded)
        self._references = collect(self.interactions)
        if self.user is None:
            self.user = self._recorded_identity() or "mock-user"
        self._state = State(self.user, self._recorded_json)
        self._window = _Window(*self.rate_limit, self._clock) if self.rate_limit is not None else None
        httpd = _HTTPServer((self.host, self.port), self)
        self.port = int(httpd.server_address[1])
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"{scheme}://{host}:{self.port}"
        self._httpd = httpd
        self._stopping.clear()
        self._threads = [
            threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"musicagent-mock:{self.port}",
                daemon=True,
            ),
            threading.Thread(
                target=self._reaper, args=(httpd,), name=f"musicagent-mock-reaper:{self.port}", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and every open connection; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._url = None
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _reaper(self, httpd: _HTTPServer) -> None:
        while not self._stopping.wait(min(1.0, self.idle_timeout / 4)):
            httpd.reap(self.idle_timeout)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> MockServer:
        """``async with MockServer() as server``: started off the event loop (loading cassettes reads files)."""
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- stubs and assertions --------------------------------------------------------------------
    def stub(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | str | None = None,
        error: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Stub:
        """Answer ``method path`` (``{name}`` is one path segment, ``*`` anything) with this, before anything else.

        ``json`` (or raw ``body``) is the answer's body; ``error`` makes it a Discogs error body
        ``{"message": error}`` (status 500 unless a 4xx/5xx is given). ``times=1`` answers once, None
        every time; ``query`` only matches requests with those parameters. Stubs added first win.
        """
        return self._stubs.add(
            method,
            path,
            status=status,
            json_body=json,
            body=body,
            error=error,
            headers=headers,
            times=times,
            query=query,
        )

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (credentials masked)."""
        return self._stubs.requests

    def assert_requested(
        self, method: str, path: str, *, times: int | None = None, query: Mapping[str, str] | None = None
    ) -> list[RecordedRequest]:
        """The requests for ``method path`` (a stub-style pattern); AssertionError if none (or not ``times``)."""
        found = list(self._stubs.find(method, path, query))
        if (times is None and not found) or (times is not None and len(found) != times):
            seen = "\n  ".join(f"{r.method} {r.path}" for r in self.requests) or "(nothing)"
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(f"expected {method.upper()} {path} {wanted}, got {len(found)}; received:\n  {seen}")
        return found

    def reset(self) -> None:
        """Forget stubs, received requests and every change made through writes."""
        self._stubs.clear()
        self._oauth = OAuthFlow()
        if self.user is not None:
            self._state = State(self.user, self._recorded_json)

    # -- answering -----------------------------------------------------------------------------
    def _recorded_identity(self) -> str | None:
        match = find_match(self.interactions, "GET", "/oauth/identity", {})
        try:
            name = json.loads(match.body)["username"] if match is not None and match.status == 200 else None
        except (ValueError, KeyError, TypeError):
            return None
        return name if isinstance(name, str) else None

    def _recorded_json(self, path: str) -> Any:
        """The parsed body of a recorded ``GET path`` (None if none), for state to start from.

        Recordings only, never synthesized answers: a user nobody recorded starts with empty lists.
        """
        match = find_match(self.interactions, "GET", path, {})
        try:
            return json.loads(match.body) if match is not None and match.status == 200 and match.body else None
        except ValueError:
            return None

    def _respond(
        self, handler: BaseHTTPRequestHandler, method: str, raw_path: str, raw_query: str, body: bytes
    ) -> None:
        """Answer one request: stub, image, auth, state, recording, synthesized answer or an explicit miss."""
        path = normalize_path(raw_path)
        query = query_of(raw_query)
        headers = handler.headers
        reply = _Reply(self, handler, method, path, query, body)
        if method in ("GET", "HEAD") and path.startswith(_IMAGE_PATHS):
            reply.send(200, [("Content-Type", "image/jpeg")], _image(), "image")
            return
        stub = self._stubs.take(method, path, query)
        if stub is not None:
            reply.send(stub.status, list(stub.headers), stub.body, "stub", stub)
            return
        if self._window is not None:
            allowed, used, wait = self._window.admit()
            limit = self._window.limit
            reply.rate = [
                ("X-Discogs-Ratelimit", str(limit)),
                ("X-Discogs-Ratelimit-Used", str(used)),
                ("X-Discogs-Ratelimit-Remaining", str(max(0, limit - used))),
            ]
            if not allowed:
                retry = [("Retry-After", str(max(1, math.ceil(wait))))]
                reply.error(429, TOO_MANY_MESSAGE, "recorded", retry)
                return
        kind = credential_kind(headers.get("Authorization"), query)
        reply.anonymous = kind is None
        if (kind is not None and kind.startswith("oauth")) or path in _OAUTH_PATHS:
            values = oauth_values(headers.get("Authorization"), query, body)
            if kind == "oauth" and not self._oauth.acts_as_user(values):
                kind = "oauth-consumer"  # a request token not exchanged yet names no user
            if path in _OAUTH_PATHS and method in ("GET", "HEAD", "POST"):
                self._oauth_step(reply, path, kind, values, query)
                return
        found = route(method, path)
        if found is None and path == "/" and method in ("GET", "HEAD"):
            reply.json(200, self._about(), "state")  # the API root, which clients call to "ping"
            return
        state = self._state
        assert state is not None and self.user is not None
        # GET of a write-only path stays a miss: whether Discogs answers it is not known here.
        methods = allowed_methods(path) if found is None and method in _WRITES else []
        if methods and not self._recorded_at(method, path):
            # Discogs' FAQ: a verb the resource does not take (PUT /artists/1) is a 405, not a 404.
            reply.error(405, METHOD_NOT_ALLOWED_MESSAGE, "refused", [("Allow", ", ".join(methods))])
            return
        if found is not None and wrong_path_param(found) is not None:
            reply.error(404, NOT_FOUND_MESSAGE, "refused")  # Discogs routes a mistyped id nowhere
            return
        if found is not None:
            page = (query.get("page") or ("1",))[-1]
            refused = check(found.operation, found.params, kind, self.user, int(page) if page.isdigit() else 1)
            if refused is not None:
                reply.error(*refused, "refused")
                return
            parsed, problem = _validated(found.operation, method, body, query)
            if problem is not None:
                reply.error(*problem, "refused")
                return
            if found.operation.id == "oauth.identity" and self._recorded_identity() != self.user:
                reply.json(200, self._identity(), "state")  # the configured user: a rule, not a guess
                return
            if method in ("GET", "HEAD") and state.deleted(path):
                reply.error(404, NOT_FOUND_MESSAGE, "state")
                return
            answer = state.handle(found.operation, found.params, query, parsed, path)
            if answer is not None:
                self._answer(reply, answer)
                return
        if found is not None and method in ("GET", "HEAD") and found.operation.kind == "page":
            repaged = self._repaged(path, query)
            if isinstance(repaged, str):
                self._miss(reply, repaged)
                return
            if repaged is not None:
                source, made_body = repaged
                self._replay(reply, source, made_body, path, query, paginated=False)
                return
        match = find_match(self.interactions, method, path, query, authenticated=kind is not None)
        if match is not None:
            if method == "DELETE" and match.status < 300:
                state.forget(path)
            self._replay(reply, match, match.body, path, query)
            return
        if found is not None and method in ("GET", "HEAD") and found.operation.kind == "page":
            order = sort_field(found.operation.id, query)
            if isinstance(order, tuple):
                ordered = self._repaged(path, query, order)
                if isinstance(ordered, str):
                    self._miss(reply, ordered)
                    return
                if ordered is not None:
                    source, made_body = ordered
                    if self.strict:
                        self._miss(reply, f"only {source.source} put in the asked order")
                        return
                    reply.extra.append(("X-Musicagent-Mock-Synthesized-From", f"{source.source} (sorted)"))
                    self._replay(reply, source, made_body, path, query, "synthesized", paginated=False)
                    return
        if found is not None and method in ("GET", "HEAD"):
            made = self._synthesize(found.operation, found.params, method, path, query)
            if isinstance(made, str):
                self._miss(reply, made)
                return
            if made is not None:
                source, made_body = made
                if self.strict:
                    self._miss(reply, f"only an answer synthesized from {source.source} (ids substituted)")
                    return
                reply.extra.append(("X-Musicagent-Mock-Synthesized-From", source.source))
                self._replay(reply, source, made_body, source.path, source.query, answer="synthesized")
                return
        self._miss(reply, "no recording")

    def _oauth_step(
        self,
        reply: _Reply,
        path: str,
        kind: str | None,
        values: Mapping[str, str],
        query: Mapping[str, tuple[str, ...]],
    ) -> None:
        """The OAuth flow's three steps, by GET or POST as clients send them (see ``_oauth``)."""
        if path == AUTHORIZE_PATH:
            grant = self._oauth.authorize(query)
        elif kind is None:
            reply.error(401, UNAUTHORIZED_MESSAGE, "refused")
            return
        elif path == "/oauth/request_token":
            grant = self._oauth.request_token(values)
        else:
            grant = self._oauth.access_token(values)
        headers = [("Content-Type", grant.content_type)]
        headers += [("Location", grant.location)] if grant.location else []
        reply.send(grant.status, headers, grant.body, "state")

    def _recorded_at(self, method: str, path: str) -> bool:
        """A recording of this method and path exists (a cassette of an undocumented write is still served)."""
        wanted = "GET" if method == "HEAD" else method
        return any(i.method == wanted and i.path == path for i in self.interactions)

    def _about(self) -> dict[str, Any]:
        """The API root's answer (``GET /``, undocumented but live): its statistics count what is recorded here."""
        ids: dict[str, set[str]] = {"releases": set(), "artists": set(), "labels": set()}
        for interaction in self.interactions:
            parts = interaction.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] in ids and parts[1].isdigit():
                ids[parts[0]].add(parts[1])
        return {
            "hello": "Welcome to the Discogs API.",
            "api_version": "v2",
            "documentation_url": "https://www.discogs.com/developers/",
            "statistics": {name: len(found) for name, found in ids.items()},
        }

    def _identity(self) -> dict[str, Any]:
        return {
            "id": 1,
            "username": self.user,
            "resource_url": f"https://api.discogs.com/users/{self.user}",
            "consumer_name": "musicagent mock",
        }

    def _answer(self, reply: _Reply, answer: Answer) -> None:
        if answer.body is None:
            reply.send(answer.status, [], b"", answer.kind)
        else:
            reply.json(answer.status, answer.body, answer.kind)

    def _miss(self, reply: _Reply, why: str) -> None:
        """Say plainly that the mock cannot answer this faithfully, and what it could answer."""
        line = request_line(reply.method, reply.path, reply.query)
        near = nearest(self.interactions, reply.method, reply.path, reply.query)
        message = f"musicagent mock: {line} was not recorded ({why})."
        if near:
            message += " Nearest recorded: " + "; ".join(near) + "."
        if self.log is not None:
            self.log(f"miss: {message}")
        if self.strict:
            reply.error(501, message + " (--strict answers recordings only)", "strict")
        else:
            reply.error(404, message, "miss")

    def _replay(
        self,
        reply: _Reply,
        match: Interaction,
        body: bytes,
        path: str,
        query: Mapping[str, tuple[str, ...]],
        answer: str = "recorded",
        *,
        paginated: bool = True,
    ) -> None:
        """Send a recording's answer (``body``: its body, or one made from it); ``paginated=False``: already cut."""
        headers = [(k, v) for k, v in match.headers if not k.lower().startswith("x-discogs-ratelimit")]
        if not paginated:  # a Link header to match the body is added when it is sent (_Reply.send)
            headers = [(k, v) for k, v in headers if k.lower() not in ("link", "content-length")]
        elif reply.method in ("GET", "HEAD") and match.status == 200:
            capped = self._cap_pagination(body, reply.method, path, query)
            if capped is not None:
                body = capped
                headers = [(k, v) for k, v in headers if k.lower() not in ("link", "content-length")]
        if reply.anonymous and b'"images"' in body:
            body = _without_image_urls(body)
        headers.append(("X-Musicagent-Mock-Cassette", match.source))
        reply.send(match.status, headers, body, answer, reason=match.reason)

    def _synthesize(
        self,
        op: OperationInfo,
        params: Mapping[str, str],
        method: str,
        path: str,
        query: Mapping[str, tuple[str, ...]],
    ) -> tuple[Interaction, bytes] | str | None:
        """A recording of the same operation and question for other ids, with the ids substituted.

        A listing's pages agree with each other: a page past what this resource's recorded first page
        says exists is never borrowed (a str: why it is a miss), and page N of an unrecorded resource
        comes from the same recorded resource as its page 1, or not at all.
        """
        if not params:
            return None
        wanted = significant(method, path, query)
        page = wanted.pop("page", None)
        first_query = {k: v for k, v in query.items() if k != "page"}
        if page is not None and find_match(self.interactions, method, path, first_query) is not None:
            return f"page {page[-1]} is past the recorded pages of this listing"
        for candidate in self.interactions:
            other = route(candidate.method, candidate.path)
            if other is None or other.operation.id != op.id or candidate.status != 200:
                continue
            if significant(candidate.method, candidate.path, candidate.query) != wanted:
                continue
            source = candidate
            if page is not None:
                asked = {**{k: v for k, v in candidate.query.items() if k != "page"}, "page": page}
                paged = find_match(self.interactions, "GET", candidate.path, asked)
                if paged is None or paged.status != 200:
                    return f"page {page[-1]} is past the recorded pages of {candidate.path}, which page 1 is made from"
                source = paged
            made = _substitute(source.body, other.params, params)
            if made is not None:
                return source, self._references.name(op.id, params, made)
        return None

    def _repaged(
        self,
        path: str,
        query: Mapping[str, tuple[str, ...]],
        order: tuple[tuple[str | int, ...], bool] | None = None,
    ) -> tuple[Interaction, bytes] | str | None:
        """The listing cut at the asked ``per_page`` when its recordings were cut at another.

        Discogs pages 50 items unless asked (at most 100). The items of the listing's consecutive
        recorded pages from page 1 are cut again, so ``per_page=100`` gets 100 items and page 2 of 10
        the items 11 to 20. A listing recorded in part ends with what was recorded (``items`` and
        ``pages`` count that, as :meth:`_cap_pagination` does), its last page maybe short. None when
        the asked size is the recorded one (or nothing is recorded); a str when the asked page lies
        past the recorded items. With ``order`` (from :func:`sort_field`) the listing recorded
        without a sort is put in that order first, if every item of it is recorded.
        """
        asked_size = _per_page(query)
        asked_query = {k: v for k, v in query.items() if k not in ("page", "per_page")}
        first_query = {k: v for k, v in asked_query.items() if order is None or k not in SORT_PARAMS}
        first = find_match(self.interactions, "GET", path, {**first_query, "per_page": (str(asked_size),)})
        found = route("GET", path)
        field = _items_field(found.operation) if found is not None else None
        listing = _listing(first.body, field) if first is not None and first.status == 200 else None
        if first is None or listing is None or (order is None and listing[1]["per_page"] == asked_size):
            return None
        field, pagination, items = listing
        recorded_size = pagination["per_page"]
        for number in range(2, pagination["pages"] + 1):
            page_query = {**first_query, "page": (str(number),), "per_page": (str(recorded_size),)}
            later = find_match(self.interactions, "GET", path, page_query)
            more = _listing(later.body, field) if later is not None and later.status == 200 else None
            if more is None or more[1]["page"] != number or more[1]["per_page"] != recorded_size:
                break
            items.extend(more[2])
        if order is not None:
            if len(items) < pagination["items"]:
                return (
                    f"sorting needs the whole listing, and {len(items)} of its {pagination['items']} items are recorded"
                )
            items = sorted_items(items, *order)
        pages = max(1, math.ceil(len(items) / asked_size))
        page = _page(query)
        if page > pages:
            return f"page {page} of {asked_size} per page is past the recorded items of this listing"
        urls: dict[str, str] = {}

        def link(number: int) -> str:
            asked = [(k, v) for k, values in asked_query.items() if not is_credential_param(k) for v in values]
            return f"{_DISCOGS_ORIGINS[0]}{path}?{urlencode([*asked, ('page', number), ('per_page', asked_size)])}"

        if page < pages:
            urls.update(last=link(pages), next=link(page + 1))
        if page > 1:
            urls.update(first=link(1), prev=link(page - 1))
        data = json.loads(first.body)
        data["pagination"] = {
            **pagination,
            "page": page,
            "pages": pages,
            "per_page": asked_size,
            "items": len(items),
            "urls": urls,
        }
        data[field] = items[(page - 1) * asked_size : page * asked_size]
        return first, json.dumps(data, ensure_ascii=False).encode("utf-8")

    def _cap_pagination(
        self, body: bytes, method: str, path: str, query: Mapping[str, tuple[str, ...]]
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
        asked = {k: v[-1] for k, v in query.items()}
        last = page
        while last < pages:
            asked["page"] = str(last + 1)
            if find_match(self.interactions, method, path, urlencode(asked)) is None:
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
        if handler.close_connection and not any(k.lower() == "connection" for k, _ in headers):
            # The request said "Connection: close" (or was HTTP/1.0): say we close, as HTTP/1.1 asks and
            # Discogs does. Unsaid, Node's keep-alive agent pools the socket and its next request on it
            # dies with "socket hang up" (disconnect sends "Connection: close" on every request).
            handler.send_header("Connection", "close")
        if status not in (204, 304):  # these never have a body, nor a length
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if method != "HEAD" and status not in (204, 304) and body:
            handler.wfile.write(body)


class _Reply:
    """One answer being made: adds the rate headers, points links at the mock, logs the request."""

    def __init__(
        self,
        server: MockServer,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        query: Mapping[str, tuple[str, ...]],
        body: bytes,
    ) -> None:
        self.server, self.handler, self.method, self.path, self.query, self.body = (
            server,
            handler,
            method,
            path,
            query,
            body,
        )
        self.rate: list[tuple[str, str]] = []
        self.extra: list[tuple[str, str]] = []
        self.anonymous = False  # no credentials: Discogs sends no image URLs

    def error(self, status: int, message: str, answer: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.send(status, list(headers or []), _error(message), answer)

    def json(self, status: int, body: Any, answer: str) -> None:
        self.send(status, [], json.dumps(body, ensure_ascii=False).encode("utf-8"), answer)

    def send(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        answer: str,
        stub: Stub | None = None,
        reason: str = "",
    ) -> None:
        if status == 200 and b'"pagination"' in body and not any(k.lower() == "link" for k, _ in headers):
            link = _link_header(body)  # every page of a listing, whoever made it, as Discogs sends them
            headers = [*headers, ("Link", link)] if link else headers
        base = self.server._url
        if self.server.rewrite_urls and base is not None and answer != "image":
            headers = [(k, _rewrite(v, base)) for k, v in headers]
            body = _rewrite(body.decode("utf-8", "surrogateescape"), base).encode("utf-8", "surrogateescape")
        # Discogs' documented answers allow any origin: browser clients call the API directly.
        all_headers = [*headers, *self.extra, ("Access-Control-Allow-Origin", "*"), (ANSWER_HEADER, answer), *self.rate]
        MockServer._send(self.handler, self.method, status, reason, all_headers, body)
        secret = ("authorization", "cookie")
        masked = {k: ("***" if k.lower() in secret else v) for k, v in self.handler.headers.items()}
        query = {k: v for k, v in self.query.items() if not is_credential_param(k)}
        self.server._stubs.record(
            RecordedRequest(self.method, self.path, query, masked, self.body, answer, status), stub
        )


def _validated(
    op: OperationInfo, method: str, body: bytes, query: Mapping[str, tuple[str, ...]]
) -> tuple[Any, tuple[int, str] | None]:
    """The JSON body, checked against the operation's request schema (its generated model).

    A write whose spec has no body still gets a JSON object it was sent (parsed, unchecked): some
    clients send in a body what the docs put in the query. The other way round too: a body field
    the body lacks is read from the query (the docs write body fields as URI templates, and
    discojs sends the wantlist's notes and rating that way).
    """
    if method not in _WRITES:
        return None, None
    if op.body_model is None:
        try:
            loose = json.loads(body) if body.strip().startswith(b"{") else None
        except ValueError:
            loose = None
        return (loose if isinstance(loose, dict) else None), None
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError:
        return None, (422, "Invalid body: not valid JSON.")
    if not isinstance(parsed, dict):
        return None, (422, "Invalid body: a JSON object is required.")
    for param in op.params:
        if param.location == "body" and param.wire not in parsed and param.wire in query:
            parsed[param.wire] = _typed(query[param.wire][-1], param.type)
    from pydantic import ValidationError

    from .._generated import models

    model = getattr(models, op.body_model)
    try:
        model.model_validate(parsed)
    except ValidationError as exc:
        # An edit may send only what changes (python3-discogs-client's listing.save(), discogs-sdk's
        # update()): what it leaves out stays as it was, so only the fields sent must be right.
        errors = [
            e for e in exc.errors() if not (method == "POST" and op.id.endswith(".update") and e["type"] == "missing")
        ]
        if errors:
            where = ".".join(str(part) for part in errors[0]["loc"]) or "body"
            return None, (422, f"Invalid {where}: {errors[0]['msg']}.")
    return parsed, None


def _typed(text: str, kind: str) -> Any:
    """A query value as the JSON value of a body field of type ``kind`` (as sent if it is none)."""
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text) if any(c in text for c in ".eE") else int(text)
            return number if math.isfinite(number) else text
    except ValueError:
        return text
    if kind == "boolean" and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1")
    return text


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _per_page(query: Mapping[str, tuple[str, ...]]) -> int:
    """The page size Discogs answers with: 50 unless asked, at most 100."""
    asked = _int((query.get("per_page") or (None,))[-1])
    return 50 if asked is None or asked < 1 else min(asked, 100)


def _page(query: Mapping[str, tuple[str, ...]]) -> int:
    asked = _int((query.get("page") or (None,))[-1])
    return 1 if asked is None or asked < 1 else asked


def _listing(body: bytes, field: str | None = None) -> tuple[str, dict[str, Any], list[Any]] | None:
    """(items field, pagination, items) of a page of a listing, or None if ``body`` is none.

    ``field`` names the items (the spec's): a master's versions come with ``filter_facets``, a list
    too. Without it, the body's one list is taken.
    """
    try:
        data = json.loads(body)
        pagination = data["pagination"]
        numbers = {name: int(pagination[name]) for name in ("page", "pages", "per_page", "items")}
    except (ValueError, KeyError, TypeError):
        return None
    fields = [name for name, value in data.items() if name != "pagination" and isinstance(value, list)]
    if field is not None:
        fields = [name for name in fields if name == field]
    if len(fields) != 1 or numbers["per_page"] < 1:
        return None
    return fields[0], {**pagination, **numbers}, list(data[fields[0]])


@functools.lru_cache(maxsize=64)
def _items_field(op: OperationInfo) -> str | None:
    """The field of a page operation's answer that holds its items: the one typed a list of its item model."""
    if op.kind != "page" or op.model is None or op.item_model is None:
        return None
    from .._generated import models

    page, item = getattr(models, op.model), getattr(models, op.item_model)
    for name, info in page.model_fields.items():
        if typing.get_origin(info.annotation) is list and typing.get_args(info.annotation) == (item,):
            return str(info.alias or name)
    return None


def _without_image_urls(body: bytes) -> bytes:
    """``body`` as Discogs answers a caller without credentials: its ``images`` with empty URLs."""
    try:
        data = json.loads(body)
    except ValueError:
        return body

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "images" and isinstance(inner, list):
                    for image in inner:
                        if isinstance(image, dict):
                            image.update({k: "" for k in ("uri", "uri150", "resource_url") if k in image})
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(data)
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _link_header(body: bytes) -> str:
    """Discogs' ``Link`` header (``<url>; rel="next", ...``) from the ``pagination.urls`` of a page's body.

    Empty when the body is no page or its listing has one page (no links).
    """
    try:
        urls = json.loads(body)["pagination"]["urls"]
    except (ValueError, KeyError, TypeError):
        return ""
    if not isinstance(urls, dict):
        return ""
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in urls.items() if isinstance(url, str))


def _substitute(body: bytes, recorded: Mapping[str, str], wanted: Mapping[str, str]) -> bytes | None:
    """``body`` with the recorded path values replaced by the requested ones (JSON bodies only)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    changes = {name: (old, wanted[name]) for name, old in recorded.items() if name in wanted and wanted[name] != old}

    def text(value: str) -> str:
        for name, (old, new) in changes.items():
            if name == "username" and value.casefold() == old.casefold():
                return new
            value = re.sub(rf"(?<=/){re.escape(old)}(?=[-/?#]|$)", new, value)
        return value

    def walk(value: Any, key: str | None, depth: int) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, None, depth + 1) for v in value]
        if isinstance(value, str):
            return text(value)
        if isinstance(value, int) and not isinstance(value, bool):
            for name, (old, new) in changes.items():
                if str(value) == old and new.isdigit() and (key == name or (key == "id" and depth == 1)):
                    return int(new)
        return value

    return json.dumps(walk(data, None, 0), ensure_ascii=False).encode("utf-8")


# A link some recordings (the documentation's examples) give relative to the API: made absolute.
_RELATIVE_LINK = re.compile(
    rb'("(?:[a-z_]*url|first|prev|next|last|thumb|cover_image|uri|uri150)"\s*:\s*")(/[^/"][^"]*)"'
)


def _absolute(interaction: Interaction) -> Interaction:
    """``interaction`` with its relative API links absolute, so every link the mock sends is.

    A search result's ``uri`` (``/release/1-The-Persuader-Stockholm``) is a page of the website,
    not of the API, and Discogs sends it relative: it stays as recorded.
    """
    if not _RELATIVE_LINK.search(interaction.body):
        return interaction

    def link(found: re.Match[bytes]) -> bytes:
        key, target = found.group(1), found.group(2)
        if key.startswith((b'"uri"', b'"uri150"')) and not target.startswith((b"/image/", b"/images/")):
            return found.group(0)
        return key + _DISCOGS_ORIGINS[0].encode() + target + b'"'

    return dataclasses.replace(interaction, body=_RELATIVE_LINK.sub(link, interaction.body))


def _error_on_one_line(interaction: Interaction) -> Interaction:
    """A recorded JSON error body as Discogs writes it: ``{"message": "Release not found."}`` on one line.

    Some recordings (other projects' fixtures) pretty-print it, and clients match Discogs' own form:
    disconnect reads the message with ``/^\\{"message": "(.+)"\\}/``, else reports "Unknown error.".
    """
    if interaction.status < 400 or "json" not in interaction.content_type:
        return interaction
    try:
        data = json.loads(interaction.body)
    except ValueError:
        return interaction
    return dataclasses.replace(interaction, body=json.dumps(data).encode("utf-8"))


def _rewrite(text: str, base: str) -> str:
    """Point recorded Discogs links (the API's and its image hosts') at ``base``, escaped slashes too."""
    escaped = base.replace("/", "\\/")

    def image(found: re.Match[str]) -> str:
        slash = found.group(4)
        return (escaped if slash == "\\/" else base) + f"{slash}_images{slash}{found.group(3)}{slash}"

    text = _IMAGE_HOSTS.sub(image, text)
    for origin in _DISCOGS_ORIGINS:
        text = text.replace(origin, base).replace(origin.replace("/", "\\/"), escaped)
    return text


def _error(message: str) -> bytes:
    return json.dumps({"message": message}).encode("utf-8")

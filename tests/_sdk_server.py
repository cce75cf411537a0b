"""A tiny Discogs stand-in on 127.0.0.1 that records every request exactly as it arrived.

Used by test_client.py, test_params.py, test_pagination.py and test_config.py. It serves synthetic
bodies that satisfy the generated models' required fields:

* ``/artists/{id}`` -> an ``Artist``
* ``/artists/{id}/releases`` -> ``ArtistReleasesPage``, honouring ``page``/``per_page``:
  artist 1 has 250 items; artist 2 has 250 items served in *short* pages (3 fewer than per_page,
  the page count still computed from per_page, as Discogs does); artist 3 answers an empty page 2
  while claiming 5 pages; artist 4 has no releases at all.
* ``/database/search`` -> ``SearchPage`` (7 results)
* ``/releases/{id}/rating/{username}`` -> ``ReleaseRating`` (the username decoded from the path)

``server.routes`` maps a path (without query) to a callable returning (status, headers, body) for
anything a test wants to script.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOTAL = 250
Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the raw request target (path and query) as it arrived on the wire
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query, keep_blank_values=True).items()}


def release_item(n: int) -> dict[str, Any]:
    """An ArtistRelease with every required field (id, type, title, role, resource_url)."""
    return {
        "id": n,
        "type": "release" if n % 2 else "master",
        "title": f"Title {n}",
        "role": "Main",
        "artist": "Somebody",
        "year": 1990 + n % 30,
        "resource_url": f"https://api.discogs.com/releases/{n}",
    }


def artist_body(artist_id: int) -> dict[str, Any]:
    return {
        "id": artist_id,
        "name": f"Artist {artist_id}",
        "data_quality": "Correct",
        "releases_url": f"https://api.discogs.com/artists/{artist_id}/releases",
        "resource_url": f"https://api.discogs.com/artists/{artist_id}",
    }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


def artist_releases(artist_id: int, query: dict[str, str]) -> Reply:
    page = int(query.get("page", "1"))
    per_page = int(query.get("per_page", "50"))
    total = 0 if artist_id == 4 else TOTAL
    pages = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    end = min(total, start + per_page)
    if artist_id == 2:  # short pages: fewer items than per_page although more pages follow
        end = min(end, start + per_page - 3)
    if artist_id == 3:
        pages = 5
        if page >= 2:
            start = end = 0
    items = [release_item(n) for n in range(start + 1, end + 1)] if start < end else []
    pagination = {
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "items": total,
        "urls": {"next": f"https://api.discogs.com/artists/{artist_id}/releases?page={page + 1}"}
        if page < pages
        else {},
    }
    return _json(200, {"pagination": pagination, "releases": items})


def search(query: dict[str, str]) -> Reply:
    results = [
        {
            "id": n,
            "type": "release",
            "title": f"Result {n}",
            "thumb": None,
            "uri": f"/release/{n}",
            "resource_url": f"https://api.discogs.com/releases/{n}",
        }
        for n in range(1, 8)
    ]
    per_page = int(query.get("per_page", "50"))
    pagination = {"page": 1, "pages": 1, "per_page": per_page, "items": len(results), "urls": {}}
    return _json(200, {"pagination": pagination, "results": results})


class DiscogsServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.routes: dict[str, Callable[[Seen], Reply]] = {}
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                with owner._lock:
                    owner.requests.append(seen)
                status, headers, body = owner.reply(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def reply(self, seen: Seen) -> Reply:
        route = self.routes.get(seen.path)
        if route is not None:
            return route(seen)
        if m := re.fullmatch(r"/artists/(\d+)", seen.path):
            return _json(200, artist_body(int(m[1])))
        if m := re.fullmatch(r"/artists/(\d+)/releases", seen.path):
            return artist_releases(int(m[1]), seen.query)
        if seen.path == "/database/search":
            return search(seen.query)
        if m := re.fullmatch(r"/releases/(\d+)/rating/([^/]+)", seen.path):
            if seen.method == "DELETE":
                return 204, {}, b""
            return _json(200, {"username": unquote(m[2]), "release_id": int(m[1]), "rating": 0})
        return _json(404, {"message": "The requested resource was not found."})

    def pages_requested(self) -> list[int]:
        return [int(r.query.get("page", "1")) for r in self.requests]

    def __enter__(self) -> DiscogsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


@contextmanager
def running() -> Iterator[DiscogsServer]:
    with DiscogsServer() as server:
        yield server


def closed_port_url() -> str:
    """A loopback URL nobody listens on: any request to it fails with a connection error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"

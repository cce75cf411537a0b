"""A loopback stand-in for api.discogs.com that serves real Discogs bodies, for the benchmarks.

Run it as its own process (``python benchmarks/_server.py``) so that the client's process CPU time
never includes the server's work. It binds 127.0.0.1 on a free port and prints one line,
``READY http://127.0.0.1:PORT``, when it accepts connections. It stops when its standard input
closes (the runner died or is done) or after ``--max-seconds``, whichever comes first.

Routes (GET only):

* ``/releases/{RELEASE_ID}``: the real release body, byte for byte as it was saved from the API;
* ``/artists/{ARTIST_ID}/releases?page=N&per_page=M``: synthetic pages of ``--list-items`` items in
  all, built by repeating the real items of a real artist-releases page, with a Discogs-shaped
  ``pagination`` block (``urls`` holds only the links that exist, as Discogs does);
* ``/_count``: ``{"requests": N}``, the requests answered so far (not counted itself), so a benchmark
  can show how many requests reached the server (the response cache's);
* anything else: 404 with Discogs' ``{"message": ...}`` body.

Every answer carries the headers Discogs sends (``X-Discogs-Ratelimit*``, ``X-Discogs-Media-Type``,
``Cache-Control``...). Bodies are sent uncompressed whatever ``Accept-Encoding`` says, so every
client does the same work per byte.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

HERE = Path(__file__).resolve().parent
DEFAULT_REALDATA = HERE.parent.parent / "shared" / "realdata"
# A REAL-FULL release (saved raw from the live API) and a REAL-FULL artist-releases page.
DEFAULT_RELEASE = "kellnerd__harmony/testdata/https!/com.discogs.api/releases/16004480.json"
DEFAULT_ARTIST_RELEASES = "lizmat__Discogs-API/t/client/artists/108713/releasesQQpageEQ1AMper_pageEQ50.json"


class Routes:
    """Everything the server answers, precomputed so that a request costs the server little."""

    def __init__(self, base_url: str, release_file: Path, list_file: Path, list_items: int) -> None:
        self.base_url = base_url
        self.release_body = release_file.read_bytes()
        self.release_id = int(json.loads(self.release_body)["id"])
        page = json.loads(list_file.read_bytes())
        self.artist_items = page["releases"]
        # The artist id is in the page's own links: .../artists/108713/releases?...
        link = next(iter(page["pagination"]["urls"].values()))
        self.artist_id = int(urlsplit(link).path.split("/")[2])
        self.list_items = list_items
        self._pages: dict[tuple[int, int], bytes] = {}
        self._lock = threading.Lock()
        self.not_found = json.dumps({"message": "The requested resource was not found."}).encode()

    def list_page(self, page: int, per_page: int) -> bytes | None:
        key = (page, per_page)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        pages = max(1, math.ceil(self.list_items / per_page))
        if page < 1 or page > pages:
            return None
        start = (page - 1) * per_page
        count = min(per_page, self.list_items - start)
        real = self.artist_items
        items = [real[(start + i) % len(real)] for i in range(count)]
        url = f"{self.base_url}/artists/{self.artist_id}/releases?page={{}}&per_page={per_page}"
        urls: dict[str, str] = {}
        if page > 1:
            urls["first"] = url.format(1)
            urls["prev"] = url.format(page - 1)
        if page < pages:
            urls["last"] = url.format(pages)
            urls["next"] = url.format(page + 1)
        body = {
            "pagination": {"page": page, "pages": pages, "per_page": per_page, "items": self.list_items, "urls": urls},
            "releases": items,
        }
        # Discogs' own separators (", " and ": "), UTF-8 as is.
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        with self._lock:
            self._pages[key] = data
        return data


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openresty"
    sys_version = ""
    disable_nagle_algorithm = True
    routes: Routes  # set on the class by main()
    answered = 0  # requests answered, for /_count
    count_lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        body: bytes | None = None
        routes = self.routes
        if segments == ["_count"]:
            self._answer(200, json.dumps({"requests": Handler.answered}).encode())
            return
        with Handler.count_lock:
            Handler.answered += 1
        if len(segments) == 2 and segments[0] == "releases" and segments[1] == str(routes.release_id):
            body = routes.release_body
        elif segments == ["artists", str(routes.artist_id), "releases"]:
            query = dict(parse_qsl(parts.query))
            try:
                page = int(query.get("page", "1"))
                per_page = max(1, min(100, int(query.get("per_page", "50"))))
            except ValueError:
                page, per_page = 0, 50
            body = routes.list_page(page, per_page)
        status = 200 if body is not None else 404
        self._answer(status, body if body is not None else routes.not_found)

    def _answer(self, status: int, body: bytes) -> None:
        reason = "OK" if status == 200 else "Not Found"
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            f"Server: openresty\r\n"
            f"Date: {http_date()}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n"
            "Vary: Accept-Encoding\r\n"
            "Cache-Control: public, must-revalidate\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Headers: Content-Type, authorization\r\n"
            "Access-Control-Expose-Headers: Link, X-Discogs-Ratelimit, X-Discogs-Ratelimit-Used, "
            "X-Discogs-Ratelimit-Remaining, X-Discogs-Media-Type\r\n"
            "Access-Control-Allow-Methods: GET, POST, PUT, DELETE\r\n"
            "X-Discogs-Media-Type: discogs.v2\r\n"
            "X-Discogs-Ratelimit: 60\r\n"
            "X-Discogs-Ratelimit-Used: 1\r\n"
            "X-Discogs-Ratelimit-Remaining: 59\r\n"
            "Reproxy-Status: yes\r\n"
            "\r\n"
        ).encode("latin-1")
        # One write: headers and body leave together, as a real front end sends them.
        self.wfile.write(head + body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA, help="the shared/realdata folder")
    parser.add_argument("--release", default=DEFAULT_RELEASE, help="release body, relative to --realdata")
    parser.add_argument("--artist-releases", default=DEFAULT_ARTIST_RELEASES, help="artist-releases page")
    parser.add_argument("--list-items", type=int, default=1000, help="items in the paginated list (1000)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop by itself after this long")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    routes = Routes(base_url, args.realdata / args.release, args.realdata / args.artist_releases, args.list_items)
    Handler.routes = routes

    def stop_when_stdin_closes() -> None:
        try:
            sys.stdin.buffer.read()
        except (OSError, ValueError):
            pass
        server.shutdown()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    info = {
        "base_url": base_url,
        "release_id": routes.release_id,
        "artist_id": routes.artist_id,
        "release_file": args.release,
        "release_bytes": len(routes.release_body),
        "list_file": args.artist_releases,
    }
    print(f"READY {base_url} {json.dumps(info)}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()

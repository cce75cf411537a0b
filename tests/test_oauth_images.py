"""The OAuth 1.0a helper, image downloads and the inventory page cap, against local HTTP servers.

Everything runs on 127.0.0.1 (tests/conftest.py blocks every other address): a small scripted server
answers the OAuth token steps, serves image bytes (slowly, when a test needs to look at the disk while
a download is under way) and plays a seller's inventory whose page 101 is refused the way Discogs
refuses it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from _clients import FLAVORS, make_client

import musicagent
from musicagent import Discogs
from musicagent.lib.oauth import REQUEST_TOKEN_LIFETIME, AccessToken, RequestToken
from musicagent.mock._cassettes import load_document

ROOT = Path(__file__).resolve().parents[1]
CONSUMER_KEY = "ck-oauth-test"
CONSUMER_SECRET = "cs-oauth-test"
TOKEN = "test-token"
CAP_MESSAGE = "Pagination above 100 disabled for inventories besides your own"

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[Seen, BaseHTTPRequestHandler], Reply | None]] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server_state: Server  # set on a subclass per server

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        seen = Seen(
            self.command,
            unquote(parts.path),
            {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            dict(self.headers.items()),
        )
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server_state.seen.append(seen)
        route = self.server_state.routes.get((self.command, seen.path))
        reply = route(seen, self) if route is not None else (404, {}, json.dumps({"message": "Not found."}).encode())
        if reply is None:  # the route wrote the answer itself
            return
        status, headers, body = reply
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _handle  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")
    handler = type("Handler", (_Handler,), {"server_state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def json_reply(status: int, payload: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def form_reply(text: str) -> Reply:
    return 200, {"Content-Type": "application/x-www-form-urlencoded"}, text.encode()


def oauth_params(header: str) -> dict[str, str]:
    assert header.startswith("OAuth ")
    return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header[len("OAuth ") :])}


_made: list[Any] = []
_flavor = ["sync"]


@pytest.fixture(autouse=True, params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs with ``Discogs`` and with ``AsyncDiscogs`` (tests/_clients.py)."""
    _flavor[0] = request.param
    yield request.param
    while _made:
        _made.pop().close()


def _client(**kwargs: Any) -> Discogs:
    client: Discogs = make_client(_flavor[0], **kwargs)
    _made.append(client)
    return client


def consumer(server: Server) -> Discogs:
    return _client(
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        base_url=server.url,
        user_agent="musicagent-tests/1.0",
        rate_limit=None,
        max_retries=0,
    )


# ---------------------------------------------------------------------------------------------
# OAuth


@pytest.fixture
def oauth_server(server: Server) -> Server:
    # the documentation's example values
    server.routes[("GET", "/oauth/request_token")] = lambda seen, h: form_reply(
        "oauth_token=abc123&oauth_token_secret=xyz789&oauth_callback_confirmed=true"
    )
    server.routes[("POST", "/oauth/access_token")] = lambda seen, h: form_reply(
        "oauth_token=access-1&oauth_token_secret=access-secret-2"
    )
    return server


def test_request_token_then_authorize_url_then_access_token(oauth_server: Server) -> None:
    flow = consumer(oauth_server).oauth_flow()
    request_token = flow.request_token()
    assert (request_token.token, request_token.secret) == ("abc123", "xyz789")
    assert request_token.authorize_url == "https://www.discogs.com/oauth/authorize?oauth_token=abc123"
    assert "xyz789" not in repr(request_token)  # the secret stays out of reprs
    assert not request_token.expired

    access = flow.access_token(request_token, "verifier-42")
    assert isinstance(access, AccessToken)
    assert (access.token, access.secret) == ("access-1", "access-secret-2")
    assert "access-secret-2" not in repr(access)

    first, second = oauth_server.seen
    assert (first.method, first.path, second.method, second.path) == (
        "GET",
        "/oauth/request_token",
        "POST",
        "/oauth/access_token",
    )
    step1 = oauth_params(first.headers["Authorization"])
    assert step1["oauth_signature_method"] == "PLAINTEXT"
    assert step1["oauth_consumer_key"] == CONSUMER_KEY
    assert step1["oauth_signature"] == f"{CONSUMER_SECRET}&"
    assert step1["oauth_callback"] == "oob" and "oauth_token" not in step1
    step3 = oauth_params(second.headers["Authorization"])
    assert step3["oauth_signature_method"] == "PLAINTEXT"
    assert step3["oauth_consumer_key"] == CONSUMER_KEY
    assert step3["oauth_token"] == "abc123" and step3["oauth_verifier"] == "verifier-42"
    assert step3["oauth_signature"] == f"{CONSUMER_SECRET}&xyz789"
    assert step1["oauth_nonce"] != step3["oauth_nonce"]
    for seen in (first, second):
        assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_the_access_token_works_as_the_clients_credentials(oauth_server: Server) -> None:
    flow = consumer(oauth_server).oauth_flow()
    access = flow.access_token(flow.request_token(), "v")
    identity = {"id": 1, "username": "example", "resource_url": "x", "consumer_name": "Your Application Name"}
    oauth_server.routes[("GET", "/oauth/identity")] = lambda seen, h: json_reply(200, identity)
    signed_in = Discogs(
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        access_token=access.token,
        access_token_secret=access.secret,
        base_url=oauth_server.url,
        rate_limit=None,
        max_retries=0,
    )
    assert signed_in.oauth.identity().username == "example"
    params = oauth_params(oauth_server.seen[-1].headers["Authorization"])
    assert params["oauth_token"] == "access-1"
    assert params["oauth_signature"] == f"{CONSUMER_SECRET}&access-secret-2"


def test_an_expired_request_token_is_refused_before_anything_is_sent(oauth_server: Server) -> None:
    flow = consumer(oauth_server).oauth_flow()
    stale = RequestToken("abc123", "xyz789", created_at=time.monotonic() - REQUEST_TOKEN_LIFETIME - 1)
    assert stale.expired
    with pytest.raises(musicagent.InvalidParameterError) as info:
        flow.access_token(stale, "verifier-42")
    assert "15 minutes" in str(info.value)
    assert oauth_server.seen == []


def test_a_request_token_expires_15_minutes_after_it_was_issued(
    oauth_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = consumer(oauth_server).oauth_flow()
    request_token = flow.request_token()
    issued = request_token.created_at
    monkeypatch.setattr(time, "monotonic", lambda: issued + 15 * 60 - 1)  # what oauth.py reads
    assert not request_token.expired
    monkeypatch.setattr(time, "monotonic", lambda: issued + 15 * 60 + 1)
    assert request_token.expired
    with pytest.raises(musicagent.InvalidParameterError) as info:
        flow.access_token(request_token, "verifier-42")
    assert "15 minutes" in str(info.value) and "request_token()" in str(info.value)
    assert [s.path for s in oauth_server.seen] == ["/oauth/request_token"]  # the access step was not sent


@pytest.mark.parametrize(
    ("status", "error"), [(401, musicagent.AuthenticationError), (400, musicagent.BadRequestError)]
)
def test_a_refused_access_token_carries_the_15_minute_hint(
    oauth_server: Server, status: int, error: type[musicagent.APIError]
) -> None:
    oauth_server.routes[("POST", "/oauth/access_token")] = lambda seen, h: json_reply(
        status, {"message": "Invalid consumer."}
    )
    flow = consumer(oauth_server).oauth_flow()
    with pytest.raises(error) as info:
        flow.access_token(flow.request_token(), "wrong-verifier")
    assert info.value.status_code == status
    assert info.value.message.startswith("Invalid consumer.")
    assert "15 minutes" in info.value.message and "verifier" in info.value.message
    assert "xyz789" not in str(info.value)  # the request token secret is never shown


def test_the_flow_needs_a_verifier_and_consumer_credentials(oauth_server: Server) -> None:
    flow = consumer(oauth_server).oauth_flow()
    for verifier in ("", "   "):
        with pytest.raises(musicagent.InvalidParameterError):
            flow.access_token(RequestToken("abc123", "xyz789"), verifier)
    with pytest.raises(musicagent.ConfigurationError):
        Discogs(token=TOKEN, base_url=oauth_server.url, rate_limit=None).oauth_flow()
    assert oauth_server.seen == []


def test_an_answer_without_the_token_is_an_error(oauth_server: Server) -> None:
    oauth_server.routes[("GET", "/oauth/request_token")] = lambda seen, h: form_reply("oauth_callback_confirmed=true")
    with pytest.raises(musicagent.APIError) as info:
        consumer(oauth_server).oauth_flow().request_token()
    assert "request token" in str(info.value)


# ---------------------------------------------------------------------------------------------
# images


IMAGE = bytes(range(256)) * 4096  # 1 MiB, so it arrives in many chunks


def image_client(server: Server) -> Discogs:
    return _client(token=TOKEN, base_url=server.url, rate_limit=None, max_retries=0)


def test_an_image_is_downloaded_with_credentials(server: Server, tmp_path: Path) -> None:
    server.routes[("GET", "/images/R-1.jpg")] = lambda seen, h: (200, {"Content-Type": "image/jpeg"}, IMAGE)
    target = tmp_path / "cover.jpg"
    written = image_client(server).images.download(f"{server.url}/images/R-1.jpg", target)
    assert written == target and target.read_bytes() == IMAGE
    assert [p.name for p in tmp_path.iterdir()] == ["cover.jpg"]  # no temporary file left
    (seen,) = server.seen
    assert seen.headers["Authorization"] == f"Discogs token={TOKEN}"  # images need credentials
    assert seen.headers["Accept"] == "image/*"


def test_the_file_appears_only_once_complete(server: Server, tmp_path: Path) -> None:
    """Half the image is sent, the server looks at the disk, then sends the rest."""
    target = tmp_path / "cover.jpg"
    observed: dict[str, Any] = {}

    def slow(seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", str(len(IMAGE)))
        handler.end_headers()
        half = len(IMAGE) // 2
        handler.wfile.write(IMAGE[:half])
        handler.wfile.flush()
        deadline = time.monotonic() + 5
        partial: list[Path] = []
        while time.monotonic() < deadline and not partial:  # wait until the client has written a chunk
            partial = [p for p in tmp_path.iterdir() if p != target and p.stat().st_size > 0]
            time.sleep(0.01)
        observed["target_existed"] = target.exists()
        observed["partial"] = [p.name for p in partial]
        handler.wfile.write(IMAGE[half:])
        handler.wfile.flush()

    server.routes[("GET", "/images/slow.jpg")] = slow
    image_client(server).images.download(f"{server.url}/images/slow.jpg", target)
    assert observed["target_existed"] is False  # nobody ever sees a half-written cover.jpg
    assert observed["partial"] and all(name.startswith(".cover.jpg.") for name in observed["partial"])
    assert target.read_bytes() == IMAGE
    assert [p.name for p in tmp_path.iterdir()] == ["cover.jpg"]


def test_a_missing_image_raises_not_found_and_leaves_no_file(server: Server, tmp_path: Path) -> None:
    server.routes[("GET", "/images/gone.jpg")] = lambda seen, h: json_reply(404, {"message": "Image not found."})
    target = tmp_path / "cover.jpg"
    with pytest.raises(musicagent.NotFoundError) as info:
        image_client(server).images.download(f"{server.url}/images/gone.jpg", target)
    assert info.value.status_code == 404 and info.value.message == "Image not found."
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_keeps_the_previous_file(server: Server, tmp_path: Path) -> None:
    server.routes[("GET", "/images/gone.jpg")] = lambda seen, h: json_reply(404, {"message": "Image not found."})
    target = tmp_path / "cover.jpg"
    target.write_bytes(b"the old cover")
    with pytest.raises(musicagent.NotFoundError):
        image_client(server).images.download(f"{server.url}/images/gone.jpg", target)
    assert target.read_bytes() == b"the old cover"
    assert [p.name for p in tmp_path.iterdir()] == ["cover.jpg"]


@pytest.mark.parametrize(
    "url",
    ["", "   ", "/images/R-1.jpg", "images/R-1.jpg", "ftp://i.discogs.com/R-1.jpg", "https://", "//i.discogs.com/x"],
)
def test_an_image_url_must_be_absolute(server: Server, tmp_path: Path, url: str) -> None:
    with pytest.raises(musicagent.InvalidParameterError) as info:
        image_client(server).images.download(url, tmp_path / "cover.jpg")
    assert "url" in str(info.value)
    assert server.seen == [] and list(tmp_path.iterdir()) == []


def test_an_image_needs_an_existing_directory(server: Server, tmp_path: Path) -> None:
    server.routes[("GET", "/images/R-1.jpg")] = lambda seen, h: (200, {"Content-Type": "image/jpeg"}, IMAGE)
    with pytest.raises(musicagent.InvalidParameterError):
        image_client(server).images.download(f"{server.url}/images/R-1.jpg", tmp_path / "missing" / "cover.jpg")
    assert server.seen == []


def test_a_directory_as_destination_is_refused_before_sending(server: Server, tmp_path: Path) -> None:
    with pytest.raises(musicagent.InvalidParameterError, match="is a directory"):
        image_client(server).images.download(f"{server.url}/images/R-1.jpg", tmp_path)
    assert server.seen == []


def test_a_disk_that_cannot_take_the_file_is_a_download_error_not_retried(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    def full_disk(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    server.routes[("GET", "/images/R-1.jpg")] = lambda seen, h: (200, {"Content-Type": "image/jpeg"}, IMAGE)
    monkeypatch.setattr(tempfile, "mkstemp", full_disk)
    client = _client(token=TOKEN, base_url=server.url, rate_limit=None, max_retries=3)
    with pytest.raises(musicagent.DownloadError, match="No space left on device"):
        client.images.download(f"{server.url}/images/R-1.jpg", tmp_path / "cover.jpg")
    assert len(server.seen) == 1  # a local failure: asking the server again would not help


# ---------------------------------------------------------------------------------------------
# the inventory page cap


def inventory_page(page: int, per_page: int, pages: int) -> dict[str, Any]:
    """A page of a seller's inventory, made of the listings of a real body (cassettes/users.inventory)."""
    text = (ROOT / "cassettes" / "users.inventory" / "madlip89.yaml").read_text(encoding="utf-8")
    cassette = load_document(text, "madlip89.yaml")
    listings = json.loads(cassette["interactions"][0]["response"]["body"]["string"])["listings"][:per_page]
    return {
        "pagination": {"page": page, "pages": pages, "per_page": per_page, "items": pages * per_page, "urls": {}},
        "listings": listings,
    }


def test_iterating_past_page_100_of_another_sellers_inventory(server: Server) -> None:
    def inventory(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        page, per_page = int(seen.query.get("page", "1")), int(seen.query["per_page"])
        if page > 100:
            return json_reply(403, {"message": CAP_MESSAGE})
        return json_reply(200, inventory_page(page, per_page, pages=150))

    server.routes[("GET", "/users/x/inventory")] = inventory
    d = _client(token=TOKEN, base_url=server.url, rate_limit=None, max_retries=0)
    page = d.users.inventory("x", page=100, per_page=2)
    assert page.pagination.page == 100 and page.has_next_page()
    walked: list[Any] = []
    with pytest.raises(musicagent.PermissionDeniedError) as info:
        walked.extend(page)
    assert len(walked) == 2  # page 100's listings came first
    assert [s.query.get("page") for s in server.seen] == ["100", "101"]
    error = info.value
    assert error.status_code == 403
    assert error.message.startswith(CAP_MESSAGE)
    assert "100 pages" in error.message and "10,000" in error.message and "your own" in error.message
    assert "page 101" in error.message


def test_a_403_below_page_101_is_left_as_it_is(server: Server) -> None:
    server.routes[("GET", "/users/x/inventory")] = lambda seen, h: json_reply(
        403, {"message": "You don't have permission to access this resource."}
    )
    d = Discogs(token=TOKEN, base_url=server.url, rate_limit=None, max_retries=0)
    with pytest.raises(musicagent.PermissionDeniedError) as info:
        d.users.inventory("x", page=3)
    assert info.value.message == "You don't have permission to access this resource."

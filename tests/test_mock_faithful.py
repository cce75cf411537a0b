"""The mock as a faithful offline Discogs (issue 13): auth, exact matching, explicit misses, strict mode,
state, images, synthesized answers for unrecorded ids, and stubs from code — with the SDK, the CLI and
plain HTTP clients against the repository's cassettes."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from musicagent import (
    APIError,
    AuthenticationError,
    Discogs,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
    cli,
)
from musicagent.mock import MockServer, default_cassettes
from musicagent.testing import mock_discogs, mock_server

pytest_plugins = ["pytester"]

CASSETTES = default_cassettes()
pytestmark = pytest.mark.skipif(CASSETTES is None, reason="no cassettes")
USER = "R-Search"  # the user of the first recorded /oauth/identity: who every token belongs to by default


def http(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    """One shared server for read-only checks (no rate limit: many tests ask it)."""
    with MockServer(rate_limit=None) as running:
        yield running


def client(url: str, **options: Any) -> Discogs:
    return Discogs(**{"token": "t", "env": {}, "dotenv": os.devnull, "max_retries": 0, **options, "base_url": url})


# -- authentication ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "authorization", "status"),
    [
        ("/oauth/identity", None, 401),
        ("/oauth/identity", "Discogs key=k, secret=s", 401),  # a consumer key is no user
        ("/oauth/identity", 'OAuth oauth_consumer_key="k", oauth_signature="s%26"', 401),
        ("/oauth/identity", "Discogs token=t", 200),
        ("/oauth/identity", 'OAuth oauth_consumer_key="k", oauth_token="a", oauth_signature="s%26b"', 200),
        ("/oauth/identity?token=t", None, 200),
        ("/database/search?q=nirvana", None, 401),
        ("/database/search?q=nirvana", "Discogs key=k, secret=s", 200),
        ("/database/search?q=nirvana&key=k&secret=s", None, 200),
        ("/oauth/request_token", 'OAuth oauth_consumer_key="k", oauth_signature="s%26"', 200),
        ("/oauth/request_token", None, 401),
        ("/artists/108713", None, 200),  # the spec allows anonymous calls here
        ("/users/Username/collection/value", "Discogs token=t", 403),  # another user's private data
        ("/users/360vinyl/inventory?page=101", "Discogs token=t", 403),  # past 100 pages of another's inventory
        (f"/users/{USER.lower()}/inventory?page=101", "Discogs token=t", 200),  # yours goes on (empty: past its end)
    ],
)
def test_each_operation_requires_what_its_security_in_the_spec_says(
    server: MockServer, path: str, authorization: str | None, status: int
) -> None:
    got, headers, body = http(server.url + path, headers={"Authorization": authorization} if authorization else {})
    assert got == status, body[:200]
    if status == 401:
        assert json.loads(body) == {"message": "You must authenticate to access this resource."}
        assert headers["X-Musicagent-Mock"] == "refused"
    if status == 403 and "inventory" in path:
        assert json.loads(body) == {"message": "Pagination above 100 disabled for inventories besides your own"}
    elif status == 403:
        assert json.loads(body) == {"message": "You don't have permission to access this resource."}


def test_a_write_without_credentials_is_refused_before_anything_changes(
    server: MockServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCOGS_TOKEN", raising=False)
    monkeypatch.chdir(Path(server.cassettes or ".").parent)  # no .env here
    args = ["--base-url", server.url, "--max-retries", "0", "marketplace", "listings", "create"]
    code = cli.main([*args, "--release-id", "1", "--condition", "Mint (M)", "--price", "10", "--status", "Draft"])
    assert code == 3, capsys.readouterr()
    assert "You must authenticate to access this resource." in capsys.readouterr().err
    anonymous = Discogs(base_url=server.url, env={}, dotenv=os.devnull, max_retries=0)
    with pytest.raises(AuthenticationError):
        anonymous.users.wants.add(USER, 1)
    with pytest.raises(PermissionDeniedError, match="permission"):
        client(server.url).users.wants.add("abuntine", 1)  # someone else's wantlist


# -- matching ----------------------------------------------------------------------------------
def test_the_readme_search_gives_only_what_was_asked_for(server: MockServer, tmp_path: Path) -> None:
    out = tmp_path / "nirvana.csv"
    args = ["--base-url", server.url, "--token", "t", "-q", "search", "--q", "nirvana", "--type", "release"]
    assert cli.main([*args, "--limit", "500", "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and {row["type"] for row in rows} == {"release"}


def test_a_filter_never_falls_back_to_a_recording_without_it(server: MockServer) -> None:
    discogs = client(server.url)
    with pytest.raises(NotFoundError, match="was not recorded"):
        _ = discogs.search().items
    with pytest.raises(NotFoundError, match="was not recorded"):
        _ = discogs.search(q="nirvana", type="master").items
    with pytest.raises(NotFoundError, match="was not recorded"):
        discogs.releases.get(1, curr_abbr="EUR")
    assert discogs.releases.get(1, curr_abbr="USD").id == 1  # USD: Discogs' default currency, as if left out
    assert discogs.releases.get(249504).title == "Never Gonna Give You Up"  # recorded with curr_abbr=USD
    assert discogs.search(q="NIRVANA", type="release", limit=1).items  # search terms ignore case


def test_usernames_compare_without_case(server: MockServer) -> None:
    discogs = client(server.url)
    for name in ("vdq", "VDQ", "Vdq"):
        assert discogs.users.get(name).username == "vdq"
        assert discogs.last_response is not None
        assert discogs.last_response.headers["X-Musicagent-Mock"] == "recorded"


# -- misses, -v and --strict -------------------------------------------------------------------
def test_a_miss_is_logged_with_the_nearest_recordings(tmp_path: Path) -> None:
    lines: list[str] = []
    with MockServer(rate_limit=None, log=lines.append) as running:
        status, headers, _body = http(running.url + "/database/search?q=beatles&token=t")
    assert (status, headers["X-Musicagent-Mock"]) == (404, "miss")
    [miss] = [line for line in lines if line.startswith("miss: ")]
    assert "GET /database/search?q=beatles was not recorded" in miss
    assert "Nearest recorded: GET /database/search?q=" in miss
    assert "token" not in miss


def test_strict_mode_answers_recordings_only() -> None:
    with MockServer(rate_limit=None, strict=True) as strict:
        auth = {"Authorization": "Discogs token=t"}
        assert http(strict.url + "/artists/108713", headers=auth)[0] == 200
        for path in ("/artists/7", "/database/search?q=beatles", "/nothing"):
            status, headers, body = http(strict.url + path, headers=auth)
            assert (status, headers["X-Musicagent-Mock"]) == (501, "strict"), path
            assert "--strict" in json.loads(body)["message"]
        assert http(strict.url + f"/users/{USER}/wants/40522", "PUT", {}, auth)[0] == 201  # state is not a guess
        strict.stub("GET", "/nothing", json={"ok": True})
        assert http(strict.url + "/nothing")[0] == 200  # nor is a stub


def test_the_cli_serves_strict_and_logs_misses_at_v() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "musicagent", "mock", "--port", "0", "--strict", "-v", "--rate-limit", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        assert http(url + "/artists/7")[0] == 501
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "miss: musicagent mock: GET /artists/7 was not recorded" in err


# -- unrecorded ids: synthesized answers -------------------------------------------------------
def test_an_unrecorded_id_gets_a_recording_of_the_same_operation_with_its_ids(server: MockServer) -> None:
    status, headers, body = http(server.url + "/artists/7")
    data = json.loads(body)
    assert (status, headers["X-Musicagent-Mock"]) == (200, "synthesized")
    assert headers["X-Musicagent-Mock-Synthesized-From"].startswith("artists.get/")
    assert data["id"] == 7 and data["resource_url"] == server.url + "/artists/7"
    status, headers, body = http(server.url + "/users/nobody-recorded/wants")
    assert status == 200 and "/users/nobody-recorded/wants" in body.decode()
    assert "abuntine" not in body.decode()
    recorded_404 = http(server.url + "/artists/999999999")  # a recorded not-found stays one
    assert (recorded_404[0], recorded_404[1]["X-Musicagent-Mock"]) == (404, "recorded")
    assert http(server.url + "/artists/7/releases?sort=year")[1]["X-Musicagent-Mock"] == "miss"  # a new question


def test_a_listings_pages_agree_and_a_page_past_the_recorded_ones_is_a_miss(server: MockServer) -> None:
    """Page 1 of 108713 is recorded (its pages lowered to 1); page 2 must not be another artist's page 2."""
    status, headers, body = http(server.url + "/artists/108713/releases?per_page=50&page=1")
    first = json.loads(body)["pagination"]
    assert (status, headers["X-Musicagent-Mock"], first["pages"], first["urls"]) == (200, "recorded", 1, {})
    status, headers, body = http(server.url + "/artists/108713/releases?per_page=50&page=2")
    assert (status, headers["X-Musicagent-Mock"]) == (404, "miss")
    assert "X-Musicagent-Mock-Synthesized-From" not in headers and b"past the recorded pages" in body
    # An unrecorded artist's pages all come from one recorded artist, and say the same about the listing.
    pages = [json.loads(http(server.url + f"/artists/5/releases?per_page=50&page={n}")[2]) for n in (1, 2)]
    assert [p["pagination"]["items"] for p in pages] == [57, 57]
    assert [p["pagination"]["pages"] for p in pages] == [2, 2]
    assert len(pages[0]["releases"]) + len(pages[1]["releases"]) == 57
    assert http(server.url + "/artists/5/releases?per_page=50&page=3")[0] == 404
    # Every link the mock sends is absolute (the recording of artist 1's page 2 has relative ones).
    urls = [*pages[1]["pagination"]["urls"].values(), *(r["resource_url"] for r in pages[1]["releases"])]
    assert urls and all(url.startswith(server.url + "/") for url in urls), urls
    assert all(r["thumb"].startswith(server.url + "/") for r in pages[1]["releases"] if r.get("thumb"))


def test_the_mcp_tool_finds_no_items_past_the_listings_total() -> None:
    """The MCP tool pages by offset: asked past the 50 the listing claims, it must not find 7 more."""
    pytest.importorskip("mcp")
    from musicagent.mcp._tools import Toolbox

    with mock_discogs(rate_limit=None, max_retries=0) as discogs:
        toolbox = Toolbox(discogs)
        first = toolbox.call("artists_releases", {"artist_id": 108713, "limit": 50, "offset": 0})
        assert first.structured is not None
        assert (first.structured["pagination"]["total"], first.structured["pagination"]["next_offset"]) == (50, None)
        beyond = toolbox.call("artists_releases", {"artist_id": 108713, "limit": 50, "offset": 50})
        assert beyond.is_error and "past the recorded pages" in beyond.text


def test_a_path_parameter_not_of_the_specs_type_is_a_discogs_404(server: MockServer) -> None:
    token = {"Authorization": "Discogs token=t"}
    for method, path in [
        ("PUT", f"/users/{USER}/wants/abc"),
        ("DELETE", f"/users/{USER}/wants/12x"),
        ("GET", "/releases/abc"),
        ("GET", "/artists/-1"),
        ("GET", "/marketplace/fee/ten"),
        ("GET", "/marketplace/fee/10.00/XYZ"),
        ("POST", f"/users/{USER}/collection/folders/abc/releases/40522"),
    ]:
        status, headers, body = http(server.url + path, method, headers=token)
        assert (status, json.loads(body)) == (404, {"message": "The requested resource was not found."}), path
        assert headers["X-Musicagent-Mock"] == "refused", path
    assert http(server.url + "/marketplace/fee/10.00/EUR", headers=token)[0] == 200


def test_synthesized_entities_carry_the_names_recordings_give_their_ids(server: MockServer) -> None:
    release = json.loads(http(server.url + "/releases/249504")[2])
    status, headers, body = http(server.url + f"/masters/{release['master_id']}")
    master = json.loads(body)
    assert (status, headers["X-Musicagent-Mock"]) == (200, "synthesized")
    assert master["title"] == release["title"]
    assert [a["id"] for a in master["artists"]] == [a["id"] for a in release["artists"]]
    artist = json.loads(http(server.url + "/artists/1")[2])
    assert artist["name"] == "Persuader, The"  # as the recorded orders list artist 1
    assert "Nickelback" not in artist["name"]
    label = release["labels"][0]
    assert json.loads(http(server.url + f"/labels/{label['id']}")[2])["name"] == label["name"]
    # A search result's title is "Artist - Title": master 42476 is found only by the Nirvana search.
    assert json.loads(http(server.url + "/masters/42476")[2])["title"] == "Synthesized master 42476"
    nobody = json.loads(http(server.url + "/artists/7")[2])  # no recording names artist 7
    assert nobody["name"] == "Synthesized artist 7"
    assert json.loads(http(server.url + "/artists/108713")[2])["name"] == "Nickelback"  # recorded: as recorded


def test_python3_discogs_client_follows_a_release_to_its_master(server: MockServer) -> None:
    discogs_client = pytest.importorskip("discogs_client")
    client = discogs_client.Client("musicagent-tests/1.0", user_token="t")
    client._base_url = server.url
    release = client.release(249504)
    assert release.master.title == release.title


# -- state -------------------------------------------------------------------------------------
def test_writes_to_the_users_own_data_are_seen_by_later_reads() -> None:
    with mock_discogs(rate_limit=None, max_retries=0) as discogs:
        me = discogs.oauth.identity().username
        assert me == USER
        created = discogs.marketplace.listings.create(
            release_id=40522, condition="Mint (M)", price=12.5, status="Draft"
        )
        listing = discogs.marketplace.listings.get(created.listing_id)
        assert (listing.status, listing.price.value if listing.price else None) == ("Draft", 12.5)
        discogs.marketplace.listings.update(
            created.listing_id, release_id=40522, condition="Mint (M)", price=15, status="For Sale"
        )
        assert discogs.marketplace.listings.get(created.listing_id).status == "For Sale"
        assert created.listing_id in [item.id for item in discogs.users.inventory(me)]
        discogs.marketplace.listings.delete(created.listing_id)
        with pytest.raises(NotFoundError):
            discogs.marketplace.listings.get(created.listing_id)
        assert created.listing_id not in [item.id for item in discogs.users.inventory(me)]

        folder = discogs.users.collection.folders.create(me, name="Jazz")
        assert "Jazz" in [f.name for f in discogs.users.collection.folders.list(me).folders or []]
        discogs.users.collection.folders.add_release(me, folder.id, 40522)
        [item] = list(discogs.users.collection.folders.releases(me, folder.id))
        assert item.id == 40522
        discogs.users.collection.fields.set(me, folder.id, 40522, item.instance_id, 3, value="VG+ sleeve")
        [noted] = list(discogs.users.collection.releases(me, 40522))
        assert noted.notes and noted.notes[0].value == "VG+ sleeve"
        discogs.users.collection.instances.delete(me, folder.id, 40522, item.instance_id)
        discogs.users.collection.folders.delete(me, folder.id)
        with pytest.raises(NotFoundError):
            discogs.users.collection.folders.get(me, folder.id)

        discogs.users.wants.add(me, 40522, notes="any copy")
        assert [w.notes for w in discogs.users.wants.list(me) if w.id == 40522] == ["any copy"]
        discogs.users.wants.delete(me, 40522)
        assert 40522 not in [w.id for w in discogs.users.wants.list(me)]

        discogs.releases.rating.update(40522, me, rating=4)
        assert discogs.releases.rating.get(40522, me).rating == 4
        discogs.releases.rating.delete(40522, me)
        assert discogs.releases.rating.get(40522, me).rating == 0  # as Discogs reports an unrated release

        discogs.marketplace.orders.messages.add("1-1", message="shipped today")
        assert discogs.marketplace.orders.messages.list("1-1").items[0].message == "shipped today"
        discogs.users.update(me, profile="changed offline")
        assert discogs.users.get(me).profile == "changed offline"
    with mock_discogs(rate_limit=None) as fresh:  # a new server starts from the recordings again
        assert fresh.users.get(me).profile != "changed offline"
        assert 40522 not in [w.id for w in fresh.users.wants.list(me)]


def test_a_bad_write_body_gets_discogs_422_shape(server: MockServer) -> None:
    auth = {"Authorization": "Discogs token=t", "Content-Type": "application/json"}
    for body in ({"release_id": 1, "condition": "Mint", "price": 10, "status": "Draft"}, {"price": 10}, b"{not json"):
        status, _headers, answer = http(server.url + "/marketplace/listings", "POST", body, auth)
        assert status == 422 and set(json.loads(answer)) == {"message"}, answer
    with pytest.raises(UnprocessableEntityError, match="rating"):
        http_client = client(server.url)
        http_client.request("PUT", f"/releases/1/rating/{USER}", json={"rating": 9})


# -- images ------------------------------------------------------------------------------------
def test_every_image_url_served_points_at_the_mock_and_answers_an_image(server: MockServer, tmp_path: Path) -> None:
    discogs = client(server.url)
    release = discogs.releases.get(1)
    assert release.images and release.images[0].uri.startswith(server.url)
    saved = discogs.images.download(release.images[0].uri, tmp_path / "cover.jpg")
    assert saved.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    label = discogs.labels.get(469)  # recorded with i.discogs.com image URLs
    assert label.images and all(i.uri.startswith(server.url + "/_images/i.discogs.com/") for i in label.images)
    status, headers, body = http(label.images[0].uri)
    assert (status, headers["Content-Type"], body[:3]) == (200, "image/jpeg", b"\xff\xd8\xff")
    for interaction in server.interactions:  # no served body links to an image host online
        if interaction.method == "GET" and interaction.status == 200 and "username" not in interaction.path:
            query = "&".join(f"{k}={v[-1]}" for k, v in interaction.query.items())
            url = server.url + urllib.request.quote(interaction.path) + "?" + urllib.request.quote(query, safe="=&")
            text = http(url + "&token=t")[2].decode()
            for host in ("i.discogs.com", "img.discogs.com", "api-img.discogs.com", "api.discogs.com"):
                assert f"//{host}" not in text.replace("\\/", "/").replace(f"/_images/{host}", ""), interaction.source


def test_a_caller_without_credentials_gets_no_image_urls(server: MockServer) -> None:
    """Discogs' table of credentials: none gets no image URLs (the fields stay, empty); a key and secret do."""
    anonymous = json.loads(http(server.url + "/releases/1")[2])
    assert anonymous["images"] and all(
        (image["uri"], image["uri150"], image["resource_url"]) == ("", "", "") for image in anonymous["images"]
    )
    keyed = json.loads(http(server.url + "/releases/1?key=k&secret=s")[2])
    assert all(image["uri"].startswith(server.url + "/") for image in keyed["images"])
    assert [i["type"] for i in keyed["images"]] == [i["type"] for i in anonymous["images"]]


# -- stubs -------------------------------------------------------------------------------------
def test_stubs_answer_first_once_or_always_and_requests_can_be_asserted() -> None:
    with mock_discogs(rate_limit=None, max_retries=0) as discogs:
        server = discogs.mock_server
        once = server.stub(
            "GET", "/artists/{artist_id}", json={"id": 1, "name": "Stubbed", "resource_url": ""}, times=1
        )
        assert discogs.artists.get(108713).name == "Stubbed"
        assert discogs.artists.get(108713).name == "Nickelback"  # used up: the recording answers again
        once.assert_called(times=1)
        server.stub("GET", "/labels/*", error="Something broke", status=503)
        for _ in range(2):
            with pytest.raises(APIError, match="Something broke"):
                discogs.labels.get(1)
        server.stub("PUT", "/users/*/wants/*", status=201, json={"id": 5}, query={"x": "1"})
        requests = server.assert_requested("GET", "/artists/108713", times=2)
        assert requests[0].headers["Authorization"] == "***" and requests[0].answer == "stub"
        assert requests[1].answer == "recorded"
        with pytest.raises(AssertionError, match=r"expected GET /masters/1 at least once, got 0"):
            server.assert_requested("GET", "/masters/1")
        server.reset()
        assert server.requests == []
        assert discogs.labels.get(1).name  # stubs gone


def test_the_stub_api_serves_async_code() -> None:
    async def scenario() -> tuple[str, bytes]:
        async with mock_server(rate_limit=None) as server:
            server.stub("GET", "/artists/1", json={"id": 1, "name": "Async"})
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /artists/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            await writer.drain()
            answer = await reader.read()
            writer.close()
            await writer.wait_closed()
            server.assert_requested("GET", "/artists/1", times=1)
            return server.url, answer

    url, answer = asyncio.run(scenario())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and json.loads(body) == {"id": 1, "name": "Async"}
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/artists/1", timeout=2)  # stopped when the block ended


def test_stub_arguments_are_checked(server: MockServer) -> None:
    with pytest.raises(ValueError, match="one of"):
        server.stub("GET", "/x", json={}, error="e")
    with pytest.raises(ValueError, match="starts with"):
        server.stub("GET", "x")
    with pytest.raises(ValueError, match="times"):
        server.stub("GET", "/x", times=0)


def test_the_pytest_fixtures_give_a_server_with_options(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["musicagent.testing.pytest_plugin"]')
    pytester.makepyfile(
        """
        import json, urllib.request, urllib.error
        import pytest

        @pytest.fixture
        def discogs_mock_options():
            return {"strict": True, "rate_limit": None}

        def test_server(discogs_mock_server):
            discogs_mock_server.stub("GET", "/hello", json={"hi": 1})
            with urllib.request.urlopen(discogs_mock_server.url + "/hello") as r:
                assert json.loads(r.read()) == {"hi": 1}
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(discogs_mock_server.url + "/artists/7")
            assert info.value.code == 501

        def test_client(discogs_mock):
            assert discogs_mock.mock_server.strict
            assert discogs_mock.artists.get(108713).name == "Nickelback"
        """
    )
    pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_logs_mask_credentials_in_the_query() -> None:
    lines: list[str] = []
    with MockServer(rate_limit=None, log=lines.append) as running:
        http(running.url + "/database/search?q=nirvana&token=SECRET1&key=SECRET2&secret=SECRET3")
        http(running.url + "/database/search?q=beatles&oauth_token=SECRET4")
        http(running.url + "/database/search?q=abba&oauth_consumer_key=SECRET5&oauth_signature=SECRET6%26SECRET7")
        protocol = "oauth_nonce=n0nce42&oauth_timestamp=1700000000"
        http(running.url + f"/database/search?q=queen&{protocol}&oauth_verifier=SECRET8")
    text = "\n".join(lines)
    assert "token=***" in text and "SECRET" not in text, text
    # The SDK's masking (one predicate of secret parameters): the protocol's other values stay readable.
    assert "oauth_nonce=n0nce42" in text and "oauth_timestamp=1700000000" in text, text


def test_the_configured_user_is_who_the_identity_call_names_even_when_strict() -> None:
    with MockServer(rate_limit=None, user="someone-else", strict=True) as running:
        status, headers, body = http(running.url + "/oauth/identity", headers={"Authorization": "Discogs token=t"})
        assert (status, json.loads(body)["username"], headers["X-Musicagent-Mock"]) == (200, "someone-else", "state")
        assert http(running.url + f"/users/{USER}/wants/1", "PUT", {}, {"Authorization": "Discogs token=t"})[0] == 403


def test_the_cli_refuses_bad_tls_and_timeout_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from musicagent.cli.mock import main as mock_main

    with pytest.raises(SystemExit):
        mock_main(["--port", "0", "--tls-key", str(tmp_path / "key.pem")])
    assert "--tls-key needs --tls-cert" in capsys.readouterr().err
    (tmp_path / "cert.pem").write_text("not a certificate")
    assert mock_main(["--port", "0", "--tls-cert", str(tmp_path / "cert.pem")]) == 2
    assert "cannot use the TLS certificate" in capsys.readouterr().err
    assert mock_main(["--port", "0", "--idle-timeout", "0"]) == 2
    assert "idle_timeout must be a positive number" in capsys.readouterr().err


def test_the_api_root_answers_like_discogs_with_what_is_recorded(server: MockServer) -> None:
    """``GET /`` (clients' "about" or ping) needs no credentials; its statistics count the recorded entities."""
    from musicagent.mock._cassettes import load_cassettes

    assert CASSETTES is not None
    recorded: dict[str, set[str]] = {"releases": set(), "artists": set(), "labels": set()}
    for interaction in load_cassettes(Path(CASSETTES)):
        parts = interaction.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] in recorded and parts[1].isdigit():
            recorded[parts[0]].add(parts[1])
    with urllib.request.urlopen(server.url + "/") as answer:
        assert answer.headers["X-Musicagent-Mock"] == "state"
        body = json.loads(answer.read())
    assert body["hello"] == "Welcome to the Discogs API." and body["api_version"] == "v2"
    assert body["statistics"] == {name: len(ids) for name, ids in recorded.items()}
    assert all(body["statistics"].values())

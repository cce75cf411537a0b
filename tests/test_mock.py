"""The mock server: cassette loading, request matching, the rate-limit window, and its command line."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from musicagent import Discogs, NotFoundError, RateLimitError
from musicagent.cli.mock import main
from musicagent.mock import (
    NOT_FOUND_MESSAGE,
    TOO_MANY_MESSAGE,
    CassetteError,
    MockServer,
    bundle,
    default_cassettes,
    find_match,
    load_cassettes,
)

ARTIST = {"id": 108713, "name": "Nickelback", "resource_url": "https://api.discogs.com/artists/108713"}


def interaction(uri: str, body: Any, *, method: str = "GET", status: int = 200, **headers: str) -> dict[str, Any]:
    """One vcrpy v1 interaction, as the cassette recorder writes it."""
    text = body if isinstance(body, str) else json.dumps(body)
    recorded = {"Content-Type": ["application/json"], **{k.replace("_", "-"): [v] for k, v in headers.items()}}
    return {
        "request": {"body": None, "headers": {"User-Agent": ["rec/1.0"]}, "method": method, "uri": uri},
        "response": {"status": {"code": status, "message": "OK"}, "headers": recorded, "body": {"string": text}},
    }


def write_cassette(path: Path, *interactions: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"interactions": list(interactions), "version": 1}
    path.write_text(json.dumps(data) if path.suffix == ".json" else yaml.safe_dump(data), encoding="utf-8")
    return path


AUTH = {"Authorization": "Discogs token=t"}
ONE_PAGE = {"page": 1, "pages": 1, "per_page": 50, "items": 1, "urls": {}}


def page_body(page: int, pages: int, ids: list[int]) -> dict[str, Any]:
    return {
        "pagination": {"page": page, "pages": pages, "per_page": 2, "items": 4, "urls": {}},
        "releases": [{"id": i, "title": f"Release {i}", "resource_url": f"/releases/{i}"} for i in ids],
    }


@pytest.fixture
def cassettes(tmp_path: Path) -> Path:
    root = tmp_path / "cassettes"
    base = "https://api.discogs.com"
    write_cassette(root / "artists.get" / "default.yaml", interaction(f"{base}/artists/108713?token=SECRET", ARTIST))
    write_cassette(
        root / "artists.releases" / "pages.yaml",
        interaction(f"{base}/artists/108713/releases?per_page=2", page_body(1, 2, [1, 2])),
        interaction(f"{base}/artists/108713/releases?per_page=2&page=2", page_body(2, 2, [3, 4])),
    )
    write_cassette(
        root / "search" / "nirvana.json",
        interaction(
            f"{base}/database/search?q=nirvana&per_page=50",
            {
                "results": [{"id": 1, "type": "artist", "title": "Nirvana", "resource_url": "/artists/1"}],
                "pagination": ONE_PAGE,
            },
        ),
        interaction(
            f"{base}/database/search?q=nirvana&type=release&per_page=50",
            {
                "results": [{"id": 2, "type": "release", "title": "Nevermind", "resource_url": "/releases/2"}],
                "pagination": ONE_PAGE,
            },
        ),
    )
    write_cassette(
        root / "releases.get" / "missing.yaml",
        interaction(f"{base}/releases/999999999", {"message": "Release not found."}, status=404),
    )
    (root / "README.md").write_text("not a cassette")
    return root


@pytest.fixture
def server(cassettes: Path) -> Iterator[MockServer]:
    with MockServer(cassettes) as running:
        yield running


def get(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Ask with the standard library only: the mock must serve any HTTP client."""
    request = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# -- loading -----------------------------------------------------------------------------------
def test_loads_yaml_and_json_cassettes_recursively_in_a_fixed_order(cassettes: Path) -> None:
    interactions = load_cassettes(cassettes)
    assert [i.source for i in interactions] == [
        "artists.get/default.yaml#0",
        "artists.releases/pages.yaml#0",
        "artists.releases/pages.yaml#1",
        "releases.get/missing.yaml#0",
        "search/nirvana.json#0",
        "search/nirvana.json#1",
    ]
    first = interactions[0]
    assert (first.method, first.path, first.status) == ("GET", "/artists/108713", 200)
    assert first.content_type == "application/json"
    assert json.loads(first.body) == ARTIST


def test_a_single_cassette_file_can_be_served(cassettes: Path) -> None:
    with MockServer(cassettes / "artists.get" / "default.yaml") as one:
        assert len(one.interactions) == 1
        assert get(one.url + "/artists/108713")[0] == 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- just\n- a list\n", "a cassette is a mapping with an 'interactions' list"),
        ("interactions: [\n", "not valid YAML"),
        ("interactions:\n- request: {uri: /x}\n", "not a vcrpy interaction"),
    ],
)
def test_a_broken_cassette_is_named_in_the_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "bad.yaml").write_text(content)
    with pytest.raises(CassetteError, match=message) as info:
        load_cassettes(tmp_path)
    assert "deep/bad.yaml" in str(info.value)


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="no such cassette"):
        MockServer(tmp_path / "nowhere").start()


def test_yaml_without_pyyaml_says_what_to_do(cassettes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(CassetteError, match=r"pip install pyyaml.*--bundle"):
        load_cassettes(cassettes)


def test_python_tags_written_by_vcrpy_load_safely(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(
        "interactions:\n"
        "- request:\n"
        "    body: !!python/object/new:_io.BytesIO {state: [!!binary 'eA==', 0, null]}\n"
        "    headers: {}\n"
        "    method: GET\n"
        "    uri: https://api.discogs.com/labels/1\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers: {Content-Type: [application/json]}\n"
        '    body: {string: !!python/unicode \'{"id": 1, "name": "Planet E"}\'}\n'
        "version: 1\n"
    )
    [loaded] = load_cassettes(path)
    assert json.loads(loaded.body) == {"id": 1, "name": "Planet E"}


def test_a_gzip_recorded_body_is_served_decompressed(tmp_path: Path) -> None:
    entry = interaction("https://api.discogs.com/labels/1", "", Content_Encoding="gzip")
    entry["response"]["body"]["string"] = gzip.compress(b'{"id": 1, "name": "Planet E"}')
    write_cassette(tmp_path / "gz.yaml", entry)
    with MockServer(tmp_path) as running:
        status, headers, body = get(running.url + "/labels/1")
    assert (status, json.loads(body)) == (200, {"id": 1, "name": "Planet E"})
    assert "Content-Encoding" not in headers


def test_deflate_bodies_and_broken_bodies(tmp_path: Path) -> None:
    entry = interaction("https://api.discogs.com/labels/1", "", Content_Encoding="deflate")
    entry["response"]["body"]["string"] = zlib.compress(b'{"id": 1}')
    write_cassette(tmp_path / "ok" / "deflate.yaml", entry)
    assert json.loads(load_cassettes(tmp_path / "ok")[0].body) == {"id": 1}

    entry["response"]["headers"]["Content-Encoding"] = ["gzip"]
    write_cassette(tmp_path / "bad" / "gzip.yaml", entry)
    with pytest.raises(CassetteError, match="does not decompress"):
        load_cassettes(tmp_path / "bad")
    entry = interaction("https://api.discogs.com/labels/1", "")
    entry["response"]["body"]["string"] = 42
    write_cassette(tmp_path / "worse" / "number.json", entry)
    with pytest.raises(CassetteError, match="body must be a string"):
        load_cassettes(tmp_path / "worse")


def test_bundle_writes_one_json_cassette_that_replays_the_same(cassettes: Path, tmp_path: Path) -> None:
    original = load_cassettes(cassettes)
    target = tmp_path / "bundle.json"
    assert bundle(original, target) == len(original)
    again = load_cassettes(target)
    key = [(i.method, i.path, dict(i.query), i.status, i.body) for i in original]
    assert [(i.method, i.path, dict(i.query), i.status, i.body) for i in again] == key


def test_default_cassettes_are_the_repository_or_packaged_ones() -> None:
    found = default_cassettes()
    assert found is None or (found.exists() and found.name in ("cassettes", "cassettes.json"))


# -- matching ----------------------------------------------------------------------------------
def test_a_recorded_answer_is_replayed_with_discogs_headers(server: MockServer) -> None:
    status, headers, body = get(server.url + "/artists/108713")
    assert status == 200
    assert json.loads(body)["name"] == "Nickelback"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Discogs-Ratelimit"] == "60"
    assert headers["X-Discogs-Ratelimit-Used"] == "1"
    assert headers["X-Discogs-Ratelimit-Remaining"] == "59"
    assert headers["X-Musicagent-Mock-Cassette"] == "artists.get/default.yaml#0"


def test_a_miss_says_it_was_not_recorded_and_names_the_nearest_recordings(server: MockServer) -> None:
    for path in ("/nothing/here", "/artists/108713/releases?page=3", "/database/search?q=prodigy&token=t"):
        status, headers, body = get(server.url + path)
        assert status == 404, path
        assert headers["X-Musicagent-Mock"] == "miss"
        message = json.loads(body)["message"]
        assert message != NOT_FOUND_MESSAGE and "was not recorded" in message, message
        assert "token" not in message
        assert headers["Content-Type"] == "application/json"
        assert "X-Discogs-Ratelimit-Remaining" in headers
    message = json.loads(get(server.url + "/database/search?q=prodigy&token=t")[2])["message"]
    assert message.startswith("musicagent mock: GET /database/search?q=prodigy was not recorded")
    assert "Nearest recorded: GET /database/search?q=nirvana" in message
    recorded = get(server.url + "/releases/999999999")  # a recorded 404 is Discogs' own answer
    assert recorded[1]["X-Musicagent-Mock"] == "recorded"


def test_page_must_match_and_absent_means_one(server: MockServer) -> None:
    def ids(query: str) -> list[int]:
        status, _, body = get(server.url + "/artists/108713/releases" + query)
        assert status == 200, query
        return [r["id"] for r in json.loads(body)["releases"]]

    assert ids("?per_page=2") == ids("?page=1&per_page=2") == ids("?page=01&per_page=2") == [1, 2]
    assert ids("?page=2&per_page=2") == [3, 4]
    assert get(server.url + "/artists/108713/releases?page=2x&per_page=2")[0] == 404


def test_credentials_are_ignored(server: MockServer) -> None:
    for query in ("?per_page=2", "?per_page=2&token=abc", "?per_page=2&key=k&secret=s&oauth_nonce=1"):
        assert get(server.url + "/artists/108713/releases" + query)[0] == 200, query
    assert get(server.url + "/artists/108713")[0] == 200  # recorded with ?token=, asked without


def test_a_listing_recorded_in_pages_of_one_size_is_cut_at_the_size_asked(server: MockServer) -> None:
    """Discogs pages 50 items unless asked, at most 100: recordings cut at 2 a page are cut again."""

    def page(query: str) -> tuple[dict[str, object], list[int], str]:
        status, headers, body = get(server.url + "/artists/108713/releases" + query)
        assert status == 200, query
        data = json.loads(body)
        return data["pagination"], [r["id"] for r in data["releases"]], headers.get("Link", "")

    pagination, ids, link = page("")  # no per_page: Discogs' 50, so all four on one page
    assert ids == [1, 2, 3, 4] and pagination == {"page": 1, "pages": 1, "per_page": 50, "items": 4, "urls": {}}
    assert link == ""
    assert page("?per_page=500")[0]["per_page"] == 100  # Discogs' maximum
    pagination, ids, link = page("?per_page=3&page=2")
    assert ids == [4] and (pagination["page"], pagination["pages"], pagination["per_page"]) == (2, 2, 3)
    first = server.url + "/artists/108713/releases?page=1&per_page=3"
    assert pagination["urls"] == {"first": first, "prev": first}
    assert link == f'<{first}>; rel="first", <{first}>; rel="prev"'  # quoted, as Discogs writes it
    pagination, ids, _ = page("?per_page=1&page=3")
    assert ids == [3] and pagination["urls"]["next"].endswith("?page=4&per_page=1")
    status, headers, _ = get(server.url + "/artists/108713/releases?per_page=3&page=3")  # past the last page
    assert (status, headers["X-Musicagent-Mock"]) == (404, "miss")


def test_a_filter_sent_is_never_answered_by_a_recording_without_it(server: MockServer) -> None:
    def result(query: str) -> int:
        status, _, body = get(server.url + "/database/search?token=t&" + query)
        assert status == 200, query
        return int(json.loads(body)["results"][0]["id"])

    assert result("q=nirvana&type=release") == 2
    assert result("type=release&q=NIRVANA&per_page=5") == 2  # search terms: case does not matter
    assert result("q=%20Nirvana%20") == 1
    assert result("q=nirvana") == 1
    for query in ("q=nirvana&type=artist", "q=nirvana&type=release&year=1991", "q=prodigy", "", "type=release"):
        status, headers, _ = get(server.url + "/database/search?token=t&" + query)
        assert (status, headers["X-Musicagent-Mock"]) == (404, "miss"), query


def test_a_recorded_filter_never_answers_a_request_without_it_and_failures_come_last(tmp_path: Path) -> None:
    base = "https://api.discogs.com"
    write_cassette(
        tmp_path / "c.yaml",
        interaction(base + "/releases/5?curr_abbr=EUR", {"id": 5, "title": "priced in EUR"}),
        interaction(base + "/database/search?q=nirvana&per_page=100", {"message": "Query time exceeded."}, status=500),
        interaction(base + "/database/search?q=nirvana&per_page=50", page_body(1, 1, [7])),
    )
    with MockServer(tmp_path) as mock:
        status, _, body = get(mock.url + "/releases/5?curr_abbr=EUR")
        assert (status, json.loads(body)["title"]) == (200, "priced in EUR")
        assert get(mock.url + "/releases/5")[0] == 404  # asked without the currency: another question
        assert get(mock.url + "/releases/5?curr_abbr=GBP")[0] == 404  # a different question
        status, _, body = get(mock.url + "/database/search?q=nirvana&per_page=100&token=t")
        assert status == 200 and json.loads(body)["releases"][0]["id"] == 7


def test_equal_candidates_prefer_the_same_per_page(tmp_path: Path) -> None:
    write_cassette(
        tmp_path / "c.yaml",
        interaction("https://api.discogs.com/labels/1/releases?per_page=50", {"n": 50}),
        interaction("https://api.discogs.com/labels/1/releases?per_page=2", {"n": 2}),
    )
    interactions = load_cassettes(tmp_path)
    pick = find_match(interactions, "GET", "/labels/1/releases", "per_page=2")
    assert pick is not None and json.loads(pick.body) == {"n": 2}
    pick = find_match(interactions, "GET", "/labels/1/releases", "per_page=100")
    assert pick is not None and json.loads(pick.body) == {"n": 50}  # a tie: the first loaded


def test_paths_match_percent_decoded_and_without_trailing_slash(tmp_path: Path) -> None:
    write_cassette(tmp_path / "u.yaml", interaction("https://api.discogs.com/users/a%20b%2Fc", {"username": "a b/c"}))
    interactions = load_cassettes(tmp_path)
    for raw in ("/users/a%20b%2Fc", "/users/a b/c", "/users/a%20b/c/"):
        assert find_match(interactions, "GET", raw, "") is not None, raw
    assert find_match(interactions, "GET", "/users/a", "") is None


def test_methods_must_match_and_head_uses_get(server: MockServer, cassettes: Path) -> None:
    status, headers, body = get(server.url + "/artists/108713", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) > 0
    # Discogs' FAQ: "Trying to PUT to /artists/1 ... will fail because Artists are read-only": a 405.
    for method, data in (("POST", b'{"x": 1}'), ("DELETE", None), ("PUT", b"{}"), ("PATCH", b"{}")):
        status, headers, body = get(server.url + "/artists/108713", method=method, data=data)
        assert (status, headers["Allow"], headers["X-Musicagent-Mock"]) == (405, "GET, HEAD", "refused"), method
        assert json.loads(body) == {"message": "The method is not allowed for the requested URL."}
    assert get(server.url + "/nowhere/at/all", method="PUT", data=b"{}")[0] == 404  # no such resource at all


def test_a_recorded_post_is_answered_and_its_body_drained(tmp_path: Path) -> None:
    write_cassette(
        tmp_path / "p.yaml",
        interaction("https://api.discogs.com/inventory/export", {"id": 3}, method="POST", status=201),
    )
    with MockServer(tmp_path) as running:
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        for _ in range(2):  # the same kept-alive connection twice: the body did not leak into the next request
            connection.request("POST", "/inventory/export", body=b'{"name": "x"}', headers=AUTH)
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (201, {"id": 3})
        connection.close()


def test_a_204_has_neither_body_nor_length_and_the_connection_stays_usable(tmp_path: Path) -> None:
    uri = "https://api.discogs.com/marketplace/listings/5"
    write_cassette(tmp_path / "d.yaml", interaction(uri, "", method="DELETE", status=204), interaction(uri, {"id": 5}))
    with MockServer(tmp_path) as running:
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        connection.request("GET", "/marketplace/listings/5")
        assert connection.getresponse().read() == b'{"id": 5}'
        connection.request("DELETE", "/marketplace/listings/5", headers={"Content-Length": "bogus", **AUTH})
        response = connection.getresponse()
        assert (response.status, response.read(), response.getheader("Content-Length")) == (204, b"", None)
        connection.request("GET", "/marketplace/listings/5")
        response = connection.getresponse()  # deleted: the recording of the listing no longer answers
        assert (response.status, json.loads(response.read())) == (404, {"message": NOT_FOUND_MESSAGE})
        connection.close()


def test_connection_failures_are_silent_unless_logging(cassettes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    for log in (None, lines.append):
        with MockServer(cassettes, log=log) as running:
            httpd = running._httpd
            assert httpd is not None
            try:
                raise ConnectionResetError("peer went away")
            except ConnectionResetError:
                httpd.handle_error(None, ("127.0.0.1", 5555))
    assert capsys.readouterr().err == ""
    assert lines == ["127.0.0.1 error: ConnectionResetError('peer went away')"]


def test_a_request_without_user_agent_is_answered(server: MockServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("GET", "/artists/108713", skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["id"] == 108713
    connection.close()


def test_recorded_discogs_links_point_at_the_mock(tmp_path: Path) -> None:
    body = '{"resource_url": "https://api.discogs.com/artists/1", "escaped": "https:\\/\\/api.discogs.com\\/x"}'
    write_cassette(
        tmp_path / "l.yaml",
        interaction("https://api.discogs.com/artists/1", body, Link="<https://api.discogs.com/artists/1?page=2>"),
    )
    with MockServer(tmp_path) as running:
        _, headers, raw = get(running.url + "/artists/1")
        data = json.loads(raw)
        assert data["resource_url"] == running.url + "/artists/1"
        assert data["escaped"] == running.url + "/x"
        assert headers["Link"] == f"<{running.url}/artists/1?page=2>"
    with MockServer(tmp_path, rewrite_urls=False) as running:
        assert json.loads(get(running.url + "/artists/1")[2])["resource_url"] == "https://api.discogs.com/artists/1"


def test_a_recorded_401_answers_requests_without_credentials(tmp_path: Path) -> None:
    uri = "https://api.discogs.com/oauth/identity"
    write_cassette(
        tmp_path / "identity.yaml",
        interaction(uri, {"id": 1, "username": "someone"}),
        interaction(uri, {"message": "You must authenticate to access this resource."}, status=401),
    )
    with MockServer(tmp_path) as running:
        assert get(running.url + "/oauth/identity")[0] == 401
        assert get(running.url + "/oauth/identity?token=abc")[0] == 200
        request = urllib.request.Request(running.url + "/oauth/identity", headers={"Authorization": "Discogs token=x"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["username"] == "someone"


def test_files_beside_the_cassettes_that_are_no_cassettes_are_skipped(cassettes: Path) -> None:
    (cassettes / "index.json").write_text(json.dumps({"about": "metadata", "cassettes": []}))
    assert len(load_cassettes(cassettes)) == 6


def test_recorded_errors_are_replayed(server: MockServer) -> None:
    status, _, body = get(server.url + "/releases/999999999")
    assert (status, json.loads(body)) == (404, {"message": "Release not found."})


# -- rate limit --------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_429_beyond_the_window_with_headers_then_the_window_moves(cassettes: Path) -> None:
    clock = FakeClock()
    with MockServer(cassettes, rate_limit=(3, 60.0), clock=clock) as running:
        seen = []
        for step in range(3):
            clock.now += step  # requests at t=1000, 1001, 1003
            status, headers, _ = get(running.url + "/artists/108713")
            seen.append((status, headers["X-Discogs-Ratelimit-Used"], headers["X-Discogs-Ratelimit-Remaining"]))
        assert seen == [(200, "1", "2"), (200, "2", "1"), (200, "3", "0")]

        status, headers, body = get(running.url + "/artists/1")  # refused before any matching
        assert status == 429
        assert json.loads(body) == {"message": TOO_MANY_MESSAGE}
        assert headers["Content-Type"] == "application/json"
        assert (headers["X-Discogs-Ratelimit"], headers["X-Discogs-Ratelimit-Used"]) == ("3", "3")
        assert headers["X-Discogs-Ratelimit-Remaining"] == "0"
        assert headers["Retry-After"] == "57"  # the first request leaves the window at t=1060

        clock.now = 1060.0  # moving window: the oldest request has left it, the other two remain
        status, headers, _ = get(running.url + "/artists/108713")
        assert status == 200
        assert (headers["X-Discogs-Ratelimit-Used"], headers["X-Discogs-Ratelimit-Remaining"]) == ("3", "0")
        assert get(running.url + "/artists/108713")[0] == 429

        clock.now = 2000.0  # idle for a whole window: everything is forgotten
        assert get(running.url + "/artists/108713")[1]["X-Discogs-Ratelimit-Remaining"] == "2"


def test_concurrent_requests_never_exceed_the_limit(cassettes: Path) -> None:
    with MockServer(cassettes, rate_limit=(10, 60.0)) as running:
        statuses: list[int] = []
        lock = threading.Lock()

        def call() -> None:
            status = get(running.url + "/artists/108713")[0]
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=call) for _ in range(25)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [200] * 10 + [429] * 15


def test_without_a_rate_limit_there_are_no_rate_headers(cassettes: Path) -> None:
    with MockServer(cassettes, rate_limit=None) as running:
        for _ in range(5):
            status, headers, _ = get(running.url + "/artists/108713")
            assert status == 200 and "X-Discogs-Ratelimit" not in headers


def test_a_bad_rate_limit_is_refused(cassettes: Path) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        MockServer(cassettes, rate_limit=(0, 60.0))


# -- with the SDK ------------------------------------------------------------------------------
def test_the_sdk_walks_pages_reads_rate_limits_and_maps_errors(server: MockServer) -> None:
    discogs = Discogs(token="t", base_url=server.url, env={}, dotenv=os.devnull)
    assert discogs.artists.get(108713).name == "Nickelback"
    assert [r.id for r in discogs.artists.releases(108713)] == [1, 2, 3, 4]  # one page of 100, cut from 2 of 2
    assert discogs.rate_limit.limit == 60 and discogs.rate_limit.remaining == 58
    assert [r.id for r in discogs.search(q="nirvana", type="release")] == [2]
    with pytest.raises(NotFoundError, match="Release not found"):
        discogs.releases.get(999999999)
    with pytest.raises(NotFoundError, match="GET /labels/1 was not recorded"):
        discogs.labels.get(1)
    discogs.close()


def test_the_sdk_sees_a_429_as_rate_limit_error(cassettes: Path) -> None:
    with MockServer(cassettes, rate_limit=(1, 60.0)) as running:
        discogs = Discogs(token="t", base_url=running.url, rate_limit=None, max_retries=0, env={}, dotenv=os.devnull)
        discogs.artists.get(108713)
        with pytest.raises(RateLimitError) as info:
            discogs.artists.get(108713)
        assert info.value.retry_after is not None and info.value.retry_after > 0
        discogs.close()


# -- life cycle --------------------------------------------------------------------------------
def test_start_stop_and_url(cassettes: Path) -> None:
    server = MockServer(cassettes)
    assert "stopped" in repr(server) and not server.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    assert server.start() is server.start()  # starting twice changes nothing
    url, port = server.url, server.port
    assert url == f"http://127.0.0.1:{port}" and "6 interactions" in repr(server)
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    kept.request("GET", "/artists/108713")
    assert kept.getresponse().read()
    server.stop()
    server.stop()
    with pytest.raises((OSError, http.client.HTTPException)):  # a kept-alive connection is closed too
        kept.request("GET", "/artists/108713")
        kept.getresponse()
    kept.close()
    with socket.socket() as probe, pytest.raises(OSError):
        probe.connect(("127.0.0.1", port))


def test_logs_go_only_where_asked(cassettes: Path) -> None:
    lines: list[str] = []
    with MockServer(cassettes, log=lines.append) as running:
        get(running.url + "/artists/108713")
    assert len(lines) == 1 and '"GET /artists/108713 HTTP/1.1" 200' in lines[0]


# -- command line ------------------------------------------------------------------------------
def test_main_serves_until_stopped(cassettes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    stop.set()  # stop as soon as it has started
    assert main(["--port", "0", "--cassettes", str(cassettes), "--rate-limit", "off", "-v"], stop=stop) == 0
    out = capsys.readouterr().out
    assert "musicagent mock server on http://127.0.0.1:" in out and "(6 interactions" in out
    assert "Ctrl-C to stop" in out and "stopped" in out


def test_main_bundles(cassettes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "all.json"
    assert main(["--cassettes", str(cassettes), "--bundle", str(target)]) == 0
    assert "wrote 6 interactions" in capsys.readouterr().out
    assert len(load_cassettes(target)) == 6


def test_main_reports_problems(cassettes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cassettes", str(tmp_path / "missing")]) == 2
    assert "no such cassette" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["--cassettes", str(cassettes), "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen" in capsys.readouterr().err
    for bad in ("fast", "0/60", "10/x"):
        with pytest.raises(SystemExit):
            main(["--rate-limit", bad])


def test_python_m_musicagent_mock_stops_cleanly_on_sigterm(cassettes: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "musicagent.mock", "--port", "0", "--cassettes", str(cassettes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert get(url + "/artists/108713")[0] == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out


def test_a_listing_recorded_in_part_ends_at_its_last_recorded_page(tmp_path: Path) -> None:
    base = "https://api.discogs.com"
    first = page_body(1, 23, [1, 2])
    first["pagination"]["urls"] = {
        "next": base + "/labels/1/releases?page=2",
        "last": base + "/labels/1/releases?page=23",
    }
    write_cassette(
        tmp_path / "c.yaml",
        interaction(base + "/labels/1/releases?page=1", first),
        interaction(base + "/labels/1/releases?page=2", page_body(2, 23, [3, 4])),
    )
    with MockServer(tmp_path) as mock:
        status, _, body = get(mock.url + "/labels/1/releases?per_page=2")
        pagination = json.loads(body)["pagination"]
        assert status == 200 and pagination["pages"] == 2 and "next" in pagination["urls"]
        assert "last" not in pagination["urls"]  # page 23 was never recorded
        last = json.loads(get(mock.url + "/labels/1/releases?page=2&per_page=2")[2])["pagination"]
        assert last["pages"] == 2 and "next" not in last.get("urls", {})
        discogs = Discogs(token="t", base_url=mock.url, rate_limit=None)
        assert [r.id for r in discogs.labels.releases(1, per_page=2)] == [1, 2, 3, 4]  # no 404 at page 3
        # Cut at another size, the recorded part is the whole listing: 4 items, then the end.
        pagination = json.loads(get(mock.url + "/labels/1/releases?per_page=3")[2])["pagination"]
        assert (pagination["pages"], pagination["items"]) == (2, 4)
        assert [r.id for r in discogs.labels.releases(1)] == [1, 2, 3, 4]


def test_chunked_bodies_are_drained_and_options_is_a_json_405(server: MockServer) -> None:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("POST", "/artists/108713")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"5\r\nhello\r\n0\r\n\r\n")
    connection.getresponse().read()
    connection.request("GET", "/artists/108713")  # same connection: the chunked body did not linger
    answer = connection.getresponse()
    assert answer.status == 200 and answer.read()
    connection.request("OPTIONS", "/artists/108713")
    answer = connection.getresponse()
    assert answer.status == 405 and json.loads(answer.read())["message"]
    connection.close()

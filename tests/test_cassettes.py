"""The cassettes in cassettes/: their integrity, their bodies against the SDK's models, key behaviours
replayed through the real SDK, and the tools that make them (build.py, record.py).

The cassettes hold real Discogs bodies and, where none exists, the documentation's examples (see
cassettes/README.md). Every expectation here is read from the cassette's own body and compared with
what the SDK returns; nothing is compared with values the SDK produced itself. vcrpy intercepts
urllib3, so no connection is opened (tests/conftest.py blocks the network anyway);
``record_mode="none"`` fails any request a cassette does not hold.

- the index lists exactly the cassette files; every body is its source file's bytes (realdata or
  tools/cassettes/docs-bodies/), and ``build.py`` is deterministic;
- every response body validates against the SDK's model for its operation (real bodies above all:
  that is what keeps the spec honest), error bodies carry a message, CSV and form answers parse;
- hand-written checks of the key behaviours: iteration across pages, ``limit=``, errors, the rating
  write and delete, credentials sent but never stored;
- ``tools/cassettes/record.py`` scrubs tokens and records the write scenarios on the owner's account, putting
  back what it changed (tested offline against a loopback server).

Every operation is replayed from its cassettes, with its request checked, by tests/test_operations.py;
it also greps every cassette file for credentials.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import threading
import typing
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import vcr

import musicagent
from musicagent import Discogs, models
from musicagent._generated.operations import OPERATIONS
from musicagent._runtime.operations import OperationInfo
from musicagent.mock._cassettes import load_document

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
TOOLS = ROOT / "tools" / "cassettes"
REALDATA = Path(os.environ.get("MUSICAGENT_REALDATA") or ROOT.parent / "shared" / "realdata")
INDEX: list[dict[str, Any]] = json.loads((TOOLS / "index.json").read_text(encoding="utf-8"))["cassettes"]
BY_NAME = {entry["cassette"]: entry for entry in INDEX}
MATCH_ON = ["method", "scheme", "host", "path", "query"]
TOKEN = "test-token"
REGISTRY: dict[str, OperationInfo] = {op.id: op for op in OPERATIONS}


# ---------------------------------------------------------------------------------------------
# helpers


def replayer(**kwargs: Any) -> vcr.VCR:
    return vcr.VCR(record_mode="none", match_on=MATCH_ON, **kwargs)


def cassette_path(name: str) -> str:
    return str(CASSETTES / name)


def client(auth: str = "token") -> Discogs:
    """A client built inside the cassette context, so its connection pool is vcrpy's."""
    if auth == "none":
        return Discogs(rate_limit=None, max_retries=0)
    return Discogs(token=TOKEN, rate_limit=None, max_retries=0)


@cache
def cassette_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load_document((CASSETTES / name).read_text(encoding="utf-8"), name)  # the mock's loader
    return data


def raw_bodies(name: str) -> list[bytes]:
    out = []
    for interaction in cassette_data(name)["interactions"]:
        string = interaction["response"]["body"]["string"]
        out.append(string.encode("utf-8") if isinstance(string, str) else bytes(string))
    return out


def bodies(name: str) -> list[Any]:
    """The JSON response bodies of a cassette, decoded from the cassette file itself."""
    return [json.loads(raw) if raw.strip() else None for raw in raw_bodies(name)]


def body(name: str) -> Any:
    return bodies(name)[0]


def dumped(model: Any) -> Any:
    """A model as JSON again: equal to the body it was parsed from when nothing was lost or altered."""
    return json.loads(model.model_dump_json(by_alias=True, exclude_unset=True))


def entries_of(predicate: Any) -> list[Any]:
    return [pytest.param(e, id=e["cassette"]) for e in INDEX if predicate(e)]


# ---------------------------------------------------------------------------------------------
# the cassettes themselves


def test_index_lists_exactly_the_cassette_files() -> None:
    files = sorted(p.relative_to(CASSETTES).as_posix() for p in CASSETTES.glob("*/*.yaml"))
    assert files == sorted(BY_NAME)


def test_index_holds_no_credentials() -> None:
    text = (TOOLS / "index.json").read_text(encoding="utf-8").lower()
    assert "token=" not in text and "authorization" not in text


@pytest.mark.parametrize("entry", entries_of(lambda e: e["origin"] == "realdata"))
def test_bodies_are_their_source_bytes(entry: dict[str, Any]) -> None:
    """A body is its realdata file or its docs-bodies/ file, byte for byte; status-only answers are empty."""
    for source, raw in zip(entry["interactions"], raw_bodies(entry["cassette"]), strict=True):
        assert source["bytes"] == len(raw)
        if source["file"] is None:
            assert source["class"] == "DOCS-STATUS-ONLY" and raw == b""
            assert source["docs_section"], "a status-only answer names the documentation section it follows"
        elif source["body_from"] == "docs-bodies":
            assert source["class"] == "DOCS-EXAMPLE" and source["docs_section"]
            assert raw == (TOOLS / source["file"]).read_bytes()
        else:
            assert source["body_from"] == "realdata"
            if not (REALDATA / "MANIFEST.tsv").is_file():
                pytest.skip(f"no realdata at {REALDATA} (set MUSICAGENT_REALDATA)")
            assert raw == (REALDATA / source["file"]).read_bytes()


def test_docs_bodies_are_all_used_and_described() -> None:
    from tools.cassettes import build

    folder = TOOLS / build.DOCS_DIR_NAME
    files = {p.name for p in folder.iterdir() if p.is_file() and p.name != "README.md"}
    assert files == set(build.DOCS_FILES)
    used = {s["file"] for e in INDEX for s in e["interactions"] if s["body_from"] == "docs-bodies"}
    used |= {e["upload"]["file"] for e in INDEX if e["upload"]}
    assert used == {f"{build.DOCS_DIR_NAME}/{name}" for name in files}
    notes = (folder / "README.md").read_text(encoding="utf-8")
    for name, docs in build.DOCS_FILES.items():
        assert f"`{name}`" in notes, f"{name} is not described in docs-bodies/README.md"
        assert docs.section and docs.fixes
    for name in files:
        if name.endswith(".json"):  # a stray copy under cassettes/ must never look like a cassette to the mock
            data = json.loads((folder / name).read_bytes())
            assert isinstance(data, dict) and not {"interactions", "version"} & set(data)


def test_the_scenario_table_is_data_and_a_mistake_in_it_is_named(tmp_path: Path) -> None:
    """scenarios.yaml lists every cassette of the index; an unknown key or a bare number is refused, with its entry."""
    from tools.cassettes import build

    scenarios = build.load_scenarios()
    assert sorted(s.cassette for s in scenarios) == sorted(BY_NAME)
    two_pages = next(s for s in scenarios if s.cassette == "artists.releases/1-two-pages.yaml")
    assert len(two_pages.steps) == 2
    for text, named in (
        ("scenarios:\n  - {operation: artists.get, name: x, fle: a.json}\n", r"entry 1: unknown keys \['fle'\]"),
        ("scenarios:\n  - {operation: artists.get, name: 1}\n", "quote a numeric name"),
        ("scenarios:\n  - {operation: a, name: x, file: f, steps: [{file: g}]}\n", "not both"),
        ("scenarios:\n  - {operation: a, name: x}\n  - {operation: a, name: x}\n", "named twice"),
    ):
        bad = tmp_path / "scenarios.yaml"
        bad.write_text(text, encoding="utf-8")
        build.load_scenarios.cache_clear()
        with pytest.raises(ValueError, match=named):
            build.load_scenarios(bad)
    build.load_scenarios.cache_clear()


def test_build_is_deterministic(tmp_path: Path) -> None:
    """Two builds give the same bytes, and they are the bytes committed here (for realdata-built cassettes)."""
    if not (REALDATA / "MANIFEST.tsv").is_file():
        pytest.skip(f"no realdata at {REALDATA} (set MUSICAGENT_REALDATA)")
    from tools.cassettes import build

    first, entries = build.build(REALDATA)
    second, _ = build.build(REALDATA)
    assert first == second
    assert build.render_index(entries) == build.render_index(list(reversed(entries)))
    for entry in INDEX:
        if entry["origin"] == "realdata":
            assert (CASSETTES / entry["cassette"]).read_bytes() == first[entry["cassette"]], entry["cassette"]
    if all(e["origin"] == "realdata" for e in INDEX):
        assert (TOOLS / "index.json").read_bytes() == build.render_index(entries)
        readme = (CASSETTES / "README.md").read_text(encoding="utf-8")
        assert build.with_table(readme, build.render_table(entries)) == readme


# ---------------------------------------------------------------------------------------------
# every body against the SDK's models


@pytest.mark.parametrize("entry", entries_of(lambda e: True))
def test_body_fits_the_sdk_model(entry: dict[str, Any]) -> None:
    """Every body validates against the schema of its operation (real ones above all)."""
    op = REGISTRY.get(entry["operation"])
    assert op is not None, f"the SDK has no operation {entry['operation']!r} (cassettes/{entry['cassette']})"
    assert (op.method, op.path, op.kind) == (entry["method"], entry["path_template"], entry["kind"])
    recorded = cassette_data(entry["cassette"])["interactions"]
    for source, raw, interaction in zip(entry["interactions"], raw_bodies(entry["cassette"]), recorded, strict=True):
        content_type = interaction["response"]["headers"].get("Content-Type", [""])[0]
        if source["status"] >= 400:
            assert models.Error.model_validate_json(raw).message
        elif op.kind == "none":
            assert raw == b""
        elif op.kind == "download":
            assert content_type.startswith("text/csv")
            rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
            assert len(rows) > 1 and all(len(row) == len(rows[0]) for row in rows)
        elif op.kind == "form":
            assert content_type == "application/x-www-form-urlencoded"
            form = dict(parse_qsl(raw.decode("utf-8"), strict_parsing=True))
            assert form["oauth_token"] and form["oauth_token_secret"]
        else:
            assert op.model is not None and content_type == "application/json"
            getattr(models, op.model).model_validate_json(raw)


# ---------------------------------------------------------------------------------------------
# key behaviours, by hand


def test_artist_from_a_2020_body() -> None:
    name = "artists.get/108713.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        d = client()
        artist = d.artists.get(108713)
        assert isinstance(artist, musicagent.models.Artist)
        assert artist.id == expected["id"] == 108713
        assert artist.name == expected["name"]
        assert artist.profile == expected["profile"]
        assert artist.urls == expected["urls"]
        assert [m.name for m in artist.members or []] == [m["name"] for m in expected["members"]]
        assert [i.uri for i in artist.images or []] == [i["uri"] for i in expected["images"]]
        # the (synthesised) rate-limit headers reach the client
        headers = cassette_data(name)["interactions"][0]["response"]["headers"]
        assert d.last_response is not None and d.last_response.status == 200
        assert d.rate_limit.remaining == int(headers["X-Discogs-Ratelimit-Remaining"][0])
        assert d.rate_limit.limit == int(headers["X-Discogs-Ratelimit"][0])
    assert cassette.all_played


def test_sdk_sends_the_token_but_the_cassette_does_not_hold_it() -> None:
    seen: list[dict[str, str]] = []

    def spy(request: Any) -> Any:
        # vcrpy passes the stored requests through this hook as it loads the cassette, and every live
        # request before matching it; only the SDK's live requests carry X-Request-Id
        if "X-Request-Id" in request.headers:
            seen.append(dict(request.headers))
        return request

    name = "artists.get/45.yaml"
    with replayer(before_record_request=spy).use_cassette(cassette_path(name)) as cassette:
        client().artists.get(45)
    assert cassette.all_played
    assert seen and all(h.get("Authorization") == f"Discogs token={TOKEN}" for h in seen)
    assert "Authorization" not in (CASSETTES / name).read_text(encoding="utf-8")


def test_iteration_walks_into_the_second_page() -> None:
    name = "artists.releases/1-two-pages.yaml"
    page1, page2 = bodies(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        page = client().artists.releases(1, per_page=50, page=1)
        assert page.pagination.pages == page1["pagination"]["pages"] == 2
        assert len(page.items) == len(page1["releases"])
        assert cassette.play_count == 1  # the second page is fetched only when iteration needs it
        releases = list(page)
    assert cassette.all_played
    assert [r.id for r in releases] == [r["id"] for r in page1["releases"] + page2["releases"]]
    assert len(releases) == page1["pagination"]["items"] == page2["pagination"]["items"]


def test_iter_pages_and_next_page() -> None:
    name = "artists.releases/1-two-pages.yaml"
    page2 = bodies(name)[1]
    with replayer().use_cassette(cassette_path(name)) as cassette:
        first = client().artists.releases(1, per_page=50, page=1)
        second = first.next_page()
        assert second is not None
        assert second.pagination.page == page2["pagination"]["page"] == 2
        assert [r.title for r in second.items] == [r["title"] for r in page2["releases"]]
        assert second.next_page() is None
    assert cassette.all_played


def test_limit_stops_inside_the_first_page() -> None:
    name = "artists.releases/42043-page1.yaml"
    expected = body(name)
    assert expected["pagination"]["pages"] > 1  # iterating without a limit would need page 2
    with replayer().use_cassette(cassette_path(name)) as cassette:
        page = client().artists.releases(42043, per_page=50, limit=10)
        first_ten = list(page)
    assert cassette.all_played and cassette.play_count == 1
    assert [r.id for r in first_ten] == [r["id"] for r in expected["releases"][:10]]
    assert page.has_next_page()


def test_iterating_past_the_recorded_page_asks_for_page_2() -> None:
    """Without a limit, iteration requests page 2 with the same arguments; this cassette lacks it."""
    name = "artists.releases/42043-page1.yaml"
    with replayer().use_cassette(cassette_path(name)):
        page = client().artists.releases(42043, per_page=50)
        with pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException) as info:
            list(page)
    assert "page=2" in str(info.value.failed_request.uri)
    assert "per_page=50" in str(info.value.failed_request.uri)


def test_a_later_page_of_versions() -> None:
    name = "masters.versions/33687-page2.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        page = client().masters.versions(33687, per_page=4, page=2)
    assert cassette.all_played
    assert page.pagination.page == expected["pagination"]["page"] == 2
    assert [(v.title, v.country, v.released) for v in page.items] == [
        (v["title"], v["country"], v["released"]) for v in expected["versions"]
    ]
    assert page.has_next_page() == (expected["pagination"]["page"] < expected["pagination"]["pages"])


def test_search_by_type() -> None:
    name = "search/nirvana-release.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        page = client().search(q="Nirvana", type="release", per_page=5)
    assert cassette.all_played
    assert all(isinstance(r, musicagent.models.SearchResult) for r in page.items)
    assert {r.type for r in page.items} == {r["type"] for r in expected["results"]} == {"release"}
    assert [r.title for r in page.items] == [r["title"] for r in expected["results"]]
    assert page.pagination.items == expected["pagination"]["items"]


def test_release_with_currency() -> None:
    name = "releases.get/249504-usd.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        release = client().releases.get(249504, curr_abbr="USD")
    assert cassette.all_played
    assert isinstance(release, musicagent.models.Release)
    assert (release.id, release.title, release.year) == (expected["id"], expected["title"], expected["year"])
    assert release.lowest_price == expected["lowest_price"]
    assert [t.title for t in release.tracklist or []] == [t["title"] for t in expected["tracklist"]]
    assert release.community is not None
    assert release.community.rating is not None
    assert release.community.rating.average == expected["community"]["rating"]["average"]


@pytest.mark.parametrize(
    ("name", "call_it"),
    [
        ("artists.get/not-found.yaml", lambda d: d.artists.get(999999999)),
        ("labels.get/not-found.yaml", lambda d: d.labels.get(999999999)),
        ("masters.get/not-found.yaml", lambda d: d.masters.get(999999999)),
        ("releases.get/not-found.yaml", lambda d: d.releases.get(999999999)),
    ],
)
def test_not_found(name: str, call_it: Any) -> None:
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette, pytest.raises(musicagent.NotFoundError) as info:
        call_it(client())
    assert cassette.all_played
    assert info.value.status_code == 404
    assert info.value.message == expected["message"]
    assert isinstance(info.value, musicagent.ResourceNotFoundError)
    assert "token" not in str(info.value)


def test_identity_without_credentials() -> None:
    name = "oauth.identity/unauthenticated.yaml"
    unauthenticated = pytest.raises(musicagent.AuthenticationError)
    with replayer().use_cassette(cassette_path(name)) as cassette, unauthenticated as info:
        client(auth="none").oauth.identity()
    assert cassette.all_played
    assert info.value.message == body(name)["message"]


def test_identity() -> None:
    name = "oauth.identity/someone-2024.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        me = client().oauth.identity()
    assert cassette.all_played
    assert isinstance(me, musicagent.models.Identity)
    assert (me.id, me.username, me.consumer_name) == (expected["id"], expected["username"], expected["consumer_name"])


def test_search_query_time_exceeded() -> None:
    name = "search/query-time-exceeded.yaml"
    with replayer().use_cassette(cassette_path(name)) as cassette, pytest.raises(musicagent.ServerError) as info:
        client().search(q="nirvana")
    assert cassette.all_played  # max_retries=0: one attempt, no retry
    assert info.value.status_code == 500
    assert info.value.message == body(name)["message"]


def test_rating_get_update_delete() -> None:
    sent: list[bytes | None] = []

    def spy(request: Any) -> Any:  # live requests only (see the spy in the test above)
        if "X-Request-Id" in request.headers:
            sent.append(request.body)
        return request

    name = "releases.rating.update/10507194-username.yaml"
    expected = body(name)
    with replayer(before_record_request=spy).use_cassette(cassette_path(name)) as cassette:
        rating = client().releases.rating.update(10507194, "Username", rating=expected["rating"])
    assert cassette.all_played
    assert isinstance(rating, musicagent.models.ReleaseRating)
    assert (rating.release_id, rating.username, rating.rating) == (
        expected["release_id"],
        expected["username"],
        expected["rating"],
    )
    recorded = cassette_data(name)["interactions"][0]["request"]["body"].encode("utf-8")
    assert sent and set(sent) == {recorded}  # the SDK sent the body the cassette holds
    assert json.loads(recorded) == {"rating": expected["rating"]}

    name = "releases.rating.delete/10507194-username.yaml"
    assert raw_bodies(name) == [b""]
    with replayer().use_cassette(cassette_path(name)) as cassette:
        delete: Any = client().releases.rating.delete  # returns None, which is what is checked
        assert delete(10507194, "Username") is None
    assert cassette.all_played

    name = "releases.rating.get/249504-memory.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        rating = client().releases.rating.get(249504, "memory")
    assert cassette.all_played
    assert (rating.username, rating.rating) == (expected["username"], expected["rating"])


def test_community_rating_and_stats() -> None:
    name = "releases.community_rating/249504.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        community = client().releases.community_rating(249504)
    assert cassette.all_played
    assert isinstance(community, musicagent.models.CommunityReleaseRating)
    assert (community.rating.average, community.rating.count) == (
        expected["rating"]["average"],
        expected["rating"]["count"],
    )
    name = "releases.stats/9491.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        stats = client().releases.stats(9491)
    assert cassette.all_played
    assert isinstance(stats, musicagent.models.ReleaseStats)
    assert dumped(stats) == expected


def test_label_and_its_releases() -> None:
    name = "labels.get/1.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        label = client().labels.get(1)
    assert cassette.all_played
    assert isinstance(label, musicagent.models.Label)
    assert (label.name, label.releases_url) == (expected["name"], expected["releases_url"])
    assert [s.name for s in label.sublabels or []] == [s["name"] for s in expected.get("sublabels", [])]

    name = "labels.releases/1-page1.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        page = client().labels.releases(1, per_page=2, page=1)
    assert cassette.all_played
    assert [(r.catno, r.title) for r in page.items] == [(r["catno"], r["title"]) for r in expected["releases"]]


def test_master() -> None:
    name = "masters.get/1000.yaml"
    expected = body(name)
    with replayer().use_cassette(cassette_path(name)) as cassette:
        master = client().masters.get(1000)
    assert cassette.all_played
    assert isinstance(master, musicagent.models.Master)
    assert (master.title, master.main_release) == (expected["title"], expected["main_release"])
    assert [t.title for t in master.tracklist or []] == [t["title"] for t in expected["tracklist"]]


# ---------------------------------------------------------------------------------------------
# tools/cassettes/record.py, offline


def test_record_refuses_without_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    from tools.cassettes import record

    assert "DISCOGS_TOKEN" not in os.environ  # tests/conftest.py hides it
    assert record.main([]) == 2
    assert "DISCOGS_TOKEN is not set" in capsys.readouterr().err


def test_record_lists_read_scenarios_only_unless_writes(capsys: pytest.CaptureFixture[str]) -> None:
    from tools.cassettes import record

    assert record.main(["--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert "artists.get/108713.yaml" in listed
    assert "search/query-time-exceeded.yaml" not in listed  # a live server cannot reproduce it
    assert "releases.rating.update/10507194-username.yaml" not in listed
    assert record.main(["--list", "--writes", "--only", "releases.rating.*"]) == 0
    listed = capsys.readouterr().out.split()
    # the rating is set before it is deleted
    assert listed.index("releases.rating.update/10507194-username.yaml") < listed.index(
        "releases.rating.delete/10507194-username.yaml"
    )


def test_scrub_functions() -> None:
    from tools.cassettes import record

    secret = "s3cr+t/tok en"
    forms = record.secret_forms([secret, None, ""])
    assert set(forms) == {secret, "s3cr%2Bt%2Ftok%20en", "s3cr%2Bt%2Ftok+en"}
    assert record.scrub(f"a {secret} b", forms) == f"a {record.PLACEHOLDER} b"
    assert record.scrub(f"x={secret}".encode(), forms) == f"x={record.PLACEHOLDER}".encode()
    assert record.scrub(None, forms) is None

    request = vcr.request.Request(
        "GET",
        "https://api.discogs.com/artists/1?per_page=5&note=s3cr%2Bt%2Ftok%20en",
        f'{{"echo": "{secret}"}}',
        {
            "Authorization": f"Discogs token={secret}",
            "User-Agent": "x",
            "Accept": "application/json",
            "X-Request-Id": "1",
            "Cookie": "a=b",
        },
    )
    scrubbed = record.request_scrubber([secret])(request)
    assert set(scrubbed.headers) == {"User-Agent", "Accept"}
    assert secret not in scrubbed.uri and "s3cr%2B" not in scrubbed.uri
    assert scrubbed.body == f'{{"echo": "{record.PLACEHOLDER}"}}'.encode()

    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "Content-Type": ["application/json"],
            "Set-Cookie": ["session=1"],
            "Link": [f"<https://api.discogs.com/x?token={secret}>; rel=next"],
            "X-Discogs-Ratelimit-Remaining": ["59"],
        },
        "body": {"string": f'{{"token": "{secret}"}}'.encode()},
    }
    cleaned = record.response_scrubber([secret])(response)
    assert set(cleaned["headers"]) == {"Content-Type", "Link", "X-Discogs-Ratelimit-Remaining"}
    assert secret not in json.dumps(cleaned["headers"])
    assert secret.encode() not in cleaned["body"]["string"]
    assert record.contains_secret(f"..{secret}..".encode(), [secret])
    assert not record.contains_secret(b"clean", [secret])

    options = record.vcr_options([secret], supported=["filter_sensitive_data"])
    assert options["record_mode"] == "all"
    assert "authorization" in options["filter_headers"]
    assert "token" in options["filter_query_parameters"]
    assert options["filter_sensitive_data"]
    assert "filter_sensitive_data" not in record.vcr_options([secret], supported=[])


class _EchoHandler(BaseHTTPRequestHandler):
    """A stand-in Discogs that leaks the credential back (in a header, a cookie and the body) and keeps
    one user's ratings, so that record.py's write scenarios can run against it."""

    ratings: typing.ClassVar[dict[str, int]] = {}
    log: typing.ClassVar[list[str]] = []

    def _answer(self, status: int, payload: Any) -> None:
        auth = self.headers.get("Authorization", "")
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Echo", auth)
        self.send_header("Set-Cookie", f"session={auth}")
        self.send_header("X-Discogs-Ratelimit", "60")
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        sent = json.loads(self.rfile.read(length)) if length else None
        self.log.append(f"{self.command} {self.path}")
        rating = re.fullmatch(r"/releases/(\d+)/rating/(\w+)", self.path)
        if self.path == "/oauth/identity":
            identity = {"id": 1, "username": "owner", "resource_url": "x", "consumer_name": "test"}
            self._answer(200, identity)
        elif rating and self.command == "GET":
            self._answer(
                200, {"username": rating[2], "release_id": int(rating[1]), "rating": self.ratings.get(rating[1], 0)}
            )
        elif rating and self.command == "PUT":
            assert sent is not None
            self.ratings[rating[1]] = sent["rating"]
            self._answer(201, {"username": rating[2], "release_id": int(rating[1]), "rating": sent["rating"]})
        elif rating and self.command == "DELETE":
            self.ratings.pop(rating[1], None)
            self._answer(204, None)
        elif "999999999" in self.path:
            self._answer(404, {"message": "Artist not found."})
        else:
            auth = self.headers.get("Authorization", "")
            self._answer(200, {"id": 1, "name": "Echo", "resource_url": "x", "seen": auth, "path": self.path})

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_record_writes_no_token(echo_server: str, tmp_path: Path) -> None:
    from tools.cassettes import record

    secret = "live-secret-123"
    entry = dict(BY_NAME["artists.get/108713.yaml"])
    outcome = record.record_entry(entry, token=secret, base_url=echo_server, out=tmp_path, today="2000-01-01")
    assert outcome.ok, outcome.message
    written = (tmp_path / entry["cassette"]).read_bytes()
    assert secret.encode() not in written
    assert b"uthorization" not in written and b"Cookie" not in written and b"X-Echo" not in written
    assert record.PLACEHOLDER.encode() in written  # the echoed credential was replaced, not dropped
    data = load_document(written.decode("utf-8"), "recorded")
    (interaction,) = data["interactions"]
    assert set(interaction["request"]["headers"]) == {"User-Agent", "Accept"}
    assert interaction["request"]["uri"] == echo_server + "/artists/108713"
    assert outcome.entry is not None and outcome.entry["origin"] == "live"
    assert outcome.entry["interactions"][0]["class"] == "LIVE-RECORDED"

    # and the recording replays through the SDK
    with replayer().use_cassette(str(tmp_path / entry["cassette"])) as cassette:
        artist = Discogs(token=TOKEN, base_url=echo_server, rate_limit=None, max_retries=0).artists.get(108713)
    assert cassette.all_played and artist.name == "Echo"


def test_record_keeps_the_old_cassette_when_the_status_changed(echo_server: str, tmp_path: Path) -> None:
    from tools.cassettes import record

    entry = dict(BY_NAME["artists.get/108713.yaml"])
    entry["interactions"] = [dict(entry["interactions"][0], request="GET /artists/999999999")]
    outcome = record.record_entry(entry, token="x", base_url=echo_server, out=tmp_path, today="2000-01-01")
    assert not outcome.ok and outcome.statuses == [404]
    assert not (tmp_path / entry["cassette"]).exists()


def test_record_reports_a_server_it_cannot_reach(tmp_path: Path) -> None:
    from tools.cassettes import record

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    entry = dict(BY_NAME["artists.get/108713.yaml"])
    outcome = record.record_entry(entry, token="x", base_url=f"http://127.0.0.1:{port}", out=tmp_path, today="x")
    assert not outcome.ok and "APIConnectionError" in outcome.message
    assert not (tmp_path / entry["cassette"]).exists()


def test_record_writes_act_on_the_owner_and_put_things_back(echo_server: str, tmp_path: Path) -> None:
    from tools.cassettes import record

    _EchoHandler.ratings.clear()
    _EchoHandler.ratings["10507194"] = 3  # the owner had rated the release before
    _EchoHandler.log.clear()
    entries = [e for e in record.select(INDEX, ["releases.rating.*"], writes=True) if e["record"] == "write"]
    outcomes = record._record_writes(entries, token="live-secret", base_url=echo_server, out=tmp_path, today="x")
    assert [o.ok for o in outcomes] == [True, True], [o.message for o in outcomes]
    assert _EchoHandler.log == [
        "GET /oauth/identity",
        "GET /releases/10507194/rating/owner",
        "PUT /releases/10507194/rating/owner",  # recorded
        "DELETE /releases/10507194/rating/owner",  # recorded
        "PUT /releases/10507194/rating/owner",  # the previous rating put back
    ]
    assert _EchoHandler.ratings == {"10507194": 3}
    put = load_document((tmp_path / "releases.rating.update/10507194-username.yaml").read_text(), "put")
    (interaction,) = put["interactions"]
    assert interaction["request"]["body"] == '{"rating":5}'
    assert interaction["request"]["uri"].endswith("/releases/10507194/rating/owner")
    assert interaction["response"]["status"]["code"] == 201
    for outcome in outcomes:
        assert b"live-secret" not in (tmp_path / outcome.cassette).read_bytes()
        assert outcome.entry is not None and outcome.entry["path_params"]["username"] == "owner"


def test_record_moves_writes_onto_the_owner() -> None:
    from tools.cassettes import record

    moved = record.as_owner(BY_NAME["releases.rating.update/10507194-username.yaml"], "me/you")
    assert moved["path_params"]["username"] == "me/you"
    assert moved["interactions"][0]["request"] == "PUT /releases/10507194/rating/me%2Fyou"


class _AccountHandler(BaseHTTPRequestHandler):
    """A stand-in for the token owner's account, with state: folders, collection instances and their
    notes fields, wantlist, listings, ratings and exports. record.py's write scenarios run against it,
    and the test compares the account before and after."""

    owner = "owner"
    state: typing.ClassVar[dict[str, Any]] = {}
    log: typing.ClassVar[list[str]] = []

    @classmethod
    def reset(cls) -> None:
        cls.state.clear()
        cls.state.update(
            {
                "next": 1000,
                "folders": {0: "All", 1: "Uncategorized", 7: "Keep me"},
                "instances": {500: {"folder": 7, "release": 42, "rating": 3}},
                "notes": {},
                "wants": {1: {"notes": "keep me", "rating": 3}},
                "listings": {},
                "ratings": {"10507194": 2},
                "exports": 0,
            }
        )
        cls.log.clear()

    def _new_id(self) -> int:
        self.state["next"] += 1
        return int(self.state["next"])

    def _answer(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _want(self, release: int) -> dict[str, Any]:
        want = self.state["wants"][release]
        return {
            "id": release,
            "rating": want["rating"],
            "notes": want["notes"],
            "basic_information": {"title": "x"},
            "resource_url": "x",
        }

    def _handle(self) -> None:
        from urllib.parse import parse_qs, urlsplit

        length = int(self.headers.get("Content-Length") or 0)
        sent = json.loads(self.rfile.read(length)) if length else {}
        parts = urlsplit(self.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.log.append(f"{self.command} {path}")
        s, me = self.state, f"/users/{self.owner}"
        folders, instances = s["folders"], s["instances"]
        if path == "/oauth/identity":
            return self._answer(200, {"id": 1, "username": self.owner, "resource_url": "x", "consumer_name": "t"})
        if m := re.fullmatch(r"/releases/(\d+)/rating/(\w+)", path):
            if self.command == "PUT":
                s["ratings"][m[1]] = sent["rating"]
            elif self.command == "DELETE":
                s["ratings"].pop(m[1], None)
                return self._answer(204)
            rating = {"username": m[2], "release_id": int(m[1]), "rating": s["ratings"].get(m[1], 0)}
            return self._answer(201 if self.command == "PUT" else 200, rating)
        if path == f"{me}/collection/folders" and self.command == "POST":
            folder = self._new_id()
            folders[folder] = sent["name"]
            return self._answer(201, {"id": folder, "name": sent["name"], "count": 0, "resource_url": "x"})
        if m := re.fullmatch(rf"{me}/collection/folders/(\d+)", path):
            folder = int(m[1])
            if folder not in folders:
                return self._answer(404, {"message": "Folder not found."})
            if self.command == "DELETE":
                if any(i["folder"] == folder for i in instances.values()):
                    return self._answer(400, {"message": "Folder must be empty."})
                del folders[folder]
                return self._answer(204)
            folders[folder] = sent.get("name", folders[folder])
            return self._answer(200, {"id": folder, "name": folders[folder], "count": 0, "resource_url": "x"})
        if m := re.fullmatch(rf"{me}/collection/folders/(\d+)/releases/(\d+)", path):
            instance = self._new_id()
            instances[instance] = {"folder": int(m[1]), "release": int(m[2]), "rating": 0}
            return self._answer(201, {"instance_id": instance, "resource_url": "x"})
        if m := re.fullmatch(rf"{me}/collection/folders/(\d+)/releases/(\d+)/instances/(\d+)(/fields/(\d+))?", path):
            found = instances.get(int(m[3]))
            if found is None or found["folder"] != int(m[1]) or found["release"] != int(m[2]):
                return self._answer(404, {"message": "Instance not found."})
            if m[5]:
                s["notes"][(int(m[3]), int(m[5]))] = query["value"]
            elif self.command == "DELETE":
                del instances[int(m[3])]
                s["notes"] = {k: v for k, v in s["notes"].items() if k[0] != int(m[3])}
            else:
                found["rating"] = sent.get("rating", found["rating"])
                if "folder_id" in sent:
                    if sent["folder_id"] not in folders:
                        return self._answer(404, {"message": "Folder not found."})
                    found["folder"] = sent["folder_id"]
            return self._answer(204)
        if path == f"{me}/collection/fields":
            fields = [{"id": 1, "name": "Media", "type": "dropdown"}, {"id": 3, "name": "Notes", "type": "textarea"}]
            return self._answer(200, {"fields": fields})
        if path == f"{me}/wants":
            wants = [self._want(r) for r in sorted(s["wants"])]
            pagination = {"page": 1, "pages": 1, "per_page": 100, "items": len(wants), "urls": {}}
            return self._answer(200, {"pagination": pagination, "wants": wants})
        if m := re.fullmatch(rf"{me}/wants/(\d+)", path):
            release = int(m[1])
            if self.command == "PUT":
                s["wants"][release] = {"notes": sent.get("notes", ""), "rating": sent.get("rating", 0)}
                return self._answer(201, self._want(release))
            if release not in s["wants"]:
                return self._answer(404, {"message": "Release not in wantlist."})
            if self.command == "DELETE":
                del s["wants"][release]
                return self._answer(204)
            s["wants"][release].update(sent)
            return self._answer(200, self._want(release))
        if path == "/marketplace/listings":
            listing = self._new_id()
            s["listings"][listing] = sent
            return self._answer(201, {"listing_id": listing, "resource_url": "x"})
        if m := re.fullmatch(r"/marketplace/listings/(\d+)", path):
            if int(m[1]) not in s["listings"]:
                return self._answer(404, {"message": "Listing not found."})
            if self.command == "DELETE":
                del s["listings"][int(m[1])]
            else:
                s["listings"][int(m[1])] = sent
            return self._answer(204)
        if path == "/inventory/export":
            s["exports"] += 1
            return self._answer(200, headers={"Location": f"/inventory/export/{s['exports']}"})
        return self._answer(403, {"message": "You don't have permission to access this resource."})

    do_GET = do_PUT = do_POST = do_DELETE = _handle  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def account_server() -> Iterator[str]:
    _AccountHandler.reset()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AccountHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_record_every_write_scenario_and_leave_the_account_as_it_was(account_server: str, tmp_path: Path) -> None:
    from tools.cassettes import record

    before = json.loads(json.dumps(_AccountHandler.state, default=str))
    writes = [e for e in record.select(INDEX, [], writes=True) if e["record"] == "write"]
    assert {e["operation"] for e in writes} >= {
        "users.collection.folders.update",
        "users.collection.instances.update",
        "users.collection.fields.set",
        "users.wants.delete",
        "marketplace.listings.delete",
        "inventory.exports.create",
    }
    url = account_server
    outcomes = record._record_writes(writes, token="live-secret", base_url=url, out=tmp_path, today="x")
    assert [(o.cassette, o.ok) for o in outcomes] == [(e["cassette"], True) for e in writes], [
        o.message for o in outcomes if not o.ok
    ]
    after = json.loads(json.dumps(_AccountHandler.state, default=str))
    after.pop("next"), before.pop("next")
    assert after.pop("exports") == 1 and before.pop("exports") == 0  # an export job stays: harmless
    assert after == before, "the recording left the account changed"
    for outcome in outcomes:
        assert outcome.entry is not None
        written = (tmp_path / outcome.cassette).read_bytes()
        assert b"live-secret" not in written and b"uthorization" not in written
        if "username" in outcome.entry["path_params"]:
            assert outcome.entry["path_params"]["username"] == "owner"
        data = load_document(written.decode("utf-8"), "recorded")
        (interaction,) = data["interactions"]
        assert interaction["request"]["uri"].startswith(url + "/")
        assert set(interaction["request"]["headers"]) <= {"User-Agent", "Accept", "Content-Type"}
    by_operation = {o.entry["operation"]: o.entry for o in outcomes if o.entry is not None}
    moved = by_operation["users.collection.instances.update"]
    assert moved["body"]["rating"] == 5 and moved["body"]["folder_id"] not in (4, 7)  # a scratch folder
    assert by_operation["users.collection.fields.set"]["path_params"]["field_id"] == "3"  # the notes field
    # each recorded request went to the owner's account
    log = _AccountHandler.log
    assert "POST /users/owner/collection/folders/1/releases/213658" in log
    assert "DELETE /users/owner/wants/1" in log
    assert any(line.startswith("DELETE /marketplace/listings/") for line in log)


def test_a_cleanup_that_fails_is_reported_and_the_others_still_run(
    account_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.cassettes import record

    ran: list[str] = []

    def failing(answer: Any) -> None:
        raise musicagent.ServerError("the folder is busy", status_code=500)

    def plan(client: Any, owner: str, entry: Any, plan: Any) -> Any:
        plan.cleanups.append(lambda answer: ran.append("undone"))  # added first: runs last
        plan.cleanups.append(failing)
        return plan

    monkeypatch.setattr(record, "plan_write", plan)
    entries = record.select(INDEX, ["inventory.exports.create"], writes=True)
    (outcome,) = record._record_writes(entries, token="live-secret", base_url=account_server, out=tmp_path, today="x")
    assert outcome.ok  # the recording itself is fine
    assert ran == ["undone"]
    assert outcome.leftovers and "the folder is busy" in outcome.leftovers[0]


def test_a_write_whose_preparation_fails_is_kept(
    account_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.cassettes import record

    entries = record.select(INDEX, ["users.collection.fields.set"], writes=True)
    original = _AccountHandler._handle

    def no_fields(self: Any) -> None:
        if self.path.endswith("/collection/fields"):
            self.log.append(f"{self.command} {self.path}")
            self._answer(200, {"fields": []})  # the owner has no notes field
        else:
            original(self)

    monkeypatch.setattr(_AccountHandler, "do_GET", no_fields)
    (outcome,) = record._record_writes(entries, token="live-secret", base_url=account_server, out=tmp_path, today="x")
    assert not outcome.ok and "no collection notes field" in outcome.message
    assert not (tmp_path / outcome.cassette).exists()

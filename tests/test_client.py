"""The client as users meet it, against a local server that records what arrives on the wire.

Headers (authentication, User-Agent), typed results, error mapping, decoding failures, the escape
hatch, response metadata (last_response, rate-limit figures, metrics) and the non-JSON operations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _clients import FLAVORS, make_client
from _sdk_server import DiscogsServer, Reply, Seen, artist_body

import musicagent
from musicagent import (
    Discogs,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    ResponseDecodeError,
    ResponseValidationError,
    models,
)
from musicagent._runtime.async_client import AsyncResource
from musicagent._runtime.client import Resource, options_of

TOKEN = "tok-CLIENT-88e2f1d0"


@pytest.fixture
def server() -> Iterator[DiscogsServer]:
    with DiscogsServer() as s:
        yield s


@pytest.fixture(params=FLAVORS)
def discogs(server: DiscogsServer, request: pytest.FixtureRequest) -> Iterator[Discogs]:
    """Both clients: ``AsyncDiscogs`` behind the sync API (tests/_clients.py)."""
    client: Discogs = make_client(request.param, token=TOKEN, base_url=server.url, rate_limit=None, max_retries=0)
    yield client
    client.close()


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, data


# -- what goes on the wire ----------------------------------------------------------------------------


def test_a_token_travels_in_the_authorization_header_only(discogs: Discogs, server: DiscogsServer) -> None:
    discogs.artists.get(1)
    discogs.artists.releases(1, limit=1)
    discogs.search(q="x")

    for seen in server.requests:
        assert seen.headers["Authorization"] == f"Discogs token={TOKEN}"
        assert TOKEN not in seen.target and "token" not in seen.query


def test_key_and_secret_travel_in_the_authorization_header(server: DiscogsServer) -> None:
    discogs = Discogs(consumer_key="ck-1", consumer_secret="cs-2", base_url=server.url, rate_limit=None)
    discogs.search(q="x")

    seen = server.requests[0]
    assert seen.headers["Authorization"] == "Discogs key=ck-1, secret=cs-2"
    assert "ck-1" not in seen.target and "cs-2" not in seen.target


def test_user_agent_and_accept_headers(server: DiscogsServer) -> None:
    Discogs(base_url=server.url, rate_limit=None, user_agent="crate-digger/3.1").artists.get(1)

    headers = server.requests[0].headers
    assert headers["User-Agent"] == "crate-digger/3.1"
    assert headers["Accept"] == "application/json"
    assert "Authorization" not in headers


def test_per_call_extra_headers_and_extra_query(discogs: Discogs, server: DiscogsServer) -> None:
    discogs.artists.get(1, extra_headers={"X-Trace": "t1"}, extra_query={"curr_abbr": "EUR"})

    seen = server.requests[0]
    assert seen.headers["X-Trace"] == "t1"
    assert seen.query == {"curr_abbr": "EUR"}


def test_a_json_body_for_writes(discogs: Discogs, server: DiscogsServer) -> None:
    def rated(seen: Seen) -> Reply:
        return reply(201, {"username": "me", "release_id": 3, "rating": json.loads(seen.body)["rating"]})

    server.routes["/releases/3/rating/me"] = rated

    rating = discogs.releases.rating.update(3, "me", rating=4)

    seen = server.requests[0]
    assert (seen.method, json.loads(seen.body)) == ("PUT", {"rating": 4})
    assert seen.headers["Content-Type"] == "application/json"
    assert isinstance(rating, models.ReleaseRating) and rating.rating == 4


# -- results ------------------------------------------------------------------------------------------


def test_results_are_typed_models_that_keep_unknown_fields(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/artists/8"] = lambda seen: reply(200, {**artist_body(8), "brand_new_field": [1, 2]})

    artist = discogs.artists.get(8)

    assert isinstance(artist, models.Artist)
    assert (artist.id, artist.name) == (8, "Artist 8")
    assert artist.model_extra == {"brand_new_field": [1, 2]}


def test_an_operation_without_a_body_returns_none(discogs: Discogs, server: DiscogsServer) -> None:
    discogs.releases.rating.delete(1, "me")  # annotated -> None; the 204 needs no decoding
    assert server.requests[0].method == "DELETE"
    assert server.requests[0].target == "/releases/1/rating/me"


def test_a_form_encoded_answer_becomes_a_dict(server: DiscogsServer) -> None:
    server.routes["/oauth/request_token"] = lambda seen: (
        200,
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"oauth_token=rt&oauth_token_secret=rts&oauth_callback_confirmed=true",
    )
    discogs = Discogs(consumer_key="ck", consumer_secret="cs", base_url=server.url, rate_limit=None)

    assert discogs.oauth.request_token() == {
        "oauth_token": "rt",
        "oauth_token_secret": "rts",
        "oauth_callback_confirmed": "true",
    }


def test_a_download_streams_the_body_to_the_destination(
    discogs: Discogs, server: DiscogsServer, tmp_path: Path
) -> None:
    csv = b"listing_id,price\n" + b"1,2.50\n" * 5000
    server.routes["/inventory/export/5/download"] = lambda seen: (200, {"Content-Type": "text/csv"}, csv)
    target = tmp_path / "export.csv"

    written = discogs.inventory.exports.download(5, target)

    assert written == target and target.read_bytes() == csv
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]  # no temporary file left behind


def test_images_are_downloaded_through_the_client(discogs: Discogs, server: DiscogsServer, tmp_path: Path) -> None:
    server.routes["/images/R-1.jpg"] = lambda seen: (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8jpeg")

    path = discogs.images.download(f"{server.url}/images/R-1.jpg", tmp_path / "cover.jpg")

    assert path.read_bytes() == b"\xff\xd8jpeg"
    assert discogs.images is discogs.images


# -- failures -----------------------------------------------------------------------------------------


def test_an_error_status_becomes_a_typed_error_with_the_discogs_message(discogs: Discogs) -> None:
    with pytest.raises(NotFoundError) as caught:
        discogs.releases.get(999999999)

    error = caught.value
    assert isinstance(error, musicagent.ResourceNotFoundError)  # the older name still works
    assert error.status_code == 404
    assert error.message == "The requested resource was not found."
    assert error.method == "GET" and error.url is not None and error.url.endswith("/releases/999999999")


def test_a_body_that_is_not_json_is_a_decode_error(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/artists/1"] = lambda seen: (200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")

    with pytest.raises(ResponseDecodeError) as caught:
        discogs.artists.get(1)

    assert "artists.get: HTTP 200 with a body that is not valid JSON" in str(caught.value)
    assert caught.value.status_code == 200 and "maintenance" in caught.value.body_excerpt


def test_an_empty_body_is_a_decode_error(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/artists/1"] = lambda seen: (200, {}, b"")

    with pytest.raises(ResponseDecodeError, match="with an empty body"):
        discogs.artists.get(1)


def test_a_body_of_the_wrong_shape_names_the_field(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/artists/1"] = lambda seen: reply(200, {**artist_body(1), "id": "not-a-number"})

    with pytest.raises(ResponseValidationError) as caught:
        discogs.artists.get(1)

    assert "does not match Artist" in str(caught.value) and "'id'" in str(caught.value)
    assert caught.value.errors and caught.value.errors[0]["loc"] == ("id",)


def test_a_403_beyond_page_100_explains_the_inventory_limit(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/users/seller/inventory"] = lambda seen: reply(403, {"message": "You don't have permission."})

    with pytest.raises(PermissionDeniedError) as caught:
        discogs.users.inventory("seller", page=101)
    assert "at most 100 pages" in caught.value.message

    with pytest.raises(PermissionDeniedError) as caught:
        discogs.users.inventory("seller", page=3)
    assert "at most 100 pages" not in caught.value.message


# -- the escape hatch ---------------------------------------------------------------------------------


def test_request_calls_any_path_and_returns_decoded_json(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/brand/new"] = lambda seen: reply(200, {"ok": True, "query": seen.query})

    answer = discogs.request("get", "/brand/new", params={"a": 1, "skip": None}, extra_headers={"X-A": "b"})

    assert answer == {"ok": True, "query": {"a": "1"}}
    seen = server.requests[0]
    assert (seen.method, seen.headers["X-A"], seen.headers["Authorization"]) == ("GET", "b", f"Discogs token={TOKEN}")


def test_request_sends_json_and_returns_none_for_an_empty_body(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/things"] = lambda seen: (204, {}, b"")

    assert discogs.request("POST", "/things", json={"x": [1]}) is None
    assert json.loads(server.requests[0].body) == {"x": [1]}


def test_request_with_a_body_that_is_not_json(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/html"] = lambda seen: (200, {"Content-Type": "text/html"}, b"<p>hi</p>")

    with pytest.raises(ResponseDecodeError, match="GET /html: HTTP 200 with a body that is not valid JSON"):
        discogs.request("GET", "/html")


# -- state a user can read ----------------------------------------------------------------------------


def test_last_response_exposes_status_and_headers(discogs: Discogs, server: DiscogsServer) -> None:
    assert discogs.last_response is None
    server.routes["/artists/1"] = lambda seen: reply(
        200,
        artist_body(1),
        {"X-Discogs-Ratelimit": "60", "X-Discogs-Ratelimit-Used": "1", "X-Discogs-Ratelimit-Remaining": "59"},
    )

    discogs.artists.get(1)

    last = discogs.last_response
    assert last is not None
    assert (last.method, last.status) == ("GET", 200)
    assert last.url.endswith("/artists/1")
    assert last.headers["X-Discogs-Ratelimit-Remaining"] == "59"


def test_rate_limit_figures_without_a_local_limiter(discogs: Discogs, server: DiscogsServer) -> None:
    before = discogs.rate_limit
    assert (before.limit, before.used, before.remaining, before.local_limit) == (None, None, None, None)
    server.routes["/artists/1"] = lambda seen: reply(
        200,
        artist_body(1),
        {"X-Discogs-Ratelimit": "60", "X-Discogs-Ratelimit-Used": "4", "X-Discogs-Ratelimit-Remaining": "56"},
    )

    discogs.artists.get(1)

    after = discogs.rate_limit
    assert (after.limit, after.used, after.remaining) == (60, 4, 56)


def test_rate_limit_figures_with_the_local_limiter(server: DiscogsServer) -> None:
    server.routes["/artists/1"] = lambda seen: reply(
        200,
        artist_body(1),
        {"X-Discogs-Ratelimit": "60", "X-Discogs-Ratelimit-Used": "2", "X-Discogs-Ratelimit-Remaining": "58"},
    )
    discogs = Discogs(token=TOKEN, base_url=server.url, rate_limit=(60, 60))

    discogs.artists.get(1)

    state = discogs.rate_limit
    assert (state.limit, state.remaining, state.local_limit, state.window) == (60, 58, 60, 60.0)


def test_metrics_count_requests(discogs: Discogs) -> None:
    discogs.artists.get(1)
    discogs.artists.get(2)
    assert discogs.metrics.requests == 2


def test_repr_context_manager_and_close(server: DiscogsServer) -> None:
    discogs = Discogs(token=TOKEN, base_url=server.url, rate_limit=None)
    with discogs as entered:
        assert entered is discogs
        assert repr(discogs) == f"<Discogs base_url={server.url!r} auth=token>"
        discogs.artists.get(1)
    # closing only drops pooled connections: the client keeps working
    assert discogs.artists.get(2).id == 2
    assert repr(Discogs(base_url=server.url)).endswith("auth=none>")
    assert repr(Discogs(consumer_key="k", consumer_secret="s")).endswith("auth=key_secret>")


def test_resources_are_built_once_and_hold_the_client(discogs: Discogs) -> None:
    assert discogs.artists is discogs.artists
    assert isinstance(getattr(discogs.artists, "unwrapped", discogs.artists), Resource | AsyncResource)
    assert discogs.releases.rating is discogs.releases.rating


def test_oauth_flow_is_available_from_the_client() -> None:
    flow = Discogs(consumer_key="ck", consumer_secret="cs").oauth_flow(callback="https://app.example/cb")
    assert type(flow).__name__ == "OAuthFlow"


def test_options_of_allocates_nothing_for_the_common_case() -> None:
    assert options_of(None, None, None, None) is None
    options = options_of(5, 1, {"X": "y"}, {"q": 1})
    assert options is not None
    assert (options.timeout, options.max_retries, options.extra_headers, options.extra_query) == (
        5,
        1,
        {"X": "y"},
        {"q": 1},
    )


def test_an_empty_success_body_is_a_decode_error_without_retries(server: DiscogsServer) -> None:
    server.routes["/artists/5"] = lambda seen: (200, {"Content-Type": "application/json"}, b"")
    client = Discogs(base_url=server.url, rate_limit=None, max_retries=3)
    with pytest.raises(ResponseDecodeError, match="empty body"):
        client.artists.get(5)
    assert len(server.requests) == 1  # what the server meant to send: asking again would not help


def test_a_garbled_success_body_is_retried(server: DiscogsServer) -> None:
    answers = iter([(200, {"Content-Type": "application/json"}, b'{"id": 5, "na'), reply(200, artist_body(5))])
    server.routes["/artists/5"] = lambda seen: next(answers)
    client = Discogs(base_url=server.url, rate_limit=None, max_retries=3)
    assert client.artists.get(5).id == 5
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda d: d.artists.get(1, extra_headers={"X-Note": "a\r\nInjected: 1"}), "extra_headers"),
        (lambda d: d.artists.get(1, extra_headers={"X-Note": "caf\u00e9 \u20ac"}), "extra_headers"),
        (lambda d: d.artists.get(1, extra_query="a=b"), "extra_query"),
        (lambda d: d.request("POST", "/x", json={1, 2}), "json"),
        (lambda d: d.request("POST", "/x", json={"price": float("nan")}), "json"),
    ],
)
def test_bad_per_call_extras_are_refused_before_sending(
    discogs: Discogs, server: DiscogsServer, call: Any, parameter: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        call(discogs)
    assert caught.value.parameter == parameter
    assert server.requests == []


def test_request_survives_absurdly_deep_json(server: DiscogsServer, discogs: Discogs) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    server.routes["/deep"] = lambda seen: (200, {"Content-Type": "application/json"}, deep)
    with pytest.raises(ResponseDecodeError):
        discogs.request("GET", "/deep", max_retries=0)


def test_an_api_redirect_is_an_error_naming_where_it_points(discogs: Discogs, server: DiscogsServer) -> None:
    server.routes["/artists/6"] = lambda seen: (301, {"Location": "/artists/7"}, b"")
    with pytest.raises(musicagent.APIError) as caught:
        discogs.artists.get(6)
    assert caught.value.status_code == 301 and "redirect to /artists/7" in caught.value.message
    assert len(server.requests) == 1


def test_a_download_follows_a_redirect(discogs: Discogs, server: DiscogsServer, tmp_path: Path) -> None:
    server.routes["/inventory/export/9/download"] = lambda seen: (302, {"Location": "/files/export-9.csv"}, b"")
    server.routes["/files/export-9.csv"] = lambda seen: (200, {"Content-Type": "text/csv"}, b"listing_id,price\n1,2\n")
    written = discogs.inventory.exports.download(9, tmp_path / "export.csv")
    assert written.read_bytes() == b"listing_id,price\n1,2\n"
    assert [r.path for r in server.requests] == ["/inventory/export/9/download", "/files/export-9.csv"]


def test_a_text_field_sent_as_a_number_is_taken_as_text(discogs: Discogs, server: DiscogsServer) -> None:
    """Discogs sends search-result years as strings; a body that sends a number must not break the page."""
    page = {
        "pagination": {"page": 1, "pages": 1, "per_page": 50, "items": 1, "urls": {}},
        "results": [
            {"id": 1, "type": "release", "title": "Nevermind", "year": 1991, "catno": 24425, "resource_url": "/r/1"}
        ],
    }
    server.routes["/database/search"] = lambda seen: reply(200, page)
    (result,) = list(discogs.search(q="nevermind"))
    assert (result.year, result.catno) == ("1991", "24425")

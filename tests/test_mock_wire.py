"""The mock on the wire as clients nobody here wrote use it: parameters Discogs ignores, write fields
sent in the query (the documentation writes them as URI templates), and the HTTP details clients
rely on — with plain HTTP requests, so nothing of the SDK stands between the test and the server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from musicagent.mock import MockServer, default_cassettes

pytestmark = pytest.mark.skipif(default_cassettes() is None, reason="no cassettes")
USER = "R-Search"  # the user of the recorded /oauth/identity
TOKEN = {"Authorization": "Discogs token=wire-test"}


def http(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data, headers={**TOKEN, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(rate_limit=None) as running:
        yield running


def test_a_query_parameter_the_operation_does_not_take_is_ignored_as_discogs_ignores_it(server: MockServer) -> None:
    """discojs sends ``currency=`` (the API's name is ``curr_abbr``); Discogs ignores what it does not know."""
    plain = http(server.url + "/releases/249504")
    for extra in ("currency=EUR", "utm_source=x&foo=", "curr_abbr=USD&whatever=1"):
        status, headers, body = http(server.url + f"/releases/249504?{extra}")
        assert (status, headers["X-Musicagent-Mock"], body) == (200, "recorded", plain[2]), extra
    # A listing too, and its unknown parameter does not count as a filter for synthesized ids either.
    assert http(server.url + "/artists/1/releases?page=2&ref=abc")[0] == 200
    status, headers, _ = http(server.url + "/artists/7/releases?ref=abc")
    assert (status, headers["X-Musicagent-Mock"]) == (200, "synthesized")
    # A parameter the operation takes still has to match: another value is another question.
    assert http(server.url + "/releases/249504?curr_abbr=EUR")[1]["X-Musicagent-Mock"] == "miss"
    assert http(server.url + "/artists/1/releases?sort_order=desc")[1]["X-Musicagent-Mock"] == "miss"


def test_write_fields_sent_in_the_query_are_read_as_discogs_reads_them(server: MockServer) -> None:
    """Discogs' documentation writes body parameters as URI templates (``PUT .../wants/{id}{?notes,rating}``);
    discojs sends the wantlist's notes and rating that way. A JSON body's value wins over the query's."""
    want = f"{server.url}/users/{USER}/wants/40522"
    status, _, body = http(want + "?notes=from%20the%20query&rating=4", "PUT")
    assert status == 201 and (json.loads(body)["notes"], json.loads(body)["rating"]) == ("from the query", 4)
    status, _, body = http(want + "?notes=query&rating=2", "POST", {"notes": "body"})
    assert status == 200 and (json.loads(body)["notes"], json.loads(body)["rating"]) == ("body", 2)
    listed = json.loads(http(f"{server.url}/users/{USER}/wants")[2])["wants"]
    assert [(w["notes"], w["rating"]) for w in listed if w["id"] == 40522] == [("body", 2)]
    # A query value that is not of the field's type is Discogs' 422, as it would be in a body.
    status, _, body = http(want + "?rating=lots", "POST")
    assert status == 422 and "rating" in json.loads(body)["message"]


def _walk(url: str) -> list[dict[str, Any]]:
    """Every item of a listing, following each page's ``next`` URL as given."""
    items: list[dict[str, Any]] = []
    while url:
        status, headers, body = http(url)
        assert status == 200, body
        assert (
            headers["X-Musicagent-Mock"] == "synthesized"
            and "(sorted)" in headers["X-Musicagent-Mock-Synthesized-From"]
        )
        page = json.loads(body)
        items += page["releases"]
        url = page["pagination"]["urls"].get("next", "")
    return items


def test_a_sort_the_recordings_lack_is_made_from_the_whole_recorded_listing(server: MockServer) -> None:
    """discojs always sends ``sort=year&sort_order=asc`` for an artist's releases; recordings have no sort."""
    recorded = [
        r["id"] for p in (1, 2) for r in json.loads(http(f"{server.url}/artists/1/releases?page={p}")[2])["releases"]
    ]
    ascending = _walk(f"{server.url}/artists/1/releases?sort=year&sort_order=asc&per_page=25")
    assert sorted(r["id"] for r in ascending) == sorted(recorded)  # the same 57 items, none lost or doubled
    years = [r.get("year") for r in ascending]
    dated = [y for y in years if y is not None]
    assert dated == sorted(dated) and [r["id"] for r in ascending] != recorded  # recorded unsorted
    assert years[len(dated) :] == [None] * (len(years) - len(dated))  # undated last
    descending = _walk(f"{server.url}/artists/1/releases?sort=year&sort_order=desc&per_page=100")
    assert [r.get("year") for r in descending if r.get("year")] == sorted(dated, reverse=True)
    titles = [r["title"].casefold() for r in _walk(f"{server.url}/artists/1/releases?sort=title")]
    assert titles == sorted(titles)
    # What cannot be sorted faithfully stays a miss: a listing recorded in part, a sort nobody defined.
    status, headers, body = http(f"{server.url}/artists/108713/releases?sort=year")
    assert (status, headers["X-Musicagent-Mock"]) == (404, "miss") and b"whole listing" in body
    assert http(f"{server.url}/artists/1/releases?sort=colour")[1]["X-Musicagent-Mock"] == "miss"
    with MockServer(rate_limit=None, strict=True) as strict:
        assert http(f"{strict.url}/artists/1/releases?sort=year")[0] == 501


def test_the_users_own_listings_come_from_state_filtered_sorted_and_linked_with_the_question(
    server: MockServer,
) -> None:
    """discojs asks the user's inventory ``status=All&sort=listed&sort_order=asc``, and their lists:
    the mock's user has none recorded, so they start empty, and writes show up in the asked order."""
    inventory = f"{server.url}/users/{USER}/inventory"
    status, _, body = http(inventory + "?status=All&sort=listed&sort_order=asc")
    assert status == 200 and json.loads(body)["listings"] == []
    made = []
    for price in (30, 10, 20):
        listing = {"release_id": 40522, "condition": "Mint (M)", "price": price, "status": "Draft"}
        made.append(json.loads(http(server.url + "/marketplace/listings", "POST", listing)[2])["listing_id"])
    by_price = json.loads(http(inventory + "?status=All&sort=price&sort_order=desc&per_page=2")[2])
    assert [item["price"]["value"] for item in by_price["listings"]] == [30, 20]
    following = by_price["pagination"]["urls"]["next"]
    assert "status=All" in following and "sort=price" in following and "sort_order=desc" in following
    assert [item["price"]["value"] for item in json.loads(http(following)[2])["listings"]] == [10]
    assert json.loads(http(inventory + "?status=For+Sale")[2])["listings"] == []  # a real filter still filters
    status, _, body = http(f"{server.url}/users/{USER}/lists?page=1")
    assert status == 200 and json.loads(body)["lists"] == [] and json.loads(body)["pagination"]["items"] == 0
    assert http(f"{server.url}/users/rodneyfool/lists?page=2&per_page=1")[0] == 200  # others' as recorded


def _links(header: str) -> dict[str, str]:
    """A Link header as RFC 8288 writes it, ``<url>; rel="next"`` (Discogs quotes the relation)."""
    found = {}
    for part in header.split(","):
        url, rel = part.split(";")
        assert rel.strip().startswith('rel="') and rel.strip().endswith('"'), header
        found[rel.strip()[5:-1]] = url.strip().strip("<>")
    return found


def test_every_page_of_a_listing_has_discogs_link_header_and_every_answer_cors(server: MockServer) -> None:
    """Discogs' documented answers carry ``Link: <...>; rel="last", <...>; rel="next"`` on a listing's pages
    and ``Access-Control-Allow-Origin: *``: a client that pages by the Link header (requests' ``links``,
    parse-link-header) must not stop after page 1, whoever made the page (recording, cut, state)."""
    recorded = http(f"{server.url}/artists/1/releases")
    cut = http(f"{server.url}/artists/1/releases?per_page=20&page=2")
    for _ in range(3):
        http(f"{server.url}/users/{USER}/wants/{40522 + _}", "PUT")
    kept = http(f"{server.url}/users/{USER}/wants?per_page=2")
    for status, headers, body in (recorded, cut, kept):
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
        urls = json.loads(body)["pagination"]["urls"]
        assert urls and _links(headers["Link"]) == urls
    assert set(_links(cut[1]["Link"])) == {"first", "prev", "next", "last"}
    status, headers, _ = http(f"{server.url}/labels/1/releases")  # one page: nothing to link
    assert status == 200 and "Link" not in headers
    for status, headers, _ in (http(f"{server.url}/releases/999999999"), http(f"{server.url}/releases/abc")):
        assert status == 404 and headers["Access-Control-Allow-Origin"] == "*"


def test_status_all_is_no_filter_as_discogs_reads_it(server: MockServer) -> None:
    """discojs sends ``status=All`` for every inventory it asks; "All" is Discogs' every status, so the
    question is the one recorded without a status (another user's inventory, orders)."""
    for path, recorded in (
        (
            "/users/360vinyl/inventory?status=All&sort=price&sort_order=asc",
            "/users/360vinyl/inventory?sort=price&sort_order=asc",
        ),
        ("/marketplace/orders?status=All", "/marketplace/orders"),
    ):
        status, headers, body = http(server.url + path)
        assert (status, headers["X-Musicagent-Mock"], body) == (200, "recorded", http(server.url + recorded)[2]), path
    assert http(server.url + "/marketplace/orders?status=Cancelled")[1]["X-Musicagent-Mock"] == "miss"  # a real filter


def test_a_page_with_more_lists_than_its_items_is_still_cut_at_the_size_asked(server: MockServer) -> None:
    """A master's versions come with ``filter_facets`` (a list too) beside ``versions``: the items are the
    ones the spec names, so ``per_page`` is honoured there as everywhere."""
    status, headers, body = http(f"{server.url}/masters/1000/versions?per_page=2&page=2")
    page = json.loads(body)
    assert status == 200 and len(page["versions"]) == 2 and page["filter_facets"]
    assert (page["pagination"]["page"], page["pagination"]["per_page"], page["pagination"]["pages"]) == (2, 2, 3)
    assert set(_links(headers["Link"])) == {"first", "prev", "next", "last"}


def test_an_edit_may_send_only_what_changes(server: MockServer) -> None:
    """python3-discogs-client's ``listing.save()`` and discogs-sdk's ``update()`` post only the fields
    changed: the rest stays as it was. What is sent is still checked, and a new listing needs them all."""
    listing = {"release_id": 40522, "condition": "Mint (M)", "price": 10, "status": "Draft"}
    made = json.loads(http(server.url + "/marketplace/listings", "POST", listing)[2])["listing_id"]
    assert http(f"{server.url}/marketplace/listings/{made}", "POST", {"price": 15})[0] == 204
    now = json.loads(http(f"{server.url}/marketplace/listings/{made}")[2])
    assert (now["price"]["value"], now["condition"], now["status"]) == (15, "Mint (M)", "Draft")
    status, _, body = http(f"{server.url}/marketplace/listings/{made}", "POST", {"condition": "Brand new"})
    assert status == 422 and "condition" in json.loads(body)["message"]
    status, _, body = http(server.url + "/marketplace/listings", "POST", {"price": 10})
    assert status == 422 and "Invalid" in json.loads(body)["message"]

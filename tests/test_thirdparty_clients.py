"""Clients nobody here wrote, unchanged, against ``musicagent mock`` (issue 13).

python3-discogs-client (Python, PyPI; a dev dependency) over HTTP, and @lionralfs/discogs-client
(TypeScript, npm; installed by ``make thirdparty`` into the git-ignored ``.cache/npm``) over HTTPS: it
only speaks https to a configurable host and port, so the mock serves TLS (``--tls-cert/--tls-key``)
with a throwaway self-signed certificate made here with the ``openssl`` command, and Node trusts it
through ``NODE_EXTRA_CA_CERTS``. Each client looks up a release, walks an artist's releases across
pages, searches, asks who it is (authenticated) and adds to its wantlist, then reads the change back.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import _node

USER = "R-Search"  # who the mock's tokens belong to: the recorded identity


class Mock:
    """``musicagent mock`` in its own process; ``url`` from the line it prints."""

    def __init__(self, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "musicagent", "mock", "--port", "0", "--rate-limit", "off", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()
        assert " on " in banner, banner + self.process.stderr.read() if self.process.stderr else banner
        self.url = banner.split(" on ", 1)[1].split(" ", 1)[0]

    def stop(self) -> str:
        """Stop it; what it printed (its request log with ``-v``)."""
        self.process.terminate()
        out, err = self.process.communicate(timeout=10)
        return out + err


SECRET = "py-secret-token-41c7e2"  # any token is the mock's user; this one is easy to look for


@pytest.fixture
def mock_http() -> Iterator[Mock]:
    mock = Mock("-v")  # one line per request
    yield mock
    log = mock.stop()
    assert '"GET /' in log and "41c7e2" not in log  # logged, and the token masked


def test_python3_discogs_client(mock_http: Mock) -> None:
    discogs_client = pytest.importorskip(
        "discogs_client", reason="python3-discogs-client is not installed (it is in the dev extra: make install)"
    )
    client = discogs_client.Client("musicagent-tests/1.0", user_token="mock-token")
    client._base_url = mock_http.url  # its one setting for the API's address

    release = client.release(249504)
    assert release.title == "Never Gonna Give You Up"

    artist_releases = client.artist(1).releases
    assert artist_releases.pages == 2
    ids = [r.id for r in artist_releases]  # walks page 1 and page 2
    assert len(ids) == artist_releases.count > 50  # more than one page of 50

    results = client.search("nirvana", type="release")
    assert {type(r).__name__ for r in results.page(1)} == {"Release"}

    me = client.identity()
    assert me.username == USER
    me.wantlist.add(40522, notes="from python")
    assert [(w.id, w.notes) for w in client.user(USER).wantlist if w.id == 40522] == [(40522, "from python")]


def _discogs_client(mock: Mock, **credentials: str) -> Any:
    discogs_client = pytest.importorskip(
        "discogs_client", reason="python3-discogs-client is not installed (it is in the dev extra: make install)"
    )
    client = discogs_client.Client("musicagent-tests/1.0", **credentials)
    client._base_url = mock.url  # its one setting for the API's address (the OAuth URLs are two more)
    client._request_token_url = mock.url + "/oauth/request_token"
    client._access_token_url = mock.url + "/oauth/access_token"
    return client


def test_python3_discogs_client_pages_search_collection_marketplace_and_errors(mock_http: Mock) -> None:
    """Its paginated lists (per_page, indexing across pages), filtered search, collection, inventory,
    orders and the errors it raises, all as Discogs would answer them."""
    from discogs_client.exceptions import HTTPError

    client = _discogs_client(mock_http, user_token=SECRET)  # sent as ?token=: the mock's log must mask it
    releases = client.artist(1).releases
    every = [r.id for r in releases]
    releases.per_page = 100  # Discogs' maximum: the 57 releases on one page
    assert (releases.pages, [r.id for r in releases.page(1)]) == (1, every)
    releases.per_page = 10  # it computes the page of an index itself: page 6, item 6
    assert (releases.pages, releases.count, releases[55].id) == (6, 57, every[55])

    results = client.search("Demi Lovato", title="sorry not sorry")  # a filter, as recorded
    assert {r.title for r in results.page(1)} == {"Demi Lovato - Sorry Not Sorry"}
    with pytest.raises(HTTPError) as missed:  # a filter nobody recorded is a miss, never another answer
        client.search("nirvana", type="release", country="US").page(1)
    assert missed.value.status_code == 404 and "was not recorded" in str(missed.value)

    me = client.identity()
    uncategorized = next(folder for folder in me.collection_folders if folder.id == 1)
    uncategorized.add_release(40522)
    [instance] = me.collection_items(40522)
    assert (instance.id, instance.folder_id) == (40522, 1)
    assert [i.instance_id for i in uncategorized.releases] == [instance.instance_id]
    assert next(folder for folder in me.collection_folders if folder.id == 1).count == 1
    uncategorized.remove_release(instance)
    assert list(me.collection_items(40522)) == []

    me.wantlist.add(249504, notes="first", rating=3)
    assert [(w.notes, w.rating) for w in me.wantlist if w.id == 249504] == [("first", 3)]
    me.wantlist.remove(249504)
    assert all(w.id != 249504 for w in client.user(USER).wantlist)

    me.inventory.add_listing(40522, "Mint (M)", 12.5, "Draft")
    [listing] = [x for x in me.inventory if x.status == "Draft"]
    assert (listing.price.value, listing.condition) == (12.5, "Mint (M)")
    listing.price = 14  # save() posts the changed field alone, then reads the listing again
    listing.save()
    assert (client.listing(listing.id).price.value, client.listing(listing.id).condition) == (14, "Mint (M)")
    listing.delete()
    assert all(x.id != listing.id for x in me.inventory)
    with pytest.raises(HTTPError) as refused:  # the spec's conditions: Discogs' 422
        me.inventory.add_listing(40522, "Brand new", 12.5, "Draft")
    assert refused.value.status_code == 422 and "condition" in str(refused.value)

    order = client.order("1-1")
    order.status = "Shipped"
    order.save()  # POSTs the change, then reads the order again
    assert client.order("1-1").status == "Shipped"
    order.messages.add(message="On its way")
    assert next(m.message for m in client.order("1-1").messages) == "On its way"  # newest first

    with pytest.raises(HTTPError) as not_found:
        client.release(999999999).refresh()
    assert (not_found.value.status_code, str(not_found.value)) == (404, "404: Release not found.")
    with pytest.raises(HTTPError) as anonymous:  # search needs credentials
        _discogs_client(mock_http).search("nirvana").page(1)
    assert anonymous.value.status_code == 401


def test_python3_discogs_client_oauth_flow(mock_http: Mock) -> None:
    """Request token (POST, callback in the header), the authorize page, access token, then signed calls."""
    from discogs_client.exceptions import HTTPError

    client = _discogs_client(mock_http, consumer_key="mock-key", consumer_secret="mock-secret")
    token, secret, authorize = client.get_authorize_url(callback_url="http://127.0.0.1:9/back")
    assert authorize == f"https://www.discogs.com/oauth/authorize?oauth_token={token}" and secret
    with pytest.raises(HTTPError) as early:  # a request token names no user yet
        client.identity()
    assert early.value.status_code == 401
    # The user says yes on the website (served by the mock): back to the callback with the verifier.
    said = http.client.HTTPConnection(*_host_port(mock_http), timeout=10)
    said.request("GET", authorize.removeprefix("https://www.discogs.com"))
    answer = said.getresponse()
    answer.read()
    assert answer.status == 302
    back = urllib.parse.urlsplit(answer.getheader("Location") or "")
    assert (back.netloc, back.path) == ("127.0.0.1:9", "/back")
    verifier = urllib.parse.parse_qs(back.query)["oauth_verifier"][0]
    with pytest.raises(HTTPError) as wrong:
        client.get_access_token("not-" + verifier)
    assert wrong.value.status_code == 400
    access, access_secret = client.get_access_token(verifier)
    assert access != token and access_secret != secret
    assert client.identity().username == USER  # signed with the access token: acts as the user
    client.identity().wantlist.add(40522, notes="signed")
    assert [w.notes for w in client.user(USER).wantlist if w.id == 40522] == ["signed"]
    fresh = _discogs_client(mock_http, consumer_key="mock-key", consumer_secret="mock-secret")
    fresh.set_token(token, secret)
    with pytest.raises(HTTPError) as reused:  # a request token is exchanged once
        fresh.get_access_token(verifier)
    assert reused.value.status_code == 400
    again, _, _ = client.get_authorize_url()  # without a callback ("oob"): the page shows the verifier
    said.request("GET", f"/oauth/authorize?oauth_token={again}")
    shown = urllib.parse.parse_qs(said.getresponse().read().decode())
    assert shown["oauth_token"] == [again] and client.get_access_token(shown["oauth_verifier"][0])


def _host_port(mock: Mock) -> tuple[str, int]:
    host, port = mock.url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def test_the_mock_says_it_closes_a_connection_the_client_asked_to_close(mock_http: Mock) -> None:
    """HTTP/1.1 (and Discogs) answer "Connection: close" with "Connection: close". Unsaid, Node's keep-alive
    agent pools the socket the server is closing, and disconnect's next request fails "socket hang up"."""
    host, port = mock_http.url.removeprefix("http://").rsplit(":", 1)
    for asked, said in (("close", "close"), (None, None)):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Authorization": "Discogs token=mock-token"} | ({"Connection": asked} if asked else {})
        for method, path in (("GET", "/releases/249504"), ("DELETE", "/users/R-Search/wants/1")):
            connection.request(method, path, headers=headers)
            answer = connection.getresponse()
            answer.read()
            assert answer.getheader("Connection") == said, (method, asked, answer.status)
            if said:
                connection.close()
        connection.close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1, made with the openssl command (trusted only by
    the Node process of one test, through NODE_EXTRA_CA_CERTS)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a throwaway TLS certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            # api.discogs.com too, for discojs, whose connections to that name the test sends to the mock
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:api.discogs.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_lionralfs_discogs_client_over_https(certificate: tuple[Path, Path]) -> None:
    module = _node.package("@lionralfs/discogs-client") / "node-esm" / "index.js"
    cert, key = certificate
    mock = Mock("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert mock.url.startswith("https://127.0.0.1:")
        host, port = mock.url.removeprefix("https://").rsplit(":", 1)
        env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(cert),
            "DISCOGS_CLIENT_MODULE": str(module),
            "MOCK_HOST": host,
            "MOCK_PORT": port,
        }
        result = _node.run_script("lionralfs.mjs", env=env, timeout=60)
    finally:
        mock.stop()
    assert result["release"] == "Never Gonna Give You Up"
    assert len(result["pages"]) == 2 and all(result["pages"])
    assert result["searchTypes"] == ["release"]
    assert result["identity"] == USER
    assert result["about"] == ["Welcome to the Discogs API.", "v2", "discogs"]  # GET /, the API root
    assert result["added"] == 40522
    assert [40522, "from node"] in result["wants"]
    assert result["anonymousSearch"] == {"status": 401, "message": "You must authenticate to access this resource."}


def test_disconnect_over_https(certificate: tuple[Path, Path]) -> None:
    """disconnect (bartve/disconnect) speaks only https to a configurable host and port, like the client above."""
    module = _node.package("disconnect")
    cert, key = certificate
    mock = Mock("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        host, port = mock.url.removeprefix("https://").rsplit(":", 1)
        env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(cert),
            "DISCONNECT_MODULE": str(module),
            "MOCK_HOST": host,
            "MOCK_PORT": port,
        }
        result = _node.run_script("disconnect.cjs", env=env, timeout=60)
    finally:
        mock.stop()
    assert result["release"] == "Never Gonna Give You Up"
    assert [len(page) for page in result["pages"]] == [50, 7]  # the artist's 57 releases, 2 pages of 50
    assert result["searchTypes"] == ["release"]
    assert result["identity"] == USER
    assert result["about"] == ["Welcome to the Discogs API.", "v2", "discogs"]  # GET /, the API root
    assert result["added"] == [40522, "from disconnect"]
    assert [40522, "from disconnect"] in result["wants"]
    assert result["removed"] == "" and 40522 not in result["after"]  # a 204, then the want is gone
    # disconnect finds the message only in Discogs' own one-line form, {"message": "..."}.
    assert result["notFound"] == {"status": 404, "message": "Artist not found."}
    assert result["keyedSearch"] == 5  # a consumer key and secret are enough for search


def test_disconnect_lists_writes_images_and_signed_calls(certificate: tuple[Path, Path]) -> None:
    """disconnect beyond one release: lists, writes, an image, Accept variants, OAuth-signed calls.

    Its OAuth token steps cannot be pointed at the mock (tests/thirdparty/disconnect_tour.cjs says why);
    python3-discogs-client's test plays the flow."""
    module = _node.package("disconnect")
    cert, key = certificate
    mock = Mock("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        host, port = _host_port(mock)
        env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(cert),
            "DISCONNECT_MODULE": str(module),
            "MOCK_HOST": host,
            "MOCK_PORT": str(port),
        }
        result = _node.run_script("disconnect_tour.cjs", env=env, timeout=60)
    finally:
        mock.stop()
    # 57 releases in pages of 10, each reached by the previous page's "next" URL; then 100 a page.
    assert [len(page) for page in result["walked"]] == [10, 10, 10, 10, 10, 7]
    pages, per_page, every = result["whole"]
    assert (pages, per_page, len(every)) == (1, 100, 57) and [i for page in result["walked"] for i in page] == every
    assert result["filtered"] == ["Demi Lovato - Sorry Not Sorry"]
    assert result["folder"] == "From disconnect"
    assert result["inFolder"] == [[40522, result["added"], 4]]
    assert [instance for instance in result["instances"] if instance[0] == result["added"]]
    assert result["goneFolder"]["status"] == 404
    assert result["wants"] == [["second", 5]]
    assert result["edited"] == [11.5, "For Sale"]
    assert result["deleted"]["status"] == 404
    assert result["invalid"]["status"] == 422 and "condition" in result["invalid"]["message"]
    assert result["messages"] == ["On its way"] and result["order"] == "Shipped"
    assert result["image"] == [True, 0xFF, 0xD8]  # a JPEG, fetched from the URL the release gave
    # Every Accept variant is answered (the text as recorded: the mock does not re-render markup).
    assert set(result["formats"].values()) == {"Never Gonna Give You Up"}
    assert result["oauth"] == [USER, "signed"]  # signed with OAuth (PLAINTEXT): acts as the user


def test_lionralfs_lists_writes_signed_calls_and_the_429(certificate: tuple[Path, Path]) -> None:
    """@lionralfs/discogs-client beyond one release (tests/thirdparty/lionralfs_tour.mjs), with a second
    mock whose window holds 2 requests for the 429 and Discogs' rate-limit headers."""
    module = _node.package("@lionralfs/discogs-client") / "node-esm" / "index.js"
    cert, key = certificate
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    mock, limited = Mock(*tls), Mock(*tls, "--rate-limit", "2/60")
    try:
        host, port = _host_port(mock)
        env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(cert),
            "DISCOGS_CLIENT_MODULE": str(module),
            "MOCK_HOST": host,
            "MOCK_PORT": str(port),
            "LIMITED_PORT": str(_host_port(limited)[1]),
        }
        result = _node.run_script("lionralfs_tour.mjs", env=env, timeout=60)
    finally:
        mock.stop()
        limited.stop()
    pages, every = result["whole"]
    assert pages == 1 and len(every) == 57  # 100 a page
    # 25 a page, each next page fetched by the URL the last one gave, unchanged.
    assert [len(page) for page in result["walked"]] == [25, 25, 7]
    assert [i for page in result["walked"] for i in page] == every
    assert result["stockholm"] == [2, 2, ["release"]]  # a filter and a page size, as recorded
    assert result["folders"] == [[0, "All"], [1, "Uncategorized"]]
    assert result["fields"] == ["Media Condition", "Sleeve Condition", "Notes"]
    assert result["folder"] == ["Renamed", 1]
    assert result["inFolder"] == [[40522, True, 5, [[3, "a note"]]]]  # the note sent in a JSON body
    assert result["notEmpty"]["status"] == 403
    assert result["wants"] == [["second", 2]] and result["wantsAfter"] == 0
    assert result["inventory"] == [[8, "Very Good Plus (VG+)", "Draft"]]
    assert result["orders"] == ["1-1"]
    assert result["invalid"]["status"] == 422 and "price" in result["invalid"]["message"]
    assert result["notFound"] == {"status": 404, "message": "Release not found."}
    assert result["otherUser"] == {"status": 403, "message": "You don't have permission to access this resource."}
    assert result["signedIdentity"] == USER  # OAuth-signed (PLAINTEXT): acts as the user
    assert result["before"] == {"limit": 2, "used": 1, "remaining": 1}  # X-Discogs-Ratelimit, -Used, -Remaining
    assert result["tooMany"] == {"status": 429, "message": "You are making requests too quickly."}


def test_discojs_database_collection_wantlist_marketplace_and_errors(certificate: tuple[Path, Path]) -> None:
    """discojs (aknorw/discojs; tests/thirdparty/discojs_tour.mjs), which hard-wires https://api.discogs.com:
    its connections are sent to the mock by an https.Agent given through its documented fetchOptions."""
    module = _node.package("discojs") / "dist" / "index.es.js"
    cert, key = certificate
    mock = Mock("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(cert),
            "DISCOJS_MODULE": str(module),
            "MOCK_PORT": str(_host_port(mock)[1]),
        }
        result = _node.run_script("discojs_tour.mjs", env=env, timeout=90)
    finally:
        mock.stop()
    assert result["release"] == ["Never Gonna Give You Up"] * 2  # its `currency=` ignored, as Discogs does
    assert result["artist"] == "Persuader, The" and result["master"] and result["versions"] > 0
    # It always asks artist releases sorted by year: 57 releases in pages of 20, years ascending, undated last.
    assert [len(page) for page in result["walked"]] == [20, 20, 17]
    years = [year for page in result["walked"] for _, year in page]
    dated = [year for year in years if year is not None]
    assert dated == sorted(dated) and years[len(dated) :] == [None] * (len(years) - len(dated))
    titles = [title.casefold() for title in result["byTitle"]]
    assert len(titles) == 57 and titles == sorted(titles, reverse=True)
    assert result["labelReleases"] == [10, 10]
    assert result["community"] and result["stats"]
    assert result["identity"] == USER and result["location"][1] == "Offline"
    assert result["inFolder"] == [[40522, 4, [[3, "a note"]]]]
    assert result["moved"] == [1]
    assert result["goneFolder"]["status"] == 404
    assert "From discojs" not in result["folders"] and result["fields"] == 3
    assert result["wants"] == [["from discojs", 3]] and result["wantsAfter"] == 0  # notes, rating in the query
    assert result["rating"] == 5
    assert result["listing"] == [12, "For Sale"]
    assert result["inventory"] == [True]
    assert result["orders"] == ["1-1"] and result["order"] == "1-1" and result["messages"] == "On its way"
    assert result["lists"] == 0
    assert result["notFound"] == {"name": "DiscogsError", "status": 404, "message": "Not Found"}
    assert result["invalid"]["status"] == 422 and "condition" in result["invalid"]["message"]
    assert result["anonymous"]["name"] == "AuthError"  # its type for a 401


def test_discogs_sdk_walks_reads_writes_and_errors(mock_http: Mock, monkeypatch: pytest.MonkeyPatch) -> None:
    """discogs-sdk (jmfontaine/discogs-sdk; a dev dependency), a typed client whose pydantic models
    check every body it reads, pointed at the mock by its ``base_url``: reads across pages, writes
    with partial edits (it sends only the fields given), and its typed errors."""
    discogs_sdk = pytest.importorskip("discogs_sdk", reason="discogs-sdk is not installed (the dev extra has it)")
    client = discogs_sdk.Discogs(token=SECRET, base_url=mock_http.url, max_retries=0, user_agent="musicagent-tests/1.0")
    assert client.releases.get(249504).title == "Never Gonna Give You Up"
    assert client.masters.get(96559).title == "Never Gonna Give You Up"
    assert len([r.id for r in client.artists.get(1).releases.list()]) == 57  # two pages of 50, walked
    years = [r.year for r in client.artists.get(1).releases.list(sort="year", sort_order="desc") if r.year]
    assert years == sorted(years, reverse=True)
    assert {r.title for r in client.search(q="Demi Lovato", title="sorry not sorry")} == {
        "Demi Lovato - Sorry Not Sorry"
    }
    me = client.user.identity()
    assert me.username == USER
    user = client.users.get(USER)
    folder = user.collection.folders.create(name="From discogs-sdk")
    assert "From discogs-sdk" in [f.name for f in user.collection.folders.list()]
    user.wantlist.create(release_id=40522)
    user.wantlist.update(40522, notes="later", rating=4)
    assert [(w.notes, w.rating) for w in user.wantlist.list() if w.id == 40522] == [("later", 4)]
    created = client.marketplace.listings.create(release_id=40522, condition="Mint (M)", price=10.0, status="Draft")
    client.marketplace.listings.update(created.listing_id, price=12.5)  # the price alone: the rest stays
    listing = client.marketplace.listings.get(created.listing_id)
    assert (listing.price.value, listing.condition, listing.status) == (12.5, "Mint (M)", "Draft")
    client.marketplace.listings.delete(created.listing_id)
    client.marketplace.orders.update("1-1", status="Shipped")
    assert client.marketplace.orders.get("1-1").status == "Shipped"
    assert client.exports.request() == 599632 and len(client.exports.download(599632)) > 0
    with pytest.raises(discogs_sdk.NotFoundError):
        client.releases.get(999999999).title  # noqa: B018 - a lazy read that fetches
    with pytest.raises(discogs_sdk.ValidationError):
        client.marketplace.listings.create(release_id=40522, condition="Brand new", price=1.0)  # type: ignore[arg-type]
    for name in ("TOKEN", "CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET"):
        monkeypatch.delenv(f"DISCOGS_{name}", raising=False)  # it reads credentials from there too
    with pytest.raises(discogs_sdk.AuthenticationError):
        list(discogs_sdk.Discogs(base_url=mock_http.url, max_retries=0).search(q="nirvana"))
    user.collection.folders.delete(folder.id)

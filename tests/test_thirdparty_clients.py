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
from collections.abc import Iterator
from pathlib import Path

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

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture
def mock_http() -> Iterator[Mock]:
    mock = Mock()
    yield mock
    mock.stop()


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
    """A throwaway self-signed certificate for 127.0.0.1, made with the openssl command."""
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
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
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

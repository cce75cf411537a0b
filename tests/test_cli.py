"""The ``musicagent`` command, run in-process against a small Discogs stand-in on loopback."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import musicagent
from musicagent._generated.operations import OPERATIONS
from musicagent._runtime.operations import OperationInfo, ParamInfo
from musicagent.cli import app as cli
from musicagent.cli import errors as codes
from musicagent.cli import output
from musicagent.cli.parser import PARAM_PREFIX, build_parser, command_path
from musicagent.cli.progress import Progress
from musicagent.export import to_csv

ARTIST: dict[str, Any] = {
    "id": 1,
    "name": "Nirvana",
    "profile": "A grunge band from Aberdeen, Washington.",
    "namevariations": ["Nirvana (US)"],
    "members": [
        {
            "id": 2,
            "name": "Kurt Cobain",
            "active": False,
            "resource_url": "https://api.discogs.com/artists/2",
            "thumbnail_url": "https://i.discogs.com/2.jpg",
        }
    ],
    "resource_url": "https://api.discogs.com/artists/1",
}
SEARCH_RESULTS = [
    {"id": 100 + n, "type": "release", "title": f"Nirvana - Album {n}", "year": "1991", "resource_url": f"/r/{100 + n}"}
    for n in range(7)
]
LONG_TITLE = "A title far too long to fit in one table cell of forty characters"
RELEASES: list[dict[str, Any]] = [
    {"id": 200 + n, "title": f"Release {n}", "year": 1990 + n, "resource_url": f"/r/{200 + n}"} for n in range(4)
]
RELEASES.append({"id": 299, "title": LONG_TITLE, "resource_url": "/r/299"})


def _paged(items: list[dict[str, Any]], field: str, query: dict[str, str]) -> dict[str, Any]:
    page, per_page = int(query.get("page", "1")), int(query.get("per_page", "50"))
    pagination = {"page": page, "pages": max(1, math.ceil(len(items) / per_page)), "per_page": per_page}
    pagination["items"] = len(items)
    return {"pagination": pagination, field: items[(page - 1) * per_page : page * per_page]}


class FakeDiscogs:
    """Answers a few Discogs paths with minimal valid bodies, and records what it was asked."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                api.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": query,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length) if length else b"",
                    }
                )
                status, body = api.route(self.command, parts.path, query)
                form = isinstance(body, bytes)
                data = body if form else b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                kind = "text/csv" if parts.path.endswith("/download") else "application/x-www-form-urlencoded"
                self.send_header("Content-Type", kind if form else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self._answer()

            def do_DELETE(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def route(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path == "/artists/1":
            return 200, ARTIST
        if path == "/artists/1/releases":
            return 200, _paged(RELEASES, "releases", query)
        if path == "/database/search":
            return 200, _paged(SEARCH_RESULTS, "results", query)
        if path == "/artists/3":
            return 429, {"message": "You are making requests too quickly."}
        if path == "/artists/5":
            return 500, {"message": "Something went wrong."}
        if path == "/artists/6":
            return 200, {"name": "no id"}
        if path == "/oauth/identity":
            return 401, {"message": "You must authenticate to access this resource."}
        if path == "/releases/1/rating/alice" and method == "PUT":
            return 200, {
                "username": "alice",
                "release_id": 1,
                "rating": json.loads(self.requests[-1]["body"])["rating"],
            }
        if path == "/inventory/export/7/download":
            return 200, b"release_id,price\n1,9.99\n"
        if path == "/inventory/upload/add" and method == "POST":
            return 200, {}
        if path == "/oauth/request_token":
            return 200, b"oauth_token=req&oauth_token_secret=req-secret&oauth_callback_confirmed=true"
        if path == "/oauth/access_token" and 'oauth_verifier="wrong"' in self.requests[-1]["headers"]["Authorization"]:
            return 401, {"message": "Invalid verifier."}
        if path == "/oauth/access_token" and method == "POST":
            return 200, b"oauth_token=acc&oauth_token_secret=acc-secret"
        if path == "/releases/1/rating/alice" and method == "DELETE":
            return 204, None
        if path == "/marketplace/listings" and method == "POST":
            return 201, {
                "listing_id": 41578241,
                "resource_url": "https://api.discogs.com/marketplace/listings/41578241",
            }
        return 404, {"message": "Resource not found."}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[FakeDiscogs]:
    server = FakeDiscogs()
    yield server
    server.close()


def run(capsys: pytest.CaptureFixture[str], api: FakeDiscogs | None, *args: str) -> tuple[int, str, str]:
    """``musicagent --base-url <fake> ARGS``: exit code, stdout, stderr."""
    prefix = ["--base-url", api.url] if api is not None else []
    code = cli.main([*prefix, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str) -> None:
    assert err.startswith("musicagent: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


# -- results and formats ---------------------------------------------------------------------------


def test_get_prints_the_model_as_pretty_json(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, out, err = run(capsys, api, "artists", "get", "1")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert {k: data[k] for k in ARTIST} == ARTIST
    assert out.startswith('{\n  "id": 1')
    assert api.requests[0]["path"] == "/artists/1"


def test_global_options_work_after_the_command(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, out, _ = run(capsys, None, "artists", "get", "1", "--base-url", api.url, "--format", "jsonl")
    assert code == 0
    assert out.count("\n") == 1
    assert json.loads(out)["name"] == "Nirvana"


def test_token_and_base_url_from_options_and_environment(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOGS_BASE_URL", api.url)
    monkeypatch.setenv("DISCOGS_TOKEN", "from-env")
    assert run(capsys, None, "artists", "get", "1")[0] == 0
    assert run(capsys, None, "--token", "from-option", "artists", "get", "1")[0] == 0
    sent = [r["headers"].get("Authorization", "") for r in api.requests]
    assert "from-env" in sent[0]
    assert "from-option" in sent[1]


def test_search_to_csv_with_limit(capsys: pytest.CaptureFixture[str], api: FakeDiscogs, tmp_path: Path) -> None:
    target = tmp_path / "nirvana.csv"
    code, out, err = run(
        capsys, api, "search", "--q", "x", "--type", "release", "--limit", "3", "--format", "csv", "-o", str(target)
    )
    assert code == 0
    assert out == ""
    assert "wrote 3 items" in err
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert [row["id"] for row in rows] == ["100", "101", "102"]
    header = list(rows[0])
    # Columns come from the SearchResult schema, including nested ones absent from these bodies.
    assert header[:3] == ["id", "type", "title"]
    assert "community.have" in header
    assert api.requests[0]["query"] == {"q": "x", "type": "release", "per_page": "3"}


def test_page_walks_every_page_as_jsonl(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, out, _ = run(capsys, api, "search", "--q", "x", "--per-page", "3", "--format", "jsonl")
    assert code == 0
    lines = out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r["id"] for r in SEARCH_RESULTS]
    assert [r["query"].get("page", "1") for r in api.requests] == ["1", "2", "3"]


def test_page_as_json_array_respects_limit(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, out, _ = run(capsys, api, "artists", "releases", "1", "--limit", "2")
    assert code == 0
    assert [item["id"] for item in json.loads(out)] == [200, 201]


def test_page_as_table(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, out, _ = run(capsys, api, "--format", "table", "artists", "releases", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "title", "year", "resource_url"]  # columns empty in every row are left out
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(RELEASES)
    assert lines[2].split()[:3] == ["200", "Release", "0"]
    assert "…" in lines[-1]
    assert LONG_TITLE not in out


def test_model_as_table_and_csv(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, out, _ = run(capsys, api, "--format", "table", "artists", "get", "1")
    assert code == 0
    assert ["name", "Nirvana"] in [line.split()[:2] for line in out.splitlines()]
    assert "members" in out
    code, out, _ = run(capsys, api, "--format", "csv", "artists", "get", "1")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    assert rows[0]["name"] == "Nirvana"


def test_body_parameters_and_no_content(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, out, _ = run(capsys, api, "--token", "t", "releases", "rating", "update", "1", "alice", "--rating", "4")
    assert code == 0
    assert json.loads(out)["rating"] == 4
    assert api.requests[-1]["method"] == "PUT"
    code, out, err = run(capsys, api, "--token", "t", "releases", "rating", "delete", "1", "alice")
    assert (code, out) == (0, "")
    assert "done" in err
    code, _, err = run(capsys, api, "--token", "t", "--quiet", "releases", "rating", "delete", "1", "alice")
    assert (code, err) == (0, "")


def test_download_and_upload_files(capsys: pytest.CaptureFixture[str], api: FakeDiscogs, tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    code, out, err = run(capsys, api, "--token", "t", "inventory", "exports", "download", "7", "-o", str(target))
    assert (code, out) == (0, "")
    assert f"saved {target}" in err
    assert target.read_bytes() == b"release_id,price\n1,9.99\n"
    code, _, err = run(capsys, api, "--token", "t", "inventory", "exports", "download", "7")
    assert code == codes.EXIT_USAGE
    assert "-o/--output" in err
    upload = tmp_path / "listings.csv"
    upload.write_text("release_id,price,media_condition\n1,9.99,Mint (M)\n", encoding="utf-8")
    code, _, err = run(capsys, api, "--token", "t", "inventory", "uploads", "add", "--upload", str(upload))
    assert code == 0
    assert "done" in err
    assert b"Mint (M)" in api.requests[-1]["body"]


def test_underscore_spelling_of_commands_and_options(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    parser = build_parser(OPERATIONS)
    dashed = parser.parse_args(["releases", "community-rating", "1"])
    underscored = parser.parse_args(["releases", "community_rating", "1"])
    assert dashed._op is underscored._op
    assert run(capsys, api, "search", "--per_page", "2", "--limit", "1")[0] == 0
    assert api.requests[-1]["query"]["per_page"] == "2"


def test_an_unwritable_output_fails_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, tmp_path: Path
) -> None:
    """Exit 1 (the output could not be written), and no request: a POST's answer is never lost."""
    missing = str(tmp_path / "nope" / "out.json")
    for command in (["search", "--limit", "1"], ["artists", "get", "1"]):
        for target in (missing, str(tmp_path)):  # a missing directory, or a directory itself
            code, _, err = run(capsys, api, *command, "-o", target)
            assert code == 1
            assert_one_line_error(err)
    assert api.requests == []


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """An existing directory no file can be created in, even by root (for whom chmod stops nothing)."""
    if os.geteuid() != 0:
        locked = tmp_path / "read-only"
        locked.mkdir()
        locked.chmod(0o500)
        yield locked
        locked.chmod(0o700)
    elif Path("/proc/self").is_dir():
        yield Path("/proc")  # procfs: creating a file there fails for every user
    else:  # pragma: no cover - root without procfs
        pytest.skip("running as root without /proc: no directory that refuses root")


def test_an_output_that_cannot_be_created_fails_before_a_post_is_sent(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, unwritable_dir: Path
) -> None:
    """Issue 9 item 7: the directory exists but refuses new files; the listing must not be created."""
    target = unwritable_dir / "out.json"
    listing = ["marketplace", "listings", "create", "--release-id", "1", "--condition", "Mint (M)", "--price", "9.5"]
    listing += ["--status", "Draft"]
    for fmt in ("json", "table", "csv"):
        code, out, err = run(capsys, api, "--token", "t", "--format", fmt, *listing, "-o", str(target))
        assert (code, out) == (codes.EXIT_FAILURE, "")
        assert_one_line_error(err)
        assert str(unwritable_dir) in err
    assert api.requests == []
    assert not target.exists()


def test_a_writable_output_leaves_no_probe_behind(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, tmp_path: Path
) -> None:
    listing = ["marketplace", "listings", "create", "--release-id", "1", "--condition", "Mint (M)", "--price", "9.5"]
    listing += ["--status", "Draft"]
    code, _, _ = run(capsys, api, "--token", "t", *listing, "-o", str(tmp_path / "listing.json"))
    assert code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["listing.json"]
    assert json.loads((tmp_path / "listing.json").read_text(encoding="utf-8"))["listing_id"] == 41578241


def test_table_cells_are_the_csv_cells(tmp_path: Path) -> None:
    """A table draws export's flattening: the same dotted columns and cells as ``to_csv(list_style="join")``."""
    items = [
        {"id": 1, "title": "A  two-line\ntitle", "artists": ["X", "Y"], "community": {"have": 3, "rating": {"n": 2}}},
        {"id": 2, "title": "B", "flag": True, "labels": [{"name": "L", "catno": "C1"}], "empty": None},
    ]
    for item in items:
        target = tmp_path / "one.csv"
        to_csv([item], target, list_style="join")
        (row,) = csv.DictReader(io.StringIO(target.read_text(encoding="utf-8")))
        assert output.table_row(item) == {name: " ".join(cell.split()) for name, cell in row.items()}
    assert output.table_row(items[0])["community.rating.n"] == "2"
    assert output.table_row(items[0])["artists"] == "X; Y"


def test_model_to_a_file(capsys: pytest.CaptureFixture[str], api: FakeDiscogs, tmp_path: Path) -> None:
    target = tmp_path / "artist.json"
    code, out, _ = run(capsys, api, "artists", "get", "1", "-o", str(target))
    assert (code, out) == (0, "")
    assert json.loads(target.read_text(encoding="utf-8"))["name"] == "Nirvana"


# -- failures and exit codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["artists", "get", "2"], codes.EXIT_NOT_FOUND),
        (["oauth", "identity"], codes.EXIT_AUTH),
        (["--max-retries", "0", "artists", "get", "3"], codes.EXIT_RATE_LIMITED),
        (["--max-retries", "0", "artists", "get", "5"], codes.EXIT_API),
        (["artists", "get", "6"], codes.EXIT_API),  # a body that does not match the schema
    ],
)
def test_api_failures_have_distinct_exit_codes(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, args: list[str], expected: int
) -> None:
    code, out, err = run(capsys, api, *args)
    assert code == expected
    assert out == ""
    assert_one_line_error(err)


def test_not_found_message(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    _, _, err = run(capsys, api, "artists", "get", "2")
    assert "404" in err
    assert "Resource not found." in err


def test_connection_refused_is_a_network_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = cli.main(["--base-url", f"http://127.0.0.1:{port}", "--max-retries", "0", "artists", "get", "1"])
    err = capsys.readouterr().err
    assert code == codes.EXIT_NETWORK
    assert_one_line_error(err)


@pytest.mark.parametrize(
    "args",
    [
        ["artists", "get", "0"],  # rejected by the SDK before sending
        ["artists", "get", "x"],  # rejected by argparse
        ["artists"],  # a group without its command
        ["no-such-command"],
        ["search", "--type", "song"],
        ["search", "--no-such-option", "1"],
        ["releases", "rating", "update", "1", "alice"],  # --rating is required
        ["--timeout", "-1", "artists", "get", "1"],  # a setting the SDK refuses
        ["--base-url", "http://example.com", "artists", "get", "1"],
    ],
)
def test_usage_errors_exit_2_before_any_request(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, args: list[str]
) -> None:
    code, out, err = run(capsys, api, *args)
    assert code == codes.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err)
    assert api.requests == []


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, _, err = run(capsys, api, "--debug", "artists", "get", "2")
    assert code == codes.EXIT_NOT_FOUND
    assert "Traceback" in err
    assert err.rstrip().splitlines()[-1].startswith("musicagent: error: ")


def test_interrupt_and_closed_pipe(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_dispatch", interrupted)
    assert cli.main(["artists", "get", "1"]) == codes.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "musicagent: error: interrupted\n"

    def closed(*args: Any) -> int:
        raise BrokenPipeError

    monkeypatch.setattr(cli, "_dispatch", closed)
    assert cli.main(["artists", "get", "1"]) == codes.EXIT_PIPE
    assert capsys.readouterr().err == ""


def test_exit_code_classes() -> None:
    from musicagent import APITimeoutError, ForbiddenError, ResponseDecodeError

    assert codes.exit_code_for(APITimeoutError("slow")) == codes.EXIT_NETWORK
    assert codes.exit_code_for(ForbiddenError("no", status_code=403)) == codes.EXIT_AUTH
    assert codes.exit_code_for(ResponseDecodeError("html")) == codes.EXIT_API
    assert codes.exit_code_for(PermissionError(13, "denied", "out.csv")) == codes.EXIT_FAILURE
    assert codes.exit_code_for(KeyboardInterrupt()) == codes.EXIT_INTERRUPTED


# -- the command tree ------------------------------------------------------------------------------


def _sample(param: ParamInfo) -> str:
    if param.choices:
        return param.choices[0]
    return {"integer": "1", "number": "1.5", "boolean": "true"}.get(param.type, "x")


def _command_line(op: OperationInfo) -> list[str]:
    """The shortest command line for ``op``: its words, path parameters and required options."""
    argv = command_path(op)
    for param in op.params:
        if param.location == "path":
            argv.append(_sample(param))
        elif param.required:
            flag = f"--{param.name}"
            argv += [flag] if param.type == "boolean" and param.location != "file" else [flag, _sample(param)]
    return argv


def test_every_operation_of_the_registry_is_a_command() -> None:
    parser = build_parser(OPERATIONS)
    assert OPERATIONS
    for op in OPERATIONS:
        ns = parser.parse_args(_command_line(op))
        assert ns._op is op, op.id
        for param in op.params:
            assert hasattr(ns, PARAM_PREFIX + param.name), (op.id, param.name)


def test_help_lists_every_top_level_group(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, None, "--help")
    assert code == 0
    listed = {
        line.split()[0]
        for line in out.split("commands:")[1].split("configuration:")[0].splitlines()[2:]
        if line.strip() and line.startswith("    ")
    }
    assert {op.id.split(".")[0].replace("_", "-") for op in OPERATIONS} <= listed
    assert {"login", "mock"} <= listed
    for code_line in ("2    usage", "3    authentication", "4    not found", "5    rate limited", "6    network"):
        assert code_line in out


def test_leaf_help_names_the_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, None, "artists", "releases", "--help")
    assert code == 0
    assert "GET /artists/{artist_id}/releases" in out
    assert "--limit N" in out
    assert "--sort-order" in out


FUTURE = (
    OperationInfo(
        id="users.collection.folders.list",
        method="GET",
        path="/users/{username}/collection/folders",
        kind="page",
        summary="List folders (100% of them).",
        params=(
            ParamInfo("username", "username", "path", True, "string"),
            ParamInfo("format", "format", "query", False, "string", (), "A filter named like --format."),
            ParamInfo("archived", "archived", "query", False, "boolean"),
            ParamInfo("per_page", "per_page", "query", False, "integer"),
        ),
        item_model="Folder",
    ),
    OperationInfo(
        id="inventory.uploads.add",
        method="POST",
        path="/inventory/upload/add",
        kind="model",
        summary="Upload.",
        params=(ParamInfo("upload", "upload", "file", True, "string"),),
    ),
    OperationInfo(
        id="inventory.exports.download",
        method="GET",
        path="/inventory/export/{export_id}/download",
        kind="download",
        summary="Download.",
        params=(ParamInfo("export_id", "export_id", "path", True, "integer"),),
    ),
    OperationInfo(id="ping", method="GET", path="/", kind="model", summary="Ping.", params=()),
    OperationInfo(id="ping.deep", method="GET", path="/deep", kind="model", summary="Deeper.", params=()),
)


def test_tree_follows_any_registry() -> None:
    parser = build_parser(FUTURE)
    ns = parser.parse_args(
        [*["users", "collection", "folders", "list", "alice"], *["--param-format", "Vinyl", "--no-archived"], "-q"]
    )
    assert ns._op.id == "users.collection.folders.list"
    assert (ns.p__username, ns.p__format, ns.p__archived, ns.quiet) == ("alice", "Vinyl", False, True)
    assert parser.parse_args(["inventory", "uploads", "add", "--upload", "f.csv"]).p__upload == "f.csv"
    assert parser.parse_args(["inventory", "exports", "download", "7"]).p__export_id == 7
    # an id that is both an operation and a group stays reachable
    assert parser.parse_args(["ping", "run"])._op.id == "ping"
    assert parser.parse_args(["ping", "deep"])._op.id == "ping.deep"


class _FakeResource:
    def __init__(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
        self.calls = calls

    def download(self, export_id: int, destination: str) -> Path:
        self.calls.append(("download", (export_id, destination), {}))
        Path(destination).write_text("release_id,price\n", encoding="utf-8")
        return Path(destination)

    def add(self, *, upload: str) -> dict[str, str]:
        self.calls.append(("add", (), {"upload": upload}))
        return {"status": "accepted"}


class _FakeClient:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.inventory = types.SimpleNamespace(exports=_FakeResource(self.calls), uploads=_FakeResource(self.calls))

    def __enter__(self) -> _FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_download_needs_output_and_file_parameters_pass_through(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cli, "operations", lambda: FUTURE)
    monkeypatch.setattr(musicagent, "Discogs", _FakeClient)
    _FakeClient.calls = []
    code, _, err = run(capsys, None, "inventory", "exports", "download", "7")
    assert code == codes.EXIT_USAGE
    assert "-o/--output" in err
    target = tmp_path / "export.csv"
    code, out, err = run(capsys, None, "inventory", "exports", "download", "7", "-o", str(target))
    assert (code, out) == (0, "")
    assert f"saved {target}" in err
    assert target.read_text(encoding="utf-8").startswith("release_id")
    code, out, _ = run(capsys, None, "inventory", "uploads", "add", "--upload", "f.csv")
    assert code == 0
    assert json.loads(out) == {"status": "accepted"}
    assert _FakeClient.calls[-1] == ("add", (), {"upload": "f.csv"})


# -- login and mock --------------------------------------------------------------------------------


def test_login_without_the_oauth_operations_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "operations", lambda: tuple(op for op in OPERATIONS if not op.id.endswith("_token")))
    code, out, err = run(capsys, None, "login")
    assert (code, out) == (codes.EXIT_USAGE, "")
    assert_one_line_error(err)
    assert "not available in this version" in err


def test_login_walks_the_oauth_flow(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOGS_CONSUMER_SECRET", "csecret")
    monkeypatch.setattr(sys, "stdin", io.StringIO("v123\n"))  # the verifier, typed at the prompt
    code, out, err = run(capsys, api, "login", "--consumer-key", "ckey", "--callback", "https://example.org/cb")
    assert code == 0
    assert "https://www.discogs.com/oauth/authorize?oauth_token=req" in err
    assert out.splitlines() == [
        "DISCOGS_CONSUMER_KEY=ckey",
        "DISCOGS_ACCESS_TOKEN=acc",
        "DISCOGS_ACCESS_TOKEN_SECRET=acc-secret",
    ]
    request, access = api.requests
    assert (request["method"], access["method"]) == ("GET", "POST")
    first, second = request["headers"]["Authorization"], access["headers"]["Authorization"]
    assert first.startswith("OAuth ")
    assert 'oauth_consumer_key="ckey"' in first
    assert 'oauth_signature="csecret%26"' in first
    assert 'oauth_callback="https%3A%2F%2Fexample.org%2Fcb"' in first
    assert 'oauth_token="req"' in second
    assert 'oauth_verifier="v123"' in second
    assert 'oauth_signature="csecret%26req-secret"' in second
    assert access["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


def test_login_is_the_librarys_oauth_flow(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused verifier gets the library's explanation (tokens expire after 15 minutes), secrets masked."""
    monkeypatch.setenv("DISCOGS_CONSUMER_SECRET", "csecret")
    code, out, err = run(capsys, api, "login", "--consumer-key", "ckey", "--verifier", "wrong")
    assert (code, out) == (codes.EXIT_AUTH, "")
    assert "Invalid verifier." in err and "15 minutes" in err
    assert "req-secret" not in err and "csecret" not in err
    assert [r["path"] for r in api.requests] == ["/oauth/request_token", "/oauth/access_token"]
    assert "oauth_callback" not in api.requests[0]["headers"]["Authorization"]  # none given: none sent


def test_login_needs_a_consumer_key(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(capsys, api, "login")
    assert code == codes.EXIT_USAGE
    assert "consumer key" in err.splitlines()[-1]
    assert api.requests == []


def test_mock_gets_every_argument(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[list[str]] = []
    fake = types.ModuleType("musicagent.cli.mock")

    def fake_main(argv: list[str]) -> int:
        received.append(argv)
        return 0

    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "musicagent.cli.mock", fake)
    code, _, _ = run(capsys, None, "mock", "--port", "8765", "--cassettes", "cas", "-v")
    assert code == 0
    assert received == [["--port", "8765", "--cassettes", "cas", "-v"]]


def test_mock_help_is_the_mock_servers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, None, "mock", "--help")
    assert code == 0
    assert out.startswith("usage: musicagent mock")
    assert "--cassettes" in out


def test_extra_arguments_are_only_for_mock(capsys: pytest.CaptureFixture[str], api: FakeDiscogs) -> None:
    code, _, err = run(capsys, api, "artists", "get", "1", "--verbose")
    assert code == codes.EXIT_USAGE
    assert "unrecognized arguments: --verbose" in err


# -- progress and tables ---------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_throttled_on_a_terminal() -> None:
    now = [0.0]
    stream = _Terminal()
    bar = Progress(stream, enabled=True, label="search", interval=1.0, clock=lambda: now[0])
    bar.total = 10
    now[0] = 0.5
    bar.update(1)
    bar.update(2)  # same instant: throttled
    now[0] = 2.0
    bar.update(5)
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3  # two updates and the final draw
    assert "1/10 items" in text
    assert "2/10" not in text
    assert "[############............] 5/10 items 2.5/s" in text
    assert text.endswith("\n")


def test_progress_without_total_and_disabled() -> None:
    stream = _Terminal()
    bar = Progress(stream, enabled=True, clock=lambda: 2.0)
    bar.update(4)
    assert "4 items" in stream.getvalue()
    quiet = io.StringIO()
    off = Progress(quiet, enabled=False)
    off.update(3)
    off.close()
    assert quiet.getvalue() == ""


def test_progress_shows_on_a_terminal_stderr(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = cli.main(
        ["--base-url", api.url, "search", "--per-page", "3", "--format", "jsonl", "-o", str(tmp_path / "o")]
    )
    assert code == 0
    assert f"{len(SEARCH_RESULTS)}/{len(SEARCH_RESULTS)} items" in terminal.getvalue()
    terminal.seek(0)
    terminal.truncate()
    assert cli.main(["--base-url", api.url, "-q", "search", "--format", "jsonl", "-o", str(tmp_path / "o")]) == 0
    assert terminal.getvalue() == ""
    # Items streaming onto the same screen would interleave with the bar; a table is printed at the end.
    screen = _Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    assert cli.main(["--base-url", api.url, "search", "--format", "jsonl"]) == 0
    assert terminal.getvalue() == ""
    assert cli.main(["--base-url", api.url, "search", "--format", "table"]) == 0
    assert "items" in terminal.getvalue()
    assert "Nirvana - Album 6" in screen.getvalue()


def test_table_fits_the_width_and_clips_cells() -> None:
    rows = [{"a": "1", "b": "x" * 50, "c": "3", "empty": ""}]
    text = output.render_table(rows)
    assert text.splitlines()[0].split() == ["a", "b", "c"]
    assert "x" * 39 + "…" in text
    narrow = output.render_table(rows, width=20)
    assert narrow.splitlines()[0].split() == ["a", "b", "c"]  # the wide column gives way, visibly
    assert "x" * 13 + "…" in narrow and max(map(len, narrow.splitlines())) <= 20
    assert output.render_table([]) == ""


# -- entry points ----------------------------------------------------------------------------------


def test_python_dash_m_mock_still_runs_the_mock_server() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "musicagent.mock", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: musicagent mock")


def test_python_dash_m_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "musicagent", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"musicagent {musicagent.__version__}"


@pytest.mark.parametrize(("given", "sent"), [("180", 180.0), ("auto", "auto")])
def test_a_listing_weight_is_grams_or_auto(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs, given: str, sent: object
) -> None:
    listing = ["marketplace", "listings", "create", "--release-id", "1", "--condition", "Mint (M)"]
    code, out, _ = run(capsys, api, *listing, "--price", "9.5", "--status", "Draft", "--weight", given)
    assert code == 0 and json.loads(out)["listing_id"] == 41578241
    assert json.loads(api.requests[-1]["body"])["weight"] == sent


def test_a_listing_weight_that_is_neither_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], api: FakeDiscogs
) -> None:
    listing = ["marketplace", "listings", "create", "--release-id", "1", "--condition", "Mint (M)"]
    code, _, err = run(capsys, api, *listing, "--price", "9.5", "--status", "Draft", "--weight", "heavy")
    assert code == 2 and "weight" in err
    assert api.requests == []


def test_mcp_takes_the_connection_options_but_not_the_output_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """The MCP server prints nothing but its protocol: --format, --columns, -o and -q mean nothing there."""
    code, text, _ = run(capsys, None, "mcp", "--help")
    assert code == 0
    assert "--rate-limit" in text and "--debug" in text and "--allow-writes" in text
    assert not any(option in text for option in ("--format", "--columns", "--output", "--quiet"))
    code, _, err = run(capsys, None, "mcp", "--format", "csv")
    assert code == 2
    assert "unrecognized arguments: --format" in err

"""``musicagent mcp``: a real MCP client (the official SDK's) against the real command and the mock Discogs.

The subprocess tests run ``python -m musicagent mcp --base-url <mock>`` exactly as an MCP client
launches it; the in-process ones build the same server around a ``mock_discogs()`` client, to reach
what a subprocess cannot show (a 429 storm, the rate-limit resource after calls, write tools).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from musicagent import Discogs
from musicagent._generated.operations import OPERATIONS
from musicagent.mcp import DEFAULT_DEADLINE
from musicagent.mcp._server import IDENTITY_URI, RATE_LIMIT_URI, build_server
from musicagent.mcp._tools import ERROR_META_KEY, Toolbox
from musicagent.mock import MockServer
from musicagent.testing import MOCK_TOKEN, mock_discogs
from tests._mcp_cases import READS, WRITES, recorded_reads


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with MockServer(rate_limit=None) as server:
        yield server.url


def _params(url: str, cwd: Path, *extra: str, token: str = MOCK_TOKEN) -> StdioServerParameters:
    args = ["-m", "musicagent", "mcp", "--base-url", url, "--token", token, *extra]
    return StdioServerParameters(command=sys.executable, args=args, cwd=str(cwd))


@asynccontextmanager
async def _stdio(
    url: str, cwd: Path, *extra: str, token: str = MOCK_TOKEN, mode: str = "auto"
) -> AsyncIterator[Client]:
    """A client talking to ``musicagent mcp`` in a subprocess; its stderr goes to ``cwd/stderr.log``.

    ``mode="legacy"`` makes the client use the ``initialize`` handshake of the protocol versions
    before 2026-07-28, which most deployed MCP clients still speak; "auto" negotiates the newest.
    """
    with (cwd / "stderr.log").open("w", encoding="utf-8") as errlog:
        transport = stdio_client(_params(url, cwd, *extra, token=token), errlog=errlog)
        async with Client(transport, mode=mode) as client:
            yield client


def _by_name(tools: list[types.Tool]) -> dict[str, types.Tool]:
    return {tool.name: tool for tool in tools}


def _check_structured(tool: types.Tool, result: types.CallToolResult, *, json_text: bool = True) -> dict[str, Any]:
    """The result succeeded, its structured content is valid against the tool's declared schema and
    (unless the tool answers with a file's text) its text content is the same JSON."""
    assert not result.is_error, result.content
    assert tool.output_schema is not None
    jsonschema.Draft202012Validator.check_schema(tool.output_schema)
    jsonschema.validate(result.structured_content, tool.output_schema, cls=jsonschema.Draft202012Validator)
    if json_text:
        assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    data: dict[str, Any] = result.structured_content
    return data


def _error(result: types.CallToolResult) -> dict[str, Any]:
    assert result.is_error
    assert result.structured_content is None  # it would have to match the tool's output schema
    assert result.meta is not None
    error: dict[str, Any] = result.meta[ERROR_META_KEY]
    assert result.content[0].text.startswith(error["type"])  # type: ignore[union-attr]
    return error


def test_lists_every_read_operation_and_no_write_by_default(mock_url: str, tmp_path: Path) -> None:
    async def scenario() -> dict[str, types.Tool]:
        async with _stdio(mock_url, tmp_path) as client:
            return _by_name((await client.list_tools()).tools)

    tools = anyio.run(scenario)
    assert set(tools) == READS
    assert {"artists_get", "search", "users_collection_folders_list", "users_collection_folders_releases"} <= READS
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.input_schema["type"] == "object"
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
    assert "oauth_request_token" not in tools  # the OAuth token steps answer with secrets

    releases = tools["artists_releases"]
    assert releases.description is not None and releases.description.startswith("List an artist's releases")
    schema = releases.input_schema
    assert schema["required"] == ["artist_id"]
    assert schema["properties"]["artist_id"] == {"type": "integer", "minimum": 1, "description": "The artist ID."}
    assert schema["properties"]["sort"]["enum"] == ["year", "title", "format"]
    assert schema["properties"]["limit"]["default"] == 50 and schema["properties"]["limit"]["maximum"] == 500
    assert "page" not in schema["properties"] and "per_page" not in schema["properties"]
    assert schema["additionalProperties"] is False
    assert releases.output_schema is not None and releases.output_schema["required"] == ["items", "pagination"]
    fee = tools["marketplace_fee_in_currency"].input_schema["properties"]
    assert "USD" in fee["currency"]["enum"] and fee["price"]["type"] == "number"
    assert "title" in tools["releases_get"].output_schema["properties"]  # type: ignore[index]


def test_allow_writes_adds_the_writes_with_their_hints(mock_url: str, tmp_path: Path) -> None:
    async def scenario() -> dict[str, types.Tool]:
        async with _stdio(mock_url, tmp_path, "--allow-writes") as client:
            return _by_name((await client.list_tools()).tools)

    tools = anyio.run(scenario)
    assert set(tools) == READS | WRITES
    hints = {name: tools[name].annotations for name in WRITES}
    for name, hint in hints.items():
        assert hint is not None and hint.read_only_hint is False, name
    # MCP: destructiveHint is false only for "additive updates"; a delete or an overwrite is destructive
    # (and the hint's default is true, so it is always sent).
    additive = {name for name, a in hints.items() if a is not None and a.destructive_hint is False}
    assert additive == {
        "inventory_exports_create",
        "inventory_uploads_add",
        "marketplace_listings_create",
        "marketplace_orders_messages_add",
        "users_collection_folders_add_release",
        "users_collection_folders_create",
        "users_wants_add",
    }
    assert all(hints[name].destructive_hint is True for name in WRITES - additive)  # type: ignore[union-attr]
    assert {"users_wants_delete", "marketplace_listings_update", "users_update"} <= WRITES - additive
    create = tools["marketplace_listings_create"]
    assert create.annotations is not None and create.annotations.idempotent_hint is False
    assert set(create.input_schema["required"]) == {"release_id", "condition", "price", "status"}
    assert tools["releases_rating_update"].annotations.idempotent_hint is True  # type: ignore[union-attr]
    assert tools["inventory_uploads_add"].input_schema["properties"]["upload"]["type"] == "string"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_calls_return_typed_structured_content(mock_url: str, tmp_path: Path, mode: str) -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with _stdio(mock_url, tmp_path, mode=mode) as client:
            out["protocol"] = client.protocol_version
            tools = _by_name((await client.list_tools()).tools)

            async def call(name: str, **arguments: Any) -> types.CallToolResult:
                return await client.call_tool(name, arguments)

            out["release"] = _check_structured(tools["releases_get"], await call("releases_get", release_id=249504))
            releases = tools["artists_releases"]
            out["first"] = _check_structured(releases, await call("artists_releases", artist_id=1, limit=5))
            out["page2"] = _check_structured(releases, await call("artists_releases", artist_id=1, offset=50))
            out["search"] = _check_structured(
                tools["search"], await call("search", q="Nirvana", type="release", limit=5)
            )
            out["collection"] = _check_structured(
                tools["users_collection_folders_releases"],
                await call("users_collection_folders_releases", username="abuntine", folder_id=0, limit=5),
            )
            folders = await call("users_collection_folders_list", username="test_user")
            out["folders"] = _check_structured(tools["users_collection_folders_list"], folders)
        return out

    out = anyio.run(scenario)
    assert (out["protocol"] in HANDSHAKE_PROTOCOL_VERSIONS) == (mode == "legacy"), out["protocol"]
    with mock_discogs(rate_limit=None) as sdk:
        release = sdk.releases.get(249504)
        first_page = sdk.artists.releases(1, per_page=50)
        second_page = sdk.artists.releases(1, page=2, per_page=50)
        hits = sdk.search(q="Nirvana", type="release", per_page=5)
        collection = sdk.users.collection.folders.releases("abuntine", 0, per_page=5)
        folders = sdk.users.collection.folders.list("test_user")

    assert out["release"]["id"] == 249504 and out["release"]["title"] == release.title
    assert out["release"]["tracklist"][0]["title"] == release.tracklist[0].title  # type: ignore[index]
    assert "lowest_price" not in release.model_fields_set or "lowest_price" in out["release"]

    first = out["first"]
    assert [item["id"] for item in first["items"]] == [item.id for item in first_page.items[:5]]
    assert first["pagination"] == {
        "offset": 0,
        "limit": 5,
        "returned": 5,
        "total": first_page.pagination.items,
        "next_offset": 5,
    }
    assert [item["id"] for item in out["page2"]["items"]] == [item.id for item in second_page.items]
    assert out["page2"]["pagination"]["offset"] == 50

    assert [item["id"] for item in out["search"]["items"]] == [hit.id for hit in hits.items]
    assert [item["id"] for item in out["collection"]["items"]] == [item.id for item in collection.items]
    assert [f["name"] for f in out["folders"]["folders"]] == [f.name for f in folders.folders]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_bad_arguments_and_a_404_are_tool_errors_and_the_server_keeps_serving(
    mock_url: str, tmp_path: Path, mode: str
) -> None:
    async def scenario() -> list[types.CallToolResult]:
        async with _stdio(mock_url, tmp_path, mode=mode) as client:
            return [
                await client.call_tool("artists_get", {"artist_id": "abc"}),
                await client.call_tool("artists_get", {}),
                await client.call_tool("artists_get", {"artist_id": 1, "page": 2}),
                await client.call_tool("artists_get", {"artist_id": 0}),
                await client.call_tool("artists_releases", {"artist_id": 1, "sort": "colour"}),
                await client.call_tool("artists_releases", {"artist_id": 1, "limit": 501}),
                await client.call_tool("artists_get", {"artist_id": 999999999}),
                await client.call_tool("artists_get", {"artist_id": 108713}),
            ]

    results = anyio.run(scenario)
    wrong_type, missing, unknown, zero, bad_choice, too_many, not_found, fine = results
    assert _error(wrong_type) == {
        "type": "InvalidParameterError",
        "message": "artist_id: 'abc' is not of type 'integer'",
        "parameter": "artist_id",
    }
    assert _error(missing)["message"] == "artist_id: is required"
    assert _error(unknown)["parameter"] == "page" and "takes: artist_id" in _error(unknown)["message"]
    assert _error(zero)["parameter"] == "artist_id"
    assert _error(bad_choice)["parameter"] == "sort" and "'year'" in _error(bad_choice)["message"]
    assert _error(too_many)["parameter"] == "limit"
    error = _error(not_found)
    assert error["type"] == "NotFoundError" and error["status"] == 404
    assert error["message"].startswith("HTTP 404: Artist not found.")  # the message Discogs sent
    assert not fine.is_error and fine.structured_content["id"] == 108713


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_a_tool_the_server_does_not_offer_is_a_protocol_error(mock_url: str, tmp_path: Path, mode: str) -> None:
    """MCP's tools spec: an unknown tool is JSON-RPC's -32602 (invalid params), not a tool result;
    a write without --allow-writes is unknown to that session, and the message says how to offer it."""

    async def scenario() -> list[MCPError]:
        refused = []
        async with _stdio(mock_url, tmp_path, mode=mode) as client:
            for name, arguments in (
                ("no_such_tool", {}),
                ("releases_rating_delete", {"release_id": 1, "username": "u"}),
            ):
                with pytest.raises(MCPError) as raised:
                    await client.call_tool(name, arguments)
                refused.append(raised.value)
            assert not (await client.call_tool("artists_get", {"artist_id": 1})).is_error  # and it goes on
        return refused

    nothing, write = anyio.run(scenario)
    assert nothing.error.code == write.error.code == types.INVALID_PARAMS
    assert "no_such_tool" in nothing.error.message and "--allow-writes" in write.error.message


def test_the_token_never_appears_in_tool_output_or_logs(mock_url: str, tmp_path: Path) -> None:
    token = "tok-Zq8R3vN0secretvalue"

    async def scenario() -> list[str]:
        seen: list[str] = []
        async with _stdio(mock_url, tmp_path, "--debug", token=token) as client:
            identity = await client.read_resource(IDENTITY_URI)
            seen.append(identity.contents[0].text)  # type: ignore[union-attr]
            for name, arguments in [
                ("oauth_identity", {}),
                ("artists_get", {"artist_id": 999999999}),
                ("search", {"q": "nirvana", "limit": 2}),
                ("users_collection_value", {"username": "Username"}),
                ("artists_get", {"artist_id": token}),
            ]:
                result = await client.call_tool(name, arguments)
                seen.append(result.model_dump_json(by_alias=True))
        return seen

    seen = anyio.run(scenario)
    logs = (tmp_path / "stderr.log").read_text(encoding="utf-8")
    assert json.loads(seen[0])["username"]  # the mock answers identity only when the token was sent
    assert "GET" in logs and "/oauth/identity" in logs  # --debug logs the requests to stderr
    for text in [*seen, logs]:
        assert token not in text


def test_cache_option_reaches_the_servers_client(tmp_path: Path) -> None:
    """``--cache`` is the CLI's option: with it a repeated read is answered without a second request."""

    async def scenario(url: str, *extra: str) -> list[bool]:
        async with _stdio(url, tmp_path, *extra) as client:
            return [(await client.call_tool("releases_get", {"release_id": 249504})).is_error for _ in range(3)]

    for extra, expected in ((("--cache", "memory"), 1), ((), 3)):
        requests: list[str] = []
        with MockServer(rate_limit=None, log=requests.append) as server:
            assert anyio.run(scenario, server.url, *extra) == [False] * 3
        assert len([r for r in requests if "/releases/249504" in r]) == expected, (extra, requests)


def _serving(transport: str, mock_url: str, cwd: Path, token: str) -> tuple[subprocess.Popen[str], str]:
    """``musicagent mcp --http/--sse 0 --debug`` in its own process, ``token`` in its environment (any
    token is the mock's user), and the first line it printed (where it serves)."""
    command = [sys.executable, "-m", "musicagent", "mcp", transport, "0", "--base-url", mock_url, "--debug"]
    env = {**os.environ, "DISCOGS_TOKEN": token}
    process = subprocess.Popen(command, cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None
    return process, process.stderr.readline()


def test_streamable_http_on_loopback(mock_url: str, tmp_path: Path) -> None:
    process, line = _serving("--http", mock_url, tmp_path, "http-secret-token-93b1d0")
    try:
        assert "serving MCP on http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()

        async def scenario() -> tuple[set[str], types.CallToolResult]:
            async with Client(url) as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                return names, await client.call_tool("masters_get", {"master_id": 1000})

        names, result = anyio.run(scenario)
        assert names == READS
        assert not result.is_error and result.structured_content["id"] == 1000
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert "93b1d0" not in out + err + str(result)  # --debug logs each request, masked


def test_http_sse_on_loopback_for_older_clients(mock_url: str, tmp_path: Path) -> None:
    """``--sse``: the pre-2025-03-26 transport, with the official client's ``sse_client``; the token stays out."""
    from mcp.client.sse import sse_client

    process, line = _serving("--sse", mock_url, tmp_path, "sse-secret-token-7f3a9c")
    try:
        assert "serving MCP (HTTP+SSE) on http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        assert url.endswith("/sse")

        async def scenario() -> list[Any]:
            async with Client(sse_client(url), mode="legacy") as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                release = await client.call_tool("releases_get", {"release_id": 249504})
                missing = await client.call_tool("artists_get", {"artist_id": 999999999})
                identity = await client.read_resource(IDENTITY_URI)
                return [names, release, missing, identity]

        names, release, missing, identity = anyio.run(scenario)
        assert names == READS
        assert not release.is_error and release.structured_content["title"] == "Never Gonna Give You Up"
        assert missing.is_error and _error(missing)["status"] == 404
        assert json.loads(identity.contents[0].text)["username"] == "R-Search"
        seen = "".join(str(part) for part in (release, missing, identity))
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert "sse-secret-token-7f3a9c" not in out + err + seen and "7f3a9c" not in out + err + seen


def test_importing_musicagent_and_cli_help_do_not_import_the_mcp_sdk() -> None:
    code = (
        "import sys, contextlib, io\n"
        "import musicagent, musicagent.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert musicagent.cli.main(['--help']) == 0\n"
        "    assert musicagent.cli.main(['mcp', '--help']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'anyio', 'starlette')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# -- in process: the same server, around a client the test controls ----------------------------------


@asynccontextmanager
async def _in_process(discogs: Any, *, allow_writes: bool = False) -> AsyncIterator[Client]:
    async with Client(build_server(Toolbox(discogs, allow_writes=allow_writes))) as client:
        yield client


def test_resources_and_prompts() -> None:
    async def scenario(discogs: Any) -> dict[str, Any]:
        async with _in_process(discogs) as client:
            listed = [r.uri for r in (await client.list_resources()).resources]
            before = json.loads((await client.read_resource(RATE_LIMIT_URI)).contents[0].text)  # type: ignore[union-attr]
            identity = json.loads((await client.read_resource(IDENTITY_URI)).contents[0].text)  # type: ignore[union-attr]
            after = json.loads((await client.read_resource(RATE_LIMIT_URI)).contents[0].text)  # type: ignore[union-attr]
            with pytest.raises(MCPError, match="no resource"):
                await client.read_resource("discogs://nothing")
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            prompt = await client.get_prompt("collection_overview", {"username": "abuntine"})
            with pytest.raises(MCPError, match="needs release_id"):
                await client.get_prompt("price_check", {})
            with pytest.raises(MCPError, match="no prompt"):
                await client.get_prompt("poem", {})
            return {
                "listed": listed,
                "before": before,
                "identity": identity,
                "after": after,
                "prompts": prompts,
                "prompt": prompt.messages[0].content.text,  # type: ignore[union-attr]
            }

    with mock_discogs() as discogs:
        out = anyio.run(scenario, discogs)
        expected_identity = discogs.oauth.identity()
    assert out["listed"] == [IDENTITY_URI, RATE_LIMIT_URI]
    assert out["identity"]["username"] == expected_identity.username
    assert out["before"]["requests_made"] == 0 and out["after"]["requests_made"] == 1
    assert out["after"]["limit"] == 60 and out["after"]["remaining"] == 59
    assert out["prompts"] == ["collection_overview", "price_check"]
    assert "abuntine" in out["prompt"] and "users_collection_folders_releases" in out["prompt"]


def test_identity_without_a_token_is_an_mcp_error() -> None:
    async def scenario(discogs: Any) -> None:
        async with _in_process(discogs) as client:
            with pytest.raises(MCPError, match="AuthenticationError"):
                await client.read_resource(IDENTITY_URI)

    with mock_discogs(token=None) as discogs:
        anyio.run(scenario, discogs)


def test_a_cancelled_write_waiting_for_the_limiter_is_never_sent() -> None:
    """The client gives up on a write while it waits for the rate limiter: once the slot frees, the
    worker thread (which cannot be interrupted) drops the request instead of sending it late."""
    window = 3.0

    async def scenario(discogs: Any) -> None:
        async with _in_process(discogs, allow_writes=True) as client:
            first = await client.call_tool("releases_get", {"release_id": 249504})  # the window's one request
            assert not first.is_error
            with anyio.move_on_after(0.5):  # the SDK then sends notifications/cancelled
                await client.call_tool("users_wants_add", {"username": "abuntine", "release_id": 1})
                raise AssertionError("answered although the limiter had no slot for it")
            await anyio.sleep(window + 1.5)  # the slot has freed: the old server sent the write here
            again = await client.call_tool("releases_get", {"release_id": 249504})
            assert not again.is_error  # and the server goes on serving

    with mock_discogs(rate_limit=(1, window), server_options={"user": "abuntine"}) as discogs:
        anyio.run(scenario, discogs)
        sent = [f"{r.method} {r.path}" for r in discogs.mock_server.requests]
    assert sent == ["GET /releases/249504", "GET /releases/249504"], sent


def test_write_tools_with_allow_writes(tmp_path: Path) -> None:
    csv_text = "release_id,price,media_condition\n1,9.99,Mint (M)\n"

    async def scenario(discogs: Any) -> dict[str, types.CallToolResult]:
        async with _in_process(discogs, allow_writes=True) as client:
            tools = _by_name((await client.list_tools()).tools)
            results = {
                "want": await client.call_tool("users_wants_add", {"username": "abuntine", "release_id": 1}),
                "export": await client.call_tool("inventory_exports_create", {}),
                "download": await client.call_tool("inventory_exports_download", {"export_id": 599632}),
                "upload": await client.call_tool("inventory_uploads_add", {"upload": csv_text}),
                "delete": await client.call_tool("marketplace_listings_delete", {"listing_id": 172723812}),
            }
            _check_structured(tools["users_wants_add"], results["want"])
            _check_structured(tools["inventory_exports_download"], results["download"], json_text=False)
            return results

    with mock_discogs(server_options={"user": "abuntine"}) as discogs:  # the mock's token is abuntine's
        results = anyio.run(scenario, discogs)
        want = discogs.users.wants.add("abuntine", 1)
        expected_csv = discogs.inventory.exports.download(599632, tmp_path / "export.csv").read_bytes()
    assert results["want"].structured_content["id"] == want.id
    export = results["export"].structured_content
    assert export["done"] is True and export["status"] in (200, 201, 202, 204)
    assert results["download"].structured_content == {
        "text": expected_csv.decode("utf-8"),
        "bytes": len(expected_csv),
        "truncated": False,
    }
    assert not results["upload"].is_error, results["upload"].content
    assert not results["delete"].is_error, results["delete"].content


def _unpaced(server: MockServer, **options: Any) -> Discogs:
    """A client with no local limiter, so it meets the server's 429s instead of avoiding them."""
    return Discogs(token=MOCK_TOKEN, base_url=server.url, rate_limit=None, env={}, dotenv=os.devnull, **options)


def test_a_429_is_waited_out_and_a_deadline_bounds_the_wait() -> None:
    async def calls(discogs: Any, count: int) -> list[types.CallToolResult]:
        async with _in_process(discogs) as client:
            return [await client.call_tool("artists_get", {"artist_id": 108713}) for _ in range(count)]

    # The server allows 2 requests per 2 s: the third call meets a 429 and waits it out.
    with MockServer(rate_limit=(2, 2.0)) as server, _unpaced(server, max_retries=5) as discogs:
        results = anyio.run(calls, discogs, 4)
        assert discogs.metrics.rate_limited >= 1
    assert [r.is_error for r in results] == [False] * 4

    # 1 request per 30 s and a 1 s deadline: the second call ends as a tool error, not a 30 s hang.
    with MockServer(rate_limit=(1, 30.0)) as server, _unpaced(server, max_retries=5, deadline=1.0) as discogs:
        results = anyio.run(calls, discogs, 2)
    assert not results[0].is_error
    error = _error(results[1])
    assert error["type"] in ("RateLimitError", "APITimeoutError"), error


def test_the_default_deadline_applies_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from musicagent.mcp import _client

    with _client({"token": "t"}, None) as client:
        assert client.settings.deadline == DEFAULT_DEADLINE
    with _client({"token": "t"}, 5.0) as client:
        assert client.settings.deadline == 5.0
    monkeypatch.setenv("DISCOGS_DEADLINE", "7")
    with _client({"token": "t"}, None) as client:
        assert client.settings.deadline == 7.0


def test_a_bug_in_a_call_is_a_tool_error_not_a_crash() -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("boom")

    outcome = Toolbox(Broken()).call("artists_get", {"artist_id": 1})
    assert outcome.is_error and outcome.text == "RuntimeError: boom"


def test_every_output_schema_is_a_valid_object_schema_without_generated_titles() -> None:
    async def scenario(discogs: Any) -> list[types.Tool]:
        async with _in_process(discogs, allow_writes=True) as client:
            return (await client.list_tools()).tools

    with mock_discogs() as discogs:
        tools = anyio.run(scenario, discogs)
    with_schema = [tool for tool in tools if tool.output_schema is not None]
    kinds = {op.id.replace(".", "_"): op.kind for op in OPERATIONS}
    assert {tool.name for tool in with_schema} == {t.name for t in tools if kinds[t.name] != "none"}
    for tool in with_schema:
        schema = tool.output_schema
        assert schema is not None and schema["type"] == "object", tool.name
        jsonschema.Draft202012Validator.check_schema(schema)
        assert '"title": "' not in json.dumps({k: v for k, v in schema.items() if k != "properties"}), tool.name
    release = _by_name(tools)["releases_get"].output_schema
    assert release is not None and "title" in release["properties"]  # a field named title stays


def test_pages_continue_from_next_offset_and_stop_at_the_end() -> None:
    with mock_discogs() as discogs:
        toolbox = Toolbox(discogs)
        # The mock answers every per_page with its recorded pages of 50 (page 1: 50 items, page 2: 7).
        every = [item.id for item in discogs.artists.releases(1, per_page=50)]
        seen: list[int] = []
        offset: int | None = 0
        calls = 0
        while offset is not None:
            outcome = toolbox.call("artists_releases", {"artist_id": 1, "limit": 50, "offset": offset})
            assert not outcome.is_error and outcome.structured is not None, outcome.text
            seen.extend(item["id"] for item in outcome.structured["items"])
            offset = outcome.structured["pagination"]["next_offset"]
            calls += 1
        assert seen == every and len(every) == 57 and calls == 2
        unaligned = toolbox.call("artists_releases", {"artist_id": 1, "limit": 10, "offset": 5})
        assert unaligned.structured is not None
        assert [item["id"] for item in unaligned.structured["items"]] == every[5:15]


def test_argument_errors_in_process() -> None:
    with mock_discogs() as discogs:
        toolbox = Toolbox(discogs)
        sent_before = discogs.metrics.requests
        outcomes = {
            "missing": toolbox.call("marketplace_fee_in_currency", {"price": 10}),
            "extra": toolbox.call("search", {"q": "x", "per_page": 5}),
            "choice": toolbox.call("marketplace_fee_in_currency", {"price": 10, "currency": "XXX"}),
            "negative": toolbox.call("artists_releases", {"artist_id": 1, "offset": -1}),
            "write": toolbox.call("users_wants_add", {"username": "u", "release_id": 1}),
        }
        assert discogs.metrics.requests == sent_before  # nothing was sent for any of them
    errors = {name: outcome.error for name, outcome in outcomes.items() if outcome.error}
    assert errors["missing"]["parameter"] == "currency" and errors["missing"]["message"] == "currency: is required"
    assert errors["extra"]["parameter"] == "per_page" and "limit" in errors["extra"]["message"]
    assert errors["choice"]["parameter"] == "currency"
    assert errors["negative"]["parameter"] == "offset"
    assert "--allow-writes" in errors["write"]["message"]


def test_every_recorded_read_validates_against_its_tools_output_schema() -> None:
    cases = list(recorded_reads())
    # Every read tool has a recording to replay, but users_lists, whose only recording is a second page.
    assert {tool for tool, _, _ in cases} == READS - {"users_lists"}
    by_user: dict[Any, list[tuple[str, str, dict[str, Any]]]] = {}
    for case in cases:  # the mock's token belongs to one user: a user's private reads are asked as that user
        by_user.setdefault(case[2].get("username"), []).append(case)
    for user, group in by_user.items():
        with mock_discogs(rate_limit=None, server_options={"user": user} if user else None) as discogs:
            toolbox = Toolbox(discogs)
            tools = {tool.name: tool for tool in toolbox.tools}
            for name, cassette, arguments in group:
                outcome = toolbox.call(name, arguments)
                assert not outcome.is_error, (name, cassette, outcome.text)
                schema = toolbox.output_schema(tools[name])
                assert schema is not None, name
                jsonschema.Draft202012Validator(schema).validate(outcome.structured)

"""``musicagent mcp`` with a client nobody here wrote: the official TypeScript SDK (npm ``@modelcontextprotocol/sdk``).

A Node script (``tests/thirdparty/mcp_sdk_client.mjs``) runs the SDK's ``Client``, unchanged, over
stdio (it launches ``python -m musicagent mcp`` itself, as a desktop client does), over streamable
HTTP and over the older HTTP+SSE, against the offline mock. That client checks more than the Python
SDK's: it compiles every tool's ``outputSchema`` with Ajv when it lists the tools and validates
``structuredContent`` against it on every call, errors included, so a schema Ajv rejects or a result
that does not match is a thrown error here. It speaks the protocol versions up to 2025-11-25 through ``initialize``; the
older ones it accepts are offered too, as clients built on older SDK releases do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from musicagent import Discogs
from musicagent._generated.operations import OPERATIONS
from musicagent.mcp._server import IDENTITY_URI, RATE_LIMIT_URI
from musicagent.mcp._tools import ERROR_META_KEY
from musicagent.mock import MockServer
from musicagent.testing import MOCK_TOKEN
from tests import _node
from tests._mcp_cases import READS, WRITES, recorded_reads, recorded_writes

SDK = "@modelcontextprotocol/sdk"
AUTH = {op.id.replace(".", "_"): op.auth for op in OPERATIONS}
USER = "R-Search"  # whom the mock's token belongs to: the recorded identity
NEWEST = "2025-11-25"  # the newest version the SDK offers and the server speaks through initialize

# The steps of a full session; the indexes below name their results.
FULL = [
    {"op": "listTools"},
    {"op": "callTool", "name": "releases_get", "arguments": {"release_id": 249504}},
    {"op": "callTool", "name": "artists_releases", "arguments": {"artist_id": 1, "limit": 5}},
    {"op": "callTool", "name": "artists_releases", "arguments": {"artist_id": 1, "limit": 50}},
    {"op": "callTool", "name": "artists_releases", "arguments": {"artist_id": 1, "limit": 50, "offset": 50}},
    {"op": "callTool", "name": "search", "arguments": {"q": "Nirvana", "type": "release", "limit": 5}},
    {"op": "callTool", "name": "oauth_identity", "arguments": {}},
    {"op": "callTool", "name": "artists_get", "arguments": {"artist_id": 999999999}},
    {"op": "callTool", "name": "artists_get", "arguments": {"artist_id": "abc"}},
    {"op": "callTool", "name": "users_wants_add", "arguments": {"username": USER, "release_id": 40522}},
    {"op": "listResources"},
    {"op": "readResource", "uri": IDENTITY_URI},
    {"op": "readResource", "uri": RATE_LIMIT_URI},
    {"op": "listPrompts"},
    {"op": "getPrompt", "name": "price_check", "arguments": {"release_id": "249504"}},
    {"op": "getPrompt", "name": "price_check", "arguments": {}},
    {"op": "listResourceTemplates"},
    {"op": "ping"},
]
SHORT = FULL[:2] + FULL[7:8]  # list, one read, one Discogs error


@pytest.fixture(scope="module")
def sdk() -> Path:
    return _node.package(SDK)


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with MockServer(rate_limit=None) as server:
        yield server.url


@pytest.fixture(scope="module")
def expected(mock_url: str) -> dict[str, Any]:
    """What the SDK itself reads from the same mock, for the same calls."""
    with Discogs(token=MOCK_TOKEN, base_url=mock_url, rate_limit=None, env={}, dotenv=os.devnull) as discogs:
        release = discogs.releases.get(249504)
        return {
            "release": release.model_dump(mode="json", by_alias=True, exclude_unset=True),
            "artist_releases": [item.id for item in discogs.artists.releases(1, per_page=50)],
            "search": [hit.id for hit in discogs.search(q="Nirvana", type="release", per_page=5).items],
            "identity": discogs.oauth.identity().username,
        }


def _stdio(url: str, cwd: Path, steps: list[dict[str, Any]], *extra: str, offer: str | None = None) -> dict[str, Any]:
    args = ["-m", "musicagent", "mcp", "--base-url", url, "--token", MOCK_TOKEN, *extra]
    return {"transport": "stdio", "command": sys.executable, "args": args, "cwd": str(cwd), "steps": steps,
            "protocolVersion": offer}  # fmt: skip


def _run(sdk: Path, tmp_path: Path, sessions: list[dict[str, Any]]) -> dict[str, Any]:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"sdk": str(sdk), "sessions": sessions}), encoding="utf-8")
    out: dict[str, Any] = _node.run_script("mcp_sdk_client.mjs", str(plan), timeout=300)
    assert out["latest"] == NEWEST, "a new SDK release: check its protocol versions against the server's"
    for session in out["sessions"]:
        assert "connect" not in session, session["connect"]
    return out


def _value(result: dict[str, Any]) -> Any:
    """A step's value; a step the client threw on (e.g. structured content its validation refused) fails."""
    assert result["ok"], result["error"]
    return result["value"]


def _structured(result: dict[str, Any], *, json_text: bool = True) -> dict[str, Any]:
    """A successful call's structured content (which the client validated), the same JSON as its text."""
    value = _value(result)
    assert not value.get("isError"), value["content"]
    data: dict[str, Any] = value["structuredContent"]
    if json_text:
        assert json.loads(value["content"][0]["text"]) == data
    return data


def _tool_error(result: dict[str, Any]) -> dict[str, Any]:
    value = _value(result)
    assert value["isError"] is True and "structuredContent" not in value
    error: dict[str, Any] = value["_meta"][ERROR_META_KEY]
    assert value["content"] == [{"type": "text", "text": f"{error['type']}: {error['message']}"}]
    return error


def _check_full(session: dict[str, Any], expected: dict[str, Any]) -> None:
    r = session["results"]
    listed = _value(r[0])
    assert listed["uncompilable"] == []  # every input schema compiles with Ajv too
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) == READS  # no write without --allow-writes
    assert all(tool["annotations"]["readOnlyHint"] is True for tool in tools.values())
    assert tools["artists_releases"]["outputSchema"]["required"] == ["items", "pagination"]

    assert _structured(r[1]) == expected["release"]
    first = _structured(r[2])
    assert [item["id"] for item in first["items"]] == expected["artist_releases"][:5]
    assert first["pagination"]["next_offset"] == 5
    page1, page2 = _structured(r[3]), _structured(r[4])
    assert page1["pagination"]["next_offset"] == 50 and page2["pagination"]["next_offset"] is None
    walked = [item["id"] for item in page1["items"] + page2["items"]]
    assert walked == expected["artist_releases"] and len(walked) == page1["pagination"]["total"] == 57
    assert [item["id"] for item in _structured(r[5])["items"]] == expected["search"]
    assert _structured(r[6])["username"] == expected["identity"] == USER

    not_found = _tool_error(r[7])
    assert not_found["type"] == "NotFoundError" and not_found["status"] == 404
    assert not_found["message"].startswith("HTTP 404: Artist not found.")  # Discogs' own message
    assert _tool_error(r[8]) == {
        "type": "InvalidParameterError",
        "message": "artist_id: 'abc' is not of type 'integer'",
        "parameter": "artist_id",
    }
    refused = r[9]  # a write without --allow-writes is a tool this session does not offer: MCP's -32602
    assert (refused["ok"], refused["code"]) == (False, -32602) and "--allow-writes" in refused["error"]

    assert [res["uri"] for res in _value(r[10])["resources"]] == [IDENTITY_URI, RATE_LIMIT_URI]
    identity = _value(r[11])["contents"][0]
    assert identity["mimeType"] == "application/json" and json.loads(identity["text"])["username"] == USER
    assert json.loads(_value(r[12])["contents"][0]["text"])["requests_made"] >= 1
    assert [p["name"] for p in _value(r[13])["prompts"]] == ["collection_overview", "price_check"]
    prompt = _value(r[14])["messages"][0]
    assert prompt["role"] == "user" and "249504" in prompt["content"]["text"]
    assert not r[15]["ok"] and "needs release_id" in r[15]["error"]  # a protocol error, as the SDK reports it
    assert _value(r[16]) == {"resourceTemplates": []}  # asked by clients that see resources; not "method not found"
    assert _value(r[17]) == {}


def _check_short(session: dict[str, Any], expected: dict[str, Any]) -> None:
    r = session["results"]
    assert {tool["name"] for tool in _value(r[0])["tools"]} == READS
    assert _structured(r[1]) == expected["release"]
    assert _tool_error(r[2])["status"] == 404


@pytest.mark.parametrize(
    ("offer", "answer", "steps"),
    [
        (None, NEWEST, FULL),  # the SDK's own offer, its newest version
        ("2025-06-18", "2025-06-18", SHORT),
        ("2025-03-26", "2025-03-26", FULL),  # before outputSchema and structuredContent
        ("2024-11-05", "2024-11-05", SHORT),
        ("2024-10-07", NEWEST, SHORT),  # unknown to the server: it answers with its own, which the SDK accepts
    ],
)
def test_typescript_sdk_client_over_stdio(
    sdk: Path, mock_url: str, expected: dict[str, Any], tmp_path: Path, offer: str | None, answer: str, steps: Any
) -> None:
    out = _run(sdk, tmp_path, [_stdio(mock_url, tmp_path, steps, offer=offer)])
    session = out["sessions"][0]
    assert offer is None or offer in out["sdkVersions"]
    assert session["initialize"]["protocolVersion"] == session["negotiated"] == answer
    assert session["serverVersion"]["name"] == "musicagent"
    (_check_full if steps is FULL else _check_short)(session, expected)


def test_typescript_sdk_client_over_streamable_http(
    sdk: Path, mock_url: str, expected: dict[str, Any], tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "musicagent", "mcp", "--http", "0", "--base-url", mock_url, "--token", MOCK_TOKEN]
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "serving MCP on http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        sessions = [
            {"transport": "http", "url": url, "steps": FULL, "protocolVersion": None},
            {"transport": "http", "url": url, "steps": SHORT, "protocolVersion": "2025-03-26"},
        ]
        out = _run(sdk, tmp_path, sessions)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
    newest, older = out["sessions"]
    assert newest["negotiated"] == NEWEST and older["negotiated"] == "2025-03-26"
    _check_full(newest, expected)
    _check_short(older, expected)


def _served(*options: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """``musicagent mcp`` serving over HTTP in its own process, and the URL it printed."""
    command = [sys.executable, "-m", "musicagent", "mcp", *options, "--token", MOCK_TOKEN]
    process = subprocess.Popen(command, cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    line = process.stderr.readline()
    assert " on http://127.0.0.1:" in line, line
    return process, line.rsplit(" ", 1)[1].strip()


def test_typescript_sdk_client_over_http_sse(
    sdk: Path, mock_url: str, expected: dict[str, Any], tmp_path: Path
) -> None:
    """``--sse``: the transport of 2024-11-05 (the SDK's SSEClientTransport), which deployed clients still speak."""
    process, url = _served("--sse", "0", "--base-url", mock_url, cwd=tmp_path)
    try:
        assert url.endswith("/sse")
        sessions = [
            {"transport": "sse", "url": url, "steps": FULL, "protocolVersion": None},
            {"transport": "sse", "url": url, "steps": SHORT, "protocolVersion": "2024-11-05"},
        ]
        out = _run(sdk, tmp_path, sessions)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
    newest, oldest = out["sessions"]
    assert newest["negotiated"] == NEWEST and oldest["negotiated"] == "2024-11-05"
    _check_full(newest, expected)
    _check_short(oldest, expected)


def test_strict_schemas_names_ping_cursor_logging_and_cancellation(sdk: Path, tmp_path: Path) -> None:
    """What strict clients check: every schema compiles under Ajv's strict mode with formats, names fit the
    strictest limits clients set, an unknown cursor is -32602, logging/setLevel (a capability not offered) is
    -32601, and a call cancelled mid-wait is never answered while the session goes on."""
    slow = {"op": "callTool", "name": "releases_get", "arguments": {"release_id": 249504}}
    steps = [
        {"op": "strictSchemas"},
        {"op": "ping"},
        {"op": "listToolsCursor", "cursor": "not-one-we-gave"},
        {"op": "setLoggingLevel", "level": "debug"},
        slow,  # takes the window's one request
        {"op": "cancel", "after": 500, "name": slow["name"], "arguments": slow["arguments"]},  # waits for the next
        {"op": "ping"},
        {"op": "callTool", "name": "artists_get", "arguments": {"artist_id": "abc"}},  # still serving tool calls
        {"op": "answered", "wait": 300},
    ]
    with MockServer(rate_limit=(1, 60.0)) as server:
        out = _run(sdk, tmp_path, [_stdio(server.url, tmp_path, steps, "--allow-writes", "--deadline", "120")])
    r = out["sessions"][0]["results"]
    strict = _value(r[0])
    assert strict["count"] == len(READS | WRITES) and strict["failures"] == []
    assert _value(r[1]) == {}
    assert not r[2]["ok"] and r[2]["code"] == -32602
    assert not r[3]["ok"] and r[3]["code"] == -32601  # no logging capability is declared
    assert _structured(r[4])["id"] == 249504
    cancelled = _value(r[5])
    assert cancelled["aborted"] and cancelled["ms"] < 10_000, cancelled
    assert _value(r[6]) == {}
    assert _tool_error(r[7])["parameter"] == "artist_id"
    assert cancelled["id"] not in _value(r[8])["answered"]  # a cancelled request gets no response


def test_tool_names_fit_the_strictest_client_limits() -> None:
    """The spec allows 1-128 of [A-Za-z0-9_.-]; some clients take only 64 of [A-Za-z0-9_-]: every name fits both."""
    from musicagent.mcp._tools import all_tools

    names = [tool.name for tool in all_tools()]
    assert len(names) == len(set(names)) == len(READS | WRITES)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in names), names


def test_typescript_sdk_client_with_allow_writes(sdk: Path, tmp_path: Path) -> None:
    steps = [
        {"op": "listTools"},
        {"op": "callTool", "name": "users_wants_add", "arguments": {"username": USER, "release_id": 40522}},
        {"op": "callTool", "name": "users_wants_list", "arguments": {"username": USER, "limit": 500}},
        {"op": "callTool", "name": "users_wants_delete", "arguments": {"username": USER, "release_id": 40522}},
        {"op": "callTool", "name": "users_wants_list", "arguments": {"username": USER, "limit": 500}},
    ]
    with MockServer(rate_limit=None) as server:
        out = _run(sdk, tmp_path, [_stdio(server.url, tmp_path, steps, "--allow-writes")])
    listed, added, wants, deleted, after = out["sessions"][0]["results"]
    tools = {tool["name"]: tool for tool in _value(listed)["tools"]}
    assert set(tools) == READS | WRITES
    assert tools["users_wants_delete"]["annotations"]["destructiveHint"] is True
    assert tools["users_wants_add"]["annotations"]["readOnlyHint"] is False
    assert _structured(added)["id"] == 40522
    assert 40522 in [want["id"] for want in _structured(wants)["items"]]
    assert _structured(deleted, json_text=False)["done"] is True
    assert 40522 not in [want["id"] for want in _structured(after)["items"]]


@pytest.mark.parametrize("validator", ["ajv", "cfworker"])
def test_every_recorded_read_passes_the_typescript_clients_validation(
    sdk: Path, tmp_path: Path, validator: str
) -> None:
    """Every recorded read answer through the TS client, which validates each structuredContent against the
    tool's output schema: with its default validator (Ajv) and the one it offers for edge runtimes
    (@cfworker/json-schema, draft 2020-12), two implementations that read the same schemas differently."""
    _node.package("@cfworker/json-schema")
    by_user: dict[str | None, list[dict[str, Any]]] = {}
    for name, _, arguments in recorded_reads():
        # The mock's token is one user's: a read that needs the user's own token is asked as that user.
        user = arguments.get("username") if AUTH[name] == "user" else None
        by_user.setdefault(user, []).append({"op": "callTool", "name": name, "arguments": arguments})
    servers = [MockServer(rate_limit=None, user=user) for user in by_user]
    try:
        sessions = [
            _stdio(server.start().url, tmp_path, [{"op": "listTools"}, *calls], "--rate-limit", "off")
            | {"validator": validator}
            for server, calls in zip(servers, by_user.values(), strict=True)
        ]
        out = _run(sdk, tmp_path, sessions)
    finally:
        for server in servers:
            server.stop()
    checked = set()
    names = {"ajv": "AjvJsonSchemaValidator", "cfworker": "CfWorkerJsonSchemaValidator"}
    for session, calls in zip(out["sessions"], by_user.values(), strict=True):
        assert session["validator"] == names[validator]
        for call, result in zip(calls, session["results"][1:], strict=True):
            assert result["ok"] and not result["value"].get("isError"), (call, result)
            checked.add(call["name"])
    assert checked == READS - {"users_lists"}  # as in test_mcp: users_lists has only a second-page recording


def test_every_recorded_write_passes_the_typescript_clients_validation(sdk: Path, tmp_path: Path) -> None:
    """Writes that answer with a model (a listing, a want, a folder, an order...), with --allow-writes, asked
    as the user whose data they change: the client validates each answer against the tool's output schema."""
    by_user: dict[str | None, list[dict[str, Any]]] = {}
    for name, _, arguments in recorded_writes():
        by_user.setdefault(arguments.get("username"), []).append(
            {"op": "callTool", "name": name, "arguments": arguments}
        )
    servers = [MockServer(rate_limit=None, user=user) for user in by_user]
    try:
        sessions = [
            _stdio(server.start().url, tmp_path, [{"op": "listTools"}, *calls], "--allow-writes", "--rate-limit", "off")
            for server, calls in zip(servers, by_user.values(), strict=True)
        ]
        out = _run(sdk, tmp_path, sessions)
    finally:
        for server in servers:
            server.stop()
    answered, refused = set(), set()
    for session, calls in zip(out["sessions"], by_user.values(), strict=True):
        for call, result in zip(calls, session["results"][1:], strict=True):
            value = _value(result)  # the client did not throw: structured content matched the schema
            (refused if value.get("isError") else answered).add(call["name"])
            if value.get("isError"):
                assert _tool_error(result)["status"] == 404, (call, value)
    model_writes = {op.id.replace(".", "_") for op in OPERATIONS if op.method != "GET" and op.kind == "model"}
    # Two recordings change what the mock's fresh state does not hold (folder 4739258, a want of "example"):
    # the mock answers Discogs' 404, as Discogs would.
    assert refused == {"users_collection_folders_update", "users_wants_update"}
    assert answered == model_writes - refused

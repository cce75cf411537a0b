"""``musicagent mcp`` on stdio byte by byte, as JSON-RPC 2.0 and MCP say a server must answer: batches,
lines that are no message, unknown tools and ids, older protocol versions — written by hand, so no
SDK client smooths over what the server does."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from musicagent.mock import MockServer
from musicagent.testing import MOCK_TOKEN

pytest.importorskip("mcp", reason="the mcp extra is not installed")


class Raw:
    """``python -m musicagent mcp`` with a line-level view of its stdin and stdout."""

    def __init__(self, url: str, *extra: str) -> None:
        command = [sys.executable, "-m", "musicagent", "mcp", "--base-url", url, "--token", MOCK_TOKEN, *extra]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def send(self, message: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float = 30) -> Any:
        return json.loads(self._lines.get(timeout=timeout))

    def nothing_pending(self) -> bool:
        """No line is waiting: what was sent before the last answer got no answer of its own."""
        return self._lines.empty()

    def start(self, version: str) -> dict[str, Any]:
        info = {"name": "raw", "version": "0"}
        self.send(_request(0, "initialize", {"protocolVersion": version, "capabilities": {}, "clientInfo": info}))
        answer: dict[str, Any] = self.receive()
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    def close(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        assert self.process.stderr is not None
        return self.process.stderr.read()


def _request(ident: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "method": method, **({"params": params} if params is not None else {})}


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with MockServer(rate_limit=None) as server:
        yield server.url


@pytest.fixture
def raw(mock_url: str) -> Iterator[Raw]:
    server = Raw(mock_url)
    yield server
    assert MOCK_TOKEN not in server.close()


def test_a_batch_is_answered_with_one_array_and_its_notifications_with_nothing(raw: Raw) -> None:
    """Protocol 2025-03-26 requires servers to accept JSON-RPC batches; the SDK's stdio transport drops them."""
    assert raw.start("2025-03-26")["result"]["protocolVersion"] == "2025-03-26"
    call = {"name": "artists_get", "arguments": {"artist_id": 1}}
    raw.send(
        [_request(1, "ping"), {"jsonrpc": "2.0", "method": "notifications/progress"}, _request("b", "tools/call", call)]
    )
    answers = raw.receive()
    assert isinstance(answers, list) and sorted(str(a["id"]) for a in answers) == ["1", "b"]
    by_id = {a["id"]: a for a in answers}
    assert by_id[1]["result"] == {} and by_id["b"]["result"]["structuredContent"]["name"] == "Persuader, The"
    raw.send([{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 404}}])
    raw.send(_request(2, "ping"))
    assert raw.receive()["id"] == 2 and raw.nothing_pending()  # a batch of notifications: no answer at all
    raw.send([7, _request(3, "ping")])  # one element is no message: refused in the same array
    answers = raw.receive()
    assert {a["id"]: a.get("error", {}).get("code") for a in answers} == {None: -32600, 3: None}


def test_lines_that_are_no_message_get_json_rpc_errors_and_the_session_goes_on(raw: Raw) -> None:
    raw.start("2025-06-18")
    raw.send("{not json")
    assert raw.receive() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error: not JSON"},
    }
    for sent, ident in (({"jsonrpc": "2.0", "id": 5}, 5), ({"id": 6, "method": "ping"}, 6), ([], None), ("42", None)):
        raw.send(sent)
        answer = raw.receive()
        assert (answer["id"], answer["error"]["code"]) == (ident, -32600), sent
    raw.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "never-sent"}})
    raw.send(_request(7, "ping"))
    assert raw.receive() == {"jsonrpc": "2.0", "id": 7, "result": {}} and raw.nothing_pending()


def test_an_unknown_tool_is_a_protocol_error_and_a_tool_failure_a_result(raw: Raw) -> None:
    """MCP: an unknown tool is JSON-RPC's -32602; what goes wrong running a known one is an ``isError`` result."""
    raw.start("2025-06-18")
    raw.send(_request(1, "tools/call", {"name": "no_such_tool", "arguments": {}}))
    error = raw.receive()["error"]
    assert error["code"] == -32602 and "no_such_tool" in error["message"]
    raw.send(_request(2, "tools/call", {"name": "users_wants_add", "arguments": {"username": "x", "release_id": 1}}))
    error = raw.receive()["error"]  # a write the server does not offer is unknown to this session
    assert error["code"] == -32602 and "--allow-writes" in error["message"]
    raw.send(_request(3, "tools/call", {"name": "artists_get", "arguments": {"artist_id": 999999999}}))
    result = raw.receive()["result"]
    assert result["isError"] is True and "Artist not found" in result["content"][0]["text"]


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
def test_each_protocol_version_a_client_offers_is_kept(raw: Raw, version: str) -> None:
    answer = raw.start(version)["result"]
    assert answer["protocolVersion"] == version and answer["serverInfo"]["name"] == "musicagent"
    raw.send(_request(1, "tools/list"))
    assert {"artists_get", "search"} <= {tool["name"] for tool in raw.receive()["result"]["tools"]}

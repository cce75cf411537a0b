"""``musicagent mcp`` on stdio byte by byte, as JSON-RPC 2.0 and MCP say a server must answer: batches,
lines that are no message, unknown tools and ids, older protocol versions — written by hand, so no
SDK client smooths over what the server does."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from typing import Any, cast

import anyio
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
    null_id = {"jsonrpc": "2.0", "id": None, "method": "ping"}  # MCP forbids it; the SDK took it for a notification
    for sent, ident in (
        ({"jsonrpc": "2.0", "id": 5}, 5),
        ({"id": 6, "method": "ping"}, 6),
        ([], None),
        ("42", None),
        (null_id, None),
    ):
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


def _post(url: str, message: Any, headers: dict[str, str]) -> tuple[int, Message, list[Any]]:
    """POST one body to streamable HTTP; the JSON-RPC messages of its answer (an SSE stream or JSON)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(message).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer_headers, body = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        status, answer_headers, body = error.code, error.headers, error.read().decode()
    if "text/event-stream" in answer_headers.get("Content-Type", ""):
        found = [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]
    else:
        found = [json.loads(body)] if body.strip() else []
    return status, answer_headers, found


def _wait_for(url: str, seconds: float = 30) -> None:
    """The port is bound before the line naming it is printed; the app may still be starting."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_batch_over_streamable_http_is_answered_whole(mock_url: str) -> None:
    """Streamable HTTP at 2025-03-26 takes a POSTed array too; the SDK's transport answered it with a 400."""
    command = [sys.executable, "-m", "musicagent", "mcp", "--http", "0", "--base-url", mock_url, "--token", MOCK_TOKEN]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        url = process.stderr.readline().rsplit(" ", 1)[1].strip()
        _wait_for(url)
        info = {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}
        status, headers, _ = _post(url, _request(0, "initialize", info), {})
        session = {"Mcp-Session-Id": headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-03-26"}
        assert _post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)[0] == 202
        call = {"name": "artists_get", "arguments": {"artist_id": 1}}
        notice = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}
        status, _, answers = _post(url, [_request(1, "ping"), notice, _request(2, "tools/call", call)], session)
        assert status == 200 and sorted(answer["id"] for answer in answers) == [1, 2]
        by_id = {answer["id"]: answer for answer in answers}
        assert by_id[2]["result"]["structuredContent"]["name"] == "Persuader, The"
        assert _post(url, [notice], session)[:2][0] == 202  # notifications only: accepted, nothing to say
        status, _, [refused] = _post(url, _request(3, "tools/call", {"name": "no_such_tool"}), session)
        assert refused["error"]["code"] == -32602  # a single message still goes straight to the SDK
    finally:
        process.terminate()
        process.communicate(timeout=30)


# -- the two layers in process, every branch (the subprocess tests above show them on the wire) ----
class _Lines:
    """What stdin gives: lines, as an AsyncFile iterates them."""

    def __init__(self, *lines: str) -> None:
        self.lines = lines

    async def __aiter__(self) -> AsyncIterator[str]:
        for line in self.lines:
            yield line


class _Sink:
    """What stdout takes: written text, flushed."""

    def __init__(self) -> None:
        self.lines: list[Any] = []

    async def write(self, text: str) -> None:
        assert text.endswith("\n") and text.count("\n") == 1  # one message a line, always whole
        self.lines.append(json.loads(text))

    async def flush(self) -> None:
        pass


def test_the_stdio_layer_splits_batches_joins_their_answers_and_refuses_what_is_no_message() -> None:
    from musicagent.mcp._stdio import Lines, Wire

    sink = _Sink()
    wire = Wire(cast(Any, sink))
    sent = [
        json.dumps([_request(1, "ping"), {"jsonrpc": "2.0", "method": "notifications/x"}, "junk", _request(2, "ping")]),
        "\n",
        "not json\n",
        json.dumps(_request(3, "ping")) + "\n",
        json.dumps({"jsonrpc": "2.0", "id": True}) + "\n",  # an id JSON-RPC does not allow: refused without it
        "[]\n",
        json.dumps([1, 2]) + "\n",  # nothing to wait for: the refusals go out at once
    ]

    async def scenario() -> list[Any]:
        passed = [json.loads(line) async for line in Lines(cast(Any, _Lines(*sent)), wire)]
        for message in reversed(passed):  # the SDK answers each request, in any order, one line each
            if "id" in message:
                await wire.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {}}) + "\n")
        await wire.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/message"}) + "\n")
        await wire.flush()
        return passed

    passed = anyio.run(scenario)
    assert [m.get("id") for m in passed] == [1, None, 2, 3]  # the batch's messages, one by one, then line 3
    codes = [(line["id"], line["error"]["code"]) for line in sink.lines if isinstance(line, dict) and "error" in line]
    assert codes == [(None, -32700), (None, -32600), (None, -32600)]
    arrays = [line for line in sink.lines if isinstance(line, list)]
    assert [[a["id"] for a in array] for array in arrays] == [[None, None], [None, 2, 1]]  # junk refused, then both
    assert {"jsonrpc": "2.0", "id": 3, "result": {}} in sink.lines  # a single request: its own line
    assert sink.lines[-1]["method"] == "notifications/message"  # not an answer: straight through


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering as the SDK's transport does: 202 for a notification, else JSON or an SSE stream."""
    if scope["type"] != "http" or scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = (await receive())["body"]
    assert dict(scope["headers"])[b"content-length"] == str(len(body)).encode()
    try:
        message = json.loads(body)
    except ValueError:
        message = []
    if isinstance(message, list) or "id" not in message:
        status, kind, answer = (400 if isinstance(message, list) else 202), b"application/json", b""
    elif message["method"] == "slow":
        await anyio.sleep(0.2)
        answer = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"slow": True}}).encode()
        status, kind = 200, b"application/json"
    else:
        event = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {}})
        status, kind, answer = (
            200,
            b"text/event-stream",
            f": ping\r\n\r\nevent: message\r\ndata: {event}\r\n\r\n".encode(),
        )
    headers = [(b"content-type", kind), (b"mcp-session-id", b"s1")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer[:5], "more_body": True})
    await send({"type": "http.response.body", "body": answer[5:], "more_body": False})


def _asgi(app: Any, method: str, body: bytes, *, in_two: bool = False) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through ``app`` in process (its body in two chunks if asked): status, headers, body."""
    scope = {"type": "http", "method": method, "headers": [(b"content-length", str(len(body)).encode())]}
    parts = [body[: len(body) // 2], body[len(body) // 2 :]] if in_two else [body]
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        part = parts.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.update(status=message["status"], headers=dict(message["headers"]))
        else:
            answer["body"] += message.get("body", b"")

    anyio.run(app, scope, receive, send)
    return answer["status"], answer["headers"], answer["body"]


def test_the_http_layer_answers_a_batch_with_every_answer_and_passes_the_rest() -> None:
    from musicagent.mcp._batch import BatchingApp

    app = BatchingApp(_inner)
    assert _asgi(app, "GET", b"")[0] == 405  # not a POST: untouched
    assert _asgi(app, "POST", json.dumps(_request(1, "ping")).encode(), in_two=True)[0] == 200  # one message: as is
    assert _asgi(app, "POST", b"[]")[0] == 400 and _asgi(app, "POST", b"[nope")[0] == 400  # the SDK's refusals
    notice = {"jsonrpc": "2.0", "method": "notifications/x"}
    status, headers, body = _asgi(app, "POST", json.dumps([_request(1, "ping"), notice, _request(2, "slow")]).encode())
    assert status == 200 and headers[b"content-type"] == b"text/event-stream" and headers[b"mcp-session-id"] == b"s1"
    events = [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:")]
    assert [event["id"] for event in events] == [1, 2]  # in the batch's order, the slow one waited for
    status, headers, body = _asgi(app, "POST", json.dumps([_request(3, "slow"), _request(4, "slow")]).encode())
    assert (status, headers[b"content-type"]) == (200, b"application/json")
    assert [answer["id"] for answer in json.loads(body)] == [3, 4]  # no stream among them: one JSON array
    status, headers, body = _asgi(app, "POST", json.dumps([notice, notice]).encode())
    assert (status, body, headers[b"mcp-session-id"]) == (202, b"", b"s1")


def test_calls_sent_together_on_one_session_each_get_their_own_answer(raw: Raw) -> None:
    raw.start("2025-06-18")
    calls = {
        10: ("artists_get", {"artist_id": 1}),
        11: ("artists_get", {"artist_id": 108713}),
        12: ("releases_get", {"release_id": 249504}),
        13: ("masters_get", {"master_id": 1000}),
        14: ("artists_releases", {"artist_id": 1, "limit": 500}),
        15: ("artists_get", {"artist_id": 999999999}),
        16: ("labels_get", {"label_id": 1}),
        17: ("releases_get", {"release_id": 1}),
    }
    for ident, (name, arguments) in calls.items():  # all written before any answer is read
        raw.send(_request(ident, "tools/call", {"name": name, "arguments": arguments}))
    answers = {answer["id"]: answer["result"] for answer in (raw.receive() for _ in calls)}
    assert set(answers) == set(calls)
    for ident, (name, arguments) in calls.items():
        result = answers[ident]
        if ident == 15:
            assert result["isError"] is True
        elif name == "artists_releases":
            assert result["structuredContent"]["pagination"]["returned"] == 57  # the whole listing at once
        else:
            assert result["structuredContent"]["id"] == next(iter(arguments.values())), (ident, name)

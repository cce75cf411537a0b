"""JSON-RPC batches over streamable HTTP, which the SDK's transport refuses (400, "Validation error").

Protocol 2025-03-26 lets a client POST an array of requests and notifications, and requires servers
to accept it. This ASGI layer in front of the SDK's app hands it the batch's messages one POST each,
at once (a slow tool call does not hold up the others), and answers with what they answered: one
SSE stream carrying every message of theirs (or one JSON array, if none of them streamed), or 202
when the batch held only notifications and responses. Everything else passes through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

__all__ = ["BatchingApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BatchingApp:
    """``app`` (the SDK's streamable HTTP app), with a POSTed JSON-RPC array split into single POSTs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        batch = _batch(body)
        if batch is None:
            await self.app(scope, _replay(body), send)
            return
        answers: list[tuple[int, list[tuple[bytes, bytes]], bytes]] = [(0, [], b"")] * len(batch)

        async def one(index: int, message: Any) -> None:
            answers[index] = await _exchange(self.app, scope, json.dumps(message).encode())

        async with anyio.create_task_group() as group:
            for index, message in enumerate(batch):
                group.start_soon(one, index, message)
        await _answer(send, answers)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _batch(body: bytes) -> list[Any] | None:
    """The messages of a non-empty JSON array body; None for anything else (the SDK answers it)."""
    if not body.lstrip().startswith(b"["):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, list) and data else None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # the app waits for a disconnect only after it has answered: none comes
            await anyio.sleep_forever()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _exchange(app: ASGIApp, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One message POSTed to ``app`` alone: its status, headers and whole body."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    single = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
    status, answer_headers, chunks = 500, [], []
    done = anyio.Event()

    async def send(message: Message) -> None:
        nonlocal status, answer_headers
        if message["type"] == "http.response.start":
            status, answer_headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    async with anyio.create_task_group() as group:

        async def run() -> None:
            await app(single, _replay(body), send)
            done.set()

        group.start_soon(run)
        await done.wait()
        group.cancel_scope.cancel()
    return status, answer_headers, b"".join(chunks)


def _messages(headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[list[str], bool]:
    """The JSON-RPC messages (as JSON text) of one answer, and whether it came as an SSE stream."""
    kind = next((v for k, v in headers if k.lower() == b"content-type"), b"").decode("latin-1")
    if "text/event-stream" in kind:
        found = []
        for event in body.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
            if data:
                found.append(data)
        return found, True
    return ([body.decode("utf-8")] if body.strip() else []), False


async def _answer(send: Send, answers: list[tuple[int, list[tuple[bytes, bytes]], bytes]]) -> None:
    messages: list[str] = []
    streamed = False
    for _status, headers, body in answers:
        found, sse = _messages(headers, body)
        messages += found
        streamed = streamed or sse
    session: dict[bytes, tuple[bytes, bytes]] = {}
    for _, headers, _ in answers:
        for name, value in headers:
            if name.lower() in (b"mcp-session-id", b"mcp-protocol-version"):
                session.setdefault(name.lower(), (name, value))
    kept = list(session.values())
    if not messages:
        await send({"type": "http.response.start", "status": 202, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    if streamed:
        body = "".join(f"event: message\ndata: {m}\n\n" for m in messages).encode()
        kind = b"text/event-stream"
    else:
        body = ("[" + ",".join(messages) + "]").encode()
        kind = b"application/json"
    headers = [*kept, (b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""JSON-RPC on stdio where the SDK's stdio transport gives no answer: batches and unreadable lines.

The SDK's transport reads one message per line and drops, unanswered, a line it cannot read as one:
a JSON-RPC batch (an array, which protocol 2025-03-26 requires servers to accept), a line that is not
JSON, or JSON that is no JSON-RPC message. The client waits for ever. This layer sits between the
process's stdin/stdout and that transport: it hands the transport a batch's messages one per line and
joins their answers into one array, and answers what it cannot read with JSON-RPC's errors
(-32700 parse error, -32600 invalid request), as JSON-RPC 2.0 says a server must.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp_types as types

__all__ = ["Lines", "Wire", "claim_stdio"]


class Wire:
    """stdout as the SDK's transport writes it: answers to a batch's requests are held, then sent as one array."""

    def __init__(self, out: anyio.AsyncFile[str]) -> None:
        self._out = out
        self._lock = anyio.Lock()
        self._batches: list[tuple[set[Any], list[Any]]] = []  # (ids not answered yet, answers so far)

    def expect(self, ids: set[Any], answers: list[Any]) -> None:
        """A batch's requests were read: their answers go out together, after ``answers`` (its refusals)."""
        self._batches.append((ids, answers))

    async def write(self, text: str) -> None:
        if self._batches:  # only then is an outgoing message looked at
            message = json.loads(text)
            if isinstance(message, dict) and "method" not in message:
                for batch in self._batches:
                    ids, answers = batch
                    if message.get("id") in ids:
                        ids.discard(message.get("id"))
                        answers.append(message)
                        if not ids:
                            self._batches.remove(batch)
                            await self.send(answers)
                        return
        await self._line(text)

    async def flush(self) -> None:
        """Each line is flushed as it is written (:meth:`_line`)."""

    async def send(self, message: Any) -> None:
        await self._line(json.dumps(message, separators=(",", ":")))

    async def _line(self, text: str) -> None:
        async with self._lock:
            await self._out.write(text if text.endswith("\n") else text + "\n")
            await self._out.flush()


class Lines:
    """stdin as the SDK's transport reads it: one JSON-RPC message a line; what it would drop is answered here."""

    def __init__(self, source: anyio.AsyncFile[str], wire: Wire) -> None:
        self._source = source
        self._wire = wire

    async def __aiter__(self) -> AsyncIterator[str]:
        async for line in self._source:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                await self._wire.send(_error(None, types.PARSE_ERROR, "Parse error: not JSON"))
                continue
            if not isinstance(data, list):
                refused = _refusal(data)
                if refused is None:
                    yield line
                else:
                    await self._wire.send(refused)
                continue
            if not data:
                await self._wire.send(_error(None, types.INVALID_REQUEST, "Invalid Request: an empty batch"))
                continue
            refusals = [r for r in map(_refusal, data) if r is not None]
            good = [message for message in data if _refusal(message) is None]
            ids = {m["id"] for m in good if "method" in m and "id" in m}
            if ids:
                self._wire.expect(ids, refusals)
            elif refusals:  # no request to wait for; notifications and responses are never answered
                await self._wire.send(refusals)
            for message in good:
                yield json.dumps(message)


def _refusal(message: Any) -> dict[str, Any] | None:
    """The -32600 error for what is no JSON-RPC message (None if it is one).

    A null ``id`` too: MCP forbids it, and the SDK would take the request for a notification.
    """
    try:
        if isinstance(message, dict) and "method" in message and "id" in message and message["id"] is None:
            raise ValueError("a null id")
        types.jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValueError:
        found = message.get("id") if isinstance(message, dict) else None
        ident = found if isinstance(found, (str, int)) and not isinstance(found, bool) else None
        return _error(ident, types.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
    return None


def _error(ident: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}


def claim_stdio() -> tuple[anyio.AsyncFile[str], anyio.AsyncFile[str]]:
    """The wire's stdin and stdout, with fds 0 and 1 pointed away from it for the server's life.

    The SDK's transport does this itself only when it opens the standard streams, and this layer
    hands it its own: a stray print (ours or a library's) must land on stderr, not in the protocol.
    """
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    os.dup2(2, 1)
    reader = open(wire_in, encoding="utf-8", errors="replace", closefd=True)  # noqa: SIM115 - the server's life
    writer = open(wire_out, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    return anyio.wrap_file(reader), anyio.wrap_file(writer)

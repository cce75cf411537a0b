"""What a tool call does, without the MCP SDK: check the arguments, call the SDK, shape the answer.

The tools are the generated list (``_generated/tools.py``); each one calls its operation through the
``Discogs`` client, so the limiter, retries, typed errors and token masking are the SDK's own.
Output schemas are made from the generated Pydantic models at first use, and results are the same
models dumped to JSON (only the fields the server sent), so the two always agree.
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any

from .._runtime.core import cancel_when
from .._runtime.errors import APIError, InvalidParameterError, RateLimitError
from .._runtime.log import mask
from .._runtime.operations import OperationInfo, ToolInfo

__all__ = ["ERROR_META_KEY", "MAX_DOWNLOAD_CHARS", "Outcome", "Toolbox", "all_tools"]

ERROR_META_KEY = "musicagent/error"
"""Where a failed call's details (type, message, status, ...) go in the result's ``_meta``.

Not in ``structuredContent``: clients such as the TypeScript SDK's validate structured content
against the tool's output schema even when ``isError`` is set, and an error is not a release.
"""

MAX_DOWNLOAD_CHARS = 1_000_000
"""A downloaded CSV longer than this is cut (and says so): a tool answer lands in an agent's context."""


def all_tools() -> tuple[ToolInfo, ...]:
    from .._generated.tools import TOOLS

    return TOOLS


def _operations() -> dict[str, OperationInfo]:
    from .._generated.operations import OPERATIONS

    return {op.id: op for op in OPERATIONS}


@dataclass
class Outcome:
    """A tool's answer: the text for ``content``, JSON for ``structuredContent`` (or None) and,
    for a failure, the error's details for ``_meta``."""

    text: str
    structured: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def is_error(self) -> bool:
        return self.error is not None


@dataclass
class _Call:
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)


def _dump(value: Any) -> Any:
    """A model as the JSON Discogs sent (fields it left out stay out), ready for structuredContent."""
    return value.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def error_outcome(exc: BaseException) -> Outcome:
    """A failed call as a tool error: the exception's class and its (masked) message, never a traceback.
    It has no structured content: that must match the tool's output schema, which describes success."""
    kind = type(exc).__name__
    message = mask(" ".join(str(exc).split()) or kind)
    error: dict[str, Any] = {"type": kind, "message": message}
    if isinstance(exc, APIError):
        error["status"] = exc.status_code
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        error["retry_after"] = exc.retry_after
    if isinstance(exc, InvalidParameterError):
        error["parameter"] = exc.parameter
    return Outcome(text=f"{kind}: {message}", error=error)


class Toolbox:
    """The tools one server offers (reads, plus writes when allowed) and the means to call them."""

    def __init__(self, client: Any, *, allow_writes: bool = False) -> None:
        self.client = client
        self.allow_writes = allow_writes
        self._operations = _operations()
        self._all = {tool.name: tool for tool in all_tools()}
        self._output_schemas: dict[str, dict[str, Any] | None] = {}

    @cached_property
    def tools(self) -> list[ToolInfo]:
        return [t for t in self._all.values() if t.read_only or self.allow_writes]

    def offers(self, name: str) -> bool:
        """``name`` is one of :attr:`tools` (a write only with ``allow_writes``)."""
        tool = self._all.get(name)
        return tool is not None and (tool.read_only or self.allow_writes)

    def unknown(self, name: str) -> str:
        """What to tell a caller asking for a tool not offered (masked: a name is caller text)."""
        hint = " (a write: start the server with --allow-writes to offer it)" if name in self._all else ""
        return f"no tool named {mask(name)!r}{hint}"

    def output_schema(self, tool: ToolInfo) -> dict[str, Any] | None:
        """The JSON Schema of the tool's structured content, from the generated models (cached)."""
        if tool.name not in self._output_schemas:
            self._output_schemas[tool.name] = self._make_output_schema(tool)
        return self._output_schemas[tool.name]

    def _make_output_schema(self, tool: ToolInfo) -> dict[str, Any] | None:
        from .._generated import models

        op = self._operations[tool.operation]
        if tool.kind == "model" and op.model is not None:
            schema: dict[str, Any] = _untitled(getattr(models, op.model).model_json_schema(mode="serialization"))
            return schema
        if tool.kind == "page" and op.item_model is not None:
            item: dict[str, Any] = _untitled(getattr(models, op.item_model).model_json_schema(mode="serialization"))
            defs = item.pop("$defs", {})
            defs[op.item_model] = item
            return {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": f"#/$defs/{op.item_model}"}},
                    "pagination": _PAGINATION_SCHEMA,
                },
                "required": ["items", "pagination"],
                "$defs": defs,
            }
        if tool.kind == "download":
            return _DOWNLOAD_SCHEMA
        return None

    def call(self, name: str, arguments: dict[str, Any] | None, cancel: threading.Event | None = None) -> Outcome:
        """Run one tool to completion (blocking: the server calls it in a worker thread).

        Once ``cancel`` is set (the client cancelled the call), no further request is sent for it.
        """
        tool = self._all.get(name)
        if tool is None or not self.offers(name):
            return error_outcome(InvalidParameterError("name", self.unknown(name)))
        try:
            with cancel_when(cancel or threading.Event()):
                return self._call(tool, dict(arguments or {}))
        except Exception as exc:  # a DiscogsError, or a bug: either way the server keeps serving
            return error_outcome(exc)

    def _call(self, tool: ToolInfo, arguments: dict[str, Any]) -> Outcome:
        _check_arguments(tool, arguments)
        op = self._operations[tool.operation]
        method: Any = self.client
        for part in op.id.split("."):
            method = getattr(method, part)
        call = _Call()
        for param in op.params:
            if param.name not in arguments:
                continue
            value = arguments[param.name]
            if param.location == "file":
                value = str(value).encode("utf-8")
            if param.location == "path":
                call.args.append(value)
            else:
                call.kwargs[param.name] = value
        if tool.kind == "page":
            return self._page(tool, method, call, arguments)
        if tool.kind == "download":
            return self._download(method, call)
        result = method(*call.args, **call.kwargs)
        if result is None:
            return self._done(op)
        data = _dump(result)
        return Outcome(text=_text(data), structured=data)

    def _page(self, tool: ToolInfo, method: Any, call: _Call, arguments: dict[str, Any]) -> Outcome:
        """``limit`` items from ``offset`` on, fetched in as few pages as that takes."""
        properties = tool.input_schema["properties"]
        limit = int(arguments.get("limit", properties["limit"]["default"]))
        offset = int(arguments.get("offset", 0))
        per_page = min(100, limit)
        skip = offset % per_page
        page = method(*call.args, **call.kwargs, page=offset // per_page + 1, per_page=per_page, limit=skip + limit)
        items = [_dump(item) for item in islice(page, skip, skip + limit)]
        total = page.pagination.items
        more = len(items) == limit and offset + limit < total
        pagination = {
            "offset": offset,
            "limit": limit,
            "returned": len(items),
            "total": total,
            "next_offset": offset + limit if more else None,
        }
        data = {"items": items, "pagination": pagination}
        return Outcome(text=_text(data), structured=data)

    def _download(self, method: Any, call: _Call) -> Outcome:
        with tempfile.TemporaryDirectory(prefix="musicagent-mcp-") as tmp:
            path = Path(method(*call.args, Path(tmp) / "download.csv", **call.kwargs))
            raw = path.read_bytes()
        text = raw.decode("utf-8", "replace")
        kept = text[:MAX_DOWNLOAD_CHARS]
        truncated = len(kept) < len(text)
        data = {"text": kept, "bytes": len(raw), "truncated": truncated}
        note = f"\n[cut at {MAX_DOWNLOAD_CHARS} characters of {len(text)}]" if truncated else ""
        return Outcome(text=kept + note, structured=data)

    def _done(self, op: OperationInfo) -> Outcome:
        """No body: say what happened, and where the new thing is when Discogs said (``Location``)."""
        last = self.client.last_response
        data: dict[str, Any] = {"done": True, "status": last.status if last is not None else None}
        location = last.headers.get("Location") if last is not None else None
        if location:
            data["location"] = mask(location)
        return Outcome(text=f"done: {op.method} {op.path} -> {_text(data)}", structured=data)


_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_DATA = ("default", "examples", "enum", "const")


def _untitled(schema: Any) -> Any:
    """The schema without Pydantic's ``title`` keywords ("Id", "Title"...): they repeat the property
    names and make up a sixth of every tool listing, which an agent reads."""
    if isinstance(schema, list):
        return [_untitled(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _untitled(sub) for name, sub in value.items()}
        elif key == "title" and isinstance(value, str):
            continue
        else:
            out[key] = value if key in _DATA else _untitled(value)
    return out


def _check_arguments(tool: ToolInfo, arguments: dict[str, Any]) -> None:
    """Hold the arguments to the tool's input schema, naming the first argument that breaks it."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(tool.input_schema).iter_errors(arguments), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    where = ".".join(str(p) for p in error.absolute_path)
    if not where and error.validator == "required":
        missing = [name for name in tool.input_schema.get("required", ()) if name not in arguments]
        raise InvalidParameterError(missing[0] if missing else "arguments", "is required")
    if not where and error.validator == "additionalProperties":
        unexpected = sorted(set(arguments) - set(tool.input_schema["properties"]))
        where = unexpected[0] if unexpected else "arguments"
        allowed = ", ".join(tool.input_schema["properties"]) or "none"
        raise InvalidParameterError(where, f"{tool.name} takes no argument {where!r} (it takes: {allowed})")
    raise InvalidParameterError(where or "arguments", error.message)


_PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "offset": {"type": "integer", "description": "How many items were skipped."},
        "limit": {"type": "integer", "description": "How many items were asked for."},
        "returned": {"type": "integer", "description": "How many items are in `items`."},
        "total": {"type": "integer", "description": "How many items Discogs counts in the whole list."},
        "next_offset": {
            "type": ["integer", "null"],
            "description": "The offset that continues the list, or null when this is its end.",
        },
    },
    "required": ["offset", "limit", "returned", "total", "next_offset"],
}

_DOWNLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "The file's content (UTF-8)."},
        "bytes": {"type": "integer", "description": "The file's size in bytes."},
        "truncated": {"type": "boolean", "description": f"Whether text was cut at {MAX_DOWNLOAD_CHARS} characters."},
    },
    "required": ["text", "bytes", "truncated"],
}

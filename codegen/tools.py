"""MCP tool definitions from the spec: one per operation, for ``_generated/tools.py``.

Input schemas are the operations' own parameter schemas (``$ref`` resolved, OpenAPI-only keys
dropped), so types, enums, bounds and required-ness come from the spec alone. A paginated
operation trades ``page``/``per_page`` for ``limit``/``offset``: an agent asks for a bounded slice
of items and continues from ``next_offset``, never holding more than ``MAX_LIMIT`` items at once.
Output schemas are not written here: the server derives them from the generated models at run
time, so they follow the models exactly.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import Operation, Param, Spec, SpecError

if TYPE_CHECKING:
    from musicagent._runtime.operations import ToolInfo

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "tools"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
SKIPPED_KINDS = ("form",)
"""The OAuth token steps answer with secrets and only make sense inside ``musicagent login``."""

_KEYWORDS = (
    "type",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "default",
)
_PAGE_PARAMS = ("page", "per_page")


_OPERATIONS_FILE = Path(__file__).resolve().parents[1] / "src" / "musicagent" / "_runtime" / "operations.py"


def _tool_info() -> type[ToolInfo]:
    """The SDK's own ``ToolInfo``, loaded from its file: importing the package would import the
    generated code this run is about to replace (and fail when that code is stale)."""
    name = "_musicagent_codegen_operations"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, _OPERATIONS_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while building the class
        spec.loader.exec_module(module)
    tool_info: type[ToolInfo] = module.ToolInfo
    return tool_info


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _schema(document: dict[str, Any], node: Any) -> dict[str, Any]:
    """A self-contained JSON Schema of one parameter: references inlined, keys in a fixed order."""
    node = _resolve(document, node)
    out: dict[str, Any] = {}
    for key in _KEYWORDS:
        if key in node:
            out[key] = list(node[key]) if key == "enum" else node[key]
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        out["anyOf"] = [_schema(document, a) for a in alternatives]
    return out


def _property(document: dict[str, Any], param: Param) -> dict[str, Any]:
    if param.location == "file":
        text = f"{param.description} Give the file's content as text (CSV)."
        return {"type": "string", "minLength": 1, "description": text.strip()}
    out = _schema(document, param.raw_schema)
    if param.description:
        out["description"] = param.description
    return out


def _description(op: Operation) -> str:
    parts = [op.summary]
    if op.description and op.description != op.summary:
        parts.append(" ".join(op.description.split()))
    if op.auth == "user":
        parts.append("Needs the user's Discogs token (or OAuth access tokens).")
    elif op.auth == "any":
        parts.append("Needs Discogs credentials (a token, or a consumer key and secret).")
    if op.kind == "page":
        parts.append(
            f"Returns at most `limit` items (default {DEFAULT_LIMIT}, maximum {MAX_LIMIT}) and `pagination`;"
            " call again with `offset` set to `pagination.next_offset` for more (null when there is no more)."
        )
    if op.kind == "download":
        parts.append("Returns the file's text.")
    return "\n\n".join(parts)


def _input_schema(document: dict[str, Any], op: Operation) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in op.path_params + op.keyword_params:
        if op.kind == "page" and param.name in _PAGE_PARAMS:
            continue
        properties[param.name] = _property(document, param)
        if param.required:
            required.append(param.name)
    if op.kind == "page":
        for name in ("limit", "offset"):
            if name in properties:
                raise SpecError(f"{op.id}: a paginated operation cannot have a parameter named {name!r}")
        properties["limit"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
            "description": f"How many items to return (default {DEFAULT_LIMIT}, maximum {MAX_LIMIT}).",
        }
        properties["offset"] = {
            "type": "integer",
            "minimum": 0,
            "default": 0,
            "description": "How many items to skip: 0, or a previous call's pagination.next_offset.",
        }
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


# Operations (by their name in the spec's operationId) that only add: a new folder, listing, want, ...
ADDITIVE_NAMES = frozenset({"create", "add", "add_release"})


def tools(spec: Spec) -> list[ToolInfo]:
    """Every operation but the OAuth token steps, sorted by name."""
    tool_info = _tool_info()
    out: list[ToolInfo] = []
    for op in sorted(spec.operations, key=lambda o: o.id):
        if op.kind in SKIPPED_KINDS:
            continue
        read_only = op.method in ("GET", "HEAD")
        # MCP's destructiveHint: false only for "additive updates". Deletes are destructive, and so
        # are updates: they overwrite what was there (a price, a rating, an order's status).
        additive = op.name in ADDITIVE_NAMES and op.method != "DELETE"
        out.append(
            tool_info(
                name=op.id.replace(".", "_"),
                operation=op.id,
                kind=op.kind,
                title=op.summary.rstrip("."),
                description=_description(op),
                input_schema=_input_schema(spec.document, op),
                read_only=read_only,
                destructive=not read_only and not additive,
                idempotent=read_only or op.method in ("PUT", "DELETE") or op.name in ("update", "set", "delete"),
            )
        )
    names = [t.name for t in out]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise SpecError(f"operationIds {clashes} give the same MCP tool name")
    return out

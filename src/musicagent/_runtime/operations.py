"""Shapes of the generated operation registry (CLI, docs, mock server) and MCP tool list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["OperationInfo", "ParamInfo", "ToolInfo"]


@dataclass(frozen=True)
class ParamInfo:
    name: str
    wire: str
    location: str  # path | query | body | file
    required: bool
    type: str  # integer | number | string | boolean
    choices: tuple[str, ...] = ()
    description: str = ""
    positional: bool = False  # the CLI also takes it as a positional argument (x-musicagent-cli-positional)


@dataclass(frozen=True)
class OperationInfo:
    id: str
    method: str
    path: str
    kind: str  # model | none | page | form | download
    summary: str
    params: tuple[ParamInfo, ...]
    model: str | None = None
    item_model: str | None = None
    auth: str = "none"
    schemes: tuple[str, ...] = ()  # security schemes from the spec; "" means anonymous calls are allowed
    body_model: str | None = None  # the generated model of the JSON request body, if any
    page_cap: int | None = None  # pages past this may be refused (x-musicagent-page-cap)
    # x-musicagent-cache: seconds a GET answer may be served from a cache (0: never; None: the spec
    # says nothing), and path prefixes a successful write makes stale beyond its own path and those above.
    cache_ttl: float | None = None
    cache_invalidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolInfo:
    """One MCP tool (``musicagent mcp``): an operation with the JSON Schema of its arguments."""

    name: str
    operation: str  # the OperationInfo.id it calls
    kind: str  # as OperationInfo.kind; "page" tools take limit/offset instead of page/per_page
    title: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    destructive: bool
    idempotent: bool

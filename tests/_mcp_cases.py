"""What the MCP tests share: the read and write tool names, and every recorded read as a tool call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from musicagent._generated.operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[1]
READS = {op.id.replace(".", "_") for op in OPERATIONS if op.method == "GET" and op.kind != "form"}
WRITES = {op.id.replace(".", "_") for op in OPERATIONS if op.method != "GET" and op.kind != "form"}


def recorded_reads() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(tool, cassette, arguments) for every recorded 200 answer of a read operation, arguments taken from
    the recorded URL (a page tool starts at offset 0, so recordings of later pages alone are left out)."""
    convert = {"integer": int, "number": float, "string": str, "boolean": lambda v: v == "true"}
    for op in OPERATIONS:
        if op.method != "GET" or op.kind == "form":
            continue
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", op.path) + "$")
        for cassette in sorted((ROOT / "cassettes" / op.id).glob("*.yaml")):
            interaction = yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"][0]
            if interaction["response"]["status"]["code"] != 200:
                continue
            url = urlsplit(interaction["request"]["uri"])
            query = dict(parse_qsl(url.query))
            if op.kind == "page" and query.get("page", "1") != "1":
                continue
            found = pattern.match(unquote(url.path))
            assert found is not None, cassette
            arguments: dict[str, Any] = {}
            for param in op.params:
                raw = found.group(param.wire) if param.location == "path" else query.get(param.wire)
                skip = op.kind == "page" and param.name in ("page", "per_page")
                if raw is not None and not skip:
                    arguments[param.name] = convert[param.type](raw)
            yield op.id.replace(".", "_"), cassette.name, arguments


def recorded_writes() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(tool, cassette, arguments) for every recorded 2xx answer of a write that answers with a model,
    arguments taken from the recorded URL and JSON body (by each parameter's wire name)."""
    import json

    for op in OPERATIONS:
        if op.method == "GET" or op.kind != "model":
            continue
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", op.path) + "$")
        for cassette in sorted((ROOT / "cassettes" / op.id).glob("*.yaml")):
            interaction = yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"][0]
            if interaction["response"]["status"]["code"] >= 300:
                continue
            url = urlsplit(interaction["request"]["uri"])
            query = dict(parse_qsl(url.query))
            raw_body = interaction["request"].get("body") or "{}"
            body = json.loads(raw_body if isinstance(raw_body, str) else raw_body.get("string", "{}"))
            found = pattern.match(unquote(url.path))
            assert found is not None, cassette
            arguments: dict[str, Any] = {}
            for param in op.params:
                if param.location == "path":
                    value: Any = found.group(param.wire)
                    arguments[param.name] = int(value) if param.type == "integer" else value
                elif param.location == "query" and param.wire in query:
                    arguments[param.name] = query[param.wire]
                elif param.location == "body" and param.wire in body:
                    arguments[param.name] = body[param.wire]
            yield op.id.replace(".", "_"), cassette.name, arguments

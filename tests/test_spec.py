"""Keep spec/discogs.yaml honest.

1. The document is valid OpenAPI 3.1.
2. It follows spec/CONVENTIONS.md (the rules the code generator relies on).
3. Every real Discogs body in ../shared/realdata whose (method, path) is an operation of the spec
   validates against that operation's success schema, or against ``Error`` for error bodies.

The realdata folder is ``<repo>/../shared/realdata``; set MUSICAGENT_REALDATA to use another one.
"""

from __future__ import annotations

import csv
import json
import keyword
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO / "spec" / "discogs.yaml"
REALDATA = Path(os.environ.get("MUSICAGENT_REALDATA") or Path(__file__).resolve().parents[2] / "shared" / "realdata")
MANIFEST = REALDATA / "MANIFEST.tsv"
SPEC_URI = "urn:musicagent:spec"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SEGMENT = re.compile(r"^[a-z][a-z0-9_]*$")
PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
SCHEMA_PREFIX = "#/components/schemas/"


# ---------------------------------------------------------------------------------------------
# loading


@cache
def spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) for every operation of the spec."""
    for path, item in spec()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (components/parameters, responses, schemas)."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are used: {ref}"
        target: Any = spec()
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def all_parameters(path: str, op: dict[str, Any]) -> list[dict[str, Any]]:
    """Path-level parameters, overridden by operation-level ones with the same name and location."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for p in [*spec()["paths"][path].get("parameters", []), *op.get("parameters", [])]:
        resolved = resolve(p)
        merged[(resolved["name"], resolved["in"])] = resolved
    return list(merged.values())


def success(op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The first success response of an operation that has a body."""
    for code in ("200", "201"):
        if code in op["responses"]:
            return code, resolve(op["responses"][code])
    return None


@cache
def registry() -> Registry:
    resource = Resource.from_contents(spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def validator_for(ref: str) -> Draft202012Validator:
    """A validator for a `#/components/...` reference, resolving against the whole spec."""
    assert ref.startswith("#/"), ref
    return Draft202012Validator({"$ref": SPEC_URI + ref}, registry=registry())


def errors_of(ref: str, body: Any) -> list[str]:
    errors = sorted(validator_for(ref).iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:20]]


# ---------------------------------------------------------------------------------------------
# 1. the document


def test_spec_is_valid_openapi_31() -> None:
    assert spec()["openapi"].startswith("3.1")
    validate_openapi(spec())


# ---------------------------------------------------------------------------------------------
# 2. the conventions


def test_operation_ids_follow_the_conventions() -> None:
    seen: dict[str, str] = {}
    problems = []
    for method, path, op in operations():
        where = f"{method} {path}"
        op_id = op.get("operationId")
        if not op_id:
            problems.append(f"{where}: no operationId")
            continue
        for seg in op_id.split("."):
            if not SEGMENT.match(seg) or keyword.iskeyword(seg):
                problems.append(f"{where}: segment {seg!r} of {op_id!r} is not a snake_case identifier")
        if op_id in seen:
            problems.append(f"{where}: operationId {op_id!r} also used by {seen[op_id]}")
        seen[op_id] = where
        summary = op.get("summary", "")
        if not summary.strip() or "\n" in summary.strip():
            problems.append(f"{where}: summary must be one non-empty line")
    # a method name may not also be a resource group (`releases.rating` vs `releases.rating.get`)
    groups = {".".join(i.split(".")[:n]) for i in seen for n in range(1, i.count(".") + 1)}
    problems += [f"{i!r} is both a method and a resource group" for i in seen if i in groups]
    assert not problems, "\n".join(problems)


def test_parameters_follow_the_conventions() -> None:
    problems = []
    for method, path, op in operations():
        where = f"{method} {path}"
        params = all_parameters(path, op)
        path_names = [p["name"] for p in params if p["in"] == "path"]
        if path_names != re.findall(r"{([^}]+)}", path):
            problems.append(f"{where}: path parameters {path_names} are not in path order")
        for p in params:
            schema = p.get("schema", {})
            if p["in"] == "path":
                if schema.get("type") == "integer" and not isinstance(schema.get("minimum"), int):
                    problems.append(f"{where}: integer id {p['name']} needs a minimum (1, or 0 where 0 exists)")
                if schema.get("type") == "number" and "minimum" not in schema and "exclusiveMinimum" not in schema:
                    problems.append(f"{where}: number path parameter {p['name']} needs a lower bound")
                if schema.get("type") == "string" and schema.get("minLength") != 1:
                    problems.append(f"{where}: string path parameter {p['name']} needs minLength: 1")
                if schema.get("type") not in ("integer", "string", "number") and "$ref" not in schema:
                    problems.append(f"{where}: path parameter {p['name']} must be integer, number or string")
            if "enum" in schema:
                problems.append(f"{where}: {p['name']} has an inline enum; $ref a named enum schema")
            if "$ref" in schema:
                target = resolve(schema)
                if "enum" in target and target.get("type") != "string":
                    problems.append(f"{where}: {p['name']} enum must be a string enum")
            if p["name"] == "per_page" and (schema.get("minimum"), schema.get("maximum")) != (1, 100):
                problems.append(f"{where}: per_page must be 1..100")
    assert not problems, "\n".join(problems)


def test_responses_follow_the_conventions() -> None:
    problems = []
    for method, path, op in operations():
        where = f"{method} {path}"
        responses = op.get("responses", {})
        ok = [c for c in responses if c.startswith("2")]
        if not ok:
            problems.append(f"{where}: no success response")
        for code, response in responses.items():
            if code.startswith("2"):
                content = resolve(response).get("content")
                if code == "204":
                    if content:
                        problems.append(f"{where}: 204 must have no content")
                    continue
                if not content:  # the method returns None (e.g. a job started, its URL in Location)
                    continue
                for media, body in content.items():
                    ref = body.get("schema", {}).get("$ref", "")
                    if media == "application/json" and not ref.startswith(SCHEMA_PREFIX):
                        problems.append(f"{where}: {code} {media} schema must be a $ref to a named schema")
            else:
                ref = response.get("$ref", "")
                if not ref.startswith("#/components/responses/"):
                    problems.append(f"{where}: error {code} must reference #/components/responses/...")
        for code in ("429", "500"):
            if code not in responses:
                problems.append(f"{where}: no {code} response")
        body = op.get("requestBody")
        if body:
            for media, content in resolve(body)["content"].items():
                ref = content.get("schema", {}).get("$ref", "")
                if media == "application/json" and not (
                    ref.startswith(SCHEMA_PREFIX) and resolve(content["schema"]).get("type") == "object"
                ):
                    problems.append(f"{where}: JSON request body must $ref a named object schema")
    assert not problems, "\n".join(problems)


def test_paginated_operations_follow_the_conventions() -> None:
    problems = []
    for method, path, op in operations():
        where = f"{method} {path}"
        names = {p["name"] for p in all_parameters(path, op)}
        marker = op.get("x-musicagent-pagination")
        if marker is False:  # takes page/per_page but its body is not one list (users.submissions)
            continue
        if marker is None:
            if {"page", "per_page"} <= names:
                problems.append(f"{where}: takes page/per_page but has no x-musicagent-pagination")
            continue
        if not {"page", "per_page"} <= names:
            problems.append(f"{where}: paginated but does not take page and per_page")
        found = success(op)
        if found is None:
            problems.append(f"{where}: paginated but has no success body")
            continue
        schema = resolve(found[1]["content"]["application/json"]["schema"])
        props = schema.get("properties", {})
        if props.get("pagination", {}).get("$ref") != SCHEMA_PREFIX + "Pagination":
            problems.append(f"{where}: response has no `pagination: $ref Pagination`")
        items = props.get(marker.get("items", ""), {})
        if items.get("type") != "array" or not items.get("items", {}).get("$ref", "").startswith(SCHEMA_PREFIX):
            problems.append(f"{where}: {marker!r} must name an array whose items $ref a named schema")
        if not {"pagination", marker.get("items")} <= set(schema.get("required", [])):
            problems.append(f"{where}: pagination and the items array must be required")
    assert not problems, "\n".join(problems)


def _walk(node: Any, trail: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (trail, subschema) of a schema, without following $ref."""
    if isinstance(node, dict):
        yield trail, node
        for key in ("properties", "patternProperties", "$defs"):
            for name, sub in node.get(key, {}).items():
                yield from _walk(sub, f"{trail}.{name}")
        for key in ("items", "additionalProperties", "not", "contains", "if", "then", "else"):
            if isinstance(node.get(key), dict):
                yield from _walk(node[key], f"{trail}[{key}]")
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for i, sub in enumerate(node.get(key, [])):
                yield from _walk(sub, f"{trail}[{key}{i}]")


def _response_schema_names() -> set[str]:
    """Names of the component schemas reachable from any response."""
    roots: list[str] = []
    for _, _, op in operations():
        for response in op.get("responses", {}).values():
            for content in resolve(response).get("content", {}).values():
                roots += _refs(content.get("schema", {}))
    for response in spec()["components"].get("responses", {}).values():
        for content in response.get("content", {}).values():
            roots += _refs(content.get("schema", {}))
    seen: set[str] = set()
    while roots:
        name = roots.pop()
        if name not in seen:
            seen.add(name)
            roots += _refs(spec()["components"]["schemas"][name])
    return seen


def _refs(schema: Any) -> list[str]:
    return [
        sub["$ref"][len(SCHEMA_PREFIX) :]
        for _, sub in _walk(schema, "")
        if sub.get("$ref", "").startswith(SCHEMA_PREFIX)
    ]


def test_schemas_follow_the_conventions() -> None:
    schemas = spec()["components"]["schemas"]
    problems = [f"schema name {n!r} is not PascalCase" for n in schemas if not PASCAL.match(n)]
    for name, schema in schemas.items():
        for trail, sub in _walk(schema, name):
            if trail != name and "properties" in sub:
                problems.append(f"{trail}: inline object with properties; give it a named schema")
            if sub.get("format") == "uri":
                problems.append(f"{trail}: URLs are plain strings (no format: uri)")
            for ref in [sub["$ref"]] if "$ref" in sub else []:
                if ref.startswith(SCHEMA_PREFIX) and ref[len(SCHEMA_PREFIX) :] not in schemas:
                    problems.append(f"{trail}: dangling $ref {ref}")
        for prop in schema.get("required", []):
            if prop not in schema.get("properties", {}):
                problems.append(f"{name}: required {prop!r} is not a property")
    for name in sorted(_response_schema_names()):
        for trail, sub in _walk(schemas[name], name):
            if "enum" in sub or "const" in sub:
                problems.append(f"{trail}: enum/const in a response schema")
            if sub.get("additionalProperties") is False:
                problems.append(f"{trail}: additionalProperties: false in a response schema")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# 3. real bodies


def _manifest_rows() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _operation(method: str, path: str) -> dict[str, Any] | None:
    return spec()["paths"].get(path, {}).get(method.lower())


ROWS = _manifest_rows()
NO_REALDATA = pytest.mark.skip(reason=f"realdata folder not found: {MANIFEST} (set MUSICAGENT_REALDATA)")
COVERED = [r for r in ROWS if _operation(r["method"], r["path_template"]) is not None]
UNCOVERED = [r for r in ROWS if _operation(r["method"], r["path_template"]) is None]


def _is_error_body(row: dict[str, str], body: Any) -> bool:
    return "error body" in row["notes"] or (isinstance(body, dict) and set(body) == {"message"})


@pytest.mark.parametrize(
    "row",
    [pytest.param(r, id=r["file"]) for r in COVERED] or [pytest.param(None, id="realdata", marks=NO_REALDATA)],
)
def test_real_body_validates(row: dict[str, str]) -> None:
    op = _operation(row["method"], row["path_template"])
    assert op is not None
    with (REALDATA / row["file"]).open(encoding="utf-8") as f:
        body = json.load(f)
    where = f"{row['method']} {row['path_template']} ({row['class']})"
    if _is_error_body(row, body):
        status = re.search(r"HTTP (\d{3})", row["notes"])
        if status:
            assert status.group(1) in op["responses"], f"{where}: status {status.group(1)} is not declared"
        ref = SCHEMA_PREFIX + "Error"
    else:
        found = success(op)
        assert found is not None, f"{where}: no 200/201 response to validate against"
        ref = found[1]["content"]["application/json"]["schema"]["$ref"]
    problems = errors_of(ref, body)
    assert not problems, f"{row['file']} is not a valid {ref} for {where}:\n" + "\n".join(problems)


@pytest.mark.skipif(not ROWS, reason=f"realdata folder not found: {MANIFEST} (set MUSICAGENT_REALDATA)")
def test_real_bodies_of_operations_not_in_the_spec() -> None:
    """Bodies whose operation is not (yet) in the spec are listed, not silently ignored."""
    if UNCOVERED:
        by_op: dict[str, int] = {}
        for r in UNCOVERED:
            key = f"{r['method']} {r['path_template']}"
            by_op[key] = by_op.get(key, 0) + 1
        listing = "; ".join(f"{k} ({n})" for k, n in sorted(by_op.items()))
        pytest.skip(f"{len(UNCOVERED)} real bodies belong to operations not in the spec yet: {listing}")

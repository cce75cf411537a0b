"""Keep spec/discogs.yaml honest.

1. The document is valid OpenAPI 3.1.
2. It follows spec/CONVENTIONS.md (the rules the code generator relies on).
3. Every real Discogs body in ../shared/realdata whose (method, path) is an operation of the spec
   validates against that operation's success schema, or against ``Error`` for error bodies.
   Documentation examples (class DOCS-EXAMPLE) are checked the same way except for ``required``: the
   2014 examples leave out fields every live body has (an artist's ``name``), and ``required`` is
   decided by live bodies (spec/CONVENTIONS.md).
4. No body, real or documentation example (realdata and ``tools/cassettes/docs-bodies``), has a key the
   spec does not declare: parsed by the SDK's models, ``model_extra`` is empty at every depth.

The realdata folder is ``<repo>/../shared/realdata``; set MUSICAGENT_REALDATA to use another one.
``tests/data/realbodies`` holds more real bodies, ones we may redistribute (its README names each source
and licence), in the same manifest format; they are checked exactly like realdata's and never skipped.
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
from jsonschema import Draft202012Validator, validators
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO / "spec" / "discogs.yaml"
REALDATA = Path(os.environ.get("MUSICAGENT_REALDATA") or Path(__file__).resolve().parents[2] / "shared" / "realdata")
MANIFEST = REALDATA / "MANIFEST.tsv"
REPO_BODIES = REPO / "tests" / "data" / "realbodies"
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


def _object_or_empty_array(checker: Any, instance: Any) -> bool:
    return isinstance(instance, dict) or (isinstance(instance, list) and not instance)


# Discogs writes an empty object as an empty array (`"urls": []`, a price-suggestions body `[]`)
# anywhere, and the models read it as the empty object it is (_runtime/shapes.py): the spec declares
# objects only, and bodies are checked with `[]` counting as an empty object.
Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("object", _object_or_empty_array),
)


@cache
def registry() -> Registry:
    resource = Resource.from_contents(spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def validator_for(ref: str) -> Any:
    """A validator for a `#/components/...` reference, resolving against the whole spec."""
    assert ref.startswith("#/"), ref
    return Validator({"$ref": SPEC_URI + ref}, registry=registry())


def errors_of(ref: str, body: Any, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """Validation errors of `body` against `ref`, leaving out the JSON Schema keywords in `ignore`."""
    errors = [e for e in validator_for(ref).iter_errors(body) if e.validator not in ignore]
    errors.sort(key=lambda e: list(e.absolute_path))
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


# Pages whose `pagination` is not required, each with why (the SDK's pages cope without it: the
# answer is then the only page). An entry needs evidence that Discogs may leave it out.
PAGINATION_MAY_BE_ABSENT = {
    "OrderMessagesPage": "no live capture has been published, and a public client's fixture has none",
}


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
        name = found[1]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        required = {marker.get("items")} | (set() if name in PAGINATION_MAY_BE_ABSENT else {"pagination"})
        if not required <= set(schema.get("required", [])):
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


# Names a response schema may require, each with why. A required field that a real answer lacks
# fails the whole call (ResponseValidationError), so a new name here needs live evidence that
# every answer has it and a reason code depends on it (spec/CONVENTIONS.md). `resource_url` is not
# one: the id identifies, and real answers send it empty (Various, ID 194, in contributions).
REQUIRED_MAY_BE = {
    "id": "identifies the object; every live body has it",
    "name": "identifies an artist, label, company, format or field; every live body has it",
    "title": "identifies a release, master or track; every live body has it",
    "username": "identifies a user; every live body has it",
    "type": "says what a search result or an identifier is; without it the rest cannot be read",
    "value": "is what an identifier or a filter value is",
    "position": "places a track; every live tracklist entry has it, empty for headings",
    "uri": "is the video",
    "rating": "is the answer of the rating endpoints",
    "release_id": "says which release a community rating is of",
    "average": "is the community rating (with count)",
    "count": "is the community rating (with average)",
    "instance_id": "identifies a copy in a collection",
    "field_id": "says which notes field a value belongs to",
    "listing_id": "is the answer of creating a listing",
    "oauth_token": "is the answer of the OAuth token steps",
    "pagination": "a page's figures (see PAGINATION_MAY_BE_ABSENT)",
}


def test_response_schemas_require_only_identifying_fields() -> None:
    """`required` stays the short list above (plus each page's items array): anything else Discogs may omit."""
    item_arrays = {
        op["x-musicagent-pagination"]["items"] for _, _, op in operations() if op.get("x-musicagent-pagination")
    }
    problems = [
        f"{name}.{prop}"
        for name in sorted(_response_schema_names())
        for prop in spec()["components"]["schemas"][name].get("required", [])
        if prop not in REQUIRED_MAY_BE and prop not in item_arrays | {"submissions"}
    ]
    assert not problems, "required but not an identifying field: " + ", ".join(problems)
    checked = sum(len(spec()["components"]["schemas"][n].get("required", [])) for n in _response_schema_names())
    assert checked > 100


def test_pages_whose_answer_lacks_figures_or_pagination_still_parse_and_iterate() -> None:
    """The relaxed `required` lists in use: a real inventory page without `pages`, and an order's
    messages without `pagination`, parse, and the SDK's pages read them as what they are."""
    from musicagent._runtime.pagination import Page
    from musicagent.models import InventoryPage, OrderMessagesPage

    def no_fetch(number: int) -> Page[Any]:
        raise AssertionError(f"page {number} must not be fetched")

    raw = json.loads((REPO_BODIES / "brotherlogic__godiscogs" / INVENTORY_PAGE).read_text(encoding="utf-8"))
    del raw["pagination"]["pages"]
    page: Page[Any] = Page(InventoryPage.model_validate(raw), "listings", no_fetch, page_number=4)
    assert page.body.pagination.pages is None and len(page.items) == len(raw["listings"]) > 0
    assert page.pagination.pages == 4 and not page.has_next_page()  # the page's own number stands in

    messages = OrderMessagesPage.model_validate({"messages": [{"subject": "s", "message": "m", "type": "message"}]})
    assert messages.pagination is None
    one: Page[Any] = Page(messages, "messages", no_fetch)
    assert [m.subject for m in one] == ["s"] and one.pagination.pages == 1


INVENTORY_PAGE = "users_brotherlogic_inventory_status=For_Sale_per_page=100_page=4.json"


# ---------------------------------------------------------------------------------------------
# 3. real bodies


def _read_manifest(manifest: Path) -> list[dict[str, str]]:
    """The rows of a manifest, each with `root` (its folder) and `path` (the body's file)."""
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        row["root"] = str(manifest.parent)
        row["path"] = str(manifest.parent / row["file"])
        if manifest.parent == REPO_BODIES:  # test ids say which folder a body is in
            row["file"] = f"realbodies/{row['file']}"
    return rows


def _manifest_rows() -> list[dict[str, str]]:
    return _read_manifest(MANIFEST) + _read_manifest(REPO_BODIES / "MANIFEST.tsv")


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
    with Path(row["path"]).open(encoding="utf-8") as f:
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
    problems = errors_of(ref, body, ignore=("required",) if row["class"] == "DOCS-EXAMPLE" else ())
    assert not problems, f"{row['file']} is not a valid {ref} for {where}:\n" + "\n".join(problems)


# (method, path template) of real bodies whose operation the spec leaves out on purpose, each with
# why. Empty: every operation realdata has answers for is in the spec. An entry needs a reason a
# reviewer accepts (e.g. an endpoint Discogs has withdrawn), not "not done yet".
NOT_IN_THE_SPEC_ON_PURPOSE: dict[tuple[str, str], str] = {}


@pytest.mark.skipif(not ROWS, reason=f"realdata folder not found: {MANIFEST} (set MUSICAGENT_REALDATA)")
def test_every_real_body_belongs_to_an_operation_of_the_spec() -> None:
    """A real answer whose operation the spec lacks is an operation the SDK cannot call: fail, naming it."""
    missing = sorted({(r["method"], r["path_template"]) for r in UNCOVERED} - NOT_IN_THE_SPEC_ON_PURPOSE.keys())
    assert not missing, "real bodies of operations not in the spec: " + "; ".join(f"{m} {p}" for m, p in missing)
    stale = sorted(NOT_IN_THE_SPEC_ON_PURPOSE.keys() - {(r["method"], r["path_template"]) for r in UNCOVERED})
    assert not stale, f"allowed as not in the spec, but the spec has them (drop them from the list): {stale}"


def test_every_body_in_the_repository_is_listed_and_checked() -> None:
    """tests/data/realbodies cannot pass vacuously: every file is a manifest row of an operation of the
    spec (so both tests above and the key check below run on it), and its README credits each source."""
    rows = _read_manifest(REPO_BODIES / "MANIFEST.tsv")
    on_disk = sorted(p.relative_to(REPO_BODIES).as_posix() for p in REPO_BODIES.rglob("*.json"))
    assert sorted(Path(r["path"]).relative_to(REPO_BODIES).as_posix() for r in rows) == on_disk
    assert len(on_disk) >= 83
    covered = {r["path"] for r in COVERED}
    assert [r["file"] for r in rows if r["path"] not in covered] == []
    assert all(r["class"] in ("REAL-RECORDED", "REAL-FULL", "REAL-MODIFIED") for r in rows)
    readme = (REPO_BODIES / "README.md").read_text(encoding="utf-8")
    assert [f"{r['source_repo']} ({r['licence']})" for r in rows if r["source_repo"] not in readme] == []
    assert [r["licence"] for r in rows if r["licence"] not in readme] == []


# ---------------------------------------------------------------------------------------------
# 4. every key of every body is declared


CASSETTE_TOOLS = REPO / "tools" / "cassettes"
DOCS_BODIES = CASSETTE_TOOLS / "docs-bodies"


def _docs_body_rows() -> list[dict[str, str]]:
    """The documentation examples in tools/cassettes/docs-bodies, with the operation each one answers."""
    from musicagent._generated.operations import OPERATIONS

    by_id = {op.id: op for op in OPERATIONS}
    index = json.loads((CASSETTE_TOOLS / "index.json").read_text(encoding="utf-8"))
    rows: dict[str, dict[str, str]] = {}
    for cassette in index["cassettes"]:
        for interaction in cassette["interactions"]:
            name = interaction.get("file") or ""
            if interaction.get("body_from") == "docs-bodies" and name.endswith(".json"):
                op = by_id[cassette["operation"]]
                rows[name] = {"file": name, "class": "DOCS-EXAMPLE", "method": op.method, "path_template": op.path}
    return [rows[k] for k in sorted(rows)]


def _body_rows() -> list[tuple[dict[str, str], Path]]:
    """Every success body we have: realdata's (not error bodies, not fragments of a body) and the docs'."""
    rows = []
    for r in COVERED:
        body = json.loads(Path(r["path"]).read_text(encoding="utf-8"))
        # a FRAGMENT row holds one element of a body's array, not an answer of the operation
        if not _is_error_body(r, body) and "FRAGMENT" not in r["notes"]:
            rows.append((r, Path(r["path"])))
    rows += [(r, CASSETTE_TOOLS / r["file"]) for r in _docs_body_rows()]
    return rows


@cache
def _closed_registry() -> Registry:
    """The spec with `additionalProperties: false` on every object schema that lists its properties."""
    document = json.loads(json.dumps(spec()))
    for schema in document["components"]["schemas"].values():
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    return Registry().with_resource(SPEC_URI, Resource.from_contents(document, default_specification=DRAFT202012))


def _undeclared_keys(model: Any, trail: str = "") -> Iterator[str]:
    """`trail.key` for every key that landed in `model_extra`, at any depth of a parsed model."""
    from pydantic import BaseModel, RootModel

    if isinstance(model, RootModel):
        yield from _undeclared_keys(model.root, trail)
    elif isinstance(model, BaseModel):
        yield from (f"{trail}.{key}" for key in model.model_extra or {})
        for name, value in model.__dict__.items():  # not getattr: deprecated fields would warn
            yield from _undeclared_keys(value, f"{trail}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            yield from _undeclared_keys(item, f"{trail}[{i}]")
    elif isinstance(model, dict):
        for key, item in model.items():
            yield from _undeclared_keys(item, f"{trail}[{key!r}]")


BODY_ROWS = _body_rows()


@pytest.mark.parametrize(
    ("row", "path"),
    [pytest.param(r, p, id=r["file"]) for r, p in BODY_ROWS]
    or [pytest.param(None, None, id="realdata", marks=NO_REALDATA)],
)
def test_every_key_of_every_body_is_declared(row: dict[str, str], path: Path) -> None:
    """Declared in the spec (JSON Schema, closed) and parsed as the client reads an answer: the body's
    bytes through `decode_model` for its operation, with nothing left in `model_extra` at any depth."""
    from musicagent import models
    from musicagent._runtime.client import decode_model
    from musicagent._runtime.core import RawResponse
    from musicagent._runtime.errors import ResponseValidationError

    op = _operation(row["method"], row["path_template"])
    assert op is not None
    found = success(op)
    assert found is not None
    ref = found[1]["content"]["application/json"]["schema"]["$ref"]
    body = json.loads(path.read_text(encoding="utf-8"))
    closed = Validator({"$ref": SPEC_URI + ref}, registry=_closed_registry())
    undeclared = [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in closed.iter_errors(body)
        if e.validator == "additionalProperties"
    ]
    assert not undeclared, f"{row['file']} has keys {ref} does not declare:\n" + "\n".join(undeclared)

    model_class = getattr(models, ref.rsplit("/", 1)[1])
    raw = RawResponse(row["method"], "https://api.discogs.com/x", 200, {}, 0.0, 1, "", path.read_bytes())
    try:
        parsed = decode_model(model_class, raw, op["operationId"])
    except ResponseValidationError as exc:
        # a documentation example may lack an identifying field every live body has (checked above
        # without `required`); a live body must parse
        assert row["class"] == "DOCS-EXAMPLE", f"{row['file']}: {exc}"
        assert {e["type"] for e in exc.errors} == {"missing"}, f"{row['file']}: {exc}"
        return
    extra = list(_undeclared_keys(parsed))
    assert not extra, f"{row['file']}: model_extra is not empty at {extra}"


def test_the_body_check_sees_undeclared_keys() -> None:
    """The walk behind the test above finds a key the spec does not declare, however deep."""
    from musicagent.models import Release

    body = {
        "id": 1,
        "title": "t",
        "resource_url": "u",
        "surprise": 1,
        "tracklist": [{"title": "a", "position": "A1", "bpm": 120}],
    }
    assert sorted(_undeclared_keys(Release.model_validate(body))) == [".surprise", ".tracklist[0].bpm"]


# ---------------------------------------------------------------------------------------------
# 5. descriptions and the models' reading of them


def test_every_schema_property_is_described() -> None:
    undescribed = [
        f"{name}.{prop}"
        for name, schema in spec()["components"]["schemas"].items()
        for prop, sub in schema.get("properties", {}).items()
        if not str(sub.get("description", "")).strip()
    ]
    assert not undescribed, "properties without a description: " + ", ".join(undescribed)


def test_every_model_field_carries_its_description() -> None:
    """The descriptions reach the models (IDE hover, `model_fields`, JSON schema), word for word."""
    from pydantic import BaseModel

    from musicagent import models

    checked = 0
    for name, schema in spec()["components"]["schemas"].items():
        model = getattr(models, name, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or "properties" not in schema:
            continue
        model.model_rebuild()  # fields annotated with a class defined further down are complete only then
        by_wire = {field.alias or key: field for key, field in model.model_fields.items()}
        for prop, sub in schema["properties"].items():
            assert " ".join(str(by_wire[prop].description).split()) == " ".join(sub["description"].split()), (
                f"{name}.{prop}"
            )
            checked += 1
    assert checked > 500


def test_price_suggestions_read_like_a_dict() -> None:
    from musicagent.models import Price, PriceSuggestions

    ps = PriceSuggestions.model_validate(
        {"Mint (M)": {"currency": "USD", "value": 12.5}, "Good (G)": {"currency": "USD", "value": 3}}
    )
    assert ps["Mint (M)"] == Price(currency="USD", value=12.5)
    assert "Good (G)" in ps and "Poor (P)" not in ps
    assert list(ps) == ["Mint (M)", "Good (G)"] and len(ps) == 2
    assert dict(ps.items())["Good (G)"].value == 3 and ps.get("Poor (P)") is None
    with pytest.raises(KeyError):
        ps["Poor (P)"]
    assert ps.model_dump()["Mint (M)"] == {"currency": "USD", "value": 12.5}


# ---------------------------------------------------------------------------------------------
# 6. the API reference documents the models and the choices


def _reference() -> str:
    return (REPO / "docs" / "api_reference.md").read_text(encoding="utf-8")


def test_the_reference_lists_every_model_field_with_its_description() -> None:
    text = _reference()
    missing = []
    for name, schema in spec()["components"]["schemas"].items():
        if "properties" not in schema:
            continue
        section = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0] if f"### `{name}`\n" in text else ""
        if not section:
            missing.append(name)
            continue
        for prop, sub in schema["properties"].items():
            required = "yes" if prop in schema.get("required", []) else "no"
            row = re.search(rf"^\| `{re.escape(prop)}` \| .+ \| {required} \| (.+) \|$", section, flags=re.MULTILINE)
            if row is None or " ".join(sub["description"].split()).replace("|", "\\|") not in row.group(1):
                missing.append(f"{name}.{prop}")
    assert not missing, "not in docs/api_reference.md: " + ", ".join(missing)


def test_the_reference_lists_the_values_of_every_choice_type() -> None:
    row = re.compile(r"^\| <a id=\"choice-\w+\"></a>`(\w+)`.*? \| (.+) \|$", flags=re.MULTILINE)
    rows = {m.group(1): m.group(2) for m in row.finditer(_reference())}
    for name, schema in spec()["components"]["schemas"].items():
        if "enum" in schema:
            assert name in rows, name
            assert re.findall(r"`([^`]+)`", rows[name]) == [str(v) for v in schema["enum"]], name


def test_the_reference_documents_limit_for_every_paginated_method() -> None:
    text = _reference()
    for _, _, op in operations():
        section = text.split(f"## `discogs.{op['operationId']}`\n", 1)[1].split("\n## ", 1)[0]
        has_limit = "\n| `limit` | keyword (SDK) | `int` | no |" in section
        assert has_limit == bool(op.get("x-musicagent-pagination")), op["operationId"]


def _vary(body: Any, schema: dict[str, Any], mode: str) -> Any:
    """`body` as Discogs might also send it, walked along its schema at every depth. `leaves`: every
    string, number or boolean that is not required becomes `null`; `containers`: every object or array
    that is not required becomes `null`; `text`: every number becomes its text (`1990` -> `"1990"`)."""
    schema = resolve(schema)
    for alternative in schema.get("anyOf", []):
        kind = resolve(alternative).get("type")
        if (kind == "object" and isinstance(body, dict)) or (kind == "array" and isinstance(body, list)):
            return _vary(body, alternative, mode)
    if isinstance(body, list) and isinstance(schema.get("items"), dict):
        return [_vary(item, schema["items"], mode) for item in body]
    if mode == "text" and isinstance(body, (int, float)) and not isinstance(body, bool):
        return str(body)
    if not isinstance(body, dict):
        return body
    props, required = schema.get("properties", {}), set(schema.get("required", []))
    if not props and isinstance(schema.get("additionalProperties"), dict):
        return {key: _vary(value, schema["additionalProperties"], mode) for key, value in body.items()}
    out = {}
    for key, value in body.items():
        container = isinstance(value, (dict, list))
        if key in props and key not in required and mode != "text" and container == (mode == "containers"):
            out[key] = None
        else:
            out[key] = _vary(value, props[key], mode) if key in props else value
    return out


@pytest.mark.parametrize(
    ("row", "path"),
    [pytest.param(r, p, id=r["file"]) for r, p in BODY_ROWS if r["class"] != "DOCS-EXAMPLE"],
)
def test_every_real_body_still_parses_with_nulls_and_numbers_as_text(row: dict[str, str], path: Path) -> None:
    """Discogs sends `null` for fields it usually omits (a master-less release's `master_id`) and
    writes some numbers as text (a format's `"qty": "1"`, a search result's `"year": "1990"`): the
    models take `null` wherever a field is not required, and a number's text wherever a number goes,
    at every depth of every real body."""
    from musicagent import models

    op = _operation(row["method"], row["path_template"])
    assert op is not None
    found = success(op)
    assert found is not None
    schema = found[1]["content"]["application/json"]["schema"]
    model_class = getattr(models, schema["$ref"].rsplit("/", 1)[1])
    body = json.loads(path.read_text(encoding="utf-8"))
    for mode in ("leaves", "containers", "text"):
        model_class.model_validate(_vary(body, schema, mode))


def test_the_variations_change_what_they_say() -> None:
    body = {
        "id": 1,
        "title": "t",
        "resource_url": "u",
        "year": 1990,
        "community": {"have": 1, "rating": {"average": 4.5, "count": 2}},
    }
    schema = {"$ref": SCHEMA_PREFIX + "Release"}
    assert _vary(body, schema, "leaves") == {
        "id": 1,
        "title": "t",
        "resource_url": None,
        "year": None,
        "community": {"have": None, "rating": {"average": 4.5, "count": 2}},
    }
    assert _vary(body, schema, "containers") == {**body, "community": None}
    assert _vary(body, schema, "text")["community"] == {"have": "1", "rating": {"average": "4.5", "count": "2"}}

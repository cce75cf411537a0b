"""Read the OpenAPI document into the operation model the templates render.

Everything the generator decides (method names, argument order and types, checks, return kinds) is
decided here, from the spec alone; the templates only lay it out.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUCCESS = ("200", "201", "202", "204")
ERRORS = {
    "400": "BadRequestError",
    "401": "AuthenticationError",
    "403": "PermissionDeniedError",
    "404": "NotFoundError",
    "405": "MethodNotAllowedError",
    "409": "ConflictError",
    "415": "UnsupportedMediaTypeError",
    "422": "UnprocessableEntityError",
    "429": "RateLimitError",
    "500": "ServerError",
}
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
RESERVED_ARGS = {"self", "limit", "timeout", "max_retries", "extra_headers", "extra_query", "destination", "cache"}


class SpecError(Exception):
    """The spec breaks a rule of spec/CONVENTIONS.md; the message says where."""


@dataclass
class Param:
    name: str  # the Python argument
    wire: str  # the name Discogs expects
    location: str  # path | query | body | file
    required: bool
    annotation: str
    check: str  # expression validating the argument, evaluating to the value to send
    description: str = ""
    choices: tuple[str, ...] = ()
    choices_expr: str = "()"  # the choices as code: a types.py constant when the enum is named
    schema_type: str = "string"
    minimum: float | None = None
    maximum: float | None = None
    cli_positional: bool = False  # x-musicagent-cli-positional: `musicagent search nirvana`
    raw_schema: dict[str, Any] = field(default_factory=dict)  # as written in the spec (MCP input schemas)


@dataclass
class Operation:
    id: str
    group: tuple[str, ...]
    name: str
    method: str
    path: str
    summary: str
    description: str
    kind: str  # model | none | page | form | download
    params: list[Param]
    model: str | None = None
    items_field: str | None = None
    item_model: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    auth: str = "none"  # none | any | user
    schemes: tuple[str, ...] = ()  # the security schemes of the spec, sorted; "" when anonymous is allowed
    body_model: str | None = None  # the JSON request body's schema (its model), when it is a named one
    page_cap: int | None = None  # x-musicagent-page-cap: pages past this one may be refused (403)
    page_cap_hint: str = ""
    cache_ttl: float | None = None  # x-musicagent-cache: seconds a GET answer may be cached (0: never)
    cache_invalidates: tuple[str, ...] = ()  # path prefixes a successful write makes stale

    @property
    def path_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "path"]

    @property
    def keyword_params(self) -> list[Param]:
        rest = [p for p in self.params if p.location != "path"]
        return [p for p in rest if p.required] + [p for p in rest if not p.required]

    @property
    def query_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "query"]

    @property
    def body_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "body"]

    @property
    def file_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "file"]

    @property
    def path_expression(self) -> str:
        """An f-string building the path from the checked, percent-encoded segments (see segment_lines)."""
        out = self.path
        for p in self.path_params:
            out = out.replace("{" + p.wire + "}", "{_" + p.name + "}")
        return 'f"' + out + '"'

    @property
    def segment_lines(self) -> list[str]:
        return [f"_{p.name} = _p.segment({p.check})" for p in self.path_params]

    @property
    def returns(self) -> str:
        return {
            "model": f"models.{self.model}",
            "none": "None",
            "page": f"Page[models.{self.item_model}]",
            "form": "dict[str, str]",
            "download": "Path",
        }[self.kind]


@dataclass
class Group:
    """A node of the resource tree: its operations and its child groups."""

    path: tuple[str, ...]
    operations: list[Operation] = field(default_factory=list)
    children: dict[str, Group] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return "".join(part.title().replace("_", "") for part in self.path) + "Resource"

    def walk(self) -> list[Group]:
        """This group and its descendants, children before parents so classes are defined in order."""
        out: list[Group] = []
        for child in sorted(self.children.values(), key=lambda g: g.path):
            out.extend(child.walk())
        out.append(self)
        return out


@dataclass
class Spec:
    document: dict[str, Any]
    operations: list[Operation]
    root: Group
    literals: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def top_groups(self) -> list[Group]:
        return sorted(self.root.children.values(), key=lambda g: g.path)

    @property
    def records(self) -> list[str]:
        """Schemas marked ``x-musicagent-record: true`` (checked by :func:`_check_records` at load)."""
        schemas = self.document.get("components", {}).get("schemas", {})
        return sorted(name for name, schema in schemas.items() if schema.get("x-musicagent-record"))


def constant_name(name: str) -> str:
    """``ListingCondition`` -> ``LISTING_CONDITION``: the tuple of a named enum's values."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


class _Reader:
    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self.literals: dict[str, tuple[str, ...]] = {}  # named enums used by parameters

    def choices(self, node: Any, schema: dict[str, Any]) -> tuple[str, tuple[str, ...], str]:
        """(annotation, values, expression for the values) of an enum; named ones go to types.py."""
        values = tuple(str(v) for v in schema["enum"])
        name = self.ref_name(node)
        if name is None:
            return "Literal[" + ", ".join(f'"{c}"' for c in values) + "]", values, repr(values)
        self.literals[name] = values
        return f"t.{name}", values, f"t.{constant_name(name)}"

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise SpecError(f"only local $ref is supported: {ref}")
            target: Any = self.doc
            for part in ref[2:].split("/"):
                target = target[part]
            node = target
            seen += 1
            if seen > 20:
                raise SpecError(f"$ref loop at {ref}")
        return node

    @staticmethod
    def ref_name(node: Any) -> str | None:
        if (
            isinstance(node, dict)
            and isinstance(node.get("$ref"), str)
            and node["$ref"].startswith("#/components/schemas/")
        ):
            return str(node["$ref"].rsplit("/", 1)[1])
        return None

    def _number_or_choice(self, param: Param, alternatives: list[Any], where: str) -> Param:
        """A number or one of a few words (a listing's ``weight``: grams, or ``"auto"``)."""
        numbers = [self.resolve(a) for a in alternatives if self.resolve(a).get("type") in ("integer", "number")]
        words = [a for a in alternatives if "enum" in self.resolve(a)]
        if len(numbers) != 1 or len(words) != 1 or len(alternatives) != 2:
            raise SpecError(f"{where}: {param.wire!r}: anyOf must be one number type and one string enum")
        number = numbers[0]
        annotation, param.choices, values = self.choices(words[0], self.resolve(words[0]))
        param.choices_expr = values
        integer = number["type"] == "integer"
        param.schema_type = number["type"]
        param.annotation = ("int" if integer else "float") + " | " + annotation
        bounds = _bounds(number, (("minimum", "minimum"), ("maximum", "maximum")))
        param.check = f"_p.check_number_or_choice({param.name!r}, {param.name}, {values}, integer={integer}{bounds})"
        return param

    def param(self, raw: dict[str, Any], location: str, where: str, required: bool, name: str | None = None) -> Param:
        schema = self.resolve(raw.get("schema", raw))
        wire = str(raw.get("name", name))
        arg = str(raw.get("x-musicagent-arg", wire))
        if not _IDENT.match(arg) or keyword.iskeyword(arg) or arg in RESERVED_ARGS:
            raise SpecError(f"{where}: parameter {wire!r} needs an x-musicagent-arg that is a free Python name")
        description = " ".join(str(raw.get("description", schema.get("description", ""))).split())
        types = schema.get("type", "string")
        if isinstance(types, list):
            types = next((t for t in types if t != "null"), "string")
        param = Param(arg, wire, location, required, "str", "", description, schema_type=str(types))
        param.cli_positional = bool(raw.get("x-musicagent-cli-positional", False))
        if param.cli_positional and (location != "query" or types != "string"):
            raise SpecError(f"{where}: x-musicagent-cli-positional is for a string query parameter ({wire!r})")
        param.raw_schema = raw.get("schema", raw)
        q = repr(arg)
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if alternatives and location != "file":
            return self._number_or_choice(param, alternatives, where)
        if location == "file":
            param.annotation = "FileInput"
            param.check = f"_p.check_file({q}, {arg})"
        elif "enum" in schema:
            param.annotation, param.choices, values = self.choices(raw.get("schema", raw), schema)
            param.choices_expr = values
            param.check = f"_p.check_choice({q}, {arg}, {values})"
        elif types == "integer":
            param.annotation = "int"
            param.minimum = schema.get("minimum")
            param.maximum = schema.get("maximum")
            bounds = "".join(
                f", {k}={schema[s]!r}" for k, s in (("minimum", "minimum"), ("maximum", "maximum")) if s in schema
            )
            hint = raw.get("x-musicagent-hint", schema.get("x-musicagent-hint"))
            if hint:
                bounds += f", hint={str(hint)!r}"
            param.check = f"_p.check_int({q}, {arg}{bounds})"
        elif types == "number":
            param.annotation = "float"
            param.minimum = schema.get("minimum", schema.get("exclusiveMinimum"))
            bounds = "".join(
                f", {k}={schema[k2]!r}"
                for k, k2 in (("minimum", "minimum"), ("maximum", "maximum"), ("exclusive_minimum", "exclusiveMinimum"))
                if k2 in schema
            )
            param.check = f"_p.check_number({q}, {arg}{bounds})"
        elif types == "boolean":
            param.annotation = "bool"
            param.check = f"_p.check_bool({q}, {arg})"
        elif types == "string":
            bounds = "".join(
                f", {k}={schema[s]!r}"
                for k, s in (("min_length", "minLength"), ("max_length", "maxLength"))
                if s in schema
            )
            param.check = f"_p.check_str({q}, {arg}{bounds})"
        else:
            raise SpecError(f"{where}: parameter {wire!r} has unsupported type {types!r}")
        return param


def _bounds(schema: dict[str, Any], names: tuple[tuple[str, str], ...]) -> str:
    return "".join(f", {k}={schema[s]!r}" for k, s in names if s in schema)


def load(path: Path) -> Spec:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    reader = _Reader(document)
    operations: list[Operation] = []
    seen_ids: set[str] = set()
    for api_path, item in sorted(document.get("paths", {}).items()):
        shared = item.get("parameters", [])
        for method in ("get", "put", "post", "delete", "patch"):
            if method not in item:
                continue
            operations.append(_operation(reader, api_path, method, item[method], shared, seen_ids))
    root = Group(())
    for op in operations:
        node = root
        for part in op.group:
            node = node.children.setdefault(part, Group((*node.path, part)))
        node.operations.append(op)
    _check_tree(root)
    _check_records(document)
    return Spec(document, operations, root, dict(sorted(reader.literals.items())))


_RECORD_SCALARS = {"integer", "number", "string", "boolean"}


def _check_records(document: dict[str, Any]) -> None:
    """A record (``x-musicagent-record``) is a fixed-shape object: optional scalars and other records.

    Required fields would make the dataclass's field order matter, and a model or list inside one
    would bring back the garbage-collected objects a record exists to avoid (see _runtime/model.py).
    """
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    prefix = "#/components/schemas/"
    for name, schema in schemas.items():
        if not schema.get("x-musicagent-record"):
            continue
        where = f"schema {name} (x-musicagent-record)"
        if schema.get("type") != "object" or not schema.get("properties") or schema.get("required"):
            raise SpecError(f"{where}: a record is an object with properties, none of them required")
        for prop, sub in schema["properties"].items():
            ref = sub.get("$ref", "")
            target = schemas.get(ref[len(prefix) :]) if ref.startswith(prefix) else None
            if not (sub.get("type") in _RECORD_SCALARS or (target is not None and target.get("x-musicagent-record"))):
                raise SpecError(f"{where}: {prop!r} must be a scalar or another record")


def _operation(
    reader: _Reader, api_path: str, method: str, raw: dict[str, Any], shared: list[Any], seen: set[str]
) -> Operation:
    where = f"{method.upper()} {api_path}"
    op_id = raw.get("operationId")
    if not isinstance(op_id, str) or not all(_IDENT.match(s) and not keyword.iskeyword(s) for s in op_id.split(".")):
        raise SpecError(f"{where}: operationId must be dotted snake_case identifiers, got {op_id!r}")
    if op_id in seen:
        raise SpecError(f"{where}: operationId {op_id!r} is used twice")
    seen.add(op_id)
    parts = op_id.split(".")
    params: list[Param] = []
    path_names = re.findall(r"{([^}]+)}", api_path)
    raw_params = [reader.resolve(p) for p in [*shared, *raw.get("parameters", [])]]
    by_name = {p["name"]: p for p in raw_params if p.get("in") == "path"}
    for name in path_names:
        if name not in by_name:
            raise SpecError(f"{where}: path parameter {name!r} is not declared")
        params.append(reader.param(by_name[name], "path", where, True))
    for p in raw_params:
        if p.get("in") == "query":
            params.append(reader.param(p, "query", where, bool(p.get("required", False))))
    body = raw.get("requestBody")
    body_model: str | None = None
    if body is not None:
        body = reader.resolve(body)
        content = body.get("content", {})
        if "application/json" in content:
            location, schema_node = "body", content["application/json"]["schema"]
            ref = schema_node.get("$ref")
            body_model = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
        elif "multipart/form-data" in content:
            location, schema_node = "multipart", content["multipart/form-data"]["schema"]
        else:
            raise SpecError(f"{where}: request body must be application/json or multipart/form-data")
        schema = reader.resolve(schema_node)
        required = set(schema.get("required", []))
        for prop, prop_schema in schema.get("properties", {}).items():
            resolved = reader.resolve(prop_schema)
            loc = location
            if location == "multipart":
                loc = "file" if resolved.get("format") == "binary" else "body"
            node = {"name": prop, "schema": prop_schema, **{k: v for k, v in prop_schema.items() if k.startswith("x-")}}
            if "description" in prop_schema:
                node["description"] = prop_schema["description"]
            params.append(reader.param(node, loc, where, prop in required))
    names = [p.name for p in params]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SpecError(f"{where}: argument names clash: {sorted(duplicates)} (use x-musicagent-arg)")

    kind, model, items_field, item_model = _response(reader, raw, where)
    errors = [(code, ERRORS[code]) for code in sorted(raw.get("responses", {})) if code in ERRORS]
    security = raw.get("security", reader.doc.get("security", []))
    schemes = {name for req in security for name in req}
    if not security or {} in security:
        auth = "none"
    elif schemes <= {"DiscogsToken", "OAuth1"}:
        auth = "user"
    else:
        auth = "any"
    page_cap, page_cap_hint = _page_cap(raw, kind, where)
    return Operation(
        id=op_id,
        group=tuple(parts[:-1]),
        name=parts[-1],
        method=method.upper(),
        path=api_path,
        summary=" ".join(str(raw.get("summary", op_id)).split()),
        description=str(raw.get("description", "")).strip(),
        kind=kind,
        params=params,
        model=model,
        items_field=items_field,
        item_model=item_model,
        errors=errors,
        auth=auth,
        schemes=tuple(sorted({name for req in security for name in req} | ({""} if {} in security else set()))),
        body_model=body_model,
        page_cap=page_cap,
        page_cap_hint=page_cap_hint,
        **_cache_rules(reader.doc, raw, method, api_path, where),
    )


def _page_cap(raw: dict[str, Any], kind: str, where: str) -> tuple[int | None, str]:
    """``x-musicagent-page-cap: {pages: N, hint: ...}``: why a 403 past page N happens, for the error."""
    cap = raw.get("x-musicagent-page-cap")
    if cap is None:
        return None, ""
    pages, hint = (cap.get("pages"), cap.get("hint")) if isinstance(cap, dict) else (None, None)
    if kind != "page" or not isinstance(pages, int) or pages < 1 or not isinstance(hint, str) or not hint.strip():
        raise SpecError(f"{where}: x-musicagent-page-cap needs a paginated operation, pages >= 1 and a hint")
    return pages, " ".join(hint.split())


def _cache_rules(doc: dict[str, Any], raw: dict[str, Any], method: str, api_path: str, where: str) -> dict[str, Any]:
    """``x-musicagent-cache``: a GET's TTL (its own, else its tag's from the document), a write's prefixes."""
    own = raw.get("x-musicagent-cache") or {}
    by_tag = (doc.get("x-musicagent-cache") or {}).get("ttl-by-tag") or {}
    if not isinstance(own, dict) or set(own) - {"ttl", "invalidates"}:
        raise SpecError(f"{where}: x-musicagent-cache takes ttl (GET) and invalidates (writes)")
    ttl = own.get("ttl", next((by_tag[t] for t in raw.get("tags", []) if t in by_tag), None))
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0):
        raise SpecError(f"{where}: x-musicagent-cache ttl must be seconds >= 0, got {ttl!r}")
    invalidates = own.get("invalidates", [])
    if (method != "get" and "ttl" in own) or (method == "get" and invalidates):
        raise SpecError(f"{where}: only a GET has a cache ttl, only a write invalidates")
    names = set(re.findall(r"{([^}]+)}", api_path))
    for prefix in invalidates:
        if not isinstance(prefix, str) or not prefix.startswith("/") or set(re.findall(r"{([^}]+)}", prefix)) - names:
            raise SpecError(f"{where}: invalidates {prefix!r} must be a path using only this operation's parameters")
    return {"cache_ttl": None if method != "get" or ttl is None else ttl, "cache_invalidates": tuple(invalidates)}


def _response(reader: _Reader, raw: dict[str, Any], where: str) -> tuple[str, str | None, str | None, str | None]:
    responses = raw.get("responses", {})
    codes = [c for c in SUCCESS if c in responses]
    if not codes:
        raise SpecError(f"{where}: no success response")
    kind, model = "none", None
    for code in codes:
        content = reader.resolve(responses[code]).get("content") or {}
        if "application/json" in content:
            model = reader.ref_name(content["application/json"].get("schema"))
            if model is None:
                raise SpecError(f"{where}: the {code} response schema must be a $ref to a named schema")
            kind = "model"
            break
        if "text/csv" in content:
            kind = "download"
            break
        if "application/x-www-form-urlencoded" in content:
            kind = "form"
            break
    pagination = raw.get("x-musicagent-pagination")
    if not pagination:  # absent, or false: page/per_page are plain arguments
        return kind, model, None, None
    if kind != "model" or model is None:
        raise SpecError(f"{where}: a paginated operation needs a JSON response model")
    items_field = pagination.get("items")
    page_schema = reader.resolve({"$ref": f"#/components/schemas/{model}"})
    array = page_schema.get("properties", {}).get(items_field)
    item_model = reader.ref_name((array or {}).get("items"))
    if item_model is None:
        raise SpecError(f"{where}: {model}.{items_field} must be an array of a $ref schema")
    return "page", model, items_field, item_model


def _check_tree(root: Group) -> None:
    for group in root.walk():
        names = [op.name for op in group.operations]
        clash = set(names) & set(group.children) | {n for n in names if names.count(n) > 1}
        if clash:
            where = ".".join(group.path) or "the client"
            raise SpecError(f"{where}: {sorted(clash)} is both a method and a resource (or two methods)")

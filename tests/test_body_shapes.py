"""Every real body still parses when Discogs writes its values in the other shapes it uses.

Each real answer we have (``../shared/realdata`` and ``tests/data/realbodies``, listed by
tests/test_spec.py) is walked along its operation's response schema, and each class of mutation below
is applied to every place of it that the class concerns, then decoded the way an answer is
(``decode_model`` on the JSON bytes). Accepted shapes must parse to what they mean; the others must be
refused with a ``ResponseValidationError`` naming the field, never another exception.

Accepted:
- ``[]`` for an object (Discogs' empty map), at every object of every body and for whole bodies,
  reads exactly as ``{}`` would (and is refused exactly as ``{}`` is where the object needs fields);
- ``""`` for an absent number, flag, list or object; ``null`` for any optional value; optional keys left out;
- a list written as an object keyed by its indexes (``{"0": ..., "1": ...}``);
- numbers as text, integers as floats (``3.0``, ``"3.0"``), flags as ``0``/``1`` and ``"true"``,
  integers past 64 bits, numbers where text goes, text with entities and unusual unicode (unchanged);
- empty lists everywhere; unknown keys everywhere (kept in ``model_extra``); every ``resource_url`` left out.

Refused, naming the field: an identifying field left out, ``null``, or ``""``; a fraction where an
integer goes (``2.5`` copies is not a count this SDK may round).

Sites are deduplicated by their place in the schema (a track's position is checked once, not once
per track of every release), so the whole file runs in seconds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from musicagent import models
from musicagent._runtime.client import decode_model
from musicagent._runtime.core import RawResponse
from musicagent._runtime.errors import ResponseValidationError
from tests.test_spec import BODY_ROWS, _operation, resolve, success

ROWS = [(row, path) for row, path in BODY_ROWS if row["class"] != "DOCS-EXAMPLE"]
STRANGE_TEXT = " &amp; &lt;b&gt; caf\u00e9 \u65e5\u672c \U0001f3b6 \u202eRTL\u202c \u200b\u00a0x"
HUGE = 2**70
BLANKABLE = {"integer", "number", "boolean", "object", "array"}


@dataclass
class Site:
    """One value of a body: where it is, what the schema says of it."""

    path: tuple[str | int, ...]
    value: Any
    schema: dict[str, Any]
    types: frozenset[str]
    role: str  # root, required (a key its object must have), optional, or member (of a list or a map)
    signature: tuple[str, ...]  # its place in the schema, for deduplication


@dataclass
class Body:
    name: str
    op: str
    model: type[Any]
    data: Any
    sites: list[Site]


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    if "additionalProperties" in schema or "properties" in schema:
        return {"object"}
    return set()


def _pick(node: dict[str, Any], value: Any) -> tuple[dict[str, Any], str]:
    """The schema of ``value`` (an ``anyOf`` alternative that fits it) and its name, if it is a named one."""
    name = node["$ref"].rsplit("/", 1)[1] if "$ref" in node else ""
    schema = resolve(node)
    for alternative in schema.get("anyOf", []):
        resolved = resolve(alternative)
        kinds = _types(resolved)
        fits = (
            (isinstance(value, dict) and "object" in kinds)
            or (isinstance(value, list) and "array" in kinds)
            or (isinstance(value, str) and "string" in kinds)
            or (isinstance(value, bool) and "boolean" in kinds)
            or (isinstance(value, (int, float)) and not isinstance(value, bool) and kinds & {"integer", "number"})
        )
        if fits:
            return _pick(alternative, value)
    return schema, name


def _walk(
    value: Any, node: dict[str, Any], path: tuple[str | int, ...], role: str, where: tuple[str, ...]
) -> Iterator[Site]:
    alternatives = resolve(node).get("anyOf", [])  # what else the value could be (a search result's label)
    schema, name = _pick(node, value)
    where = (name,) if name else where
    types = frozenset(_types(schema).union(*(_types(resolve(a)) for a in alternatives)))
    yield Site(path, value, schema, types, role, where)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        needed = set(schema.get("required", []))
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                yield from _walk(
                    item, props[key], (*path, key), "required" if key in needed else "optional", (*where, key)
                )
            elif isinstance(extra, dict):
                yield from _walk(item, extra, (*path, key), "member", (*where, "{}"))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _walk(item, schema["items"], (*path, index), "member", (*where, "[]"))


def _load() -> list[Body]:
    bodies = []
    for row, path in ROWS:
        op = _operation(row["method"], row["path_template"])
        assert op is not None
        found = success(op)
        assert found is not None
        ref = found[1]["content"]["application/json"]["schema"]
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        sites = list(_walk(data, ref, (), "root", ()))
        bodies.append(Body(row["file"], op["operationId"], getattr(models, ref["$ref"].rsplit("/", 1)[1]), data, sites))
    return bodies


BODIES = _load()


def _decode(body: Body, data: Any) -> Any:
    raw = RawResponse(
        method="GET",
        url="https://api.discogs.com/x",
        status=200,
        raw_headers={},
        elapsed=0.0,
        attempts=1,
        request_id="",
        content=json.dumps(data).encode(),
    )
    return decode_model(body.model, raw, body.op)


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _put(data: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """``data`` with the value at ``path`` replaced (``...`` removes the key); the root is replaced whole."""
    if not path:
        return value
    parent = _get(data, path[:-1])
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def _deepest_first(sites: list[Site]) -> list[Site]:
    return sorted(sites, key=lambda s: len(s.path), reverse=True)


def _optional(site: Site) -> bool:
    return site.role == "optional"


def _required(site: Site) -> bool:
    return site.role == "required"


def _is_int(site: Site) -> bool:
    return "integer" in site.types and isinstance(site.value, int) and not isinstance(site.value, bool)


def _is_number(site: Site) -> bool:
    return (
        bool(site.types & {"integer", "number"})
        and isinstance(site.value, (int, float))
        and not isinstance(site.value, bool)
    )


def _blankable(site: Site) -> bool:
    """Whether ``""`` would mean "absent" here: a number, flag, list or object that cannot be text."""
    return bool(site.types & BLANKABLE) and "string" not in site.types


def _is_list(site: Site) -> bool:
    return "array" in site.types and isinstance(site.value, list)


def _is_text(site: Site) -> bool:
    return "string" in site.types and isinstance(site.value, str)


# ---------------------------------------------------------------------------------------------
# accepted shapes: (what changes, where, what the value becomes, what the parsed body must equal)


@dataclass
class Accepted:
    name: str
    applies: Callable[[Site], bool]
    replace: Callable[[Any], Any]
    expect: str  # "same": parses as the body did; "sent": parses to the values sent; "none": to None


ACCEPTED = [
    Accepted("blank-for-absent", lambda s: _optional(s) and _blankable(s), lambda v: "", "none"),
    Accepted("null-for-absent", _optional, lambda v: None, "none"),
    Accepted("optional-keys-left-out", _optional, lambda v: ..., "none"),
    Accepted(
        "list-as-indexed-object",
        lambda s: _is_list(s) and bool(s.value),
        lambda v: {str(i): x for i, x in enumerate(v)},
        "same",
    ),
    Accepted("numbers-as-text", _is_number, lambda v: str(v), "same"),
    Accepted("integers-as-floats", _is_int, lambda v: float(v), "same"),
    Accepted("integers-as-float-text", _is_int, lambda v: f"{v}.0", "same"),
    Accepted("flags-as-numbers", lambda s: isinstance(s.value, bool), lambda v: int(v), "same"),
    Accepted("flags-as-text", lambda s: isinstance(s.value, bool), lambda v: str(v).lower(), "same"),
    Accepted("huge-integers", _is_int, lambda v: v + HUGE, "sent"),
    Accepted("numbers-for-text", _is_text, lambda v: 12345, "text"),
    Accepted("entities-and-unicode", _is_text, lambda v: v + STRANGE_TEXT, "sent"),
    Accepted("empty-lists", lambda s: _is_list(s) and bool(s.path), lambda v: [], "sent"),
]


def _mutated(body: Body, shape: Accepted) -> tuple[Any, list[Site]]:
    """The body with every site the shape applies to changed (deepest first, so paths stay valid)."""
    data = copy.deepcopy(body.data)
    changed = []
    for site in _deepest_first([s for s in body.sites if shape.applies(s)]):
        data = _put(data, site.path, shape.replace(_get(data, site.path)))
        changed.append(site)
    return data, changed


def _check_accepted(body: Body, shape: Accepted) -> str | None:
    data, changed = _mutated(body, shape)
    if not changed:
        return None
    try:
        parsed = _dump(_decode(body, data))
    except ResponseValidationError as exc:
        return f"{body.name}: {shape.name}: {exc}"
    if shape.expect == "same" and parsed != _dump(_decode(body, body.data)):
        return f"{body.name}: {shape.name}: parsed to something else than the body as sent"
    if shape.expect == "none":
        present = [s.path for s in changed if _present(parsed, s.path)]
        if present:
            return f"{body.name}: {shape.name}: not read as absent at {present[:3]}"
    if shape.expect in ("sent", "text"):
        for site in changed:
            if not _present(parsed, site.path):
                continue  # inside something the shape emptied
            want = shape.replace(site.value)
            want = str(want) if shape.expect == "text" else want
            if _get(parsed, site.path) != want:
                return f"{body.name}: {shape.name}: {site.path} parsed as {_get(parsed, site.path)!r}, sent {want!r}"
    return None


def _present(parsed: Any, path: tuple[str | int, ...]) -> bool:
    """Whether the parsed dump has a non-null value at ``path``."""
    try:
        return _get(parsed, path) is not None
    except (KeyError, IndexError, TypeError):
        return False


@pytest.mark.parametrize("shape", ACCEPTED, ids=[s.name for s in ACCEPTED])
def test_every_real_body_parses_in_the_other_shapes_discogs_uses(shape: Accepted) -> None:
    problems = [p for body in BODIES if (p := _check_accepted(body, shape)) is not None]
    assert not problems, f"{len(problems)} bodies:\n" + "\n".join(problems[:15])
    assert sum(1 for body in BODIES for s in body.sites if shape.applies(s)) > 50  # not vacuous


def test_shapes_combine_when_the_body_is_read_again() -> None:
    """A body needing a second reading (a list written as an object) still takes the other shapes
    there: the second reading validates Python objects, not JSON, and must be as lenient."""
    by_name = {shape.name: shape for shape in ACCEPTED}
    combined = [by_name[n] for n in ("numbers-as-text", "flags-as-text", "list-as-indexed-object")]
    problems = []
    for body in BODIES:
        data = body.data
        for shape in combined:  # lists last: their items' paths change once they are objects
            data, _ = _mutated(Body(body.name, body.op, body.model, data, body.sites), shape)
        try:
            if _dump(_decode(body, data)) != _dump(_decode(body, body.data)):
                problems.append(f"{body.name}: parsed to something else than the body as sent")
        except ResponseValidationError as exc:
            problems.append(f"{body.name}: {exc}")
    assert not problems, f"{len(problems)} bodies:\n" + "\n".join(problems[:15])


def _without(data: Any, key: str) -> tuple[Any, int]:
    """``data`` with ``key`` removed from every object at any depth, and how many were removed."""
    if isinstance(data, dict):
        pairs = [(k, _without(v, key)) for k, v in data.items() if k != key]
        return {k: v for k, (v, _) in pairs}, len(data) - len(pairs) + sum(n for _, (_, n) in pairs)
    if isinstance(data, list):
        items = [_without(v, key) for v in data]
        return [v for v, _ in items], sum(n for _, n in items)
    return data, 0


def test_resource_url_left_out_everywhere_still_parses() -> None:
    """No object needs ``resource_url`` (spec/CONVENTIONS.md): Discogs sends it empty for the artist
    Various, which elsewhere means left out. Every real body with all of them removed at once, at
    every depth, parses to the same thing apart from those fields."""
    problems, removed = [], 0
    for body in BODIES:
        data, count = _without(body.data, "resource_url")
        if not count:
            continue
        removed += count
        try:
            parsed = _dump(_decode(body, data))
        except ResponseValidationError as exc:
            problems.append(f"{body.name}: {exc}")
            continue
        if parsed != _without(_dump(_decode(body, body.data)), "resource_url")[0]:
            problems.append(f"{body.name}: parsed to something else")
    assert not problems, f"{len(problems)} bodies:\n" + "\n".join(problems[:15])
    assert removed > 1000  # not vacuous


def test_unknown_keys_anywhere_are_kept_not_refused() -> None:
    problems = []
    for body in BODIES:
        data = copy.deepcopy(body.data)
        objects = [s for s in body.sites if isinstance(s.value, dict) and not s.schema.get("additionalProperties")]
        if not objects or objects[0].path:
            continue  # a body that is a map (price suggestions): nothing of its own to keep extras in
        for site in objects:
            _get(data, site.path)["zz_new_field"] = {"nested": [1, {"deeper": None}], "text": "x"}
        try:
            parsed = _decode(body, data)
        except ResponseValidationError as exc:
            problems.append(f"{body.name}: {exc}")
            continue
        if (parsed.model_extra or {}).get("zz_new_field", {}).get("text") != "x":
            problems.append(f"{body.name}: the unknown key is not in model_extra")
    assert not problems, "\n".join(problems[:15])


# ---------------------------------------------------------------------------------------------
# an empty object written as []: the same as {} at every object of every body, and as a whole body


def _first_of_each_place(select: Callable[[Site], bool]) -> list[tuple[Body, Site]]:
    seen: set[tuple[str, ...]] = set()
    out = []
    for body in BODIES:
        for site in body.sites:
            if select(site) and (body.op, *site.signature) not in seen:
                seen.add((body.op, *site.signature))
                out.append((body, site))
    return out


OBJECT_SITES = _first_of_each_place(lambda s: isinstance(s.value, dict))


def _outcome(body: Body, data: Any) -> tuple[str, Any]:
    try:
        return "parsed", _dump(_decode(body, data))
    except ResponseValidationError as exc:
        return "refused", str(exc)


def test_an_empty_array_reads_as_the_empty_object_at_every_object_of_every_body() -> None:
    problems, accepted = [], 0
    for body, site in OBJECT_SITES:
        as_object = _outcome(body, _put(copy.deepcopy(body.data), site.path, {}))
        as_array = _outcome(body, _put(copy.deepcopy(body.data), site.path, []))
        if as_array != as_object:
            problems.append(
                f"{body.name} at {site.path}: [] gives {as_array[0]}, {{}} gives {as_object[0]}: {as_array[1]!s:.300}"
            )
        accepted += as_object[0] == "parsed"
    assert not problems, f"{len(problems)} places:\n" + "\n".join(problems[:15])
    assert len(OBJECT_SITES) > 150 and accepted > 50


def test_the_objects_that_can_be_empty_are_the_ones_without_identifying_fields() -> None:
    """Where ``{}`` (so ``[]``) is refused, it is because the object has a required field, which the error names."""
    problems = []
    for body, site in OBJECT_SITES:
        kind, outcome = _outcome(body, _put(copy.deepcopy(body.data), site.path, []))
        needed = site.schema.get("required", [])
        if kind == "refused" and not any(f"{_dotted((*site.path, n))}'" in outcome for n in needed):
            problems.append(f"{body.name} at {site.path}: {outcome:.300}")
    assert not problems, "\n".join(problems[:15])


def test_price_suggestions_and_pages_sent_as_an_empty_array_are_empty() -> None:
    """The known case: price suggestions for a release without any arrive as ``[]``."""
    ps = decode_model(models.PriceSuggestions, _raw(b"[]"), "marketplace.price_suggestions")
    assert len(ps) == 0 and "Mint (M)" not in ps and ps.root == {}
    stats = decode_model(models.MarketplaceStats, _raw(b"[]"), "marketplace.stats")
    assert stats.lowest_price is None and stats.model_extra == {}
    page = decode_model(models.SearchPage, _raw(b'{"pagination": {"page": 1, "urls": []}, "results": []}'), "search")
    assert page.pagination.urls is not None and page.pagination.urls.next is None


def _raw(content: bytes) -> RawResponse:
    return RawResponse("GET", "https://api.discogs.com/x", 200, {}, 0.0, 1, "", content)


def test_an_empty_array_answer_through_the_client_sync_and_async() -> None:
    """The whole path of an answer, over HTTP, for both clients: the mock answers ``[]``."""
    import asyncio

    from musicagent.testing import async_mock_discogs, mock_discogs

    with mock_discogs() as discogs:
        discogs.mock_server.stub("GET", "/marketplace/price_suggestions/{id}", json=[])
        assert dict(discogs.marketplace.price_suggestions(1).items()) == {}

    async def run() -> int:
        async with async_mock_discogs() as client:
            client.mock_server.stub("GET", "/marketplace/price_suggestions/{id}", json=[])
            return len(await client.marketplace.price_suggestions(1))

    assert asyncio.run(run()) == 0


# ---------------------------------------------------------------------------------------------
# refused shapes: a clear ResponseValidationError naming the field


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


REFUSED: dict[str, tuple[Callable[[Site], bool], Callable[[Any], Any]]] = {
    "identifying-field-left-out": (_required, lambda v: ...),
    "identifying-field-null": (_required, lambda v: None),
    "identifying-number-blank": (lambda s: _required(s) and _is_number(s), lambda v: ""),
    "fraction-for-an-integer": (_is_int, lambda v: v + 0.5),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_shapes_that_cannot_be_read_are_refused_naming_the_field(name: str) -> None:
    select, replace = REFUSED[name]
    problems, checked = [], 0
    for body, site in _first_of_each_place(select):
        checked += 1
        data = _put(copy.deepcopy(body.data), site.path, replace(site.value))
        try:
            _decode(body, data)
        except ResponseValidationError as exc:
            if f"field '{_dotted(site.path)}'" not in str(exc):
                problems.append(f"{body.name} at {site.path}: the error does not name the field: {exc!s:.300}")
        else:
            problems.append(f"{body.name} at {site.path}: accepted")
    assert not problems, f"{len(problems)} of {checked}:\n" + "\n".join(problems[:15])
    assert checked > 20

"""What the API reference says about the models and the named choice types, read from the spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_SCALARS = {"integer": "int", "number": "float", "string": "str", "boolean": "bool", "null": "None", "object": "dict"}
_PREFIX = "#/components/schemas/"


@dataclass
class ModelField:
    name: str
    type: str  # Markdown: the type as the model declares it, named schemas linked
    required: bool
    description: str
    deprecated: bool


@dataclass
class ModelDoc:
    name: str
    description: str
    fields: list[ModelField]
    mapping_of: str | None = None  # a dict keyed by names Discogs chooses, of this type
    record: bool = False  # x-musicagent-record: a slotted dataclass, not a model


@dataclass
class ChoiceDoc:
    name: str
    description: str
    values: tuple[str, ...]


def anchor(name: str) -> str:
    return "model-" + name.lower()


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def type_of(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    """The Python type a schema becomes, with links to the named schemas it refers to."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_PREFIX):
        name = ref[len(_PREFIX) :]
        target = schemas[name]
        if "enum" in target:
            return f"[{name}](#choice-{name.lower()})"
        if target.get("type") == "array" and not target.get("items"):
            return "list"
        return f"[{name}](#{anchor(name)})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [type_of(s, schemas) for s in schema[key]]
            return " \\| ".join(dict.fromkeys(parts))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " \\| ".join(type_of({**schema, "type": k}, schemas) for k in kind)
    if kind == "array":
        items = schema.get("items") or {}
        return f"list[{type_of(items, schemas)}]" if items else "list"
    if kind is None:
        return "Any"
    return _SCALARS.get(str(kind), str(kind))


def models(document: dict[str, Any]) -> list[ModelDoc]:
    """Every object schema (the models of `musicagent.models`), in name order."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    out: list[ModelDoc] = []
    for name in sorted(schemas):
        schema = schemas[name]
        if "properties" in schema:
            required = set(schema.get("required", []))
            fields = [
                ModelField(
                    prop,
                    type_of(sub, schemas),
                    prop in required,
                    _one_line(sub.get("description")),
                    bool(sub.get("deprecated")),
                )
                for prop, sub in schema["properties"].items()
            ]
            record = bool(schema.get("x-musicagent-record"))
            out.append(ModelDoc(name, _one_line(schema.get("description")), fields, record=record))
        elif isinstance(schema.get("additionalProperties"), dict):
            value = type_of(schema["additionalProperties"], schemas)
            out.append(ModelDoc(name, _one_line(schema.get("description")), [], mapping_of=value))
    return out


def choices(document: dict[str, Any]) -> list[ChoiceDoc]:
    """Every named string enum (the `Literal` types of `musicagent.types`), in name order."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    return [
        ChoiceDoc(name, _one_line(schemas[name].get("description")), tuple(str(v) for v in schemas[name]["enum"]))
        for name in sorted(schemas)
        if "enum" in schemas[name]
    ]

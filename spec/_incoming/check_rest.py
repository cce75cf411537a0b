#!/usr/bin/env python3
"""Check spec/_incoming/rest.yaml before it is merged into spec/discogs.yaml.

1. The document is valid OpenAPI 3.1 (openapi-spec-validator).
   The YAML may not repeat a key (a schema defined twice would silently replace the other).
2. Every body of ../shared/realdata/MANIFEST.tsv whose (method, path_template) is an operation of
   rest.yaml validates (JSON Schema 2020-12) against that operation's success response schema, or
   against ``Error`` when it is an error body (notes say "error body", or the body is just
   ``{"message": ...}``). A row whose notes say "FRAGMENT: a single element of X[]" holds one element
   of the array property X of the success schema and is validated against that array's item schema.

References (``#/components/...``) resolve against the whole document through a ``referencing``
registry. Prints a summary and exits non-zero on any failure.

Run from the repository root:  .venv/bin/python spec/_incoming/check_rest.py
Options: --spec PATH (default: rest.yaml next to this script), --realdata DIR (default:
<repo>/../shared/realdata, or $MUSICAGENT_REALDATA), -v to list every validated body.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SPEC_URI = "urn:musicagent:rest"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
FRAGMENT = re.compile(r"FRAGMENT: a single element of (\w+)\[\]")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (PyYAML silently keeps the last one, which
    would hide a schema defined twice, e.g. a name clash with a Database schema)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_spec(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def pointer(*parts: str) -> str:
    """A JSON pointer fragment (``#/a/b``) with ``~`` and ``/`` escaped."""
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _at(spec: dict[str, Any], ref: str) -> Any:
    """The node a local ``#/...`` pointer designates (one step, no $ref following)."""
    target: Any = spec
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow local ``#/...`` references until a node without ``$ref``."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported: {ref}")
        node = _at(spec, ref)
    return node


def success_schema_ref(spec: dict[str, Any], path: str, method: str) -> str | None:
    """Pointer to the JSON schema of the first 200/201 response of an operation, if it has one."""
    op = spec["paths"][path][method]
    for code in ("200", "201"):
        response = op.get("responses", {}).get(code)
        if response is None:
            continue
        ptr_parts = ["paths", path, method, "responses", code]
        if "$ref" in response:  # a shared response: point into components instead
            ref = response["$ref"]
            ptr_parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
            response = resolve(spec, response)
        if "application/json" in response.get("content", {}):
            return pointer(*ptr_parts, "content", "application/json", "schema")
    return None


def fragment_ref(spec: dict[str, Any], schema_ref: str, prop: str) -> str | None:
    """Pointer to the item schema of array property ``prop`` of the schema at ``schema_ref``."""
    ref = schema_ref
    node = _at(spec, ref)
    while isinstance(node, dict) and "$ref" in node:  # end the pointer at the named schema
        ref = node["$ref"]
        node = _at(spec, ref)
    prop_schema = node.get("properties", {}).get(prop) if isinstance(node, dict) else None
    if not isinstance(prop_schema, dict) or prop_schema.get("type") != "array" or "items" not in prop_schema:
        return None
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    return pointer(*parts, "properties", prop, "items")


def is_error_body(row: dict[str, str], body: Any) -> bool:
    return "error body" in row["notes"] or (isinstance(body, dict) and set(body) == {"message"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=HERE / "rest.yaml")
    parser.add_argument(
        "--realdata",
        type=Path,
        default=Path(os.environ.get("MUSICAGENT_REALDATA") or REPO.parent / "shared" / "realdata"),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list every validated body")
    args = parser.parse_args(argv)

    failures: list[str] = []
    try:
        spec = load_spec(args.spec)
    except (OSError, yaml.YAMLError) as exc:
        print(f"FAIL cannot read {args.spec}: {exc}")
        return 1

    # 1. the document ---------------------------------------------------------------------------
    try:
        if not str(spec.get("openapi", "")).startswith("3.1"):
            raise ValueError(f"openapi is {spec.get('openapi')!r}, not 3.1.x")
        validate_openapi(spec)
        print(f"OK   {args.spec.name} is valid OpenAPI {spec['openapi']}")
    except Exception as exc:  # noqa: BLE001 - report whatever the validator raises
        print(f"FAIL {args.spec.name} is not valid OpenAPI 3.1: {exc}")
        return 1

    operations = {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }
    print(f"     {len(operations)} operations, {len(spec['components']['schemas'])} component schemas")

    # 2. real bodies ----------------------------------------------------------------------------
    manifest = args.realdata / "MANIFEST.tsv"
    if not manifest.is_file():
        print(f"FAIL realdata manifest not found: {manifest} (use --realdata or MUSICAGENT_REALDATA)")
        return 1
    with manifest.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))

    registry: Registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    validators: dict[str, Draft202012Validator] = {}

    def validator(ref: str) -> Draft202012Validator:
        if ref not in validators:
            validators[ref] = Draft202012Validator({"$ref": SPEC_URI + ref}, registry=registry)
        return validators[ref]

    per_op: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    by_class: Counter[str] = Counter()
    checked = 0
    for row in rows:
        key = (row["method"], row["path_template"])
        if key not in operations:
            continue
        where = f"{row['method']} {row['path_template']} [{row['class']}] {row['file']}"
        try:
            with (args.realdata / row["file"]).open(encoding="utf-8") as f:
                body = json.load(f)
        except (OSError, ValueError) as exc:
            failures.append(f"{where}: cannot read the body: {exc}")
            continue
        method, path = row["method"].lower(), row["path_template"]
        if is_error_body(row, body):
            kind, ref = "error", "#/components/schemas/Error"
            status = re.search(r"HTTP (\d{3})", row["notes"])
            if status and status.group(1) not in operations[key].get("responses", {}):
                failures.append(f"{where}: error status {status.group(1)} is not declared by the operation")
        else:
            ref = success_schema_ref(spec, path, method)
            kind = "success"
            if ref is None:
                failures.append(f"{where}: a success body, but the operation has no 200/201 JSON schema")
                continue
            fragment = FRAGMENT.search(row["notes"])
            if fragment:
                item_ref = fragment_ref(spec, ref, fragment.group(1))
                if item_ref is None:
                    failures.append(f"{where}: fragment of {fragment.group(1)}[] but no such array property")
                    continue
                kind, ref = f"fragment of {fragment.group(1)}[]", item_ref
        errors = sorted(validator(ref).iter_errors(body), key=lambda e: list(e.absolute_path))
        checked += 1
        by_class[row["class"]] += 1
        per_op[key]["fail" if errors else "ok"] += 1
        if errors:
            detail = "\n".join(
                f"       at /{'/'.join(map(str, e.absolute_path))}: {e.message[:240]}" for e in errors[:8]
            )
            more = f"\n       ... and {len(errors) - 8} more" if len(errors) > 8 else ""
            failures.append(f"{where}: not a valid {ref} ({kind}):\n{detail}{more}")
        elif args.verbose:
            print(f"ok   {where} -> {ref} ({kind})")

    # summary -----------------------------------------------------------------------------------
    print(f"     {checked} real bodies validated ({', '.join(f'{c} {n}' for c, n in sorted(by_class.items()))})")
    width = max((len(f"{m} {p}") for m, p in operations), default=0)
    for (m, p), op in sorted(operations.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        counts = per_op.get((m, p))
        state = "no real body" if not counts else f"{counts['ok']} ok" + (
            f", {counts['fail']} FAILED" if counts["fail"] else ""
        )
        print(f"     {m + ' ' + p:<{width}}  {op.get('operationId', '?'):<40} {state}")
    if failures:
        print(f"\nFAIL {len(failures)} problem(s):")
        for problem in failures:
            print(f"  - {problem}")
        return 1
    print("\nOK   all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shapes Discogs uses for "nothing" that the models' types do not take, read as what they mean.

Discogs' serialiser writes an empty map as an empty JSON array (``"urls": []``, a price-suggestions
body ``[]``), may write a missing number, flag, list or object as ``""``, and may write a list whose
indexes have gaps as an object keyed by the indexes (``{"0": ..., "2": ...}``). A model rejecting
such an answer would fail the whole call, so the models' validation (``_runtime/model.py``) reads
them as ``{}``, absent (``None``) and the list of values, at any depth, for every model.

It happens only after validation failed, from the errors' locations: an answer of the usual
shape costs nothing more. Anything the rules do not cover still fails, with the error of the
reshaped data (a required field that arrives as ``""`` is a missing value, named by its path).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

__all__ = ["revalidate"]

T = TypeVar("T")

_OBJECT = frozenset({"model_type", "dataclass_type", "dict_type"})
_SCALAR = frozenset({"int_parsing", "int_type", "float_parsing", "float_type", "bool_parsing", "bool_type"})
_LIST = frozenset({"list_type"})
_PASSES = 64  # each pass fixes at least one place; a body needing more is not one of these shapes


def _replacement(kind: str, value: Any) -> tuple[bool, Any]:
    """(whether ``value`` is a known shape of "nothing" for what ``kind`` says was expected, its reading)."""
    if value == "" and kind in _OBJECT | _SCALAR | _LIST:
        return True, None
    if kind in _OBJECT and isinstance(value, list) and not value:
        return True, {}
    if kind in _LIST and isinstance(value, dict) and value and all(k.isdecimal() for k in value):
        return True, [value[k] for k in sorted(value, key=int)]
    return False, None


def _fixable(errors: list[Any]) -> bool:
    return any(_replacement(e["type"], e.get("input"))[0] for e in errors)


def _holds(node: Any, part: object) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _reshape(data: Any, errors: list[Any]) -> tuple[Any, bool]:
    """``data`` with every fixable place of ``errors`` replaced; whether anything changed."""
    changed = False
    for error in errors:
        fixable, value = _replacement(error["type"], error.get("input"))
        if not fixable:
            continue
        parent: Any = None
        key: Any = None
        node = data
        for part in error["loc"]:
            if _holds(node, part):
                parent, key, node = node, part, node[part]
            # anything else is a union member's label (``Price``, ``list[str]``), not a place in the data
        if type(node) is not type(error.get("input")) or node != error.get("input"):
            continue
        if parent is None:
            data = value
        else:
            parent[key] = value
        changed = True
    return data, changed


def revalidate(error: ValidationError, data: Any, validate: Callable[[Any], T], *, is_json: bool) -> T:
    """Validate ``data`` again with Discogs' shapes of "nothing" read as such; ``error`` if none is there.

    ``validate`` is the model's own (Python-mode) validation; ``is_json`` says ``data`` is the JSON text.
    """
    errors = error.errors(include_url=False)
    if not _fixable(errors):
        raise error
    data = json.loads(data) if is_json else copy.deepcopy(data)
    for _ in range(_PASSES):
        data, changed = _reshape(data, errors)
        if not changed:
            break
        try:
            return validate(data)
        except ValidationError as again:
            error, errors = again, again.errors(include_url=False)
    raise error from None

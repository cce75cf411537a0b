"""CSV export: nested objects flattened into dotted columns taken from the schema."""

from __future__ import annotations

import csv
import types
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, Union, get_args, get_origin, overload

from pydantic import BaseModel, RootModel
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic_core import to_json

from ._errors import ExportError
from ._items import Counter, Item, ProgressCallback, check_progress, run, to_data
from ._output import Target, TextSink, check_target, open_output

ListStyle: TypeAlias = Literal["json", "join"]
"""How a list goes into one cell: ``"json"`` keeps everything, ``"join"`` reads better."""

Column: TypeAlias = tuple[str, tuple[str, ...]]
"""A header name and the keys that lead to the value inside a dumped item."""

_LIST_STYLES: tuple[ListStyle, ...] = ("json", "join")
_END = object()


@overload
def to_csv(
    items: Iterable[Item],
    path: Target,
    *,
    columns: Sequence[str] | None = None,
    model: type[BaseModel] | None = None,
    list_style: ListStyle = "json",
    progress: ProgressCallback | None = None,
    escape_formulas: bool = False,
) -> int: ...
@overload
def to_csv(
    items: AsyncIterable[Item],
    path: Target,
    *,
    columns: Sequence[str] | None = None,
    model: type[BaseModel] | None = None,
    list_style: ListStyle = "json",
    progress: ProgressCallback | None = None,
    escape_formulas: bool = False,
) -> Coroutine[Any, Any, int]: ...
def to_csv(
    items: Iterable[Item] | AsyncIterable[Item],
    path: Target,
    *,
    columns: Sequence[str] | None = None,
    model: type[BaseModel] | None = None,
    list_style: ListStyle = "json",
    progress: ProgressCallback | None = None,
    escape_formulas: bool = False,
) -> int | Coroutine[Any, Any, int]:
    """Write ``items`` as CSV, one row per item, and return how many rows were written.

    A spreadsheet cannot hold nested objects, so they are flattened into dotted columns
    (``community.rating.average``) named by the JSON keys (field aliases) Discogs uses.
    The columns are fixed before the first row, without buffering rows, so memory stays
    flat for any number of items:

    * ``columns`` - exactly these, in this order (``model`` is then unused); a dot
      means "inside": ``"community.have"``.
    * else ``model``, else the class of the first item if it is a model - every field,
      walking nested models (also ``Model | None``) so a first item whose optional parts
      are missing still gives every column. Lists, dicts and unions of several models
      stay one column. Unknown (extra) fields are not columns; name them in ``columns``.
    * else (a mapping first) - the flattened keys of the first item.

    Keys of later rows that are not columns are ignored; missing values and ``None``
    are empty cells; booleans are ``true``/``false``; dicts are compact JSON. A list is
    compact JSON text with ``list_style="json"`` (nothing lost) or, with ``"join"``,
    its scalars joined with ``"; "`` (objects inside it as JSON).

    ``path`` is a file path (UTF-8, replaced atomically: on any error the previous file
    stays as it was) or a text stream, which should be opened with ``newline=""``.
    ``progress(count)`` is called every 1000 rows and once with the total.
    An async iterable (an ``AsyncDiscogs`` list) makes this a coroutine: ``await to_csv(...)``.
    ``escape_formulas=True`` prefixes text cells starting with ``= + - @`` (or a tab or carriage
    return) with ``'``, so a spreadsheet shows user-written Discogs text instead of running it.
    """
    target = check_target(path)
    if list_style not in _LIST_STYLES:
        raise ExportError(f"list_style must be one of {_LIST_STYLES}, not {list_style!r}")
    if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ExportError(f"model must be a pydantic BaseModel subclass, not {model!r}")
    chosen = _explicit_columns(columns) if columns is not None else None
    if chosen is None and model is not None:
        chosen = _nonempty(model_columns(model), f"model {model.__name__} has no fields")
    check_progress(progress)
    list_cell = _joined if list_style == "join" else _compact_json
    return run(items, lambda iterator: _write(iterator, target, chosen, list_cell, progress, escape_formulas))


def _write(
    iterator: Iterator[Item],
    target: Path | TextSink,
    chosen: list[Column] | None,
    list_cell: Callable[[list[Any]], str],
    progress: ProgressCallback | None,
    escape_formulas: bool,
) -> int:
    counter = Counter(progress)
    with open_output(target, newline="") as out:
        writer = _FormulaSafeWriter(out) if escape_formulas else csv.writer(out)
        first: object = next(iterator, _END)
        if first is _END:
            if chosen is not None:
                writer.writerow([name for name, _ in chosen])
            return counter.finish()
        first_data = to_data(first, 1)
        if chosen is None and isinstance(first, BaseModel):
            why = f"model {type(first).__name__} has no fields"
            chosen = _nonempty(model_columns(type(first)), why)
        elif chosen is None:
            why = "the first item has no keys; pass columns="
            chosen = _nonempty(data_columns(first_data), why)
        writer.writerow([name for name, _ in chosen])
        paths = [keys for _, keys in chosen]
        writer.writerow(_row(first_data, paths, list_cell))
        counter.step()
        for item in iterator:
            data = to_data(item, counter.count + 1)
            writer.writerow(_row(data, paths, list_cell))
            counter.step()
    return counter.finish()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _FormulaSafeWriter:
    """A csv writer whose text cells cannot start a spreadsheet formula."""

    def __init__(self, out: Any) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: list[object]) -> None:
        self._writer.writerow(
            ["'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell for cell in row]
        )


def model_columns(model: type[BaseModel]) -> list[Column]:
    """The flattened columns of ``model``, in field order, as its JSON dump would name them."""
    columns: list[Column] = []
    _walk_model(model, (), frozenset({model}), columns)
    return columns


def data_columns(data: dict[str, Any]) -> list[Column]:
    """The flattened columns of one dumped item (non-empty dicts are opened, lists are not)."""
    return [(".".join(keys), keys) for keys in _walk_data(data, ())]


def flatten(data: dict[str, Any], *, list_style: ListStyle = "json") -> dict[str, object]:
    """One dumped item (``to_data``) as ``{dotted column: cell}``: the header and row ``to_csv`` would write.

    The CLI's ``--format table`` draws these, so a table and a CSV file always agree.
    """
    columns = data_columns(data)
    cells = _row(data, [keys for _, keys in columns], _joined if list_style == "join" else _compact_json)
    return {name: cell for (name, _), cell in zip(columns, cells, strict=True)}


def _walk_model(
    model: type[Any],
    prefix: tuple[str, ...],
    open_models: frozenset[type[Any]],
    columns: list[Column],
) -> None:
    """The columns of a model or a record (a pydantic dataclass, see musicagent._runtime.model)."""
    if not model.__pydantic_complete__:
        # defer_build models keep forward references (``Rating | None`` as a string)
        # until built; resolve them, or nested models would look like opaque values.
        if isinstance(model, type) and issubclass(model, BaseModel):
            model.model_rebuild(raise_errors=False)
        else:
            from pydantic.dataclasses import rebuild_dataclass

            rebuild_dataclass(model, raise_errors=False)
    for name, field in model.__pydantic_fields__.items():
        if field.exclude is True:
            continue  # never dumped, so never a column
        keys = (*prefix, field.serialization_alias or name)
        nested = _single_model(field.annotation)
        # A model already being opened (a recursive schema) stays one JSON column.
        if nested is not None and nested not in open_models:
            _walk_model(nested, keys, open_models | {nested}, columns)
        else:
            columns.append((".".join(keys), keys))
    for name, computed in getattr(model, "__pydantic_computed_fields__", {}).items():
        keys = (*prefix, computed.alias or name)
        columns.append((".".join(keys), keys))


def _single_model(annotation: object) -> type[Any] | None:
    """The model or record a field holds (``Model``, ``Model | None``, ``Annotated[...]``), if exactly one."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _single_model(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _single_model(options[0]) if len(options) == 1 else None
    if origin is not None or not isinstance(annotation, type):
        return None
    # A RootModel dumps to its root value, not an object: it stays one column.
    if issubclass(annotation, BaseModel) and not issubclass(annotation, RootModel):
        return annotation
    if is_pydantic_dataclass(annotation):
        return annotation
    return None


def _walk_data(data: dict[str, Any], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for key, value in data.items():
        keys = (*prefix, key)
        if isinstance(value, dict) and value:
            yield from _walk_data(value, keys)
        else:
            yield keys


def _explicit_columns(columns: Sequence[str]) -> list[Column]:
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise ExportError(f"columns must be a sequence of column names, not {columns!r}")
    if not columns:
        raise ExportError("columns must name at least one column")
    for name in columns:
        if not isinstance(name, str) or not name:
            raise ExportError(f"column names must be non-empty strings, not {name!r}")
    if len(set(columns)) != len(columns):
        raise ExportError(f"columns contains duplicates: {list(columns)!r}")
    return [(name, tuple(name.split("."))) for name in columns]


def _nonempty(columns: list[Column], why: str) -> list[Column]:
    if not columns:
        raise ExportError(f"no columns to write: {why}")
    return columns


def _row(
    data: dict[str, Any],
    paths: list[tuple[str, ...]],
    list_cell: Callable[[list[Any]], str],
) -> list[object]:
    """One CSV row: the hot loop of a large export, so exact type checks, no helpers.

    ``data`` comes from ``to_data``: plain dicts, lists and JSON scalars only.
    """
    row: list[object] = []
    append = row.append
    for keys in paths:
        value: Any = data
        for key in keys:
            value = value.get(key) if type(value) is dict else None
        if value is None:
            append("")
        elif value is True:
            append("true")
        elif value is False:
            append("false")
        else:
            kind = type(value)
            if kind is str or kind is int or kind is float:
                append(value)
            elif kind is list:
                append(list_cell(value))
            else:
                append(_compact_json(value))
    return row


def _compact_json(value: Any) -> str:
    # pydantic-core's serializer: same JSON as json.dumps, about ten times faster here.
    return to_json(value).decode()


def _joined(values: list[Any]) -> str:
    return "; ".join(_scalar(value) for value in values)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _compact_json(value)
    return str(value)

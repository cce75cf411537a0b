"""CSV export: nested objects flattened into dotted columns taken from the schema."""

from __future__ import annotations

import csv
import types
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Iterator, Sequence
from datetime import date, datetime, time
from itertools import chain
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeAlias, Union, get_args, get_origin, overload

from pydantic import BaseModel, RootModel
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic_core import to_json

from ._errors import ExportError
from ._items import Counter, Item, ProgressCallback, check_progress, data_dumper, dumped, run
from ._output import Target, TextSink, check_target, open_output

ListStyle: TypeAlias = Literal["json", "join"]
"""How a list goes into one cell: ``"json"`` keeps everything, ``"join"`` reads better."""

Shape: TypeAlias = Literal["plain", "list", "any"]
"""What a column's value is dumped as, by its type: ``"plain"`` a str, int, float or None (the csv
module writes those exactly as the cell conversion would, so the value is handed over as it is), ``"list"``
a list or None, ``"any"`` anything."""


class Column(NamedTuple):
    """A header name and the keys that lead to the value inside a dumped item."""

    name: str
    keys: tuple[str, ...]
    shape: Shape = "any"
    """What the schema says its dumped value is (see ``Shape``)."""


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
                writer.writerow([column.name for column in chosen])
            return counter.finish()
        dumps = dumped(chain([first], iterator), data_dumper)
        first_data = next(dumps)
        if chosen is None and isinstance(first, BaseModel):
            why = f"model {type(first).__name__} has no fields"
            chosen = _nonempty(model_columns(type(first)), why)
        elif chosen is None:
            why = "the first item has no keys; pass columns="
            chosen = _nonempty(data_columns(first_data), why)
        writer.writerow([column.name for column in chosen])
        cell = _cell_function(list_cell)
        cells_of = _compile_row(chosen, cell, list_cell)
        all_plain = _PLAIN_TYPES.issuperset
        writerow = writer.writerow
        for data in chain([first_data], dumps):
            cells = cells_of(data)
            # The schema said plain, but a value can still be something else (a model built with
            # model_construct, a custom serializer, another class of item): convert this row cell by cell.
            if not all_plain(map(type, cells)):
                cells = [cell(value) for value in cells]
            writerow(cells)
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
    return [Column(".".join(keys), keys) for keys in _walk_data(data, ())]


def flatten(data: dict[str, Any], *, list_style: ListStyle = "json") -> dict[str, object]:
    """One dumped item (``to_data``) as ``{dotted column: cell}``: the header and row ``to_csv`` would write.

    The CLI's ``--format table`` draws these, so a table and a CSV file always agree.
    """
    cell = _cell_function(_joined if list_style == "join" else _compact_json)
    return {column.name: cell(_value(data, column.keys)) for column in data_columns(data)}


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
            columns.append(Column(".".join(keys), keys, _shape(field.annotation)))
    for name, computed in getattr(model, "__pydantic_computed_fields__", {}).items():
        keys = (*prefix, computed.alias or name)
        columns.append(Column(".".join(keys), keys, _shape(computed.return_type)))


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
    return [Column(name, tuple(name.split("."))) for name in columns]


def _nonempty(columns: list[Column], why: str) -> list[Column]:
    if not columns:
        raise ExportError(f"no columns to write: {why}")
    return columns


def _value(data: object, keys: tuple[str, ...]) -> Any:
    for key in keys:
        data = data.get(key) if type(data) is dict else None
    return data


_PLAIN_TYPES = frozenset({str, int, float, type(None)})
_PLAIN_ANNOTATIONS = (str, int, float, type(None), datetime, date, time)  # dumped (mode="json") as those


def _shape(annotation: object) -> Shape:
    """What a field of this type is dumped as (``str | None``, ``datetime``: plain; ``list[str] | None``: list)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _shape(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        shapes = {_shape(arg) for arg in get_args(annotation) if arg is not type(None)}
        return shapes.pop() if len(shapes) == 1 else "any"
    if origin is list:
        return "list"
    return "plain" if any(annotation is kind for kind in _PLAIN_ANNOTATIONS) else "any"


def _cell_function(list_cell: Callable[[list[Any]], str]) -> Callable[[Any], object]:
    """The cell of one dumped value: ``""`` for None, ``true``/``false``, numbers and text as they are
    (the csv module writes them), lists by ``list_cell``, anything else as compact JSON."""

    def cell(value: Any) -> object:
        kind = type(value)
        if kind is str or kind is int or kind is float:
            return value
        if value is None:
            return ""
        if value is True:
            return "true"
        if value is False:
            return "false"
        if kind is list:
            return list_cell(value)
        return _compact_json(value)

    return cell


def _compile_row(
    columns: Sequence[Column], cell: Callable[[Any], object], list_cell: Callable[[list[Any]], str]
) -> Callable[[Any], list[object]]:
    """One function that reads every column's value out of a dumped item: the hot loop of a large export.

    Generated once per export from the columns, as ``dataclasses`` generates ``__init__``: each parent
    object is looked up once per row and each value with one ``dict.get`` (a generic walk over the key
    paths cost twice the time of the csv module writing the row). A plain column's value is taken as
    it is, a list column's list goes to ``list_cell``, anything else through ``cell``. The source holds
    only names made here: keys and helpers come in as arguments of the outer function, so no key is
    ever written into code.
    """
    key_names: dict[str, str] = {}
    parents: dict[tuple[str, ...], str] = {(): "d"}
    lines = ["  def row(d):", "    if type(d) is not dict: d = E"]

    def key(name: str) -> str:
        return key_names.setdefault(name, f"k{len(key_names)}")

    def parent(keys: tuple[str, ...]) -> str:
        if keys not in parents:
            above = parent(keys[:-1])
            variable = parents[keys] = f"p{len(parents)}"
            lines.append(f"    {variable} = {above}.get({key(keys[-1])})")
            lines.append(f"    if type({variable}) is not dict: {variable} = E")
        return parents[keys]

    values = []
    for column in columns:
        value = f"{parent(column.keys[:-1])}.get({key(column.keys[-1])})"
        if column.shape == "plain":
            values.append(value)
        elif column.shape == "list":  # the list's cell at once; anything else (None) by ``cell``
            values.append(f"list_cell(x) if type(x := {value}) is list else cell(x)")
        else:
            values.append(f"cell({value})")
    lines.append(f"    return [{', '.join(values)}]")
    lines.append("  return row")
    source = f"def make(E, cell, list_cell, {', '.join(key_names.values())}):\n" + "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<musicagent.export row>", "exec"), namespace)
    make_row: Callable[..., Callable[[Any], list[object]]] = namespace["make"]
    return make_row({}, cell, list_cell, *key_names)


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

"""Writing results: JSON, JSON Lines and CSV go through :mod:`musicagent.export`; tables are drawn
here, from export's flattening (the same dotted columns and cells as a CSV file).

Lists go to the export writers as a lazy iterable, so a long paginated listing is written while it
is fetched, one item in memory at a time. Only ``table`` buffers, because column widths depend on
every row (a table is meant for a screenful anyway).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO, get_args, get_origin

from pydantic import BaseModel

from ..export import ExportError, to_csv, to_json, to_jsonl
from ..export._csv import flatten
from ..export._items import to_data
from ..export._output import check_target, open_output
from .errors import OutputError

__all__ = [
    "check_output",
    "column_names",
    "list_field",
    "main_list",
    "model_class",
    "render_record",
    "render_table",
    "table_row",
    "write_many",
    "write_one",
]

CELL_WIDTH = 40
"""Table cells are cut here: one long profile must not push every other column off the screen."""
RECORD_WIDTH = 100


def check_output(output: str | None) -> None:
    """Refuse an ``-o`` that cannot be created before anything is sent, so a POST's answer is never lost.

    Writable means what the atomic writers need: a temporary file can be made beside the target (a
    read-only directory, or one the user may not write, fails here rather than after the request).
    """
    if output is None:
        return
    try:
        target = check_target(output)
    except ExportError as exc:
        raise OutputError(str(exc)) from None
    assert isinstance(target, Path)  # a str always names a path
    try:
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".probe")
    except OSError as exc:
        raise OutputError(f"cannot write to {output!r}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def model_class(name: str | None) -> type[BaseModel] | None:
    """The generated model named in the registry, for schema-driven CSV columns."""
    if not name:
        return None
    from .. import models

    found = getattr(models, name, None)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def table_row(item: Any) -> dict[str, str]:
    """One item as table cells: export's flattening (the CSV columns), each cell on one line."""
    return {name: " ".join(str(cell).split()) for name, cell in flatten(to_data(item, 1), list_style="join").items()}


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


MIN_CELL = 6
"""Narrowest a column is squeezed to (``abcd…``) before columns are left out to fit a terminal."""


def _fit(widths: list[int], width: int) -> tuple[list[int], int]:
    """Column widths that fit ``width`` (two spaces between columns) and how many columns are kept.

    The widest columns give way first, down to MIN_CELL; if that is not enough, the last columns are
    left out, keeping room for the ``…`` column that says so.
    """

    def total(ws: list[int]) -> int:
        return sum(ws) + 2 * (len(ws) - 1)

    if total(widths) <= width:
        return widths, len(widths)
    kept = len(widths)
    while kept > 1 and total([min(w, MIN_CELL) for w in widths[:kept]]) + 3 > width:
        kept -= 1
    room = width - (3 if kept < len(widths) else 0)
    cap = max(widths[:kept])
    while cap > MIN_CELL and total([min(w, cap) for w in widths[:kept]]) > room:
        cap -= 1
    return [min(w, cap) for w in widths[:kept]], kept


def render_table(
    rows: list[dict[str, str]],
    *,
    cell_width: int = CELL_WIDTH,
    width: int | None = None,
    columns: list[str] | None = None,
) -> str:
    """Aligned columns, cut to ``width`` visibly: long cells end in ``…``, left-out columns are named.

    Without ``columns``, columns empty in every row are left out.
    """
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        names = [name for name in seen if any(row.get(name) for row in rows)]
    else:
        names = list(columns)
    if not names:
        return ""
    table = [list(names)] + [[row.get(name, "") for name in names] for row in rows]
    widths = [min(max(len(line[i]) for line in table), cell_width) for i in range(len(names))]
    kept = len(names)
    if width is not None:
        widths, kept = _fit(widths, width)
    lines = []
    for number, line in enumerate(table):
        cells = [_clip(cell, w).ljust(w) for cell, w in zip(line, widths, strict=False)]
        if kept < len(names):
            cells.append("…")
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join(["-" * w for w in widths] + (["-"] if kept < len(names) else [])))
    if kept < len(names):
        import textwrap

        left = names[kept:]
        note = f"… {len(left)} more column(s) did not fit: {', '.join(left)} (choose with --columns)"
        lines.extend(textwrap.wrap(note, width) if width else [note])
    return "\n".join(lines) + "\n"


def render_record(
    data: BaseModel | Mapping[str, Any], *, width: int | None = None, columns: list[str] | None = None
) -> str:
    """One object as ``key  value`` lines (empty values left out): a wide row would not fit a screen."""
    row = table_row(data)
    flat = {k: v for k, v in row.items() if v} if columns is None else {k: row.get(k, "") for k in columns}
    if not flat:
        return ""
    key_width = max(len(k) for k in flat)
    value_width = RECORD_WIDTH if width is None else max(min(RECORD_WIDTH, width - key_width - 2), 10)
    return "".join(f"{k.ljust(key_width)}  {_clip(v, value_width)}\n" for k, v in flat.items())


def _terminal_width(output: str | None, stdout: TextIO) -> int | None:
    """Fit tables to the terminal only when they are going to one."""
    if output is not None or not stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def _write_text(text: str, output: str | None, stdout: TextIO) -> None:
    """To stdout, or atomically to the file (the export writer: an earlier file survives a failure)."""
    if output is None:
        stdout.write(text)
        stdout.flush()
        return
    with open_output(check_target(output), newline="") as out:
        out.write(text)


def list_field(model: type[BaseModel]) -> tuple[str, type[BaseModel]] | None:
    """The one field holding a list of objects, when that is all a wrapper answer is about.

    ``CollectionFolders.folders``, ``CollectionFields.fields``, ``UserList.items``: a table of such an
    answer is a table of that list. A model with several such lists (a release: tracklist, images,
    videos, ...) or none is shown as one record.
    """
    found = []
    model.model_rebuild()  # deferred models hold forward references until built
    for name, info in model.model_fields.items():
        for arg in get_args(info.annotation) or (info.annotation,):
            if get_origin(arg) is list:
                (item,) = get_args(arg) or (None,)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    found.append((info.alias or name, item))
    return found[0] if len(found) == 1 else None


def main_list(obj: Any) -> list[Any] | None:
    """The items of a wrapper answer (see :func:`list_field`), or None when ``obj`` is not one."""
    if not isinstance(obj, BaseModel):
        return None
    field = list_field(type(obj))
    if field is None:
        return None
    value = obj.__dict__.get(field[0])  # __dict__, not getattr: a deprecated field would warn
    return list(value or [])


def write_one(obj: Any, fmt: str, output: str | None, stdout: TextIO, columns: list[str] | None = None) -> None:
    """A single object (a model, or the dict of a form answer) in the chosen format.

    For ``table`` and ``csv`` a wrapper answer (one list of objects, like a user's folders) is written
    as that list, one row per item.
    """
    items = main_list(obj) if fmt in ("table", "csv") else None
    if items is not None:
        field = list_field(type(obj))
        write_many(items, fmt, output, stdout, field[1] if field else None, columns=columns)
        return
    target: str | TextIO = stdout if output is None else output
    if fmt == "csv":
        to_csv([obj], target, columns=columns)
    elif fmt == "jsonl":
        to_jsonl([obj], target)
    elif fmt == "table":
        _write_text(render_record(obj, width=_terminal_width(output, stdout), columns=columns), output, stdout)
    else:
        _write_text(json.dumps(to_data(obj, 1), indent=2, ensure_ascii=False) + "\n", output, stdout)


def write_many(
    items: Iterable[Any],
    fmt: str,
    output: str | None,
    stdout: TextIO,
    model: type[BaseModel] | None,
    columns: list[str] | None = None,
) -> int:
    """Every item, streamed for json/jsonl/csv; returns how many were written."""
    target: str | TextIO = stdout if output is None else output
    if fmt == "csv":
        return to_csv(items, target, model=model, columns=columns)
    if fmt == "jsonl":
        return to_jsonl(items, target)
    if fmt == "table":
        rows = [table_row(item) for item in items]
        _write_text(render_table(rows, width=_terminal_width(output, stdout), columns=columns), output, stdout)
        return len(rows)
    return to_json(items, target, indent=2)


def column_names(model: type[BaseModel]) -> list[str]:
    """The columns ``--columns`` may name for rows of ``model`` (export's flattened, dotted names)."""
    from ..export._csv import model_columns

    return [column.name for column in model_columns(model)]

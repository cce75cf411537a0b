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
from typing import Any, TextIO

from pydantic import BaseModel

from ..export import ExportError, to_csv, to_json, to_jsonl
from ..export._csv import flatten
from ..export._items import to_data
from ..export._output import check_target, open_output
from .errors import OutputError

__all__ = [
    "check_output",
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


def render_table(rows: list[dict[str, str]], *, cell_width: int = CELL_WIDTH, width: int | None = None) -> str:
    """Aligned columns; columns empty in every row are left out, and with ``width`` those that do not fit."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    names = [name for name in columns if any(row.get(name) for row in rows)]
    if not names:
        return ""
    table = [[_clip(name, cell_width) for name in names]]
    table += [[_clip(row.get(name, ""), cell_width) for name in names] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(names))]
    if width is not None:
        kept, used = 0, 0
        for w in widths:
            if kept and used + 2 + w > width:
                break
            used += (2 if kept else 0) + w
            kept += 1
        widths = widths[:kept]
    lines = []
    for number, line in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def render_record(data: BaseModel | Mapping[str, Any], *, width: int | None = None) -> str:
    """One object as ``key  value`` lines (empty values left out): a wide row would not fit a screen."""
    flat = {k: v for k, v in table_row(data).items() if v}
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


def write_one(obj: Any, fmt: str, output: str | None, stdout: TextIO) -> None:
    """A single object (a model, or the dict of a form answer) in the chosen format."""
    target: str | TextIO = stdout if output is None else output
    if fmt == "csv":
        to_csv([obj], target)
    elif fmt == "jsonl":
        to_jsonl([obj], target)
    elif fmt == "table":
        _write_text(render_record(obj, width=_terminal_width(output, stdout)), output, stdout)
    else:
        _write_text(json.dumps(to_data(obj, 1), indent=2, ensure_ascii=False) + "\n", output, stdout)


def write_many(
    items: Iterable[Any], fmt: str, output: str | None, stdout: TextIO, model: type[BaseModel] | None
) -> int:
    """Every item, streamed for json/jsonl/csv; returns how many were written."""
    target: str | TextIO = stdout if output is None else output
    if fmt == "csv":
        return to_csv(items, target, model=model)
    if fmt == "jsonl":
        return to_jsonl(items, target)
    if fmt == "table":
        rows = [table_row(item) for item in items]
        _write_text(render_table(rows, width=_terminal_width(output, stdout)), output, stdout)
        return len(rows)
    return to_json(items, target, indent=2)

"""JSON and JSON Lines export, one item in memory at a time."""

from __future__ import annotations

from collections.abc import AsyncIterable, Coroutine, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, overload

from ._errors import ExportError
from ._items import Counter, Item, ProgressCallback, check_progress, dumped, run, text_dumper
from ._output import Target, TextSink, check_target, open_output


@overload
def to_json(
    items: Iterable[Item], path: Target, *, indent: int | None = 2, progress: ProgressCallback | None = None
) -> int: ...
@overload
def to_json(
    items: AsyncIterable[Item], path: Target, *, indent: int | None = 2, progress: ProgressCallback | None = None
) -> Coroutine[Any, Any, int]: ...
def to_json(
    items: Iterable[Item] | AsyncIterable[Item],
    path: Target,
    *,
    indent: int | None = 2,
    progress: ProgressCallback | None = None,
) -> int | Coroutine[Any, Any, int]:
    """Write ``items`` as one JSON array and return how many were written.

    The array is streamed item by item, so memory stays flat however long a paginated
    listing is. ``indent=None`` gives one compact line; otherwise the layout is that of
    ``json.dumps(..., indent=indent)``. Text is UTF-8, not ``\\u`` escapes. Models are
    dumped by alias with their unknown (extra) fields, datetimes etc. as JSON strings.

    ``path`` is a file path (replaced atomically: on any error, the previous file stays
    as it was) or an open text stream such as ``sys.stdout`` (written, flushed, not
    closed). ``progress(count)`` is called every 1000 items and once with the total. An async
    iterable (an ``AsyncDiscogs`` list) makes this a coroutine: ``await to_json(...)``.
    """
    if indent is not None and (isinstance(indent, bool) or not isinstance(indent, int) or indent < 0):
        raise ExportError(f"indent must be None or an int >= 0, not {indent!r}")
    target = check_target(path)
    check_progress(progress)
    return run(items, lambda iterator: _write_json(iterator, target, indent, progress))


def _write_json(
    iterator: Iterator[Item], target: Path | TextSink, indent: int | None, progress: ProgressCallback | None
) -> int:
    counter = Counter(progress)
    with open_output(target, newline="\n") as out:
        if indent is None:
            opening, separator, closing, pad = "[", ",", "]", ""
        else:
            pad = " " * indent
            opening, separator, closing = "[\n" + pad, ",\n" + pad, "\n]"
        for text in dumped(iterator, partial(text_dumper, indent=indent), as_json=True):
            if pad:
                # Newlines inside strings are escaped, so every "\n" is layout.
                text = text.replace("\n", "\n" + pad)
            out.write((separator if counter.count else opening) + text)
            counter.step()
        out.write((closing if counter.count else "[]") + "\n")
    return counter.finish()


@overload
def to_jsonl(items: Iterable[Item], path: Target, *, progress: ProgressCallback | None = None) -> int: ...
@overload
def to_jsonl(
    items: AsyncIterable[Item], path: Target, *, progress: ProgressCallback | None = None
) -> Coroutine[Any, Any, int]: ...
def to_jsonl(
    items: Iterable[Item] | AsyncIterable[Item],
    path: Target,
    *,
    progress: ProgressCallback | None = None,
) -> int | Coroutine[Any, Any, int]:
    """Write one compact JSON object per line (JSON Lines) and return how many were written.

    The format for very large exports: a reader can stream it back line by line, and
    ``wc -l`` counts the items. Items, ``path`` and ``progress`` behave as in ``to_json``.
    """
    target = check_target(path)
    check_progress(progress)
    return run(items, lambda iterator: _write_jsonl(iterator, target, progress))


def _write_jsonl(iterator: Iterator[Item], target: Path | TextSink, progress: ProgressCallback | None) -> int:
    counter = Counter(progress)
    with open_output(target, newline="\n") as out:
        for text in dumped(iterator, text_dumper, as_json=True):
            out.write(text + "\n")
            counter.step()
    return counter.finish()

"""Turning input items into JSON-safe dicts, and counting them for progress reports."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_json, to_jsonable_python

from ._errors import ExportError

Item: TypeAlias = BaseModel | Mapping[str, Any]
"""What can be exported: pydantic models, plain mappings, or a mix of both."""

ProgressCallback: TypeAlias = Callable[[int], object]
"""Called with the number of items written so far (see ``PROGRESS_EVERY``)."""

PROGRESS_EVERY = 1000
"""Items between two progress calls: often enough for a progress bar, rare enough to cost nothing."""


def iterate(items: Iterable[Item]) -> Iterator[Item]:
    """Get the one iterator used for the whole export (a paginator must not be walked twice)."""
    try:
        return iter(items)
    except TypeError:
        raise ExportError(f"items must be iterable, not {type(items).__name__}") from None


_BATCH = 100  # items handed from the event loop to the writer thread at a time (one page, usually)


if TYPE_CHECKING:
    import concurrent.futures


def run(
    items: Iterable[Item] | AsyncIterable[Item], write: Callable[[Iterator[Item]], int]
) -> int | Coroutine[Any, Any, int]:
    """Run a writer over ``items`` now, or, for an async iterable, return a coroutine that does.

    An ``AsyncDiscogs`` list (``await to_csv(discogs.search(...), path)``) is walked on the event
    loop while the writer itself runs in a worker thread, so file writes never block the loop and
    the three writers stay one implementation each. Items cross in batches; memory stays flat.
    """
    if not isinstance(items, Iterable) and isinstance(items, AsyncIterable):
        return _run_async(items, write)
    return write(iterate(items))


async def _run_async(items: AsyncIterable[Item], write: Callable[[Iterator[Item]], int]) -> int:
    import asyncio  # only for async iterables: the sync exports (and the CLI) never import it

    loop = asyncio.get_running_loop()
    source = aiter(items)
    pending: list[concurrent.futures.Future[list[Item]]] = []

    async def batch() -> list[Item]:
        chunk: list[Item] = []
        while len(chunk) < _BATCH:
            try:
                chunk.append(await anext(source))
            except StopAsyncIteration:
                break
        return chunk

    def pulled() -> Iterator[Item]:
        while True:
            future = asyncio.run_coroutine_threadsafe(batch(), loop)
            pending[:] = [future]
            chunk = future.result()  # a failure of the source (an APIError) ends the export here
            if not chunk:
                return
            yield from chunk

    worker = asyncio.ensure_future(asyncio.to_thread(write, pulled()))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        for future in pending:  # the writer thread stops at its next item; the target stays untouched
            future.cancel()
        await asyncio.wait([worker])
        raise


def check_progress(progress: ProgressCallback | None) -> None:
    """Fail now rather than after the first thousand items have been fetched."""
    if progress is not None and not callable(progress):
        raise ExportError(f"progress must be a callable or None, not {type(progress).__name__}")


Dump = TypeVar("Dump")


def dumped(
    items: Iterable[object], dumper: Callable[[type, int], Callable[[Any], Dump]], *, as_json: bool = False
) -> Iterator[Dump]:
    """Each item dumped by ``dumper(its class, its 1-based number)``, asked again only when the class changes.

    The dumper decides once per class what per item would cost type checks and keyword parsing: in
    a long export every item is usually of the one class. With ``as_json``, an item JSON cannot hold
    is an ExportError that names it.
    """
    kind: type | None = None
    dump: Callable[[Any], Dump] | None = None
    for number, item in enumerate(items, 1):
        if type(item) is not kind or dump is None:
            kind = type(item)
            dump = dumper(kind, number)
        try:
            value = dump(item)
        except PydanticSerializationError as exc:
            if as_json:
                raise ExportError(f"item #{number} cannot be written as JSON: {exc}") from None
            raise
        yield value


def data_dumper(kind: type, number: int) -> Callable[[Any], Any]:
    """How to dump items of class ``kind`` the way the API sends them: aliases as keys, unknown fields
    kept, JSON types. A Discogs answer keeps only the fields it had (:func:`_answer_only`).

    A model whose ``model_dump`` is pydantic's own is dumped by its serializer directly (what
    ``model_dump`` does, less a call and its keyword handling per item). ``number`` names the item in
    the error for a class that is not an item.
    """
    if issubclass(kind, BaseModel):
        answer_only = _answer_only(kind)
        if kind.model_dump is BaseModel.model_dump:
            to_python = kind.__pydantic_serializer__.to_python

            def dump(item: Any) -> Any:  # a closure: functools.partial merges its keywords on every call
                return to_python(item, mode="json", by_alias=True, exclude_unset=answer_only)

            return dump
        return partial(kind.model_dump, mode="json", by_alias=True, exclude_unset=answer_only)
    if issubclass(kind, dict):
        return _jsonable
    if issubclass(kind, Mapping):
        return lambda item: _jsonable(dict(item))
    raise _not_an_item(kind, number)


def text_dumper(kind: type, number: int, indent: int | None = None) -> Callable[[Any], str]:
    """How to write items of class ``kind`` as the JSON text of their ``data_dumper`` dump, in one step.

    NaN and infinities become ``null``: JSON has no such numbers, and a reader would reject the file.
    Values JSON cannot hold at all (bytes that are not UTF-8, arbitrary objects) raise
    ``PydanticSerializationError`` (``dumped(..., as_json=True)`` names the item in an ExportError).
    """
    if issubclass(kind, BaseModel):  # pydantic writes NaN and infinities as null by default
        answer_only = _answer_only(kind)
        if kind.model_dump_json is BaseModel.model_dump_json:
            model_json = kind.__pydantic_serializer__.to_json

            def text(item: Any) -> str:
                return model_json(item, by_alias=True, indent=indent, exclude_unset=answer_only).decode()

            return text
        return partial(kind.model_dump_json, by_alias=True, indent=indent, exclude_unset=answer_only)
    if issubclass(kind, (dict, Mapping)):
        data_json = partial(to_json, by_alias=True, indent=indent, inf_nan_mode="null")
        if issubclass(kind, dict):
            return lambda item: data_json(item).decode()
        return lambda item: data_json(dict(item)).decode()
    raise _not_an_item(kind, number)


def to_data(item: object, number: int) -> Any:
    """One item dumped by its :func:`data_dumper` (a dict, for anything but a ``RootModel``)."""
    return data_dumper(type(item), number)(item)


_jsonable = partial(to_jsonable_python, by_alias=True)


def _answer_only(kind: type[BaseModel]) -> bool:
    """Whether to leave out fields the data did not have: yes for the SDK's models, whose defaults are
    all None, so a field Discogs left out is not written as a ``null`` it never sent. Another model's
    default is a value in its own right and is written."""
    from .._runtime.model import DiscogsModel

    return issubclass(kind, DiscogsModel)


def _not_an_item(kind: type, number: int) -> ExportError:
    return ExportError(f"item #{number} is a {kind.__name__}; expected a pydantic model or a mapping")


class Counter:
    """Counts written items and tells ``progress`` every ``PROGRESS_EVERY`` and at the end."""

    __slots__ = ("_progress", "count")

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.count = 0
        self._progress = progress

    def step(self) -> None:
        self.count += 1
        if self._progress is not None and self.count % PROGRESS_EVERY == 0:
            self._progress(self.count)

    def finish(self) -> int:
        """Report the total once (unless ``step`` just did) so a bar can reach 100%."""
        if self._progress is not None and (self.count == 0 or self.count % PROGRESS_EVERY):
            self._progress(self.count)
        return self.count

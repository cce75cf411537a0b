"""Turning input items into JSON-safe dicts, and counting them for progress reports."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

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


def to_data(item: object, number: int) -> dict[str, Any]:
    """Dump one item the way the API sends it: aliases as keys, unknown fields kept, JSON types.

    A Discogs answer keeps only the fields it had (:func:`_answer_only`). ``number`` (1-based) only
    serves the error message.
    """
    checked = _checked(item, number)
    if isinstance(checked, BaseModel):
        return checked.model_dump(mode="json", by_alias=True, exclude_unset=_answer_only(checked))
    data: dict[str, Any] = to_jsonable_python(checked, by_alias=True)
    return data


def to_json_text(item: object, number: int, indent: int | None = None) -> str:
    """The JSON text of ``to_data(item)``, made in one step by pydantic's fast serializer.

    NaN and infinities become ``null``: JSON has no such numbers, and a reader would reject the file.
    Values JSON cannot hold at all (bytes that are not UTF-8, arbitrary objects) are an ExportError.
    """
    try:
        checked = _checked(item, number)
        if isinstance(checked, BaseModel):  # pydantic writes NaN and infinities as null by default
            return checked.model_dump_json(by_alias=True, indent=indent, exclude_unset=_answer_only(checked))
        return to_json(checked, by_alias=True, indent=indent, inf_nan_mode="null").decode()
    except PydanticSerializationError as exc:
        raise ExportError(f"item #{number} cannot be written as JSON: {exc}") from None


def _answer_only(model: BaseModel) -> bool:
    """Whether to leave out fields the data did not have: yes for the SDK's models, whose defaults are
    all None, so a field Discogs left out is not written as a ``null`` it never sent. Another model's
    default is a value in its own right and is written."""
    from .._runtime.model import DiscogsModel

    return isinstance(model, DiscogsModel)


def _checked(item: object, number: int) -> BaseModel | dict[str, Any]:
    if isinstance(item, (BaseModel, dict)):
        return item
    if isinstance(item, Mapping):
        return dict(item)
    raise ExportError(f"item #{number} is a {type(item).__name__}; expected a pydantic model or a mapping")


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

"""Where exported text goes: a file replaced atomically, or a stream the caller owns."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeAlias

from .._runtime.files import atomic_file
from ._errors import ExportError


class TextSink(Protocol):
    """Anything text can be written to (``sys.stdout``, ``io.StringIO``, an open file)."""

    def write(self, s: str, /) -> object: ...


Target: TypeAlias = str | os.PathLike[str] | TextSink


def check_target(target: Target) -> Path | TextSink:
    """Reject an unusable destination before any item is fetched or any byte written."""
    if isinstance(target, (str, os.PathLike)):
        path = Path(os.fsdecode(os.fspath(target)))
        if path.is_symlink():  # write through the link: replacing it would leave its target stale
            path = Path(os.path.realpath(path))
        if path.is_dir():
            raise ExportError(f"cannot write to {str(path)!r}: it is a directory")
        parent = path.parent
        if not parent.is_dir():
            raise ExportError(f"cannot write to {str(path)!r}: directory {str(parent)!r} does not exist")
        return path
    if callable(getattr(target, "write", None)):
        return target
    raise ExportError(f"path must be a str, an os.PathLike or a writable text stream, not {type(target).__name__}")


@contextlib.contextmanager
def open_output(target: Path | TextSink, *, newline: str) -> Iterator[TextSink]:
    """Yield something to write to; on success make it visible, on any failure leave no trace.

    A path is written by the runtime's one atomic writer (:func:`~musicagent._runtime.files.atomic_file`):
    readers see the old file or the complete new one; any exception - a failing page fetch inside
    the items iterator, a KeyboardInterrupt - leaves the old one.
    A stream is written directly and flushed, never closed: it belongs to the caller.
    """
    if not isinstance(target, Path):
        yield target
        flush = getattr(target, "flush", None)
        if callable(flush):
            flush()
        return

    with atomic_file(target, "w", newline=newline) as fh:
        yield fh

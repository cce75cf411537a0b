"""Where exported text goes: a file replaced atomically, or a stream the caller owns."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeAlias

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

    A path is written to a temporary file next to it (same filesystem, so ``os.replace``
    is atomic), flushed and fsynced, then renamed over the target: readers see either the
    old file or the complete new one. Any exception - a failing page fetch inside the
    items iterator, a KeyboardInterrupt - removes the temporary file and keeps the old one.
    A stream is written directly and flushed, never closed: it belongs to the caller.
    """
    if not isinstance(target, Path):
        yield target
        flush = getattr(target, "flush", None)
        if callable(flush):
            flush()
        return

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with open(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _final_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _final_mode(target: Path) -> int:
    """Permissions the file would have had if written in place (mkstemp makes it 0600)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        # The umask can only be read by setting it; it is put back at once.
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself, so a crash right after returning cannot undo it (POSIX)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

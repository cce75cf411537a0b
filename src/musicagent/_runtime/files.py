"""The one atomic-file writer: downloads (transport) and exports (``musicagent.export``) both use it.

A file is written to a temporary file next to it (same filesystem, so ``os.replace`` is atomic),
flushed and fsynced, then renamed over the target: readers see either the old file or the complete
new one. Any exception (a failing page fetch, a download cut off, a KeyboardInterrupt) removes the
temporary file and keeps the old one.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

__all__ = ["atomic_file", "atomic_write"]


@contextlib.contextmanager
def atomic_file(target: Path, mode: Literal["w", "wb"] = "wb", *, newline: str | None = None) -> Iterator[IO[Any]]:
    """Yield a file to write; on success it replaces ``target``, on any failure it leaves no trace.

    Text mode (``"w"``) writes UTF-8 with the given ``newline`` translation.
    """
    import tempfile  # here: it is slow to import, and only writers need it

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        encoding = "utf-8" if mode == "w" else None
        with open(fd, mode, encoding=encoding, newline=newline) as fh:
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


def atomic_write(target: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``target`` atomically (see :func:`atomic_file`)."""
    with atomic_file(target) as fh:
        for chunk in chunks:
            fh.write(chunk)


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

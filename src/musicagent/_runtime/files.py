"""Writing a download to disk atomically, for both transport shells.

The body goes to a temporary file beside the target, is flushed to disk, and replaces the target
in one rename, so an interrupted download never leaves a half-written file under the target's name.
A failure of the local disk is a :class:`DownloadError` (retrying the request cannot fix it); an
error of the connection raised while the body is being read passes through unchanged, for the shell
to map and retry.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import DownloadError

__all__ = ["DownloadFile", "atomic_download"]


def _disk_error(target: Path, exc: OSError) -> DownloadError:
    return DownloadError(f"cannot write {str(target)!r}: {exc.strerror or exc}")


class DownloadFile:
    """The temporary file being written: ``write`` turns a disk failure into a DownloadError."""

    __slots__ = ("_out", "_target")

    def __init__(self, out: BinaryIO, target: Path) -> None:
        self._out = out
        self._target = target

    def write(self, chunk: bytes) -> None:
        try:
            self._out.write(chunk)
        except OSError as exc:
            raise _disk_error(self._target, exc) from None


@contextlib.contextmanager
def atomic_download(target: Path) -> Iterator[DownloadFile]:
    """``with atomic_download(path) as out: out.write(chunk)``; the target appears only on success."""
    import tempfile  # with the first download, not at start-up

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise _disk_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as out:
            yield DownloadFile(out, target)
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise _disk_error(target, exc) from None
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise _disk_error(target, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

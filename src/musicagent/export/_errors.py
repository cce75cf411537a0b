"""The one exception type of the export package."""

from __future__ import annotations


class ExportError(ValueError):
    """A bad argument or item, raised before a file is replaced.

    A ``ValueError`` so callers that already catch bad input keep working, and a
    distinct type so a CLI can tell "you asked for something impossible" from I/O errors.
    """

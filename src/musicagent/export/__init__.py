"""Export iterables of API objects (models, dicts, lazy paginators) to JSON, JSON Lines and CSV.

Every writer takes the items as any iterable and walks it exactly once, one item in
memory at a time, because a paginated listing fetches pages while it is iterated and
may be far too large to hold. A file path is replaced atomically; an open text stream
(``sys.stdout``) is written directly. Each writer returns the number of items written.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._errors import ExportError

if TYPE_CHECKING:
    from ._csv import ListStyle, to_csv
    from ._items import PROGRESS_EVERY, Item, ProgressCallback
    from ._json import to_json, to_jsonl
    from ._output import Target, TextSink

# The writers import pydantic; the CLI needs only ExportError to start (its --help and completion).
_LAZY = {
    "ListStyle": "._csv",
    "to_csv": "._csv",
    "PROGRESS_EVERY": "._items",
    "Item": "._items",
    "ProgressCallback": "._items",
    "to_json": "._json",
    "to_jsonl": "._json",
    "Target": "._output",
    "TextSink": "._output",
}

__all__ = [
    "PROGRESS_EVERY",
    "ExportError",
    "Item",
    "ListStyle",
    "ProgressCallback",
    "Target",
    "TextSink",
    "to_csv",
    "to_json",
    "to_jsonl",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

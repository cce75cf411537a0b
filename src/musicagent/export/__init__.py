"""Export iterables of API objects (models, dicts, lazy paginators) to JSON, JSON Lines and CSV.

Every writer takes the items as any iterable and walks it exactly once, one item in
memory at a time, because a paginated listing fetches pages while it is iterated and
may be far too large to hold. A file path is replaced atomically; an open text stream
(``sys.stdout``) is written directly. Each writer returns the number of items written.
"""

from ._csv import ListStyle, to_csv
from ._errors import ExportError
from ._items import PROGRESS_EVERY, Item, ProgressCallback
from ._json import to_json, to_jsonl
from ._output import Target, TextSink

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

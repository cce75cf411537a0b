"""Base classes of the generated models.

Lenient on purpose: Discogs adds fields and omits empty ones, so unknown keys are kept (readable
through ``model_extra``) instead of failing validation, and a text field that arrives as a number
(a catalogue number, a year in search results) is taken as its text rather than rejected. Schema
building is deferred to first use so that importing the models stays cheap.

A few small objects repeated in every item of a list (the collection/wantlist counts under
``stats``) are *records* instead (``x-musicagent-record`` in the spec): slotted pydantic dataclasses.
A model instance is up to three objects the garbage collector tracks (itself, its ``__dict__``, its
set of fields); a record is one. That took a 100-item page from about 800 tracked objects to
about 500, below the collector's 700-allocation threshold, and a 1,000-item walk from 1.6x raw
urllib3's CPU to about 1.2x (docs/benchmarks.md). They are validated exactly like models; they keep
no unknown keys (they have no ``model_extra``), so only fixed-shape objects are records.

Both validations of models and mappings read Discogs' shapes of "nothing" (``[]`` for an empty
object, ``""`` for a missing value) as such, at any depth, once plain validation failed
(``_runtime/shapes.py``).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, RootModel, ValidationError

from .shapes import revalidate

__all__ = ["RECORD_CONFIG", "DiscogsMapping", "DiscogsModel", "absent"]

V = TypeVar("V")


class _ReadsShapesOfNothing(BaseModel):
    """Validation that reads Discogs' shapes of "nothing" (``_runtime/shapes.py``) once plain validation failed."""

    model_config = ConfigDict(defer_build=True)

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        try:
            return super().model_validate(obj, **options)
        except ValidationError as exc:
            return revalidate(
                exc, obj, lambda data: super(_ReadsShapesOfNothing, cls).model_validate(data, **options), is_json=False
            )

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        try:
            return super().model_validate_json(json_data, **options)
        except ValidationError as exc:
            return revalidate(
                exc,
                json_data,
                lambda data: super(_ReadsShapesOfNothing, cls).model_validate(data, **options),
                is_json=True,
            )


class DiscogsModel(_ReadsShapesOfNothing):
    model_config = ConfigDict(
        extra="allow",
        coerce_numbers_to_str=True,
        populate_by_name=True,
        defer_build=True,
        protected_namespaces=(),
    )


RECORD_CONFIG = ConfigDict(coerce_numbers_to_str=True, defer_build=True)
"""The configuration of records (``@dataclass(slots=True, config=RECORD_CONFIG)`` in the models)."""


def absent(value: object) -> bool:
    """A record field's ``exclude_if``: a field Discogs did not send is not dumped as a ``null``.

    Models get this from ``exclude_unset``; a slotted record keeps no set of the fields it was given.
    """
    return value is None


class DiscogsMapping(_ReadsShapesOfNothing, RootModel[dict[str, V]], Generic[V]):
    """An answer that is one object keyed by names Discogs chooses (price suggestions by condition).

    Read it like the dict it is: ``ps["Mint (M)"]``, ``"Mint (M)" in ps``, ``for condition in ps``,
    ``ps.items()``; ``ps.root`` is the dict itself.
    """

    model_config = ConfigDict(defer_build=True)

    def __getitem__(self, key: str) -> V:
        return self.root[key]

    def __contains__(self, key: object) -> bool:
        return key in self.root

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]  # keys, like a dict, not pydantic's field pairs
        return iter(self.root)

    def __len__(self) -> int:
        return len(self.root)

    def get(self, key: str, default: V | None = None) -> V | None:
        return self.root.get(key, default)

    def keys(self) -> KeysView[str]:
        return self.root.keys()

    def values(self) -> ValuesView[V]:
        return self.root.values()

    def items(self) -> ItemsView[str, V]:
        return self.root.items()

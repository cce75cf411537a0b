"""Base classes of the generated models.

Lenient on purpose: Discogs adds fields and omits empty ones, so unknown keys are kept (readable
through ``model_extra``) instead of failing validation, and a text field that arrives as a number
(a catalogue number, a year in search results) is taken as its text rather than rejected. Schema
building is deferred to first use so that importing the models stays cheap.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, RootModel

__all__ = ["DiscogsMapping", "DiscogsModel"]

V = TypeVar("V")


class DiscogsModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        coerce_numbers_to_str=True,
        populate_by_name=True,
        defer_build=True,
        protected_namespaces=(),
    )


class DiscogsMapping(RootModel[dict[str, V]], Generic[V]):
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

"""Base class of every generated model.

Lenient on purpose: Discogs adds fields and omits empty ones, so unknown keys are kept (readable
through ``model_extra``) instead of failing validation, and a text field that arrives as a number
(a catalogue number, a year in search results) is taken as its text rather than rejected. Schema
building is deferred to first use so that importing the models stays cheap.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["DiscogsModel"]


class DiscogsModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        coerce_numbers_to_str=True,
        populate_by_name=True,
        defer_build=True,
        protected_namespaces=(),
    )

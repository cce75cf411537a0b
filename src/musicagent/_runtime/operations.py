"""Shapes of the generated operation registry, which the CLI, the docs and the mock server read."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OperationInfo", "ParamInfo"]


@dataclass(frozen=True)
class ParamInfo:
    name: str
    wire: str
    location: str  # path | query | body | file
    required: bool
    type: str  # integer | number | string | boolean
    choices: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class OperationInfo:
    id: str
    method: str
    path: str
    kind: str  # model | none | page | form | download
    summary: str
    params: tuple[ParamInfo, ...]
    model: str | None = None
    item_model: str | None = None
    auth: str = "none"
    page_cap: int | None = None  # pages past this may be refused (x-musicagent-page-cap)

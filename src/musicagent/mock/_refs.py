"""What recorded bodies say about entities nobody recorded on their own: names synthesized answers carry.

A synthesized answer is another entity's recording with the ids substituted. Left at that, release
249504's ``master_id`` 96559 would be answered with master 1000's title, and a client following the
link (``release.master.title``) would read an unrelated name. So the recordings are read once for
references (``artists[].id`` + ``name``, ``labels[].id`` + ``name``, a release's ``master_id`` +
``title`` + ``artists``, listing items' ``id`` + ``title``) and a synthesized body takes the name a
recording gives its id; an id nobody names gets a name that says it is synthesized.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ._cassettes import Interaction

__all__ = ["References", "collect"]

# Where a body lists artists or labels as {"id": ..., "name": ...}.
_ARTIST_KEYS = frozenset({"artists", "extraartists", "members", "groups", "aliases"})
_LABEL_KEYS = frozenset({"labels", "companies", "sublabels", "parent_label"})
# The operations whose answer is one named entity: (kind, the field that names it).
_NAMED = {
    "artists.get": ("artist", "artist_id", "name"),
    "labels.get": ("label", "label_id", "name"),
    "masters.get": ("master", "master_id", "title"),
    "releases.get": ("release", "release_id", "title"),
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class References:
    """Names (and a master's artists) that recorded bodies give to ids, first recording first."""

    def __init__(self) -> None:
        self.names: dict[tuple[str, int], str] = {}
        self.master_artists: dict[int, list[Any]] = {}

    def _note(self, kind: str, ident: Any, name: Any) -> None:
        number = _int(ident)
        if number is not None and isinstance(name, str) and name:
            self.names.setdefault((kind, number), name)

    def read(self, value: Any, key: str | None = None) -> None:
        if isinstance(value, list):
            for item in value:
                self.read(item, key)
            return
        if not isinstance(value, dict):
            return
        if key in _ARTIST_KEYS:
            self._note("artist", value.get("id"), value.get("name"))
        elif key in _LABEL_KEYS:
            self._note("label", value.get("id"), value.get("name"))
        elif key in ("basic_information", "versions") or value.get("type") == "release":
            self._note("release", value.get("id"), value.get("title"))
        if value.get("type") == "master":
            self._note("master", value.get("id"), value.get("title"))
        master = _int(value.get("master_id"))
        if master is not None and isinstance(value.get("artists"), list):  # a release: its master's name
            self._note("master", master, value.get("title"))
            self.master_artists.setdefault(master, value["artists"])
        if _int(value.get("main_release")) is not None and isinstance(value.get("versions_url"), str):
            self._note("release", value["main_release"], value.get("title"))  # a master: its main release
        for name, item in value.items():
            if isinstance(item, (dict, list)):
                self.read(item, name)

    def name(self, operation: str, params: Mapping[str, str], body: bytes) -> bytes:
        """``body`` (synthesized for ``params``) named as the recordings name its id, else as synthesized."""
        named = _NAMED.get(operation)
        if named is None:
            return body
        kind, param, field = named
        try:
            data = json.loads(body)
            number = int(params[param])
        except (ValueError, KeyError):
            return body
        if not isinstance(data, dict) or not isinstance(data.get(field), str):
            return body
        data[field] = self.names.get((kind, number), f"Synthesized {kind} {number}")
        if kind == "master" and number in self.master_artists and isinstance(data.get("artists"), list):
            data["artists"] = self.master_artists[number]
        return json.dumps(data, ensure_ascii=False).encode("utf-8")


def collect(interactions: Iterable[Interaction]) -> References:
    """The references in every recorded successful JSON GET but search's.

    A search result's ``title`` is "Artist - Title", not the entity's name: it names nothing.
    """
    found = References()
    for interaction in interactions:
        if interaction.method != "GET" or interaction.status != 200 or interaction.body.lstrip()[:1] != b"{":
            continue
        if interaction.path.startswith("/database/search"):
            continue
        try:
            found.read(json.loads(interaction.body))
        except ValueError:
            continue
    return found

"""x-musicagent-cache: the spec's cache rules reach the operation registry, and bad ones are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codegen.spec import SpecError, _cache_rules, load

SPEC = Path(__file__).resolve().parents[1] / "spec" / "discogs.yaml"


def test_tag_defaults_and_operation_overrides_reach_the_registry() -> None:
    ops = {op.id: op for op in load(SPEC).operations}
    assert ops["artists.get"].cache_ttl == 86400  # the Database tag
    assert ops["search"].cache_ttl == 3600  # its own, over its tag's
    assert ops["marketplace.orders.list"].cache_ttl == 0
    assert ops["users.wants.add"].cache_ttl is None  # a write has no TTL...
    assert ops["users.collection.folders.add_release"].cache_invalidates == ("/users/{username}/collection",)
    assert all(op.cache_ttl is not None for op in ops.values() if op.method == "GET")  # every GET decided


@pytest.mark.parametrize(
    ("path", "method", "rule", "message"),
    [
        ("/artists/{artist_id}", "get", {"ttl": -1}, "ttl must be seconds"),
        ("/artists/{artist_id}", "get", {"ttl": True}, "ttl must be seconds"),
        ("/artists/{artist_id}", "get", {"invalidates": ["/artists"]}, "only a write invalidates"),
        ("/users/{username}/wants/{release_id}", "put", {"ttl": 5}, "only a GET has a cache ttl"),
        ("/users/{username}/wants/{release_id}", "put", {"invalidates": ["/users/{nobody}"]}, "only this operation"),
        ("/users/{username}/wants/{release_id}", "put", {"invalidates": ["users"]}, "must be a path"),
        ("/users/{username}/wants/{release_id}", "put", {"forever": 1}, "takes ttl"),
    ],
)
def test_a_bad_rule_is_refused_with_the_place_named(path: str, method: str, rule: Any, message: str) -> None:
    where = f"{method.upper()} {path}"
    doc = {"x-musicagent-cache": {"ttl-by-tag": {"Database": 86400}}}
    raw = {"tags": ["Database"], "x-musicagent-cache": rule}
    with pytest.raises(SpecError, match=message) as caught:
        _cache_rules(doc, raw, method, path, where)
    assert str(caught.value).startswith(where + ": ")

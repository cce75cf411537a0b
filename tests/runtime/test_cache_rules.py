"""The response cache's rules, without I/O: keys, TTLs, what a write makes stale, stored entries."""

from __future__ import annotations

import pytest

from musicagent import ConfigurationError
from musicagent._generated.operations import OPERATIONS
from musicagent._runtime.auth import Credentials
from musicagent._runtime.cache import (
    CacheEntry,
    CacheEntryError,
    CachePlan,
    CachePolicy,
    Invalidation,
    parse_ttl,
)

from .conftest import TOKEN

URL = "https://api.discogs.com/artists/1"


def policy(token: str | None = TOKEN, ttl: object = None, **creds: str) -> CachePolicy:
    return CachePolicy(credentials=Credentials(token=token, **creds), ttl=ttl, operations=OPERATIONS)  # type: ignore[arg-type]


def key(p: CachePolicy, url: str = URL, **kw: object) -> str | None:
    kw.setdefault("accept", "application/json")
    kw.setdefault("operation", "artists.get")
    plan = p.plan(kw.pop("method", "GET"), url, **kw)  # type: ignore[arg-type]
    return None if plan is None else plan.key


def test_the_key_separates_accounts_and_never_holds_the_token() -> None:
    mine, again, other, anonymous = policy(), policy(), policy("tok-someone-else-0000"), policy(None)
    assert key(mine) == key(again)
    assert len({key(mine), key(other), key(anonymous)}) == 3
    oauth = policy(None, consumer_key="ck", consumer_secret="cs", access_token="at1", access_token_secret="as")
    oauth2 = policy(None, consumer_key="ck", consumer_secret="cs", access_token="at2", access_token_secret="as")
    assert key(oauth) != key(oauth2)
    k = key(mine)
    assert k is not None and TOKEN not in k and len(k) == 64


def test_the_key_covers_method_url_query_accept_and_extra_headers() -> None:
    p = policy()
    base = key(p)
    assert key(p, URL + "?page=2") != base
    assert key(p, URL + "?page=2") != key(p, URL + "?page=3")
    assert key(p, "http://127.0.0.1:9/artists/1") != base
    assert key(p, accept="application/vnd.discogs.v2.html+json") != base
    assert key(p, extra_headers={"X-Something": "1"}) != base
    assert key(p, extra_headers={"X-Something": "1"}) == key(p, extra_headers={"x-something": "1"})


def test_what_is_not_cached() -> None:
    p = policy()
    assert key(p, enabled=False) is None  # per-call cache=False
    assert key(p, extra_headers={"authorization": "Discogs token=other"}) is None  # someone else's answer
    assert key(p, method="HEAD") is None
    assert p.plan("GET", URL, accept="application/json", operation="marketplace.orders.list") is None
    assert p.plan("GET", URL, accept="application/json", operation="oauth.request_token") is None
    assert p.plan("GET", URL, accept="application/json", operation=None) is None  # request(): unknown endpoint


def test_spec_defaults_database_a_day_user_data_minutes_orders_never() -> None:
    p = policy()
    assert p.ttl_for("releases.get") == 86400
    assert p.ttl_for("artists.releases") == 86400
    assert p.ttl_for("users.wants.list") == 300
    assert p.ttl_for("users.collection.value") == 300
    assert p.ttl_for("releases.rating.get") == 300  # a user's rating, though under Database
    assert p.ttl_for("marketplace.orders.get") == 0
    assert p.ttl_for("inventory.exports.get") == 0  # polled for its status
    assert p.ttl_for("users.wants.add") == 0  # a write


def test_the_user_overrides_the_defaults() -> None:
    everything = policy(ttl=60)
    assert everything.ttl_for("releases.get") == 60
    assert everything.ttl_for(None) == 60  # request() GETs too
    assert everything.ttl_for("marketplace.orders.list") == 0  # never means never, unless named
    named = policy(ttl={"marketplace.orders.*": 30, "artists.get": 7, "users.*": 0, "request": 5})
    assert named.ttl_for("marketplace.orders.list") == 30
    assert named.ttl_for("artists.get") == 7
    assert named.ttl_for("users.wants.list") == 0
    assert named.ttl_for(None) == 5
    assert named.ttl_for("labels.get") == 86400  # not named: the spec's default


def test_cache_ttl_text_and_bad_values() -> None:
    assert parse_ttl("3600") == 3600.0
    assert parse_ttl("artists.*=60, users.wants.list=0") == {"artists.*": 60.0, "users.wants.list": 0.0}
    assert parse_ttl(" ") is None
    for bad in ("-1", "soon", True, float("inf"), "a=x", {"": 1}):
        with pytest.raises(ValueError, match="cache_ttl"):
            parse_ttl(bad)
    with pytest.raises(ConfigurationError, match=r"invalid cache_ttl: .*positive number of seconds"):
        policy(ttl=-5)


def test_a_cache_ttl_pattern_that_names_no_operation_is_refused() -> None:
    """A typo would otherwise change nothing, silently; the error names the pattern and close names."""
    with pytest.raises(ConfigurationError, match=r"'artistz\.get' matches no operation; did you mean 'artists\.get'"):
        policy(ttl={"artistz.get": 5})
    with pytest.raises(ConfigurationError, match=r"'nothing\.\*' matches no operation"):
        policy(ttl="artists.*=60,nothing.*=5")
    assert policy(ttl={"artists.*": 5, "request": 1}).ttl_for("artists.get") == 5  # patterns and request() pass


def test_cache_ttl_without_a_cache_is_refused() -> None:
    from musicagent import Discogs

    with pytest.raises(ConfigurationError, match="cache_ttl has no effect without a cache"):
        Discogs(token=TOKEN, cache_ttl=60)
    Discogs(token=TOKEN, cache="memory", cache_ttl=60).close()  # with a cache it is fine


def test_a_write_invalidates_its_path_the_lists_above_it_and_declared_prefixes() -> None:
    p = policy()
    plan = p.plan("PUT", "https://api.discogs.com/users/bob/wants/5", accept="", operation="users.wants.add")
    assert plan is not None and plan.key is None and plan.invalidate is not None
    inv = plan.invalidate
    assert inv.matches("/users/bob/wants/5") and inv.matches("/users/bob/wants") and inv.matches("/users/bob")
    assert not inv.matches("/users/alice/wants") and not inv.matches("/users/bob/collection/folders")
    add = p.plan(
        "POST",
        "https://api.discogs.com/users/bob/collection/folders/1/releases/9",
        accept="",
        operation="users.collection.folders.add_release",
    )
    assert add is not None and add.invalidate is not None
    assert add.invalidate.prefixes == ("/users/bob/collection",)
    assert add.invalidate.matches("/users/bob/collection/folders/0/releases")  # the "All" folder too
    assert add.invalidate.matches("/users/bob/collection/value")
    assert not add.invalidate.matches("/users/bobby/collection/value")
    listing = p.plan("DELETE", "https://api.discogs.com/marketplace/listings/7", accept="", operation=None)
    assert listing is not None and listing.invalidate is not None and listing.invalidate.prefixes == ()
    declared = p.invalidation("/marketplace/listings/7", "marketplace.listings.delete")
    assert declared.matches("/users/anyone/inventory") and not declared.matches("/users/anyone/wants")


def test_entries_round_trip_and_garbage_is_an_entry_error() -> None:
    plan = CachePlan("k" * 64, 10.0, "/artists/1")
    headers = {"Content-Type": "application/json", "Set-Cookie": "s=1", "X-Discogs-Ratelimit-Remaining": "5"}
    entry = CachePolicy.entry(plan, 200, headers, b'{"id": 1}', now=1000.0)
    assert entry is not None
    assert dict(entry.headers) == {"Content-Type": "application/json"}  # only what decoding needs
    assert entry.expires == 1010.0 and entry.fresh(1009.9) and not entry.fresh(1010.0)
    assert CacheEntry.decode(entry.encode()) == entry
    assert CachePolicy.entry(plan, 404, headers, b"{}", now=0) is None
    assert CachePolicy.entry(plan, 200, headers, b"", now=0) is None  # a streamed download
    for garbage in (b"", b"MAC1", b"MAC1\x00\x00\x00\x05[1,2", b"not an entry", entry.encode()[:12]):
        with pytest.raises(CacheEntryError):
            CacheEntry.decode(garbage)


def test_invalidation_wildcards_match_one_segment() -> None:
    inv = Invalidation((), ("/users/*/inventory",))
    assert inv.matches("/users/a/inventory") and inv.matches("/users/a/inventory/x")
    assert not inv.matches("/users/a/wants") and not inv.matches("/users")

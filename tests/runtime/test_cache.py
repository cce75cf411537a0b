"""The response cache end to end: a real local server that counts requests, real SQLite files shared by
real processes, a real redis-server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from musicagent import (
    APITimeoutError,
    ConfigurationError,
    Discogs,
    InvalidParameterError,
    NotFoundError,
    ResponseDecodeError,
    ResponseValidationError,
    enable_logging,
)

from .conftest import TOKEN, LocalServer, Seen, damage_sqlite

Client = Callable[..., Discogs]
OTHER_TOKEN = "tok-0b1d2e3f4a5c6d7e"


WANT = {"id": 5, "resource_url": "https://api.discogs.com/releases/5"}


def wants_page(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    body = {"pagination": {"page": 1, "pages": 1, "per_page": 100, "items": 1}, "wants": [WANT]}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def orders_page(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    body = {"pagination": {"page": 1, "pages": 1, "per_page": 100, "items": 0}, "orders": []}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def gets(server: LocalServer, path: str) -> int:
    return sum(1 for s in server.seen if s.method == "GET" and s.path.split("?")[0] == path)


def test_a_repeat_is_served_from_the_cache(server: LocalServer, client: Client) -> None:
    d = client(cache="memory")
    first = d.artists.get(1)
    assert d.last_response is not None and not d.last_response.from_cache
    second = d.artists.get(1)
    assert second == first  # the same bytes through the same decoding
    assert server.count() == 1
    last = d.last_response
    assert last is not None and last.from_cache and last.attempts == 0 and last.status == 200
    assert last.headers["content-type"] == "application/json" and "Age" in last.headers
    metrics = d.metrics
    assert (metrics.cache_hits, metrics.cache_misses, metrics.requests) == (1, 1, 1)
    d.artists.get(2)
    assert server.count() == 2  # another URL is another answer


def test_a_hit_sends_nothing_and_takes_no_limiter_slot(server: LocalServer, client: Client) -> None:
    d = client(cache="memory", rate_limit=(1, 60.0), deadline=2.0)
    d.artists.get(1)
    for _ in range(5):  # a second request would wait ~60 s for the limiter and break the deadline
        d.artists.get(1)
    assert server.count() == 1
    assert d.rate_limit.local_in_window == 1
    with pytest.raises(APITimeoutError, match="rate limiter"):
        d.artists.get(2)  # the limiter really is full: only the cache let the repeats through


def test_the_cache_is_off_by_default_and_per_call_cache_false_bypasses_it(server: LocalServer, client: Client) -> None:
    plain = client()
    plain.artists.get(1)
    plain.artists.get(1)
    assert server.count() == 2
    d = client(cache="memory")
    d.artists.get(1, cache=False)
    d.artists.get(1, cache=False)
    assert server.count() == 4
    d.artists.get(1)  # cache=False did not fill it either
    d.artists.get(1)
    assert server.count() == 5
    d.artists.get(1, cache=False)
    assert server.count() == 6 and d.last_response is not None and not d.last_response.from_cache
    with pytest.raises(InvalidParameterError, match="cache"):
        d.artists.get(1, cache="no")  # type: ignore[arg-type]


def test_only_successful_answers_that_decoded_are_stored(server: LocalServer, client: Client) -> None:
    d = client(cache="memory", max_retries=0)
    server.fail("invalid")  # a 200 that does not match the model
    with pytest.raises(ResponseValidationError):
        d.artists.get(1)
    server.fail("html200")  # a proxy's login page
    with pytest.raises(ResponseDecodeError):
        d.artists.get(1)
    server.fail("404")
    with pytest.raises(NotFoundError):
        d.artists.get(1)
    d.artists.get(1)
    d.artists.get(1)
    assert server.count() == 4  # only the good answer was kept
    d.request("POST", "/things", json={"a": 1})
    d.request("POST", "/things", json={"a": 1})
    assert server.count("POST") == 2  # a write is never answered from the cache


def test_answers_are_never_shared_between_accounts(server: LocalServer, client: Client, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    mine, theirs, anonymous = client(cache=url), client(cache=url, token=OTHER_TOKEN), client(cache=url, token=None)
    for d in (mine, theirs, anonymous):
        d.artists.get(1)
    assert server.count() == 3
    assert [s.headers.get("Authorization") for s in server.seen] == [
        f"Discogs token={TOKEN}",
        f"Discogs token={OTHER_TOKEN}",
        None,
    ]
    again = client(cache=url)  # the same account in another client: served
    again.artists.get(1)
    assert server.count() == 3 and again.last_response is not None and again.last_response.from_cache
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert TOKEN.encode() not in stored and OTHER_TOKEN.encode() not in stored


def test_the_key_covers_the_query_and_the_accept_header(server: LocalServer, client: Client) -> None:
    d = client(cache="memory", cache_ttl=60)
    d.request("GET", "/things", params={"page": 1})
    d.request("GET", "/things", params={"page": 2})
    d.request("GET", "/things", params={"page": 1})
    assert server.count() == 2
    d.request("GET", "/things", params={"page": 1}, extra_headers={"Accept": "application/vnd.discogs.v2.html+json"})
    assert server.count() == 3


def test_entries_expire(server: LocalServer, client: Client) -> None:
    d = client(cache="memory", cache_ttl=0.3)
    d.artists.get(1)
    d.artists.get(1)
    assert server.count() == 1
    time.sleep(0.5)
    d.artists.get(1)
    assert server.count() == 2 and d.last_response is not None and not d.last_response.from_cache


def test_spec_defaults_decide_what_is_cached(server: LocalServer, client: Client) -> None:
    server.routes["/marketplace/orders"] = orders_page
    server.routes["/users/bob/wants"] = wants_page
    d = client(cache="memory")
    d.marketplace.orders.list()
    d.marketplace.orders.list()
    assert gets(server, "/marketplace/orders") == 2  # orders: never cached
    d.users.wants.list("bob")
    d.users.wants.list("bob")
    assert gets(server, "/users/bob/wants") == 1  # user data: minutes
    d.request("GET", "/anything")
    d.request("GET", "/anything")
    assert gets(server, "/anything") == 2  # an endpoint the spec does not know: not without cache_ttl
    overridden = client(cache="memory", cache_ttl={"marketplace.orders.*": 60})
    overridden.marketplace.orders.list()
    overridden.marketplace.orders.list()
    assert gets(server, "/marketplace/orders") == 3  # the user's override wins


def test_a_write_invalidates_the_path_and_the_lists_containing_it(server: LocalServer, client: Client) -> None:
    server.routes["/users/bob/wants"] = wants_page
    server.routes["/users/alice/wants"] = wants_page
    server.routes["/users/bob/wants/5"] = lambda seen: (
        201,
        {"Content-Type": "application/json"},
        json.dumps(WANT).encode(),
    )
    d = client(cache="memory")
    d.users.wants.list("bob")
    d.users.wants.list("alice")
    d.users.wants.list("bob", page=2)
    d.users.wants.add("bob", 5)
    d.users.wants.list("bob")
    d.users.wants.list("bob", page=2)
    d.users.wants.list("alice")
    assert gets(server, "/users/bob/wants") == 4  # both pages of bob's wantlist fetched again
    assert gets(server, "/users/alice/wants") == 1  # alice's is untouched


def test_a_write_through_another_process_invalidates_a_shared_file(
    server: LocalServer, client: Client, tmp_path: Path
) -> None:
    server.routes["/users/bob/wants"] = wants_page
    url = f"sqlite:///{tmp_path}/c.db"
    d = client(cache=url)
    d.users.wants.list("bob")
    script = (
        "import sys; from musicagent import Discogs; "
        "d = Discogs(base_url=sys.argv[1], token=sys.argv[2], cache=sys.argv[3], rate_limit=None); "
        "d.request('DELETE', '/users/bob/wants/5')"
    )
    subprocess.run([sys.executable, "-c", script, server.url, OTHER_TOKEN, url], check=True, timeout=60)
    d.users.wants.list("bob")
    assert gets(server, "/users/bob/wants") == 2


@pytest.mark.parametrize("how", ["deleted", "truncated", "overwritten"])
def test_a_sqlite_cache_file_damaged_mid_run_recovers_and_is_shared_again(
    server: LocalServer, client: Client, tmp_path: Path, how: str
) -> None:
    """After the file is deleted (``rm`` to clear the cache), truncated or overwritten, the client
    caches again, in the file the other processes use: their writes make its entries stale.

    Before, a deleted file went on serving this client through its open connection, stale after
    another process's write; a damaged one failed (a miss and a warning) on every later call.
    """
    server.routes["/users/bob/wants"] = wants_page
    db = tmp_path / "c.db"
    url = f"sqlite:///{db}"
    d = client(cache=url)
    d.users.wants.list("bob")
    damage_sqlite(db, how)
    d.users.wants.list("bob")  # asked again: the entry went with the file
    d.users.wants.list("bob")  # and kept again
    assert gets(server, "/users/bob/wants") == 2
    script = (
        "import sys; from musicagent import Discogs; "
        "d = Discogs(base_url=sys.argv[1], token=sys.argv[2], cache=sys.argv[3], rate_limit=None); "
        "d.request('DELETE', '/users/bob/wants/5')"
    )
    subprocess.run([sys.executable, "-c", script, server.url, OTHER_TOKEN, url], check=True, timeout=60)
    d.users.wants.list("bob")  # the other process's write reached this client's entries
    assert gets(server, "/users/bob/wants") == 3


def test_a_sqlite_cache_is_shared_between_processes(server: LocalServer, client: Client, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    script = (
        "import sys; from musicagent import Discogs; "
        "d = Discogs(base_url=sys.argv[1], token=sys.argv[2], cache=sys.argv[3], rate_limit=None); "
        "[d.artists.get(i) for i in range(1, 11)]"
    )
    subprocess.run([sys.executable, "-c", script, server.url, TOKEN, url], check=True, timeout=60)
    assert server.count() == 10
    d = client(cache=url)
    assert [d.artists.get(i).id for i in range(1, 11)] == list(range(1, 11))
    assert server.count() == 10 and d.metrics.cache_hits == 10


def test_a_corrupt_cache_file_never_fails_a_call(server: LocalServer, client: Client, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    db.write_bytes(b"garbage" * 1000)
    warnings: list[str] = []
    enable_logging("WARNING", console=False, sink=lambda m: warnings.append(str(m.record["message"])))
    d = client(cache=f"sqlite:///{db}")
    assert d.artists.get(1).id == 1
    assert d.artists.get(1).id == 1
    assert server.count() == 2
    assert len(warnings) == 1 and "c.db" in warnings[0]


def test_a_stored_answer_that_no_longer_decodes_is_fetched_again(server: LocalServer, client: Client) -> None:
    d = client(cache="memory")
    d.artists.get(1)
    cache = d._transport.cache
    assert cache is not None
    plan = cache.policy.plan("GET", f"{server.url}/artists/1", accept="application/json", operation="artists.get")
    assert plan is not None and plan.key is not None
    stale = cache.store.get(plan.key)
    assert stale is not None
    cache.store.put(
        plan.key, type(stale)(200, stale.headers, b'{"id": "one"}', stale.path, stale.created, stale.expires)
    )
    assert d.artists.get(1).id == 1  # not a ResponseValidationError from an old entry
    assert server.count() == 2
    d.artists.get(1)
    assert server.count() == 2  # and the good answer replaced it


def test_pages_are_cached_one_by_one(server: LocalServer, client: Client) -> None:
    def page(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        number = int(dict(p.split("=") for p in seen.path.split("?")[1].split("&")).get("page", 1))
        items = [{"id": n, "type": "release", "title": "t", "role": "Main", "resource_url": "u"} for n in range(3)]
        body = {"pagination": {"page": number, "pages": 3, "per_page": 3, "items": 9}, "releases": items}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    server.routes["/artists/7/releases"] = page
    d = client(cache="memory")
    first = [r.id for r in d.artists.releases(7, per_page=3)]
    second = [r.id for r in d.artists.releases(7, per_page=3)]
    assert first == second and len(first) == 9
    assert server.count() == 3 and d.metrics.cache_hits == 3


def test_settings_from_the_environment(server: LocalServer, tmp_path: Path) -> None:
    env = {"DISCOGS_CACHE": f"sqlite:///{tmp_path}/env.db", "DISCOGS_CACHE_TTL": "request=60"}
    d = Discogs(base_url=server.url, token=TOKEN, rate_limit=None, env=env)
    d.request("GET", "/x")
    d.request("GET", "/x")
    assert server.count() == 1 and (tmp_path / "env.db").exists()
    off = Discogs(base_url=server.url, token=TOKEN, rate_limit=None, env={**env, "DISCOGS_CACHE": "off"})
    off.request("GET", "/x")
    assert server.count() == 2
    with pytest.raises(ConfigurationError, match="DISCOGS_CACHE_TTL"):
        Discogs(env={**env, "DISCOGS_CACHE_TTL": "soon"})
    with pytest.raises(ConfigurationError, match="argument 'cache'"):
        Discogs(cache="ftp://x")
    with pytest.raises(ConfigurationError, match="cache URL"):
        Discogs(cache="memory://?max_mb=-1")


@pytest.mark.redis
def test_a_redis_cache_is_shared_between_clients(server: LocalServer, client: Client, redis_store: str) -> None:
    import redis

    here, there = client(cache=redis_store), client(cache=redis_store)
    here.artists.get(1)
    assert there.artists.get(1).id == 1
    assert server.count() == 1 and there.last_response is not None and there.last_response.from_cache
    stored = redis.Redis.from_url(redis_store)
    assert all(TOKEN.encode() not in k and TOKEN.encode() not in (stored.dump(k) or b"") for k in stored.keys("*"))


@pytest.mark.redis
def test_redis_down_means_misses_not_failures(server: LocalServer, client: Client) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = client(cache=f"redis://127.0.0.1:{port}/0")
    assert d.artists.get(1).id == 1 and d.artists.get(1).id == 1
    assert server.count() == 2


def test_cli_cache_and_no_cache(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from musicagent.cli import app

    url = f"sqlite:///{tmp_path}/cli.db"
    common = ["--base-url", server.url, "--token", TOKEN, "--format", "jsonl"]
    for _ in range(2):  # two runs of the command share the file
        assert app.main([*common, "--cache", url, "artists", "get", "1"]) == 0
    assert server.count() == 1
    monkeypatch.setenv("DISCOGS_CACHE", url)
    assert app.main([*common, "artists", "get", "1"]) == 0
    assert server.count() == 1  # the environment turns it on as well
    assert app.main([*common, "artists", "get", "1", "--no-cache"]) == 0
    assert server.count() == 2
    outputs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(outputs) == 4 and all(out == outputs[0] for out in outputs)  # cached or not, the same output


def test_the_async_path_follows_the_same_rules(server: LocalServer, tmp_path: Path) -> None:
    """What AsyncDiscogs calls (serve_async), driven here by the sync shell's attempt loop in a thread.

    (AsyncDiscogs itself runs every other test of this module through the ``client`` fixture.)
    """
    import asyncio

    from musicagent._runtime.core import RawResponse

    d = Discogs(base_url=server.url, token=TOKEN, rate_limit=None, timeout=2.0, cache=f"sqlite:///{tmp_path}/async.db")
    transport, cache = d._transport, d._transport.cache
    assert cache is not None
    seen: list[RawResponse] = []

    async def call(method: str, path: str, operation: str | None) -> object:
        prepared = transport.builder.call(method, path)

        async def send(parse: Callable[[RawResponse], object]) -> object:
            return await asyncio.to_thread(transport._run, prepared, parse, None)

        return await cache.serve_async(
            prepared,
            operation,
            None,
            lambda raw: json.loads(raw.content),
            send=send,
            on_hit=seen.append,
            metrics=transport.metrics,
        )

    async def main() -> None:
        first = await call("GET", "/artists/1", "artists.get")
        assert await call("GET", "/artists/1", "artists.get") == first
        assert server.count() == 1 and len(seen) == 1 and seen[0].from_cache
        await call("DELETE", "/artists/1", None)  # a write: what it changed is stale
        await call("GET", "/artists/1", "artists.get")
        assert server.count("GET") == 2

    asyncio.run(main())
    assert d.metrics.cache_hits == 1


def test_closing_the_client_closes_the_store_and_it_reopens(
    server: LocalServer, client: Client, tmp_path: Path
) -> None:
    d = client(cache=f"sqlite:///{tmp_path}/c.db")
    d.artists.get(1)
    store = d._transport.cache.store  # type: ignore[union-attr]
    assert store._conn is not None  # type: ignore[attr-defined]
    d.close()
    assert store._conn is None  # type: ignore[attr-defined]
    d.artists.get(1)  # still usable, still cached
    assert server.count() == 1


def _entry_bytes(meta: str, content: bytes = b'{"id": 1, "name": "cached"}') -> bytes:
    """An entry as the stores keep it (magic, length, JSON head, body), with a head of our choosing."""
    head = meta.encode()
    return b"MAC1" + len(head).to_bytes(4, "big") + head + content


FAR = "1e300"  # an expiry that keeps a corrupt entry "fresh", so that it is served rather than skipped
CORRUPT = {
    "not an entry": b"\x00\x01\x02garbage",
    "empty": b"",
    "truncated head": _entry_bytes('[200,[["Content-Type","application/json"]],"/a",1,' + FAR + "]")[:20],
    "head nested 100000 deep": _entry_bytes("[" * 100_000 + "]" * 100_000),
    "status infinite": _entry_bytes(f'[1e999,[],"/a",1,{FAR}]'),
    "created NaN": _entry_bytes(f'[200,[["Content-Type","application/json"]],"/a",NaN,{FAR}]'),
    "created -infinity": _entry_bytes(f'[200,[["Content-Type","application/json"]],"/a",-1e999,{FAR}]'),
    "status 500": _entry_bytes(f'[500,[["Content-Type","application/json"]],"/a",1,{FAR}]'),
    "headers not pairs": _entry_bytes(f'[200,{{"a":1}},"/a",1,{FAR}]'),
    "head a huge length": b"MAC1\xff\xff\xff\xff[200",
}


@pytest.mark.parametrize("store", ["sqlite", "redis"])
@pytest.mark.parametrize("damage", list(CORRUPT))
def test_a_corrupt_entry_on_disk_is_a_miss_never_a_failed_call(
    server: LocalServer, client: Client, tmp_path: Path, request: pytest.FixtureRequest, store: str, damage: str
) -> None:
    """Whatever the bytes of a stored entry became, the call asks Discogs, and the store keeps working."""
    if store == "sqlite":
        import sqlite3

        db = tmp_path / "c.db"
        url = f"sqlite:///{db}"

        def overwrite(data: bytes) -> None:
            with sqlite3.connect(db) as conn:
                assert conn.execute("UPDATE musicagent_cache SET entry = ?", (data,)).rowcount == 1
            conn.close()
    else:
        import redis

        url = request.getfixturevalue("redis_store")
        other = redis.Redis.from_url(url)

        def overwrite(data: bytes) -> None:
            keys = list(other.scan_iter(match="musicagent:cache:*e:*"))
            assert len(keys) == 1
            other.set(keys[0], data)

    d = client(cache=url)
    assert d.artists.get(1).name == "x"
    overwrite(CORRUPT[damage])
    assert d.artists.get(1).name == "x"  # a miss: asked again, not a crash, not the corrupt body
    assert server.count() == 2
    assert d.artists.get(1).name == "x"  # and the fresh answer was stored again: a hit
    assert server.count() == 2


_HOLD_WRITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


def test_a_frozen_redis_cache_costs_a_miss_not_the_deadline(
    server: LocalServer, client: Client, tmp_path: Path
) -> None:
    """Before, the lookup waited out the cache's own 1 s socket timeout and the call, with a 1 s
    deadline, ended in APITimeoutError without sending anything. Now the lookup gets at most half
    of what the deadline leaves, and the call is answered by the server."""
    import os
    import signal

    from .conftest import free_port, start_redis, stop

    port = free_port()
    proc = start_redis(port, tmp_path)
    try:
        d = client(cache=f"redis://127.0.0.1:{port}/1", deadline=1.0, timeout=5.0, max_retries=0)
        d.artists.get(1)
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            assert d.artists.get(1).id == 1
            assert d.request("POST", "/users/bob/wants/5", json={})["created"]  # its invalidation waits no longer
            elapsed = time.monotonic() - started
        finally:
            os.kill(proc.pid, signal.SIGCONT)
    finally:
        stop(proc)
    assert elapsed < 2 * 1.0 + 1.5  # two calls, each within its deadline, on a loaded machine
    assert server.count() == 3


def test_a_sqlite_cache_locked_by_another_process_costs_no_more_than_the_deadline(
    server: LocalServer, client: Client, tmp_path: Path
) -> None:
    """Before, storing an answer waited out the file's 2 s busy timeout: a call with a 0.5 s
    deadline returned after 2 s."""
    db = tmp_path / "c.db"
    d = client(cache=f"sqlite:///{db}", deadline=0.5, timeout=5.0, max_retries=0)
    d.artists.get(1)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_WRITE_LOCK, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        durations = []
        for call in (lambda: d.artists.get(2), lambda: d.request("POST", "/users/bob/wants/5", json={})):
            started = time.monotonic()
            call()  # answered: the store is what waits, and only for what the deadline leaves
            durations.append(time.monotonic() - started)
    finally:
        holder.kill()
        holder.wait(10)
    assert max(durations) < 0.5 + 1.2, durations  # the busy timeout alone is 2 s

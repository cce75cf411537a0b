"""Cache stores against real parts: memory, a real SQLite file shared by real processes, a real redis-server."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from musicagent import ConfigurationError, enable_logging
from musicagent._runtime import cache_store
from musicagent._runtime.cache import CacheEntry, Invalidation
from musicagent._runtime.cache_store import AsyncStore, CacheStore, MemoryStore, RedisStore, SQLiteStore, open_store

ROOT = Path(__file__).resolve().parents[2]


def entry(
    path: str = "/artists/1", body: bytes = b'{"id": 1}', ttl: float = 60.0, created: float | None = None
) -> CacheEntry:
    now = time.time() if created is None else created
    return CacheEntry(200, (("Content-Type", "application/json"),), body, path, now, now + ttl)


@pytest.fixture
def warnings() -> list[str]:
    messages: list[str] = []
    enable_logging("WARNING", console=False, sink=lambda m: messages.append(str(m.record["message"])))
    return messages


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CacheStore]:
    if request.param == "memory":
        made: CacheStore = open_store("memory")
    elif request.param == "sqlite":
        made = open_store(f"sqlite:///{tmp_path}/cache.db")
    else:
        made = open_store(request.getfixturevalue("redis_store"))
    yield made
    made.close()


def test_a_store_keeps_entries_until_they_expire(store: CacheStore) -> None:
    assert store.get("a") is None
    kept = entry()
    store.put("a", kept)
    assert store.get("a") == kept
    store.put("old", entry(ttl=0.05))
    time.sleep(0.1)
    assert store.get("old") is None  # expired entries are never served
    store.delete("a")
    assert store.get("a") is None


def test_a_store_invalidates_paths_and_prefixes(store: CacheStore) -> None:
    paths = ["/users/bob/wants", "/users/bob", "/users/bob/collection/folders/0/releases", "/users/alice/wants",
             "/users/bob/inventory", "/users/eve/inventory", "/users/a*b/collection/value"]  # fmt: skip
    for n, path in enumerate(paths):
        store.put(f"k{n}", entry(path))
    store.invalidate(Invalidation(("/users/bob/wants/5", "/users/bob/wants", "/users/bob"), ("/users/bob/collection",)))
    left = {paths[n] for n in range(len(paths)) if store.get(f"k{n}") is not None}
    assert left == {"/users/alice/wants", "/users/bob/inventory", "/users/eve/inventory", "/users/a*b/collection/value"}
    store.invalidate(Invalidation((), ("/users/*/inventory",)))
    left = {paths[n] for n in range(len(paths)) if store.get(f"k{n}") is not None}
    assert left == {"/users/alice/wants", "/users/a*b/collection/value"}
    store.invalidate(Invalidation((), ("/users/a*b/collection",)))  # a literal '*' in a username
    assert store.get("k6") is None and store.get("k3") is not None
    store.clear()
    assert store.get("k3") is None


def test_memory_is_a_bounded_lru() -> None:
    store = MemoryStore(max_bytes=3 * (1000 + 200))
    for name in "abc":
        store.put(name, entry(body=b"x" * 1000))
    assert store.get("a") is not None  # a is now the most recently used
    store.put("d", entry(body=b"x" * 1000))
    assert store.get("b") is None and {k for k in "acd" if store.get(k)} == set("acd")
    assert store.size <= store.max_bytes and len(store) == 3
    store.put("huge", entry(body=b"x" * 10_000))  # larger than the whole store: not kept, nothing evicted
    assert store.get("huge") is None and len(store) == 3


def test_sqlite_file_is_private_and_created_with_its_directory(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = SQLiteStore(tmp_path / "new" / "dir" / "cache.db")
        store.put("a", entry())
    finally:
        os.umask(old)
    for name in ("cache.db", "cache.db-wal"):
        mode = stat.S_IMODE((tmp_path / "new" / "dir" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert store.get("a") is not None
    store.close()


def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    home = open_store("sqlite:///~/.cache/musicagent.db?max_mb=1")
    assert isinstance(home, SQLiteStore) and home.path == tmp_path / ".cache" / "musicagent.db"
    assert home.max_bytes == 1024 * 1024
    relative = open_store("sqlite://cache.db")
    assert isinstance(relative, SQLiteStore) and relative.path == Path("cache.db")
    for bad in ("sqlite://", "memory://?max_mb=0", "memcached://x", "sqlite:///x.db?max_mb=big"):
        with pytest.raises(ConfigurationError, match="cache URL"):
            open_store(bad)


_WRITER = """
import sys, time
from musicagent._runtime.cache import CacheEntry
from musicagent._runtime.cache_store import SQLiteStore
store = SQLiteStore(sys.argv[1])
start, count = int(sys.argv[2]), int(sys.argv[3])
for n in range(start, start + count):
    now = time.time()
    store.put(f"k{n}", CacheEntry(200, (), b"body %d" % n, f"/releases/{n}", now, now + 60))
    if sys.argv[4:]:
        assert store.get(f"k{n}") is not None
print("ok")
"""


def test_sqlite_is_shared_between_processes(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(_WRITER))
    procs = [
        subprocess.Popen([sys.executable, str(script), str(db), str(start), "100", "check"], stdout=subprocess.PIPE)
        for start in (0, 100, 200)
    ]  # three processes writing the same file at once
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.strip() == b"ok"
    reader = SQLiteStore(db)
    found = reader.get("k250")
    assert found is not None and found.content == b"body 250" and found.path == "/releases/250"
    assert all(reader.get(f"k{n}") is not None for n in range(300))
    reader.invalidate(Invalidation(("/releases/7",)))
    other = subprocess.run(
        [sys.executable, "-c", f"from musicagent._runtime.cache_store import SQLiteStore; "
         f"s = SQLiteStore({str(db)!r}); print(s.get('k7') is None, s.get('k8') is not None)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert other.stdout.split() == ["True", "True"]  # another process sees the invalidation


def test_a_corrupt_sqlite_file_is_a_miss_and_a_warning(tmp_path: Path, warnings: list[str]) -> None:
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not a database at all" * 200)
    store = SQLiteStore(db)
    assert store.get("a") is None
    store.put("a", entry())  # no exception: a miss, not a failed call
    store.invalidate(Invalidation(("/artists/1",)))
    assert store.get("a") is None
    assert len(warnings) == 1  # once per outage, not once per call
    assert "corrupt.db" in warnings[0] and "failed" in warnings[0]
    assert db.read_bytes().startswith(b"this is not a database")  # the user's file is left alone


def test_an_unopenable_sqlite_path_is_a_miss(tmp_path: Path, warnings: list[str]) -> None:
    (tmp_path / "file").write_text("x")
    store = SQLiteStore(tmp_path / "file" / "cache.db")  # its "directory" is a file
    store.put("a", entry())
    assert store.get("a") is None
    assert len(warnings) == 1


def test_a_corrupt_entry_is_dropped(tmp_path: Path, warnings: list[str]) -> None:
    import sqlite3

    store = SQLiteStore(tmp_path / "c.db")
    store.put("a", entry())
    store.put("b", entry())
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("UPDATE musicagent_cache SET entry = X'00010203' WHERE key = 'a'")
    assert store.get("a") is None
    assert store.get("b") is not None  # one bad row does not take the store down
    assert any("unreadable cache entry" in w for w in warnings)


def test_sqlite_is_bounded_and_evicts_the_oldest(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "small.db", max_bytes=100_000)
    now = time.time()
    for n in range(200):
        store.put(f"k{n}", entry(f"/releases/{n}", b"x" * 1000, created=now + n / 1000))
    import sqlite3

    with sqlite3.connect(tmp_path / "small.db") as conn:
        total, count = conn.execute("SELECT SUM(size), COUNT(*) FROM musicagent_cache").fetchone()
    assert total <= 100_000 + cache_store._EVICT_EVERY * 1200  # checked every few puts
    assert count < 200
    assert store.get("k0") is None and store.get("k199") is not None  # oldest out, newest kept


def test_expired_rows_go_before_older_fresh_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_store, "_EVICT_EVERY", 1)
    store = SQLiteStore(tmp_path / "e.db", max_bytes=5_000)
    now = time.time()
    store.put("old-but-fresh", entry("/a", b"x" * 1000, created=now - 50))
    store.put("stale", entry("/b", b"x" * 1000, ttl=-1, created=now))
    for n in range(3):
        store.put(f"k{n}", entry(f"/r/{n}", b"x" * 1000, created=now + n))
    import sqlite3

    with sqlite3.connect(tmp_path / "e.db") as conn:
        keys = {k for (k,) in conn.execute("SELECT key FROM musicagent_cache")}
    assert keys == {"old-but-fresh", "k0", "k1", "k2"}  # the expired row went, not the oldest


@pytest.mark.redis
def test_redis_down_is_a_miss_not_a_failure(warnings: list[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    store = RedisStore(f"redis://:hunter2hunter2@127.0.0.1:{port}/0")
    started = time.monotonic()
    store.put("a", entry())
    assert store.get("a") is None
    store.invalidate(Invalidation(("/artists/1",)))
    assert time.monotonic() - started < 3
    assert len(warnings) == 1 and "hunter2hunter2" not in warnings[0]
    assert "hunter2hunter2" not in repr(store.__dict__)


@pytest.mark.redis
def test_an_invalidation_redis_missed_is_applied_before_it_serves_again(
    redis_store: str, monkeypatch: pytest.MonkeyPatch, warnings: list[str]
) -> None:
    import redis

    monkeypatch.setattr(cache_store, "_RETRY_AFTER", 0.2)
    store = RedisStore(redis_store)
    store.put("a", entry("/users/bob/wants"))
    admin = redis.Redis.from_url(redis_store)
    admin.execute_command("CLIENT", "PAUSE", "1500", "WRITE")  # writes block past the store's 1 s timeout
    store.invalidate(Invalidation(("/users/bob/wants",)))
    assert warnings  # it could not be applied
    time.sleep(1.0)  # the pause is over
    assert store.get("a") is None  # replayed first, so the stale answer is not served
    assert admin.exists("musicagent:cache:v1:e:a") == 0


@pytest.mark.redis
def test_redis_entries_expire_in_redis_too(redis_store: str) -> None:
    import redis

    store = RedisStore(redis_store)
    store.put("a", entry(ttl=30))
    admin = redis.Redis.from_url(redis_store)
    assert 25_000 < admin.pttl("musicagent:cache:v1:e:a") <= 30_000
    store.put("b", entry(ttl=5))  # a shorter entry on the same path does not shorten its index
    assert admin.pttl("musicagent:cache:v1:p:/artists/1") > 25_000
    assert all(b"tok-" not in k for k in admin.keys("*"))


def test_async_face_of_a_store(tmp_path: Path) -> None:
    import asyncio

    async def main(store: CacheStore) -> CacheEntry | None:
        face = AsyncStore(store)
        await face.put("a", entry())
        await face.invalidate(Invalidation(("/other",)))
        found = await face.get("a")
        await face.delete("a")
        assert await face.get("a") is None
        return found

    assert asyncio.run(main(MemoryStore())) is not None
    assert asyncio.run(main(SQLiteStore(tmp_path / "a.db"))) is not None


def test_a_long_outage_drops_everything_once_the_store_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings: list[str]
) -> None:
    monkeypatch.setattr(cache_store, "_RETRY_AFTER", 0.0)
    monkeypatch.setattr(cache_store, "_MAX_PENDING", 3)
    db = tmp_path / "c.db"
    store = SQLiteStore(db)
    store.put("kept-by-no-rule", entry("/labels/1"))
    db.rename(tmp_path / "away.db")  # the store "goes down": a directory now stands where the file was
    (tmp_path / "c.db").mkdir()
    store.close()
    for n in range(5):  # more writes than it keeps track of
        store.invalidate(Invalidation((f"/users/u/wants/{n}",)))
    assert store._pending == [cache_store._EVERYTHING]
    (tmp_path / "c.db").rmdir()
    (tmp_path / "away.db").rename(db)  # back
    assert store.get("kept-by-no-rule") is None  # everything went, since what changed is unknown
    assert store._pending == []

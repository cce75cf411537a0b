"""Where cached answers live: in memory (LRU), in a SQLite file (between processes), in Redis (between machines).

A store only keeps bytes under keys; the rules are in :mod:`.cache`. A store never fails a call:
a corrupt or unreadable file, a locked database or an unreachable Redis is a miss, logged as a
warning once per outage; the store is left alone for a few seconds, then tried again. A write's
invalidation that could not reach the store is kept and applied before the store serves again.

Stores are synchronous and thread-safe. :class:`ResponseCache` (a policy and a store) is what the
transports call: ``serve`` from the sync shell's one hook, ``serve_async`` from the async shell's,
where :class:`AsyncStore` runs the store calls that may block (SQLite, Redis) in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import parse_qs

from . import log as _log
from .cache import CacheEntry, CacheEntryError, CachePlan, CachePolicy, Invalidation, TTLSetting
from .core import Call, RawResponse, RequestOptions
from .errors import ConfigurationError, DiscogsError
from .stores import STORE_DEADLINE, bound_redis, file_identity, is_damage, parse_store_url, sound_database

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from .auth import Credentials
    from .metrics import Metrics
    from .operations import OperationInfo

T = TypeVar("T")

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEFAULT_SQLITE_MB",
    "AsyncStore",
    "CacheStore",
    "MemoryStore",
    "RedisStore",
    "ResponseCache",
    "SQLiteStore",
    "cached_response",
    "open_cache",
    "open_store",
]

DEFAULT_MEMORY_MB = 64
DEFAULT_SQLITE_MB = 256
MAX_ENTRY_BYTES = 8 * 1024 * 1024  # one answer larger than this is not worth a slot (no Discogs JSON is)
_ENTRY_OVERHEAD = 200  # bytes counted per entry beyond its body: key, headers, bookkeeping
_RETRY_AFTER = 5.0  # seconds a failed store is left alone before it is tried again
_FAILED: Any = object()
_MAX_PENDING = 1000  # invalidations kept while a store is down; beyond, the whole store is dropped
_EVERYTHING = Invalidation((), ("/",))


class CacheStore(Protocol):
    """What the cache needs from a store. Implementations never raise for a store failure."""

    def get(self, key: str) -> CacheEntry | None: ...
    def put(self, key: str, entry: CacheEntry) -> None: ...
    def delete(self, key: str) -> None: ...
    def invalidate(self, invalidation: Invalidation) -> None: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


class _Guarded:
    """Failure handling shared by the stores that do I/O: warn once, back off, keep invalidations."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._down_until = 0.0
        self._warned = False
        self._pending: list[Invalidation] = []
        self._guard = threading.Lock()

    def _up(self) -> bool:
        """Whether to try the store now; first replays the invalidations it missed while down."""
        if time.monotonic() < self._down_until:
            return False
        while self._pending:
            with self._guard:
                if not self._pending:
                    break
                first = self._pending[0]
            if self._run(self._invalidate, first, what="invalidate") is _FAILED:
                return False
            with self._guard:
                if self._pending and self._pending[0] is first:
                    self._pending.pop(0)
        return True

    def _run(self, action: Callable[..., Any], *args: Any, what: str) -> Any:
        """``action(*args)``, or ``_FAILED`` (and a warning, once per outage) when the store failed."""
        errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, *_redis_errors())
        end = STORE_DEADLINE.get()
        if end is not None and end <= time.monotonic():
            return _FAILED  # the call has no time left to ask: a miss (an invalidation is kept for later)
        try:
            try:
                result = action(*args)
            except errors as exc:
                if not self._repaired(exc):
                    raise
                result = action(*args)  # once more, on the store made afresh
        except errors as exc:
            self._down_until = time.monotonic() + _RETRY_AFTER
            if not self._warned:
                self._warned = True
                _warn(f"response cache {self._label} failed ({what}): {type(exc).__name__}: {exc}; asking Discogs")
            return _FAILED
        if self._warned:
            self._warned = False
            if _log.is_enabled():
                _log.get_logger().info("response cache {} works again", self._label)
        return result

    def get(self, key: str) -> CacheEntry | None:
        if not self._up():
            return None
        entry = self._run(self._get, key, what="get")
        return None if entry is _FAILED else cast("CacheEntry | None", entry)

    def put(self, key: str, entry: CacheEntry) -> None:
        if len(entry.content) <= MAX_ENTRY_BYTES and self._up():
            self._run(self._put, key, entry, what="put")

    def delete(self, key: str) -> None:
        if self._up():
            self._run(self._delete, key, what="delete")

    def invalidate(self, invalidation: Invalidation) -> None:
        if not self._up() or self._run(self._invalidate, invalidation, what="invalidate") is _FAILED:
            with self._guard:
                if len(self._pending) >= _MAX_PENDING:  # a long outage: drop everything once it is back
                    self._pending = [_EVERYTHING]
                elif invalidation not in self._pending and _EVERYTHING not in self._pending:
                    self._pending.append(invalidation)

    def clear(self) -> None:
        self._run(self._clear, what="clear")

    def _repaired(self, exc: BaseException) -> bool:
        """Whether the store could mend what ``exc`` says is wrong, so that the action may run again now."""
        return False

    # what each store implements; exceptions are handled above
    def _get(self, key: str) -> CacheEntry | None:
        raise NotImplementedError

    def _put(self, key: str, entry: CacheEntry) -> None:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _invalidate(self, invalidation: Invalidation) -> None:
        raise NotImplementedError

    def _clear(self) -> None:
        raise NotImplementedError


def _redis_errors() -> tuple[type[Exception], ...]:
    """redis' base error once redis has been imported (only a Redis store imports it)."""
    import sys

    module = sys.modules.get("redis.exceptions")
    return (module.RedisError,) if module is not None else ()


def _warn(message: str) -> None:
    if _log.is_enabled():
        _log.get_logger().warning(_log.mask(message))


def _decode(data: bytes, where: str) -> CacheEntry | None:
    """A stored entry, or None (and a warning) when the bytes are not one: a miss, not a failure."""
    try:
        return CacheEntry.decode(data)
    except CacheEntryError as exc:
        _warn(f"response cache {where}: {exc}; dropped")
        return None


class MemoryStore:
    """An LRU of entries in this process, bounded in bytes (bodies plus a small overhead per entry)."""

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_MB * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if not entry.fresh(time.time()):
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        cost = len(entry.content) + _ENTRY_OVERHEAD
        if cost > min(self.max_bytes, MAX_ENTRY_BYTES):
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = entry
            self.size += cost
            while self.size > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def delete(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def invalidate(self, invalidation: Invalidation) -> None:
        with self._lock:
            for key in [k for k, e in self._entries.items() if invalidation.matches(e.path)]:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0

    def close(self) -> None:
        pass

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry.content) + _ENTRY_OVERHEAD


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS musicagent_cache ("
    " key TEXT PRIMARY KEY, path TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,"
    " size INTEGER NOT NULL, entry BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS musicagent_cache_path ON musicagent_cache (path)",
    "CREATE INDEX IF NOT EXISTS musicagent_cache_created ON musicagent_cache (created)",
)
_BUSY_MS = 2000  # how long a SQLite store waits for a file another process writes, when no deadline is nearer
_EVICT_EVERY = 32  # puts between two size checks (a check sums the sizes: cheap, not free)


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


class SQLiteStore(_Guarded):
    """Entries in one SQLite file that several processes share (WAL, a busy timeout).

    Created with mode 0600 (answers may hold private data). When the entries outgrow ``max_bytes``,
    expired ones go first, then the oldest. The file is opened on first use, so a path that cannot be
    opened costs misses and a warning, not a failed client.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = DEFAULT_SQLITE_MB * 1024 * 1024) -> None:
        super().__init__(f"sqlite file {str(path)!r}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int, bool] | None = None  # of the file the connection opened
        self._busy_ms = _BUSY_MS  # the connection's busy timeout now
        self._pid = 0
        self._lock = threading.Lock()
        self._puts = 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """This store's lock, waited on no longer than the call's deadline (another thread may be
        waiting out a file another process keeps locked)."""
        end = STORE_DEADLINE.get()
        if not self._lock.acquire(timeout=-1 if end is None else max(0.0, end - time.monotonic())):
            raise TimeoutError("another thread of this process is still waiting for the file")
        try:
            yield
        finally:
            self._lock.release()

    def _db(self) -> sqlite3.Connection:
        """The connection (under the lock), waiting for a locked file no longer than the call's deadline."""
        conn = self._connection()
        end = STORE_DEADLINE.get()
        busy = _BUSY_MS if end is None else max(1, min(_BUSY_MS, int((end - time.monotonic()) * 1000)))
        if busy != self._busy_ms:
            conn.execute(f"PRAGMA busy_timeout = {busy}")
            self._busy_ms = busy
        return conn

    def _connection(self) -> sqlite3.Connection:
        identity = file_identity(self.path)
        if self._conn is not None and self._pid == os.getpid():
            if identity == self._identity:
                return self._conn
            # Deleted, replaced or truncated under us: the old connection would go on reading and
            # writing a file that other processes no longer see (their invalidations included).
            self._drop(remove=self._ours(identity) and identity is not None and identity[2])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # before sqlite creates it with 0644
        conn = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            self._busy_ms = _BUSY_MS
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid, self._identity = conn, os.getpid(), file_identity(self.path)
        return conn

    def _ours(self, identity: tuple[int, int, bool] | None) -> bool:
        """Whether ``identity`` is the file the connection opened (perhaps since cut short)."""
        return identity is not None and self._identity is not None and identity[:2] == self._identity[:2]

    def _drop(self, *, remove: bool) -> None:
        """Close the connection (the next use opens the path again), and with ``remove`` the file too:
        ours, but damaged, it would fail every later use (a cache: the answers are fetched again)."""
        conn, self._conn, self._identity = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        if remove:
            _warn(f"response cache {self._label} is damaged; starting it afresh")
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{self.path}{suffix}")

    def _repaired(self, exc: BaseException) -> bool:
        """A file of ours that went bad under the connection is started afresh (once per failure)."""
        if not is_damage(exc):
            return False
        with self._lock:
            remove = self._ours(file_identity(self.path)) and not sound_database(self.path)
            self._drop(remove=remove)
        return remove

    def _get(self, key: str) -> CacheEntry | None:
        with self._locked():
            row = self._db().execute("SELECT entry FROM musicagent_cache WHERE key = ?", (key,)).fetchone()
        entry = None if row is None else _decode(row[0], self._label)
        if entry is not None and entry.fresh(time.time()):
            return entry
        if row is not None:
            self._delete(key)  # expired or unreadable
        return None

    def _put(self, key: str, entry: CacheEntry) -> None:
        data = entry.encode()
        with self._locked():
            db = self._db()
            db.execute(
                "INSERT OR REPLACE INTO musicagent_cache (key, path, created, expires, size, entry)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, entry.path, entry.created, entry.expires, len(data), data),
            )
            self._puts += 1
            if (self._puts - 1) % _EVICT_EVERY == 0:  # the first put checks too (a full file from before)
                self._evict(db)

    def _evict(self, db: sqlite3.Connection) -> None:
        (total,) = db.execute("SELECT COALESCE(SUM(size), 0) FROM musicagent_cache").fetchone()
        if total <= self.max_bytes:
            return
        db.execute("DELETE FROM musicagent_cache WHERE expires <= ?", (time.time(),))
        (total,) = db.execute("SELECT COALESCE(SUM(size), 0) FROM musicagent_cache").fetchone()
        excess = total - self.max_bytes * 0.9  # some headroom, so the next puts do not evict again
        if excess <= 0:
            return
        victims: list[str] = []
        for key, size in db.execute("SELECT key, size FROM musicagent_cache ORDER BY created"):
            victims.append(key)
            excess -= size
            if excess <= 0:
                break
        db.executemany("DELETE FROM musicagent_cache WHERE key = ?", [(k,) for k in victims])

    def _delete(self, key: str) -> None:
        with self._locked():
            self._db().execute("DELETE FROM musicagent_cache WHERE key = ?", (key,))

    def _invalidate(self, invalidation: Invalidation) -> None:
        clauses = ["path IN (" + ",".join("?" * len(invalidation.exact)) + ")"] if invalidation.exact else []
        args: list[str] = list(invalidation.exact)
        for prefix in invalidation.prefixes:
            pattern = "/".join("*" if part == "*" else _glob_escape(part) for part in prefix.rstrip("/").split("/"))
            clauses.append("path GLOB ? OR path GLOB ?")
            args += [pattern, pattern + "/*"]
        if clauses:
            with self._locked():
                self._db().execute("DELETE FROM musicagent_cache WHERE " + " OR ".join(clauses), args)

    def _clear(self) -> None:
        with self._locked():
            self._db().execute("DELETE FROM musicagent_cache")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


# Stores an entry, adds its key to its path's index set and keeps that set alive as long as the
# entry (an index that expired first would let an invalidation miss the entry).
_REDIS_PUT = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
"""
# Deletes every entry an index set names, and the set.
_REDIS_DROP = """
for _, index in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', index)
  for i = 1, #members, 500 do redis.call('DEL', unpack(members, i, math.min(i + 499, #members))) end
  redis.call('DEL', index)
end
"""


def _redis_glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStore(_Guarded):
    """Entries in Redis, shared between machines; Redis expires them (``PX``) and bounds memory
    (configure its ``maxmemory``). Each path has an index set so a write can find what it made stale."""

    def __init__(self, url: str, *, prefix: str = "musicagent:cache:v1:") -> None:
        from urllib.parse import urlsplit as _split

        _log.register_secret(_split(url).password)
        super().__init__(_log.mask(f"redis {_split(url).hostname}:{_split(url).port or 6379}"))
        try:
            import redis
        except ImportError as exc:
            raise ConfigurationError("a redis:// cache needs redis: pip install 'musicagent[redis]'") from exc
        try:
            self._redis: Any = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        except ValueError as exc:
            raise ConfigurationError(_log.mask(f"invalid redis cache URL: {exc}")) from None
        bound_redis(self._redis)  # reads end by the call's deadline too (STORE_DEADLINE)
        self._prefix = prefix
        self._put_script = self._redis.register_script(_REDIS_PUT)
        self._drop_script = self._redis.register_script(_REDIS_DROP)

    def _entry_key(self, key: str) -> str:
        return f"{self._prefix}e:{key}"

    def _index_key(self, path: str) -> str:
        return f"{self._prefix}p:{path}"

    def _get(self, key: str) -> CacheEntry | None:
        data = self._redis.get(self._entry_key(key))
        if data is None:
            return None
        entry = _decode(data, self._label)
        if entry is None:
            self._redis.delete(self._entry_key(key))
        return entry if entry is not None and entry.fresh(time.time()) else None

    def _put(self, key: str, entry: CacheEntry) -> None:
        ms = max(1, int((entry.expires - time.time()) * 1000))
        self._put_script(keys=[self._entry_key(key), self._index_key(entry.path)], args=[entry.encode(), ms])

    def _delete(self, key: str) -> None:
        self._redis.delete(self._entry_key(key))

    def _invalidate(self, invalidation: Invalidation) -> None:
        indexes = [self._index_key(path) for path in invalidation.exact]
        for prefix in invalidation.prefixes:
            parts = prefix.rstrip("/").split("/")
            pattern = "/".join("*" if p == "*" else _redis_glob_escape(p) for p in parts)
            base = self._index_key("")
            indexes.append(self._index_key(prefix.rstrip("/")))  # the prefix itself, if it has no '*'
            for match in (pattern, pattern + "/*"):
                indexes.extend(k.decode() for k in self._redis.scan_iter(match=_redis_glob_escape(base) + match))
        if indexes:
            self._drop_script(keys=indexes)

    def _clear(self) -> None:
        keys = list(self._redis.scan_iter(match=_redis_glob_escape(self._prefix) + "*"))
        for start in range(0, len(keys), 500):
            self._redis.delete(*keys[start : start + 500])

    def close(self) -> None:
        self._redis.close()


class AsyncStore:
    """The async face of a store: the memory store is called directly, the others in a worker thread."""

    def __init__(self, store: CacheStore) -> None:
        self.store = store
        self._inline = isinstance(store, MemoryStore)

    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._inline:
            return function(*args)
        import asyncio

        return await asyncio.to_thread(function, *args)

    async def get(self, key: str) -> CacheEntry | None:
        entry: CacheEntry | None = await self._call(self.store.get, key)
        return entry

    async def put(self, key: str, entry: CacheEntry) -> None:
        await self._call(self.store.put, key, entry)

    async def delete(self, key: str) -> None:
        await self._call(self.store.delete, key)

    async def invalidate(self, invalidation: Invalidation) -> None:
        await self._call(self.store.invalidate, invalidation)


def _megabytes(query: str, default: int, url: str) -> int:
    values = parse_qs(query).get("max_mb")
    if not values:
        return default * 1024 * 1024
    try:
        mb = float(values[-1])
    except ValueError:
        mb = 0
    if not mb > 0:
        raise ConfigurationError(f"invalid cache URL {_log.mask(url)!r}: max_mb must be a positive number")
    return int(mb * 1024 * 1024)


def open_store(url: str) -> CacheStore:
    """A store for a ``cache=`` setting: ``memory``, ``sqlite:///path.db`` or ``redis://host:port/db``.

    ``?max_mb=N`` bounds a memory or SQLite store (defaults: 64 MB and 256 MB).
    """
    try:
        where = parse_store_url(url)
    except ValueError as exc:
        raise ConfigurationError(f"invalid cache URL: {exc}") from None
    if where.kind == "memory":
        return MemoryStore(_megabytes(where.query, DEFAULT_MEMORY_MB, where.url))
    if where.path is not None:  # sqlite
        return SQLiteStore(where.path, _megabytes(where.query, DEFAULT_SQLITE_MB, where.url))
    return RedisStore(where.url)


class ResponseCache:
    """A client's cache: its rules and its store, around the sync transport's attempt loop.

    A hit is parsed exactly like a fresh answer (same decoding, an equal model), sends nothing and
    takes no limiter slot; a miss is fetched, and stored once it has decoded. An answer stored
    earlier that no longer decodes (a newer SDK, a changed model) is dropped and fetched again.
    """

    def __init__(self, policy: CachePolicy, store: CacheStore) -> None:
        self.policy = policy
        self.store = store

    def __repr__(self) -> str:
        return f"<ResponseCache {type(self.store).__name__}>"

    def plan(self, call: Call, operation: str | None, options: RequestOptions | None) -> CachePlan | None:
        accept = "application/json"
        for name, value in (call.extra_headers or {}).items():
            if name.lower() == "accept":
                accept = value
        return self.policy.plan(
            call.method,
            call.url,
            accept=accept,
            operation=operation,
            extra_headers=call.extra_headers,
            enabled=options is None or options.cache is not False,
        )

    def serve(
        self,
        call: Call,
        operation: str | None,
        options: RequestOptions | None,
        parse: Callable[[RawResponse], T],
        *,
        send: Callable[[Callable[[RawResponse], T]], T],
        on_hit: Callable[[RawResponse], None],
        metrics: Metrics,
    ) -> T:
        """``send(parse)`` unless the cache can answer; ``on_hit`` records a hit as the last response."""
        plan = self.plan(call, operation, options)
        if plan is None:
            return send(parse)
        store = self.store
        if plan.key is None:  # a write: whatever happened, what it may have changed is stale
            try:
                return send(parse)
            finally:
                if plan.invalidate is not None:
                    with _within(call):
                        store.invalidate(plan.invalidate)
        with _within(call, _LOOKUP_SHARE):
            entry = store.get(plan.key)
        found = self._answer(call, plan.key, entry, parse)
        if found is not None:
            on_hit(found[0])
            metrics.record_cache(True)
            return found[1]
        metrics.record_cache(False)

        def put(key: str, entry: CacheEntry) -> None:
            with _within(call):
                store.put(key, entry)

        return send(self._keeping(plan, parse, put))

    async def serve_async(
        self,
        call: Call,
        operation: str | None,
        options: RequestOptions | None,
        parse: Callable[[RawResponse], T],
        *,
        send: Callable[[Callable[[RawResponse], T]], Awaitable[T]],
        on_hit: Callable[[RawResponse], None],
        metrics: Metrics,
    ) -> T:
        """:meth:`serve` for the async client: the same rules; SQLite and Redis run in a worker thread."""
        plan = self.plan(call, operation, options)
        if plan is None:
            return await send(parse)
        store = self._async_store
        if plan.key is None:
            try:
                return await send(parse)
            finally:
                if plan.invalidate is not None:
                    with _within(call):  # copied into the worker thread with the task's context
                        await store.invalidate(plan.invalidate)
        with _within(call, _LOOKUP_SHARE):
            entry = await store.get(plan.key)
        found = self._answer(call, plan.key, entry, parse)
        if found is not None:
            on_hit(found[0])
            metrics.record_cache(True)
            return found[1]
        metrics.record_cache(False)
        kept: list[tuple[str, CacheEntry]] = []
        value = await send(self._keeping(plan, parse, lambda key, entry: kept.append((key, entry))))
        for key, entry in kept:  # stored after the call, outside the retry loop's parse
            with _within(call):
                await store.put(key, entry)
        return value

    @cached_property
    def _async_store(self) -> AsyncStore:
        return AsyncStore(self.store)

    def _answer(
        self, call: Call, key: str, entry: CacheEntry | None, parse: Callable[[RawResponse], T]
    ) -> tuple[RawResponse, T] | None:
        """A stored entry parsed as the answer to ``call``; None for a miss, or an entry that no longer decodes."""
        if entry is None:
            return None
        raw = cached_response(call, entry)
        try:
            value = parse(raw)
        except DiscogsError:  # decoded when stored, not now (a newer SDK, a changed model): ask again
            with _within(call, _LOOKUP_SHARE):
                self.store.delete(key)
            return None
        if _log.is_enabled():
            _log.get_logger().bind(correlation_id=call.cid).info(
                "{} {} -> {} from the cache", call.method, call.shown, raw.status
            )
        return raw, value

    def _keeping(
        self, plan: CachePlan, parse: Callable[[RawResponse], T], put: Callable[[str, CacheEntry], None]
    ) -> Callable[[RawResponse], T]:
        """``parse``, then the decoded answer goes to ``put`` (an answer that did not decode never does)."""
        key = plan.key
        assert key is not None

        def parse_and_keep(raw: RawResponse) -> T:
            value = parse(raw)
            entry = self.policy.entry(plan, raw.status, raw.raw_headers, raw.content, time.time())
            if entry is not None:
                put(key, entry)
            return value

        return parse_and_keep


_LOOKUP_SHARE = 0.5  # of what the deadline leaves, the most a lookup may take: the rest is the request's


@contextlib.contextmanager
def _within(call: Call, share: float = 1.0) -> Iterator[None]:
    """Store calls inside end by ``share`` of what ``call``'s deadline leaves (none: the stores' own
    timeouts). A frozen Redis or a locked file then costs a miss, not the deadline."""
    left = call.time_left()
    token = STORE_DEADLINE.set(None if left is None else time.monotonic() + left * share)
    try:
        yield
    finally:
        STORE_DEADLINE.reset(token)


def cached_response(call: Call, entry: CacheEntry) -> RawResponse:
    """The stored answer as the response of ``call``: no attempt, no elapsed time, ``from_cache``."""
    from urllib3 import HTTPHeaderDict  # case-insensitive, like a fresh answer's headers

    headers = HTTPHeaderDict(dict(entry.headers))
    headers["Age"] = str(max(0, int(time.time() - entry.created)))
    return RawResponse(call.method, call.shown, entry.status, headers, 0.0, 0, call.cid, entry.content, True)


def open_cache(
    url: str, *, credentials: Credentials, ttl: TTLSetting, operations: Iterable[OperationInfo]
) -> ResponseCache:
    """The cache a ``cache=`` setting asks for (bad URLs and TTLs are ConfigurationErrors)."""
    policy = CachePolicy(credentials=credentials, ttl=ttl, operations=operations)
    return ResponseCache(policy, open_store(url))

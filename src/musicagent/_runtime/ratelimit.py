"""Client-side rate limiting on pyrate-limiter buckets, corrected by what Discogs reports.

Discogs counts requests per source IP in a moving window. The local limiter is a sliding window log
(a pyrate-limiter bucket: in memory, SQLite with a file lock, or Redis) that every thread of a client
shares. Its window is a little longer than the server's (:func:`_margin`) so that the time between
taking a slot here and the request reaching Discogs never lets L+1 requests land in one server window.

The acquire loop is ours rather than ``Limiter.try_acquire(blocking=True)`` for two reasons: each
``Limiter`` starts a leaker thread (one per client, each running an event loop), and its blocking
path stamps a request with the time it *planned* to wake rather than the time it did, which eats
into the margin under thread contention. Expired entries are leaked inline instead.

The ``X-Discogs-Ratelimit*`` headers are the truth when other processes share the IP: when the server
has counted more than we did, the difference is added to the bucket, so the next request waits for
the window instead of drawing a 429. A 429 fills the bucket for the same reason.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from urllib.parse import urlsplit

from .errors import ConfigurationError, RateLimitStoreError
from .log import mask, register_secret
from .stores import STORE_DEADLINE, StoreURL, bound_redis, file_identity, is_damage, parse_store_url, sound_database
from .waits import announce, limit_reason

if TYPE_CHECKING:  # pyrate-limiter imports asyncio, sqlite3 and multiprocessing: keep imports lazy
    from pyrate_limiter import AbstractBucket

__all__ = ["RateLimitState", "RateLimiter", "Slot", "parse_rate_headers"]

_ITEM = "discogs"


class Slot(NamedTuple):
    """A slot taken for one attempt: when (monotonic, for :meth:`RateLimiter.settle`) and the bucket's
    stamp of its entry (milliseconds, for :meth:`RateLimiter.give_back` to find it again)."""

    taken_at: float
    stamp: int


@dataclass(frozen=True)
class RateLimitState:
    """What the client knows about its allowance right now.

    ``limit``/``used``/``remaining`` are the server's figures from the last response (None before
    the first); ``local_limit``/``window`` describe the local limiter and ``local_in_window`` how many
    of its slots are taken (None when it is off).
    """

    limit: int | None
    used: int | None
    remaining: int | None
    updated_at: float | None = None
    local_limit: int | None = None
    window: float | None = None
    local_in_window: int | None = None

    def __repr__(self) -> str:
        """``RateLimitState(server 57/60 remaining, 3 used, 4 s ago; local 3/60 per 60 s)``."""
        from .waits import describe

        if self.limit is None and self.remaining is None and self.used is None:
            server = "server: no figures yet"
        else:
            age = "" if self.updated_at is None else f", {describe(max(0.0, time.time() - self.updated_at))} ago"
            server = f"server {self.remaining if self.remaining is not None else '?'}/{self.limit or '?'} remaining"
            server += f", {self.used if self.used is not None else '?'} used{age}"
        if self.local_limit is None:
            local = "local limiter off"
        else:
            local = f"local {self.local_in_window or 0}/{self.local_limit} per {describe(self.window or 0)}"
        return f"RateLimitState({server}; {local})"


def parse_rate_headers(headers: Mapping[str, str]) -> tuple[int | None, int | None, int | None]:
    """(limit, used, remaining) from Discogs' headers; missing or garbled values are None."""

    def number(name: str) -> int | None:
        raw = headers.get(name)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    return (
        number("X-Discogs-Ratelimit"),
        number("X-Discogs-Ratelimit-Used"),
        number("X-Discogs-Ratelimit-Remaining"),
    )


STORE_TIMEOUT = 5.0  # seconds a shared store may take to answer one call, when no deadline is nearer


def _earliest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _is_timeout(exc: BaseException) -> bool:
    """A store's own timeout: filelock.Timeout, redis TimeoutError, sqlite3 "database is locked"."""
    return "Timeout" in type(exc).__name__ or "locked" in str(exc) or isinstance(exc, TimeoutError)


def _log_store_damage(name: str) -> None:
    from . import log as _log

    if _log.is_enabled():
        _log.get_logger().warning("the rate-limit store {} is damaged: starting it afresh", name)


def _margin(window: float) -> float:
    """Extra local window: 1% of it, at least 100 ms and at most 1 s.

    It must exceed the spread of the delay between taking a slot and the request reaching the
    server (thread wake-up, a busy CPU, connect, network jitter). On loopback with 16 threads that
    spread measured ~25 ms, more on an overloaded machine; 0.6 s on the 60 s Discogs window covers
    the Internet, at a cost of 1% of the allowance.
    """
    return min(1.0, max(0.1, window * 0.01))


def _store_url(store: str | None) -> StoreURL | None:
    """``store`` read by the rules the cache's store follows too."""
    if store is None:
        return None
    try:
        return parse_store_url(store)
    except ValueError as exc:
        raise ConfigurationError(f"invalid rate_limit_store: {exc}") from None


def _make_bucket(requests: int, interval_ms: int, where: StoreURL | None) -> AbstractBucket:
    """A bucket for ``store``; shared stores are keyed by window only, since they log timestamps."""
    from pyrate_limiter import InMemoryBucket, Rate

    rates = [Rate(requests, interval_ms)]
    if where is None or where.kind == "memory":
        return InMemoryBucket(rates)
    if where.path is not None:  # sqlite
        from pyrate_limiter import SQLiteBucket

        path = str(where.path)
        try:
            return SQLiteBucket.init_from_file(
                rates, table=f"musicagent_{interval_ms}", db_path=path, use_file_lock=True
            )
        except ImportError as exc:
            raise ConfigurationError(
                "a sqlite:// rate-limit store needs filelock: pip install 'musicagent[sqlite]'"
            ) from exc
        except Exception as exc:  # sqlite3.Error, OSError, filelock.Timeout
            raise ConfigurationError(f"cannot open the rate-limit store {path!r}: {exc}") from None
    store = where.url  # Redis
    register_secret(urlsplit(store).password)
    try:
        from pyrate_limiter import RedisBucket
        from redis import Redis
    except ImportError as exc:
        raise ConfigurationError("a redis:// rate-limit store needs redis: pip install 'musicagent[redis]'") from exc
    try:
        client: Any = Redis.from_url(store, socket_timeout=5, socket_connect_timeout=5)
        bound_redis(client)
        return RedisBucket(rates, client, f"musicagent:ratelimit:{interval_ms}", client.script_load(_redis_script()))
    except Exception as exc:  # redis.RedisError and friends
        raise ConfigurationError(mask(f"cannot reach the rate-limit store {store}: {exc}")) from None


# One member of the bucket's sorted set scored ARGV[1] (members carry a random id; any one will do).
_REDIS_REMOVE = """
local found = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if found[1] then redis.call('ZREM', KEYS[1], found[1]) end
return 0
"""


def _redis_script() -> str:
    """pyrate-limiter's put script, counting entries newer than the caller's clock too.

    The stock script counts ``[window_start, now]``: a client whose clock reading is a few ms
    stale (a busy CPU between reading the clock and the script running) does not see entries
    that other clients just logged, and is admitted past the limit. Counting up to ``+inf``
    closes that race; if a future release words the line differently, the stock script is used.
    """
    from pyrate_limiter.buckets.redis_bucket import LuaScript

    return LuaScript.PUT_ITEM.replace(
        "redis.call('ZCOUNT', bucket, window_start, now)", "redis.call('ZCOUNT', bucket, window_start, '+inf')"
    )


class RateLimiter:
    """One moving-window allowance shared by all threads of a client (and, with a store, more)."""

    def __init__(self, requests: int, window: float, store: str | None = None) -> None:
        self.requests = requests
        self.window = window
        self.store = store
        self._interval_ms = round((window + _margin(window)) * 1000)
        # A shared store is opened now, so a bad store fails at construction; the in-memory bucket
        # (and the pyrate-limiter import it needs) waits for the first request.
        where = _store_url(store)
        self.shared = where is not None and where.kind != "memory"  # SQLite or Redis: calls may block
        self._sqlite = where is not None and where.kind == "sqlite"
        self._where = where
        self._bucket_obj: AbstractBucket | None = (
            _make_bucket(requests, self._interval_ms, where) if self.shared else None
        )
        self._path = where.path if where is not None else None  # the SQLite file, if that is the store
        self._file = file_identity(self._path) if self._path is not None else None
        self._lock = threading.Lock()  # guards the bucket and the server figures
        self._turn = threading.Lock()  # held by the one thread waiting for a slot
        self._server: tuple[int | None, int | None, int | None] = (None, None, None)
        self._updated_at: float | None = None
        self._leaked_at = time.monotonic()
        self._store_started = 0.0
        self._store_busy = False  # a store call is under way (one at a time: all run under self._lock)
        self._store_failed: tuple[float, str] | None = None  # when a store call last failed, and how
        self._slot = threading.local()  # this thread's latest slot (see settle, give_back)
        self._holds: list[tuple[float, float]] = []  # (bucket frees the slot at, server may count it until)

    def __repr__(self) -> str:
        return f"<RateLimiter {self.requests}/{self.window:g}s store={mask(self.store or 'memory://')!r}>"

    @property
    def _bucket(self) -> AbstractBucket:
        if self._bucket_obj is None:
            self._bucket_obj = _make_bucket(self.requests, self._interval_ms, None)
        return self._bucket_obj

    # -- bucket access, always under self._lock --------------------------------------------------
    def _now(self) -> int:
        return cast(int, self._bucket.now())  # type: ignore[no-untyped-call]

    def _take(self, weight: int) -> tuple[int, int]:
        """Put ``weight`` slots stamped now: (-1 when admitted, else the milliseconds to wait; the stamp).

        The clock is read inside the store's own lock (SQLite's file lock), so a process that
        waited for the lock does not log a stale, too-early timestamp.
        """
        from pyrate_limiter import RateItem

        with self._bucket.limiter_lock() or contextlib.nullcontext():  # type: ignore[attr-defined]
            item = RateItem(_ITEM, self._now(), weight)
            if self._bucket.put(item):
                return -1, item.timestamp
            return max(1, cast(int, self._bucket.waiting(item))), item.timestamp

    def _remove(self, stamp: int) -> None:
        """Remove one entry stamped ``stamp`` from the bucket (any process's: they count the same)."""
        bucket: Any = self._bucket
        if self._sqlite:
            with bucket.limiter_lock() or contextlib.nullcontext():
                table = bucket.table
                bucket.conn.execute(
                    f"DELETE FROM '{table}' WHERE rowid = "
                    f"(SELECT rowid FROM '{table}' WHERE item_timestamp = ? ORDER BY rowid DESC LIMIT 1)",
                    (stamp,),
                ).close()
                bucket.conn.commit()
        elif self.shared:  # Redis: one member of the sorted set scored ``stamp``
            bucket.redis.eval(_REDIS_REMOVE, 1, bucket.bucket_key, stamp)
        else:
            with bucket._lock:
                for index in range(len(bucket.items) - 1, -1, -1):
                    if bucket.items[index].timestamp == stamp:
                        del bucket.items[index]
                        break

    def _in_window(self) -> int:
        self._bucket.leak(self._now())
        self._leaked_at = time.monotonic()
        return cast(int, self._bucket.count())

    def _store_call(self, what: str, call: Any, end: float | None = None) -> Any:
        """Run a bucket operation by ``end`` (monotonic; default: :data:`STORE_TIMEOUT` from now).

        A shared store that does not answer in time (a frozen Redis, a SQLite file another process
        keeps locked) or fails becomes a :class:`RateLimitStoreError` naming the store. A Redis that
        restarted has forgotten the Lua script (NOSCRIPT): it is loaded again and the call repeated.
        """
        if not self.shared:
            return call()
        end = time.monotonic() + STORE_TIMEOUT if end is None else end
        self._store_busy = True
        try:
            for reloaded in (False, True):
                try:
                    self._bound_store(end)
                    return call()
                except Exception as exc:
                    if self._sqlite:
                        self._rollback()
                    if not reloaded and type(exc).__name__ == "NoScriptError":
                        self._reload_script(end)
                        continue
                    if not reloaded and self._sqlite and is_damage(exc):
                        self._reopen(damaged=True)
                        continue
                    name = mask(self.store or "")
                    if time.monotonic() >= end - 0.001 or _is_timeout(exc):
                        waited = max(0.0, end - self._store_started)
                        message = f"the rate-limit store {name} did not answer within {waited:.1f}s while {what}"
                    else:
                        message = mask(f"the rate-limit store {name} failed while {what}: {exc}")
                    self._store_failed = (time.monotonic(), message)
                    raise RateLimitStoreError(message) from None
                finally:
                    STORE_DEADLINE.set(None)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._store_busy = False

    def store_trouble(self, since: float) -> RateLimitStoreError | None:
        """Why a caller that queued since ``since`` (monotonic) behind another thread or task ran out of
        time, when the reason is the shared store: a store call still under way, or one that failed
        meanwhile. None when the wait was the allowance's (then it is the caller's deadline that ran out).
        """
        if not self.shared:
            return None
        name = mask(self.store or "")
        now = time.monotonic()
        if self._store_busy and now - self._store_started > 0.05:
            return RateLimitStoreError(
                f"the rate-limit store {name} did not answer: another caller has waited "
                f"{now - self._store_started:.1f}s for it, and this one queued behind it"
            )
        failed = self._store_failed
        if failed is not None and failed[0] >= since:
            return RateLimitStoreError(f"{failed[1]} (another caller's; this one queued behind it)")
        return None

    def _rollback(self) -> None:
        """End the transaction a failed SQLite statement may have left open on the bucket's connection.

        Python's sqlite3 begins one before an INSERT or DELETE; when that statement fails ("database
        is locked"), the transaction stays open on its old snapshot, and every later write of this
        process is refused at once (a stale snapshot cannot become a write) until something commits.
        With 24 threads of 3 processes, calls failed that way for seconds after a lock was gone.
        """
        conn = getattr(self._bucket_obj, "conn", None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.rollback()

    def _bound_store(self, end: float) -> None:
        """Make the store's own waits end by ``end``: SQLite's file lock and busy timeout, Redis reads."""
        self._store_started = time.monotonic()
        left = max(0.0, end - self._store_started)
        if self._path is not None:  # SQLite
            identity = file_identity(self._path)
            if identity != self._file:
                self._reopen(damaged=False)  # deleted or replaced: the other processes use the new file
            elif identity is not None and identity[2]:
                self._reopen(damaged=True)  # cut shorter than its header: new openers would fail on it
        bucket: Any = self._bucket
        if self._sqlite:
            if bucket.use_limiter_lock:
                bucket.lock.timeout = left  # filelock: per thread
            bucket.conn.execute(f"PRAGMA busy_timeout = {int(left * 1000)}").close()
        else:
            STORE_DEADLINE.set(end)

    def _reopen(self, *, damaged: bool) -> None:
        """Open the SQLite file again: it was deleted or replaced (another process may already use its
        successor), or it fails as damaged. A file that is not a sound database is removed first; it
        holds only the last window's timestamps, and the server's figures correct the count."""
        assert self._path is not None
        old, self._bucket_obj = self._bucket_obj, None
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()
        path = self._path
        identity = file_identity(path)
        if damaged and ((identity is not None and identity[2]) or not sound_database(path)):
            _log_store_damage(mask(self.store or ""))
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{path}{suffix}")
        self._bucket_obj = _make_bucket(self.requests, self._interval_ms, self._where)
        self._file = file_identity(path)

    def _reload_script(self, end: float) -> None:
        bucket: Any = self._bucket
        STORE_DEADLINE.set(end)
        bucket.script_hash = bucket.redis.script_load(_redis_script())

    # -- public ----------------------------------------------------------------------------------
    def acquire(self, timeout: float | None = None, *, store_timeout: float | None = None) -> float | None:
        """Block until a request may be sent; the seconds waited, or None if ``timeout`` would run out.

        Threads wait their turn on a lock, so only one sleeps on the bucket: when a slot frees, one
        thread wakes instead of all of them at once, whose scramble for the GIL would delay the
        winner's request by more than the margin. Fails at once when the wait is already known to
        be longer than ``timeout``. Each call to a shared store waits at most ``store_timeout``
        (default :data:`STORE_TIMEOUT`) and never past ``timeout``.
        """
        start = time.monotonic()
        end = None if timeout is None else start + timeout
        if not self._turn.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            trouble = self.store_trouble(start)
            if trouble is not None:
                raise trouble
            return None
        told = False
        try:
            while True:
                wait, slot = self.try_take(end, store_timeout)
                if slot is not None:
                    self._slot.taken = slot
                    return time.monotonic() - start
                if end is not None and time.monotonic() + wait > end:
                    return None
                told = told or announce(wait, limit_reason(self.requests, self.window))
                time.sleep(wait)
        finally:
            self._turn.release()

    def try_take(self, end: float | None = None, store_timeout: float | None = None) -> tuple[float, Slot | None]:
        """One look at the bucket, never sleeping: ``(0, slot)`` when a slot was taken, else
        ``(seconds to wait before looking again, None)``.

        The slot goes back to :meth:`settle` once the answer is in (or to :meth:`give_back`). The sync
        :meth:`acquire` and the async client's wait (``async_ratelimit``) both loop on this, each sleeping its own way.
        ``end`` (monotonic) bounds the store calls; an internal lock not had by then reads as an
        endless wait.
        """
        queued = time.monotonic()
        if not self._lock.acquire(timeout=-1 if end is None else max(0.0, end - queued)):
            trouble = self.store_trouble(queued)
            if trouble is not None:
                raise trouble
            return math.inf, None
        try:
            store_end = _earliest(end, time.monotonic() + (store_timeout or STORE_TIMEOUT))
            if time.monotonic() - self._leaked_at > self.window:
                self._store_call("leaking", self._in_window, store_end)  # keeps the log short
            wait = self._held_wait(store_end)
            if wait is not None:
                return wait, None
            taken_at = time.monotonic()
            wait_ms, stamp = self._store_call("taking a slot", lambda: self._take(1), store_end)
            if wait_ms < 0:
                return 0.0, Slot(taken_at, stamp)
            return wait_ms / 1000, None
        finally:
            self._lock.release()

    def _held_wait(self, store_end: float) -> float | None:
        """Seconds to wait because late answers still hold slots the bucket has already freed, or None.

        A request whose answer came more than half the margin after its slot was taken may have
        reached the server later than the margin covers; :meth:`settle` then holds its slot until a
        window after the answer. Held slots count against the limit until then.
        """
        if not self._holds:
            return None
        now = time.monotonic()
        self._holds = [hold for hold in self._holds if hold[1] > now]
        freed = [until for frees_at, until in self._holds if frees_at <= now]
        if not freed:
            return None
        in_window: int = self._store_call("counting", self._in_window, store_end)
        if in_window + len(freed) < self.requests:
            return None
        return max(0.001, min(min(freed) - now, 0.05))  # a bucket slot may free sooner: look again

    def _own(self, slot: Slot | None) -> Slot | None:
        """``slot``, or this thread's latest (the sync client's), which is then used up."""
        if slot is None:
            slot = getattr(self._slot, "taken", None)
            self._slot.taken = None
        return slot

    def give_back(self, slot: Slot | None = None, *, timeout: float | None = None) -> None:
        """Free a slot whose request never left: the connection was refused or never opened.

        Discogs never saw it, so it must not cost the allowance (a host that refuses connections
        would otherwise drain the window with retries). A store that fails now keeps the slot:
        that errs towards fewer requests, and the caller's own error is the one worth raising.
        """
        slot = self._own(slot)
        if slot is None:
            return
        end = time.monotonic() + (timeout or STORE_TIMEOUT)
        if not self._lock.acquire(timeout=max(0.0, end - time.monotonic())):
            return
        try:
            self._store_call("giving back a slot", lambda: self._remove(slot.stamp), end)
        except RateLimitStoreError:
            pass
        finally:
            self._lock.release()

    def settle(self, slot: Slot | None = None) -> None:
        """After an attempt that took a slot: hold the slot longer if the answer came late (see :meth:`_held_wait`).

        The sync client's slot is this thread's latest; the async client passes the slot that
        :meth:`try_take` gave its task (all tasks share one thread).
        """
        slot = self._own(slot)
        if slot is None:
            return
        taken_at = slot.taken_at
        now = time.monotonic()
        if now - taken_at > _margin(self.window) / 2:
            window = self._interval_ms / 1000
            with self._lock:
                self._holds.append((taken_at + window, now + window))

    def observe(self, headers: Mapping[str, str], *, rejected: bool = False, timeout: float | None = None) -> None:
        """Fold the server's view into the bucket (see the module docstring).

        ``rejected`` means the server answered 429. A bare one counts one request more than the
        local log holds (the server's window is full, and nothing says why); one with figures is
        read by its figures, and one with ``Retry-After`` is left to the retry's wait: a stray 429
        costs a slot or a wait, never a whole window. ``timeout`` bounds the store call.
        The server's limit is read as a count per the configured window; it only ever shrinks the
        local limit (Discogs grants 25 instead of 60 when it does not accept the credentials).
        """
        limit, used, remaining = parse_rate_headers(headers)
        known = limit is not None or used is not None or remaining is not None
        if not known and not rejected:
            return
        with self._lock:
            if known:
                self._server = (limit, used, remaining)
                self._updated_at = time.time()
            if limit is not None and 0 < limit < self.requests:
                from pyrate_limiter import Rate

                self.requests = limit
                self._bucket.rates = [Rate(limit, self._interval_ms)]
            capacity = self.requests
            if rejected and headers.get("Retry-After") is not None:
                return  # the server said when to come back; filling the window would wait past that
            if rejected and not known:
                target = -1  # a bare 429: one more than counted here
            elif remaining is not None:
                target = capacity - remaining
            elif used is not None:
                target = used
            else:
                return

            def fill() -> None:
                in_window = self._in_window()
                wanted = in_window + 1 if target < 0 else target
                missing = min(wanted, capacity) - in_window
                if missing > 0:
                    self._take(missing)

            end = None if timeout is None else time.monotonic() + timeout
            self._store_call("recording the server's count", fill, end)

    def state(self) -> RateLimitState:
        """A consistent snapshot of the server's last figures and the local bucket."""
        with self._lock:
            in_window: int = self._store_call("counting", self._in_window)
            limit, used, remaining = self._server
            return RateLimitState(
                limit=limit,
                used=used,
                remaining=remaining,
                updated_at=self._updated_at,
                local_limit=self.requests,
                window=self.window,
                local_in_window=in_window,
            )

    def close(self) -> None:
        """Close the store's connection (SQLite file, Redis socket); in-memory buckets hold nothing."""
        with self._lock:
            if self._bucket_obj is not None:
                self._bucket_obj.close()

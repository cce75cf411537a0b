"""Shared rate-limit stores recover and honour the deadline (issue 9, item 4).

Real stores only: redis-server processes started (restarted, SIGSTOPped) by the tests, SQLite files
locked by another process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from musicagent import APITimeoutError, Discogs, RateLimitStoreError

from .conftest import LocalServer, damage_sqlite, free_port, start_redis, stop

Client = Callable[..., Discogs]
SLACK = 1.5  # seconds a loaded machine may add to a bound

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals and file locks of POSIX")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A redis-server of this test alone (it gets restarted and frozen): (port, [current process])."""
    port = free_port()
    procs = [start_redis(port, tmp_path)]
    try:
        yield port, procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                stop(proc)


def test_a_restarted_redis_gets_the_script_again(
    server: LocalServer, client: Client, own_redis: tuple[int, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    """Issue figure: after a restart every call failed for good with NOSCRIPT."""
    port, procs = own_redis
    d = client(rate_limit=(100, 60.0), rate_limit_store=f"redis://127.0.0.1:{port}/0")
    d.request("GET", "/before")
    stop(procs[0])
    procs.append(start_redis(port, tmp_path))
    for _ in range(3):
        d.request("GET", "/after")
    assert server.count() == 4
    assert d.rate_limit.local_in_window == 3  # the new server's log: the script runs again


@pytest.mark.parametrize("bound", ["deadline", "timeout"])
def test_a_frozen_redis_ends_in_a_store_error_within_the_bound(
    server: LocalServer, client: Client, own_redis: tuple[int, list[subprocess.Popen[bytes]]], bound: str
) -> None:
    """Issue figure: a SIGSTOPped redis-server held each call 5 s against a 1-2 s deadline."""
    port, procs = own_redis
    store = f"redis://127.0.0.1:{port}/0"
    kwargs = {"deadline": 1.0, "timeout": 30.0} if bound == "deadline" else {"timeout": 1.0}
    d = client(rate_limit=(100, 60.0), rate_limit_store=store, max_retries=3, **kwargs)
    d.request("GET", "/before")
    os.kill(procs[0].pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(RateLimitStoreError) as info:
            d.request("GET", "/frozen")
        elapsed = time.monotonic() - started
    finally:
        os.kill(procs[0].pid, signal.SIGCONT)
    assert elapsed < 1.0 + SLACK
    assert store in str(info.value) and "did not answer" in str(info.value)
    assert server.count() == 1  # nothing was sent without a slot
    d.request("GET", "/thawed")  # and the client works again once the store does


_HOLD_FILE_LOCK = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1] + ".lock"):
    print("locked", flush=True)
    time.sleep(60)
"""

_HOLD_DATABASE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("holder", [_HOLD_FILE_LOCK, _HOLD_DATABASE_LOCK], ids=["file lock", "database lock"])
def test_a_sqlite_store_locked_by_another_process_ends_in_a_store_error_within_the_deadline(
    server: LocalServer, client: Client, tmp_path: Path, holder: str
) -> None:
    """Issue figure: 12 s against a 1-2 s deadline (the file lock alone: for as long as it is held)."""
    db = tmp_path / "limit.db"
    store = f"sqlite:///{db}"
    d = client(rate_limit=(100, 60.0), rate_limit_store=store, deadline=1.5, timeout=30)
    d.request("GET", "/before")
    other = subprocess.Popen([sys.executable, "-c", holder, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises((RateLimitStoreError, APITimeoutError)) as info:
            d.request("GET", "/locked")
        elapsed = time.monotonic() - started
    finally:
        other.kill()
        other.wait(10)
    assert elapsed < 1.5 + SLACK
    assert isinstance(info.value, RateLimitStoreError) and str(db) in str(info.value)
    assert server.count() == 1
    d.request("GET", "/unlocked")


def test_threads_waiting_behind_a_frozen_redis_are_told_it_is_the_store(
    server: LocalServer, client: Client, own_redis: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    """One thread is stuck on the store; the others, queued behind it for the limiter, learn why too."""
    port, procs = own_redis
    store = f"redis://127.0.0.1:{port}/0"
    d = client(rate_limit=(100, 60.0), rate_limit_store=store, deadline=1.0, timeout=30.0, max_retries=0)
    d.request("GET", "/before")
    errors: list[BaseException] = []
    elapsed: list[float] = []

    def call() -> None:
        started = time.monotonic()
        try:
            d.request("GET", "/frozen")
        except BaseException as exc:
            errors.append(exc)
        elapsed.append(time.monotonic() - started)

    os.kill(procs[0].pid, signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        os.kill(procs[0].pid, signal.SIGCONT)
    assert len(errors) == 4 and max(elapsed) < 1.0 + SLACK
    assert all(isinstance(e, RateLimitStoreError) and store in str(e) for e in errors), [str(e) for e in errors]
    assert server.count() == 1


_ONE_CALL = """
import os, sys
from musicagent import Discogs
d = Discogs(base_url=sys.argv[1], rate_limit=(100, 60.0), rate_limit_store=sys.argv[2], env={}, dotenv=os.devnull)
d.request("GET", "/other-process")
print(d.rate_limit.local_in_window)
"""


@pytest.mark.parametrize("how", ["deleted", "truncated", "overwritten"])
def test_a_sqlite_store_file_damaged_mid_run_recovers_and_is_shared_again(
    server: LocalServer, client: Client, tmp_path: Path, how: str
) -> None:
    """The calls go on, and a process that opens the store afterwards shares one count with this client.

    Before, a deleted file went on being used through the open connection: this client counted in
    a file no other process could see any more, and the next process started a count of its own.
    """
    db = tmp_path / "limit.db"
    store = f"sqlite:///{db}"
    d = client(rate_limit=(100, 60.0), rate_limit_store=store, timeout=5.0, max_retries=0)
    d.request("GET", "/before")
    d.request("GET", "/before")
    damage_sqlite(db, how)
    for _ in range(3):
        d.request("GET", "/after")
    other = subprocess.run(
        [sys.executable, "-c", _ONE_CALL, server.url, store], capture_output=True, text=True, timeout=60
    )
    assert other.returncode == 0, other.stderr[-2000:]
    seen_there = int(other.stdout.strip())
    assert d.rate_limit.local_in_window == seen_there  # one shared count again
    assert seen_there >= 4  # this client's calls since the damage, and the other process's
    assert server.count() == 6


_HAMMER = """
import json, os, sys, time
from musicagent import Discogs
base, limit_store, cache_store, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
d = Discogs(base_url=base, rate_limit=(10000, 60.0), rate_limit_store=limit_store, cache=cache_store,
            timeout=2.0, deadline=3.0, max_retries=1, env={}, dotenv=os.devnull)
outcomes, longest, n = [], 0.0, 0
stop = time.monotonic() + seconds
while time.monotonic() < stop:
    n += 1
    started = time.monotonic()
    try:
        d.artists.get(1 + n % 7)
        outcomes.append([started, "ok"])
    except Exception as exc:
        outcomes.append([started, type(exc).__name__])
    longest = max(longest, time.monotonic() - started)
    time.sleep(0.01)
print(json.dumps({"outcomes": outcomes, "longest": longest, "now": time.monotonic()}))
"""


def test_redis_killed_and_restarted_mid_run_with_threads_and_processes(
    server: LocalServer, client: Client, own_redis: tuple[int, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    """Limiter and cache on one redis-server, used by 4 threads of this client and 2 other processes,
    which is killed (SIGKILL: no goodbye) and started again on the same port, empty.

    While it is gone, calls fail with the typed store error, each within its deadline (never a bare
    redis error, never a hang); once it is back, every thread and process succeeds again.
    """
    port, procs = own_redis
    limit_store, cache_store = f"redis://127.0.0.1:{port}/0", f"redis://127.0.0.1:{port}/1"
    d = client(
        rate_limit=(10000, 60.0),
        rate_limit_store=limit_store,
        cache=cache_store,
        timeout=2.0,
        deadline=3.0,
        max_retries=1,
    )
    seconds = 6.0
    others = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, server.url, limit_store, cache_store, str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes: list[tuple[float, str]] = []
    longest = [0.0]
    stop = time.monotonic() + seconds

    def hammer(offset: int) -> None:
        n = offset
        while time.monotonic() < stop:
            n += 1
            started = time.monotonic()
            try:
                d.artists.get(1 + n % 7)
                outcomes.append((started, "ok"))
            except Exception as exc:
                outcomes.append((started, type(exc).__name__))
            longest[0] = max(longest[0], time.monotonic() - started)
            time.sleep(0.01)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    procs[0].kill()
    procs[0].wait(10)
    killed = time.monotonic()
    time.sleep(1.0)
    procs.append(start_redis(port, tmp_path))
    back = time.monotonic()
    _typed_bounded_and_recovered(threads, others, outcomes, longest, bound=3.0, back=back)
    assert killed < back


_SQLITE_HAMMER = """
import json, os, sys, threading, time
from musicagent import Discogs
base, store, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
d = Discogs(base_url=base, rate_limit=(100000, 60.0), rate_limit_store=store,
            timeout=2.0, deadline=2.0, max_retries=1, env={}, dotenv=os.devnull)
outcomes, longest = [], [0.0]
stop = time.monotonic() + seconds

def hammer():
    while time.monotonic() < stop:
        started = time.monotonic()
        try:
            d.request("GET", "/p")
            outcomes.append([started, "ok"])
        except Exception as exc:
            outcomes.append([started, type(exc).__name__])
        longest[0] = max(longest[0], time.monotonic() - started)

threads = [threading.Thread(target=hammer) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"outcomes": outcomes, "longest": longest[0]}))
"""


def test_sixteen_threads_and_two_processes_on_one_sqlite_limiter_file_deleted_then_locked(
    server: LocalServer, client: Client, tmp_path: Path
) -> None:
    """One limiter file, 16 threads of this client (either kind) and 4 of each of 2 other processes.
    Mid-run the file is deleted, then another process holds it locked for 3 s, then lets go.

    Every call ends within its 2 s deadline, as a success or the typed store error, never a bare
    sqlite3 error or a hang; after the lock is gone every thread of every process succeeds again, and
    all of them count in one file again (a process opening it now sees the others' requests).

    Before, a process could go on failing for seconds after the lock was gone: a write refused as
    "database is locked" left its SQLite transaction open on an old snapshot."""
    db = tmp_path / "limit.db"
    store = f"sqlite:///{db}"
    d = client(rate_limit=(100000, 60.0), rate_limit_store=store, timeout=2.0, deadline=2.0, max_retries=1)
    d.request("GET", "/first")  # the file exists before anyone deletes it
    seconds = 9.0
    others = [
        subprocess.Popen(
            [sys.executable, "-c", _SQLITE_HAMMER, server.url, store, str(seconds)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes: list[tuple[float, str]] = []
    longest = [0.0]
    stop = time.monotonic() + seconds

    def hammer() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                d.request("GET", "/t")
                outcomes.append((started, "ok"))
            except Exception as exc:
                outcomes.append((started, type(exc).__name__))
            longest[0] = max(longest[0], time.monotonic() - started)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    damage_sqlite(db, "deleted")
    time.sleep(1.0)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_DATABASE_LOCK, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        time.sleep(3.0)  # longer than a call's deadline: calls must give up, typed
    finally:
        holder.kill()
        holder.wait(10)
    free = time.monotonic()
    _typed_bounded_and_recovered(threads, others, outcomes, longest, bound=2.0, back=free)
    wide = _ONE_CALL.replace("rate_limit=(100, 60.0)", "rate_limit=(100000, 60.0)")  # the window holds thousands
    after = subprocess.run([sys.executable, "-c", wide, server.url, store], capture_output=True, text=True, timeout=60)
    assert after.returncode == 0, after.stderr[-2000:]
    assert int(after.stdout.strip()) == d.rate_limit.local_in_window  # one shared count again


def _typed_bounded_and_recovered(
    threads: list[threading.Thread],
    others: list[subprocess.Popen[str]],
    outcomes: list[tuple[float, str]],
    longest: list[float],
    *,
    bound: float,
    back: float,
) -> None:
    """The outcomes of this process's threads and of the other processes, once all have ended: only
    successes and typed store errors, at least one of those (else the test proves nothing), no call
    longer than ``bound``, and only successes from a second after the store was ``back`` (one
    monotonic clock: same machine)."""
    for thread in threads:
        thread.join(30)
    results = []
    for other in others:
        out, _ = other.communicate(timeout=60)
        assert other.returncode == 0
        results.append(json.loads(out))
    kinds = {kind for theirs in [outcomes, *(r["outcomes"] for r in results)] for _, kind in theirs}
    assert kinds <= {"ok", "RateLimitStoreError"}, kinds
    assert "RateLimitStoreError" in kinds
    assert max(longest[0], *(r["longest"] for r in results)) < bound + SLACK
    for theirs in [outcomes, *(r["outcomes"] for r in results)]:
        late = [kind for started, kind in theirs if started > back + 1.0]
        assert late and set(late) == {"ok"}, late[-10:]

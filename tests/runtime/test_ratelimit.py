"""The local limiter against a server that enforces a moving window and counts the 429s it sends."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _clients import FLAVORS, make_client

from musicagent import APIConnectionError, Discogs, RateLimitState
from musicagent._runtime.errors import ConfigurationError, RateLimitStoreError
from musicagent._runtime.ratelimit import RateLimiter, _margin, parse_rate_headers

from .conftest import TOKEN, LocalServer, free_port

Client = Callable[..., Discogs]


def _run_threads(count: int, target: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_the_eleventh_request_waits_instead_of_drawing_a_429(server: LocalServer, client: Client) -> None:
    server.limit, server.window = 10, 1.0
    d = client(rate_limit=(10, 1.0), max_retries=0)
    for i in range(25):
        assert d.artists.get(i + 1).id == i + 1
    assert server.rejected == 0
    assert server.max_in_window() <= 10
    metrics = d.metrics
    assert metrics.rate_limited == 0 and metrics.requests == 25
    assert metrics.limiter_wait_seconds > 0  # delayed, not rejected


def test_eight_threads_share_one_allowance(server: LocalServer, client: Client) -> None:
    server.limit, server.window = 10, 1.0
    d = client(rate_limit=(10, 1.0), max_retries=0)

    def work() -> None:
        for _ in range(5):
            d.request("GET", "/anything")

    _run_threads(8, work)
    assert server.count() == 40
    assert server.rejected == 0
    assert server.max_in_window() <= 10
    assert d.metrics.requests == 40


def test_without_a_local_limit_the_server_would_answer_429(server: LocalServer, client: Client) -> None:
    """The control experiment: the same load with limiting off draws 429s (retried until it passes)."""
    server.limit, server.window = 5, 0.5
    d = client(rate_limit=None, max_retries=20)
    for _ in range(8):
        d.request("GET", "/anything")
    assert server.rejected > 0
    assert d.metrics.rate_limited == server.rejected
    assert d.metrics.retries == server.rejected


def test_remaining_zero_from_the_server_makes_the_next_request_wait(server: LocalServer, client: Client) -> None:
    """Another process spends most of the allowance: the server's Used/Remaining say so."""
    server.limit, server.window = 10, 1.0
    d = client(rate_limit=(10, 1.0), max_retries=0)
    d.request("GET", "/a")
    d.request("GET", "/b")
    server.add_phantoms(7)  # the window is now at 9 of 10
    d.request("GET", "/c")  # admitted as the 10th: Remaining: 0
    state = d.rate_limit
    assert (state.limit, state.used, state.remaining) == (10, 10, 0)
    assert state.local_in_window == 10  # the 7 phantoms were added locally
    waited_before = d.metrics.limiter_wait_seconds
    d.request("GET", "/d")  # would be a 429 without the correction
    assert server.rejected == 0
    assert d.metrics.limiter_wait_seconds > waited_before


def test_server_counting_more_than_us_is_folded_in_before_zero(server: LocalServer, client: Client) -> None:
    server.limit, server.window = 10, 1.0
    d = client(rate_limit=(10, 1.0), max_retries=0)
    server.add_phantoms(4)
    d.request("GET", "/a")
    assert d.rate_limit.local_in_window == 5
    for _ in range(10):
        d.request("GET", "/b")
    assert server.rejected == 0


def test_a_smaller_server_limit_shrinks_the_local_one(server: LocalServer, client: Client) -> None:
    """Asked for 60 (a token) but granted 25: the header wins, and the log already kept is kept."""
    server.limit, server.window = 25, 60.0
    d = client()  # the default, sized by auth: a token means 60 per minute
    d2 = Discogs(base_url=server.url, token=TOKEN)
    assert d2.rate_limit.local_limit == 60 and d2.rate_limit.window == 60
    d2.request("GET", "/a")
    state = d2.rate_limit
    assert state.local_limit == 25 and state.limit == 25 and state.local_in_window == 1
    assert d.rate_limit.local_limit is None  # limiting off: the state still shows the server's view
    d.request("GET", "/b")
    assert d.rate_limit.remaining == 23


def test_shrunk_limit_is_enforced(server: LocalServer, client: Client) -> None:
    server.limit, server.window = 6, 1.0
    d = client(rate_limit=(12, 1.0), max_retries=0)
    for _ in range(14):
        d.request("GET", "/x")
    assert server.rejected == 0
    assert d.rate_limit.local_limit == 6


def test_a_larger_server_limit_does_not_grow_the_local_one(server: LocalServer, client: Client) -> None:
    server.limit, server.window = 60, 1.0
    d = client(rate_limit=(5, 1.0))
    d.request("GET", "/x")
    assert d.rate_limit.local_limit == 5
    assert d.rate_limit.remaining == 59


def test_a_bare_429_costs_one_slot_not_a_window(server: LocalServer, client: Client) -> None:
    """Issue 9 item 5: a single 429 must not empty a whole window of throughput."""
    server.fail("429")  # no rate-limit headers at all, no Retry-After: like a proxy in front
    d = client(rate_limit=(4, 2.0), max_retries=2)
    started = time.monotonic()
    assert d.request("GET", "/x")["ok"] is True
    assert d.metrics.rate_limited == 1 and d.metrics.retries == 1
    assert d.rate_limit.local_in_window == 3  # the two requests and one slot for what the server saw
    d.request("GET", "/x")  # the fourth slot is still free
    assert time.monotonic() - started < 1.5  # the old rule filled the bucket: a 2 s wait here


def test_default_sizes_follow_authentication(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Discogs(base_url=server.url).rate_limit.local_limit == 25
    assert Discogs(base_url=server.url, token=TOKEN).rate_limit.local_limit == 60
    assert Discogs(base_url=server.url, consumer_key="k", consumer_secret="s").rate_limit.local_limit == 60
    off = Discogs(base_url=server.url, rate_limit=None).rate_limit
    assert off == RateLimitState(None, None, None)
    monkeypatch.setenv("DISCOGS_RATE_LIMIT", "10/2")
    state = Discogs(base_url=server.url).rate_limit
    assert (state.local_limit, state.window) == (10, 2.0)


def test_many_clients_do_not_leak_threads(server: LocalServer) -> None:
    """pyrate-limiter's Limiter starts a leaker thread per instance; the client must not use one."""

    def client_threads() -> int:  # the server's handler threads serve kept-alive connections: not ours
        return sum(1 for t in threading.enumerate() if "process_request" not in t.name)

    warm = Discogs(base_url=server.url, token=TOKEN, rate_limit=(10, 1.0))
    warm.request("GET", "/x")  # the one watchdog thread per process (deadlines) exists from the first call on
    warm.close()
    before = client_threads()
    clients = [Discogs(base_url=server.url, token=TOKEN, rate_limit=(10, 1.0)) for _ in range(50)]
    for d in clients:
        d.request("GET", "/x")
    assert client_threads() <= before  # a leak adds threads; one left by an earlier test may end meanwhile
    assert not [t for t in threading.enumerate() if "Leaker" in t.name]
    for d in clients:
        d.close()


def test_sqlite_store_shares_the_window_between_limiters(server: LocalServer, tmp_path: Path) -> None:
    server.limit, server.window = 8, 1.0
    store = f"sqlite:///{tmp_path / 'limit.db'}"
    a = Discogs(base_url=server.url, token=TOKEN, rate_limit=(8, 1.0), rate_limit_store=store, max_retries=0)
    b = Discogs(base_url=server.url, token=TOKEN, rate_limit=(8, 1.0), rate_limit_store=store, max_retries=0)
    for _ in range(3):
        a.request("GET", "/a")
    assert b.rate_limit.local_in_window == 3  # b sees a's requests
    for _ in range(10):
        a.request("GET", "/a")
        b.request("GET", "/b")
    assert server.rejected == 0
    assert server.max_in_window() <= 8


_WORKER = """
import sys
from musicagent import Discogs
d = Discogs(base_url=sys.argv[1], token="t0k3n-worker", rate_limit=(8, 1.0), rate_limit_store=sys.argv[2],
            max_retries=0)
d.rate_limit  # the store is open
print("ready", flush=True)
sys.stdin.readline()  # all start together
for _ in range(int(sys.argv[3])):
    d.request("GET", "/worker")
print(d.metrics.rate_limited)
"""


@pytest.mark.slow
def test_sqlite_store_shares_the_window_between_processes(server: LocalServer, tmp_path: Path) -> None:
    # The server counts 8 per 0.8 s while the workers keep 8 per 1 s: a request may reach the server
    # up to 0.3 s after it took its slot (a loaded 2-core machine) without looking like a breach.
    # Without the shared window the three workers' 24 requests land within a fraction of a second.
    server.limit, server.window = 8, 0.8
    store = f"sqlite:///{tmp_path / 'limit.db'}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, server.url, store, "8"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "0"
    assert server.count() == 24
    assert server.rejected == 0
    assert server.max_in_window() <= 8


@pytest.mark.redis
def test_redis_store_shares_the_window(server: LocalServer, redis_store: str) -> None:
    server.limit, server.window = 8, 1.0
    clients = [
        Discogs(base_url=server.url, token=TOKEN, rate_limit=(8, 1.0), rate_limit_store=redis_store, max_retries=0)
        for _ in range(3)
    ]
    clients[0].request("GET", "/r")
    assert clients[1].rate_limit.local_in_window == 1  # one log for every client (machine)

    turn = iter(clients * 2)
    lock = threading.Lock()

    def work() -> None:
        with lock:
            d = next(turn)
        for _ in range(6):
            d.request("GET", "/r")

    _run_threads(6, work)
    assert server.count() == 37
    assert server.rejected == 0
    assert server.max_in_window() <= 8


@pytest.mark.redis
def test_redis_counts_entries_logged_by_a_client_with_a_later_clock(redis_store: str) -> None:
    """A client whose clock reading is stale must still see what the others logged just after it."""
    fresh = RateLimiter(2, 5.0, redis_store)
    stale = RateLimiter(2, 5.0, redis_store)
    now = stale._bucket.now()  # type: ignore[no-untyped-call]
    stale._bucket.now = lambda: now - 20  # type: ignore[method-assign]
    assert fresh.acquire(timeout=0) is not None
    assert fresh.acquire(timeout=0) is not None
    assert stale.acquire(timeout=0) is None  # the stock script would have admitted a third


@pytest.mark.redis
def test_redis_failure_is_a_musicagent_error(server: LocalServer, redis_store: str) -> None:
    import redis

    limiter = RateLimiter(5, 1.0, redis_store)
    limiter._bucket.redis = redis.Redis(port=1, socket_connect_timeout=1)  # type: ignore[attr-defined]
    with pytest.raises(RateLimitStoreError, match=r"rate-limit store redis://.* failed"):
        limiter.acquire()


def test_unreachable_redis_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="cannot reach the rate-limit store"):
        RateLimiter(5, 1.0, "redis://:hunter2hunter2@127.0.0.1:1/0")
    try:
        RateLimiter(5, 1.0, "redis://:hunter2hunter2@127.0.0.1:1/0")
    except ConfigurationError as exc:
        assert "hunter2hunter2" not in str(exc)


def test_store_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="invalid rate_limit_store: must be memory"):
        RateLimiter(5, 1.0, "memcached://x")
    with pytest.raises(ConfigurationError, match="cannot open"):
        RateLimiter(5, 1.0, f"sqlite:///{tmp_path}")  # a directory, not a database file
    limiter = RateLimiter(5, 1.0, f"sqlite:///{tmp_path / 'x.db'}")
    assert "sqlite" in repr(limiter)
    limiter.close()
    with pytest.raises(RateLimitStoreError):
        limiter.acquire()
    assert RateLimiter(2, 1.0, "memory://").acquire() is not None


def test_acquire_gives_up_at_once_when_the_wait_exceeds_the_timeout() -> None:
    limiter = RateLimiter(2, 30.0)
    assert limiter.acquire(timeout=0) is not None
    assert limiter.acquire(timeout=0) is not None
    assert limiter.acquire(timeout=5) is None  # the wait is ~30 s: no point sleeping 5
    assert limiter.state().local_in_window == 2


def test_observe_ignores_responses_without_figures() -> None:
    limiter = RateLimiter(5, 1.0)
    limiter.observe({})
    assert limiter.state().updated_at is None
    limiter.observe({"X-Discogs-Ratelimit-Used": "3"})  # used without remaining
    assert limiter.state().local_in_window == 3
    limiter.observe({"X-Discogs-Ratelimit": "5"})  # a limit alone changes nothing
    assert limiter.state().local_in_window == 3


def test_parse_rate_headers() -> None:
    assert parse_rate_headers({}) == (None, None, None)
    assert parse_rate_headers(
        {"X-Discogs-Ratelimit": "60", "X-Discogs-Ratelimit-Used": "x", "X-Discogs-Ratelimit-Remaining": "59"}
    ) == (60, None, 59)


def test_margin_bounds() -> None:
    assert _margin(1.0) == 0.1
    assert _margin(60.0) == pytest.approx(0.6)
    assert _margin(3600.0) == 1.0


def test_one_thread_at_a_time_waits_on_the_bucket() -> None:
    """Waiters queue on a lock, so a freed slot wakes one thread, and a timeout covers the queueing."""
    limiter = RateLimiter(1, 0.4)
    assert limiter.acquire() is not None
    waiter = threading.Thread(target=limiter.acquire)
    waiter.start()
    time.sleep(0.05)  # the waiter now holds the turn, sleeping until the slot frees
    assert limiter.acquire(timeout=0.05) is None
    waiter.join(5)
    assert limiter.state().local_in_window == 1


def test_a_429_with_retry_after_and_remaining_zero_waits_retry_after_not_a_window(
    server: LocalServer, client: Client
) -> None:
    """Issue 15: the server's Retry-After is the wait, even when its figures also say 0 remaining."""
    answers = iter([(429, {"Retry-After": "1", "X-Discogs-Ratelimit": "60", "X-Discogs-Ratelimit-Remaining": "0"})])

    def route(seen: object) -> tuple[int, dict[str, str], bytes]:
        status, headers = next(answers, (200, {}))
        return status, {"Content-Type": "application/json", **headers}, b'{"ok": true}'

    server.routes["/x"] = route
    d = client(rate_limit=(5, 30.0), max_retries=3, deadline=8)
    started = time.monotonic()
    assert d.request("GET", "/x")["ok"] is True
    assert d.metrics.rate_limited == 1
    d.request("GET", "/x")  # and the window still has room
    assert time.monotonic() - started < 5  # filling the local window would have waited 30 s (deadline: 8)


def test_a_429_with_retry_after_or_figures_does_not_fill_the_window() -> None:
    from musicagent._runtime.ratelimit import RateLimiter

    limiter = RateLimiter(10, 60.0)
    limiter.observe({"Retry-After": "1"}, rejected=True)
    assert limiter.state().local_in_window == 0  # the retry waits one second, not a minute
    limiter.observe({"X-Discogs-Ratelimit": "10", "X-Discogs-Ratelimit-Remaining": "7"}, rejected=True)
    assert limiter.state().local_in_window == 3  # the server's own count
    limiter.observe({}, rejected=True)
    assert limiter.state().local_in_window == 4  # a bare 429: one more than counted, not the whole window


@pytest.mark.parametrize("threads", [1, 8, 32, 64])
def test_many_threads_draw_no_429(server: LocalServer, client: Client, threads: int) -> None:
    """Issue 9 item 5: 32 threads against 20 requests per 2 s drew 429s in 6 of 8 runs (2 cores)."""
    server.limit, server.window = 20, 2.0
    d = client(rate_limit=(20, 2.0), max_retries=0, timeout=30)
    total = 64 if threads > 1 else 45
    left = iter(range(total))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            d.request("GET", "/anything")

    _run_threads(threads, work)
    assert server.rejected == 0
    assert server.count() == total
    assert server.max_in_window() <= 20


def test_a_late_answer_holds_its_slot_a_window_past_the_answer() -> None:
    """The server may have counted a late request from when it arrived: its slot is not reused before."""
    limiter = RateLimiter(1, 0.3)  # a local window of 0.4 s (0.3 s and the 0.1 s margin)
    taken = time.monotonic()
    assert limiter.acquire() is not None
    time.sleep(0.25)  # the answer comes late: more than half the margin after the slot was taken
    limiter.settle()
    answered = time.monotonic()
    assert limiter.acquire(timeout=5) is not None
    assert time.monotonic() - answered >= 0.35  # held until a window after the answer ...
    assert time.monotonic() - taken >= 0.55  # ... not reused when the bucket frees it (0.4 s after taking)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("store", ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_refused_connection_takes_no_slot(
    server: LocalServer, tmp_path: Path, request: pytest.FixtureRequest, flavor: str, store: str
) -> None:
    """A request whose connection was refused never reached Discogs: its slot is given back.

    Without that, a host that refuses connections drains the window with retries: here the third
    of four attempts would wait 5 s for a slot, and the live server after it would wait again.
    """
    url = {
        "memory": "memory://",
        "sqlite": f"sqlite:///{tmp_path / 'limit.db'}",
        "redis": request.getfixturevalue("redis_store") if store == "redis" else "",
    }[store]
    refused = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    d = make_client(flavor, base_url=refused, token=TOKEN, rate_limit=(2, 5.0), rate_limit_store=url, max_retries=3)
    try:
        started = time.monotonic()
        with pytest.raises(APIConnectionError, match="could not connect"):
            d.artists.get(1)
        assert time.monotonic() - started < 2.5  # no wait for the window
        assert d.rate_limit.local_in_window == 0
        d.request("GET", server.url + "/elsewhere")  # a request that was sent keeps its slot
        assert d.rate_limit.local_in_window == 1
    finally:
        d.close()

"""AsyncDiscogs against raw aiohttp + json.loads and discogs-sdk's AsyncDiscogs, on the loopback server.

``python benchmarks/async_calls.py MODE --base-url http://127.0.0.1:PORT`` prints one JSON line.

Modes:

* ``cpu``: client CPU (``time.process_time()``, this process only: the server runs in another one)
  per sequential ``await releases.get`` and per walk of 1,000 list items (100 per page), for
  musicagent and raw aiohttp + ``json.loads``, interleaved in rounds in this one process so both see
  the same machine load; the ratio is taken per round, and the median reported. Two rows decompose
  the figure: raw aiohttp decoding into musicagent's models, and musicagent with the lever of the
  shared attempt timer off (an ``asyncio.timeout`` per attempt).
* ``concurrent --client C``: the wall time of ``--concurrent`` (1,000) ``releases.get`` started at once
  with ``asyncio.gather`` (musicagent with ``rate_limit=None``; the peers have no local limiter that
  would wait), for ``raw``, ``musicagent`` or ``discogs-sdk``; one client per process.
* ``limiter``: what one slot of the async limiter costs: the in-memory bucket run in the event loop,
  and the SQLite and Redis stores run in a worker thread (``asyncio.to_thread``), against the same
  Redis round trip made with ``redis.asyncio`` directly (the alternative that was not chosen).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

TOKEN = "benchmarktoken0123456789"
USER_AGENT = "musicagent-benchmarks/1.0 +https://example.org/musicagent"
PER_PAGE = 100
HEADERS = {"User-Agent": USER_AGENT, "Authorization": f"Discogs token={TOKEN}", "Accept": "application/json"}

Op = Callable[[], Awaitable[object]]


def _raw_fetchers(base: str, release_id: int, artist_id: int) -> tuple[Any, Callable[[], Any], Callable[[int], Any]]:
    """A session, and the bodies of the release and of page N of the artist's releases as raw aiohttp reads them."""
    import aiohttp

    session = aiohttp.ClientSession()
    release_url = f"{base}/releases/{release_id}"
    list_url = f"{base}/artists/{artist_id}/releases"

    async def release() -> bytes:
        async with session.get(release_url, headers=HEADERS) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            return await response.read()

    async def page(number: int) -> bytes:
        params = {"page": str(number), "per_page": str(PER_PAGE)}
        async with session.get(list_url, params=params, headers=HEADERS) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            return await response.read()

    return session, release, page


async def raw_ops(base: str, release_id: int, artist_id: int, items: int) -> tuple[dict[str, Op], Any]:
    session, fetch_release, fetch_page = _raw_fetchers(base, release_id, artist_id)

    async def release() -> object:
        return json.loads(await fetch_release())["title"]

    async def listing() -> object:
        seen, page = 0, 1
        while True:
            body = json.loads(await fetch_page(page))
            for item in body["releases"]:
                _ = item["title"]
                seen += 1
                if seen >= items:
                    return seen
            if page >= body["pagination"]["pages"]:
                return seen
            page += 1

    return {"release": release, "list": listing}, session.close


async def raw_validated_ops(base: str, release_id: int, artist_id: int, items: int) -> tuple[dict[str, Op], Any]:
    """Raw aiohttp as above, decoding with musicagent's models instead of ``json.loads``.

    Not a client anyone would write: it puts a number on validation inside a real exchange (between
    socket reads and aiohttp's work), which costs more there than the same validation timed alone.
    """
    from musicagent.models import ArtistReleasesPage, Release

    session, fetch_release, fetch_page = _raw_fetchers(base, release_id, artist_id)

    async def release() -> object:
        return Release.model_validate_json(await fetch_release()).title

    async def listing() -> object:
        seen, page = 0, 1
        while True:
            body = ArtistReleasesPage.model_validate_json(await fetch_page(page))
            for item in body.releases:
                _ = item.title
                seen += 1
                if seen >= items:
                    return seen
            if page >= (body.pagination.pages or 0):
                return seen
            page += 1

    return {"release": release, "list": listing}, session.close


async def musicagent_ops(base: str, release_id: int, artist_id: int, items: int) -> tuple[dict[str, Op], Any]:
    from musicagent import AsyncDiscogs

    client = AsyncDiscogs(token=TOKEN, user_agent=USER_AGENT, base_url=base, rate_limit=None)

    async def release() -> object:
        return (await client.releases.get(release_id)).title

    async def listing() -> object:
        seen = 0
        async for item in client.artists.releases(artist_id, per_page=PER_PAGE, limit=items):
            _ = item.title
            seen += 1
        return seen

    return {"release": release, "list": listing}, client.aclose


async def discogs_sdk_ops(base: str, release_id: int, artist_id: int, items: int) -> tuple[dict[str, Op], Any]:
    from discogs_sdk import AsyncDiscogs

    client = AsyncDiscogs(token=TOKEN, user_agent=USER_AGENT, base_url=base)

    async def release() -> object:
        return (await client.releases.get(release_id)).title

    return {"release": release}, client.close


class _TimerPerAttempt:
    """The lever off: an attempt bounded by an ``asyncio.timeout`` of its own, as before the shared timer.

    ``asyncio.Timeout``'s enter and exit never suspend, so they are driven here from a plain ``with``.
    """

    def __init__(self, seconds: float) -> None:
        self._timeout = asyncio.timeout(seconds)

    def __enter__(self) -> asyncio.Timeout:
        _drive(self._timeout.__aenter__())
        return self._timeout

    def __exit__(self, *exc: Any) -> None:
        _drive(self._timeout.__aexit__(*exc))


def _drive(step: Any) -> None:
    try:
        step.send(None)
    except StopIteration:
        return
    raise RuntimeError("asyncio.Timeout suspended")


async def timer_per_attempt_ops(base: str, release_id: int, artist_id: int, items: int) -> tuple[dict[str, Op], Any]:
    from musicagent._runtime import async_transport

    ops, close = await musicagent_ops(base, release_id, artist_id, items)

    def patched(op: Op) -> Op:
        async def run() -> object:
            saved = async_transport._Bounds.bound
            async_transport._Bounds.bound = lambda self, seconds: _TimerPerAttempt(seconds)  # type: ignore[assignment,method-assign,return-value]
            try:
                return await op()
            finally:
                async_transport._Bounds.bound = saved  # type: ignore[method-assign]

        return run

    return {name: patched(op) for name, op in ops.items()}, close


CLIENTS = {
    "raw": raw_ops,
    "raw with musicagent's models": raw_validated_ops,
    "musicagent": musicagent_ops,
    "musicagent with a timer per attempt": timer_per_attempt_ops,
    "discogs-sdk": discogs_sdk_ops,
}
CPU_CLIENTS = ["raw", "raw with musicagent's models", "musicagent", "musicagent with a timer per attempt"]


async def _cpu(op: Op, count: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(count):
        await op()
    return (time.process_time() - start) / count


async def cpu_mode(args: argparse.Namespace) -> dict[str, Any]:
    made = {
        name: await CLIENTS[name](args.base_url, args.release_id, args.artist_id, args.items) for name in CPU_CLIENTS
    }
    result: dict[str, Any] = {}
    for scenario, count in (("release", args.calls), ("list", args.walks)):
        for ops, _ in made.values():
            for _ in range(max(2, count // 10)):  # warm up: connections, imports, caches
                await ops[scenario]()
        per_round: dict[str, list[float]] = {name: [] for name in made}
        for _ in range(args.rounds):
            for name, (ops, _) in made.items():
                per_round[name].append(await _cpu(ops[scenario], count))
        clients = {}
        for name, cpus in per_round.items():
            ratios = [c / r for c, r in zip(cpus, per_round["raw"], strict=True)]
            clients[name] = {"cpu": statistics.median(cpus), "ratio": statistics.median(ratios), "ratios": ratios}
        result[scenario] = {
            "raw": clients["raw"]["cpu"],
            "musicagent": clients["musicagent"]["cpu"],
            "ratio": clients["musicagent"]["ratio"],
            "ratios": clients["musicagent"]["ratios"],
            "clients": clients,
            "ops_per_round": count,
        }
    for _, close in made.values():
        await close()
    return result


async def concurrent_mode(args: argparse.Namespace) -> dict[str, Any]:
    ops, close = await CLIENTS[args.client](args.base_url, args.release_id, args.artist_id, args.items)
    release = ops["release"]
    await asyncio.gather(*(release() for _ in range(50)))  # warm: imports, the connection pool
    walls, cpus = [], []
    for _ in range(args.rounds):
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        titles = await asyncio.gather(*(release() for _ in range(args.concurrent)))
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        assert len(titles) == args.concurrent and all(titles)
    await close()
    return {
        "client": args.client,
        "calls": args.concurrent,
        "wall": statistics.median(walls),
        "walls": walls,
        "cpu": statistics.median(cpus),
    }


def _redis_server() -> tuple[str, subprocess.Popen[bytes]] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"redis://127.0.0.1:{port}/0", proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    return None


async def limiter_mode(args: argparse.Namespace) -> dict[str, Any]:
    from musicagent._runtime.async_ratelimit import AsyncLimiterWait
    from musicagent._runtime.ratelimit import RateLimiter

    count = args.slots
    result: dict[str, Any] = {}

    async def per_slot(store: str | None) -> dict[str, float]:
        wait = AsyncLimiterWait(RateLimiter(10 * count, 3600.0, store))  # never full: measures the bookkeeping
        await wait.acquire()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(count):
            await wait.acquire()
        out = {
            "wall_us": (time.perf_counter() - wall0) / count * 1e6,
            "cpu_us": (time.process_time() - cpu0) / count * 1e6,
        }
        wait.limiter.close()
        return out

    result["memory (in the loop)"] = await per_slot(None)
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite (worker thread)"] = await per_slot(f"sqlite:///{os.path.join(tmp, 'limit.db')}")
    redis = _redis_server()
    if redis is not None:
        url, proc = redis
        try:
            result["redis (worker thread)"] = await per_slot(url)
            import redis.asyncio as aredis

            from musicagent._runtime.ratelimit import _redis_script

            client = aredis.Redis.from_url(url)
            sha = await client.script_load(_redis_script())
            key = "bench:direct"
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(count):
                now = int(time.time() * 1000)
                await client.evalsha(sha, 1, key, now, 1, "x", 1, now - 3_600_000, 10 * count, -1)
            result["redis.asyncio round trip (not used)"] = {
                "wall_us": (time.perf_counter() - wall0) / count * 1e6,
                "cpu_us": (time.process_time() - cpu0) / count * 1e6,
            }
            await client.aclose()
        finally:
            proc.terminate()
            proc.wait(10)
    return {"slots": count, "stores": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=["cpu", "concurrent", "limiter"])
    parser.add_argument("--base-url", default="")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="musicagent")
    parser.add_argument("--release-id", type=int, default=16004480)
    parser.add_argument("--artist-id", type=int, default=108713)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=500, help="sequential releases.get per round")
    parser.add_argument("--walks", type=int, default=5, help="1,000-item walks per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=2000)
    args = parser.parse_args()
    mode = {"cpu": cpu_mode, "concurrent": concurrent_mode, "limiter": limiter_mode}[args.mode]
    print(json.dumps(asyncio.run(mode(args))))


if __name__ == "__main__":
    sys.exit(main())

"""Response-cache benchmark: requests a crawl saves, and what a cache hit costs in CPU.

Against ``benchmarks/_server.py`` (its own process, real release body, a request counter):

* **crawl**: 1,000 ``releases.get`` calls over 500 distinct URLs, each asked twice in a shuffled
  order (50% repeats), for each store; the server's own counter says how many requests reached it
  (goal: 500), with the wall time of the crawl;
* **hit CPU**: process CPU per ``releases.get`` served from each store (median of repeats), next to
  the CPU of decoding the same body alone (``Release.model_validate_json``), so the cache's own
  share shows; goal: a hit well under 1 ms.

    python benchmarks/cache.py                 # prints a JSON object
    python benchmarks/cache.py --redis redis://127.0.0.1:6379/15   # adds Redis (the db is flushed)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from musicagent import Discogs
from musicagent.models import Release

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token-0123456789"


def start_server(realdata: Path) -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_server.py"), "--realdata", str(realdata), "--max-seconds", "900"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"the benchmark server did not start: {line!r}")
    _, base_url, info = line.split(" ", 2)
    return proc, base_url, int(json.loads(info)["release_id"])


def served(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/_count") as answer:
        return int(json.loads(answer.read())["requests"])


def crawl(base_url: str, release_id: int, cache: str, calls: int) -> dict[str, Any]:
    """``calls`` requests, half of them repeats, in a shuffled order."""
    distinct = calls // 2
    order = [n % distinct for n in range(calls)]
    random.Random(7).shuffle(order)
    client = Discogs(token=TOKEN, base_url=base_url, rate_limit=None, cache=cache)
    before = served(base_url)
    started = time.perf_counter()
    for n in order:
        client.releases.get(release_id, extra_query={"crawl": n})  # one URL per n
    elapsed = time.perf_counter() - started
    metrics = client.metrics
    client.close()
    return {
        "calls": calls,
        "distinct": distinct,
        "server_requests": served(base_url) - before,
        "hits": metrics.cache_hits,
        "seconds": elapsed,
    }


def hit_cpu(base_url: str, release_id: int, cache: str, hits: int, repeats: int) -> float:
    """Median process CPU seconds per ``releases.get`` answered by the cache."""
    client = Discogs(token=TOKEN, base_url=base_url, rate_limit=None, cache=cache)
    client.releases.get(release_id)  # the one miss
    results = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(hits):
            client.releases.get(release_id)
        results.append((time.process_time() - started) / hits)
    assert client.metrics.requests == 1, "every call after the first must be a hit"
    client.close()
    return statistics.median(results)


def decode_cpu(base_url: str, release_id: int, hits: int, repeats: int) -> tuple[float, int]:
    """Median CPU seconds of decoding the release body alone (what any answer costs), and its size."""
    with urllib.request.urlopen(f"{base_url}/releases/{release_id}") as answer:
        body = answer.read()
    results = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(hits):
            Release.model_validate_json(body)
        results.append((time.process_time() - started) / hits)
    return statistics.median(results), len(body)


def redis_url(explicit: str | None) -> tuple[str | None, subprocess.Popen[bytes] | None]:
    """The given Redis, or a private redis-server on a free port when one is installed."""
    if explicit:
        return explicit, None
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"redis://127.0.0.1:{port}/0", proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--realdata", type=Path, default=HERE.parent.parent / "shared" / "realdata")
    parser.add_argument("--calls", type=int, default=1000, help="requests in the crawl (half repeats)")
    parser.add_argument("--hits", type=int, default=2000, help="hits per CPU repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--redis", help="a Redis URL to use (its db is flushed); default: a private redis-server")
    args = parser.parse_args()

    server, base_url, release_id = start_server(args.realdata)
    redis, redis_proc = redis_url(args.redis)
    tmp = Path(tempfile.mkdtemp(prefix="musicagent-cache-bench-"))
    try:
        stores = {"memory": "memory", "sqlite": f"sqlite:///{tmp}/cache.db"}
        if redis:
            import redis as redis_lib

            redis_lib.Redis.from_url(redis).flushdb()
            stores["redis"] = redis
        result: dict[str, Any] = {"calls": args.calls, "hits": args.hits, "repeats": args.repeats, "stores": {}}
        result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result["load"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        result["decode_cpu"], result["body_bytes"] = decode_cpu(base_url, release_id, args.hits, args.repeats)
        for name, url in stores.items():
            print(f"[cache bench] {name}", file=sys.stderr, flush=True)
            row = crawl(base_url, release_id, url, args.calls)
            row["hit_cpu"] = hit_cpu(base_url, release_id, url, args.hits, args.repeats)
            result["stores"][name] = row
        none = crawl(base_url, release_id, "off", args.calls)
        result["no_cache"] = none
        print(json.dumps(result))  # one line: the runner reads the last line
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(10)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

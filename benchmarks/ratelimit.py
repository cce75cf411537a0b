"""Rate-limit benchmark: how much of the allowance musicagent uses, and how many 429s it draws.

A local server admits L requests per moving window of W seconds (as Discogs does, 429 beyond it).
The client sends N requests from 1 and from 8 threads. The fastest any client can finish without a
429 is (ceil(N/L) - 1) * W seconds (a burst of L, then L more each time the window slides); the
achieved fraction of the allowed rate is that ideal divided by the time from the first to the last
request the server admitted. Target: >= 0.95 with 0 429s.

    python benchmarks/ratelimit.py                      # 30 per 3 s, N=90, 1 and 8 threads
    python benchmarks/ratelimit.py --limit 10 --window 1 --requests 50 --threads 1 8 16
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from musicagent import Discogs

TARGET = 0.95


class _State:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.lock = threading.Lock()
        self.window_log: deque[float] = deque()
        self.admitted: list[float] = []
        self.rejected = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        with state.lock:
            now = time.monotonic()
            while state.window_log and now - state.window_log[0] >= state.window:
                state.window_log.popleft()
            allowed = len(state.window_log) < state.limit
            if allowed:
                state.window_log.append(now)
                state.admitted.append(now)
            else:
                state.rejected += 1
            used = len(state.window_log)
        status = 200 if allowed else 429
        body = json.dumps({"ok": True} if allowed else {"message": "You are making requests too quickly."}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Discogs-Ratelimit", str(state.limit))
        self.send_header("X-Discogs-Ratelimit-Used", str(used))
        self.send_header("X-Discogs-Ratelimit-Remaining", str(max(0, state.limit - used)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops SYNs from 16 threads: a 1 s retransmit
    state: _State


@dataclass
class Result:
    threads: int
    requests: int
    elapsed: float
    ideal: float
    rejected: int
    max_in_window: int
    slack: float
    limiter_wait: float

    @property
    def fraction(self) -> float:
        return self.ideal / self.elapsed if self.elapsed > 0 else 1.0


def _max_in_window(times: list[float], window: float) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _slack(times: list[float], limit: int, window: float) -> float:
    """The closest request L+1 came to falling inside request 1's window (ms above W; > 0 is safe)."""
    gaps = [times[i + limit] - times[i] for i in range(len(times) - limit)]
    return (min(gaps) - window) * 1000 if gaps else math.inf


def run(limit: int, window: float, requests: int, threads: int) -> Result:
    """One measurement against a fresh server and a fresh client (empty windows on both sides)."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = _State(limit, window)
    serving = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    client = Discogs(
        base_url=f"http://127.0.0.1:{httpd.server_address[1]}",
        token="benchmark-token",
        rate_limit=(limit, window),
        max_retries=10,
    )
    todo = iter(range(requests))
    todo_lock = threading.Lock()

    def work() -> None:
        while True:
            with todo_lock:
                if next(todo, None) is None:
                    return
            client.request("GET", "/bench")

    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        httpd.shutdown()
        httpd.server_close()
        client.close()
    times = sorted(httpd.state.admitted)
    return Result(
        threads=threads,
        requests=requests,
        elapsed=times[-1] - times[0],
        ideal=(math.ceil(requests / limit) - 1) * window,
        rejected=httpd.state.rejected,
        max_in_window=_max_in_window(times, window),
        slack=_slack(times, limit, window),
        limiter_wait=client.metrics.limiter_wait_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=30, help="requests allowed per window (L)")
    parser.add_argument("--window", type=float, default=3.0, help="window in seconds (W)")
    parser.add_argument("--requests", type=int, default=90, help="requests to send (N > L)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    if args.requests <= args.limit:
        parser.error("--requests must exceed --limit, or the limiter is never exercised")
    print(f"rate limit: {args.limit} requests per {args.window:g} s moving window, N={args.requests}")
    print(
        f"{'threads':>7} {'elapsed s':>9} {'ideal s':>7} {'fraction':>8} {'429s':>4} {'max/window':>10} "
        f"{'slack ms':>8} {'waited s':>8}"
    )
    ok = True
    for threads in args.threads:
        r = run(args.limit, args.window, args.requests, threads)
        print(
            f"{r.threads:>7} {r.elapsed:>9.2f} {r.ideal:>7.2f} {r.fraction:>8.3f} {r.rejected:>4} "
            f"{r.max_in_window:>10} {r.slack:>8.1f} {r.limiter_wait:>8.1f}"
        )
        ok = ok and r.fraction >= TARGET and r.rejected == 0 and r.max_in_window <= args.limit
    print(f"target: fraction >= {TARGET} and 0 429s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Beyond the basics: page control, raw responses, rate-limit state, metrics, per-call options,
logging, threads, the escape hatch for any endpoint, and exporting to CSV and JSON Lines.

Usage: python examples/advanced_usage.py [OUTPUT_DIR]   (files go to a temporary directory by default)
"""

from __future__ import annotations

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _offline import USER_AGENT, run

import musicagent
from musicagent import Discogs
from musicagent.export import to_csv, to_jsonl


def pagination(discogs: Discogs) -> None:
    print("== Pagination")
    # One page at a time: ask for a page and a page size, look at the figures, move on yourself.
    page = discogs.masters.versions(33687, page=2, per_page=4)
    info = page.pagination
    print(f"master 33687 versions: page {info.page} of {info.pages}, {len(page.items)} items here, {info.items} in all")
    # Or walk pages lazily: iter_pages() fetches the next one only when you get there.
    for number, each in enumerate(discogs.artists.releases(1, per_page=50).iter_pages(), start=1):
        print(f"artist 1, page {number}: {len(each.items)} releases (has next: {each.has_next_page()})")


def raw_response_and_rate_limit(discogs: Discogs) -> None:
    print("\n== Raw response, rate limit")
    discogs.artists.get(108713, timeout=5.0, max_retries=1)  # per-call timeout and retries
    raw = discogs.last_response  # the HTTP side of this thread's last call
    assert raw is not None
    print(f"GET {raw.url} -> {raw.status} in {raw.elapsed * 1000:.1f} ms, attempt {raw.attempts}")
    for name in ("Content-Type", "X-Discogs-Ratelimit", "X-Discogs-Ratelimit-Used", "X-Discogs-Ratelimit-Remaining"):
        print(f"  {name}: {raw.headers.get(name)}")
    state = discogs.rate_limit
    print(
        f"server: {state.used}/{state.limit} used, {state.remaining} remaining; "
        f"local limiter: {state.local_in_window} of {state.local_limit} per {state.window:g}s"
    )


def logging_demo(discogs: Discogs) -> None:
    print("\n== Logging (silent until enabled; tokens are masked)")
    lines: list[str] = []
    musicagent.enable_logging("INFO", console=False, sink=lines.append)
    try:
        discogs.labels.get(1)
    finally:
        musicagent.disable_logging()
    for line in lines:
        print("  log: " + line.strip()[:140])


def threads_and_escape_hatch(discogs: Discogs) -> None:
    print("\n== Threads share one client (and its rate limiter)")
    ids = [1, 40522, 1080, 8138518]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for release in pool.map(discogs.releases.get, ids):
            print(f"  release {release.id}: {release.title}")
    # Any endpoint, even one newer than this SDK, with the same limiter, retries and errors:
    body = discogs.request("GET", "/releases/9491/stats")
    print(f"escape hatch: GET /releases/9491/stats -> {body}")


def export(discogs: Discogs, out: Path) -> None:
    print(f"\n== Export to {out}")
    csv_path, jsonl_path = out / "planet-e.csv", out / "nickelback.jsonl"
    # Pages are fetched while the file is written: memory stays flat for any number of items.
    rows = to_csv(
        discogs.labels.releases(1, limit=25),
        csv_path,
        columns=["id", "artist", "title", "catno", "year"],
        progress=lambda n: print(f"  ... {n} rows"),
    )
    lines = to_jsonl(discogs.artists.releases(108713, limit=20), jsonl_path)
    print(f"wrote {rows} rows to {csv_path.name} and {lines} lines to {jsonl_path.name}")
    print("  " + "\n  ".join(csv_path.read_text(encoding="utf-8").splitlines()[:3]))


def metrics(discogs: Discogs) -> None:
    m = discogs.metrics
    p50 = f"{m.latency_p50 * 1000:.1f} ms" if m.latency_p50 is not None else "-"
    print(
        f"\n== Metrics: {m.requests} requests, {m.retries} retries, {m.rate_limited} rate-limited, "
        f"statuses {m.statuses}, p50 {p50}, limiter waits {m.limiter_wait_seconds:.2f}s"
    )


def main(argv: list[str]) -> int:
    discogs = Discogs(user_agent=USER_AGENT, timeout=20.0, max_retries=3)  # client-wide defaults
    with discogs, tempfile.TemporaryDirectory() as tmp:
        out = Path(argv[0]) if argv else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        pagination(discogs)
        raw_response_and_rate_limit(discogs)
        logging_demo(discogs)
        threads_and_escape_hatch(discogs)
        export(discogs, out)
        metrics(discogs)
    return 0


if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))

"""What can go wrong and how to handle it: every failure is a ``musicagent.DiscogsError``.

* ``InvalidParameterError`` - a bad argument, raised before anything is sent;
* ``NotFoundError`` (404), ``AuthenticationError`` (401), ... - the API said no, with its message;
* ``RateLimitError`` (429) - only after the client's own limiter and retries could not avoid it;
* ``APIConnectionError`` / ``APITimeoutError`` - the network.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from _offline import USER_AGENT, run

from musicagent import (
    APIConnectionError,
    AuthenticationError,
    Discogs,
    DiscogsError,
    InvalidParameterError,
    NotFoundError,
    RateLimitError,
)


def invalid_parameters(discogs: Discogs) -> None:
    print("== Invalid parameters are refused before sending")
    before = discogs.metrics.requests
    attempts: dict[str, Callable[[], object]] = {
        "artists.get(0)": lambda: discogs.artists.get(0),
        "search(type='song')": lambda: discogs.search(q="x", type="song"),  # type: ignore[arg-type]  # mypy sees it too
        "labels.releases(1, per_page=500)": lambda: discogs.labels.releases(1, per_page=500),
    }
    for label, call in attempts.items():
        try:
            call()
        except InvalidParameterError as exc:
            print(f"  {label}: {exc} (parameter {exc.parameter!r})")
    print(f"  requests sent meanwhile: {discogs.metrics.requests - before}")


def not_found(discogs: Discogs) -> None:
    print("\n== Not found")
    lookups: dict[str, Callable[[], object]] = {
        "release": lambda: discogs.releases.get(999999999),
        "artist": lambda: discogs.artists.get(999999999),
        "master": lambda: discogs.masters.get(999999999),
    }
    for label, call in lookups.items():
        try:
            call()
        except NotFoundError as exc:
            print(f"  {label}: {exc.status_code} {exc.message!r} (request id {exc.request_id})")


def authentication() -> None:
    print("\n== Authentication")
    settings = {k: v for k, v in os.environ.items() if k != "DISCOGS_TOKEN"}  # the same settings, no token
    anonymous = Discogs(user_agent=USER_AGENT, env=settings, dotenv=os.devnull)
    with anonymous:
        try:
            who = anonymous.oauth.identity()
            print(f"  unexpectedly identified as {who.username}")
        except AuthenticationError as exc:
            print(f"  without a token: {exc.status_code} {exc.message!r}")


def connection_errors() -> None:
    print("\n== Network errors")
    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    offline = Discogs(token="t", base_url=f"http://127.0.0.1:{port}", max_retries=1, env={})
    with offline:
        try:
            offline.artists.get(1)
        except APIConnectionError as exc:  # APITimeoutError is a subclass
            print(f"  {type(exc).__name__}: {exc}")


def rate_limits(discogs: Discogs) -> None:
    print("\n== Rate limits")
    raw = discogs.last_response
    if raw is None or "X-Musicagent-Mock-Cassette" not in raw.headers:
        print("  (skipped against the real API: it would spend your allowance on purpose)")
        return
    # The default client paces itself and retries 429s, so a user rarely sees one. A client without
    # its limiter and without retries shows what happens when a whole minute's allowance is spent:
    assert discogs.settings.base_url
    greedy = Discogs(token="t", base_url=discogs.settings.base_url, rate_limit=None, max_retries=0, env={})
    sent = 0
    try:
        while sent < 1000:
            greedy.artists.get(108713)
            sent += 1
    except RateLimitError as exc:
        headers = exc.headers
        print(f"  after {sent} more requests: {exc.status_code} {exc.message!r}")
        print(
            f"  X-Discogs-Ratelimit-Remaining: {headers.get('X-Discogs-Ratelimit-Remaining')}, "
            f"retry after {exc.retry_after}s"
        )
        # What to do: wait (retry_after, else the 60 s window) and try again - or let the client do it.
        wait = exc.retry_after if exc.retry_after is not None else 60.0
        print(f"  a batch job would now sleep {wait:.0f}s; this demo stops here instead")
    finally:
        greedy.close()


def main() -> int:
    discogs = Discogs(user_agent=USER_AGENT)
    with discogs:
        invalid_parameters(discogs)
        not_found(discogs)
        authentication()
        connection_errors()
        rate_limits(discogs)
    try:
        Discogs(timeout=-1)
    except DiscogsError as exc:  # ConfigurationError: bad settings fail at construction
        print(f"\n== Bad settings: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    run(main)

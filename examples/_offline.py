"""Shared by the examples: without Discogs settings, run them against the offline mock server.

With ``DISCOGS_TOKEN`` (or ``DISCOGS_BASE_URL``) in the environment or a ``.env`` file, the examples
talk to whatever those say: the real API, or a ``musicagent mock`` started elsewhere. With neither,
a fresh machine still gets a working tour instead of a network error, and is told so.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from musicagent import DiscogsError

USER_AGENT = "musicagent-examples/1.0 +https://github.com/musicagent/musicagent"


def _configured() -> bool:
    if os.environ.get("DISCOGS_TOKEN") or os.environ.get("DISCOGS_BASE_URL"):
        return True
    dotenv = Path(".env")
    return dotenv.is_file() and "DISCOGS_" in dotenv.read_text(encoding="utf-8", errors="replace")


@contextmanager
def offline_unless_configured() -> Iterator[None]:
    """Start the mock server and point this process at it, unless the user configured Discogs."""
    if _configured():
        yield
        return
    from musicagent.mock import MockServer

    with MockServer() as server:
        os.environ["DISCOGS_BASE_URL"] = server.url
        os.environ["DISCOGS_TOKEN"] = "mock-token"
        print(f"(no DISCOGS_TOKEN set: replaying recorded answers from the mock server at {server.url})\n")
        try:
            yield
        finally:
            del os.environ["DISCOGS_BASE_URL"], os.environ["DISCOGS_TOKEN"]


def run(main: Callable[[], int]) -> NoReturn:
    """Run an example's ``main`` (offline unless configured); a musicagent error is one line, exit 1."""
    with offline_unless_configured():
        try:
            code = main()
        except DiscogsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 1
    sys.exit(code)

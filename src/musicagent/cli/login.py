"""``musicagent login``: the library's OAuth 1.0a flow, printed as lines for a shell or a ``.env`` file.

The steps, their signing and the answers' parsing are :class:`musicagent.lib.oauth.OAuthFlow`'s; this
command only asks for what it needs (flags, environment, prompts on stderr) and prints the result.
Neither call is retried (the client is built with ``max_retries=0``): a retry would repeat the nonce.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TextIO

from .errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from ..lib.client import Discogs

__all__ = ["REQUIRED_OPERATIONS", "run_login"]

REQUIRED_OPERATIONS = ("oauth.request_token", "oauth.access_token")


def _ask(given: str | None, env: str, what: str, read: Callable[[str], str]) -> str:
    value = (given or os.environ.get(env, "") or read(f"{what}: ")).strip()
    if not value:
        raise UsageError(f"login needs the {what.lower()}: a flag, {env}, or an answer to the prompt")
    return value


def _prompter(stderr: TextIO, *, secret: bool) -> Callable[[str], str]:
    """Prompts go to stderr: stdout carries only the lines meant for a ``.env`` file."""

    def read(prompt: str) -> str:
        if secret:
            return getpass.getpass(prompt, stream=stderr)
        stderr.write(prompt)
        stderr.flush()
        return sys.stdin.readline()

    return read


def run_login(
    ns: argparse.Namespace,
    available: Collection[str],
    make_client: Callable[..., Discogs],
    client_options: dict[str, Any],
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Request token, authorize URL, verifier, access token; print ``DISCOGS_ACCESS_TOKEN=...`` lines."""
    if any(op not in available for op in REQUIRED_OPERATIONS):
        raise UsageError(
            "login is not available in this version (the SDK has no OAuth token operations); "
            "use a personal access token: --token or DISCOGS_TOKEN"
        )
    key = _ask(ns.consumer_key, "DISCOGS_CONSUMER_KEY", "Consumer key", _prompter(stderr, secret=False))
    secret = _ask(ns.consumer_secret, "DISCOGS_CONSUMER_SECRET", "Consumer secret", _prompter(stderr, secret=True))
    options = {k: v for k, v in client_options.items() if k not in ("token", "max_retries")}
    with make_client(consumer_key=key, consumer_secret=secret, max_retries=0, **options) as client:
        flow = client.oauth_flow(callback=ns.callback)
        request = flow.request_token()
        stderr.write(
            f"Open this page, authorize the application, then enter the verifier it shows:\n  {request.authorize_url}\n"
        )
        stderr.flush()
        verifier = _ask(ns.verifier, "DISCOGS_OAUTH_VERIFIER", "Verifier", _prompter(stderr, secret=False))
        access = flow.access_token(request, verifier)
    stdout.write(
        f"DISCOGS_CONSUMER_KEY={key}\nDISCOGS_ACCESS_TOKEN={access.token}\nDISCOGS_ACCESS_TOKEN_SECRET={access.secret}\n"
    )
    stdout.flush()
    if not ns.quiet:
        stderr.write("Logged in: put these lines in .env (with DISCOGS_CONSUMER_SECRET) or export them.\n")
    return EXIT_OK

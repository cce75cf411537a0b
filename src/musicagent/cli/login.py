"""``musicagent login``: the OAuth 1.0a flow, printed as lines for a shell or a ``.env`` file.

The generated ``oauth.request_token`` / ``oauth.access_token`` calls take no OAuth values, so each
is sent with its own ``Authorization: OAuth ...`` header (callback, then request token and verifier)
built by the runtime's signer. Neither call is retried: a retry would repeat the same nonce.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any, TextIO
from urllib.parse import urlencode

from .._runtime.auth import oauth_header
from .parser import UsageError

__all__ = ["AUTHORIZE_URL", "REQUIRED_OPERATIONS", "run_login"]

AUTHORIZE_URL = "https://www.discogs.com/oauth/authorize"
REQUIRED_OPERATIONS = ("oauth.request_token", "oauth.access_token")
_FORM = "application/x-www-form-urlencoded"


def _ask(given: str | None, env: str, what: str, read: Callable[[str], str]) -> str:
    value = (given or os.environ.get(env, "") or read(f"{what}: ")).strip()
    if not value:
        raise UsageError(f"login needs the {what.lower()}: a flag, {env}, or an answer to the prompt")
    return value


def _token_pair(answer: Mapping[str, str], step: str) -> tuple[str, str]:
    token, secret = answer.get("oauth_token"), answer.get("oauth_token_secret")
    if not token or not secret:
        raise UsageError(f"the {step} answer has no oauth_token / oauth_token_secret")
    return token, secret


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
    make_client: Callable[..., Any],
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
    client = make_client(consumer_key=key, consumer_secret=secret, max_retries=0, **options)
    with client:
        signed = oauth_header(key, secret, callback=ns.callback)
        request = client.oauth.request_token(extra_headers={"Authorization": signed, "Content-Type": _FORM})
        token, token_secret = _token_pair(request, "request token")
        url = f"{AUTHORIZE_URL}?{urlencode({'oauth_token': token})}"
        stderr.write(f"Open this page, authorize the application, then enter the verifier it shows:\n  {url}\n")
        stderr.flush()
        verifier = _ask(ns.verifier, "DISCOGS_OAUTH_VERIFIER", "Verifier", _prompter(stderr, secret=False))
        signed = oauth_header(key, secret, token=token, token_secret=token_secret, verifier=verifier)
        access = client.oauth.access_token(extra_headers={"Authorization": signed, "Content-Type": _FORM})
        access_token, access_secret = _token_pair(access, "access token")
    stdout.write(
        f"DISCOGS_CONSUMER_KEY={key}\nDISCOGS_ACCESS_TOKEN={access_token}\nDISCOGS_ACCESS_TOKEN_SECRET={access_secret}\n"
    )
    stdout.flush()
    if not ns.quiet:
        stderr.write("Logged in: put these lines in .env (with DISCOGS_CONSUMER_SECRET) or export them.\n")
    return 0

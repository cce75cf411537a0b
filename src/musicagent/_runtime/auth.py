"""Credentials and the Authorization header they produce.

Credentials only ever travel in the ``Authorization`` header (never the query string), so they
cannot leak through URLs, logs of URLs, or cassettes that record URLs. OAuth 1.0a uses the
PLAINTEXT signature that Discogs recommends over HTTPS; a fresh nonce is made for every attempt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import quote

from .log import register_secret

__all__ = ["Credentials", "oauth_header"]


def _pct(value: str) -> str:
    return quote(value, safe="~-._")


def oauth_header(
    consumer_key: str,
    consumer_secret: str,
    *,
    token: str | None = None,
    token_secret: str | None = None,
    callback: str | None = None,
    verifier: str | None = None,
) -> str:
    """An ``Authorization: OAuth ...`` value signed with PLAINTEXT."""
    import secrets  # imported here: it is slow to import and token-authenticated clients never need it

    params = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": "PLAINTEXT",
        "oauth_timestamp": str(int(time.time())),
        "oauth_version": "1.0",
        "oauth_signature": f"{_pct(consumer_secret)}&{_pct(token_secret or '')}",
    }
    if token:
        params["oauth_token"] = token
    if callback:
        params["oauth_callback"] = callback
    if verifier:
        params["oauth_verifier"] = verifier
    return "OAuth " + ", ".join(f'{k}="{_pct(v)}"' for k, v in sorted(params.items()))


@dataclass(frozen=True)
class Credentials:
    """The secrets are kept out of ``repr`` so a printed client or settings object leaks nothing."""

    token: str | None = field(default=None, repr=False)
    consumer_key: str | None = None
    consumer_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    access_token_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for value in (self.token, self.consumer_secret, self.access_token, self.access_token_secret):
            register_secret(value)

    @property
    def kind(self) -> str:
        if self.token:
            return "token"
        if self.access_token and self.consumer_key and self.consumer_secret:
            return "oauth"
        if self.consumer_key and self.consumer_secret:
            return "key_secret"
        return "none"

    def header(self) -> str | None:
        """The Authorization value for one attempt (OAuth values change per attempt)."""
        kind = self.kind
        if kind == "token":
            return f"Discogs token={self.token}"
        if kind == "oauth":
            assert self.consumer_key and self.consumer_secret
            return oauth_header(
                self.consumer_key,
                self.consumer_secret,
                token=self.access_token,
                token_secret=self.access_token_secret,
            )
        if kind == "key_secret":
            return f"Discogs key={self.consumer_key}, secret={self.consumer_secret}"
        return None

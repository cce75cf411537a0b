"""The OAuth 1.0a flow, played through: request token, authorize, access token, then signed calls.

Discogs' three steps issue tokens that depend on each other, so recordings cannot answer them: the
mock issues its own. Each client sends the protocol's values its own way (python3-discogs-client
POSTs with them in the ``Authorization`` header; disconnect GETs with ``oauth_callback`` and
``oauth_verifier`` in the query), and Discogs takes them all, so the mock reads the header, the
query and a form body. Signatures are not checked (the mock knows no consumer secret); a request
token that was not exchanged does not act as a user, and a wrong or reused verifier is a 400.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["AUTHORIZE_PATH", "Grant", "OAuthFlow", "oauth_values"]

AUTHORIZE_PATH = "/oauth/authorize"  # the website's page (www.discogs.com), served by the mock itself
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Grant:
    """An answer of the flow: status, content type and body."""

    status: int
    content_type: str
    body: bytes
    location: str | None = None


def _error(status: int, message: str) -> Grant:
    import json

    return Grant(status, "application/json", json.dumps({"message": message}).encode("utf-8"))


def oauth_values(authorization: str | None, query: Mapping[str, tuple[str, ...]], body: bytes) -> dict[str, str]:
    """Every ``oauth_*`` value the request carries: header first, then the query, then a form body."""
    values: dict[str, str] = {}
    header = (authorization or "").strip()
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "oauth":
        for part in rest.split(","):
            name, equals, value = part.strip().partition("=")
            if equals and name.startswith("oauth_"):
                values.setdefault(name, unquote(value.strip().strip('"')))
    for name, found in query.items():
        if name.startswith("oauth_") and found:
            values.setdefault(name, found[-1])
    if body and b"=" in body and not body.lstrip().startswith((b"{", b"[")):
        for name, value in parse_qsl(body.decode("utf-8", "replace")):
            if name.startswith("oauth_"):
                values.setdefault(name, value)
    return values


@dataclass
class _Request:
    secret: str
    verifier: str
    callback: str | None


class OAuthFlow:
    """The tokens one server issued, for its life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, _Request] = {}
        self._access: dict[str, str] = {}

    def request_token(self, values: Mapping[str, str]) -> Grant:
        if not values.get("oauth_consumer_key"):
            return _error(400, "Invalid consumer.")
        token, secret = "mock-request-" + secrets.token_hex(8), secrets.token_hex(16)
        callback = values.get("oauth_callback")
        with self._lock:
            self._requests[token] = _Request(secret, secrets.token_hex(5), None if callback == "oob" else callback)
        answer = {"oauth_token": token, "oauth_token_secret": secret, "oauth_callback_confirmed": "true"}
        return Grant(200, FORM, urlencode(answer).encode("ascii"))

    def authorize(self, query: Mapping[str, tuple[str, ...]]) -> Grant:
        """The user says yes at once: to the callback with the verifier, else the verifier as a form body."""
        token = (query.get("oauth_token") or ("",))[-1]
        with self._lock:
            pending = self._requests.get(token)
        if pending is None:
            return _error(400, "Invalid or expired request token.")
        answer = urlencode({"oauth_token": token, "oauth_verifier": pending.verifier})
        if pending.callback:
            parts = urlsplit(pending.callback)
            location = urlunsplit(parts._replace(query="&".join(filter(None, (parts.query, answer)))))
            return Grant(302, "text/plain", b"", location)
        return Grant(200, FORM, answer.encode("ascii"))

    def access_token(self, values: Mapping[str, str]) -> Grant:
        token = values.get("oauth_token", "")
        with self._lock:
            pending = self._requests.get(token)
            if pending is None or values.get("oauth_verifier") != pending.verifier:
                return _error(400, "Invalid OAuth request token or verifier.")
            del self._requests[token]  # a request token is exchanged once
            access, secret = "mock-access-" + secrets.token_hex(8), secrets.token_hex(16)
            self._access[access] = secret
        return Grant(200, FORM, urlencode({"oauth_token": access, "oauth_token_secret": secret}).encode("ascii"))

    def acts_as_user(self, values: Mapping[str, str]) -> bool:
        """False for a request token not yet exchanged: it names no user."""
        with self._lock:
            return values.get("oauth_token", "") not in self._requests

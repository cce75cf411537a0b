"""Who is asking: Discogs' credential kinds, and each operation's ``security`` from the spec."""

from __future__ import annotations

from collections.abc import Mapping

from .._runtime.operations import OperationInfo
from .._runtime.redact import is_secret_param

__all__ = [
    "FORBIDDEN_MESSAGE",
    "PAGE_CAP_MESSAGE",
    "UNAUTHORIZED_MESSAGE",
    "check",
    "credential_kind",
    "is_credential_param",
]

UNAUTHORIZED_MESSAGE = "You must authenticate to access this resource."
FORBIDDEN_MESSAGE = "You don't have permission to access this resource."
PAGE_CAP_MESSAGE = "Pagination above 100 disabled for inventories besides your own"

# What each credential kind satisfies among the spec's security schemes.
_SATISFIES = {
    "token": "DiscogsToken",
    "keysecret": "DiscogsKeySecret",
    "oauth": "OAuth1",
    "oauth-consumer": "OAuth1",
}


def is_credential_param(name: str) -> bool:
    """A query parameter that carries credentials: never part of the question, never recorded.

    The secrets among them are :func:`~musicagent._runtime.redact.is_secret_param`'s (masked in logs
    as everywhere); the other ``oauth_*`` ones (nonce, timestamp) are not secret, but not the question either.
    """
    return is_secret_param(name) or name.startswith("oauth_")


def credential_kind(authorization: str | None, query: Mapping[str, tuple[str, ...]]) -> str | None:
    """``token``, ``keysecret``, ``oauth`` (acting as a user), ``oauth-consumer`` (no token yet), or None.

    Discogs reads credentials from the ``Authorization`` header (``Discogs token=…``, ``Discogs
    key=…, secret=…``, ``OAuth …``) or from the query (``token``, ``key`` and ``secret``, ``oauth_*``).
    """
    header = (authorization or "").strip()
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "discogs":
        fields = {part.split("=", 1)[0].strip().lower() for part in rest.split(",") if "=" in part}
        if "token" in fields:
            return "token"
        if {"key", "secret"} <= fields:
            return "keysecret"
    elif scheme.lower() == "oauth":
        return "oauth" if "oauth_token=" in rest else "oauth-consumer"
    if any(query.get("token", ())):
        return "token"
    if any(query.get("key", ())) and any(query.get("secret", ())):
        return "keysecret"
    if any(query.get("oauth_consumer_key", ())):
        return "oauth" if any(query.get("oauth_token", ())) else "oauth-consumer"
    return None


def _schemes(op: OperationInfo) -> frozenset[str]:
    if op.schemes:
        return frozenset(op.schemes)
    return {  # a registry written before schemes were listed: its coarse auth level
        "none": frozenset({"", "DiscogsToken", "DiscogsKeySecret", "OAuth1"}),
        "any": frozenset({"DiscogsToken", "DiscogsKeySecret", "OAuth1"}),
    }.get(op.auth, frozenset({"DiscogsToken", "OAuth1"}))


def check(
    op: OperationInfo, params: Mapping[str, str], kind: str | None, user: str, page: int = 1
) -> tuple[int, str] | None:
    """(status, message) when Discogs would refuse the call, else None.

    401 when the operation's security has no scheme the credentials satisfy (anonymous calls only
    where the spec allows ``{}``; an OAuth header without a user token only where OAuth is the sole
    scheme, the token steps of the OAuth flow); 403 when a user-level call names another user's data,
    or asks past the spec's page cap (``x-musicagent-page-cap``) of another user's listing.
    """
    username = params.get("username")
    if op.page_cap is not None and page > op.page_cap and (username or "").casefold() != user.casefold():
        return 403, PAGE_CAP_MESSAGE  # x-musicagent-page-cap: only your own inventory goes further
    schemes = _schemes(op)
    if "" in schemes:
        return None
    satisfied = kind is not None and _SATISFIES[kind] in schemes
    if kind == "oauth-consumer" and schemes != {"OAuth1"}:
        satisfied = False
    if not satisfied:
        return 401, UNAUTHORIZED_MESSAGE
    if username is not None and username.casefold() != user.casefold():
        return 403, FORBIDDEN_MESSAGE
    return None

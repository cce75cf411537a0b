"""Hiding credentials in text: the one place that knows what a secret looks like.

Below logging and the errors alike (both mask what they print), so neither has to import the other.
Two rules, both here: a *registered* secret (the client's token, OAuth secrets, a store's password) is
hidden in every spelling a server might plausibly echo it back in (percent-encoded, form-encoded,
JSON- or HTML-escaped, double-encoded), and a value after a *secret name* (:func:`is_secret_param`:
``token=``, ``oauth_signature="…"``, ``"secret": "…"``) is hidden whoever's it is.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

__all__ = [
    "SECRET_NAME_ENDINGS",
    "holds_secret",
    "is_secret_param",
    "mask",
    "mask_headers",
    "mask_secrets",
    "register_secret",
]

SECRET_NAME_ENDINGS = ("token", "secret", "key", "signature", "verifier", "password")
"""A parameter (query, header field, JSON key) whose name ends so carries a secret. Not ``oauth_nonce``,
``oauth_timestamp`` or ``oauth_signature_method``: those are the protocol's, readable and harmless."""


def is_secret_param(name: str) -> bool:
    """Whether the value of the parameter ``name`` is a secret: the rule :func:`mask` applies to text too."""
    return name.lower().endswith(SECRET_NAME_ENDINGS)


_ENDINGS = "|".join(SECRET_NAME_ENDINGS)
# A secret name, then ``=`` (also percent-encoded, ``%3D``, as in a URL inside a query) with an optional
# quote (also JSON-escaped, ``\"``), or a colon and a quote (JSON, dict reprs). An unquoted word after a
# colon is prose ("'consumer_key': consumer_key is set but ..."), not a credential, and stays readable.
_PATTERN = re.compile(
    rf"(?i)((?:{_ENDINGS})(?:\s*(?:=|%3D)\s*(?:\\?[\"'])?|\\?[\"']?\s*:\s*\\?[\"']))([^\s&,\"'}}\\]+)"
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_spellings: re.Pattern[str] | None = None  # every spelling of every registered secret, longest first


def _variants(value: str) -> set[str]:
    """The spellings of ``value`` a server may echo: as sent, and re-encoded the usual ways."""
    import html  # with the first credential, not with ``import musicagent``
    import json
    from urllib.parse import quote, quote_plus

    once = {
        value,
        quote(value, safe=""),
        quote(value),  # "/" kept, as urllib's default
        quote(value, safe="~-._"),
        quote_plus(value),
        quote_plus(value, safe="/"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1].replace("/", "\\/"),
        html.escape(value),
    }
    spelled = set(once)
    for variant in once:
        spelled.add(quote(variant, safe=""))  # encoded twice (an OAuth signature is, in its header)
        spelled.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), variant))  # lower-case hex
    return spelled


def register_secret(value: str | None) -> None:
    """Remember a credential so that :func:`mask` hides it, in each spelling, wherever it appears."""
    global _spellings
    if value and len(value) >= 4:
        with _secrets_lock:
            if value in _secrets:
                return
            _secrets.add(value)
            every = {v for secret in _secrets for v in _variants(secret) if len(v) >= 4}
            _spellings = re.compile("|".join(re.escape(v) for v in sorted(every, key=len, reverse=True)))


def mask_secrets(text: str) -> str:
    """Hide the registered secrets only: enough for text that cannot hold ``name=value`` pairs."""
    spellings = _spellings
    return text if spellings is None else spellings.sub("***", text)


def holds_secret(text: str) -> bool:
    """Whether ``text`` holds a registered secret in any spelling (what must never be stored)."""
    spellings = _spellings
    return spellings is not None and spellings.search(text) is not None


def mask(text: str) -> str:
    """Hide registered secrets and any value after a secret name (``token=...``, ``oauth_signature="..."``)."""
    text = mask_secrets(text)
    return _PATTERN.sub(r"\1***", text) if _may_name_secret(text) else text


def _may_name_secret(text: str) -> bool:
    """False only when :data:`_PATTERN` cannot match: ASCII text without any secret name in it.

    A URL with a query (every list page) is masked on each request: this check costs a twentieth of
    the case-blind regex. Non-ASCII text always goes to the regex, whose case-blindness also
    matches names spelled with a long s (U+017F), a dotless i (U+0131) or a Kelvin sign (U+212A).
    """
    if not text.isascii():
        return True
    lowered = text.lower()
    for name in SECRET_NAME_ENDINGS:  # noqa: SIM110 - any() over a generator costs twice as much
        if name in lowered:
            return True
    return False


def mask_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """A copy of response headers with credentials hidden: the one masking for every place that shows them."""
    from urllib3 import HTTPHeaderDict  # case-insensitive, as the headers it copies

    masked = HTTPHeaderDict()
    for name, value in headers.items():
        whole = is_secret_param(name) or name.lower() in _SECRET_HEADERS  # an echoed ``Authorization``
        masked.add(name, "***" if whole else mask(value))
    return masked


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})

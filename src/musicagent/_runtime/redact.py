"""Hiding credentials in text: the one place that knows what a secret looks like.

Below logging and the errors alike (both mask what they print), so neither has to import the other.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

__all__ = ["mask", "mask_headers", "mask_secrets", "register_secret"]

# ``name=value`` (query strings, ``Discogs token=…``, OAuth ``oauth_signature="…"``) or a quoted value after
# a colon (JSON, dict reprs). An unquoted word after a colon is prose ("'consumer_key': consumer_key is
# set but ..."), not a credential, and stays readable.
_PATTERN = re.compile(
    r"(?i)((?:token|secret|key|signature|oauth_verifier)"
    r"(?:\s*=\s*[\"']?|[\"']?\s*:\s*[\"']))([^\s&,\"'}]+)"
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a credential so that :func:`mask` hides it wherever it appears."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def mask_secrets(text: str) -> str:
    """Hide the registered secrets only: enough for text that cannot hold ``name=value`` pairs."""
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def mask(text: str) -> str:
    """Hide registered secrets and anything shaped like ``token=...`` / ``oauth_signature=...``."""
    return _PATTERN.sub(r"\1***", mask_secrets(text))


def mask_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """A copy of response headers with credentials hidden: the one masking for every place that shows them."""
    from urllib3 import HTTPHeaderDict  # case-insensitive, as the headers it copies

    masked = HTTPHeaderDict()
    for name, value in headers.items():
        masked.add(name, mask(value))
    return masked

"""Which host a URL names, and whether it may receive the client's credentials.

A URL is read by two parsers on its way out: the credential rule and the connection. When they
disagree (``https://127.0.0.1:9\\@api.discogs.com/`` is 127.0.0.1 to urllib3 and api.discogs.com
to :mod:`urllib.parse`), a token meant for Discogs goes elsewhere. So a URL is parsed once, by
urllib3's own ``parse_url`` (the parse the connection uses), and refused when :mod:`urllib.parse`
reads another host or port, or when it holds what only invites such disagreement: backslashes,
user info, whitespace or control characters.

Credentials go to Discogs' own hosts (``discogs.com`` and its subdomains) over https, to the base
URL when it is loopback (the mock server), and to the hosts a user lists in ``credentials_hosts``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = [
    "Origin",
    "UnsafeURLError",
    "base_may_carry_credentials",
    "check_path",
    "is_discogs_host",
    "is_loopback",
    "may_carry_credentials",
    "origin_of",
    "redirect_refusal",
]

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # control characters, space, backslash


class UnsafeURLError(ValueError):
    """A URL the SDK will not send; callers turn it into an error naming their parameter."""


class Origin(NamedTuple):
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (brackets allowed): the only hosts plain http may reach."""
    if host.lower() == "localhost":
        return True
    import ipaddress  # here: importing it costs more than the rest of this module

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_discogs_host(host: str) -> bool:
    host = host.lower()
    return host == "discogs.com" or host.endswith(".discogs.com")


def origin_of(url: str, *, cross_check: bool = True) -> Origin:
    """The (scheme, host, port) a request to ``url`` connects to, as urllib3 reads it.

    Without ``cross_check`` only :mod:`urllib.parse` reads it, after the characters that make
    parsers disagree have been refused: enough to check settings without importing urllib3.

    Raises:
        UnsafeURLError: not an absolute http(s) URL, or one that parsers could read differently.
    """
    if _UNSAFE.search(url):
        raise UnsafeURLError("must not contain spaces, control characters or backslashes")
    try:
        theirs = urlsplit(url)
        their_port = theirs.port
    except ValueError as exc:
        raise UnsafeURLError(f"cannot be parsed: {exc}") from None
    scheme = theirs.scheme.lower()
    default = 443 if scheme == "https" else 80
    if scheme not in ("http", "https") or not theirs.hostname:
        raise UnsafeURLError("must be an absolute http(s) URL")
    if theirs.username is not None or "@" in theirs.netloc:
        raise UnsafeURLError("must not contain user info (user:password@)")
    origin = Origin(scheme, theirs.hostname, their_port or default)
    if not cross_check:
        return origin
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        ours = parse_url(url)
    except LocationParseError as exc:
        raise UnsafeURLError(f"cannot be parsed: {exc}") from None
    host = (ours.host or "").strip("[]").lower()
    if ours.auth is not None or (host, ours.port or default) != (origin.host, origin.port):
        raise UnsafeURLError(f"is read as host {host!r} by one parser and {origin.host!r} by another")
    return origin


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_path(path: str) -> None:
    """A path under the base URL cannot change the host, but a line break in it would split the request."""
    if _CONTROL.search(path):
        raise UnsafeURLError("must not contain line breaks or control characters")


def may_carry_credentials(target: Origin, base: Origin, allowed: Collection[str] = ()) -> bool:
    """Whether a request to ``target`` may carry the credentials of a client whose base URL is ``base``.

    Discogs' hosts over https; the base URL itself when it is loopback (the mock server) or a host
    the user listed in ``credentials_hosts``; listed hosts over https. Never plain http elsewhere.
    """
    if target.scheme == "https" and (is_discogs_host(target.host) or target.host in allowed):
        return True
    return target == base and (is_loopback(base.host) or base.host in allowed)


def base_may_carry_credentials(base: Origin, allowed: Collection[str] = ()) -> bool:
    """Whether a client with this base URL may send its credentials at all (checked at construction)."""
    return may_carry_credentials(base, base, allowed)


def redirect_refusal(url: str, location: str) -> str | None:
    """Why a download must not follow the redirect from ``url`` to ``location``; None to follow it.

    Both shells ask before following, so the redirect itself becomes the answer: a final ``APIError``
    naming this reason, not a connection error to retry (the same redirect would come again). Only
    http and https are followed (``file:``, ``ftp:``, ``data:`` never are), and never a URL that holds
    the client's credentials, which would carry them to wherever it points.
    """
    from urllib.parse import urljoin

    from .redact import holds_secret

    try:
        scheme = urlsplit(urljoin(url, location)).scheme.lower()
    except ValueError:
        return "its Location cannot be parsed"
    if scheme and scheme not in ("http", "https"):  # none: relative to a URL the caller did not give
        return f"a download follows only http and https redirects, not {scheme}:"
    if holds_secret(location):
        return "it would carry the client's credentials"
    return None

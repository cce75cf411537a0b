"""Response cache rules, with no I/O: what may be cached, under which key, for how long, what a write makes stale.

Both clients (sync and async) use these rules; the stores (:mod:`.cache_store`) only keep bytes.

* Only a GET can be served from the cache, and only when its operation has a time to live above 0
  (from the spec's ``x-musicagent-cache``, or the user's ``cache_ttl``).
* The key is a SHA-256 of the method, the full URL with its query, the Accept header, any extra
  headers of the call and a digest of the credentials: an answer fetched with one account is never
  served to another, and the token never appears in a key or a store in clear.
* A write (POST/PUT/DELETE/PATCH) makes its own path and every path above it stale (``PUT
  /users/u/wants/1`` -> ``/users/u/wants`` pages, ``/users/u``), plus the prefixes its operation lists.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .redact import holds_secret

if TYPE_CHECKING:
    from .auth import Credentials
    from .operations import OperationInfo

__all__ = [
    "KEPT_HEADERS",
    "CacheEntry",
    "CacheEntryError",
    "CachePlan",
    "CachePolicy",
    "Invalidation",
    "TTLSetting",
    "credentials_digest",
    "parse_ttl",
]

TTLSetting = float | Mapping[str, float] | None
# What a cached answer keeps besides its body: what decoding and a reader of last_response use.
# Rate-limit figures are not kept: they describe the moment of the request, not the answer.
KEPT_HEADERS = ("Content-Type", "ETag", "Last-Modified", "Date", "Link")
_MAGIC = b"MAC1"
_WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_REQUEST = "request"  # the operation name of discogs.request(...) calls in a cache_ttl mapping


class CacheEntryError(ValueError):
    """Stored bytes that are not a cache entry (a corrupt or foreign value): treated as a miss."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One stored answer: status, the headers that matter, the body as received (decompressed)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    path: str  # the URL's path, for invalidation
    created: float  # wall-clock seconds (stores are shared between processes and machines)
    expires: float

    def fresh(self, now: float) -> bool:
        return now < self.expires

    def encode(self) -> bytes:
        meta = json.dumps([self.status, self.headers, self.path, self.created, self.expires], separators=(",", ":"))
        head = meta.encode("utf-8")
        return _MAGIC + len(head).to_bytes(4, "big") + head + self.content

    @classmethod
    def decode(cls, data: bytes) -> CacheEntry:
        """The entry ``data`` encodes; anything else (a damaged file, another program's key, bytes
        crafted to crash the reader) is a :class:`CacheEntryError`, which every store treats as a miss."""
        try:
            if data[:4] != _MAGIC:
                raise ValueError("not a musicagent cache entry")
            size = int.from_bytes(data[4:8], "big")
            status, headers, path, created, expires = json.loads(data[8 : 8 + size])
            entry = cls(
                int(status),
                tuple((str(k), str(v)) for k, v in headers),
                bytes(data[8 + size :]),
                str(path),
                float(created),
                float(expires),
            )
            # Only successful answers are stored; the times are used in arithmetic (Age, TTLs).
            if not (200 <= entry.status < 300 and math.isfinite(entry.created) and math.isfinite(entry.expires)):
                raise ValueError("status or times out of range")
        except (ValueError, TypeError, IndexError, ArithmeticError, RecursionError) as exc:
            raise CacheEntryError(f"unreadable cache entry: {type(exc).__name__}: {exc}"[:200]) from None
        return entry


@dataclass(frozen=True, slots=True)
class Invalidation:
    """Paths a write made stale: ``exact`` ones (any query) and everything under ``prefixes``.

    A ``*`` segment in a prefix stands for any one segment (a store may match more, never less).
    """

    exact: tuple[str, ...]
    prefixes: tuple[str, ...] = ()

    def matches(self, path: str) -> bool:
        if path in self.exact:
            return True
        return any(_under(path, prefix) for prefix in self.prefixes)


def _under(path: str, prefix: str) -> bool:
    want = prefix.rstrip("/").split("/")
    have = path.split("/")
    return len(have) >= len(want) and all(w == "*" or w == h for w, h in zip(want, have, strict=False))


@dataclass(frozen=True, slots=True)
class CachePlan:
    """What the cache does for one call: serve/store under ``key`` (GET) or ``invalidate`` (write)."""

    key: str | None
    ttl: float
    path: str
    invalidate: Invalidation | None = None


def credentials_digest(credentials: Credentials) -> str:
    """A one-way digest of everything that identifies the account (never the secrets themselves)."""
    parts = (
        credentials.kind,
        credentials.token or "",
        credentials.consumer_key or "",
        credentials.consumer_secret or "",
        credentials.access_token or "",
        credentials.access_token_secret or "",
    )
    return hashlib.sha256(("musicagent-cache-account\0" + "\0".join(parts)).encode("utf-8")).hexdigest()[:32]


def parse_ttl(value: Any) -> float | dict[str, float] | None:
    """``cache_ttl`` as given: seconds, a mapping of operation patterns to seconds, or the
    ``DISCOGS_CACHE_TTL`` text (``3600`` or ``artists.*=604800,users.wants.list=60``)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if "=" not in text:
            return _seconds("cache_ttl", text)
        pairs = (item.partition("=") for item in text.split(",") if item.strip())
        return {name.strip(): _seconds(f"cache_ttl[{name.strip()!r}]", seconds) for name, _, seconds in pairs}
    if isinstance(value, Mapping):
        out: dict[str, float] = {}
        for name, seconds in value.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"cache_ttl keys are operation names such as 'artists.get' or 'users.*', not {name!r}")
            out[name] = _seconds(f"cache_ttl[{name!r}]", seconds)
        return out
    return _seconds("cache_ttl", value)


def _check_patterns(patterns: Mapping[str, float], operations: Mapping[str, OperationInfo]) -> None:
    """A misspelt operation pattern would silently change nothing: refuse it, naming close names."""
    import difflib  # only on this path
    names = [*operations, _REQUEST]
    for pattern in patterns:
        if any(fnmatchcase(name, pattern) for name in names):
            continue
        close = difflib.get_close_matches(pattern, names, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigurationError(f"invalid cache_ttl: {pattern!r} matches no operation{hint}")


def _seconds(what: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected seconds, got {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected seconds (a number), got {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"{what}: must be 0 (do not cache) or a positive number of seconds, got {value!r}")
    return seconds


class CachePolicy:
    """The rules for one client: its account digest, the user's TTL setting, the operations' defaults.

    ``cache_ttl`` as a number replaces the default of every operation the spec lets be cached (and
    applies to ``request()`` GETs); operations the spec marks 0 (orders, OAuth steps, export status)
    stay uncached. As a mapping, its keys are operation ids or patterns (``users.*``; ``request`` for
    ``discogs.request``), the first match wins over the spec's default, and may enable any GET.
    """

    def __init__(
        self,
        *,
        credentials: Credentials,
        ttl: TTLSetting = None,
        operations: Iterable[OperationInfo] = (),
    ) -> None:
        try:
            self._user = parse_ttl(ttl)
        except ValueError as exc:
            raise ConfigurationError(f"invalid cache_ttl: {exc}") from None
        self._account = credentials_digest(credentials)
        self._ops = {op.id: op for op in operations}
        if isinstance(self._user, dict) and self._ops:
            _check_patterns(self._user, self._ops)
        self._ttls: dict[str | None, float] = {}

    def ttl_for(self, operation: str | None) -> float:
        """Seconds an answer of ``operation`` (None: a ``request()`` call) may be served; 0 = never."""
        ttl = self._ttls.get(operation)
        if ttl is None:
            ttl = self._ttls[operation] = self._resolve_ttl(operation)
        return ttl

    def _resolve_ttl(self, operation: str | None) -> float:
        info = self._ops.get(operation) if operation is not None else None
        default = info.cache_ttl if info is not None else None
        user = self._user
        if isinstance(user, dict):
            name = operation or _REQUEST
            if name in user:
                return user[name]
            for pattern, seconds in user.items():
                if fnmatchcase(name, pattern):
                    return seconds
            return default or 0.0
        if user is not None:
            return user if default is None or default > 0 else 0.0
        return default or 0.0

    def plan(
        self,
        method: str,
        url: str,
        *,
        accept: str,
        operation: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        enabled: bool = True,
    ) -> CachePlan | None:
        """What to do for one call; None when the cache has nothing to do with it."""
        if method == "GET":
            if not enabled:
                return None
            extras = ""
            if extra_headers:
                if any(name.lower() == "authorization" for name in extra_headers):
                    return None  # another account's credentials: nothing to key them by safely
                extras = "\n".join(f"{k.lower()}:{v}" for k, v in sorted(extra_headers.items()))
            ttl = self.ttl_for(operation)
            if ttl <= 0:
                return None
            material = f"v1\n{method}\n{url}\n{accept}\n{self._account}\n{extras}"
            key = hashlib.sha256(material.encode("utf-8")).hexdigest()
            return CachePlan(key, ttl, urlsplit(url).path)
        if method in _WRITES:
            path = urlsplit(url).path
            return CachePlan(None, 0.0, path, self.invalidation(path, operation))
        return None

    def invalidation(self, path: str, operation: str | None) -> Invalidation:
        """The path itself and every path above it, plus the operation's declared prefixes."""
        segments = path.rstrip("/").split("/")
        exact = tuple("/".join(segments[:n]) for n in range(len(segments), 1, -1))
        info = self._ops.get(operation) if operation is not None else None
        prefixes: tuple[str, ...] = ()
        if info is not None and info.cache_invalidates:
            values = _path_values(info.path, path)
            prefixes = tuple(_fill(template, values) for template in info.cache_invalidates)
        return Invalidation(exact, prefixes)

    @staticmethod
    def entry(
        plan: CachePlan, status: int, headers: Mapping[str, str], content: bytes, now: float
    ) -> CacheEntry | None:
        """The entry to store for a decoded answer, or None when it must not be stored.

        An answer that echoes the client's credentials is never stored: a cache file or Redis must not
        hold them (and the answer is odd enough not to be worth keeping).
        """
        if plan.key is None or not 200 <= status < 300 or not content:
            return None
        kept = tuple((name, headers[name]) for name in KEPT_HEADERS if name in headers)
        if holds_secret(content.decode("utf-8", "replace")) or any(holds_secret(value) for _, value in kept):
            return None
        return CacheEntry(status, kept, content, plan.path, now, now + plan.ttl)


_PARAM = re.compile(r"^{([^}]+)}$")


def _path_values(template: str, path: str) -> dict[str, str]:
    """``/users/{username}/wants/{release_id}`` against ``/users/bob/wants/5`` -> {username: bob, ...}."""
    values: dict[str, str] = {}
    for name, value in zip(template.split("/"), path.split("/"), strict=False):
        match = _PARAM.match(name)
        if match:
            values[match.group(1)] = value
    return values


def _fill(template: str, values: Mapping[str, str]) -> str:
    """A declared prefix with the call's path values; a parameter the call does not have becomes ``*``."""
    out = []
    for part in template.split("/"):
        match = _PARAM.match(part)
        out.append(values.get(match.group(1), "*") if match else part)
    return "/".join(out)

"""Answers a test sets up in code, and the log of what was asked, for assertions.

A stub is matched before anything else (auth, the rate-limit window, state, recordings): it answers
exactly what the test said, so a test can make any operation fail or return any body.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RecordedRequest", "Stub", "StubRegistry"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the mock received. ``answer`` says who answered it (see ``X-Musicagent-Mock``)."""

    method: str
    path: str
    query: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]  # credentials masked
    body: bytes
    answer: str
    status: int

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


def _pattern(path: str) -> re.Pattern[str]:
    """``/artists/{id}`` or ``/users/*``: a placeholder is one path segment, ``*`` is anything."""
    parts = re.split(r"(\{\w+\}|\*)", path.rstrip("/") or "/")
    regex = "".join("[^/]+" if part.startswith("{") else ".*" if part == "*" else re.escape(part) for part in parts)
    return re.compile(f"^{regex}/?$")


@dataclass
class Stub:
    """A canned answer for ``method`` and ``path`` (a pattern); ``times`` uses, None for every request."""

    method: str
    path: str
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    times: int | None
    query: Mapping[str, str] | None = None
    calls: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._regex = _pattern(self.path)
        self._used = 0  # reserved under the registry's lock, so a one-off stub answers exactly once

    def matches(self, method: str, path: str, query: Mapping[str, tuple[str, ...]]) -> bool:
        if self.times is not None and self._used >= self.times:
            return False
        if self.method not in ("*", method) and not (method == "HEAD" and self.method == "GET"):
            return False
        if not self._regex.match(path):
            return False
        return all(value in query.get(name, ()) for name, value in (self.query or {}).items())

    def assert_called(self, times: int | None = None) -> None:
        """AssertionError unless called (exactly ``times`` times, when given)."""
        if (times is None and not self.calls) or (times is not None and len(self.calls) != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(f"stub {self.method} {self.path} was called {len(self.calls)} time(s), not {wanted}")


class StubRegistry:
    """The stubs of one server and every request it received, safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stubs: list[Stub] = []
        self._requests: list[RecordedRequest] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json_body: Any = None,
        body: bytes | str | None = None,
        error: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Stub:
        if sum(x is not None for x in (json_body, body, error)) > 1:
            raise ValueError("give one of json=, body= or error=")
        if not path.startswith("/"):
            raise ValueError(f"a stub path starts with '/': {path!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        if error is not None:
            payload, status = json.dumps({"message": error}).encode(), status if status >= 400 else 500
            content_type = "application/json"
        elif body is not None:
            payload = body.encode("utf-8") if isinstance(body, str) else body
            content_type = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(json_body).encode("utf-8") if json_body is not None else b""
            content_type = "application/json"
        extra = dict(headers or {})
        if not any(k.lower() == "content-type" for k in extra):
            extra["Content-Type"] = content_type
        stub = Stub(method.upper(), path, status, payload, tuple(extra.items()), times, query)
        with self._lock:
            self._stubs.append(stub)
        return stub

    def take(self, method: str, path: str, query: Mapping[str, tuple[str, ...]]) -> Stub | None:
        """The first stub (in the order added) that still answers this request."""
        with self._lock:
            stub = next((s for s in self._stubs if s.matches(method, path, query)), None)
            if stub is not None:
                stub._used += 1
            return stub

    def record(self, request: RecordedRequest, stub: Stub | None) -> None:
        with self._lock:
            self._requests.append(request)
            if stub is not None:
                stub.calls.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._stubs.clear()
            self._requests.clear()

    def find(self, method: str, path: str, query: Mapping[str, str] | None) -> Sequence[RecordedRequest]:
        regex = _pattern(path)
        return [
            r
            for r in self.requests
            if r.method == method.upper()
            and regex.match(r.path)
            and all(v in r.query.get(k, ()) for k, v in (query or {}).items())
        ]

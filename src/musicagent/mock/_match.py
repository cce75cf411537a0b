"""Which recording answers a request: operations from the spec's registry, and exact matching.

Kept apart from the HTTP plumbing so that the rules (what counts as the same question) read in one
place and are tested without sockets.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from .._generated.operations import OPERATIONS
from .._runtime.operations import OperationInfo
from ._auth import is_credential_param
from ._cassettes import Interaction, normalize_path, query_of

__all__ = [
    "Route",
    "allowed_methods",
    "find_match",
    "nearest",
    "request_line",
    "route",
    "significant",
    "wrong_path_param",
]

# Never part of which recording answers: the page size (the server cuts the answer again at the size
# asked: MockServer._repaged), and credentials, which differ between the recording and the replay
# (and must not be compared, let alone echoed).
IGNORED_PARAMS = frozenset({"per_page", "callback"})  # and credentials (_auth.is_credential_param)
# Discogs compares these without regard to case: usernames in paths, free-text search terms.
_CASELESS_PATH_PARAMS = frozenset({"username"})
_CASELESS_OPERATIONS = frozenset({"search"})
# A parameter sent with Discogs' default value asks the same question as one left out (the mock's
# user has Discogs' default currency, USD; a status of "All" filters nothing: discojs always sends it).
_DEFAULTS = {"page": "1", "curr_abbr": "USD", "status": "All"}


@dataclass(frozen=True)
class Route:
    """A request path resolved to its operation and path parameters (None: no operation has it)."""

    operation: OperationInfo
    params: Mapping[str, str]


@functools.lru_cache(maxsize=1)
def _templates() -> tuple[tuple[re.Pattern[str], OperationInfo, int], ...]:
    compiled = []
    for op in OPERATIONS:
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(op.path))
        compiled.append((re.compile(f"^{pattern}$"), op, op.path.count("{")))
    # Fewer placeholders first: a literal segment beats a parameter that happens to fit.
    return tuple(sorted(compiled, key=lambda item: item[2]))


@functools.lru_cache(maxsize=4096)
def route(method: str, path: str) -> Route | None:
    """The operation a method and (percent-decoded) path belong to."""
    wanted = "GET" if method == "HEAD" else method
    for pattern, op, _ in _templates():
        if op.method != wanted:
            continue
        found = pattern.match(path)
        if found is not None:
            return Route(op, found.groupdict())
    return None


def allowed_methods(path: str) -> list[str]:
    """The methods some operation takes at this (percent-decoded) path, GET's HEAD included."""
    methods = {op.method for pattern, op, _ in _templates() if pattern.match(path)}
    if "GET" in methods:
        methods.add("HEAD")
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    return [method for method in order if method in methods]


_PATH_TYPES = {"integer": re.compile(r"[0-9]+"), "number": re.compile(r"[0-9]+(?:\.[0-9]+)?")}


def wrong_path_param(found: Route) -> str | None:
    """The path parameter whose value is not of the spec's type (or not one of its choices), if any.

    Discogs routes ``/releases/abc`` nowhere: such a path is a 404 before anything else is looked at.
    """
    for param in found.operation.params:
        value = found.params.get(param.name)
        if value is None:
            continue
        pattern = _PATH_TYPES.get(param.type)
        if (pattern is not None and not pattern.fullmatch(value)) or (param.choices and value not in param.choices):
            return param.name
    return None


def _path_key(method: str, path: str) -> tuple[str, ...]:
    """The path as compared: usernames fold case, everything else as sent."""
    found = route(method, path)
    if found is None:
        return (path,)
    return (
        found.operation.id,
        *(
            f"{name}={value.casefold() if name in _CASELESS_PATH_PARAMS else value}"
            for name, value in sorted(found.params.items())
        ),
    )


def significant(method: str, path: str, query: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The query parameters that make the question, normalised as Discogs compares them.

    A parameter the operation does not take is no part of it: Discogs ignores what it does not
    know (discojs sends ``currency=`` where the API reads ``curr_abbr``).
    """
    found = route(method, path)
    caseless = found is not None and found.operation.id in _CASELESS_OPERATIONS
    taken = _query_params(found.operation) if found is not None else None
    result: dict[str, tuple[str, ...]] = {}
    for name, values in query.items():
        if name in IGNORED_PARAMS or is_credential_param(name) or (taken is not None and name not in taken):
            continue
        if len(values) == 1 and _DEFAULTS.get(name) == (_number(values[0]) if name == "page" else values[0]):
            continue
        result[name] = tuple(
            " ".join(v.split()).casefold() if caseless else _number(v) if name == "page" else v for v in values
        )
    return result


@functools.lru_cache(maxsize=256)
def _query_params(op: OperationInfo) -> frozenset[str]:
    return frozenset(param.wire for param in op.params if param.location == "query")


def _number(text: str) -> str:
    try:
        return str(int(text))
    except ValueError:
        return text


def _score(candidate: Interaction, query: Mapping[str, tuple[str, ...]], authenticated: bool) -> tuple[int, ...]:
    return (
        int((candidate.status == 401) != authenticated),  # a recorded 401 answers only the unauthenticated
        int(candidate.status < 400),  # a recorded failure only when no success was recorded
        int(candidate.query.get("per_page") == query.get("per_page")),
    )


def find_match(
    interactions: Sequence[Interaction],
    method: str,
    raw_path: str,
    raw_query: str | Mapping[str, tuple[str, ...]],
    *,
    authenticated: bool = True,
) -> Interaction | None:
    """The recording that answers exactly this question, or None.

    Same method (HEAD is answered by GET recordings), same path (usernames without regard to case),
    and the same significant query parameters with the same values — a filter sent is never
    answered by a recording made without it, nor one recorded with a filter the request did not
    send (``per_page`` and credentials do not count, ``page=1`` is the same as no page, search terms
    compare without regard to case). Among equals: a recorded 401 for a request without
    credentials and last otherwise, a success over a failure, the same ``per_page``, the first loaded.
    """
    path = normalize_path(raw_path)
    query = query_of(raw_query) if isinstance(raw_query, str) else raw_query
    wanted_method = "GET" if method == "HEAD" else method
    key = _path_key(wanted_method, path)
    wanted = significant(wanted_method, path, query)
    best: Interaction | None = None
    best_score: tuple[int, ...] = (-1,)
    for candidate in interactions:
        if candidate.method != wanted_method or _path_key(candidate.method, candidate.path) != key:
            continue
        if significant(candidate.method, candidate.path, candidate.query) != wanted:
            continue
        score = _score(candidate, query, authenticated)
        if score > best_score:
            best, best_score = candidate, score
    return best


def request_line(method: str, path: str, query: Mapping[str, tuple[str, ...]]) -> str:
    """``GET /path?a=b`` without credentials: how misses name requests."""
    shown = [
        (k, v) for k, values in query.items() if k not in IGNORED_PARAMS and not is_credential_param(k) for v in values
    ]
    return f"{method} {path}" + ("?" + urlencode(shown) if shown else "")


def nearest(
    interactions: Sequence[Interaction], method: str, path: str, query: Mapping[str, tuple[str, ...]], count: int = 3
) -> list[str]:
    """The recorded requests most like this one: same operation first, then the most similar text."""
    wanted = request_line(method, path, query)
    found = route(method, path)
    op_id = found.operation.id if found is not None else None
    scored: dict[str, tuple[int, float]] = {}
    for candidate in interactions:
        line = request_line(candidate.method, candidate.path, candidate.query)
        if line in scored:
            continue
        other = route(candidate.method, candidate.path)
        same_op = int(op_id is not None and other is not None and other.operation.id == op_id)
        scored[line] = (same_op, difflib.SequenceMatcher(None, wanted, line).ratio())
    return sorted(scored, key=lambda line: scored[line], reverse=True)[:count]

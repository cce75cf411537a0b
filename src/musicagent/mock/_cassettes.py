"""Reading vcrpy cassettes (format v1) into immutable interactions the server can match.

Cassettes are YAML (what vcrpy writes by default), read with PyYAML when it is importable; the
same structure as JSON (vcrpy's ``json`` serializer, or one file made by :func:`bundle`) needs
only the standard library, so a wheel can ship the recordings without a YAML dependency.
"""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "CassetteError",
    "Interaction",
    "bundle",
    "load_cassettes",
    "load_document",
    "normalize_path",
    "query_of",
    "read_cassette",
]

_SUFFIXES = (".yaml", ".yml", ".json")
# Headers that describe one transfer, not the resource: the server computes its own.
_TRANSFER_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding", "date", "server"}
)


class CassetteError(ValueError):
    """A cassette that cannot be read, named with its file so it can be fixed."""


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its answer, with the request already parsed for matching."""

    method: str
    path: str
    query: Mapping[str, tuple[str, ...]]
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source: str

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "application/json")


def normalize_path(raw_path: str) -> str:
    """Percent-decoded, without a trailing slash: ``/users/a%20b/`` and ``/users/a b`` are one path."""
    path = unquote(raw_path or "/")
    return path.rstrip("/") or "/"


def query_of(raw_query: str) -> dict[str, tuple[str, ...]]:
    """Decoded query parameters; a repeated name keeps all its values in order."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return {k: tuple(v) for k, v in values.items()}


def _yaml_load(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise CassetteError(
            f"{source}: reading YAML cassettes needs PyYAML (pip install pyyaml), "
            "or bundle them as JSON first: python -m musicagent.mock --bundle cassettes.json"
        ) from None

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~10x faster when present

    class Loader(base):  # type: ignore[misc]
        """Safe, plus the harmless python/str tags vcrpy writes; other python tags (request bodies) load as None."""

    def text_of(loader: Any, node: Any) -> Any:
        return loader.construct_scalar(node)

    def nothing(loader: Any, suffix: str, node: Any) -> None:
        return None

    Loader.add_constructor("tag:yaml.org,2002:python/str", text_of)
    Loader.add_constructor("tag:yaml.org,2002:python/unicode", text_of)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", nothing)
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        raise CassetteError(f"{source}: not valid YAML: {exc}") from None


def load_document(text: str, source: str) -> Any:
    """The document a YAML cassette holds, read as the server reads it: the cassette tooling checks what
    it writes with this (one loader for the shipped server and the tools)."""
    return _yaml_load(text, source)


def _body_bytes(body: Any, headers: list[tuple[str, str]], source: str) -> bytes:
    """The response body as bytes, decompressed when it was recorded compressed."""
    raw = body.get("string") if isinstance(body, dict) else body
    if raw is None:
        data = b""
    elif isinstance(raw, bytes):
        data = raw
    elif isinstance(raw, str):
        data = raw.encode("utf-8")
    else:
        raise CassetteError(f"{source}: response body must be a string, not {type(raw).__name__}")
    encoding = next((v.lower() for k, v in headers if k.lower() == "content-encoding"), "")
    try:
        if "gzip" in encoding:
            data = gzip.decompress(data)
        elif "deflate" in encoding:
            data = zlib.decompress(data)
    except (OSError, zlib.error) as exc:
        raise CassetteError(f"{source}: body declared {encoding!r} but does not decompress: {exc}") from None
    return data


def _interaction(entry: Any, source: str) -> Interaction:
    try:
        request, response = entry["request"], entry["response"]
        parts = urlsplit(str(request["uri"]))
        status = response["status"]
        code = int(status["code"]) if isinstance(status, dict) else int(status)
        reason = str(status.get("message") or "") if isinstance(status, dict) else ""
        headers: list[tuple[str, str]] = []
        for name, value in (response.get("headers") or {}).items():
            for item in value if isinstance(value, list) else [value]:
                headers.append((str(name), str(item)))
        body = _body_bytes(response.get("body"), headers, source)
        return Interaction(
            method=str(request.get("method") or "GET").upper(),
            path=normalize_path(parts.path),
            query=query_of(parts.query),
            status=code,
            reason=reason,
            headers=tuple((k, v) for k, v in headers if k.lower() not in _TRANSFER_HEADERS),
            body=body,
            source=source,
        )
    except CassetteError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CassetteError(f"{source}: not a vcrpy interaction ({type(exc).__name__}: {exc})") from None


def read_cassette(path: Path, source: str | None = None) -> list[Interaction]:
    """The interactions of one ``.yaml``/``.yml``/``.json`` cassette file; none for a mapping that is no cassette."""
    label = source or path.name
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else _yaml_load(text, label)
    if isinstance(data, dict) and "interactions" not in data and "version" not in data:
        return []  # another file kept beside the cassettes (an index, say): not a cassette
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise CassetteError(f"{label}: a cassette is a mapping with an 'interactions' list")
    return [_interaction(entry, f"{label}#{number}") for number, entry in enumerate(data["interactions"])]


def _cassette_files(root: Path) -> Iterator[tuple[Path, str]]:
    if root.is_file():
        yield root, root.name
        return
    for path in sorted(root.rglob("*")):  # sorted: the same files always load in the same order
        if path.suffix in _SUFFIXES and path.is_file() and not path.name.startswith("."):
            yield path, path.relative_to(root).as_posix()


def load_cassettes(root: Path) -> list[Interaction]:
    """Every interaction of every cassette under ``root`` (a directory, searched recursively, or one file)."""
    if not root.exists():
        raise CassetteError(f"{root}: no such cassette directory or file")
    interactions: list[Interaction] = []
    for path, label in _cassette_files(root):
        stat = path.stat()
        interactions.extend(_read_cached(str(path.resolve()), label, stat.st_mtime_ns, stat.st_size))
    return interactions


@functools.lru_cache(maxsize=1024)
def _read_cached(path: str, label: str, mtime_ns: int, size: int) -> tuple[Interaction, ...]:
    """Parsed once per file version: a test suite starts a server per test, parsing YAML is the slow part."""
    return tuple(read_cassette(Path(path), label))


def _as_vcr(interaction: Interaction) -> dict[str, Any]:
    query = [(k, v) for k, values in interaction.query.items() for v in values]
    from urllib.parse import quote, urlencode

    uri = "https://api.discogs.com" + quote(interaction.path) + ("?" + urlencode(query) if query else "")
    headers: dict[str, list[str]] = {}
    for name, value in interaction.headers:
        headers.setdefault(name, []).append(value)
    return {
        "request": {"body": None, "headers": {}, "method": interaction.method, "uri": uri},
        "response": {
            "status": {"code": interaction.status, "message": interaction.reason},
            "headers": headers,
            "body": {"string": interaction.body.decode("utf-8", "replace")},
        },
    }


def bundle(interactions: Iterable[Interaction], target: Path) -> int:
    """Write ``interactions`` as one JSON cassette (readable without PyYAML); returns how many."""
    entries = [_as_vcr(i) for i in interactions]
    target.write_text(json.dumps({"interactions": entries, "version": 1}, indent=1, ensure_ascii=False) + "\n")
    return len(entries)

"""Reading a response's header block without the ``email`` package: a fifth of a call's CPU.

``http.client`` parses every header block with the ``email`` package's feed parser, built for
mail messages, not for the sixteen ``Name: value`` lines an API answers with. This module plugs a
plainer reader into urllib3 through its public extension points: the pools' ``ConnectionCls``
(through the pool manager's ``pool_classes_by_scheme``) and http.client's ``response_class``, which
urllib3's ``HTTPConnection.getresponse`` documents. Everything after the header block (status
handling, body, chunked decoding, keep-alive) stays http.client's and urllib3's.

A block with a folded line (or a value holding a lone CR) is handed to http.client's own parser.
A line that is not ``Name: value`` (no colon, a space in the name), a body line where the blank
line should be, or a close inside the head is refused, as aiohttp refuses it: both clients read one
answer the same way (README, "Hostile answers"); http.client read on past such lines. Connection classes that
someone else has swapped in (vcrpy's cassette stubs, a test tool) are left alone.

The same connection class writes the request's header lines more cheaply too (``putheader``): a
line whose name is a plain token and whose value is printable ASCII, which is every header the
client sends itself, is written as ``Name: value`` at once instead of through http.client's and
urllib3's per-line checks (about 2 µs a line, six lines a call). Anything else (a name or value
outside that, urllib3's ``SKIP_HEADER``) goes through those checks as before, so what they refuse is
still refused. This writes to http.client's ``_output``, a private method (stable since Python 3.0):
the one place musicagent goes past a public interface of http.client on the request side.
"""

from __future__ import annotations

import http.client
from functools import cache, lru_cache
from typing import Any, BinaryIO

import urllib3
from urllib3.util import SKIP_HEADER

__all__ = ["install"]

_MAX_LINE = 65536  # http.client's limits, so that a hostile server meets the same walls
_MAX_HEADERS = 100
_NAME_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")  # a token
_LINE_STARTS = _NAME_CHARS | {ord(" "), ord("\t")}  # a header line's first byte: a name's, or a fold's


def _header_lines(fp: BinaryIO) -> list[bytes]:
    """The raw lines of a header block, up to and excluding the blank line that ends it."""
    lines: list[bytes] = []
    while True:
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n"):
            return lines
        if not line:  # http.client would take what came as the whole head (a cut-off 200 read as empty)
            raise http.client.HTTPException("the connection closed inside the response head")
        if line[0] not in _LINE_STARTS:  # a body sent without the blank line before it: refused now,
            raise http.client.HTTPException(f"malformed header line {line[:40]!r}")  # not waited on
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


class _PlainMessage(http.client.HTTPMessage):
    """Headers stored as they were decoded (latin-1, so never a surrogate): reading them back needs
    none of the ``email`` policy's per-value work, which would return them unchanged anyway."""

    def __init__(self, pairs: list[tuple[str, str]], first: dict[str, str]) -> None:
        super().__init__()
        self._headers = pairs
        self._first = first

    def items(self) -> list[tuple[str, str]]:
        return list(self._headers)

    def get(self, name: str, failobj: Any = None) -> Any:
        return self._first.get(name.lower(), failobj)


def _message(lines: list[bytes]) -> tuple[http.client.HTTPMessage, dict[str, str]]:
    """The HTTPMessage http.client would have built, without its detour through ``email``, and the
    first value of each header by lower-case name (what ``msg.get()`` answers)."""
    pairs: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.decode("latin-1").partition(":")
        value = value.lstrip(" \t").rstrip("\r\n")
        # A name must be a token: printable ASCII without spaces (the colon was split off). A lone
        # CR ends a line for the email package, so a value holding one is the reference's to read.
        if not (colon and name and name.isascii() and name.isprintable()) or " " in name or "\r" in value:
            if line[:1] in (b" ", b"\t") or (colon and "\r" in value):
                return _parsed_by_http_client(lines)  # folded, a lone CR: the reference parser decides
            # Not "Name: value" ("X A: 1", a line without a colon): aiohttp refuses the head, and so
            # does this reader (http.client read on past it, as mail headers), so both read one answer.
            raise http.client.HTTPException(f"malformed header line {line[:40]!r}")
        pairs.append((name, value))
    first = {name.lower(): value for name, value in reversed(pairs)}  # the first of repeated names wins
    return _PlainMessage(pairs, first), first


def _parsed_by_http_client(lines: list[bytes]) -> tuple[http.client.HTTPMessage, dict[str, str]]:
    import email.parser

    text = b"".join(lines).decode("iso-8859-1")
    message = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
    first: dict[str, str] = {}
    for name, value in message.raw_items():
        first.setdefault(name.lower(), value)
    return message, first


class _Response(http.client.HTTPResponse):
    """http.client's response; only the header block is read differently (see the module)."""

    def begin(self) -> None:
        if self.headers is not None:  # already read
            return
        version, status, reason = self._read_status()
        while 100 <= status < 200 and status != 101:  # interim (100, 103...): skip its headers, read the real one
            _header_lines(self.fp)
            version, status, reason = self._read_status()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.code = self.status = status
        self.reason = reason.strip()
        self.headers, first = _message(_header_lines(self.fp))
        self.msg = self.headers
        self.chunked = first.get("transfer-encoding", "").lower() == "chunked"
        if self.chunked:
            self.chunk_left = None
        self.will_close = _closes_after(self.version, first)
        self.length = None if self.chunked else _content_length(first.get("content-length"))
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or status < 200 or self._method == "HEAD":
            self.length = 0  # no body, whatever the headers say
        if self.length is None and not self.chunked:
            self.will_close = True  # the body ends when the connection does


def _closes_after(version: int, first: dict[str, str]) -> bool:
    """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it unless told to keep it."""
    connection = first.get("connection", "").lower()
    if version == 11:
        return "close" in connection
    keep = first.get("keep-alive") or "keep-alive" in connection
    return not (keep or "keep-alive" in first.get("proxy-connection", "").lower())


def _content_length(value: str | None) -> int | None:
    """The body's length; a value that is not plain digits is refused, as aiohttp refuses it.

    http.client would read ``-1``, ``abc`` or ``8, 8`` as "no length" and wait for the connection
    to close: a call held until its timeout, where the async client fails at once.
    """
    if value is None:
        return None
    text = value.strip(" \t")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:  # 18 digits: beyond any cap already
        raise http.client.HTTPException(f"invalid Content-Length {value[:40]!r}")
    return int(text)


_URLLIB3_CLASSES = ("HTTPConnection", "HTTPSConnection")


@lru_cache(maxsize=256)
def _name_prefix(name: str) -> bytes | None:
    """``b"Name: "`` for a header name that is a plain token; None for any other (checked the long way)."""
    raw = name.encode("ascii", "replace")
    return raw + b": " if raw and name.isascii() and _NAME_CHARS.issuperset(raw) else None


def _plain_line(header: Any, values: tuple[Any, ...]) -> bytes | None:
    """The header line ready to send when it is plainly safe; None to have urllib3 write it."""
    if len(values) == 1 and type(header) is str:
        value = values[0]
        # Printable ASCII holds no CR, LF or other control character, so nothing can be injected.
        if type(value) is str and value.isascii() and value.isprintable() and value != SKIP_HEADER:
            prefix = _name_prefix(header)
            if prefix is not None:
                return prefix + value.encode("ascii")
    return None


@cache
def _with_our_response(connection_class: type[Any]) -> type[Any]:
    """urllib3's own connection class, reading responses with :class:`_Response` and writing header
    lines with :func:`_plain_line`; any other class as it is."""
    # By name, not by the classes bound when this module was imported: imported first inside a vcrpy
    # cassette, those were vcrpy's stubs, and urllib3's own classes were then never given this reader.
    if connection_class.__module__ != "urllib3.connection" or connection_class.__name__ not in _URLLIB3_CLASSES:
        return connection_class

    def putheader(self: Any, header: str, *values: Any) -> None:
        line = _plain_line(header, values)
        if line is None:
            connection_class.putheader(self, header, *values)
        else:
            self._output(line)

    return type(connection_class.__name__, (connection_class,), {"response_class": _Response, "putheader": putheader})


class _HTTPPool(urllib3.HTTPConnectionPool):
    @property
    def ConnectionCls(self) -> type[Any]:  # type: ignore[override]  # noqa: N802 - urllib3's name
        # Looked up on every new connection, so that a class patched in later (vcrpy) still wins.
        return _with_our_response(urllib3.HTTPConnectionPool.ConnectionCls)


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    @property
    def ConnectionCls(self) -> type[Any]:  # type: ignore[override]  # noqa: N802 - urllib3's name
        return _with_our_response(urllib3.HTTPSConnectionPool.ConnectionCls)


def install(manager: urllib3.PoolManager) -> None:
    """Make the pools ``manager`` creates from now on read header blocks with this module."""
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

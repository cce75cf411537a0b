"""Argument checks the generated methods run before a request is built.

Type hints only help users who run a type checker; these checks give everyone a clear error that
names the parameter, before anything is sent.
"""

from __future__ import annotations

import math
import operator
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, BinaryIO, SupportsIndex, Union
from urllib.parse import quote, unquote_plus

from .errors import InvalidParameterError
from .redact import is_secret_param

__all__ = [
    "FileInput",
    "check_bool",
    "check_choice",
    "check_file",
    "check_headers",
    "check_int",
    "check_mapping",
    "check_number",
    "check_number_or_choice",
    "check_query",
    "check_str",
    "check_url_query",
    "drop_none",
    "is_token",
    "segment",
]


def _type_name(value: object) -> str:
    return type(value).__name__


def check_int(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None, hint: str | None = None
) -> int:
    """An integer, or an integer-like object such as a NumPy integer (anything with ``__index__``).

    ``bool`` is refused: ``True`` is never a meaningful id. Floats are refused even when whole, as
    ``1.0`` usually means a computation went wrong upstream. ``hint`` (from the spec's
    ``x-musicagent-hint``) says why a bound exists.
    """
    number = value if type(value) is int else _index(name, value)  # skip the Protocol check if we can
    if not -_INT_LIMIT <= number < _INT_LIMIT:  # also keeps str() below Python's digit limit
        raise InvalidParameterError(name, "is out of range: the API takes 64-bit integers")
    why = f" ({hint})" if hint else ""
    if minimum is not None and number < minimum:
        raise InvalidParameterError(name, f"must be >= {minimum}, got {number}{why}")
    if maximum is not None and number > maximum:
        raise InvalidParameterError(name, f"must be <= {maximum}, got {number}{why}")
    return number


_INT_LIMIT = 2**63


def _index(name: str, value: object) -> int:
    try:
        if isinstance(value, bool) or not isinstance(value, SupportsIndex):
            raise TypeError
        return operator.index(value)
    except TypeError:  # also an __index__ that refuses, as numpy.bool_ does
        raise InvalidParameterError(name, f"expected an integer, got {_type_name(value)} {value!r}") from None


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
) -> float | int:
    """A finite int or float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidParameterError(name, f"expected a finite number, got {_type_name(value)} {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidParameterError(name, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidParameterError(name, f"must be <= {maximum}, got {value}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise InvalidParameterError(name, f"must be > {exclusive_minimum}, got {value}")
    return value


def check_number_or_choice(
    name: str,
    value: object,
    choices: Collection[str],
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> int | float | str:
    """A number, or one of a few words the API also accepts in its place (``weight="auto"``)."""
    if isinstance(value, str):
        return check_choice(name, value, choices)
    if integer:
        return check_int(
            name,
            value,
            minimum=None if minimum is None else int(minimum),
            maximum=None if maximum is None else int(maximum),
        )
    return check_number(name, value, minimum=minimum, maximum=maximum)


def check_str(name: str, value: object, *, min_length: int | None = None, max_length: int | None = None) -> str:
    """A string; ``min_length=1`` also refuses whitespace-only values, which Discogs treats as empty."""
    if not isinstance(value, str):
        raise InvalidParameterError(name, f"expected a string, got {_type_name(value)} {value!r}")
    if min_length is not None and len(value.strip()) < min_length:
        raise InvalidParameterError(name, "must not be empty" if min_length == 1 else f"needs {min_length}+ characters")
    if max_length is not None and len(value) > max_length:
        raise InvalidParameterError(name, f"must be at most {max_length} characters")
    return value


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(name, f"expected True or False, got {_type_name(value)} {value!r}")
    return value


def check_choice(name: str, value: object, choices: Collection[str]) -> str:
    """One of a fixed set of strings (sort keys, types, currencies...)."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise InvalidParameterError(name, f"must be one of {allowed}; got {value!r}")
    return value


def segment(value: str | int | float) -> str:
    """Percent-encode one path segment so a username like ``a/b?c`` stays one segment.

    ``.`` and ``..`` are encoded too (``%2E``): left as they are, URL normalisation (urllib3's among
    it) would resolve them as "this" and "parent" segments and send the request to another endpoint.
    """
    text = quote(str(value), safe="")
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return text


FileInput = Union[str, "os.PathLike[str]", bytes, BinaryIO]
"""An upload: a path, the bytes themselves, or a binary file object."""


def check_file(name: str, value: object) -> tuple[str, bytes, str]:
    """Read an upload into the (filename, data, content type) triple urllib3's multipart encoder takes."""
    if isinstance(value, bytes):
        return (f"{name}.csv", value, "text/csv")
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise InvalidParameterError(name, f"no such file: {str(path)!r}")
        return (path.name, path.read_bytes(), "text/csv")
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        if not isinstance(data, bytes):
            raise InvalidParameterError(name, "the file object must be opened in binary mode")
        filename = Path(str(getattr(value, "name", f"{name}.csv"))).name
        return (filename, data, "text/csv")
    raise InvalidParameterError(name, f"expected a path, bytes or a binary file, got {_type_name(value)}")


def check_mapping(name: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidParameterError(name, f"expected a mapping such as a dict, got {_type_name(value)}")
    return value


def check_query(name: str, value: object) -> Mapping[str, Any]:
    """Query parameters a caller adds (``request(params=…)``, ``extra_query``): string names, none a credential's."""
    query = check_mapping(name, value)
    for key in query:
        if not isinstance(key, str):
            raise InvalidParameterError(name, f"parameter names must be strings, got {_type_name(key)} {key!r}")
        _refuse_credential(name, key)
    return query


def check_url_query(name: str, url: str) -> None:
    """The query written into a path or URL (``request("GET", "/x?token=…")``), held to :func:`check_query`'s rule."""
    _, mark, query = url.partition("#")[0].partition("?")
    if mark:
        for pair in query.split("&"):
            _refuse_credential(name, unquote_plus(pair.partition("=")[0]))


def _refuse_credential(name: str, key: str) -> None:
    """A parameter named as masking names a secret (``token``, ``api_key``, ``oauth_signature``…) is refused.

    In the URL a credential is kept by every proxy, server log and browser history on the way, and
    masking can only hide it from this process's own output. The client sends its credentials in the
    ``Authorization`` header, and only to the hosts allowed to receive them.
    """
    if is_secret_param(key):
        raise InvalidParameterError(
            name,
            f"{key!r} would put a credential in the URL, where proxies and server logs keep it; give "
            "credentials to the client instead (its token argument, or the OAuth consumer key and access "
            "token pairs), which sends them in the Authorization header",
        )


def check_headers(name: str, value: object) -> Mapping[str, str]:
    """Header names and values an HTTP request can carry: strings, latin-1, no line breaks (no injection)."""
    headers = check_mapping(name, value)
    for key, item in headers.items():
        for part in (key, item):
            if not isinstance(part, str):
                raise InvalidParameterError(name, f"{key!r}: header names and values must be strings")
            if any(ord(c) < 32 or ord(c) == 127 or ord(c) > 255 for c in part):
                raise InvalidParameterError(name, f"{key!r}: line breaks or characters a header cannot carry")
        if not is_token(key):
            raise InvalidParameterError(name, f"{key!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)")
    return headers


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def is_token(text: str) -> bool:
    """An HTTP token (RFC 9110): what a header name or a method may be; no ``:``, spaces or line breaks."""
    return _TOKEN.fullmatch(text) is not None


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """A request body without the arguments the caller left out."""
    return {k: v for k, v in values.items() if v is not None}

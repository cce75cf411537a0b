"""The public ``Discogs``: the generated operations plus the hand-written features beside them.

Composition is one line of inheritance: ``BaseClient`` (runtime) → generated ``Discogs`` (the resource
tree, ``_generated/client.py``) → ``Discogs`` (this module). Anything here may call generated
resources with full typing; nothing below may call up into it. An async client composes the same
way: the runtime's async base → the generated async resource tree → its subclass here.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, ClassVar

from .._generated import client as _generated
from .._runtime.client import not_json, options_of
from .._runtime.operations import OperationInfo
from .._runtime.params import check_query
from .._runtime.transport import RawResponse
from .._version import __version__
from .images import ImagesResource
from .oauth import OAuthFlow

__all__ = ["Discogs"]


class Discogs(_generated.Discogs):
    """The Discogs API client: ``discogs = Discogs(token=..., user_agent="myapp/1.0")``."""

    default_user_agent: ClassVar[str] = f"musicagent/{__version__}"

    @cached_property
    def images(self) -> ImagesResource:
        """Download signed image URLs through the limiter: ``discogs.images.download(url, path)``."""
        return ImagesResource(self)

    def _cache_operations(self) -> tuple[OperationInfo, ...]:
        """The spec's cache rules for the response cache (imported only when a cache is configured)."""
        from .._generated.operations import OPERATIONS

        return OPERATIONS

    def oauth_flow(self, *, callback: str | None = "oob") -> OAuthFlow:
        """The OAuth 1.0a steps for this client's consumer key and secret (see :class:`OAuthFlow`).

        ``callback`` is where Discogs sends the user after authorizing; ``"oob"`` (out of band) shows
        them a verifier code instead; ``None`` sends no ``oauth_callback`` at all.
        """
        return OAuthFlow(self, callback=callback)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
    ) -> Any:
        """Call any endpoint (one newer than the spec, say) with the same limiter, retries and errors.

        Returns the decoded JSON (None for an empty body). A GET is cached only when ``cache_ttl``
        says so (a number, or a ``"request"`` key): the spec knows nothing of the endpoint.
        """
        options = options_of(timeout, max_retries, extra_headers, None, cache)
        if params is not None:
            check_query("params", params)
        parse = json_or_none(f"{method.upper()} {path}")
        return self._transport.request(method.upper(), path, query=params, json=json, parse=parse, options=options)


def json_or_none(label: str) -> Callable[[RawResponse], Any]:
    """How ``request()`` reads an answer: JSON of any shape, None for an empty body."""

    def parse(raw: RawResponse) -> Any:
        if not raw.content.strip():
            return None
        try:
            return _json.loads(raw.content)
        except ValueError:
            raise not_json(raw, label) from None
        except RecursionError:  # absurdly deep nesting: the same body would come again
            raise not_json(raw, label, deep=True) from None

    return parse

"""The OAuth 1.0a dance (request token → authorize URL → access token) on top of the generated calls.

The two token endpoints are ordinary spec operations (``discogs.oauth.request_token`` and
``discogs.oauth.access_token``); what they need beyond a normal call is a differently signed
``Authorization`` header at each step, which this helper supplies. Discogs recommends the PLAINTEXT
signature over HTTPS; a request token and its verifier are valid for 15 minutes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .._runtime.auth import oauth_header
from .._runtime.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidParameterError,
)
from .._runtime.log import register_secret

if TYPE_CHECKING:
    from .._generated.async_client import AsyncDiscogs
    from .._generated.client import Discogs

__all__ = ["AUTHORIZE_URL", "AccessToken", "AsyncOAuthFlow", "OAuthFlow", "RequestToken"]

AUTHORIZE_URL = "https://www.discogs.com/oauth/authorize"
REQUEST_TOKEN_LIFETIME = 15 * 60.0
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class RequestToken:
    token: str
    secret: str = field(repr=False)
    created_at: float = field(default_factory=time.monotonic)

    @property
    def authorize_url(self) -> str:
        """Send the user here; Discogs shows them a verifier code (or redirects to your callback)."""
        return f"{AUTHORIZE_URL}?{urlencode({'oauth_token': self.token})}"

    @property
    def expired(self) -> bool:
        return time.monotonic() - self.created_at > REQUEST_TOKEN_LIFETIME


@dataclass(frozen=True)
class AccessToken:
    """Never expires; pass to ``Discogs(access_token=..., access_token_secret=...)``."""

    token: str = field(repr=False)
    secret: str = field(repr=False)


class _Steps:
    """What both flows share: the consumer's credentials, each step's signed header and checks, the answers."""

    def __init__(self, credentials: Any, callback: str | None) -> None:
        if not credentials.consumer_key or not credentials.consumer_secret:
            raise ConfigurationError(
                "OAuth needs consumer_key and consumer_secret (arguments or DISCOGS_CONSUMER_KEY/SECRET)"
            )
        self._key: str = credentials.consumer_key
        self._secret: str = credentials.consumer_secret
        self.callback = callback

    def _request_headers(self) -> dict[str, str]:
        return {"Authorization": oauth_header(self._key, self._secret, callback=self.callback), **_FORM}

    def _access_headers(self, request_token: RequestToken, verifier: str) -> dict[str, str]:
        if not isinstance(verifier, str) or not verifier.strip():
            raise InvalidParameterError("verifier", "must be the non-empty code Discogs showed the user")
        if request_token.expired:
            raise InvalidParameterError(
                "request_token", "has expired: request tokens are valid for 15 minutes; call request_token() again"
            )
        header = oauth_header(
            self._key, self._secret, token=request_token.token, token_secret=request_token.secret, verifier=verifier
        )
        return {"Authorization": header, **_FORM}

    @staticmethod
    def _explain(exc: APIError) -> None:
        exc.message = (
            f"{exc.message} (a request token and its verifier expire 15 minutes after request_token(); "
            "check the verifier or start again)"
        )


class OAuthFlow(_Steps):
    """``flow = discogs.oauth_flow(); rt = flow.request_token(); ...; at = flow.access_token(rt, verifier)``."""

    def __init__(self, client: Discogs, *, callback: str | None = "oob") -> None:
        super().__init__(client._transport.credentials, callback)
        self._client = client

    def request_token(self) -> RequestToken:
        """Step 1: a temporary token to send the user to :attr:`RequestToken.authorize_url` with."""
        answer = self._client.oauth.request_token(extra_headers=self._request_headers())
        return RequestToken(*_pair(answer, "request token"))

    def access_token(self, request_token: RequestToken, verifier: str) -> AccessToken:
        """Step 3: trade the authorized request token and the user's verifier for a lasting token."""
        headers = self._access_headers(request_token, verifier)
        try:
            answer = self._client.oauth.access_token(extra_headers=headers)
        except (BadRequestError, AuthenticationError) as exc:
            self._explain(exc)
            raise
        return AccessToken(*_pair(answer, "access token"))


class AsyncOAuthFlow(_Steps):
    """The same steps for ``AsyncDiscogs``: ``rt = await flow.request_token()``, ``await flow.access_token(...)``."""

    def __init__(self, client: AsyncDiscogs, *, callback: str | None = "oob") -> None:
        super().__init__(client._transport.credentials, callback)
        self._client = client

    async def request_token(self) -> RequestToken:
        """Step 1: a temporary token to send the user to :attr:`RequestToken.authorize_url` with."""
        answer = await self._client.oauth.request_token(extra_headers=self._request_headers())
        return RequestToken(*_pair(answer, "request token"))

    async def access_token(self, request_token: RequestToken, verifier: str) -> AccessToken:
        """Step 3: trade the authorized request token and the user's verifier for a lasting token."""
        headers = self._access_headers(request_token, verifier)
        try:
            answer = await self._client.oauth.access_token(extra_headers=headers)
        except (BadRequestError, AuthenticationError) as exc:
            self._explain(exc)
            raise
        return AccessToken(*_pair(answer, "access token"))


def _pair(answer: Any, what: str) -> tuple[str, str]:
    token, secret = answer.get("oauth_token"), answer.get("oauth_token_secret")
    if not token or not secret:
        raise APIError(f"Discogs sent no {what} (got keys {sorted(answer)})", status_code=200)
    register_secret(secret)
    return token, secret

"""Settings: explicit arguments win over environment variables, which win over a `.env` file.

One validated object so that a bad value fails at construction with a message naming its source,
never later inside a request.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from .errors import ConfigurationError

__all__ = ["DEFAULT_BASE_URL", "Settings", "is_loopback", "read_dotenv"]

DEFAULT_BASE_URL = "https://api.discogs.com"
AUTHENTICATED_RATE = (60, 60.0)
ANONYMOUS_RATE = (25, 60.0)

# setting name -> environment variables, first found wins
_ENV: dict[str, tuple[str, ...]] = {
    "token": ("DISCOGS_TOKEN", "DISCOGS_API_TOKEN"),
    "consumer_key": ("DISCOGS_CONSUMER_KEY",),
    "consumer_secret": ("DISCOGS_CONSUMER_SECRET",),
    "access_token": ("DISCOGS_ACCESS_TOKEN",),
    "access_token_secret": ("DISCOGS_ACCESS_TOKEN_SECRET",),
    "user_agent": ("DISCOGS_USER_AGENT",),
    "base_url": ("DISCOGS_BASE_URL",),
    "timeout": ("DISCOGS_TIMEOUT",),
    "max_retries": ("DISCOGS_MAX_RETRIES",),
    "deadline": ("DISCOGS_DEADLINE",),
    "rate_limit": ("DISCOGS_RATE_LIMIT",),
    "rate_limit_store": ("DISCOGS_RATE_LIMIT_STORE",),
    "cache": ("DISCOGS_CACHE",),
    "cache_ttl": ("DISCOGS_CACHE_TTL",),
}


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines (optional `export`, quotes, comments); a missing file is empty.

    A quoted value ends at its closing quote (a comment may follow it); an unquoted value ends at
    `` #``. A file that is not UTF-8 is a :class:`ConfigurationError`, not a silent skip.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return {}
    except UnicodeDecodeError:
        raise ConfigurationError(f"invalid .env file {str(path)!r}: it is not UTF-8 text") from None
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if value[:1] in ("'", '"') and value.find(value[0], 1) > 0:
            value = value[1 : value.find(value[0], 1)]
        elif value.startswith("#"):
            value = ""
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (brackets allowed): the only hosts plain http may reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_SECRETS = ("token", "consumer_secret", "access_token", "access_token_secret")
_CREDENTIALS = ("token", "consumer_key", "consumer_secret", "access_token", "access_token_secret")
_LAYERS = ("argument", "environment variable", ".env entry")


def _has_control_chars(value: str) -> bool:
    """Control characters, or anything an HTTP header cannot carry (headers are latin-1)."""
    return any(ord(c) < 32 or ord(c) == 127 or ord(c) > 255 for c in value)


def _incomplete_credentials(present: set[str]) -> tuple[str, str] | None:
    """(a credential that is set, one it needs that is not), or None when nothing is half-configured.

    Without a token, a consumer key without its secret (or an access token without its secret or
    without the consumer pair) would silently send unauthenticated requests.
    """
    if "token" in present:
        return None
    pairs = (
        ("consumer_key", "consumer_secret"),
        ("consumer_secret", "consumer_key"),
        ("access_token", "access_token_secret"),
        ("access_token_secret", "access_token"),
        ("access_token", "consumer_key"),
    )
    return next(((have, need) for have, need in pairs if have in present and need not in present), None)


class Settings(BaseModel):
    """Everything a client needs to know before its first request.

    Secrets are :class:`~pydantic.SecretStr`, so ``repr(settings)`` and error messages never show them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    user_agent: str | None = None
    base_url: str = DEFAULT_BASE_URL
    timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    max_retries: int = Field(default=3, ge=0, le=20)
    deadline: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    rate_limit: tuple[int, float] | Literal["auto"] | None = "auto"
    rate_limit_store: str | None = Field(default=None, repr=False)  # a Redis URL may hold a password
    cache: str | None = Field(default=None, repr=False)  # response cache: memory, sqlite:///…, redis://…
    cache_ttl: float | dict[str, float] | None = None  # seconds, or {operation pattern: seconds}

    @field_validator(*_CREDENTIALS, mode="before")
    @classmethod
    def _clean_credential(cls, value: Any) -> Any:
        """Surrounding whitespace is dropped (a pasted token often ends with a newline); blank is unset."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if _has_control_chars(value):
                raise ValueError("must not contain control characters or characters an HTTP header cannot carry")
        return value

    @field_validator("timeout", "max_retries", "deadline", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        return value

    @field_validator("user_agent")
    @classmethod
    def _check_user_agent(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or _has_control_chars(value)):
            raise ValueError("must be a non-empty single line, such as 'myapp/1.0 +https://example.org'")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        text = value.strip()
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not contain credentials, a query or a fragment")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
        except ValueError:
            raise ValueError(f"{value!r} has an invalid port") from None
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError(f"plain http is only allowed for loopback hosts, not {parts.hostname!r}; use https")
        return text.rstrip("/")

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("", "auto"):
                return "auto"
            if text in ("none", "off", "0", "false"):
                return None
            count, sep, seconds = text.partition("/")
            if not sep:
                raise ValueError("write it as REQUESTS/SECONDS, e.g. 60/60, or 'off'")
            return (count.strip(), seconds.strip())
        if isinstance(value, tuple | list) and any(isinstance(v, bool) for v in value):
            raise ValueError("expected (requests, seconds) numbers, got a bool")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: Any) -> Any:
        if isinstance(value, tuple) and (value[0] < 1 or not value[1] > 0 or value[1] == float("inf")):
            raise ValueError("needs at least 1 request per a positive number of seconds")
        return value

    @field_validator("rate_limit_store")
    @classmethod
    def _check_store(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite://", "redis://", "rediss://", "memory://")):
            raise ValueError("must be memory://, sqlite:///path/to/file.db or redis://host:port/db")
        return value

    @field_validator("cache", mode="before")
    @classmethod
    def _check_cache(cls, value: Any) -> Any:
        """Off unless asked; the URL's form is checked here, the store is opened by the client."""
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("", "off", "none", "false", "0"):
                return None
            if text != "memory" and not text.startswith(("memory://", "sqlite://", "redis://", "rediss://")):
                raise ValueError("must be memory, sqlite:///path/to/file.db or redis://host:port/db (or off)")
            return text
        return value

    @field_validator("cache_ttl", mode="before")
    @classmethod
    def _parse_cache_ttl(cls, value: Any) -> Any:
        from .cache import parse_ttl

        return parse_ttl(value)

    @model_validator(mode="after")
    def _check_credentials(self) -> Settings:
        problem = _incomplete_credentials({name for name in _CREDENTIALS if getattr(self, name) is not None})
        if problem is not None:
            raise ValueError(f"{problem[0]} is set but {problem[1]} is not; give both, or neither")
        return self

    @property
    def has_user_auth(self) -> bool:
        return self.token is not None or self.access_token is not None

    @property
    def is_authenticated(self) -> bool:
        return self.has_user_auth or self.consumer_key is not None

    @property
    def effective_rate_limit(self) -> tuple[int, float] | None:
        if self.rate_limit == "auto":
            return AUTHENTICATED_RATE if self.is_authenticated else ANONYMOUS_RATE
        return self.rate_limit

    @classmethod
    def resolve(
        cls,
        arguments: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        dotenv: Path | None = None,
    ) -> Settings:
        """Merge arguments, then the environment, then `.env`, setting by setting.

        An argument of None means "not given", except ``rate_limit``, whose presence alone counts
        (``rate_limit=None`` turns local limiting off). A token never overrides other credentials
        that come from a stronger source: ``Discogs(consumer_key=..., consumer_secret=...)``
        authenticates with the key and secret even when ``DISCOGS_TOKEN`` is set.

        Raises:
            ConfigurationError: a value is invalid; the message names its source, such as
                ``invalid environment variable DISCOGS_TIMEOUT: ...`` (never the value of a secret).
        """
        env = os.environ if environ is None else environ
        file_values = read_dotenv(dotenv if dotenv is not None else Path.cwd() / ".env")
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        layers: dict[str, int] = {}
        for name in cls.model_fields:
            if arguments.get(name) is not None or (name == "rate_limit" and name in arguments):
                values[name] = arguments[name]
                sources[name] = f"argument {name!r}"
                layers[name] = 0
                continue
            for index, layer in ((1, env), (2, file_values)):
                found = next((var for var in _ENV.get(name, ()) if layer.get(var, "").strip()), None)
                if found is not None:
                    values[name] = layer[found]
                    sources[name] = f"{_LAYERS[index]} {found}"
                    layers[name] = index
                    break
        others = [layers[name] for name in _CREDENTIALS[1:] if name in layers]
        if "token" in layers and others and min(others) < layers["token"]:
            del values["token"], sources["token"], layers["token"]
        problem = _incomplete_credentials(set(layers) & set(_CREDENTIALS))
        if problem is not None:
            have, need = problem
            raise ConfigurationError(
                f"invalid {sources[have]}: {have} is set but {need} is not; "
                f"give {need} too (as an argument or {_ENV[need][0]}), or neither"
            )
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = str(first["loc"][0]) if first["loc"] else "settings"
            where = sources.get(field, field)
            message = first["msg"].removeprefix("Value error, ")
            raise ConfigurationError(f"invalid {where}: {message}") from None

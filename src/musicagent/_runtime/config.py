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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import ConfigurationError

__all__ = ["DEFAULT_BASE_URL", "Settings", "read_dotenv"]

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
}


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines (optional `export`, quotes, comments); a missing file is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseModel):
    """Everything a client needs to know before its first request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    user_agent: str | None = None
    base_url: str = DEFAULT_BASE_URL
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    deadline: float | None = Field(default=None, gt=0)
    rate_limit: tuple[int, float] | None | Literal["auto"] = "auto"
    rate_limit_store: str | None = None

    @field_validator("token", "consumer_key", "consumer_secret", "access_token", "access_token_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("user_agent")
    @classmethod
    def _check_user_agent(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c in value for c in "\r\n")):
            raise ValueError("must be a non-empty single line, such as 'myapp/1.0 +https://example.org'")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not contain credentials, a query or a fragment")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError(f"plain http is only allowed for loopback hosts, not {parts.hostname!r}; use https")
        return value.strip().rstrip("/")

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
            return (count, seconds)
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: Any) -> Any:
        if isinstance(value, tuple) and (value[0] < 1 or value[1] <= 0):
            raise ValueError("needs at least 1 request per a positive number of seconds")
        return value

    @field_validator("rate_limit_store")
    @classmethod
    def _check_store(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite://", "redis://", "rediss://", "memory://")):
            raise ValueError("must be memory://, sqlite:///path/to/file.db or redis://host:port/db")
        return value

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
        """Merge arguments, then the environment, then `.env`.

        An argument of None means "not given", except ``rate_limit``, whose presence alone counts
        (``rate_limit=None`` turns local limiting off).
        """
        env = os.environ if environ is None else environ
        file_values = read_dotenv(dotenv if dotenv is not None else Path.cwd() / ".env")
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name in cls.model_fields:
            if arguments.get(name) is not None or (name == "rate_limit" and name in arguments):
                values[name] = arguments[name]
                sources[name] = f"argument {name!r}"
                continue
            for layer, label in ((env, "environment variable"), (file_values, ".env entry")):
                found = next((var for var in _ENV.get(name, ()) if layer.get(var, "").strip()), None)
                if found is not None:
                    values[name] = layer[found]
                    sources[name] = f"{label} {found}"
                    break
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "settings"
            where = sources.get(field, field)
            raise ConfigurationError(f"invalid {where}: {first['msg']}") from None

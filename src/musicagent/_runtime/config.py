"""Settings: explicit arguments win over environment variables, which win over a `.env` file.

One validated object so that a bad value fails at construction with a message naming its source,
never later inside a request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .stores import parse_store_url
from .urls import UnsafeURLError, base_may_carry_credentials, is_loopback, origin_of

__all__ = [
    "DEFAULT_BASE_URL",
    "Secret",
    "SettingError",
    "Settings",
    "environment_variables",
    "is_loopback",
    "read_dotenv",
]

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
    # transport limits (runtime)
    "credentials_hosts": ("DISCOGS_CREDENTIALS_HOSTS",),
    "max_response_bytes": ("DISCOGS_MAX_RESPONSE_BYTES",),
    "max_download_bytes": ("DISCOGS_MAX_DOWNLOAD_BYTES",),
}


def environment_variables() -> list[str]:
    """Every variable a setting is read from, in the order of the settings (for help texts)."""
    return [name for names in _ENV.values() for name in names]


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


class Secret:
    """A secret setting: ``repr``/``str`` show stars; :meth:`get_secret_value` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingError(ValueError):
    """A setting's value is refused; ``field`` names it so that :meth:`Settings.resolve` can name its source."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- the checks: each takes what was given (an argument, or text from the environment) and returns the
# value to keep, or raises ValueError with a message for the user. Plain functions rather than a
# pydantic model: building a model's validator costs more at start-up than the whole client.


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


def _credential(value: Any) -> str | None:
    """Surrounding whitespace is dropped (a pasted token often ends with a newline); blank is unset."""
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)  # a Secret, or pydantic's SecretStr
    text = _text(getter() if callable(getter) else value).strip()
    if not text:
        return None
    if _has_control_chars(text):
        raise ValueError("must not contain control characters or characters an HTTP header cannot carry")
    return text


def _secret(value: Any) -> Secret | None:
    text = _credential(value)
    return None if text is None else Secret(text)


def _number(value: Any, *, minimum: float | None = None, exclusive_minimum: float | None = None) -> float:
    """A finite number (text such as ``"2.5"`` from the environment included), never a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    if exclusive_minimum is not None and not number > exclusive_minimum:
        raise ValueError(f"must be greater than {exclusive_minimum:g}")
    if minimum is not None and number < minimum:
        raise ValueError(f"must be greater than or equal to {minimum:g}")
    return number


def _integer(value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number (``"5"`` and ``5.0`` included, ``1.5`` and bools refused) within the bounds."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value % 1:
        raise ValueError(f"expected a whole number, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"must be greater than or equal to {minimum}")
    if maximum is not None and number > maximum:
        raise ValueError(f"must be less than or equal to {maximum}")
    return number


Check = Callable[[Any], Any]


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _user_agent(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value)
    if not text.strip() or _has_control_chars(text):
        raise ValueError("must be a non-empty single line, such as 'myapp/1.0 +https://example.org'")
    return text


def _base_url(value: Any) -> str:
    text = _text(value).strip()
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
    try:
        origin_of(text, cross_check=False)  # the transport cross-checks with urllib3 at its first request
    except UnsafeURLError as exc:
        raise ValueError(str(exc)) from None
    return text.rstrip("/")


def _rate_limit(value: Any) -> tuple[int, float] | Literal["auto"] | None:
    """``"auto"``, None (off), ``(requests, seconds)`` or its text form ``"60/60"``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "auto"):
            return "auto"
        if text in ("none", "off", "0", "false"):
            return None
        count, sep, seconds = text.partition("/")
        if not sep:
            raise ValueError("write it as REQUESTS/SECONDS, e.g. 60/60, or 'off'")
        value = (count, seconds)
    if not isinstance(value, tuple | list) or len(value) != 2 or any(isinstance(v, bool) for v in value):
        raise ValueError("expected (requests, seconds) numbers, 'auto' or None")
    try:
        pair = (_integer(value[0]), _number(value[1]))
    except ValueError:
        raise ValueError("needs at least 1 request per a positive number of seconds") from None
    if pair[0] < 1 or not pair[1] > 0:
        raise ValueError("needs at least 1 request per a positive number of seconds")
    return pair


def _rate_limit_store(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value).strip()
    parse_store_url(text)  # the same rules as the cache's store
    return text


def _cache(value: Any) -> str | None:
    """The response cache: off unless asked; the URL's form is checked here, the store opened by the client."""
    if value is None:
        return None
    text = _text(value).strip()
    if text.lower() in ("", "off", "none", "false", "0"):
        return None
    parse_store_url(text)  # the same rules as the rate limiter's store
    return text


def _cache_ttl(value: Any) -> float | dict[str, float] | None:
    from .cache import parse_ttl  # only when a TTL is given

    return parse_ttl(value)


# -- transport limits (runtime): where credentials may go, how large an answer may be ---------------


def _hosts(value: Any) -> tuple[str, ...]:
    """A comma-separated list (environment, `.env`) or a sequence of host names; kept in lower case."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset):
        raise ValueError("expected host names, e.g. ('proxy.example.org',) or 'a.example,b.example'")
    hosts = []
    for item in items:
        host = item.strip().lower() if isinstance(item, str) else item
        if not isinstance(host, str) or not host or any(c in host for c in "/:@\\ \t"):
            raise ValueError(f"expected bare host names such as 'proxy.example.org', got {item!r}")
        hosts.append(host)
    return tuple(hosts)


def _size(value: Any) -> int:
    return _integer(value, minimum=1024)


def _credentials_go_to_base(settings: Settings) -> None:
    """Credentials are configured: the base URL must be a host allowed to receive them."""
    if not settings.is_authenticated:
        return
    origin = origin_of(settings.base_url, cross_check=False)
    if not base_may_carry_credentials(origin, settings.credentials_hosts):
        raise SettingError(
            "base_url",
            f"credentials are only sent to Discogs hosts (*.discogs.com) and loopback, not to {origin.host!r}; "
            f"to send them there, list it in credentials_hosts (DISCOGS_CREDENTIALS_HOSTS={origin.host})",
        )


# name -> (check, default). A new setting is one line here, one attribute below and its variables in _ENV.
_FIELDS: dict[str, tuple[Check, Any]] = {
    "token": (_secret, None),
    "consumer_key": (_credential, None),
    "consumer_secret": (_secret, None),
    "access_token": (_secret, None),
    "access_token_secret": (_secret, None),
    "user_agent": (_user_agent, None),
    "base_url": (_base_url, DEFAULT_BASE_URL),
    "timeout": (lambda v: _number(v, exclusive_minimum=0), 30.0),
    "max_retries": (lambda v: _integer(v, minimum=0, maximum=20), 3),
    "deadline": (_optional(lambda v: _number(v, exclusive_minimum=0)), None),
    "rate_limit": (_rate_limit, "auto"),
    "rate_limit_store": (_rate_limit_store, None),
    "cache": (_cache, None),
    "cache_ttl": (_cache_ttl, None),
    "credentials_hosts": (_hosts, ()),
    "max_response_bytes": (_size, 64 * 2**20),
    "max_download_bytes": (_size, 4 * 2**30),
}
_HIDDEN = frozenset({"rate_limit_store", "cache"})  # left out of repr: a Redis URL may hold a password


class Settings:
    """Everything a client needs to know before its first request, checked when built.

    Immutable. Secrets are :class:`Secret`, so ``repr(settings)`` and error messages never show them.
    A refused value raises :class:`SettingError` (a ``ValueError``) naming the setting.
    """

    token: Secret | None
    consumer_key: str | None
    consumer_secret: Secret | None
    access_token: Secret | None
    access_token_secret: Secret | None
    user_agent: str | None
    base_url: str
    timeout: float
    max_retries: int
    deadline: float | None
    rate_limit: tuple[int, float] | Literal["auto"] | None
    rate_limit_store: str | None
    cache: str | None  # response cache: memory, sqlite:///…, redis://…
    cache_ttl: float | dict[str, float] | None  # seconds, or {operation pattern: seconds}
    credentials_hosts: tuple[str, ...]
    max_response_bytes: int
    max_download_bytes: int

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(_FIELDS))
        if unknown:
            raise SettingError(unknown[0], "is not a setting")
        for name, (check, default) in _FIELDS.items():
            if name not in values:
                object.__setattr__(self, name, default)
                continue
            try:
                object.__setattr__(self, name, check(values[name]))
            except ValueError as exc:
                raise SettingError(name, str(exc)) from None
        problem = _incomplete_credentials({name for name in _CREDENTIALS if getattr(self, name) is not None})
        if problem is not None:
            raise SettingError(problem[0], f"{problem[0]} is set but {problem[1]} is not; give both, or neither")
        _credentials_go_to_base(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are immutable; build a new client to change {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"settings are immutable; cannot delete {name!r}")

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS if name not in _HIDDEN)
        return f"Settings({shown})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and all(getattr(self, n) == getattr(other, n) for n in _FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _FIELDS))

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
        for name in _FIELDS:
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
        except SettingError as exc:
            raise ConfigurationError(f"invalid {sources.get(exc.field, exc.field)}: {exc.message}") from None

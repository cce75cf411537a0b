"""Configuration: arguments > environment > .env, validated up front, secrets never shown.

The shared conftest clears DISCOGS_* variables and runs each test in a fresh working directory, so
a ``.env`` written to the current directory is the one the client reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sdk_server import DiscogsServer, Reply, Seen, artist_body
from pydantic import SecretStr

import musicagent
from musicagent import APITimeoutError, AuthenticationError, ConfigurationError, Discogs, DiscogsError
from musicagent._runtime.config import Settings, read_dotenv

TOKEN = "tok-SECRET-4c9e1a77"
OTHER = "tok-OTHER-0b12d3f4"


@pytest.fixture
def server() -> Iterator[DiscogsServer]:
    with DiscogsServer() as s:
        yield s


def write_env(text: str, where: Path | None = None) -> Path:
    path = (where or Path.cwd()) / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def sent_authorization(server: DiscogsServer, **kwargs: Any) -> str | None:
    """Build a client against the server, make one request, return the Authorization it sent."""
    discogs = Discogs(base_url=server.url, rate_limit=None, max_retries=0, **kwargs)
    discogs.artists.get(1)
    return server.requests[-1].headers.get("Authorization")


# -- where the token comes from -----------------------------------------------------------------------


def test_token_from_the_argument(server: DiscogsServer) -> None:
    assert sent_authorization(server, token=TOKEN) == f"Discogs token={TOKEN}"


def test_token_from_DISCOGS_TOKEN(server: DiscogsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_TOKEN", TOKEN)
    assert sent_authorization(server) == f"Discogs token={TOKEN}"


def test_token_from_the_older_DISCOGS_API_TOKEN(server: DiscogsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_API_TOKEN", TOKEN)
    assert sent_authorization(server) == f"Discogs token={TOKEN}"


def test_DISCOGS_TOKEN_wins_over_DISCOGS_API_TOKEN(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_API_TOKEN", OTHER)
    monkeypatch.setenv("DISCOGS_TOKEN", TOKEN)
    token = Discogs().settings.token
    assert token is not None and token.get_secret_value() == TOKEN


def test_token_from_a_dotenv_file_in_the_working_directory(server: DiscogsServer) -> None:
    write_env(f"# my settings\nDISCOGS_TOKEN={TOKEN}\n")
    assert sent_authorization(server) == f"Discogs token={TOKEN}"


def test_the_argument_wins_over_the_environment_which_wins_over_dotenv(
    server: DiscogsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env("DISCOGS_TOKEN=from-dotenv\n")
    monkeypatch.setenv("DISCOGS_TOKEN", "from-environment")

    assert sent_authorization(server, token="from-argument") == "Discogs token=from-argument"
    assert sent_authorization(server) == "Discogs token=from-environment"
    monkeypatch.delenv("DISCOGS_TOKEN")
    assert sent_authorization(server) == "Discogs token=from-dotenv"


def test_precedence_holds_setting_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    write_env("DISCOGS_TIMEOUT=7\nDISCOGS_MAX_RETRIES=9\nDISCOGS_USER_AGENT=dotenv/1\n")
    monkeypatch.setenv("DISCOGS_MAX_RETRIES", "5")

    settings = Discogs(user_agent="arg/1").settings

    assert (settings.timeout, settings.max_retries, settings.user_agent) == (7.0, 5, "arg/1")


def test_a_blank_environment_variable_falls_through_to_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    write_env(f"DISCOGS_TOKEN={TOKEN}\n")
    monkeypatch.setenv("DISCOGS_TOKEN", "  ")
    token = Discogs().settings.token
    assert token is not None and token.get_secret_value() == TOKEN


def test_no_credentials_sends_no_authorization(server: DiscogsServer) -> None:
    assert sent_authorization(server) is None


def test_explicit_env_mapping_and_dotenv_path_replace_the_process_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOGS_TIMEOUT", "3")
    write_env("DISCOGS_MAX_RETRIES=4\n")
    elsewhere = write_env("DISCOGS_MAX_RETRIES=6\n", tmp_path)

    settings = Discogs(env={"DISCOGS_TIMEOUT": "8"}, dotenv=elsewhere).settings

    assert (settings.timeout, settings.max_retries) == (8.0, 6)


def test_a_pasted_token_with_a_trailing_newline_is_cleaned(server: DiscogsServer) -> None:
    write_env(f'DISCOGS_TOKEN=" {TOKEN} "\n')
    assert sent_authorization(server) == f"Discogs token={TOKEN}"


# -- key/secret and OAuth credentials -------------------------------------------------------------


def test_consumer_key_and_secret_from_arguments(server: DiscogsServer) -> None:
    assert sent_authorization(server, consumer_key="ck", consumer_secret="cs") == "Discogs key=ck, secret=cs"


def test_consumer_key_and_secret_from_the_environment(server: DiscogsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_CONSUMER_KEY", "ck")
    monkeypatch.setenv("DISCOGS_CONSUMER_SECRET", "cs")
    assert sent_authorization(server) == "Discogs key=ck, secret=cs"


def test_a_token_in_the_environment_does_not_override_key_and_secret_arguments(
    server: DiscogsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOGS_TOKEN", TOKEN)
    assert sent_authorization(server, consumer_key="ck", consumer_secret="cs") == "Discogs key=ck, secret=cs"


def test_a_token_in_dotenv_does_not_override_key_and_secret_from_the_environment(
    server: DiscogsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(f"DISCOGS_TOKEN={TOKEN}\n")
    monkeypatch.setenv("DISCOGS_CONSUMER_KEY", "ck")
    monkeypatch.setenv("DISCOGS_CONSUMER_SECRET", "cs")
    assert sent_authorization(server) == "Discogs key=ck, secret=cs"


def test_a_token_argument_wins_over_everything(server: DiscogsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_CONSUMER_KEY", "ck")
    monkeypatch.setenv("DISCOGS_CONSUMER_SECRET", "cs")
    assert sent_authorization(server, token=TOKEN, consumer_key="k2", consumer_secret="s2") == f"Discogs token={TOKEN}"


def test_oauth_credentials_mix_the_app_pair_from_the_environment_with_user_tokens(
    server: DiscogsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOGS_CONSUMER_KEY", "ck")
    monkeypatch.setenv("DISCOGS_CONSUMER_SECRET", "cs")

    header = sent_authorization(server, access_token="at", access_token_secret="ats")

    assert header is not None and header.startswith("OAuth ")
    assert 'oauth_token="at"' in header and 'oauth_signature="cs%26ats"' in header


@pytest.mark.parametrize(
    ("kwargs", "env", "source", "problem"),
    [
        ({"consumer_key": "ck"}, {}, "argument 'consumer_key'", "but consumer_secret is not"),
        (
            {},
            {"DISCOGS_CONSUMER_SECRET": "cs"},
            "environment variable DISCOGS_CONSUMER_SECRET",
            "but consumer_key is not",
        ),
        (
            {"access_token": "at", "access_token_secret": "ats"},
            {},
            "argument 'access_token'",
            "but consumer_key is not",
        ),
        (
            {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at"},
            {},
            "argument 'access_token'",
            "but access_token_secret is not",
        ),
    ],
)
def test_half_configured_credentials_are_refused_instead_of_sending_anonymous_requests(
    kwargs: dict[str, Any], env: dict[str, str], source: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Discogs(env=env, **kwargs)
    assert str(caught.value).startswith(f"invalid {source}: ")
    assert problem in str(caught.value)
    assert "***" not in str(caught.value)  # secret masking leaves the wording alone


def test_credential_error_messages_are_readable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Discogs(consumer_key="ck")
    assert str(caught.value).startswith(
        "invalid argument 'consumer_key': consumer_key is set but consumer_secret is not"
    )


def test_a_token_makes_leftover_half_credentials_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_CONSUMER_KEY", "ck")
    assert repr(Discogs(token=TOKEN)).endswith("auth=token>")


def test_settings_built_directly_check_credentials_too() -> None:
    with pytest.raises(ValueError, match="consumer_key is set but consumer_secret is not"):
        Settings(consumer_key="ck")


# -- base_url -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://api.discogs.com", "https://api.discogs.com"),
        ("https://proxy.example.org/discogs/", "https://proxy.example.org/discogs"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://LOCALHOST:8080/", "http://LOCALHOST:8080"),
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
        ("http://127.5.6.7", "http://127.5.6.7"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("  https://api.discogs.com/  ", "https://api.discogs.com"),
    ],
)
def test_accepted_base_urls(given: str, kept: str) -> None:
    assert Discogs(base_url=given).settings.base_url == kept


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("http://api.discogs.com", "plain http is only allowed for loopback hosts"),
        ("http://127.0.0.1.nip.io", "plain http is only allowed for loopback hosts"),
        ("http://localhost.example.com", "plain http is only allowed for loopback hosts"),
        ("http://10.0.0.1", "plain http is only allowed for loopback hosts"),
        ("ftp://api.discogs.com", "is not an http(s) URL"),
        ("api.discogs.com", "is not an http(s) URL"),
        ("", "is not an http(s) URL"),
        ("https://user:pw@api.discogs.com", "must not contain credentials"),
        ("https://api.discogs.com/?x=1", "must not contain credentials, a query"),
        ("https://api.discogs.com:notaport", "invalid port"),
    ],
)
def test_refused_base_urls_name_the_argument(given: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Discogs(base_url=given)
    assert str(caught.value).startswith("invalid argument 'base_url': ")
    assert reason in str(caught.value)


def test_base_url_from_the_environment_is_used(server: DiscogsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_BASE_URL", server.url)
    assert Discogs(rate_limit=None).artists.get(5).id == 5
    assert server.requests[0].target == "/artists/5"


def test_a_bad_base_url_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_BASE_URL", "http://example.com")
    with pytest.raises(ConfigurationError, match=r"^invalid environment variable DISCOGS_BASE_URL: plain http"):
        Discogs()


def test_the_default_base_url_is_discogs() -> None:
    assert Discogs().settings.base_url == "https://api.discogs.com"


# -- errors name their source -------------------------------------------------------------------------


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match=r"^invalid environment variable DISCOGS_TIMEOUT: "):
        Discogs()


def test_a_bad_dotenv_value_names_the_entry() -> None:
    write_env("DISCOGS_MAX_RETRIES=-2\n")
    with pytest.raises(ConfigurationError, match=r"^invalid \.env entry DISCOGS_MAX_RETRIES: .*greater than or equal"):
        Discogs()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.5}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": 21}, "max_retries"),
        ({"deadline": 0}, "deadline"),
        ({"rate_limit": (0, 60)}, "rate_limit"),
        ({"rate_limit": (10, 0)}, "rate_limit"),
        ({"rate_limit": (True, 60)}, "rate_limit"),
        ({"rate_limit": "lots"}, "rate_limit"),
        ({"rate_limit_store": "postgres://x"}, "rate_limit_store"),
        ({"user_agent": "a\r\nX-Injected: 1"}, "user_agent"),
        ({"user_agent": "   "}, "user_agent"),
    ],
)
def test_bad_arguments_raise_configuration_error_naming_the_argument(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Discogs(**kwargs)
    assert str(caught.value).startswith(f"invalid argument {name!r}: ")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DiscogsError)


# -- user agent, timeout, retries, rate limit ---------------------------------------------------------


def test_user_agent_defaults_to_musicagent_and_version(server: DiscogsServer) -> None:
    Discogs(base_url=server.url, rate_limit=None).artists.get(1)
    assert server.requests[0].headers["User-Agent"] == f"musicagent/{musicagent.__version__}"


def test_user_agent_from_argument_and_environment(server: DiscogsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_USER_AGENT", "envapp/2.0")
    Discogs(base_url=server.url, rate_limit=None).artists.get(1)
    Discogs(base_url=server.url, rate_limit=None, user_agent="myapp/1.0 +https://example.org").artists.get(1)
    assert [r.headers["User-Agent"] for r in server.requests] == ["envapp/2.0", "myapp/1.0 +https://example.org"]


def _slow(seen: Seen) -> Reply:
    time.sleep(0.5)
    return 200, {"Content-Type": "application/json"}, json.dumps(artist_body(1)).encode()


def test_the_client_timeout_applies_and_a_per_call_timeout_overrides_it(server: DiscogsServer) -> None:
    server.routes["/artists/1"] = _slow
    impatient = Discogs(base_url=server.url, rate_limit=None, max_retries=0, timeout=0.1)
    patient = Discogs(base_url=server.url, rate_limit=None, max_retries=0, timeout=10)

    with pytest.raises(APITimeoutError):
        impatient.artists.get(1)
    assert impatient.artists.get(1, timeout=10).id == 1
    with pytest.raises(APITimeoutError):
        patient.artists.get(1, timeout=0.1)


def test_timeout_and_retries_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Discogs().settings.timeout, Discogs().settings.max_retries) == (30.0, 3)
    monkeypatch.setenv("DISCOGS_TIMEOUT", "2.5")
    monkeypatch.setenv("DISCOGS_MAX_RETRIES", "0")
    monkeypatch.setenv("DISCOGS_DEADLINE", "60")
    settings = Discogs().settings
    assert (settings.timeout, settings.max_retries, settings.deadline) == (2.5, 0, 60.0)


@pytest.mark.parametrize(
    ("kwargs", "env", "expected"),
    [
        ({}, {}, (25, 60.0)),  # anonymous default
        ({"token": TOKEN}, {}, (60, 60.0)),  # authenticated default
        ({"consumer_key": "k", "consumer_secret": "s"}, {}, (60, 60.0)),
        ({"rate_limit": (10, 5)}, {}, (10, 5.0)),
        ({"rate_limit": [3, 1.5]}, {}, (3, 1.5)),
        ({}, {"DISCOGS_RATE_LIMIT": "30/60"}, (30, 60.0)),
        ({}, {"DISCOGS_RATE_LIMIT": " 30 / 90 "}, (30, 90.0)),
        ({}, {"DISCOGS_RATE_LIMIT": "auto"}, (25, 60.0)),
        ({"rate_limit": (10, 5)}, {"DISCOGS_RATE_LIMIT": "30/60"}, (10, 5.0)),
    ],
)
def test_rate_limit_sizes_the_local_limiter(
    kwargs: dict[str, Any], env: dict[str, str], expected: tuple[int, float]
) -> None:
    state = Discogs(env=env, **kwargs).rate_limit
    assert (state.local_limit, state.window) == expected


@pytest.mark.parametrize(
    "env", [{"DISCOGS_RATE_LIMIT": "off"}, {"DISCOGS_RATE_LIMIT": "none"}, {"DISCOGS_RATE_LIMIT": "0"}]
)
def test_rate_limit_off(env: dict[str, str]) -> None:
    assert Discogs(env=env).settings.effective_rate_limit is None
    assert Discogs(env=env).rate_limit.local_limit is None


def test_a_memory_rate_limit_store_is_accepted() -> None:
    discogs = Discogs(rate_limit_store="memory://", env={"DISCOGS_RATE_LIMIT": "12/30"})
    assert (discogs.settings.rate_limit_store, discogs.rate_limit.local_limit) == ("memory://", 12)


def test_settings_accept_secretstr_values_and_clean_them() -> None:
    settings = Settings(token=SecretStr(f"  {TOKEN}\n"), access_token=SecretStr("   "))
    assert settings.token is not None and settings.token.get_secret_value() == TOKEN
    assert settings.access_token is None


def test_rate_limit_none_argument_turns_the_limiter_off_even_if_the_environment_sets_one() -> None:
    discogs = Discogs(rate_limit=None, env={"DISCOGS_RATE_LIMIT": "30/60"})
    assert discogs.rate_limit.local_limit is None


# -- secrets stay secret -----------------------------------------------------------------------------


def test_the_token_is_not_in_reprs() -> None:
    discogs = Discogs(token=TOKEN, consumer_key="ck", consumer_secret="cs-SECRET-9")
    for text in (repr(discogs), str(discogs), repr(discogs.settings), str(discogs.settings)):
        assert TOKEN not in text and "cs-SECRET-9" not in text
    assert repr(discogs).endswith("auth=token>")


def test_the_token_is_not_in_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOGS_TOKEN", TOKEN)
    with pytest.raises(ConfigurationError) as caught:
        Discogs(timeout=-1)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_token_with_control_characters_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Discogs(token="abc\r\nX-Evil: 1")
    assert str(caught.value).startswith("invalid argument 'token': must not contain control characters")
    assert "abc" not in str(caught.value) and "Evil" not in str(caught.value)


def test_the_token_is_not_in_request_errors(server: DiscogsServer) -> None:
    def unauthorized(seen: Seen) -> Reply:
        return (
            401,
            {"Content-Type": "application/json"},
            b'{"message": "You must authenticate to access this resource."}',
        )

    server.routes["/artists/1"] = unauthorized
    discogs = Discogs(token=TOKEN, base_url=server.url, rate_limit=None, max_retries=0)

    with pytest.raises(AuthenticationError) as caught:
        discogs.artists.get(1)

    error = caught.value
    assert error.status_code == 401 and "authenticate" in error.message
    assert all(TOKEN not in text for text in (str(error), repr(error), error.url or ""))
    # never a query parameter either
    assert "token" not in server.requests[0].target


# -- the .env reader --------------------------------------------------------------------------------


def test_read_dotenv_syntax(tmp_path: Path) -> None:
    path = write_env(
        "\n".join(
            [
                "# a comment",
                "PLAIN=value",
                "export EXPORTED=yes",
                "SPACED = spaced value ",
                'DOUBLE="quoted # not a comment"',
                "SINGLE='single'  # a comment after quotes",
                "INLINE=abc # trailing comment",
                "HASH=abc#def",
                "EMPTY=",
                "ONLY_COMMENT= # nothing",
                "EQUALS=a=b=c",
                "not a setting",
            ]
        ),
        tmp_path,
    )

    assert read_dotenv(path) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "spaced value",
        "DOUBLE": "quoted # not a comment",
        "SINGLE": "single",
        "INLINE": "abc",
        "HASH": "abc#def",
        "EMPTY": "",
        "ONLY_COMMENT": "",
        "EQUALS": "a=b=c",
    }


def test_read_dotenv_tolerates_a_bom_and_windows_line_ends(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbfDISCOGS_TOKEN=abc\r\nDISCOGS_TIMEOUT=5\r\n")
    assert read_dotenv(path) == {"DISCOGS_TOKEN": "abc", "DISCOGS_TIMEOUT": "5"}


def test_read_dotenv_missing_file_or_directory_is_empty(tmp_path: Path) -> None:
    assert read_dotenv(tmp_path / "absent") == {}
    assert read_dotenv(tmp_path) == {}


def test_a_dotenv_that_is_not_utf8_is_a_configuration_error() -> None:
    (Path.cwd() / ".env").write_bytes(b"DISCOGS_TOKEN=\xff\xfe\n")
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        Discogs()


def test_a_rate_limit_store_password_stays_out_of_the_settings_repr() -> None:
    settings = Settings(rate_limit_store="redis://:hunter22@127.0.0.1:6379/0")
    assert "hunter22" not in repr(settings)
    assert settings.rate_limit_store == "redis://:hunter22@127.0.0.1:6379/0"


# -- Settings is a plain class (no pydantic at start-up); it keeps the model's guarantees ---------------


def test_settings_are_immutable() -> None:
    settings = Discogs(timeout=5).settings
    with pytest.raises(AttributeError, match="immutable"):
        settings.timeout = 1  # type: ignore[misc]
    assert settings.timeout == 5.0


def test_an_unknown_setting_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="tiemout"):
        Settings(tiemout=5)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DISCOGS_MAX_RETRIES": "1.5"}, "expected a whole number"),
        ({"DISCOGS_TIMEOUT": "nan"}, "finite"),
        ({"DISCOGS_RATE_LIMIT": "30/inf"}, "at least 1 request per a positive number of seconds"),
    ],
)
def test_text_from_the_environment_is_checked_like_an_argument(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^invalid environment variable {next(iter(env))}: .*{expected}"):
        Discogs(env=env)


def test_numbers_as_text_are_taken() -> None:
    settings = Discogs(
        env={"DISCOGS_MAX_RETRIES": " 5 ", "DISCOGS_TIMEOUT": "2.5", "DISCOGS_RATE_LIMIT": "3/1.5"}
    ).settings
    assert (settings.max_retries, settings.timeout, settings.rate_limit) == (5, 2.5, (3, 1.5))


def test_secret_settings_show_stars_and_compare_by_value() -> None:
    a, b = Settings(token=TOKEN), Settings(token=f" {TOKEN} ")
    assert a == b and a.token == b.token and hash(a) == hash(b)
    assert TOKEN not in repr(a.token) and TOKEN not in str(a.token)


# -- every setting, from every source ----------------------------------------------------------------

# setting -> (a value as text, what the client keeps, another value, a value refused, settings it needs beside it)
EVERY_SETTING: dict[str, tuple[str, Any, str, str, dict[str, Any]]] = {
    "token": ("tok-A", "tok-A", "tok-B", "tok\x01", {}),
    "consumer_key": ("key-A", "key-A", "key-B", "key\x01", {"consumer_secret": "cs"}),
    "consumer_secret": ("cs-A", "cs-A", "cs-B", "cs\x01", {"consumer_key": "ck"}),
    "access_token": ("at-A", "at-A", "at-B", "at\x01", {"token": "t"}),
    "access_token_secret": ("as-A", "as-A", "as-B", "as\x01", {"token": "t"}),
    "user_agent": ("app/1.0", "app/1.0", "app/2.0", "app\x01", {}),
    "base_url": ("http://127.0.0.1:8990", "http://127.0.0.1:8990", "http://127.0.0.1:8991", "ftp://x", {}),
    "timeout": ("2.5", 2.5, "7", "soon", {}),
    "max_retries": ("5", 5, "1", "-1", {}),
    "deadline": ("10", 10.0, "20", "0", {}),
    "rate_limit": ("30/60", (30, 60.0), "10/1", "fast", {}),
    "rate_limit_store": ("memory", "memory", "memory://", "ftp://x", {}),
    "cache": ("memory", "memory", "memory://", "sqlite://", {}),
    "cache_ttl": ("3600", 3600.0, "60", "soon", {"cache": "memory"}),
    "credentials_hosts": ("a.example,b.example", ("a.example", "b.example"), "c.example", "a/b", {}),
    "max_response_bytes": ("2048", 2048, "4096", "10", {}),
    "max_download_bytes": ("8192", 8192, "4096", "12", {}),
}


def kept(client: Discogs, name: str) -> Any:
    value = getattr(client._settings, name)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def test_the_table_below_covers_every_setting() -> None:
    assert set(EVERY_SETTING) == set(Settings.__annotations__)


@pytest.mark.parametrize("name", sorted(EVERY_SETTING))
def test_every_setting_comes_from_an_argument_the_environment_or_dotenv(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, expected, other, _, companions = EVERY_SETTING[name]
    variable = musicagent._runtime.config._ENV[name][0]
    assert kept(Discogs(**{name: text}, **companions), name) == expected
    write_env(f"{variable}={other}\n")
    monkeypatch.setenv(variable, text)
    assert kept(Discogs(**companions), name) == expected  # the environment wins over .env
    assert kept(Discogs(**{name: other}, **companions), name) != expected  # an argument wins over both
    monkeypatch.delenv(variable)
    write_env(f"{variable}={text}\n")
    assert kept(Discogs(**companions), name) == expected


@pytest.mark.parametrize("name", sorted(EVERY_SETTING))
def test_every_bad_setting_fails_at_construction_naming_its_source(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, _, bad, companions = EVERY_SETTING[name]
    variable = musicagent._runtime.config._ENV[name][0]
    with pytest.raises(ConfigurationError, match=rf"^invalid argument {name!r}: "):
        Discogs(**{name: bad}, **companions)
    monkeypatch.setenv(variable, bad)
    with pytest.raises(ConfigurationError, match=rf"^invalid environment variable {variable}: "):
        Discogs(**companions)
    monkeypatch.delenv(variable)
    write_env(f"{variable}={bad}\n")
    with pytest.raises(ConfigurationError, match=rf"^invalid \.env entry {variable}: ") as caught:
        Discogs(**companions)
    assert bad not in str(caught.value) or name not in (
        "token",
        "consumer_secret",
        "access_token",
        "access_token_secret",
    )

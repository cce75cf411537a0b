"""A server echoing credentials back, in whatever spelling, gets them masked everywhere a user can look.

The server is a real local one that copies the credentials it received into its answer, re-encoded
the ways a server or proxy plausibly would (percent-encoded, form-encoded, JSON-escaped, inside a
``Discogs token=…`` quoted in a JSON message, an OAuth signature). Each test then looks where a user
or a log could see it: the exception's text and repr, its headers and body, ``last_response`` and
the log records. Both clients.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest

from musicagent import APIError, Discogs, DiscogsError, enable_logging
from musicagent._runtime.redact import is_secret_param, mask

from .conftest import LocalServer, Seen, artist_body

Client = Callable[..., Discogs]

# Characters that every encoding spells differently; a real Discogs token is letters and digits.
TOKEN = "Tk+9f/3a=c1&e5%x~q"
CONSUMER_SECRET = "cs+ecr/et=1"
TOKEN_SECRET = "ts&ecr%et/2"

SPELLINGS: dict[str, Callable[[str], str]] = {
    "as sent": lambda s: s,
    "percent-encoded": lambda s: quote(s, safe=""),
    "percent-encoded, / kept": quote,
    "lower-case hex": lambda s: re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s, safe="")),
    "form-encoded": quote_plus,
    "JSON-escaped": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "HTML-escaped": html.escape,
    "encoded twice": lambda s: quote(quote(s, safe=""), safe=""),
}


def leaks(text: str, *secrets: str) -> list[str]:
    """The spellings of ``secrets`` found in ``text``."""
    return [f"{name} {secret!r}" for secret in secrets for name, f in SPELLINGS.items() if f(secret) in text]


def echo_in(spelling: str) -> Callable[[Seen], tuple[int, dict[str, str], bytes]]:
    """A server that puts the credentials it got into its headers and its JSON error, in ``spelling``."""

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        auth = seen.headers.get("Authorization", "")
        secrets = re.findall(r"^Discogs token=(.*)$", auth) or [
            unquote(part) for part in re.findall(r'oauth_(?:signature|token)="([^"]*)"', auth)
        ]
        spelled = " ".join(SPELLINGS[spelling](s) for s in secrets)
        body = {
            "message": f"credentials {spelled} are not valid (header was: {auth})",
            "detail": [spelled, {"received": spelled}],
        }
        status = 200 if "/ok" in seen.path else 401
        headers = {"X-Echo": spelled, "X-Echo-Location": f"/login?next=/x%3Fq%3D{quote(spelled, safe='')}"}
        return status, {**headers, "Content-Type": "application/json"}, json.dumps(body).encode()

    return answer


def everything_shown(d: Discogs, error: DiscogsError, records: list[str]) -> str:
    """All a user or a log sink sees of a failed call and the response before it."""
    parts: list[Any] = [str(error), repr(error), error.args, records]
    if isinstance(error, APIError):
        parts += [dict(error.headers), error.body, error.message]
    last = d.last_response
    parts += [repr(last), dict(last.headers) if last is not None else None]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_an_echoed_token_is_masked_in_every_spelling(server: LocalServer, client: Client, spelling: str) -> None:
    server.routes["/echo"] = server.routes["/echo/ok"] = echo_in(spelling)
    records: list[str] = []
    enable_logging("DEBUG", console=False, sink=records.append)
    d = client(token=TOKEN, max_retries=0)
    d.request("GET", "/echo/ok")
    with pytest.raises(APIError) as info:
        d.request("GET", "/echo")
    assert server.seen[0].headers["Authorization"] == f"Discogs token={TOKEN}"  # it really was sent and echoed
    assert SPELLINGS[spelling](TOKEN) in server.routes["/echo"](server.seen[1])[1]["X-Echo"]
    shown = everything_shown(d, info.value, records)
    assert leaks(shown, TOKEN) == [], shown


@pytest.mark.parametrize("spelling", ["as sent", "percent-encoded", "form-encoded", "encoded twice"])
def test_echoed_oauth_secrets_are_masked(server: LocalServer, client: Client, spelling: str) -> None:
    """PLAINTEXT's signature is both secrets, percent-encoded, and encoded again in the header."""
    server.routes["/echo"] = server.routes["/echo/ok"] = echo_in(spelling)
    d = client(
        token=None,
        consumer_key="ck-public-1",
        consumer_secret=CONSUMER_SECRET,
        access_token="at-token-3",
        access_token_secret=TOKEN_SECRET,
        max_retries=0,
    )
    d.request("GET", "/echo/ok")
    with pytest.raises(APIError) as info:
        d.request("GET", "/echo")
    assert "oauth_signature=" in server.seen[0].headers["Authorization"]
    shown = everything_shown(d, info.value, [])
    assert leaks(shown, CONSUMER_SECRET, TOKEN_SECRET, "at-token-3") == [], shown


def test_a_token_nobody_registered_is_masked_by_its_name() -> None:
    """Another client's credentials, quoted in a JSON message or in a URL inside a query: masked by their name."""
    assert mask(r'{"message": "bad header Discogs token=\"other-client-1\""}') == (
        r'{"message": "bad header Discogs token=\"***\""}'
    )
    assert mask("next=%2Fx%3Ftoken%3Dother-client-2&q=1") == "next=%2Fx%3Ftoken%3D***&q=1"
    assert mask('{"consumer_secret": "other-3"}') == '{"consumer_secret": "***"}'


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("per_page=100&page=2", "per_page=100&page=2"),  # no secret name: unchanged
        ("https://api.example/x?TOKEN=abc&page=2", "https://api.example/x?TOKEN=***&page=2"),
        ("s\u0131gnature=abc", "s\u0131gnature=***"),  # dotless i: the regex is case-blind beyond ASCII
        ("\u017fecret=abc", "\u017fecret=***"),  # long s
        ("consumer_\u212aey: 'abc'", "consumer_\u212aey: '***'"),  # Kelvin sign
    ],
)
def test_a_secret_name_is_found_in_any_case_the_regex_folds(text: str, masked: str) -> None:
    """The quick check before the regex (:func:`redact._may_name_secret`) lets nothing through that it would mask."""
    assert mask(text) == masked


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("token", True),
        ("oauth_token", True),
        ("oauth_token_secret", True),
        ("oauth_consumer_key", True),
        ("oauth_signature", True),
        ("oauth_verifier", True),
        ("Secret", True),
        ("oauth_nonce", False),
        ("oauth_timestamp", False),
        ("oauth_signature_method", False),
        ("oauth_callback", False),
        ("q", False),
        ("per_page", False),
    ],
)
def test_one_predicate_says_which_parameters_are_secret(name: str, secret: bool) -> None:
    """The rule the mask applies to text, and the mock to its log and recorded requests."""
    from musicagent.mock._auth import is_credential_param

    assert is_secret_param(name) is secret
    assert (mask(f"/x?{name}=v4lue&q=1") == f"/x?{name}=***&q=1") is secret
    if secret:
        assert is_credential_param(name)


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_an_answer_echoing_the_token_is_never_cached(
    server: LocalServer, client: Client, tmp_path: Path, store: str
) -> None:
    """A cache file (or Redis) must not hold the token: such an answer is served, not stored."""

    def echo_artist(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        body = {**artist_body(5), "profile": f"you sent {quote(seen.headers['Authorization'], safe='')}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    server.routes["/artists/5"] = echo_artist
    db = tmp_path / "cache.db"
    d = client(token=TOKEN, cache="memory" if store == "memory" else f"sqlite:///{db}")
    assert SPELLINGS["percent-encoded"](TOKEN) in d.artists.get(5).profile  # type: ignore[operator]
    d.artists.get(5)
    d.artists.get(1)
    d.artists.get(1)
    assert [s.path for s in server.seen] == ["/artists/5", "/artists/5", "/artists/1"]  # only the clean one kept
    if store == "sqlite":
        d.close()
        stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert leaks(stored.decode("latin-1"), TOKEN) == []

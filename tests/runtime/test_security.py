"""Credentials reach only the hosts they are meant for; secrets never show; bad input is a typed error.

Issue 9, items 1 and 6. The servers are real (an https one with a certificate the client trusts, so
that a token sent to the wrong host would really arrive), and each test checks what they received.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from musicagent import (
    ConfigurationError,
    Discogs,
    InvalidParameterError,
    NotFoundError,
    ResponseValidationError,
    ServerError,
)

from .conftest import TOKEN, LocalServer, Seen

Client = Callable[..., Discogs]


def discogs_client(**kwargs: Any) -> Discogs:
    """A client of the real API's base URL (tests cannot reach it: only loopback connects)."""
    kwargs.setdefault("token", TOKEN)
    return Discogs(rate_limit=None, max_retries=0, timeout=2, env={}, dotenv=os.devnull, **kwargs)


def port_of(server: LocalServer) -> str:
    return server.url.rsplit(":", 1)[1]


# -- item 1: one parse decides where the request goes and whether it carries credentials -----------


@pytest.mark.parametrize(
    "template",
    [
        "https://127.0.0.1:{port}\\@api.discogs.com/x",  # urllib3: 127.0.0.1, urllib.parse: api.discogs.com
        "https://127.0.0.1:{port}\\\\@api.discogs.com/x",
        "https://api.discogs.com@127.0.0.1:{port}/x",  # user info
        "https://127.0.0.1:{port}\t@api.discogs.com/x",  # urllib.parse drops the tab
        "https://api.discogs.com/x\r\nHost: 127.0.0.1",
    ],
)
def test_request_refuses_a_url_parsers_read_differently(tls_server: LocalServer, template: str) -> None:
    url = template.format(port=port_of(tls_server))
    with pytest.raises(InvalidParameterError) as info:
        discogs_client().request("GET", url)
    assert info.value.parameter == "path"
    assert tls_server.seen == []  # nothing was sent anywhere


def test_image_download_refuses_a_url_parsers_read_differently(tls_server: LocalServer, tmp_path: Path) -> None:
    target = tmp_path / "a.jpg"
    with pytest.raises(InvalidParameterError) as info:
        discogs_client().images.download(f"https://127.0.0.1:{port_of(tls_server)}\\@i.discogs.com/a.jpg", target)
    assert info.value.parameter == "url"
    assert tls_server.seen == [] and not target.exists()


def test_a_base_url_parsers_read_differently_is_refused(server: LocalServer) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        Discogs(base_url=f"http://localhost:{port_of(server)}\\@127.0.0.1/", token=TOKEN, env={}, dotenv=os.devnull)
    assert server.seen == []


def test_a_base_url_on_another_host_gets_no_credentials_without_opting_in() -> None:
    with pytest.raises(ConfigurationError) as info:
        discogs_client(base_url="https://proxy.example.org/discogs")
    message = str(info.value)
    assert "credentials_hosts" in message and "DISCOGS_CREDENTIALS_HOSTS" in message
    assert "proxy.example.org" in message and TOKEN not in message
    discogs_client(base_url="https://proxy.example.org/discogs", token=None)  # nothing to leak: accepted


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_credentials_hosts_opts_a_host_in(how: str) -> None:
    if how == "argument":
        d = discogs_client(base_url="https://proxy.example.org", credentials_hosts=["Proxy.Example.org"])
    else:
        env = {"DISCOGS_CREDENTIALS_HOSTS": "proxy.example.org, other.example"}
        d = Discogs(base_url="https://proxy.example.org", token=TOKEN, env=env, dotenv=os.devnull)
    builder = d._transport.builder
    assert "Authorization" in builder.headers(builder.call("GET", "/artists/1"))
    assert "Authorization" in builder.headers(builder.call("GET", "https://proxy.example.org/x"))
    assert "Authorization" not in builder.headers(builder.call("GET", "http://proxy.example.org/x"))
    assert "Authorization" not in builder.headers(builder.call("GET", "https://elsewhere.example/x"))


@pytest.mark.parametrize("hosts", [["https://proxy.example.org"], ["a b"], [""], 5])
def test_credentials_hosts_are_bare_host_names(hosts: Any) -> None:
    with pytest.raises(ConfigurationError, match="credentials_hosts"):
        discogs_client(token=None, credentials_hosts=hosts)


def test_an_https_loopback_base_gets_credentials_and_other_loopback_urls_do_not(
    tls_server: LocalServer, server: LocalServer
) -> None:
    d = Discogs(base_url=tls_server.url, token=TOKEN, rate_limit=None, max_retries=0, env={}, dotenv=os.devnull)
    d.request("GET", "/mine")
    d.request("GET", server.url + "/elsewhere")  # another port on loopback: not the mock
    d.request("GET", tls_server.url.replace("127.0.0.1", "localhost") + "/other-name")
    assert tls_server.seen[0].headers["Authorization"] == f"Discogs token={TOKEN}"
    assert "Authorization" not in server.seen[0].headers
    assert "Authorization" not in tls_server.seen[1].headers


# -- item 6: one masking, and typed errors for bad arguments ----------------------------------------------


def echo(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    """A server (or proxy) that copies the credentials it received into its answer's headers."""
    status = 500 if "fail" in seen.path else 200
    headers = {"X-Echo-Authorization": seen.headers.get("Authorization", ""), "Content-Type": "application/json"}
    return status, headers, b'{"message": "echoed"}'


def test_echoed_credentials_are_masked_in_last_response_as_in_errors(server: LocalServer, client: Client) -> None:
    server.routes["/echo"] = server.routes["/echo-fail"] = echo
    d = client(max_retries=0)
    d.request("GET", "/echo")
    last = d.last_response
    assert last is not None
    assert TOKEN not in repr(last) and TOKEN not in str(dict(last.headers)) and TOKEN not in str(last.headers)
    assert last.headers["x-echo-authorization"] == "Discogs token=***"  # still case-insensitive
    with pytest.raises(ServerError) as info:
        d.request("GET", "/echo-fail")
    assert dict(info.value.headers) == dict(d.last_response.headers)  # type: ignore[union-attr]
    assert info.value.headers["X-Echo-Authorization"] == "Discogs token=***"
    assert d.rate_limit.remaining is None  # the figures are read from the same headers


def test_credentials_a_server_echoes_in_a_body_are_in_no_error_it_raises(server: LocalServer, client: Client) -> None:
    """An error body (``APIError.body``) is masked as its headers are; a body that fails validation
    leaves no chained pydantic error behind (its message quotes the values, token included)."""
    artist = {"id": TOKEN, "name": "x", "data_quality": "x", "resource_url": "x", "releases_url": "x"}
    server.routes["/artists/5"] = lambda seen: (200, {"Content-Type": "application/json"}, json.dumps(artist).encode())
    refusal = {"message": f"bad Discogs token={TOKEN}", "echo": [TOKEN, {"token": "anyone's"}], TOKEN: 1}
    server.routes["/artists/6"] = lambda seen: (404, {"Content-Type": "application/json"}, json.dumps(refusal).encode())
    d = client(max_retries=0)
    with pytest.raises(ResponseValidationError) as invalid:
        d.artists.get(5)
    with pytest.raises(NotFoundError) as missing:
        d.artists.get(6)
    for error in (invalid.value, missing.value):
        chain = [error.__context__, error.__cause__]
        shown = [str(error), repr(error), str(vars(error)), *map(str, chain), *map(repr, chain)]
        assert not [text for text in shown if TOKEN in text], error
    assert missing.value.body == {"message": "bad Discogs token=***", "echo": ["***", {"token": "***"}], "***": 1}


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda d: d.artists.get(10**5000), "artist_id"),
        (lambda d: d.artists.get(2**63), "artist_id"),
        (lambda d: d.artists.get(1, extra_headers={"X-A:X-B": "v"}), "extra_headers"),
        (lambda d: d.artists.get(1, extra_headers={"X A": "v"}), "extra_headers"),
        (lambda d: d.request("GET\r\nX-Injected: 1", "/x"), "method"),
        (lambda d: d.request("GE T", "/x"), "method"),
        (lambda d: d.request("POST", "/x", json=_deep(100_000)), "json"),
    ],
)
def test_bad_arguments_are_typed_errors_naming_the_argument(
    server: LocalServer, client: Client, call: Callable[[Discogs], object], parameter: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        call(client())
    assert info.value.parameter == parameter
    assert server.seen == []


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("where", "send"),
    [
        ("params", lambda d, url, tmp: d.request("GET", "/x", params={"token": TOKEN})),
        ("params", lambda d, url, tmp: d.request("GET", "/x", params={"q": "a", "API_KEY": "k"})),
        ("params", lambda d, url, tmp: d.request("POST", "/x", params={"oauth_signature": "s"}, json={})),
        ("extra_query", lambda d, url, tmp: d.artists.get(1, extra_query={"consumer_secret": "s"})),
        ("extra_query", lambda d, url, tmp: d.search(q="x", extra_query={"oauth_token": "t"})),
        ("path", lambda d, url, tmp: d.request("GET", f"/x?page=2&token={TOKEN}")),
        ("path", lambda d, url, tmp: d.request("GET", "/x?tok%65n=1")),
        ("path", lambda d, url, tmp: d.request("GET", f"{url}/x?access_token=1#top")),
        ("url", lambda d, url, tmp: d.images.download(f"{url}/a.jpg?Secret=1", tmp / "a.jpg")),
    ],
)
def test_a_query_parameter_named_as_a_credential_is_refused_before_sending(
    client: Client, server: LocalServer, tmp_path: Path, where: str, send: Callable[..., object]
) -> None:
    """Before, ``params={"token": …}`` went out in the URL (masked only in this process's own output):
    every proxy and server log on the way kept it. The names are the ones masking knows."""
    d = client()
    with pytest.raises(InvalidParameterError) as info:
        send(d, server.url, tmp_path)
    message = str(info.value)
    assert message.startswith(f"{where}:") and "would put a credential in the URL" in message
    assert "Authorization header" in message and TOKEN not in message
    assert server.seen == []


def test_query_parameters_with_other_names_are_sent(client: Client, server: LocalServer) -> None:
    """``oauth_nonce`` and ``keys`` are not credentials' names (masking leaves them readable too)."""
    d = client()
    d.request("GET", "/x?monkeys=1", params={"oauth_nonce": "n", "keys": "k", "token_type": "t"})
    assert server.seen[0].path == "/x?monkeys=1&oauth_nonce=n&keys=k&token_type=t"


def test_a_query_parameter_name_that_is_not_a_string_is_a_typed_error(client: Client, server: LocalServer) -> None:
    """It was an AttributeError from deep inside the URL builder."""
    with pytest.raises(InvalidParameterError, match="params: parameter names must be strings"):
        client().request("GET", "/x", params={1: "a"})
    assert server.seen == []


def test_no_operation_of_the_spec_takes_a_query_parameter_named_as_a_credential() -> None:
    """The generated methods build their queries from the spec's names, unchecked at run time: this keeps
    them outside the rule ``request(params=…)`` is held to."""
    import yaml

    from musicagent._runtime.redact import is_secret_param

    spec = yaml.safe_load((Path(__file__).parents[2] / "spec" / "discogs.yaml").read_text())
    names = [
        parameter.get("name", "")
        for item in spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]
        if isinstance(parameter, dict) and parameter.get("in") == "query"
    ]
    names += [p["name"] for p in spec.get("components", {}).get("parameters", {}).values() if p.get("in") == "query"]
    assert len(names) > 20
    assert [name for name in names if is_secret_param(name)] == []

"""Logging is silent by default, says what each request did once enabled, and never shows a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from loguru import logger

from musicagent import APIError, BadRequestError, Discogs, ServerError, enable_logging
from musicagent._runtime.log import mask, register_secret

from .conftest import TOKEN, LocalServer, Seen

Client = Callable[..., Discogs]


def test_silent_by_default(server: LocalServer, client: Client) -> None:
    records: list[str] = []
    sink = logger.add(lambda m: records.append(str(m)), level="TRACE")  # the application's own sink
    try:
        server.fail("500")
        client(max_retries=1).request("GET", "/x")
    finally:
        logger.remove(sink)
    assert records == []


def test_each_request_logs_what_happened(server: LocalServer, client: Client) -> None:
    server.limit = 100
    server.fail("500")
    records: list[dict[str, object]] = []
    enable_logging("DEBUG", console=False, sink=lambda m: records.append(dict(m.record)))
    client(max_retries=2, rate_limit=(1, 0.2)).request("GET", "/releases/1")
    info = [r for r in records if r["level"].name == "INFO"]  # type: ignore[attr-defined]
    assert len(info) == 2
    first, second = (str(r["message"]) for r in info)
    assert first.startswith("GET ") and "/releases/1 -> 500 in " in first and "(attempt 1," in first
    assert "-> 200" in second and "(attempt 2, rate-limit remaining 99)" in second
    ids = {r["extra"]["correlation_id"] for r in records}  # type: ignore[index]
    assert len(ids) == 1 and len(ids.pop()) == 12  # one id ties the attempts together
    messages = [str(r["message"]) for r in records]
    assert any(m.startswith("retrying GET") for m in messages)
    assert any(m.startswith("waited") and "rate limiter" in m for m in messages)


def test_console_json_file_and_error_file(
    server: LocalServer, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file, error_file = tmp_path / "musicagent.log", tmp_path / "errors.log"
    enable_logging("INFO", json=True, file=log_file, error_file=error_file, rotation="1 MB", retention=3)
    d = client(max_retries=1)
    d.request("GET", "/ok")
    server.fail("500", "500")
    with pytest.raises(ServerError):
        d.request("GET", "/broken")
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [rec["record"]["level"]["name"] for rec in lines] == ["INFO", "INFO", "WARNING", "INFO", "ERROR"]
    errors = [json.loads(line) for line in error_file.read_text().splitlines()]
    assert len(errors) == 1 and "giving up on GET" in errors[0]["record"]["message"]
    assert "after 2 attempt(s)" in errors[0]["record"]["message"]
    err = capsys.readouterr().err
    assert "/ok -> 200" in err


def test_a_token_never_appears(server: LocalServer, client: Client, tmp_path: Path) -> None:
    """The server echoes the Authorization header into error bodies, like a careless proxy."""

    def echo(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 400, {}, json.dumps({"message": f"bad header {seen.headers['Authorization']}"}).encode()

    def echo_html(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 502, {"Content-Type": "text/html"}, f"<p>{seen.headers['Authorization']}</p>".encode()

    server.routes["/echo"] = echo
    server.routes["/echo-html"] = echo_html
    captured: list[str] = []
    enable_logging("TRACE", console=False, file=tmp_path / "all.log", sink=lambda m: captured.append(str(m)))
    d = client(max_retries=1)
    errors: list[APIError] = []
    for path in ("/echo", "/echo-html"):
        with pytest.raises(APIError) as info:
            d.request("GET", path)
        errors.append(info.value)
    assert isinstance(errors[0], BadRequestError)
    assert server.seen[0].headers["Authorization"] == f"Discogs token={TOKEN}"  # it was sent
    shown = [*captured, (tmp_path / "all.log").read_text(), repr(d), repr(d._transport), repr(d.settings)]
    for err in errors:
        shown += [str(err), repr(err), str(err.args), getattr(err, "body_excerpt", ""), str(err.body)]
    assert "token=***" in str(errors[0])
    for text in shown:
        assert TOKEN not in text


def test_oauth_secrets_never_appear(server: LocalServer, tmp_path: Path) -> None:
    def echo(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 401, {}, json.dumps({"message": seen.headers["Authorization"]}).encode()

    server.routes["/oauth/identity"] = echo
    captured: list[str] = []
    enable_logging("DEBUG", console=False, sink=lambda m: captured.append(str(m)))
    d = Discogs(
        base_url=server.url,
        consumer_key="ckey-public",
        consumer_secret="csecret-9d8e7f",
        access_token="atoken-1a2b3c",
        access_token_secret="asecret-4d5e6f",
        rate_limit=None,
    )
    with pytest.raises(APIError) as info:
        d.request("GET", "/oauth/identity")
    sent = server.seen[0].headers["Authorization"]
    assert sent.startswith("OAuth ") and 'oauth_signature="csecret-9d8e7f%26asecret-4d5e6f"' in sent
    assert 'oauth_signature_method="PLAINTEXT"' in sent
    for text in [*captured, str(info.value), repr(info.value), repr(d)]:
        for secret in ("csecret-9d8e7f", "atoken-1a2b3c", "asecret-4d5e6f"):
            assert secret not in text


def test_mask() -> None:
    register_secret("registered-value-123")
    register_secret("abc")  # too short to mask safely: ignored
    assert mask("x registered-value-123 y") == "x *** y"
    assert mask("abc") == "abc"
    assert mask("GET /x?token=abc&q=1") == "GET /x?token=***&q=1"
    assert mask('{"secret": "s3cr3t", "key":"k"}') == '{"secret": "***", "key":"***"}'
    assert mask("Authorization: Discogs key=K1, secret=S1") == "Authorization: Discogs key=***, secret=***"
    assert mask('oauth_token="t", oauth_signature="a%26b"') == 'oauth_token="***", oauth_signature="***"'
    assert mask("nothing here") == "nothing here"


def test_mask_leaves_prose_readable() -> None:
    text = "invalid argument 'consumer_key': consumer_key is set but consumer_secret is not"
    assert mask(text) == text
    assert mask("{'token': 'abc123'}") == "{'token': '***'}"
    assert mask("oauth_token_secret=xyz&oauth_verifier=v") == "oauth_token_secret=***&oauth_verifier=***"


def test_a_sink_of_its_own_gets_the_records_and_stderr_stays_quiet(server: LocalServer, tmp_path: Path) -> None:
    """In a fresh interpreter loguru's default stderr handler exists; it must not print our records too."""
    script = tmp_path / "log_to_a_list.py"
    script.write_text(
        "import sys\n"
        "import musicagent\n"
        "from loguru import logger\n"
        "records = []\n"
        "musicagent.enable_logging('INFO', console=False, sink=lambda m: records.append(str(m)))\n"
        f"musicagent.Discogs(base_url={server.url!r}, rate_limit=None).request('GET', '/releases/1')\n"
        "logger.info('the application still logs')\n"
        "print(len([r for r in records if '/releases/1 -> 200' in r]))\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOGS_")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert "/releases/1" not in done.stderr  # not printed a second time by loguru's default handler
    assert "the application still logs" in done.stderr  # while the application's own records still print

"""Start-up stays cheap: what a fresh process imports to build a client or print the CLI's help.

Every shell completion and CLI call pays start-up, so heavy modules are imported with their first
use (urllib3 with the first request, pydantic with the first model, the extras with their feature).
These tests run a real child process and look at ``sys.modules``; they time nothing (the timings are
in ``benchmarks/imports.py`` and ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sdk_server import DiscogsServer

# Imported on first use only; each costs milliseconds to import (pydantic and urllib3 tens of them).
DEFERRED = (
    "pydantic",
    "pydantic_core",
    "urllib3",
    "http.client",
    "email.utils",
    "email.parser",
    "secrets",
    "tempfile",
    "urllib.request",
    "loguru",
    "aiohttp",
    "mcp",
    "redis",
    "sqlite3",
    "pyrate_limiter",
    "backoff",
    "musicagent.models",
    "musicagent._generated.models",
    "musicagent.export._csv",
)


def loaded_after(code: str) -> set[str]:
    """The DEFERRED modules a fresh interpreter holds after running ``code``."""
    script = textwrap.dedent(code) + (
        f"\nimport json, sys\nprint(json.dumps([m for m in {list(DEFERRED)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True, env=_clean_env()
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DISCOGS_")}


def test_building_a_client_imports_none_of_the_heavy_modules() -> None:
    assert loaded_after("import musicagent\nmusicagent.Discogs(token='t' * 20, user_agent='app/1.0')") == set()


def test_a_client_with_every_credential_and_setting_stays_light() -> None:
    code = """
        import musicagent
        musicagent.Discogs(
            consumer_key='ck', consumer_secret='cs', access_token='at', access_token_secret='ats',
            user_agent='app/1.0', base_url='http://127.0.0.1:9', timeout='2.5', max_retries=0,
            deadline=60, rate_limit=(10, 5),
        )
    """
    assert loaded_after(code) == set()


def test_the_cli_help_imports_none_of_the_heavy_modules() -> None:
    code = """
        import contextlib, io
        import musicagent.cli
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert musicagent.cli.main(['--help']) == 0
        assert 'usage' in out.getvalue()
    """
    assert loaded_after(code) == set()


def test_a_shell_completion_imports_none_of_the_heavy_modules(tmp_path: Path) -> None:
    """Every TAB runs the program; argcomplete writes the candidates and ends the process."""
    out = tmp_path / "completions"
    code = f"""
        import os
        def _exit(code):  # argcomplete ends with os._exit; let this child report what it imported
            raise SystemExit(code)
        os._exit = _exit
        os.environ.update(_ARGCOMPLETE='1', COMP_LINE='musicagent releases g', COMP_POINT='21',
                          _ARGCOMPLETE_STDOUT_FILENAME={str(out)!r})
        import musicagent.cli
        musicagent.cli.main([])
    """
    assert loaded_after(code) == set()
    assert out.read_text().split() == ["get"]  # the one operation of releases that starts with g


def test_a_bad_setting_is_still_refused_at_construction_without_importing_them() -> None:
    code = """
        import musicagent
        try:
            musicagent.Discogs(timeout='soon')
        except musicagent.ConfigurationError as exc:
            assert str(exc).startswith("invalid argument 'timeout': "), exc
        else:
            raise AssertionError('accepted')
    """
    assert loaded_after(code) == set()


@pytest.fixture
def server() -> Iterator[DiscogsServer]:
    with DiscogsServer() as s:
        yield s


def test_the_first_request_brings_what_it_needs(server: DiscogsServer) -> None:
    """The deferred imports happen (and work) when the first call needs them."""
    code = f"""
        import musicagent
        d = musicagent.Discogs(token='t' * 20, base_url={server.url!r}, rate_limit=None, max_retries=0)
        assert d.artists.get(1).id == 1
    """
    loaded = loaded_after(code)
    assert {"urllib3", "pydantic", "musicagent._generated.models"} <= loaded
    assert not loaded & {"loguru", "aiohttp", "mcp", "redis", "sqlite3"}  # extras stay with their features

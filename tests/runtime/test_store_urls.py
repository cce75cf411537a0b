"""One reading of store URLs for the rate limiter and the cache (``~``, empty SQLite path, ``memory``)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from musicagent import Discogs
from musicagent._runtime.errors import ConfigurationError
from musicagent._runtime.ratelimit import RateLimiter

from .conftest import TOKEN, LocalServer


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_limiter_expands_the_home_directory_like_the_cache(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    d = Discogs(
        base_url=server.url,
        token=TOKEN,
        rate_limit=(5, 1.0),
        rate_limit_store="sqlite:///~/limit.db",
        cache="sqlite:///~/cache.db",
    )
    d.artists.get(1)
    d.artists.get(1)
    d.close()
    assert server.count() == 1  # the second came from the cache file
    # both files are under $HOME; nothing went to a directory named "~"
    assert any(t.startswith("musicagent_") for t in _tables(tmp_path / "limit.db"))
    assert _tables(tmp_path / "cache.db")
    assert not Path("/~").exists()
    assert not (Path.cwd() / "~").exists()


def test_the_cli_rate_limit_store_expands_the_home_directory(server: LocalServer, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "DISCOGS_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, "-m", "musicagent", "--base-url", server.url, "--rate-limit", "5/1",
         "--rate-limit-store", "sqlite:///~/limit.db", "artists", "get", "7"],
        capture_output=True, text=True, timeout=60, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert any(t.startswith("musicagent_") for t in _tables(tmp_path / "limit.db"))
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("setting", ["rate_limit_store", "cache"])
@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", " sqlite:// "])
def test_a_sqlite_url_without_a_file_is_refused_naming_the_setting(server: LocalServer, setting: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"{setting}.*sqlite:// needs a file"):
        Discogs(base_url=server.url, token=TOKEN, **{setting: url})


def test_a_limiter_built_directly_refuses_a_sqlite_url_without_a_file() -> None:
    with pytest.raises(ConfigurationError, match="rate_limit_store: sqlite:// needs a file"):
        RateLimiter(5, 1.0, "sqlite://")


@pytest.mark.parametrize("setting", ["rate_limit_store", "cache"])
@pytest.mark.parametrize("url", ["memory", "memory://"])
def test_memory_is_accepted_in_both_spellings_by_both(server: LocalServer, setting: str, url: str) -> None:
    d = Discogs(base_url=server.url, token=TOKEN, rate_limit=(5, 1.0), **{setting: url})
    d.request("GET", "/artists/1")
    assert d.rate_limit.local_in_window == 1
    d.close()


def test_an_unknown_scheme_is_refused_by_both_with_the_same_words(server: LocalServer) -> None:
    messages = []
    for setting in ("rate_limit_store", "cache"):
        with pytest.raises(ConfigurationError) as caught:
            Discogs(base_url=server.url, token=TOKEN, **{setting: "postgres://u:hunter2@db/x"})
        messages.append(str(caught.value).split(": ", 1)[1])
        assert "hunter2" not in str(caught.value)
    assert messages[0] == messages[1]

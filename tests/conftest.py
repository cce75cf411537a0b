"""Shared test setup: no test may reach the network, and no test may see the developer's credentials."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MUSICAGENT_REALDATA", ROOT.parent / "shared" / "realdata"))
CASSETTES = ROOT / "cassettes"

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _allowed(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _allowed(address):
        raise OSError(f"tests must not use the network (tried to connect to {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Block every connection that is not to loopback, for every test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests see no DISCOGS_* variables and no developer .env (the working directory is a fresh one)."""
    for name in list(os.environ):
        if name.startswith("DISCOGS_") or name.endswith("_PROXY") or name.endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def pytester(pytester: pytest.Pytester, request: pytest.FixtureRequest) -> pytest.Pytester:
    """pytester's inner sessions with the project's pytest-asyncio settings.

    They do not read pyproject.toml, and without ``asyncio_default_fixture_loop_scope`` each one
    prints pytest-asyncio's deprecation warning into the outer run's output.
    """
    names = ("asyncio_mode", "asyncio_default_fixture_loop_scope")
    pytester.makeini("[pytest]\n" + "".join(f"{name} = {request.config.getini(name)}\n" for name in names))
    return pytester

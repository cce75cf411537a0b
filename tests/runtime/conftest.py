"""Fixtures of the runtime tests: the one local server (``localserver.py``), TLS, clients, Redis."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _clients import FLAVORS, make_client

from musicagent import Discogs, disable_logging
from musicagent._runtime import core

from .localserver import TOKEN, LocalServer, Seen, artist_body, serve

__all__ = ["TOKEN", "LocalServer", "Seen", "artist_body", "serve"]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A fresh local server per test; ``server.url`` is its base URL."""
    with serve() as state:
        yield state


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost, made by the openssl command: (cert, key)."""
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            binary,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """An https local server whose certificate the client trusts (through SSL_CERT_FILE)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    with serve(context) as state:
        yield state


@pytest.fixture(params=FLAVORS)
def client(server: LocalServer, request: pytest.FixtureRequest) -> Iterator[Callable[..., Discogs]]:
    """Build clients against the server: authenticated, no local limit unless asked.

    Every test that uses it runs twice: with ``Discogs`` and with ``AsyncDiscogs`` (behind the sync
    API, see tests/_clients.py), so the shells on the shared core are held to the same behaviour.
    """
    made: list[Discogs] = []

    def make(**kwargs: Any) -> Discogs:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("rate_limit", None)
        kwargs.setdefault("timeout", 2.0)
        made.append(make_client(request.param, base_url=server.url, **kwargs))
        return made[-1]

    yield make
    for d in made:
        d.close()


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits of milliseconds so fault tests finish quickly (Retry-After is still exact)."""
    monkeypatch.setattr(core, "BACKOFF_BASE", 0.01)


@pytest.fixture(autouse=True)
def _logging_off() -> Iterator[None]:
    yield
    disable_logging()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """A real redis-server on 127.0.0.1:``port``, answering PING when this returns; skips where none can start."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip(f"redis-server could not start (exit code {proc.poll()})")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port, for the whole session; skips where none can start."""
    port = free_port()
    proc = start_redis(port, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


@pytest.fixture
def redis_store(redis_url: str) -> str:
    """The session's redis-server, emptied for this test."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


def damage_sqlite(db: Path, how: str) -> None:
    """Delete, truncate or overwrite a store's SQLite file the way an outside hand would, mid-run."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the file itself, as after a quiet spell
    conn.close()
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    elif how == "truncated":
        with db.open("r+b") as fh:
            fh.truncate(0)
    else:
        with db.open("r+b") as fh:
            fh.write(b"\xde\xad\xbe\xef" * 2048)

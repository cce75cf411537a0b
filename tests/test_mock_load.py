"""The mock server under load (issue 9, item 8), with real sockets: a listen backlog for bursts, idle and
slowloris connections closed after ``idle_timeout``, 200 concurrent GETs answered, and it keeps answering.

Timing bounds are generous (the machine is shared); each still fails on the behaviour it guards: with
the old backlog of 5, a burst of 200 connections waits in SYN retries for tens of seconds, and without
the idle reaper a dripping client holds its connection forever.
"""

from __future__ import annotations

import http.client
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from musicagent.mock import MockServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli_server() -> Iterator[tuple[str, int]]:
    """``musicagent mock`` in its own process, as a user runs it (no rate limit: we count answers)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "musicagent", "mock", "--port", "0", "--rate-limit", "off", "--idle-timeout", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    address = banner.split("http://", 1)[1].split(" ", 1)[0]
    host, port = address.rsplit(":", 1)
    try:
        yield host, int(port)
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(host: str, port: int, path: str = "/artists/108713") -> int:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def closed_within(sock: socket.socket, seconds: float, drip: bytes = b"") -> float | None:
    """Seconds until the server closed ``sock`` (None if it did not within ``seconds``); drips a byte per 0.2 s."""
    start = time.monotonic()
    position = 0
    while time.monotonic() - start < seconds:
        if drip:
            try:
                sock.send(drip[position % len(drip) : position % len(drip) + 1])
                position += 1
            except OSError:
                return time.monotonic() - start
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - start
            except OSError:
                return time.monotonic() - start
    return None


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs the ss tool to read the listen backlog")
def test_the_listen_backlog_is_at_least_128(cli_server: tuple[str, int]) -> None:
    _, port = cli_server
    lines = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    backlog = int(lines.split()[2])  # for a listening socket, Send-Q is the backlog
    assert backlog >= 128, lines


def test_200_concurrent_gets_are_all_answered_promptly(cli_server: tuple[str, int]) -> None:
    host, port = cli_server
    start = threading.Barrier(200)
    statuses: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        began = time.monotonic()
        status = get(host, port)
        with lock:
            statuses.append(status)
            latencies.append(time.monotonic() - began)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses.count(200) == 200, statuses
    # Before the fix the slowest took up to 41 s (SYN retries past a backlog of 5); 15 s is far from both.
    assert max(latencies) < 15, f"slowest of 200 concurrent GETs took {max(latencies):.1f} s"
    assert get(host, port) == 200  # and it keeps answering


def test_idle_and_slowloris_connections_are_closed_and_the_server_keeps_answering() -> None:
    with MockServer(rate_limit=None, idle_timeout=1.0) as server:
        idle = socket.create_connection(("127.0.0.1", server.port))
        slow_head = socket.create_connection(("127.0.0.1", server.port))
        slow_head.sendall(b"GET /artists/108713 HTTP/1.1\r\nHost: x\r\n")
        slow_body = socket.create_connection(("127.0.0.1", server.port))
        slow_body.sendall(b"POST /inventory/export HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        crowd = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(100)]
        for sock in crowd:
            sock.sendall(b"GET /artists/108713 HTTP/1.1\r\n")
        assert get("127.0.0.1", server.port) == 200  # answered while 100 slow clients hold connections

        assert closed_within(idle, 10) is not None, "an idle connection was never closed"
        assert closed_within(slow_head, 10, drip=b"X-Drip: 1\r\n") is not None, "a slowloris client held on"
        assert closed_within(slow_body, 10, drip=b"x") is not None, "a slow body held its connection"

        kept_alive = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        kept_alive.request("GET", "/artists/108713")
        kept_alive.getresponse().read()
        assert kept_alive.sock is not None
        assert closed_within(kept_alive.sock, 10) is not None, "an idle kept-alive connection stayed open"

        for sock in (idle, slow_head, slow_body, *crowd):
            sock.close()
        kept_alive.close()
        assert get("127.0.0.1", server.port) == 200


def test_a_fast_client_is_never_cut_off_by_the_idle_timeout() -> None:
    with MockServer(rate_limit=None, idle_timeout=1.0) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(5):  # 5 requests over ~2.5 s on one connection, each within the timeout of the last
            connection.request("GET", "/artists/108713")
            assert connection.getresponse().read()
            time.sleep(0.5)
        connection.close()


def test_a_bad_idle_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        MockServer(idle_timeout=0)


def test_a_huge_request_body_is_refused_unread() -> None:
    with MockServer(rate_limit=None) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.putrequest("POST", "/marketplace/listings")
        connection.putheader("Content-Length", str(64 * 1024 * 1024))
        connection.endheaders()  # announces 64 MiB and sends none of it
        response = connection.getresponse()
        assert (response.status, response.getheader("Connection")) == (413, "close")
        connection.close()
        assert get("127.0.0.1", server.port) == 200

"""``timeout`` bounds a whole attempt and ``deadline`` a whole call, by the wall clock (issue 9, item 2).

The servers drip: every byte arrives well within the socket timeout, so only a bound on the whole
exchange can stop them. Each test allows a generous margin for a loaded machine (the bound must
still be far below what the drip would take: 10 s and more).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _clients import FLAVORS

from musicagent import APITimeoutError, Discogs

from .conftest import LocalServer

Client = Callable[..., Discogs]
SLACK = 1.5  # seconds a loaded 2-core machine may add to a bound


def timed(call: Callable[[], object]) -> tuple[float, BaseException]:
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        call()
    return time.monotonic() - started, info.value


def test_the_deadline_bounds_a_dripped_body(server: LocalServer, client: Client) -> None:
    """Issue figure: a body at 4 bytes/s kept ``timeout=1, deadline=3`` busy for 20 s."""
    server.fail(*["drip_body"] * 10)
    d = client(timeout=1, deadline=3, max_retries=5)
    elapsed, error = timed(lambda: d.artists.get(1))
    assert elapsed < 3 + SLACK
    assert error.attempts >= 2  # each attempt was cut at its 1 s timeout, then retried (a GET)


def test_the_timeout_bounds_one_attempt_of_a_dripped_body(server: LocalServer, client: Client) -> None:
    server.fail("drip_body")
    d = client(timeout=1, max_retries=0)
    elapsed, error = timed(lambda: d.artists.get(1))
    assert elapsed < 1 + SLACK
    assert "no complete response within 1s" in str(error)


def test_the_deadline_bounds_dripped_headers(server: LocalServer, client: Client) -> None:
    """Issue figure: headers dripped byte by byte took 15 s against ``deadline=2``."""
    server.drip_every = 0.1
    server.fail(*["drip_headers"] * 10)
    d = client(timeout=30, deadline=2, max_retries=5)
    elapsed, error = timed(lambda: d.artists.get(1))
    assert elapsed < 2 + SLACK
    assert "deadline" in str(error)


def test_a_dripped_answer_to_a_write_is_cut_and_not_repeated(server: LocalServer, client: Client) -> None:
    server.fail("drip_body", "drip_body")
    d = client(timeout=1, max_retries=3)
    elapsed, _ = timed(lambda: d.request("POST", "/marketplace/listings", json={"release_id": 1}))
    assert elapsed < 1 + SLACK
    assert server.count("POST") == 1  # it may have reached the server: never sent twice


def test_a_dripped_download_is_cut_and_leaves_no_file(server: LocalServer, client: Client, tmp_path: Path) -> None:
    server.fail("drip_body")
    target = tmp_path / "out.json"
    d = client(timeout=1, max_retries=0)
    elapsed, _ = timed(lambda: d._transport.download("/file", target))
    assert elapsed < 1 + SLACK
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_keeps_arriving_is_not_cut_by_the_timeout(
    server: LocalServer, client: Client, tmp_path: Path
) -> None:
    """``timeout`` bounds a download's progress (each 64 KiB chunk), not its total length."""
    chunk = 64 * 1024

    def slow_big(_: object) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/csv"}, b"x" * (6 * chunk)

    server.routes["/big.csv"] = slow_big
    server.drip_every = 0.25
    server.drip_size = chunk
    server.fail("drip_raw")  # the route, dripped
    target = tmp_path / "big.csv"
    d = client(timeout=1, max_retries=0)
    d._transport.download("/big.csv", target)  # 6 chunks 0.25 s apart: 1.5 s in all, more than the timeout
    assert target.stat().st_size == 6 * chunk


# -- name lookups: a real resolver whose DNS server never answers ----------------------------------------
#
# getaddrinfo is a C call that nothing interrupts, and no socket exists yet for the watchdog to shut
# down. To make the system resolver itself hang, without network and without patching Python, the
# client runs in a child process in its own user, mount and network namespaces (``unshare -rmn``):
# there /etc/resolv.conf names 127.0.0.1, where a UDP socket reads every query and never answers,
# and /etc/hosts names ``wrong.test`` as 127.0.0.1. The child first checks that a lookup really
# hangs there (a system whose resolver is not glibc's reading resolv.conf could not fail the test,
# so it is skipped).

_ISOLATED = r"""
import json, os, socket, ssl, sys, threading, time
sys.path[:0] = sys.argv[2].split(os.pathsep)
from _clients import make_client
from runtime.localserver import serve

mode, flavor = sys.argv[1].split(":")
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 53))  # a DNS server that reads every query and never answers
probe = threading.Thread(target=socket.getaddrinfo, args=("probe.hang.test", 443), daemon=True)
probe.start()
probe.join(1.0)
if not probe.is_alive():
    print(json.dumps({"skip": "the resolver does not use the DNS server of /etc/resolv.conf"}))
    sys.exit(0)

def attempt(call):
    started = time.monotonic()
    try:
        call()
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return {"elapsed": time.monotonic() - started, "error": error}

common = dict(rate_limit=None, env={}, dotenv=os.devnull)
if mode in ("deadline", "timeout"):
    bound = dict(deadline=1.5, timeout=30, max_retries=3) if mode == "deadline" else dict(timeout=1.5, max_retries=0)
    d = make_client(flavor, base_url="https://hang.test", **bound, **common)
    print(json.dumps(attempt(lambda: d.artists.get(1))))
elif mode == "executor":  # a lookup still hung after its call gave up must not hold asyncio's default executor
    import asyncio, concurrent.futures
    from musicagent import AsyncDiscogs

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
        async with AsyncDiscogs(base_url="https://hang.test", deadline=1.0, timeout=0.3, max_retries=5, **common) as d:
            started = time.monotonic()
            try:
                await d.artists.get(1)
                error = None
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            result = {"elapsed": time.monotonic() - started, "error": error}
            started = time.monotonic()
            await loop.run_in_executor(None, lambda: None)  # the application's next job for the executor
            result["executor_wait"] = time.monotonic() - started
            return result

    print(json.dumps(asyncio.new_event_loop().run_until_complete(main())))
else:  # the name, not the address, is what TLS checks and sends as SNI
    names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.environ["TEST_CERT"], os.environ["TEST_KEY"])
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    with serve(context) as server:
        port = server.url.rsplit(":", 1)[1]
        d = make_client(flavor, base_url=f"https://localhost:{port}", max_retries=0, timeout=5, **common)
        good = attempt(lambda: d.request("GET", "/good"))
        bad = attempt(lambda: d.request("GET", f"https://wrong.test:{port}/bad"))
        print(json.dumps({"good": good, "bad": bad, "names": names, "paths": [s.path for s in server.seen]}))
sys.stdout.flush()
os._exit(0)  # not waiting for lookups still hung in worker threads (asyncio's executor joins its own)
"""


def run_isolated(mode: str, flavor: str, tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run :data:`_ISOLATED` in its own namespaces; skip where they cannot be made."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if sys.platform != "linux" or unshare is None or ip is None:
        pytest.skip("needs Linux with unshare and ip")
    resolv, hosts = tmp_path / "resolv.conf", tmp_path / "hosts"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:10 attempts:1\n")
    hosts.write_text("127.0.0.1 localhost wrong.test\n::1 localhost\n")
    setup = f'{ip} link set lo up && mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts'
    setup += ' && exec "$3" -c "$4" "$5" "$6"'
    tests = Path(__file__).resolve().parents[1]
    command = [unshare, "-rmn", "sh", "-c", setup, "sh", str(resolv), str(hosts), sys.executable, _ISOLATED]
    command += [f"{mode}:{flavor}", os.pathsep.join([str(tests), str(tests.parent / "src")])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        pytest.fail("the isolated client did not end within 60 s")
    if done.returncode != 0 and "unshare" in done.stderr and not done.stdout:
        pytest.skip(f"no user namespaces here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    return result


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("bound", ["deadline", "timeout"])
def test_a_name_lookup_that_never_answers_ends_within_the_bound(tmp_path: Path, flavor: str, bound: str) -> None:
    """Before, the sync client waited for the resolver's own timeout (10 s here, per try; 5 s by default)."""
    result = run_isolated(bound, flavor, tmp_path)
    assert result["error"] is not None and result["error"].startswith("APITimeoutError"), result
    assert result["elapsed"] < 1.5 + SLACK, result


@pytest.mark.parametrize("flavor", FLAVORS)
def test_tls_checks_and_sends_the_name_not_the_address_it_resolved_to(
    tmp_path: Path, certificate: tuple[str, str], flavor: str
) -> None:
    """The certificate names localhost and 127.0.0.1; wrong.test resolves to 127.0.0.1 but is not named."""
    cert, key = certificate
    result = run_isolated("tls", flavor, tmp_path, {"SSL_CERT_FILE": cert, "TEST_CERT": cert, "TEST_KEY": key})
    assert result["good"]["error"] is None, result
    assert result["bad"]["error"] is not None and "certificate" in result["bad"]["error"].lower(), result
    assert result["names"][:2] == ["localhost", "wrong.test"], result
    assert result["paths"] == ["/good"], result  # nothing was sent to the name the certificate does not hold


def test_name_lookups_still_hung_after_a_call_leave_asyncios_default_executor_free(tmp_path: Path) -> None:
    """aiohttp ran each lookup in the default executor (here 1 thread): the attempts of one call that
    gave up left it hung for the resolver's timeout (10 s here), and the application's next
    ``run_in_executor`` waited that long. The lookups now run in threads of their own."""
    result = run_isolated("executor", "async", tmp_path)
    assert result["error"] is not None and result["error"].startswith("APITimeoutError"), result
    assert result["elapsed"] < 1.0 + SLACK, result
    assert result["executor_wait"] < SLACK, result


@pytest.mark.parametrize("fault", ["slow", "drip_body"])
def test_a_stalled_or_dripped_tls_answer_is_cut_at_the_timeout(tls_server: LocalServer, fault: str) -> None:
    """The sync client's socket reads have no timeout of their own (the attempt's bound is the wall
    clock's), so the watchdog shutting the socket down must end a blocked read under TLS too: nothing
    said after the request, or a body dripped a few bytes at a time. (The async client's timer does
    not touch sockets; its TLS context is built once per process, before this server's certificate
    is trusted, so it is not run here.)"""
    tls_server.slow_seconds = 20
    tls_server.fail(fault)
    d = Discogs(base_url=tls_server.url, token="t0k3n-tls", rate_limit=None, timeout=1, max_retries=0)
    try:
        elapsed, error = timed(lambda: d.artists.get(1))
    finally:
        d.close()
    assert elapsed < 1 + SLACK
    assert "within 1s" in str(error)

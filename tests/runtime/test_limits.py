"""Answers are decoded as a stream with a cap: a gzip bomb cannot fill memory or disk (issue 9, item 3).

The bomb is 1 MB of gzip that expands to 1 GiB of zeros. Memory is measured in a subprocess (its
peak RSS is its own), against the same local server the other tests use.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from musicagent import ConfigurationError, Discogs, ResponseDecodeError, ResponseTooLargeError

from .conftest import TOKEN, LocalServer, Seen

Client = Callable[..., Discogs]
GIB = 2**30


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """1 GiB of zeros as ~1 MB of gzip: one fully flushed 1 MiB deflate block, repeated."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = squeeze.compress(b"\0" * 2**20) + squeeze.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(b"\0" * 2**20, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + block * 1024 + b"\x03\x00" + struct.pack("<II", crc, GIB & 0xFFFFFFFF)


@pytest.fixture
def bomb_server(server: LocalServer, gzip_bomb: bytes) -> LocalServer:
    def bomb(_: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip_bomb

    server.routes["/bomb"] = server.routes["/bomb.jpg"] = bomb
    return server


_PEAK = """
import resource, sys
from musicagent import Discogs
d = Discogs(base_url=sys.argv[1], token=sys.argv[2], rate_limit=None, max_retries=3, max_download_bytes=50 * 2**20)
try:
    if sys.argv[3] == "download":
        d.images.download(sys.argv[1] + "/bomb.jpg", sys.argv[4])
    else:
        d.request("GET", "/bomb")
    print("no error")
except Exception as exc:
    print(type(exc).__name__)
try:  # this process's own peak: ru_maxrss also counts the forking parent's memory (Linux keeps it across exec)
    with open("/proc/self/status") as status:
        print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@pytest.mark.parametrize("mode", ["request", "download"])
def test_a_gzip_bomb_stops_at_the_cap_with_bounded_memory(bomb_server: LocalServer, mode: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOGS_")}
    target = str(tmp_path / "bomb.jpg")
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, bomb_server.url, TOKEN, mode, target],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    error, peak_mb = done.stdout.split()
    assert error == "ResponseTooLargeError"
    assert int(peak_mb) < 300  # expanding the bomb whole took 2 GiB
    assert bomb_server.count("GET") == 1  # final, not "transient": it is not downloaded again
    assert list(tmp_path.iterdir()) == []  # no partial download left behind


def test_the_cap_is_a_setting_and_names_itself(server: LocalServer, client: Client) -> None:
    big = b'{"items": "' + b"x" * 10_000 + b'"}'
    server.routes["/big"] = lambda _: (200, {"Content-Type": "application/json"}, big)
    assert client().request("GET", "/big")["items"] == "x" * 10_000
    small = client(max_response_bytes=4096, max_retries=3)
    with pytest.raises(ResponseTooLargeError) as info:
        small.request("GET", "/big")
    assert isinstance(info.value, ResponseDecodeError) and not info.value.transient
    assert "max_response_bytes=4,096" in str(info.value)
    assert server.count("GET") == 2
    env = {"DISCOGS_MAX_RESPONSE_BYTES": "4096"}
    assert Discogs(base_url=server.url, env=env, rate_limit=None).settings.max_response_bytes == 4096


@pytest.mark.parametrize("value", [0, -1, 10, True, "lots"])
def test_a_cap_too_small_to_be_useful_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_response_bytes"):
        Discogs(max_response_bytes=value)  # type: ignore[arg-type]


def test_a_download_past_its_cap_leaves_no_file(server: LocalServer, client: Client, tmp_path: Path) -> None:
    server.routes["/file.csv"] = lambda _: (200, {"Content-Type": "text/csv"}, b"a,b\n" * 100_000)
    target = tmp_path / "file.csv"
    with pytest.raises(ResponseTooLargeError, match="max_download_bytes"):
        client(max_download_bytes=100_000)._transport.download("/file.csv", target)
    assert list(tmp_path.iterdir()) == []
    client()._transport.download("/file.csv", target)
    assert target.stat().st_size == 400_000

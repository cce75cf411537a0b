"""Every example runs, as a user would run it, against the mock server replaying the repository's cassettes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from musicagent.mock import MockServer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CASSETTES = ROOT / "cassettes"

pytestmark = pytest.mark.skipif(not CASSETTES.is_dir(), reason="the repository's cassettes/ directory is missing")

# What each example must print: names and messages that come from the recorded bodies.
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "quickstart.py": (
        [],
        [
            "Artist #108713: Nickelback",
            "Hesher",
            "release  Nirvana - Nirvana",
            "Rick Astley - Never Gonna Give You Up (1987)",
            "NotFoundError: status 404, message 'Release not found.'",
            "InvalidParameterError: artist_id",
            "of 60 left",
        ],
    ),
    "basic_usage.py": (
        [],
        ["Artist: Aphex Twin", "Label: Planet E", "Electric Universe - Stardiver", "User: vdq", "House For All"],
    ),
    "advanced_usage.py": (
        ["OUT"],
        [
            "page 2 of 2",  # the mock ends the listing at its last recorded page
            "artist 1, page 2: 7 releases (has next: False)",
            "X-Discogs-Ratelimit: 60",
            "log: ",
            "release 40522: House For All",
            "wrote 25 rows to planet-e.csv and 20 lines to nickelback.jsonl",
            "id,artist,title,catno,year",
        ],
    ),
    "error_handling.py": (
        [],
        [
            "requests sent meanwhile: 0",
            "release: 404 'Release not found.'",
            "without a token: 401 'You must authenticate to access this resource.'",
            "APIConnectionError: could not connect",
            "429 'You are making requests too quickly.'",
            "ConfigurationError",
        ],
    ),
    "mcp_agent.py": (
        [],
        [
            "read-only tools, e.g. artists_get",
            "discogs://identity -> R-Search",
            "releases_get 249504 -> Rick Astley - Never Gonna Give You Up (1987)",
            "'returned': 20, 'total': 57, 'next_offset': 20}",
            "continued at offset 20",
            "search Nirvana -> Nirvana - Nirvana",
            "tool error: NotFoundError: HTTP 404: Artist not found.",
            "tool error: InvalidParameterError: artist_id: 'abc' is not of type 'integer'",
        ],
    ),
    "performance_test.py": (
        ["--calls", "12", "--threads", "3"],
        ["12 calls from 3 threads", "0 failed", "latency p50"],
    ),
}


def run(script: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_example_is_tested() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == {*EXPECTED, "demo.py"}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_against_the_mock_server(script: str, tmp_path: Path) -> None:
    args, expected = EXPECTED[script]
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    requests: list[str] = []
    with MockServer(CASSETTES, log=requests.append) as server:
        env = {**os.environ, "DISCOGS_BASE_URL": server.url, "DISCOGS_TOKEN": "mock-token"}
        result = run(script, args, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for text in expected:
        assert text in result.stdout, f"{text!r} not in the output of {script}:\n{result.stdout}"
    assert requests, "the example did not talk to the mock server it was given"
    assert "no DISCOGS_TOKEN set" not in result.stdout


def test_advanced_usage_leaves_its_exports(tmp_path: Path) -> None:
    with MockServer(CASSETTES) as server:
        env = {**os.environ, "DISCOGS_BASE_URL": server.url, "DISCOGS_TOKEN": "mock-token"}
        result = run("advanced_usage.py", [str(tmp_path / "out")], env, tmp_path)
    assert result.returncode == 0, result.stderr
    csv_lines = (tmp_path / "out" / "planet-e.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0] == "id,artist,title,catno,year" and len(csv_lines) == 26
    assert len((tmp_path / "out" / "nickelback.jsonl").read_text(encoding="utf-8").splitlines()) == 20


def test_without_settings_an_example_starts_its_own_mock(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOGS_")}
    result = run("quickstart.py", [], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no DISCOGS_TOKEN set: replaying recorded answers" in result.stdout
    assert "Artist #108713: Nickelback" in result.stdout


def test_demo_runs_quickstart_and_a_cli_export_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOGS_")}
    result = run("demo.py", ["--out", str(tmp_path / "out")], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "==> Mock Discogs API on http://127.0.0.1:" in out
    assert "Artist #108713: Nickelback" in out
    assert "$ musicagent search --q prodigy --type release --limit 50 --format csv -o" in out
    assert "prodigy.csv: 50 rows" in out and "Demo finished" in out
    rows = list(csv.DictReader((tmp_path / "out" / "prodigy.csv").open(encoding="utf-8")))
    assert len(rows) == 50 and {row["type"] for row in rows} == {"release"}  # what --type asked for

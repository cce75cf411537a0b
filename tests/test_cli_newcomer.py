"""The command line as a newcomer gets it wrong: typos, stray options, settings, a killed export.

Real processes against a small Discogs stand-in on loopback (``tests/test_cli.FakeDiscogs``).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import FakeDiscogs
from tests.test_cli_experience import REPO, clean_env


class StallingDiscogs(FakeDiscogs):
    """FakeDiscogs whose second page of releases, and artist 7, answer only when released."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()
        self.release = threading.Event()

    def route(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path == "/artists/7" or (path == "/artists/1/releases" and query.get("page") == "2"):
            self.stalled.set()
            self.release.wait(60)
        return super().route(method, path, query)

    def close(self) -> None:
        self.release.set()
        super().close()


@pytest.fixture
def api() -> Iterator[StallingDiscogs]:
    server = StallingDiscogs()
    yield server
    server.close()


def musicagent(*args: str, cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "musicagent", *args],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run(*args: str, cwd: Path) -> tuple[int, str, str]:
    with musicagent(*args, cwd=cwd) as proc:
        out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


# -- typos ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,meant,help_of",
    [
        (["artist", "get", "1"], "'artists'", "musicagent"),
        (["artists", "gte", "1"], "'get'", "musicagent artists"),
        (["artists", "get", "1", "--timout", "3"], "'--timeout'", "musicagent artists get"),
        (["artists", "releases", "1", "--limt", "3"], "'--limit'", "musicagent artists releases"),
        (["users", "inventory", "bob", "--sort-ordr", "asc"], "'--sort-order'", "musicagent users inventory"),
    ],
)
def test_a_typo_is_answered_with_what_was_probably_meant(
    args: list[str], meant: str, help_of: str, tmp_path: Path
) -> None:
    code, out, err = run("--base-url", "http://127.0.0.1:9", *args, cwd=tmp_path)
    assert code == 2 and out == ""
    assert f"did you mean {meant}?" in err
    assert err.rstrip().endswith(f"(see '{help_of} --help')")
    assert err.count("\n") == 1


def test_no_suggestion_when_nothing_is_close(tmp_path: Path) -> None:
    code, _, err = run("artists", "get", "1", "--zzzzzz", cwd=tmp_path)
    assert code == 2 and "did you mean" not in err
    assert "unrecognized arguments: --zzzzzz (see 'musicagent artists get --help')" in err


# -- settings on the command line -------------------------------------------------------------------


def test_help_names_every_environment_variable_the_readme_documents(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Credentials and configuration", 1)[1].split("\n\n", 2)[1]
    variables = set(re.findall(r"DISCOGS_[A-Z_]+", table))
    assert len(variables) >= 18
    code, out, _ = run("--help", cwd=tmp_path)
    assert code == 0
    assert sorted(v for v in variables if v not in out) == []


def test_a_bad_setting_given_as_an_option_is_named_as_that_option(tmp_path: Path) -> None:
    code, _, err = run("--cache", "sqlite://", "artists", "get", "1", cwd=tmp_path)
    assert code == 2
    assert err.startswith("musicagent: error: invalid option --cache: sqlite:// needs a file")
    code, _, err = run("--rate-limit-store", "ftp://x", "artists", "get", "1", cwd=tmp_path)
    assert code == 2 and err.startswith("musicagent: error: invalid option --rate-limit-store: ")


def test_a_bad_setting_from_the_environment_still_names_the_variable(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "musicagent", "artists", "get", "1"],
        cwd=tmp_path,
        env=clean_env(DISCOGS_CACHE="sqlite://"),
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.startswith("musicagent: error: invalid environment variable DISCOGS_CACHE: ")


def test_deadline_bounds_a_call_that_never_answers(api: StallingDiscogs, tmp_path: Path) -> None:
    started = time.monotonic()
    code, out, err = run(
        "--base-url", api.url, "--timeout", "60", "--max-retries", "0", "--deadline", "1.5", "artists", "get", "7",
        cwd=tmp_path,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert code == 6 and out == "", err
    assert elapsed < 30, elapsed  # the 60 s timeout would have run on without the deadline
    assert "Traceback" not in err


def test_deadline_must_be_a_positive_number(tmp_path: Path) -> None:
    code, _, err = run("artists", "get", "1", "--deadline", "0", cwd=tmp_path)
    assert code == 2 and "argument --deadline: invalid positive number value: '0'" in err


# -- a killed export ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "exit_code", "said"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_killed_export_leaves_the_old_file_and_nothing_else(
    api: StallingDiscogs, tmp_path: Path, signum: int, exit_code: int, said: str
) -> None:
    """Killed between two pages: the earlier file is intact and no temporary file is left behind."""
    (tmp_path / "out.csv").write_text("precious\n", encoding="utf-8")
    args = ["--base-url", api.url, "--format", "csv", "-o", "out.csv", "artists", "releases", "1", "--per-page", "2"]
    with musicagent(*args, cwd=tmp_path) as proc:
        assert api.stalled.wait(60), "the second page was never asked for"
        time.sleep(0.3)  # the first page's rows are in the temporary file by now
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == exit_code, err
    assert err == f"musicagent: error: {said}\n"
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_sigterm_handling_is_only_for_the_command(tmp_path: Path) -> None:
    """Embedding main() in a program leaves that program's SIGTERM handler as it was."""
    from musicagent.cli import app

    before = signal.getsignal(signal.SIGTERM)
    assert app.main(["--base-url", "http://127.0.0.1:9", "--max-retries", "0", "artists", "get", "1"]) == 6
    assert signal.getsignal(signal.SIGTERM) is before


# -- arguments the SDK refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["releases", "rating", "update", "249504", "bob", "--rating", "9"],
            "argument --rating: must be <= 5, got 9 (see 'musicagent releases rating update --help')",
        ),
        (["releases", "get", "-5"], "argument RELEASE_ID: must be >= 1, got -5 (see 'musicagent releases get --help')"),
        (
            ["users", "inventory", "bob", "--per-page", "500"],
            "argument --per-page: must be <= 100, got 500 (see 'musicagent users inventory --help')",
        ),
    ],
)
def test_an_argument_the_sdk_refuses_is_named_as_it_was_typed(
    args: list[str], said: str, api: StallingDiscogs, tmp_path: Path
) -> None:
    code, out, err = run("--base-url", api.url, "--token", "t", *args, cwd=tmp_path)
    assert (code, out, err) == (2, "", f"musicagent: error: {said}\n")
    assert api.requests == []

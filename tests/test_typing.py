"""mypy --strict accepts tests/typing and reports wrong calls, naming the parameter.

One mypy run (with the project's configuration and cache) checks tests/typing plus small
temporary files; each test reads its part of the output. Skipped when mypy is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]

WRONG_CALLS = """\
from musicagent import Discogs

discogs = Discogs(token="t")
discogs.artists.get("108713")
discogs.artists.releases(1, sort="popularity")
discogs.releases.rating.get(1, username=42)
discogs.search(type="song", per_page="100")
discogs.artists.get(1, colour="red")
"""

CONTEXT_MANAGER = """\
from typing import assert_type

from musicagent import Discogs

with Discogs(token="t") as discogs:
    assert_type(discogs, Discogs)
    discogs.artists.get(1)
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy's error lines, grouped by the file they are about."""
    work = tmp_path_factory.mktemp("mypy")
    (work / "wrong_calls.py").write_text(WRONG_CALLS)
    (work / "context_manager.py").write_text(CONTEXT_MANAGER)
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(ROOT / ".mypy_cache"),  # the project's cache (same options as `mypy src tests/typing`): warm runs
        "--no-error-summary",
        "--show-error-codes",
        "--hide-error-context",
        "--no-pretty",
        str(ROOT / "tests" / "typing"),
        str(work / "wrong_calls.py"),
        str(work / "context_manager.py"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "error: " in done.stdout or done.returncode == 0, done.stderr  # mypy itself must have run
    grouped: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        if ": error: " in line:
            grouped.setdefault(Path(line.split(":", 1)[0]).name, []).append(line)
    return grouped


def test_the_typing_tests_pass_mypy_strict(mypy_output: dict[str, list[str]]) -> None:
    """Includes: every `# type: ignore[...]` there is needed, so each wrong call is reported."""
    assert mypy_output.get("test_types.py", []) == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (4, 'Argument 1 to "get" of "ArtistsResource" has incompatible type "str"; expected "int"  [arg-type]'),
        (5, 'Argument "sort" to "releases" of "ArtistsResource" has incompatible type "Literal[\'popularity\']"'),
        (6, 'Argument "username" to "get" of "ReleasesRatingResource" has incompatible type "int"; expected "str"'),
        (7, 'Argument "type" to "search" of "Discogs" has incompatible type "Literal[\'song\']"'),
        (7, 'Argument "per_page" to "search" of "Discogs" has incompatible type "str"; expected "int | None"'),
        (8, 'Unexpected keyword argument "colour" for "get" of "ArtistsResource"  [call-arg]'),
    ],
)
def test_mypy_reports_a_wrong_call_naming_the_parameter(
    mypy_output: dict[str, list[str]], line: int, expected: str
) -> None:
    reported = [text for text in mypy_output.get("wrong_calls.py", []) if f"wrong_calls.py:{line}: error: " in text]
    assert any(expected in text for text in reported), reported


def test_with_discogs_as_client_keeps_the_discogs_type(mypy_output: dict[str, list[str]]) -> None:
    assert mypy_output.get("context_manager.py", []) == []

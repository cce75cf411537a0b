"""The command line as a new user meets it (issue 15): real processes, a real pseudo-terminal, the
mock server and a small Discogs stand-in on loopback.

Waits announced before they happen, a limit shared between processes, a positional search query,
a progress line that never runs into a table, tables that say what did not fit, ``--columns``,
wrapper answers as tables, shell completion, and the small things an error message should name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import musicagent
from musicagent import ConfigurationError, Discogs
from musicagent._runtime import waits
from musicagent._runtime.metrics import MetricsSnapshot
from musicagent._runtime.ratelimit import RateLimiter, RateLimitState
from musicagent.cli import output
from musicagent.export import to_json
from musicagent.mock import MockServer
from musicagent.models import Artist
from tests.test_cli import RELEASES, SEARCH_RESULTS, FakeDiscogs

REPO = Path(__file__).resolve().parents[1]
WAIT_LINE = re.compile(r"^musicagent: waiting (\d+\.\d|\d+) s \((.+)\)$", flags=re.MULTILINE)


@pytest.fixture
def api() -> Iterator[FakeDiscogs]:
    server = FakeDiscogs()
    yield server
    server.close()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without DISCOGS_* settings, so only the command line speaks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCOGS_", "_ARGCOMPLETE", "COMP_"))}
    env.update(extra)
    return env


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``musicagent ARGS`` in a child process; stdout and stderr are pipes, not terminals."""
    return subprocess.run(
        [sys.executable, "-m", "musicagent", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or clean_env(),
        timeout=timeout,
        check=False,
    )


def on_terminal(*args: str, cwd: Path, columns: int = 100, timeout: float = 60) -> tuple[int, str]:
    """``musicagent ARGS`` with stdout and stderr on one pseudo-terminal; the screen's bytes as text."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = clean_env(TERM="dumb")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "musicagent", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif child.poll() is not None:
            break
    code = child.wait(timeout=10)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


# -- waits are announced -----------------------------------------------------------------------------


def test_a_limiter_wait_is_logged_at_info_and_told_to_listeners() -> None:
    records: list[str] = []
    heard: list[tuple[float, str]] = []
    musicagent.enable_logging("INFO", console=False, sink=lambda message: records.append(message.record["message"]))
    try:
        limiter = RateLimiter(1, 2.5)
        with waits.listen(lambda seconds, reason: heard.append((seconds, reason))):
            limiter.acquire()
            waited = limiter.acquire()
    finally:
        musicagent.disable_logging()
    assert waited is not None and waited >= 2.0
    assert len(heard) == 1  # one notice for one wait, before it
    seconds, reason = heard[0]
    assert 2.0 <= seconds <= 4.0 and reason == "rate limit of 1 requests per 2.5 s"
    assert [r for r in records if r.startswith("waiting ")] == [
        f"waiting {waits.describe(seconds)} before the next request: {reason}"
    ]


def test_the_async_limiter_announces_its_wait_too() -> None:
    import asyncio

    from musicagent._runtime.async_ratelimit import AsyncLimiterWait

    heard: list[str] = []

    async def twice() -> None:
        limiter = AsyncLimiterWait(RateLimiter(1, 2.5))
        await limiter.acquire()
        await limiter.acquire()

    with waits.listen(lambda seconds, reason: heard.append(reason)):
        asyncio.run(twice())
    assert heard == ["rate limit of 1 requests per 2.5 s"]


def test_short_waits_pass_without_a_word() -> None:
    heard: list[float] = []
    with waits.listen(lambda seconds, reason: heard.append(seconds)):
        assert waits.announce(1.9, "short") is False
        assert waits.announce(2.0, "long") is True
    assert heard == [2.0]
    assert [waits.describe(s) for s in (0.44, 9.96, 41.4, 60, 125)] == ["0.4 s", "10.0 s", "41 s", "1 min", "2 min 5 s"]


@pytest.mark.slow
def test_the_cli_announces_a_limiter_wait_on_stderr_without_a_terminal(api: FakeDiscogs, tmp_path: Path) -> None:
    base = ("--base-url", api.url, "--token", "t", "--rate-limit", "1/2.5", "--format", "jsonl")
    done = cli(*base, "artists", "releases", "1", "--per-page", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(RELEASES)  # two pages, the second after the wait
    notices = WAIT_LINE.findall(done.stderr)
    assert len(notices) == 1, done.stderr
    assert 2.0 <= float(notices[0][0]) <= 4.0 and notices[0][1] == "rate limit of 1 requests per 2.5 s"
    quiet = cli(*base, "-q", "artists", "releases", "1", "--per-page", "3", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.slow
def test_a_retry_after_a_429_is_announced(tmp_path: Path) -> None:
    """The mock server answers 429 with Retry-After past its window; the wait for it is told, too."""
    with MockServer(rate_limit=(1, 3.0)) as mock:
        done = cli(
            "--base-url", mock.url, "--token", "t", "--rate-limit", "off", "--format", "jsonl",
            "artists", "get", "108713", cwd=tmp_path,
        )  # fmt: skip
        again = cli(
            "--base-url", mock.url, "--token", "t", "--rate-limit", "off", "artists", "get", "108713", cwd=tmp_path
        )
    assert done.returncode == 0, done.stderr
    assert again.returncode == 0, again.stderr
    notices = WAIT_LINE.findall(again.stderr)
    assert len(notices) == 1, again.stderr
    reason = notices[0][1]
    assert reason.startswith("Discogs answered 429: You are making requests too quickly. Then GET http://127.0.0.1:")
    assert reason.endswith("/artists/108713 again")


@pytest.mark.slow
def test_separate_processes_share_a_limit_through_the_store(api: FakeDiscogs, tmp_path: Path) -> None:
    """Two commands started together, one limited by options and one by the environment, one slot a window."""
    store = f"sqlite:///{tmp_path / 'limit.db'}"
    command = [sys.executable, "-m", "musicagent", "--base-url", api.url, "--token", "t", "artists", "get", "1"]
    # a 10 s window: the two interpreters start within it even on a busy machine
    by_options = [*command, "--rate-limit", "1/10", "--rate-limit-store", store]
    env = clean_env(DISCOGS_RATE_LIMIT="1/10", DISCOGS_RATE_LIMIT_STORE=store)
    started = time.monotonic()
    runs = [
        subprocess.Popen(by_options, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                         env=clean_env()),
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env),
    ]  # fmt: skip
    results = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    notices = [WAIT_LINE.findall(err) for _, err in results]
    assert sorted(map(len, notices)) == [0, 1], results  # whichever came second waited for the first
    assert time.monotonic() - started >= 5.0


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--rate-limit", "fast"), "--rate-limit"),
        (("--rate-limit", "0/60"), "--rate-limit"),
        (("--rate-limit-store", "ftp://x"), "--rate-limit-store"),
        (("--timeout", "-1"), "--timeout"),
        (("--timeout", "0"), "--timeout"),
        (("--max-retries", "-2"), "--max-retries"),
    ],
)
def test_bad_client_options_name_the_option(
    api: FakeDiscogs, tmp_path: Path, args: tuple[str, str], named: str
) -> None:
    done = cli("--base-url", api.url, *args, "artists", "get", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("musicagent: error: ") and named in done.stderr, done.stderr
    assert api.requests == []


def test_rate_limit_off_sends_without_waiting(api: FakeDiscogs, tmp_path: Path) -> None:
    done = cli("--base-url", api.url, "--rate-limit", "off", "--format", "jsonl",
               "artists", "releases", "1", "--per-page", "1", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and done.stderr == "" and len(done.stdout.splitlines()) == len(RELEASES)


# -- the search query is positional ------------------------------------------------------------------


def test_search_takes_the_query_as_a_word(api: FakeDiscogs, tmp_path: Path) -> None:
    done = cli("--base-url", api.url, "search", "nirvana", "--type", "release", "--format", "jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert api.requests[-1]["query"]["q"] == "nirvana" and api.requests[-1]["query"]["type"] == "release"
    assert len(done.stdout.splitlines()) == len(SEARCH_RESULTS)
    assert cli("--base-url", api.url, "search", "--q", "nevermind", cwd=tmp_path).returncode == 0
    assert api.requests[-1]["query"]["q"] == "nevermind"
    both = cli("--base-url", api.url, "search", "nirvana", "--q", "nevermind", cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    usage = cli("search", "--help", cwd=tmp_path)
    assert "usage: musicagent search [Q] [options]" in usage.stdout and "--q STRING" in usage.stdout


# -- progress and tables on a terminal ---------------------------------------------------------------


def test_the_progress_line_ends_before_the_table_on_one_terminal(api: FakeDiscogs, tmp_path: Path) -> None:
    code, screen = on_terminal(
        "--base-url", api.url, "--format", "table", "search", "nirvana", "--per-page", "2", cwd=tmp_path
    )
    assert code == 0, screen
    lines = screen.split("\n")
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["id", "type"])
    bar = lines[header - 1]
    assert f"{len(SEARCH_RESULTS)}/{len(SEARCH_RESULTS)} items" in bar.split("\r")[-1]  # its final state, then \n
    assert all("items" not in line for line in lines[header:]), screen  # nothing drawn into the table
    assert "Nirvana - Album 6" in screen


@pytest.mark.slow
def test_a_wait_notice_clears_the_progress_line(api: FakeDiscogs, tmp_path: Path) -> None:
    code, screen = on_terminal(
        "--base-url", api.url, "--token", "t", "--rate-limit", "1/2.5", "--format", "csv",
        "-o", str(tmp_path / "r.csv"), "search", "nirvana", "--per-page", "4", cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, screen
    notice = next(line for line in screen.split("\n") if "musicagent: waiting" in line)
    # the bar was wiped (carriage return, blanks, carriage return) before the notice was written
    assert WAIT_LINE.match(notice.split("\r")[-1]), repr(notice)
    assert notice.split("\r")[-2].strip() == ""
    assert f"{len(SEARCH_RESULTS)}/{len(SEARCH_RESULTS)} items" in screen


def test_a_table_too_wide_for_the_terminal_says_what_it_cut(tmp_path: Path) -> None:
    with MockServer() as mock:
        code, screen = on_terminal(
            "--base-url", mock.url, "--format", "table", "artists", "releases", "108713", cwd=tmp_path, columns=60
        )
    assert code == 0, screen
    table = [line for line in screen.split("\n") if line and "items" not in line]
    assert all(len(line) <= 60 for line in table), table
    assert table[0].rstrip().endswith("…")  # the header ends in the column that stands for the rest
    assert re.search(r"^… \d+ more column\(s\) did not fit: ", screen, flags=re.MULTILINE)
    assert "resource_url" in screen.split("did not fit: ", 1)[1]
    assert any("…" in line.rstrip(" …") for line in table[2:8])  # long cells are cut visibly


def test_render_table_squeezes_wide_columns_before_leaving_any_out() -> None:
    rows = [{f"c{i}": "v" * 30 for i in range(3)}]
    squeezed = output.render_table(rows, width=50)
    assert squeezed.splitlines()[0].split() == ["c0", "c1", "c2"] and "v" * 14 + "…" in squeezed
    many = [{f"column{i}": "value" for i in range(12)}]
    cut = output.render_table(many, width=40)
    first = cut.splitlines()[0]
    assert first.endswith("…") and len(first) <= 40
    kept = first.split()[:-1]
    assert f"… {12 - len(kept)} more column(s) did not fit: column{len(kept)}, " in " ".join(cut.splitlines())
    assert output.render_table(many, columns=["column3", "column0"]).splitlines()[0].split() == ["column3", "column0"]


# -- --columns ----------------------------------------------------------------------------------------


def test_columns_pick_and_order_the_table_and_csv_columns(api: FakeDiscogs, tmp_path: Path) -> None:
    done = cli("--base-url", api.url, "search", "nirvana", "--format", "table", "--columns", "title,id", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["title", "id"]
    assert done.stdout.splitlines()[2].split() == ["Nirvana", "-", "Album", "0", "100"]
    done = cli("--base-url", api.url, "artists", "releases", "1", "--format", "csv", "--columns", "id,title,year",
               cwd=tmp_path)  # fmt: skip
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["id", "title", "year"] and rows[1] == ["200", "Release 0", "1990"]
    assert rows[-1] == ["299", RELEASES[-1]["title"], ""]


def test_columns_are_checked_before_anything_is_sent(api: FakeDiscogs, tmp_path: Path) -> None:
    unknown = cli("--base-url", api.url, "search", "x", "--format", "csv", "--columns", "id,titel", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no column 'titel' in SearchResult" in unknown.stderr and "title" in unknown.stderr
    wrong_format = cli("--base-url", api.url, "search", "x", "--columns", "id", cwd=tmp_path)
    assert wrong_format.returncode == 2 and "--format table or csv" in wrong_format.stderr
    assert cli("--base-url", api.url, "search", "x", "--columns", "id,,id", cwd=tmp_path).returncode == 2
    assert api.requests == []


# -- wrapper answers ----------------------------------------------------------------------------------


def test_wrapper_answers_are_tables_of_their_main_list(tmp_path: Path) -> None:
    with MockServer() as mock:
        folders = cli("--base-url", mock.url, "--token", "t", "--format", "table",
                      "users", "collection", "folders", "list", "test_user", cwd=tmp_path)  # fmt: skip
        items = cli("--base-url", mock.url, "--format", "csv", "lists", "get", "2", cwd=tmp_path)
        picked = cli("--base-url", mock.url, "--format", "csv", "--columns", "id,display_title", "lists", "get", "2",
                     cwd=tmp_path)  # fmt: skip
        artist = cli("--base-url", mock.url, "--format", "table", "artists", "get", "108713", cwd=tmp_path)
    assert folders.returncode == 0, folders.stderr
    lines = folders.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "count"]
    assert lines[2].split()[:3] == ["0", "All", "95"]  # a row per folder (the recorded user has one)
    rows = list(csv.DictReader(io.StringIO(items.stdout)))
    assert [row["id"] for row in rows] == ["4674", "2964", "3227"]  # the list's items, one row each
    assert next(csv.reader(io.StringIO(picked.stdout))) == ["id", "display_title"]
    assert artist.stdout.splitlines()[0].split()[0] == "id"  # a record, key and value per line
    assert "Nickelback" in artist.stdout


def test_only_a_single_list_of_objects_makes_a_wrapper() -> None:
    from musicagent import models

    assert output.list_field(models.CollectionFolders) == ("folders", models.Folder)
    assert output.list_field(models.UserList) == ("items", models.UserListItem)
    assert output.list_field(models.Release) is None  # tracklist, images, videos, ...: a record
    assert output.list_field(models.User) is None


# -- shell completion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "expected"), [
    ("musicagent art", {"artists"}),
    ("musicagent artists releases 1 --sort ", {"year", "title", "format"}),
    ("musicagent search --ty", {"--type"}),
    ("musicagent --format t", {"table"}),
    ("musicagent completion ", {"bash", "zsh", "fish"}),
])  # fmt: skip
def test_completion_answers_the_shell(tmp_path: Path, line: str, expected: set[str]) -> None:
    answer = tmp_path / "completions"
    env = clean_env(
        _ARGCOMPLETE="1", _ARGCOMPLETE_IFS="\n", COMP_LINE=line, COMP_POINT=str(len(line)),
        _ARGCOMPLETE_STDOUT_FILENAME=str(answer),
    )  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "musicagent"], env=env, cwd=tmp_path, capture_output=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert expected <= {word.strip() for word in answer.read_text().split("\n") if word.strip()}


@pytest.mark.parametrize(
    ("shell", "marker"), [("bash", "complete "), ("zsh", "#compdef musicagent"), ("fish", "complete ")]
)
def test_completion_prints_the_shell_code(tmp_path: Path, shell: str, marker: str) -> None:
    done = cli("completion", shell, cwd=tmp_path)
    assert done.returncode == 0 and marker in done.stdout and "musicagent" in done.stdout
    assert cli("completion", "tcsh", cwd=tmp_path).returncode == 2


# -- the smaller things -------------------------------------------------------------------------------


def test_a_misspelt_client_argument_names_the_class_and_the_likely_word() -> None:
    with pytest.raises(
        TypeError, match=r"^Discogs\(\) got an unexpected keyword argument 'tokn' \(did you mean 'token'\?\)$"
    ):
        Discogs(tokn="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Discogs\(\) got an unexpected keyword argument 'colour' \(it takes: "):
        Discogs(colour="red")  # type: ignore[arg-type]


def test_an_unknown_log_level_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"level must be one of TRACE, DEBUG, INFO.* not 'LOUD'"):
        musicagent.enable_logging("LOUD")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        musicagent.enable_logging(-1)
    musicagent.enable_logging("debug", console=False)  # case does not matter at run time
    musicagent.disable_logging()


def test_json_output_does_not_invent_null(api: FakeDiscogs, tmp_path: Path) -> None:
    done = cli("--base-url", api.url, "artists", "get", "1", cwd=tmp_path)
    answer = json.loads(done.stdout)
    assert "realname" not in answer and "images" not in answer  # not in the answer, so not in the output
    assert answer["name"] == "Nirvana"
    artist = Artist.model_validate({"id": 1, "name": "A", "resource_url": "u", "profile": None})
    to_json([artist], tmp_path / "a.json")
    written = json.loads((tmp_path / "a.json").read_text())
    assert written == [{"id": 1, "name": "A", "resource_url": "u", "profile": None}]  # a null Discogs sent stays


def test_metrics_and_rate_limit_print_in_rounded_units() -> None:
    snapshot = MetricsSnapshot(12, 1, 0, 0, 12.34567, {200: 11, 429: 1}, 0.0843, 0.2, 0.5, 1.23456)
    assert repr(snapshot) == (
        "MetricsSnapshot(12 requests, 1 retries, 0 rate-limited, 0 errors, waited 12 s for the limiter; "
        "latency p50 84 ms, p90 200 ms, p99 500 ms, max 1235 ms; statuses {200: 11, 429: 1})"
    )
    cached = MetricsSnapshot(1, 0, 0, 0, 0.0, {200: 1}, 0.1, 0.1, 0.1, 0.1, cache_hits=3, cache_misses=1)
    assert repr(cached).endswith("statuses {200: 1}; cache 3 hits, 1 misses)")
    state = RateLimitState(60, 3, 57, time.time() - 30.2, 60, 60.0, 3)  # far from a rounding edge: the box is busy
    shown = r"RateLimitState\(server 57/60 remaining, 3 used, 3[01] s ago; local 3/60 per 1 min\)"
    assert re.fullmatch(shown, repr(state)), repr(state)
    assert repr(RateLimitState(None, None, None)) == "RateLimitState(server: no figures yet; local limiter off)"


def test_the_readme_tells_the_exit_codes_the_cli_uses() -> None:
    from musicagent.cli.errors import EXIT_CODES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    for code, _ in EXIT_CODES:
        assert re.search(rf"(?<![\d]){code}(?![\d])", section), f"exit code {code} is not in the README"

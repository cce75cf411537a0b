"""The README's code runs as written, offline, against the mock server.

Every fenced block of README.md is checked by its language:

- ``python``: all blocks run in order in one interpreter (a tutorial read top to bottom: ``discogs``
  from the first block is used by the later ones), against a mock server given by
  ``DISCOGS_BASE_URL``. The one substitution: a placeholder token (``token="…"`` or ``token=...``)
  becomes the mock's token. A block that starts with ``# conftest.py`` is a pytest project: its
  ``# <name>.py`` lines split it into files, and pytest runs it.
- ``bash``: each ``musicagent`` command line runs in a shell against the mock (a server it starts
  is seen answering, then stopped); the ``make`` targets and ``pip install`` extras it names exist.
- ``json``: it parses, and an MCP client configuration in it names a real command.
- ``text``: a transcript (``$ command`` then output) matches what the command prints.

A block can be left out only with a marker on the line before its fence,
``<!-- not run by tests/test_readme.py: REASON -->``, visible in the README's source; at most two.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from musicagent.mock import MockServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CASSETTES = ROOT / "cassettes"
BIN = Path(sys.executable).parent
SKIP = re.compile(r"<!-- not run by tests/test_readme\.py: (.+?) -->\s*$")
MOCK_TOKEN = "mock-token"

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.skipif(not CASSETTES.is_dir(), reason="the repository's cassettes/ directory is missing")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    skip: str | None

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.lang})"


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks, each with the skip reason written on the line before it, if any."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[index])
        if fence is None:
            index += 1
            continue
        end = lines.index("```", index + 1)
        marker = SKIP.match(lines[index - 1]) if index else None
        code = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(index + 1, fence.group(1), code, marker.group(1) if marker else None))
        index = end + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def of(lang: str) -> list[Block]:
    return [b for b in BLOCKS if b.lang == lang and b.skip is None]


def is_pytest_project(block: Block) -> bool:
    return block.code.startswith("# conftest.py")


def split_files(code: str) -> dict[str, str]:
    """``# name.py`` lines start files."""
    files: dict[str, str] = {}
    name = ""
    for line in code.splitlines(keepends=True):
        header = re.fullmatch(r"# (\w+\.py)\n", line)
        if header:
            name = header.group(1)
            files[name] = ""
        else:
            files[name] += line
    return files


def with_mock_token(code: str) -> str:
    return code.replace('token="…"', f'token="{MOCK_TOKEN}"').replace("token=...", f'token="{MOCK_TOKEN}"')


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(CASSETTES, port=0) as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme")


def environment(server: MockServer, home: Path) -> dict[str, str]:
    """The mock's address and a token, a private home (the cache example writes under ``~``), no other settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCOGS_", "_ARGCOMPLETE", "COMP_"))}
    env.update(DISCOGS_BASE_URL=server.url, DISCOGS_TOKEN=MOCK_TOKEN, HOME=str(home))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


# -- the structure of the README itself ------------------------------------------------------------


def test_the_readme_has_code_to_check_and_skips_are_rare() -> None:
    assert len(of("python")) >= 8 and of("bash")
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert len(skipped) <= 2, [str(b) for b in skipped]
    assert {b.lang for b in BLOCKS} <= {"python", "bash", "json", "text", ""}


def test_every_fenced_block_has_a_language_this_test_checks() -> None:
    untyped = [str(b) for b in BLOCKS if b.lang == "" and b.code.strip() and not b.code.lstrip().startswith("spec/")]
    assert untyped == [], "give these blocks a language (python, bash, json, text) so they are checked"


# -- python -----------------------------------------------------------------------------------------

SESSION = r"""
import json, sys, traceback
blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
results = []
for line, code in blocks:
    try:
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
        results.append([line, None])
    except BaseException:
        results.append([line, traceback.format_exc()])
print("\n" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def python_session(server: MockServer, workdir: Path) -> dict[int, str | None]:
    """Run every Python block in order in one fresh interpreter; README line -> traceback or None."""
    blocks = [[b.line, with_mock_token(b.code)] for b in of("python") if not is_pytest_project(b)]
    cwd = workdir / "python"
    cwd.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", SESSION],
        input=json.dumps(blocks),
        env=environment(server, cwd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return {line: error for line, error in json.loads(result.stdout.splitlines()[-1])}


@pytest.mark.parametrize("block", [b for b in of("python") if not is_pytest_project(b)], ids=str)
def test_python_block_runs(block: Block, python_session: dict[int, str | None]) -> None:
    error = python_session[block.line]
    assert error is None, f"{block} failed:\n{error}"


def test_python_blocks_did_what_they_say(python_session: dict[int, str | None], workdir: Path) -> None:
    """What the blocks leave behind: the export's file, the logging example's log, the cache's database."""
    cwd = workdir / "python"
    rows = (cwd / "nirvana.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("id,") and len(rows) > 1
    assert "/database/search?q=nirvana" in (cwd / "discogs.log").read_text(encoding="utf-8")
    assert (cwd / ".cache" / "musicagent.db").is_file()


@pytest.mark.parametrize("block", [b for b in of("python") if is_pytest_project(b)], ids=str)
def test_pytest_block_passes(block: Block, pytester: pytest.Pytester) -> None:
    files = split_files(block.code)
    assert "conftest.py" in files and len(files) >= 2, "name each file with a '# name.py' line"
    pytester.makepyfile(**{name.removesuffix(".py"): code for name, code in files.items()})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 2 and not outcomes.get("failed") and not outcomes.get("errors"), str(
        result.stdout
    )


# -- bash --------------------------------------------------------------------------------------------


def command_lines(kind: str) -> list[tuple[int, str]]:
    """(README line, command without its comment) of the bash lines that start with ``kind``."""
    found = []
    for block in of("bash"):
        for offset, raw in enumerate(block.code.splitlines(), start=1):
            command = re.sub(r"\s+#\s.*$", "", raw).strip()
            words = shlex.split(command) if command else []
            if words[:1] == [kind] or (kind == "musicagent" and command.startswith('eval "$(musicagent')):
                found.append((block.line + offset, command))
    return found


SERVES = {"mock", "mcp"}  # these run until stopped


def is_interactive(command: str) -> bool:
    return shlex.split(command)[1] in SERVES | {"login"}


@pytest.mark.parametrize(
    "line,command", [c for c in command_lines("musicagent") if not is_interactive(c[1])], ids=lambda v: str(v)
)
def test_cli_line_runs(line: int, command: str, server: MockServer, tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", "-c", f"set -e\n{command}"],
        env=environment(server, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"README.md:{line}: {command}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    output = re.search(r"-o (\S+)", command)
    if output:
        assert (tmp_path / output.group(1)).stat().st_size > 0
    elif not command.startswith("eval"):
        assert result.stdout.strip(), f"README.md:{line}: {command} printed nothing"


def test_the_cli_block_shows_the_commands_that_serve_and_log_in() -> None:
    shown = {shlex.split(command)[1] for _, command in command_lines("musicagent") if is_interactive(command)}
    assert shown == SERVES | {"login"}


def test_cli_mock_line_serves(server: MockServer, tmp_path: Path) -> None:
    [(line, command)] = [c for c in command_lines("musicagent") if shlex.split(c[1])[1] == "mock"]
    port = re.search(r"--port (\d+)", command)
    assert port, f"README.md:{line}"
    command = command.replace(port.group(0), "--port 0")  # the documented port may be taken on this machine
    with subprocess.Popen(
        shlex.split(command), env=environment(server, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as proc:
        try:
            assert proc.stdout is not None
            url = re.search(rb"on (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
            assert url, f"README.md:{line}: no address printed"
            with urllib.request.urlopen(url.group(1).decode() + "/artists/108713", timeout=30) as answer:
                assert json.load(answer)["name"] == "Nickelback"
        finally:
            proc.terminate()
            proc.communicate(timeout=30)  # it says goodbye on stdout
    assert proc.returncode == 0


def test_cli_mcp_line_serves(server: MockServer, tmp_path: Path) -> None:
    pytest.importorskip("mcp")
    [(line, command)] = [c for c in command_lines("musicagent") if shlex.split(c[1])[1] == "mcp"]
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    with subprocess.Popen(
        shlex.split(command),
        env=environment(server, tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(hello).encode() + b"\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        proc.stdin.close()
        proc.wait(timeout=30)
    assert answer["result"]["serverInfo"]["name"], f"README.md:{line}"


def test_cli_login_line_walks_the_oauth_flow(server: MockServer, tmp_path: Path) -> None:
    """``musicagent login`` against the mock: the consumer pair from the environment, the verifier typed in."""
    [(line, command)] = [c for c in command_lines("musicagent") if shlex.split(c[1])[1] == "login"]
    env = {**environment(server, tmp_path), "DISCOGS_CONSUMER_KEY": "ckey", "DISCOGS_CONSUMER_SECRET": "csecret"}
    del env["DISCOGS_TOKEN"]
    with subprocess.Popen(
        shlex.split(command),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stderr.readline()  # "Open this page, ..."
        authorize = proc.stderr.readline().strip().replace("https://www.discogs.com", server.url)
        with urllib.request.urlopen(authorize, timeout=30) as answer:
            verifier = dict(p.split("=", 1) for p in answer.read().decode().split("&"))["oauth_verifier"]
        out, err = proc.communicate(verifier + "\n", timeout=60)
    assert proc.returncode == 0, f"README.md:{line}: {err}"
    assert re.search(r"^DISCOGS_ACCESS_TOKEN=\S+$", out, flags=re.MULTILINE)


def test_make_targets_named_in_the_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    named = {shlex.split(command)[1] for _, command in command_lines("make")}
    assert named and named <= targets, named - targets


def test_pip_extras_named_in_the_readme_exist() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(project["optional-dependencies"])
    named = {m for _, command in command_lines("pip") for m in re.findall(r"\.\[(\w+)\]", command)}
    assert named and named <= extras, named - extras


# -- json and text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("block", of("json"), ids=str)
def test_json_block_parses_and_names_real_commands(block: Block) -> None:
    config = json.loads(block.code)
    for name, server in config.get("mcpServers", {}).items():
        assert shutil.which(server["command"], path=str(BIN)), f"{block}: {name}"
        help_run = subprocess.run(
            [str(BIN / server["command"]), *server["args"], "--help"], capture_output=True, text=True, timeout=60
        )
        assert help_run.returncode == 0, help_run.stderr


@pytest.mark.parametrize("block", of("text"), ids=str)
def test_text_transcript_matches_what_the_command_prints(block: Block, server: MockServer, tmp_path: Path) -> None:
    pytest.importorskip("mcp")
    command, *expected = block.code.splitlines()
    assert command.startswith("$ "), f"{block}: a transcript starts with '$ command'"
    words = shlex.split(command[2:])
    words[0] = sys.executable if words[0] == "python" else words[0]
    started = time.monotonic()
    result = subprocess.run(
        words, env=environment(server, tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    printed = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", result.stdout)
    for line in expected:
        shown = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
        assert shown.rstrip(". ") in printed, (
            f"{block}: {line!r} is not printed (ran {time.monotonic() - started:.0f} s)"
        )


# -- what the prose and tables say ------------------------------------------------------------------


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(f"\n{title}\n", 1)[1].split("\n#", 1)[0]


def test_the_settings_table_names_every_setting_and_variable_and_nothing_else() -> None:
    from musicagent._runtime.config import Settings, environment_variables

    rows = [line.split("|")[1:3] for line in section("### Credentials and configuration").splitlines() if "| `" in line]
    arguments = {name for argument, _ in rows for name in re.findall(r"`(\w+)[`=]", argument.split("(")[0])}
    assert arguments == set(Settings.__annotations__)
    variables = {name for _, env in rows for name in re.findall(r"DISCOGS_[A-Z_]+", env)}
    assert variables == set(environment_variables())


def test_the_error_table_names_real_exceptions() -> None:
    import musicagent

    table = section("### Errors")
    names = set(re.findall(r"`(\w+Error)`", table)) - {"ValueError", "TypeError"}
    assert len(names) >= 20
    for name in names:
        assert issubclass(getattr(musicagent, name), musicagent.DiscogsError), name
    from musicagent._runtime.errors import error_for_status

    statuses = re.findall(r"`(\w+Error)` (\d{3}|5xx)", table)
    assert len(statuses) >= 10
    for name, status in statuses:
        assert error_for_status(503 if status == "5xx" else int(status)) is getattr(musicagent, name), name


def test_the_cli_global_options_named_in_the_readme_exist(tmp_path: Path) -> None:
    prose = section("## Command line")
    named = set(re.findall(r"`(--[a-z-]+|-o)\b", prose.split("Global options:", 1)[1].split("; the same", 1)[0]))
    shown = subprocess.run([str(BIN / "musicagent"), "--help"], capture_output=True, text=True, timeout=60).stdout
    assert named and {n for n in named if n not in shown} == set()


def test_the_mcp_options_named_in_the_readme_exist() -> None:
    named = set(re.findall(r"`(--[a-z-]+)", section("## For AI agents: `musicagent mcp`")))
    shown = subprocess.run(
        [str(BIN / "musicagent"), "mcp", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert {"--http", "--sse", "--allow-writes", "--deadline"} <= named
    assert {n for n in named if n not in shown} == set()

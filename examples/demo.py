"""``make demo``: the whole tour offline, on a fresh machine.

Starts the mock server, runs ``examples/quickstart.py`` against it, exports a search to CSV with
the command line (its progress bar shows on a terminal), prints the file's first lines and stops
the server. Exits non-zero if any step fails.

Usage: python examples/demo.py [--out DIR]   (default: a temporary directory, removed afterwards)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from musicagent.mock import MockServer

HERE = Path(__file__).resolve().parent
SEARCH = ["search", "--q", "prodigy", "--type", "release", "--limit", "50"]


def step(title: str) -> None:
    print(f"\n\033[1m==> {title}\033[0m" if sys.stdout.isatty() else f"\n==> {title}", flush=True)


def export_search(target: Path, env: dict[str, str]) -> None:
    """The command line, as a user would type it; its progress bar draws on a terminal's stderr."""
    command = [sys.executable, "-m", "musicagent", *SEARCH, "--format", "csv", "-o", str(target)]
    print("$ musicagent " + " ".join(command[3:]), flush=True)
    subprocess.run(command, env=env, check=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Run the offline musicagent demo.")
    parser.add_argument("--out", type=Path, help="keep the exported file in this directory")
    args = parser.parse_args(argv)

    with MockServer() as server, tempfile.TemporaryDirectory() as tmp:
        step(f"Mock Discogs API on {server.url} ({len(server.interactions)} recorded answers)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOGS_")}
        env.update(DISCOGS_BASE_URL=server.url, DISCOGS_TOKEN="mock-token")

        step("examples/quickstart.py")
        subprocess.run([sys.executable, str(HERE / "quickstart.py")], env=env, check=True)

        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        target = out / "prodigy.csv"
        step("Export a search to CSV")
        export_search(target, env)
        lines = target.read_text(encoding="utf-8").splitlines()
        print(f"\n{target.name}: {len(lines) - 1} rows; the first ones:")
        for line in lines[:4]:
            print("  " + (line if len(line) <= 150 else line[:147] + "..."))

        step("Stopping the mock server")
    print("Demo finished: everything above ran offline against recorded Discogs answers.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        print(f"demo failed: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)

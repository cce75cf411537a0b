"""Import time of each client plus building one, measured in fresh processes.

``python benchmarks/imports.py --runs 15`` prints one JSON line: for every target, the median and
the spread of the seconds between the first line of a fresh ``python -c`` child and the client being
built (``time.perf_counter()`` inside the child; interpreter start-up is not counted, nothing is
subtracted). Targets run round-robin, so a burst of load elsewhere on the machine hits them all
alike, and each is run once untimed first so that every one starts from written ``.pyc`` files.

Imports run as users run them, from bytecode caches: this environment may set
``PYTHONDONTWRITEBYTECODE`` (then nothing would ever be cached and every run would compile every
module), so the children get a ``PYTHONPYCACHEPREFIX`` of their own, filled by the untimed run.

``--importtime TARGET`` prints instead the modules that ``python -X importtime`` finds slowest to
import for that target (cumulative microseconds), to see where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TOKEN = "benchmarktoken0123456789"
UA = "musicagent-benchmarks/1.0"

# name -> (what is imported and built, code). Each builds the client the way its README shows.
TARGETS: dict[str, tuple[str, str]] = {
    "pydantic": ("import pydantic", "import pydantic"),
    "raw": (
        "import urllib3, json; urllib3.PoolManager()",
        "import json, urllib3\nurllib3.PoolManager()",
    ),
    "musicagent": (
        "import musicagent; musicagent.Discogs(token=..., user_agent=...)",
        f"import musicagent\nmusicagent.Discogs(token={TOKEN!r}, user_agent={UA!r})",
    ),
    "musicagent, ready for its first call": (
        "the above + the releases resource + the Release model's validator built",
        f"import musicagent\nd = musicagent.Discogs(token={TOKEN!r}, user_agent={UA!r})\n"
        "d.releases\nfrom musicagent._generated import models\nmodels.Release.model_rebuild()\n"
        "models.Release.__pydantic_validator__",
    ),
    "musicagent --help": (
        "musicagent.cli.main(['--help']), help text written",
        "import musicagent.cli\nmusicagent.cli.main(['--help'])",
    ),
    "musicagent completion": (
        "one TAB: `musicagent releases g` completed by argcomplete, as the shell asks",
        # argcomplete ends the process with os._exit once it has written the completions; here that
        # becomes SystemExit (which main() returns from) so that the child can report its time.
        "import os\n"
        "def _exit(code):\n    raise SystemExit(code)\n"
        "os._exit = _exit\n"
        "os.environ.update(_ARGCOMPLETE='1', COMP_LINE='musicagent releases g', COMP_POINT='21',"
        " _ARGCOMPLETE_STDOUT_FILENAME=os.devnull)\n"
        "import musicagent.cli\nmusicagent.cli.main([])",
    ),
    "python3-discogs-client": (
        "import discogs_client; discogs_client.Client(ua, user_token=...)",
        f"import discogs_client\ndiscogs_client.Client({UA!r}, user_token={TOKEN!r})",
    ),
    "discogs-sdk": (
        "import discogs_sdk; discogs_sdk.Discogs(token=...)",
        f"import discogs_sdk\ndiscogs_sdk.Discogs(token={TOKEN!r}, user_agent={UA!r})",
    ),
}

TIMED = "import time\n_t0 = time.perf_counter()\n{code}\nprint(repr(time.perf_counter() - _t0))\n"


def child_env(cwd: str) -> dict[str, str]:
    """No DISCOGS_* settings from the caller's shell, no .env file, and bytecode cached under ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOGS_")}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(cwd, "pycache")
    return env


def run_once(code: str, cwd: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", TIMED.format(code=code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(cwd),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return float(done.stdout.strip().splitlines()[-1])


def measure(runs: int, names: list[str]) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    samples: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as cwd:
        usable = []
        for name in names:
            try:
                run_once(TARGETS[name][1], cwd)  # untimed: writes .pyc files, warms the page cache
                usable.append(name)
            except RuntimeError as exc:
                results[name] = {"what": TARGETS[name][0], "error": str(exc)}
        for _ in range(runs):
            for name in usable:
                samples[name].append(run_once(TARGETS[name][1], cwd))
    for name in usable:
        values = sorted(samples[name])
        results[name] = {
            "what": TARGETS[name][0],
            "runs": len(values),
            "median": statistics.median(values),
            "min": values[0],
            "max": values[-1],
        }
    return results


def importtime(name: str, top: int) -> list[tuple[str, int]]:
    """The slowest imports by cumulative time, outermost first among equals."""
    with tempfile.TemporaryDirectory() as cwd:
        run_once(TARGETS[name][1], cwd)  # writes the .pyc files the traced run reads
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", TARGETS[name][1]],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=child_env(cwd),
            check=True,
        )
    rows: list[tuple[str, int]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, module = line.removeprefix("import time:").split("|", 2)
        rows.append((module.strip(), int(cumulative)))
    rows.sort(key=lambda row: -row[1])
    return rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per target (15)")
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS), help="measure only these")
    parser.add_argument("--importtime", choices=sorted(TARGETS), help="show the slowest imports of one target")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    if args.importtime:
        print(json.dumps(importtime(args.importtime, args.top)))
        return
    print(json.dumps(measure(args.runs, args.only or list(TARGETS))))


if __name__ == "__main__":
    main()

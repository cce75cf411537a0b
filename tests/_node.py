"""Node.js and the npm packages of ``make thirdparty`` (``.cache/npm``), for the tests of clients nobody here wrote.

Without Node.js (``.ci/run`` installs it) those tests skip, saying so. With Node.js but without the
package they fail: a missing install must not pass as a skipped test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE_MODULES = Path(__file__).resolve().parents[1] / ".cache" / "npm" / "node_modules"
SCRIPTS = Path(__file__).resolve().parent / "thirdparty"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("Node.js is not installed (.ci/run installs it), so the npm clients cannot run")
    return found


def package(name: str) -> Path:
    """The installed package's directory; a test failure if ``make thirdparty`` did not install it."""
    node()
    directory = NODE_MODULES / name
    if not (directory / "package.json").exists():
        pytest.fail(f"the npm package {name} is not installed in {NODE_MODULES.parent}: run `make thirdparty`")
    return directory


def run_script(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    """Run ``tests/thirdparty/<script>`` with Node and return the JSON of its last stdout line."""
    done = subprocess.run(
        [node(), str(SCRIPTS / script), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stderr[-4000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing:\n{done.stderr[-4000:]}"
    return json.loads(lines[-1])

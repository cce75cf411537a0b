"""What the wheel ships: the package and the recordings the mock serves, never the repository's tooling.

The wheel is built for real (pip, the project's hatchling backend, no network) and its file list read.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import musicagent

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CASSETTES = "musicagent/mock/cassettes/"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run([*command, "-w", str(out), "-q"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("musicagent-*.whl")
    assert wheel.name.startswith(f"musicagent-{musicagent.__version__}-")  # the version comes from _version.py
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_every_recording_is_shipped_for_the_mock(wheel_names: set[str]) -> None:
    recordings = {p.relative_to(ROOT / "cassettes").as_posix() for p in (ROOT / "cassettes").glob("*/*.yaml")}
    assert len(recordings) > 100
    shipped = {n.removeprefix(SHIPPED_CASSETTES) for n in wheel_names if n.startswith(SHIPPED_CASSETTES)}
    assert shipped == recordings | {"README.md"}  # the README: where each body came from, under which licence


def test_no_tooling_is_shipped(wheel_names: set[str]) -> None:
    tooling = ("build.py", "record.py", "__init__.py", "index.json", "scenarios.yaml", "docs-bodies/")
    assert not [n for n in wheel_names if n.startswith(SHIPPED_CASSETTES) and n.endswith(tooling)]
    assert not [n for n in wheel_names if "docs-bodies" in n or n.startswith(("tools/", "codegen/", "tests/"))]
    top = {n.split("/", 1)[0] for n in wheel_names}
    assert top == {"musicagent", f"musicagent-{musicagent.__version__}.dist-info"}


def test_the_package_layers_are_shipped(wheel_names: set[str]) -> None:
    for module in ("cli/__init__.py", "cli/app.py", "lib/client.py", "_version.py", "_runtime/client.py", "py.typed"):
        assert f"musicagent/{module}" in wheel_names, module
    assert not [n for n in wheel_names if n.startswith(("musicagent/_cli/", "musicagent/cli.py"))]

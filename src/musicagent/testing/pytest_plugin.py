"""pytest plugin: the ``discogs_mock`` fixture (see :mod:`musicagent.testing`).

Enable with ``pytest_plugins = ["musicagent.testing.pytest_plugin"]`` in a root ``conftest.py``, or
import both fixtures from here into one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import MockDiscogs, mock_discogs

__all__ = ["discogs_mock", "discogs_mock_cassettes"]


@pytest.fixture
def discogs_mock_cassettes() -> Path | str | None:
    """The cassettes ``discogs_mock`` serves; override it to use your own (None: the packaged ones)."""
    return None


@pytest.fixture
def discogs_mock(discogs_mock_cassettes: Path | str | None) -> Iterator[MockDiscogs]:
    """A ``Discogs`` client bound to a mock server started for this test alone."""
    with mock_discogs(discogs_mock_cassettes) as client:
        yield client

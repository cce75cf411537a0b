"""pytest plugin: ``discogs_mock``, and ``async_discogs_mock`` with pytest-asyncio (see :mod:`musicagent.testing`).

Enable with ``pytest_plugins = ["musicagent.testing.pytest_plugin"]`` in a root ``conftest.py``, or
import both fixtures from here into one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from . import AsyncMockDiscogs, MockDiscogs, async_mock_discogs, mock_discogs

__all__ = ["async_discogs_mock", "discogs_mock", "discogs_mock_cassettes"]


@pytest.fixture
def discogs_mock_cassettes() -> Path | str | None:
    """The cassettes ``discogs_mock`` serves; override it to use your own (None: the packaged ones)."""
    return None


@pytest.fixture
def discogs_mock(discogs_mock_cassettes: Path | str | None) -> Iterator[MockDiscogs]:
    """A ``Discogs`` client bound to a mock server started for this test alone."""
    with mock_discogs(discogs_mock_cassettes) as client:
        yield client


try:  # an async fixture needs an async plugin; without pytest-asyncio, use async_mock_discogs() directly
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is a dev dependency here
    pass
else:

    @pytest_asyncio.fixture
    async def async_discogs_mock(discogs_mock_cassettes: Path | str | None) -> AsyncIterator[AsyncMockDiscogs]:
        """An ``AsyncDiscogs`` client bound to a mock server started for this test alone."""
        async with async_mock_discogs(discogs_mock_cassettes) as client:
            yield client

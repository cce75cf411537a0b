"""pytest plugin: the ``discogs_mock`` and ``discogs_mock_server`` fixtures (see :mod:`musicagent.testing`).

Enable with ``pytest_plugins = ["musicagent.testing.pytest_plugin"]`` in a root ``conftest.py``, or
import the fixtures from here into one. The fixtures are synchronous and work in async tests too:
the server runs in its own thread, so an async client talks to ``discogs_mock_server.url``;
``async_discogs_mock`` (with pytest-asyncio installed) hands out a ready ``AsyncDiscogs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import MOCK_TOKEN, MockDiscogs, MockServer, mock_discogs, mock_server

__all__ = ["discogs_mock", "discogs_mock_cassettes", "discogs_mock_options", "discogs_mock_server", "MOCK_TOKEN"]


@pytest.fixture
def discogs_mock_cassettes() -> Path | str | None:
    """The cassettes the mock serves; override it to use your own (None: the packaged ones)."""
    return None


@pytest.fixture
def discogs_mock_options() -> dict[str, Any]:
    """Keyword arguments for the test's ``MockServer`` (``strict=True``, ``user=...``); override to set."""
    return {}


@pytest.fixture
def discogs_mock_server(
    discogs_mock_cassettes: Path | str | None, discogs_mock_options: dict[str, Any]
) -> Iterator[MockServer]:
    """A mock server started for this test alone (stubs: ``discogs_mock_server.stub(...)``)."""
    with mock_server(discogs_mock_cassettes, **discogs_mock_options) as server:
        yield server


@pytest.fixture
def discogs_mock(
    discogs_mock_cassettes: Path | str | None, discogs_mock_options: dict[str, Any]
) -> Iterator[MockDiscogs]:
    """A ``Discogs`` client bound to a mock server started for this test alone."""
    options = dict(discogs_mock_options)
    rate_limit = options.pop("rate_limit", (60, 60.0))
    strict = options.pop("strict", False)
    with mock_discogs(discogs_mock_cassettes, rate_limit=rate_limit, strict=strict, server_options=options) as client:
        yield client


try:  # an async fixture needs an async plugin; without pytest-asyncio, use async_mock_discogs() directly
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is a dev dependency here
    pass
else:
    from collections.abc import AsyncIterator

    from . import AsyncMockDiscogs, async_mock_discogs

    @pytest_asyncio.fixture
    async def async_discogs_mock(
        discogs_mock_cassettes: Path | str | None, discogs_mock_options: dict[str, Any]
    ) -> AsyncIterator[AsyncMockDiscogs]:
        """An ``AsyncDiscogs`` bound to a mock server started for this test alone (``.mock_server``)."""
        options = dict(discogs_mock_options)
        rate_limit = options.pop("rate_limit", (60, 60.0))
        strict = options.pop("strict", False)
        async with async_mock_discogs(
            discogs_mock_cassettes, rate_limit=rate_limit, strict=strict, server_options=options
        ) as client:
            yield client

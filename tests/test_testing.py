"""musicagent.testing: the context manager and the pytest fixture that hand out a client bound to a mock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from musicagent import AsyncDiscogs, Discogs, RateLimitError
from musicagent.testing import MOCK_TOKEN, AsyncMockDiscogs, MockDiscogs, async_mock_discogs, mock_discogs

pytest_plugins = ["pytester"]

ARTIST = {"id": 108713, "name": "Nickelback", "resource_url": "https://api.discogs.com/artists/108713"}


@pytest.fixture
def cassettes(tmp_path: Path) -> Path:
    root = tmp_path / "cassettes"
    (root / "artists.get").mkdir(parents=True)
    cassette = {
        "interactions": [
            {
                "request": {
                    "body": None,
                    "headers": {},
                    "method": "GET",
                    "uri": "https://api.discogs.com/artists/108713",
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"string": json.dumps(ARTIST)},
                },
            }
        ],
        "version": 1,
    }
    (root / "artists.get" / "default.yaml").write_text(yaml.safe_dump(cassette))
    return root


def test_mock_discogs_yields_a_client_bound_to_a_running_server(cassettes: Path) -> None:
    with mock_discogs(cassettes) as discogs:
        assert isinstance(discogs, MockDiscogs) and isinstance(discogs, Discogs)
        server = discogs.mock_server
        assert server.running and discogs.settings.base_url == server.url
        assert discogs.settings.token is not None and discogs.settings.token.get_secret_value() == MOCK_TOKEN
        assert discogs.settings.rate_limit == server.rate_limit == (60, 60.0)
        assert discogs.artists.get(108713).name == "Nickelback"
        assert discogs.rate_limit.remaining == 59
    assert not server.running


@pytest.mark.skipif(not (Path(__file__).parents[1] / "cassettes").is_dir(), reason="no repository cassettes")
def test_by_default_the_repository_cassettes_are_served() -> None:
    with mock_discogs() as discogs:
        assert discogs.mock_server.cassettes == Path(__file__).resolve().parents[1] / "cassettes"
        assert discogs.artists.get(108713).name == "Nickelback"


def test_the_client_ignores_the_environment_and_dotenv(
    cassettes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOGS_BASE_URL", "https://api.discogs.com")
    monkeypatch.setenv("DISCOGS_TIMEOUT", "0.001")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DISCOGS_TOKEN=from-dotenv\nDISCOGS_RATE_LIMIT_STORE=redis://nowhere:1/0\n")
    with mock_discogs(cassettes) as discogs:
        assert discogs.settings.timeout == 30.0 and discogs.settings.rate_limit_store is None
        assert discogs.artists.get(108713).id == 108713


def test_keyword_arguments_reach_the_client_and_the_rate_limit_both_sides(cassettes: Path) -> None:
    with mock_discogs(cassettes, rate_limit=(2, 60.0), user_agent="suite/1.0", max_retries=0) as discogs:
        assert discogs.settings.user_agent == "suite/1.0" and discogs.settings.max_retries == 0
        assert discogs.mock_server.rate_limit == discogs.settings.rate_limit == (2, 60.0)
        # A second, unthrottled client sharing the server sees the server's window.
        other = Discogs(token="t", base_url=discogs.mock_server.url, rate_limit=None, max_retries=0, env={})
        discogs.artists.get(108713)
        other.artists.get(108713)
        with pytest.raises(RateLimitError):
            other.artists.get(108713)
        other.close()


def test_importing_musicagent_testing_does_not_import_pytest() -> None:
    code = "import sys, musicagent.testing; print('pytest' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_pytest_fixture_with_overridden_cassettes(pytester: pytest.Pytester, cassettes: Path) -> None:
    pytester.makeconftest(
        f"""
        import pytest

        pytest_plugins = ["musicagent.testing.pytest_plugin"]

        @pytest.fixture
        def discogs_mock_cassettes():
            return {str(cassettes)!r}
        """
    )
    pytester.makepyfile(
        textwrap.dedent(
            """
            from musicagent.testing import MockDiscogs

            def test_artist(discogs_mock):
                assert isinstance(discogs_mock, MockDiscogs)
                assert discogs_mock.artists.get(108713).name == "Nickelback"

            def test_each_test_gets_a_fresh_window(discogs_mock):
                discogs_mock.artists.get(108713)
                assert discogs_mock.rate_limit.used == 1
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_default_cassettes_fixture_is_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from musicagent.testing.pytest_plugin import discogs_mock_cassettes

        def test_default(discogs_mock_cassettes):
            assert discogs_mock_cassettes is None
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.asyncio
async def test_async_mock_discogs_yields_an_async_client_and_closes_it(cassettes: Path) -> None:
    async with async_mock_discogs(cassettes, rate_limit=(5, 60.0)) as discogs:
        assert isinstance(discogs, AsyncMockDiscogs) and isinstance(discogs, AsyncDiscogs)
        server = discogs.mock_server
        assert server.running and discogs.settings.base_url == server.url
        artist = await discogs.artists.get(108713)
        assert artist.name == "Nickelback"
        assert discogs.rate_limit.remaining == 4
        session = discogs._transport._session
        assert session is not None and not session.closed
    assert session.closed and not server.running


def test_the_async_pytest_fixture(pytester: pytest.Pytester, cassettes: Path) -> None:
    pytester.makeconftest(
        f"""
        import pytest

        pytest_plugins = ["musicagent.testing.pytest_plugin"]

        @pytest.fixture
        def discogs_mock_cassettes():
            return {str(cassettes)!r}
        """
    )
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest
            from musicagent.testing import AsyncMockDiscogs

            @pytest.mark.asyncio
            async def test_artist(async_discogs_mock):
                assert isinstance(async_discogs_mock, AsyncMockDiscogs)
                assert (await async_discogs_mock.artists.get(108713)).name == "Nickelback"
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)

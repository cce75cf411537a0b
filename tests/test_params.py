"""Bad arguments fail before anything is sent, naming the parameter; path segments are encoded.

"Before anything is sent" is proven two ways: a local server that counts requests sees none, and a
client pointed at a closed port gets InvalidParameterError rather than a connection error.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from _sdk_server import DiscogsServer, closed_port_url

from musicagent import APIConnectionError, Discogs, InvalidParameterError
from musicagent._runtime import params


@pytest.fixture
def server() -> Iterator[DiscogsServer]:
    with DiscogsServer() as s:
        yield s


@pytest.fixture
def discogs(server: DiscogsServer) -> Discogs:
    return Discogs(base_url=server.url, rate_limit=None, max_retries=0)


Call = Callable[[Discogs], object]

# (what the user wrote, the parameter the error must name)
BAD_CALLS: list[tuple[str, Call, str]] = [
    ("artists.get('abc')", lambda d: d.artists.get("abc"), "artist_id"),  # type: ignore[arg-type]
    ("artists.get('1')", lambda d: d.artists.get("1"), "artist_id"),  # type: ignore[arg-type]
    ("artists.get(True)", lambda d: d.artists.get(True), "artist_id"),
    ("artists.get(1.5)", lambda d: d.artists.get(1.5), "artist_id"),  # type: ignore[arg-type]
    ("artists.get(1.0)", lambda d: d.artists.get(1.0), "artist_id"),  # type: ignore[arg-type]
    ("artists.get(0)", lambda d: d.artists.get(0), "artist_id"),
    ("artists.get(-3)", lambda d: d.artists.get(-3), "artist_id"),
    ("artists.get(None)", lambda d: d.artists.get(None), "artist_id"),  # type: ignore[arg-type]
    ("artists.releases(1, sort='popularity')", lambda d: d.artists.releases(1, sort="popularity"), "sort"),  # type: ignore[arg-type]
    ("artists.releases(1, sort_order='up')", lambda d: d.artists.releases(1, sort_order="up"), "sort_order"),  # type: ignore[arg-type]
    ("artists.releases(1, per_page=0)", lambda d: d.artists.releases(1, per_page=0), "per_page"),
    ("artists.releases(1, per_page=101)", lambda d: d.artists.releases(1, per_page=101), "per_page"),
    ("artists.releases(1, page=0)", lambda d: d.artists.releases(1, page=0), "page"),
    ("artists.releases(1, limit=-1)", lambda d: d.artists.releases(1, limit=-1), "limit"),
    ("releases.rating.get(1, '')", lambda d: d.releases.rating.get(1, ""), "username"),
    ("releases.rating.get(1, '   ')", lambda d: d.releases.rating.get(1, "   "), "username"),
    ("releases.rating.get(1, 42)", lambda d: d.releases.rating.get(1, 42), "username"),  # type: ignore[arg-type]
    ("releases.rating.get(0, 'u')", lambda d: d.releases.rating.get(0, "u"), "release_id"),
    ("releases.rating.update(1, 'u', rating=6)", lambda d: d.releases.rating.update(1, "u", rating=6), "rating"),
    ("releases.rating.delete(1, '')", lambda d: d.releases.rating.delete(1, ""), "username"),
    # the known traps of the collection and the marketplace, refused before sending
    ("folders.update('me', 1, name='x')", lambda d: d.users.collection.folders.update("me", 1, name="x"), "folder_id"),
    ("folders.delete('me', 0)", lambda d: d.users.collection.folders.delete("me", 0), "folder_id"),
    ("folders.add_release('me', 0, 5)", lambda d: d.users.collection.folders.add_release("me", 0, 5), "folder_id"),
    (
        "instances.update(move_to_folder_id=0)",
        lambda d: d.users.collection.instances.update("me", 1, 2, 3, move_to_folder_id=0),
        "move_to_folder_id",
    ),
    (
        "listings.create(price=0)",
        lambda d: d.marketplace.listings.create(release_id=1, condition="Mint (M)", price=0, status="Draft"),
        "price",
    ),
    (
        "listings.create(condition='shiny')",
        lambda d: d.marketplace.listings.create(release_id=1, condition="shiny", price=1, status="Draft"),  # type: ignore[arg-type]
        "condition",
    ),
    (
        "listings.create(weight='heavy')",
        lambda d: d.marketplace.listings.create(
            release_id=1,
            condition="Mint (M)",
            price=1,
            status="Draft",
            weight="heavy",  # type: ignore[arg-type]
        ),
        "weight",
    ),
    ("search(type='song')", lambda d: d.search(type="song"), "type"),  # type: ignore[arg-type]
    ("search(q=5)", lambda d: d.search(q=5), "q"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "parameter"), [(c, p) for _, c, p in BAD_CALLS], ids=[i for i, _, _ in BAD_CALLS])
def test_bad_arguments_raise_before_any_request(
    discogs: Discogs, server: DiscogsServer, call: Call, parameter: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        call(discogs)

    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, TypeError)
    assert error.parameter == parameter
    assert str(error).startswith(f"{parameter}: ")
    assert server.requests == []


def test_the_same_checks_pass_good_values_through(discogs: Discogs, server: DiscogsServer) -> None:
    """The counterpart of the table above: valid values reach the server, so the server is listening."""
    assert discogs.artists.get(1).id == 1
    assert discogs.releases.rating.get(1, "u").username == "u"
    discogs.artists.releases(1, sort="year", sort_order="asc", per_page=100, page=1)
    assert len(server.requests) == 3


def test_a_client_pointing_at_a_closed_port_still_gets_the_parameter_error() -> None:
    discogs = Discogs(base_url=closed_port_url(), rate_limit=None, max_retries=0)

    with pytest.raises(InvalidParameterError, match="artist_id"):
        discogs.artists.get("abc")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="sort"):
        discogs.artists.releases(1, sort="popularity")  # type: ignore[arg-type]
    # and a valid call would have failed to connect: the error above came before any attempt
    with pytest.raises(APIConnectionError):
        discogs.artists.get(1)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", -1),
        ("timeout", 0),
        ("timeout", "5"),
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", True),
    ],
)
def test_bad_per_call_options_raise_before_any_request(
    discogs: Discogs, server: DiscogsServer, option: str, value: object
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        discogs.artists.get(1, **{option: value})  # type: ignore[arg-type]
    assert caught.value.parameter == option
    assert server.requests == []


@pytest.mark.parametrize(
    ("username", "wire"),
    [
        ("a/b?c", "a%2Fb%3Fc"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("a b#c", "a%20b%23c"),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("björk", "bj%C3%B6rk"),
        ("a.b", "a.b"),
    ],
)
def test_path_segments_reach_the_server_as_one_encoded_segment(
    discogs: Discogs, server: DiscogsServer, username: str, wire: str
) -> None:
    rating = discogs.releases.rating.get(1, username)

    assert server.requests[-1].target == f"/releases/1/rating/{wire}"
    assert rating.username == username  # the server decoded it back to what was given


# -- the checks on their own ----------------------------------------------------------------------


class _Index:
    def __index__(self) -> int:
        return 7


class _RefusingIndex:
    def __index__(self) -> int:
        raise TypeError("no")


def test_check_int_accepts_integers_and_integer_likes() -> None:
    assert params.check_int("n", 5) == 5
    assert params.check_int("n", _Index()) == 7
    assert type(params.check_int("n", _Index())) is int


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None, Decimal(1), Fraction(1), _RefusingIndex(), [1]])
def test_check_int_refuses_everything_else(value: object) -> None:
    with pytest.raises(InvalidParameterError, match=r"^n: expected an integer"):
        params.check_int("n", value)


def test_check_int_bounds() -> None:
    assert params.check_int("n", 1, minimum=1, maximum=1) == 1
    with pytest.raises(InvalidParameterError, match=">= 1"):
        params.check_int("n", 0, minimum=1)
    with pytest.raises(InvalidParameterError, match="<= 100"):
        params.check_int("n", 101, maximum=100)


def test_check_number() -> None:
    assert params.check_number("price", 1.5, minimum=0) == 1.5
    assert params.check_number("price", 2, exclusive_minimum=0) == 2
    for bad in (True, "1", float("nan"), float("inf"), None):
        with pytest.raises(InvalidParameterError, match="finite number"):
            params.check_number("price", bad)
    with pytest.raises(InvalidParameterError, match=">= 0"):
        params.check_number("price", -1, minimum=0)
    with pytest.raises(InvalidParameterError, match="<= 5"):
        params.check_number("price", 6, maximum=5)
    with pytest.raises(InvalidParameterError, match="> 0"):
        params.check_number("price", 0, exclusive_minimum=0)


def test_check_str() -> None:
    assert params.check_str("q", "") == ""  # no minimum: an empty query string is allowed
    assert params.check_str("q", "x", min_length=1, max_length=1) == "x"
    with pytest.raises(InvalidParameterError, match="expected a string"):
        params.check_str("q", b"x")
    with pytest.raises(InvalidParameterError, match="must not be empty"):
        params.check_str("q", " \t", min_length=1)
    with pytest.raises(InvalidParameterError, match="3\\+ characters"):
        params.check_str("q", "ab", min_length=3)
    with pytest.raises(InvalidParameterError, match="at most 2"):
        params.check_str("q", "abc", max_length=2)


def test_check_bool_and_choice() -> None:
    assert params.check_bool("flag", False) is False
    with pytest.raises(InvalidParameterError, match="True or False"):
        params.check_bool("flag", 1)
    assert params.check_choice("sort", "year", ("year", "title")) == "year"
    with pytest.raises(InvalidParameterError, match="must be one of 'year', 'title'; got 'YEAR'"):
        params.check_choice("sort", "YEAR", ("year", "title"))


def test_segment() -> None:
    assert params.segment(42) == "42"
    assert params.segment("a/b?c") == "a%2Fb%3Fc"
    assert params.segment("..") == "%2E%2E"
    assert params.segment("...") == "..."  # not a dot segment: left alone


def test_check_file_from_bytes_path_and_binary_file(tmp_path: Path) -> None:
    assert params.check_file("upload", b"a,b\n") == ("upload.csv", b"a,b\n", "text/csv")
    csv = tmp_path / "listings.csv"
    csv.write_bytes(b"release_id,price\n1,2.5\n")
    assert params.check_file("upload", csv) == ("listings.csv", csv.read_bytes(), "text/csv")
    assert params.check_file("upload", str(csv))[0] == "listings.csv"
    with csv.open("rb") as handle:
        assert params.check_file("upload", handle) == ("listings.csv", csv.read_bytes(), "text/csv")
    assert params.check_file("upload", io.BytesIO(b"x")) == ("upload.csv", b"x", "text/csv")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("does-not-exist.csv", "no such file"),
        (io.StringIO("a,b"), "binary mode"),
        (12, "expected a path, bytes or a binary file"),
    ],
)
def test_check_file_refusals(value: Any, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        params.check_file("upload", value)


def test_drop_none() -> None:
    assert params.drop_none({"a": 1, "b": None, "c": 0, "d": ""}) == {"a": 1, "c": 0, "d": ""}


def test_folder_errors_say_why_the_folder_is_refused() -> None:
    discogs = Discogs(base_url=closed_port_url(), rate_limit=None, max_retries=0)
    with pytest.raises(InvalidParameterError, match=r"cannot be renamed or deleted"):
        discogs.users.collection.folders.update("me", 1, name="x")
    with pytest.raises(InvalidParameterError, match=r"cannot receive releases"):
        discogs.users.collection.folders.add_release("me", 0, 5)


def test_a_listing_weight_may_be_auto_or_grams(server: DiscogsServer, discogs: Discogs) -> None:
    for weight in ("auto", 180, 180.5):
        with contextlib.suppress(Exception):  # the recording server has no listing answer: the body is the point
            discogs.marketplace.listings.create(
                release_id=1, condition="Mint (M)", price=9.5, status="Draft", weight=weight
            )
    sent = [json.loads(r.body) for r in server.requests]
    assert [b["weight"] for b in sent] == ["auto", 180, 180.5]

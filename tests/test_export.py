"""Behaviour of musicagent.export: what lands in the files, and what never does."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, RootModel, computed_field

from musicagent.export import ExportError, to_csv, to_json, to_jsonl


class Rating(BaseModel):
    count: int
    average: float


class Community(BaseModel):
    have: int | None = None
    want: int | None = None
    rating: Rating | None = None


class Label(BaseModel):
    name: str
    catno: str | None = None


class Release(BaseModel):
    """Shaped like a Discogs search result: optional parts, an alias, unknown fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: int
    title: str
    type_: str = Field(default="release", alias="type")
    year: int | None = None
    genres: list[str] = []
    labels: list[Label] = []
    community: Community | None = None
    stats: dict[str, int] | None = None
    is_master: bool = False
    added: datetime | None = None


RELEASE_COLUMNS = [
    "id",
    "title",
    "type",
    "year",
    "genres",
    "labels",
    "community.have",
    "community.want",
    "community.rating.count",
    "community.rating.average",
    "stats",
    "is_master",
    "added",
]


def full_release(release_id: int = 2) -> Release:
    return Release(
        id=release_id,
        title="Full",
        type="master",
        year=1999,
        genres=["Rock", "Pop"],
        labels=[Label(name="Warp", catno="WAP 1")],
        community=Community(have=10, want=3, rating=Rating(count=4, average=4.5)),
        stats={"plays": 7},
        is_master=True,
        added=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    )


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


class Boom(RuntimeError):
    pass


def failing_after(n: int) -> Iterator[Release]:
    """Like a paginator whose next page request fails."""
    for i in range(n):
        yield Release(id=i + 1, title=f"t{i}")
    raise Boom("page 3 failed")


# --- CSV columns -----------------------------------------------------------


def test_csv_columns_come_from_the_schema_even_if_first_item_lacks_optional_parts(
    tmp_path: Path,
) -> None:
    out = tmp_path / "r.csv"
    sparse = Release(id=1, title="Sparse")  # community=None, no labels, ...

    assert to_csv([sparse, full_release()], out) == 2

    rows = as_dicts(read_csv(out))
    assert list(rows[0]) == RELEASE_COLUMNS
    assert rows[0]["community.rating.average"] == ""
    assert rows[0]["year"] == ""
    assert rows[1]["community.have"] == "10"
    assert rows[1]["community.rating.average"] == "4.5"
    assert rows[1]["type"] == "master"  # the alias, as Discogs sends it
    assert rows[1]["stats"] == '{"plays":7}'  # a dict without a model is one JSON cell
    assert rows[1]["added"] == "2024-05-01T12:30:00Z"


def test_csv_booleans_and_none(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    to_csv([Release(id=1, title="a", is_master=False), full_release()], out)
    rows = as_dicts(read_csv(out))
    assert [r["is_master"] for r in rows] == ["false", "true"]
    assert rows[0]["stats"] == ""


def test_csv_explicit_columns_select_and_order(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    to_csv(
        [
            full_release(),
            Release.model_validate({"id": 3, "title": "x", "country": "UK"}),
        ],
        out,
        columns=["community.rating.average", "id", "country", "nope.nothing"],
    )
    assert read_csv(out) == [
        ["community.rating.average", "id", "country", "nope.nothing"],
        ["4.5", "2", "", ""],
        ["", "3", "UK", ""],  # an extra field can be asked for by name
    ]


def test_csv_model_argument_gives_columns_for_dict_items(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    to_csv([{"id": 5, "title": "d", "community": {"have": 1}}], out, model=Release)
    rows = as_dicts(read_csv(out))
    assert list(rows[0]) == RELEASE_COLUMNS
    assert rows[0]["community.have"] == "1"
    assert rows[0]["community.want"] == ""


def test_csv_model_with_no_items_writes_the_header(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert to_csv([], out, model=Release) == 0
    assert read_csv(out) == [RELEASE_COLUMNS]


def test_csv_dict_input_uses_first_item_keys(tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    items: list[dict[str, Any]] = [
        {"id": 1, "artist": {"name": "Aphex", "id": 45}, "tags": ["idm"], "note": None},
        {"id": 2, "artist": {"name": "Autechre"}, "surprise": "ignored"},
    ]
    assert to_csv(items, out) == 2
    assert read_csv(out) == [
        ["id", "artist.name", "artist.id", "tags", "note"],
        ["1", "Aphex", "45", '["idm"]', ""],
        ["2", "Autechre", "", "", ""],
    ]


def test_csv_mixed_models_and_dicts(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    to_csv(
        [
            Release(id=1, title="model"),
            {"id": 2, "title": "dict", "community": {"rating": {"average": 3.0}}},
        ],
        out,
    )
    rows = as_dicts(read_csv(out))
    assert list(rows[0]) == RELEASE_COLUMNS
    assert (rows[1]["title"], rows[1]["community.rating.average"]) == ("dict", "3.0")


def test_csv_recursive_model_stops_at_the_cycle(tmp_path: Path) -> None:
    class Node(BaseModel):
        name: str
        parent: Node | None = None

    out = tmp_path / "n.csv"
    to_csv([Node(name="child", parent=Node(name="root"))], out)
    assert read_csv(out) == [
        ["name", "parent"],
        ["child", '{"name":"root","parent":null}'],
    ]


class Deferred(BaseModel):
    """Like the generated models: built lazily, referring to a class defined further down."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    name: str = ""
    later: DefinedLater | None = None
    tags: list[DefinedLater] = []


class DefinedLater(BaseModel):
    model_config = ConfigDict(defer_build=True)

    value: int = 0


def test_csv_resolves_forward_references_of_deferred_models(tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    to_csv([{"name": "a", "later": {"value": 3}}], out, model=Deferred)
    assert read_csv(out) == [["name", "later.value", "tags"], ["a", "3", ""]]


class Shapes(BaseModel):
    """Annotation shapes the column walker has to see through, or must not open."""

    model_config = ConfigDict(populate_by_name=True)

    plain: Rating = Rating(count=1, average=2.0)
    legacy_optional: Optional[Rating] = None  # noqa: UP045 - the spelling under test
    annotated: Annotated[Rating, Field(description="x")] | None = None
    either: Rating | Label | None = None
    wrapped: RootModel[list[int]] = RootModel[list[int]]([])
    hidden: str = Field(default="secret", exclude=True)
    aliased: str = Field(default="v", alias="Aliased-Key")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def score(self) -> float:
        return self.plain.average * 2


def test_csv_columns_match_the_dumped_keys(tmp_path: Path) -> None:
    item = Shapes(
        legacy_optional=Rating(count=3, average=1.5),
        annotated=Rating(count=4, average=2.5),
        either=Label(name="L"),
        wrapped=RootModel[list[int]]([1, 2]),
    )
    out = tmp_path / "s.csv"
    to_csv([item], out)
    assert read_csv(out) == [
        [
            "plain.count",
            "plain.average",
            "legacy_optional.count",
            "legacy_optional.average",
            "annotated.count",
            "annotated.average",
            "either",
            "wrapped",
            "Aliased-Key",
            "score",
        ],
        ["1", "2.0", "3", "1.5", "4", "2.5", '{"name":"L","catno":null}', "[1,2]", "v", "4.0"],
    ]


def test_csv_accepts_any_mapping(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    to_csv([MappingProxyType({"a": {"b": 1}})], out)
    assert read_csv(out) == [["a.b"], ["1"]]


def test_csv_hostile_text_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "u.csv"
    titles = [
        'Björk, "Homogenic"',
        "line one\nline two\r\nthree",
        "日本語 — ünïcödé; 🎵",
        "",
        " leading and trailing ",
    ]
    to_csv([Release(id=i, title=t) for i, t in enumerate(titles)], out)
    assert [r["title"] for r in as_dicts(read_csv(out))] == titles


def test_csv_list_style_json_keeps_everything(tmp_path: Path) -> None:
    out = tmp_path / "j.csv"
    release = full_release()
    release.genres = ["Rock; Pop", 'with "quotes"']
    to_csv([release], out)
    row = as_dicts(read_csv(out))[0]
    assert json.loads(row["genres"]) == ["Rock; Pop", 'with "quotes"']
    assert json.loads(row["labels"]) == [{"name": "Warp", "catno": "WAP 1"}]


def test_csv_list_style_join(tmp_path: Path) -> None:
    out = tmp_path / "j.csv"
    to_csv(
        [full_release(), {"id": 3, "genres": [1, True, None, "x"], "labels": []}],
        out,
        list_style="join",
    )
    rows = as_dicts(read_csv(out))
    assert rows[0]["genres"] == "Rock; Pop"
    assert rows[0]["labels"] == '{"name":"Warp","catno":"WAP 1"}'
    assert rows[1]["genres"] == "1; true; ; x"
    assert rows[1]["labels"] == ""


# --- JSON / JSONL ----------------------------------------------------------


def test_json_parses_back_to_the_dumps(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    items = [
        Release.model_validate({"id": 1, "title": "a", "country": "UK"}),
        full_release(),
    ]
    expected = [m.model_dump(mode="json", by_alias=True) for m in items]

    assert to_json(items, out) == 2

    with out.open(encoding="utf-8") as fh:
        assert json.load(fh) == expected
    # Streamed, yet laid out as json.dumps would lay out the whole list.
    assert out.read_text(encoding="utf-8") == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("indent", [None, 0, 4])
def test_json_indent(tmp_path: Path, indent: int | None) -> None:
    out = tmp_path / "r.json"
    items: list[Release | dict[str, str]] = [full_release(1), {"k": "multi\nline"}]
    to_json(items, out, indent=indent)
    expected = [
        full_release(1).model_dump(mode="json", by_alias=True),
        {"k": "multi\nline"},
    ]
    # indent=None is one compact line; otherwise json.dumps' layout.
    separators = (",", ":") if indent is None else None
    text = json.dumps(expected, indent=indent, separators=separators, ensure_ascii=False)
    assert out.read_text(encoding="utf-8") == text + "\n"


def test_json_empty_input_is_an_empty_array(tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    assert to_json(iter([]), out) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == []


def test_extra_fields_and_datetimes_survive_in_json_and_jsonl(tmp_path: Path) -> None:
    release = Release.model_validate(
        {
            "id": 1,
            "title": "a",
            "type": "release",
            "master_url": "https://x/1",
            "thumb": "",
        }
    )
    release.added = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    to_json([release], tmp_path / "r.json")
    to_jsonl([release], tmp_path / "r.jsonl")
    from_json = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))[0]
    from_jsonl = json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8"))
    for data in (from_json, from_jsonl):
        assert data["master_url"] == "https://x/1"
        assert data["thumb"] == ""
        assert data["type"] == "release"
        assert data["added"] == "2020-01-02T03:04:05Z"


def test_jsonl_one_object_per_line(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    items = [Release(id=i, title=f"line\n{i}") for i in range(25)]
    assert to_jsonl(items, out) == 25
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 25
    assert [json.loads(line)["title"] for line in lines] == [f"line\n{i}" for i in range(25)]


# --- laziness --------------------------------------------------------------


class LazyPages:
    """Iterable only (no len, no indexing), like a paginator that fetches while iterated."""

    def __init__(self, n: int, stream: io.StringIO, header_lines: int) -> None:
        self.n = n
        self.stream = stream
        self.header_lines = header_lines
        self.iter_calls = 0
        self.yielded = 0

    def __iter__(self) -> Iterator[Release]:
        self.iter_calls += 1
        for i in range(self.n):
            # Everything yielded before is already written: nothing is buffered.
            # (The CSV header follows the first item, whose class names the columns.)
            written = self.header_lines + i if i else 0
            assert self.stream.getvalue().count("\n") == written
            self.yielded += 1
            yield Release(id=i, title=f"r{i}")


@pytest.mark.parametrize(
    ("writer", "header_lines"),
    [(to_csv, 1), (to_jsonl, 0)],
)
def test_items_are_iterated_once_and_lazily(writer: Any, header_lines: int) -> None:
    stream = io.StringIO(newline="")
    pages = LazyPages(50, stream, header_lines)
    assert writer(pages, stream) == 50
    assert pages.iter_calls == 1
    assert pages.yielded == 50


def test_generator_input(tmp_path: Path) -> None:
    out = tmp_path / "g.csv"
    gen = ({"n": i, "sq": {"v": i * i}} for i in range(2500))
    assert to_csv(gen, out) == 2500
    assert next(gen, None) is None  # consumed to the end
    rows = read_csv(out)
    assert rows[0] == ["n", "sq.v"]
    assert rows[-1] == ["2499", str(2499 * 2499)]


# --- atomicity -------------------------------------------------------------

WRITERS = [to_csv, to_json, to_jsonl]


@pytest.mark.parametrize("writer", WRITERS)
def test_failure_midway_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, writer: Any) -> None:
    out = tmp_path / "export.out"
    out.write_bytes(b"previous export\n\x00\xff")
    before = sorted(os.listdir(tmp_path))

    with pytest.raises(Boom):
        writer(failing_after(3), out)

    assert out.read_bytes() == b"previous export\n\x00\xff"
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("writer", WRITERS)
def test_keyboard_interrupt_leaves_nothing_behind(tmp_path: Path, writer: Any) -> None:
    def interrupted() -> Iterator[Release]:
        yield Release(id=1, title="a")
        raise KeyboardInterrupt

    out = tmp_path / "new.out"
    with pytest.raises(KeyboardInterrupt):
        writer(interrupted(), out)
    assert os.listdir(tmp_path) == []


def test_success_replaces_the_old_file_and_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("old\n")
    out.chmod(0o640)
    to_jsonl([{"a": 1}], out)
    assert out.read_text() == '{"a":1}\n'
    assert out.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["r.jsonl"]


def test_new_file_gets_umask_permissions_not_tempfile_0600(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        to_csv([{"a": 1}], tmp_path / "r.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o640


def test_str_path_is_accepted(tmp_path: Path) -> None:
    assert to_jsonl([{"a": 1}], str(tmp_path / "s.jsonl")) == 1
    assert (tmp_path / "s.jsonl").read_text() == '{"a":1}\n'


# --- streams ---------------------------------------------------------------


def test_writes_to_a_stream_without_closing_it() -> None:
    stream = io.StringIO(newline="")
    assert to_csv([full_release()], stream, columns=["id", "genres"], list_style="join") == 1
    assert not stream.closed
    assert stream.getvalue() == "id,genres\r\n2,Rock; Pop\r\n"

    stream = io.StringIO()
    assert to_json([{"a": 1}], stream, indent=None) == 1
    assert to_jsonl([{"b": 2}], stream) == 1
    assert stream.getvalue() == '[{"a":1}]\n{"b":2}\n'


# --- progress --------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "calls"),
    [(2500, [1000, 2000, 2500]), (2000, [1000, 2000]), (3, [3]), (0, [0])],
)
@pytest.mark.parametrize("writer", WRITERS)
def test_progress_counts_increase_and_end_with_the_total(tmp_path: Path, writer: Any, n: int, calls: list[int]) -> None:
    seen: list[int] = []
    total = writer(({"i": i} for i in range(n)), tmp_path / "p.out", progress=seen.append)
    assert total == n
    assert seen == calls


# --- bad arguments ---------------------------------------------------------


class Untouched:
    """Items that must not be fetched when the arguments are wrong."""

    def __iter__(self) -> Iterator[dict[str, int]]:
        raise AssertionError("items were iterated before the arguments were checked")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"columns": []}, "at least one column"),
        ({"columns": "id"}, "sequence of column names"),
        ({"columns": ["id", "id"]}, "duplicates"),
        ({"columns": ["id", ""]}, "non-empty"),
        ({"list_style": "csv"}, "list_style"),
        ({"model": dict}, "BaseModel"),
        ({"progress": 5}, "progress"),
    ],
)
def test_csv_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        to_csv(Untouched(), tmp_path / "x.csv", **kwargs)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("writer", WRITERS)
def test_missing_directory_is_named(tmp_path: Path, writer: Any) -> None:
    target = tmp_path / "no" / "such" / "out.txt"
    with pytest.raises(ExportError) as excinfo:
        writer(Untouched(), target)
    assert str(target) in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("writer", WRITERS)
def test_directory_or_garbage_as_path(tmp_path: Path, writer: Any) -> None:
    with pytest.raises(ExportError, match="directory"):
        writer(Untouched(), tmp_path)
    with pytest.raises(ExportError, match="path must be"):
        writer(Untouched(), 42)


@pytest.mark.parametrize("indent", [-1, 1.5, True])
def test_json_bad_indent(tmp_path: Path, indent: Any) -> None:
    with pytest.raises(ExportError, match="indent"):
        to_json(Untouched(), tmp_path / "x.json", indent=indent)


@pytest.mark.parametrize("writer", WRITERS)
def test_non_iterable_and_bad_items(tmp_path: Path, writer: Any) -> None:
    with pytest.raises(ExportError, match="iterable"):
        writer(None, tmp_path / "x")
    with pytest.raises(ExportError, match="item #2 is a int"):
        writer([{"a": 1}, 7], tmp_path / "x")
    assert os.listdir(tmp_path) == []


def test_first_item_without_keys_needs_columns(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no columns"):
        to_csv([{}], tmp_path / "x.csv")
    assert to_csv([{}], tmp_path / "x.csv", columns=["a"]) == 1
    assert read_csv(tmp_path / "x.csv") == [["a"], [""]]


def test_json_has_no_nan_and_unserialisable_values_are_export_errors(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    to_json([{"a": float("nan"), "b": float("inf"), "c": 1.5}], target)
    assert json.loads(target.read_text(encoding="utf-8")) == [{"a": None, "b": None, "c": 1.5}]
    with pytest.raises(ExportError, match="item #1"):
        to_jsonl([{"a": object()}], tmp_path / "bad.jsonl")
    assert not (tmp_path / "bad.jsonl").exists()


def test_a_symlinked_target_is_written_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    to_csv([{"a": 1}], link)
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "a\n1\n"


def test_formulas_can_be_neutralised_for_spreadsheets(tmp_path: Path) -> None:
    rows = [{"title": '=HYPERLINK("http://x")', "notes": "@SUM(A1)", "plain": "Nevermind", "n": -3}]
    to_csv(rows, tmp_path / "raw.csv")
    to_csv(rows, tmp_path / "safe.csv", escape_formulas=True)
    raw = list(csv.reader((tmp_path / "raw.csv").open(encoding="utf-8")))[1]
    safe = list(csv.reader((tmp_path / "safe.csv").open(encoding="utf-8")))[1]
    assert raw[:3] == ['=HYPERLINK("http://x")', "@SUM(A1)", "Nevermind"]  # off by default: data as it is
    assert safe == ['\'=HYPERLINK("http://x")', "'@SUM(A1)", "Nevermind", "-3"]  # numbers stay numbers


# --- the compiled row reader and its fallbacks ------------------------------------

REAL_BODIES = Path(__file__).parent / "data" / "realbodies" / "brotherlogic__godiscogs"


def _real_versions(name: str) -> list[Any]:
    from musicagent.models import MasterVersionsPage

    return list(MasterVersionsPage.model_validate_json((REAL_BODIES / name).read_bytes()).versions)


def test_csv_of_real_discogs_items_is_exactly_the_expected_text(tmp_path: Path) -> None:
    """Two real master versions, the expected text written out by hand from the JSON bodies: one with
    its ``stats`` records (count blocks), one without ``released`` or ``stats`` (left empty)."""
    items = [_real_versions("masters_5251_versions_per_page=500.json")[0]]
    items.append(_real_versions("masters_38998_versions_per_page=500.json")[1])
    header = (
        "id,title,status,format,major_formats,label,catno,country,released,thumb,"
        "stats.community.in_collection,stats.community.in_wantlist,stats.user.in_collection,"
        "stats.user.in_wantlist,resource_url\r\n"
    )
    thumb1 = (
        "https://i.discogs.com/oagLRWRVeSd9HdGndTbLQPPfsxkHbGQ6sLfCCUuP1J4/rs:fit/g:sm/q:40/h:150/w:150/"
        "czM6Ly9kaXNjb2dz/LWRhdGFiYXNlLWlt/YWdlcy9SLTEyODE3/NzYtMTYxMDIwNDYz/Ni05NTAxLmpwZWc.jpeg"
    )
    thumb2 = (
        "https://img.discogs.com/0sMMXG4JS26OYcS-cBD97JHxdYM=/fit-in/150x150/filters:strip_icc():"
        "format(jpeg):mode_rgb():quality(40)/discogs-images/R-9356526-1479202857-8229.jpeg.jpg"
    )
    row1 = (
        "1281776,Totale's Turns (It's Now Or Never),Accepted,\"LP, Album\",{formats1},Base Record,"
        f"ROUGH 10 Y5,Italy,1980,{thumb1},211,173,0,0,https://api.discogs.com/releases/1281776\r\n"
    )
    row2 = (
        '9356526,Live At The Witch Trials (Expanded Edition),Accepted,"2xCD, Album, RE, RM, Exp",{formats2},'
        f"Castle Music,CMQDD847,UK,,{thumb2},,,,,https://api.discogs.com/releases/9356526\r\n"
    )

    to_csv(items, tmp_path / "json.csv")
    to_csv(items, tmp_path / "join.csv", list_style="join")

    as_json = header + row1.format(formats1='"[""Vinyl""]"') + row2.format(formats2='"[""CD""]"')
    assert (tmp_path / "json.csv").read_bytes() == as_json.encode()
    as_joined = header + row1.format(formats1="Vinyl") + row2.format(formats2="CD")
    assert (tmp_path / "join.csv").read_bytes() == as_joined.encode()


def test_csv_of_the_test_models_is_exactly_the_expected_text() -> None:
    stream = io.StringIO(newline="")
    sparse = Release.model_validate({"id": 1, "title": 'Say "hi", then\nleave', "surprise": {"a": 1}})
    to_csv([full_release(), sparse], stream)
    assert stream.getvalue() == (
        ",".join(RELEASE_COLUMNS) + "\r\n"
        '2,Full,master,1999,"[""Rock"",""Pop""]","[{""name"":""Warp"",""catno"":""WAP 1""}]",10,3,4,4.5,'
        '"{""plays"":7}",true,2024-05-01T12:30:00Z\r\n'
        # Not a Discogs model: its defaults ([] for lists) are values and are written.
        '1,"Say ""hi"", then\nleave",release,,[],[],,,,,,false,\r\n'
    )


class Loose(BaseModel):
    """Plain-looking fields that can still hold other values, and ones that never are plain."""

    count: int = 0
    name: str = ""
    score: float | None = None
    pair: Annotated[str, PlainSerializer(lambda value: [value, value])] = "p"
    flag: bool = False
    anything: Any = None


def test_csv_a_plain_column_holding_something_else_is_converted_like_any_cell(tmp_path: Path) -> None:
    """The schema says "plain", but model_construct, a custom serializer or a stray value say otherwise:
    such a row is converted cell by cell, exactly as any other cell would be."""
    items: list[Any] = [
        Loose(count=3, name="n", score=1.5),
        Loose.model_construct(count=True, name=["x", "y"], score=None, flag=True, anything={"k": None}),  # type: ignore[arg-type]
        Loose(anything=[1, "a", None]),
        {"count": True, "name": 7, "score": "x"},  # a dict under the columns of the first item's model
    ]
    out = tmp_path / "loose.csv"
    with pytest.warns(UserWarning, match="serializ"):  # pydantic's own warning about the unexpected values
        to_csv(items, out)
    assert out.read_bytes().decode() == (
        "count,name,score,pair,flag,anything\n"
        '3,n,1.5,"[""p"",""p""]",false,\n'
        '1,"[""x"",""y""]",,"[""p"",""p""]",true,"{""k"":null}"\n'  # pydantic dumps an int field's True as 1
        '0,,,"[""p"",""p""]",false,"[1,""a"",null]"\n'
        "true,7,x,,,\n"
    ).replace("\n", "\r\n")


class CustomDump(BaseModel):
    name: str = "x"

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        return {"name": self.name.upper(), "from": "model_dump"}

    def model_dump_json(self, **kwargs: Any) -> str:
        return json.dumps({"name": self.name.upper(), "from": "model_dump_json"})


def test_a_model_that_overrides_its_dump_is_dumped_by_its_own_method(tmp_path: Path) -> None:
    to_csv([CustomDump(name="a"), CustomDump(name="b")], tmp_path / "c.csv", columns=["name", "from"])
    assert read_csv(tmp_path / "c.csv") == [["name", "from"], ["A", "model_dump"], ["B", "model_dump"]]
    to_jsonl([CustomDump(name="a")], tmp_path / "c.jsonl")
    assert json.loads((tmp_path / "c.jsonl").read_text(encoding="utf-8")) == {"name": "A", "from": "model_dump_json"}


def test_csv_items_of_alternating_classes_are_each_dumped_by_their_own_rules(tmp_path: Path) -> None:
    items: list[Any] = [
        Release(id=1, title="a"),
        {"id": 2, "title": "b", "is_master": True, "community": {"have": 5}},
        MappingProxyType({"id": 3, "genres": ["x"]}),
        Release(id=4, title="d", year=2000),
        {"id": 5, "community": "not an object"},
    ]
    to_csv(items, tmp_path / "mix.csv", columns=["id", "title", "year", "is_master", "community.have", "genres"])
    assert read_csv(tmp_path / "mix.csv") == [
        ["id", "title", "year", "is_master", "community.have", "genres"],
        ["1", "a", "", "false", "", "[]"],
        ["2", "b", "", "true", "5", ""],
        ["3", "", "", "", "", '["x"]'],
        ["4", "d", "2000", "false", "", "[]"],
        ["5", "", "", "", "", ""],
    ]


def test_csv_keys_are_data_never_code(tmp_path: Path) -> None:
    """Column keys reach the compiled row reader as values: names that look like its variables, dots,
    quotes or code change nothing."""
    weird = ['"); import os; ("', "d", "E", "cell", "k0", "p1", "\\", "a'b", "x\ny"]
    item = {key: {"d": i} for i, key in enumerate(weird)}
    columns = [f"{key}.d" for key in weird] + [f"{key}.missing" for key in weird[:2]] + ["d"]
    to_csv([item], tmp_path / "w.csv", columns=columns)
    rows = read_csv(tmp_path / "w.csv")
    assert rows == [columns, [str(i) for i in range(len(weird))] + ["", "", '{"d":1}']]


def test_csv_many_columns(tmp_path: Path) -> None:
    item = {f"c{i}": {"v": i} for i in range(2000)}
    assert to_csv([item, item], tmp_path / "wide.csv") == 2
    rows = read_csv(tmp_path / "wide.csv")
    assert rows[0][1999] == "c1999.v"
    assert rows[2] == [str(i) for i in range(2000)]


def test_jsonl_an_unserialisable_model_value_names_the_item(tmp_path: Path) -> None:
    items = [Loose(), Loose(anything=object())]
    with pytest.raises(ExportError, match="item #2 cannot be written as JSON"):
        to_jsonl(items, tmp_path / "bad.jsonl")
    assert not (tmp_path / "bad.jsonl").exists()


def test_formulas_are_neutralised_in_model_rows_too() -> None:
    stream = io.StringIO(newline="")
    to_csv([Release(id=-1, title="=1+2", genres=["@x"]), Release(id=2, title="-3")], stream, escape_formulas=True)
    assert stream.getvalue().splitlines()[1:] == [
        '-1,\'=1+2,release,,"[""@x""]",[],,,,,,false,',
        "2,'-3,release,,[],[],,,,,,false,",
    ]


def test_the_columns_read_without_cell_conversion_are_the_scalar_and_list_fields() -> None:
    """Guards the fast path (the cells are the same either way, the tests above show): scalar fields,
    also optional, aliased, nested in records, or dates, go to the csv module as they are, and list
    fields straight to the list's cell."""
    from musicagent.export._csv import model_columns
    from musicagent.models import MasterVersion

    shapes = {column.name: column.shape for column in model_columns(Release)}
    assert {name for name, shape in shapes.items() if shape == "plain"} == {
        "id", "title", "type", "year", "community.have", "community.want", "community.rating.count",
        "community.rating.average", "added",
    }  # fmt: skip
    assert {name for name, shape in shapes.items() if shape == "list"} == {"genres", "labels"}
    versions = model_columns(MasterVersion)
    assert [column.name for column in versions if column.shape != "plain"] == ["major_formats"]
    assert "stats.community.in_wantlist" in {column.name for column in versions}


def test_csv_a_list_column_holding_something_else_is_converted_like_any_cell(tmp_path: Path) -> None:
    items: list[Any] = [{"id": 1, "genres": "Rock", "labels": None}, {"id": 2, "genres": ["a", 1], "labels": {"x": 1}}]
    to_csv(items, tmp_path / "l.csv", model=Release, list_style="join")
    rows = as_dicts(read_csv(tmp_path / "l.csv"))
    assert [(row["genres"], row["labels"]) for row in rows] == [("Rock", ""), ("a; 1", '{"x":1}')]

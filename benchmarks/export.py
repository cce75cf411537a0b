"""Benchmark musicagent.export.to_csv on many nested models: speed and peak memory.

Not a test: run it by hand, e.g. ``.venv/bin/python benchmarks/export.py --rows 200000``.

Each export runs in a child process so its peak RSS can be read on its own
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``); the rows are pydantic models built
lazily by a generator, like a paginator would, so a flat peak shows nothing is buffered.
If pandas is importable, the usual ``pandas.json_normalize(list_of_dicts).to_csv()`` is
timed on the same rows for comparison.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

LIMIT_MB = 100.0
SRC = Path(__file__).resolve().parent.parent / "src"


class Rating(BaseModel):
    count: int
    average: float


class Community(BaseModel):
    have: int
    want: int
    rating: Rating | None = None


class ArtistCredit(BaseModel):
    id: int
    name: str


class Release(BaseModel):
    id: int
    title: str
    year: int | None = None
    country: str | None = None
    artist: ArtistCredit
    genres: list[str] = []
    styles: list[str] = []
    community: Community | None = None
    master_id: int | None = None
    thumb: str = ""


class Clock:
    """Time spent building models, to report the export's own cost separately."""

    def __init__(self) -> None:
        self.building = 0.0


def releases(n: int, clock: Clock) -> Iterator[Release]:
    genres = ["Electronic", "Rock", "Jazz", "Hip Hop", "Folk, World, & Country"]
    for i in range(n):
        start = time.perf_counter()
        release = Release(
            id=i + 1,
            title=f'Release "{i}", vol. {i % 7}',
            year=1960 + i % 60 if i % 5 else None,
            country=["UK", "US", "Japan", "Germany"][i % 4],
            artist=ArtistCredit(id=1000 + i % 977, name=f"Artist Ünïcödé {i % 977}"),
            genres=genres[: 1 + i % 3],
            styles=["IDM", "Ambient"] if i % 2 else [],
            community=Community(
                have=i % 1000,
                want=i % 333,
                rating=Rating(count=i % 50, average=round((i % 500) / 100, 2)) if i % 3 else None,
            )
            if i % 10
            else None,
            master_id=i // 3 if i % 4 else None,
            thumb=f"https://i.discogs.com/{i}.jpg",
        )
        clock.building += time.perf_counter() - start
        yield release


def rss_mb(maxrss: int) -> float:
    """ru_maxrss is in kilobytes on Linux and in bytes on macOS."""
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def child(kind: str, rows: int, out: Path) -> None:
    """Run one export and print its figures as JSON on stdout (progress goes to stderr)."""
    clock = Clock()
    baseline = rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # Importing is start-up, not export work: neither side's import is timed (pandas' takes ~0.5 s).
    from musicagent.export import to_csv

    pandas = importlib.import_module("pandas") if kind == "pandas" else None  # optional, untyped
    start = time.perf_counter()
    if pandas is None:

        def progress(count: int) -> None:
            if count % 100_000 == 0 or count == rows:
                print(f"\r  musicagent: {count:>10,} rows", end="", file=sys.stderr)

        written = to_csv(releases(rows, clock), out, progress=progress)
        print(file=sys.stderr)
    else:
        print("  pandas: building the list of dicts...", file=sys.stderr)
        data = [r.model_dump(mode="json") for r in releases(rows, clock)]
        print("  pandas: json_normalize + to_csv...", file=sys.stderr)
        pandas.json_normalize(data).to_csv(out, index=False)
        written = len(data)
    seconds = time.perf_counter() - start
    result = {
        "rows": written,
        "seconds": seconds,
        "building": clock.building,
        "baseline_mb": baseline,
        "self_peak_mb": rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "bytes": out.stat().st_size,
    }
    print(json.dumps(result))


def breakdown(rows: int, out: Path) -> None:
    """Where ``to_csv``'s own time goes, in process CPU per row over pre-built models (best of 3).

    The stages are timed apart with the libraries' public calls: pydantic-core dumping each model
    (``mode="json"``, by alias, as ``to_csv`` asks), and the csv module writing the same cells (made
    here by hand for this one model; the file must come out byte for byte as ``to_csv``'s). The rest
    of ``to_csv``'s time is musicagent's own: reading the cells out of the dump, converting lists,
    checking the cells' types, the loop and progress.
    """
    import csv

    from pydantic_core import to_json

    from musicagent.export import to_csv

    models = list(releases(rows, Clock()))
    gc.freeze()  # the models stay alive for the whole run: keep the collector from walking them
    serializer = Release.__pydantic_serializer__
    dumps = [serializer.to_python(model, mode="json", by_alias=True) for model in models]

    def cells(d: dict[str, Any]) -> list[Any]:
        artist, community = d["artist"], d["community"] or {}
        rating = community.get("rating") or {}
        genres, styles = to_json(d["genres"]).decode(), to_json(d["styles"]).decode()
        return [
            d["id"], d["title"], d["year"], d["country"], artist["id"], artist["name"], genres, styles,
            community.get("have"), community.get("want"), rating.get("count"), rating.get("average"),
            d["master_id"], d["thumb"],
        ]  # fmt: skip

    cell_rows = [cells(d) for d in dumps]
    by_hand = out.with_suffix(".by-hand.csv")

    def total() -> None:
        to_csv(models, out)

    def dump() -> None:
        for model in models:
            serializer.to_python(model, mode="json", by_alias=True)

    def write() -> None:
        with by_hand.open("w", newline="", encoding="utf-8") as fh:
            writerow = csv.writer(fh).writerow
            for row in cell_rows:
                writerow(row)

    def best(stage: Any) -> float:
        times = []
        for _ in range(3):
            start = time.process_time()
            stage()
            times.append(time.process_time() - start)
        return min(times) / rows * 1e6

    whole, dumping, writing = best(total), best(dump), best(write)
    rows_written = out.read_bytes().split(b"\r\n", 1)[1]  # less the header
    if rows_written != by_hand.read_bytes():
        raise SystemExit("the breakdown's hand-made cells do not match to_csv's file: fix cells()")
    rest = whole - dumping - writing
    print(f"to_csv CPU per row, {rows:,} pre-built models: {whole:.2f} us")
    print(f"  pydantic-core dump (to_python, mode=json): {dumping:.2f} us ({dumping / whole:.0%})")
    print(f"  csv module writing the cells: {writing:.2f} us ({writing / whole:.0%})")
    own = "musicagent's own (cells out of the dump, lists as JSON, type check, loop)"
    print(f"  {own}: {rest:.2f} us ({rest / whole:.0%})")


def run_child(kind: str, rows: int, out: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--rows",
        str(rows),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(name: str, result: dict[str, Any], peak_mb: float) -> None:
    net = result["seconds"] - result["building"]
    print(f"{name}:")
    print(
        f"  {result['rows']:,} rows in {result['seconds']:.2f} s"
        f" = {result['rows'] / result['seconds']:,.0f} rows/s including model construction"
    )
    print(
        f"  {net:.2f} s without building the models"
        f" = {result['rows'] / net:,.0f} rows/s; file {result['bytes'] / 1e6:,.1f} MB"
    )
    verdict = "under" if peak_mb < LIMIT_MB else "OVER"
    print(
        f"  peak RSS {peak_mb:.1f} MB ({verdict} {LIMIT_MB:.0f} MB);"
        f" {result['baseline_mb']:.1f} MB after interpreter start-up"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to export (1,000,000)")
    parser.add_argument("--out", type=Path, help="directory for the CSV files (default: a temp dir)")
    parser.add_argument("--child", choices=["musicagent", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--breakdown",
        type=int,
        metavar="ROWS",
        help="then split to_csv's own CPU time per row into dumping, the csv module and the rest, on ROWS "
        "pre-built models (0: skip; default 100,000)",
        default=100_000,
    )
    args = parser.parse_args()

    if args.child:
        child(args.child, args.rows, args.out)
        return
    # Line by line, so our report interleaves properly with the children's progress.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)

    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        print(f"exporting {args.rows:,} nested models to CSV in {out_dir}")
        ours = run_child("musicagent", args.rows, out_dir / "musicagent.csv")
        # Only one child has finished so far, so this is its peak alone.
        ours_peak = rss_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        report("musicagent.export.to_csv", ours, ours_peak)
        if args.breakdown:
            breakdown(args.breakdown, out_dir / "breakdown.csv")

        if importlib.util.find_spec("pandas") is None:
            print("pandas is not installed: no comparison with pandas.json_normalize().to_csv()")
            return
        theirs = run_child("pandas", args.rows, out_dir / "pandas.csv")
        # RUSAGE_CHILDREN is now the max over both children; the child's own figure is exact.
        report(
            "pandas.json_normalize(list_of_dicts).to_csv()",
            theirs,
            theirs["self_peak_mb"],
        )
        ours_net = ours["seconds"] - ours["building"]
        theirs_net = theirs["seconds"] - theirs["building"]
        print(
            f"pandas / musicagent: time x{theirs['seconds'] / ours['seconds']:.2f}"
            f" (x{theirs_net / ours_net:.2f} without model construction),"
            f" peak memory x{theirs['self_peak_mb'] / ours_peak:.2f}"
        )


if __name__ == "__main__":
    main()

"""Client CPU per call against the loopback server: one client, one scenario, one process.

``python benchmarks/calls.py --client musicagent --scenario release --base-url http://127.0.0.1:PORT``
prints one JSON line with the process CPU time (``time.process_time()``: user + system time of
this process only, so the server's work, in another process, is never counted) per operation.

Scenarios:

* ``release``: one ``GET /releases/{id}`` decoded the way the client decodes it, then ``.title``
  read from the result (python3-discogs-client and discogs-sdk only send the request when a field
  is read);
* ``list``: walking the first ``--items`` items (1,000) of an artist's releases, 100 per page, and
  reading ``.title`` of each. One operation is the whole walk, started afresh.

Clients: ``raw`` (urllib3 + json.loads, the floor), ``musicagent`` (and, to put a number on each
of issue 16's levers, musicagent with one of them switched off), ``python3-discogs-client``
(module ``discogs_client``) and ``discogs-sdk``. Each is used the way its README shows, with a token,
pointed at the loopback server; musicagent runs with ``rate_limit=None`` (no local limiter), and
neither peer has a limiter of its own that would wait here.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

TOKEN = "benchmarktoken0123456789"
USER_AGENT = "musicagent-benchmarks/1.0 +https://example.org/musicagent"
PER_PAGE = 100

Op = Callable[[], object]


def _raw_fetchers(base: str, release_id: int, artist_id: int) -> tuple[Callable[[], bytes], Callable[[int], bytes]]:
    """The body of the release, and of page N of the artist's releases, as raw urllib3 fetches them."""
    import urllib3

    pool = urllib3.PoolManager()
    headers = {"User-Agent": USER_AGENT, "Authorization": f"Discogs token={TOKEN}", "Accept": "application/json"}
    release_url = f"{base}/releases/{release_id}"
    list_url = f"{base}/artists/{artist_id}/releases"

    def checked(response: Any) -> bytes:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        data: bytes = response.data
        return data

    def release() -> bytes:
        return checked(pool.request("GET", release_url, headers=headers))

    def page(number: int) -> bytes:
        return checked(pool.request("GET", list_url, fields={"page": number, "per_page": PER_PAGE}, headers=headers))

    return release, page


def raw_ops(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    import json as _json

    fetch_release, fetch_page = _raw_fetchers(base, release_id, artist_id)

    def release() -> object:
        return _json.loads(fetch_release())["title"]

    def listing() -> object:
        seen = 0
        page = 1
        while True:
            body = _json.loads(fetch_page(page))
            for item in body["releases"]:
                _ = item["title"]
                seen += 1
                if seen >= items:
                    return seen
            if page >= body["pagination"]["pages"]:
                return seen
            page += 1

    return {"release": release, "list": listing}


def raw_validated_ops(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    """Raw urllib3 as above, decoding with musicagent's models instead of ``json.loads``.

    Not a client anyone would write: it puts a number on validation inside a real exchange (between
    socket reads and urllib3's work), which costs more than the same validation timed alone in a loop.
    """
    from musicagent.models import ArtistReleasesPage, Release

    fetch_release, fetch_page = _raw_fetchers(base, release_id, artist_id)

    def release() -> object:
        return Release.model_validate_json(fetch_release()).title

    def listing() -> object:
        seen = 0
        page = 1
        while True:
            body = ArtistReleasesPage.model_validate_json(fetch_page(page))
            for item in body.releases:
                _ = item.title
                seen += 1
                if seen >= items:
                    return seen
            if page >= (body.pagination.pages or 0):
                return seen
            page += 1

    return {"release": release, "list": listing}


def musicagent_ops(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    from musicagent import Discogs

    client = Discogs(token=TOKEN, user_agent=USER_AGENT, base_url=base, rate_limit=None)

    def release() -> object:
        return client.releases.get(release_id).title

    def listing() -> object:
        seen = 0
        for item in client.artists.releases(artist_id, per_page=PER_PAGE, limit=items):
            _ = item.title
            seen += 1
        return seen

    return {"release": release, "list": listing}


def discogs_client_ops(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    import discogs_client
    from discogs_client import models

    client = discogs_client.Client(USER_AGENT, user_token=TOKEN)
    client._base_url = base  # its documented way is a subclass; the attribute is what every URL is built from

    def release() -> object:
        return client.release(release_id).title  # lazy object: reading a field sends the GET

    def listing() -> object:
        # client.artist(id).releases would GET /artists/{id} first to learn releases_url; give it the URL.
        artist = models.Artist(client, {"id": artist_id, "releases_url": f"{base}/artists/{artist_id}/releases"})
        pages = artist.releases
        pages.per_page = PER_PAGE
        seen = 0
        for item in itertools.islice(pages, items):
            _ = item.title
            seen += 1
        return seen

    return {"release": release, "list": listing}


def discogs_sdk_ops(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    from discogs_sdk import Discogs

    client = Discogs(token=TOKEN, user_agent=USER_AGENT, base_url=base)

    def release() -> object:
        return client.releases.get(release_id).title  # lazy proxy: reading a field sends the GET

    def listing() -> object:
        seen = 0
        for item in itertools.islice(client.artists.get(artist_id).releases.list(per_page=PER_PAGE), items):
            _ = item.title
            seen += 1
        return seen

    return {"release": release, "list": listing}


def without_fast_headers(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    """musicagent with http.client's own header parsing (the email package) and header writing, as before issue 16."""
    from musicagent._runtime import headers

    headers.install = lambda manager: None  # the pools keep urllib3's stock classes
    return musicagent_ops(base, release_id, artist_id, items)


def with_read_timeouts(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    """musicagent with a socket timeout on every read (a poll() before each recv), as before reads blocked."""
    import urllib3

    from musicagent._runtime import transport

    def timeouts(self: Any, seconds: float) -> urllib3.Timeout:
        return urllib3.Timeout(connect=seconds, read=seconds)

    transport._Pools.timeouts = timeouts  # type: ignore[method-assign]
    return musicagent_ops(base, release_id, artist_id, items)


def without_gc_pause(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    """musicagent validating with the garbage collector running, as before issue 16."""
    from musicagent._runtime import client

    client._validate_json = lambda model, content: model.model_validate_json(content)
    return musicagent_ops(base, release_id, artist_id, items)


def with_count_models(base: str, release_id: int, artist_id: int, items: int) -> dict[str, Op]:
    """musicagent with the ``stats`` count blocks as full models, as before they became records."""
    from musicagent._generated import models
    from musicagent._runtime.model import DiscogsModel

    class ItemCounts(DiscogsModel):
        in_collection: int | None = None
        in_wantlist: int | None = None

    class ItemStats(DiscogsModel):
        community: ItemCounts | None = None
        user: ItemCounts | None = None

    class ArtistRelease(models.ArtistRelease):
        stats: ItemStats | None = None

    class ArtistReleasesPage(models.ArtistReleasesPage):
        releases: list[ArtistRelease]  # type: ignore[assignment]

    names = {**vars(models), "ItemCounts": ItemCounts, "ItemStats": ItemStats, "ArtistRelease": ArtistRelease}
    for model in (ItemStats, ArtistRelease, ArtistReleasesPage):
        model.model_rebuild(_types_namespace=names)  # these classes, and the generated ones' imports
    models.ArtistReleasesPage = ArtistReleasesPage  # type: ignore[misc]  # what the resource method validates with
    return musicagent_ops(base, release_id, artist_id, items)


CLIENTS: dict[str, Callable[[str, int, int, int], dict[str, Op]]] = {
    "raw": raw_ops,
    "raw with musicagent's models": raw_validated_ops,
    "musicagent": musicagent_ops,
    "musicagent without plain header reading": without_fast_headers,
    "musicagent with read timeouts": with_read_timeouts,
    "musicagent without the GC pause": without_gc_pause,
    "musicagent with count blocks as models": with_count_models,
    "python3-discogs-client": discogs_client_ops,
    "discogs-sdk": discogs_sdk_ops,
}


def measure(op: Op, count: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        op()
    gc.collect()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for _ in range(count):
        op()
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    return {"ops": count, "cpu_per_op": cpu / count, "wall_per_op": wall / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--client", choices=sorted(CLIENTS), required=True)
    parser.add_argument("--scenario", choices=["release", "list"], required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--release-id", type=int, default=16004480)
    parser.add_argument("--artist-id", type=int, default=108713)
    parser.add_argument("--items", type=int, default=1000, help="items per list walk (1000)")
    parser.add_argument("--count", type=int, default=2000, help="operations measured")
    parser.add_argument("--warmup", type=int, default=200, help="operations run first, not measured")
    args = parser.parse_args()

    ops = CLIENTS[args.client](args.base_url, args.release_id, args.artist_id, args.items)
    op = ops[args.scenario]
    check = op()
    if args.scenario == "list" and check != args.items:
        raise SystemExit(f"{args.client}: the list walk saw {check} items, not {args.items}")
    result = measure(op, args.count, args.warmup)
    result.update(client=args.client, scenario=args.scenario, check=str(check)[:60])
    print(json.dumps(result))


if __name__ == "__main__":
    main()

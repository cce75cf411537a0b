"""musicagent in five minutes: an artist, their releases, a search, a release, and errors.

Run it against the real API with ``DISCOGS_TOKEN=...`` (https://www.discogs.com/settings/developers),
against a mock server with ``DISCOGS_BASE_URL=http://127.0.0.1:8990`` (``musicagent mock``), or with
neither set to replay recorded answers offline.
"""

from __future__ import annotations

from _offline import USER_AGENT, run

from musicagent import Discogs, InvalidParameterError, NotFoundError


def main() -> int:
    # 1. A client. The token, base URL, timeouts... come from arguments, DISCOGS_* variables or .env.
    discogs = Discogs(user_agent=USER_AGENT)
    print(f"Client: {discogs!r}\n")

    # 2. One artist: a typed model, so attributes complete in your editor and mypy checks them.
    artist = discogs.artists.get(108713)
    profile = " ".join((artist.profile or "").split())
    print(f"Artist #{artist.id}: {artist.name}")
    print(f"  {profile[:150]}{'...' if len(profile) > 150 else ''}")
    if artist.members:
        print("  Members: " + ", ".join(m.name for m in artist.members if m.name))

    # 3. Their releases: a page you can iterate; `limit` stops after that many items. (`sort="year"`
    #    orders them; the offline mock only has the default order recorded, and says so if asked another.)
    releases = discogs.artists.releases(108713, limit=8)
    print(f"\nFirst {releases.limit} of {releases.pagination.items} releases:")
    for item in releases:
        print(f"  {item.year or '----'}  {item.title}  [{item.type}]")

    # 4. Search the database (needs a token on the real API).
    print("\nSearch 'nirvana':")
    for result in discogs.search(q="nirvana", limit=5):
        print(f"  {result.type:<8} {result.title}")

    # 5. A release, with prices in a chosen currency.
    release = discogs.releases.get(249504, curr_abbr="USD")
    credits = ", ".join(a.name for a in release.artists or [] if a.name)
    print(f"\nRelease #{release.id}: {credits} - {release.title} ({release.year})")
    for track in (release.tracklist or [])[:3]:
        print(f"  {track.position:<3} {track.title}  {track.duration or ''}")

    # 6. Errors are exceptions with the HTTP status and Discogs' own message.
    try:
        discogs.releases.get(999999999)
    except NotFoundError as exc:
        print(f"\nNotFoundError: status {exc.status_code}, message {exc.message!r}")
    try:
        discogs.artists.get(0)  # checked before anything is sent
    except InvalidParameterError as exc:
        print(f"InvalidParameterError: {exc}")

    state = discogs.rate_limit
    print(f"\nRate limit: {state.used} used, {state.remaining} of {state.limit} left in the moving minute")
    discogs.close()
    return 0


if __name__ == "__main__":
    run(main)

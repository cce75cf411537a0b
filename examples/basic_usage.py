"""Everyday calls: artists, labels, masters and their versions, users, ratings, and plain data out.

Every method has the same shape: path values positional, then keyword options; list methods
return a page that iterates over every item of every page (``limit=`` stops early).
"""

from __future__ import annotations

import json

from _offline import USER_AGENT, run

from musicagent import Discogs


def show_artist(discogs: Discogs) -> None:
    artist = discogs.artists.get(45)
    print(f"Artist: {artist.name} (real name: {artist.realname or 'unknown'})")
    if artist.aliases:
        print("  Also known as: " + ", ".join(a.name for a in artist.aliases[:5] if a.name))


def show_label(discogs: Discogs) -> None:
    label = discogs.labels.get(1)
    print(f"\nLabel: {label.name}")
    if label.sublabels:
        print(f"  {len(label.sublabels)} sublabels, e.g. " + ", ".join(s.name for s in label.sublabels[:3] if s.name))
    page = discogs.labels.releases(1, limit=5)
    print(f"  {page.pagination.items} releases; the first {page.limit}:")
    for release in page:
        print(f"    {release.catno or '-':<12} {release.artist} - {release.title} ({release.year or '?'})")


def show_master(discogs: Discogs) -> None:
    master = discogs.masters.get(1000)
    artists = ", ".join(a.name for a in master.artists or [] if a.name)
    print(f"\nMaster: {artists} - {master.title} ({master.year}); genres: {', '.join(master.genres or [])}")
    for version in discogs.masters.versions(1000, limit=4):
        print(f"  version {version.id}: {version.format} - {version.label} - {version.country} {version.released}")


def show_user_and_ratings(discogs: Discogs) -> None:
    user = discogs.users.get("vdq")
    print(f"\nUser: {user.username}, {user.releases_rated} releases rated, currency {user.curr_abbr}")
    rating = discogs.releases.community_rating(249504)
    if rating.rating is not None:
        print(f"Release 249504 community rating: {rating.rating.average} from {rating.rating.count} votes")


def plain_data(discogs: Discogs) -> None:
    # Models are pydantic: dump them to dicts or JSON with the keys Discogs uses.
    release = discogs.releases.get(40522)
    data = release.model_dump(mode="json", by_alias=True, exclude_none=True)
    print(f"\nRelease {release.id} as data: {len(data)} keys, e.g.")
    print("  " + json.dumps({k: data[k] for k in ("id", "title", "year", "genres") if k in data}))


def main() -> int:
    discogs = Discogs(user_agent=USER_AGENT)
    with discogs:  # closes pooled connections at the end
        show_artist(discogs)
        show_label(discogs)
        show_master(discogs)
        show_user_and_ratings(discogs)
        plain_data(discogs)
        print(f"\n{discogs.metrics.requests} requests made")
    return 0


if __name__ == "__main__":
    run(main)

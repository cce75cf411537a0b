"""What an AI agent sees through ``musicagent mcp``: tools, a resource, calls, pages and errors.

Launches ``musicagent mcp`` over stdio as an MCP client application would (Claude Desktop, an IDE,
an agent framework) and talks to it with the official MCP SDK's client. Needs the extra:
``pip install 'musicagent[mcp]'``. Offline unless ``DISCOGS_TOKEN`` or ``DISCOGS_BASE_URL`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
from _offline import run
from mcp import Client, StdioServerParameters


async def tour() -> None:
    # The server reads DISCOGS_TOKEN / DISCOGS_BASE_URL from its environment, as the CLI does.
    env = {k: v for k, v in os.environ.items() if k.startswith("DISCOGS_")}
    server = StdioServerParameters(command=sys.executable, args=["-m", "musicagent", "mcp"], env=env)
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        print(f"{len(tools)} read-only tools, e.g. " + ", ".join(t.name for t in tools[:4]) + ", ...")

        identity = json.loads((await client.read_resource("discogs://identity")).contents[0].text)  # type: ignore[union-attr]
        print(f"discogs://identity -> {identity['username']}")

        async def call(name: str, **arguments: Any) -> Any:
            result = await client.call_tool(name, arguments)
            if result.is_error:
                return result.content[0].text  # type: ignore[union-attr]
            return result.structured_content

        release = await call("releases_get", release_id=249504)
        print(f"releases_get 249504 -> {release['artists'][0]['name']} - {release['title']} ({release['year']})")

        first = await call("artists_releases", artist_id=1, limit=20)
        more = await call("artists_releases", artist_id=1, limit=20, offset=first["pagination"]["next_offset"])
        print(f"artists_releases 1 -> {first['pagination']}")
        print(f"  continued at offset {more['pagination']['offset']}: {more['items'][0]['title']!r}, ...")

        hits = await call("search", q="Nirvana", type="release", limit=3)
        print("search Nirvana -> " + "; ".join(hit["title"] for hit in hits["items"]))

        print(f"artists_get 999999999 -> tool error: {await call('artists_get', artist_id=999999999)}")
        print(f"artists_get 'abc' -> tool error: {await call('artists_get', artist_id='abc')}")


def main() -> int:
    anyio.run(tour)
    return 0


if __name__ == "__main__":
    run(main)

"""``musicagent mcp``: every Discogs operation as a tool for AI agents (Model Context Protocol).

Needs the ``mcp`` extra (``pip install 'musicagent[mcp]'``). The tools come from the generated
list (``_generated/tools.py``, made from the spec), so a new operation in the spec is a new tool
after ``make generate``. Importing this package does not import the MCP SDK: only running the
server does, so ``musicagent --help`` stays fast and works without the extra.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_DEADLINE", "add_arguments", "run"]

DEFAULT_DEADLINE = 45.0
"""Seconds one Discogs call may take, rate-limit waits and retries included, unless configured.

MCP clients commonly give up on a tool call after about a minute; an answer inside that time
(even "rate limited, try later") is worth more than a call the client has abandoned.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``musicagent mcp`` beside the CLI's client options (token, base URL, ...)."""
    parser.add_argument(
        "--allow-writes",
        action="store_true",
        help="also offer the operations that change data (POST/PUT/DELETE); deletes are marked destructive",
    )
    transports = parser.add_mutually_exclusive_group()
    transports.add_argument(
        "--http",
        type=int,
        metavar="PORT",
        default=None,
        help="serve streamable HTTP on 127.0.0.1:PORT/mcp (0: any free port) instead of stdio",
    )
    transports.add_argument(
        "--sse",
        type=int,
        metavar="PORT",
        default=None,
        help="serve the older HTTP+SSE transport (protocol 2024-11-05) on 127.0.0.1:PORT/sse instead of stdio",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        default=None,
        help=f"longest a Discogs call may take, rate-limit waits included (env DISCOGS_DEADLINE; "
        f"default {DEFAULT_DEADLINE:g})",
    )


def _client(options: Mapping[str, Any], deadline: float | None) -> Any:
    """The SDK client, with the settings the CLI has; the deadline defaults to DEFAULT_DEADLINE."""
    from .._runtime.config import Settings
    from ..lib.client import Discogs

    settings: dict[str, Any] = dict(options)
    if deadline is not None:
        settings["deadline"] = deadline
    elif Settings.resolve(settings).deadline is None:  # neither the environment nor .env sets one
        settings["deadline"] = DEFAULT_DEADLINE
    return Discogs(**settings)


def run(ns: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    """Serve until the client hangs up (stdio) or the process is interrupted (HTTP)."""
    try:
        import anyio

        from ._server import build_server, serve_http, serve_sse, serve_stdio
    except ImportError as exc:  # pragma: no cover - the dev extra installs mcp
        from .._runtime.errors import ConfigurationError

        raise ConfigurationError(
            f"musicagent mcp needs the MCP SDK ({exc.name} is missing): pip install 'musicagent[mcp]'"
        ) from None
    from ._tools import Toolbox

    with _client(client_options, ns.deadline) as client:
        server = build_server(Toolbox(client, allow_writes=ns.allow_writes))
        if ns.http is not None:
            anyio.run(serve_http, server, ns.http)
        elif ns.sse is not None:
            anyio.run(serve_sse, server, ns.sse)
        else:
            anyio.run(serve_stdio, server)
    return 0

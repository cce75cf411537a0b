"""The MCP server itself, on the official SDK's low-level ``Server``: tools, resources, prompts, transports.

The low-level server fits generated tools: each one already has its name, description, input schema
and hints as data, and its output schema comes from the models, so no Python function per tool is
needed. Tool calls run the (blocking) SDK in worker threads, so one slow call or a rate-limit wait
never stalls the others.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import sys
import threading
from typing import Any, cast

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server import Server
from mcp.shared.exceptions import MCPError

from .. import __version__
from .._runtime.log import mask
from .._runtime.operations import ToolInfo
from ._tools import ERROR_META_KEY, Outcome, Toolbox

__all__ = ["IDENTITY_URI", "RATE_LIMIT_URI", "build_server", "serve_http", "serve_sse", "serve_stdio"]

IDENTITY_URI = "discogs://identity"
RATE_LIMIT_URI = "discogs://rate-limit"

INSTRUCTIONS = """\
Every Discogs API operation is a tool named after it (artists_get, search, users_collection_folders_releases, ...).
List tools return at most `limit` items (default 50) with `pagination`; pass `offset` = `pagination.next_offset`
to continue. The resource discogs://identity names the user the token belongs to (their username is what the
users_* tools take); discogs://rate-limit shows the request allowance left. Requests are paced to Discogs' rate
limit, so a long walk through a big collection is slow but safe. Errors come back as tool errors with Discogs'
message; a 404 means the id does not exist."""

_PROMPTS: dict[str, tuple[str, list[types.PromptArgument], str]] = {
    "collection_overview": (
        "Summarise a user's Discogs collection: folders, size, value, and what it is mostly made of.",
        [types.PromptArgument(name="username", description="The Discogs username.", required=True)],
        "Give me an overview of the Discogs collection of {username}. Use users_collection_folders_list for the "
        "folders and their counts, users_collection_value for its value (only works for the token's own user), "
        "and users_collection_folders_releases with folder_id 0 (all releases), limit 100, following "
        "pagination.next_offset, to see the artists, labels, formats and years it is mostly made of. "
        "Summarise in a few paragraphs with the main numbers.",
    ),
    "price_check": (
        "What a release is worth: marketplace offers, price suggestions and community interest.",
        [types.PromptArgument(name="release_id", description="The Discogs release id.", required=True)],
        "How much is Discogs release {release_id} worth? Use releases_get for what it is, marketplace_stats "
        "for what is for sale now, marketplace_price_suggestions for suggested prices by condition (needs a "
        "seller's token) and releases_stats for how many users have and want it. Answer with a short table.",
    ),
}


def _tool(tool: ToolInfo, toolbox: Toolbox) -> types.Tool:
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=toolbox.output_schema(tool),
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
            idempotent_hint=tool.idempotent,
            open_world_hint=True,
        ),
    )


def _result(outcome: Outcome) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=outcome.text)],
        structured_content=outcome.structured,
        is_error=outcome.is_error,
        meta={ERROR_META_KEY: outcome.error} if outcome.error is not None else None,
    )


def _first_page(params: types.PaginatedRequestParams | None) -> None:
    """Every list fits one page, so no cursor was ever handed out: one sent is invalid (the spec's -32602)."""
    if params is not None and params.cursor:
        raise MCPError(types.INVALID_PARAMS, "unknown cursor: every list is answered whole, with no nextCursor")


def build_server(toolbox: Toolbox) -> Server[Any]:
    """A low-level MCP server offering the toolbox's tools, the identity and rate-limit resources and two prompts."""
    listed: list[types.Tool] = []

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        _first_page(params)
        if not listed:  # output schemas are built once, on the first listing (they need every model)
            tools = await anyio.to_thread.run_sync(lambda: [_tool(t, toolbox) for t in toolbox.tools])
            listed.extend(tools)
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if not toolbox.offers(params.name):  # MCP: an unknown tool is a protocol error, not a tool's failure
            raise MCPError(types.INVALID_PARAMS, toolbox.unknown(params.name))
        # Cancelled (notifications/cancelled), the handler stops waiting at once; the worker thread
        # cannot be interrupted, but the event keeps it from sending anything more for this call.
        cancel = threading.Event()
        try:
            outcome = await anyio.to_thread.run_sync(
                toolbox.call, params.name, params.arguments, cancel, abandon_on_cancel=True
            )
        finally:
            cancel.set()
        return _result(outcome)

    async def list_resources(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        _first_page(params)
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=IDENTITY_URI,
                    name="identity",
                    title="The authenticated Discogs user",
                    description="Who the token belongs to: username, id, resource_url (needs a token).",
                    mime_type="application/json",
                ),
                types.Resource(
                    uri=RATE_LIMIT_URI,
                    name="rate-limit",
                    title="Discogs rate limit",
                    description="Requests allowed per window, used and remaining, and the requests made so far.",
                    mime_type="application/json",
                ),
            ]
        )

    async def list_resource_templates(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        _first_page(params)
        # None, but clients that see the resources capability ask (the MCP Inspector, desktop apps),
        # and "method not found" shows up in their logs as a broken server.
        return types.ListResourceTemplatesResult(resource_templates=[])

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri == IDENTITY_URI:
            outcome = await anyio.to_thread.run_sync(toolbox.call, "oauth_identity", {})
            if outcome.is_error:
                raise MCPError(types.INTERNAL_ERROR, outcome.text)
            text = outcome.text
        elif uri == RATE_LIMIT_URI:
            text = json.dumps(_rate_limit(toolbox.client))
        else:
            raise MCPError(types.INVALID_PARAMS, f"no resource {mask(uri)!r}")
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        _first_page(params)
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(name=name, description=description, arguments=arguments)
                for name, (description, arguments, _) in _PROMPTS.items()
            ]
        )

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        if params.name not in _PROMPTS:
            raise MCPError(types.INVALID_PARAMS, f"no prompt {params.name!r}")
        description, arguments, template = _PROMPTS[params.name]
        given = params.arguments or {}
        missing = [a.name for a in arguments if a.required and not given.get(a.name)]
        if missing:
            raise MCPError(types.INVALID_PARAMS, f"prompt {params.name!r} needs {', '.join(missing)}")
        text = template.format(**{a.name: given[a.name] for a in arguments})
        message = types.PromptMessage(role="user", content=types.TextContent(text=text))
        return types.GetPromptResult(description=description, messages=[message])

    return Server(
        "musicagent",
        version=__version__,
        title="Discogs (musicagent)",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


def _rate_limit(client: Any) -> dict[str, Any]:
    state = dataclasses.asdict(client.rate_limit)
    metrics = client.metrics
    state["requests_made"] = metrics.requests
    state["rate_limited_responses"] = metrics.rate_limited
    state["limiter_wait_seconds"] = round(metrics.limiter_wait_seconds, 3)
    return state


async def serve_stdio(server: Server[Any]) -> None:
    """The SDK's stdio transport, behind the layer that answers batches and unreadable lines (``_stdio``)."""
    from mcp.server.stdio import stdio_server

    from ._stdio import Lines, Wire, claim_stdio

    stdin, stdout = claim_stdio()
    wire = Wire(stdout)
    async with stdio_server(stdin=cast(Any, Lines(stdin, wire)), stdout=cast(Any, wire)) as (read, write):
        await server.run(read, write, server.create_initialization_options())


_HOST = "127.0.0.1"


async def serve_http(server: Server[Any], port: int) -> None:
    """Streamable HTTP on 127.0.0.1 only (the SDK then also turns on DNS-rebinding protection).

    JSON-RPC batches, which the SDK's transport refuses, are split in front of it (``_batch``).
    """
    from ._batch import BatchingApp

    await _serve_asgi(BatchingApp(server.streamable_http_app(host=_HOST)), port, "/mcp", "MCP")


async def serve_sse(server: Server[Any], port: int) -> None:
    """The HTTP+SSE transport of protocol 2024-11-05 (``GET /sse``, ``POST /messages/``), on 127.0.0.1 only.

    Streamable HTTP replaced it in 2025-03-26, but many deployed agent clients speak only this one.
    The SDK's own transport, with the DNS-rebinding protection it gives streamable HTTP on loopback.
    """
    from mcp.server.sse import SseServerTransport
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*"],
    )
    transport = SseServerTransport("/messages/", security_settings=security)

    async def stream(request: Request) -> Response:
        async with transport.connect_sse(request.scope, request.receive, request._send) as (read, write):
            await server.run(read, write, server.create_initialization_options())
        return Response()  # the stream has ended; Starlette needs an answer object all the same

    routes = [Route("/sse", endpoint=stream, methods=["GET"]), Mount("/messages/", app=transport.handle_post_message)]
    await _serve_asgi(Starlette(routes=routes), port, "/sse", "MCP (HTTP+SSE)")


async def _serve_asgi(app: Any, port: int, path: str, what: str) -> None:
    """Bind 127.0.0.1:PORT (0: any free port) first, so the line printed names the real port; then serve."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((_HOST, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    http = uvicorn.Server(config)
    print(f"musicagent mcp: serving {what} on http://{_HOST}:{bound}{path}", file=sys.stderr, flush=True)
    await http.serve(sockets=[sock])

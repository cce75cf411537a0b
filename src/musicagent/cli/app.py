"""The ``musicagent`` command: every operation of the generated SDK as a subcommand.

The command tree is built at run time from the operation registry, so it follows the spec: the
operation ``users.collection.folders.list`` is ``musicagent users collection folders list``, its
path parameters are positional arguments and its other parameters ``--options``::

    musicagent artists get 108713
    musicagent search --q nirvana --type release --limit 500 --format csv -o nirvana.csv

Output is pretty JSON unless ``--format jsonl|csv|table``; settings come from the options, then the
same environment variables and ``.env`` file as the library (``DISCOGS_TOKEN``, ...).

Each failure prints one line, ``musicagent: error: ...`` (``--debug`` adds the traceback), and
exits with a status that says what kind of failure it was: ``musicagent --help`` lists them, from
``musicagent.cli.errors.EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from .._runtime.operations import OperationInfo
from .errors import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_RATE_LIMITED,
    EXIT_USAGE,
    PROG,
    UsageError,
    exit_code_for,
    message,
)

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_RATE_LIMITED",
    "EXIT_USAGE",
    "exit_code_for",
    "main",
]

_CLIENT_OPTIONS = ("token", "base_url", "user_agent", "timeout", "max_retries", "cache")


def operations() -> tuple[OperationInfo, ...]:
    """The generated registry (a function, so tests can substitute another one)."""
    from .._generated.operations import OPERATIONS

    return OPERATIONS


def _resolve(client: Any, op: OperationInfo) -> Any:
    target = client
    for part in op.id.split("."):
        target = getattr(target, part)
    return target


def _arguments(op: OperationInfo, ns: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    from .parser import PARAM_PREFIX

    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in op.params:
        value = getattr(ns, PARAM_PREFIX + param.name, None)
        if param.location == "path":
            args.append(value)
        elif value is not None:
            kwargs[param.name] = value
    if op.kind == "page" and getattr(ns, "_limit", None) is not None:
        kwargs["limit"] = ns._limit
    if op.kind == "download":
        if ns.output is None:
            raise UsageError(f"{op.id.replace('.', ' ')} saves a file: give it with -o/--output FILE")
        args.append(ns.output)
    return args, kwargs


def _client_options(ns: argparse.Namespace) -> dict[str, Any]:
    """Only what was given: anything left out comes from the environment or .env, as in the library."""
    return {name: getattr(ns, name) for name in _CLIENT_OPTIONS if getattr(ns, name) is not None}


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return callable(isatty) and bool(isatty())


def _progress_enabled(ns: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> bool:
    """Only on a terminal, and not while items stream onto that same screen (they would interleave)."""
    if ns.quiet or not _isatty(stderr):
        return False
    return ns.output is not None or ns.format == "table" or not _isatty(stdout)


def _tracked(page: Any, limit: int | None, progress: Any) -> Iterator[Any]:
    """Walk every page, telling the progress bar; the total is the server's count, capped by --limit."""
    total = page.pagination.items
    progress.total = min(total, limit) if limit is not None else total
    for count, item in enumerate(page, start=1):
        yield item
        progress.update(count)


def _run_operation(op: OperationInfo, ns: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .. import Discogs
    from .._runtime.pagination import Page
    from .output import check_output, model_class, write_many, write_one
    from .progress import Progress

    args, kwargs = _arguments(op, ns)
    check_output(ns.output)  # before the request: a created listing must not be lost to a bad -o
    with Discogs(**_client_options(ns)) as client:
        method = _resolve(client, op)
        progress = Progress(stderr, enabled=_progress_enabled(ns, stdout, stderr), label=op.id)
        result = method(*args, **kwargs)
        if isinstance(result, Page):
            model = model_class(op.item_model)
            try:
                count = write_many(_tracked(result, kwargs.get("limit"), progress), ns.format, ns.output, stdout, model)
            finally:
                progress.close()
            if ns.output is not None and not ns.quiet:
                stderr.write(f"{PROG}: wrote {count} items to {ns.output}\n")
        elif op.kind == "download" or isinstance(result, os.PathLike):
            if not ns.quiet:
                stderr.write(f"{PROG}: saved {os.fspath(result) if result is not None else ns.output}\n")
        elif result is None:
            if not ns.quiet:
                stderr.write(f"{PROG}: done ({op.method} {op.path})\n")
        else:
            write_one(result, ns.format, ns.output, stdout)
    return EXIT_OK


def _run_mock(extra: list[str]) -> int:
    """Everything after ``mock`` (``--help`` included) belongs to the mock server's own parser."""
    from .mock import main as mock_main

    return mock_main(extra)


def _dispatch(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    from .parser import build_parser

    registry = operations()
    parser = build_parser(registry)
    ns, extra = parser.parse_known_args(argv)
    builtin = getattr(ns, "_builtin", None)
    if extra and builtin != "mock":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not ns.debug:
        return _run(ns, extra, registry, stdout, stderr)
    from .._runtime.log import disable_logging, enable_logging

    enable_logging("DEBUG")
    try:
        return _run(ns, extra, registry, stdout, stderr)
    finally:
        disable_logging()  # main() may run again in the same process (tests, embedding)


def _run(
    ns: argparse.Namespace, extra: list[str], registry: Sequence[OperationInfo], stdout: TextIO, stderr: TextIO
) -> int:
    from .login import run_login

    builtin = getattr(ns, "_builtin", None)
    if builtin == "mock":
        return _run_mock(extra)
    if builtin == "mcp":
        from ..mcp import run as run_mcp

        return run_mcp(ns, _client_options(ns))
    if builtin == "login":
        from .. import Discogs

        return run_login(ns, {op.id for op in registry}, Discogs, _client_options(ns), stdout, stderr)
    op: OperationInfo = ns._op
    return _run_operation(op, ns, stdout, stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = sys.stdout, sys.stderr
    debug = "--debug" in arguments
    try:
        return _dispatch(arguments, stdout, stderr)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK if exc.code is None else EXIT_USAGE
    except BrokenPipeError:
        # A reader such as `head` went away: stop quietly, and keep Python from complaining at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_PIPE
    except (Exception, KeyboardInterrupt) as exc:
        if debug:
            traceback.print_exc(file=stderr)
        text = "interrupted" if isinstance(exc, KeyboardInterrupt) else message(exc)
        stderr.write(f"{PROG}: error: {text}\n")
        stderr.flush()
        return exit_code_for(exc)

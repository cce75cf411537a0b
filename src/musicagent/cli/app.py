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
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from .._runtime.operations import OperationInfo
from .errors import EXIT_OK, EXIT_PIPE, EXIT_USAGE, PROG, Terminated, UsageError, exit_code_for, message

__all__ = ["main"]  # the exit codes are musicagent.cli.errors'; they are defined and exported there once

_CLIENT_OPTIONS = (
    "token",
    "base_url",
    "user_agent",
    "timeout",
    "max_retries",
    "deadline",
    "rate_limit",
    "rate_limit_store",
    "cache",
)


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
    from .parser import PARAM_PREFIX, POSITIONAL_PREFIX, option_names

    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in op.params:
        value = getattr(ns, PARAM_PREFIX + param.name, None)
        if param.positional:
            given = getattr(ns, POSITIONAL_PREFIX + param.name, None)
            if given is not None and value is not None:
                raise UsageError(f"give {param.name.upper()} or {option_names(param)[0]}, not both")
            value = given if value is None else value
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
    from .parser import RATE_LIMIT_OFF

    options = {name: getattr(ns, name) for name in _CLIENT_OPTIONS if getattr(ns, name, None) is not None}
    if options.get("rate_limit") == RATE_LIMIT_OFF:
        options["rate_limit"] = None  # given, and off: the library's spelling of "no local limit"
    return options


def _row_columns(op: OperationInfo, ns: argparse.Namespace) -> list[str] | None:
    """``--columns``, checked against the rows' model before anything is sent."""
    from .output import column_names, list_field, model_class

    columns: list[str] | None = getattr(ns, "columns", None)
    if columns is None:
        return None
    if ns.format not in ("table", "csv"):
        raise UsageError("--columns is for --format table or csv")
    model = model_class(op.item_model if op.kind == "page" else op.model)
    if model is not None and op.kind != "page":
        wrapped = list_field(model)
        model = wrapped[1] if wrapped else model
    if model is None:
        return columns
    known = column_names(model)
    unknown = [name for name in columns if name not in known]
    if unknown:
        listing = ", ".join(known)
        raise UsageError(f"no column {', '.join(map(repr, unknown))} in {model.__name__}; its columns: {listing}")
    return columns


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


def _wait_notices(ns: argparse.Namespace, progress: Any) -> Any:
    """While the command runs, a rate-limit wait of NOTICE_AFTER seconds or more is one stderr line."""
    import contextlib

    from .._runtime import waits

    if ns.quiet:
        return contextlib.nullcontext()

    def notice(seconds: float, reason: str) -> None:
        progress.note(f"{PROG}: waiting {waits.describe(seconds)} ({reason})")

    return waits.listen(notice)


def _run_operation(op: OperationInfo, ns: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .. import Discogs
    from .._runtime.pagination import Page
    from .output import check_output, model_class, write_many, write_one
    from .progress import Progress

    args, kwargs = _arguments(op, ns)
    columns = _row_columns(op, ns)
    check_output(ns.output)  # before the request: a created listing must not be lost to a bad -o
    progress = Progress(stderr, enabled=_progress_enabled(ns, stdout, stderr), label=op.id)
    with _terminated_on_sigterm(), Discogs(**_client_options(ns)) as client, _wait_notices(ns, progress):
        method = _resolve(client, op)
        result = method(*args, **kwargs)
        if isinstance(result, Page):
            model = model_class(op.item_model)
            items: Iterable[Any] = _tracked(result, kwargs.get("limit"), progress)
            try:
                if ns.format == "table":  # widths need every row: fetch all, end the bar, then draw
                    items = list(items)
                    progress.close()
                count = write_many(items, ns.format, ns.output, stdout, model, columns=columns)
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
            write_one(result, ns.format, ns.output, stdout, columns=columns)
    return EXIT_OK


@contextlib.contextmanager
def _terminated_on_sigterm() -> Iterator[None]:
    """SIGTERM (``kill``, a CI timeout) unwinds like Ctrl-C: an export's temporary file is removed."""

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (embedded): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_mock(extra: list[str]) -> int:
    """Everything after ``mock`` (``--help`` included) belongs to the mock server's own parser."""
    from .mock import main as mock_main

    return mock_main(extra)


def _dispatch(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    from .parser import build_parser

    registry = operations()
    parser = build_parser(registry)
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (see `musicagent completion`)
        import argcomplete

        argcomplete.autocomplete(parser)  # prints them and exits
    ns, extra = parser.parse_known_args(argv)
    builtin = getattr(ns, "_builtin", None)
    if extra and builtin != "mock":
        from .parser import unrecognized

        unrecognized(parser, ns, extra)
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
    if builtin == "completion":
        from argcomplete.shell_integration import shellcode

        stdout.write(shellcode([PROG], shell=ns.shell))
        return EXIT_OK
    if builtin == "mcp":
        from ..mcp import run as run_mcp

        return run_mcp(ns, _client_options(ns))
    if builtin == "login":
        from .. import Discogs

        return run_login(ns, {op.id for op in registry}, Discogs, _client_options(ns), stdout, stderr)
    op: OperationInfo = ns._op
    from .._runtime.errors import InvalidParameterError

    try:
        return _run_operation(op, ns, stdout, stderr)
    except InvalidParameterError as exc:
        raise UsageError(_as_typed(op, exc)) from exc


def _as_typed(op: OperationInfo, exc: Any) -> str:
    """The SDK's ``rating: must be <= 5`` as the command line spells it: ``argument --rating: ...``."""
    from .parser import command_path, option_names

    param = next((p for p in op.params if p.name == exc.parameter), None)
    if param is None:
        return str(exc)
    spelling = param.name.upper() if param.location == "path" else option_names(param)[-1]
    detail = str(exc).removeprefix(f"{exc.parameter}: ")
    return f"argument {spelling}: {detail} (see '{PROG} {' '.join(command_path(op))} --help')"


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
    except (Exception, KeyboardInterrupt, Terminated) as exc:
        if debug:
            traceback.print_exc(file=stderr)
        text = {KeyboardInterrupt: "interrupted", Terminated: "terminated"}.get(type(exc)) or message(exc)
        stderr.write(f"{PROG}: error: {text}\n")
        stderr.flush()
        return exit_code_for(exc)

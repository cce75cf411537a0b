"""The argparse tree, built at run time from the generated operation registry.

Nothing here names an operation: a new operation in the spec is a new subcommand after
regeneration, with its parameters, types, choices and help taken from the registry.
"""

from __future__ import annotations

import argparse
import itertools
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .._runtime.config import environment_variables
from .._runtime.operations import OperationInfo, ParamInfo
from .._version import __version__
from .errors import EXIT_CODES, PROG, UsageError

__all__ = [
    "FORMATS",
    "PARAM_PREFIX",
    "POSITIONAL_PREFIX",
    "RATE_LIMIT_OFF",
    "CLIParser",
    "build_parser",
    "command_path",
    "option_names",
]

FORMATS = ("json", "jsonl", "csv", "table")
PARAM_PREFIX = "p__"
"""Namespace prefix of operation parameters, so ``format`` the filter never meets ``--format`` the output."""
POSITIONAL_PREFIX = "pos__"
"""Namespace prefix of the positional spelling of an ``x-musicagent-cli-positional`` parameter."""

BUILTINS = ("completion", "login", "mcp", "mock")
SHELLS = ("bash", "zsh", "fish")

EPILOG = (
    f"""\
configuration:
  Options win over environment variables, which win over a .env file in the working directory:
{textwrap.fill(", ".join(environment_variables()) + ".", 100, initial_indent="  ", subsequent_indent="  ")}
  Waits for the rate limit of 2 s or more are announced on stderr (one line each; not with --quiet).

shell completion (bash, zsh, fish):
  eval "$({PROG} completion bash)"    # or zsh; fish: {PROG} completion fish | source

examples:
  {PROG} artists get 108713
  {PROG} search nirvana --type release --limit 500 --format csv -o nirvana.csv
  {PROG} search nirvana --format table --columns id,title,year

"""
    + "exit codes:\n"
    + "".join(f"  {code:<4} {text}\n" for code, text in EXIT_CODES)
)


class CLIParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str) -> NoReturn:
        choice = re.fullmatch(r"argument .*: invalid choice: '(.*)' \(choose from (.*)\)", message)
        if choice is not None:
            message += _did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    """``; did you mean 'artists'?`` for a typo, else nothing (Python 3.14's argparse does this itself)."""
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unrecognized(root: CLIParser, ns: argparse.Namespace, extra: Sequence[str]) -> NoReturn:
    """Arguments nobody took: named by the command that was run, with the option probably meant."""
    parser: argparse.ArgumentParser = root
    for depth in itertools.count():
        name = getattr(ns, f"_command{depth}", None)
        commands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if name is None or commands is None or name not in commands.choices:
            break
        parser = commands.choices[name]
    options = [text for action in parser._actions for text in action.option_strings]
    hint = next((_did_you_mean(w.split("=")[0], options) for w in extra if w.startswith("--")), "")
    message = f"unrecognized arguments: {' '.join(extra)}{hint}"
    raise UsageError(f"{message} (see '{parser.prog} --help')")


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    op: OperationInfo | None = None


def command_path(op: OperationInfo) -> list[str]:
    """The words after ``musicagent`` that run ``op``: ``users.collection.folders.list`` → 4 words."""
    return [part.replace("_", "-") for part in op.id.split(".")]


def _tree(operations: Iterable[OperationInfo]) -> _Node:
    root = _Node()
    for op in operations:
        node = root
        for part in command_path(op):
            node = node.children.setdefault(part, _Node())
        node.op = op
    return root


def _help(text: str) -> str:
    """argparse formats help with ``%``; a literal percent sign in a description must be doubled."""
    return text.replace("%", "%%")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "no", "n", "off"):
        return False
    raise ValueError(text)


_parse_bool.__name__ = "boolean"  # argparse names the type in "invalid boolean value"

_CONVERTERS: dict[str, Callable[[str], Any]] = {"integer": int, "number": float, "boolean": _parse_bool}


def _converter(param: ParamInfo) -> Callable[[str], Any]:
    convert = _CONVERTERS.get(param.type, str)
    if not (param.choices and param.type in ("integer", "number")):
        return convert
    words = param.choices

    def number_or_word(text: str) -> Any:  # a listing's --weight: grams, or "auto"
        return text if text in words else convert(text)

    number_or_word.__name__ = f"{param.type} or {'/'.join(words)}"
    return number_or_word


def _choices(param: ParamInfo) -> list[Any] | None:
    if not param.choices or param.type in ("integer", "number"):  # numbers with a word or two: no fixed list
        return None
    convert = _converter(param)
    try:
        return [convert(choice) for choice in param.choices]
    except ValueError:
        return list(param.choices)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError(text)
    return value


_positive_float.__name__ = "positive number"  # argparse: "argument --timeout: invalid positive number value"


def _int_at_least(least: int, name: str) -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``least``; ``name`` is what argparse's error calls it."""

    def convert(text: str) -> int:
        value = int(text)
        if value < least:
            raise ValueError(text)
        return value

    convert.__name__ = name  # argparse: "argument --max-retries: invalid count (0 or more) value"
    return convert


_count = _int_at_least(0, "count (0 or more)")

RATE_LIMIT_OFF = "off"
"""``--rate-limit off``: no local limiting (``Discogs(rate_limit=None)``)."""


def _rate_limit(text: str) -> tuple[int, float] | str:
    """``60/60`` → (60, 60.0); ``off`` stays a word, since None means "not given" on the command line."""
    word = text.strip().lower()
    if word in ("off", "none", "0"):
        return RATE_LIMIT_OFF
    count, sep, seconds = word.partition("/")
    requests, window = int(count), float(seconds)  # ValueError: argparse names the option
    if not sep or requests < 1 or not 0 < window < float("inf"):
        raise ValueError(text)
    return requests, window


_rate_limit.__name__ = "rate limit (REQUESTS/SECONDS or off)"


def _column_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError(text)
    return names


_column_list.__name__ = "column list (comma-separated names, each once)"


def _add_global_options(container: argparse._ActionsContainer, *, suppress: bool, output: bool = True) -> None:
    """The options every command takes; on a leaf they default to "absent" so the root's values stand.

    ``output=False`` leaves out the options about printing answers (``--format``, ``--columns``,
    ``-o``, ``-q``), for commands that print none (``mcp`` speaks its protocol on stdout).
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    add = container.add_argument
    add("--token", default=default(None), metavar="TOKEN", help="personal access token (env DISCOGS_TOKEN)")
    add("--base-url", default=default(None), metavar="URL", help="API root (env DISCOGS_BASE_URL)")
    add("--user-agent", default=default(None), metavar="UA", help="User-Agent header (env DISCOGS_USER_AGENT)")
    add("--timeout", type=_positive_float, default=default(None), metavar="SECONDS", help="per-request timeout")
    add("--max-retries", type=_count, default=default(None), metavar="N", help="retries of failed requests")
    if output:  # `mcp` has its own --deadline, with a default of its own
        add(
            "--deadline",
            type=_positive_float,
            default=default(None),
            metavar="SECONDS",
            help="longest one call may take, rate-limit waits and retries included (env DISCOGS_DEADLINE)",
        )
    add(
        "--rate-limit",
        type=_rate_limit,
        default=default(None),
        metavar="N/SECONDS",
        help="local rate limit, e.g. 60/60, or 'off' (env DISCOGS_RATE_LIMIT; default: Discogs' own)",
    )
    add(
        "--rate-limit-store",
        default=default(None),
        metavar="URL",
        help="share the limit between processes: sqlite:///path.db or redis://host/0 (env DISCOGS_RATE_LIMIT_STORE)",
    )
    add(
        "--cache",
        default=default(None),
        metavar="URL",
        help="response cache: memory, sqlite:///FILE, redis://… (env DISCOGS_CACHE)",
    )
    add("--no-cache", dest="cache", action="store_const", const="off", default=default(None), help="no response cache")
    add("--debug", action="store_true", default=default(False), help="show tracebacks and request logs")
    if not output:
        return
    add("--format", choices=FORMATS, default=default("json"), help="output format (default: json)")
    add(
        "--columns",
        type=_column_list,
        default=default(None),
        metavar="A,B,...",
        help="columns of --format table or csv, in this order (dotted for nested fields: basic_information.title)",
    )
    add("-o", "--output", default=default(None), metavar="FILE", help="write to FILE instead of stdout")
    add("-q", "--quiet", action="store_true", default=default(False), help="no progress bar or confirmations")


RESERVED = frozenset(
    {"help", "limit", "token", "base_url", "user_agent", "timeout", "max_retries", "format", "output", "debug"}
    | {"deadline"}
    | {"quiet", "version", "columns", "rate_limit", "rate_limit_store", "cache", "no_cache"}
)
"""Long options the CLI itself defines; short ones (``-q``) cannot clash with a ``--name``."""


def option_names(param: ParamInfo) -> list[str]:
    """``--sort_order`` and ``--sort-order``; ``--param-format`` when ``--format`` is a global option."""
    name = f"param_{param.name}" if param.name.replace("-", "_") in RESERVED else param.name
    names = [f"--{name}"]
    if "_" in name:
        names.append(f"--{name.replace('_', '-')}")
    return names


def _metavar(param: ParamInfo, choices: list[Any] | None) -> str | None:
    """None lets argparse show short choice lists inline (``{asc,desc}``); long ones go to the help."""
    if choices and sum(len(str(choice)) + 1 for choice in choices) <= 40:
        return None
    if param.location == "file":
        return "PATH"
    if param.choices and param.type in ("integer", "number"):
        return f"{param.type.upper()}|{'|'.join(param.choices)}"
    return param.name.upper() if param.location == "path" else param.type.upper()


def _add_param(parser: argparse.ArgumentParser, param: ParamInfo) -> None:
    dest = PARAM_PREFIX + param.name
    choices = _choices(param)
    metavar = _metavar(param, choices)
    text = param.description or param.name
    if choices and metavar is not None:
        text += f" One of: {', '.join(repr(str(choice)) for choice in choices)}."
    if param.location == "path":
        parser.add_argument(dest, type=_converter(param), choices=choices, metavar=metavar, help=_help(text))
        return
    names = option_names(param)
    if param.positional:  # `search nirvana` as well as `search --q nirvana`
        parser.add_argument(
            POSITIONAL_PREFIX + param.name,
            nargs="?",
            metavar=param.name.upper(),
            help=_help(f"{text} The same as {names[0]}."),
        )
    if param.location == "file":
        parser.add_argument(*names, dest=dest, required=param.required, metavar=metavar, help=_help(text))
    elif param.type == "boolean":
        action = argparse.BooleanOptionalAction
        parser.add_argument(*names, dest=dest, action=action, required=param.required, help=_help(text))
    else:
        parser.add_argument(
            *names,
            dest=dest,
            type=_converter(param),
            choices=choices,
            required=param.required,
            metavar=metavar,
            help=_help(text),
        )


def _usage(op: OperationInfo) -> str:
    """A short usage line: what must be given, then ``[options]`` (the global ones make it long)."""
    words = ["%(prog)s"]
    for param in op.params:
        choices = _choices(param)
        metavar = _metavar(param, choices) or "{" + ",".join(str(c) for c in choices or ()) + "}"
        if param.location == "path":
            words.append(metavar)
        elif param.positional:
            words.append(f"[{param.name.upper()}]")
        elif param.required:
            flag = option_names(param)[0]
            words.append(f"{flag}|--no-{flag[2:]}" if param.type == "boolean" else f"{flag} {metavar}")
    words.append("[options]")
    return _help(" ".join(words)).replace("%%(prog)s", "%(prog)s")


_positive_int = _int_at_least(1, "positive integer")


def _describe(op: OperationInfo) -> str:
    lines = [op.summary, "", f"{op.method} {op.path}"]
    if op.auth == "user":
        lines.append("Needs a user credential: --token / DISCOGS_TOKEN, or OAuth access tokens.")
    elif op.auth not in ("none", ""):
        lines.append(f"Authentication: {op.auth}.")
    if op.kind == "page":
        lines.append("Pages are fetched as the items are written; --limit stops early.")
    if op.kind == "download":
        lines.append("Saves the file given with -o/--output.")
    return _help("\n".join(lines))


def _aliases(name: str) -> list[str]:
    """``community_rating`` as the id spells it keeps working next to ``community-rating``."""
    return [name.replace("-", "_")] if "-" in name else []


def _add_leaf(commands: argparse._SubParsersAction[CLIParser], name: str, op: OperationInfo, common: CLIParser) -> None:
    parser = commands.add_parser(
        name,
        aliases=_aliases(name),
        help=_help(op.summary),
        usage=_usage(op),
        description=_describe(op),
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for param in op.params:
        _add_param(parser, param)
    if op.kind == "page":
        parser.add_argument(
            "--limit",
            dest="_limit",
            type=_positive_int,
            default=None,
            metavar="N",
            help="stop after N items (default: every item of every page)",
        )
    parser.set_defaults(_op=op)


def _add_nodes(commands: argparse._SubParsersAction[CLIParser], node: _Node, depth: int, common: CLIParser) -> None:
    for name in sorted(node.children):
        child = node.children[name]
        if not child.children and child.op is not None:
            _add_leaf(commands, name, child.op, common)
            continue
        if child.op is not None:
            # An id that is both an operation and a group (``x.y`` and ``x.y.z``): the operation
            # becomes ``x y run`` so both stay reachable.
            child.children.setdefault("run", _Node(op=child.op))
        subcommands = sorted(child.children)
        group = commands.add_parser(
            name,
            aliases=_aliases(name),
            help=f"{', '.join(subcommands)}",
            description=f"Operations under '{name}'.",
        )
        nested = group.add_subparsers(title="commands", dest=f"_command{depth + 1}", metavar="COMMAND", required=True)
        _add_nodes(nested, child, depth + 1, common)


def _add_builtins(commands: argparse._SubParsersAction[CLIParser], taken: Sequence[str], connection: CLIParser) -> None:
    if "login" not in taken:
        login = commands.add_parser(
            "login",
            help="get OAuth access tokens for this machine (OAuth 1.0a flow)",
            description="Walk the OAuth flow and print DISCOGS_ACCESS_TOKEN / DISCOGS_ACCESS_TOKEN_SECRET lines.",
        )
        login.add_argument("--consumer-key", metavar="KEY", help="env DISCOGS_CONSUMER_KEY, else prompted")
        login.add_argument("--consumer-secret", metavar="SECRET", help="env DISCOGS_CONSUMER_SECRET, else prompted")
        login.add_argument("--callback", metavar="URL", help="OAuth callback URL, if the application has one")
        login.add_argument("--verifier", metavar="CODE", help="the verifier from the authorize page, else prompted")
        login.set_defaults(_builtin="login")
    if "mcp" not in taken:
        from ..mcp import add_arguments as add_mcp_arguments  # not the MCP SDK: that loads only to serve

        mcp = commands.add_parser(
            "mcp",
            parents=[connection],
            help="serve every operation as a tool for AI agents (Model Context Protocol, stdio or --http)",
            description="An MCP server over stdio (or streamable HTTP on 127.0.0.1 with --http PORT) whose "
            "tools are the Discogs operations. Needs the mcp extra: pip install 'musicagent[mcp]'.",
        )
        add_mcp_arguments(mcp)
        mcp.set_defaults(_builtin="mcp")
    if "completion" not in taken:
        completion = commands.add_parser(
            "completion",
            help="print the shell code that completes musicagent commands (bash, zsh, fish)",
            description=f'Load it in your shell: eval "$({PROG} completion bash)" (or zsh) in ~/.bashrc or '
            f"~/.zshrc; {PROG} completion fish | source in ~/.config/fish/config.fish.",
        )
        completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
        completion.set_defaults(_builtin="completion")
    if "mock" not in taken:
        # No options of its own: everything after ``mock`` goes to the mock server's parser.
        mock = commands.add_parser(
            "mock",
            add_help=False,
            help=f"serve recorded Discogs answers on localhost (see '{PROG} mock --help')",
        )
        mock.set_defaults(_builtin="mock")


def build_parser(operations: Sequence[OperationInfo]) -> CLIParser:
    """The whole command tree: one subcommand per operation, plus ``login`` and ``mock``."""
    root = CLIParser(
        prog=PROG,
        description="The Discogs API from the command line: every operation of the SDK is a command.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(root, suppress=False)
    root.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    common = CLIParser(add_help=False)
    _add_global_options(common.add_argument_group("global options"), suppress=True)
    tree = _tree(operations)
    commands = root.add_subparsers(title="commands", dest="_command0", metavar="COMMAND", required=True)
    _add_nodes(commands, tree, 0, common)
    connection = CLIParser(add_help=False)  # the global options without the output ones
    _add_global_options(connection.add_argument_group("global options"), suppress=True, output=False)
    _add_builtins(commands, list(tree.children), connection)
    return root

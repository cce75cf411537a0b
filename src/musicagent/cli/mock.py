"""``musicagent mock`` / ``python -m musicagent.mock``: serve the cassettes until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from ..mock._cassettes import CassetteError, bundle, load_cassettes
from ..mock._server import MockServer, default_cassettes
from .errors import EXIT_OK, EXIT_USAGE, PROG

__all__ = ["DEFAULT_PORT", "build_parser", "main"]

DEFAULT_PORT = 8990


def _rate(text: str) -> tuple[int, float] | None:
    if text.strip().lower() in ("off", "none", "0"):
        return None
    count, sep, seconds = text.partition("/")
    try:
        parsed = (int(count), float(seconds)) if sep else None
    except ValueError:
        parsed = None
    if parsed is None or parsed[0] < 1 or parsed[1] <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: write REQUESTS/SECONDS (e.g. 60/60) or 'off'")
    return parsed


def build_parser(prog: str = f"{PROG} mock") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve recorded Discogs answers on localhost, with Discogs' rate-limit headers. "
        "Point a client at it with DISCOGS_BASE_URL=http://HOST:PORT.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--cassettes", type=Path, default=None, help="directory or file of vcrpy cassettes")
    parser.add_argument(
        "--rate-limit", type=_rate, default=(60, 60.0), help="REQUESTS/SECONDS or 'off' (default 60/60)"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="print one line per request, and why each miss missed"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="answer only recordings (and stubs, state, auth refusals): a miss or a synthesized answer is a 501",
    )
    parser.add_argument("--user", help="whose credentials every client holds (default: the recorded identity)")
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve HTTPS with this certificate (chain)")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key (--tls-cert)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="close a connection whose next request has not arrived whole in this long (default 20)",
    )
    parser.add_argument(
        "--bundle", type=Path, metavar="FILE.json", help="write every interaction as one JSON cassette and exit"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Run the server in the foreground; 0 after a clean stop, 2 on a usage or cassette problem.

    ``stop`` (for embedding and tests) ends the server when set, like Ctrl-C does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tls_key is not None and args.tls_cert is None:
        parser.error("--tls-key needs --tls-cert")
    cassettes: Path | None = args.cassettes or default_cassettes()
    if cassettes is None:
        print(f"{PROG} mock: no cassettes found; pass --cassettes DIR", file=sys.stderr)
        return EXIT_USAGE
    context = None
    if args.tls_cert is not None:
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except OSError as exc:  # ssl.SSLError included
            print(f"{PROG} mock: cannot use the TLS certificate {args.tls_cert}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        if args.bundle is not None:
            count = bundle(load_cassettes(cassettes), args.bundle)
            print(f"wrote {count} interactions from {cassettes} to {args.bundle}")
            return EXIT_OK
        log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
        server = MockServer(
            cassettes,
            host=args.host,
            port=args.port,
            rate_limit=args.rate_limit,
            log=log,
            strict=args.strict,
            user=args.user,
            ssl_context=context,
            idle_timeout=args.idle_timeout,
        )
        server.start()
    except (CassetteError, ValueError) as exc:
        print(f"{PROG} mock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"{PROG} mock: cannot listen on {args.host}:{args.port}: {exc} (--port 0 picks a free one)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    done = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        print(
            f"{PROG} mock server on {server.url} ({len(server.interactions)} interactions from {cassettes})"
            " — Ctrl-C to stop",
            flush=True,
        )
        while not done.wait(0.2):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"{PROG} mock server stopped", flush=True)
    return EXIT_OK

"""Telling people about long waits before they happen.

A request that must wait for the rate limit (the local window, or a 429's ``Retry-After``) can stall
for a minute. Such a wait, from :data:`NOTICE_AFTER` seconds up, is logged at INFO (when logging is
on) and passed to every listener, so the CLI can print one line on stderr while the program would
otherwise look hung. The limiter and the retry loop call :func:`announce` just before sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import log as _log

__all__ = ["NOTICE_AFTER", "WaitListener", "announce", "describe", "limit_reason", "listen"]

NOTICE_AFTER = 2.0
"""Shorter waits pass without a word: a notice per request would be noise."""

WaitListener = Callable[[float, str], None]
"""Called with the seconds about to be waited and why, in words."""

_listeners: list[WaitListener] = []
_lock = threading.Lock()


def describe(seconds: float) -> str:
    """``0.4 s``, ``41 s``, ``2 min 5 s``: the rounding a person wants to read."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def limit_reason(requests: int, window: float) -> str:
    """Why a limiter wait happens, in the words both clients' notices use."""
    return f"rate limit of {requests} requests per {window:g} s"


def announce(seconds: float, reason: str, *, log: bool = True) -> bool:
    """Log (INFO) and tell the listeners that a request waits ``seconds``, from NOTICE_AFTER up.

    ``log=False`` when the caller logs the wait itself (a retry is a WARNING of its own). Returns
    whether it was announced, so a loop that sleeps in steps says it once.
    """
    if seconds < NOTICE_AFTER:
        return False
    if log and _log.is_enabled():
        _log.get_logger().info("waiting {} before the next request: {}", describe(seconds), reason)
    with _lock:
        listeners = tuple(_listeners)
    for listener in listeners:
        listener(seconds, reason)
    return True


@contextmanager
def listen(listener: WaitListener) -> Iterator[None]:
    """Call ``listener`` for every announced wait while the block runs (any thread, any client)."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)

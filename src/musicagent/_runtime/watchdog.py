"""Wall-clock bounds for sync attempts: a watchdog shuts down the socket of an attempt that overran.

A socket timeout bounds each ``recv``, not an exchange: a server that drips one byte a second
keeps every ``recv`` short and an attempt alive forever. So each attempt is *armed* with its
deadline; the connections of the pools set up by :func:`install` report to the attempt using them,
and one daemon thread shuts their sockets down when the deadline passes, which makes the blocked
read fail at once. The shell then sees ``guard.fired`` and reports a timeout.

A connection is detached from its attempt (under the same lock) before it goes back to the pool,
so the watchdog never touches a connection another attempt may be using.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from typing import Any

from urllib3 import PoolManager

__all__ = ["Guard", "arm", "disarm", "install"]

_lock = threading.Condition()
_armed: set[Guard] = set()
_current = threading.local()
_thread: threading.Thread | None = None
_TICK = 0.25  # the watchdog never sleeps longer, so arming rarely needs to wake it
_IDLE_EXIT = 30.0  # seconds without armed attempts after which the thread ends (a new one starts on demand)


class Guard:
    """One armed attempt: its deadline (monotonic clock), the connections it uses, whether it fired."""

    __slots__ = ("conns", "deadline", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.conns: list[Any] = []
        self.fired = False

    def extend(self, deadline: float) -> None:
        """Move the deadline (a download that makes progress earns more time, up to the call's deadline)."""
        with _lock:
            self.deadline = deadline
            if deadline - time.monotonic() < _TICK:
                _lock.notify()


def arm(deadline: float) -> Guard:
    """Watch the calling thread's next attempt until :func:`disarm`."""
    global _thread
    guard = Guard(deadline)
    with _lock:
        _armed.add(guard)
        if _thread is None:
            _thread = threading.Thread(target=_run, name="musicagent-watchdog", daemon=True)
            _thread.start()
        elif deadline - time.monotonic() < _TICK:
            _lock.notify()
    _current.guard = guard
    return guard


def disarm(guard: Guard) -> bool:
    """Stop watching; True when the watchdog fired (the attempt's sockets were shut down)."""
    _current.guard = None
    with _lock:
        _armed.discard(guard)
        for conn in guard.conns:
            if getattr(conn, "_musicagent_guard", None) is guard:
                conn._musicagent_guard = None
        return guard.fired


def _attach(conn: Any) -> None:
    guard: Guard | None = getattr(_current, "guard", None)
    if guard is not None:
        with _lock:
            conn._musicagent_guard = guard
            guard.conns.append(conn)


def _detach(conn: Any) -> None:
    if getattr(conn, "_musicagent_guard", None) is not None:
        with _lock:
            conn._musicagent_guard = None


def _fire(guard: Guard) -> None:
    """Shut down the sockets of an overrun attempt (called with the lock held)."""
    guard.fired = True
    _armed.discard(guard)
    for conn in guard.conns:
        sock = getattr(conn, "sock", None)
        if sock is not None and getattr(conn, "_musicagent_guard", None) is guard:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def _run() -> None:
    global _thread
    idle_since = time.monotonic()
    with _lock:
        while True:
            now = time.monotonic()
            for guard in [g for g in _armed if g.deadline <= now]:
                _fire(guard)
            if _armed:
                idle_since = now
            elif now - idle_since > _IDLE_EXIT:
                _thread = None
                return
            earliest = min((g.deadline for g in _armed), default=now + _TICK)
            _lock.wait(max(0.0, min(earliest - now, _TICK)))


@functools.cache
def _guarded(pool_class: type[Any]) -> type[Any]:
    """``pool_class`` reporting each connection to the armed attempt as it is used, detaching it when put back.

    The hooks are the pool's (every request passes through ``_make_request``, every release
    through ``_put_conn``), so the connection class stays whatever the pool chose (urllib3's, the
    header reader's, or a test library's).
    """

    class Guarded(pool_class):  # type: ignore[misc]
        def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
            _attach(conn)
            return super()._make_request(conn, *args, **kwargs)

        def _put_conn(self, conn: Any) -> None:
            if conn is not None:
                _detach(conn)  # before another attempt can take it from the pool
            super()._put_conn(conn)

    Guarded.__name__ = f"Guarded{pool_class.__name__}"
    return Guarded


def install(manager: PoolManager) -> None:
    """Make the pools ``manager`` creates from now on report to the armed attempt (on top of any pool class)."""
    manager.pool_classes_by_scheme = {
        scheme: _guarded(pool_class) for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }

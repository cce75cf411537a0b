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


def time_left() -> float | None:
    """Seconds until the calling thread's armed attempt runs out; None when none is armed."""
    guard: Guard | None = getattr(_current, "guard", None)
    return None if guard is None else guard.deadline - time.monotonic()


def _lookup(host: str, port: int, seconds: float | None) -> list[Any]:
    """``getaddrinfo`` in a worker thread, waited on for at most ``seconds``.

    The system resolver cannot be interrupted, and no socket exists yet for the watchdog to shut
    down: a lookup the resolver keeps waiting on (a DNS server that never answers: 5 s per try and
    server by default, often several) would hold the call past its deadline. The worker is left to
    finish on its own (the resolver's own timeout ends it); the call goes on without it.
    """
    from urllib3.util.connection import allowed_gai_family

    done = threading.Event()
    outcome: list[Any] = []

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM))
        except Exception as exc:  # handed to the waiting thread
            outcome.append(exc)
        done.set()

    threading.Thread(target=resolve, name="musicagent-dns", daemon=True).start()
    if not done.wait(None if seconds is None else max(0.0, seconds)):
        raise TimeoutError(f"looking up {host!r} took longer than {seconds:.3g}s")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return list(outcome[0])


def _is_address(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.strip("[]"))
            return True
        except OSError:
            pass
    return False


def _new_conn_bounded(self: Any) -> Any:
    """urllib3's ``_new_conn``, with the name looked up within the attempt's bound (see :func:`_lookup`).

    Each address found is connected to by urllib3's own code, as a literal, in the resolver's order;
    ``host`` (and so TLS's server name and certificate check) is the name again once connected.
    """
    from urllib3.connection import HTTPConnection
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    name = self._dns_host
    if _is_address(name):
        return HTTPConnection._new_conn(self)
    limits = [t for t in (time_left(), self.timeout) if isinstance(t, int | float)]
    try:
        found = _lookup(name.rstrip("."), self.port, min(limits, default=None))
    except socket.gaierror as exc:
        raise NameResolutionError(self.host, self, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(self, f"Connection to {self.host} timed out: {exc}") from exc
    except (OSError, UnicodeError) as exc:
        raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise NewConnectionError(self, f"Failed to establish a new connection: no address for {self.host}")
    try:
        for index, address in enumerate(addresses):
            self._dns_host = address
            try:
                return HTTPConnection._new_conn(self)
            except NewConnectionError:  # refused or unreachable: the next address, as urllib3 would
                if index == len(addresses) - 1:
                    raise
    finally:
        self._dns_host = name
    raise AssertionError("unreachable")  # pragma: no cover


@functools.cache
def _bounded_lookup(connection_class: type[Any]) -> type[Any]:
    """``connection_class`` with :func:`_new_conn_bounded`; a class with its own ``_new_conn`` (a test
    library's stub) is left as it is."""
    from urllib3.connection import HTTPConnection

    if getattr(connection_class, "_new_conn", None) is not HTTPConnection._new_conn:
        return connection_class
    return type(connection_class.__name__, (connection_class,), {"_new_conn": _new_conn_bounded})


@functools.cache
def _guarded(pool_class: type[Any]) -> type[Any]:
    """``pool_class`` reporting each connection to the armed attempt as it is used, detaching it when put back.

    The hooks are the pool's (every request passes through ``_make_request``, every release
    through ``_put_conn``), so the connection class stays whatever the pool chose (urllib3's, the
    header reader's, or a test library's), only with its name lookup bounded too.
    """

    class Guarded(pool_class):  # type: ignore[misc]
        @property
        def ConnectionCls(self) -> type[Any]:  # noqa: N802 - urllib3's name
            # Looked up on every new connection, as the header reader's pools do (vcrpy patches it).
            return _bounded_lookup(super().ConnectionCls)

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

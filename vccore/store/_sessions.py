"""What every PostgreSQL session of vccore's sets on connecting, whatever the server's defaults.

Passed as libpq parameters (``options`` and the keepalives), so that setting them costs no round
trip:

- what vccore's guarantees rest on, which no URL changes: transactions at READ COMMITTED (the
  store's SQL is written for it; at SERIALIZABLE, concurrent certifies fail with serialization
  errors) and ``synchronous_commit = on`` (an update answered must survive a crash of the
  server, or a client that sends it again gets a second credential under one certificateId);
- bounds on waiting, each kept as the operator's URL gives it when it gives one: a statement
  runs at most 15 s, waits for a lock at most 10 s, a session idle inside a transaction is ended
  after 60 s, and TCP keepalives find a dead peer within about 25 s.

A server that is frozen (stopped, or its host paging) times nothing out, and its kernel still
answers keepalives: :class:`Watchdog` cuts the connection of a call that has waited past the
statement timeout and 5 s, so that it fails instead of waiting for ever.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg

# Changeable by the URL (``?options=-c%20lock_timeout%3D2000``): a later -c of one setting wins.
_BOUNDS: Final = "-c statement_timeout=15000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000"
# After the URL's options, so that they win over them.
_GUARANTEES: Final = r"-c default_transaction_isolation=read\ committed -c synchronous_commit=on"
_KEEPALIVES: Final = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}


def session_parameters(url: str) -> dict[str, str]:
    """The libpq parameters to connect to ``url`` with (they replace the URL's of the same name):
    the URL's own ``options`` (or, without them, ``PGOPTIONS``, which libpq reads only when none
    are given) between vccore's bounds and its guarantees, and the keepalives the URL leaves out.
    """
    try:
        given = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        given = {}  # connecting says what is wrong with it
    own = str(given.get("options") or os.environ.get("PGOPTIONS") or "").strip()
    parameters = {name: value for name, value in _KEEPALIVES.items() if given.get(name) in (None, "")}
    parameters["options"] = " ".join(part for part in (_BOUNDS, own, _GUARANTEES) if part)
    return parameters


def timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is the server giving up on a statement or a lock wait by a timeout."""
    return isinstance(
        exc,
        psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable | psycopg.errors.IdleInTransactionSessionTimeout,
    )


def answer_deadline(options: str) -> float | None:
    """How long vccore waits for the database on one request before it cuts the connection
    itself: the sessions' ``statement_timeout`` (the last one ``options`` sets) and 5 s more, for
    a server that cannot even time out (frozen, or its host gone without a word: TCP keepalives
    are answered by the kernel of a stopped server). None: no statement timeout, no deadline.
    """
    found = re.findall(r"statement_timeout\s*=\s*'?(\d+)\s*(ms|s|min)?'?", options)
    if not found:
        return None
    number, unit = found[-1]
    seconds = int(number) * {"": 0.001, "ms": 0.001, "s": 1.0, "min": 60.0}[unit]
    return seconds + 5.0 if seconds > 0 else None


class Watchdog:
    """Cuts (shuts the socket of) a connection whose request has waited past its deadline, so
    that the thread waiting on it gets an error instead of waiting for ever. One thread for every
    store of the process, running while something is watched.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[float, psycopg.Connection[Any]]] = {}
        self._cut: set[int] = set()
        self._thread: threading.Thread | None = None
        # Safe to fork beside (a batch's workers): its lock is never held across a fork, and the
        # child starts with nothing watched and no thread (it makes its own connections).
        os.register_at_fork(before=self._lock.acquire, after_in_parent=self._lock.release, after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._watched, self._cut, self._thread = {}, set(), None

    @contextmanager
    def watch(self, connection: psycopg.Connection[Any], seconds: float | None) -> Iterator[None]:
        """Watch ``connection`` while the block runs (``seconds``: its deadline; None: none)."""
        if seconds is None:
            yield
            return
        key = id(connection)
        with self._lock:
            self._cut.discard(key)
            self._watched[key] = (time.monotonic() + seconds, connection)
            if self._thread is None or not self._thread.is_alive():  # also in a forked child
                self._thread = threading.Thread(target=self._run, name="vccore-store-watchdog", daemon=True)
                self._thread.vccore_fork_safe = True  # type: ignore[attr-defined]  # read by vccore.batch
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._watched.pop(key, None)

    def was_cut(self, connection: psycopg.Connection[Any]) -> bool:
        """Whether this watchdog cut ``connection`` (its last watch ran out)."""
        with self._lock:
            return id(connection) in self._cut

    def _run(self) -> None:
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            with self._lock:
                if not self._watched:
                    self._thread = None
                    return
                expired = [(key, c) for key, (deadline, c) in self._watched.items() if deadline <= now]
                for key, _ in expired:
                    del self._watched[key]
                    self._cut.add(key)
            for _, connection in expired:
                # closed meanwhile: nothing to cut
                with contextlib.suppress(Exception), socket.socket(fileno=os.dup(connection.pgconn.socket)) as handle:
                    handle.shutdown(socket.SHUT_RDWR)


WATCHDOG: Final = Watchdog()

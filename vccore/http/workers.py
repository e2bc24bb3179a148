"""``vccore serve --workers N``: N processes serving one listening socket, forked from one parent.

The parent binds the socket, then forks the workers; each makes its own app (its own store
connections, caches and webhook thread) and serves the socket with uvicorn, the kernel handing
each new connection to one of them. What the workers must agree on at once lives in the store
(records, keys, the outbox), or, for the signed status lists each keeps for a few seconds, in
:class:`vccore.http._status_cache.SharedGenerations`: a change made through one worker makes the
others sign the list anew at their next read.

The parent supervises: a worker that dies is started again (its index kept); SIGTERM or SIGINT
is passed on to every worker, each of which stops accepting, finishes the requests it accepted
(up to ``grace`` seconds) and exits; the parent exits when they all have. POSIX only (fork).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from ._status_cache import SharedGenerations, join_workers

__all__ = ["serve_workers"]

_log = logging.getLogger("vccore.serve")


def serve_workers(
    make_app: Callable[[], Any],
    *,
    host: str,
    port: int,
    workers: int,
    grace: int = 30,
    **uvicorn_options: Any,
) -> int:
    """Serve ``make_app()`` (called in each worker, after the fork) from ``workers`` processes on
    ``host``:``port``; returns once every worker has exited after a SIGTERM or SIGINT (0), or 1
    when the workers keep dying at start.
    """
    listeners = _listeners(host, port, workers)
    shared = SharedGenerations(workers)
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    starts: list[float] = []
    try:
        for index in range(workers):
            children[_fork(index, make_app, listeners[index], shared, grace, uvicorn_options)] = index
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            index = children.pop(pid, -1)
            if index < 0 or stopping:
                continue
            _log.warning("worker %d (pid %d) ended (%s): starting it again", index, pid, _how(status))
            starts = [t for t in starts if time.monotonic() - t < 10] + [time.monotonic()]
            if len(starts) > 2 * workers:  # dying at start: give up rather than loop
                _log.error("workers keep ending at start: stopping")
                stop(signal.SIGTERM, None)
                continue
            children[_fork(index, make_app, listeners[index], shared, grace, uvicorn_options)] = index
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for listener in {id(each): each for each in listeners}.values():
            listener.close()
    return 1 if len(starts) > 2 * workers else 0


def _listeners(host: str, port: int, workers: int) -> list[socket.socket]:
    """A listening socket per worker, bound to one port with SO_REUSEPORT, so that the kernel
    spreads connections evenly over the workers (one socket shared by all, where the system has
    no SO_REUSEPORT: then whichever worker is free first takes a connection).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not hasattr(socket, "SO_REUSEPORT"):
        return [socket.create_server((host, port), family=family, backlog=2048)] * workers
    made: list[socket.socket] = []
    try:
        # those made before a failure stay in the list (extend appends one by one), and are closed
        made.extend(
            socket.create_server((host, port), family=family, backlog=2048, reuse_port=True) for _ in range(workers)
        )
    except OSError:
        for each in made:
            each.close()
        raise
    return made


def _fork(
    index: int,
    make_app: Callable[[], Any],
    listener: socket.socket,
    shared: SharedGenerations,
    grace: int,
    options: dict[str, Any],
) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:  # the worker: never returns into the parent's code
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_DFL)
        _end_with_parent()
        import uvicorn

        join_workers(shared, index)
        config = uvicorn.Config(make_app(), timeout_graceful_shutdown=grace, **options)
        uvicorn.Server(config).run(sockets=[listener])
    except BaseException:  # noqa: BLE001 (a worker's end is logged; the parent starts it again)
        _log.exception("worker %d failed", index)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _end_with_parent() -> None:
    """On Linux: a SIGTERM to this worker when the parent ends, however it ends (SIGKILL too), so
    that no worker is left serving the port on its own.
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # ended meanwhile
        os.kill(pid, signum)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"

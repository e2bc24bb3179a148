"""vccore's threads that end once idle, and a way to end them at once: a batch about to fork
its workers asks, since a thread running at a fork may hold a lock that stays held in the copy.

An owner (the server's group commit, its readiness probe) registers itself and has a method
``end_if_idle() -> threading.Thread | None``: with no work waiting it tells its thread to end
and gives it back to be joined; busy or without a thread, None. A request that comes later
starts a thread again.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Protocol


class IdleEnding(Protocol):
    def end_if_idle(self) -> threading.Thread | None: ...


_owners: weakref.WeakSet[IdleEnding] = weakref.WeakSet()
_lock = threading.Lock()


def register(owner: IdleEnding) -> None:
    """Let :func:`end_idle` ask ``owner`` (kept as long as something else keeps it)."""
    with _lock:
        _owners.add(owner)


def end_idle(timeout: float) -> None:
    """Ask every owner to end its thread if idle, and wait up to ``timeout`` seconds in all for
    the threads that said they would.
    """
    with _lock:
        owners = list(_owners)
    ending = [thread for owner in owners if (thread := owner.end_if_idle()) is not None]
    deadline = time.monotonic() + timeout
    for thread in ending:
        thread.join(max(0.0, deadline - time.monotonic()))

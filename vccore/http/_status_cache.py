"""The status list credentials this server signs for requests, kept for a few seconds: :class:`StatusCache`."""

from __future__ import annotations

import logging
import mmap
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from ..issuer import Issuer
from ..status import PURPOSES, STATE_LIST
from ..status.resolve import would_wait
from ..store import list_of

__all__ = [
    "STATUS_TTL",
    "SharedGenerations",
    "StatusCache",
    "ascii_digits",
    "join_workers",
    "types_changed",
    "types_generation",
]

_log: Final = logging.getLogger("vccore.http")

STATUS_TTL: Final = 5.0
"""Seconds a status list set signed for a request is served again (and used by verify) before
it is made anew (in the background, the old one served meanwhile, up to twice as long); a
change made through this server makes it anew at once."""


class SharedGenerations:
    """Counters in memory shared by the worker processes of one ``vccore serve`` (made before they
    are forked): each worker moves on its own column when it invalidates a list set, so that the
    others see the change at their next read, without a lock (no worker writes another's column).
    A set is counted in slot ``set mod SLOTS`` (two sets sharing a slot cost each other a
    re-signing, never a stale list); slot 0 of each column counts invalidations of every set, and
    the last slot changes of the entity types made at run time (which every worker must then load).
    """

    SLOTS: Final = 1024

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._memory = mmap.mmap(-1, 8 * (self.SLOTS + 2) * workers)
        self.index = 0

    def bump(self, list_number: int | None) -> None:
        """Say that this worker changed ``list_number`` (None: every set)."""
        self._add(0 if list_number is None else 1 + list_number % self.SLOTS)

    def read(self, list_number: int) -> int:
        """How many changes of ``list_number`` (or of every set) the workers have said."""
        return self._sum(0) + self._sum(1 + list_number % self.SLOTS)

    def bump_types(self) -> None:
        """Say that this worker changed the entity types made at run time."""
        self._add(self.SLOTS + 1)

    def read_types(self) -> int:
        """How many changes of the entity types the workers have said."""
        return self._sum(self.SLOTS + 1)

    def _add(self, slot: int) -> None:
        at = 8 * (self.index * (self.SLOTS + 2) + slot)
        (value,) = struct.unpack_from("<Q", self._memory, at)
        struct.pack_into("<Q", self._memory, at, value + 1)

    def _sum(self, slot: int) -> int:
        return sum(
            struct.unpack_from("<Q", self._memory, 8 * (worker * (self.SLOTS + 2) + slot))[0]
            for worker in range(self.workers)
        )


_SIBLINGS: SharedGenerations | None = None
"""The counters this process shares with the other workers of its server (None: it serves alone)."""


def join_workers(shared: SharedGenerations, index: int) -> None:
    """In a worker process, before its app is made: share invalidations with its siblings."""
    global _SIBLINGS  # noqa: PLW0603 (one per process, set once when the worker starts)
    shared.index = index
    _SIBLINGS = shared


def types_changed() -> None:
    """Tell the other workers of this server that the entity types made at run time changed."""
    if _SIBLINGS is not None:
        _SIBLINGS.bump_types()


def types_generation() -> int:
    """How many changes of the entity types this server's workers have told of (0: one process)."""
    return _SIBLINGS.read_types() if _SIBLINGS is not None else 0


@dataclass
class StatusCache:
    """Status list sets signed for requests, by set: (monotonic time made, URL -> credential).

    Each set has a generation, moved on by :meth:`invalidate`. A set is kept only if its
    generation did not move while it was made: one read from the store before a change
    committed, and finished after the change invalidated the set, would otherwise be kept and
    served, stale, for ``ttl`` seconds after the change was answered.
    """

    issuer: Issuer
    ttl: float = STATUS_TTL

    def __post_init__(self) -> None:
        self._sets: dict[int, tuple[float, tuple[int, int, int], dict[str, dict[str, Any]]]] = {}
        self._making: dict[int, threading.Lock] = {}
        self._generations: dict[int, int] = {}
        self._epoch = 0  # moved on by invalidating every set
        self._lock = threading.Lock()

    def invalidate(self, list_number: int | None = None) -> None:
        """Forget a set (every set: None), and any making of it under way, here and in the other
        workers of this server; call it after the change is committed.
        """
        with self._lock:
            if list_number is None:
                self._sets.clear()
                self._epoch += 1
            else:
                self._sets.pop(list_number, None)
                self._generations[list_number] = self._generations.get(list_number, 0) + 1
            if _SIBLINGS is not None:
                _SIBLINGS.bump(list_number)

    def _generation(self, list_number: int) -> tuple[int, int, int]:
        shared = _SIBLINGS.read(list_number) if _SIBLINGS is not None else 0
        return self._epoch, self._generations.get(list_number, 0), shared

    def get(self, list_number: int) -> dict[str, dict[str, Any]]:
        cached = self._fresh(list_number)
        if cached is not None:
            return cached
        # One thread signs the set anew; the others wait for it rather than all signing it at
        # once (sixteen threads doing so together stalled verify for two seconds under load).
        with self._lock:
            making = self._making.setdefault(list_number, threading.Lock())
        with making:
            cached = self._fresh(list_number)
            if cached is not None:
                return cached
            return self._make(list_number)

    def _make(self, list_number: int) -> dict[str, dict[str, Any]]:
        """The set signed anew from the store, kept unless it changed meanwhile (the caller holds
        the set's making lock).
        """
        with self._lock:
            generation = self._generation(list_number)
        started = time.monotonic()  # its age counts from the read, not from the signing's end
        made = self.issuer.status_list_set(list_number)
        with self._lock:
            if self._generation(list_number) == generation:
                self._sets[list_number] = (started, generation, made)
        # Changed meanwhile: what was read is not kept for anyone else, but this request may
        # have it (it began before the change was answered).
        return made

    def _fresh(self, list_number: int) -> dict[str, dict[str, Any]] | None:
        """The set as kept, if no change is known since it was read and it is younger than the
        time to live; between one and two times that old, it is still served while one thread
        signs it anew in the background: the verify requests of that moment do not wait for the
        signing (25-30 ms a set, every 5 s, and the tail of the latencies under load). A change
        made through this server (any worker) is never served from before.
        """
        with self._lock:
            cached = self._sets.get(list_number)
            if cached is None:
                return None
            # another worker's change (this worker's own drop the set at once)
            if _SIBLINGS is not None and self._generation(list_number) != cached[1]:
                return None
            age = time.monotonic() - cached[0]
            if age >= 2 * self.ttl:
                return None
            making = self._making.setdefault(list_number, threading.Lock()) if age >= self.ttl else None
        if making is not None and making.acquire(blocking=False):  # else: fresh, or being made anew
            threading.Thread(
                target=self._refresh, args=(list_number, making), name="vccore-status-refresh", daemon=True
            ).start()
        return cached[2]

    def _refresh(self, list_number: int, making: threading.Lock) -> None:
        """Sign a set anew in the background (``making``: its lock, taken for this thread). A
        failure is logged; the set is then made by the first request after it is too old.
        """
        try:
            self._make(list_number)
        except Exception:  # noqa: BLE001 (a background thread: said in the log, and the next request meets it)
            _log.warning("status list set %d could not be signed anew", list_number, exc_info=True)
        finally:
            making.release()

    def resolve(self, url: str) -> dict[str, Any] | None:
        """A status list credential of this server's store by URL (what its verifier reads)."""
        # under the store's URL, or one it had before a move (credentials issued then name it)
        found = list_of(self.issuer.store, url)
        if found is None or found[1] not in (*PURPOSES, STATE_LIST):
            return None  # another issuer's list: never fetched
        list_number = found[0]
        cached = self._fresh(list_number)  # the verify path: no store query while the set is fresh
        if cached is None:
            if would_wait():  # a verification in the event loop: it goes to a thread
                return None
            if list_number not in self.issuer.store.list_sets():
                return None
            cached = self.get(list_number)
        return cached.get(url)


def ascii_digits(text: str, most: int) -> bool:
    """1 to ``most`` ASCII digits: what int() is given (str.isdigit() also passes '²' and '٣')."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()

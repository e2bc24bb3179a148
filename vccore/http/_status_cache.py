"""The status list credentials this server signs for requests, kept for a few seconds: :class:`StatusCache`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from ..issuer import Issuer
from ..status import PURPOSES, STATE_LIST
from ..store import list_of

__all__ = ["STATUS_TTL", "StatusCache", "ascii_digits"]

STATUS_TTL: Final = 5.0
"""Seconds a status list set signed for a request is served again (and used by verify) before
it is made anew; a change made through this server makes it anew at once."""


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
        self._sets: dict[int, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._making: dict[int, threading.Lock] = {}
        self._generations: dict[int, int] = {}
        self._epoch = 0  # moved on by invalidating every set
        self._lock = threading.Lock()

    def invalidate(self, list_number: int | None = None) -> None:
        """Forget a set (every set: None), and any making of it under way; call it after the
        change is committed.
        """
        with self._lock:
            if list_number is None:
                self._sets.clear()
                self._epoch += 1
            else:
                self._sets.pop(list_number, None)
                self._generations[list_number] = self._generations.get(list_number, 0) + 1

    def _generation(self, list_number: int) -> tuple[int, int]:
        return self._epoch, self._generations.get(list_number, 0)

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
            with self._lock:
                generation = self._generation(list_number)
            made = self.issuer.status_list_set(list_number)
            with self._lock:
                if self._generation(list_number) == generation:
                    self._sets[list_number] = (time.monotonic(), made)
            # Changed meanwhile: what was read is not kept for anyone else, but this request may
            # have it (it began before the change was answered).
            return made

    def _fresh(self, list_number: int) -> dict[str, dict[str, Any]] | None:
        with self._lock:
            cached = self._sets.get(list_number)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        return None

    def resolve(self, url: str) -> dict[str, Any] | None:
        """A status list credential of this server's store by URL (what its verifier reads)."""
        # under the store's URL, or one it had before a move (credentials issued then name it)
        found = list_of(self.issuer.store, url)
        if found is None or found[1] not in (*PURPOSES, STATE_LIST):
            return None  # another issuer's list: never fetched
        list_number = found[0]
        cached = self._fresh(list_number)  # the verify path: no store query while the set is fresh
        if cached is None:
            if list_number not in self.issuer.store.list_sets():
                return None
            cached = self.get(list_number)
        return cached.get(url)


def ascii_digits(text: str, most: int) -> bool:
    """1 to ``most`` ASCII digits: what int() is given (str.isdigit() also passes '²' and '٣')."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()

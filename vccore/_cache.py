"""A bounded map that threads share: the verifier's caches of keys, shapes, proofs and status lists."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_ABSENT: Final[Any] = object()


class Cache(Generic[K, V]):
    """A bounded map that threads share (the server shares one Verifier between its workers):
    past ``size`` entries the oldest goes first. Every read and write holds the lock: a bare
    ``del d[next(iter(d))]`` in two threads at once raised KeyError.
    """

    __slots__ = ("_data", "_lock", "_size")

    def __init__(self, size: int) -> None:
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._data.get(key)

    def get_or_make(self, key: K, make: Callable[[], V], *, keep: bool = True) -> V:
        """The value kept for ``key`` (None is one too), else ``make()``'s, kept when ``keep``
        (made outside the lock: two threads may both make it, and the later is kept).
        """
        with self._lock:
            found = self._data.get(key, _ABSENT)
        if found is not _ABSENT:
            return found  # type: ignore[no-any-return]
        value = make()
        if keep:
            self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if key not in self._data and len(self._data) >= self._size:
                del self._data[next(iter(self._data))]
            self._data[key] = value

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def values(self) -> list[V]:
        with self._lock:
            return list(self._data.values())

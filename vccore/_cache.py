"""A bounded map that threads share: the verifier's caches of keys, shapes, proofs and status lists."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


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

"""Status-list positions: the keyed permutation that places them, and the pool that reserves them in blocks.

Status positions: a "list set" is one number shared by three lists (revocation, suspension,
message) of :data:`LIST_SIZE` entries; a credential gets one position in the current set. A
position is taken once and never given again, even when its certificate is revoked. Within a set
the n-th position handed out is a keyed pseudo-random permutation of n (a Feistel network with a
per-set secret, cycle-walked into range), so that, as the spec asks (section 2.1), a position
tells nothing of when a credential was issued or how many were issued around it.

Positions are reserved in blocks: each store object keeps the positions it has reserved and not
handed out yet (:class:`_PositionPool`), so that many workers do not all write one shared counter
for every credential. Blocks start at one position and double up to :data:`MAX_BLOCK`: a process
that issues one credential reserves one position, one that issues thousands touches the counter
once per 1,024. What a process reserved and never used when it ends is never handed out again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from ..status import MIN_LIST_LENGTH

LIST_SIZE: Final = MIN_LIST_LENGTH
MAX_BLOCK: Final = 1024
"""The most status positions a store object reserves at once (beyond what one call asks for)."""


# --- status positions, reserved in blocks --------------------------------------------------------

Position = tuple[int, int]


class _PositionPool:
    """The status positions one store object has reserved and not handed out yet."""

    def __init__(self) -> None:
        self.free: tuple[Position, ...] = ()
        self.block = 1
        self.lock = threading.Lock()
        self.in_flight = 0  # transactions begun (see begin) and not ended

    def take(self, count: int, reserve: Callable[[int], list[Position]]) -> list[Position]:
        """``count`` positions, reserving more through ``reserve(n)`` when there are too few."""
        with self.lock:
            self._fill(count, reserve)
            taken, self.free = self.free[:count], self.free[count:]
        return list(taken)

    def top_up(self, count: int, reserve: Callable[[int], list[Position]]) -> None:
        """Reserve (in the caller's transaction) until ``count`` positions are free: the next
        :meth:`try_take` of as many then needs no transaction of its own.
        """
        with self.lock:
            self._fill(count, reserve)

    def _fill(self, count: int, reserve: Callable[[int], list[Position]]) -> None:
        while len(self.free) < count:
            wanted = max(count - len(self.free), self.block)
            self.block = min(2 * self.block, MAX_BLOCK)
            self.free += tuple(reserve(wanted))

    def give_back(self, positions: Sequence[Position]) -> None:
        """Positions taken by a transaction that did not commit: still this pool's, still unused."""
        with self.lock:
            self.free = tuple(positions) + self.free

    def discard(self) -> None:
        """Forget the positions reserved and not handed out: one of them was found taken (the
        counter behind them was set back), so none of them is trusted.
        """
        with self.lock:
            self.free = ()

    def try_take(self, count: int) -> list[Position] | None:
        """``count`` positions with no transaction, when the pool has them and no transaction is
        running that may put the pool back (see :meth:`begin`); else None. What the pool holds
        then was reserved by transactions that committed.
        """
        with self.lock:
            if self.in_flight or len(self.free) < count:
                return None
            taken, self.free = self.free[:count], self.free[count:]
        return list(taken)

    def begin(self) -> tuple[tuple[Position, ...], int]:
        """A transaction that reserves positions in the database begins: the pool as it is, for
        :meth:`end` to put back should it roll back (the counter it moved rolls back with it).
        """
        with self.lock:
            self.in_flight += 1
            return self.free, self.block

    def end(self, rolled_back: tuple[tuple[Position, ...], int] | None) -> None:
        """The transaction ended: committed (None), or rolled back, the pool put back as
        :meth:`begin` found it.
        """
        with self.lock:
            self.in_flight -= 1
            if rolled_back is not None:
                self.free, self.block = rolled_back


_log = logging.getLogger("vccore.store")


def skipped_positions(where: str, positions: Sequence[Position]) -> None:
    """Say in the log that positions just reserved were found taken, and skipped."""
    shown = ", ".join(f"({s}, {i})" for s, i in positions[:5]) + (" ..." if len(positions) > 5 else "")
    _log.warning(
        "%s: %d status positions just reserved are held by certificates already (%s): the counter of "
        "positions was set back (a restore of the tables without it, a failover to a logical replica?); "
        "they are skipped, and the counter moved past the positions in use",
        where,
        len(positions),
        shown,
    )


def high_water(list_set: int, indexes: Iterator[int], secret: bytes) -> int:
    """The counter just past every position held in ``list_set``, the last set in use
    (``indexes``: the positions held there; ``secret``: the set's).
    """
    return list_set * LIST_SIZE + max((unpermute(index, secret) for index in indexes), default=-1) + 1


_HALF_BITS: Final = 9  # 18-bit Feistel blocks; LIST_SIZE is 2**17
_HALF_MASK: Final = (1 << _HALF_BITS) - 1


def permute(counter: int, secret: bytes) -> int:
    """A keyed permutation of range(LIST_SIZE): 4 Feistel rounds over 18 bits (round function
    keyed BLAKE2b), cycle-walked until the result falls inside the range.
    """
    if not 0 <= counter < LIST_SIZE:
        raise ValueError(f"position counter {counter} is outside a list of {LIST_SIZE}")
    rounds = _round_tables(secret)
    value = counter
    while True:
        left, right = value >> _HALF_BITS, value & _HALF_MASK
        for table in rounds:
            left, right = right, left ^ table[right]
        value = (left << _HALF_BITS) | right
        if value < LIST_SIZE:
            return value


def unpermute(position: int, secret: bytes) -> int:
    """The counter that :func:`permute` placed at ``position``: the rounds run backwards, and
    cycle-walked back as :func:`permute` walked forward.
    """
    if not 0 <= position < LIST_SIZE:
        raise ValueError(f"status position {position} is outside a list of {LIST_SIZE}")
    rounds = _round_tables(secret)
    value = position
    while True:
        left, right = value >> _HALF_BITS, value & _HALF_MASK
        for table in reversed(rounds):
            left, right = right ^ table[left], left
        value = (left << _HALF_BITS) | right
        if value < LIST_SIZE:
            return value


@functools.lru_cache(maxsize=16)
def _round_tables(secret: bytes) -> tuple[tuple[int, ...], ...]:
    """The Feistel round function of each round for every half-block value: computed once per
    list set's secret (4 x 512 BLAKE2b), so that a position costs table lookups.
    """
    return tuple(
        tuple(
            int.from_bytes(
                hashlib.blake2b(bytes((round_number,)) + right.to_bytes(2, "big"), key=secret, digest_size=2).digest(),
                "big",
            )
            & _HALF_MASK
            for right in range(1 << _HALF_BITS)
        )
        for round_number in range(4)
    )

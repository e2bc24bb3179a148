"""The PostgreSQL store's transaction, and the statements it runs.

Split from :mod:`vccore.store.postgres` (the store: connections, deadlines, positions, reading),
which hands each transaction its connection and the store object's pool of positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import psycopg
from psycopg import errors as pg_errors

from ..codes import ErrorCode
from ..errors import LifecycleError
from ._interface import Record, Refused, keys_of
from ._outbox import INSERT_NOTIFICATION, Notification, insert_args
from ._positions import Position, _PositionPool
from ._schema import _COLUMNS, INSERT_CERTIFICATE, INSERT_ISSUE_KEY, SAVE_CERTIFICATE, _record, _row, save_args
from ._sessions import timed_out


def pg(sql: str) -> str:
    """A statement of vccore.store with PostgreSQL's parameter marks (none of them holds a "?" of its own)."""
    return sql.replace("?", "%s")


INSERT: Final = pg(INSERT_CERTIFICATE)
# Many records in one statement, in the order of their certificateIds (every transaction inserts
# in that one order, so two never wait on each other in a circle), leaving out those whose id
# another transaction holds, committed or not (waited for: left out only if it commits).
# The arrays go in binary (%b): psycopg writes an array as text in Python, escaping each element
# with a regular expression, and a credential's JSON is full of quotes: 200 credentials took it
# 110 ms that way, against 9 ms in binary: a fifth of a certifying server's time under the GIL.
_INSERT_NEW: Final = (
    f"INSERT INTO certificates ({_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"%b::{kind}[]" for kind in ("text",) * 4 + ("int",) * 2 + ("text",) * 7)
    + ") ORDER BY 1 ON CONFLICT (certificate_id) DO NOTHING RETURNING certificate_id"
)
_INSERT_NEW_KEYS: Final = (
    "INSERT INTO issue_keys (key, certificate_id) SELECT * FROM unnest(%b::text[], %b::text[]) "
    "ORDER BY 1 ON CONFLICT (key) DO NOTHING RETURNING key"
)
POSITIONS_TAKEN: Final = (
    "SELECT status_list, status_index FROM certificates "
    "WHERE (status_list, status_index) IN (SELECT * FROM unnest(%b::int[], %b::int[]))"
)
_POSITION_CONSTRAINT: Final = "certificates_status_list_status_index_key"
NOTIFY: Final = pg(INSERT_NOTIFICATION)
IDS_TAKEN: Final = "SELECT certificate_id FROM certificates WHERE certificate_id = ANY(%b)"


class PostgresTransaction:
    """One transaction of :class:`vccore.store.postgres.PostgresStore` (what the store hands its callers)."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        pool: _PositionPool,
        reserve: Callable[[psycopg.Connection[Any], int], list[Position]],
    ) -> None:
        self._connection = connection
        self._pool = pool
        self._reserve = reserve
        self.taken: list[Position] = []
        self.collided = False
        """Whether a position of this transaction's was found held by another certificate."""

    def get(self, certificate_id: str) -> Record | None:
        # FOR UPDATE: a transaction that reads a certificate may change it; another that wants
        # to change it too waits, then reads what this one left.
        row = self._connection.execute(
            f"SELECT {_COLUMNS} FROM certificates WHERE certificate_id = %s FOR UPDATE", (certificate_id,)
        ).fetchone()
        return None if row is None else _record(row)

    def certificate_id_taken(self, certificate_id: str) -> bool:
        return (
            self._connection.execute(
                "SELECT 1 FROM certificates WHERE certificate_id = %s", (certificate_id,)
            ).fetchone()
            is not None
        )

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        return (
            {row[0] for row in self._connection.execute(IDS_TAKEN, (list(certificate_ids),))}
            if certificate_ids
            else set()
        )

    def allocate_status_position(self) -> tuple[int, int]:
        return self.allocate_status_positions(1)[0]

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        positions = self._pool.take(count, lambda n: self._reserve(self._connection, n))
        self.taken.extend(positions)
        return positions

    def reserve_ahead(self, count: int) -> None:
        # the sequence's values are never given again, even if this transaction rolls back
        self._pool.top_up(count, lambda n: self._reserve(self._connection, n))

    def insert(self, record: Record) -> None:
        try:
            self._connection.execute(INSERT, _row(record))
        except pg_errors.UniqueViolation as exc:
            duplicate = exc.diag.constraint_name == "certificates_pkey"
            raise LifecycleError(
                f"certificate {record.certificate_id} cannot be stored: {self._refusal(exc)}",
                code=ErrorCode.DUPLICATE_CERTIFICATE_ID if duplicate else ErrorCode.STORE_ERROR,
                certificate_id=record.certificate_id,
            ) from None

    def _refusal(self, exc: pg_errors.IntegrityError) -> str:
        """What a constraint refused, in words; a position held by another certificate drops the
        positions the store object has reserved (see :meth:`vccore.store.postgres.PostgresStore.transaction`).
        """
        if exc.diag.constraint_name != _POSITION_CONSTRAINT:
            return message(exc)
        self.collided = True
        return (
            f"its status position is held by another certificate ({message(exc)}): the counter of "
            "positions was set back (a restore of the tables without it, a failover to a logical "
            "replica?). The positions reserved before are dropped and the next are checked: send the request again"
        )

    def insert_many(self, records: Sequence[tuple[Record, str | Sequence[str] | None]]) -> Refused:
        # One INSERT for all (50,000 credentials in chunks of 500 cost the server 2.8-3.0 s of CPU
        # by COPY, against 4.2-4.4 s by one INSERT a row, measured once by a script outside the
        # repository), then one for their keys. A key another transaction recorded meanwhile
        # stands: the certificate made here for it is taken out again, with its other keys.
        if not records:
            return Refused(frozenset(), {})
        try:
            columns = [list(column) for column in zip(*(_row(record) for record, _ in records), strict=True)]
            stored = {row[0] for row in self._connection.execute(_INSERT_NEW, columns).fetchall()}
            first: dict[str, str] = {}  # a key twice in one call: the first record has it
            twice: list[tuple[str, str]] = []
            for record, given in records:
                mine = record.certificate_id
                if mine in stored:
                    twice.extend((key, mine) for key in keys_of(given) if first.setdefault(key, mine) != mine)
            keyed = sorted(first.items())
            made: dict[str, str] = {key: first[key] for key, _ in twice}
            if keyed:
                pairs = [list(column) for column in zip(*keyed, strict=True)]
                recorded = {row[0] for row in self._connection.execute(_INSERT_NEW_KEYS, pairs).fetchall()}
                lost = [(key, certificate_id) for key, certificate_id in keyed if key not in recorded] + twice
                if lost:
                    others = [key for key, certificate_id in lost if (key, certificate_id) not in twice]
                    made.update(self.certificates_for_keys(others))
                    taken_out = [list({c: None for _, c in lost})]
                    self._connection.execute("DELETE FROM issue_keys WHERE certificate_id = ANY(%b)", taken_out)
                    self._connection.execute("DELETE FROM certificates WHERE certificate_id = ANY(%b)", taken_out)
        except pg_errors.IntegrityError as exc:
            raise LifecycleError(
                f"{len(records)} certificates cannot be stored: {self._refusal(exc)}", code=ErrorCode.STORE_ERROR
            ) from None
        return Refused(frozenset(r.certificate_id for r, _ in records if r.certificate_id not in stored), made)

    def certificates_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        rows = self._connection.execute("SELECT key, certificate_id FROM issue_keys WHERE key = ANY(%b)", (list(keys),))
        return {row[0]: row[1] for row in rows}

    def certificate_for_key(self, key: str) -> str | None:
        row = self._connection.execute("SELECT certificate_id FROM issue_keys WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def record_key(self, key: str, certificate_id: str) -> None:
        try:
            self._connection.execute(pg(INSERT_ISSUE_KEY), (key, certificate_id))
        except pg_errors.UniqueViolation:
            raise LifecycleError(
                f"issue key {key!r} has made a certificate already", code=ErrorCode.DUPLICATE_ISSUE_KEY, key=key
            ) from None

    def save(self, record: Record) -> None:
        self._connection.execute(pg(SAVE_CERTIFICATE), save_args(record))

    def notify(self, message: Notification) -> None:
        self._connection.execute(NOTIFY, insert_args(message))


def message(exc: BaseException) -> str:
    """Psycopg's message, on one line (saying so when the server gave up waiting)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"the database did not answer in time ({text})" if timed_out(exc) else text

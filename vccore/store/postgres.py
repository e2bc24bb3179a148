"""The PostgreSQL store: many issuing processes, on many machines, share one database.

The same interface, records and rules as :class:`vccore.store.SQLiteStore`, with what many
writers at once need:

- transactions run at READ COMMITTED and lock what they change: a certificate read in order to
  change it is read ``FOR UPDATE``, so that two updates of one certificate run one after the
  other and the second finds it SUPERSEDED; a certificateId or idempotency key taken by two
  transactions at once is refused to the second by the unique index it waits on;
- status positions come from a sequence (``status_counter``), which hands each number out once
  and is never rolled back, through each store object's block pool: no row is written by every
  issue, and no lock is held across transactions. The n-th number is position
  ``permute(n mod LIST_SIZE)`` of list set ``n div LIST_SIZE``, each set with its own secret,
  derived from the store's one secret (so no process has to create a set's secret and tell the
  others);
- the schema is created and migrated under an advisory lock, so that workers started together
  do not race to create it.

Every session sets READ COMMITTED and ``synchronous_commit = on`` and bounds its waits
(:mod:`vccore.store._sessions`: statement and lock timeouts, keepalives, each kept as the URL
sets it when it does); a statement that times out fails with STORE_ERROR, saying so, and a call
the server does not answer at all is cut by the watchdog. A connection found dead before anything
ran on it is replaced and the call made once more (a restart of the server costs no request).
Every block of positions reserved is checked against the positions certificates hold, so that a
sequence set back (a restore, a failover to a logical replica) is skipped past, not collided
with. The transaction, and how it stores many records beside other writers, is in
:mod:`vccore.store._pg_transaction`.

vccore wants a database (or a schema, through the URL's ``options=-csearch_path=...``) of its
own: its tables are ``meta``, ``certificates``, ``issue_keys``, ``failed_transactions``, ``outbox``,
``entity_types`` and ``documents``, and its sequence is
``status_counter``.

The credential is kept as text (not ``jsonb``, which would reorder its keys and cost a parse on
every write), and times as the ISO 8601 text vccore writes, exactly as in SQLite.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import psycopg

from ..codes import ErrorCode
from ..errors import LifecycleError
from ._entity_types import TABLE_DOCUMENTS, TABLE_ENTITY_TYPES, EntityTypes
from ._interface import Record
from ._outbox import INDEX_OUTBOX, TABLE_OUTBOX_POSTGRES, Outbox
from ._pg_transaction import IDS_TAKEN, POSITIONS_TAKEN, PostgresTransaction, message, pg
from ._positions import LIST_SIZE, Position, _PositionPool, high_water, permute, skipped_positions
from ._schema import (
    _COLUMNS,
    EARLIER_URLS_KEY,
    SELECT_FAILURE,
    TABLE_CERTIFICATES,
    TABLE_FAILED_TRANSACTIONS,
    TABLE_ISSUE_KEYS,
    TABLE_META,
    Migration,
    _failure,
    _record,
    _version,
    check_version,
    checked_status_url,
    earlier_urls,
    migrate,
    moved,
    new_status_url,
    placeholder_warning,
    refuse_other_url,
    status_url_argument,
)
from ._sessions import WATCHDOG, answer_deadline, session_parameters

__all__ = ["PostgresStore"]

_T = TypeVar("_T")

_MIGRATIONS: list[Migration] = [
    (
        1,
        (
            TABLE_META,
            "CREATE SEQUENCE status_counter AS bigint MINVALUE 0 START WITH 0",
            TABLE_CERTIFICATES,
            TABLE_ISSUE_KEYS,
        ),
    ),
    (2, (TABLE_FAILED_TRANSACTIONS,)),
    (3, (TABLE_OUTBOX_POSTGRES, INDEX_OUTBOX)),
    (4, (TABLE_ENTITY_TYPES, TABLE_DOCUMENTS)),
]


_BY_KEYS: Final = (
    f"SELECT k.key, {', '.join('c.' + c for c in _COLUMNS.split(', '))} FROM issue_keys k "
    "JOIN certificates c ON c.certificate_id = k.certificate_id WHERE k.key = ANY(%b)"
)
_SCHEMA_LOCK: Final = 0x7663636F7265  # "vccore": the advisory lock held while the schema changes
# Connections a forked child inherited: never used there, and never closed either (closing one
# would end the parent's session on the server), so they are kept referenced here.
_INHERITED: list[psycopg.Connection[Any]] = []


def describe(url: str) -> str:
    """The URL without its password (for messages)."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable URL)"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


class PostgresStore(Outbox, EntityTypes):
    """A store in a PostgreSQL database, shared by any number of processes. One connection per
    thread (made on first use, made again after a ``fork()``).
    """

    _claim_lock = " FOR UPDATE SKIP LOCKED"  # two workers claim different messages

    def _marks(self, sql: str) -> str:
        return pg(sql)

    def __init__(
        self,
        url: str,
        *,
        status_url: str | None = None,
        read_only: bool = False,
        connect_timeout: int = 10,
        status_base_url: str | None = None,
    ) -> None:
        """Open (or make) the store in the database at ``url``. ``status_url``: where its status
        lists are published, given when the store is made (without it, a placeholder, with a
        :class:`PlaceholderStatusUrlWarning`); ``status_base_url`` is its old, deprecated name.
        """
        given = status_url_argument(status_url, status_base_url, "PostgresStore")
        self.url = url
        self._where = describe(url)
        self._timeout = connect_timeout
        self._read_only = read_only
        self._local = threading.local()
        self._pool = _PositionPool()
        self._deadline = answer_deadline(session_parameters(url)["options"])
        self.picked_status_url = False
        """Whether this opening made the store and picked a placeholder status URL (with a warning)."""
        if read_only:
            meta = dict(self._query("SELECT key, value FROM meta") if self._has_meta() else [])
            check_version(_version(meta, self._where), _MIGRATIONS, self._where)
        else:
            meta = self._open(given)
        self._status_url = str(meta["status_base_url"])
        self._earlier = earlier_urls(meta.get(EARLIER_URLS_KEY))
        self._secret = bytes.fromhex(meta["position_secret"])
        if self.picked_status_url:
            placeholder_warning(self._where, self._status_url)

    @property
    def status_url(self) -> str:
        """The URL under which this store's status list credentials are published (new ones name it)."""
        return self._status_url

    @property
    def status_base_url(self) -> str:
        """The old name of :attr:`status_url`."""
        return self._status_url

    @property
    def earlier_status_urls(self) -> tuple[str, ...]:
        """The status URLs this store published under before a move (oldest first): credentials
        issued then still name them, so their lists are published there too.
        """
        return self._earlier

    def move_status_url(self, status_url: str) -> None:
        """Publish status lists under ``status_url`` from now on (as :meth:`SQLiteStore.move_status_url`)."""
        if self._read_only:
            raise LifecycleError(f"{self._where} is open read-only", code=ErrorCode.STORE_ERROR)
        new = checked_status_url(status_url, self._where)
        with self._write() as connection:
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            earlier_json, earlier = moved(str(meta["status_base_url"]), meta.get(EARLIER_URLS_KEY), new)
            connection.execute("UPDATE meta SET value = %s WHERE key = 'status_base_url'", (new,))
            connection.execute(
                "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (EARLIER_URLS_KEY, earlier_json),
            )
        self._status_url, self._earlier = new, earlier

    @property
    def location(self) -> str:
        """The database's URL, without its password."""
        return self._where

    # --- connections -----------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        connection: psycopg.Connection[Any] | None = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid != os.getpid():
            _INHERITED.append(connection)
            connection = None
        if connection is None or connection.closed:
            try:
                conninfo = psycopg.conninfo.make_conninfo(self.url, **session_parameters(self.url))
                connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=self._timeout)
                if self._read_only:
                    connection.execute("SET default_transaction_read_only = on")
            except psycopg.Error as exc:
                raise LifecycleError(
                    f"cannot connect to the store {self._where}: {message(exc)}", code=ErrorCode.STORE_ERROR
                ) from None
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement outside any transaction."""
        return self._autocommit(lambda connection: connection.execute(sql, args).fetchall())

    def _autocommit(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """``work``, outside any transaction, on this thread's connection, within the deadline;
        once more on a fresh connection when the old one turns out dead (the server restarted,
        or ended the session, while it was idle). Only for what can run twice: reads, and
        reserving positions (a number drawn twice is one skipped).
        """
        for attempt in (1, 2):
            connection = self._connection()
            try:
                with WATCHDOG.watch(connection, self._deadline):
                    return work(connection)
            except psycopg.Error as exc:
                if attempt == 1 and self._died_idle(connection, exc):
                    continue
                raise self._failed(connection, exc) from exc
        raise AssertionError("unreachable")

    def _died_idle(self, connection: psycopg.Connection[Any], exc: psycopg.Error) -> bool:
        """Whether ``exc`` is the first sign that ``connection`` died while idle (closed, then)."""
        if isinstance(exc, psycopg.OperationalError) and connection.broken and not WATCHDOG.was_cut(connection):
            connection.close()
            return True
        return False

    def _failed(
        self, connection: psycopg.Connection[Any], exc: psycopg.Error, *, in_doubt: bool = False
    ) -> LifecycleError:
        if connection.broken:
            connection.close()
        if WATCHDOG.was_cut(connection):
            said = (
                f"the database did not answer within {self._deadline:g} s (its statement timeout and 5 s): "
                f"vccore closed the connection ({message(exc)})"
            )
        else:
            said = message(exc)
        if in_doubt and connection.closed:
            # the server may have committed before the connection went: no one can tell from here
            said += "; it went while the change was being committed, which may or may not have been stored: look it up before sending it again"
        return LifecycleError(f"the store {self._where} failed: {said}", code=ErrorCode.STORE_ERROR)

    def _has_meta(self) -> bool:
        return self._query("SELECT to_regclass('meta') IS NOT NULL")[0][0] is True

    @contextmanager
    def _write(self, *, bounded: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """A transaction, within the deadline (``bounded``). BEGIN is sent once more on a fresh
        connection when the old one turns out dead: nothing has run yet.
        """
        deadline = self._deadline if bounded else None
        for attempt in (1, 2):
            connection = self._connection()
            transaction = connection.transaction()
            try:
                with WATCHDOG.watch(connection, deadline):
                    transaction.__enter__()
                break
            except psycopg.Error as exc:
                if attempt == 1 and self._died_idle(connection, exc):
                    continue
                raise self._failed(connection, exc) from exc
        committing = False
        try:
            with WATCHDOG.watch(connection, deadline):
                try:
                    yield connection
                except BaseException as exc:
                    transaction.__exit__(type(exc), exc, exc.__traceback__)  # ROLLBACK
                    raise
                committing = True
                transaction.__exit__(None, None, None)  # COMMIT
        except psycopg.Error as exc:
            raise self._failed(connection, exc, in_doubt=committing) from exc

    def _open(self, status_url: str | None) -> dict[str, str]:
        """Create or migrate the schema (under the advisory lock) and read the store's settings."""
        with self._write(bounded=False) as connection:
            # no bounds here: a migration may take long, and the others starting wait for it
            connection.execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            has_meta = connection.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
            meta = (
                dict(connection.execute("SELECT key, value FROM meta").fetchall()) if has_meta and has_meta[0] else {}
            )
            version = _version(meta, self._where)
            latest = migrate(version, _MIGRATIONS, connection.execute, self._where)
            if latest != version:
                connection.execute(
                    "INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(latest),),
                )
            if "position_secret" not in meta:
                meta["position_secret"] = secrets.token_hex(32)
                connection.execute("INSERT INTO meta VALUES ('position_secret', %s)", (meta["position_secret"],))
            stored_url = meta.get("status_base_url")
            if stored_url is None:
                stored_url, self.picked_status_url = new_status_url(status_url, self._where)
                connection.execute("INSERT INTO meta VALUES ('status_base_url', %s)", (stored_url,))
                meta["status_base_url"] = stored_url
            elif status_url is not None and checked_status_url(status_url, self._where) != stored_url:
                raise refuse_other_url(self._where, stored_url, status_url)
        return meta

    # --- transactions ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        """One atomic change: everything done through the transaction commits together, or not."""
        tx: PostgresTransaction | None = None
        committing = False
        try:
            with self._write() as connection:
                tx = PostgresTransaction(connection, self._pool, self._reserve)
                yield tx
                committing = True
        except BaseException:
            # Positions taken by a transaction that rolled back were stored nowhere: they go back
            # to the pool. Not when COMMIT itself failed: it may have reached the server. Not when
            # one was found held by another certificate: then none of the pool is trusted.
            if tx is not None and tx.collided:
                self._pool.discard()
            elif tx is not None and not committing:
                self._pool.give_back(tx.taken)
            raise

    def _reserve(self, connection: psycopg.Connection[Any], count: int) -> list[Position]:
        """``count`` numbers from the sequence (never handed out twice, not rolled back), but for
        positions a certificate holds already: a sequence set back (a restore of the tables
        without it, a failover to a logical replica) hands those out again. They are skipped,
        and the sequence is moved past every position in use.
        """
        positions: list[Position] = []
        while len(positions) < count:
            rows = connection.execute(
                "SELECT nextval('status_counter') FROM generate_series(1, %s)", (count - len(positions),)
            ).fetchall()
            fresh = [(n // LIST_SIZE, permute(n % LIST_SIZE, self._list_secret(n // LIST_SIZE))) for (n,) in rows]
            taken = set(connection.execute(POSITIONS_TAKEN, tuple(map(list, zip(*fresh, strict=True)))).fetchall())
            if taken:
                skipped_positions(self._where, sorted(taken))
                self._move_sequence_past_use(connection)
            positions.extend(position for position in fresh if position not in taken)
        return positions

    def _move_sequence_past_use(self, connection: psycopg.Connection[Any]) -> None:
        (last,) = connection.execute("SELECT max(status_list) FROM certificates").fetchone() or (None,)
        if last is None:
            return
        indexes = connection.execute("SELECT status_index FROM certificates WHERE status_list = %s", (last,))
        target = high_water(last, (index for (index,) in indexes), self._list_secret(last))
        connection.execute(
            "SELECT setval('status_counter', %s, false) FROM status_counter "
            "WHERE (CASE WHEN is_called THEN last_value + 1 ELSE last_value END) < %s",
            (target, target),
        )

    def _list_secret(self, list_number: int) -> bytes:
        return hashlib.blake2b(
            list_number.to_bytes(8, "big"), key=self._secret, person=b"vccore-list-set", digest_size=32
        ).digest()

    # --- reading ---------------------------------------------------------------------------------

    def get(self, certificate_id: str) -> Record | None:
        """The record of ``certificate_id``."""
        return self._one("certificate_id = %s", (certificate_id,))

    def get_by_transaction(self, transaction_id: str) -> Record | None:
        """The record made by ``transaction_id``."""
        return self._one("transaction_id = %s", (transaction_id,))

    def get_by_position(self, status_list: int, status_index: int) -> Record | None:
        """The record at a status-list position."""
        return self._one("status_list = %s AND status_index = %s", (status_list, status_index))

    def _one(self, where: str, args: tuple[Any, ...]) -> Record | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM certificates WHERE {where}", args)
        return _record(rows[0]) if rows else None

    def get_by_keys(self, keys: Sequence[str]) -> dict[str, Record]:
        """The records made by the issues named ``keys``."""
        if not keys:
            return {}
        return {row[0]: _record(row[1:]) for row in self._query(_BY_KEYS, (list(keys),))}

    def look_up(self, keys: Sequence[str], certificate_ids: Sequence[str]) -> tuple[dict[str, Record], set[str]]:
        """:meth:`get_by_keys` and :meth:`certificate_ids_taken` in one round trip (a pipeline:
        176 us against 264-329 us for the two, measured once on the throwaway server).
        """
        if not keys or not certificate_ids:
            return self.get_by_keys(keys), self.certificate_ids_taken(certificate_ids)

        def both(connection: psycopg.Connection[Any]) -> tuple[dict[str, Record], set[str]]:
            with connection.pipeline():
                by_keys = connection.execute(_BY_KEYS, (list(keys),))
                taken = connection.execute(IDS_TAKEN, (list(certificate_ids),))
            return {row[0]: _record(row[1:]) for row in by_keys.fetchall()}, {row[0] for row in taken.fetchall()}

        return self._autocommit(both)

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        """Those of ``certificate_ids`` in the store now."""
        return {row[0] for row in self._query(IDS_TAKEN, (list(certificate_ids),))} if certificate_ids else set()

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        """``count`` positions outside any transaction (the sequence needs none)."""
        return self._pool.take(count, lambda n: self._autocommit(lambda connection: self._reserve(connection, n)))

    def list_sets(self) -> list[int]:
        """The list sets in use, in order: every set the sequence has reached (a set whose
        positions were all reserved by workers that stopped before using them is published,
        empty).
        """
        last, called, held = self._query(
            "SELECT last_value, is_called, (SELECT max(status_list) FROM certificates) FROM status_counter"
        )[0]
        # the sets certificates hold too: a sequence set back has not reached them
        reached = max(last // LIST_SIZE if called else -1, -1 if held is None else held)
        return list(range(reached + 1))

    def status_rows(self, status_list: int) -> Iterator[tuple[int, str, str | None]]:
        """(position, state, suspended_until) of every certificate in list set ``status_list``."""
        yield from self._query(
            "SELECT status_index, state, suspended_until FROM certificates WHERE status_list = %s", (status_list,)
        )

    def bind_issuer(self, issuer: str) -> None:
        """Tie the store to one issuer (see :meth:`vccore.store.SQLiteStore.bind_issuer`)."""
        with self._write() as connection:
            connection.execute("INSERT INTO meta VALUES ('issuer', %s) ON CONFLICT (key) DO NOTHING", (issuer,))
            row = connection.execute("SELECT value FROM meta WHERE key = 'issuer'").fetchone()
            if row is None or row[0] != issuer:
                raise LifecycleError(
                    f"{self._where} is the store of issuer {row[0] if row else None}; the key given speaks for {issuer}",
                    code=ErrorCode.STORE_ERROR,
                )

    def count(self) -> int:
        """How many certificates the store holds."""
        return int(self._query("SELECT count(*) FROM certificates")[0][0])

    def get_failure(self, transaction_id: str) -> dict[str, Any] | None:
        """A failed request, by its transactionId."""
        rows = self._query(pg(SELECT_FAILURE), (transaction_id,))
        return _failure(rows[0]) if rows else None

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            connection.close()
        self._local.connection = None

"""Issuance records and status-list positions: the :class:`Store` interface and its SQLite store.

A store keeps, per certificate: its certificateId and transactionId, entity type, the signed
credential, its status-list position, its state (VALID, SUPERSEDED, REVOKED, SUSPENDED, with a
suspension's end), the certificate it replaces and the one that replaced it, and timestamps.
Every change happens in one transaction (:meth:`Store.transaction`): all of it, or none.

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

Two stores implement the interface: :class:`SQLiteStore` (one file, one writer at a time) and
:class:`vccore.store_pg.PostgresStore` (many issuing processes on many machines);
:func:`open_store` picks one from a path or a ``postgresql://`` URL. Both keep their schema
version in the store and upgrade an older store by running the missing migrations, in order, in
one transaction (:func:`migrate`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from . import _datetime

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's own busy handler alone orders the writers
    fcntl = None  # type: ignore[assignment]
from .errors import VccoreError
from .status import MIN_LIST_LENGTH

__all__ = [
    "LIST_SIZE", "MAX_BLOCK", "LifecycleError", "Migration", "Record", "SQLiteStore", "Store", "StoreTransaction",
    "check_version", "migrate", "open_store", "permute",
]

LIST_SIZE: Final = MIN_LIST_LENGTH
MAX_BLOCK: Final = 1024
"""The most status positions a store object reserves at once (beyond what one call asks for)."""
CHECKPOINT_EVERY: Final = 8
"""An SQLite connection checkpoints the WAL after every this many of its write transactions."""
WAL_RESTART_FRAMES: Final = 1024
"""A WAL this long (in pages: 16 MiB) is checkpointed under the writers' lock, so that it restarts."""


class LifecycleError(VccoreError):
    """A certificate cannot make this change. Codes ``UNKNOWN_CERTIFICATE`` (``certificate_id``),
    ``INVALID_TRANSITION`` (``certificate_id``, ``state``), ``DUPLICATE_CERTIFICATE_ID``,
    ``DUPLICATE_ISSUE_KEY`` (``key``), ``STORE_ERROR``."""

    code = "INVALID_TRANSITION"


@dataclass(frozen=True, slots=True)
class Record:
    """What the store knows of one certificate."""

    certificate_id: str
    transaction_id: str
    entity_type: str
    credential: dict[str, Any]
    status_list: int
    status_index: int
    state: str
    created_at: str
    updated_at: str
    replaces: str | None = None
    replaced_by: str | None = None
    suspended_until: str | None = None
    reason: str | None = None
    credential_json: str | None = field(default=None, compare=False, repr=False)
    """The credential as the store writes it (compact JSON), when made beforehand: a batch
    serializes outside the transaction, so that the write lock is held for less time."""

    def effective_state(self, now: datetime) -> str:
        """The state at ``now``: a suspension whose end has passed has lapsed (VALID)."""
        if self.state == "SUSPENDED" and self.suspended_until is not None:
            if _datetime.parse(self.suspended_until) <= now:
                return "VALID"
        return self.state

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (camelCase, as DIVOC's API spells it)."""
        return {
            "certificateId": self.certificate_id,
            "transactionId": self.transaction_id,
            "entityType": self.entity_type,
            "state": self.state,
            "statusList": self.status_list,
            "statusListIndex": self.status_index,
            "replaces": self.replaces,
            "replacedBy": self.replaced_by,
            "suspendedUntil": self.suspended_until,
            "reason": self.reason,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "credential": self.credential,
        }


class StoreTransaction(Protocol):
    """The operations of one store transaction."""

    def get(self, certificate_id: str) -> Record | None: ...

    def certificate_id_taken(self, certificate_id: str) -> bool: ...

    def allocate_status_position(self) -> tuple[int, int]: ...

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        """``count`` positions at once (what ``count`` calls of :meth:`allocate_status_position` give)."""

    def insert(self, record: Record) -> None: ...

    def record_key(self, key: str, certificate_id: str) -> None:
        """Remember that the issue named ``key`` (an idempotency key) made ``certificate_id``."""

    def certificate_for_key(self, key: str) -> str | None:
        """The certificateId the issue named ``key`` made, if any."""

    def save(self, record: Record) -> None: ...

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        """Those of ``certificate_ids`` that are taken (one query for many, where the store can)."""
        return {c for c in certificate_ids if self.certificate_id_taken(c)}

    def certificates_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> the certificateId its issue made, for those of ``keys`` that made one."""
        found = {key: self.certificate_for_key(key) for key in keys}
        return {key: made for key, made in found.items() if made is not None}

    def insert_many(self, records: Sequence[tuple[Record, str | None]]) -> None:
        """:meth:`insert` each record and :meth:`record_key` its idempotency key (None: none)."""
        for record, key in records:
            self.insert(record)
            if key is not None:
                self.record_key(key, record.certificate_id)


class Store(Protocol):
    """Issuance records, behind transactions; SQLite here, PostgreSQL for many workers."""

    @property
    def status_base_url(self) -> str: ...

    def transaction(self) -> AbstractContextManager[StoreTransaction]: ...

    def get(self, certificate_id: str) -> Record | None: ...

    def get_by_transaction(self, transaction_id: str) -> Record | None: ...

    def get_by_position(self, status_list: int, status_index: int) -> Record | None: ...

    def get_by_keys(self, keys: Sequence[str]) -> dict[str, Record]:
        """The records made by the issues named ``keys`` (see :meth:`StoreTransaction.record_key`)."""

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        """Those of ``certificate_ids`` in the store now (a read, outside any transaction)."""

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        """``count`` positions for credentials to come, outside any transaction: taken from this
        store object's reserved block, reserving more (a short transaction of its own) when it
        runs short. Not to be called inside :meth:`transaction` (use the transaction's own)."""

    def list_sets(self) -> list[int]: ...

    def status_rows(self, status_list: int) -> Iterator[tuple[int, str, str | None]]: ...

    def bind_issuer(self, issuer: str) -> None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...

    def record_failure(self, transaction_id: str, entity_type: str, certificate_id: str | None, reason: Mapping[str, Any], at: str) -> None:
        """Remember a request that made no certificate (``reason``: the error, JSON-ready)."""

    def get_failure(self, transaction_id: str) -> dict[str, Any] | None:
        """``{transactionId, entityType, certificateId, reason, createdAt}`` of a failed request."""

    @property
    def location(self) -> str:
        """Where the store is, for messages (a URL without its password)."""


# --- schema versions -----------------------------------------------------------------------------

Migration = tuple[int, tuple[str, ...]]
"""A schema version and the statements that bring the version before it there."""


def migrate(version: int, migrations: Sequence[Migration], execute: Callable[[str], object], where: str) -> int:
    """Bring a store at schema ``version`` (0: empty) to the last of ``migrations`` by running
    those after ``version`` in order, inside the caller's transaction (so that a failing one
    leaves the store as it was). Returns the new version; a store newer than this vccore, or one
    whose version is not in the list, is refused (STORE_ERROR)."""
    known = [number for number, _ in migrations]
    if known != list(range(1, len(known) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, ... not {known}")
    latest = len(known)
    if version > latest:
        raise LifecycleError(
            f"{where} has store schema {version}; this vccore knows schema versions up to {latest}: upgrade vccore",
            code="STORE_ERROR",
        )
    if version < 0:
        raise LifecycleError(f"{where} has an unreadable store schema version {version}", code="STORE_ERROR")
    for number, statements in migrations[version:]:
        for statement in statements:
            try:
                execute(statement)
            except Exception as exc:  # the driver's own error, whichever store
                raise LifecycleError(
                    f"{where}: the migration to store schema {number} failed (nothing was changed): {' '.join(str(exc).split())}",
                    code="STORE_ERROR",
                ) from exc
    return latest


def check_version(version: int, migrations: Sequence[Migration], where: str) -> None:
    """What a reader that cannot migrate asks: a store at exactly this vccore's schema."""
    if version != len(migrations):
        newer = version > len(migrations)
        raise LifecycleError(
            f"{where} has store schema {version}; this vccore reads schema {len(migrations)}: "
            + ("upgrade vccore" if newer else "open it once for writing to upgrade it"),
            code="STORE_ERROR",
        )


_COLUMNS = (
    "certificate_id, transaction_id, entity_type, credential, status_list, status_index, state, "
    "created_at, updated_at, replaces, replaced_by, suspended_until, reason"
)

# The tables both stores share, in SQL both read alike. Each store adds its own counter of status
# positions: SQLite a row per list set (status_lists), PostgreSQL a sequence.
TABLE_META: Final = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
TABLE_CERTIFICATES: Final = """CREATE TABLE certificates (
    certificate_id TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL UNIQUE,
    entity_type TEXT NOT NULL,
    credential TEXT NOT NULL,
    status_list INTEGER NOT NULL,
    status_index INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('VALID', 'SUPERSEDED', 'REVOKED', 'SUSPENDED')),
    replaces TEXT REFERENCES certificates (certificate_id),
    replaced_by TEXT REFERENCES certificates (certificate_id),
    suspended_until TEXT,
    reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (status_list, status_index)
)"""
TABLE_ISSUE_KEYS: Final = """CREATE TABLE issue_keys (
    key TEXT PRIMARY KEY,
    certificate_id TEXT NOT NULL REFERENCES certificates (certificate_id)
)"""
# schema 2: requests that made no certificate, for the HTTP API's transaction lookups
TABLE_FAILED_TRANSACTIONS: Final = """CREATE TABLE failed_transactions (
    transaction_id TEXT PRIMARY KEY,
    entity_type TEXT NOT NULL,
    certificate_id TEXT,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""

_SQLITE_MIGRATIONS: list[Migration] = [
    (1, (
        TABLE_META,
        "CREATE TABLE status_lists (list INTEGER PRIMARY KEY, next INTEGER NOT NULL, secret BLOB NOT NULL)",
        TABLE_CERTIFICATES,
        TABLE_ISSUE_KEYS,
    )),
    (2, (TABLE_FAILED_TRANSACTIONS,)),
]

# The statements both stores run, with SQLite's "?" parameters (PostgreSQL's store swaps in "%s").
INSERT_CERTIFICATE: Final = f"INSERT INTO certificates ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"
SAVE_CERTIFICATE: Final = (
    "UPDATE certificates SET state = ?, replaced_by = ?, suspended_until = ?, reason = ?, updated_at = ? WHERE certificate_id = ?"
)
INSERT_ISSUE_KEY: Final = "INSERT INTO issue_keys VALUES (?, ?)"
INSERT_FAILURE: Final = "INSERT INTO failed_transactions VALUES (?, ?, ?, ?, ?)"
SELECT_FAILURE: Final = (
    "SELECT transaction_id, entity_type, certificate_id, reason, created_at FROM failed_transactions WHERE transaction_id = ?"
)


def save_args(record: Record) -> tuple[Any, ...]:
    """The parameters of :data:`SAVE_CERTIFICATE`."""
    return (record.state, record.replaced_by, record.suspended_until, record.reason, record.updated_at, record.certificate_id)


# --- status positions, reserved in blocks --------------------------------------------------------

Position = tuple[int, int]


class _PositionPool:
    """The status positions one store object has reserved and not handed out yet."""

    def __init__(self) -> None:
        self.free: tuple[Position, ...] = ()
        self.block = 1
        self.lock = threading.Lock()

    def take(self, count: int, reserve: Callable[[int], list[Position]]) -> list[Position]:
        """``count`` positions, reserving more through ``reserve(n)`` when there are too few."""
        with self.lock:
            while len(self.free) < count:
                wanted = max(count - len(self.free), self.block)
                self.block = min(2 * self.block, MAX_BLOCK)
                self.free += tuple(reserve(wanted))
            taken, self.free = self.free[:count], self.free[count:]
        return list(taken)

    def give_back(self, positions: Sequence[Position]) -> None:
        """Positions taken by a transaction that did not commit: still this pool's, still unused."""
        with self.lock:
            self.free = tuple(positions) + self.free

    def state(self) -> tuple[tuple[Position, ...], int]:
        return self.free, self.block

    def restore(self, state: tuple[tuple[Position, ...], int]) -> None:
        with self.lock:
            self.free, self.block = state


_INHERITED: list[sqlite3.Connection] = []
"""Connections a forked process inherited: never used there, never closed (kept referenced)."""


class SQLiteStore:
    """The embedded store: one SQLite file, written one transaction at a time (by any number of
    threads and processes). Across ``fork()``, a connection inherited from the parent is never
    used or closed in the child (SQLite's rule; broken, it corrupts the file): the child sets it
    aside and opens its own."""

    def __init__(self, path: str | Path, *, status_base_url: str | None = None, read_only: bool = False) -> None:
        """Open (or make) the store at ``path``. ``read_only`` opens an existing store without
        taking its write lock: what a verifier that wants successors needs."""
        self.path = Path(path)
        self._local = threading.local()
        self._read_only = read_only
        self._pool = _PositionPool()
        if read_only:
            try:
                rows = dict(self._connection().execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.Error as exc:
                raise LifecycleError(f"{self.location} is not a vccore store: {exc}", code="STORE_ERROR") from None
            check_version(_version(rows, self.location), _SQLITE_MIGRATIONS, self.location)
            self._status_base_url = str(rows["status_base_url"])
            return
        _make_private(self.path)  # before its lock file is made beside it, and SQLite opens it
        with self._write() as connection:
            has_meta = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            rows = dict(connection.execute("SELECT key, value FROM meta").fetchall()) if has_meta else {}
            version = _version(rows, self.location)
            latest = migrate(version, _SQLITE_MIGRATIONS, connection.execute, self.location)
            if latest != version:
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(latest),))
            stored_url = rows.get("status_base_url")
            if stored_url is None:
                url = status_base_url or f"https://status.vccore.invalid/{secrets.token_hex(8)}/"
                if not url.endswith("/"):
                    url += "/"
                connection.execute("INSERT INTO meta VALUES ('status_base_url', ?)", (url,))
                stored_url = url
            elif status_base_url is not None and status_base_url.rstrip("/") + "/" != stored_url:
                raise LifecycleError(
                    f"{self.location} publishes status lists under {stored_url}; it cannot move to {status_base_url} "
                    "(every credential issued names its list's URL)",
                    code="STORE_ERROR",
                )
        self._status_base_url = stored_url

    @property
    def status_base_url(self) -> str:
        """The URL under which this store's status list credentials are published."""
        return self._status_base_url

    @property
    def location(self) -> str:
        """The store's file."""
        return str(self.path)

    def _mine(self) -> threading.local:
        """This thread's connection and lock file, made afresh in a forked process: SQLite forbids
        using (or closing) a connection there that the parent opened, so an inherited one is set
        aside, referenced, and this process opens its own (and its own lock file descriptor,
        whose flock would otherwise be the parent's)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            inherited = getattr(local, "connection", None)
            if inherited is not None:
                _INHERITED.append(inherited)
            local.connection = local.lock_fd = None
            local.pid = os.getpid()
        return local

    def _connection(self) -> sqlite3.Connection:
        local = self._mine()
        connection: sqlite3.Connection | None = local.connection
        if connection is None:
            if self._read_only:
                connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, timeout=30)
                local.connection = connection
                return connection
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            # 16 KiB pages (a new file only): a ~2.5 KB credential row fits six to a page instead
            # of one to a 4 KiB page; a 100,000-credential store is 254 MB instead of 430, and
            # its commits take half the time (measured: 3.7 s against 6.9 s in a batch of 100,000)
            connection.execute("PRAGMA page_size = 16384")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            if fcntl is not None:
                # Checkpoints run after the OS lock is released (see _write), not inside COMMIT
                # while the next writer waits.
                connection.execute("PRAGMA wal_autocheckpoint = 0")
            local.connection = connection
        return connection

    def _lock_file(self) -> int:
        """This thread's descriptor of the store's lock file (``FILE.lock``)."""
        local = self._mine()
        fd: int | None = local.lock_fd
        if fd is None:
            fd = local.lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return fd

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # vccore's writers queue on an OS lock first: a waiting process sleeps in the kernel and
        # wakes the moment the writer before it is done. SQLite's own busy handler polls instead,
        # sleeping up to 100 ms between tries, which left a second batch worker idle for most of
        # the time the first held the write lock. (Writers other than vccore still meet SQLite's
        # own lock, and its busy timeout.) The lock is released with the process if it dies.
        if fcntl is None:
            with self._write_locked() as connection:
                yield connection
            return
        lock = self._lock_file()
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with self._write_locked() as connection:
                yield connection
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        # SQLite's automatic checkpoint (copying the WAL into the database, with an fsync) runs
        # inside the COMMIT that crosses its threshold, so the next writer would wait for it; a
        # passive checkpoint here, after the lock, overlaps the other writers' transactions.
        writes = getattr(self._local, "writes", 0) + 1
        self._local.writes = writes
        if writes % CHECKPOINT_EVERY == 0:
            try:
                self._checkpoint(lock)
            except (sqlite3.Error, OSError):
                pass  # the transaction is committed; a checkpoint that fails is tried again later

    def _checkpoint(self, lock: int) -> None:
        """A passive checkpoint; under the writers' lock when the WAL has grown long."""
        connection = self._connection()
        _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames >= WAL_RESTART_FRAMES:
            # The WAL starts over from its first page only when a writer begins after a
            # checkpoint that copied every page of it. With two writers a transaction is
            # usually running beside the checkpoint, so that happened only now and then: the
            # WAL of a 40,000-credential batch with two workers reached 40 MB, and nothing
            # bounded it. With no other vccore writer in a transaction, this checkpoint copies
            # everything, and the next writer restarts the WAL (unless a reader still uses it).
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def _write_locked(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")  # the write lock now: no two issuers interleave
        except sqlite3.Error as exc:
            raise LifecycleError(f"cannot write to the store {self.location}: {exc}", code="STORE_ERROR") from exc
        # The counter of reserved positions is rolled back with the transaction, and so are the
        # blocks reserved in it: the pool goes back to what it was when the transaction began.
        pool = self._pool.state()
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            self._pool.restore(pool)
            if connection.in_transaction:  # also when COMMIT itself failed: never keep the lock
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise LifecycleError(f"the store {self.location} failed: {exc}", code="STORE_ERROR") from exc
            raise

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        """One atomic change: everything done through the transaction commits together, or not."""
        with self._write() as connection:
            yield _SQLiteTransaction(connection, self._pool)

    def get(self, certificate_id: str) -> Record | None:
        """The record of ``certificate_id``."""
        return _one(self._connection(), "certificate_id = ?", (certificate_id,))

    def get_by_transaction(self, transaction_id: str) -> Record | None:
        """The record made by ``transaction_id``."""
        return _one(self._connection(), "transaction_id = ?", (transaction_id,))

    def get_by_position(self, status_list: int, status_index: int) -> Record | None:
        """The record at a status-list position."""
        return _one(self._connection(), "status_list = ? AND status_index = ?", (status_list, status_index))

    def get_by_keys(self, keys: Sequence[str]) -> dict[str, Record]:
        """The records made by the issues named ``keys``."""
        found: dict[str, Record] = {}
        connection = self._connection()
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            part = list(keys[start : start + 500])
            rows = connection.execute(
                f"SELECT k.key, {', '.join('c.' + c for c in _COLUMNS.split(', '))} FROM issue_keys k "
                f"JOIN certificates c ON c.certificate_id = k.certificate_id WHERE k.key IN ({', '.join('?' * len(part))})",
                part,
            )
            for row in rows:
                found[row[0]] = _record(row[1:])
        return found

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        """Those of ``certificate_ids`` in the store now."""
        return _ids_taken(self._connection(), certificate_ids)

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        """``count`` positions outside any transaction. Taken under the write lock all the same:
        a transaction that rolls back puts the pool back as it found it, so nothing may take from
        the pool meanwhile (when the pool has enough, the transaction writes nothing and its
        commit costs no sync)."""
        with self.transaction() as tx:
            return tx.allocate_status_positions(count)

    def list_sets(self) -> list[int]:
        """The list sets in use, in order."""
        return [row[0] for row in self._connection().execute("SELECT list FROM status_lists ORDER BY list")]

    def status_rows(self, status_list: int) -> Iterator[tuple[int, str, str | None]]:
        """(position, state, suspended_until) of every certificate in list set ``status_list``."""
        yield from self._connection().execute(
            "SELECT status_index, state, suspended_until FROM certificates WHERE status_list = ?", (status_list,)
        )

    def bind_issuer(self, issuer: str) -> None:
        """Tie the store to one issuer: its records, status lists and their URLs are that
        issuer's. A store made for another issuer refuses (STORE_ERROR)."""
        with self._write() as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'issuer'").fetchone()
            if row is None:
                connection.execute("INSERT INTO meta VALUES ('issuer', ?)", (issuer,))
            elif row[0] != issuer:
                raise LifecycleError(
                    f"{self.location} is the store of issuer {row[0]}; the key given speaks for {issuer}",
                    code="STORE_ERROR",
                )

    def count(self) -> int:
        """How many certificates the store holds."""
        return int(self._connection().execute("SELECT count(*) FROM certificates").fetchone()[0])

    def record_failure(self, transaction_id: str, entity_type: str, certificate_id: str | None, reason: Mapping[str, Any], at: str) -> None:
        """Remember a request that made no certificate."""
        with self._write() as connection:
            connection.execute(INSERT_FAILURE, (transaction_id, entity_type, certificate_id, _reason_json(reason), at))

    def get_failure(self, transaction_id: str) -> dict[str, Any] | None:
        """A failed request, by its transactionId."""
        row = self._connection().execute(SELECT_FAILURE, (transaction_id,)).fetchone()
        return None if row is None else _failure(row)

    def close(self) -> None:
        """Close this thread's connection (and its lock file); one inherited across a fork is
        set aside, not closed."""
        local = self._mine()
        if local.connection is not None:
            local.connection.close()
        if local.lock_fd is not None:
            os.close(local.lock_fd)
        local.connection = local.lock_fd = None


class _SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection, pool: _PositionPool) -> None:
        self._connection = connection
        self._pool = pool

    def get(self, certificate_id: str) -> Record | None:
        return _one(self._connection, "certificate_id = ?", (certificate_id,))

    def certificate_id_taken(self, certificate_id: str) -> bool:
        return self._connection.execute("SELECT 1 FROM certificates WHERE certificate_id = ?", (certificate_id,)).fetchone() is not None

    def allocate_status_position(self) -> tuple[int, int]:
        return self.allocate_status_positions(1)[0]

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        return self._pool.take(count, self._reserve)

    def _reserve(self, count: int) -> list[Position]:
        """Move the counter of the current list set on by ``count`` (into new sets when it fills):
        the one shared row, written once per block."""
        positions: list[Position] = []
        while len(positions) < count:
            row = self._connection.execute("SELECT list, next, secret FROM status_lists ORDER BY list DESC LIMIT 1").fetchone()
            if row is None or row[1] >= LIST_SIZE:
                list_number = 0 if row is None else row[0] + 1
                row = (list_number, 0, secrets.token_bytes(32))
                self._connection.execute("INSERT INTO status_lists VALUES (?, 0, ?)", (list_number, row[2]))
            list_number, counter, secret = row
            taken = min(count - len(positions), LIST_SIZE - counter)  # the rest from the next set
            self._connection.execute("UPDATE status_lists SET next = next + ? WHERE list = ?", (taken, list_number))
            positions.extend((list_number, permute(n, bytes(secret))) for n in range(counter, counter + taken))
        return positions

    def insert(self, record: Record) -> None:
        try:
            self._connection.execute(INSERT_CERTIFICATE, _row(record))
        except sqlite3.IntegrityError as exc:
            raise LifecycleError(
                f"certificate {record.certificate_id} cannot be stored: {exc}",
                code="DUPLICATE_CERTIFICATE_ID" if "certificate_id" in str(exc) else "STORE_ERROR",
                certificate_id=record.certificate_id,
            ) from None

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        return _ids_taken(self._connection, certificate_ids)

    def certificates_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in _parts(keys):
            query = f"SELECT key, certificate_id FROM issue_keys WHERE key IN ({', '.join('?' * len(part))})"
            found.update((row[0], row[1]) for row in self._connection.execute(query, part))
        return found

    def insert_many(self, records: Sequence[tuple[Record, str | None]]) -> None:
        try:
            self._connection.executemany(INSERT_CERTIFICATE, [_row(r) for r, _ in records])
            self._connection.executemany(INSERT_ISSUE_KEY, [(k, r.certificate_id) for r, k in records if k is not None])
        except sqlite3.IntegrityError as exc:  # the caller checked ids and keys in this transaction
            raise LifecycleError(f"{len(records)} certificates cannot be stored: {exc}", code="STORE_ERROR") from None

    def certificate_for_key(self, key: str) -> str | None:
        row = self._connection.execute("SELECT certificate_id FROM issue_keys WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def record_key(self, key: str, certificate_id: str) -> None:
        try:
            self._connection.execute(INSERT_ISSUE_KEY, (key, certificate_id))
        except sqlite3.IntegrityError:
            raise LifecycleError(f"issue key {key!r} has made a certificate already", code="DUPLICATE_ISSUE_KEY", key=key) from None

    def save(self, record: Record) -> None:
        self._connection.execute(SAVE_CERTIFICATE, save_args(record))


_HALF_BITS: Final = 9  # 18-bit Feistel blocks; LIST_SIZE is 2**17
_HALF_MASK: Final = (1 << _HALF_BITS) - 1


def permute(counter: int, secret: bytes) -> int:
    """A keyed permutation of range(LIST_SIZE): 4 Feistel rounds over 18 bits (round function
    keyed BLAKE2b), cycle-walked until the result falls inside the range."""
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


@functools.lru_cache(maxsize=16)
def _round_tables(secret: bytes) -> tuple[tuple[int, ...], ...]:
    """The Feistel round function of each round for every half-block value: computed once per
    list set's secret (4 x 512 BLAKE2b), so that a position costs table lookups."""
    return tuple(
        tuple(
            int.from_bytes(hashlib.blake2b(bytes((round_number,)) + right.to_bytes(2, "big"), key=secret, digest_size=2).digest(), "big")
            & _HALF_MASK
            for right in range(1 << _HALF_BITS)
        )
        for round_number in range(4)
    )


def _version(meta: dict[str, Any], where: str) -> int:
    """The schema version a store's meta table records (0: none yet)."""
    try:
        return int(meta.get("schema_version", 0))
    except ValueError:
        raise LifecycleError(f"{where} records an unreadable schema version {meta['schema_version']!r}", code="STORE_ERROR") from None


def _make_private(path: Path) -> None:
    """The folder (mode 0700, when it is made here) and the empty file (0600) of a new SQLite
    store: it holds personal data and the secrets that place status positions. SQLite gives the
    WAL and shared-memory files it makes beside it the file's own mode (and sqlite3.connect
    would make the file with the umask's, 0644 as a rule)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600))
    except FileExistsError:
        pass  # a store already, or made meanwhile by another process: as it is
    except OSError as exc:
        raise LifecycleError(f"cannot make the store {path}: {exc.strerror}", code="STORE_ERROR") from None


def open_store(location: str | os.PathLike[str], *, status_base_url: str | None = None, read_only: bool = False) -> Store:
    """The store at ``location``: a ``postgresql://`` (or ``postgres://``) URL opens a
    :class:`vccore.store_pg.PostgresStore` (the ``vccore[postgresql]`` extra), anything else is
    the path of a :class:`SQLiteStore` file."""
    text = os.fspath(location)
    scheme, sep, _ = text.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres"):
        try:
            from .store_pg import PostgresStore
        except ImportError as exc:
            raise LifecycleError(
                f"a PostgreSQL store needs psycopg: pip install 'vccore[postgresql]' ({exc})", code="STORE_ERROR"
            ) from None
        return PostgresStore(text, status_base_url=status_base_url, read_only=read_only)
    if sep:
        raise LifecycleError(
            f"unknown store URL scheme {scheme!r}: a store is a postgresql:// URL or the path of an SQLite file", code="STORE_ERROR"
        )
    return SQLiteStore(text, status_base_url=status_base_url, read_only=read_only)


def _ids_taken(connection: sqlite3.Connection, certificate_ids: Sequence[str]) -> set[str]:
    """Those of ``certificate_ids`` in the store, in statements of at most 500 parameters."""
    taken: set[str] = set()
    for part in _parts(certificate_ids):
        query = f"SELECT certificate_id FROM certificates WHERE certificate_id IN ({', '.join('?' * len(part))})"
        taken.update(row[0] for row in connection.execute(query, part))
    return taken


def _parts(values: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in lists of at most ``size`` (SQLite limits the parameters of one statement)."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _reason_json(reason: Mapping[str, Any]) -> str:
    return json.dumps(dict(reason), ensure_ascii=False, separators=(",", ":"), default=str)


def _failure(row: Sequence[Any]) -> dict[str, Any]:
    return {"transactionId": row[0], "entityType": row[1], "certificateId": row[2], "reason": json.loads(row[3]), "createdAt": row[4]}


def credential_json(credential: dict[str, Any]) -> str:
    """A credential as the store writes it: compact JSON, UTF-8 as is."""
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":"))


def _row(record: Record) -> tuple[Any, ...]:
    return (
        record.certificate_id,
        record.transaction_id,
        record.entity_type,
        record.credential_json if record.credential_json is not None else credential_json(record.credential),
        record.status_list,
        record.status_index,
        record.state,
        record.created_at,
        record.updated_at,
        record.replaces,
        record.replaced_by,
        record.suspended_until,
        record.reason,
    )


def _record(row: tuple[Any, ...]) -> Record:
    return Record(
        certificate_id=row[0],
        transaction_id=row[1],
        entity_type=row[2],
        credential=json.loads(row[3]),
        status_list=row[4],
        status_index=row[5],
        state=row[6],
        created_at=row[7],
        updated_at=row[8],
        replaces=row[9],
        replaced_by=row[10],
        suspended_until=row[11],
        reason=row[12],
    )


def _one(connection: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> Record | None:
    row = connection.execute(f"SELECT {_COLUMNS} FROM certificates WHERE {where}", args).fetchone()
    return None if row is None else _record(row)


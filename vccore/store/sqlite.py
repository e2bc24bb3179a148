"""The SQLite store: one file, written one transaction at a time (by any number of threads and processes)."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's own busy handler alone orders the writers
    fcntl = None  # type: ignore[assignment]

from ..codes import ErrorCode
from ..errors import LifecycleError
from ._entity_types import TABLE_DOCUMENTS, TABLE_ENTITY_TYPES, EntityTypes
from ._interface import Record, Refused, keys_of
from ._outbox import INDEX_OUTBOX, INSERT_NOTIFICATION, TABLE_OUTBOX_SQLITE, Notification, Outbox, insert_args
from ._positions import LIST_SIZE, Position, _PositionPool, permute, skipped_positions
from ._schema import (
    _COLUMNS,
    EARLIER_URLS_KEY,
    INSERT_CERTIFICATE,
    INSERT_ISSUE_KEY,
    SAVE_CERTIFICATE,
    SELECT_FAILURE,
    TABLE_CERTIFICATES,
    TABLE_FAILED_TRANSACTIONS,
    TABLE_ISSUE_KEYS,
    TABLE_META,
    Migration,
    _failure,
    _record,
    _row,
    _version,
    check_version,
    checked_status_url,
    earlier_urls,
    ids_taken,
    indexes_taken,
    insert_rows,
    migrate,
    moved,
    new_status_url,
    one_record,
    parts,
    placeholder_warning,
    refuse_other_url,
    save_args,
    status_url_argument,
)

__all__ = ["SQLiteStore"]

CHECKPOINT_EVERY: Final = 8
"""An SQLite connection checkpoints the WAL after every this many of its write transactions."""
WAL_RESTART_FRAMES: Final = 1024
"""A WAL this long (in pages: 16 MiB) is checkpointed under the writers' lock, so that it restarts."""

_SQLITE_MIGRATIONS: list[Migration] = [
    (
        1,
        (
            TABLE_META,
            "CREATE TABLE status_lists (list INTEGER PRIMARY KEY, next INTEGER NOT NULL, secret BLOB NOT NULL)",
            TABLE_CERTIFICATES,
            TABLE_ISSUE_KEYS,
        ),
    ),
    (2, (TABLE_FAILED_TRANSACTIONS,)),
    (3, (TABLE_OUTBOX_SQLITE, INDEX_OUTBOX)),
    (4, (TABLE_ENTITY_TYPES, TABLE_DOCUMENTS)),
]

_INHERITED: list[sqlite3.Connection] = []
"""Connections a forked process inherited: never used there, never closed (kept referenced)."""


class SQLiteStore(Outbox, EntityTypes):
    """The embedded store: one SQLite file, written one transaction at a time (by any number of
    threads and processes). Across ``fork()``, a connection inherited from the parent is never
    used or closed in the child (SQLite's rule; broken, it corrupts the file): the child sets it
    aside and opens its own.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        status_url: str | None = None,
        read_only: bool = False,
        status_base_url: str | None = None,
    ) -> None:
        """Open (or make) the store at ``path``; ``status_url`` as for :func:`open_store`. ``read_only``
        opens an existing store without its write lock: what a verifier that wants successors needs.
        """
        given = status_url_argument(status_url, status_base_url, "SQLiteStore")
        self.path = Path(path)
        self._local = threading.local()
        self._read_only = read_only
        self._pool = _PositionPool()
        self.picked_status_url = False  # True: this opening made the store and picked a placeholder
        if read_only:
            try:
                rows = dict(self._connection().execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.Error as exc:
                raise LifecycleError(
                    f"{self.location} is not a vccore store: {exc}", code=ErrorCode.STORE_ERROR
                ) from None
            check_version(_version(rows, self.location), _SQLITE_MIGRATIONS, self.location)
            self._status_url = str(rows["status_base_url"])
            self._earlier = earlier_urls(rows.get(EARLIER_URLS_KEY))
            return
        _make_private(self.path)  # before its lock file is made beside it, and SQLite opens it
        picked = False
        with self._write() as connection:
            has_meta = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            rows = dict(connection.execute("SELECT key, value FROM meta").fetchall()) if has_meta else {}
            version = _version(rows, self.location)
            latest = migrate(version, _SQLITE_MIGRATIONS, connection.execute, self.location)
            if latest != version:
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(latest),))
            stored_url = rows.get("status_base_url")
            if stored_url is None:
                stored_url, picked = new_status_url(given, self.location)
                connection.execute("INSERT INTO meta VALUES ('status_base_url', ?)", (stored_url,))
            elif given is not None and checked_status_url(given, self.location) != stored_url:
                raise refuse_other_url(self.location, stored_url, given)
        self._status_url = stored_url
        self._earlier = earlier_urls(rows.get(EARLIER_URLS_KEY))
        self.picked_status_url = picked
        if picked:
            placeholder_warning(self.location, stored_url)

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
        """The status URLs of this store before a move (oldest first): credentials issued then name them."""
        return self._earlier

    def move_status_url(self, status_url: str) -> None:
        """Publish status lists under ``status_url`` from now on (see :meth:`Store.move_status_url`)."""
        new = checked_status_url(status_url, self.location)  # a read-only store cannot _write
        with self._write() as connection:
            rows = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            current = str(rows["status_base_url"])
            earlier_json, earlier = moved(current, rows.get(EARLIER_URLS_KEY), new)
            connection.execute("UPDATE meta SET value = ? WHERE key = 'status_base_url'", (new,))
            connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (EARLIER_URLS_KEY, earlier_json))
        self._status_url, self._earlier = new, earlier

    @property
    def location(self) -> str:
        """The store's file."""
        return str(self.path)

    def _mine(self) -> threading.local:
        """This thread's connection and lock file, made afresh in a forked process: SQLite forbids
        using (or closing) a connection there that the parent opened, so an inherited one is set
        aside, referenced, and this process opens its own (and its own lock file descriptor,
        whose flock would otherwise be the parent's).
        """
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
            # the transaction is committed; a checkpoint that fails is tried again later
            with contextlib.suppress(sqlite3.Error, OSError):
                self._checkpoint(lock)

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
            raise LifecycleError(
                f"cannot write to the store {self.location}: {exc}", code=ErrorCode.STORE_ERROR
            ) from exc
        # a rollback undoes the positions' counter and the blocks reserved here: the pool goes back too
        pool = self._pool.begin()
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            self._pool.end(pool)
            if connection.in_transaction:  # also when COMMIT itself failed: never keep the lock
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise LifecycleError(f"the store {self.location} failed: {exc}", code=ErrorCode.STORE_ERROR) from exc
            raise
        self._pool.end(None)

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        """One atomic change: everything done through the transaction commits together, or not."""
        with self._write() as connection:
            yield _SQLiteTransaction(connection, self._pool, self.location)

    def get(self, certificate_id: str) -> Record | None:
        """The record of ``certificate_id``."""
        return one_record(self._connection(), "certificate_id = ?", (certificate_id,))

    def get_by_transaction(self, transaction_id: str) -> Record | None:
        """The record made by ``transaction_id``."""
        return one_record(self._connection(), "transaction_id = ?", (transaction_id,))

    def get_by_position(self, status_list: int, status_index: int) -> Record | None:
        """The record at a status-list position."""
        return one_record(self._connection(), "status_list = ? AND status_index = ?", (status_list, status_index))

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
        return ids_taken(self._connection(), certificate_ids)

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        """``count`` positions outside any transaction: from the pool when none of this object's
        transactions runs (one that rolls back puts the pool back as it was), else under the lock.
        """
        if (taken := self._pool.try_take(count)) is not None:
            return taken  # no wait for the other workers' commits
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
        issuer's. A store made for another issuer refuses (STORE_ERROR).
        """
        with self._write() as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'issuer'").fetchone()
            if row is None:
                connection.execute("INSERT INTO meta VALUES ('issuer', ?)", (issuer,))
            elif row[0] != issuer:
                raise LifecycleError(
                    f"{self.location} is the store of issuer {row[0]}; the key given speaks for {issuer}",
                    code=ErrorCode.STORE_ERROR,
                )

    def count(self) -> int:
        """How many certificates the store holds."""
        return int(self._connection().execute("SELECT count(*) FROM certificates").fetchone()[0])

    def get_failure(self, transaction_id: str) -> dict[str, Any] | None:
        """A failed request, by its transactionId."""
        row = self._connection().execute(SELECT_FAILURE, (transaction_id,)).fetchone()
        return None if row is None else _failure(row)

    def close(self) -> None:
        """Close this thread's connection (and its lock file); one inherited across a fork is
        set aside, not closed.
        """
        local = self._mine()
        if local.connection is not None:
            local.connection.close()
        if local.lock_fd is not None:
            os.close(local.lock_fd)
        local.connection = local.lock_fd = None


class _SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection, pool: _PositionPool, location: str) -> None:
        self._connection = connection
        self._pool = pool
        self.location = location

    def get(self, certificate_id: str) -> Record | None:
        return one_record(self._connection, "certificate_id = ?", (certificate_id,))

    def certificate_id_taken(self, certificate_id: str) -> bool:
        return bool(ids_taken(self._connection, [certificate_id]))

    def allocate_status_position(self) -> tuple[int, int]:
        return self.allocate_status_positions(1)[0]

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        return self._pool.take(count, self._reserve)

    def reserve_ahead(self, count: int) -> None:
        self._pool.top_up(count, self._reserve)

    def _reserve(self, count: int) -> list[Position]:
        """Move the counter of the current list set on by ``count`` (into new sets when it fills):
        the one shared row, written once per block.
        """
        positions: list[Position] = []
        while len(positions) < count:
            row = self._connection.execute(
                "SELECT list, next, secret FROM status_lists ORDER BY list DESC LIMIT 1"
            ).fetchone()
            if row is None or row[1] >= LIST_SIZE:
                list_number = 0 if row is None else row[0] + 1
                row = (list_number, 0, secrets.token_bytes(32))
                self._connection.execute("INSERT INTO status_lists VALUES (?, 0, ?)", (list_number, row[2]))
            list_number, counter, secret = row
            taken = min(count - len(positions), LIST_SIZE - counter)  # the rest from the next set
            self._connection.execute("UPDATE status_lists SET next = next + ? WHERE list = ?", (taken, list_number))
            fresh = [permute(n, bytes(secret)) for n in range(counter, counter + taken)]
            # a counter set back (the file's table edited or restored apart) would hand out
            # positions in use: those are skipped, and the counter has moved past them
            used = set(indexes_taken(self._connection, list_number, fresh))
            if used:
                skipped_positions(self.location, [(list_number, index) for index in sorted(used)])
            positions.extend((list_number, index) for index in fresh if index not in used)
        return positions

    def insert(self, record: Record) -> None:
        try:
            self._connection.execute(INSERT_CERTIFICATE, _row(record))
        except sqlite3.IntegrityError as exc:
            # certificate_id is the table's primary key (as PostgreSQL's branch reads the constraint's name)
            duplicate = exc.sqlite_errorname == "SQLITE_CONSTRAINT_PRIMARYKEY"
            raise LifecycleError(
                f"certificate {record.certificate_id} cannot be stored: {exc}",
                code=ErrorCode.DUPLICATE_CERTIFICATE_ID if duplicate else ErrorCode.STORE_ERROR,
                certificate_id=record.certificate_id,
            ) from None

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        return ids_taken(self._connection, certificate_ids)

    def certificates_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in parts(keys):
            query = f"SELECT key, certificate_id FROM issue_keys WHERE key IN ({', '.join('?' * len(part))})"
            found.update((row[0], row[1]) for row in self._connection.execute(query, part))
        return found

    def insert_many(self, records: Sequence[tuple[Record, str | Sequence[str] | None]]) -> Refused:
        # one writer at a time: what this transaction reads of ids and keys stays so until it ends
        holders = self.certificates_for_keys([key for _, given in records for key in keys_of(given)])
        taken = ids_taken(self._connection, [record.certificate_id for record, _ in records])
        rows: list[tuple[Record, tuple[str, ...]]] = []
        refused: dict[str, str] = {}
        for record, given in records:  # a key twice in one call: the first record has it
            held = [key for key in keys_of(given) if key in holders]
            if record.certificate_id not in taken and held:
                refused.update((key, holders[key]) for key in held)
            elif record.certificate_id not in taken:
                rows.append((record, keys_of(given)))
                holders.update((key, record.certificate_id) for key in keys_of(given))
        try:
            insert_rows(self._connection, INSERT_CERTIFICATE, [_row(r) for r, _ in rows])
            insert_rows(self._connection, INSERT_ISSUE_KEY, [(k, r.certificate_id) for r, keys in rows for k in keys])
        except sqlite3.IntegrityError as exc:
            raise LifecycleError(
                f"{len(rows)} certificates cannot be stored: {exc}", code=ErrorCode.STORE_ERROR
            ) from None
        return Refused(frozenset(taken), refused)

    def certificate_for_key(self, key: str) -> str | None:
        row = self._connection.execute("SELECT certificate_id FROM issue_keys WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def record_key(self, key: str, certificate_id: str) -> None:
        try:
            self._connection.execute(INSERT_ISSUE_KEY, (key, certificate_id))
        except sqlite3.IntegrityError:
            raise LifecycleError(
                f"issue key {key!r} has made a certificate already", code=ErrorCode.DUPLICATE_ISSUE_KEY, key=key
            ) from None

    def save(self, record: Record) -> None:
        self._connection.execute(SAVE_CERTIFICATE, save_args(record))

    def notify(self, message: Notification) -> None:
        self._connection.execute(INSERT_NOTIFICATION, insert_args(message))


def _make_private(path: Path) -> None:
    """The folder (mode 0700, when it is made here) and the empty file (0600) of a new SQLite
    store: it holds personal data and the secrets that place status positions. SQLite gives the
    WAL and shared-memory files it makes beside it the file's own mode (and sqlite3.connect
    would make the file with the umask's, 0644 as a rule).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600))
    except FileExistsError:
        pass  # a store already, or made meanwhile by another process: as it is
    except OSError as exc:
        raise LifecycleError(f"cannot make the store {path}: {exc.strerror}", code=ErrorCode.STORE_ERROR) from None

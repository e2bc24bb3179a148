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

The interface is what a PostgreSQL store (many issuing workers) implements too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from . import _datetime
from .errors import VccoreError
from .status import MIN_LIST_LENGTH

__all__ = ["LIST_SIZE", "LifecycleError", "Record", "SQLiteStore", "Store", "StoreTransaction", "permute"]

LIST_SIZE: Final = MIN_LIST_LENGTH
SCHEMA_VERSION: Final = 1


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

    def list_sets(self) -> list[int]: ...

    def status_rows(self, status_list: int) -> Iterator[tuple[int, str, str | None]]: ...

    def bind_issuer(self, issuer: str) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS status_lists (
    list INTEGER PRIMARY KEY,
    next INTEGER NOT NULL,
    secret BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
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
);
CREATE TABLE IF NOT EXISTS issue_keys (
    key TEXT PRIMARY KEY,
    certificate_id TEXT NOT NULL REFERENCES certificates (certificate_id)
);
"""
_COLUMNS = (
    "certificate_id, transaction_id, entity_type, credential, status_list, status_index, state, "
    "created_at, updated_at, replaces, replaced_by, suspended_until, reason"
)


class SQLiteStore:
    """The embedded store: one SQLite file, written one transaction at a time (by any number of
    threads and processes). Not across ``fork()``: a connection inherited from the parent must
    not be used or closed in the child (SQLite's rule; broken, it corrupts the file), so open
    stores after forking, or spawn workers (as :mod:`vccore.batch` does)."""

    def __init__(self, path: str | Path, *, status_base_url: str | None = None, read_only: bool = False) -> None:
        """Open (or make) the store at ``path``. ``read_only`` opens an existing store without
        taking its write lock: what a verifier that wants successors needs."""
        self.path = Path(path)
        self._local = threading.local()
        self._read_only = read_only
        if read_only:
            rows = dict(self._connection().execute("SELECT key, value FROM meta").fetchall())
            self._status_base_url = str(rows["status_base_url"])
            return
        with self._write() as connection:
            for statement in _SCHEMA.strip().split(";\n"):
                if statement.strip():
                    connection.execute(statement)
            rows = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            if "schema_version" not in rows:
                connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(rows["schema_version"]) != SCHEMA_VERSION:
                raise LifecycleError(
                    f"{self.path} has store schema {rows['schema_version']}; this vccore reads {SCHEMA_VERSION}",
                    code="STORE_ERROR",
                )
            stored_url = rows.get("status_base_url")
            if stored_url is None:
                url = status_base_url or f"https://status.vccore.invalid/{secrets.token_hex(8)}/"
                if not url.endswith("/"):
                    url += "/"
                connection.execute("INSERT INTO meta VALUES ('status_base_url', ?)", (url,))
                stored_url = url
            elif status_base_url is not None and status_base_url.rstrip("/") + "/" != stored_url:
                raise LifecycleError(
                    f"{self.path} publishes status lists under {stored_url}; it cannot move to {status_base_url} "
                    "(every credential issued names its list's URL)",
                    code="STORE_ERROR",
                )
        self._status_base_url = stored_url

    @property
    def status_base_url(self) -> str:
        """The URL under which this store's status list credentials are published."""
        return self._status_base_url

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self._read_only:
                connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, timeout=30)
                self._local.connection = connection
                return connection
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            # 16 KiB pages (a new file only): a ~2.5 KB credential row fits six to a page instead
            # of one to a 4 KiB page; a 100,000-credential store is 254 MB instead of 430, and
            # its commits take half the time (measured: 3.7 s against 6.9 s in a batch of 100,000)
            connection.execute("PRAGMA page_size = 16384")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            self._local.connection = connection
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")  # the write lock now: no two issuers interleave
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # also when COMMIT itself failed: never keep the lock
                connection.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        """One atomic change: everything done through the transaction commits together, or not."""
        with self._write() as connection:
            yield _SQLiteTransaction(connection)

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
                    f"{self.path} is the store of issuer {row[0]}; the key given speaks for {issuer}",
                    code="STORE_ERROR",
                )

    def count(self) -> int:
        """How many certificates the store holds."""
        return int(self._connection().execute("SELECT count(*) FROM certificates").fetchone()[0])

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class _SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def get(self, certificate_id: str) -> Record | None:
        return _one(self._connection, "certificate_id = ?", (certificate_id,))

    def certificate_id_taken(self, certificate_id: str) -> bool:
        return self._connection.execute("SELECT 1 FROM certificates WHERE certificate_id = ?", (certificate_id,)).fetchone() is not None

    def allocate_status_position(self) -> tuple[int, int]:
        return self.allocate_status_positions(1)[0]

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        positions: list[tuple[int, int]] = []
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
            self._connection.execute(f"INSERT INTO certificates ({_COLUMNS}) VALUES ({', '.join('?' * 13)})", _row(record))
        except sqlite3.IntegrityError as exc:
            raise LifecycleError(
                f"certificate {record.certificate_id} cannot be stored: {exc}",
                code="DUPLICATE_CERTIFICATE_ID" if "certificate_id" in str(exc) else "STORE_ERROR",
                certificate_id=record.certificate_id,
            ) from None

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        taken: set[str] = set()
        for part in _parts(certificate_ids):
            query = f"SELECT certificate_id FROM certificates WHERE certificate_id IN ({', '.join('?' * len(part))})"
            taken.update(row[0] for row in self._connection.execute(query, part))
        return taken

    def certificates_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in _parts(keys):
            query = f"SELECT key, certificate_id FROM issue_keys WHERE key IN ({', '.join('?' * len(part))})"
            found.update((row[0], row[1]) for row in self._connection.execute(query, part))
        return found

    def insert_many(self, records: Sequence[tuple[Record, str | None]]) -> None:
        try:
            self._connection.executemany(f"INSERT INTO certificates ({_COLUMNS}) VALUES ({', '.join('?' * 13)})", [_row(r) for r, _ in records])
            self._connection.executemany("INSERT INTO issue_keys VALUES (?, ?)", [(k, r.certificate_id) for r, k in records if k is not None])
        except sqlite3.IntegrityError as exc:  # the caller checked ids and keys in this transaction
            raise LifecycleError(f"{len(records)} certificates cannot be stored: {exc}", code="STORE_ERROR") from None

    def certificate_for_key(self, key: str) -> str | None:
        row = self._connection.execute("SELECT certificate_id FROM issue_keys WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def record_key(self, key: str, certificate_id: str) -> None:
        try:
            self._connection.execute("INSERT INTO issue_keys VALUES (?, ?)", (key, certificate_id))
        except sqlite3.IntegrityError:
            raise LifecycleError(f"issue key {key!r} has made a certificate already", code="DUPLICATE_ISSUE_KEY", key=key) from None

    def save(self, record: Record) -> None:
        self._connection.execute(
            "UPDATE certificates SET state = ?, replaced_by = ?, suspended_until = ?, reason = ?, updated_at = ? "
            "WHERE certificate_id = ?",
            (record.state, record.replaced_by, record.suspended_until, record.reason, record.updated_at, record.certificate_id),
        )


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


def _parts(values: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in lists of at most ``size`` (SQLite limits the parameters of one statement)."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


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


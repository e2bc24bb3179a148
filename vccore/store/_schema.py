"""Schema versions and migrations, and what both stores share: their tables, statements and row mapping."""

from __future__ import annotations

import json
import secrets
import sqlite3
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from .._json import compact
from ..codes import ErrorCode
from ..errors import LifecycleError
from ._interface import Record

# --- schema versions -----------------------------------------------------------------------------

Migration = tuple[int, tuple[str, ...]]
"""A schema version and the statements that bring the version before it there."""


def migrate(version: int, migrations: Sequence[Migration], execute: Callable[[str], object], where: str) -> int:
    """Bring a store at schema ``version`` (0: empty) to the last of ``migrations`` by running
    those after ``version`` in order, inside the caller's transaction (so that a failing one
    leaves the store as it was). Returns the new version; a store newer than this vccore, or one
    whose version is not in the list, is refused (STORE_ERROR).
    """
    known = [number for number, _ in migrations]
    if known != list(range(1, len(known) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, ... not {known}")
    latest = len(known)
    if version > latest:
        raise LifecycleError(
            f"{where} has store schema {version}; this vccore knows schema versions up to {latest}: upgrade vccore",
            code=ErrorCode.STORE_ERROR,
        )
    if version < 0:
        raise LifecycleError(f"{where} has an unreadable store schema version {version}", code=ErrorCode.STORE_ERROR)
    for number, statements in migrations[version:]:
        for statement in statements:
            try:
                execute(statement)
            except Exception as exc:  # the driver's own error, whichever store
                raise LifecycleError(
                    f"{where}: the migration to store schema {number} failed (nothing was changed): {' '.join(str(exc).split())}",
                    code=ErrorCode.STORE_ERROR,
                ) from exc
    return latest


def check_version(version: int, migrations: Sequence[Migration], where: str) -> None:
    """What a reader that cannot migrate asks: a store at exactly this vccore's schema."""
    if version != len(migrations):
        newer = version > len(migrations)
        raise LifecycleError(
            f"{where} has store schema {version}; this vccore reads schema {len(migrations)}: "
            + ("upgrade vccore" if newer else "open it once for writing to upgrade it"),
            code=ErrorCode.STORE_ERROR,
        )


def _version(meta: dict[str, Any], where: str) -> int:
    """The schema version a store's meta table records (0: none yet)."""
    try:
        return int(meta.get("schema_version", 0))
    except ValueError:
        raise LifecycleError(
            f"{where} records an unreadable schema version {meta['schema_version']!r}", code=ErrorCode.STORE_ERROR
        ) from None


# --- the status URL ------------------------------------------------------------------------------

PLACEHOLDER_HOST: Final = "status.vccore.invalid"
"""The host of the status URL a store picks when given none: ``.invalid`` never resolves."""
EARLIER_URLS_KEY: Final = "earlier_status_urls"
"""The meta row listing (JSON) the status URLs a store published under before a move."""


class PlaceholderStatusUrlWarning(UserWarning):
    """A new store was given no status URL and picked a placeholder that nothing can fetch."""


def is_placeholder(url: str) -> bool:
    """Whether ``url`` is a placeholder status URL (under ``status.vccore.invalid``)."""
    return urlsplit(url).hostname == PLACEHOLDER_HOST


def status_url_argument(
    status_url: str | None, status_base_url: str | None, owner: str, *, stacklevel: int = 3
) -> str | None:
    """The status URL given to ``owner`` as ``status_url``, or under its old name
    ``status_base_url`` (deprecated: a DeprecationWarning).
    """
    if status_base_url is None:
        return status_url
    warnings.warn(
        f"{owner}(status_base_url=...) is now {owner}(status_url=...), the name the command line's --status-url uses",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    if status_url is not None and status_url != status_base_url:
        raise TypeError(f"{owner}: give status_url or its old name status_base_url, not both")
    return status_base_url


def checked_status_url(url: str, where: str) -> str:
    """``url`` as a store keeps it (ending with '/'): an absolute http(s) URL, without query or fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise LifecycleError(
            f"{where}: the status URL {url or 'an empty string'} is not an absolute https:// (or http://) URL "
            "without a query or fragment, such as https://issuer.example/status/",
            code=ErrorCode.STORE_ERROR,
        )
    return url if url.endswith("/") else url + "/"


def new_status_url(given: str | None, where: str) -> tuple[str, bool]:
    """The status URL of a new store: ``given``, or a placeholder with a random path (True: picked)."""
    if given is not None:
        return checked_status_url(given, where), False
    return f"https://{PLACEHOLDER_HOST}/{secrets.token_hex(8)}/", True


def placeholder_warning(where: str, url: str) -> None:
    """Warn (:class:`PlaceholderStatusUrlWarning`) that the new store ``where`` picked ``url``."""
    warnings.warn(
        PlaceholderStatusUrlWarning(
            f"{where} was given no status URL and picked the placeholder {url}: nothing can fetch status lists "
            "there, and every credential issued names it in its signed credentialStatus. Give the URL where you "
            "will publish them: open_store(..., status_url='https://issuer.example/status/'); to move this "
            "store: store.move_status_url(URL) (credentials issued before keep the old URL: re-issue them with "
            "Issuer.update)"
        ),
        stacklevel=4,
    )


def refuse_other_url(where: str, stored: str, given: str) -> LifecycleError:
    """The error of a store opened with another status URL than its own (details: ``stored_url``,
    ``status_url``, for a command line to say it in its own words).
    """
    return LifecycleError(
        f"{where} publishes status lists under {stored}, not {given}: every credential issued names its list's "
        f"URL in its signed credentialStatus. To publish new lists under {given}, open the store without "
        "status_url and call store.move_status_url(URL); credentials issued before keep the old URL until "
        "re-issued (Issuer.update)",
        code=ErrorCode.STORE_ERROR,
        stored_url=stored,
        status_url=given,
    )


def moved(current: str, earlier_json: str | None, new: str) -> tuple[str, tuple[str, ...]]:
    """After a move from ``current`` to ``new``: the meta row of earlier URLs, and the URLs."""
    earlier = [url for url in earlier_urls(earlier_json) if url != new]
    if current != new and current not in earlier:
        earlier.append(current)
    return json.dumps(earlier), tuple(earlier)


def earlier_urls(earlier_json: str | None) -> tuple[str, ...]:
    """The earlier status URLs a meta row lists (oldest first)."""
    if earlier_json is None:
        return ()
    found = json.loads(earlier_json)
    return tuple(str(url) for url in found) if isinstance(found, list) else ()


# --- what both stores share: tables, statements, rows --------------------------------------------

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

# The statements both stores run, with SQLite's "?" parameters (PostgreSQL's store swaps in "%s").
INSERT_CERTIFICATE: Final = f"INSERT INTO certificates ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"
SAVE_CERTIFICATE: Final = "UPDATE certificates SET state = ?, replaced_by = ?, suspended_until = ?, reason = ?, updated_at = ? WHERE certificate_id = ?"
INSERT_ISSUE_KEY: Final = "INSERT INTO issue_keys VALUES (?, ?)"
INSERT_FAILURE: Final = "INSERT INTO failed_transactions VALUES (?, ?, ?, ?, ?)"
SELECT_FAILURE: Final = "SELECT transaction_id, entity_type, certificate_id, reason, created_at FROM failed_transactions WHERE transaction_id = ?"


def save_args(record: Record) -> tuple[Any, ...]:
    """The parameters of :data:`SAVE_CERTIFICATE`."""
    return (
        record.state,
        record.replaced_by,
        record.suspended_until,
        record.reason,
        record.updated_at,
        record.certificate_id,
    )


def _reason_json(reason: Mapping[str, Any]) -> str:
    return json.dumps(dict(reason), ensure_ascii=False, separators=(",", ":"), default=str)


def _failure(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "transactionId": row[0],
        "entityType": row[1],
        "certificateId": row[2],
        "reason": json.loads(row[3]),
        "createdAt": row[4],
    }


def credential_json(credential: dict[str, Any]) -> str:
    """A credential as the store writes it: compact JSON, UTF-8 as is."""
    return compact(credential)


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


# --- SQLite's queries: a record, IN queries in parts, inserts of many rows -----------------------

_T = TypeVar("_T")


def ids_taken(connection: sqlite3.Connection, certificate_ids: Sequence[str]) -> set[str]:
    """Those of ``certificate_ids`` in the store, in statements of at most 500 parameters."""
    taken: set[str] = set()
    for part in parts(certificate_ids):
        query = f"SELECT certificate_id FROM certificates WHERE certificate_id IN ({', '.join('?' * len(part))})"
        taken.update(row[0] for row in connection.execute(query, part))
    return taken


def indexes_taken(connection: sqlite3.Connection, list_number: int, indexes: Sequence[int]) -> Iterator[int]:
    """Those of ``indexes`` of list set ``list_number`` that certificates hold."""
    for part in parts(indexes):
        marks = ", ".join("?" * len(part))
        query = f"SELECT status_index FROM certificates WHERE status_list = ? AND status_index IN ({marks})"
        yield from (row[0] for row in connection.execute(query, (list_number, *part)))


def one_record(connection: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> Record | None:
    """The record of the certificate that ``where`` finds (SQLite's parameters), or None."""
    row = connection.execute(f"SELECT {_COLUMNS} FROM certificates WHERE {where}", args).fetchone()
    return None if row is None else _record(row)


_MAX_PARAMETERS: Final = 999
"""The most "?" parameters :func:`insert_rows` puts in one statement (SQLite's limit before 3.32)."""


def insert_rows(connection: sqlite3.Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``rows`` through ``statement`` (an INSERT of one row of "?"s), many rows to a statement.

    ``executemany`` binds and steps each row on its own; one statement of many rows costs 4.6
    us a certificate row where ``executemany`` costs 6.7 (20,000 rows in transactions of 500,
    timed by hand). Only full statements of as many rows as :data:`_MAX_PARAMETERS` hold are
    made so: the rest goes through ``executemany``. A statement for every row count crowded the
    connection's statement cache, and the server's group commits, of 1 to 16 rows, slowed by 7%
    recompiling them.
    """
    if not rows:
        return
    per_statement = max(1, _MAX_PARAMETERS // len(rows[0]))
    full = len(rows) - len(rows) % per_statement
    if full:
        head, _, values = statement.partition(" VALUES ")
        many = f"{head} VALUES {', '.join([values] * per_statement)}"
        for start in range(0, full, per_statement):
            connection.execute(many, [value for row in rows[start : start + per_statement] for value in row])
    connection.executemany(statement, rows[full:])


def parts(values: Sequence[_T], size: int = 500) -> Iterator[list[_T]]:
    """``values`` in lists of at most ``size`` (SQLite limits the parameters of one statement)."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])

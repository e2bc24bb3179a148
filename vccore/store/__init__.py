"""Issuance records and status-list positions: the :class:`Store` interface and :func:`open_store`.

A store keeps, per certificate: its certificateId and transactionId, entity type, the signed
credential, its status-list position, its state (VALID, SUPERSEDED, REVOKED, SUSPENDED, with a
suspension's end), the certificate it replaces and the one that replaced it, and timestamps.
Every change happens in one transaction (:meth:`Store.transaction`): all of it, or none.

Two stores implement the interface: :class:`SQLiteStore` (one file, one writer at a time) and
:class:`vccore.store.postgres.PostgresStore` (many issuing processes on many machines);
:func:`open_store` picks one from a path or a ``postgresql://`` URL. Both keep their schema
version in the store and upgrade an older store by running the missing migrations, in order, in
one transaction (:func:`migrate`).

The package's rooms, each importing only rooms named before it: ``_interface`` (the record, the
protocols and :class:`LifecycleError`), ``_schema`` (schema versions and migrations, the SQL and
row mapping both stores share), ``_outbox`` (the webhook messages committed with what they tell,
and the outbox operations both stores share), ``_entity_types`` (entity types made at run time
and uploaded documents, the operations both stores share), ``_positions`` (status positions: their permutation, and the pool
that reserves them in blocks), then the stores, ``sqlite`` and ``postgres``. This face imports
``postgres`` only inside :func:`open_store` (psycopg is the optional ``vccore[postgresql]`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .. import _json
from ..codes import ErrorCode
from ..errors import LifecycleError
from ._entity_types import StoredDocument, StoredEntityType
from ._interface import Record, RecordDict, RecordState, RecordSummary, Store, StoreTransaction
from ._outbox import Notification, OutboxMessage, notification
from ._positions import LIST_SIZE, MAX_BLOCK, permute
from ._schema import (
    PLACEHOLDER_HOST,
    Migration,
    PlaceholderStatusUrlWarning,
    check_version,
    checked_status_url,
    credential_json,
    is_placeholder,
    migrate,
    status_url_argument,
)
from .sqlite import SQLiteStore

__all__ = [
    "LIST_SIZE",
    "MAX_BLOCK",
    "PLACEHOLDER_HOST",
    "LifecycleError",
    "Migration",
    "Notification",
    "OutboxMessage",
    "PlaceholderStatusUrlWarning",
    "Record",
    "RecordDict",
    "RecordState",
    "RecordSummary",
    "SQLiteStore",
    "Store",
    "StoreTransaction",
    "StoredDocument",
    "StoredEntityType",
    "check_version",
    "checked_status_url",
    "credential_json",
    "is_placeholder",
    "list_of",
    "look_up",
    "migrate",
    "notification",
    "open_store",
    "permute",
    "record_at",
    "record_of_credential",
]


def open_store(
    location: str | os.PathLike[str],
    *,
    status_url: str | None = None,
    read_only: bool = False,
    status_base_url: str | None = None,
) -> Store:
    """The store at ``location``: a ``postgresql://`` (or ``postgres://``) URL opens a
    :class:`vccore.store.postgres.PostgresStore` (the ``vccore[postgresql]`` extra), anything else is
    the path of a :class:`SQLiteStore` file.

    ``status_url``: where the store's status lists will be published, given when the store is
    made (a store opened later with another URL is refused; :meth:`Store.move_status_url` moves
    it). Without it a new store picks a placeholder under ``status.vccore.invalid``, which nothing
    can fetch, and warns (:class:`PlaceholderStatusUrlWarning`). ``status_base_url`` is the old,
    deprecated name of ``status_url``.
    """
    given = status_url_argument(status_url, status_base_url, "open_store")
    text = os.fspath(location)
    scheme, sep, _ = text.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres"):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise LifecycleError(
                f"a PostgreSQL store needs psycopg: pip install 'vccore[postgresql]' ({exc})",
                code=ErrorCode.STORE_ERROR,
            ) from None
        return PostgresStore(text, status_url=given, read_only=read_only)
    if sep:
        raise LifecycleError(
            f"unknown store URL scheme {scheme!r}: a store is a postgresql:// URL or the path of an SQLite file",
            code=ErrorCode.STORE_ERROR,
        )
    if text == ":memory:" or text.startswith("file:"):
        # sqlite3 reads these as an in-memory or URI database; vccore's store is a file beside
        # its lock file, and would quietly make a file named ":memory:" in the current folder
        raise LifecycleError(
            f"{text!r}: vccore's SQLite store is a file (its records must outlive the process): give the "
            "path of one (a temporary folder's, for a throwaway store)",
            code=ErrorCode.STORE_ERROR,
        )
    return SQLiteStore(text, status_url=given, read_only=read_only)


def list_of(store: Store, status_list_credential: str) -> tuple[int, str] | None:
    """The list set and purpose of ``store``'s list at ``status_list_credential``: under its status
    URL, or one it had before a move (None: not this store's list). Lists are published at
    ``<status URL><list set>/<purpose>``; the longest status URL a URL lies under is its own.
    """
    for base in sorted((store.status_url, *store.earlier_status_urls), key=len, reverse=True):
        if status_list_credential.startswith(base):
            list_set, _, purpose = status_list_credential[len(base) :].partition("/")
            if not (
                0 < len(list_set) <= 9 and list_set.isascii() and list_set.isdigit()
            ):  # a list set, not a 10,000-digit int
                return None
            return (int(list_set), purpose) if purpose and "/" not in purpose else None
    return None


def look_up(store: Store, keys: Sequence[str], certificate_ids: Sequence[str]) -> tuple[dict[str, Record], set[str]]:
    """``store.get_by_keys(keys)`` and ``store.certificate_ids_taken(certificate_ids)``: in one round
    trip on a store that can (PostgreSQL's ``look_up``), else one after the other.
    """
    both = getattr(store, "look_up", None)
    if both is not None:
        answer: tuple[dict[str, Record], set[str]] = both(keys, certificate_ids)
        return answer
    found = store.get_by_keys(keys) if keys else {}
    taken = store.certificate_ids_taken(certificate_ids) if certificate_ids else set()
    return found, taken


def record_at(store: Store, status_list_credential: str, index: int) -> Record | None:
    """The record at ``index`` of the status list at ``status_list_credential``, when that list is
    one of ``store``'s (:func:`list_of`; None: not this store's list, or no record there).
    """
    found = list_of(store, status_list_credential)
    return store.get_by_position(found[0], index) if found is not None else None


def record_of_credential(store: Store, credential: Mapping[str, Any]) -> Record | None:
    """The issuer's record of this very credential (found at the status list positions it names,
    and the same credential as recorded), else None.
    """
    for entry in _json.as_list(credential.get("credentialStatus")):
        if not isinstance(entry, Mapping):
            continue
        url, index = entry.get("statusListCredential"), entry.get("statusListIndex")
        if not (isinstance(url, str) and isinstance(index, str) and index.isascii() and index.isdigit()):
            continue
        record = record_at(store, url, int(index))
        if record is not None and record.credential == credential:
            return record
    return None

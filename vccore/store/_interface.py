"""The store interface: a certificate's :class:`Record` and its :class:`RecordState` and the :class:`Store` protocols."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypedDict

from .. import _datetime

if TYPE_CHECKING:
    from ._entity_types import StoredDocument, StoredEntityType
    from ._outbox import Notification, OutboxMessage


class RecordState(StrEnum):
    """A certificate's state in the store (its JSON is the value: ``"VALID"``, ...)."""

    VALID = "VALID"
    SUPERSEDED = "SUPERSEDED"
    """Replaced by an update: the record's ``replaced_by`` names the successor."""
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    """Until unsuspended, or until ``suspended_until`` (then it has lapsed: VALID again)."""

    @classmethod
    def _missing_(cls, value: object) -> None:
        raise ValueError(f"unknown certificate state {value!r} (known: {', '.join(cls)})")


@dataclass(frozen=True, slots=True)
class Record:
    """What the store knows of one certificate. ``state`` may be given as its string value."""

    certificate_id: str
    transaction_id: str
    entity_type: str
    credential: dict[str, Any]
    status_list: int
    status_index: int
    state: RecordState
    created_at: str
    updated_at: str
    replaces: str | None = None
    replaced_by: str | None = None
    suspended_until: str | None = None
    reason: str | None = None
    credential_json: str | None = field(default=None, compare=False, repr=False)
    """The credential as the store writes it (compact JSON), when made beforehand: a batch
    serializes outside the transaction, so that the write lock is held for less time."""

    def __post_init__(self) -> None:
        if type(self.state) is not RecordState:  # its string value (as a store row holds it)
            object.__setattr__(self, "state", RecordState(self.state))

    def effective_state(self, now: datetime) -> RecordState:
        """The state at ``now``: a suspension whose end has passed has lapsed (VALID)."""
        if (
            self.state is RecordState.SUSPENDED
            and self.suspended_until is not None
            and _datetime.parse(self.suspended_until) <= now
        ):
            return RecordState.VALID
        return self.state

    def to_dict(self) -> RecordDict:
        """JSON-ready form (camelCase, as DIVOC's API spells it)."""
        return {**self.summary(), "credential": self.credential}

    def summary(self) -> RecordSummary:
        """JSON-ready form without the credential (what a status change answers)."""
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
        }


class RecordSummary(TypedDict):
    """A :class:`Record` as JSON, without its credential (:meth:`Record.summary`)."""

    certificateId: str
    transactionId: str
    entityType: str
    state: RecordState
    statusList: int
    statusListIndex: int
    replaces: str | None
    replacedBy: str | None
    suspendedUntil: str | None
    reason: str | None
    createdAt: str
    updatedAt: str


class RecordDict(RecordSummary):
    """A :class:`Record` as JSON (:meth:`Record.to_dict`)."""

    credential: dict[str, Any]


class StoreTransaction(Protocol):
    """The operations of one store transaction."""

    def get(self, certificate_id: str) -> Record | None: ...

    def certificate_id_taken(self, certificate_id: str) -> bool: ...

    def allocate_status_position(self) -> tuple[int, int]: ...

    def allocate_status_positions(self, count: int) -> list[tuple[int, int]]:
        """``count`` positions at once (what ``count`` calls of :meth:`allocate_status_position` give)."""

    def reserve_ahead(self, count: int) -> None:
        """Reserve positions with this transaction until the store object holds ``count`` unused
        ones: what its next ``allocate_status_positions(count)`` outside a transaction takes
        without a transaction (and, in SQLite, an fsync) of its own.
        """

    def insert(self, record: Record) -> None: ...

    def record_key(self, key: str, certificate_id: str) -> None:
        """Remember that the issue named ``key`` (an idempotency key) made ``certificate_id``."""

    def certificate_for_key(self, key: str) -> str | None:
        """The certificateId the issue named ``key`` made, if any."""

    def save(self, record: Record) -> None: ...

    def notify(self, message: Notification) -> None:
        """Put ``message`` in the outbox, committed with this transaction (or not at all)."""

    def certificate_ids_taken(self, certificate_ids: Sequence[str]) -> set[str]:
        """Those of ``certificate_ids`` that are taken (one query for many, where the store can)."""
        return {c for c in certificate_ids if self.certificate_id_taken(c)}

    def certificates_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """Key -> the certificateId its issue made, for those of ``keys`` that made one."""
        found = {key: self.certificate_for_key(key) for key in keys}
        return {key: made for key, made in found.items() if made is not None}

    def insert_many(self, records: Sequence[tuple[Record, str | Sequence[str] | None]]) -> Refused:
        """:meth:`insert` each record and :meth:`record_key` its idempotency keys (a key, several,
        or None: none), but for those whose certificateId or one of whose keys is taken, by a
        transaction committed before or by one running beside this one (waited for: what it
        commits counts): those are left out, whole, and named in the answer.
        """
        ids: set[str] = set()
        keys: dict[str, str] = {}
        for record, given in records:
            earlier = {key: made for key in keys_of(given) if (made := self.certificate_for_key(key)) is not None}
            if earlier:
                keys.update(earlier)
            elif self.certificate_id_taken(record.certificate_id):
                ids.add(record.certificate_id)
            else:
                self.insert(record)
                for key in keys_of(given):
                    self.record_key(key, record.certificate_id)
        return Refused(frozenset(ids), keys)


def keys_of(given: str | Sequence[str] | None) -> tuple[str, ...]:
    """The idempotency keys of a record given to :meth:`StoreTransaction.insert_many`."""
    return () if given is None else (given,) if isinstance(given, str) else tuple(given)


class Refused(NamedTuple):
    """What :meth:`StoreTransaction.insert_many` left out."""

    certificate_ids: frozenset[str]
    """Records not stored: their certificateId is another certificate's."""
    keys: Mapping[str, str]
    """Records not stored: their idempotency key made this certificate (key -> its certificateId)."""


class Store(Protocol):
    """Issuance records, behind transactions; SQLite here, PostgreSQL for many workers."""

    picked_status_url: bool
    """Whether opening this store made it and picked a placeholder status URL (with a warning)."""

    @property
    def status_url(self) -> str:
        """Where the store's status lists are published: what new credentials name."""

    @property
    def status_base_url(self) -> str:
        """The old name of :attr:`status_url`."""

    @property
    def earlier_status_urls(self) -> tuple[str, ...]:
        """The status URLs of the store before a move (oldest first): credentials issued then name them."""

    def move_status_url(self, status_url: str) -> None:
        """Publish status lists under ``status_url`` from now on: new credentials name it, and
        every list is published under it and under each earlier URL (credentials issued before
        keep theirs, signed; re-issue them to move them). Nothing stored is changed but the URL.
        Other processes with this store open keep the URL they read until opened again.
        """

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
        runs short. Not to be called inside :meth:`transaction` (use the transaction's own).
        """

    def list_sets(self) -> list[int]: ...

    def status_rows(self, status_list: int) -> Iterator[tuple[int, str, str | None]]: ...

    def bind_issuer(self, issuer: str) -> None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...

    def record_failure(
        self,
        transaction_id: str,
        entity_type: str,
        certificate_id: str | None,
        reason: Mapping[str, Any],
        at: str,
        *,
        notify: Notification | None = None,
    ) -> None:
        """Remember a request that made no certificate (``reason``: the error, JSON-ready), and
        put ``notify`` in the outbox in the same transaction.
        """

    def claim_notifications(self, *, limit: int, lease: float, now: float) -> list[OutboxMessage]:
        """Up to ``limit`` due outbox messages, claimed until ``now + lease`` (seconds since 1970)."""

    def notification_delivered(self, message_id: int) -> None:
        """The receiver took the message: it leaves the outbox."""

    def notification_failed(self, message_id: int, *, error: str, retry_at: float) -> None:
        """The message was not taken (``error``): due again at ``retry_at``."""

    def next_notification_at(self) -> float | None:
        """When the next outbox message is due, or its lease runs out (None: none)."""

    def pending_notifications(self) -> list[dict[str, Any]]:
        """The outbox messages not yet delivered, oldest first."""

    def get_failure(self, transaction_id: str) -> dict[str, Any] | None:
        """``{transactionId, entityType, certificateId, reason, createdAt}`` of a failed request."""

    def put_entity_type(
        self,
        name: str,
        files: Mapping[str, bytes],
        *,
        schema_id: str,
        record: Mapping[str, Any],
        version: int,
        at: str,
    ) -> None:
        """Keep version ``version`` of the entity type ``name`` made at run time (its folder's
        ``files``, the schema ``record`` it came from): 1 makes it, n replaces version n - 1;
        INVALID_TRANSITION when the store holds another version (a change made meanwhile).
        """

    def entity_types(self) -> list[StoredEntityType]:
        """The entity types made at run time, by name."""

    def put_document(self, document_id: str, kind: str, media_type: str, data: bytes, *, at: str) -> StoredDocument:
        """Keep an uploaded document (a context, a template) under ``document_id``, never to change."""

    def get_document(self, document_id: str) -> StoredDocument | None:
        """The document kept under ``document_id``."""

    @property
    def location(self) -> str:
        """Where the store is, for messages (a URL without its password)."""

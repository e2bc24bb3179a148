"""The outbox: messages for a tenant's webhook, written in the transaction whose outcome they tell.

A message is committed with the certificate it announces (or with the recorded failure of a
refused request), so none is sent for what was never committed and none is lost when the process
dies after the commit. A worker (:mod:`vccore.http.webhook`) claims due messages for a lease,
posts them, and deletes each one its receiver took; a message whose lease runs out (its worker
died, or hung) is claimed again: delivery is at least once.

The body is DIVOC's (``backend/vc-certify-consumer/main.js``, ``processPostVCCertifyMessage``):
``{transactionId, certificateId, status, payload, entityType}``, ``status`` SUCCESSFUL or
UNSUCCESSFUL and ``payload`` the request's payload as JSON text, its certificateId the
certificate made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Literal

from ._schema import INSERT_FAILURE
from ._schema import _reason_json as reason_json

__all__ = ["Notification", "OutboxMessage", "notification"]

SUCCESSFUL: Final = "SUCCESSFUL"
UNSUCCESSFUL: Final = "UNSUCCESSFUL"

# schema 3. ``next_at`` (seconds since 1970) is when the message may next be claimed: when it is
# due, or when the lease of the worker that claimed it runs out; a delivered message is deleted.
_OUTBOX_COLUMNS: Final = """
    callback TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION NOT NULL,
    last_error TEXT
)"""
TABLE_OUTBOX_SQLITE: Final = "CREATE TABLE outbox (\n    id INTEGER PRIMARY KEY," + _OUTBOX_COLUMNS
TABLE_OUTBOX_POSTGRES: Final = (
    "CREATE TABLE outbox (\n    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY," + _OUTBOX_COLUMNS
)
INDEX_OUTBOX: Final = "CREATE INDEX outbox_next ON outbox (next_at)"

INSERT_NOTIFICATION: Final = "INSERT INTO outbox (callback, body, created_at, next_at) VALUES (?, ?, ?, ?)"


@dataclass(frozen=True, slots=True)
class Notification:
    """A message for the webhook named ``callback`` (an entity type, or ``*``), ``body`` its JSON text."""

    callback: str
    body: str
    created_at: str
    """When it was made (ISO 8601): it is due at once."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message claimed from the outbox: ``attempts`` counts this one."""

    id: int
    callback: str
    body: str
    attempts: int


def notification(
    callback: str,
    *,
    transaction_id: str,
    certificate_id: str | None,
    status: Literal["SUCCESSFUL", "UNSUCCESSFUL"],
    payload: Any,
    entity_type: str,
    at: str,
) -> Notification:
    """DIVOC's webhook message for one certify or update request. A successful one's payload
    carries the certificateId made (DIVOC sets it on the payload before it posts it).
    """
    if status == SUCCESSFUL and isinstance(payload, Mapping):
        payload = {**payload, "certificateId": certificate_id}
    body = {
        "transactionId": transaction_id,
        "certificateId": certificate_id,
        "status": status,
        "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str),
        "entityType": entity_type,
    }
    return Notification(callback, json.dumps(body, ensure_ascii=False, separators=(",", ":")), at)


def insert_args(message: Notification) -> tuple[Any, ...]:
    """The parameters of :data:`INSERT_NOTIFICATION` (due at once: next_at 0)."""
    return (message.callback, message.body, message.created_at, 0.0)


class Outbox:
    """The outbox operations both stores share, over their write transaction (``_write``), their
    connection for reads (``_connection``) and parameter marks (``_marks``). Each write runs in a
    short transaction of its own; reads take no lock.
    """

    _write: Callable[[], AbstractContextManager[Any]]
    _connection: Callable[[], Any]
    _claim_lock: str = ""
    """What PostgreSQL adds to the claim's inner SELECT (FOR UPDATE SKIP LOCKED): two workers
    claim different messages. SQLite writes one transaction at a time anyway.
    """

    def _marks(self, sql: str) -> str:
        """``sql`` with the store's parameter marks (SQLite's "?" as written)."""
        return sql

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
        """Remember a request that made no certificate, and ``notify`` in the same transaction."""
        with self._write() as connection:
            connection.execute(
                self._marks(INSERT_FAILURE), (transaction_id, entity_type, certificate_id, reason_json(reason), at)
            )
            if notify is not None:
                connection.execute(self._marks(INSERT_NOTIFICATION), insert_args(notify))

    def claim_notifications(self, *, limit: int, lease: float, now: float) -> list[OutboxMessage]:
        """Up to ``limit`` due messages, oldest first, claimed until ``now + lease`` (another
        worker claims them again after that); each claim counts as an attempt.
        """
        sql = self._marks(
            "UPDATE outbox SET next_at = ?, attempts = attempts + 1 WHERE id IN "
            f"(SELECT id FROM outbox WHERE next_at <= ? ORDER BY next_at, id LIMIT ?{self._claim_lock}) "
            "RETURNING id, callback, body, attempts"
        )
        with self._write() as connection:
            rows = connection.execute(sql, (now + lease, now, limit)).fetchall()
        return sorted((OutboxMessage(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows), key=lambda m: m.id)

    def notification_delivered(self, message_id: int) -> None:
        """The receiver took the message: it leaves the outbox."""
        with self._write() as connection:
            connection.execute(self._marks("DELETE FROM outbox WHERE id = ?"), (message_id,))

    def notification_failed(self, message_id: int, *, error: str, retry_at: float) -> None:
        """The message was not taken (``error`` says why): it is due again at ``retry_at``."""
        with self._write() as connection:
            connection.execute(
                self._marks("UPDATE outbox SET next_at = ?, last_error = ? WHERE id = ?"),
                (retry_at, error, message_id),
            )

    def next_notification_at(self) -> float | None:
        """When the next message is due or its lease runs out (None: the outbox is empty)."""
        row = self._connection().execute("SELECT min(next_at) FROM outbox").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def pending_notifications(self) -> list[dict[str, Any]]:
        """The messages not yet delivered, oldest first: ``{id, callback, body, createdAt,
        attempts, nextAt, lastError}`` (for an operator, and for tests).
        """
        rows = (
            self._connection()
            .execute("SELECT id, callback, body, created_at, attempts, next_at, last_error FROM outbox ORDER BY id")
            .fetchall()
        )
        keys = ("id", "callback", "body", "createdAt", "attempts", "nextAt", "lastError")
        return [dict(zip(keys, row, strict=True)) for row in rows]

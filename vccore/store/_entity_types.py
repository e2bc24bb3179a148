"""Entity types made while a server runs, and the documents they use, kept in the store.

DIVOC's tenants make and change their schemas at run time (``/vc-management/v1/schema``), and
upload the contexts and certificate templates those schemas name. A server keeps each imported
type as its folder's files (what :func:`vccore.entity_import.import_schema` makes), with the
schema record it came from and a version that every change moves on by one, so that a server
started later on the same store serves the same types, and two servers on one store cannot
overwrite each other's change unseen. A document (a context, a template) is kept under its id,
as uploaded; it is never changed under that id.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final

from ..codes import ErrorCode
from ..errors import LifecycleError

__all__ = ["StoredDocument", "StoredEntityType"]

# schema 4. ``files``: the type folder's files as a JSON object of name -> base64; ``record``: the
# schema record (DIVOC's ``{name, schema, status}``) as JSON text.
TABLE_ENTITY_TYPES: Final = """CREATE TABLE entity_types (
    name TEXT PRIMARY KEY,
    schema_id TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL,
    files TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)"""
# ``data`` is base64: both stores read and write it as text alike.
TABLE_DOCUMENTS: Final = """CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    media_type TEXT NOT NULL,
    data TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""

_TYPE_COLUMNS: Final = "name, schema_id, record, files, version, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class StoredEntityType:
    """An entity type made at run time: its folder's ``files``, the schema ``record`` it was
    imported from, its ``schema_id`` (DIVOC's osid, without ``1-``) and ``version`` (1, 2, ...).
    """

    name: str
    schema_id: str
    record: Mapping[str, Any]
    files: Mapping[str, bytes]
    version: int
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """An uploaded document (``kind``: ``context`` or ``template``), its bytes as uploaded."""

    id: str
    kind: str
    media_type: str
    data: bytes
    sha256: str
    created_at: str


def _type(row: tuple[Any, ...]) -> StoredEntityType:
    files = {name: base64.b64decode(data) for name, data in json.loads(row[3]).items()}
    return StoredEntityType(row[0], row[1], json.loads(row[2]), files, int(row[4]), row[5], row[6])


class EntityTypes:
    """The entity type and document operations both stores share, over their write transaction
    (``_write``), their connection for reads (``_connection``) and parameter marks (``_marks``).
    """

    _write: Callable[[], AbstractContextManager[Any]]
    _connection: Callable[[], Any]

    def _marks(self, sql: str) -> str:
        return sql

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
        """Keep version ``version`` of entity type ``name``: 1 makes it, which fails if there is
        one of that name; n replaces version n - 1, which fails if the stored version is another
        (a change made meanwhile elsewhere). Both failures are INVALID_TRANSITION.
        """
        files_json = json.dumps({k: base64.b64encode(v).decode("ascii") for k, v in files.items()}, sort_keys=True)
        record_json = json.dumps(dict(record), ensure_ascii=False, separators=(",", ":"))
        with self._write() as connection:
            if version == 1:
                cursor = connection.execute(
                    self._marks(
                        f"INSERT INTO entity_types ({_TYPE_COLUMNS}) VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING"
                    ),
                    (name, schema_id, record_json, files_json, at, at),
                )
            else:
                cursor = connection.execute(
                    self._marks(
                        "UPDATE entity_types SET record = ?, files = ?, version = ?, updated_at = ? "
                        "WHERE name = ? AND schema_id = ? AND version = ?"
                    ),
                    (record_json, files_json, version, at, name, schema_id, version - 1),
                )
            if cursor.rowcount != 1:
                raise LifecycleError(
                    f"entity type {name} was made or changed meanwhile (version {version} cannot be stored): "
                    "read it again and send the change again",
                    code=ErrorCode.INVALID_TRANSITION,
                    entity=name,
                    version=version,
                )

    def entity_types(self) -> list[StoredEntityType]:
        """Every entity type made at run time, by name."""
        rows = self._connection().execute(f"SELECT {_TYPE_COLUMNS} FROM entity_types ORDER BY name").fetchall()
        return [_type(tuple(row)) for row in rows]

    def put_document(self, document_id: str, kind: str, media_type: str, data: bytes, *, at: str) -> StoredDocument:
        """Keep ``data`` under ``document_id``; what is there already stays as it is (an id names
        one document for good). Returns what the store holds under the id.
        """
        digest = hashlib.sha256(data).hexdigest()
        with self._write() as connection:
            connection.execute(
                self._marks("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                (document_id, kind, media_type, base64.b64encode(data).decode("ascii"), digest, at),
            )
        found = self.get_document(document_id)
        assert found is not None  # written above, or there before
        return found

    def get_document(self, document_id: str) -> StoredDocument | None:
        """The document kept under ``document_id``."""
        row = (
            self._connection()
            .execute(
                self._marks("SELECT id, kind, media_type, data, sha256, created_at FROM documents WHERE id = ?"),
                (document_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return StoredDocument(row[0], row[1], row[2], base64.b64decode(row[3]), row[4], row[5])

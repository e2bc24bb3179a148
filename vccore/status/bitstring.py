"""W3C Bitstring Status List v1.0: the bitstring, its entries in credentials, its credentials.

vccore's status model (one position per credential, shared by three lists of one "list set"):

- ``revocation``: set when the credential is revoked or superseded: any verifier that knows the
  spec's revocation purpose refuses it;
- ``suspension``: set while the credential is suspended; a suspension with an end date is listed,
  with that date, in the suspension list credential (``suspensions``), and lapses by itself at
  the verifier's clock;
- ``message`` (statusSize 1, messages ``0x0`` "not superseded", ``0x1`` "superseded"): why the
  revocation bit is set. One bit keeps to the spec (statusSize 2 would need four messages) and to
  Digital Bazaar's reader, which ignores statusSize.

A fourth list of the set, ``state`` (purpose ``message``, statusSize 2, two bits per entry at
bits ``2*index`` and ``2*index+1``), says the same thing the spec's multi-bit way, in one entry:
``0x0`` valid, ``0x1`` suspended, ``0x2`` revoked, ``0x3`` superseded (:data:`STATE_MESSAGES`).
The high bit is the revocation list's bit (set for revoked and superseded alike: final), the low
bit tells suspended from valid, or superseded from revoked. The list is derived from the other
three (:func:`vccore.status.state_lists`), so it never says anything they do not. Credentials
carry its entry only when asked (``add_lifecycle(..., purposes=(..., "state"))``, the VC API's
``options.credentialStatus``); the three one-bit entries stay the default.
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NotRequired, TypedDict

from .. import _multibase
from .._json import one_or_many
from ..codes import ErrorCode
from ..errors import StatusError

__all__ = [
    "MESSAGES",
    "MIN_LIST_LENGTH",
    "STATE_LIST",
    "STATE_MESSAGES",
    "STATE_REFERENCE",
    "STATE_SIZE",
    "Bitstring",
    "StatusEntry",
    "StatusError",
    "StatusMessage",
    "add_lifecycle",
    "state_entry",
    "status_entry",
    "status_list_credential",
]

MIN_LIST_LENGTH: Final = 131_072
"""The spec's minimum list length in bits (16 KiB), for herd privacy."""
# A status list larger than this (decompressed) is refused: 2**24 bytes is 134 million entries.
MAX_LIST_BYTES: Final = 2**24
STATUS_CONTEXT: Final = "https://www.w3.org/ns/credentials/status/v1"
LIFECYCLE_CONTEXT: Final = "https://vccore.dev/credentials/lifecycle/v1"
MESSAGES: Final = (("0x0", "not superseded"), ("0x1", "superseded"))
PURPOSES: Final = ("revocation", "suspension", "message")
STATE_LIST: Final = "state"
"""The name (in its URL, ``<base><set>/state``) of the list set's two-bit list of states."""
STATE_SIZE: Final = 2
STATE_MESSAGES: Final = (("0x0", "valid"), ("0x1", "suspended"), ("0x2", "revoked"), ("0x3", "superseded"))
"""The state list's ``statusMessage`` values: status (2 bits, hexadecimal) -> the state."""
STATE_REFERENCE: Final = "https://vccore.dev/status/state/v1"
"""The state entry's ``statusReference``: where vccore documents the encoding above."""
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Bitstring:
    """An immutable bitstring; index 0 is the most significant bit of the first byte."""

    data: bytes
    length: int

    @classmethod
    def zeros(cls, length: int) -> Bitstring:
        """``length`` zero bits (a multiple of 8)."""
        if length <= 0 or length % 8:
            raise ValueError("a bitstring's length is a positive multiple of 8")
        return cls(bytes(length // 8), length)

    @classmethod
    def decode(cls, encoded: object, *, multibase: bool = True) -> Bitstring:
        """Decode ``encodedList``: ``u`` + base64url(GZIP(bits)) (Bitstring Status List section
        3.4, Bitstring Expansion), or bare base64url when ``multibase`` is False (StatusList2021).
        """
        if not isinstance(encoded, str) or not encoded:
            raise StatusError("encodedList must be a non-empty string")
        if multibase:
            if not encoded.startswith("u"):
                raise StatusError("encodedList must be multibase base64url (start with 'u')")
            encoded = encoded[1:]
        if not _BASE64URL.fullmatch(encoded) or len(encoded) % 4 == 1:
            raise StatusError("encodedList is not unpadded base64url")
        compressed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        try:
            # 16 + MAX_WBITS: a GZIP stream; max_length bounds a decompression bomb.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(compressed, MAX_LIST_BYTES + 1)
        except zlib.error as exc:
            raise StatusError(f"encodedList is not GZIP: {exc}") from None
        if len(data) > MAX_LIST_BYTES:
            raise StatusError(
                f"the status list is larger than {MAX_LIST_BYTES} bytes", code=ErrorCode.STATUS_LIST_LENGTH_ERROR
            )
        if not inflater.eof or inflater.unused_data:
            raise StatusError("encodedList is not one whole GZIP stream (truncated, or followed by other bytes)")
        if not data:
            raise StatusError("the status list is empty", code=ErrorCode.STATUS_LIST_LENGTH_ERROR)
        return cls(data, len(data) * 8)

    def encode(self) -> str:
        """``u`` + base64url(GZIP): deterministic (no timestamp)."""
        return "u" + _multibase.b64url_encode(gzip.compress(self.data, compresslevel=9, mtime=0))

    def get(self, index: int, size: int = 1) -> int:
        """The ``size``-bit value at entry ``index`` (bits ``index*size`` .. ``index*size+size-1``)."""
        start = index * size
        if index < 0 or start + size > self.length:
            raise StatusError(
                f"status index {index} (size {size}) is outside a list of {self.length} bits",
                code=ErrorCode.STATUS_LIST_LENGTH_ERROR,
            )
        if size == 1:  # (nearly every entry)
            return (self.data[index >> 3] >> (7 - (index & 7))) & 1
        value = 0
        for bit in range(start, start + size):
            value = (value << 1) | ((self.data[bit // 8] >> (7 - bit % 8)) & 1)
        return value

    def with_values(self, values: Mapping[int, int] | Iterable[tuple[int, int]], size: int = 1) -> Bitstring:
        """A copy with the entries in ``values`` (index -> value) set."""
        out = bytearray(self.data)
        items = values.items() if isinstance(values, Mapping) else values
        for index, value in items:
            start = index * size
            if index < 0 or start + size > self.length or not 0 <= value < 2**size:
                raise ValueError(f"entry {index} = {value} does not fit a list of {self.length} bits, size {size}")
            for offset in range(size):
                bit = start + offset
                mask = 1 << (7 - bit % 8)
                if (value >> (size - 1 - offset)) & 1:
                    out[bit // 8] |= mask
                else:
                    out[bit // 8] &= ~mask
        return Bitstring(bytes(out), self.length)

    def set_indices(self, size: int = 1) -> list[int]:
        """Indexes whose value is not zero."""
        if size == 1:
            return [
                byte_index * 8 + bit
                for byte_index, byte in enumerate(self.data)
                if byte
                for bit in range(8)
                if byte & (0x80 >> bit)
            ]
        return [i for i in range(self.length // size) if self.get(i, size)]


def list_url(base: str, list_number: int | str, purpose: str) -> str:
    """The URL of one status list credential: ``<base><set>/<purpose>``."""
    return f"{base}{list_number}/{purpose}"


class StatusMessage(TypedDict):
    """One of a message list's ``statusMessage`` values (section 2.1)."""

    status: str
    message: str


class StatusEntry(TypedDict):
    """A ``BitstringStatusListEntry`` (section 2.1), as :func:`status_entry` makes it."""

    id: str
    type: str
    statusPurpose: str
    statusListIndex: str
    statusListCredential: str
    statusSize: NotRequired[int]
    statusMessage: NotRequired[list[StatusMessage]]
    statusReference: NotRequired[str]


def status_entry(list_url: str, index: int | str, purpose: str) -> StatusEntry:
    """A ``BitstringStatusListEntry`` (section 2.1) for entry ``index`` of the list at ``list_url``."""
    entry: StatusEntry = {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }
    if purpose == "message":
        entry["statusSize"] = 1
        entry["statusMessage"] = [{"status": status, "message": message} for status, message in MESSAGES]
    return entry


def state_entry(list_url: str, index: int | str) -> StatusEntry:
    """The ``message`` entry (section 2.1) of entry ``index`` of a state list: statusSize 2, the four
    messages of :data:`STATE_MESSAGES` and their ``statusReference``.
    """
    entry: StatusEntry = {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": str(index),
        "statusListCredential": list_url,
        "statusSize": STATE_SIZE,
        "statusMessage": [{"status": status, "message": message} for status, message in STATE_MESSAGES],
        "statusReference": STATE_REFERENCE,
    }
    return entry


def status_list_credential(
    list_url: str,
    *,
    issuer: str,
    purpose: str,
    bits: Bitstring,
    valid_from: str,
    valid_until: str | None = None,
    suspensions: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` (section 2.2, VC 2.0).

    ``valid_until`` bounds how long a verifier may rely on it (a stale copy would hide later
    revocations); ``suspensions`` (index -> end date-time) lists suspensions that lapse by
    themselves.
    """
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": bits.encode(),
    }
    context: list[str] = ["https://www.w3.org/ns/credentials/v2"]
    if suspensions:
        context.append(LIFECYCLE_CONTEXT)
        subject["suspensions"] = [
            {"type": "Suspension", "statusListIndex": str(index), "suspendedUntil": until}
            for index, until in sorted(suspensions.items())
        ]
    credential: dict[str, Any] = {
        "@context": context,
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
    }
    if valid_until is not None:
        credential["validUntil"] = valid_until
    credential["credentialSubject"] = subject
    return credential


def add_lifecycle(
    credential: dict[str, Any],
    version: str,
    status_base: str,
    status_list: int | str,
    status_index: int | str,
    replaces: str | None,
    purposes: tuple[str, ...] = PURPOSES,
) -> None:
    """What the lifecycle adds to a rendered credential: its status entries (see
    :mod:`vccore.status`; ``purposes``: which of the list set's lists, :data:`PURPOSES` and
    :data:`STATE_LIST`) and, for a re-issue, the certificateId it replaces.
    """
    context = credential["@context"]
    contexts = credential["@context"] = list(one_or_many(context))  # a copy: it is added to
    if version == "1.1":
        contexts.append(STATUS_CONTEXT)
    credential["credentialStatus"] = [
        state_entry(list_url(status_base, status_list, STATE_LIST), status_index)
        if purpose == STATE_LIST
        else status_entry(list_url(status_base, status_list, purpose), status_index, purpose)
        for purpose in purposes
    ]
    if replaces is not None:
        contexts.append(LIFECYCLE_CONTEXT)
        credential["replaces"] = replaces

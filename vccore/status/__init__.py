"""Bitstring Status List v1.0 in vccore: the bitstring and its entries, publishing the lists, reading them.

- :mod:`.bitstring`: the bitstring, the status entries of a credential, the unsigned status list
  credential, and vccore's status model (three one-bit lists of one list set, and a two-bit list
  of states that says the same in one entry);
- :mod:`.publish`: an issuer's status positions as signed status list credentials (the state list
  read off the other three), and their export to a folder (what :class:`vccore.Issuer` publishes);
- :mod:`.resolve`: where a verifier finds status list credentials (a folder, a mapping, a callable);
- :mod:`.check`: status checking (section 3.2), run by :class:`vccore.verify.Verifier` (its names
  are the verifier's, not this face's).
"""

from __future__ import annotations

from .bitstring import (
    LIFECYCLE_CONTEXT,
    MAX_LIST_BYTES,
    MESSAGES,
    MIN_LIST_LENGTH,
    PURPOSES,
    STATE_LIST,
    STATE_MESSAGES,
    STATE_REFERENCE,
    STATE_SIZE,
    STATUS_CONTEXT,
    Bitstring,
    StatusEntry,
    StatusError,
    StatusMessage,
    add_lifecycle,
    list_url,
    state_entry,
    status_entry,
    status_list_credential,
)
from .publish import list_set_credentials, state_lists, write_status_lists
from .resolve import StatusResolver, StatusSource, status_resolver

__all__ = [
    "LIFECYCLE_CONTEXT",
    "MAX_LIST_BYTES",
    "MESSAGES",
    "MIN_LIST_LENGTH",
    "PURPOSES",
    "STATE_LIST",
    "STATE_MESSAGES",
    "STATE_REFERENCE",
    "STATE_SIZE",
    "STATUS_CONTEXT",
    "Bitstring",
    "StatusEntry",
    "StatusError",
    "StatusMessage",
    "StatusResolver",
    "StatusSource",
    "add_lifecycle",
    "list_set_credentials",
    "list_url",
    "state_entry",
    "state_lists",
    "status_entry",
    "status_list_credential",
    "status_resolver",
    "write_status_lists",
]

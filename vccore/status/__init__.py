"""Bitstring Status List v1.0 in vccore: the bitstring and its entries, publishing the lists, reading them.

- :mod:`.bitstring`: the bitstring, the status entries of a credential, the unsigned status list
  credential, and vccore's status model (three lists of one list set);
- :mod:`.publish`: an issuer's status positions as signed status list credentials, and their
  export to a folder (what :class:`vccore.Issuer` publishes);
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
    STATUS_CONTEXT,
    Bitstring,
    StatusEntry,
    StatusError,
    StatusMessage,
    add_lifecycle,
    list_url,
    status_entry,
    status_list_credential,
)
from .publish import list_set_credentials, write_status_lists
from .resolve import StatusResolver, StatusSource, status_resolver

__all__ = [
    "LIFECYCLE_CONTEXT",
    "MAX_LIST_BYTES",
    "MESSAGES",
    "MIN_LIST_LENGTH",
    "PURPOSES",
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
    "status_entry",
    "status_list_credential",
    "status_resolver",
    "write_status_lists",
]

"""Data Integrity ``eddsa-jcs-2022`` (W3C Data Integrity EdDSA Cryptosuites v1.0, section 3.4).

The transformation is JSON Canonicalization (RFC 8785), not RDF: what is signed is the JSON as
written. The proof carries the document's ``@context``; vccore verifies a proof only when that is
exactly the document's ``@context`` (the spec allows a document context that merely starts with
it, which would let contexts be appended after signing).
"""

from __future__ import annotations

from typing import Any

from .._jcs import canonicalize
from .._json import one_or_many
from .._vocab import CREDENTIALS_V2, DATA_INTEGRITY_V2
from ..codes import ErrorCode
from ..contexts import ContextLoader
from ..errors import ContextError
from ._base import Suite, sha256, sign_proof_value, verify_proof_value


def transform_jcs(document: Any, contexts: ContextLoader) -> str:
    """JCS text; every context URL must still be pinned (vccore never signs unknown vocabularies)."""
    context = document.get("@context") if isinstance(document, dict) else None
    for url in one_or_many(context):
        if isinstance(url, str) and url not in contexts:
            raise ContextError(
                f"context {url} is not pinned: vccore loads no context from the network",
                code=ErrorCode.UNKNOWN_CONTEXT,
                url=url,
            )
    return canonicalize(document)


EDDSA_JCS_2022 = Suite(
    name="eddsa-jcs-2022",
    proof_type="DataIntegrityProof",
    cryptosuite="eddsa-jcs-2022",
    algorithm="Ed25519",
    context=DATA_INTEGRITY_V2,
    contexts_defining_terms=frozenset({DATA_INTEGRITY_V2, CREDENTIALS_V2}),
    transform=transform_jcs,
    hash=sha256,
    sign=sign_proof_value,
    verify=verify_proof_value,
    proof_keeps_context=True,
)

"""The shape of a proof suite, and the pieces the Ed25519 RDFC suites share."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _multibase
from .._json import one_or_many
from ..canon import canonicalize
from ..contexts import ContextLoader
from ..errors import MalformedProofError, SigningError
from ..keys import PublicKey, Signer


@dataclass(frozen=True, slots=True)
class Suite:
    """A proof suite as a record of small functions (Data Integrity section 3).

    Verify data is ``hash(transform(proof configuration)) + hash(transform(document))`` for every
    suite vccore knows; the suites differ in their names, the context that defines their terms,
    the transformation, and how a signature is written into the proof.
    """

    name: str
    """What callers name in ``suites=``: the cryptosuite, or the proof type of a legacy suite."""
    proof_type: str
    cryptosuite: str | None
    algorithm: str
    """The :class:`~vccore.keys.Signer` algorithm the suite needs."""
    context: str
    """The context that defines the suite's terms; signing adds it when the document lacks it."""
    contexts_defining_terms: frozenset[str]
    """Contexts any one of which makes ``context`` unnecessary (``credentials/v2`` for DI proofs)."""
    transform: Callable[[Any, ContextLoader], str]
    hash: Callable[[bytes], bytes]
    sign: Callable[[Signer, bytes], dict[str, str]] | None
    """Sign verify data; the proof fields to add (``proofValue``). None: a verify-only suite."""
    verify: Callable[[PublicKey, bytes, Mapping[str, Any]], bool]
    """Check a proof's signature over verify data; MalformedProofError if it cannot be read."""
    signature_field: str = "proofValue"
    """The proof field that holds the signature: the only one left out of the proof configuration."""
    proof_keeps_context: bool = False
    proof_context: str | None = None
    """The context the proof configuration is canonicalized under, when not the document's: the
    2018 suites' jsonld-signatures put the proof options under security v2, whatever the document."""
    created_whole_seconds: bool = False
    """Whether a signed proof's ``created`` is whole seconds in UTC, whatever the caller gave: the
    2018 suites, as jsonld-signatures 6 formats its dates."""

    def matches(self, proof: Mapping[str, Any]) -> bool:
        """Whether ``proof`` was made with this suite."""
        if proof.get("type") != self.proof_type:
            return False
        return self.cryptosuite is None or proof.get("cryptosuite") == self.cryptosuite

    @property
    def canonicalizes_rdf(self) -> bool:
        """Whether the suite signs RDFC-1.0 canonical N-Quads (the others sign JCS text)."""
        return self.transform is transform_rdfc

    def terms_defined_by(self, context: Any) -> bool:
        """Whether a document ``@context`` defines this suite's terms (holds one of its contexts)."""
        items = one_or_many(context)
        return any(isinstance(c, str) and c in self.contexts_defining_terms for c in items)


def transform_rdfc(document: Any, contexts: ContextLoader) -> str:
    """RDFC-1.0 canonical N-Quads, safe mode on, base direction as ``i18n-datatype`` (what
    Digital Bazaar's eddsa-rdfc-2022 cryptosuite and jsonld-signatures 11 sign).
    """
    return canonicalize(document, contexts=contexts, safe=True, rdf_direction="i18n-datatype")


def sha256(data: bytes) -> bytes:
    """SHA-256 digest."""
    return hashlib.sha256(data).digest()


def sign_proof_value(signer: Signer, data: bytes) -> dict[str, str]:
    """``proofValue``: multibase base58btc of the raw Ed25519 signature."""
    signature = signer.sign(data)
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise SigningError(
            f"signer {signer.id} returned {len(signature) if isinstance(signature, bytes) else type(signature).__name__} bytes; an Ed25519 signature is 64"
        )
    return {"proofValue": _multibase.encode(signature)}


def verify_proof_value(key: PublicKey, data: bytes, proof: Mapping[str, Any]) -> bool:
    """Check ``proofValue`` (``z`` + base58btc of 64 signature bytes) against ``data``."""
    value = proof.get("proofValue")
    try:
        signature = _multibase.decode_base58btc(value)
    except ValueError as exc:
        raise MalformedProofError(f"proofValue: {exc}") from exc
    if len(signature) != 64:
        raise MalformedProofError(f"proofValue holds {len(signature)} bytes; an Ed25519 signature is 64")
    return key.verify(signature, data)

"""The shape of a proof suite, and the pieces the Ed25519 RDFC suites share."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _multibase
from ..canon import canonicalize
from ..contexts import ContextLoader
from ..errors import VccoreError
from ..keys import Ed25519Key, Signer


class MalformedProofError(VccoreError):
    """A proof's value cannot be decoded. Code ``MALFORMED_PROOF_ERROR``."""

    code = "MALFORMED_PROOF_ERROR"


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
    verify: Callable[[Ed25519Key, bytes, Mapping[str, Any]], bool]
    """Check a proof's signature over verify data; MalformedProofError if it cannot be read."""
    proof_keeps_context: bool = False

    def matches(self, proof: Mapping[str, Any]) -> bool:
        """Whether ``proof`` was made with this suite."""
        if proof.get("type") != self.proof_type:
            return False
        return self.cryptosuite is None or proof.get("cryptosuite") == self.cryptosuite


def transform_rdfc(document: Any, contexts: ContextLoader) -> str:
    """RDFC-1.0 canonical N-Quads, safe mode on."""
    return canonicalize(document, contexts=contexts, safe=True)


def sha256(data: bytes) -> bytes:
    """SHA-256 digest."""
    return hashlib.sha256(data).digest()


def sign_proof_value(signer: Signer, data: bytes) -> dict[str, str]:
    """``proofValue``: multibase base58btc of the raw Ed25519 signature."""
    return {"proofValue": _multibase.encode(signer.sign(data))}


def verify_proof_value(key: Ed25519Key, data: bytes, proof: Mapping[str, Any]) -> bool:
    """Check ``proofValue`` (``z`` + base58btc of 64 signature bytes) against ``data``."""
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise MalformedProofError("proofValue must be a base58btc multibase string (starting with 'z')")
    try:
        signature = _multibase.decode(value)
    except ValueError as exc:
        raise MalformedProofError(f"proofValue: {exc}") from exc
    if len(signature) != 64:
        raise MalformedProofError(f"proofValue holds {len(signature)} bytes; an Ed25519 signature is 64")
    return key.verify(signature, data)

"""``Ed25519Signature2020`` (W3C CCG Ed25519 Signature 2020; vc-di-eddsa Appendix)."""

from __future__ import annotations

from .._vocab import ED25519_2020
from ._base import Suite, sha256, sign_proof_value, transform_rdfc, verify_proof_value

ED25519_SIGNATURE_2020 = Suite(
    name="Ed25519Signature2020",
    proof_type="Ed25519Signature2020",
    cryptosuite=None,
    algorithm="Ed25519",
    context=ED25519_2020,
    # Only its own context defines the type: Digital Bazaar's verifier requires it, so vccore does.
    contexts_defining_terms=frozenset({ED25519_2020}),
    transform=transform_rdfc,
    hash=sha256,
    sign=sign_proof_value,
    verify=verify_proof_value,
)

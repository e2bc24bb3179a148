"""Data Integrity ``eddsa-rdfc-2022`` (W3C Data Integrity EdDSA Cryptosuites v1.0, section 3.3)."""

from __future__ import annotations

from .._vocab import CREDENTIALS_V2, DATA_INTEGRITY_V2
from ._base import Suite, sha256, sign_proof_value, transform_rdfc, verify_proof_value

EDDSA_RDFC_2022 = Suite(
    name="eddsa-rdfc-2022",
    proof_type="DataIntegrityProof",
    cryptosuite="eddsa-rdfc-2022",
    algorithm="Ed25519",
    context=DATA_INTEGRITY_V2,
    contexts_defining_terms=frozenset({DATA_INTEGRITY_V2, CREDENTIALS_V2}),
    transform=transform_rdfc,
    hash=sha256,
    sign=sign_proof_value,
    verify=verify_proof_value,
)

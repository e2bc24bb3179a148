"""The 2018 suites, verify only: a detached JWS (RFC 7797, ``b64: false``) over the RDFC-1.0
verify data, as DIVOC 2.x/3.x and Digital Bazaar's jsonld-signatures wrote it.

``Ed25519Signature2018`` (``alg`` EdDSA) and ``RsaSignature2018`` (``alg`` PS256: RSASSA-PSS with
SHA-256 and a 32-byte salt). The signing input is ``ASCII(base64url(header)) + "." + verify
data``, the verify data being the SHA-256 of the canonical proof options (under the proof's own
context, security v2 for DIVOC) and of the canonical document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .. import _multibase
from .._vocab import CREDENTIALS_V1, ED25519_2018, SECURITY_V2
from ..errors import MalformedProofError
from ..keys import PublicKey
from ._base import Suite, sha256, transform_rdfc


def detached_jws_verifier(
    alg: str, signature_bytes: Callable[[PublicKey], int]
) -> Callable[[PublicKey, bytes, Mapping[str, Any]], bool]:
    """A check of ``jws`` = base64url(header) + ".." + base64url(signature), the header being
    exactly ``{"alg": alg, "b64": false, "crit": ["b64"]}``, over header "." data.
    """
    expected = {"alg": alg, "b64": False, "crit": ["b64"]}

    def verify(key: PublicKey, data: bytes, proof: Mapping[str, Any]) -> bool:
        jws = proof.get("jws")
        if not isinstance(jws, str) or jws.count(".") != 2:
            raise MalformedProofError("jws must be a detached JWS: header..signature")
        encoded_header, payload, encoded_signature = jws.split(".")
        if payload:
            raise MalformedProofError("jws must be detached (an empty payload between the dots)")
        try:
            header = json.loads(_multibase.b64url_decode(encoded_header))
            signature = _multibase.b64url_decode(encoded_signature)
        except ValueError as exc:
            raise MalformedProofError(f"jws cannot be decoded: {exc}") from exc
        if header != expected:
            raise MalformedProofError(f"jws header must be {json.dumps(expected)}, not {json.dumps(header)}")
        if len(signature) != signature_bytes(key):
            raise MalformedProofError(
                f"jws signature holds {len(signature)} bytes; this key's signatures hold {signature_bytes(key)}"
            )
        return key.verify(signature, encoded_header.encode("ascii") + b"." + data)

    return verify


def _rsa_signature_bytes(key: PublicKey) -> int:
    size = getattr(getattr(key, "key", None), "key_size", 0)
    return (int(size) + 7) // 8


ED25519_SIGNATURE_2018 = Suite(
    name="Ed25519Signature2018",
    proof_type="Ed25519Signature2018",
    cryptosuite=None,
    algorithm="Ed25519",
    context=ED25519_2018,
    contexts_defining_terms=frozenset({ED25519_2018, CREDENTIALS_V1, SECURITY_V2}),
    transform=transform_rdfc,
    hash=sha256,
    sign=None,
    verify=detached_jws_verifier("EdDSA", lambda key: 64),
    signature_field="jws",
    proof_context=SECURITY_V2,
)

RSA_SIGNATURE_2018 = Suite(
    name="RsaSignature2018",
    proof_type="RsaSignature2018",
    cryptosuite=None,
    algorithm="RSA",
    context=SECURITY_V2,
    contexts_defining_terms=frozenset({CREDENTIALS_V1, SECURITY_V2}),
    transform=transform_rdfc,
    hash=sha256,
    sign=None,
    verify=detached_jws_verifier("PS256", _rsa_signature_bytes),
    signature_field="jws",
    proof_context=SECURITY_V2,
)

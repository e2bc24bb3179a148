"""``Ed25519Signature2018``, verify only: a detached JWS (RFC 7797, ``b64: false``) over the
RDFC-1.0 verify data, as DIVOC and Digital Bazaar's ed25519-signature-2018 wrote it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import _multibase
from .._vocab import CREDENTIALS_V1, ED25519_2018, SECURITY_V2
from ..keys import Ed25519Key
from ._base import MalformedProofError, Suite, sha256, transform_rdfc

_HEADER = {"alg": "EdDSA", "b64": False, "crit": ["b64"]}


def verify_detached_jws(key: Ed25519Key, data: bytes, proof: Mapping[str, Any]) -> bool:
    """Check ``jws`` = base64url(header) + ".." + base64url(signature) over header "." data."""
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
    if header != _HEADER:
        raise MalformedProofError(f"jws header must be {json.dumps(_HEADER)}, not {json.dumps(header)}")
    if len(signature) != 64:
        raise MalformedProofError(f"jws signature holds {len(signature)} bytes; an Ed25519 signature is 64")
    return key.verify(signature, encoded_header.encode("ascii") + b"." + data)


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
    verify=verify_detached_jws,
    signature_field="jws",
)

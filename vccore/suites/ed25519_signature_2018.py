"""The 2018 suites: a detached JWS (RFC 7797, ``b64: false``) over the RDFC-1.0 verify data, as
DIVOC 2.x/3.x, Sunbird RC's signer and Digital Bazaar's jsonld-signatures 6 write it.

``Ed25519Signature2018`` (``alg`` EdDSA) and ``RsaSignature2018`` (``alg`` PS256: RSASSA-PSS with
SHA-256 and a 32-byte salt). The signing input is ``ASCII(base64url(header)) + "." + verify
data``, the verify data being the SHA-256 of the canonical proof options (under the security v2
context, whatever the document's) and of the canonical document. Signing matches jsonld-signatures
6 with ``compactProof: false``: ``created`` in whole seconds, no ``@context`` in the proof; an
Ed25519 ``jws`` is byte for byte the one jsonld-signatures makes.

The canonical form is URDNA2015 as rdf-canonize 1.x writes it (the one under jsonld-signatures 6,
so under DIVOC's and Sunbird RC's signers): RDFC-1.0's algorithm, but a literal escapes only the
backslash, the double quote, LF and CR. A tab or another control character is written raw, where
RDFC-1.0 writes an escape (t, b, f or u00XX after a backslash), so such a credential hashes
differently under the two.

rdf-canonize 1.x (jsonld.js 2 under jsonld-signatures 6) has no ``rdfDirection``: a value's base
direction is left out of what it signs, so vccore refuses to sign or verify one with these suites.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from .. import _multibase
from .._nquads import Quad
from .._vocab import CREDENTIALS_V1, ED25519_2018, SECURITY_V2
from ..canon import canonical_nquads, to_quads
from ..contexts import ContextLoader
from ..errors import MalformedProofError, SigningError
from ..keys import PublicKey, Signer
from ._base import Suite, sha256

# In a literal: an escape RDFC-1.0 adds (\b \t \f \u00XX), undone; or one rdf-canonize 1.x writes too
_ESCAPE: Final = re.compile(r"\\(u[0-9A-F]{4}|[btf]|.)")
_RAW: Final = {"b": "\b", "t": "\t", "f": "\f"}


def _unescape_rdfc10_only(match: re.Match[str]) -> str:
    code = match[1]
    if code[0] == "u":
        return chr(int(code[1:], 16))
    return _RAW.get(code, match[0])


def _rdf_canonize_1_literals(quad: Quad) -> Quad:
    obj = quad[2]
    if obj.startswith('"') and "\\" in obj:
        end = obj.rindex('"')
        obj = '"' + _ESCAPE.sub(_unescape_rdfc10_only, obj[1:end]) + obj[end:]
        return (quad[0], quad[1], obj, quad[3])
    return quad


def transform_urdna2015(document: Any, contexts: ContextLoader) -> str:
    """URDNA2015 canonical N-Quads as rdf-canonize 1.x wrote them (safe mode on): literals keep
    tabs and other control characters raw, and the blank node labels follow from that text.
    """
    quads = to_quads(document, contexts=contexts, safe=True, rdf_direction=None)
    return canonical_nquads([_rdf_canonize_1_literals(q) for q in quads])


def _encoded_header(alg: str) -> str:
    # JSON.stringify's compact form, in this key order: the header's bytes are signed
    header = json.dumps({"alg": alg, "b64": False, "crit": ["b64"]}, separators=(",", ":"))
    return _multibase.b64url_encode(header.encode("ascii"))


def detached_jws_signer(alg: str, signature_bytes: int | None) -> Callable[[Signer, bytes], dict[str, str]]:
    """``jws`` = base64url(header) + ".." + base64url(signature over header "." data), the header
    ``{"alg":alg,"b64":false,"crit":["b64"]}``; ``signature_bytes``, when known, the length the
    signer's answer must have.
    """
    encoded_header = _encoded_header(alg)
    prefix = encoded_header.encode("ascii") + b"."

    def sign(signer: Signer, data: bytes) -> dict[str, str]:
        signature = signer.sign(prefix + data)
        if not isinstance(signature, bytes) or not signature:
            raise SigningError(f"signer {signer.id} returned {type(signature).__name__}, not signature bytes")
        if signature_bytes is not None and len(signature) != signature_bytes:
            raise SigningError(
                f"signer {signer.id} returned {len(signature)} bytes; an {alg} signature here is {signature_bytes}"
            )
        return {"jws": encoded_header + ".." + _multibase.b64url_encode(signature)}

    return sign


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
    transform=transform_urdna2015,
    hash=sha256,
    sign=detached_jws_signer("EdDSA", 64),
    verify=detached_jws_verifier("EdDSA", lambda key: 64),
    signature_field="jws",
    proof_context=SECURITY_V2,
    created_whole_seconds=True,
)

RSA_SIGNATURE_2018 = Suite(
    name="RsaSignature2018",
    proof_type="RsaSignature2018",
    cryptosuite=None,
    algorithm="RSA",
    context=SECURITY_V2,
    contexts_defining_terms=frozenset({CREDENTIALS_V1, SECURITY_V2}),
    transform=transform_urdna2015,
    hash=sha256,
    sign=detached_jws_signer("PS256", None),
    verify=detached_jws_verifier("PS256", _rsa_signature_bytes),
    signature_field="jws",
    proof_context=SECURITY_V2,
    created_whole_seconds=True,
)

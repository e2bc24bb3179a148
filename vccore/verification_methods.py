"""Verification methods: the public key a verification method object (DID Core section 5.2) holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from . import _multibase
from .errors import KeyFormatError
from .keys import Ed25519Key, PublicKey, RsaPublicKey

__all__ = ["VERIFICATION_RELATIONSHIPS", "public_key_from_verification_method"]

VERIFICATION_RELATIONSHIPS: Final = (
    "authentication",
    "assertionMethod",
    "capabilityDelegation",
    "capabilityInvocation",
    "keyAgreement",
)


def public_key_from_verification_method(method: Mapping[str, Any]) -> PublicKey:
    """The public key of a verification method object (DID Core section 5.2).

    Reads ``publicKeyMultibase`` (Multikey, Ed25519VerificationKey2020), ``publicKeyBase58``
    (Ed25519VerificationKey2018), ``publicKeyJwk`` (JsonWebKey2020, JsonWebKey: Ed25519 or RSA)
    and ``publicKeyPem`` (an SPKI or PKCS#1 PEM: RsaVerificationKey2018, or Ed25519).
    """
    if not isinstance(method, Mapping):
        raise KeyFormatError("a verification method is a JSON object", field="verificationMethod")
    key_id = method.get("id")
    controller = method.get("controller")
    if not isinstance(key_id, str) or not isinstance(controller, str):
        raise KeyFormatError("a verification method needs string id and controller", field="verificationMethod")
    if "publicKeyPem" in method:
        return _from_pem(method["publicKeyPem"], key_id, controller)
    jwk = method.get("publicKeyJwk")
    if isinstance(jwk, Mapping) and jwk.get("kty") == "RSA":
        return _rsa_from_jwk(jwk, key_id, controller)
    if "publicKeyMultibase" in method:
        value = method["publicKeyMultibase"]
        if not isinstance(value, str):
            raise KeyFormatError("publicKeyMultibase must be a string", field="publicKeyMultibase")
        return Ed25519Key.from_multibase(value, id=key_id, controller=controller)
    if "publicKeyBase58" in method:
        value = method["publicKeyBase58"]
        try:
            raw = _multibase.b58decode(value) if isinstance(value, str) else b""
        except ValueError as exc:
            raise KeyFormatError(f"publicKeyBase58: {exc}", field="publicKeyBase58") from exc
        return Ed25519Key.from_public_bytes(raw, id=key_id, controller=controller)
    if "publicKeyJwk" in method:
        jwk = method["publicKeyJwk"]
        if isinstance(jwk, Mapping) and "d" in jwk:
            raise KeyFormatError("publicKeyJwk must not hold the private key ('d')", field="publicKeyJwk")
        return Ed25519Key.from_jwk(jwk, id=key_id, controller=controller)
    raise KeyFormatError(
        f"verification method {key_id} has no public key vccore reads "
        "(publicKeyMultibase, publicKeyBase58, publicKeyJwk or publicKeyPem)",
        field="verificationMethod",
        url=key_id,
    )


def _rsa_from_jwk(jwk: Mapping[str, Any], key_id: str, controller: str) -> RsaPublicKey:
    if "d" in jwk or "p" in jwk:
        raise KeyFormatError("publicKeyJwk must not hold the private key", field="publicKeyJwk")
    try:
        n = int.from_bytes(_multibase.b64url_decode(jwk["n"]), "big")
        e = int.from_bytes(_multibase.b64url_decode(jwk["e"]), "big")
        key = RSAPublicNumbers(e, n).public_key()
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFormatError(f"publicKeyJwk: not an RSA public key ({exc})", field="publicKeyJwk") from None
    return RsaPublicKey.from_public_key(key, id=key_id, controller=controller)


def _from_pem(value: Any, key_id: str, controller: str) -> PublicKey:
    if not isinstance(value, str):
        raise KeyFormatError("publicKeyPem must be a string", field="publicKeyPem")
    try:
        key = serialization.load_pem_public_key(value.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise KeyFormatError(f"publicKeyPem cannot be read: {exc}", field="publicKeyPem") from None
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Ed25519Key.from_public_bytes(raw, id=key_id, controller=controller)
    return RsaPublicKey.from_public_key(key, id=key_id, controller=controller)

"""Ed25519 keys: generation, Multikey / did:key / JWK / PEM encodings, and the Signer protocol.

Encodings (W3C Controlled Identifiers, Multikey; did:key v0.7):

- public ``z6Mk...``: ``z`` + base58btc(0xed 0x01 + 32-byte key);
- secret ``z3u2...``: ``z`` + base58btc(0x80 0x26 + 32-byte seed), the spec's form, which vccore
  writes; ``zrv...`` (the same prefix + seed || public, Digital Bazaar's form) is read too;
- ``did:key:z6Mk...`` resolves offline to a DID document whose one verification method is
  ``did:key:z6Mk...#z6Mk...``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from . import _ed25519, _multibase
from ._key_encryption import encrypt_secret
from ._vocab import MULTIKEY_V1
from .errors import KeyFormatError

__all__ = [
    "Ed25519Key",
    "PublicKey",
    "RsaKey",
    "RsaPublicKey",
    "Signer",
]


@runtime_checkable
class Signer(Protocol):
    """Anything that signs: a local key, or a KMS/HSM client that never shows its secret.

    ``id`` is the verification method URL written into proofs; ``algorithm`` names the signature
    algorithm (``"Ed25519"``, or ``"RSA"`` for RsaSignature2018).
    """

    @property
    def id(self) -> str:
        """The verification method's id (a DID URL), written into the proof."""

    @property
    def algorithm(self) -> str:
        """The signature algorithm (``"Ed25519"``, ``"RSA"``), checked against the suite's."""

    def sign(self, data: bytes) -> bytes:
        """The signature over ``data`` (the suite's hash data)."""


@dataclass(frozen=True, slots=True)
class Ed25519Key:
    """An Ed25519 key pair (or a public key alone) with its verification method id and controller.

    It is a :class:`Signer` when it holds the secret key. Make one with the class methods
    (:meth:`generate`, :meth:`from_seed`, :meth:`from_public_bytes`, ...), which check the key.
    """

    public_bytes: bytes
    id: str
    controller: str
    # the secret key, set by _from_private only
    _private: Ed25519PrivateKey | None = field(default=None, init=False, repr=False, compare=False)
    algorithm: str = "Ed25519"
    # the cryptography object, made on first use (making it checks the point: ~10 us a time)
    _public: Ed25519PublicKey | None = field(default=None, init=False, repr=False, compare=False)
    # libsodium's signer (seed and public key, as crypto_sign takes them), made on first signature
    _sodium: Callable[[bytes], bytes] | None = field(default=None, init=False, repr=False, compare=False)

    # --- construction -------------------------------------------------------------------

    @classmethod
    def generate(cls, *, id: str | None = None, controller: str | None = None) -> Ed25519Key:
        """A new random key; its id is its did:key verification method unless given."""
        return cls._from_private(Ed25519PrivateKey.generate(), id=id, controller=controller)

    @classmethod
    def from_seed(cls, seed: bytes, *, id: str | None = None, controller: str | None = None) -> Ed25519Key:
        """The key whose 32-byte secret seed is ``seed`` (RFC 8032 section 5.1.5)."""
        if len(seed) != 32:
            raise KeyFormatError(f"an Ed25519 seed is 32 bytes, not {len(seed)}", field="seed")
        return cls._from_private(Ed25519PrivateKey.from_private_bytes(seed), id=id, controller=controller)

    @classmethod
    def from_public_bytes(cls, public: bytes, *, id: str | None = None, controller: str | None = None) -> Ed25519Key:
        """A public key alone (it can verify, not sign)."""
        if len(public) != 32:
            raise KeyFormatError(f"an Ed25519 public key is 32 bytes, not {len(public)}", field="publicKey")
        try:
            Ed25519PublicKey.from_public_bytes(public)
        except ValueError as exc:
            raise KeyFormatError(f"not an Ed25519 public key: {exc}", field="publicKey") from exc
        did = did_key_from_public(public)
        return cls(public, id or _did_key_vm(did), controller or (did if id is None else _controller_of(id)))

    @classmethod
    def _from_private(cls, private: Ed25519PrivateKey, *, id: str | None, controller: str | None) -> Ed25519Key:
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        did = did_key_from_public(public)
        key_id = id or _did_key_vm(did)
        key = cls(public, key_id, controller or (did if id is None else _controller_of(key_id)))
        object.__setattr__(key, "_private", private)
        return key

    @classmethod
    def from_multibase(
        cls,
        public_key_multibase: str | None = None,
        secret_key_multibase: str | None = None,
        *,
        id: str | None = None,
        controller: str | None = None,
    ) -> Ed25519Key:
        """A key from Multikey ``publicKeyMultibase`` and/or ``secretKeyMultibase``."""
        if secret_key_multibase is not None:
            secret = decode_multicodec(secret_key_multibase, _multibase.ED25519_PRIV, "secretKeyMultibase")
            if len(secret) not in (32, 64):
                raise KeyFormatError(
                    f"secretKeyMultibase holds {len(secret)} bytes; an Ed25519 secret key is the "
                    "32-byte seed (z3u2...) or seed || public key (zrv...)",
                    field="secretKeyMultibase",
                )
            key = cls.from_seed(secret[:32], id=id, controller=controller)
            if len(secret) == 64 and secret[32:] != key.public_bytes:
                raise KeyFormatError(
                    "secretKeyMultibase: the public half does not belong to the seed",
                    field="secretKeyMultibase",
                )
            if public_key_multibase is not None and public_key_multibase != key.public_key_multibase:
                raise KeyFormatError(
                    "publicKeyMultibase does not belong to secretKeyMultibase",
                    field="publicKeyMultibase",
                )
            return key
        if public_key_multibase is None:
            raise KeyFormatError(
                "a Multikey needs publicKeyMultibase or secretKeyMultibase", field="publicKeyMultibase"
            )
        public = decode_multicodec(public_key_multibase, _multibase.ED25519_PUB, "publicKeyMultibase")
        return cls.from_public_bytes(public, id=id, controller=controller)

    @classmethod
    def from_multikey(cls, document: Mapping[str, Any]) -> Ed25519Key:
        """A key from a Multikey (or Ed25519VerificationKey2020) JSON object."""
        if not isinstance(document, Mapping):
            raise KeyFormatError("a Multikey document is a JSON object", field="key")
        secret = document.get("secretKeyMultibase", document.get("privateKeyMultibase"))
        public = document.get("publicKeyMultibase")
        for name, value in (("secretKeyMultibase", secret), ("publicKeyMultibase", public)):
            if value is not None and not isinstance(value, str):
                raise KeyFormatError(f"{name} must be a string", field=name)
        for name in ("id", "controller"):
            if name in document and not isinstance(document[name], str):
                raise KeyFormatError(f"{name} must be a string", field=name)
        return cls.from_multibase(public, secret, id=document.get("id"), controller=document.get("controller"))

    @classmethod
    def from_base58(
        cls,
        public_key_base58: str | None = None,
        private_key_base58: str | None = None,
        *,
        id: str | None = None,
        controller: str | None = None,
    ) -> Ed25519Key:
        """A key from bare base58 (Ed25519VerificationKey2018; DIVOC's and Sunbird RC's signer
        configs): ``publicKeyBase58`` 32 bytes, ``privateKeyBase58`` 64 bytes (seed || public, the
        NaCl form crypto-ld reads).
        """
        if private_key_base58 is None:
            if public_key_base58 is None:
                raise KeyFormatError("a base58 key needs publicKeyBase58 or privateKeyBase58", field="publicKeyBase58")
            return cls.from_public_bytes(_b58_field(public_key_base58, "publicKeyBase58"), id=id, controller=controller)
        secret = _b58_field(private_key_base58, "privateKeyBase58")
        if len(secret) != 64:
            size = f"privateKeyBase58 holds {len(secret)} bytes; it must hold 64: the seed, then the public key"
            raise KeyFormatError(size, field="privateKeyBase58")
        key = cls.from_seed(secret[:32], id=id, controller=controller)
        if secret[32:] != key.public_bytes:
            mismatch = "privateKeyBase58: its second half is not the public key of its seed (first half)"
            raise KeyFormatError(mismatch, field="privateKeyBase58")
        if public_key_base58 is not None and _b58_field(public_key_base58, "publicKeyBase58") != key.public_bytes:
            raise KeyFormatError("publicKeyBase58 does not belong to privateKeyBase58", field="publicKeyBase58")
        return key

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, id: str | None = None, controller: str | None = None) -> Ed25519Key:
        """A key from a JWK (RFC 8037: ``kty`` OKP, ``crv`` Ed25519, ``x``, optional ``d``)."""
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise KeyFormatError('an Ed25519 JWK has "kty": "OKP" and "crv": "Ed25519"', field="publicKeyJwk")
        try:
            public = _multibase.b64url_decode(jwk["x"])
            seed = _multibase.b64url_decode(jwk["d"]) if "d" in jwk else None
        except (KeyError, ValueError) as exc:
            raise KeyFormatError(f"JWK x/d must be base64url: {exc}", field="publicKeyJwk") from exc
        if seed is not None:
            key = cls.from_seed(seed, id=id, controller=controller)
            if key.public_bytes != public:
                raise KeyFormatError('JWK "x" does not belong to "d"', field="publicKeyJwk")
            return key
        return cls.from_public_bytes(public, id=id, controller=controller)

    @classmethod
    def from_pem(cls, pem: bytes | str, *, id: str | None = None, controller: str | None = None) -> Ed25519Key:
        """A key from PEM: PKCS#8 private key or SubjectPublicKeyInfo public key."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            if b"PRIVATE KEY" in data:
                private = serialization.load_pem_private_key(data, password=None)
                if not isinstance(private, Ed25519PrivateKey):
                    raise KeyFormatError("the PEM private key is not an Ed25519 key", field="pem")
                return cls._from_private(private, id=id, controller=controller)
            public_key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"cannot read the PEM key: {exc}", field="pem") from exc
        if not isinstance(public_key, Ed25519PublicKey):
            raise KeyFormatError("the PEM public key is not an Ed25519 key", field="pem")
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls.from_public_bytes(raw, id=id, controller=controller)

    # --- export -----------------------------------------------------------------------------

    @property
    def has_secret(self) -> bool:
        """Whether this key can sign."""
        return self._private is not None

    @property
    def public_key_multibase(self) -> str:
        """``z6Mk...``."""
        return _multibase.encode(_multibase.ED25519_PUB + self.public_bytes)

    @property
    def secret_key_multibase(self) -> str:
        """``z3u2...`` (32-byte seed form)."""
        return _multibase.encode(_multibase.ED25519_PRIV + self._seed())

    @property
    def public_key_base58(self) -> str:
        """The 32-byte public key in bare base58 (``publicKeyBase58`` of Ed25519VerificationKey2018)."""
        return _multibase.b58encode(self.public_bytes)

    @property
    def private_key_base58(self) -> str:
        """The secret key in bare base58, seed || public (``privateKeyBase58``, 64 bytes)."""
        return _multibase.b58encode(self._seed() + self.public_bytes)

    @property
    def did_key(self) -> str:
        """The did:key DID of the public key."""
        return did_key_from_public(self.public_bytes)

    def to_multikey(self, *, include_secret: bool = False) -> dict[str, Any]:
        """The Multikey verification method object (with ``secretKeyMultibase`` on request)."""
        out: dict[str, Any] = {
            "@context": MULTIKEY_V1,
            "id": self.id,
            "type": "Multikey",
            "controller": self.controller,
            "publicKeyMultibase": self.public_key_multibase,
        }
        if include_secret:
            out["secretKeyMultibase"] = self.secret_key_multibase
        return out

    def to_jwk(self, *, include_secret: bool = False) -> dict[str, str]:
        """The key as a JWK (RFC 8037)."""
        out = {"kty": "OKP", "crv": "Ed25519", "x": _multibase.b64url_encode(self.public_bytes)}
        if include_secret:
            out["d"] = _multibase.b64url_encode(self._seed())
        return out

    def to_pem(self, *, include_secret: bool = False) -> bytes:
        """PKCS#8 PEM of the private key, or SubjectPublicKeyInfo PEM of the public key."""
        if include_secret:
            return self._require_private().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        return self.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_key(self) -> Ed25519PublicKey:
        """The ``cryptography`` public key object."""
        public = self._public
        if public is None:
            public = Ed25519PublicKey.from_public_bytes(self.public_bytes)
            object.__setattr__(self, "_public", public)  # a cache: the key's value does not change
        return public

    def write(self, path: str | os.PathLike[str], *, passphrase: str | None = None) -> Path:
        """Write the key as Multikey JSON with its secret, readable by the owner only (0600).
        With a ``passphrase`` the secret is stored encrypted (``encryptedSecretKey``: scrypt and
        AES-256-GCM, see :func:`encrypt_secret`).
        """
        target = Path(path)
        document = self.to_multikey(include_secret=passphrase is None)
        if passphrase is not None:
            document["encryptedSecretKey"] = encrypt_secret(self.secret_key_multibase, passphrase, document)
        data = json.dumps(document, indent=2) + "\n"
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a fresh folder's .vccore/key.json
        # Created with 0600 from the start: never a moment where the secret is world-readable.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # FileExistsError: never overwritten
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
        return target

    # --- use ----------------------------------------------------------------------------------

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data`` (64 bytes) by libsodium, else OpenSSL: deterministic, the same bytes."""
        sodium = self._sodium
        if sodium is None:
            sodium = _ed25519.signer(self._seed(), self.public_bytes) or self._require_private().sign
            object.__setattr__(self, "_sodium", sodium)
        return sodium(data)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``data``: the same verdict with libsodium
        or OpenSSL, edge cases decided by ``_ed25519`` (docs/internals.md, "Ed25519 verdicts").
        """
        return _ed25519.verify(self.public_bytes, signature, data, self.public_key)

    def _seed(self) -> bytes:
        return self._require_private().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def _require_private(self) -> Ed25519PrivateKey:
        if self._private is None:
            raise KeyFormatError(
                f"key {self.id} has no secret key: it can verify, not sign", field="secretKeyMultibase"
            )
        return self._private


# --- did:key and multicodec encodings -----------------------------------------------------------


def did_key_from_public(public: bytes) -> str:
    """``did:key:z6Mk...`` of a 32-byte Ed25519 public key."""
    return "did:key:" + _multibase.encode(_multibase.ED25519_PUB + public)


def _b58_field(text: object, name: str) -> bytes:
    if not isinstance(text, str):
        raise KeyFormatError(f"{name} must be a string", field=name)
    try:
        return _multibase.b58decode(text)
    except ValueError as exc:
        raise KeyFormatError(f"{name}: {exc}", field=name) from exc


def _did_key_vm(did: str) -> str:
    return f"{did}#{did[len('did:key:') :]}"


def _controller_of(key_id: str) -> str:
    return key_id.split("#", 1)[0]


def decode_multicodec(text: str, prefix: bytes, field_name: str) -> bytes:
    """The key bytes of the multibase multicodec key ``text`` (codec ``prefix``); a KeyFormatError
    names ``field_name``.
    """
    try:
        raw = _multibase.decode_base58btc(text)
    except ValueError as exc:
        raise KeyFormatError(f"{field_name}: {exc}", field=field_name) from exc
    if not raw.startswith(prefix):
        expected = "ed25519-pub (0xed)" if prefix == _multibase.ED25519_PUB else "ed25519-priv (0x1300)"
        raise KeyFormatError(f"{field_name} is not an {expected} multicodec key", field=field_name)
    body = raw[len(prefix) :]
    if prefix == _multibase.ED25519_PUB and len(body) != 32:
        raise KeyFormatError(f"{field_name} holds {len(body)} key bytes; Ed25519 keys are 32", field=field_name)
    return body


# --- RSA (RsaSignature2018) -------------------------------------------------------------------

MIN_RSA_BITS: Final = 2048


@dataclass(frozen=True, slots=True)
class RsaPublicKey:
    """An RSA public key that verifies RsaSignature2018 proofs (PS256: RSASSA-PSS, SHA-256,
    MGF1 with SHA-256, a 32-byte salt, as RFC 7518 section 3.5 fixes it), as DIVOC 2.x and 3.x
    and Sunbird RC's signer made them.
    """

    id: str
    controller: str
    key: RSAPublicKey = field(repr=False, compare=False)
    algorithm: str = "RSA"

    @classmethod
    def from_public_key(cls, key: Any, *, id: str, controller: str) -> RsaPublicKey:
        """A verification key from a ``cryptography`` RSA public key (at least MIN_RSA_BITS)."""
        if not isinstance(key, RSAPublicKey):
            raise KeyFormatError(
                f"verification method {id} does not hold an RSA public key", field="verificationMethod", url=id
            )
        if key.key_size < MIN_RSA_BITS:
            raise KeyFormatError(
                f"verification method {id}: an RSA key of {key.key_size} bits is too weak (at least {MIN_RSA_BITS})",
                field="verificationMethod",
                url=id,
            )
        return cls(id, controller, key)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is a PS256 signature of ``data`` by this key."""
        try:
            self.key.verify(signature, data, _PS256, hashes.SHA256())
        except InvalidSignature:
            return False
        return True


# RFC 7518 section 3.5: the salt is as long as the hash, 32 bytes
_PS256: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


@dataclass(frozen=True, slots=True)
class RsaKey:
    """An RSA private key: a :class:`Signer` for RsaSignature2018 (PS256), from the PEM files
    DIVOC and Sunbird RC configure (PKCS#1 ``BEGIN RSA PRIVATE KEY`` or PKCS#8 ``BEGIN PRIVATE
    KEY``). Make one with :meth:`from_pem`.
    """

    id: str
    controller: str
    key: RSAPrivateKey = field(repr=False, compare=False)
    algorithm: str = "RSA"

    @classmethod
    def from_pem(
        cls,
        private_key_pem: str | bytes,
        *,
        id: str,
        controller: str | None = None,
        public_key_pem: str | bytes | None = None,
    ) -> RsaKey:
        """The key in ``private_key_pem`` (unencrypted, at least MIN_RSA_BITS); ``public_key_pem``,
        when given (a config's ``publicKey``), must be its public key. ``controller`` defaults to
        ``id`` without its fragment.
        """
        data = private_key_pem.encode("ascii") if isinstance(private_key_pem, str) else private_key_pem
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise KeyFormatError(f"privateKeyPem cannot be read: {exc}", field="privateKeyPem") from None
        if not isinstance(private, RSAPrivateKey):
            raise KeyFormatError("privateKeyPem is not an RSA private key", field="privateKeyPem")
        if private.key_size < MIN_RSA_BITS:
            weak = f"privateKeyPem: an RSA key of {private.key_size} bits is too weak (at least {MIN_RSA_BITS})"
            raise KeyFormatError(weak, field="privateKeyPem")
        key = cls(id, controller or _controller_of(id), private)
        if public_key_pem is not None:
            given = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
            try:
                public = serialization.load_pem_public_key(given)
            except (ValueError, TypeError, UnicodeEncodeError) as exc:
                raise KeyFormatError(f"publicKeyPem cannot be read: {exc}", field="publicKeyPem") from None
            if not isinstance(public, RSAPublicKey) or public.public_numbers() != private.public_key().public_numbers():
                raise KeyFormatError("publicKeyPem does not belong to privateKeyPem", field="publicKeyPem")
        return key

    @property
    def public_key(self) -> RsaPublicKey:
        """The public half, for a verifier."""
        return RsaPublicKey(self.id, self.controller, self.key.public_key())

    @property
    def public_key_pem(self) -> str:
        """SubjectPublicKeyInfo PEM (``BEGIN PUBLIC KEY``): RsaVerificationKey2018's ``publicKeyPem``."""
        spki = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return spki.decode("ascii")

    def sign(self, data: bytes) -> bytes:
        """PS256 signature of ``data``: RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt (randomized)."""
        return self.key.sign(data, _PS256, hashes.SHA256())


PublicKey = Ed25519Key | RsaPublicKey
"""A key a verifier checks signatures with."""

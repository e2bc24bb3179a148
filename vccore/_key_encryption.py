"""A key file's encrypted secret (``encryptedSecretKey``): scrypt and AES-256-GCM, bound to its key."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from . import _multibase
from .codes import ErrorCode
from .errors import KeyFormatError

__all__ = ["decrypt_secret", "encrypt_secret"]

# scrypt at 2^15 x 8: 32 MiB and about a tenth of a second to try one passphrase
_SCRYPT: Final = {"n": 1 << 15, "r": 8, "p": 1}


def _bound(document: Mapping[str, Any]) -> bytes:
    """What the ciphertext is bound to (AES-GCM associated data): the key it belongs to, so an
    encrypted secret moved into another key's file does not open.
    """
    return json.dumps([document.get("id"), document.get("controller"), document.get("publicKeyMultibase")]).encode()


def encrypt_secret(secret: str, passphrase: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """``encryptedSecretKey`` for a Multikey document: the secret (``secretKeyMultibase``)
    encrypted with AES-256-GCM under a key derived from ``passphrase`` by scrypt.
    """
    if not passphrase:
        raise KeyFormatError("an empty passphrase protects nothing", field="passphrase")
    salt, nonce = os.urandom(16), os.urandom(12)
    key = Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode("utf-8"))
    ciphertext = AESGCM(key).encrypt(nonce, secret.encode("ascii"), _bound(document))
    return {
        "kdf": "scrypt",
        **_SCRYPT,
        "salt": _multibase.b64url_encode(salt),
        "cipher": "AES-256-GCM",
        "nonce": _multibase.b64url_encode(nonce),
        "ciphertext": _multibase.b64url_encode(ciphertext),
    }


def decrypt_secret(document: Mapping[str, Any], passphrase: str) -> str:
    """The ``secretKeyMultibase`` inside a document's ``encryptedSecretKey``; KeyFormatError
    ``KEY_PASSPHRASE_WRONG`` when the passphrase does not open it.
    """
    box = document.get("encryptedSecretKey")
    try:
        if not (isinstance(box, Mapping) and box.get("kdf") == "scrypt" and box.get("cipher") == "AES-256-GCM"):
            raise ValueError("scrypt and AES-256-GCM expected")
        n, r, p = int(box["n"]), int(box["r"]), int(box["p"])
        if not (2 <= n <= 1 << 20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("scrypt parameters out of range")
        salt, nonce, ciphertext = (_multibase.b64url_decode(box[k]) for k in ("salt", "nonce", "ciphertext"))
        key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFormatError(
            f"encryptedSecretKey is not one vccore reads ({exc})", field="encryptedSecretKey"
        ) from None
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _bound(document)).decode("ascii")
    except (InvalidTag, ValueError):
        raise KeyFormatError(
            "the passphrase does not open this key file (or the file was changed)",
            code=ErrorCode.KEY_PASSPHRASE_WRONG,
            field="passphrase",
        ) from None

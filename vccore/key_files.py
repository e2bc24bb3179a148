"""Key files: reading one (its secret encrypted or not), and rotating a did:web key on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._key_encryption import decrypt_secret
from .codes import ErrorCode
from .dids import did_document
from .errors import KeyFormatError
from .keys import Ed25519Key

__all__ = ["load_key", "rotate_key"]


def load_key(path: str | os.PathLike[str], *, passphrase: str | None = None) -> Ed25519Key:
    """Read a key file: Multikey JSON (its secret encrypted or not), a JWK, or PEM (PKCS#8 /
    SubjectPublicKeyInfo). An encrypted secret needs ``passphrase``: without one the error's
    code is ``KEY_PASSPHRASE_REQUIRED``.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFormatError(
            f"there is no key file {path}: make one with vccore.Ed25519Key.generate().write({str(path)!r}) "
            f"(or on the command line: vccore keygen --out {Path(path).parent}, which writes key.json there)",
            field="path",
            path=str(path),
        ) from None
    except OSError as exc:
        raise KeyFormatError(f"cannot read key file {path}: {exc.strerror}", field="path", path=str(path)) from exc
    if raw.lstrip().startswith(b"-----BEGIN"):
        return Ed25519Key.from_pem(raw)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise KeyFormatError(f"key file {path} is neither JSON nor PEM", field="path", path=str(path)) from exc
    if isinstance(document, dict) and document.get("kty") is not None:
        return Ed25519Key.from_jwk(document, id=document.get("kid"))
    if isinstance(document, dict) and "encryptedSecretKey" in document:
        if passphrase is None:
            raise KeyFormatError(
                f"key file {path} is encrypted: give its passphrase",
                code=ErrorCode.KEY_PASSPHRASE_REQUIRED,
                field="passphrase",
                path=str(path),
            )
        opened = {k: v for k, v in document.items() if k != "encryptedSecretKey"}
        opened["secretKeyMultibase"] = decrypt_secret(document, passphrase)
        return Ed25519Key.from_multikey(opened)
    return Ed25519Key.from_multikey(document)


def rotate_key(directory: str | os.PathLike[str], *, passphrase: str | None = None) -> tuple[Ed25519Key, Path]:
    """Rotate the did:web key in ``directory`` (``key.json`` and ``did.json``, as ``vccore
    keygen --did-web`` writes them): a new key under the same DID (``#key-N``) becomes
    ``key.json`` and signs from now on; the old key file is kept as ``key-<n>.retired.json``
    (delete it when nothing needs its secret); ``did.json`` lists the new key and, for assertion
    only, every earlier one, so credentials they signed still verify once it is published.
    Returns the new key and the did.json to publish.
    """
    folder = Path(directory)
    current = load_key(folder / "key.json", passphrase=passphrase)
    if not current.controller.startswith("did:web:"):
        raise KeyFormatError(
            f"{current.controller} is a {current.controller.split(':')[1] if ':' in current.controller else 'non-DID'} issuer: a did:key is its key, so a "
            "new key is a new issuer; rotation needs a did:web key (vccore keygen --did-web)",
            code=ErrorCode.KEY_NOT_ROTATABLE,
            field="controller",
        )
    try:
        published = json.loads((folder / "did.json").read_text(encoding="utf-8"))
        retired = tuple(
            Ed25519Key.from_multikey(m)
            for m in published.get("verificationMethod", [])
            if isinstance(m, dict) and m.get("id") != current.id
        )
    except (OSError, ValueError) as exc:
        raise KeyFormatError(f"cannot read {folder / 'did.json'}: {exc}", field="did.json") from None
    fragments = [k.id.rpartition("#")[2] for k in (current, *retired)]
    numbers = [int(f.removeprefix("key-")) for f in fragments if f.startswith("key-") and f[4:].isdigit()]
    new = Ed25519Key.generate(
        id=f"{current.controller}#key-{max(numbers, default=0) + 1}", controller=current.controller
    )
    # Everything new is written beside the old files first, then renamed into place: a failure
    # before the renames leaves the old key and did.json as they were.
    staged_key, staged_document = folder / "key.json.new", folder / "did.json.new"
    for stale in (staged_key, staged_document):  # left by an interrupted rotation: never used
        stale.unlink(missing_ok=True)
    new.write(staged_key, passphrase=passphrase)
    staged_document.write_text(
        json.dumps(did_document(new, retired=(current, *retired)), indent=2) + "\n", encoding="utf-8"
    )
    os.replace(folder / "key.json", folder / f"{fragments[0]}.retired.json")
    os.replace(staged_key, folder / "key.json")
    os.replace(staged_document, folder / "did.json")
    return new, folder / "did.json"

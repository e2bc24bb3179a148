"""Trusted keys: the verification methods and DID documents a verifier is given, and key resolution."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._cache import Cache
from .._json import as_list
from ..codes import ErrorCode
from ..dids import did_key_document
from ..errors import KeyFormatError
from ..keys import Ed25519Key, PublicKey
from ..verification_methods import VERIFICATION_RELATIONSHIPS, public_key_from_verification_method


@dataclass(frozen=True, slots=True)
class _TrustedKey:
    key: PublicKey
    relationships: frozenset[str] | None  # None: a key the caller vouches for, for any purpose


def _index_trusted(items: Iterable[Mapping[str, Any]]) -> dict[str, _TrustedKey]:
    index: dict[str, _TrustedKey] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise KeyFormatError("trusted verification methods are JSON objects", field="verificationMethod")
        if "verificationMethod" in item or any(r in item for r in VERIFICATION_RELATIONSHIPS):
            _index_did_document(item, index)
        else:
            key = public_key_from_verification_method(item)
            index[key.id] = _TrustedKey(key, None)
    return index


def _index_did_document(document: Mapping[str, Any], index: dict[str, _TrustedKey]) -> None:
    """Keys of a DID document, each trusted for the relationships that list it. A document speaks
    only for itself: every method must be controlled by the document's DID and live under it.
    """
    did = document.get("id")
    if not isinstance(did, str) or ":" not in did:
        raise KeyFormatError("a trusted DID document needs its id (the DID)", field="id")

    def absolute(ref: str) -> str:
        return f"{did}{ref}" if ref.startswith("#") else ref

    def read(method: Any) -> PublicKey:
        if not isinstance(method, Mapping) or not isinstance(method.get("id"), str):
            raise KeyFormatError(f"{did}: a verification method needs an id", field="verificationMethod")
        method = {**method, "id": absolute(method["id"]), "controller": method.get("controller", did)}
        if method["controller"] != did or not method["id"].startswith(f"{did}#"):
            raise KeyFormatError(
                f"{did}: verification method {method['id']} (controller {method['controller']}) is not "
                "one of this DID's own; a DID document cannot vouch for another's keys",
                field="verificationMethod",
            )
        return public_key_from_verification_method(method)

    methods: dict[str, PublicKey] = {}
    listed: dict[str, set[str]] = {}
    for method in as_list(document.get("verificationMethod")):
        key = read(method)
        methods[key.id] = key
    for relationship in VERIFICATION_RELATIONSHIPS:
        for entry in as_list(document.get(relationship)):
            if isinstance(entry, str):
                listed.setdefault(absolute(entry), set()).add(relationship)
            else:
                key = read(entry)
                methods.setdefault(key.id, key)
                listed.setdefault(key.id, set()).add(relationship)
    for key_id, key in methods.items():
        index[key_id] = _TrustedKey(key, frozenset(listed.get(key_id, ())))


def _resolve_key(
    trusted_keys: Mapping[str, _TrustedKey], did_keys: Cache[str, Ed25519Key], vm_id: str, purpose: str
) -> PublicKey:
    """The key of verification method ``vm_id`` for ``purpose``: a trusted one, or a did:key
    (resolved offline, once: ``did_keys``); KeyFormatError says why there is none.
    """
    trusted = trusted_keys.get(vm_id)
    if trusted is not None:
        if trusted.relationships is not None and purpose not in trusted.relationships:
            raise KeyFormatError(
                f"verification method {vm_id} is not authorized for {purpose} by its DID document",
                field="verificationMethod",
            )
        return trusted.key
    if vm_id.startswith("did:key:"):
        if "#" not in vm_id:
            raise KeyFormatError(
                f"verificationMethod {vm_id} is a DID, not one of its verification methods (DID#fragment)",
                field="verificationMethod",
            )
        found = did_keys.get(vm_id)
        if found is None:
            document = did_key_document(vm_id)
            resolved = public_key_from_verification_method(document["verificationMethod"][0])
            assert isinstance(resolved, Ed25519Key)  # a did:key here is always Ed25519
            found = resolved
            did_keys.put(vm_id, found)
        return found
    raise KeyFormatError(
        f"verification method {vm_id} is unknown: it is not a did:key and not among the trusted "
        "verification methods given to the verifier",
        code=ErrorCode.UNKNOWN_VERIFICATION_METHOD,
        field="verificationMethod",
        url=vm_id,
    )

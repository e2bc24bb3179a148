"""DIDs: did:key resolved offline, did:web names, and the DID document an issuer publishes."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from . import _multibase
from ._vocab import DID_V1, MULTIKEY_V1
from .errors import KeyFormatError
from .keys import Ed25519Key, decode_multicodec

__all__ = ["DIDDocument", "Multikey", "did_document", "did_key_document", "did_web"]


class Multikey(TypedDict):
    """A Multikey verification method (Controlled Identifiers 1.0), as a DID document lists it."""

    id: str
    type: str
    controller: str
    publicKeyMultibase: str


DIDDocument = TypedDict(
    "DIDDocument",
    {
        "@context": list[str],
        "id": str,
        "verificationMethod": list[Multikey],
        "authentication": list[str],
        "assertionMethod": list[str],
        "capabilityDelegation": NotRequired[list[str]],
        "capabilityInvocation": NotRequired[list[str]],
    },
)
"""A DID document (DID Core section 5) of Multikey verification methods, as vccore makes them."""


def _method(key: Ed25519Key) -> Multikey:
    """``key`` as its DID document lists it (:meth:`Ed25519Key.to_multikey` without ``@context``)."""
    return {
        "id": key.id,
        "type": "Multikey",
        "controller": key.controller,
        "publicKeyMultibase": key.public_key_multibase,
    }


def did_key_document(did_url: str) -> DIDDocument:
    """Resolve a did:key DID (or DID URL) offline to its DID document (did:key v0.7, Multikey form).

    Only Ed25519 did:keys (``z6Mk...``) are supported; the X25519 key agreement key is not derived.
    """
    did = did_url.split("#", 1)[0]
    if not did.startswith("did:key:"):
        raise KeyFormatError(f"{did_url} is not a did:key DID", field="verificationMethod", url=did_url)
    multibase = did[len("did:key:") :]
    public = decode_multicodec(multibase, _multibase.ED25519_PUB, "did:key")
    key = Ed25519Key.from_public_bytes(public)
    if "#" in did_url and did_url != key.id:
        raise KeyFormatError(
            f"{did_url}: a did:key's only verification method is {key.id}", field="verificationMethod", url=did_url
        )
    # keyAgreement would need the X25519 key derived from this one; vccore does not derive it.
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": [_method(key)],
        "authentication": [key.id],
        "assertionMethod": [key.id],
        "capabilityDelegation": [key.id],
        "capabilityInvocation": [key.id],
    }


def did_web(location: str) -> str:
    """The did:web DID for a host and optional path: ``example.com/issuers/1`` ->
    ``did:web:example.com:issuers:1`` (a port's colon is written ``%3A``, as did:web requires).
    """
    host, _, path = location.strip("/").partition("/")
    if not host or any(c in location for c in " #?"):
        raise KeyFormatError(f"{location!r} is not a host name with an optional path", field="did:web")
    parts = [host.replace(":", "%3A"), *[p for p in path.split("/") if p]]
    return "did:web:" + ":".join(parts)


def did_document(key: Ed25519Key, *, retired: tuple[Ed25519Key, ...] = ()) -> DIDDocument:
    """A DID document for ``key``'s controller listing the key for authentication and assertion:
    what an issuer publishes as ``did.json`` for did:web (DID Core section 5). ``retired`` keys
    (public parts only) stay listed for assertion, so that what they signed still verifies.
    """
    methods = []
    for listed in (key, *retired):
        if listed.controller != key.controller:
            raise KeyFormatError(
                f"key {listed.id} belongs to {listed.controller}, not {key.controller}", field="controller"
            )
        methods.append(_method(listed))
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": key.controller,
        "verificationMethod": methods,
        "authentication": [key.id],
        "assertionMethod": [m["id"] for m in methods],
    }

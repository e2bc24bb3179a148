"""Create and check Data Integrity proofs, generic over suites (VC Data Integrity 1.0, section 4).

Proof sets and chains (section 2.1.2): a new proof signs the document without its existing proofs,
or, when it names ``previousProof``, the document with the proofs it names.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from . import _datetime
from ._cache import Cache
from ._json import as_list, compact, one_or_many
from .codes import ErrorCode
from .contexts import ContextLoader, bundled_contexts
from .errors import DocumentError, SigningError, UnsupportedSuiteError, VccoreError
from .keys import PublicKey, Signer
from .suites import Suite, get_suite
from .suites._base import transform_rdfc
from .suites.ed25519_signature_2018 import transform_urdna2015

if TYPE_CHECKING:
    from ._document_shapes import DocumentShapes

__all__ = ["VerifyData", "create_verify_data", "hash_document", "proof_configuration", "sign", "verify_signature"]


@dataclass(frozen=True, slots=True)
class VerifyData:
    """Every intermediate value of the verify data, for tests and debugging."""

    canonical_proof_config: str
    canonical_document: str
    proof_hash: bytes
    document_hash: bytes

    @property
    def data(self) -> bytes:
        """What is signed: the proof configuration hash, then the document hash."""
        return self.proof_hash + self.document_hash


def proof_configuration(suite: Suite, proof: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """The proof without its signature, in the document's ``@context`` (eddsa section 3.3.5), or
    in the suite's own proof context (the 2018 suites).
    """
    config = {k: v for k, v in proof.items() if k not in (suite.signature_field, "@context")}
    config["@context"] = suite.proof_context if suite.proof_context is not None else document["@context"]
    return config


def create_verify_data(
    suite: Suite, document: Mapping[str, Any], proof: Mapping[str, Any], *, contexts: ContextLoader | None = None
) -> VerifyData:
    """Transform and hash the document (without ``proof``) and the proof configuration."""
    loader = contexts if contexts is not None else bundled_contexts()
    canonical_proof, proof_hash = _transform_and_hash(suite, proof_configuration(suite, proof, document), loader)
    canonical_document, document_hash = _transform_and_hash(suite, document, loader)
    return VerifyData(canonical_proof, canonical_document, proof_hash, document_hash)


def hash_document(suite: Suite, document: Mapping[str, Any], *, contexts: ContextLoader | None = None) -> bytes:
    """The hash of the transformed document: the second half of the verify data."""
    return _transform_and_hash(suite, document, contexts if contexts is not None else bundled_contexts())[1]


def _transform_and_hash(suite: Suite, document: Any, loader: ContextLoader) -> tuple[str, bytes]:
    canonical = suite.transform(document, loader)
    return canonical, suite.hash(canonical.encode("utf-8"))


def sign(
    document: Mapping[str, Any],
    signer: Signer,
    *,
    suite: str | Suite = "eddsa-rdfc-2022",
    created: str | datetime | None = None,
    proof_purpose: str = "assertionMethod",
    proof_id: str | None = None,
    previous_proof: str | Sequence[str] | None = None,
    expires: str | datetime | None = None,
    domain: str | None = None,
    challenge: str | None = None,
    contexts: ContextLoader | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` with one more proof by ``signer`` (Data Integrity 4.2, Add Proof).

    ``created`` defaults to the current time. The suite's context is appended to ``@context`` when
    no context there defines the suite's terms, as Digital Bazaar's signers do. ``previous_proof``
    (the id of a proof ``document`` has, or several) chains the new proof to those proofs.
    ``contexts`` (default: the bundled ones) are the contexts the document may name.
    """
    return sign_with_transform(
        document,
        signer,
        suite=suite,
        created=created,
        proof_purpose=proof_purpose,
        proof_id=proof_id,
        previous_proof=previous_proof,
        expires=expires,
        domain=domain,
        challenge=challenge,
        contexts=contexts,
    )


def sign_with_transform(
    document: Mapping[str, Any],
    signer: Signer,
    *,
    suite: str | Suite = "eddsa-rdfc-2022",
    created: str | datetime | None = None,
    proof_purpose: str = "assertionMethod",
    proof_id: str | None = None,
    previous_proof: str | Sequence[str] | None = None,
    expires: str | datetime | None = None,
    domain: str | None = None,
    challenge: str | None = None,
    contexts: ContextLoader | None = None,
    transformed: Callable[[dict[str, Any], dict[str, Any]], tuple[str, str] | None] | None = None,
    copy_document: bool = True,
) -> dict[str, Any]:
    """:func:`sign`, with the two hooks vccore's own callers use.

    ``transformed``, given the document to sign and the proof configuration, may return their
    transformed forms (canonical document, canonical proof configuration) worked out another way
    (the compiled path of :mod:`vccore._compiled`, which the issuer takes), or None to have them
    transformed here. ``copy_document`` False lets a caller that hands over a document it made
    itself, and will not touch again, save the deep copy that otherwise keeps the caller's
    objects apart from the result. Without ``transformed``, the RDF suites canonicalize through
    process-wide compiled skeletons (:mod:`vccore._document_shapes`), byte for byte the
    reference path's, which judges every document those cannot vouch for.
    """
    chosen = get_suite(suite)
    if chosen.sign is None:
        raise UnsupportedSuiteError(
            f"{chosen.name} is a verify-only suite: vccore does not sign with it",
            suite=chosen.name,
        )
    if signer.algorithm != chosen.algorithm:
        raise SigningError(
            f"suite {chosen.name} signs with {chosen.algorithm}; the signer {signer.id} uses {signer.algorithm}",
            code=ErrorCode.SIGNING_ERROR,
            suite=chosen.name,
        )
    unsecured = _unsecured_copy(document, deep=copy_document)
    existing = _proof_list(document)
    if not chosen.terms_defined_by(unsecured["@context"]):
        context = unsecured["@context"]
        unsecured["@context"] = [*one_or_many(context), chosen.context]

    proof: dict[str, Any] = {"type": chosen.proof_type}
    if proof_id is not None:
        proof["id"] = proof_id
    if chosen.cryptosuite is not None:
        proof["cryptosuite"] = chosen.cryptosuite
    proof["created"] = _as_timestamp(created if created is not None else _datetime.now(), "created")
    if chosen.created_whole_seconds:
        proof["created"] = _datetime.format(_datetime.parse(proof["created"]))
    if expires is not None:
        proof["expires"] = _as_timestamp(expires, "expires")
    proof["verificationMethod"] = signer.id
    proof["proofPurpose"] = proof_purpose
    if domain is not None:
        proof["domain"] = domain
    if challenge is not None:
        proof["challenge"] = challenge

    signed_part = unsecured
    if previous_proof is not None:
        proof["previousProof"] = previous_proof
        signed_part = dict(unsecured)
        signed_part["proof"] = _previous_proofs(existing, previous_proof)

    if chosen.proof_keeps_context:
        proof["@context"] = copy.deepcopy(unsecured["@context"])
    known = transformed(signed_part, proof) if transformed is not None else None
    if known is not None:
        data = chosen.hash(known[1].encode("utf-8")) + chosen.hash(known[0].encode("utf-8"))
    else:
        loader = contexts if contexts is not None else bundled_contexts()
        compiled = _compiled_verify_data(chosen, signed_part, proof, loader) if transformed is None else None
        data = (
            compiled if compiled is not None else create_verify_data(chosen, signed_part, proof, contexts=loader).data
        )
    proof.update(chosen.sign(signer, data))
    secured = dict(unsecured)
    all_proofs = [*existing, proof]
    secured["proof"] = all_proofs[0] if len(all_proofs) == 1 else all_proofs
    return secured


# --- the compiled path of sign ---------------------------------------------------------------------

_SHAPES: Final[Cache[tuple[Callable[[Any, ContextLoader], str], int], DocumentShapes]] = Cache(32)
_SHAPES_LOCK: Final = threading.Lock()
_REFERENCE_ONLY = threading.local()  # tests: ``_REFERENCE_ONLY.active = True`` sends every sign to pyld


def _document_shapes(transform: Callable[[Any, ContextLoader], str], loader: ContextLoader) -> DocumentShapes | None:
    """The process-wide compiled skeletons for a suite's transform under ``loader`` (None: a
    transform they cannot stand in for, such as JCS). Keyed by the loader's identity (an entry
    holds its loader, so no other can come to have its id); at most 32 are kept.
    """
    if transform is transform_rdfc:
        rdf_canonize_1 = False
    elif transform is transform_urdna2015:
        rdf_canonize_1 = True
    else:
        return None
    key = (transform, id(loader))
    shapes = _SHAPES.get(key)
    if shapes is None or shapes.contexts is not loader:
        # imported here: _document_shapes reaches vccore.status, which signs with this module
        from ._document_shapes import DocumentShapes

        with _SHAPES_LOCK:
            shapes = _SHAPES.get(key)
            if shapes is None or shapes.contexts is not loader:
                shapes = DocumentShapes(loader, reference=transform, rdf_canonize_1=rdf_canonize_1)
                _SHAPES.put(key, shapes)
    return shapes


def rdfc_skeletons(loader: ContextLoader) -> DocumentShapes | None:
    """The process-wide compiled skeletons of RDFC-1.0 (i18n-datatype) under ``loader``, which
    signing and verifying share (None while tests send everything to the reference path).
    """
    if getattr(_REFERENCE_ONLY, "active", False):
        return None
    return _document_shapes(transform_rdfc, loader)


def _compiled_verify_data(
    suite: Suite, document: dict[str, Any], proof: dict[str, Any], loader: ContextLoader
) -> bytes | None:
    """The verify data by compiled skeletons (:class:`~vccore._document_shapes.DocumentShapes`),
    byte for byte the reference path's; None: the reference path must say (a suite they do not
    cover, or a document they cannot read, whose error the reference path raises).
    """
    if getattr(_REFERENCE_ONLY, "active", False):
        return None
    try:
        shapes = _document_shapes(suite.transform, loader)
        if shapes is None:
            return None
        # the proof configuration first, as the reference path transforms it first; a signer's
        # configurations differ by their created only, the same for all it signs in one second
        configuration = proof_configuration(suite, proof, document)
        text = compact(configuration)
        canonical = shapes.recent.get(text)
        if canonical is None:
            canonical = shapes.canonical(configuration)
            shapes.recent.put(text, canonical)
        proof_hash = suite.hash(canonical.encode("utf-8"))
        return proof_hash + suite.hash(shapes.canonical(document).encode("utf-8"))
    except VccoreError:
        raise  # the reference path's own error, raised inside DocumentShapes
    except Exception:  # noqa: BLE001 (a value JSON cannot hold, a lone surrogate, deep nesting: the reference path's to refuse)
        return None


def verify_signature(
    suite: Suite,
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    key: PublicKey,
    *,
    contexts: ContextLoader | None = None,
    document_hash: bytes | None = None,
) -> bool:
    """Whether ``proof`` is a valid signature by ``key`` over ``document``.

    ``document`` is what the proof signed: without proofs, or with the proofs its
    ``previousProof`` names; ``document_hash``, when given, is its :func:`hash_document`.
    Raises VccoreError subclasses for what cannot be transformed or read.
    """
    loader = contexts if contexts is not None else bundled_contexts()
    _, proof_hash = _transform_and_hash(suite, proof_configuration(suite, proof, document), loader)
    if document_hash is None:
        document_hash = hash_document(suite, document, contexts=loader)
    return suite.verify(key, proof_hash + document_hash, proof)


def _unsecured_copy(document: Mapping[str, Any], *, deep: bool = True) -> dict[str, Any]:
    if not isinstance(document, Mapping):
        raise DocumentError("the document to sign must be a JSON object", field="")
    if "@context" not in document:
        raise DocumentError("the document to sign has no @context", field="@context")
    return {k: copy.deepcopy(v) if deep else v for k, v in document.items() if k != "proof"}


def _proof_list(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    proofs = as_list(document.get("proof"))
    if not all(isinstance(p, Mapping) for p in proofs):
        raise DocumentError("every proof in the document must be a JSON object", field="proof")
    return [copy.deepcopy(dict(p)) for p in proofs]


def _previous_proofs(existing: list[dict[str, Any]], previous: str | Sequence[str]) -> list[dict[str, Any]]:
    wanted = [previous] if isinstance(previous, str) else list(previous)
    by_id = {p.get("id"): p for p in existing if isinstance(p.get("id"), str)}
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise DocumentError(
            f"previousProof names {', '.join(map(str, missing))}, which the document's proofs do not have as id",
            field="previousProof",
        )
    return [by_id[w] for w in wanted]


def _as_timestamp(value: str | datetime, name: str) -> str:
    if isinstance(value, datetime):
        return _datetime.format(value)
    try:
        _datetime.parse(value)
    except ValueError as exc:
        raise DocumentError(f"proof {name}: {exc}", field=name) from exc
    return value

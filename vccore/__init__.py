"""vccore: issue, update, revoke and verify W3C Verifiable Credentials, offline and fail-closed.

The public surface is what ``__all__`` lists; every other module is an implementation detail.
"""

from __future__ import annotations

from ._vocab import VCVersion
from .canon import canonicalize, canonicalize_nquads
from .codes import CredentialStatus, ErrorCode, PayloadReason, ProblemCode
from .contexts import ContextLoader, bundled_contexts
from .dids import did_document, did_key_document, did_web
from .entities import EntityType, EntityTypeError, bundled_entity_types, load_entity_types
from .errors import (
    CanonicalizationError,
    ContextError,
    DocumentError,
    KeyFormatError,
    MalformedProofError,
    QRError,
    SafeModeError,
    SigningError,
    StatusError,
    UnsupportedSuiteError,
    VccoreError,
)
from .issuer import Certified, Issuer, issue
from .key_files import load_key, rotate_key
from .keys import Ed25519Key, RsaKey, Signer
from .payloads import PayloadError, PayloadProblem
from .proofs import VerifyData, create_verify_data, sign
from .qr import QRErrorCorrection, QRFormat
from .status import Bitstring
from .store import LifecycleError, PlaceholderStatusUrlWarning, Record, RecordState, SQLiteStore, Store, open_store
from .suites import ED25519_SIGNATURE_2018, ED25519_SIGNATURE_2020, EDDSA_JCS_2022, EDDSA_RDFC_2022, SUITES, Suite
from .verification_methods import public_key_from_verification_method
from .verify import DEFAULT_SUITES, PresentationResult, Problem, ProofResult, VerificationResult, Verifier, verify

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SUITES",
    "ED25519_SIGNATURE_2018",
    "ED25519_SIGNATURE_2020",
    "EDDSA_JCS_2022",
    "EDDSA_RDFC_2022",
    "SUITES",
    "Bitstring",
    "CanonicalizationError",
    "Certified",
    "ContextError",
    "ContextLoader",
    "CredentialStatus",
    "DocumentError",
    "Ed25519Key",
    "EntityType",
    "EntityTypeError",
    "ErrorCode",
    "Issuer",
    "KeyFormatError",
    "LifecycleError",
    "MalformedProofError",
    "PayloadError",
    "PayloadProblem",
    "PayloadReason",
    "PlaceholderStatusUrlWarning",
    "PresentationResult",
    "Problem",
    "ProblemCode",
    "ProofResult",
    "QRError",
    "QRErrorCorrection",
    "QRFormat",
    "Record",
    "RecordState",
    "RsaKey",
    "SQLiteStore",
    "SafeModeError",
    "Signer",
    "SigningError",
    "StatusError",
    "Store",
    "Suite",
    "UnsupportedSuiteError",
    "VCVersion",
    "VccoreError",
    "VerificationResult",
    "Verifier",
    "VerifyData",
    "bundled_contexts",
    "bundled_entity_types",
    "canonicalize",
    "canonicalize_nquads",
    "create_verify_data",
    "did_document",
    "did_key_document",
    "did_web",
    "issue",
    "load_entity_types",
    "load_key",
    "open_store",
    "public_key_from_verification_method",
    "rotate_key",
    "sign",
    "verify",
]

"""The registry of vccore's machine codes: errors, verification problems, payload reasons, status words.

Every code vccore gives a caller is a member of one of these ``StrEnum``s, so that a caller can
switch on it and a reader can find them all in one place (``docs/codes.md`` describes each). A
member is its value: it compares equal to, hashes as, formats and serializes to JSON as the bare
string (``ErrorCode.STORE_ERROR == "STORE_ERROR"``), so code that compared strings keeps working.

A few values are in two registries, because a problem can name the error behind it:
``MALFORMED_VALUE_ERROR``, ``MALFORMED_PROOF_ERROR``, ``UNSUPPORTED_SUITE``,
``UNKNOWN_VERIFICATION_METHOD``, ``STATUS_LIST_LENGTH_ERROR``, ``WORK_LIMIT`` and
``ISSUER_MISMATCH`` are both an :class:`ErrorCode` (what an error raised carries) and a
:class:`ProblemCode` (what a verification finds); the two members are equal, being equal strings.
A problem's ``reason`` is an :class:`ErrorCode`: the code of the error behind a general problem
(``PROOF_TRANSFORMATION_ERROR`` with reason ``UNDEFINED_TERM``), or one of the two reasons the
verifier finds itself (``SUITE_CONTEXT_MISSING``, ``CONTEXT_MISMATCH``).

This module imports nothing of vccore: every floor of the house may use it.
"""

from __future__ import annotations

from enum import StrEnum, unique

__all__ = ["CredentialStatus", "ErrorCode", "PayloadReason", "ProblemCode"]


@unique
class ErrorCode(StrEnum):
    """The ``code`` of a :class:`vccore.VccoreError` (and of the HTTP API's problem details)."""

    VCCORE_ERROR = "VCCORE_ERROR"
    # Contexts: a ContextError.
    UNKNOWN_CONTEXT = "UNKNOWN_CONTEXT"
    CONTEXT_DIGEST_MISMATCH = "CONTEXT_DIGEST_MISMATCH"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    # Canonicalization: a CanonicalizationError, or a SafeModeError for the last three.
    JSONLD_ERROR = "JSONLD_ERROR"
    INVALID_JSON = "INVALID_JSON"
    INVALID_NQUADS = "INVALID_NQUADS"
    CANONICALIZATION_LIMIT = "CANONICALIZATION_LIMIT"
    INPUT_TOO_DEEP = "INPUT_TOO_DEEP"
    INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
    WORK_LIMIT = "WORK_LIMIT"
    UNDEFINED_TERM = "UNDEFINED_TERM"
    RELATIVE_IRI = "RELATIVE_IRI"
    DATA_LOSS = "DATA_LOSS"
    # Keys: a KeyFormatError.
    INVALID_KEY = "INVALID_KEY"
    UNKNOWN_VERIFICATION_METHOD = "UNKNOWN_VERIFICATION_METHOD"
    KEY_PASSPHRASE_REQUIRED = "KEY_PASSPHRASE_REQUIRED"  # noqa: S105 (a code, not a password)
    KEY_PASSPHRASE_WRONG = "KEY_PASSPHRASE_WRONG"  # noqa: S105 (a code, not a password)
    KEY_NOT_ROTATABLE = "KEY_NOT_ROTATABLE"
    # Signing and proofs: a DocumentError, SigningError, UnsupportedSuiteError or MalformedProofError.
    INVALID_DOCUMENT = "INVALID_DOCUMENT"
    SIGNING_ERROR = "SIGNING_ERROR"
    UNSUPPORTED_SUITE = "UNSUPPORTED_SUITE"
    MALFORMED_PROOF_ERROR = "MALFORMED_PROOF_ERROR"
    # A signed value that cannot be read: an Unreadable.
    MALFORMED_VALUE_ERROR = "MALFORMED_VALUE_ERROR"
    # Reasons of PROOF_VERIFICATION_ERROR that the verifier finds itself: no error is raised.
    SUITE_CONTEXT_MISSING = "SUITE_CONTEXT_MISSING"
    CONTEXT_MISMATCH = "CONTEXT_MISMATCH"
    # Entity types, payloads and printing: an EntityTypeError, PayloadError or RenderError.
    INVALID_ENTITY_TYPE = "INVALID_ENTITY_TYPE"
    UNKNOWN_ENTITY_TYPE = "UNKNOWN_ENTITY_TYPE"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    RENDER_ERROR = "RENDER_ERROR"
    # Handlebars credential templates (Sunbird RC / DIVOC): a TemplateError.
    TEMPLATE_SYNTAX = "TEMPLATE_SYNTAX"
    TEMPLATE_DATA = "TEMPLATE_DATA"
    TEMPLATE_NOT_JSON = "TEMPLATE_NOT_JSON"
    TEMPLATE_FETCH = "TEMPLATE_FETCH"
    NO_CERTIFICATE_LAYOUT = "NO_CERTIFICATE_LAYOUT"
    # QR codes: a QRError.
    QR_MALFORMED = "QR_MALFORMED"
    QR_TOO_LARGE = "QR_TOO_LARGE"
    QR_FORMAT_UNSUPPORTED = "QR_FORMAT_UNSUPPORTED"
    QR_NOT_FOUND = "QR_NOT_FOUND"
    QR_READER_MISSING = "QR_READER_MISSING"
    QR_IMAGE_TOO_LARGE = "QR_IMAGE_TOO_LARGE"
    QR_IMAGE_UNREADABLE = "QR_IMAGE_UNREADABLE"
    # Status lists: a StatusError.
    STATUS_LIST_ERROR = "STATUS_LIST_ERROR"
    STATUS_LIST_LENGTH_ERROR = "STATUS_LIST_LENGTH_ERROR"
    # The lifecycle and the store: a LifecycleError.
    INVALID_TRANSITION = "INVALID_TRANSITION"
    UNKNOWN_CERTIFICATE = "UNKNOWN_CERTIFICATE"
    MISSING_CERTIFICATE_ID = "MISSING_CERTIFICATE_ID"
    DUPLICATE_CERTIFICATE_ID = "DUPLICATE_CERTIFICATE_ID"
    DUPLICATE_ISSUE_KEY = "DUPLICATE_ISSUE_KEY"
    STORE_ERROR = "STORE_ERROR"
    # Batches: a BatchError.
    BATCH_ERROR = "BATCH_ERROR"
    INVALID_LINE = "INVALID_LINE"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    # The HTTP API: an ApiError or AuthError, or the problem details of the app itself.
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    ISSUER_MISMATCH = "ISSUER_MISMATCH"
    RESERVED_BY_ISSUER = "RESERVED_BY_ISSUER"
    UNKNOWN_STATUS_LIST = "UNKNOWN_STATUS_LIST"
    UNKNOWN_TRANSACTION = "UNKNOWN_TRANSACTION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    AUTH_CONFIG = "AUTH_CONFIG"


@unique
class ProblemCode(StrEnum):
    """The ``code`` of a :class:`vccore.Problem`: what a verification finds (problems and warnings)."""

    PARSING_ERROR = "PARSING_ERROR"
    MALFORMED_VALUE_ERROR = "MALFORMED_VALUE_ERROR"
    MALFORMED_PROOF_ERROR = "MALFORMED_PROOF_ERROR"
    UNSUPPORTED_SUITE = "UNSUPPORTED_SUITE"
    UNSUPPORTED_CREDENTIAL = "UNSUPPORTED_CREDENTIAL"
    MISMATCHED_PROOF_PURPOSE_ERROR = "MISMATCHED_PROOF_PURPOSE_ERROR"
    INVALID_CHALLENGE_ERROR = "INVALID_CHALLENGE_ERROR"
    INVALID_DOMAIN_ERROR = "INVALID_DOMAIN_ERROR"
    UNKNOWN_VERIFICATION_METHOD = "UNKNOWN_VERIFICATION_METHOD"
    INVALID_VERIFICATION_METHOD = "INVALID_VERIFICATION_METHOD"
    ISSUER_MISMATCH = "ISSUER_MISMATCH"
    HOLDER_MISMATCH = "HOLDER_MISMATCH"
    UNTRUSTED_ISSUER = "UNTRUSTED_ISSUER"
    PROOF_TRANSFORMATION_ERROR = "PROOF_TRANSFORMATION_ERROR"
    PROOF_VERIFICATION_ERROR = "PROOF_VERIFICATION_ERROR"
    PROOF_EXPIRED = "PROOF_EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    EXPIRED = "EXPIRED"
    RELATED_RESOURCE_DIGEST_MISMATCH = "RELATED_RESOURCE_DIGEST_MISMATCH"
    WORK_LIMIT = "WORK_LIMIT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Status, found with a status resolver.
    REVOKED = "REVOKED"
    SUPERSEDED = "SUPERSEDED"
    SUSPENDED = "SUSPENDED"
    STATUS_RETRIEVAL_ERROR = "STATUS_RETRIEVAL_ERROR"
    STATUS_VERIFICATION_ERROR = "STATUS_VERIFICATION_ERROR"
    STATUS_LIST_LENGTH_ERROR = "STATUS_LIST_LENGTH_ERROR"
    RANGE_ERROR = "RANGE_ERROR"
    # Warnings: they do not make a credential unverified.
    STATUS_NOT_CHECKED = "STATUS_NOT_CHECKED"
    STATUS_MESSAGE = "STATUS_MESSAGE"


@unique
class PayloadReason(StrEnum):
    """The ``reason`` of a :class:`vccore.PayloadProblem`: what is wrong with one payload value."""

    MISSING = "MISSING"
    WRONG_TYPE = "WRONG_TYPE"
    BAD_DATE = "BAD_DATE"
    NOT_A_URL = "NOT_A_URL"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    INVALID_VALUE = "INVALID_VALUE"


@unique
class CredentialStatus(StrEnum):
    """A verification result's ``status``: one word for people and APIs (VALID, or why not)."""

    VALID = "VALID"
    REVOKED = "REVOKED"
    SUPERSEDED = "SUPERSEDED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    INVALID = "INVALID"

"""Verify a credential: data model, proofs, verification methods, validity window, status.

``verify()`` never raises for anything that comes from the credential: every problem becomes a
:class:`Problem` with a stable code (the spec's own names where there is one) and a detail that
names the field, URL or value at fault. Only the caller's own arguments (unknown suite names,
unreadable trusted keys) raise, and they do so before any credential is looked at.

Every fact a verdict rests on is read from what the signature covers (:mod:`vccore._signed`):
the checks below are handed the signed form's nodes, never the credential's JSON. The JSON is
read for three things only, none of which another spelling can hide: ``@context`` (a keyword,
which no context can alias), which proofs there are and which suite each names (``proof``: a
proof that cannot be found is not counted as verified; what a found proof says is read from its
signed configuration), and each proof's signature value (``proofValue``, ``jws``).

Codes: ``PARSING_ERROR``, ``MALFORMED_VALUE_ERROR`` (data model), ``MALFORMED_PROOF_ERROR``,
``UNSUPPORTED_SUITE``, ``MISMATCHED_PROOF_PURPOSE_ERROR``, ``UNKNOWN_VERIFICATION_METHOD``,
``INVALID_VERIFICATION_METHOD``, ``ISSUER_MISMATCH``, ``PROOF_TRANSFORMATION_ERROR`` (with the
canonicalization ``reason``: ``UNDEFINED_TERM``, ``RELATIVE_IRI``, ``DATA_LOSS``,
``UNKNOWN_CONTEXT``, ``INPUT_TOO_LARGE``, ``CANONICALIZATION_LIMIT``, ...),
``PROOF_VERIFICATION_ERROR``, ``PROOF_EXPIRED``, ``NOT_YET_VALID``, ``EXPIRED``,
``UNTRUSTED_ISSUER``, ``WORK_LIMIT`` (the request needs more work than one request is given:
see :class:`vccore.canon.WorkBudget`), ``INTERNAL_ERROR``; with a status resolver, ``REVOKED``,
``SUSPENDED`` (``until``), ``SUPERSEDED`` (``successor``, when the store is given),
``STATUS_RETRIEVAL_ERROR``, ``STATUS_VERIFICATION_ERROR``, ``STATUS_LIST_LENGTH_ERROR``,
``RANGE_ERROR``. Status is checked only for a credential whose proof verified.

The rooms: :mod:`.verifier` (the :class:`Verifier` and ``verify()``: a credential's walk through
the checks), :mod:`.data_model` (the VC Data Model checks), :mod:`._proofs` (proof checks),
:mod:`._trust` (trusted keys), :mod:`._shapes` (the compiled shapes of entity types'
credentials, which spare the JSON-LD work). What the checks find is :mod:`vccore.results` (values that import
nothing of vccore, on the lowest floor, so that the status checks of :mod:`vccore.status.check`
make them too); the verifier hands each check what it needs, never itself.
"""

from __future__ import annotations

from ..results import PresentationResult, Problem, ProofResult, VerificationResult
from ..status.resolve import status_resolver
from .data_model import UnsignedCredential, check_unsigned
from .verifier import DEFAULT_SUITES, Verifier, verify

__all__ = [
    "DEFAULT_SUITES",
    "PresentationResult",
    "Problem",
    "ProofResult",
    "UnsignedCredential",
    "VerificationResult",
    "Verifier",
    "check_unsigned",
    "status_resolver",
    "verify",
]

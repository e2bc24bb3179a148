"""What a verification finds: problems, proof results, a credential's and a presentation's verdict.

Values only: this module imports nothing of vccore but its registry of codes
(:mod:`vccore.codes`, which imports nothing), so that every check (the status checks of
:mod:`vccore.status` among them) may make them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .codes import CredentialStatus, ErrorCode, ProblemCode


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a credential is not verified: a stable ``code``, a ``detail`` for people (what is
    wrong), and, when the verifier's caller can do something about it, a ``hint``.
    """

    code: ProblemCode
    detail: str
    proof: int | None = None
    """Index of the proof concerned, if any."""
    reason: ErrorCode | None = None
    """The underlying error's code, when ``code`` is a general one."""
    data: Mapping[str, str] = field(default_factory=dict)
    """Facts that go with the code: ``until`` (SUSPENDED), ``successor`` (SUPERSEDED),
    ``statusListCredential``."""
    hint: str | None = None
    """What the verifier's caller can do, in Python names (``status=``, ``verification_methods=``).
    Not in :meth:`to_dict`: that form goes to whoever presented the credential (an HTTP client),
    who cannot change the verifier; the command line words its own hints with its options."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: code, detail, and proof/reason/data when set."""
        out: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.proof is not None:
            out["proof"] = self.proof
        if self.reason is not None:
            out["reason"] = self.reason
        out.update(self.data)
        return out


@dataclass(frozen=True, slots=True)
class ProofResult:
    """What became of one proof."""

    index: int
    suite: str | None
    verification_method: str | None
    verified: bool
    skipped: bool = False
    """True when the caller does not accept the proof's suite."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "index": self.index,
            "suite": self.suite,
            "verificationMethod": self.verification_method,
            "verified": self.verified,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """``verified`` is true only when no problem was found and an accepted proof verified."""

    verified: bool
    problems: tuple[Problem, ...] = ()
    proofs: tuple[ProofResult, ...] = ()
    warnings: tuple[Problem, ...] = ()
    """What was not checked (``STATUS_NOT_CHECKED``: a genuine credential has a status, and the
    verifier was given no status lists)."""

    @property
    def codes(self) -> tuple[ProblemCode, ...]:
        """The problems' codes, in order."""
        return tuple(p.code for p in self.problems)

    @property
    def authentic(self) -> bool:
        """True when a proof by the issuer verified and nothing is wrong but the credential's
        state (revoked, superseded, suspended, expired, not yet valid: :data:`STATUS_WORDS`):
        what it says is the issuer's, whether or not it still holds.
        """
        return self.verified or (
            any(p.verified for p in self.proofs) and all(p.code in STATUS_WORDS for p in self.problems)
        )

    @property
    def status(self) -> CredentialStatus:
        """One word for people and APIs: VALID, or the first of REVOKED, SUPERSEDED, SUSPENDED,
        EXPIRED, NOT_YET_VALID found among the problems, else INVALID. A credential whose proofs
        fail (:data:`UNPROVEN`) is INVALID whatever its dates say: they are not the issuer's.
        """
        if self.verified:
            return CredentialStatus.VALID
        codes = set(self.codes)
        if codes & UNPROVEN:
            return CredentialStatus.INVALID
        return next((word for code, word in STATUS_WORDS.items() if code in codes), CredentialStatus.INVALID)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"verified", "status", "problems", "warnings", "proofs"}``."""
        return {
            "verified": self.verified,
            "status": self.status,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": [p.to_dict() for p in self.warnings],
            "proofs": [p.to_dict() for p in self.proofs],
        }


@dataclass(frozen=True, slots=True)
class PresentationResult:
    """A presentation's verdict: its own (data model, proofs, challenge and domain) and each
    credential's, in order. ``verified`` only when all of them are.
    """

    presentation: VerificationResult
    credentials: tuple[VerificationResult, ...]

    @property
    def verified(self) -> bool:
        """True when the presentation and every credential in it verified."""
        return self.presentation.verified and all(c.verified for c in self.credentials)

    def presentation_or_first(self) -> VerificationResult:
        """The presentation's own result when it failed, else the first failing credential's
        (else the presentation's): one result with the reason the whole is not verified.
        """
        if not self.presentation.verified:
            return self.presentation
        return next((c for c in self.credentials if not c.verified), self.presentation)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"verified", "presentation", "credentials"}``."""
        return {
            "verified": self.verified,
            "presentation": self.presentation.to_dict(),
            "credentials": [c.to_dict() for c in self.credentials],
        }


STATUS_WORDS: Final = {
    ProblemCode.REVOKED: CredentialStatus.REVOKED,
    ProblemCode.SUPERSEDED: CredentialStatus.SUPERSEDED,
    ProblemCode.SUSPENDED: CredentialStatus.SUSPENDED,
    ProblemCode.EXPIRED: CredentialStatus.EXPIRED,
    ProblemCode.NOT_YET_VALID: CredentialStatus.NOT_YET_VALID,
}
"""The problems that have a status word of their own, in the order they are preferred."""
TIME_ONLY: Final = frozenset((ProblemCode.EXPIRED, ProblemCode.NOT_YET_VALID))
UNPROVEN: Final = frozenset(
    (
        ProblemCode.PARSING_ERROR,
        ProblemCode.MALFORMED_PROOF_ERROR,
        ProblemCode.UNSUPPORTED_SUITE,
        ProblemCode.MISMATCHED_PROOF_PURPOSE_ERROR,
        ProblemCode.UNKNOWN_VERIFICATION_METHOD,
        ProblemCode.INVALID_VERIFICATION_METHOD,
        ProblemCode.ISSUER_MISMATCH,
        ProblemCode.PROOF_TRANSFORMATION_ERROR,
        ProblemCode.PROOF_VERIFICATION_ERROR,
        ProblemCode.PROOF_EXPIRED,
    )
)
"""The problems that leave a credential without a proof vouching for it: nothing it says (its
dates, its status) is known to be the issuer's."""


def work_limit() -> Problem:
    """The problem of a request that spent its WorkBudget: nothing more is checked."""
    return Problem(
        ProblemCode.WORK_LIMIT,
        "verifying this needs more JSON-LD work than vccore gives one request (a long proof chain, "
        "many credentials, or a very large document); nothing further was checked",
    )

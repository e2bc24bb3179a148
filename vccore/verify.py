"""Verify a credential: data model, proofs, verification methods, validity window.

``verify()`` never raises for anything that comes from the credential: every problem becomes a
:class:`Problem` with a stable code (the spec's own names where there is one) and a detail that
names the field, URL or value at fault. Only the caller's own arguments (unknown suite names,
unreadable trusted keys) raise, and they do so before any credential is looked at.

Codes: ``PARSING_ERROR``, ``MALFORMED_VALUE_ERROR`` (data model), ``MALFORMED_PROOF_ERROR``,
``UNSUPPORTED_SUITE``, ``MISMATCHED_PROOF_PURPOSE_ERROR``, ``UNKNOWN_VERIFICATION_METHOD``,
``INVALID_VERIFICATION_METHOD``, ``ISSUER_MISMATCH``, ``PROOF_TRANSFORMATION_ERROR`` (with the
canonicalization ``reason``: ``UNDEFINED_TERM``, ``RELATIVE_IRI``, ``UNKNOWN_CONTEXT``,
``CANONICALIZATION_LIMIT``, ...), ``PROOF_VERIFICATION_ERROR``, ``PROOF_EXPIRED``,
``CREDENTIAL_NOT_YET_VALID``, ``CREDENTIAL_EXPIRED``, ``INTERNAL_ERROR``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from . import _datetime
from .contexts import ContextLoader, bundled_contexts
from .errors import CanonicalizationError, ContextError, KeyFormatError, VccoreError
from .keys import Ed25519Key, did_key_document, public_key_from_verification_method
from .proofs import verify_signature
from .suites import MalformedProofError, Suite, resolve_suites

__all__ = ["DEFAULT_SUITES", "Problem", "ProofResult", "VerificationResult", "Verifier", "verify"]

CREDENTIALS_V1: Final = "https://www.w3.org/2018/credentials/v1"
CREDENTIALS_V2: Final = "https://www.w3.org/ns/credentials/v2"
DEFAULT_SUITES: Final = ("eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020")
"""What ``verify()`` accepts unless told otherwise; legacy suites (Ed25519Signature2018) are opt-in."""
_RELATIONSHIPS: Final = ("assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation", "keyAgreement")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a credential is not verified: a stable ``code`` and a ``detail`` for people."""

    code: str
    detail: str
    proof: int | None = None
    """Index of the proof concerned, if any."""
    reason: str | None = None
    """The underlying error's code, when ``code`` is a general one."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: code, detail, and proof/reason when set."""
        out: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.proof is not None:
            out["proof"] = self.proof
        if self.reason is not None:
            out["reason"] = self.reason
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

    @property
    def codes(self) -> tuple[str, ...]:
        """The problems' codes, in order."""
        return tuple(p.code for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"verified", "problems", "proofs"}``."""
        return {
            "verified": self.verified,
            "problems": [p.to_dict() for p in self.problems],
            "proofs": [p.to_dict() for p in self.proofs],
        }


@dataclass(frozen=True, slots=True)
class _TrustedKey:
    key: Ed25519Key
    relationships: frozenset[str] | None  # None: a key the caller vouches for, for any purpose


@dataclass(frozen=True, slots=True)
class Verifier:
    """A reusable verifier: the suites it accepts, the keys it trusts, the contexts it knows.

    Keys: did:key verification methods resolve offline; every other verification method must be
    given in ``verification_methods``, as verification method objects (trusted for any proof
    purpose) or whole DID documents (trusted for the relationships they list).
    """

    suites: tuple[Suite, ...]
    contexts: ContextLoader
    _trusted: Mapping[str, _TrustedKey] = field(repr=False)

    @classmethod
    def create(
        cls,
        *,
        suites: Iterable[str | Suite] = DEFAULT_SUITES,
        contexts: ContextLoader | None = None,
        verification_methods: Iterable[Mapping[str, Any]] = (),
    ) -> Verifier:
        """Build a verifier; raises for unknown suites or unreadable trusted keys."""
        return cls(
            resolve_suites(suites),
            contexts if contexts is not None else bundled_contexts(),
            _index_trusted(verification_methods),
        )

    def verify(
        self,
        credential: Any,
        *,
        now: datetime | None = None,
        proof_purpose: str = "assertionMethod",
    ) -> VerificationResult:
        """Verify a credential (a JSON object, or its JSON text) at time ``now`` (default: the clock)."""
        moment = now if now is not None else _datetime.now()
        if moment.tzinfo is None:
            raise ValueError("now must be an aware datetime (with a time zone)")
        try:
            return self._verify(credential, moment, proof_purpose)
        except Exception as exc:  # the promise: nothing from the credential escapes as an exception
            return VerificationResult(
                False, (Problem("INTERNAL_ERROR", f"vccore failed while verifying: {type(exc).__name__}: {exc}"),)
            )

    def _verify(self, credential: Any, now: datetime, purpose: str) -> VerificationResult:
        if isinstance(credential, (str, bytes)):
            try:
                credential = json.loads(credential)
            except ValueError as exc:
                return VerificationResult(False, (Problem("PARSING_ERROR", f"not JSON: {exc}"),))
            except RecursionError:
                return VerificationResult(False, (Problem("PARSING_ERROR", "JSON nested too deeply"),))
        if not isinstance(credential, Mapping):
            return VerificationResult(
                False, (Problem("PARSING_ERROR", f"a credential is a JSON object, not {type(credential).__name__}"),)
            )
        problems: list[Problem] = []
        version = _check_data_model(credential, problems)
        proof_results = self._check_proofs(credential, purpose, now, problems)
        if version is not None:
            _check_validity(credential, version, now, problems)
        verified = not problems and any(r.verified for r in proof_results)
        return VerificationResult(verified, tuple(problems), tuple(proof_results))

    def _check_proofs(
        self, credential: Mapping[str, Any], purpose: str, now: datetime, problems: list[Problem]
    ) -> list[ProofResult]:
        raw = credential.get("proof")
        if raw is None:
            problems.append(Problem("MALFORMED_PROOF_ERROR", "the credential has no proof"))
            return []
        proofs = raw if isinstance(raw, list) else [raw]
        if not proofs:
            problems.append(Problem("MALFORMED_PROOF_ERROR", "the credential's proof list is empty"))
            return []
        unsecured = {k: v for k, v in credential.items() if k != "proof"}
        results = [self._check_proof(i, p, proofs, unsecured, credential, purpose, now, problems) for i, p in enumerate(proofs)]
        if results and all(r.skipped for r in results):
            found = sorted({r.suite or "unknown" for r in results})
            problems.append(
                Problem(
                    "UNSUPPORTED_SUITE",
                    f"no proof uses a suite this verifier accepts ({', '.join(s.name for s in self.suites)}); "
                    f"found: {', '.join(found)}",
                )
            )
        return results

    def _check_proof(
        self,
        index: int,
        proof: Any,
        all_proofs: list[Any],
        unsecured: Mapping[str, Any],
        credential: Mapping[str, Any],
        purpose: str,
        now: datetime,
        problems: list[Problem],
    ) -> ProofResult:
        def fail(code: str, detail: str, reason: str | None = None, vm: str | None = None) -> ProofResult:
            problems.append(Problem(code, detail, index, reason))
            return ProofResult(index, suite_name, vm, False)

        suite_name: str | None = None
        if not isinstance(proof, Mapping):
            return fail("MALFORMED_PROOF_ERROR", f"proof {index} is not a JSON object")
        proof_type = proof.get("type")
        suite_name = proof.get("cryptosuite") if proof_type == "DataIntegrityProof" else proof_type
        suite_name = suite_name if isinstance(suite_name, str) else None
        suite = next((s for s in self.suites if s.matches(proof)), None)
        if suite is None:
            return ProofResult(index, suite_name, None, False, skipped=True)

        vm_id = proof.get("verificationMethod")
        for name in ("verificationMethod", "proofPurpose", "created"):
            value = proof.get(name)
            if name != "created" and not isinstance(value, str):
                return fail("MALFORMED_PROOF_ERROR", f"proof {index}: {name} must be a string")
        assert isinstance(vm_id, str)
        if "created" in proof:
            try:
                _datetime.parse(proof["created"])
            except ValueError as exc:
                return fail("MALFORMED_PROOF_ERROR", f"proof {index}: created: {exc}", vm=vm_id)
        if proof["proofPurpose"] != purpose:
            return fail(
                "MISMATCHED_PROOF_PURPOSE_ERROR",
                f"proof {index} has purpose {proof['proofPurpose']!r}; expected {purpose!r}",
                vm=vm_id,
            )
        if "expires" in proof:
            try:
                expires = _datetime.parse(proof["expires"])
            except ValueError as exc:
                return fail("MALFORMED_PROOF_ERROR", f"proof {index}: expires: {exc}", vm=vm_id)
            if now > expires:
                return fail("PROOF_EXPIRED", f"proof {index} expired at {proof['expires']}", vm=vm_id)
        context = credential.get("@context")
        context_list = context if isinstance(context, list) else [context]
        if not any(c in suite.contexts_defining_terms for c in context_list if isinstance(c, str)):
            return fail(
                "PROOF_VERIFICATION_ERROR",
                f"the credential's @context lacks {suite.context}, which defines the terms of {suite.name}",
                reason="SUITE_CONTEXT_MISSING",
                vm=vm_id,
            )

        try:
            key = self._resolve(vm_id, purpose)
        except KeyFormatError as exc:
            code = "UNKNOWN_VERIFICATION_METHOD" if exc.code == "UNKNOWN_VERIFICATION_METHOD" else "INVALID_VERIFICATION_METHOD"
            return fail(code, exc.message, vm=vm_id)

        if suite.proof_keeps_context and "@context" in proof and proof["@context"] != credential.get("@context"):
            return fail(
                "PROOF_VERIFICATION_ERROR",
                f"proof {index}: its @context is not the credential's @context, which has changed since signing",
                reason="CONTEXT_MISMATCH",
                vm=vm_id,
            )
        signed = dict(unsecured)
        previous = proof.get("previousProof")
        if previous is not None:
            wanted = [previous] if isinstance(previous, str) else previous
            by_id = {p.get("id"): p for p in all_proofs if isinstance(p, Mapping) and isinstance(p.get("id"), str)}
            if not isinstance(wanted, list) or not all(isinstance(w, str) and w in by_id for w in wanted):
                return fail(
                    "MALFORMED_PROOF_ERROR",
                    f"proof {index}: previousProof {previous!r} does not name proofs in this credential",
                    vm=vm_id,
                )
            signed["proof"] = [by_id[w] for w in wanted]
        try:
            ok = verify_signature(suite, signed, proof, key, contexts=self.contexts)
        except MalformedProofError as exc:
            return fail("MALFORMED_PROOF_ERROR", f"proof {index}: {exc.message}", vm=vm_id)
        except (CanonicalizationError, ContextError) as exc:
            return fail("PROOF_TRANSFORMATION_ERROR", exc.message, reason=exc.code, vm=vm_id)
        except VccoreError as exc:
            return fail("MALFORMED_PROOF_ERROR", exc.message, reason=exc.code, vm=vm_id)
        if not ok:
            return fail(
                "PROOF_VERIFICATION_ERROR",
                f"proof {index}: the signature does not match the credential (signed by {vm_id})",
                vm=vm_id,
            )
        # Checked after the signature, so that this problem alone says the signature is good.
        issuer = _issuer_id(credential)
        if issuer is not None and issuer != key.controller:
            return fail(
                "ISSUER_MISMATCH",
                f"issuer {issuer} is not the controller ({key.controller}) of verification method {vm_id}",
                vm=vm_id,
            )
        return ProofResult(index, suite.name, vm_id, True)

    def _resolve(self, vm_id: str, purpose: str) -> Ed25519Key:
        trusted = self._trusted.get(vm_id)
        if trusted is not None:
            if trusted.relationships is not None and purpose not in trusted.relationships:
                raise KeyFormatError(
                    f"verification method {vm_id} is not authorized for {purpose} by its DID document",
                    field="verificationMethod",
                )
            return trusted.key
        if vm_id.startswith("did:key:"):
            document = did_key_document(vm_id)
            return public_key_from_verification_method(document["verificationMethod"][0])
        raise KeyFormatError(
            f"verification method {vm_id} is unknown: it is not a did:key and not among the trusted "
            "verification methods given to the verifier",
            code="UNKNOWN_VERIFICATION_METHOD",
            field="verificationMethod",
            url=vm_id,
        )


def verify(
    credential: Any,
    *,
    suites: Iterable[str | Suite] = DEFAULT_SUITES,
    now: datetime | None = None,
    contexts: ContextLoader | None = None,
    verification_methods: Iterable[Mapping[str, Any]] = (),
    proof_purpose: str = "assertionMethod",
) -> VerificationResult:
    """Verify a credential (VC Data Model 1.1 or 2.0; Data Integrity section 4.4)."""
    verifier = Verifier.create(suites=suites, contexts=contexts, verification_methods=verification_methods)
    return verifier.verify(credential, now=now, proof_purpose=proof_purpose)


# --- trust ------------------------------------------------------------------------------------


def _index_trusted(items: Iterable[Mapping[str, Any]]) -> dict[str, _TrustedKey]:
    index: dict[str, _TrustedKey] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise KeyFormatError("trusted verification methods are JSON objects", field="verificationMethod")
        if "verificationMethod" in item or any(r in item for r in _RELATIONSHIPS):
            _index_did_document(item, index)
        else:
            key = public_key_from_verification_method(item)
            index[key.id] = _TrustedKey(key, None)
    return index


def _index_did_document(document: Mapping[str, Any], index: dict[str, _TrustedKey]) -> None:
    did = document.get("id")
    methods: dict[str, Ed25519Key] = {}
    embedded: dict[str, set[str]] = {}
    for method in document.get("verificationMethod", ()):
        key = public_key_from_verification_method(method)
        methods[key.id] = key
    for relationship in _RELATIONSHIPS:
        for entry in document.get(relationship, ()):
            if isinstance(entry, str):
                ref = entry if not entry.startswith("#") else f"{did}{entry}"
                embedded.setdefault(ref, set()).add(relationship)
            else:
                key = public_key_from_verification_method(entry)
                methods.setdefault(key.id, key)
                embedded.setdefault(key.id, set()).add(relationship)
    for key_id, key in methods.items():
        index[key_id] = _TrustedKey(key, frozenset(embedded.get(key_id, ())))


# --- data model -------------------------------------------------------------------------------


def _check_data_model(credential: Mapping[str, Any], problems: list[Problem]) -> str | None:
    """VC Data Model checks; the version ("1.1" or "2.0") when the context says which."""

    def bad(detail: str) -> None:
        problems.append(Problem("MALFORMED_VALUE_ERROR", detail))

    context = credential.get("@context")
    first = context[0] if isinstance(context, list) and context else context
    version = {CREDENTIALS_V1: "1.1", CREDENTIALS_V2: "2.0"}.get(first) if isinstance(first, str) else None
    if version is None:
        bad(f"@context must start with {CREDENTIALS_V2} (VC 2.0) or {CREDENTIALS_V1} (VC 1.1)")
    types = credential.get("type")
    type_list = types if isinstance(types, list) else [types]
    if "VerifiableCredential" not in type_list:
        bad('type must include "VerifiableCredential"')
    if _issuer_id(credential) is None:
        bad("issuer must be a URL, or an object whose id is a URL")
    subject = credential.get("credentialSubject")
    subjects = subject if isinstance(subject, list) else [subject]
    if not subjects or not all(isinstance(s, Mapping) for s in subjects):
        bad("credentialSubject must be an object or a non-empty list of objects")
    if version == "1.1" and "issuanceDate" not in credential:
        bad("a VC 1.1 credential must have issuanceDate")
    for name in ("validFrom", "validUntil", "issuanceDate", "expirationDate"):
        if name in credential:
            try:
                _datetime.parse(credential[name], require_zone=version == "2.0")
            except ValueError as exc:
                bad(f"{name}: {exc}")
    return version


def _check_validity(credential: Mapping[str, Any], version: str, now: datetime, problems: list[Problem]) -> None:
    start_field, end_field = ("validFrom", "validUntil") if version == "2.0" else ("issuanceDate", "expirationDate")
    for name, later_is_bad in ((start_field, False), (end_field, True)):
        if name not in credential:
            continue
        try:
            moment = _datetime.parse(credential[name], require_zone=version == "2.0")
        except ValueError:
            continue  # reported by the data model check
        if not later_is_bad and now < moment:
            problems.append(Problem("CREDENTIAL_NOT_YET_VALID", f"{name} is {credential[name]}; now is {_datetime.format(now)}"))
        if later_is_bad and now > moment:
            problems.append(Problem("CREDENTIAL_EXPIRED", f"{name} was {credential[name]}; now is {_datetime.format(now)}"))


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if isinstance(issuer, str) and ":" in issuer:
        return issuer
    return None

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
``NOT_YET_VALID``, ``EXPIRED``, ``UNTRUSTED_ISSUER``, ``INTERNAL_ERROR``; with a status
resolver, ``REVOKED``, ``SUSPENDED`` (``until``), ``SUPERSEDED`` (``successor``, when the store is
given), ``STATUS_RETRIEVAL_ERROR``, ``STATUS_VERIFICATION_ERROR``, ``STATUS_LIST_LENGTH_ERROR``,
``RANGE_ERROR``. Status is checked only for a credential whose proof verified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Union

from . import _datetime, _json
from ._vocab import CREDENTIALS_V1, CREDENTIALS_V2
from .contexts import ContextLoader, bundled_contexts
from .errors import CanonicalizationError, ContextError, KeyFormatError, VccoreError
from .keys import VERIFICATION_RELATIONSHIPS, Ed25519Key, PublicKey, did_key_document, public_key_from_verification_method
from .proofs import hash_document, verify_signature
from .compiled import CompiledCredentials
from .entities import EntityType, bundled_entity_types
from .status import LIFECYCLE_CONTEXT, MESSAGES, MIN_LIST_LENGTH, Bitstring, StatusError
from .suites import MalformedProofError, Suite, resolve_suites

if TYPE_CHECKING:
    from .store import Store

__all__ = ["DEFAULT_SUITES", "Problem", "ProofResult", "VerificationResult", "Verifier", "verify"]

DEFAULT_SUITES: Final = ("eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020")
"""What ``verify()`` accepts unless told otherwise; legacy suites (Ed25519Signature2018) are opt-in."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a credential is not verified: a stable ``code`` and a ``detail`` for people."""

    code: str
    detail: str
    proof: int | None = None
    """Index of the proof concerned, if any."""
    reason: str | None = None
    """The underlying error's code, when ``code`` is a general one."""
    data: Mapping[str, str] = field(default_factory=dict)
    """Facts that go with the code: ``until`` (SUSPENDED), ``successor`` (SUPERSEDED),
    ``statusListCredential``."""

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
    """What was not checked (``STATUS_NOT_CHECKED``: no status resolver was given)."""

    @property
    def codes(self) -> tuple[str, ...]:
        """The problems' codes, in order."""
        return tuple(p.code for p in self.problems)

    @property
    def status(self) -> str:
        """One word for people and APIs: VALID, or the first of REVOKED, SUPERSEDED, SUSPENDED,
        EXPIRED, NOT_YET_VALID found among the problems, else INVALID."""
        if self.verified:
            return "VALID"
        codes = set(self.codes)
        return next((c for c in _STATUS_WORDS if c in codes), "INVALID")

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
    credential's, in order. ``verified`` only when all of them are."""

    presentation: VerificationResult
    credentials: tuple[VerificationResult, ...]

    @property
    def verified(self) -> bool:
        return self.presentation.verified and all(c.verified for c in self.credentials)

    def presentation_or_first(self) -> VerificationResult:
        """The presentation's own result when it failed, else the first failing credential's
        (else the presentation's): one result with the reason the whole is not verified."""
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


MAX_PRESENTED: Final = 64


def _check_challenge(raw: Any, challenge: str | None, domain: str | None, problems: list[Problem]) -> None:
    """Data Integrity section 4.6 steps for challenge and domain: every proof states what was asked."""
    proofs = [p for p in (raw if isinstance(raw, list) else [raw]) if isinstance(p, Mapping)]
    for index, proof in enumerate(proofs):
        if challenge is not None and proof.get("challenge") != challenge:
            problems.append(Problem("INVALID_CHALLENGE_ERROR", f"proof {index}: challenge {proof.get('challenge')!r} is not the one asked for", index))
        if domain is not None:
            stated = proof.get("domain")
            domains = stated if isinstance(stated, list) else [stated]
            if domain not in domains:
                problems.append(Problem("INVALID_DOMAIN_ERROR", f"proof {index}: domain {stated!r} is not {domain!r}", index))


_STATUS_WORDS: Final = ("REVOKED", "SUPERSEDED", "SUSPENDED", "EXPIRED", "NOT_YET_VALID")
_TIME_ONLY: Final = frozenset(("EXPIRED", "NOT_YET_VALID"))


@dataclass(frozen=True, slots=True)
class _TrustedKey:
    key: PublicKey
    relationships: frozenset[str] | None  # None: a key the caller vouches for, for any purpose


# More proofs than any real credential carries; each one costs a canonicalization.
MAX_PROOFS: Final = 16


@dataclass(frozen=True, slots=True)
class Verifier:
    """A reusable verifier: the suites it accepts, the keys and issuers it trusts, its contexts.

    Keys: did:key verification methods resolve offline; every other verification method must be
    given in ``verification_methods``, as verification method objects (trusted for any proof
    purpose) or whole DID documents (trusted for the relationships they list). Issuers: with
    ``trusted_issuers`` only credentials from those issuers verify (``UNTRUSTED_ISSUER``);
    without it any issuer does, as long as it controls the key that signed.
    """

    suites: tuple[Suite, ...]
    contexts: ContextLoader
    trusted_issuers: frozenset[str] | None
    _trusted: Mapping[str, _TrustedKey] = field(repr=False)
    status: StatusResolver | None = field(default=None, repr=False)
    store: Store | None = field(default=None, repr=False)
    entity_types: Mapping[str, EntityType] | None = field(default=None, repr=False)
    # Status list credentials already verified: (URL, sha256 of their JSON) -> list. Verifying a
    # list costs as much as a credential, and every credential of a list set names the same three.
    _list_cache: dict[tuple[str, str], _StatusList | str] = field(default_factory=dict, repr=False, compare=False)
    # The same list object seen again (what mapping and folder resolvers return): its verdict.
    _list_seen: dict[str, tuple[Any, _StatusList | str]] = field(default_factory=dict, repr=False, compare=False)
    # Compiled shapes of the entity types' credentials (vccore.compiled), by what a credential
    # shows of its shape: the JSON-LD work of verifying them is done once per shape.
    _compiled: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    # did:key verification methods already resolved (resolving one decodes and checks the key,
    # which costs about half an Ed25519 verification); a did:key always resolves the same way.
    _did_keys: dict[str, Ed25519Key] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        *,
        suites: Iterable[str | Suite] = DEFAULT_SUITES,
        contexts: ContextLoader | None = None,
        verification_methods: Iterable[Mapping[str, Any]] = (),
        trusted_issuers: Iterable[str] | None = None,
        status: StatusSource | None = None,
        store: Store | None = None,
        entity_types: Mapping[str, EntityType] | None = None,
    ) -> Verifier:
        """Build a verifier; raises for unknown suites or unreadable trusted keys.

        ``status``: where status list credentials come from: a folder written by ``vccore status
        export`` (or any folder with an ``index.json`` of URL -> file), a mapping URL ->
        credential, or a callable URL -> credential (or None). Without it, credential status is
        not checked (the result carries a STATUS_NOT_CHECKED warning). ``store``: the issuer's
        store, to name the successor of a superseded credential. ``entity_types`` (default: the
        bundled ones): credentials of these types verify through their compiled shapes.
        """
        return cls(
            resolve_suites(suites),
            contexts if contexts is not None else bundled_contexts(),
            frozenset(trusted_issuers) if trusted_issuers is not None else None,
            _index_trusted(verification_methods),
            status_resolver(status) if status is not None else None,
            store,
            entity_types,
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

    def verify_presentation(
        self,
        presentation: Any,
        *,
        challenge: str | None = None,
        domain: str | None = None,
        now: datetime | None = None,
    ) -> PresentationResult:
        """Verify a presentation (VC Data Model 1.1 or 2.0) and every credential in it.

        The presentation's proofs (Data Integrity, proof purpose ``authentication``) must be by
        a key its ``holder`` controls, when it names one. With ``challenge`` or ``domain`` the
        presentation must carry a proof that states them (what stops a replayed presentation);
        without them a presentation without a proof is accepted, and only its credentials vouch
        for anything. Enveloped credentials are refused (``UNSUPPORTED_CREDENTIAL``)."""
        moment = now if now is not None else _datetime.now()
        if moment.tzinfo is None:
            raise ValueError("now must be an aware datetime (with a time zone)")
        try:
            return self._verify_presentation(presentation, challenge, domain, moment)
        except Exception as exc:  # as verify(): nothing from the input escapes as an exception
            failure = Problem("INTERNAL_ERROR", f"vccore failed while verifying: {type(exc).__name__}: {exc}")
            return PresentationResult(VerificationResult(False, (failure,)), ())

    def _verify_presentation(self, presentation: Any, challenge: str | None, domain: str | None, now: datetime) -> PresentationResult:
        if isinstance(presentation, (str, bytes)):
            try:
                presentation = _json.loads(presentation)
            except ValueError as exc:
                return PresentationResult(VerificationResult(False, (Problem("PARSING_ERROR", f"not JSON: {exc}"),)), ())
        if not isinstance(presentation, Mapping):
            problem = Problem("PARSING_ERROR", f"a presentation is a JSON object, not {type(presentation).__name__}")
            return PresentationResult(VerificationResult(False, (problem,)), ())
        problems: list[Problem] = []
        context = presentation.get("@context")
        first = context[0] if isinstance(context, list) and context else context
        if first not in (CREDENTIALS_V1, CREDENTIALS_V2):
            problems.append(Problem("MALFORMED_VALUE_ERROR", f"@context must start with {CREDENTIALS_V2} (VC 2.0) or {CREDENTIALS_V1} (VC 1.1)"))
        types = presentation.get("type")
        if "VerifiablePresentation" not in (types if isinstance(types, list) else [types]):
            problems.append(Problem("MALFORMED_VALUE_ERROR", 'type must include "VerifiablePresentation"'))
        holder = presentation.get("holder")
        holder_id = holder.get("id") if isinstance(holder, Mapping) else holder
        if holder is not None and not (isinstance(holder_id, str) and ":" in holder_id):
            problems.append(Problem("MALFORMED_VALUE_ERROR", "holder must be a URL, or an object whose id is a URL"))
            holder_id = None
        raw = presentation.get("verifiableCredential", [])
        credentials = raw if isinstance(raw, list) else [raw]
        if len(credentials) > MAX_PRESENTED:
            problems.append(Problem("MALFORMED_VALUE_ERROR", f"{len(credentials)} credentials; vccore verifies at most {MAX_PRESENTED} in a presentation"))
            credentials = []
        proof_results: list[ProofResult] = []
        if "proof" in presentation:
            proof_results = self._check_proofs(
                presentation, holder_id if isinstance(holder_id, str) else None, "authentication", now, problems, role="holder"
            )
            _check_challenge(presentation.get("proof"), challenge, domain, problems)
        elif challenge is not None or domain is not None:
            problems.append(Problem("MALFORMED_PROOF_ERROR", "the presentation has no proof, and a challenge or domain was asked for"))
        results: list[VerificationResult] = []
        for index, credential in enumerate(credentials):
            if isinstance(credential, Mapping) and credential.get("type") == "EnvelopedVerifiableCredential":
                refused = Problem("UNSUPPORTED_CREDENTIAL", f"credential {index} is enveloped; vccore verifies Data Integrity credentials")
                results.append(VerificationResult(False, (refused,)))
            else:
                results.append(self._verify(credential, now, "assertionMethod"))
        proven = "proof" not in presentation or any(r.verified for r in proof_results)
        own = VerificationResult(not problems and proven, tuple(problems), tuple(proof_results))  # the presentation's own checks
        return PresentationResult(own, tuple(results))

    def _verify(self, credential: Any, now: datetime, purpose: str) -> VerificationResult:
        if isinstance(credential, (str, bytes)):
            try:
                credential = _json.loads(credential)
            except ValueError as exc:
                return VerificationResult(False, (Problem("PARSING_ERROR", f"not JSON: {exc}"),))
        if not isinstance(credential, Mapping):
            return VerificationResult(
                False, (Problem("PARSING_ERROR", f"a credential is a JSON object, not {type(credential).__name__}"),)
            )
        problems: list[Problem] = []
        version = _check_data_model(credential, problems)
        check_related_resources(credential, self.contexts, problems)
        issuer = _issuer_id(credential)
        if self.trusted_issuers is not None and issuer is not None and issuer not in self.trusted_issuers:
            problems.append(Problem("UNTRUSTED_ISSUER", f"issuer {issuer} is not one this verifier trusts"))
        proof_results = self._check_proofs(credential, issuer, purpose, now, problems)
        if version is not None:
            _check_validity(credential, version, now, problems)
        warnings: list[Problem] = []
        if "credentialStatus" in credential:
            if self.status is None:
                warnings.append(Problem("STATUS_NOT_CHECKED", "the credential has a status, and no status resolver was given"))
            elif any(r.verified for r in proof_results) and all(p.code in _TIME_ONLY for p in problems):
                # Only a credential that verified is worth a status lookup: a forged one gets no
                # fetches, and learns nothing about the positions it names. One that is genuine
                # but outside its validity period is looked up too: "superseded by X" or
                # "revoked" says more than "expired" to whoever holds it.
                _StatusCheck(self, credential, issuer, now, problems, warnings).run()
        verified = not problems and any(r.verified for r in proof_results)
        return VerificationResult(verified, tuple(problems), tuple(proof_results), tuple(warnings))

    def _check_proofs(
        self, credential: Mapping[str, Any], issuer: str | None, purpose: str, now: datetime, problems: list[Problem], *, role: str = "issuer"
    ) -> list[ProofResult]:
        raw = credential.get("proof")
        proofs = raw if isinstance(raw, list) else [] if raw is None else [raw]
        if not proofs:
            problems.append(Problem("MALFORMED_PROOF_ERROR", "the credential has no proof"))
            return []
        if len(proofs) > MAX_PROOFS:
            problems.append(Problem("MALFORMED_PROOF_ERROR", f"the credential has {len(proofs)} proofs; vccore checks at most {MAX_PROOFS}"))
            return []
        check = _ProofCheck(self, credential, proofs, issuer, purpose, now, problems, role)
        results = [check.run(i, p) for i, p in enumerate(proofs)]
        # The issuer (a presentation's holder) must have made one of the proofs that verified.
        # Other proofs may be anyone's (an endorsement, a notary's proof in a chain: the W3C
        # suites' proof-chain fixtures are signed by two keys), as long as each verifies.
        good = [r for r in results if r.verified]
        if issuer is not None and good and not any(check.controllers.get(r.index) == issuer for r in good):
            first = good[0]
            problems.append(Problem(
                f"{role.upper()}_MISMATCH",
                f"proof {first.index}: {role} {issuer} is not the controller ({check.controllers[first.index]}) of verification method "
                f"{first.verification_method}" + (f" (nor of any of the other {len(good) - 1} proofs' keys)" if len(good) > 1 else ""),
                first.index,
            ))
        if all(r.skipped for r in results):
            found = sorted({r.suite or "unknown" for r in results})
            problems.append(
                Problem(
                    "UNSUPPORTED_SUITE",
                    f"no proof uses a suite this verifier accepts ({', '.join(s.name for s in self.suites)}); "
                    f"found: {', '.join(found)}",
                )
            )
        return results

    def _verified_list(self, url: str, found: Mapping[str, Any], check: _StatusCheck) -> _StatusList | None:
        """A status list credential checked once per content: proof, issuer, shape, bitstring."""
        seen = self._list_seen.get(url)
        if seen is not None and seen[0] is found:
            cached = seen[1]
        else:
            digest = hashlib.sha256(json.dumps(found, sort_keys=True, default=str).encode()).hexdigest()
            key = (url, digest)
            known = self._list_cache.get(key)
            if known is None:
                cached = self._check_list(url, found)
                if len(self._list_cache) > 4096:
                    self._list_cache.clear()
                    self._list_seen.clear()
                self._list_cache[key] = cached
            else:
                cached = known
            self._list_seen[url] = (found, cached)
        # The verdict above holds for everyone; whose list it is, is checked for each credential.
        if not isinstance(cached, str) and _issuer_id(found) != check.issuer:
            cached = f"{url} is issued by {_issuer_id(found)}, not by the credential's issuer {check.issuer}"
        if isinstance(cached, str):
            check.fail("STATUS_LIST_LENGTH_ERROR" if "STATUS_LIST_LENGTH_ERROR" in cached else "STATUS_VERIFICATION_ERROR", cached, statusListCredential=url)
            return None
        return cached

    def _compiled_hashes(self, credential: Mapping[str, Any], suite: Suite, proof: Mapping[str, Any], vm_id: str) -> bytes | None:
        """The verify data of a credential of a known entity type, through its compiled shape;
        None when no shape vouches for it (the reference path then decides)."""
        context, types = credential.get("@context"), credential.get("type")
        status = credential.get("credentialStatus")
        issuer = _issuer_id(credential)
        if not (isinstance(context, list) and isinstance(types, list) and isinstance(status, list) and status and issuer):
            return None
        first = status[0]
        url = first.get("statusListCredential") if isinstance(first, Mapping) else None
        if not isinstance(url, str) or url.count("/") < 3:
            return None
        base = url.rsplit("/", 2)[0] + "/"
        try:
            key = (tuple(map(json.dumps, context)), tuple(map(str, types)), issuer, base, suite.name, vm_id)
        except TypeError:
            return None
        compiled = self._compiled.get(key, _UNSEEN)
        if compiled is _UNSEEN:
            # Compiled on second sight only, so that a stream of one-off made-up shapes costs no
            # more than the reference path; beyond the bound the oldest entries go first.
            if len(self._compiled) >= 1024:
                del self._compiled[next(iter(self._compiled))]
            self._compiled[key] = _SEEN_ONCE
            return None
        if compiled is _SEEN_ONCE:
            compiled = self._compiled[key] = self._compile_for(context, types, issuer, base, suite, vm_id)
        if not isinstance(compiled, CompiledCredentials):
            return None
        slots = compiled.slots_of(credential)
        canonical_proof = compiled.proof_configuration(proof)
        if slots is None or canonical_proof is None:
            return None
        canonical_document = compiled.document.canonical(slots)
        if canonical_document is None:
            return None
        try:
            return suite.hash(canonical_proof.encode("utf-8")) + suite.hash(canonical_document.encode("utf-8"))
        except UnicodeEncodeError:
            return None  # a lone surrogate: the reference path says what is wrong

    def _compile_for(self, context: list[Any], types: list[Any], issuer: str, base: str, suite: Suite, vm_id: str) -> CompiledCredentials | None:
        entity_types = self.entity_types if self.entity_types is not None else bundled_entity_types()
        for entity_type in entity_types.values():
            if not all(url in self.contexts for url in entity_type.contexts):
                continue  # a verifier that does not know the type's contexts must not verify it
            for version, template in entity_type.templates.items():
                if template.get("type") != types or context[: len(template["@context"])] != template["@context"]:
                    continue
                for updating in (False, True):
                    try:
                        compiled = CompiledCredentials.build(
                            entity_type, version, updating, issuer=issuer, status_base=base, suite=suite,
                            verification_method=vm_id, contexts=self.contexts,
                        )
                    except VccoreError:
                        compiled = None
                    if compiled is not None and compiled.context == context:
                        return compiled
        return None

    def _check_list(self, url: str, found: Mapping[str, Any]) -> _StatusList | str:
        plain = replace(self, status=None, store=None, _list_cache={}, _list_seen={}, _compiled={}, _did_keys={})
        start = found.get("validFrom")
        try:
            # its signature and data model, at its own validFrom: the window is judged per call
            moment = _datetime.parse(start) if isinstance(start, str) else _datetime.now()
        except ValueError:
            moment = _datetime.now()
        problem = _list_problem(url, found, plain.verify(found, now=moment))
        if problem is not None:
            return problem
        subject = found["credentialSubject"]
        purposes = subject.get("statusPurpose")
        purpose_set = frozenset(p for p in (purposes if isinstance(purposes, list) else [purposes]) if isinstance(p, str))
        try:
            bits = Bitstring.decode(subject.get("encodedList"))
        except StatusError as exc:
            return f"{url}: {exc.code}: {exc.message}"
        context = found.get("@context")
        lifecycle = isinstance(context, list) and LIFECYCLE_CONTEXT in context
        return _StatusList(found, bits, purpose_set, lifecycle)

    def _resolve(self, vm_id: str, purpose: str) -> PublicKey:
        trusted = self._trusted.get(vm_id)
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
            found = self._did_keys.get(vm_id)
            if found is None:
                document = did_key_document(vm_id)
                resolved = public_key_from_verification_method(document["verificationMethod"][0])
                assert isinstance(resolved, Ed25519Key)  # a did:key here is always Ed25519
                if len(self._did_keys) >= 1024:
                    del self._did_keys[next(iter(self._did_keys))]
                found = self._did_keys[vm_id] = resolved
            return found
        raise KeyFormatError(
            f"verification method {vm_id} is unknown: it is not a did:key and not among the trusted "
            "verification methods given to the verifier",
            code="UNKNOWN_VERIFICATION_METHOD",
            field="verificationMethod",
            url=vm_id,
        )


class _ProofCheck:
    """The checks of one credential's proofs, sharing its transformed document between them."""

    def __init__(
        self,
        verifier: Verifier,
        credential: Mapping[str, Any],
        proofs: list[Any],
        issuer: str | None,
        purpose: str,
        now: datetime,
        problems: list[Problem],
        role: str = "issuer",
    ) -> None:
        self.verifier = verifier
        self.credential = credential
        self.proofs = proofs
        self.issuer = issuer
        self.purpose = purpose
        self.role = role  # whose key must sign: the credential's issuer, a presentation's holder
        self.controllers: dict[int, str] = {}  # proof index -> the controller of its key, once it verified
        self.now = now
        self.problems = problems
        self.unsecured = {k: v for k, v in credential.items() if k != "proof"}
        self.by_id = {p["id"]: p for p in proofs if isinstance(p, Mapping) and isinstance(p.get("id"), str)}
        self._document_hashes: dict[tuple[str, tuple[str, ...]], bytes] = {}

    def run(self, index: int, proof: Any) -> ProofResult:
        suite_name: str | None = None
        vm_id: str | None = None

        def fail(code: str, detail: str, reason: str | None = None) -> ProofResult:
            self.problems.append(Problem(code, f"proof {index}: {detail}", index, reason))
            return ProofResult(index, suite_name, vm_id, False)

        if not isinstance(proof, Mapping):
            return fail("MALFORMED_PROOF_ERROR", "not a JSON object")
        named = proof.get("cryptosuite") if proof.get("type") == "DataIntegrityProof" else proof.get("type")
        suite_name = named if isinstance(named, str) else None
        suite = next((s for s in self.verifier.suites if s.matches(proof)), None)
        if suite is None:
            return ProofResult(index, suite_name, None, False, skipped=True)
        suite_name = suite.name
        for name in ("verificationMethod", "proofPurpose"):
            if not isinstance(proof.get(name), str):
                return fail("MALFORMED_PROOF_ERROR", f"{name} must be a string")
        vm_id = proof["verificationMethod"]
        if proof["proofPurpose"] != self.purpose:
            return fail("MISMATCHED_PROOF_PURPOSE_ERROR", f"purpose is {proof['proofPurpose']!r}; expected {self.purpose!r}")
        if "expires" in proof:
            try:
                expires = _datetime.parse(proof["expires"])
            except ValueError as exc:
                return fail("MALFORMED_PROOF_ERROR", f"expires: {exc}")
            if self.now > expires:
                return fail("PROOF_EXPIRED", f"expired at {proof['expires']}")
        if not suite.terms_defined_by(self.credential.get("@context")):
            return fail(
                "PROOF_VERIFICATION_ERROR",
                f"the credential's @context lacks {suite.context}, which defines the terms of {suite.name}",
                reason="SUITE_CONTEXT_MISSING",
            )
        if suite.proof_keeps_context and "@context" in proof and proof["@context"] != self.credential.get("@context"):
            return fail(
                "PROOF_VERIFICATION_ERROR",
                "its @context is not the credential's @context, which has changed since signing",
                reason="CONTEXT_MISMATCH",
            )
        try:
            key = self.verifier._resolve(vm_id, self.purpose)
        except KeyFormatError as exc:
            code = "UNKNOWN_VERIFICATION_METHOD" if exc.code == "UNKNOWN_VERIFICATION_METHOD" else "INVALID_VERIFICATION_METHOD"
            return fail(code, exc.message)

        if key.algorithm != suite.algorithm:
            return fail("INVALID_VERIFICATION_METHOD", f"verification method {vm_id} is an {key.algorithm} key; {suite.name} signs with {suite.algorithm}")

        previous = proof.get("previousProof", [])
        wanted = (previous,) if isinstance(previous, str) else tuple(previous) if isinstance(previous, list) else None
        if wanted is None or not all(isinstance(w, str) and w in self.by_id and self.by_id[w] is not proof for w in wanted):
            return fail("MALFORMED_PROOF_ERROR", f"previousProof {previous!r} does not name other proofs of this credential")
        signed = dict(self.unsecured)
        if wanted:
            signed["proof"] = [self.by_id[w] for w in wanted]
        try:
            fast = None if wanted else self.verifier._compiled_hashes(self.credential, suite, proof, vm_id)
            if fast is not None:
                ok = suite.verify(key, fast, proof)
            else:
                memo = (suite.name, wanted)
                if memo not in self._document_hashes:
                    self._document_hashes[memo] = hash_document(suite, signed, contexts=self.verifier.contexts)
                ok = verify_signature(
                    suite, signed, proof, key, contexts=self.verifier.contexts, document_hash=self._document_hashes[memo]
                )
        except MalformedProofError as exc:
            return fail("MALFORMED_PROOF_ERROR", exc.message)
        except (CanonicalizationError, ContextError) as exc:
            return fail("PROOF_TRANSFORMATION_ERROR", exc.message, reason=exc.code)
        except VccoreError as exc:
            return fail("MALFORMED_PROOF_ERROR", exc.message, reason=exc.code)
        if not ok:
            return fail("PROOF_VERIFICATION_ERROR", f"the signature does not match the credential (signed by {vm_id})")
        # Whose key it is, is weighed over all proofs (see Verifier._check_proofs).
        self.controllers[index] = key.controller
        return ProofResult(index, suite.name, vm_id, True)


def verify(
    credential: Any,
    *,
    suites: Iterable[str | Suite] = DEFAULT_SUITES,
    now: datetime | None = None,
    contexts: ContextLoader | None = None,
    verification_methods: Iterable[Mapping[str, Any]] = (),
    trusted_issuers: Iterable[str] | None = None,
    status: StatusSource | None = None,
    proof_purpose: str = "assertionMethod",
) -> VerificationResult:
    """Verify a credential (VC Data Model 1.1 or 2.0; Data Integrity section 4.4; Bitstring
    Status List section 3.2 when ``status`` is given)."""
    verifier = Verifier.create(
        suites=suites,
        contexts=contexts,
        verification_methods=verification_methods,
        trusted_issuers=trusted_issuers,
        status=status,
    )
    return verifier.verify(credential, now=now, proof_purpose=proof_purpose)


# --- status (Bitstring Status List v1.0, section 3.2) -------------------------------------------

StatusResolver = Callable[[str], Any]
StatusSource = Union[str, PathLike[str], Mapping[str, Any], StatusResolver]


def status_resolver(source: StatusSource) -> StatusResolver:
    """A resolver (URL -> status list credential or None) from a folder, a mapping or a callable."""
    if isinstance(source, Mapping):
        return source.get
    if isinstance(source, (str, PathLike)):
        return _directory_resolver(Path(source))
    if callable(source):
        return source
    raise TypeError("status is a folder, a mapping URL -> credential, or a callable URL -> credential")


def _directory_resolver(folder: Path) -> StatusResolver:
    """Status list credentials from a folder with ``index.json`` (URL -> file), read once each."""
    try:
        index = _json.loads((folder / "index.json").read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: no readable index.json of status list credentials ({exc})") from None
    if not isinstance(index, dict):
        raise ValueError(f"{folder}/index.json maps URLs to file names")
    cache: dict[str, Any] = {}

    def resolve(url: str) -> Any:
        name = index.get(url)
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            return None
        if name not in cache:
            cache[name] = _json.loads((folder / name).read_bytes())
        return cache[name]

    return resolve


MAX_STATUS_ENTRIES: Final = 16
_UNSEEN: Final = object()
_SEEN_ONCE: Final = object()
_INDEX_TEXT: Final = re.compile(r"[0-9]{1,12}")
# How far a verifier's clock may run behind the issuer's when judging a status list's validFrom.
_CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _StatusList:
    credential: Mapping[str, Any]
    bits: Bitstring
    purposes: frozenset[str]
    lifecycle: bool  # the list speaks vccore's lifecycle vocabulary (suspension end dates)


class _StatusCheck:
    """Bitstring Status List section 3.2, for the entries of one credential whose proof verified."""

    def __init__(self, verifier: Verifier, credential: Mapping[str, Any], issuer: str | None, now: datetime, problems: list[Problem], warnings: list[Problem]) -> None:
        self.verifier = verifier
        self.credential = credential
        self.issuer = issuer
        self.now = now
        self.problems = problems
        self.warnings = warnings
        self._lists: dict[str, _StatusList | None] = {}

    def fail(self, code: str, detail: str, **data: str) -> None:
        self.problems.append(Problem(code, detail, data=data))

    def run(self) -> None:
        raw = self.credential.get("credentialStatus")
        entries = raw if isinstance(raw, list) else [raw]
        if len(entries) > MAX_STATUS_ENTRIES:
            self.fail("MALFORMED_VALUE_ERROR", f"{len(entries)} credentialStatus entries; vccore checks at most {MAX_STATUS_ENTRIES}")
            return
        revoked: tuple[str, int] | None = None
        superseded: tuple[str, int] | None = None
        suspended: tuple[str, int] | None = None
        for entry in entries:
            read = self._read(entry)
            if read is None:
                continue
            purpose, url, index, value, entry_map = read
            if not value:
                continue
            if purpose == "revocation":
                revoked = (url, index)
            elif purpose == "suspension":
                suspended = (url, index)
            elif purpose == "message":
                messages = entry_map.get("statusMessage")
                if _is_vccore_messages(messages):
                    superseded = (url, index)
                else:  # another issuer's message: reported, not judged (section 3.2 returns it)
                    text = next((m.get("message") for m in messages or [] if isinstance(m, Mapping) and m.get("status") == hex(value)), None)
                    self.warnings.append(Problem("STATUS_MESSAGE", f"status message {hex(value)}: {text}", data={"statusListCredential": url}))
        if revoked is not None:
            if superseded is not None:
                data = {"statusListCredential": revoked[0]}
                successor = self._successor(*superseded)
                if successor:
                    data["successor"] = successor
                self.fail("SUPERSEDED", "the issuer has replaced this credential" + (f" with {successor}" if successor else ""), **data)
            else:
                self.fail("REVOKED", "the issuer has revoked this credential", statusListCredential=revoked[0])
        if suspended is not None:
            until = self._suspended_until(*suspended)
            if until is not None and _datetime.parse(until) <= self.now:
                return  # the suspension has lapsed
            data = {"statusListCredential": suspended[0]}
            if until is not None:
                data["until"] = until
            self.fail("SUSPENDED", "the issuer has suspended this credential" + (f" until {until}" if until else ""), **data)

    def _read(self, entry: Any) -> tuple[str, str, int, int, Mapping[str, Any]] | None:
        if not isinstance(entry, Mapping) or entry.get("type") != "BitstringStatusListEntry":
            kind = entry.get("type") if isinstance(entry, Mapping) else type(entry).__name__
            self.fail("STATUS_VERIFICATION_ERROR", f"credentialStatus entry of type {kind!r}: vccore checks BitstringStatusListEntry only")
            return None
        purpose, url, index_text = entry.get("statusPurpose"), entry.get("statusListCredential"), entry.get("statusListIndex")
        size = entry.get("statusSize", 1)
        if not (isinstance(purpose, str) and isinstance(url, str) and isinstance(index_text, str) and _INDEX_TEXT.fullmatch(index_text)):
            self.fail("MALFORMED_VALUE_ERROR", "a BitstringStatusListEntry needs statusPurpose, statusListCredential and a decimal statusListIndex")
            return None
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 8:
            self.fail("MALFORMED_VALUE_ERROR", f"statusSize {size!r} is not a size in bits (1 to 8)")
            return None
        messages = entry.get("statusMessage")
        if size > 1 and not (isinstance(messages, list) and len(messages) == 2**size):
            self.fail("MALFORMED_VALUE_ERROR", f"statusSize {size} needs {2**size} statusMessage entries")
            return None
        status_list = self._list(url)
        if status_list is None:
            return None
        if purpose not in status_list.purposes:
            self.fail("STATUS_VERIFICATION_ERROR", f"{url} is a {'/'.join(sorted(status_list.purposes))} list, not {purpose}", statusListCredential=url)
            return None
        entries_in_list = status_list.bits.length // size
        if entries_in_list < MIN_LIST_LENGTH:
            self.fail("STATUS_LIST_LENGTH_ERROR", f"{url} holds {entries_in_list} entries; the minimum is {MIN_LIST_LENGTH}", statusListCredential=url)
            return None
        index = int(index_text)
        if index >= entries_in_list:
            self.fail("RANGE_ERROR", f"statusListIndex {index} is outside {url} ({entries_in_list} entries)", statusListCredential=url)
            return None
        return purpose, url, index, status_list.bits.get(index, size), entry

    def _list(self, url: str) -> _StatusList | None:
        if url in self._lists:
            return self._lists[url]
        self._lists[url] = None
        try:
            found = self.verifier.status(url) if self.verifier.status is not None else None
        except Exception as exc:  # a resolver is the caller's code; whatever it raises, say so
            self.fail("STATUS_RETRIEVAL_ERROR", f"{url} could not be retrieved: {type(exc).__name__}: {exc}", statusListCredential=url)
            return None
        if not isinstance(found, Mapping):
            self.fail("STATUS_RETRIEVAL_ERROR", f"{url} could not be retrieved" + ("" if found is None else " as a JSON object"), statusListCredential=url)
            return None
        status_list = self.verifier._verified_list(url, found, self)
        if status_list is None:
            return None
        # the validity window, at this verification's clock (the rest is cached)
        start, end = found.get("validFrom"), found.get("validUntil")
        if isinstance(start, str) and self.now + _CLOCK_SKEW < _datetime.parse(start):
            self.fail("STATUS_VERIFICATION_ERROR", f"{url} is not valid before {start}", statusListCredential=url)
            return None
        if isinstance(end, str) and self.now > _datetime.parse(end):
            self.fail("STATUS_VERIFICATION_ERROR", f"{url} expired at {end}: a newer copy is needed", statusListCredential=url)
            return None
        self._lists[url] = status_list
        return status_list

    def _suspended_until(self, url: str, index: int) -> str | None:
        status_list = self._lists.get(url)
        suspensions = status_list.credential["credentialSubject"].get("suspensions") if status_list and status_list.lifecycle else None
        for item in suspensions if isinstance(suspensions, list) else []:
            if isinstance(item, Mapping) and item.get("statusListIndex") == str(index) and isinstance(item.get("suspendedUntil"), str):
                try:
                    _datetime.parse(item["suspendedUntil"])
                except ValueError:
                    return None
                return str(item["suspendedUntil"])
        return None

    def _successor(self, url: str, index: int) -> str | None:
        store = self.verifier.store
        if store is None or not url.startswith(store.status_base_url):
            return None
        list_part = url[len(store.status_base_url):].split("/", 1)[0]
        if not list_part.isdigit():
            return None
        record = store.get_by_position(int(list_part), index)
        return record.replaced_by if record is not None else None


def _is_vccore_messages(messages: Any) -> bool:
    return bool(messages == [{"status": status, "message": message} for status, message in MESSAGES])


def _list_problem(url: str, list_credential: Mapping[str, Any], result: VerificationResult) -> str | None:
    """Why a retrieved status list credential cannot be used (its own checks, section 3.2)."""
    if not result.verified:
        return f"{url} does not verify ({'; '.join(f'{p.code}: {p.detail}' for p in result.problems)})"
    if list_credential.get("id") != url:
        return f"the credential found for {url} is {list_credential.get('id')!r}"
    types = list_credential.get("type")
    subject = list_credential.get("credentialSubject")
    subject_types = subject.get("type") if isinstance(subject, Mapping) else None
    if not isinstance(types, list) or "BitstringStatusListCredential" not in types or not isinstance(subject, Mapping):
        return f"{url} is not a BitstringStatusListCredential"
    if "BitstringStatusList" not in (subject_types if isinstance(subject_types, list) else [subject_types]):
        return f"{url}: its credentialSubject is not a BitstringStatusList"
    return None


# --- trust ------------------------------------------------------------------------------------


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
    only for itself: every method must be controlled by the document's DID and live under it."""
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
    for method in _as_list(document.get("verificationMethod")):
        key = read(method)
        methods[key.id] = key
    for relationship in VERIFICATION_RELATIONSHIPS:
        for entry in _as_list(document.get(relationship)):
            if isinstance(entry, str):
                listed.setdefault(absolute(entry), set()).add(relationship)
            else:
                key = read(entry)
                methods.setdefault(key.id, key)
                listed.setdefault(key.id, set()).add(relationship)
    for key_id, key in methods.items():
        index[key_id] = _TrustedKey(key, frozenset(listed.get(key_id, ())))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


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
    if any(isinstance(s, Mapping) and not s for s in subjects):
        bad("each credentialSubject object must make at least one claim (an empty object makes none)")
    if version == "1.1" and "issuanceDate" not in credential:
        bad("a VC 1.1 credential must have issuanceDate")
    # Section 4.5 and the sections of each property: these objects say what kind they are.
    for name in ("credentialStatus", "credentialSchema", "evidence", "termsOfUse", "refreshService"):
        if name not in credential:
            continue
        value = credential[name]
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, Mapping):
                bad(f"{name} must be an object or a list of objects")
                continue
            kinds = item.get("type")
            kind_list = kinds if isinstance(kinds, list) else [kinds]
            if kinds is None or not kind_list or not all(isinstance(k, str) and k for k in kind_list):
                bad(f"each {name} object must have a type (a string or a list of strings)")
            if "id" in item and not _is_url(item["id"]):
                bad(f"the id of a {name} object must be one URL, not {item['id']!r}")
            if name == "credentialSchema" and "id" not in item:
                bad("each credentialSchema object must have an id: the URL of the schema")
    if version == "2.0":
        issuer_value = credential.get("issuer")
        for holder, where in ((credential, ""), (issuer_value if isinstance(issuer_value, Mapping) else {}, "issuer.")):
            for name in ("name", "description"):
                if name in holder and not _is_text(holder[name]):
                    bad(f"{where}{name} must be a string, a language value object ({{@value, @language?, @direction?}}) or a list of them")
    for name in ("validFrom", "validUntil", "issuanceDate", "expirationDate"):
        if name in credential:
            try:
                _datetime.parse(credential[name], require_zone=version == "2.0")
            except ValueError as exc:
                bad(f"{name}: {exc}")
    return version


def _is_url(value: Any) -> bool:
    """A single absolute URL (a scheme, then no white space)."""
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value) is not None


def _is_text(value: Any) -> bool:
    """A string, a language value object (VC 2.0 section 11.1) or a list of them."""
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return bool(value) and all(_is_text(v) and not isinstance(v, list) for v in value)
    return (
        isinstance(value, Mapping) and isinstance(value.get("@value"), str)
        and set(value) <= {"@value", "@language", "@direction"}
        and all(isinstance(value[k], str) for k in ("@language", "@direction") if k in value)
    )


def check_related_resources(credential: Mapping[str, Any], contexts: ContextLoader, problems: list[Problem]) -> None:
    """VC 2.0 section 5.3: each relatedResource is an object with a unique URL id and a digest
    (digestSRI or digestMultibase). A resource vccore holds (a pinned context) is hashed and
    compared; others cannot be retrieved here (vccore fetches nothing) and are not compared."""
    if "relatedResource" not in credential:
        return
    raw = credential["relatedResource"]
    items = raw if isinstance(raw, list) else [raw]
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, Mapping):
            problems.append(Problem("MALFORMED_VALUE_ERROR", "relatedResource must be an object or a list of objects"))
            continue
        ident = item.get("id")
        if not isinstance(ident, str) or not _is_url(ident):
            problems.append(Problem("MALFORMED_VALUE_ERROR", f"each relatedResource must have an id that is a URL, not {ident!r}"))
            continue
        if ident in seen:
            problems.append(Problem("MALFORMED_VALUE_ERROR", f"relatedResource {ident} is listed twice"))
        seen.add(ident)
        sri, multibase = item.get("digestSRI"), item.get("digestMultibase")
        if sri is None and multibase is None:
            problems.append(Problem("MALFORMED_VALUE_ERROR", f"relatedResource {ident} has neither digestSRI nor digestMultibase"))
            continue
        if ident not in contexts:
            continue
        data = contexts.read_bytes(ident)
        if sri is not None:
            algorithm, _, given = str(sri).partition("-")
            if algorithm not in ("sha256", "sha384", "sha512"):
                problems.append(Problem("MALFORMED_VALUE_ERROR", f"relatedResource {ident}: digestSRI algorithm {algorithm!r} is not sha256, sha384 or sha512"))
            elif base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != given:
                problems.append(Problem("RELATED_RESOURCE_DIGEST_MISMATCH", f"relatedResource {ident}: digestSRI does not match the resource"))
        if multibase is not None:
            expected = "u" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
            if multibase != expected:
                problems.append(Problem("RELATED_RESOURCE_DIGEST_MISMATCH", f"relatedResource {ident}: digestMultibase does not match the resource (sha256)"))


def _check_validity(credential: Mapping[str, Any], version: str, now: datetime, problems: list[Problem]) -> None:
    # VC 1.1 has issuanceDate/expirationDate; its context also defines validFrom/validUntil, and
    # a credential that states them means them, so they are honoured there too.
    names = (("validFrom", "validUntil"),) if version == "2.0" else (("issuanceDate", "expirationDate"), ("validFrom", "validUntil"))
    for start_field, end_field in names:
        for name, later_is_bad in ((start_field, False), (end_field, True)):
            if name not in credential:
                continue
            try:
                moment = _datetime.parse(credential[name], require_zone=version == "2.0")
            except ValueError:
                continue  # reported by the data model check
            if not later_is_bad and now < moment:
                problems.append(Problem("NOT_YET_VALID", f"{name} is {credential[name]}; now is {_datetime.format(now)}"))
            if later_is_bad and now > moment:
                problems.append(Problem("EXPIRED", f"{name} was {credential[name]}; now is {_datetime.format(now)}"))


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if isinstance(issuer, str) and ":" in issuer:
        return issuer
    return None

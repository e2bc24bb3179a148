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
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, Union

from . import _datetime, _json
from ._nquads import Quad, iri_value
from ._signed import (
    SCHEMA,
    SEC,
    STATUS,
    TEXT_DATATYPES,
    VC,
    VERIFIABLE_CREDENTIAL,
    VERIFIABLE_PRESENTATION,
    Dataset,
    Node,
    SignedProof,
    StatusEntry,
    StatusListFacts,
    Unreadable,
    purpose_iri,
    purpose_name,
    read_proof,
    root_of,
)
from ._vocab import CREDENTIALS_V1, CREDENTIALS_V2
from .canon import WorkBudget, canonical_nquads, to_quads
from .compiled import CompiledCredentials
from .contexts import ContextLoader, bundled_contexts
from .entities import EntityType, bundled_entity_types
from .errors import CanonicalizationError, ContextError, DocumentError, KeyFormatError, VccoreError
from .keys import VERIFICATION_RELATIONSHIPS, Ed25519Key, PublicKey, did_key_document, public_key_from_verification_method
from .proofs import proof_configuration
from .status import MESSAGES, MIN_LIST_LENGTH, Bitstring, StatusError
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
# More proofs than any real credential carries; each one costs a canonicalization (and a chain
# of them one of the whole document each: the request's WorkBudget bounds that sum).
MAX_PROOFS: Final = 16
MAX_STATUS_ENTRIES: Final = 16

_STATUS_WORDS: Final = ("REVOKED", "SUPERSEDED", "SUSPENDED", "EXPIRED", "NOT_YET_VALID")
_TIME_ONLY: Final = frozenset(("EXPIRED", "NOT_YET_VALID"))
_INDEX_TEXT: Final = re.compile(r"[0-9]{1,12}")
# How far a verifier's clock may run behind the issuer's when judging a status list's validFrom.
_CLOCK_SKEW: Final = timedelta(minutes=5)

K = TypeVar("K")
V = TypeVar("V")


class _Cache(Generic[K, V]):
    """A bounded map that threads share (the server shares one Verifier between its workers):
    past ``size`` entries the oldest goes first. Every read and write holds the lock: a bare
    ``del d[next(iter(d))]`` in two threads at once raised KeyError."""

    __slots__ = ("_data", "_lock", "_size")

    def __init__(self, size: int) -> None:
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if key not in self._data and len(self._data) >= self._size:
                del self._data[next(iter(self._data))]
            self._data[key] = value

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def values(self) -> list[V]:
        with self._lock:
            return list(self._data.values())


def _cache(size: int) -> Any:
    return field(default_factory=lambda: _Cache(size), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class _TrustedKey:
    key: PublicKey
    relationships: frozenset[str] | None  # None: a key the caller vouches for, for any purpose


@dataclass(frozen=True, slots=True)
class _StatusList:
    """A status list credential that verified, as signed."""

    facts: StatusListFacts
    bits: Bitstring
    issuer: str | None


@dataclass(frozen=True, slots=True)
class _Credential:
    """What the checks of one credential read from its signed form (see :func:`_check_data_model`)."""

    root: Node
    issuer: str | None
    dates: Mapping[str, tuple[str, datetime]]
    status: tuple[Node, ...]


class _Document:
    """A credential or presentation as its proofs cover it: its JSON (for the proofs' selection
    and signatures only), its unsecured part's quads (worked out once, through a compiled shape
    when one vouches for it), and their canonical forms by transformation."""

    __slots__ = ("json", "unsecured", "proofs", "by_id", "dataset", "quads", "canonical", "compiled", "failure")

    def __init__(self, json_document: Mapping[str, Any], proofs: list[Any]) -> None:
        self.json = json_document
        self.unsecured = {k: v for k, v in json_document.items() if k != "proof"}
        self.proofs = proofs
        self.by_id = {p["id"]: p for p in proofs if isinstance(p, Mapping) and isinstance(p.get("id"), str)}
        self.dataset: Dataset | None = None
        self.quads: list[Quad] = []
        self.canonical: dict[tuple[str, tuple[str, ...]], str] = {}
        self.compiled: tuple[CompiledCredentials, Suite] | None = None
        self.failure: Problem | None = None


@dataclass(frozen=True, slots=True)
class Verifier:
    """A reusable verifier: the suites it accepts, the keys and issuers it trusts, its contexts.

    Keys: did:key verification methods resolve offline; every other verification method must be
    given in ``verification_methods``, as verification method objects (trusted for any proof
    purpose) or whole DID documents (trusted for the relationships they list). Issuers: with
    ``trusted_issuers`` only credentials from those issuers verify (``UNTRUSTED_ISSUER``);
    without it any issuer does, as long as it controls the key that signed.

    A Verifier may be shared by threads: its caches hold their own locks.
    """

    suites: tuple[Suite, ...]
    contexts: ContextLoader
    trusted_issuers: frozenset[str] | None
    _trusted: Mapping[str, _TrustedKey] = field(repr=False)
    status: StatusResolver | None = field(default=None, repr=False)
    store: Store | None = field(default=None, repr=False)
    entity_types: Mapping[str, EntityType] | None = field(default=None, repr=False)
    # Status list credentials already checked: (URL, sha256 of their JSON) -> list, or the
    # (code, detail) that refused it. Verifying a list costs as much as a credential, and every
    # credential of a list set names the same three.
    _lists: _Cache[tuple[str, str], _StatusList | tuple[str, str]] = _cache(256)
    # The same list object seen again (what mapping and folder resolvers return): its verdict.
    _list_seen: _Cache[str, tuple[Any, _StatusList | tuple[str, str]]] = _cache(256)
    # Compiled shapes of the entity types' credentials (vccore.compiled), by what a credential
    # shows of its shape, so that the JSON-LD work of verifying them is done once per shape.
    # Senders choose the keys (any did:key is an issuer): a shape is compiled on its second
    # sight only, and at most 64 are kept (each holds about 100 KB of generated code).
    _shapes_seen: _Cache[tuple[Any, ...], bool] = _cache(1024)
    _shapes: _Cache[tuple[Any, ...], tuple[CompiledCredentials | None]] = _cache(64)
    # did:key verification methods already resolved (resolving one decodes and checks the key,
    # which costs about half an Ed25519 verification); a did:key always resolves the same way.
    _did_keys: _Cache[str, Ed25519Key] = _cache(1024)
    # Proof configurations already read, by suite and transformed form (see _ProofCheck).
    _signed_proofs: _Cache[tuple[str, str], SignedProof] = _cache(256)

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
            return self._verify(credential, moment, proof_purpose, WorkBudget())[0]
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
        for anything. Enveloped credentials are refused (``UNSUPPORTED_CREDENTIAL``). The
        presentation and its credentials share one request's WorkBudget."""
        moment = now if now is not None else _datetime.now()
        if moment.tzinfo is None:
            raise ValueError("now must be an aware datetime (with a time zone)")
        try:
            return self._verify_presentation(presentation, challenge, domain, moment, WorkBudget())
        except Exception as exc:  # as verify(): nothing from the input escapes as an exception
            failure = Problem("INTERNAL_ERROR", f"vccore failed while verifying: {type(exc).__name__}: {exc}")
            return PresentationResult(VerificationResult(False, (failure,)), ())

    def _verify_presentation(
        self, presentation: Any, challenge: str | None, domain: str | None, now: datetime, budget: WorkBudget
    ) -> PresentationResult:
        if isinstance(presentation, (str, bytes)):
            try:
                presentation = _json.loads(presentation)
            except ValueError as exc:
                return PresentationResult(VerificationResult(False, (Problem("PARSING_ERROR", f"not JSON: {exc}"),)), ())
        if not isinstance(presentation, Mapping):
            problem = Problem("PARSING_ERROR", f"a presentation is a JSON object, not {type(presentation).__name__}")
            return PresentationResult(VerificationResult(False, (problem,)), ())
        problems: list[Problem] = []
        _context_version(presentation.get("@context"), problems)
        raw = presentation.get("verifiableCredential", [])
        credentials = raw if isinstance(raw, list) else [raw]
        if len(credentials) > MAX_PRESENTED:
            problems.append(Problem("MALFORMED_VALUE_ERROR", f"{len(credentials)} credentials; vccore verifies at most {MAX_PRESENTED} in a presentation"))
            return PresentationResult(VerificationResult(False, tuple(problems)), ())
        proof_results: list[ProofResult] = []
        if "proof" in presentation:
            proofs = _proof_list(presentation, problems)
            # What the presentation says of itself (its type, holder, credentials and proofs) is
            # read as signed; a presentation without a proof vouches for nothing of its own.
            document = self._document(presentation, proofs, budget, compiled=False)
            holder: str | None = None
            if document.failure is not None:
                problems.append(document.failure)
            elif document.dataset is not None:
                holder = _check_presentation(document.dataset, len(credentials), problems)
            if proofs and document.failure is None:
                proof_results = self._check_proofs(
                    document, holder, "authentication", now, problems, budget, role="holder", challenge=challenge, domain=domain
                )
        elif challenge is not None or domain is not None:
            problems.append(Problem("MALFORMED_PROOF_ERROR", "the presentation has no proof, and a challenge or domain was asked for"))
        else:
            # Unsigned, the presentation vouches for nothing of its own, and there is no signed
            # form to read: its JSON is checked for shape only, and no verdict rests on it.
            types = presentation.get("type")
            if "VerifiablePresentation" not in (types if isinstance(types, list) else [types]):
                problems.append(Problem("MALFORMED_VALUE_ERROR", 'type must include "VerifiablePresentation"'))
            holder_value = presentation.get("holder")
            holder_id = holder_value.get("id") if isinstance(holder_value, Mapping) else holder_value
            if holder_value is not None and not (isinstance(holder_id, str) and ":" in holder_id):
                problems.append(Problem("MALFORMED_VALUE_ERROR", "holder must be a URL, or an object whose id is a URL"))
        results: list[VerificationResult] = []
        for index, credential in enumerate(credentials):
            if isinstance(credential, Mapping) and credential.get("type") == "EnvelopedVerifiableCredential":
                refused = Problem("UNSUPPORTED_CREDENTIAL", f"credential {index} is enveloped; vccore verifies Data Integrity credentials")
                results.append(VerificationResult(False, (refused,)))
            elif _spent(budget):
                results.append(VerificationResult(False, (_work_limit(),)))
            else:
                results.append(self._verify(credential, now, "assertionMethod", budget)[0])
        proven = "proof" not in presentation or any(r.verified for r in proof_results)
        own = VerificationResult(not problems and proven, tuple(problems), tuple(proof_results))  # the presentation's own checks
        return PresentationResult(own, tuple(results))

    def _verify(
        self, credential: Any, now: datetime, purpose: str, budget: WorkBudget, *, status_list: bool = False
    ) -> tuple[VerificationResult, _Credential | None]:
        """The verdict, and the credential as signed (None when it cannot be read). A status list
        (``status_list``) is checked for its proof and data model only: its validity window is
        judged for each use, and it has no status of its own."""
        if isinstance(credential, (str, bytes)):
            try:
                credential = _json.loads(credential)
            except ValueError as exc:
                return VerificationResult(False, (Problem("PARSING_ERROR", f"not JSON: {exc}"),)), None
        if not isinstance(credential, Mapping):
            return VerificationResult(False, (Problem("PARSING_ERROR", f"a credential is a JSON object, not {type(credential).__name__}"),)), None
        if _spent(budget):
            return VerificationResult(False, (_work_limit(),)), None
        problems: list[Problem] = []
        version = _context_version(credential.get("@context"), problems)
        proofs = _proof_list(credential, problems)
        document = self._document(credential, proofs, budget)
        if document.failure is not None:
            problems.append(document.failure)
            return VerificationResult(False, tuple(problems)), None
        assert document.dataset is not None
        read = _check_data_model(document.dataset, version, problems)
        if read is not None:
            _check_related_resources(read.root, self.contexts, problems)
        issuer = read.issuer if read is not None else None
        if self.trusted_issuers is not None and issuer is not None and issuer not in self.trusted_issuers:
            problems.append(Problem("UNTRUSTED_ISSUER", f"issuer {issuer} is not one this verifier trusts"))
        proof_results = self._check_proofs(document, issuer, purpose, now, problems, budget) if proofs else []
        warnings: list[Problem] = []
        if read is not None and not status_list:
            _check_validity(read, now, problems)
            if read.status:
                if self.status is None:
                    warnings.append(Problem("STATUS_NOT_CHECKED", "the credential has a status, and no status resolver was given"))
                elif any(r.verified for r in proof_results) and all(p.code in _TIME_ONLY for p in problems):
                    # Only a credential that verified is worth a status lookup: a forged one gets no
                    # fetches, and learns nothing about the positions it names. One that is genuine
                    # but outside its validity period is looked up too: "superseded by X" or
                    # "revoked" says more than "expired" to whoever holds it.
                    _StatusCheck(self, read.status, issuer, now, problems, warnings, budget).run()
        verified = not problems and any(r.verified for r in proof_results)
        return VerificationResult(verified, tuple(problems), tuple(proof_results), tuple(warnings)), read

    def _document(self, json_document: Mapping[str, Any], proofs: list[Any], budget: WorkBudget, *, compiled: bool = True) -> _Document:
        """The document's unsecured part as signed: through a compiled shape when one vouches
        for it (the JSON is exactly the shape, so its quads are the shape's with these values),
        else through the reference path, in safe mode."""
        document = _Document(json_document, proofs)
        try:
            found = self._compiled_for(json_document, proofs) if compiled else None
            if found is not None:
                slots = found[0].slots_of(json_document)
                if slots is not None and found[1].canonicalizes_rdf:
                    transformed = found[0].document.transform(slots)
                    if transformed is not None:
                        document.quads, document.canonical[("rdf", ())] = transformed
                elif slots is not None:  # JCS signs the JSON: only its quads are wanted here
                    document.quads = found[0].document.quads_for(slots) or []
                if document.quads:
                    document.dataset = Dataset(document.quads)
                    document.compiled = found
                    return document
            document.quads = to_quads(document.unsecured, contexts=self.contexts, safe=True, budget=budget)
            document.dataset = Dataset(document.quads)
        except (CanonicalizationError, ContextError) as exc:
            document.failure = _transformation_problem(exc)
        return document

    def _check_proofs(
        self, document: _Document, issuer: str | None, purpose: str, now: datetime, problems: list[Problem], budget: WorkBudget,
        *, role: str = "issuer", challenge: str | None = None, domain: str | None = None,
    ) -> list[ProofResult]:
        check = _ProofCheck(self, document, issuer, purpose, now, problems, role, budget)
        results: list[ProofResult] = []
        for index, proof in enumerate(document.proofs):
            if _spent(budget):
                if not any(p.code == "WORK_LIMIT" for p in problems):
                    problems.append(_work_limit())
                break
            results.append(check.run(index, proof))
        # Data Integrity section 4.6 steps for challenge and domain: every proof states, as
        # signed, what was asked (a proof that could not be read has failed already).
        for index, signed in sorted(check.signed.items()):
            if challenge is not None and signed.challenge != challenge:
                problems.append(Problem("INVALID_CHALLENGE_ERROR", f"proof {index}: challenge {signed.challenge!r} is not the one asked for", index))
            if domain is not None and domain not in signed.domains:
                stated = list(signed.domains) if len(signed.domains) != 1 else signed.domains[0]
                problems.append(Problem("INVALID_DOMAIN_ERROR", f"proof {index}: domain {stated if signed.domains else None!r} is not {domain!r}", index))
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

    def _verified_list(self, url: str, found: Mapping[str, Any], check: _StatusCheck) -> _StatusList | None:
        """A status list credential checked once per content: proof, issuer, shape, bitstring."""
        seen = self._list_seen.get(url)
        if seen is not None and seen[0] is found:
            verdict = seen[1]
        else:
            digest = hashlib.sha256(json.dumps(found, sort_keys=True, default=str).encode()).hexdigest()
            known = self._lists.get((url, digest))
            if known is None:
                checked = self._check_list(url, found, check)
                if checked is None:
                    return None  # the request's budget ran out: nothing is known of the list
                self._lists.put((url, digest), checked)
                verdict = checked
            else:
                verdict = known
            self._list_seen.put(url, (found, verdict))
        # The verdict above holds for everyone; whose list it is, is checked for each credential.
        if not isinstance(verdict, tuple) and verdict.issuer != check.issuer:
            verdict = ("STATUS_VERIFICATION_ERROR", f"{url} is issued by {verdict.issuer}, not by the credential's issuer {check.issuer}")
        if isinstance(verdict, tuple):
            check.fail(verdict[0], verdict[1], statusListCredential=url)
            return None
        return verdict

    def _check_list(self, url: str, found: Mapping[str, Any], check: _StatusCheck) -> _StatusList | tuple[str, str] | None:
        result, read = self._verify(found, check.now, "assertionMethod", check.budget, status_list=True)
        if "WORK_LIMIT" in result.codes:
            check.problems.append(_work_limit())
            return None
        if not result.verified or read is None:
            return "STATUS_VERIFICATION_ERROR", f"{url} does not verify ({'; '.join(f'{p.code}: {p.detail}' for p in result.problems)})"
        try:
            facts = StatusListFacts.read(read.root)
        except Unreadable as exc:
            return "STATUS_VERIFICATION_ERROR", f"{url}: {exc.message}"
        if facts.id != url:
            return "STATUS_VERIFICATION_ERROR", f"the credential found for {url} is {facts.id!r}"
        if STATUS + "BitstringStatusListCredential" not in facts.types:
            return "STATUS_VERIFICATION_ERROR", f"{url} is not a BitstringStatusListCredential"
        if STATUS + "BitstringStatusList" not in facts.subject_types:
            return "STATUS_VERIFICATION_ERROR", f"{url}: its credentialSubject is not a BitstringStatusList"
        try:
            bits = Bitstring.decode(facts.encoded_list)
        except StatusError as exc:
            return "STATUS_LIST_LENGTH_ERROR" if exc.code == "STATUS_LIST_LENGTH_ERROR" else "STATUS_VERIFICATION_ERROR", f"{url}: {exc.code}: {exc.message}"
        return _StatusList(facts, bits, read.issuer)

    def _compiled_for(self, credential: Mapping[str, Any], proofs: list[Any]) -> tuple[CompiledCredentials, Suite] | None:
        """The compiled shape that may vouch for ``credential``, by what it shows of its shape (the
        shape then checks the JSON is exactly its own, value for value: see _document); None."""
        context, types = credential.get("@context"), credential.get("type")
        status = credential.get("credentialStatus")
        issuer = credential.get("issuer")
        issuer = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        if not (isinstance(context, list) and isinstance(types, list) and isinstance(status, list) and status and isinstance(issuer, str)):
            return None
        first = status[0]
        url = first.get("statusListCredential") if isinstance(first, Mapping) else None
        if not isinstance(url, str) or url.count("/") < 3:
            return None
        base = url.rsplit("/", 2)[0] + "/"
        for proof in proofs:
            if not isinstance(proof, Mapping) or not isinstance(proof.get("verificationMethod"), str):
                continue
            suite = next((s for s in self.suites if s.matches(proof)), None)
            if suite is None:
                continue
            try:
                key = (tuple(map(json.dumps, context)), tuple(map(str, types)), issuer, base, suite.name, proof["verificationMethod"])
            except TypeError:
                return None
            compiled = self._shapes.get(key)
            if compiled is None:
                # Compiled on second sight only, so that a stream of one-off made-up shapes costs no
                # more than the reference path.
                if self._shapes_seen.get(key) is None:
                    self._shapes_seen.put(key, True)
                    return None
                compiled = (self._compile_for(context, types, issuer, base, suite, proof["verificationMethod"]),)
                self._shapes.put(key, compiled)
            return (compiled[0], suite) if compiled[0] is not None else None
        return None

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
                            verification_method=vm_id, contexts=self.contexts, reading=True,
                        )
                    except VccoreError:
                        compiled = None
                    if compiled is not None and compiled.context == context:
                        return compiled
        return None

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
                found = resolved
                self._did_keys.put(vm_id, found)
            return found
        raise KeyFormatError(
            f"verification method {vm_id} is unknown: it is not a did:key and not among the trusted "
            "verification methods given to the verifier",
            code="UNKNOWN_VERIFICATION_METHOD",
            field="verificationMethod",
            url=vm_id,
        )


def _spent(budget: WorkBudget) -> bool:
    return budget.json_values < 0 or budget.rdfc_work < 0


def _work_limit() -> Problem:
    return Problem(
        "WORK_LIMIT",
        "verifying this needs more JSON-LD work than vccore gives one request (a long proof chain, "
        "many credentials, or a very large document); nothing further was checked",
    )


def _transformation_problem(exc: VccoreError, index: int | None = None) -> Problem:
    if exc.code == "WORK_LIMIT":
        return _work_limit()
    where = f"proof {index}: " if index is not None else ""
    return Problem("PROOF_TRANSFORMATION_ERROR", f"{where}{exc.message}", index, exc.code)


def _proof_list(document: Mapping[str, Any], problems: list[Problem]) -> list[Any]:
    """The document's proofs (its ``proof`` member): which proofs there are is read from the
    JSON, what each says from its signed configuration (a proof written under another name is
    refused by the data model check, which finds it in the signed form)."""
    raw = document.get("proof")
    proofs = raw if isinstance(raw, list) else [] if raw is None else [raw]
    if not proofs:
        problems.append(Problem("MALFORMED_PROOF_ERROR", "the credential has no proof"))
    elif len(proofs) > MAX_PROOFS:
        problems.append(Problem("MALFORMED_PROOF_ERROR", f"the credential has {len(proofs)} proofs; vccore checks at most {MAX_PROOFS}"))
        return []
    return proofs


class _ProofCheck:
    """The checks of one document's proofs (Data Integrity section 4.4), sharing its transformed
    forms between them. Each proof is read from its signed configuration."""

    def __init__(
        self,
        verifier: Verifier,
        document: _Document,
        issuer: str | None,
        purpose: str,
        now: datetime,
        problems: list[Problem],
        role: str,
        budget: WorkBudget,
    ) -> None:
        self.verifier = verifier
        self.document = document
        self.issuer = issuer
        self.purpose = purpose
        self.role = role  # whose key must sign: the credential's issuer, a presentation's holder
        self.controllers: dict[int, str] = {}  # proof index -> the controller of its key, once it verified
        self.now = now
        self.problems = problems
        self.budget = budget
        self.signed: dict[int, SignedProof] = {}  # proof index -> its signed configuration

    def run(self, index: int, proof: Any) -> ProofResult:
        suite_name: str | None = None
        vm_id: str | None = None

        def fail(code: str, detail: str, reason: str | None = None) -> ProofResult:
            self.problems.append(Problem(code, f"proof {index}: {detail}", index, reason))
            return ProofResult(index, suite_name, vm_id, False)

        if not isinstance(proof, Mapping):
            return fail("MALFORMED_PROOF_ERROR", "not a JSON object")
        # Which suite the proof names selects the transformation; its signed form must then say
        # the same (a proof whose JSON and signed type differ is refused below).
        named = proof.get("cryptosuite") if proof.get("type") == "DataIntegrityProof" else proof.get("type")
        suite_name = named if isinstance(named, str) else None
        suite = next((s for s in self.verifier.suites if s.matches(proof)), None)
        if suite is None:
            return ProofResult(index, suite_name, None, False, skipped=True)
        suite_name = suite.name
        context = self.document.json.get("@context")
        if not suite.terms_defined_by(context):
            return fail(
                "PROOF_VERIFICATION_ERROR",
                f"the credential's @context lacks {suite.context}, which defines the terms of {suite.name}",
                reason="SUITE_CONTEXT_MISSING",
            )
        if suite.proof_keeps_context and "@context" in proof and proof["@context"] != context:
            return fail(
                "PROOF_VERIFICATION_ERROR",
                "its @context is not the credential's @context, which has changed since signing",
                reason="CONTEXT_MISMATCH",
            )
        try:
            configuration, signed = self._configuration(suite, proof)
        except (MalformedProofError, DocumentError, Unreadable) as exc:
            return fail("MALFORMED_PROOF_ERROR", exc.message, reason=exc.code if exc.code != "MALFORMED_PROOF_ERROR" else None)
        except (CanonicalizationError, ContextError) as exc:
            return self._failed_transformation(exc, index, suite_name)
        self.signed[index] = signed
        if suite.cryptosuite is not None and signed.cryptosuite != suite.cryptosuite:
            return fail("MALFORMED_PROOF_ERROR", f"its signed cryptosuite is {signed.cryptosuite!r}, not {suite.cryptosuite!r}")
        if signed.verification_method is None:
            return fail("MALFORMED_PROOF_ERROR", "verificationMethod must be a URL")
        vm_id = signed.verification_method
        if signed.purpose is None:
            return fail("MALFORMED_PROOF_ERROR", "proofPurpose must be a purpose (such as assertionMethod)")
        if signed.purpose != purpose_iri(self.purpose):
            return fail("MISMATCHED_PROOF_PURPOSE_ERROR", f"purpose is {purpose_name(signed.purpose)!r}; expected {self.purpose!r}")
        if signed.expires is not None and self.now > signed.expires[1]:
            return fail("PROOF_EXPIRED", f"expired at {signed.expires[0]}")
        try:
            key = self.verifier._resolve(vm_id, self.purpose)
        except KeyFormatError as exc:
            code = "UNKNOWN_VERIFICATION_METHOD" if exc.code == "UNKNOWN_VERIFICATION_METHOD" else "INVALID_VERIFICATION_METHOD"
            return fail(code, exc.message)
        if key.algorithm != suite.algorithm:
            return fail("INVALID_VERIFICATION_METHOD", f"verification method {vm_id} is an {key.algorithm} key; {suite.name} signs with {suite.algorithm}")
        by_id = self.document.by_id
        if not all(w in by_id and by_id[w] is not proof for w in signed.previous):
            return fail("MALFORMED_PROOF_ERROR", f"previousProof {list(signed.previous)!r} does not name other proofs of this credential")
        try:
            document = self._transformed_document(suite, signed.previous)
            data = suite.hash(configuration.encode("utf-8")) + suite.hash(document.encode("utf-8"))
            ok = suite.verify(key, data, proof)
        except UnicodeEncodeError:
            return fail("PROOF_TRANSFORMATION_ERROR", "the document holds a lone UTF-16 surrogate", reason="INVALID_JSON")
        except MalformedProofError as exc:
            return fail("MALFORMED_PROOF_ERROR", exc.message)
        except (CanonicalizationError, ContextError) as exc:
            return self._failed_transformation(exc, index, suite_name)
        except VccoreError as exc:
            return fail("MALFORMED_PROOF_ERROR", exc.message, reason=exc.code)
        if not ok:
            return fail("PROOF_VERIFICATION_ERROR", f"the signature does not match the credential (signed by {vm_id})")
        # Whose key it is, is weighed over all proofs (see Verifier._check_proofs).
        self.controllers[index] = key.controller
        return ProofResult(index, suite.name, vm_id, True)

    def _failed_transformation(self, exc: VccoreError, index: int, suite_name: str | None) -> ProofResult:
        self.problems.append(_transformation_problem(exc, index))
        return ProofResult(index, suite_name, None, False)

    def _configuration(self, suite: Suite, proof: Mapping[str, Any]) -> tuple[str, SignedProof]:
        """The proof configuration's transformed form (what its hash signs) and what it says.
        What it says is a function of that form (canonical N-Quads, or JCS text read under the
        verifier's own contexts), so it is read once per form: a batch's proofs share a few."""
        compiled = self.document.compiled
        shape = compiled[0] if compiled is not None and compiled[1] is suite and compiled[0].is_plain_proof(proof) else None
        quads: list[Quad] | None = None
        canonical = shape.proof_configuration(proof) if shape is not None and suite.canonicalizes_rdf else None
        configuration: dict[str, Any] | None = None
        if canonical is None:
            configuration = proof_configuration(suite, proof, self.document.unsecured)
            if suite.canonicalizes_rdf:
                quads = to_quads(configuration, contexts=self.verifier.contexts, safe=True, budget=self.budget)
                canonical = canonical_nquads(quads, budget=self.budget)
            else:
                canonical = suite.transform(configuration, self.verifier.contexts)
        signed = self.verifier._signed_proofs.get((suite.name, canonical))
        if signed is None:
            if quads is None and shape is not None:
                quads = shape.proof.quads_for({"created": proof["created"]})
            if quads is None:
                if configuration is None:
                    configuration = proof_configuration(suite, proof, self.document.unsecured)
                quads = to_quads(configuration, contexts=self.verifier.contexts, safe=True, budget=self.budget)
            signed = read_proof(Dataset(quads), SEC + suite.proof_type)
            self.verifier._signed_proofs.put((suite.name, canonical), signed)
        return canonical, signed

    def _transformed_document(self, suite: Suite, previous: tuple[str, ...]) -> str:
        """The document a proof signs (with the proofs its previousProof names), transformed as
        its suite does; each form worked out once for all the proofs that need it."""
        kind = "rdf" if suite.canonicalizes_rdf else suite.name
        found = self.document.canonical.get((kind, previous))
        if found is not None:
            return found
        if not previous and suite.canonicalizes_rdf:
            canonical = canonical_nquads(self.document.quads, budget=self.budget)
        else:
            signed = dict(self.document.unsecured)
            if previous:
                signed["proof"] = [self.document.by_id[w] for w in previous]
            if suite.canonicalizes_rdf:
                canonical = canonical_nquads(to_quads(signed, contexts=self.verifier.contexts, safe=True, budget=self.budget), budget=self.budget)
            else:
                canonical = suite.transform(signed, self.verifier.contexts)
        self.document.canonical[(kind, previous)] = canonical
        return canonical


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
    lock = threading.Lock()

    def resolve(url: str) -> Any:
        name = index.get(url)
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            return None
        with lock:
            if name not in cache:
                cache[name] = _json.loads((folder / name).read_bytes())
            return cache[name]

    return resolve


class _StatusCheck:
    """Bitstring Status List section 3.2, for the entries of one credential whose proof verified,
    each read as signed."""

    def __init__(
        self, verifier: Verifier, entries: tuple[Node, ...], issuer: str | None, now: datetime,
        problems: list[Problem], warnings: list[Problem], budget: WorkBudget,
    ) -> None:
        self.verifier = verifier
        self.entries = entries
        self.issuer = issuer
        self.now = now
        self.problems = problems
        self.warnings = warnings
        self.budget = budget
        self._lists: dict[str, _StatusList | None] = {}

    def fail(self, code: str, detail: str, **data: str) -> None:
        self.problems.append(Problem(code, detail, data=data))

    def run(self) -> None:
        if len(self.entries) > MAX_STATUS_ENTRIES:
            self.fail("MALFORMED_VALUE_ERROR", f"{len(self.entries)} credentialStatus entries; vccore checks at most {MAX_STATUS_ENTRIES}")
            return
        revoked: tuple[str, int] | None = None
        superseded: tuple[str, int] | None = None
        suspended: tuple[str, int] | None = None
        for node in self.entries:
            read = self._read(node)
            if read is None:
                continue
            url, index, value, entry = read
            if not value:
                continue
            if entry.purpose == "revocation":
                revoked = (url, index)
            elif entry.purpose == "suspension":
                suspended = (url, index)
            elif entry.purpose == "message":
                if entry.messages == _VCCORE_MESSAGES:
                    superseded = (url, index)
                else:  # another issuer's message: reported, not judged (section 3.2 returns it)
                    text = next((message for status, message in entry.messages if status == hex(value)), None)
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
            if until is not None and until[1] <= self.now:
                return  # the suspension has lapsed
            data = {"statusListCredential": suspended[0]}
            if until is not None:
                data["until"] = until[0]
            self.fail("SUSPENDED", "the issuer has suspended this credential" + (f" until {until[0]}" if until else ""), **data)

    def _read(self, node: Node) -> tuple[str, int, int, StatusEntry] | None:
        try:
            entry = StatusEntry.read(node)
        except Unreadable as exc:
            self.fail("MALFORMED_VALUE_ERROR", f"credentialStatus: {exc.message}")
            return None
        if STATUS + "BitstringStatusListEntry" not in entry.types:
            kinds = ", ".join(sorted(t.rsplit("#", 1)[-1] for t in entry.types)) or "none"
            self.fail("STATUS_VERIFICATION_ERROR", f"credentialStatus entry of type {kinds}: vccore checks BitstringStatusListEntry only")
            return None
        purpose, url, index_text, size = entry.purpose, entry.list_url, entry.index, entry.size
        if purpose is None or url is None or index_text is None or not _INDEX_TEXT.fullmatch(index_text):
            self.fail("MALFORMED_VALUE_ERROR", "a BitstringStatusListEntry needs statusPurpose, statusListCredential and a decimal statusListIndex")
            return None
        if size > 1 and len(entry.messages) != 2**size:
            self.fail("MALFORMED_VALUE_ERROR", f"statusSize {size} needs {2**size} statusMessage entries")
            return None
        status_list = self._list(url)
        if status_list is None:
            return None
        if purpose not in status_list.facts.purposes:
            self.fail("STATUS_VERIFICATION_ERROR", f"{url} is a {'/'.join(sorted(status_list.facts.purposes))} list, not {purpose}", statusListCredential=url)
            return None
        entries_in_list = status_list.bits.length // size
        if entries_in_list < MIN_LIST_LENGTH:
            self.fail("STATUS_LIST_LENGTH_ERROR", f"{url} holds {entries_in_list} entries; the minimum is {MIN_LIST_LENGTH}", statusListCredential=url)
            return None
        index = int(index_text)
        if index >= entries_in_list:
            self.fail("RANGE_ERROR", f"statusListIndex {index} is outside {url} ({entries_in_list} entries)", statusListCredential=url)
            return None
        return url, index, status_list.bits.get(index, size), entry

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
        # the validity window, as signed, at this verification's clock (the rest is cached)
        start, end = status_list.facts.valid_from, status_list.facts.valid_until
        if start is not None and self.now + _CLOCK_SKEW < start[1]:
            self.fail("STATUS_VERIFICATION_ERROR", f"{url} is not valid before {start[0]}", statusListCredential=url)
            return None
        if end is not None and self.now > end[1]:
            self.fail("STATUS_VERIFICATION_ERROR", f"{url} expired at {end[0]}: a newer copy is needed", statusListCredential=url)
            return None
        self._lists[url] = status_list
        return status_list

    def _suspended_until(self, url: str, index: int) -> tuple[str, datetime] | None:
        status_list = self._lists.get(url)
        for position, until in status_list.facts.suspensions if status_list is not None else ():
            if position == str(index):
                return until, _datetime.parse(until)
        return None

    def _successor(self, url: str, index: int) -> str | None:
        store = self.verifier.store
        if store is None or not url.startswith(store.status_base_url):
            return None
        list_part = url[len(store.status_base_url):].split("/", 1)[0]
        if not (list_part.isascii() and list_part.isdigit()):
            return None
        record = store.get_by_position(int(list_part), index)
        return record.replaced_by if record is not None else None


_VCCORE_MESSAGES: Final = frozenset(MESSAGES)


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


# --- data model (VC Data Model 1.1 and 2.0), read as signed ----------------------------------


def _context_version(context: Any, problems: list[Problem]) -> str | None:
    """The data model version ("1.1" or "2.0") its first context says. ``@context`` is read from
    the JSON: it is a keyword, which no context can alias."""
    first = context[0] if isinstance(context, list) and context else context
    version = {CREDENTIALS_V1: "1.1", CREDENTIALS_V2: "2.0"}.get(first) if isinstance(first, str) else None
    if version is None:
        problems.append(Problem("MALFORMED_VALUE_ERROR", f"@context must start with {CREDENTIALS_V2} (VC 2.0) or {CREDENTIALS_V1} (VC 1.1)"))
    return version


# Section 4.5 and the sections of each property: these objects say what kind they are.
_TYPED_OBJECTS: Final = ("credentialStatus", "credentialSchema", "evidence", "termsOfUse", "refreshService")
_DATES: Final = ("validFrom", "validUntil", "issuanceDate", "expirationDate")


def _check_data_model(dataset: Dataset, version: str | None, problems: list[Problem]) -> _Credential | None:
    """VC Data Model checks on the signed form; what the other checks read of the credential (None
    when there is no one credential to read)."""

    def bad(detail: str) -> None:
        problems.append(Problem("MALFORMED_VALUE_ERROR", detail))

    try:
        root = root_of(dataset, VERIFIABLE_CREDENTIAL, "credential")
    except Unreadable as exc:
        bad('type must include "VerifiableCredential"' if not dataset.typed(VERIFIABLE_CREDENTIAL) else exc.message)
        return None
    if root.terms(SEC + "proof"):
        problems.append(Problem("MALFORMED_PROOF_ERROR", "the credential holds a proof under another name than proof; proofs are found under proof"))
    issuer = _read(lambda: _issuer(root), problems)
    subjects = _read(lambda: root.nodes(VC + "credentialSubject", "credentialSubject"), problems)
    if subjects is not None and not subjects:
        bad("credentialSubject must be an object or a non-empty list of objects")
    if subjects and any(s.iri is None and s.is_empty() for s in subjects):
        bad("each credentialSubject object must make at least one claim (an empty object makes none)")
    for name in _TYPED_OBJECTS:
        for item in _read(lambda: root.nodes(VC + name, name), problems) or ():
            if not item.types():
                bad(f"each {name} object must have a type")
            if name == "credentialSchema" and item.iri is None:
                bad("each credentialSchema object must have an id: the URL of the schema")
    if version == "2.0":
        holders = [(root, "")] + ([(issuer, "issuer.")] if issuer is not None else [])
        for holder, where in holders:
            for name in ("name", "description"):
                _read(lambda: holder.literals(SCHEMA + name, f"{where}{name}", TEXT_DATATYPES), problems)
    dates: dict[str, tuple[str, datetime]] = {}
    for name in _DATES:
        if root.terms(VC + name):
            moment = _read(lambda: root.one_datetime(VC + name, name, require_zone=version == "2.0"), problems)
            if moment is not None:
                dates[name] = moment
        elif name == "issuanceDate" and version == "1.1":
            bad("a VC 1.1 credential must have issuanceDate")
    status = _read(lambda: root.nodes(VC + "credentialStatus", "credentialStatus"), problems) or []
    return _Credential(root, issuer.iri if issuer is not None else None, dates, tuple(status))


R = TypeVar("R")


def _read(reader: Callable[[], R], problems: list[Problem]) -> R | None:
    """What ``reader`` reads, or None with its problem noted."""
    try:
        return reader()
    except Unreadable as exc:
        problems.append(Problem("MALFORMED_VALUE_ERROR", exc.message))
        return None


def _issuer(root: Node) -> Node:
    found = root.nodes(VC + "issuer", "issuer")
    if len(found) > 1:
        raise Unreadable(f"issuer has {len(found)} values; a credential has one issuer", field="issuer")
    if not found or found[0].iri is None:
        raise Unreadable("issuer must be a URL, or an object whose id is a URL", field="issuer")
    return found[0]


def _check_presentation(dataset: Dataset, credentials: int, problems: list[Problem]) -> str | None:
    """A presentation's data model, as signed: its type, its holder (returned), and that the
    credentials its JSON shows are all it holds."""
    try:
        root = root_of(dataset, VERIFIABLE_PRESENTATION, "presentation")
    except Unreadable as exc:
        message = 'type must include "VerifiablePresentation"' if not dataset.typed(VERIFIABLE_PRESENTATION) else exc.message
        problems.append(Problem("MALFORMED_VALUE_ERROR", message))
        return None
    holder: str | None = None
    holders = _read(lambda: root.nodes(VC + "holder", "holder"), problems)
    if holders:
        if len(holders) > 1 or holders[0].iri is None:
            problems.append(Problem("MALFORMED_VALUE_ERROR", "holder must be a URL, or an object whose id is a URL"))
        else:
            holder = holders[0].iri
    signed = len(root.terms(VC + "verifiableCredential"))
    if signed != credentials:
        problems.append(Problem(
            "MALFORMED_VALUE_ERROR",
            f"the presentation holds {signed} credentials as signed and {credentials} under verifiableCredential; "
            "vccore verifies those under verifiableCredential only",
        ))
    return holder


def _check_related_resources(root: Node, contexts: ContextLoader, problems: list[Problem]) -> None:
    """VC 2.0 section 5.3: each relatedResource is an object with a URL id and a digest
    (digestSRI or digestMultibase). A resource vccore holds (a pinned context) is hashed and
    compared; others cannot be retrieved here (vccore fetches nothing) and are not compared."""
    for item in _read(lambda: root.nodes(VC + "relatedResource", "relatedResource"), problems) or ():
        ident = item.iri
        if ident is None:
            problems.append(Problem("MALFORMED_VALUE_ERROR", "each relatedResource must have an id that is a URL"))
            continue
        sri = _read(lambda: item.one_literal(VC + "digestSRI", f"relatedResource {ident}: digestSRI"), problems)
        multibase = _read(lambda: item.one_literal(SEC + "digestMultibase", f"relatedResource {ident}: digestMultibase"), problems)
        if sri is None and multibase is None:
            problems.append(Problem("MALFORMED_VALUE_ERROR", f"relatedResource {ident} has neither digestSRI nor digestMultibase"))
            continue
        if ident not in contexts:
            continue
        data = contexts.read_bytes(ident)
        if sri is not None:
            algorithm, _, given = sri.value.partition("-")
            if algorithm not in ("sha256", "sha384", "sha512"):
                problems.append(Problem("MALFORMED_VALUE_ERROR", f"relatedResource {ident}: digestSRI algorithm {algorithm!r} is not sha256, sha384 or sha512"))
            elif base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != given:
                problems.append(Problem("RELATED_RESOURCE_DIGEST_MISMATCH", f"relatedResource {ident}: digestSRI does not match the resource"))
        if multibase is not None:
            expected = "u" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
            if multibase.value != expected:
                problems.append(Problem("RELATED_RESOURCE_DIGEST_MISMATCH", f"relatedResource {ident}: digestMultibase does not match the resource (sha256)"))


def _check_validity(credential: _Credential, now: datetime, problems: list[Problem]) -> None:
    # VC 1.1 has issuanceDate/expirationDate; its context also defines validFrom/validUntil, and
    # a credential that states them means them, so they are honoured there too.
    for name, later_is_bad in (("validFrom", False), ("validUntil", True), ("issuanceDate", False), ("expirationDate", True)):
        found = credential.dates.get(name)
        if found is None:
            continue
        text, moment = found
        if not later_is_bad and now < moment:
            problems.append(Problem("NOT_YET_VALID", f"{name} is {text}; now is {_datetime.format(now)}"))
        if later_is_bad and now > moment:
            problems.append(Problem("EXPIRED", f"{name} was {text}; now is {_datetime.format(now)}"))


@dataclass(frozen=True, slots=True)
class UnsignedCredential:
    """A credential about to be signed, read as a verifier will read it once signed: what an
    issuer decides from it (see ``vccore serve``'s /credentials/issue)."""

    version: str | None
    problems: tuple[Problem, ...]
    """The data model's problems (a verifier would refuse the credential)."""
    id: str | None
    issuer: str | None
    types: frozenset[str]
    """Every type of every node of the document."""
    iris: frozenset[str]
    """Every IRI the document names (nodes, values, graphs; not its predicates)."""
    has_status: bool


def check_unsigned(credential: Mapping[str, Any], contexts: ContextLoader) -> UnsignedCredential:
    """The data model checks of a credential about to be signed (what a verifier would refuse is
    not signed), on the same signed form a verifier reads. Raises the canonicalization's own
    error (safe mode's UNDEFINED_TERM, ...) when it has no signed form."""
    problems: list[Problem] = []
    version = _context_version(credential.get("@context"), problems)
    quads = to_quads({k: v for k, v in credential.items() if k != "proof"}, contexts=contexts, safe=True)
    dataset = Dataset(quads)
    read = _check_data_model(dataset, version, problems)
    if read is not None:
        _check_related_resources(read.root, contexts, problems)
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    types = frozenset(iri_value(o) for _, p, o, _ in quads if p == rdf_type and o.startswith("<"))
    iris = frozenset(iri_value(t) for s, _, o, g in quads for t in (s, o, g) if t.startswith("<"))
    return UnsignedCredential(
        version, tuple(problems), read.root.iri if read is not None else None, read.issuer if read is not None else None,
        types, iris, bool(read is not None and read.status),
    )

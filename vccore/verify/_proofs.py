"""Proof checks (Data Integrity section 4.4): a document's proofs, each read from its signed configuration."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from .._cache import Cache
from .._compiled import CompiledCredentials
from .._json import as_list
from .._nquads import Quad
from .._signed import SEC, Dataset, SignedProof, Unreadable, purpose_iri, purpose_name, read_proof
from ..canon import WorkBudget, canonical_nquads, to_quads
from ..codes import ErrorCode, ProblemCode
from ..contexts import UNKNOWN_CONTEXT_HINT, ContextLoader
from ..errors import (
    CanonicalizationError,
    ContextError,
    DocumentError,
    KeyFormatError,
    MalformedProofError,
    VccoreError,
)
from ..keys import PublicKey
from ..proofs import proof_configuration, rdfc_skeletons
from ..results import Problem, ProofResult, work_limit
from ..suites import Suite

if TYPE_CHECKING:
    from .._document_shapes import DocumentShapes

_log: Final = logging.getLogger("vccore")

# More proofs than any real credential carries; each one costs a canonicalization (and a chain
# of them one of the whole document each: the request's WorkBudget bounds that sum).
MAX_PROOFS: Final = 16
# Whose key must have signed (a credential's issuer, a presentation's holder) -> the problem
# when none of the proofs that verified is theirs.
_MISMATCH: Final = {"issuer": ProblemCode.ISSUER_MISMATCH, "holder": ProblemCode.HOLDER_MISMATCH}


class _Document:
    """A credential or presentation as its proofs cover it: its JSON (for the proofs' selection
    and signatures only), its unsecured part's quads (worked out once, through a compiled shape
    when one vouches for it), and their canonical forms by transformation.
    """

    __slots__ = (
        "by_id",
        "canonical",
        "compiled",
        "dataset",
        "failure",
        "json",
        "proofs",
        "quads",
        "skeletons",
        "slots",
        "unsecured",
    )

    def __init__(self, json_document: Mapping[str, Any], proofs: list[Any]) -> None:
        self.json = json_document
        self.unsecured = {k: v for k, v in json_document.items() if k != "proof"}
        self.proofs = proofs
        self.by_id = {p["id"]: p for p in proofs if isinstance(p, Mapping) and isinstance(p.get("id"), str)}
        self.dataset: Dataset | None = None
        self.quads: list[Quad] = []
        self.canonical: dict[tuple[str, tuple[str, ...]], str] = {}
        self.compiled: tuple[CompiledCredentials, Suite] | None = None
        self.slots: dict[str, Any] | None = None  # the compiled shape's slot values, when one read it
        # the compiled skeletons to tell what the reference path made of it (see _read_skeleton)
        self.skeletons: DocumentShapes | None = None
        self.failure: Problem | None = None


# A verifier compiles the skeletons of documents this small only: compiling costs about as much
# as the reference path per leaf squared over a few hundred, and senders choose the documents.
_SKELETON_LEAVES: Final = 128
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _read_skeleton(skeletons: DocumentShapes | None, document: Any) -> tuple[list[Quad], str | None] | None:
    """The quads (and canonical form, None when the general RDFC-1.0 must label them) of a
    document by its compiled skeleton, or None: the reference path's to read, under the
    request's budget. A skeleton is trusted once the reference path has made its documents the
    same way (:meth:`DocumentShapes.read`); a value the reference path would refuse (a lone
    surrogate) is the reference path's to refuse.
    """
    if skeletons is None:
        return None
    try:
        read = skeletons.read(document, max_leaves=_SKELETON_LEAVES)
    except Exception:  # noqa: BLE001 (deep nesting, keys JSON cannot hold: the reference path's to refuse)
        return None
    if read is not None:
        text = read[1] if read[1] is not None else "".join(map("".join, read[0]))
        if _LONE_SURROGATE.search(text):
            return None
    return read


def _observe_skeleton(skeletons: DocumentShapes, document: Any, canonical: str) -> None:
    """Tell the skeletons what the reference path made of ``document`` (see _read_skeleton)."""
    try:
        skeletons.observe(document, canonical, max_leaves=_SKELETON_LEAVES)
    except Exception:  # noqa: BLE001 (as above; the verdict is made, and stays the reference path's)
        _log.warning("a document skeleton could not be compiled", exc_info=True)


def _spent(budget: WorkBudget) -> bool:
    return budget.json_values < 0 or budget.rdfc_work < 0


def _quoted(value: str | None) -> str:
    """A value for people: a string in JSON's double quotes (no Python repr), or "(none)"."""
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)


def _transformation_problem(exc: VccoreError, index: int | None = None) -> Problem:
    if exc.code == ErrorCode.WORK_LIMIT:
        return work_limit()
    where = f"proof {index}: " if index is not None else ""
    if exc.code == ErrorCode.UNKNOWN_CONTEXT:
        # The error's own message names the Python remedy; a problem keeps what is wrong in its
        # detail and the remedy in its hint, which each face (Python, the command line) words.
        url = exc.details.get("url", "")
        return Problem(
            ProblemCode.PROOF_TRANSFORMATION_ERROR,
            f"{where}context {url} is not pinned: vccore loads no context from the network",
            index,
            exc.code,
            hint=UNKNOWN_CONTEXT_HINT,
        )
    return Problem(ProblemCode.PROOF_TRANSFORMATION_ERROR, f"{where}{exc.message}", index, exc.code)


def _proof_list(document: Mapping[str, Any], problems: list[Problem]) -> list[Any]:
    """The document's proofs (its ``proof`` member): which proofs there are is read from the
    JSON, what each says from its signed configuration (a proof written under another name is
    refused by the data model check, which finds it in the signed form).
    """
    raw = document.get("proof")
    proofs = as_list(raw)
    if not proofs:
        problems.append(Problem(ProblemCode.MALFORMED_PROOF_ERROR, "the credential has no proof"))
    elif len(proofs) > MAX_PROOFS:
        problems.append(
            Problem(
                ProblemCode.MALFORMED_PROOF_ERROR,
                f"the credential has {len(proofs)} proofs; vccore checks at most {MAX_PROOFS}",
            )
        )
        return []
    return proofs


@dataclass(frozen=True, slots=True)
class _ProofTools:
    """What proof checks use of the verifier that runs them: the suites it accepts, its contexts,
    its key resolution (verification method id, purpose -> key; KeyFormatError when there is
    none) and its proof configurations already read, by suite and transformed form.
    """

    suites: tuple[Suite, ...]
    contexts: ContextLoader
    resolve: Callable[[str, str], PublicKey]
    signed_proofs: Cache[tuple[str, str], SignedProof]


class _ProofCheck:
    """The checks of one document's proofs (Data Integrity section 4.4), sharing its transformed
    forms between them. Each proof is read from its signed configuration.
    """

    def __init__(
        self,
        tools: _ProofTools,
        document: _Document,
        issuer: str | None,
        purpose: str,
        now: datetime,
        problems: list[Problem],
        role: str,
        budget: WorkBudget,
    ) -> None:
        self.tools = tools
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

        def fail(code: ProblemCode, detail: str, reason: ErrorCode | None = None) -> ProofResult:
            self.problems.append(Problem(code, f"proof {index}: {detail}", index, reason))
            return ProofResult(index, suite_name, vm_id, False)

        if not isinstance(proof, Mapping):
            return fail(ProblemCode.MALFORMED_PROOF_ERROR, "not a JSON object")
        # Which suite the proof names selects the transformation; its signed form must then say
        # the same (a proof whose JSON and signed type differ is refused below).
        named = proof.get("cryptosuite") if proof.get("type") == "DataIntegrityProof" else proof.get("type")
        suite_name = named if isinstance(named, str) else None
        suite = next((s for s in self.tools.suites if s.matches(proof)), None)
        if suite is None and suite_name is None:
            # Data Integrity 2.1: a proof's type (and a DataIntegrityProof's cryptosuite) is a
            # string. A proof naming no suite that way (no such key, another spelling such as an
            # alias or "@type", a list) is not skipped as another suite's: once skipped, whatever
            # it hides would go unread while the other proofs vouch for the credential.
            return fail(
                ProblemCode.MALFORMED_PROOF_ERROR,
                "names no suite: its type (and a DataIntegrityProof's cryptosuite) must be written as those keys, as strings",
            )
        if suite is None:
            return ProofResult(index, suite_name, None, False, skipped=True)
        suite_name = suite.name
        context = self.document.json.get("@context")
        if not suite.terms_defined_by(context):
            return fail(
                ProblemCode.PROOF_VERIFICATION_ERROR,
                f"the credential's @context lacks {suite.context}, which defines the terms of {suite.name}",
                reason=ErrorCode.SUITE_CONTEXT_MISSING,
            )
        if suite.proof_keeps_context and "@context" in proof and proof["@context"] != context:
            return fail(
                ProblemCode.PROOF_VERIFICATION_ERROR,
                "its @context is not the credential's @context, which has changed since signing",
                reason=ErrorCode.CONTEXT_MISMATCH,
            )
        try:
            configuration, signed = self._configuration(suite, proof)
        except (MalformedProofError, DocumentError, Unreadable) as exc:
            return fail(
                ProblemCode.MALFORMED_PROOF_ERROR,
                exc.message,
                reason=exc.code if exc.code != ErrorCode.MALFORMED_PROOF_ERROR else None,
            )
        except (CanonicalizationError, ContextError) as exc:
            return self._failed_transformation(exc, index, suite_name)
        self.signed[index] = signed
        if suite.cryptosuite is not None and signed.cryptosuite != suite.cryptosuite:
            return fail(
                ProblemCode.MALFORMED_PROOF_ERROR,
                f"its signed cryptosuite is {_quoted(signed.cryptosuite)}, not {_quoted(suite.cryptosuite)}",
            )
        if signed.verification_method is None:
            return fail(ProblemCode.MALFORMED_PROOF_ERROR, "verificationMethod must be a URL")
        vm_id = signed.verification_method
        if signed.purpose is None:
            return fail(ProblemCode.MALFORMED_PROOF_ERROR, "proofPurpose must be a purpose (such as assertionMethod)")
        if signed.purpose != purpose_iri(self.purpose):
            return fail(
                ProblemCode.MISMATCHED_PROOF_PURPOSE_ERROR,
                f"purpose is {purpose_name(signed.purpose)}; expected {self.purpose}",
            )
        if signed.expires is not None and self.now > signed.expires[1]:
            return fail(ProblemCode.PROOF_EXPIRED, f"expired at {signed.expires[0]}")
        try:
            key = self.tools.resolve(vm_id, self.purpose)
        except KeyFormatError as exc:
            if exc.code == ErrorCode.UNKNOWN_VERIFICATION_METHOD:
                self.problems.append(
                    Problem(
                        ProblemCode.UNKNOWN_VERIFICATION_METHOD,
                        f"proof {index}: verification method {vm_id} is unknown: it is not a did:key, "
                        "and not among the keys the verifier trusts",
                        index,
                        hint="give the Verifier verification_methods= (the issuer's DID document or "
                        "verification method), if you trust it",
                    )
                )
                return ProofResult(index, suite_name, vm_id, False)
            return fail(ProblemCode.INVALID_VERIFICATION_METHOD, exc.message)
        if key.algorithm != suite.algorithm:
            return fail(
                ProblemCode.INVALID_VERIFICATION_METHOD,
                f"verification method {vm_id} is an {key.algorithm} key; {suite.name} signs with {suite.algorithm}",
            )
        by_id = self.document.by_id
        if not all(w in by_id and by_id[w] is not proof for w in signed.previous):
            return fail(
                ProblemCode.MALFORMED_PROOF_ERROR,
                f"previousProof {', '.join(map(_quoted, signed.previous))} does not name other proofs of this credential",
            )
        try:
            document = self._transformed_document(suite, signed.previous)
            data = suite.hash(configuration.encode("utf-8")) + suite.hash(document.encode("utf-8"))
            ok = suite.verify(key, data, proof)
        except UnicodeEncodeError:
            return fail(
                ProblemCode.PROOF_TRANSFORMATION_ERROR,
                "the document holds a lone UTF-16 surrogate",
                reason=ErrorCode.INVALID_JSON,
            )
        except MalformedProofError as exc:
            return fail(ProblemCode.MALFORMED_PROOF_ERROR, exc.message)
        except (CanonicalizationError, ContextError) as exc:
            return self._failed_transformation(exc, index, suite_name)
        except VccoreError as exc:
            return fail(ProblemCode.MALFORMED_PROOF_ERROR, exc.message, reason=exc.code)
        if not ok:
            return fail(
                ProblemCode.PROOF_VERIFICATION_ERROR,
                f"the signature does not match the credential (signed by {vm_id})",
            )
        # Whose key it is, is weighed over all proofs (see _check_proofs).
        self.controllers[index] = key.controller
        return ProofResult(index, suite.name, vm_id, True)

    def _failed_transformation(self, exc: VccoreError, index: int, suite_name: str | None) -> ProofResult:
        self.problems.append(_transformation_problem(exc, index))
        return ProofResult(index, suite_name, None, False)

    def _configuration(self, suite: Suite, proof: Mapping[str, Any]) -> tuple[str, SignedProof]:
        """The proof configuration's transformed form (what its hash signs) and what it says.
        What it says is a function of that form (canonical N-Quads, or JCS text read under the
        verifier's own contexts), so it is read once per form: a batch's proofs share a few.
        """
        compiled = self.document.compiled
        shape = (
            compiled[0] if compiled is not None and compiled[1] is suite and compiled[0].is_plain_proof(proof) else None
        )
        quads: list[Quad] | None = None
        canonical = (
            shape.proof_configuration(proof, plain=True) if shape is not None and suite.canonicalizes_rdf else None
        )
        configuration: dict[str, Any] | None = None
        if canonical is None:
            configuration = proof_configuration(suite, proof, self.document.unsecured)
            if suite.canonicalizes_rdf:
                skeletons = rdfc_skeletons(self.tools.contexts) if self.document.compiled is None else None
                read = _read_skeleton(skeletons, configuration)
                if read is not None and read[1] is not None:
                    quads, canonical = read[0], read[1]
                else:
                    quads = to_quads(configuration, contexts=self.tools.contexts, safe=True, budget=self.budget)
                    canonical = canonical_nquads(quads, budget=self.budget)
                    if skeletons is not None:
                        _observe_skeleton(skeletons, configuration, canonical)
            else:
                canonical = suite.transform(configuration, self.tools.contexts)
        signed = self.tools.signed_proofs.get((suite.name, canonical))
        if signed is None:
            if quads is None and shape is not None:
                quads = shape.proof.quads_for({"created": proof["created"]})
            if quads is None:
                if configuration is None:
                    configuration = proof_configuration(suite, proof, self.document.unsecured)
                quads = to_quads(configuration, contexts=self.tools.contexts, safe=True, budget=self.budget)
            signed = read_proof(Dataset(quads), SEC + suite.proof_type)
            self.tools.signed_proofs.put((suite.name, canonical), signed)
        return canonical, signed

    def _transformed_document(self, suite: Suite, previous: tuple[str, ...]) -> str:
        """The document a proof signs (with the proofs its previousProof names), transformed as
        its suite does; each form worked out once for all the proofs that need it.
        """
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
                canonical = canonical_nquads(
                    to_quads(signed, contexts=self.tools.contexts, safe=True, budget=self.budget), budget=self.budget
                )
            else:
                canonical = suite.transform(signed, self.tools.contexts)
        self.document.canonical[(kind, previous)] = canonical
        return canonical


def _check_proofs(
    tools: _ProofTools,
    document: _Document,
    issuer: str | None,
    purpose: str,
    now: datetime,
    problems: list[Problem],
    budget: WorkBudget,
    *,
    role: str = "issuer",
    challenge: str | None = None,
    domain: str | None = None,
) -> list[ProofResult]:
    """Checks a document's proofs: each proof, then what is weighed over all of them (the
    challenge and domain asked for, whose key signed, whether any suite was accepted).
    """
    check = _ProofCheck(tools, document, issuer, purpose, now, problems, role, budget)
    results: list[ProofResult] = []
    for index, proof in enumerate(document.proofs):
        if _spent(budget):
            if not any(p.code == ProblemCode.WORK_LIMIT for p in problems):
                problems.append(work_limit())
            break
        results.append(check.run(index, proof))
    # Data Integrity section 4.6 steps for challenge and domain: every proof states, as
    # signed, what was asked (a proof that could not be read has failed already).
    for index, signed in sorted(check.signed.items()):
        if challenge is not None and signed.challenge != challenge:
            problems.append(
                Problem(
                    ProblemCode.INVALID_CHALLENGE_ERROR,
                    f"proof {index}: challenge {_quoted(signed.challenge)} is not the one asked for",
                    index,
                )
            )
        if domain is not None and domain not in signed.domains:
            problems.append(
                Problem(
                    ProblemCode.INVALID_DOMAIN_ERROR,
                    f"proof {index}: domain {', '.join(map(_quoted, signed.domains)) or '(none)'} is not {_quoted(domain)}",
                    index,
                )
            )
    # The issuer (a presentation's holder) must have made one of the proofs that verified.
    # Other proofs may be anyone's (an endorsement, a notary's proof in a chain: the W3C
    # suites' proof-chain fixtures are signed by two keys), as long as each verifies.
    good = [r for r in results if r.verified]
    if issuer is not None and good and not any(check.controllers.get(r.index) == issuer for r in good):
        first = good[0]
        problems.append(
            Problem(
                _MISMATCH[role],
                f"proof {first.index}: {role} {issuer} is not the controller ({check.controllers[first.index]}) of verification method "
                f"{first.verification_method}"
                + (f" (nor of any of the other {len(good) - 1} proofs' keys)" if len(good) > 1 else ""),
                first.index,
            )
        )
    if results and all(r.skipped for r in results):
        found = sorted({r.suite or "unknown" for r in results})
        problems.append(
            Problem(
                ProblemCode.UNSUPPORTED_SUITE,
                f"no proof uses a suite this verifier accepts ({', '.join(s.name for s in tools.suites)}); "
                f"found: {', '.join(found)}",
                hint="to accept one of those suites, name it in the Verifier's suites=",
            )
        )
    return results

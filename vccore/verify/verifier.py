"""The Verifier: a credential's and a presentation's walk through the checks, and ``verify()``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from .. import _datetime, _json
from .._cache import Cache
from .._signed import Dataset, Node, SignedProof
from ..canon import WorkBudget, to_quads
from ..codes import ProblemCode
from ..contexts import ContextLoader, bundled_contexts
from ..entities import EntityType
from ..errors import CanonicalizationError, ContextError
from ..keys import Ed25519Key, PublicKey
from ..proofs import rdfc_skeletons
from ..results import TIME_ONLY, PresentationResult, Problem, ProofResult, VerificationResult, work_limit
from ..status.check import Refusal, StatusCheck, StatusList, StatusLists
from ..status.resolve import StatusResolver, StatusSource, no_waiting, status_resolver, would_wait
from ..store import Store, record_at
from ..suites import Suite, resolve_suites
from ._proofs import (
    _check_proofs,
    _Document,
    _observe_skeleton,
    _proof_list,
    _ProofTools,
    _read_skeleton,
    _spent,
    _transformation_problem,
)
from ._shapes import ReadBy, _Shapes
from ._trust import _index_trusted, _resolve_key, _TrustedKey
from .data_model import (
    _check_data_model,
    _check_presentation,
    _check_related_resources,
    _check_unsigned_presentation,
    _check_validity,
    _context_version,
    _Credential,
)

DEFAULT_SUITES: Final = ("eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020")
"""What ``verify()`` accepts unless told otherwise; legacy suites (Ed25519Signature2018) are opt-in."""

MAX_PRESENTED: Final = 64


class Verifier:
    """A reusable verifier: the suites it accepts, the keys and issuers it trusts, its contexts.

    Keys: did:key verification methods resolve offline; every other verification method must be
    given in ``verification_methods``, as verification method objects (trusted for any proof
    purpose) or whole DID documents (trusted for the relationships they list). Issuers: with
    ``trusted_issuers`` only credentials from those issuers verify (``UNTRUSTED_ISSUER``);
    without it any issuer does, as long as it controls the key that signed.

    Build one with :meth:`create` (``Verifier(...)`` takes the same keywords). Its settings are
    read-only. A Verifier may be shared by threads: its caches hold their own locks.
    """

    __slots__ = (
        "_contexts",
        "_did_keys",
        "_entity_types",
        "_list_seen",
        "_lists",
        "_shapes",
        "_signed_proofs",
        "_status",
        "_status_lists",
        "_store",
        "_suites",
        "_tools",
        "_trusted",
        "_trusted_issuers",
    )

    def __init__(
        self,
        *,
        suites: Iterable[str | Suite] = DEFAULT_SUITES,
        contexts: ContextLoader | None = None,
        verification_methods: Iterable[Mapping[str, Any]] = (),
        trusted_issuers: Iterable[str] | None = None,
        status: StatusSource | None = None,
        store: Store | None = None,
        entity_types: Mapping[str, EntityType] | None = None,
    ) -> None:
        self._suites = resolve_suites(suites)
        loader = contexts if contexts is not None else bundled_contexts()
        # The types a verifier is given are types it reads: their pinned contexts too (a server
        # with --templates refused its own custom types' credentials without them).
        for entity_type in (entity_types or {}).values():
            loader = entity_type.context_loader(loader)
        self._contexts = loader
        self._trusted_issuers = frozenset(trusted_issuers) if trusted_issuers is not None else None
        self._trusted: Mapping[str, _TrustedKey] = _index_trusted(verification_methods)
        self._status = status_resolver(status) if status is not None else None
        self._store = store
        self._entity_types = entity_types
        # Status list credentials already checked: (URL, sha256 of their JSON) -> list, or the
        # refusal (code, detail) that refused it. Verifying a list costs as much as a credential, and
        # every credential of a list set names the same three.
        self._lists: Cache[tuple[str, str], StatusList | Refusal] = Cache(256)
        # The same list object seen again (what mapping and folder resolvers return): its verdict.
        self._list_seen: Cache[str, tuple[Any, StatusList | Refusal]] = Cache(256)
        # Compiled shapes of the entity types' credentials: their JSON-LD work done once per shape.
        self._shapes = _Shapes(self._suites, self._contexts, entity_types)
        # did:key verification methods already resolved (resolving one decodes and checks the key,
        # which costs about half an Ed25519 verification); a did:key always resolves the same way.
        self._did_keys: Cache[str, Ed25519Key] = Cache(1024)
        # Proof configurations already read, by suite and transformed form (see vccore.verify._proofs).
        self._signed_proofs: Cache[tuple[str, str], SignedProof] = Cache(256)
        # what the checks borrow of this verifier, made once (its settings do not change)
        self._tools = _ProofTools(self._suites, self._contexts, self._resolve, self._signed_proofs)
        self._status_lists: StatusLists | None = None
        if self._status is not None:
            self._status_lists = StatusLists(
                self._status, self._verify_list, self._successor, self._lists, self._list_seen
            )

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
        bundled ones): credentials of these types verify through their compiled shapes, and
        the contexts these types pin are known to the verifier.
        """
        return cls(
            suites=suites,
            contexts=contexts,
            verification_methods=verification_methods,
            trusted_issuers=trusted_issuers,
            status=status,
            store=store,
            entity_types=entity_types,
        )

    @property
    def suites(self) -> tuple[Suite, ...]:
        """The suites whose proofs this verifier checks."""
        return self._suites

    @property
    def contexts(self) -> ContextLoader:
        """The JSON-LD contexts a credential may name."""
        return self._contexts

    @property
    def trusted_issuers(self) -> frozenset[str] | None:
        """The only issuers whose credentials verify (None: any that controls the key that signed)."""
        return self._trusted_issuers

    @property
    def status(self) -> StatusResolver | None:
        """Where status list credentials come from (None: status is not checked)."""
        return self._status

    @property
    def store(self) -> Store | None:
        """The issuer's store, which names the successor of a superseded credential."""
        return self._store

    @property
    def entity_types(self) -> Mapping[str, EntityType] | None:
        """The entity types whose credentials verify through compiled shapes (None: the bundled ones)."""
        return self._entity_types

    def __repr__(self) -> str:
        return (
            f"Verifier(suites={self._suites!r}, contexts={self._contexts!r}, trusted_issuers={self._trusted_issuers!r})"
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
        except Exception as exc:  # noqa: BLE001 (the promise: nothing from the credential escapes as an exception)
            return VerificationResult(
                False,
                (Problem(ProblemCode.INTERNAL_ERROR, f"vccore failed while verifying: {type(exc).__name__}: {exc}"),),
            )

    def knows_text(self, text: str | bytes) -> bool:
        """Whether :meth:`verify` reads ``text`` unparsed, laid out as a credential it verified from its text."""
        return self._shapes.matches_text(text)

    def verify_bounded(
        self, credential: Any, *, json_values: int, rdfc_work: int, now: datetime | None = None
    ) -> VerificationResult | None:
        """:meth:`verify` within less JSON-LD and RDFC-1.0 work than a request may spend (see
        :class:`~vccore.canon.WorkBudget`) and without waiting; None when the credential needs
        more work, or a source would wait (a store query, status lists signed anew: sources that
        honour :func:`vccore.status.resolve.no_waiting`). For a server that verifies in its event
        loop what takes little work (a credential of a compiled shape takes none, its status lists
        cached), and in a thread, with the whole budget, what this refuses.
        """
        moment = now if now is not None else _datetime.now()
        try:
            with no_waiting() as waits:  # a store query, lists signed anew: verify() waits for them
                result = self._verify(
                    credential, moment, "assertionMethod", WorkBudget(json_values=json_values, rdfc_work=rdfc_work)
                )[0]
        except Exception:  # noqa: BLE001 (verify() says what failed, with the whole budget)
            return None
        if waits.missed or any(p.code == ProblemCode.WORK_LIMIT for p in result.problems):
            return None
        return result

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
        presentation and its credentials share one request's WorkBudget.
        """
        moment = now if now is not None else _datetime.now()
        if moment.tzinfo is None:
            raise ValueError("now must be an aware datetime (with a time zone)")
        try:
            return self._verify_presentation(presentation, challenge, domain, moment, WorkBudget())
        except Exception as exc:  # noqa: BLE001 (as verify(): nothing from the input escapes as an exception)
            failure = Problem(ProblemCode.INTERNAL_ERROR, f"vccore failed while verifying: {type(exc).__name__}: {exc}")
            return PresentationResult(VerificationResult(False, (failure,)), ())

    def _verify_presentation(
        self, presentation: Any, challenge: str | None, domain: str | None, now: datetime, budget: WorkBudget
    ) -> PresentationResult:
        if isinstance(presentation, (str, bytes)):
            try:
                presentation = _json.loads(presentation)
            except ValueError as exc:
                return PresentationResult(
                    VerificationResult(False, (Problem(ProblemCode.PARSING_ERROR, f"not JSON: {exc}"),)), ()
                )
        if not isinstance(presentation, Mapping):
            problem = Problem(
                ProblemCode.PARSING_ERROR, f"a presentation is a JSON object, not {_json.kind(presentation)}"
            )
            return PresentationResult(VerificationResult(False, (problem,)), ())
        problems: list[Problem] = []
        _context_version(presentation.get("@context"), problems)
        raw = presentation.get("verifiableCredential", [])
        credentials = _json.one_or_many(raw)
        if len(credentials) > MAX_PRESENTED:
            problems.append(
                Problem(
                    ProblemCode.MALFORMED_VALUE_ERROR,
                    f"{len(credentials)} credentials; vccore verifies at most {MAX_PRESENTED} in a presentation",
                )
            )
            return PresentationResult(VerificationResult(False, tuple(problems)), ())
        proof_results: list[ProofResult] = []
        if "proof" in presentation:
            proofs = _proof_list(presentation, problems)
            # What the presentation says of itself (its type, holder, credentials and proofs) is
            # read as signed; a presentation without a proof vouches for nothing of its own.
            document = self._document(presentation, proofs, budget, False)
            holder: str | None = None
            if document.failure is not None:
                problems.append(document.failure)
            elif document.dataset is not None:
                holder = _check_presentation(document.dataset, len(credentials), problems)
            if proofs and document.failure is None:
                proof_results = _check_proofs(
                    self._tools,
                    document,
                    holder,
                    "authentication",
                    now,
                    problems,
                    budget,
                    role="holder",
                    challenge=challenge,
                    domain=domain,
                )
        elif challenge is not None or domain is not None:
            problems.append(
                Problem(
                    ProblemCode.MALFORMED_PROOF_ERROR,
                    "the presentation has no proof, and a challenge or domain was asked for",
                )
            )
        else:
            _check_unsigned_presentation(presentation, problems)
        results: list[VerificationResult] = []
        for index, credential in enumerate(credentials):
            if isinstance(credential, Mapping) and credential.get("type") == "EnvelopedVerifiableCredential":
                refused = Problem(
                    ProblemCode.UNSUPPORTED_CREDENTIAL,
                    f"credential {index} is enveloped; vccore verifies Data Integrity credentials",
                )
                results.append(VerificationResult(False, (refused,)))
            elif _spent(budget):
                results.append(VerificationResult(False, (work_limit(),)))
            else:
                results.append(self._verify(credential, now, "assertionMethod", budget)[0])
        proven = "proof" not in presentation or any(r.verified for r in proof_results)
        own = VerificationResult(
            not problems and proven, tuple(problems), tuple(proof_results)
        )  # the presentation's own checks
        return PresentationResult(own, tuple(results))

    def _verify(
        self, credential: Any, now: datetime, purpose: str, budget: WorkBudget, *, status_list: bool = False
    ) -> tuple[VerificationResult, _Credential | None]:
        """The verdict, and the credential as signed (None when it cannot be read). A status list
        (``status_list``) is checked for its proof and data model only: its validity window is
        judged for each use, and it has no status of its own.
        """
        text = credential if isinstance(credential, (str, bytes)) else None
        known = self._shapes.read_text(text) if text is not None else None  # a shape's text: not parsed
        if text is not None:
            try:
                credential = known[0] if known is not None else _json.loads(text)
            except ValueError as exc:
                return VerificationResult(False, (Problem(ProblemCode.PARSING_ERROR, f"not JSON: {exc}"),)), None
        if not isinstance(credential, Mapping):
            return VerificationResult(
                False,
                (Problem(ProblemCode.PARSING_ERROR, f"a credential is a JSON object, not {_json.kind(credential)}"),),
            ), None
        if _spent(budget):
            return VerificationResult(False, (work_limit(),)), None
        problems: list[Problem] = []
        version = _context_version(credential.get("@context"), problems)
        proofs = _proof_list(credential, problems)
        document = self._document(credential, proofs, budget, known[1:] if known is not None else True)
        if document.failure is not None:
            problems.append(document.failure)
            return VerificationResult(False, tuple(problems)), None
        assert document.dataset is not None
        read = _check_data_model(document.dataset, version, problems)
        if read is not None:
            _check_related_resources(read.root, self.contexts, problems)
        issuer = read.issuer if read is not None else None
        if self.trusted_issuers is not None and issuer is not None and issuer not in self.trusted_issuers:
            problems.append(
                Problem(
                    ProblemCode.UNTRUSTED_ISSUER,
                    f"issuer {issuer} is not one this verifier trusts",
                    hint=f"if you trust {issuer}, add it to the Verifier's trusted_issuers=",
                )
            )
        proof_results = _check_proofs(self._tools, document, issuer, purpose, now, problems, budget) if proofs else []
        if document.skeletons is not None and any(r.verified for r in proof_results):
            # what the reference path made of a document with a proof that verified: a sight of
            # its skeleton, or a checked use of its compiled form
            canonical = document.canonical.get(("rdf", ()))
            if canonical is not None:
                _observe_skeleton(document.skeletons, document.unsecured, canonical)
        warnings: list[Problem] = []
        if read is not None and not status_list:
            _check_validity(read, now, problems)
            # Only a credential that verified is worth a status lookup: a forged one gets no
            # fetches, and learns nothing about the positions it names (nor a warning that its
            # status was not checked: nothing it says is the issuer's). One that is genuine but
            # outside its validity period is looked up too: "superseded by X" or "revoked" says
            # more than "expired" to whoever holds it.
            if read.status and any(r.verified for r in proof_results) and all(p.code in TIME_ONLY for p in problems):
                if self._status_lists is None:
                    warnings.append(
                        Problem(
                            ProblemCode.STATUS_NOT_CHECKED,
                            "the credential has a status list entry, and it was not checked: "
                            "the verifier was given no status lists",
                            hint="give the Verifier status= (a folder written by vccore status export or "
                            "write_status_lists(), a mapping of list URL to list credential, or a callable)",
                        )
                    )
                else:
                    StatusCheck(self._status_lists, read.status, issuer, now, problems, warnings, budget).run()
        verified = not problems and any(r.verified for r in proof_results)
        if verified and known is None:  # (given as JSON too: a server that parsed the body learns its layout)
            self._shapes.learn_text(document.compiled, document.slots, proofs)  # read by its text next time
        return VerificationResult(verified, tuple(problems), tuple(proof_results), tuple(warnings)), read

    def _document(
        self, json_document: Mapping[str, Any], proofs: list[Any], budget: WorkBudget, compiled: bool | ReadBy = True
    ) -> _Document:
        """The document's unsecured part as signed: through a compiled shape when one vouches
        for it (the JSON is exactly the shape, so its quads are the shape's with these values;
        ``compiled``: False for none, or the shape and slots its text was read by), else through
        the reference path, in safe mode.
        """
        document = _Document(json_document, proofs)
        known = compiled if isinstance(compiled, tuple) else None
        try:
            found = known[0] if known is not None else self._shapes.find(json_document, proofs) if compiled else None
            if found is not None:
                slots = document.slots = known[1] if known is not None else found[0].slots_of(json_document)
                if slots is not None and found[1].canonicalizes_rdf:
                    transformed = found[0].document.transform(slots, present=known is not None)
                    if transformed is not None:
                        document.quads, document.canonical[("rdf", ())] = transformed
                elif slots is not None:  # JCS signs the JSON: only its quads are wanted here
                    document.quads = found[0].document.quads_for(slots) or []
                if document.quads:
                    document.dataset = Dataset(document.quads)
                    document.compiled = found
                    return document
            # A document of no entity type: through the compiled skeleton of its kind (what
            # vccore.issue and Sunbird's templates make), once the reference path has made it,
            # checked, a few times (see vccore._document_shapes).
            skeletons = rdfc_skeletons(self.contexts) if compiled else None
            read = _read_skeleton(skeletons, document.unsecured)
            if read is not None:
                document.quads, canonical = read
                if canonical is not None:
                    document.canonical[("rdf", ())] = canonical
            else:
                document.quads = to_quads(document.unsecured, contexts=self.contexts, safe=True, budget=budget)
                document.skeletons = skeletons
            document.dataset = Dataset(document.quads)
        except (CanonicalizationError, ContextError) as exc:
            document.failure = _transformation_problem(exc)
        return document

    def _verify_list(
        self, found: Mapping[str, Any], now: datetime, budget: WorkBudget
    ) -> tuple[VerificationResult, Node | None, str | None]:
        """A status list credential checked for its proof and data model (see :meth:`_verify`):
        the verdict, and the list as signed (its root and issuer; None when it cannot be read).
        """
        result, read = self._verify(found, now, "assertionMethod", budget, status_list=True)
        return result, read.root if read is not None else None, read.issuer if read is not None else None

    def _resolve(self, vm_id: str, purpose: str) -> PublicKey:
        return _resolve_key(self._trusted, self._did_keys, vm_id, purpose)

    def _successor(self, url: str, index: int) -> str | None:
        """The certificateId that replaced the credential at ``index`` of the list at ``url``,
        when the list is one of this verifier's ``store`` (None: not known).
        """
        if self.store is None or would_wait():
            return None
        record = record_at(self.store, url, index)
        return record.replaced_by if record is not None else None


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
    Status List section 3.2 when ``status`` is given).
    """
    verifier = Verifier.create(
        suites=suites,
        contexts=contexts,
        verification_methods=verification_methods,
        trusted_issuers=trusted_issuers,
        status=status,
    )
    return verifier.verify(credential, now=now, proof_purpose=proof_purpose)

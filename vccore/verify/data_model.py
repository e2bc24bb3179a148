"""The VC Data Model checks (1.1 and 2.0), read as signed; a credential about to be signed, read so."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from .. import _datetime
from .._json import as_list
from .._nquads import iri_value
from .._signed import (
    SCHEMA,
    SEC,
    TEXT_DATATYPES,
    VC,
    VERIFIABLE_CREDENTIAL,
    VERIFIABLE_PRESENTATION,
    Dataset,
    Node,
    Unreadable,
    root_of,
)
from .._vocab import CREDENTIALS_V1, CREDENTIALS_V2, VCVersion
from ..canon import to_quads
from ..codes import ProblemCode
from ..contexts import ContextLoader
from ..results import Problem


@dataclass(frozen=True, slots=True)
class _Credential:
    """What the checks of one credential read from its signed form (see :func:`_check_data_model`)."""

    root: Node
    issuer: str | None
    dates: Mapping[str, tuple[str, datetime]]
    status: tuple[Node, ...]


def _context_version(context: Any, problems: list[Problem]) -> VCVersion | None:
    """The data model version ("1.1" or "2.0") its first context says. ``@context`` is read from
    the JSON: it is a keyword, which no context can alias.
    """
    first = context[0] if isinstance(context, list) and context else context
    version = _VERSION_OF.get(first) if isinstance(first, str) else None
    if version is None:
        problems.append(
            Problem(
                ProblemCode.MALFORMED_VALUE_ERROR,
                f"@context must start with {CREDENTIALS_V2} (VC 2.0) or {CREDENTIALS_V1} (VC 1.1)",
            )
        )
    return version


_VERSION_OF: Final = {version.context: version for version in VCVersion}

# Section 4.5 and the sections of each property: these objects say what kind they are.
# (name, IRI, the IRI as an N-Quads term: what a node's properties are keyed by)
_TYPED_OBJECTS: Final = tuple(
    (name, VC + name, f"<{VC}{name}>")
    for name in ("credentialStatus", "credentialSchema", "evidence", "termsOfUse", "refreshService")
)
_DATES: Final = tuple(
    (name, VC + name, f"<{VC}{name}>") for name in ("validFrom", "validUntil", "issuanceDate", "expirationDate")
)
_TEXTS: Final = tuple((name, SCHEMA + name, f"<{SCHEMA}{name}>") for name in ("name", "description"))
_RELATED_RESOURCE: Final = VC + "relatedResource"
_SUBJECT: Final = VC + "credentialSubject"


def _check_data_model(dataset: Dataset, version: str | None, problems: list[Problem]) -> _Credential | None:
    """VC Data Model checks on the signed form; what the other checks read of the credential (None
    when there is no one credential to read).
    """

    def bad(detail: str) -> None:
        problems.append(Problem(ProblemCode.MALFORMED_VALUE_ERROR, detail))

    try:
        root = root_of(dataset, VERIFIABLE_CREDENTIAL, "credential")
    except Unreadable as exc:
        bad('type must include "VerifiableCredential"' if not dataset.typed(VERIFIABLE_CREDENTIAL) else exc.message)
        return None
    if root.terms(SEC + "proof"):
        problems.append(
            Problem(
                ProblemCode.MALFORMED_PROOF_ERROR,
                "the credential holds a proof under another name than proof; proofs are found under proof",
            )
        )
    # (each read in a try of its own, not through _read: no closure made per property, on the
    # path every credential takes)
    issuer: Node | None = None
    try:
        issuer = _issuer(root)
    except Unreadable as exc:
        bad(exc.message)
    subjects: list[Node] | None = None
    try:
        subjects = root.nodes(_SUBJECT, "credentialSubject")
    except Unreadable as exc:
        bad(exc.message)
    if subjects is not None and not subjects:
        bad("credentialSubject must be an object or a non-empty list of objects")
    if subjects and any(s.iri is None and s.is_empty() for s in subjects):
        bad("each credentialSubject object must make at least one claim (an empty object makes none)")
    # (each property read only where the node has it: an absent one reads as nothing, and is
    # most of them, on the path every credential takes)
    status: list[Node] = []
    for name, predicate, term in _TYPED_OBJECTS:
        if term not in root.props:
            continue
        try:
            items = root.nodes(predicate, name)
        except Unreadable as exc:
            bad(exc.message)
            items = []
        if name == "credentialStatus":
            status = items  # read once: a credentialStatus that is a value is one problem, not two
        for item in items:
            if not item.types():
                bad(f"each {name} object must have a type")
            if name == "credentialSchema" and item.iri is None:
                bad("each credentialSchema object must have an id: the URL of the schema")
    if version == "2.0":
        holders = [(root, "")] + ([(issuer, "issuer.")] if issuer is not None else [])
        for holder, where in holders:
            for name, predicate, term in _TEXTS:
                if term in holder.props:
                    try:
                        holder.literals(predicate, f"{where}{name}", TEXT_DATATYPES)
                    except Unreadable as exc:
                        bad(exc.message)
    dates: dict[str, tuple[str, datetime]] = {}
    for name, predicate, term in _DATES:
        if term in root.props:
            try:
                moment = root.one_datetime(predicate, name, require_zone=version == "2.0")
            except Unreadable as exc:
                bad(exc.message)
                continue
            if moment is not None:
                dates[name] = moment
        elif name == "issuanceDate" and version == "1.1":
            bad("a VC 1.1 credential must have issuanceDate")
    return _Credential(root, issuer.iri if issuer is not None else None, dates, tuple(status))


R = TypeVar("R")


def _read(reader: Callable[[], R], problems: list[Problem]) -> R | None:
    """What ``reader`` reads, or None with its problem noted."""
    try:
        return reader()
    except Unreadable as exc:
        problems.append(Problem(ProblemCode.MALFORMED_VALUE_ERROR, exc.message))
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
    credentials its JSON shows are all it holds.
    """
    try:
        root = root_of(dataset, VERIFIABLE_PRESENTATION, "presentation")
    except Unreadable as exc:
        message = (
            'type must include "VerifiablePresentation"' if not dataset.typed(VERIFIABLE_PRESENTATION) else exc.message
        )
        problems.append(Problem(ProblemCode.MALFORMED_VALUE_ERROR, message))
        return None
    holder: str | None = None
    holders = _read(lambda: root.nodes(VC + "holder", "holder"), problems)
    if holders:
        if len(holders) > 1 or holders[0].iri is None:
            problems.append(
                Problem(ProblemCode.MALFORMED_VALUE_ERROR, "holder must be a URL, or an object whose id is a URL")
            )
        else:
            holder = holders[0].iri
    signed = len(root.terms(VC + "verifiableCredential"))
    if signed != credentials:
        problems.append(
            Problem(
                ProblemCode.MALFORMED_VALUE_ERROR,
                f"the presentation holds {signed} credentials as signed and {credentials} under verifiableCredential; "
                "vccore verifies those under verifiableCredential only",
            )
        )
    return holder


def _check_unsigned_presentation(presentation: Mapping[str, Any], problems: list[Problem]) -> None:
    """Unsigned, a presentation vouches for nothing of its own, and there is no signed form to
    read: its JSON is checked for shape only, and no verdict rests on it.
    """
    if "VerifiablePresentation" not in as_list(presentation.get("type")):
        problems.append(Problem(ProblemCode.MALFORMED_VALUE_ERROR, 'type must include "VerifiablePresentation"'))
    holder = presentation.get("holder")
    holder_id = holder.get("id") if isinstance(holder, Mapping) else holder
    if holder is not None and not (isinstance(holder_id, str) and ":" in holder_id):
        problems.append(
            Problem(ProblemCode.MALFORMED_VALUE_ERROR, "holder must be a URL, or an object whose id is a URL")
        )


def _check_related_resources(root: Node, contexts: ContextLoader, problems: list[Problem]) -> None:
    """VC 2.0 section 5.3: each relatedResource is an object with a URL id and a digest
    (digestSRI or digestMultibase). A resource vccore holds (a pinned context) is hashed and
    compared; others cannot be retrieved here (vccore fetches nothing) and are not compared.
    """
    if not root.has(_RELATED_RESOURCE):
        return
    for item in _read(lambda: root.nodes(_RELATED_RESOURCE, "relatedResource"), problems) or ():
        ident = item.iri
        if ident is None:
            problems.append(
                Problem(ProblemCode.MALFORMED_VALUE_ERROR, "each relatedResource must have an id that is a URL")
            )
            continue
        sri = _read(lambda: item.one_literal(VC + "digestSRI", f"relatedResource {ident}: digestSRI"), problems)
        multibase = _read(
            lambda: item.one_literal(SEC + "digestMultibase", f"relatedResource {ident}: digestMultibase"), problems
        )
        if sri is None and multibase is None:
            problems.append(
                Problem(
                    ProblemCode.MALFORMED_VALUE_ERROR,
                    f"relatedResource {ident} has neither digestSRI nor digestMultibase",
                )
            )
            continue
        if ident not in contexts:
            continue
        data = contexts.read_bytes(ident)
        if sri is not None:
            algorithm, _, given = sri.value.partition("-")
            if algorithm not in ("sha256", "sha384", "sha512"):
                problems.append(
                    Problem(
                        ProblemCode.MALFORMED_VALUE_ERROR,
                        f"relatedResource {ident}: digestSRI algorithm {json.dumps(algorithm)} is not sha256, sha384 or sha512",
                    )
                )
            elif base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != given:
                problems.append(
                    Problem(
                        ProblemCode.RELATED_RESOURCE_DIGEST_MISMATCH,
                        f"relatedResource {ident}: digestSRI does not match the resource",
                    )
                )
        if multibase is not None:
            expected = "u" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
            if multibase.value != expected:
                problems.append(
                    Problem(
                        ProblemCode.RELATED_RESOURCE_DIGEST_MISMATCH,
                        f"relatedResource {ident}: digestMultibase does not match the resource (sha256)",
                    )
                )


def _check_validity(credential: _Credential, now: datetime, problems: list[Problem]) -> None:
    # VC 1.1 has issuanceDate/expirationDate; its context also defines validFrom/validUntil, and
    # a credential that states them means them, so they are honoured there too.
    for name, later_is_bad in (
        ("validFrom", False),
        ("validUntil", True),
        ("issuanceDate", False),
        ("expirationDate", True),
    ):
        found = credential.dates.get(name)
        if found is None:
            continue
        text, moment = found
        if not later_is_bad and now < moment:
            problems.append(Problem(ProblemCode.NOT_YET_VALID, f"{name} is {text}; now is {_datetime.format(now)}"))
        if later_is_bad and now > moment:
            problems.append(Problem(ProblemCode.EXPIRED, f"{name} was {text}; now is {_datetime.format(now)}"))


@dataclass(frozen=True, slots=True)
class UnsignedCredential:
    """A credential about to be signed, read as a verifier will read it once signed: what an
    issuer decides from it (see ``vccore serve``'s /credentials/issue).
    """

    version: VCVersion | None
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
    error (safe mode's UNDEFINED_TERM, ...) when it has no signed form.
    """
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
        version,
        tuple(problems),
        read.root.iri if read is not None else None,
        read.issuer if read is not None else None,
        types,
        iris,
        bool(read is not None and read.status),
    )

"""The signed form: what a proof covers, read by IRI.

Every fact a verdict rests on (a credential's issuer, types, validity dates, status entries and
their fields; a proof's type, purpose, verification method, dates and chain; a status list's id,
purpose, bits and dates) is read here, from the RDF quads the signature covers, and never from
the credential's JSON keys. The verifier hands its checks these readers, not the JSON.

Why the quads and not the keys: JSON-LD writes one property in many ways that all sign the same
quads: its term (``credentialStatus``), its full IRI, a prefixed name (``cred:credentialStatus``),
a term that an inline context aliases to the same IRI, a value object (``{"@value", "@type"}``),
a node object elsewhere in the document that shares the node's ``id`` (merged into it), an
``@included`` or ``@reverse`` block, ``@nest``. A key lookup sees one spelling: whoever renames
the key keeps the signature and hides the value from the check. The quads are the same whatever
the spelling. The other design, refusing every key that is not the protecting context's own term,
needs the active context at every key (a JSON-LD processor of vccore's own, scoped and type-scoped
contexts included) and still misses node objects merged by id.

eddsa-jcs-2022 signs the JSON text; its quads are what that text means under its contexts, so
the same reader serves it.

The readers raise :class:`Unreadable` (``MALFORMED_VALUE_ERROR``, naming the field) for a fact
that is there but cannot be one value of the kind the specs give it: two ``validUntil`` values, a
``validUntil`` that is not an ``xsd:dateTime``, an issuer that is a literal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from . import _datetime
from ._nquads import I18N, RDF_LANGSTRING, XSD_STRING, Quad, iri_value, literal_value
from .errors import Unreadable

__all__ = [
    "Dataset",
    "Literal",
    "Node",
    "SignedProof",
    "StatusEntry",
    "StatusListFacts",
    "Unreadable",
    "read_proof",
    "root_of",
]

VC: Final = "https://www.w3.org/2018/credentials#"
SEC: Final = "https://w3id.org/security#"
STATUS: Final = "https://www.w3.org/ns/credentials/status#"
LIFECYCLE: Final = "https://vccore.dev/vocab/lifecycle#"
SCHEMA: Final = "https://schema.org/"
DC_CREATED: Final = "http://purl.org/dc/terms/created"
RDF_TYPE: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_DATETIME: Final = "http://www.w3.org/2001/XMLSchema#dateTime"
# The published credentials/v2 and bitstring status list contexts type statusSize with the https
# form of XML Schema's namespace (see the README); the http form is the real one.
XSD_INTEGERS: Final = frozenset(
    ("http://www.w3.org/2001/XMLSchema#integer", "https://www.w3.org/2001/XMLSchema#integer")
)
TEXT_DATATYPES: Final = frozenset((XSD_STRING, RDF_LANGSTRING))
_STRINGS: Final = frozenset((XSD_STRING,))
_DATETIMES: Final = frozenset((XSD_DATETIME,))
_MULTIBASE: Final = frozenset((SEC + "multibase",))

VERIFIABLE_CREDENTIAL: Final = VC + "VerifiableCredential"
VERIFIABLE_PRESENTATION: Final = VC + "VerifiablePresentation"
_RDF_TYPE_TERM: Final = f"<{RDF_TYPE}>"

# The IRI a proof purpose's name stands for (the Data Integrity and security v2 contexts map
# "authentication" to authenticationMethod, the others to their own name).
_PURPOSE_IRIS: Final = {
    "assertionMethod": SEC + "assertionMethod",
    "authentication": SEC + "authenticationMethod",
    "capabilityInvocation": SEC + "capabilityInvocationMethod",
    "capabilityDelegation": SEC + "capabilityDelegationMethod",
    "keyAgreement": SEC + "keyAgreementMethod",
}


def purpose_iri(name: str) -> str:
    """The IRI of the proof purpose ``name`` (``assertionMethod``, ``authentication``, ...)."""
    return _PURPOSE_IRIS.get(name, SEC + name)


def purpose_name(iri: str) -> str:
    """The name of a proof purpose IRI, as a proof writes it."""
    return next((name for name, known in _PURPOSE_IRIS.items() if known == iri), iri)


@dataclass(frozen=True, slots=True)
class Literal:
    """An RDF literal: its lexical form, datatype IRI and language tag."""

    value: str
    datatype: str
    language: str | None = None


class Dataset:
    """An RDF dataset indexed by graph and subject: ``(graph, subject) -> predicate -> objects``,
    every term in its N-Quads form (``<iri>``, ``_:b0``, ``"literal"^^<datatype>``).
    """

    __slots__ = ("_index",)

    def __init__(self, quads: Iterable[Quad]) -> None:
        index: dict[tuple[str, str], dict[str, list[str]]] = {}
        for subject, predicate, obj, graph in quads:
            properties = index.get((graph, subject))
            if properties is None:
                properties = index[(graph, subject)] = {}
            objects = properties.get(predicate)
            if objects is None:
                properties[predicate] = [obj]
            else:  # quads are a set: no object comes twice
                objects.append(obj)
        self._index = index

    def typed(self, type_iri: str, graph: str = "") -> list[Node]:
        """The nodes of ``graph`` with ``rdf:type`` ``type_iri``."""
        wanted = f"<{type_iri}>"
        return [
            Node(self, subject, graph)
            for (in_graph, subject), properties in self._index.items()
            if in_graph == graph and wanted in properties.get(_RDF_TYPE_TERM, ())
        ]

    def properties(self, term: str, graph: str) -> dict[str, list[str]]:
        return self._index.get((graph, term), _NO_PROPERTIES)


_NONE: Final[list[str]] = []
_NO_PROPERTIES: Final[dict[str, list[str]]] = {}


class Node:
    """One node of a :class:`Dataset`: its values by property IRI, read as the specs type them."""

    __slots__ = ("dataset", "graph", "props", "term")

    def __init__(self, dataset: Dataset, term: str, graph: str = "") -> None:
        self.dataset = dataset
        self.term = term
        self.graph = graph
        self.props = dataset.properties(term, graph)

    @property
    def iri(self) -> str | None:
        """The node's IRI, None for a blank node."""
        return iri_value(self.term) if self.term.startswith("<") else None

    def is_empty(self) -> bool:
        """Whether the node makes no statement of its own."""
        return not self.props

    def has(self, predicate: str) -> bool:
        """Whether the node has a value of ``predicate`` (an IRI)."""
        return _iri_term(predicate) in self.props

    def terms(self, predicate: str) -> list[str]:
        """The objects of ``predicate`` (an IRI), as N-Quads terms."""
        return self.props.get(_iri_term(predicate), _NONE)

    def types(self) -> frozenset[str]:
        """The node's ``rdf:type`` IRIs."""
        terms = self.props.get(_RDF_TYPE_TERM, _NONE)
        if len(terms) > 8:  # not kept: the cache holds what it is given
            return _types_of.__wrapped__(tuple(terms))
        return _types_of(tuple(terms))

    def nodes(self, predicate: str, name: str) -> list[Node]:
        """The objects of ``predicate`` that are nodes; Unreadable when one is a literal."""
        out = []
        for term in self.terms(predicate):
            if term.startswith('"'):
                raise Unreadable(f"{name} must be an object or a URL, not the value {_shown(term)}", field=name)
            out.append(Node(self.dataset, term, self.graph))
        return out

    def iris(self, predicate: str, name: str) -> list[str]:
        """The objects of ``predicate``, each an IRI; Unreadable for a literal or a blank node."""
        out = []
        for term in self.terms(predicate):
            if not term.startswith("<"):
                raise Unreadable(f"{name} must be a URL, not {_shown(term)}", field=name)
            out.append(iri_value(term))
        return out

    def one_iri(self, predicate: str, name: str) -> str | None:
        """The one IRI value of ``predicate`` (None when absent)."""
        terms = self.props.get(_iri_term(predicate), _NONE)
        if len(terms) == 1 and terms[0].startswith("<"):  # the common case, read straight
            return iri_value(terms[0])
        found = self.iris(predicate, name)
        if len(found) > 1:
            raise Unreadable(f"{name} has {len(found)} values; it takes one", field=name)
        return found[0] if found else None

    def literals(self, predicate: str, name: str, datatypes: frozenset[str] | None = None) -> list[Literal]:
        """The objects of ``predicate``, each a literal (of one of ``datatypes``, when given)."""
        out = []
        for term in self.terms(predicate):
            if not term.startswith('"'):
                raise Unreadable(f"{name} must be a value, not the node {_shown(term)}", field=name)
            value, datatype, language = literal_value(term)
            # text with a base direction (rdfDirection i18n-datatype) is a language string
            kind = RDF_LANGSTRING if datatype.startswith(I18N) else datatype
            if datatypes is not None and kind not in datatypes:
                raise Unreadable(
                    f"{name} must be a value of type {' or '.join(sorted(datatypes))}, not {datatype}", field=name
                )
            out.append(Literal(value, datatype, language))
        return out

    def one_literal(self, predicate: str, name: str, datatypes: frozenset[str] | None = None) -> Literal | None:
        """The one literal value of ``predicate`` (None when absent)."""
        found = self.literals(predicate, name, datatypes)
        if len(found) > 1:
            raise Unreadable(f"{name} has {len(found)} values; it takes one", field=name)
        return found[0] if found else None

    def one_text(self, predicate: str, name: str) -> str | None:
        """The one plain string value of ``predicate`` (None when absent)."""
        terms = self.props.get(_iri_term(predicate), _NONE)
        if len(terms) == 1 and terms[0].startswith('"'):  # the common case, read straight
            value, datatype, _ = literal_value(terms[0])
            if datatype == XSD_STRING:
                return value
        found = self.one_literal(predicate, name, _STRINGS)  # the rest, and what is wrong, said there
        return found.value if found is not None else None

    def one_datetime(self, predicate: str, name: str, *, require_zone: bool = True) -> tuple[str, datetime] | None:
        """The one ``xsd:dateTime`` value of ``predicate``, as written and parsed."""
        terms = self.props.get(_iri_term(predicate), _NONE)
        read = literal_value(terms[0]) if len(terms) == 1 and terms[0].startswith('"') else None
        if read is not None and read[1] == XSD_DATETIME:  # the common case, read straight
            text = read[0]
        else:
            found = self.one_literal(predicate, name, _DATETIMES)
            if found is None:
                return None
            text = found.value
        try:
            return text, _datetime.parse(text, require_zone=require_zone)
        except ValueError as exc:
            raise Unreadable(f"{name}: {exc}", field=name) from None


@lru_cache(maxsize=256)
def _iri_term(iri: str) -> str:
    """``<iri>``: the readers ask for a few dozen predicates, over and over."""
    return f"<{iri}>"


@lru_cache(maxsize=256)
def _types_of(terms: tuple[str, ...]) -> frozenset[str]:
    """The IRIs among ``rdf:type`` terms: the same few sets, node after node."""
    return frozenset(iri_value(t) for t in terms if t.startswith("<"))


def _shown(term: str) -> str:
    return term if len(term) <= 80 else term[:77] + "..."


def root_of(dataset: Dataset, type_iri: str, what: str) -> Node:
    """The one node of the default graph typed ``type_iri``: the credential (or presentation, or
    proof) itself. Unreadable when there is none, or more than one (then which one the JSON's
    outer object is depends on how it is spelled, and the quads cannot say).
    """
    found = dataset.typed(type_iri)
    if len(found) != 1:
        raise Unreadable(
            f"the signed document holds {len(found)} nodes of type {type_iri}; a {what} is exactly one"
            + ("" if found else f" (its type must include {type_iri.rsplit('#', 1)[-1]})"),
            field="type",
        )
    return found[0]


# --- what the checks read ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One ``credentialStatus`` entry, as signed (Bitstring Status List section 2.1)."""

    types: frozenset[str]
    purpose: str | None
    list_url: str | None
    index: str | None
    size: int
    messages: frozenset[tuple[str, str]]
    """(status, message) pairs of ``statusMessage``."""

    @classmethod
    def read(cls, node: Node) -> StatusEntry:
        """The entry at ``node``; Unreadable when a field has more than one value or the wrong kind."""
        size = 1
        if node.has(_STATUS_SIZE):  # (absent from most entries: 1)
            size_value = node.one_literal(_STATUS_SIZE, "statusSize", XSD_INTEGERS)
            assert size_value is not None
            if not size_value.value.isascii() or not size_value.value.isdigit() or not 1 <= int(size_value.value) <= 8:
                raise Unreadable(f"statusSize {size_value.value!r} is not a size in bits (1 to 8)", field="statusSize")
            size = int(size_value.value)
        messages = set()
        if node.has(_STATUS_MESSAGE):
            for message in node.nodes(_STATUS_MESSAGE, "statusMessage"):
                status = message.one_text(STATUS + "status", "statusMessage.status")
                text = message.one_text(STATUS + "message", "statusMessage.message")
                if status is None or text is None:
                    raise Unreadable("each statusMessage has one status and one message", field="statusMessage")
                messages.add((status, text))
        return cls(
            node.types(),
            node.one_text(_STATUS_PURPOSE, "statusPurpose"),
            node.one_iri(_STATUS_LIST_CREDENTIAL, "statusListCredential"),
            node.one_text(_STATUS_LIST_INDEX, "statusListIndex"),
            size,
            frozenset(messages) if messages else _NO_MESSAGES,
        )


_STATUS_SIZE: Final = STATUS + "statusSize"
_STATUS_MESSAGE: Final = STATUS + "statusMessage"
_STATUS_PURPOSE: Final = STATUS + "statusPurpose"
_STATUS_LIST_CREDENTIAL: Final = STATUS + "statusListCredential"
_STATUS_LIST_INDEX: Final = STATUS + "statusListIndex"
_NO_MESSAGES: Final[frozenset[tuple[str, str]]] = frozenset()


@dataclass(frozen=True, slots=True)
class StatusListFacts:
    """What a status list credential says, as signed (Bitstring Status List section 2.2)."""

    id: str | None
    types: frozenset[str]
    subject_types: frozenset[str]
    purposes: frozenset[str]
    encoded_list: str | None
    valid_from: tuple[str, datetime] | None
    valid_until: tuple[str, datetime] | None
    suspensions: tuple[tuple[str, str], ...]
    """(statusListIndex, suspendedUntil) of vccore's lifecycle vocabulary: lapsing suspensions."""

    @classmethod
    def read(cls, root: Node) -> StatusListFacts:
        subjects = root.nodes(VC + "credentialSubject", "credentialSubject")
        if len(subjects) != 1:
            raise Unreadable(
                f"a status list credential has one credentialSubject, not {len(subjects)}", field="credentialSubject"
            )
        subject = subjects[0]
        encoded = subject.one_literal(STATUS + "encodedList", "encodedList", _MULTIBASE)
        suspensions = []
        for item in subject.nodes(LIFECYCLE + "suspensions", "suspensions"):
            index = item.one_text(LIFECYCLE + "statusListIndex", "suspensions.statusListIndex")
            until = item.one_datetime(LIFECYCLE + "suspendedUntil", "suspensions.suspendedUntil")
            if index is not None and until is not None:
                suspensions.append((index, until[0]))
        return cls(
            root.iri,
            root.types(),
            subject.types(),
            frozenset(p.value for p in subject.literals(STATUS + "statusPurpose", "statusPurpose", _STRINGS)),
            encoded.value if encoded is not None else None,
            root.one_datetime(VC + "validFrom", "validFrom"),
            root.one_datetime(VC + "validUntil", "validUntil"),
            tuple(sorted(suspensions)),
        )


@dataclass(frozen=True, slots=True)
class SignedProof:
    """A proof configuration as signed (Data Integrity section 2.1): everything of the proof but
    its signature.
    """

    types: frozenset[str]
    cryptosuite: str | None
    verification_method: str | None
    purpose: str | None
    """The purpose's IRI (see :func:`purpose_iri`)."""
    created: tuple[str, datetime] | None
    expires: tuple[str, datetime] | None
    previous: tuple[str, ...]
    challenge: str | None
    domains: tuple[str, ...]


def read_proof(dataset: Dataset, type_iri: str) -> SignedProof:
    """The proof configuration whose quads are ``dataset``; its node is the one of ``type_iri``
    (the suite's proof type).
    """
    root = root_of(dataset, type_iri, "proof")
    cryptosuite = root.one_literal(SEC + "cryptosuite", "cryptosuite")
    return SignedProof(
        root.types(),
        cryptosuite.value if cryptosuite is not None else None,
        root.one_iri(SEC + "verificationMethod", "verificationMethod"),
        root.one_iri(SEC + "proofPurpose", "proofPurpose"),
        root.one_datetime(DC_CREATED, "created"),
        root.one_datetime(SEC + "expiration", "expires"),
        tuple(sorted(root.iris(SEC + "previousProof", "previousProof"))),
        _text_or_none(root.one_literal(SEC + "challenge", "challenge")),
        tuple(sorted(lit.value for lit in root.literals(SEC + "domain", "domain"))),
    )


def _text_or_none(found: Literal | None) -> str | None:
    return found.value if found is not None else None

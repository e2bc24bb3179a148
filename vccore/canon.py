"""Canonical N-Quads for JSON-LD documents and RDF datasets (RDFC-1.0), in safe mode.

The reference path: pyld expands the document and builds its RDF dataset; vccore then writes
the dataset as canonical N-Quads with its own RDFC-1.0 (:mod:`vccore._rdfc10`), because pyld's
own normalizer escapes literals wrongly and has no work limit. What pyld gets wrong, and this
module corrects:

- ``base`` is ``None`` (pyld would resolve relative IRIs against ``http://example.org/base/``);
- the document loader is vccore's pinned, offline :class:`~vccore.contexts.ContextLoader`, with
  a processed-context cache per loader rather than pyld's process-wide one;
- safe mode: pyld drops undefined terms and relative IRIs without a word; here they raise
  :class:`~vccore.errors.SafeModeError` naming the term and where it is (the checks of jsonld.js's
  ``safe: true``), and so does JSON that expansion keeps but RDF leaves out (``@index``, the keys
  of index maps);
- bounds: JSON values and array lengths per document, values of one property of one node once
  node objects that share an id are merged (pyld merges in quadratic time), and a
  :class:`WorkBudget` that one request's documents share;
- a JSON number such as ``5.0`` is an ``xsd:integer``, as JSON-LD 1.1 (Deserialize JSON-LD to
  RDF, object to RDF step 10) and jsonld.js have it; pyld makes every Python float an
  ``xsd:double``;
- an ``xsd:double`` is written as jsonld.js writes it (``toExponential(15)``, ties rounded up);
  pyld's ``%.15E`` rounds ties to even, so 2**-24 came out one digit apart.

- base direction: a value object's ``@direction`` is signed as Digital Bazaar's eddsa-rdfc-2022
  cryptosuite and jsonld-signatures 11 (so Ed25519Signature2020) sign it, with ``rdfDirection:
  "i18n-datatype"`` (JSON-LD 1.1, object to RDF step 13): a literal of datatype
  ``https://www.w3.org/ns/i18n#ar_rtl``, no language tag. The language is lower-cased as jsonld.js
  9 does (pyld 3.3 writes it as it is; its expansion has lower-cased it already).
  ``rdf_direction=None`` (JSON-LD's default, which rdf-canonize 1.x under the 2018 suites has)
  leaves the direction out of the RDF, so safe mode refuses it there; so it does for a direction on
  a number or boolean, and for a context's default direction, which neither pyld nor jsonld.js
  puts in the RDF.

Known divergence, on purpose: jsonld.js (9.0) reads a JSON number whose shortest form has no
decimal point but is not whole, such as ``1e-7``, as the integer ``0``; vccore writes
``1.0E-7`` as JSON-LD requires. A credential holding such a number will not verify in jsonld.js.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal

from pyld import jsonld
from pyld.context_resolver import ContextResolver
from pyld.identifier_issuer import IdentifierIssuer

from . import _nquads, _rdfc10
from ._json import one_or_many
from ._nquads import Quad
from .codes import ErrorCode
from .contexts import ContextLoader, bundled_contexts
from .errors import CanonicalizationError, ContextError, SafeModeError, VccoreError

__all__ = [
    "DEFAULT_MAX_WORK",
    "MAX_ARRAY_LENGTH",
    "MAX_JSON_VALUES",
    "MAX_VALUES_PER_PROPERTY",
    "RdfDirection",
    "WorkBudget",
    "canonical_nquads",
    "canonicalize",
    "canonicalize_nquads",
    "to_quads",
]

DEFAULT_MAX_WORK: Final = _rdfc10.DEFAULT_MAX_WORK

RdfDirection = Literal["i18n-datatype"] | None
"""How base direction goes into RDF: ``"i18n-datatype"`` (as the Data Integrity suites of Digital
Bazaar sign it, and vccore's RDFC-1.0 suites) or None (left out, so refused in safe mode)."""


class WorkBudget:
    """What one request may spend on JSON-LD and RDFC-1.0, whatever it holds: every document
    transformed on its behalf (a credential once per proof chain, each proof configuration, each
    credential of a presentation, each status list) draws on it, and past it the work stops with
    ``WORK_LIMIT``. Measured here (2 cores, 2026-12): a document at :data:`MAX_JSON_VALUES`
    takes 0.25-0.4 s to turn into quads, and :data:`DEFAULT_MAX_WORK` units of RDFC-1.0 about
    0.3 s, so the defaults keep the worst request near a second.
    """

    __slots__ = ("json_limit", "json_values", "rdfc_work")

    DEFAULT_JSON_VALUES: Final = 2 * 10_000
    DEFAULT_RDFC_WORK: Final = DEFAULT_MAX_WORK

    def __init__(self, *, json_values: int = DEFAULT_JSON_VALUES, rdfc_work: int = DEFAULT_RDFC_WORK) -> None:
        self.json_limit = json_values
        self.json_values = json_values
        self.rdfc_work = rdfc_work

    def spend_json(self, values: int) -> None:
        """Draw ``values`` JSON values; WORK_LIMIT when the request has no more."""
        self.json_values -= values
        if self.json_values < 0:
            raise CanonicalizationError(
                "this request holds more JSON-LD than vccore processes for one request "
                f"({self.json_limit} JSON values over all its documents and proofs)",
                code=ErrorCode.WORK_LIMIT,
                limit=self.json_limit,
            )


_FORBIDDEN_IN_IRI: Final = '\\s\\x00-\\x20<>"{}|^`\\\\\\ufeff'
_ABSOLUTE_IRI: Final = re.compile(f"[A-Za-z][A-Za-z0-9+.\\-]*:[^{_FORBIDDEN_IN_IRI}]*")
_BLANK_NODE: Final = re.compile(f"_:[^{_FORBIDDEN_IN_IRI}]+")
# BCP 47 as jsonld.js checks it (well-formedness only).
_LANGUAGE_TAG: Final = re.compile(r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")


def canonicalize(
    document: Any,
    *,
    contexts: ContextLoader | None = None,
    safe: bool = True,
    max_work: int = DEFAULT_MAX_WORK,
    budget: WorkBudget | None = None,
    rdf_direction: RdfDirection = "i18n-datatype",
) -> str:
    """The RDFC-1.0 canonical N-Quads of a JSON-LD document (rdf-canon section 4.4)."""
    quads = to_quads(document, contexts=contexts, safe=safe, budget=budget, rdf_direction=rdf_direction)
    return canonical_nquads(quads, max_work=max_work, budget=budget)


def canonical_nquads(quads: list[Quad], *, max_work: int = DEFAULT_MAX_WORK, budget: WorkBudget | None = None) -> str:
    """The RDFC-1.0 canonical N-Quads of a dataset's quads (:func:`to_quads`)."""
    return "".join(_rdfc10.canonicalize(quads, max_work=max_work, budget=budget)[0])


def canonicalize_nquads(text: str, *, hash_algorithm: str = "sha256", max_work: int = DEFAULT_MAX_WORK) -> str:
    """The RDFC-1.0 canonical form of an N-Quads dataset; ``hash_algorithm`` sha256 or sha384."""
    if hash_algorithm not in ("sha256", "sha384"):
        raise CanonicalizationError(
            f"hash algorithm {hash_algorithm!r}: RDFC-1.0 here supports sha256 and sha384",
            code=ErrorCode.JSONLD_ERROR,
            hash_algorithm=hash_algorithm,
        )
    lines, _ = _rdfc10.canonicalize(_nquads.parse(text), hash_name=hash_algorithm, max_work=max_work)
    return "".join(lines)


def to_quads(
    document: Any,
    *,
    contexts: ContextLoader | None = None,
    safe: bool = True,
    budget: WorkBudget | None = None,
    rdf_direction: RdfDirection = "i18n-datatype",
) -> list[Quad]:
    """The RDF dataset of a JSON-LD document (JSON-LD 1.1 Deserialize JSON-LD to RDF); base
    direction as ``rdf_direction`` says (:data:`RdfDirection`).
    """
    if not isinstance(document, (dict, list)):
        raise CanonicalizationError(
            f"a JSON-LD document is an object or an array, not {type(document).__name__}",
            code=ErrorCode.JSONLD_ERROR,
        )
    if rdf_direction not in ("i18n-datatype", None):  # compound-literal: jsonld.js 9 refuses it too
        raise CanonicalizationError(
            f"rdfDirection {rdf_direction!r}: vccore writes base direction as 'i18n-datatype' or not at all",
            code=ErrorCode.JSONLD_ERROR,
        )
    values = _check_json(document, safe)
    if budget is not None:
        budget.spend_json(values)
    loader = contexts if contexts is not None else bundled_contexts()
    processor = _Processor(safe, document, rdf_direction)
    options: dict[str, Any] = {
        "base": None,
        "documentLoader": loader,
        "contextResolver": ContextResolver(loader.pyld_cache(), loader),
        "processingMode": "json-ld-1.1",
        "produceGeneralizedRdf": False,
        "rdfDirection": rdf_direction,
        # Keep what JSON-LD would drop silently, so that safe mode can see it (_check_graph).
        "keepFreeFloatingNodes": True,
    }
    try:
        expanded = processor.expand(document, options)
        if safe and processor.dropped:
            term = next((t for t in processor.dropped if t), None) or "(a keyword-like term)"
            path = _locate_key(document, term)
            raise SafeModeError(
                f"term {term!r}{_at(path)} is not defined by the document's contexts, so it "
                "would not be signed; define it in a context or remove it",
                code=ErrorCode.UNDEFINED_TERM,
                term=term,
                path=path,
            )
        expanded = _check_graph(expanded, document, safe, _Tally())
        issuer = IdentifierIssuer("_:b")
        node_map: dict[str, Any] = {"@default": {}}
        processor._create_node_map(expanded, node_map, "@default", issuer)
        quads: list[Quad] = []
        for graph_name, graph in sorted(node_map.items()):
            if graph_name == "@default":
                graph_term = ""
            elif _is_node_id(graph_name):
                graph_term = graph_name if graph_name.startswith("_:") else _nquads.iri(graph_name)
            elif safe:
                _relative(graph_name, "graph name", document)
            else:
                continue
            quads.extend(
                (_term(triple["subject"]), _term(triple["predicate"]), _term(triple["object"]), graph_term)
                for triple in processor._graph_to_rdf(graph, issuer, options)
            )
        return quads
    except VccoreError:
        raise
    except jsonld.JsonLdError as exc:
        raise _from_jsonld_error(exc) from exc
    except RecursionError:
        raise CanonicalizationError(
            "the document is nested too deeply to process", code=ErrorCode.INPUT_TOO_DEEP
        ) from None
    except Exception as exc:  # pyld fails on some malformed input with TypeError, KeyError, ...
        raise CanonicalizationError(
            f"the document cannot be processed as JSON-LD ({type(exc).__name__}: {exc})", code=ErrorCode.JSONLD_ERROR
        ) from exc


class _Processor(jsonld.JsonLdProcessor):  # type: ignore[misc]
    """pyld's processor, refusing in safe mode whatever pyld would drop, and writing xsd:double
    values the way jsonld.js does.
    """

    def __init__(self, safe: bool, document: Any, rdf_direction: RdfDirection) -> None:
        self.dropped: list[str | None] = []
        super().__init__(on_property_dropped=self.dropped.append)
        self._safe = safe
        self._document = document
        self._rdf_direction = rdf_direction

    def _expand(
        self,
        active_ctx: Any,
        active_property: Any,
        element: Any,
        options: Any,
        inside_list: bool = False,
        inside_index: bool = False,
        type_scoped_ctx: Any = None,
    ) -> Any:
        result = super()._expand(
            active_ctx,
            active_property,
            element,
            options,
            inside_list=inside_list,
            inside_index=inside_index,
            type_scoped_ctx=type_scoped_ctx,
        )
        # JSON-LD drops a null @value, an object with only @language, and a scalar standing alone
        # in a graph, all without a word (jsonld.js: "null @value value", "object with only
        # @language", "free-floating scalar").
        if self._safe and result is None and element is not None and element != {}:
            path = _locate_value(self._document, element)
            raise SafeModeError(
                f"{_short(element)}{_at(path)} would be dropped by JSON-LD (a null @value, an "
                "object with only @language, or a value standing alone in a graph)",
                code=ErrorCode.DATA_LOSS,
                path=path,
            )
        return result

    def _graph_to_rdf(self, graph: Any, issuer: Any, options: Any) -> Any:
        if self._safe:
            # What pyld's own loop skips without a word: subjects and predicates that are not
            # absolute IRIs (by pyld's test or vccore's stricter one), blank-node predicates.
            for subject, node in graph.items():
                if not (_is_node_id(subject) and jsonld._is_absolute_iri(subject)):
                    _relative(subject, "id", self._document)
                for predicate in node:
                    if predicate.startswith("@"):
                        continue
                    if not (is_iri(predicate) and jsonld._is_absolute_iri(predicate)):
                        _relative(predicate, "property", self._document)
        return super()._graph_to_rdf(graph, issuer, options)

    def _object_to_rdf(self, item: Any, issuer: Any, triples: Any, options: Any) -> Any:
        if isinstance(item, dict) and "@direction" in item and "@value" in item:
            directed = self._directed_to_rdf(item)
            if directed is not None:
                return directed
        result = super()._object_to_rdf(item, issuer, triples, options)
        if result is None:
            if self._safe:  # pyld returns None for an object IRI it thinks relative
                target = item.get("@id") if isinstance(item, dict) else item
                _relative(str(target), "id", self._document)
            return None
        if result.get("datatype") == _XSD_DOUBLE and isinstance(item, dict):
            value = item.get("@value")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                result["value"] = _double(value)
        return result

    def _directed_to_rdf(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """A value object with a base direction as JSON-LD 1.1 object to RDF step 13 (jsonld.js 9)
        writes it under i18n-datatype; refused in safe mode where the direction would be dropped
        (None outside safe mode: pyld drops it).
        """
        value, direction = item["@value"], item["@direction"]
        if self._rdf_direction == "i18n-datatype" and isinstance(value, str):
            language = item.get("@language") or ""
            return {"type": "literal", "value": value, "datatype": f"{_nquads.I18N}{language.lower()}_{direction}"}
        if self._safe:
            # No rdfDirection (the 2018 suites' rdf-canonize 1.x), or a number or boolean, which
            # JSON-LD writes as xsd:integer, xsd:double or xsd:boolean: the direction would be
            # shown but not signed (jsonld.js: "rdfDirection not set").
            path = _locate_value(self._document, direction)
            why = (
                "the RDF has no rdfDirection (as under the 2018 suites)"
                if self._rdf_direction is None
                else "its value is not text"
            )
            raise SafeModeError(
                f"base direction {direction!r}{_at(path)} would not be signed: {why}",
                code=ErrorCode.DATA_LOSS,
                path=path,
            )
        return None


def _double(value: float) -> str:
    """JavaScript's ``value.toExponential(15)``, trailing zeros trimmed: ``1.5E0``, ``1.0E21``."""
    number = float(value)
    if number == 0:
        return "0.0E0"
    exact = Decimal(abs(number))
    exponent = exact.adjusted()
    mantissa = exact.scaleb(-exponent).quantize(Decimal("1.000000000000000"), rounding=ROUND_HALF_UP)
    if mantissa >= 10:  # 9.9999999999999995 rounds up to 10.000...
        exponent += 1
        mantissa = exact.scaleb(-exponent).quantize(Decimal("1.000000000000000"), rounding=ROUND_HALF_UP)
    whole, fraction = str(mantissa).split(".")
    fraction = fraction.rstrip("0") or "0"
    sign = "-" if number < 0 else ""
    return f"{sign}{whole}.{fraction}E{exponent}"


def _term(term: dict[str, Any]) -> str:
    kind = term["type"]
    if kind == "IRI":
        return _nquads.iri(term["value"])
    if kind == "blank node":
        return str(term["value"])
    return _nquads.literal(term["value"], term.get("datatype") or _nquads.XSD_STRING, term.get("language"))


def is_iri(value: str) -> bool:
    """An absolute IRI that every implementation reads the same way: a scheme, then no space,
    control or other character that N-Quads forbids in an IRI (pyld and jsonld.js disagree on
    what counts as whitespace, and drop what they do not like without a word).
    """
    return _ABSOLUTE_IRI.fullmatch(value) is not None


iri_match: Final = _ABSOLUTE_IRI.fullmatch
""":func:`is_iri`'s test without the call around it (a match, or None), for generated code that
tests many IRIs per credential."""


def _is_node_id(value: str) -> bool:
    """An absolute IRI or a blank node identifier."""
    return _BLANK_NODE.fullmatch(value) is not None if value.startswith("_:") else is_iri(value)


def _from_jsonld_error(exc: jsonld.JsonLdError) -> VccoreError:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ContextError):
            return cause
        cause = cause.__cause__ or cause.__context__
    code = getattr(exc, "code", None) or getattr(exc, "type", "")
    details = getattr(exc, "details", None) or {}
    message = exc.args[0] if exc.args else str(exc)
    url = details.get("url") if isinstance(details, dict) else None
    if url and code in ("loading remote context failed", "loading document failed"):
        return ContextError(f"context {url} could not be loaded", code=ErrorCode.UNKNOWN_CONTEXT, url=url)
    return CanonicalizationError(
        f"invalid JSON-LD ({code}): {message}", code=ErrorCode.JSONLD_ERROR, jsonld_code=str(code)
    )


# --- safe mode -------------------------------------------------------------------------------


class _Tally:
    """The values each property of each node will hold once JSON-LD merges the node objects that
    share an id (pyld compares each new value with every one already there: quadratic in the
    values of one property). Counted on the expanded form, before pyld merges anything.
    """

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[Any, Any, str], int] = {}

    def add(self, graph: Any, node: Any, prop: str, values: int) -> None:
        key = (graph, node, prop)
        before = self.counts.get(key, 0)
        after = before + values
        if after > MAX_VALUES_PER_PROPERTY:
            shown = node if isinstance(node, str) else "a node"
            raise CanonicalizationError(
                f"{shown} has more than {MAX_VALUES_PER_PROPERTY} values of {prop} (node objects that share an "
                "id are merged); vccore takes at most that many",
                code=ErrorCode.INPUT_TOO_LARGE,
                property=prop,
                limit=MAX_VALUES_PER_PROPERTY,
            )
        self.counts[key] = after


def _node_key(node: dict[str, Any]) -> Any:
    """What identifies a node object's node across the document: its @id, or (no @id: a blank
    node of its own) the object itself.
    """
    node_id = node.get("@id")
    return node_id if isinstance(node_id, str) else id(node)


def _check_graph(nodes: list[Any], document: Any, safe: bool, tally: _Tally, graph: Any = "") -> list[Any]:
    """Walk expanded JSON-LD: fix JSON numbers, count the values of each node's properties, and
    in safe mode refuse what RDF would drop.

    ``nodes`` is a top-level or ``@graph`` array. JSON-LD drops the "free-floating" objects found
    there (empty, a bare value or list, only an ``@id``); pyld does so without a trace, so it is
    asked to keep them, and they are refused here (safe mode) or dropped as JSON-LD says.
    """
    kept = []
    for node in nodes:
        if isinstance(node, dict) and (not node or "@value" in node or "@list" in node or node.keys() == {"@id"}):
            if safe:
                what = "an object with only an id" if node.keys() == {"@id"} else "an empty object or a bare value"
                path = _locate_value(document, node["@id"]) if node.keys() == {"@id"} else None
                raise SafeModeError(
                    f"{what}{_at(path)} stands alone in a graph, where JSON-LD drops it; it would not be signed",
                    code=ErrorCode.DATA_LOSS,
                    path=path,
                )
            continue
        _check_node(node, document, safe, tally, graph)
        kept.append(node)
    return kept


def _check_node(node: Any, document: Any, safe: bool, tally: _Tally, graph: Any) -> None:
    if not isinstance(node, dict):
        return
    if safe and "@index" in node:
        # An index map's keys (and @index itself) stay in the expanded JSON but are not RDF: text
        # a reader of the JSON would see and that no signature covers.
        path = _locate_value(document, node["@index"])
        raise SafeModeError(
            f"index {node['@index']!r}{_at(path)} (an @index, or a key of an index map) is not part of what RDF "
            "signs; write it as a property",
            code=ErrorCode.DATA_LOSS,
            path=path,
        )
    if "@value" in node:
        _check_value(node, document, safe)
        return
    if "@list" in node:
        if node.keys() - {"@list", "@index"}:
            # pyld keeps (and then ignores) what JSON-LD says is a syntax error here
            raise CanonicalizationError(
                f"a list object may hold only @list and @index, not {', '.join(sorted(node.keys() - {'@list', '@index'}))}",
                code=ErrorCode.JSONLD_ERROR,
            )
        for item in node["@list"]:
            _check_node(item, document, safe, tally, graph)
        return
    key = _node_key(node)
    if safe:
        if "@id" in node:
            node_id = node["@id"]
            if not isinstance(node_id, str):  # pyld makes "@id": "@foo" None (jsonld.js: reserved @id value)
                raise SafeModeError("an @id that looks like a keyword would be dropped", code=ErrorCode.DATA_LOSS)
            if not _is_node_id(node_id):
                _relative(node_id, "id", document)
        for type_iri in node.get("@type", ()):
            if not isinstance(type_iri, str) or not _is_node_id(type_iri):
                _relative(str(type_iri), "type", document)
    if "@type" in node:
        tally.add(graph, key, "@type", len(node["@type"]))
    for name, values in list(node.items()):
        if name == "@graph":
            node[name] = _check_graph(values, document, safe, tally, key)
        elif name == "@included":
            for item in values:
                _check_node(item, document, safe, tally, graph)
        elif name == "@reverse":
            for reverse_key, reverse_values in values.items():
                if safe and not is_iri(reverse_key):
                    _relative(reverse_key, "property", document)
                for item in reverse_values:
                    if isinstance(item, dict):  # the reverse property holds this node on the item
                        tally.add(graph, _node_key(item), reverse_key, 1)
                    _check_node(item, document, safe, tally, graph)
        elif not name.startswith("@"):
            if safe and not is_iri(name):
                if name.startswith("_:"):
                    raise SafeModeError(
                        f"property {name!r} is a blank node, which RDF does not allow as a predicate",
                        code=ErrorCode.DATA_LOSS,
                        path=_locate_key(document, name),
                        term=name,
                    )
                _relative(name, "property", document)
            tally.add(graph, key, name, len(values))
            for item in values:
                _check_node(item, document, safe, tally, graph)


def _check_value(value: dict[str, Any], document: Any, safe: bool) -> None:
    raw = value["@value"]
    # JSON-LD 1.1 section 8.6: a number with no fractional part, below 1e21, is an xsd:integer,
    # whatever the JSON parser made of it.
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e21 and value.get("@type") != _XSD_DOUBLE:
        value["@value"] = int(raw)
    if not safe:
        return
    language = value.get("@language")
    if isinstance(language, str) and not _LANGUAGE_TAG.match(language):
        path = _locate_value(document, language)
        raise SafeModeError(
            f"language tag {language!r}{_at(path)} is not well-formed BCP 47",
            code=ErrorCode.DATA_LOSS,
            path=path,
        )
    if "@type" in value:
        datatype = value["@type"]
        if not isinstance(datatype, str):  # "@type": "@foo" expands to None in pyld
            raise SafeModeError("a value's @type that looks like a keyword would be dropped", code=ErrorCode.DATA_LOSS)
        if datatype != "@json" and not is_iri(datatype):
            _relative(datatype, "datatype", document)


# JSON-LD 1.1 keywords; any other "@" + letters is reserved and ignored (with a warning) by pyld.
_KEYWORDS: Final = frozenset(
    [
        "@base",
        "@container",
        "@context",
        "@direction",
        "@graph",
        "@id",
        "@import",
        "@included",
        "@index",
        "@json",
        "@language",
        "@list",
        "@nest",
        "@none",
        "@prefix",
        "@propagate",
        "@protected",
        "@reverse",
        "@set",
        "@type",
        "@value",
        "@version",
        "@vocab",
        "@default",
        "@embed",
        "@explicit",
        "@omitDefault",
        "@requireAll",
        "@null",
        "@any",
    ]
)
_KEYWORD_LIKE: Final = re.compile(r"@[A-Za-z]+")
# Keys whose values JSON-LD reads as IRIs: the keywords and the aliases every VC context uses.
_ID_AND_TYPE_KEYS: Final = frozenset({"@id", "@type", "id", "type"})
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# pyld's node map compares every value of a property with every other one (quadratic): these
# bounds keep the worst document near a quarter of a second here (10,000 values, 150 properties
# of 64 values: 0.25 s to quads). MAX_VALUES_PER_PROPERTY bounds a property after the node
# objects that share an id are merged (64 subjects with one id and 64 values each made 4,096
# values of one property: 8 s for two such properties).
MAX_JSON_VALUES: Final = 10_000
MAX_ARRAY_LENGTH: Final = 64
MAX_VALUES_PER_PROPERTY: Final = 64
# JavaScript reads JSON integers as doubles: beyond 2**53 jsonld.js would sign another number.
_SAFE_INTEGER: Final = 2**53


def _check_json(document: Any, safe: bool) -> int:
    """One pass over the JSON before pyld sees it (iterative, any depth); the number of values.

    Always: strings are Unicode scalar values, numbers are finite. Safe mode: integers are exact
    in JavaScript too, and inline contexts define no reserved terms or keyword-like IRIs, no
    invalid default language and no base direction (all of which JSON-LD ignores silently; a
    context's default direction reaches no RDF in pyld 3.3 or jsonld.js 9, even under
    i18n-datatype: only a value object's ``@direction`` is signed).
    """
    stack: list[tuple[str, Any, bool]] = [("", document, False)]
    count = 0
    while stack:
        path, value, in_context = stack.pop()
        count += 1
        if count > MAX_JSON_VALUES:
            raise CanonicalizationError(
                f"the document holds more than {MAX_JSON_VALUES} JSON values",
                code=ErrorCode.INPUT_TOO_LARGE,
                limit=MAX_JSON_VALUES,
            )
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise CanonicalizationError(
                    f"{path or 'a string'}: holds a lone UTF-16 surrogate", code=ErrorCode.INVALID_JSON, path=path
                )
            if safe and in_context and _KEYWORD_LIKE.fullmatch(value) and value not in _KEYWORDS:
                raise SafeModeError(
                    f"{path}: {value!r} is a reserved keyword form, which JSON-LD ignores",
                    code=ErrorCode.DATA_LOSS,
                    path=path,
                )
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if safe and abs(value) >= _SAFE_INTEGER:
                raise SafeModeError(
                    f"{path}: the integer {value} is beyond 2**53, where JavaScript implementations read another number",
                    code=ErrorCode.DATA_LOSS,
                    path=path,
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise CanonicalizationError(
                    f"{path}: {value} is not a JSON number", code=ErrorCode.INVALID_JSON, path=path
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or _SURROGATE.search(key):
                    raise CanonicalizationError(
                        f"{path}: an object key is not a valid string", code=ErrorCode.INVALID_JSON, path=path
                    )
                here = f"{path}.{key}" if path else key
                if safe and not in_context and key in _ID_AND_TYPE_KEYS:
                    for name in one_or_many(item):
                        if isinstance(name, str) and _KEYWORD_LIKE.fullmatch(name) and name not in _KEYWORDS:
                            # pyld drops such an id or type (a value's @type, without a trace)
                            raise SafeModeError(
                                f"{here}: {name!r} is a reserved keyword form, which JSON-LD ignores",
                                code=ErrorCode.DATA_LOSS,
                                path=here,
                            )
                if safe and in_context:
                    if _KEYWORD_LIKE.fullmatch(key) and key not in _KEYWORDS:
                        raise SafeModeError(
                            f"{here}: {key!r} is a reserved term form, which JSON-LD ignores",
                            code=ErrorCode.DATA_LOSS,
                            path=here,
                        )
                    if (
                        key == "@language"
                        and item is not None
                        and not (isinstance(item, str) and _LANGUAGE_TAG.match(item))
                    ):
                        raise SafeModeError(
                            f"{here}: {item!r} is not a well-formed language tag", code=ErrorCode.DATA_LOSS, path=here
                        )
                    if key == "@direction":
                        raise SafeModeError(
                            f"{here}: a context's base direction is not part of what is signed; give the "
                            'direction in each value object ({"@value": ..., "@direction": "rtl"})',
                            code=ErrorCode.DATA_LOSS,
                            path=here,
                        )
                stack.append((here, item, in_context or key == "@context"))
        elif isinstance(value, (list, tuple)):
            if len(value) > MAX_ARRAY_LENGTH and not in_context:
                raise CanonicalizationError(
                    f"{path}: an array of {len(value)} values; vccore takes at most {MAX_ARRAY_LENGTH}",
                    code=ErrorCode.INPUT_TOO_LARGE,
                    path=path,
                    limit=MAX_ARRAY_LENGTH,
                )
            for index, item in enumerate(value):
                stack.append((f"{path}[{index}]", item, in_context))
        else:
            raise CanonicalizationError(
                f"{path}: {type(value).__name__} is not a JSON value", code=ErrorCode.INVALID_JSON, path=path
            )
    return count


_XSD_DOUBLE: Final = "http://www.w3.org/2001/XMLSchema#double"


def _relative(iri: str, what: str, document: Any) -> None:
    path = _locate_value(document, iri)
    raise SafeModeError(
        f"{what} {iri!r}{_at(path)} is not an absolute IRI and no context maps it to one, so it "
        "would be dropped from what is signed",
        code=ErrorCode.RELATIVE_IRI,
        iri=iri,
        path=path,
    )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _at(path: str | None) -> str:
    return f" (at {path})" if path else ""


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """Every (path, key, value) in a JSON document, depth first, without recursion."""
    stack: list[tuple[str, Any, Any]] = [(path, None, value)]
    while stack:
        here, key, item = stack.pop()
        yield here, key, item
        if isinstance(item, dict):
            for k, v in reversed(list(item.items())):
                if k != "@context":
                    stack.append((f"{here}.{k}" if here else k, k, v))
        elif isinstance(item, list):
            stack.extend((f"{here}[{i}]", None, item[i]) for i in range(len(item) - 1, -1, -1))


def _locate_key(document: Any, term: str) -> str | None:
    for path, key, _ in _walk(document, ""):
        if key == term:
            return path
    return None


def _locate_value(document: Any, value: str) -> str | None:
    for path, _, item in _walk(document, ""):
        if item == value:
            return path
    return None

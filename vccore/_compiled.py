"""Compiled canonicalization: the RDF of a known credential shape, worked out once.

Credentials of one entity type differ only in the values that fill their slots. So the JSON-LD
work (contexts, expansion, the RDF) is done once per shape, on a probe whose every slot holds a
unique token; what is kept is where each token landed in the quads. For a real credential the
values go into those quads, and only RDFC-1.0 (for the blank nodes' labels) runs per credential.

The reference path (pyld + safe mode, :mod:`vccore.canon`) stays the authority:

- :meth:`CompiledShape.compile` returns None for a shape it cannot vouch for (ordered lists,
  ``rdf:JSON`` or ``xsd:double`` slots, which JSON-LD would rewrite);
- :meth:`CompiledShape.canonical` returns None, sending the caller to the reference path, for a
  value it cannot vouch for: a value that is not a string, a slot read as an IRI whose value is
  not a plain absolute IRI, or absent fields that would leave an object empty;
- differential tests (``tests/test_compiled.py``) compare both paths byte for byte.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _escape
from typing import Any, Final, cast

from . import _datetime, _nquads, _rdfc10
from ._cache import Cache
from ._json import compact
from .canon import RdfDirection, iri_match, to_quads
from .contexts import ContextLoader
from .entities import EntityType
from .status import add_lifecycle
from .suites import Suite
from .suites._base import transform_rdfc

__all__ = ["CompiledCredentials", "CompiledShape", "slot_token"]

# A token that JSON-LD passes through untouched as a literal and as an IRI, and that no real
# value contains (private-use characters around a number).
_TOKEN: Final = re.compile("urn:vccore-slot:\ue000([0-9]+)\ue001")
_DATATYPES_REWRITTEN: Final = (
    "<http://www.w3.org/2001/XMLSchema#double>",
    "<http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON>",
)
_RDF_FIRST: Final = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#first>"
_HIERARCHICAL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def slot_token(number: int) -> str:
    """The probe token for slot ``number``."""
    return f"urn:vccore-slot:\ue000{number}\ue001"


@dataclass(frozen=True, slots=True)
class _Term:
    """A quad term that holds slot tokens: the text around them, and the slots, in order."""

    pieces: tuple[str, ...]  # constant text; len(pieces) == len(slots) + 1
    slots: tuple[str, ...]
    iri: bool


Quad = tuple[str | _Term, str | _Term, str | _Term, str | _Term]


@dataclass(frozen=True, slots=True)
class CompiledShape:
    """The quads of one credential shape, with the slots its values fill."""

    constant: tuple[_nquads.Quad, ...]  # quads without slots
    slotted: tuple[tuple[tuple[str, ...], Quad], ...]  # (slots the quad needs present, quad)
    emptiable: tuple[frozenset[str], ...]  # groups of slots that, all absent, empty an object
    slots: frozenset[str]
    # The slotted quads as straight-line Python (see _generate): what quads_for runs.
    _emit: Callable[[Mapping[str, str]], list[_nquads.Quad] | None] = field(repr=False, compare=False)
    # RDFC-1.0 for the shape as straight-line Python (see _generate_canonical), if it has one.
    _canon: Callable[[Mapping[str, str]], Any] | None = field(repr=False, compare=False)
    # the two at once, for a verifier (_generate_canonical with_quads), when the shape has _canon
    _read: Callable[[Mapping[str, str]], Any] | None = field(repr=False, compare=False)

    @classmethod
    def compile(
        cls,
        probe: Mapping[str, Any],
        tokens: Mapping[int, str],
        *,
        contexts: ContextLoader,
        emptiable: Iterable[frozenset[str]] = (),
        rdf_direction: RdfDirection = "i18n-datatype",
    ) -> CompiledShape | None:
        """Compile a probe credential whose slot values are :func:`slot_token` tokens.

        ``tokens`` maps token numbers to slot names; ``rdf_direction`` as the reference path the
        shape stands in for reads base direction (a value object's direction is in its datatype,
        constant for the shape, so a slot holds only the text). Returns None for a shape that
        the compiled form cannot reproduce exactly.
        """
        constant: list[_nquads.Quad] = []
        slotted: list[tuple[tuple[str, ...], Quad]] = []
        naming: set[str] = set()  # slots in a subject or graph: they name a node
        for quad in to_quads(dict(probe), contexts=contexts, safe=True, rdf_direction=rdf_direction):
            if quad[1] == _RDF_FIRST:
                return None  # ordered lists: an absent item would renumber the list
            terms: list[str | _Term] = []
            used: set[str] = set()
            for term in quad:
                numbers = _TOKEN.findall(term)
                if term.count("\ue000") != len(numbers):
                    # A token that JSON-LD rewrote (a context's term "urn" makes it a compact
                    # IRI): the value would not land where the token did, and the rewritten
                    # text would be signed in its place, whatever the value.
                    return None
                if not numbers:
                    terms.append(term)
                    continue
                if term.startswith('"') and term.endswith(_DATATYPES_REWRITTEN):
                    return None
                if term.startswith("_:") or any(int(n) not in tokens for n in numbers):
                    return None
                slots = tuple(tokens[int(n)] for n in numbers)
                terms.append(_Term(tuple(_TOKEN.split(term)[::2]), slots, term.startswith("<")))
                used.update(slots)
                if term is quad[0] or term is quad[3]:
                    naming.update(slots)
            if used:
                slotted.append((tuple(sorted(used)), (terms[0], terms[1], terms[2], terms[3])))
            else:
                constant.append(quad)
        # Absent, a slot that names a node would not drop that node's statements: JSON-LD would
        # give them a blank node instead. Such an absence is the reference path's to handle.
        groups = (*emptiable, *(frozenset({slot}) for slot in sorted(naming)))
        return cls(
            tuple(constant),
            tuple(slotted),
            tuple(groups),
            frozenset(tokens.values()),
            _generate(constant, slotted),
            canon := _generate_canonical(constant, slotted),
            _generate_canonical(constant, slotted, with_quads=True) if canon is not None else None,
        )

    def quads_for(self, values: Mapping[str, Any]) -> list[_nquads.Quad] | None:
        """The RDF quads for slot ``values`` (a missing or None value: the slot is absent), or
        None when only the reference path can say.
        """
        present = self._present(values)
        return None if present is None else self._emit(present)

    def canonical(self, values: Mapping[str, Any]) -> str | None:
        """The canonical N-Quads (RDFC-1.0) for slot ``values``, or None (use the reference path)."""
        present = self._present(values)
        return None if present is None else self._canonical(present)

    def transform(self, values: Mapping[str, Any], *, present: bool = False) -> tuple[list[_nquads.Quad], str] | None:
        """The quads (what a verifier reads, see :mod:`vccore._signed`) and the canonical N-Quads
        for slot ``values``, or None (use the reference path). ``present``: the values are the
        slots present, as :meth:`_present` gives them (not worked out again).
        """
        read = self.read_present(cast("dict[str, str]", values)) if present else self.read(values)
        if read is None:
            return None
        quads, canonical = read
        return quads, canonical if canonical is not None else "".join(_rdfc10.canonicalize(quads)[0])

    def read(self, values: Mapping[str, Any]) -> tuple[list[_nquads.Quad], str | None] | None:
        """:meth:`transform` for a caller that runs the general RDFC-1.0 under its own bounds:
        the canonical form is None when this shape's straight-line labelling ties (or it has
        none), never worked out by the general algorithm here.
        """
        present = self._present(values)
        return None if present is None else self.read_present(present)

    def read_present(self, present: dict[str, str]) -> tuple[list[_nquads.Quad], str | None] | None:
        """:meth:`read` of slots known present (what :meth:`_present` returned, or
        :meth:`CompiledCredentials.render` gave with its credential).
        """
        if self._read is not None:
            found = self._read(present)
            if found is None:
                return None  # a value only the reference path may judge
            quads, canonical = found
            return quads, canonical if isinstance(canonical, str) else None
        quads = self._emit(present)  # a shape without its own RDFC-1.0 (no _canon, so no _read)
        return None if quads is None else (quads, None)

    def _canonical(self, present: dict[str, str]) -> str | None:
        if self._canon is not None:
            canonical = self._canon(present)
            if canonical is not TIED:
                return cast("str | None", canonical)
        quads = self._emit(present)
        if quads is None:
            return None
        return "".join(_rdfc10.canonicalize(quads)[0])

    def _present(self, values: Mapping[str, Any]) -> dict[str, str] | None:
        """The slots present in ``values``, or None when a value or an absence is the reference
        path's to judge.
        """
        present: dict[str, str] = {}
        for slot in self.slots:
            value = values.get(slot)
            if value is None:
                continue
            if type(value) is not str:
                return None
            present[slot] = value
        if self.emptiable:
            absent = self.slots - present.keys()
            if any(group <= absent for group in self.emptiable):
                return None
        return present


class _Code(str):
    """A Python expression in generated source (a plain ``str`` there is constant text)."""

    __slots__ = ()


class _Source:
    """Python source for a shape's quads. The source holds only indexes into the lists it keeps
    (``K`` constant texts, ``S`` slot names), never a value or a name from a template, so nothing
    in a template can change the code it becomes.
    """

    def __init__(self) -> None:
        self.texts: list[object] = []
        self.names: list[str] = []
        self.lines: list[str] = []

    def text(self, value: str) -> _Code:
        return self.constant(value)

    def constant(self, value: object) -> _Code:
        """An immutable constant (a text, a number, true, false or null) as ``K[i]``."""
        self.texts.append(value)
        return _Code(f"K[{len(self.texts) - 1}]")

    def slot(self, slot: str) -> str:
        if slot not in self.names:
            self.names.append(slot)
        return f"S[{self.names.index(slot)}]"

    def condition(self, needs: tuple[str, ...]) -> str:
        return "if " + " and ".join(f"{self.slot(n)} in v" for n in needs) + ":"

    def terms(self, quad: Quad, prefix: str, known: dict[_Term, _Code] | None = None) -> list[str]:
        """A slotted quad's four terms: constant text, or a :class:`_Code` variable
        ``{prefix}{position}`` set by lines added here (which return None for an IRI that only
        the reference path may judge). ``known``: terms already in variables, and where to
        note the new ones.
        """
        out: list[str] = []
        for position, term in enumerate(quad):
            if isinstance(term, str):
                out.append(term)
                continue
            if known is not None and term in known:
                out.append(known[term])
                continue
            parts: list[str] = [term.pieces[0]]
            for slot, piece in zip(term.slots, term.pieces[1:], strict=True):
                value = f"v[{self.slot(slot)}]"
                parts += [_Code(value if term.iri else f"esc({value})"), piece]
            variable = _Code(f"{prefix}{position}")
            self.lines.append(f"        {variable} = {self.join(parts)}")
            if term.iri:
                if term.pieces[0] == "<":
                    self.lines.append(f"        if not hier(v[{self.slot(term.slots[0])}]): return None")
                self.lines.append(f"        if not is_iri({variable}[1:-1]): return None")
            out.append(variable)
            if known is not None:
                known[term] = variable
        return out

    def join(self, parts: list[str]) -> str:
        """An f-string expression for texts and expressions in a row."""
        merged: list[str] = []
        for part in parts:
            if not isinstance(part, _Code) and merged and not isinstance(merged[-1], _Code):
                merged[-1] += part
            elif part or isinstance(part, _Code):
                merged.append(part)
        return (
            'f"' + "".join("{" + (part if isinstance(part, _Code) else self.text(part)) + "}" for part in merged) + '"'
        )

    def line(self, terms: list[str]) -> str:
        """An f-string expression for the N-Quads line of four terms (the last "" when the quad
        is in the default graph).
        """
        parts = [terms[0], " ", terms[1], " ", terms[2]]
        if terms[3]:
            parts += [" ", terms[3]]
        return self.join([*parts, " .\n"])

    def function(self, name: str, **extra: Any) -> Callable[..., Any]:
        namespace: dict[str, Any] = {
            "K": self.texts,
            "S": self.names,
            "esc": _nquads.escape_literal,
            "is_iri": iri_match,  # is_iri's test, one call fewer
            "hier": _HIERARCHICAL.match,
            **extra,
        }
        exec(compile("\n".join(self.lines), f"<vccore._compiled.{name}>", "exec"), namespace)  # noqa: S102 - indexes only
        function: Callable[..., Any] = namespace[name]
        return function


def _generate(
    constant: list[_nquads.Quad], slotted: list[tuple[tuple[str, ...], Quad]]
) -> Callable[[Mapping[str, str]], list[_nquads.Quad] | None]:
    """Straight-line code for the slotted quads: one ``if`` per quad, one expression per term.

    Interpreting the quad structure for every credential costs more than all the rest of the
    canonicalization; generated code does the same work about ten times faster.
    """
    source = _Source()
    source.lines += ["def emit(v):", "    out = list(C)"]
    for needs, quad in slotted:
        source.lines.append("    " + source.condition(needs))
        terms = [t if isinstance(t, _Code) else source.text(t) for t in source.terms(quad, "t")]
        source.lines.append(f"        out.append(({', '.join(terms)}))")
    source.lines.append("    return out")
    emit: Callable[[Mapping[str, str]], list[_nquads.Quad] | None] = source.function("emit", C=tuple(constant))
    return emit


TIED: Final = object()
"""What a generated canonicalizer returns when two blank nodes hash alike: only the general
RDFC-1.0 (Hash N-Degree Quads) can tell them apart."""


def _blank_nodes(quad: Quad) -> list[str]:
    nodes: list[str] = []
    for term in (quad[0], quad[2], quad[3]):
        if isinstance(term, str) and term.startswith("_:") and term not in nodes:
            nodes.append(term)
    return nodes


def _may_equal(one: str | _Term, other: str | _Term) -> bool:
    """Whether two quad terms may be the same text for some slot values (True when unsure).

    A slot holds one value wherever it is placed, so two terms that begin with the same texts
    and slots, then differ at the same offset, are never equal.
    """
    if isinstance(one, str) and isinstance(other, str):
        return one == other
    if isinstance(one, str):
        one, other = other, one
    assert isinstance(one, _Term)
    if isinstance(other, str):
        return other.startswith(one.pieces[0]) and other.endswith(one.pieces[-1])
    last, other_last = one.pieces[-1], other.pieces[-1]
    if not (last.endswith(other_last) or other_last.endswith(last)):
        return False
    for index, (a, b) in enumerate(zip(one.pieces, other.pieces, strict=False)):  # the common prefix
        if not (a.startswith(b) or b.startswith(a)):
            return False
        if a != b or index >= min(len(one.slots), len(other.slots)) or one.slots[index] != other.slots[index]:
            return True
    return True


def _generate_canonical(
    constant: list[_nquads.Quad], slotted: list[tuple[tuple[str, ...], Quad]], *, with_quads: bool = False
) -> Callable[[Mapping[str, str]], Any] | None:
    """RDFC-1.0 for one shape as straight-line code. The function returns the canonical N-Quads,
    None (the reference path decides, as for :func:`_generate`), or :data:`TIED`.

    A slot never names a blank node, so which quads mention which blank node is known here, and
    each node's first-degree lines (section 4.6: the node itself ``_:a``, any other ``_:z``) are
    written out once as expressions. Per credential the code builds those lines and hashes them;
    when the hashes all differ, section 4.4.3 step 4 labels every node in hash order and step 5
    has nothing left to do, so the code labels the nodes and sorts the lines. A tie returns
    TIED, for the caller to run the general algorithm.

    None (no such code) when two quads of the shape could ever be the same quad: RDF keeps one,
    and the general algorithm sees to it.

    ``with_quads``: the function (``emit_canon``) returns the quads too, as :func:`_generate`'s code
    makes them and in its order, with what ``canon`` returns: ``(quads, canonical or TIED)``, or
    None. A verifier wants both, and the terms are worked out once for the two.
    """
    templates: list[Quad] = [*constant, *(quad for _, quad in slotted)]
    for i, one in enumerate(templates):
        for other in templates[i + 1 :]:
            if all(_may_equal(a, b) for a, b in zip(one, other, strict=True)):
                return None
    nodes: list[str] = []
    for quad in templates:
        nodes += [n for n in _blank_nodes(quad) if n not in nodes]
    labels = {node: _Code(f"L{i}") for i, node in enumerate(nodes)}
    source = _Source()
    first: dict[str, list[str]] = {n: [] for n in nodes}  # from constant quads: the same every time
    plain: list[str] = []  # constant quads without blank nodes: their final lines
    late: list[str] = []  # lines that wait for the labels
    for quad in constant:
        for node in _blank_nodes(quad):
            first[node].append(_nquads.serialize(tuple(_first_degree(t, node) for t in quad)))  # type: ignore[arg-type]
        if _blank_nodes(quad):
            late.append(f"    out.append({source.line([labels.get(t, t) for t in quad])})")
        else:
            plain.append(_nquads.serialize(quad))
    name = "emit_canon" if with_quads else "canon"
    source.lines += [f"def {name}(v):", *(f"    a{i} = list(F[{i}])" for i in range(len(nodes))), "    out = list(P)"]
    if with_quads:
        source.lines.append(f"    Q = [None] * {len(slotted)}")
    # One block per set of slots needed, each term worked out once in its block (the status
    # entries' IRIs recur in many quads); the lines are sorted at the end, so order is free.
    blocks: dict[tuple[str, ...], list[tuple[int, Quad]]] = {}
    for j, (needs, quad) in enumerate(slotted):
        blocks.setdefault(needs, []).append((j, quad))
    for needs, quads in blocks.items():
        source.lines += [f"    q{j} = False" for j, quad in quads if _blank_nodes(quad)]
        source.lines.append("    " + source.condition(needs))
        known: dict[_Term, _Code] = {}
        for j, quad in quads:
            here = _blank_nodes(quad)
            terms = source.terms(quad, f"q{j}_", known)
            if with_quads:  # the quad as _generate writes it (its own blank node labels), in its place
                written = [t if isinstance(t, _Code) else source.text(t) for t in terms]
                source.lines.append(f"        Q[{j}] = ({', '.join(written)})")
            for node in here:
                line = source.line([t if isinstance(t, _Code) else _first_degree(t, node) for t in terms])
                source.lines.append(f"        a{nodes.index(node)}.append({line})")
            if here:
                source.lines.append(f"        q{j} = True")
                late.append(
                    f"    if q{j}: out.append({source.line([t if isinstance(t, _Code) else labels.get(t, t) for t in terms])})"
                )
            else:
                source.lines.append(f"        out.append({source.line(terms)})")
    lists = "".join(f"a{i}, " for i in range(len(nodes)))
    if with_quads:
        source.lines.append("    quads = [*C, *(q for q in Q if q is not None)]")
    tied, done = ("quads, TIED", "quads, ''.join(out)") if with_quads else ("TIED", "''.join(out)")
    source.lines += [
        f"    order = sorted([(H(''.join(sorted(a)).encode()).hexdigest(), n) for n, a in enumerate(({lists})) if a])",
        "    for i in range(1, len(order)):",
        f"        if order[i][0] == order[i - 1][0]: return {tied}",
        f"    names = [''] * {len(nodes)}",
        "    for i, (_, n) in enumerate(order): names[n] = C14N[i]",
        # (a shape without blank nodes has no labels to set)
        *([f"    {''.join(f'L{i}, ' for i in range(len(nodes)))}= names"] if nodes else []),
        *late,
        "    out.sort()",
        f"    return {done}",
    ]
    canon: Callable[[Mapping[str, str]], Any] = source.function(
        name,
        C=tuple(constant),
        F=[tuple(first[n]) for n in nodes],
        P=tuple(plain),
        H=hashlib.sha256,
        TIED=TIED,
        C14N=[f"_:c14n{i}" for i in range(len(nodes))],
    )
    return canon


def _first_degree(term: str, node: str) -> str:
    """A constant term as Hash First Degree Quads writes it for ``node``."""
    if term.startswith("_:"):
        return "_:a" if term == node else "_:z"
    return term


def _generate_render(
    probe: Mapping[str, Any], tokens: Mapping[int, str]
) -> Callable[[Mapping[str, str]], dict[str, Any]]:
    """Straight-line code that builds the probe's JSON with the slots' values in place of its
    tokens, as :meth:`EntityType.fill` and :func:`add_lifecycle` would: an absent slot's member
    or item is left out. Given the slots present (:meth:`CompiledShape._present`, so no object
    is left empty), the result is the document whose canonical form the compiled shape gives.
    Slots inside a text (a status entry's id) must all be present: the code returns None when one
    is not.
    """
    source = _Source()
    inside: set[str] = set()
    count = 0

    def slot_of(value: Any) -> str | None:
        token = _TOKEN.fullmatch(value) if isinstance(value, str) else None
        return tokens[int(token[1])] if token else None

    def expression(value: Any, indent: str) -> str:
        """An expression for ``value``; lines for the optional parts go before it."""
        nonlocal count
        if isinstance(value, str):
            numbers = _TOKEN.findall(value)
            if not numbers:
                return source.text(value)
            if slot_of(value) is not None:
                return f"v[{source.slot(str(slot_of(value)))}]"
            parts: list[str] = []
            for i, piece in enumerate(_TOKEN.split(value)):
                if i % 2:
                    inside.add(tokens[int(piece)])
                    parts.append(_Code(f"v[{source.slot(tokens[int(piece)])}]"))
                else:
                    parts.append(piece)
            return source.join(parts)
        if isinstance(value, dict):
            count += 1
            name = f"d{count}"
            members = [(source.text(k), item) for k, item in value.items()]
            source.lines.append(f"{indent}{name} = {{}}")
            for key, item in members:
                slot = slot_of(item)
                if slot is not None:
                    source.lines.append(f"{indent}if {source.slot(slot)} in v: {name}[{key}] = v[{source.slot(slot)}]")
                else:
                    source.lines.append(f"{indent}{name}[{key}] = {expression(item, indent)}")
            return name
        if isinstance(value, list):
            count += 1
            name = f"l{count}"
            source.lines.append(f"{indent}{name} = []")
            for item in value:
                slot = slot_of(item)
                if slot is not None:
                    source.lines.append(f"{indent}if {source.slot(slot)} in v: {name}.append(v[{source.slot(slot)}])")
                else:
                    source.lines.append(f"{indent}{name}.append({expression(item, indent)})")
            return name
        return source.constant(value)  # a number, true, false or null: immutable

    body_start = len(source.lines)
    result = expression(dict(probe), "    ")
    body = source.lines[body_start:]
    needed = " and ".join(f"{source.slot(n)} in v" for n in sorted(inside)) or "True"
    source.lines[body_start:] = ["def render(v):", f"    if not ({needed}): return None", *body, f"    return {result}"]
    render: Callable[[Mapping[str, str]], dict[str, Any]] = source.function("render")
    return render


# --- credentials of an entity type, as an issuer makes them --------------------------------------


_SLOTS_AROUND: Final = ("$now", "$list", "$index", "$replaces")
_ABSENT_SLOTS: Final = "\ue000absent"


@dataclass(frozen=True, slots=True)
class CompiledCredentials:
    """The compiled transformations of one issuer's credentials of one entity type (one VC
    version, certified or updated, one RDF suite and key): the document and the proof
    configuration. Used to sign (:class:`vccore.issuer.Issuer`) and to verify
    (:class:`vccore.verify.Verifier`, which reads the slot values back out of a credential).
    """

    document: CompiledShape
    proof: CompiledShape
    probe: Mapping[str, Any]
    tokens: Mapping[int, str]
    proof_constants: Mapping[str, Any]
    placed: frozenset[str]
    """The slots the template places (a default such as $now may fill a field, not a slot)."""
    reader: Reader = field(compare=False, repr=False)
    _render: Callable[[Mapping[str, str]], dict[str, Any] | None] = field(compare=False, repr=False)
    # created -> canonical proof configuration; a batch signs many credentials in one second
    _proofs: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    # the slots present -> the rendered credential's JSON text around them (see json_text; None:
    # this set's text cannot be worked out)
    _texts: Cache[frozenset[str], _JsonText | None] = field(
        default_factory=lambda: Cache(256), compare=False, repr=False
    )

    @classmethod
    def build(
        cls,
        entity_type: EntityType,
        version: str,
        updating: bool,
        *,
        issuer: str,
        status_base: str,
        suite: Suite,
        verification_method: str,
        contexts: ContextLoader | None = None,
        reading: bool = False,
    ) -> CompiledCredentials | None:
        """Compile, or None when the suite or the shape has nothing to compile. ``reading``: for
        a verifier, which reads the quads of a JCS-signed credential too (what its JSON means);
        an issuer signing with JCS has nothing to compile (JCS signs the JSON itself), and
        :meth:`transform` gives RDFC-1.0 forms only.
        """
        if (suite.transform is not transform_rdfc and not reading) or version not in entity_type.templates:
            return None
        tokens = dict(enumerate([f.name for f in entity_type.fields] + list(_SLOTS_AROUND)))
        # The issuer is fixed for an issuer: part of the shape, not a slot.
        values = {"$issuer": issuer, **{name: slot_token(number) for number, name in tokens.items()}}
        probe = entity_type.fill(values, vc_version=version)
        add_lifecycle(
            probe, version, status_base, values["$list"], values["$index"], values["$replaces"] if updating else None
        )
        if not suite.terms_defined_by(probe["@context"]):
            probe["@context"] = [*probe["@context"], suite.context]
        loader = entity_type.context_loader(contexts)
        document = CompiledShape.compile(
            probe, tokens, contexts=loader, emptiable=entity_type.emptiable_groups(version)
        )
        constants: dict[str, Any] = {
            "type": suite.proof_type,
            "verificationMethod": verification_method,
            "proofPurpose": "assertionMethod",
        }
        if suite.cryptosuite is not None:
            constants["cryptosuite"] = suite.cryptosuite
        proof_context = suite.proof_context if suite.proof_context is not None else probe["@context"]
        proof = CompiledShape.compile(
            {**constants, "created": slot_token(0), "@context": proof_context}, {0: "created"}, contexts=loader
        )
        if document is None or proof is None:
            return None
        reader = _reader(probe, tokens)
        placed: dict[str, Any] = {}
        reader(probe, placed)
        return cls(
            document, proof, probe, tokens, constants, frozenset(placed), reader, _generate_render(probe, tokens)
        )

    @property
    def context(self) -> list[Any]:
        """The signed document's ``@context``."""
        return list(self.probe["@context"])

    def transform(
        self, document: Mapping[str, Any], proof: Mapping[str, Any], slots: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        """(canonical document, canonical proof configuration), or None: the reference path."""
        if document.get("@context") != self.probe["@context"]:
            return None
        # The document must be exactly the probe's shape filled with these values: then the
        # compiled form is its canonical form (and a stale or mismatched shape is caught here).
        read = self.slots_of(document)
        if read is None or any(read.get(slot) != slots.get(slot) for slot in self.placed):
            return None
        present = self.document._present(slots)
        return None if present is None else self.transform_present(proof, present)

    def render(self, slots: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The unsigned credential for slot values, built straight from the compiled shape (what
        ``fill`` and :func:`add_lifecycle` make, without reading the template again), and the
        slots present in it (for :meth:`transform_present`); None when the values are the
        reference path's to judge.
        """
        present = self.document._present(slots)
        if present is None or any(slots.get(slot, "") is None for slot in self.placed):
            return None
        credential = self._render(present)
        return None if credential is None else (credential, present)

    def render_present(self, present: dict[str, str]) -> dict[str, Any] | None:
        """:meth:`render` of slots known to be what it would find present (every value a text,
        and a set of slots present that it has rendered before): its credential only.
        """
        return self._render(present)

    def json_text(self, present: dict[str, str]) -> str | None:
        """The compact JSON of what :meth:`render` makes of the slots ``present``, as
        :func:`vccore._json.compact` writes it (what a store and a batch write), without walking
        the credential: the text around the slots is
        worked out once per set of slots present. None when this shape's text cannot be (then
        the caller dumps the credential).
        """
        text = self.text_layout(present)
        return None if text is None else text.fill(present)

    def text_layout(self, present: Mapping[str, str]) -> _JsonText | None:
        """The constant texts of :meth:`json_text` for this set of slots present, and the slot
        between each two (None: this set's text cannot be worked out). A verifier reads a
        credential's slots back out of its text with them (vccore.verify._shapes).
        """
        return self._texts.get_or_make(frozenset(present), lambda: _JsonText.build(self._render, present))

    def transform_present(self, proof: Mapping[str, Any], present: dict[str, str]) -> tuple[str, str] | None:
        """:meth:`transform` for a document known to be this shape with the slots ``present``
        (what :meth:`render` made, or what :meth:`transform` read back).
        """
        canonical_proof = self.proof_configuration(proof)
        canonical_document = self.document._canonical(present)
        if canonical_document is None or canonical_proof is None:
            return None
        return canonical_document, canonical_proof

    def proof_configuration(self, proof: Mapping[str, Any], *, plain: bool = False) -> str | None:
        """The canonical proof configuration of ``proof`` (its signature left out), or None.
        ``plain``: the caller has just found :meth:`is_plain_proof` true.
        """
        if not (plain or self.is_plain_proof(proof)) or "@context" in proof:
            return None
        created = proof["created"]
        cached = self._proofs.get(created) if isinstance(created, str) else None
        if cached is not None:
            return cached
        try:
            _datetime.parse(created)
        except ValueError:
            return None  # the reference path reports the malformed proof
        canonical = self.proof.canonical({"created": created})
        if canonical is not None:
            if len(self._proofs) > 64:
                self._proofs.clear()
            self._proofs[created] = canonical
        return canonical

    def is_plain_proof(self, proof: Mapping[str, Any]) -> bool:
        """Whether ``proof`` is exactly this shape's proof: its constants, ``created`` and the
        signature (and the document's ``@context``, which a JCS proof repeats).
        """
        keys = proof.keys() - {"proofValue", "@context"}
        return (
            keys == {*self.proof_constants, "created"}
            and all(proof[k] == v for k, v in self.proof_constants.items())
            and proof.get("@context", self.probe["@context"]) == self.probe["@context"]
        )

    def slots_of(self, credential: Mapping[str, Any]) -> dict[str, Any] | None:
        """The slot values of a credential of this shape (its ``proof`` aside), or None when it
        is not exactly of this shape.
        """
        out: dict[str, Any] = {}
        unsecured = {k: v for k, v in credential.items() if k != "proof"}
        if not self.reader(unsecured, out):
            return None
        absent = out.pop(_ABSENT_SLOTS, set())
        if absent & out.keys():
            return None  # a slot present in one place and absent in another: not this shape
        return out


_MARK: Final = re.compile("\ue002([0-9]+)\ue003")
# Values that try the escaping: JSON's own escapes, a control, a line separator JSON leaves raw,
# a character outside the BMP, and the marks themselves.
_TRIAL: Final = 'a"\\\n\x01\u2028\U0001f600\ue002\ue003'


@dataclass(frozen=True, slots=True)
class _JsonText:
    """The JSON text of a rendered credential for one set of slots present: the constant text
    between the slots' values, and which slot each gap holds (a value inside a constant text,
    as in a status entry's id, is a gap of its own).
    """

    pieces: tuple[str, ...]  # len(pieces) == len(slots) + 1
    slots: tuple[str, ...]

    @classmethod
    def build(
        cls, render: Callable[[Mapping[str, str]], dict[str, Any] | None], present: Mapping[str, str]
    ) -> _JsonText | None:
        names = sorted(present)
        marked = render({name: f"\ue002{i}\ue003" for i, name in enumerate(names)})
        if marked is None:
            return None
        parts = _MARK.split(compact(marked))
        built = cls(tuple(parts[0::2]), tuple(names[int(n)] for n in parts[1::2]))
        # a mark the template's own text held, or a value the encoder wrote otherwise than
        # escaped in place, shows here: then the caller dumps every credential of this set
        trial = {name: f"{_TRIAL}{i}" for i, name in enumerate(names)}
        tried = render(trial)
        if any(_MARK.search(piece) for piece in built.pieces) or tried is None or built.fill(trial) != compact(tried):
            return None
        return built

    def fill(self, values: Mapping[str, str]) -> str:
        pieces = self.pieces
        out = [pieces[0]]
        for i, slot in enumerate(self.slots, 1):
            out.append(_escape(values[slot])[1:-1])
            out.append(pieces[i])
        return "".join(out)


Reader = Callable[[Any, dict[str, Any]], bool]
"""Reads the slot values out of a JSON value into a dict; False when the value is not of the
probe's shape."""


def _reader(probe: Any, tokens: Mapping[int, str]) -> Reader:
    """A reader for the values shaped like ``probe``, as straight-line code: the probe is
    analysed once, so reading a credential is a walk over its JSON with no parsing of the
    probe's tokens. A slot placed twice must hold one value (the three status entries share
    $index); a slot may be absent (noted under ``_ABSENT_SLOTS``), nothing else may.
    """
    source = _Source()
    patterns: list[tuple[re.Pattern[str], list[str]]] = []
    key_sets: list[frozenset[str]] = []
    count = 0

    def read(value: Any, variable: str, indent: str) -> None:
        nonlocal count
        fail = f"{indent}return False"
        if isinstance(value, str):
            numbers = _TOKEN.findall(value)
            if not numbers:
                source.lines += [f"{indent}if {variable} != {source.text(value)}:", f"  {fail}"]
            elif value == slot_token(int(numbers[0])):
                slot = source.slot(tokens[int(numbers[0])])
                source.lines += [
                    f"{indent}if type({variable}) is not str or out.setdefault({slot}, {variable}) != {variable}:",
                    f"  {fail}",
                ]
            else:  # tokens inside a constant text (a status entry's id): a pattern reads them
                pattern = re.compile(
                    "".join(re.escape(piece) if i % 2 == 0 else "(.+?)" for i, piece in enumerate(_TOKEN.split(value)))
                )
                patterns.append((pattern, [tokens[int(number)] for number in numbers]))
                source.lines += [
                    f"{indent}if type({variable}) is not str or not groups(P[{len(patterns) - 1}], {variable}, out):",
                    f"  {fail}",
                ]
        elif isinstance(value, dict):
            key_sets.append(frozenset(value))
            source.lines += [
                f"{indent}if type({variable}) is not dict or not {variable}.keys() <= D[{len(key_sets) - 1}]:",
                f"  {fail}",
            ]
            for key, item in value.items():
                count += 1
                inner = f"x{count}"
                token = _TOKEN.fullmatch(item) if isinstance(item, str) else None
                source.lines += [
                    f"{indent}{inner} = {variable}.get({source.text(key)}, MISSING)",
                    f"{indent}if {inner} is MISSING:",
                ]
                if token is not None:
                    source.lines.append(
                        f"{indent}    out.setdefault(ABSENT, set()).add({source.slot(tokens[int(token[1])])})"
                    )
                else:
                    source.lines.append(f"  {fail}")  # only a slot may be absent (an absent object: the reference path)
                source.lines.append(f"{indent}else:")
                read(item, inner, indent + "    ")
        elif isinstance(value, list):
            source.lines += [
                f"{indent}if type({variable}) is not list or len({variable}) != {len(value)}:",
                f"  {fail}",
            ]
            for index, item in enumerate(value):
                count += 1
                inner = f"x{count}"
                source.lines.append(f"{indent}{inner} = {variable}[{index}]")
                read(item, inner, indent)
        else:
            constant = source.constant(value)
            source.lines += [
                f"{indent}if type({variable}) is not type({constant}) or {variable} != {constant}:",
                f"  {fail}",
            ]

    source.lines.append("def read(x0, out):")
    read(probe, "x0", "    ")
    source.lines.append("    return True")

    read_before: Cache[tuple[int, str], tuple[str, ...] | None] = Cache(256)

    def groups(entry: tuple[re.Pattern[str], list[str]], text: str, out: dict[str, Any]) -> bool:
        # a text read before (a status list's URL: the same in a batch's every credential) is not
        # matched again; the texts kept are few and short (a long one is not kept)
        pattern, names = entry

        def match() -> tuple[str, ...] | None:
            matched = pattern.fullmatch(text)
            return matched.groups() if matched is not None else None

        found = read_before.get_or_make((id(entry), text), match, keep=len(text) <= 256)
        return found is not None and all(out.setdefault(n, v) == v for n, v in zip(names, found, strict=True))

    reader: Reader = source.function(
        "read", P=patterns, D=key_sets, MISSING=object(), ABSENT=_ABSENT_SLOTS, groups=groups
    )
    return reader

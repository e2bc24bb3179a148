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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import _nquads, _rdfc10
from .canon import is_iri, to_quads
from .contexts import ContextLoader

__all__ = ["CompiledShape", "slot_token"]

# A token that JSON-LD passes through untouched as a literal and as an IRI, and that no real
# value contains (private-use characters around a number).
_TOKEN: Final = re.compile("urn:vccore-slot:\ue000([0-9]+)\ue001")
_DATATYPES_REWRITTEN: Final = ("<http://www.w3.org/2001/XMLSchema#double>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON>")
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

    def fill(self, values: Mapping[str, str]) -> str | None:
        if self.iri and self.pieces[0] == "<" and not _HIERARCHICAL.match(values[self.slots[0]]):
            # A value that starts an IRI could be a compact IRI ("schema:x") that the context
            # expands; only "scheme://..." is never one (JSON-LD 1.1, IRI Expansion, step 6.2).
            return None
        if len(self.slots) == 1 and not self.iri:  # the common case: one literal
            return f"{self.pieces[0]}{_nquads.escape_literal(values[self.slots[0]])}{self.pieces[1]}"
        parts = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:]):
            value = values[slot]
            parts.append(value if self.iri else _nquads.escape_literal(value))
            parts.append(piece)
        text = "".join(parts)
        if self.iri and not is_iri(text[1:-1]):
            return None  # the reference path decides (safe mode refuses such an IRI)
        return text


Quad = tuple[str | _Term, str | _Term, str | _Term, str | _Term]


@dataclass(frozen=True, slots=True)
class CompiledShape:
    """The quads of one credential shape, with the slots its values fill."""

    constant: tuple[_nquads.Quad, ...]  # quads without slots
    slotted: tuple[tuple[tuple[str, ...], Quad], ...]  # (slots the quad needs present, quad)
    emptiable: tuple[frozenset[str], ...]  # groups of slots that, all absent, empty an object
    slots: frozenset[str]

    @classmethod
    def compile(
        cls,
        probe: Mapping[str, Any],
        tokens: Mapping[int, str],
        *,
        contexts: ContextLoader,
        emptiable: Iterable[frozenset[str]] = (),
    ) -> CompiledShape | None:
        """Compile a probe credential whose slot values are :func:`slot_token` tokens.

        ``tokens`` maps token numbers to slot names. Returns None for a shape that the compiled
        form cannot reproduce exactly.
        """
        constant: list[_nquads.Quad] = []
        slotted: list[tuple[tuple[str, ...], Quad]] = []
        for quad in to_quads(dict(probe), contexts=contexts, safe=True):
            if quad[1] == _RDF_FIRST:
                return None  # ordered lists: an absent item would renumber the list
            terms: list[str | _Term] = []
            used: set[str] = set()
            for term in quad:
                numbers = _TOKEN.findall(term)
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
            if used:
                slotted.append((tuple(sorted(used)), (terms[0], terms[1], terms[2], terms[3])))
            else:
                constant.append(quad)
        return cls(tuple(constant), tuple(slotted), tuple(emptiable), frozenset(tokens.values()))

    def quads_for(self, values: Mapping[str, Any]) -> list[_nquads.Quad] | None:
        """The RDF quads for slot ``values`` (a missing or None value: the slot is absent), or
        None when only the reference path can say."""
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
        out = list(self.constant)
        for needs, quad in self.slotted:
            if any(slot not in present for slot in needs):
                continue
            filled: list[str] = []
            for term in quad:
                if type(term) is str:
                    filled.append(term)
                else:
                    text = term.fill(present)  # type: ignore[union-attr]
                    if text is None:
                        return None
                    filled.append(text)
            out.append((filled[0], filled[1], filled[2], filled[3]))
        return out

    def canonical(self, values: Mapping[str, Any]) -> str | None:
        """The canonical N-Quads (RDFC-1.0) for slot ``values``, or None (use the reference path)."""
        quads = self.quads_for(values)
        if quads is None:
            return None
        return "".join(_rdfc10.canonicalize(quads)[0])

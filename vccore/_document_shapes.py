"""Compiled canonicalization for documents of no known type: the same skeleton, seen again.

The compiled path (:mod:`vccore._compiled`) knows an entity type's shape from its template. A
service that signs whatever its callers' templates make (Sunbird RC's certificate-signer) sees no
template it can read as JSON; but its callers send the same few templates over and over, so the
documents it signs share a skeleton: the same keys, contexts and types, the same non-string
values, and other text in the string values only. :class:`DocumentShapes` compiles a skeleton on
its second sight, with every string value that JSON-LD reads as a plain literal as a slot, and
emits the canonical N-Quads of the next documents of that skeleton from their strings.

What it may not vouch for stays with the reference path (:mod:`vccore.canon`), which is the
authority:

- a string that lands in a literal's language or datatype, a type, a context or a keyword's
  setting is part of the skeleton (its value must be the same for the compiled form to apply),
  as is one in an IRI whose value is not hierarchical (``did:...``, which JSON-LD may read as a
  compact IRI); a hierarchical IRI value (``https://...``) may vary, checked as an IRI by the
  compiled shape for each document;
- a skeleton the compiled form cannot reproduce (ordered lists, JSON literals) is not compiled;
- the first uses of each compiled skeleton are checked against the reference path, and a
  skeleton whose output ever differs is dropped for good;
- with ``rdf_canonize_1`` (the 2018 suites' rdf-canonize 1.x form, see
  :mod:`vccore.suites.ed25519_signature_2018`), a document holding a control character other
  than a line break is left to the reference path: the two forms write those differently; and
  rdf-canonize 1.x signs no base direction, so its probes are read with ``rdf_direction=None``
  (the other forms with ``i18n-datatype``, as the reference path reads them).

Senders choose the documents: a skeleton is compiled on its second sight only, at most
``max_shapes`` are kept, and a document too large to be worth it is not looked at.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ._cache import Cache
from ._compiled import CompiledShape, slot_token
from ._nquads import Quad
from .canon import RdfDirection, to_quads
from .contexts import ContextLoader

__all__ = ["DocumentShapes"]

_log: Final = logging.getLogger("vccore")
_TOKEN: Final = re.compile("urn:vccore-slot:\ue000([0-9]+)\ue001")
# what RDFC-1.0 and rdf-canonize 1.x write differently in a literal
_CONTROL: Final = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
_CHECKED_USES: Final = 3
_HIERARCHICAL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# keys whose values are read as terms, keywords' settings or contexts: never slots
_FIXED_KEYS: Final = frozenset(
    {"@context", "@type", "type", "@language", "@direction", "@index", "@base", "@vocab", "@version", "@protected"}
)
_MAX_LEAVES: Final = 2000
_MARK: Final = "\ue000"  # what opens every slot token (vccore._compiled.slot_token)

Path = tuple[str | int, ...]


class _Skeleton:
    """What one skeleton's first compile found: which string values must stay as they are (by
    their place in the order :func:`_scan` finds them, the same for every document of a
    skeleton), and the slot that each of the others fills.
    """

    __slots__ = ("constant", "shapes", "slots")

    def __init__(self, constant: frozenset[int], leaves: int) -> None:
        self.constant = tuple(sorted(constant))
        self.slots = tuple((number, str(number)) for number in range(leaves) if number not in constant)
        self.shapes: Cache[str, _Shape] = Cache(8)  # by the values at the constant places


class _Shape:
    __slots__ = ("checked", "compiled")

    def __init__(self, compiled: CompiledShape | None) -> None:
        self.compiled = compiled
        self.checked = 0


@dataclass(frozen=True, slots=True)
class _Found:
    key: str  # the skeleton
    skeleton: _Skeleton | None
    fixed: str  # the values at its constant places
    leaves: list[str]
    shape: _Shape | None
    values: dict[str, str]  # the slots' values, when there is a shape


class DocumentShapes:
    """Canonical N-Quads of documents by compiled skeletons; thread-safe."""

    def __init__(
        self,
        contexts: ContextLoader,
        *,
        reference: Callable[[Any, ContextLoader], str],
        rdf_canonize_1: bool = False,
        max_shapes: int = 64,
    ) -> None:
        self.contexts = contexts
        self.reference = reference
        self.rdf_canonize_1 = rdf_canonize_1
        self.rdf_direction: RdfDirection = None if rdf_canonize_1 else "i18n-datatype"
        self._lock = threading.Lock()
        self._seen: Cache[tuple[str, str], bool] = Cache(1024)
        self._skeletons: Cache[str, _Skeleton] = Cache(max_shapes)
        # a caller's memo: JSON text of a small document -> its canonical form (see vccore.proofs)
        self.recent: Cache[str, str] = Cache(64)

    def canonical(self, document: Any) -> str:
        """The canonical N-Quads of ``document``: compiled when its skeleton is, else by the
        reference path (whose errors it raises, as the reference path would).
        """
        found = self._find(document, _MAX_LEAVES)
        if found is None:
            return self.reference(document, self.contexts)
        shape, values = found.shape, found.values
        compiled = shape.compiled.canonical(values) if shape is not None and shape.compiled is not None else None
        if compiled is None or shape is None:
            canonical = self.reference(document, self.contexts)  # raises for what it refuses
            if shape is None:
                self._sighted(found, document)
            return canonical
        if shape.checked < _CHECKED_USES:
            reference = self.reference(document, self.contexts)
            self._check(shape, compiled, reference)
            return reference
        return compiled

    def read(self, document: Any, *, max_leaves: int = _MAX_LEAVES) -> tuple[list[Quad], str | None] | None:
        """For a reader that does the reference work itself, under its own bounds (the
        verifier): the quads of ``document`` and their canonical N-Quads by its compiled
        skeleton, once that skeleton has passed its checked uses (the canonical form None when
        only the general RDFC-1.0 can label its blank nodes: the caller's to run). None: the
        reference path's to say; give what it says to :meth:`observe`.
        """
        found = self._find(document, max_leaves)
        shape = found.shape if found is not None else None
        if found is None or shape is None or shape.compiled is None or shape.checked < _CHECKED_USES:
            return None
        return shape.compiled.read(found.values)

    def observe(self, document: Any, canonical: str, *, max_leaves: int = _MAX_LEAVES) -> None:
        """What the reference path made of a ``document`` that :meth:`read` did not answer for:
        a sight of its skeleton (compiled on the second), or a checked use of its compiled form.
        """
        found = self._find(document, max_leaves)
        if found is None:
            return
        shape = found.shape
        if shape is None:
            self._sighted(found, document)
        elif shape.compiled is not None and shape.checked < _CHECKED_USES:
            self._check(shape, shape.compiled.canonical(found.values), canonical)

    def _find(self, document: Any, max_leaves: int) -> _Found | None:
        """Where ``document``'s skeleton stands (None: not one to compile)."""
        scanned = _scan(document, max_leaves)
        if scanned is None or (self.rdf_canonize_1 and _has_control(document)):
            return None
        key, leaves = scanned
        skeleton = self._skeletons.get(key)
        if skeleton is None:
            return _Found(key, None, "[]", leaves, None, {})
        fixed = json.dumps([leaves[number] for number in skeleton.constant], ensure_ascii=False)
        shape = skeleton.shapes.get(fixed)
        values = {name: leaves[number] for number, name in skeleton.slots} if shape is not None else {}
        return _Found(key, skeleton, fixed, leaves, shape, values)

    def _sighted(self, found: _Found, document: Any) -> None:
        """A sight of a skeleton (or of its values at its constant paths) not compiled yet."""
        with self._lock:
            second = self._seen.get((found.key, found.fixed)) is not None
            self._seen.put((found.key, found.fixed), True)
        if second:
            self._compile(found.key, found.skeleton, found.fixed, document, found.leaves)

    def _check(self, shape: _Shape, compiled: str | None, reference: str) -> None:
        """One checked use of a compiled shape: one that ever differs is dropped for good."""
        with self._lock:
            shape.checked += 1
            if compiled != reference and shape.compiled is not None:
                _log.warning("a compiled document shape gave another canonical form than the reference: dropped")
                shape.compiled = None

    def _compile(self, key: str, skeleton: _Skeleton | None, fixed: str, document: Any, leaves: list[str]) -> None:
        """Compile the shape of ``document`` (its skeleton first, when it is new)."""
        constant: set[int] = set(skeleton.constant) if skeleton is not None else set()
        compiled: CompiledShape | None = None
        paths = _paths(document)
        if len(paths) != len(leaves):
            return  # (cannot be: both walk the document alike)
        for _ in range(3):
            probe, tokens = _probe(document, paths, constant)
            try:
                quads = (
                    to_quads(probe, contexts=self.contexts, safe=True, rdf_direction=self.rdf_direction)
                    if tokens
                    else []
                )
            except Exception:  # noqa: BLE001 (the reference path judged the document; a probe it cannot read is not compiled)
                break
            outside = _fixed_slots(quads, {n: leaves[n] for n in tokens})
            if skeleton is not None and outside:
                break  # the skeleton's constant paths do not hold for these values: not compiled
            if not outside:
                if tokens and _placed(quads) != tokens.keys():
                    break  # a value JSON-LD drops or rewrites: the reference path's to read
                if tokens:
                    try:
                        compiled = CompiledShape.compile(
                            probe, tokens, contexts=self.contexts, rdf_direction=self.rdf_direction
                        )
                    except Exception:  # noqa: BLE001 (as above)
                        compiled = None
                break
            constant |= outside
        if skeleton is None:
            skeleton = _Skeleton(frozenset(constant), len(leaves))
            self._skeletons.put(key, skeleton)
            fixed = json.dumps([leaves[number] for number in skeleton.constant], ensure_ascii=False)
        skeleton.shapes.put(fixed, _Shape(compiled))


def _placed(quads: list[Any]) -> set[int]:
    """The token numbers that stand whole in the quads."""
    return {int(n) for quad in quads for term in quad for n in _TOKEN.findall(term)}


def _has_control(node: Any) -> bool:
    """Whether a string or key of ``node`` holds a control character other than a line break."""
    if isinstance(node, dict):
        return any(_CONTROL.search(k) is not None or _has_control(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_control(v) for v in node)
    return isinstance(node, str) and _CONTROL.search(node) is not None


def _scan(document: Any, max_leaves: int = _MAX_LEAVES) -> tuple[str, list[str]] | None:
    """The skeleton's key (``document`` with every string that may be a slot left out) and those
    strings, in order, in one walk; None: more than ``max_leaves`` of them.

    The key is the JSON of a flat list that a grammar reads back one way only (so two skeletons
    never share a key): 1 opens an object, each entry its key (a string), then 7 and the value of
    a key in ``_FIXED_KEYS`` whole, or the value's node; 2 closes it; 3 opens an array, 4 closes
    it; 5 is a string slot; 6 is followed by a number, true, false or null. An object key that is
    not a string (a Python caller's) raises TypeError, for the caller's reference path.
    """
    parts: list[Any] = []
    leaves: list[str] = []

    def walk(node: Any) -> bool:
        if isinstance(node, str):
            parts.append(5)
            leaves.append(node)
            return len(leaves) <= max_leaves
        if isinstance(node, dict):
            parts.append(1)
            for k, v in node.items():
                if not isinstance(k, str):
                    raise TypeError("an object key is not a string")
                parts.append(k)
                if k in _FIXED_KEYS:
                    parts.append(7)
                    parts.append(v)
                elif not walk(v):
                    return False
            parts.append(2)
        elif isinstance(node, list):
            parts.append(3)
            for v in node:
                if not walk(v):
                    return False
            parts.append(4)
        else:
            parts.append(6)
            parts.append(node)
        return True

    if not walk(document):
        return None
    key = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    # A text holding the tokens' marks (private-use characters, which JSON carries) could pass
    # for a token in the probe's quads: such a document is the reference path's to read.
    if _MARK in key or any(_MARK in leaf for leaf in leaves):
        return None
    return key, leaves


def _paths(document: Any) -> list[Path]:
    """Where each string :func:`_scan` finds is, in the same order (to compile a probe)."""
    out: list[Path] = []

    def walk(node: Any, path: Path) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k not in _FIXED_KEYS:
                    walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))
        elif isinstance(node, str):
            out.append(path)

    walk(document, ())
    return out


def _probe(document: Any, paths: list[Path], constant: set[int]) -> tuple[Any, dict[int, str]]:
    """``document`` with a token in each slot; token number (the string's place) -> slot name."""
    probe = json.loads(json.dumps(document))
    tokens: dict[int, str] = {}
    for number, path in enumerate(paths):
        if number in constant:
            continue
        node = probe
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = slot_token(number)
        tokens[number] = str(number)
    return probe, tokens


def _fixed_slots(quads: list[Any], values: dict[int, str]) -> set[int]:
    """Token numbers that must be part of the skeleton: in a literal's language or datatype, or
    in an IRI while their value is not hierarchical (``did:...``, a term: JSON-LD may expand
    those, and the compiled shape takes only ``scheme://`` values in an IRI).
    """
    fixed: set[int] = set()
    for quad in quads:
        for term in quad:
            if "urn:vccore-slot:" not in term:
                continue
            if term.startswith('"'):
                end = term.rindex('"')
                fixed.update(int(n) for n in _TOKEN.findall(term[end:]))
            else:
                fixed.update(int(n) for n in _TOKEN.findall(term) if not _HIERARCHICAL.match(values[int(n)]))
    return fixed

"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 2024), with a work limit.

Quads come from :mod:`vccore._nquads` (terms in canonical text form). Section numbers below
refer to https://www.w3.org/TR/rdf-canon/.

The work limit (section 4.4 leaves it to implementations): a graph whose blank nodes cannot be
told apart by their own quads makes Hash N-Degree Quads try every permutation of them, which
grows factorially (the "poison" clique of test074). Work is counted in units: a call of Hash
N-Degree Quads costs one plus its quads, a permutation one per blank node in it. Past
``max_work`` the algorithm stops with ``CANONICALIZATION_LIMIT``. Credentials need a few dozen
units; the rdf-canon tests that are computable "given defined limits" (test044-046) need about
6,600 (15 ms); the default limit stops the 10-node clique of test074 after about 0.3 s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from itertools import permutations
from typing import TYPE_CHECKING, Final

from ._nquads import Quad, is_blank
from .codes import ErrorCode
from .errors import CanonicalizationError

if TYPE_CHECKING:
    from .canon import WorkBudget

DEFAULT_MAX_WORK: Final = 100_000

HashName = str  # "sha256" | "sha384"


class _Issuer:
    """Identifier issuer (section 4.5): issues prefix + counter, remembering the order."""

    __slots__ = ("counter", "issued", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = 0
        self.issued: dict[str, str] = {}

    def issue(self, existing: str) -> str:
        found = self.issued.get(existing)
        if found is not None:
            return found
        new = f"{self.prefix}{self.counter}"
        self.counter += 1
        self.issued[existing] = new
        return new

    def copy(self) -> _Issuer:
        other = _Issuer(self.prefix)
        other.counter = self.counter
        other.issued = dict(self.issued)
        return other


class _State:
    """Canonicalization state (section 4.4.2) plus the work counter."""

    def __init__(
        self, quads: Iterable[Quad], hash_name: HashName, max_work: int, budget: WorkBudget | None = None
    ) -> None:
        self.hasher: Callable[[bytes], hashlib._Hash] = getattr(hashlib, hash_name)
        # A request's budget (see vccore.canon.WorkBudget) may have less left than one graph's limit.
        self.budget = budget
        self.max_work = max_work
        self.work = 0
        self.canonical = _Issuer("c14n")
        self.quads_of: dict[str, list[Quad]] = {}
        quads_of = self.quads_of
        for quad in quads:
            s, _, o, g = quad
            for term in (s, o, g):
                if term[:2] == "_:":  # blank node (inlined: this loop runs for every quad)
                    bucket = quads_of.setdefault(term[2:], [])
                    # A quad with the same blank node twice is listed once per node.
                    if not bucket or bucket[-1] is not quad:
                        bucket.append(quad)
        self.first_degree: dict[str, str] = {}

    def hash(self, data: str) -> str:
        return self.hasher(data.encode("utf-8")).hexdigest()

    def spend(self, units: int = 1) -> None:
        self.work += units
        if self.budget is not None:
            self.budget.rdfc_work -= units
            if self.budget.rdfc_work < 0 and self.work <= self.max_work:
                raise CanonicalizationError(
                    "RDFC-1.0 stopped: this request has spent the canonicalization work vccore gives one request",
                    code=ErrorCode.WORK_LIMIT,
                )
        if self.work > self.max_work:
            raise CanonicalizationError(
                f"RDFC-1.0 stopped after {self.max_work} units of work: the graph has blank "
                "nodes that cannot be told apart without trying too many permutations "
                "(a poison graph)",
                code=ErrorCode.CANONICALIZATION_LIMIT,
                limit=self.max_work,
            )

    # 4.6 Hash First Degree Quads
    def hash_first_degree(self, node: str) -> str:
        found = self.first_degree.get(node)
        if found is not None:
            return found
        reference = f"_:{node}"
        lines = []
        for s, p, o, g in self.quads_of[node]:
            if s[:2] == "_:":
                s = "_:a" if s == reference else "_:z"
            if o[:2] == "_:":
                o = "_:a" if o == reference else "_:z"
            if g:
                if g[:2] == "_:":
                    g = "_:a" if g == reference else "_:z"
                lines.append(f"{s} {p} {o} {g} .\n")
            else:
                lines.append(f"{s} {p} {o} .\n")
        lines.sort()
        result = self.hash("".join(lines))
        self.first_degree[node] = result
        return result

    # 4.7 Hash Related Blank Node
    def hash_related(self, related: str, quad: Quad, issuer: _Issuer, position: str) -> str:
        identifier = self.canonical.issued.get(related) or issuer.issued.get(related)
        identifier = f"_:{identifier}" if identifier is not None else self.hash_first_degree(related)
        data = position
        if position != "g":
            data += quad[1]
        return self.hash(data + identifier)

    # 4.8 Hash N-Degree Quads
    def hash_n_degree(self, node: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        self.spend(1 + len(self.quads_of[node]))
        related_by_hash: dict[str, list[str]] = {}
        reference = f"_:{node}"
        for quad in self.quads_of[node]:
            for position, term in (("s", quad[0]), ("o", quad[2]), ("g", quad[3])):
                if term and is_blank(term) and term != reference:
                    related = term[2:]
                    key = self.hash_related(related, quad, issuer, position)
                    related_by_hash.setdefault(key, []).append(related)
        data = ""
        for related_hash in sorted(related_by_hash):
            data += related_hash
            chosen_path = ""
            chosen_issuer: _Issuer | None = None
            for permutation in permutations(related_by_hash[related_hash]):
                self.spend(len(permutation))
                issuer_copy = issuer.copy()
                path = ""
                recursion: list[str] = []
                skip = False
                for related in permutation:
                    canonical_id = self.canonical.issued.get(related)
                    if canonical_id is not None:
                        path += f"_:{canonical_id}"
                    else:
                        if related not in issuer_copy.issued:
                            recursion.append(related)
                        path += f"_:{issuer_copy.issue(related)}"
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                for related in recursion:
                    result_hash, result_issuer = self.hash_n_degree(related, issuer_copy)
                    path += f"_:{issuer_copy.issue(related)}<{result_hash}>"
                    issuer_copy = result_issuer
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path = path
                    chosen_issuer = issuer_copy
            data += chosen_path
            assert chosen_issuer is not None  # every list has at least one permutation
            issuer = chosen_issuer
        return self.hash(data), issuer


def canonicalize(
    quads: Iterable[Quad],
    *,
    hash_name: HashName = "sha256",
    max_work: int = DEFAULT_MAX_WORK,
    budget: WorkBudget | None = None,
) -> tuple[list[str], dict[str, str]]:
    """RDFC-1.0 (section 4.4.3): the sorted canonical N-Quads lines and the issued identifiers map.

    The map goes from input blank node labels (without ``_:``) to canonical ones (``c14n0``...).
    """
    quad_list = list(dict.fromkeys(quads))
    state = _State(quad_list, hash_name, max_work, budget)
    try:
        by_hash: dict[str, list[str]] = {}
        for node in state.quads_of:
            by_hash.setdefault(state.hash_first_degree(node), []).append(node)
        # Step 4: blank nodes with a unique first-degree hash, in hash order.
        for first_hash in sorted(by_hash):
            nodes = by_hash[first_hash]
            if len(nodes) == 1:
                state.canonical.issue(nodes[0])
                del by_hash[first_hash]
        # Step 5: the rest, through Hash N-Degree Quads.
        for first_hash in sorted(by_hash):
            paths: list[tuple[str, _Issuer]] = []
            for node in by_hash[first_hash]:
                if node in state.canonical.issued:
                    continue
                temporary = _Issuer("b")
                temporary.issue(node)
                paths.append(state.hash_n_degree(node, temporary))
            for _, issuer in sorted(paths, key=lambda result: result[0]):
                for existing in issuer.issued:
                    state.canonical.issue(existing)
    except RecursionError:
        raise CanonicalizationError(
            "RDFC-1.0 stopped: blank nodes nested too deep to tell apart",
            code=ErrorCode.CANONICALIZATION_LIMIT,
            limit=max_work,
        ) from None

    issued = state.canonical.issued
    labels = {f"_:{node}": f"_:{label}" for node, label in issued.items()}
    out: set[str] = set()
    for s, p, o, g in quad_list:
        s = labels.get(s, s)
        o = labels.get(o, o)
        if g:
            out.add(f"{s} {p} {o} {labels.get(g, g)} .\n")
        else:
            out.add(f"{s} {p} {o} .\n")
    return sorted(out), dict(issued)

"""Compiled skeletons of documents of no known type (vccore._document_shapes): byte for byte the
reference path's canonical form, for any values, and never used where they cannot vouch."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from vccore import bundled_contexts
from vccore._document_shapes import DocumentShapes
from vccore.suites._base import transform_rdfc
from vccore.suites.ed25519_signature_2018 import transform_urdna2015

CONTEXT: dict[str, Any] = {
    "@version": 1.1,
    "@protected": True,
    "Person": {
        "@id": "https://example.org/Person",
        "@context": {
            "name": "https://schema.org/name",
            "birthDate": {"@id": "https://schema.org/birthDate", "@type": "http://www.w3.org/2001/XMLSchema#date"},
            "homepage": {"@id": "https://schema.org/url", "@type": "@id"},
            "motto": {"@id": "https://example.org/motto", "@language": "en"},
            "nick": {"@id": "https://example.org/nick"},
            "knows": {"@id": "https://example.org/knows", "@type": "@id"},
        },
    },
    "Training": {
        "@id": "https://example.org/Training",
        "@context": {"modules": "https://example.org/modules", "code": "https://example.org/code"},
    },
}


def document(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/2018/credentials/v1", CONTEXT],
        "id": values["id"],
        "type": ["VerifiableCredential"],
        "issuer": values["issuer"],
        "issuanceDate": values["date"],
        "credentialSubject": {
            "type": "Person",
            "name": values["name"],
            "birthDate": values["birth"],
            "homepage": values["homepage"],
            "motto": values["motto"],
            "nick": {"@value": values["nick"], "@language": values["language"]},
        },
        "evidence": [{"type": "Training", "modules": values["modules"], "code": values["code"]}],
    }


TEXT = st.text(max_size=12)
IRI = st.one_of(
    st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9]{0,8}", fullmatch=True),
    st.from_regex(r"did:example:[a-z0-9]{1,8}", fullmatch=True),
    st.sampled_from(["urn:uuid:1", "https://a.example/x y", "relative/path", "HTTPS://A.EXAMPLE/B"]),
)
VALUES = st.fixed_dictionaries(
    {
        "id": IRI,
        "issuer": IRI,
        "date": st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123+05:30"]),
        "name": TEXT,
        "birth": st.sampled_from(["1990-01-01", "not a date"]),
        "homepage": IRI,
        "motto": TEXT,
        "nick": TEXT,
        "language": st.sampled_from(["en", "fr-CA"]),
        "modules": st.lists(TEXT, max_size=3),
        "code": TEXT,
    }
)


BASE: dict[str, Any] = {
    "id": "https://a.example/1",
    "issuer": "did:example:1",
    "date": "2026-01-01T00:00:00Z",
    "name": "A",
    "birth": "1990-01-01",
    "homepage": "https://a.example/",
    "motto": "m",
    "nick": "n",
    "language": "en",
    "modules": ["x", "y"],
    "code": "c",
}


def reference_or_error(transform: Any, doc: Any) -> tuple[str, str]:
    try:
        return "ok", transform(doc, bundled_contexts())
    except Exception as exc:
        return "error", type(exc).__name__


@pytest.mark.parametrize(("transform", "legacy"), [(transform_urdna2015, True), (transform_rdfc, False)])
@settings(max_examples=150, deadline=None)
@given(first=VALUES, rest=st.lists(VALUES, min_size=6, max_size=12))
def test_compiled_skeletons_give_the_reference_form_for_any_values(
    transform: Any, legacy: bool, first: dict[str, Any], rest: list[dict[str, Any]]
) -> None:
    shapes = DocumentShapes(bundled_contexts(), reference=transform, rdf_canonize_1=legacy)
    # the first two sights compile the skeleton; the rest go through it (the first few checked)
    width = len(first["modules"])
    for values in [first, first, *rest]:
        # the same skeleton as the first (as many modules), so that most go through its compiled form
        doc = document({**values, "modules": [*values["modules"], *[""] * width][:width]})
        kept = copy.deepcopy(doc)
        expected = reference_or_error(transform, doc)
        assert reference_or_error(lambda d, _contexts: shapes.canonical(d), doc) == expected
        assert doc == kept


def test_a_skeleton_is_compiled_on_its_second_sight_and_then_used() -> None:
    calls: list[int] = []

    def counting(doc: Any, contexts: Any) -> str:
        calls.append(1)
        return transform_urdna2015(doc, contexts)

    shapes = DocumentShapes(bundled_contexts(), reference=counting, rdf_canonize_1=True)
    base = dict(BASE)
    for n in range(12):
        shapes.canonical(document({**base, "name": f"name {n}", "id": f"https://a.example/{n}"}))
    # two to see it, three checked uses, then none: the compiled form answers alone
    assert len(calls) == 5
    # another issuer (not hierarchical: part of the skeleton) is another shape
    shapes.canonical(document({**base, "issuer": "did:example:2"}))
    assert len(calls) == 6


def test_a_control_character_goes_to_the_reference_path_for_the_2018_form() -> None:
    shapes = DocumentShapes(bundled_contexts(), reference=transform_urdna2015, rdf_canonize_1=True)
    base = {**BASE, "modules": []}
    for name in ("a", "b", "c", "d", "e", "f", "tab\there", "bell\x07", "del\x7f"):
        doc = document({**base, "name": name})
        assert shapes.canonical(doc) == transform_urdna2015(doc, bundled_contexts())


@settings(max_examples=60, deadline=None)
@given(names=st.lists(TEXT, min_size=6, max_size=10), direction=st.sampled_from(["ltr", "rtl"]))
def test_a_base_direction_is_compiled_as_each_form_reads_it(names: list[str], direction: str) -> None:
    """RDFC-1.0 (i18n-datatype) signs the direction: its skeletons compile and give the
    reference's form; rdf-canonize 1.x does not, and both paths refuse it."""
    calls: list[int] = []

    def counting(doc: Any, contexts: Any) -> str:
        calls.append(1)
        return transform_rdfc(doc, contexts)

    shapes = DocumentShapes(bundled_contexts(), reference=counting)
    legacy = DocumentShapes(bundled_contexts(), reference=transform_urdna2015, rdf_canonize_1=True)
    for name in names:
        doc = document({**BASE, "nick": name})
        doc["credentialSubject"]["nick"]["@direction"] = direction
        expected = transform_rdfc(doc, bundled_contexts())
        assert f"^^<https://www.w3.org/ns/i18n#en_{direction}> ." in expected
        assert shapes.canonical(doc) == expected
        assert reference_or_error(lambda d, _contexts: legacy.canonical(d), doc) == ("error", "SafeModeError")
    # two sights to compile, three checked uses, then the compiled form alone
    assert len(calls) == 5


def test_a_context_that_rewrites_the_probes_tokens_is_not_compiled() -> None:
    """A context that makes the probe's token a compact IRI (a term ``urn``) rewrites the token
    in the quads: the compiled form would hold the token's text where the value goes, and give
    that text whatever the value. A sender who writes the token's text as the value (private-use
    characters are JSON) passes the checked uses; then any other value would be left unsigned.
    Such a skeleton stays with the reference path."""
    from vccore._compiled import slot_token

    context = {"urn": "https://evil.example/", "homepage": {"@id": "https://schema.org/url", "@type": "@id"}}

    def doc(homepage: str) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/2018/credentials/v1", context],
            "type": ["VerifiableCredential"],
            "homepage": homepage,
        }

    shapes = DocumentShapes(bundled_contexts(), reference=transform_rdfc)
    for _ in range(6):  # seen, compiled, checked: the token's own text every time
        shapes.canonical(doc(slot_token(0)))
    other = doc("https://a.example/other")
    expected = transform_rdfc(other, bundled_contexts())
    assert "<https://a.example/other>" in expected
    assert shapes.canonical(other) == expected


def test_a_reader_gets_the_compiled_form_only_after_observing_the_reference_path() -> None:
    """read() answers once the reference path's output was observed on two sights and matched
    on three checked uses; what it gives is the reference path's quads and canonical form."""
    from vccore.canon import canonical_nquads, to_quads

    shapes = DocumentShapes(bundled_contexts(), reference=transform_rdfc)
    docs = [document({**BASE, "name": f"name {n}", "id": f"https://a.example/{n}"}) for n in range(8)]
    answered = []
    for doc in docs:
        read = shapes.read(doc)
        answered.append(read is not None)
        reference = transform_rdfc(doc, bundled_contexts())
        if read is None:
            shapes.observe(doc, reference)
        else:
            quads, canonical = read
            assert canonical in (None, reference)  # None: only the general RDFC-1.0 labels them
            assert sorted(quads) == sorted(to_quads(doc, contexts=bundled_contexts()))
            assert canonical_nquads(quads) == reference
    assert answered == [False] * 5 + [True] * 3

    # a reference form that differs once (as if the compiled form were wrong) drops it for good
    wrong = DocumentShapes(bundled_contexts(), reference=transform_rdfc)
    for n, doc in enumerate(docs):
        assert wrong.read(doc) is None
        wrong.observe(doc, transform_rdfc(doc, bundled_contexts()) + ("x" if n == 3 else ""))
    assert wrong.read(docs[0]) is None


# Term definitions of every kind a sender's inline context may hold, for the property below.
_TERMS: dict[str, Any] = {
    "text": "https://ex.example/text",
    "link": {"@id": "https://ex.example/link", "@type": "@id"},
    "word": {"@id": "https://ex.example/word", "@type": "@vocab"},
    "when": {"@id": "https://ex.example/when", "@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
    "said": {"@id": "https://ex.example/said", "@language": "en"},
    "json": {"@id": "https://ex.example/json", "@type": "@json"},
    "tags": {"@id": "https://ex.example/tags", "@container": "@set"},
    "byLang": {"@id": "https://ex.example/byLang", "@container": "@language"},
    "inner": {"@id": "https://ex.example/inner", "@context": {"urn": "https://evil.example/"}},
    "nest": "@nest",
    "urn": "https://evil.example/",
    "https": "https://prefix.example/",
    "ex": "https://ex.example/",
    "Thing": "https://ex.example/Thing",
    "back": {"@reverse": "https://ex.example/back"},
    "byIndex": {"@id": "https://ex.example/byIndex", "@container": "@index"},
    "byType": {"@id": "https://ex.example/byType", "@container": "@type"},
    "@vocab": "https://vocab.example/",
    "@base": "https://base.example/",
}
_VALUES = st.one_of(
    st.sampled_from(
        [
            "https://a.example/x",
            "https://a.example/y",
            "urn:uuid:1",
            "ex:term",
            "Thing",
            "@id",
            "relative",
            "_:b0",
            "https://a.example/x y",
            "2026-01-01T00:00:00Z",
            "",
            "urn:vccore-slot:\ue0000\ue001",
            "urn:vccore-slot:\ue0001\ue001",
            "urn:vccore-slot:\ue0002\ue001",
            "https://prefix.example/z",
        ]
    ),
    st.text(max_size=6),
)
_KEYS = st.sampled_from(["text", "link", "word", "when", "said", "tags", "id", "ex:free", "https://ex.example/full"])


_PROPERTIES = ("text", "link", "word", "when", "said", "json", "tags", "back")


@st.composite
def _hostile_documents(draw: Any) -> tuple[list[str], dict[str, Any]]:
    """A context of some of _TERMS, and a skeleton of keys it mostly defines (values filled in later)."""
    names = draw(st.lists(st.sampled_from(sorted(_TERMS)), min_size=3, max_size=10, unique=True))
    context = {name: _TERMS[name] for name in names}
    defined = [name for name in _PROPERTIES if name in context] + ["https://ex.example/full", "id"]
    keys = draw(st.lists(st.sampled_from([*defined, "ex:free"]), min_size=1, max_size=4, unique=True))
    inner = draw(st.lists(st.sampled_from(["text", "link", "word", "said"]), max_size=2, unique=True))
    return keys, {
        "context": context,
        "inner": inner if "inner" in context else [],
        "nested": draw(st.booleans()),
        "objects": draw(st.booleans()),
    }


@st.composite
def _rows(draw: Any) -> list[list[str]]:
    """A first row of values, then rows that change one or two of them."""
    first = draw(st.lists(_VALUES, min_size=8, max_size=8))
    rows = [first]
    for _ in range(draw(st.integers(min_value=2, max_value=6))):
        row = list(first)
        for place in draw(st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=2)):
            row[place] = draw(_VALUES)
        rows.append(row)
    return rows


@settings(max_examples=400, deadline=None)
@given(shape=_hostile_documents(), values=_rows())
def test_a_reader_never_gets_what_the_reference_path_would_not_give(shape: Any, values: list[list[str]]) -> None:
    """Senders choose contexts and values (prefixes named like the tokens' scheme, scoped contexts,
    @vocab and @id coercion, languages, JSON literals, the tokens' own text): whatever read()
    answers, after the reference path was observed for the earlier documents of the skeleton, is
    the reference path's quads and canonical form, and it answers nothing for a document the
    reference path refuses."""
    from vccore.canon import canonical_nquads, to_quads

    keys, rest = shape

    def doc(row: list[str]) -> dict[str, Any]:
        subject: dict[str, Any] = {key: row[i] for i, key in enumerate(keys)}
        if "byIndex" in rest["context"]:
            subject["byIndex"] = {"k": row[6]}
        if "byType" in rest["context"]:
            subject["byType"] = {"Thing": row[7]}
        if rest["objects"]:
            subject["https://ex.example/obj"] = [{"@value": row[5], "@language": "fr"}, {"@id": row[6]}]
        if rest["inner"]:
            subject["inner"] = {key: row[4 + i] for i, key in enumerate(rest["inner"])}
        if rest["nested"]:
            subject = {"nest": subject} if "nest" in rest["context"] else subject
        return {
            "@context": ["https://www.w3.org/ns/credentials/v2", rest["context"]],
            "type": ["VerifiableCredential"],
            "issuer": "https://issuer.example/",
            "credentialSubject": subject,
        }

    shapes = DocumentShapes(bundled_contexts(), reference=transform_rdfc)
    first = values[0]
    for row in [first, first, first, first, first, *values[1:]]:
        document = doc(row)
        try:
            quads = to_quads(document, contexts=bundled_contexts(), safe=True)
            reference: str | None = canonical_nquads(quads)
        except Exception:  # refused: read() must not answer for it
            reference = None
        read = shapes.read(document)
        event("read by the compiled skeleton" if read is not None else "not read")
        if read is not None:
            assert reference is not None, document
            assert sorted(read[0]) == sorted(quads)
            assert read[1] in (None, reference)
        elif reference is not None:
            shapes.observe(document, reference)

"""RDFC-1.0 against the W3C rdf-canon suite, N-Quads escaping, and JSON-LD safe mode."""

from __future__ import annotations

import csv
import json
import math
from typing import Any

import pytest
from conftest import VECTORS, load_json
from hypothesis import given
from hypothesis import strategies as st

from vccore import (
    CanonicalizationError,
    SafeModeError,
    _nquads,
    _rdfc10,
    bundled_contexts,
    canonicalize,
    canonicalize_nquads,
)

SUITE = VECTORS / "rdf-canon"
MANIFEST = list(csv.DictReader((SUITE / "manifest.csv").open(encoding="utf-8")))
EVAL_TESTS = [row for row in MANIFEST if row["rdfc10"] == "TRUE"]
MAP_TESTS = [row for row in MANIFEST if row["rdfc10map"] == "TRUE"]
NEGATIVE_TESTS = [row for row in MANIFEST if row["rdfc10"] == "RDFC10NegativeEvalTest"]


def _input(test: str) -> str:
    return (SUITE / "rdfc10" / f"{test}-in.nq").read_text(encoding="utf-8")


def _hash(row: dict[str, str]) -> str:
    return "sha384" if row["hashAlgorithm"] == "SHA384" else "sha256"


def test_manifest_counts() -> None:
    assert len(EVAL_TESTS) == 64
    assert len(MAP_TESTS) == 21
    assert [row["test"] for row in NEGATIVE_TESTS] == ["test074"]
    assert [row["test"] for row in MANIFEST if row["hashAlgorithm"]] == ["test075"]


@pytest.mark.parametrize("row", EVAL_TESTS, ids=lambda row: row["test"])
def test_rdf_canon_evaluation(row: dict[str, str]) -> None:
    expected = (SUITE / "rdfc10" / f"{row['test']}-rdfc10.nq").read_text(encoding="utf-8")
    assert canonicalize_nquads(_input(row["test"]), hash_algorithm=_hash(row)) == expected


@pytest.mark.parametrize("row", MAP_TESTS, ids=lambda row: row["test"])
def test_rdf_canon_issued_identifiers_map(row: dict[str, str]) -> None:
    expected = json.loads((SUITE / "rdfc10" / f"{row['test']}-rdfc10map.json").read_text())
    _, issued = _rdfc10.canonicalize(_nquads.parse(_input(row["test"])), hash_name=_hash(row))
    assert issued == expected


def test_sha384_changes_the_labels() -> None:
    # test075 is test020 with SHA-384; with SHA-256 the same input is labelled differently.
    text = _input("test075")
    assert canonicalize_nquads(text, hash_algorithm="sha384") != canonicalize_nquads(text)


def test_poison_graph_is_refused() -> None:
    # Refused by counted work, not by a clock; `make bench` reports how long the refusal takes.
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize_nquads(_input("test074"))
    assert caught.value.code == "CANONICALIZATION_LIMIT"
    assert caught.value.details["limit"] == _rdfc10.DEFAULT_MAX_WORK
    assert "poison" in caught.value.message


def test_poison_graphs_within_limits_still_compute() -> None:
    # test044-046 are "computable given defined limits": the default limit must admit them.
    lines, _ = _rdfc10.canonicalize(_nquads.parse(_input("test044")), max_work=_rdfc10.DEFAULT_MAX_WORK // 10)
    assert lines


def test_escaping_test060_byte_for_byte() -> None:
    out = canonicalize_nquads(_input("test060"))
    assert '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000B\\f\\r\\u000E\\u000F"' in out
    assert '"pqrstuvwxyz{|}~\\u007F"' in out
    assert "<urn:ex:\u00a0>" in out  # IRIs are written unescaped


@pytest.mark.parametrize(
    "line",
    [
        "<urn:a> <urn:b> .",  # no object
        '"lit" <urn:b> <urn:c> .',  # literal subject
        "<urn:a> <urn:b> <urn:c>",  # no final dot
        "<urn:a> <urn:b> <urn:c> . extra",
        "<rel> <urn:b> <urn:c> .",  # relative IRI
        '<urn:a> <urn:b> "\\uD800" .',  # surrogate escape
        "<urn:a> _:p <urn:c> .",  # blank node predicate
    ],
)
def test_invalid_nquads_are_refused_with_the_line(line: str) -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize_nquads("<urn:ok> <urn:ok> <urn:ok> .\n" + line + "\n")
    assert caught.value.code == "INVALID_NQUADS"
    assert caught.value.details["line"] == 2


_text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(_text)
def test_literal_escaping_round_trips(value: str) -> None:
    line = _nquads.serialize(("<urn:s>", "<urn:p>", _nquads.literal(value), ""))
    assert _nquads.parse(line) == [("<urn:s>", "<urn:p>", _nquads.literal(value), "")]
    body = line[len("<urn:s> <urn:p> ") : -len(" .\n")]
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in body)


@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["<urn:p>", "<urn:q>"]), st.integers(0, 4)), max_size=8))
def test_canonical_form_ignores_blank_node_labels_and_order(edges: list[tuple[int, str, int]]) -> None:
    def render(prefix: str, order: list[tuple[int, str, int]]) -> str:
        return "".join(f"_:{prefix}{s} {p} _:{prefix}{o} .\n" for s, p, o in order)

    first = canonicalize_nquads(render("x", edges))
    second = canonicalize_nquads(render("other", list(reversed(edges))))
    assert first == second


# --- JSON-LD ------------------------------------------------------------------------------


def test_vc11_vector_canonical_document() -> None:
    vector = load_json("ld-suites-digitalbazaar/eddsa-rdfc-2022-vc11.json")
    assert canonicalize(vector["unsignedCredential"]) == vector["expected"]["canonicalDocument"]


@pytest.mark.parametrize("name", ["ed25519-signature-2020-vc11.json", "eddsa-rdfc-2022-vc11.json"])
def test_safe_mode_negative_cases(name: str) -> None:
    vector = load_json(f"ld-suites-digitalbazaar/{name}")
    cases = {case["name"] for case in vector["negativeCases"]}
    assert cases == {"undefined term", "relative type URL"}

    undefined = dict(vector["unsignedCredential"], undefinedTerm="foo")
    with pytest.raises(SafeModeError) as caught:
        canonicalize(undefined)
    assert caught.value.code == "UNDEFINED_TERM"
    assert caught.value.details == {"term": "undefinedTerm", "path": "undefinedTerm"}

    relative = dict(vector["unsignedCredential"])
    relative["type"] = [*relative["type"], "UndefinedType"]
    with pytest.raises(SafeModeError) as caught:
        canonicalize(relative)
    assert caught.value.code == "RELATIVE_IRI"
    assert caught.value.details == {"iri": "UndefinedType", "path": "type[2]"}

    # Without safe mode the same documents canonicalize, silently losing those statements.
    assert canonicalize(undefined, safe=False) == canonicalize(vector["unsignedCredential"])


def _v2(**fields: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:1",
        "type": "VerifiableCredential",
        **fields,
    }


@pytest.mark.parametrize(
    ("document", "code", "detail"),
    [
        (_v2(credentialSubject={"nickname": "x"}), "UNDEFINED_TERM", "credentialSubject.nickname"),
        (_v2(credentialSubject={"id": "relative/path"}), "RELATIVE_IRI", "credentialSubject.id"),
        (_v2(issuer="not-a-url"), "RELATIVE_IRI", "issuer"),
        (_v2(credentialSubject={"@id": "urn:x", "@type": "Relative"}), "RELATIVE_IRI", "credentialSubject.@type"),
        (
            {
                "@context": [{"@vocab": "https://vocab.example/"}],
                "@id": "urn:x",
                "name": {"@value": "a", "@language": "not a tag"},
            },
            "DATA_LOSS",
            "name.@language",
        ),
    ],
)
def test_safe_mode_names_the_field(document: dict[str, Any], code: str, detail: str) -> None:
    with pytest.raises(SafeModeError) as caught:
        canonicalize(document)
    assert caught.value.code == code
    assert caught.value.details["path"] == detail
    assert detail in caught.value.message


def test_json_numbers_follow_json_ld_not_python_floats() -> None:
    document = {"@context": {"@vocab": "https://vocab.example/"}, "@id": "urn:x", "a": 5.0, "b": 5, "c": 5.5, "d": 1e21}
    out = canonicalize(document)
    assert '<urn:x> <https://vocab.example/a> "5"^^<http://www.w3.org/2001/XMLSchema#integer> .' in out
    assert '<urn:x> <https://vocab.example/b> "5"^^<http://www.w3.org/2001/XMLSchema#integer> .' in out
    assert '<urn:x> <https://vocab.example/c> "5.5E0"^^<http://www.w3.org/2001/XMLSchema#double> .' in out
    assert '<urn:x> <https://vocab.example/d> "1.0E21"^^<http://www.w3.org/2001/XMLSchema#double> .' in out


def test_control_characters_from_json_are_escaped() -> None:
    document = {"@context": {"@vocab": "https://vocab.example/"}, "@id": "urn:x", "s": "a\x00b\x07c\x1fd\x7fe\u2028"}
    assert canonicalize(document) == '<urn:x> <https://vocab.example/s> "a\\u0000b\\u0007c\\u001Fd\\u007Fe\u2028" .\n'


def test_canonicalize_does_not_mutate_its_input() -> None:
    vector = load_json("vc-di-eddsa/TestVectors/employmentAuth.json")
    before = json.dumps(vector, sort_keys=True)
    canonicalize(vector)
    assert json.dumps(vector, sort_keys=True) == before


def test_non_object_input_is_refused() -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize("https://example.com/doc.jsonld")  # would make pyld fetch a URL
    assert caught.value.code == "JSONLD_ERROR"


def test_invalid_json_ld_is_a_clean_error() -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize({"@context": {"@vocab": "https://v.example/"}, "@id": 5})
    assert caught.value.code == "JSONLD_ERROR"


def test_deep_nesting_is_a_clean_error() -> None:
    document: dict[str, Any] = {"@context": {"@vocab": "https://v.example/"}}
    node = document
    for _ in range(5000):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(document)
    assert caught.value.code == "INPUT_TOO_DEEP"


# --- JCS (RFC 8785), for eddsa-jcs-2022 ------------------------------------------------------------

from vccore import _jcs  # noqa: E402


def test_jcs_rfc8785_examples() -> None:
    # RFC 8785 section 3.2.2 (sorting by UTF-16 code units) and Appendix B (numbers).
    assert _jcs.canonicalize(
        {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        }
    ) == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    # Pairs, not a dict: 0.0 and -0.0 are one dict key, and -0's case would never run.
    numbers = [
        (0.0, "0"),
        (-0.0, "0"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740992.0, "9007199254740992"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (333333333.3333333, "333333333.3333333"),
        (4.5, "4.5"),
    ]
    assert math.copysign(1.0, numbers[1][0]) == -1.0
    for value, text in numbers:
        assert _jcs.canonicalize(value) == text
    assert _jcs.canonicalize(['\x01\x1f\u2028"\\']) == '["\\u0001\\u001f\u2028\\"\\\\"]'


def _json_values(
    leaves: st.SearchStrategy[Any] | None = None, keys: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[Any]:
    """JSON values (and floats of every kind), with ``leaves`` and object ``keys`` besides."""
    leaves = st.nothing() if leaves is None else leaves
    keys = st.nothing() if keys is None else keys
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**60), 2**60),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(),
        leaves,
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=5), keys), inner, max_size=4)
        ),
        max_leaves=12,
    )


@given(_json_values())
def test_jcs_matches_the_reference_implementation(value: Any) -> None:
    # pyld ships the RFC's own Python implementation (package c14n); vccore's must agree with it.
    from c14n.Canonicalize import canonicalize as reference

    assert _jcs.canonicalize(value) == reference(value).decode("utf-8")


@given(
    _json_values(
        st.sampled_from(["\U0001f600", "\ufb33", "\u20ac", '\x01\x1f\u2028"\\', "1.5e3", "\ud800"]),
        st.sampled_from(["\U0001f600", "\ufb33", "a"]),
    )
)
def test_jcs_of_a_parsed_value_by_the_c_encoder_is_the_same(value: Any) -> None:
    """canonicalize_parsed (the C JSON encoder where it writes what JCS writes) against
    canonicalize, on values as JSON parsing gives them: the same text, or the same refusal."""
    try:
        expected = _jcs.canonicalize(value)
    except CanonicalizationError:
        with pytest.raises(CanonicalizationError):
            _jcs.canonicalize_parsed(value)
        return
    assert _jcs.canonicalize_parsed(value) == expected


def test_jcs_of_a_plain_payload_does_not_walk_it(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = {"name": 'Dr. "A" \\ B\u00e9\n', "n": -12, "ok": True, "none": None, "list": ["x", 900719925474099]}
    expected = _jcs.canonicalize(payload)
    monkeypatch.setattr(_jcs, "canonicalize", lambda value: pytest.fail("walked"))
    assert _jcs.canonicalize_parsed(payload) == expected


def test_jcs_refuses_what_is_not_json() -> None:
    for value in ("\ud800", float("nan"), float("inf"), {1: "x"}, {"s": {1, 2}}):
        with pytest.raises(CanonicalizationError):
            _jcs.canonicalize(value)


# --- safe mode: what pyld or JSON-LD would drop silently (review findings) -------------------------

V: dict[str, Any] = {"@vocab": "https://v.example/"}


@pytest.mark.parametrize(
    ("document", "code"),
    [
        # IRIs with whitespace: pyld drops them from the RDF; jsonld.js calls them relative
        ({"@context": V, "@id": "urn:x", "knows": {"@id": "did:example:mallory\u00a0", "name": "M"}}, "RELATIVE_IRI"),
        ({"@context": V, "@id": "urn:x", "evidence": {"@id": "urn:x y", "name": "a"}}, "RELATIVE_IRI"),
        ({"@context": V, "@id": "did:example:alice ", "name": "a"}, "RELATIVE_IRI"),
        ({"@context": V, "@id": "urn:x", "@type": "foo:bar baz"}, "RELATIVE_IRI"),
        ({"@context": V, "@id": "urn:x\ufeff", "name": "a"}, "RELATIVE_IRI"),
        ({"@context": V, "@id": "urn:x>y", "name": "a"}, "RELATIVE_IRI"),
        ({"@context": [V, {"t": {"@type": "@vocab"}}], "@id": "urn:x", "t": "rel value"}, "RELATIVE_IRI"),
        (
            {
                "@context": V,
                "@id": "urn:g> .\n<urn:s2> <urn:p2> <urn:o2",
                "@graph": [{"@id": "urn:s", "p": {"@id": "urn:o"}}],
            },
            "RELATIVE_IRI",
        ),
        # values JSON-LD drops
        ({"@context": V, "@id": "urn:x", "name": {"@value": None}, "o": "y"}, "DATA_LOSS"),
        ({"@context": V, "@id": "urn:x", "name": {"@language": "en"}, "o": "y"}, "DATA_LOSS"),
        ({"@context": V, "@graph": [{"@id": "urn:x", "name": "a"}, "loose"]}, "DATA_LOSS"),
        # a base direction on a number: JSON-LD writes an xsd:integer and drops the direction
        ({"@context": V, "@id": "urn:x", "name": {"@value": 5, "@direction": "rtl"}}, "DATA_LOSS"),
        ({"@context": V, "@id": "@bar", "name": "b"}, "DATA_LOSS"),
        ({"@context": V, "@id": "urn:x", "l": {"@list": [{"@id": "urn:a b"}]}}, "RELATIVE_IRI"),
        # inline contexts JSON-LD ignores in part
        ({"@context": [V, {"@foo": "https://v.example/foo"}], "@id": "urn:x", "name": "a"}, "DATA_LOSS"),
        ({"@context": [V, {"foo": {"@id": "@bar"}}], "@id": "urn:x", "name": "a"}, "DATA_LOSS"),
        ({"@context": [V, {"foo": {"@reverse": "@bar"}}], "@id": "urn:x", "name": "a"}, "DATA_LOSS"),
        ({"@context": [V, {"@language": "not a tag"}], "@id": "urn:x", "n": 1}, "DATA_LOSS"),
        ({"@context": [V, {"@direction": "rtl"}], "@id": "urn:x", "n": "a"}, "DATA_LOSS"),
        # JSON that expansion keeps and RDF leaves out: @index and index maps (issue #16)
        (
            {
                "@context": [V, {"byIndex": {"@id": "https://v.example/p", "@container": "@index"}}],
                "@id": "urn:x",
                "byIndex": {"shown but not signed": "a"},
            },
            "DATA_LOSS",
        ),
        (
            {
                "@context": [V, {"byIndex": {"@id": "https://v.example/p", "@container": "@index"}}],
                "@id": "urn:x",
                "byIndex": {"shown": {"@id": "urn:y", "name": "b"}},
            },
            "DATA_LOSS",
        ),
        ({"@context": V, "@id": "urn:x", "name": {"@value": "a", "@index": "shown but not signed"}}, "DATA_LOSS"),
        ({"@context": V, "@id": "urn:x", "knows": {"@id": "urn:y", "@index": "shown", "name": "b"}}, "DATA_LOSS"),
        ({"@context": V, "@id": "urn:x", "l": {"@list": ["a"], "@index": "shown"}}, "DATA_LOSS"),
        (
            {
                "@context": [V, {"g": {"@id": "https://v.example/g", "@container": ["@graph", "@index"]}}],
                "@id": "urn:x",
                "g": {"shown": {"@id": "urn:y", "name": "b"}},
            },
            "DATA_LOSS",
        ),
        # numbers JavaScript reads differently
        ({"@context": V, "@id": "urn:x", "n": 2**53}, "DATA_LOSS"),
        ({"@context": V, "@id": "urn:x", "n": -(10**400)}, "DATA_LOSS"),
    ],
)
def test_safe_mode_refuses_silent_drops(document: dict[str, Any], code: str) -> None:
    with pytest.raises(SafeModeError) as caught:
        canonicalize(document)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "document",
    [
        {"@context": V, "@id": "urn:x", "s": "lone \ud800 surrogate"},
        {"@context": V, "@id": "urn:x", "f": float("nan")},
        {"@context": V, "@id": "urn:x", "f": float("inf")},
        {"@context": V, "@id": "urn:x", "\udfff": "key"},
    ],
)
def test_what_is_not_json_is_refused_in_any_mode(document: dict[str, Any]) -> None:
    for safe in (True, False):
        with pytest.raises(CanonicalizationError) as caught:
            canonicalize(document, safe=safe)
        assert caught.value.code == "INVALID_JSON"


def test_unsafe_mode_never_writes_a_broken_iri() -> None:
    # Without safe mode pyld's own rules apply, but no IRI may break the N-Quads syntax.
    document = {"@context": V, "@id": "urn:x", "p": {"@id": "urn:a>b"}, "q": {"@id": 'urn:c"d'}}
    out = canonicalize(document, safe=False)
    assert _nquads.parse(out)  # vccore's own parser reads vccore's output
    assert "<urn:a\\u003Eb>" in out and "<urn:c\\u0022d>" in out
    crafted = {
        "@context": V,
        "@id": "urn:g> .\n<urn:s2> <urn:p2> <urn:o2",
        "@graph": [{"@id": "urn:s", "p": {"@id": "urn:o"}}],
    }
    assert "urn:s2" not in canonicalize(crafted, safe=False)


def test_pyld_failures_become_canonicalization_errors() -> None:
    for document in (
        {"@context": V, "@id": "urn:x", "l": {"@list": [{"@id": "urn:a b"}]}},
        {"@context": V, "@graph": [{"@id": "@bar", "n": 1}, {"@id": "urn:y", "n": 2}]},
    ):
        with pytest.raises(CanonicalizationError):
            canonicalize(document, safe=False)


def test_an_index_map_is_named_where_it_is() -> None:
    document = {
        "@context": [V, {"byIndex": {"@id": "https://v.example/p", "@container": "@index"}}],
        "@id": "urn:x",
        "byIndex": {"shown but not signed": "a"},
    }
    with pytest.raises(SafeModeError) as caught:
        canonicalize(document)
    assert "shown but not signed" in caught.value.message and "not part of what RDF signs" in caught.value.message
    # a property-valued index (JSON-LD 1.1) is a property: in the RDF, and signed
    valued = {
        "@context": [
            V,
            {"byIndex": {"@id": "https://v.example/p", "@container": "@index", "@index": "https://v.example/key"}},
        ],
        "@id": "urn:x",
        "byIndex": {"signed": {"@id": "urn:y", "name": "b"}},
    }
    assert '<urn:y> <https://v.example/key> "signed" .' in canonicalize(valued)


def test_values_of_one_property_are_bounded_after_merging() -> None:
    """Node objects with one id are merged, and pyld compares each new value with every value
    the property already has: 64 subjects with one id and 64 values each took 65 s to verify."""
    from vccore.canon import MAX_VALUES_PER_PROPERTY

    half = MAX_VALUES_PER_PROPERTY // 2
    merged = {
        "@context": V,
        "@graph": [
            {"@id": "urn:x", "p": [f"a{i}" for i in range(half)]},
            {"@id": "urn:x", "p": [f"b{i}" for i in range(half + 1)]},
        ],
    }
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(merged)
    assert caught.value.code == "INPUT_TOO_LARGE" and caught.value.details["property"] == "https://v.example/p"
    canonicalize({**merged, "@graph": [merged["@graph"][0], {"@id": "urn:x", "p": [f"b{i}" for i in range(half)]}]})
    # blank nodes are each their own node; graphs keep their nodes apart
    apart = {
        "@context": V,
        "@graph": [{"p": [f"a{i}" for i in range(half + 1)]}, {"p": [f"b{i}" for i in range(half + 1)]}],
    }
    canonicalize(apart)


def test_a_request_budget_bounds_the_sum_of_its_documents() -> None:
    from vccore.canon import WorkBudget

    budget = WorkBudget(json_values=100)
    document = {"@context": V, "@id": "urn:x", "p": [f"a{i}" for i in range(40)]}
    canonicalize(document, budget=budget)
    canonicalize(document, budget=budget)
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(document, budget=budget)
    assert caught.value.code == "WORK_LIMIT"
    poison = _nquads.parse(_input("test074"))
    budget = WorkBudget(rdfc_work=5_000)
    with pytest.raises(CanonicalizationError) as caught:
        _rdfc10.canonicalize(poison, budget=budget)
    assert caught.value.code == "WORK_LIMIT" and budget.rdfc_work < 0


def test_input_bounds() -> None:
    from vccore.canon import MAX_ARRAY_LENGTH, MAX_JSON_VALUES

    long_array = {"@context": V, "@id": "urn:x", "p": [f"s{i}" for i in range(MAX_ARRAY_LENGTH + 1)]}
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(long_array)
    assert caught.value.code == "INPUT_TOO_LARGE" and caught.value.details["path"] == "p"
    canonicalize({**long_array, "p": long_array["p"][:MAX_ARRAY_LENGTH]})
    many = {"@context": V, "@id": "urn:x", **{f"p{i}": [1, 2] for i in range(MAX_JSON_VALUES // 3 + 1)}}
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(many)
    assert caught.value.code == "INPUT_TOO_LARGE"


# --- base direction, signed as Digital Bazaar's RDF suites sign it (issue 24) -------------------

_DIRECTED: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": "VerifiableCredential",
    "issuer": "did:example:issuer",
    "credentialSubject": {"id": "did:example:subject"},
    "name": {"@value": "\u0623\u062d\u0645\u062f", "@language": "AR-EG", "@direction": "rtl"},
}


def test_base_direction_goes_into_the_datatype_step_by_step() -> None:
    """rdfDirection i18n-datatype (JSON-LD 1.1 object to RDF step 13, as jsonld.js 9 under the
    eddsa-rdfc-2022 cryptosuite and jsonld-signatures 11): no language tag, and a datatype of
    the language (lower case) and the direction."""
    from vccore.canon import to_quads

    name = "<https://schema.org/name>"
    # 1. the dataset: the name's literal carries language and direction in its datatype
    quads = to_quads(_DIRECTED)
    literal = next(q[2] for q in quads if q[1] == name)
    assert literal == '"\u0623\u062d\u0645\u062f"^^<https://www.w3.org/ns/i18n#ar-eg_rtl>'
    assert _nquads.literal_value(literal) == ("\u0623\u062d\u0645\u062f", "https://www.w3.org/ns/i18n#ar-eg_rtl", None)
    # 2. the canonical N-Quads, byte for byte
    assert canonicalize(_DIRECTED) == (
        "_:c14n0 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://www.w3.org/2018/credentials#VerifiableCredential> .\n"
        '_:c14n0 <https://schema.org/name> "\u0623\u062d\u0645\u062f"^^<https://www.w3.org/ns/i18n#ar-eg_rtl> .\n'
        "_:c14n0 <https://www.w3.org/2018/credentials#credentialSubject> <did:example:subject> .\n"
        "_:c14n0 <https://www.w3.org/2018/credentials#issuer> <did:example:issuer> .\n"
    )
    # 3. flipping the direction changes what is signed; so does dropping it
    flipped = {**_DIRECTED, "name": {**_DIRECTED["name"], "@direction": "ltr"}}
    assert canonicalize(flipped) == canonicalize(_DIRECTED).replace("#ar-eg_rtl>", "#ar-eg_ltr>")
    undirected = {**_DIRECTED, "name": {"@value": _DIRECTED["name"]["@value"], "@language": "ar-EG"}}
    assert '"\u0623\u062d\u0645\u062f"@ar-eg .' in canonicalize(undirected)
    # 4. without a language, the datatype's language part is empty
    bare = {**_DIRECTED, "name": {"@value": "abc", "@direction": "ltr"}}
    assert '<https://schema.org/name> "abc"^^<https://www.w3.org/ns/i18n#_ltr> .' in canonicalize(bare)


def test_base_direction_is_refused_where_it_would_not_be_signed() -> None:
    from vccore.suites.ed25519_signature_2018 import transform_urdna2015

    # JSON-LD's default rdfDirection (null), as rdf-canonize 1.x under the 2018 suites has it
    with pytest.raises(SafeModeError) as caught:
        canonicalize(_DIRECTED, rdf_direction=None)
    assert caught.value.code == "DATA_LOSS"
    assert caught.value.details["path"] == "name.@direction"
    with pytest.raises(SafeModeError):
        transform_urdna2015(_DIRECTED, bundled_contexts())
    # ... outside safe mode, dropped as JSON-LD says
    assert canonicalize(_DIRECTED, safe=False, rdf_direction=None) == canonicalize(
        {**_DIRECTED, "name": {"@value": _DIRECTED["name"]["@value"], "@language": "ar-eg"}}
    )
    # a context's default direction reaches no RDF (pyld 3.3 and jsonld.js 9 alike)
    with pytest.raises(SafeModeError) as caught:
        canonicalize({**_DIRECTED, "@context": [*_DIRECTED["@context"], {"@direction": "rtl"}], "name": "a"})
    assert caught.value.details["path"] == "@context[1].@direction"
    # not a direction JSON-LD knows; a way of writing it vccore does not offer
    with pytest.raises(CanonicalizationError) as invalid:
        canonicalize({**_DIRECTED, "name": {"@value": "a", "@direction": "RTL"}})
    assert invalid.value.code == "JSONLD_ERROR"
    with pytest.raises(CanonicalizationError) as invalid:
        canonicalize(_DIRECTED, rdf_direction="compound-literal")  # type: ignore[arg-type]
    assert invalid.value.code == "JSONLD_ERROR"

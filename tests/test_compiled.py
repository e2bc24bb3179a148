"""The compiled path (vccore._compiled) against the reference path, byte for byte (issue #5)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vccore import Ed25519Key, Verifier, _rdfc10, bundled_entity_types, canonicalize, sign
from vccore._compiled import TIED, CompiledCredentials, CompiledShape, _JsonText, slot_token
from vccore.contexts import bundled_contexts
from vccore.issuer import Certified, Issuer
from vccore.store import SQLiteStore, credential_json
from vccore.suites import get_suite

HP = bundled_entity_types()["HealthProfessional"]
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2024, 1, 1, tzinfo=UTC)
# CI runs the differentials on thousands of payloads; a local run on a few hundred.
SCALE = 8 if os.environ.get("CI") else 1
CONFIGS = [
    ("2.0", "eddsa-rdfc-2022", False),
    ("2.0", "eddsa-rdfc-2022", True),
    ("1.1", "Ed25519Signature2020", False),
    ("1.1", "Ed25519Signature2020", True),
]


@pytest.fixture(scope="module")
def issuers(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Issuer]:
    out = {}
    for version, suite, _ in CONFIGS:
        folder = tmp_path_factory.mktemp(f"{version}-{suite}")
        out[(version, suite)] = Issuer(
            signer=KEY,
            store=SQLiteStore(folder / "s.db", status_url="https://issuer.example/status/"),
            vc_version=version,
            suite=suite,
        )
    return out


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
_dates = st.dates(min_value=datetime(1000, 1, 1).date(), max_value=datetime(9999, 12, 31).date()).map(
    lambda d: d.isoformat()
)


@st.composite
def _date_times(draw: Any) -> str:
    moment = draw(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = draw(st.sampled_from(["", ".1", ".121", ".000001", ".123456789"]))
    zone = draw(st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", "+14:00"]))
    return text + fraction + zone


_urls = st.one_of(
    st.sampled_from(
        [
            "http://www.india.gov.in",
            "https://example.org/a?b=c#d",
            "did:web:example.com",
            "urn:uuid:2c8b5a0e-0f3e-4a4a-9d6b-1f2a3b4c5d6e",
            "https://例え.jp/パス",
            "mailto:someone@example.org",
        ]
    ),
    st.from_regex(r"https://[a-z]{1,10}\.example/[A-Za-z0-9._~%-]{0,20}", fullmatch=True),
)
_FIELD_VALUES: dict[str, Any] = {
    "date": _dates,
    "date-time": _date_times(),
    "year": st.integers(1000, 9999).map(str),
    "uri": _urls,
}


@st.composite
def payloads(draw: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for spec_field in HP.fields:
        spec = HP.schema["properties"][spec_field.name]
        if not spec_field.required and draw(st.booleans()):
            continue  # absent optional fields
        if spec_field.name == "certificateId":
            payload[spec_field.name] = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True))
        elif spec_field.format in _FIELD_VALUES:
            payload[spec_field.name] = draw(_FIELD_VALUES[spec_field.format])
        else:
            text = draw(
                st.one_of(
                    _text,
                    st.sampled_from(
                        ['"', "\\", "{{name}}", "\x00\x07\x1b\x7f", "\u2028", "🩺💉", "a" * 256, " ", "\t\n\r"]
                    ),
                )
            )
            payload[spec_field.name] = text[: spec.get("maxLength", 10**6)] or "x"
    return payload


@settings(max_examples=300 * SCALE)
@given(payloads(), st.sampled_from(CONFIGS), st.integers(0, 3), st.integers(0, 131071))
def test_compiled_canonical_form_is_the_reference(
    issuers: dict[tuple[str, str], Issuer],
    payload: dict[str, Any],
    config: tuple[str, str, bool],
    status_list: int,
    index: int,
) -> None:
    version, suite_name, updating = config
    issuer = issuers[(version, suite_name)]
    compiled = issuer._compiled(HP, version, updating)
    assert compiled is not None
    values = HP.values(payload, issuer=KEY.controller, now=NOW)
    credential = HP.fill(values, vc_version=version)
    replaces = "614894628867" if updating else None
    issuer._add_status(credential, version, status_list, index, replaces)
    suite = get_suite(suite_name)
    if not suite.terms_defined_by(credential["@context"]):
        credential["@context"] = [*credential["@context"], suite.context]
    reference = canonicalize(credential, contexts=HP.context_loader())
    slots = {**values, "$list": str(status_list), "$index": str(index), "$replaces": replaces}
    assert compiled.document._canon is not None  # the shape's own RDFC-1.0 code is what runs
    fast = compiled.document.canonical(slots)
    if "://" in payload.get("issuer", "://"):
        assert fast == reference
        # the general RDFC-1.0 over the compiled quads agrees too
        quads = compiled.document.quads_for(slots)
        assert quads is not None and "".join(_rdfc10.canonicalize(quads)[0]) == reference
    else:  # a URL that could be a compact IRI ("did:", "urn:"): the reference path decides
        assert fast is None
    _check_read(compiled.document, slots)
    # the credential built straight from the compiled shape is the template's, to the byte
    rendered = compiled.render(slots)
    assert rendered is not None
    assert json.dumps(rendered[0], ensure_ascii=False) == json.dumps(credential, ensure_ascii=False)
    # and its compact JSON, written around the values, is json.dumps's, to the byte
    assert compiled.json_text(rendered[1]) == credential_json(credential)


@settings(max_examples=60)
@given(payloads(), st.sampled_from(CONFIGS[::2]))
def test_compiled_issuance_signs_the_same_bytes(
    issuers: dict[tuple[str, str], Issuer], payload: dict[str, Any], config: tuple[str, str, bool]
) -> None:
    version, suite_name, _ = config
    issuer = issuers[(version, suite_name)]
    payload = {k: v for k, v in payload.items() if k != "certificateId"}
    certified = issuer.certify(HP, payload, now=NOW)
    unsigned = {k: v for k, v in certified.credential.items() if k != "proof"}
    reference = sign(unsigned, KEY, suite=suite_name, created=NOW, contexts=HP.context_loader())
    assert reference == certified.credential  # the reference path gives the very same signature
    result = Verifier.create().verify(certified.credential, now=NOW)
    assert [p.verified for p in result.proofs] == [True]  # (the generated dates may be long past)
    assert set(result.codes) <= {"EXPIRED", "NOT_YET_VALID"}


def _check_read(shape: CompiledShape, slots: dict[str, Any]) -> None:
    """What a verifier reads (the quads and the canonical form at once) is what the shape's quads
    code and canonicalizer give one after the other: the same quads, in the same order."""
    present = shape._present(slots)
    assert present is not None and shape._canon is not None and shape._read is not None
    emitted, canonical = shape._emit(present), shape._canon(present)
    if emitted is None or canonical is None:
        assert shape.read(slots) is None
    else:
        assert shape.read(slots) == (emitted, canonical if isinstance(canonical, str) else None)


@settings(max_examples=40)
@given(st.lists(payloads(), min_size=1, max_size=4), st.sampled_from(CONFIGS[::2]))
def test_a_batch_writes_the_credential_as_json_dumps_does(
    issuers: dict[tuple[str, str], Issuer], batch: list[dict[str, Any]], config: tuple[str, str, bool]
) -> None:
    """certify_batch's JSON (what the store and the batch's output hold) is written from the
    compiled shape's text; it is the signed credential's compact JSON, to the byte."""
    issuer = issuers[config[:2]]
    batch = [{k: v for k, v in payload.items() if k != "certificateId"} for payload in batch]
    for result in issuer.certify_batch(HP, batch, now=NOW):
        assert isinstance(result, Certified)
        assert result._json is not None
        assert result.credential_json() == credential_json(result.credential)
        assert issuer.store.get(result.certificate_id).credential == result.credential


def test_a_template_text_holding_the_marks_is_dumped_instead(issuers: dict[tuple[str, str], Issuer]) -> None:
    """The text around the values is worked out with marks (private-use characters); a shape
    whose own text holds one is not written that way, and its credentials are dumped."""
    compiled = issuers[("2.0", "eddsa-rdfc-2022")]._compiled(HP, "2.0", False)
    assert compiled is not None
    render = compiled._render

    def marked(values: Any) -> Any:
        credential = render(values)
        return None if credential is None else {**credential, "description": "\ue0020\ue003"}

    present = {slot: "x" for slot in compiled.placed if slot != "$replaces"}
    assert _JsonText.build(render, present) is not None
    assert _JsonText.build(marked, present) is None


def test_the_compiled_path_is_taken(issuers: dict[tuple[str, str], Issuer], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issuing the example calls no JSON-LD processing at all once the shape is compiled."""
    from vccore.suites import _base

    issuer = issuers[("2.0", "eddsa-rdfc-2022")]
    assert HP.example is not None
    payload = {k: v for k, v in HP.example.items() if k != "certificateId"}
    issuer.certify(HP, payload, now=NOW)  # compiles
    calls: list[Any] = []
    real = _base.canonicalize
    monkeypatch.setattr(_base, "canonicalize", lambda *a, **k: calls.append(a) or real(*a, **k))
    issuer.certify(HP, payload, now=NOW + timedelta(seconds=1))
    assert calls == []


@pytest.mark.parametrize(
    ("field_name", "value"),
    [("issuer", "schema:foo"), ("issuer", "hp:x"), ("issuer", "did:example:x\u00a0"), ("issuer", "relative/path")],
)
def test_values_the_compiled_path_cannot_vouch_for_go_the_reference_way(
    issuers: dict[tuple[str, str], Issuer], field_name: str, value: str
) -> None:
    compiled = issuers[("2.0", "eddsa-rdfc-2022")]._compiled(HP, "2.0", False)
    assert compiled is not None
    assert HP.example is not None
    values = {
        **HP.example,
        field_name: value,
        "$issuer": KEY.controller,
        "$now": "2024-01-01T00:00:00Z",
        "$list": "0",
        "$index": "1",
    }
    if value.startswith(("schema:", "hp:")):
        # a compact IRI the context would expand: the compiled form must not write it as it is
        fast = compiled.document.canonical(values)
        assert fast is None or f"<{value}>" not in fast
    else:
        assert compiled.document.canonical(values) is None


_VOCAB = {"@vocab": "https://vocab.example/"}


@settings(max_examples=150)
@given(st.lists(st.sampled_from(["a", "b", "", "\n", "é"]), min_size=3, max_size=3))
def test_blank_nodes_that_hash_alike_go_to_the_general_algorithm(values: list[str]) -> None:
    """Two friends with the same name have the same first-degree hash: the shape's own code
    gives way to Hash N-Degree Quads, and the result is still the reference's."""
    probe = {"@context": _VOCAB, "title": slot_token(2), "knows": [{"name": slot_token(0)}, {"name": slot_token(1)}]}
    shape = CompiledShape.compile(probe, {0: "x", 1: "y", 2: "z"}, contexts=bundled_contexts())
    assert shape is not None and shape._canon is not None
    slots = dict(zip("xyz", values, strict=True))
    assert (shape._canon(slots) is TIED) == (slots["x"] == slots["y"])
    _check_read(shape, slots)
    document = {"@context": _VOCAB, "title": slots["z"], "knows": [{"name": slots["x"]}, {"name": slots["y"]}]}
    assert shape.canonical(slots) == canonicalize(document)


@settings(max_examples=60)
@given(st.sampled_from(["a", "b"]), st.sampled_from(["a", "b"]))
def test_quads_that_may_coincide_are_left_to_the_general_algorithm(first: str, second: str) -> None:
    """Two slots of one property: equal values make one quad, which RDF keeps once."""
    probe = {"@context": _VOCAB, "@id": "urn:x", "name": [slot_token(0), slot_token(1)]}
    shape = CompiledShape.compile(probe, {0: "x", 1: "y"}, contexts=bundled_contexts())
    assert shape is not None and shape._canon is None and shape._read is None
    document = {"@context": _VOCAB, "@id": "urn:x", "name": [first, second]}
    assert shape.canonical({"x": first, "y": second}) == canonicalize(document)
    # a verifier gets the quads, and runs the general RDFC-1.0 itself
    assert shape.read({"x": first, "y": second}) == (shape.quads_for({"x": first, "y": second}), None)


def test_jcs_has_nothing_to_compile(tmp_path: Path) -> None:
    issuer = Issuer(signer=KEY, store=SQLiteStore(tmp_path / "j.db"), suite="eddsa-jcs-2022")
    assert issuer._compiled(HP, "2.0", False) is None


def _mutations(credential: dict[str, Any], data: Any) -> dict[str, Any]:
    import copy

    changed = copy.deepcopy(credential)
    kind = data.draw(st.sampled_from(["value", "drop", "add", "status", "context", "type", "proof", "none"]))
    if kind == "value":
        field_name = data.draw(st.sampled_from(sorted(changed["evidence"])))
        changed["evidence"][field_name] = data.draw(st.one_of(_text, st.integers(), st.none()))
    elif kind == "drop":
        keys = [k for k in changed["credentialSubject"] if k != "type"]
        if keys:
            del changed["credentialSubject"][data.draw(st.sampled_from(keys))]
    elif kind == "add":
        changed["credentialSubject"][data.draw(st.sampled_from(["name2", "gender", "birthDate", "@id"]))] = "x"
    elif kind == "status":
        changed["credentialStatus"][0]["statusListIndex"] = data.draw(st.sampled_from(["0", "1", "131071", "x"]))
    elif kind == "context":
        changed["@context"] = list(reversed(changed["@context"]))
    elif kind == "type":
        changed["type"] = list(reversed(changed["type"]))
    elif kind == "proof":
        changed["proof"]["created"] = "2024-01-01T00:00:01Z"
    return changed


def _warm(verifier: Verifier, issuer: Issuer) -> Verifier:
    """A verifier that has compiled the issuer's HealthProfessional shape (on second sight)."""
    assert HP.example is not None
    credential = issuer.certify(HP, {k: v for k, v in HP.example.items() if k != "certificateId"}, now=NOW).credential
    for _ in range(2):
        assert verifier.verify(credential, now=NOW).proofs[0].verified
    assert any(isinstance(v[0], CompiledCredentials) for v in verifier._shapes.compiled.values())
    return verifier


@pytest.fixture(scope="module")
def compiled_verifiers(issuers: dict[tuple[str, str], Issuer]) -> dict[tuple[str, str], Verifier]:
    return {config: _warm(Verifier.create(), issuer) for config, issuer in issuers.items()}


@settings(max_examples=120 * SCALE)
@given(payloads(), st.data(), st.sampled_from([("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")]))
def test_compiled_verification_agrees_with_reference(
    issuers: dict[tuple[str, str], Issuer],
    compiled_verifiers: dict[tuple[str, str], Verifier],
    payload: dict[str, Any],
    data: Any,
    config: tuple[str, str],
) -> None:
    issuer = issuers[config]
    payload = {k: v for k, v in payload.items() if k != "certificateId"}
    credential = issuer.certify(HP, payload, now=NOW).credential
    candidate = _mutations(credential, data)
    compiled = compiled_verifiers[config].verify(candidate, now=NOW)
    reference = Verifier.create(entity_types={}).verify(candidate, now=NOW)
    assert (compiled.verified, compiled.codes) == (reference.verified, reference.codes)
    assert [p.verified for p in compiled.proofs] == [p.verified for p in reference.proofs]


def test_compiled_verification_takes_no_jsonld(
    issuers: dict[tuple[str, str], Issuer], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from vccore import _compiled as compiled_module
    from vccore import canon
    from vccore.suites import _base

    verify_modules = [
        importlib.import_module(f"vccore.verify.{name}") for name in ("verifier", "_proofs", "data_model")
    ]
    issuer = issuers[("2.0", "eddsa-rdfc-2022")]
    assert HP.example is not None
    payload = {k: v for k, v in HP.example.items() if k != "certificateId"}
    verifier = _warm(Verifier.create(), issuer)
    calls: list[Any] = []
    for module, name in (
        (_base, "canonicalize"),
        (compiled_module, "to_quads"),
        *((m, "to_quads") for m in verify_modules),
        (canon, "to_quads"),
    ):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, **k: calls.append(a) or _real(*a, **k))
    assert verifier.verify(issuer.certify(HP, payload, now=NOW).credential, now=NOW).verified
    assert calls == []


def test_a_status_entry_cannot_be_pointed_elsewhere(
    issuers: dict[tuple[str, str], Issuer], compiled_verifiers: dict[tuple[str, str], Verifier]
) -> None:
    """The three entries share one position: changing one of them (and the next entry's id to
    match) must break the signature, on the compiled path as on the reference one."""
    import copy

    for config in (("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")):
        issuer = issuers[config]
        assert HP.example is not None
        credential = issuer.certify(
            HP, {k: v for k, v in HP.example.items() if k != "certificateId"}, now=NOW
        ).credential
        forged = copy.deepcopy(credential)
        index = str(int(forged["credentialStatus"][0]["statusListIndex"]) ^ 1)
        forged["credentialStatus"][0]["statusListIndex"] = index
        forged["credentialStatus"][1]["id"] = forged["credentialStatus"][1]["id"].rsplit("#", 1)[0] + "#" + index
        assert compiled_verifiers[config].verify(forged, now=NOW).codes == ("PROOF_VERIFICATION_ERROR",)


def test_a_verifier_without_the_types_contexts_does_not_compile_them(issuers: dict[tuple[str, str], Issuer]) -> None:
    from vccore import bundled_contexts

    issuer = issuers[("2.0", "eddsa-rdfc-2022")]
    assert HP.example is not None
    credential = issuer.certify(HP, {k: v for k, v in HP.example.items() if k != "certificateId"}, now=NOW).credential
    core = bundled_contexts()
    plain = type(core).from_directory(Path(__file__).resolve().parent.parent / "contexts")
    verifier = Verifier.create(contexts=plain)
    for _ in range(3):
        assert verifier.verify(credential, now=NOW).codes == ("PROOF_TRANSFORMATION_ERROR",)


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=12), st.text(max_size=12), st.sampled_from(["ltr", "rtl"]), st.sampled_from(["ar", "EN-us", ""])
)
def test_a_value_with_a_base_direction_compiles_to_the_reference_form(
    name: str, title: str, direction: str, language: str
) -> None:
    """The direction (with the language) is in the literal's datatype, constant for the shape: the
    slot holds only the text, and the compiled form is the reference's byte for byte."""

    def directed(value: str) -> dict[str, Any]:
        return {"@value": value, "@direction": direction, **({"@language": language} if language else {})}

    probe = {"@context": _VOCAB, "@id": "urn:x", "name": directed(slot_token(0)), "title": slot_token(1)}
    shape = CompiledShape.compile(probe, {0: "n", 1: "t"}, contexts=bundled_contexts())
    assert shape is not None
    document = {"@context": _VOCAB, "@id": "urn:x", "name": directed(name), "title": title}
    expected = canonicalize(document)
    assert f"^^<https://www.w3.org/ns/i18n#{language.lower()}_{direction}> ." in expected
    assert shape.canonical({"n": name, "t": title}) == expected

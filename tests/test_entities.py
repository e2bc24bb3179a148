"""Entity types: loading checks, payload validation, structural rendering, issuing (issue #3)."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vccore import Ed25519Key, Verifier, canonicalize, verify
from vccore.entities import EntityType, EntityTypeError, bundled_entity_types, load_entity_types
from vccore.issuer import issue
from vccore.payloads import PayloadError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
HP = bundled_entity_types()["HealthProfessional"]
VAX = bundled_entity_types()["VaccinationCertificate"]
SEED = (
    json.loads(
        (ROOT.parent / "shared/seed/update-certificates-api.txt")
        .read_text()
        .split("Request Body")[1]
        .split("Response Json")[0]
    )
    if (ROOT.parent / "shared/seed").is_dir()
    else None
)
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2024, 1, 1, tzinfo=UTC)  # inside the seed payload's validity
CONFIGS = [("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")]


def test_the_bundled_example_is_the_seed_payload() -> None:
    assert HP.example is not None
    if SEED is not None:  # the shared folder is a sibling of the checkout on developer machines
        assert HP.example == SEED
    assert set(HP.example) == {f.name for f in HP.fields}


@pytest.mark.parametrize(("vc", "suite"), CONFIGS)
def test_seed_issues_and_verifies(vc: str, suite: str) -> None:
    assert HP.example is not None
    credential = issue("HealthProfessional", HP.example, signer=KEY, vc_version=vc, suite=suite, now=NOW)
    result = verify(credential, now=NOW)
    assert result.verified, result.problems
    assert credential["issuer"] == {"id": KEY.controller, "url": "http://www.india.gov.in"}
    assert credential["evidence"]["certificateId"] == "614894628867"
    if vc == "2.0":
        assert (credential["validFrom"], credential["validUntil"]) == (
            "2023-09-09T21:01:01.121Z",
            "2025-09-09T21:01:01.121Z",
        )
    else:
        assert (credential["issuanceDate"], credential["expirationDate"]) == (
            "2023-09-09T21:01:01.121Z",
            "2025-09-09T21:01:01.121Z",
        )
    # the same inputs give the same bytes
    assert issue("HealthProfessional", HP.example, signer=KEY, vc_version=vc, suite=suite, now=NOW) == credential


def _rdf_form(field_name: str, value: Any, entity: EntityType) -> str:
    """How a payload value appears in canonical N-Quads, from its schema format."""
    spec = entity.schema["properties"][field_name]
    fmt = spec.get("format")
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else f'"{value}"'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'"{value}"^^<http://www.w3.org/2001/XMLSchema#integer>'
    if fmt == "uri" and field_name in ("issuer", "recipientIdentifier", "evidenceId"):
        return f"<{value}>"
    xsd = {"date": "date", "year": "gYear", "date-time": "dateTime"}.get(fmt) if entity is HP else None
    return f"{text}^^<http://www.w3.org/2001/XMLSchema#{xsd}>" if xsd else text


@pytest.mark.parametrize(("vc", "suite"), CONFIGS)
def test_every_payload_field_is_in_the_signed_rdf(vc: str, suite: str) -> None:
    assert HP.example is not None
    credential = issue(HP, HP.example, signer=KEY, vc_version=vc, suite=suite, now=NOW)
    nquads = canonicalize({k: v for k, v in credential.items() if k != "proof"}, contexts=HP.context_loader())
    for field_name, value in HP.example.items():
        assert _rdf_form(field_name, value, HP) in nquads, field_name
    assert "<http://www.w3.org/2001/XMLSchema#string>" not in nquads


def test_vaccination_certificate_in_divoc_shape() -> None:
    assert VAX.example is not None
    assert VAX.suites == ("eddsa-jcs-2022",)  # DIVOC's context makes RDF signatures ambiguous
    with pytest.raises(EntityTypeError) as caught:
        issue(VAX, VAX.example, signer=KEY, vc_version="1.1", suite="Ed25519Signature2020", now=NOW)
    assert caught.value.code == "UNSUPPORTED_SUITE"
    credential = issue(VAX, VAX.example, signer=KEY, vc_version="1.1", suite="eddsa-jcs-2022", now=NOW)
    assert verify(credential, now=NOW).verified
    # swapping dose and totalDoses changes the RDF not at all, the JSON signature does see it
    swapped = copy.deepcopy(credential)
    swapped["evidence"][0]["dose"], swapped["evidence"][0]["totalDoses"] = 2, 1
    assert not verify(swapped, now=NOW).verified
    assert credential["@context"][1] == "https://divoc.dev/credentials/vaccination/v1"
    assert credential["evidence"][0]["dose"] == 1 and credential["nonTransferable"] == "true"
    nquads = canonicalize({k: v for k, v in credential.items() if k != "proof"}, contexts=VAX.context_loader())
    for field_name, value in VAX.example.items():
        if field_name != "issuanceDate":  # DIVOC's v1 context has it as the VC's own issuanceDate
            assert _rdf_form(field_name, value, VAX) in nquads, field_name
    with pytest.raises(EntityTypeError):
        issue(VAX, VAX.example, signer=KEY, vc_version="2.0", suite="eddsa-jcs-2022")


def test_the_bundled_schemas_are_json_schema_and_load_without_jsonschema() -> None:
    """Loading the bundled types does not check their schemas against JSON Schema's meta-schema
    (jsonschema's import was 40 ms of every start): this test does, for every one of them, and a
    type given by its folder is still checked as it loads."""
    import subprocess
    import sys

    from jsonschema import Draft202012Validator

    from vccore.entities import data_dir

    for entity in bundled_entity_types().values():
        Draft202012Validator.check_schema(entity.schema)
        assert EntityType.from_directory(data_dir("templates") / entity.name) == entity
    probe = (
        "import sys, vccore; from vccore import Verifier, bundled_entity_types, issue, Ed25519Key; "
        "hp = bundled_entity_types()['HealthProfessional']; Verifier.create(); "
        "issue('HealthProfessional', hp.example, signer=Ed25519Key.from_seed(bytes(32))); "
        "print('jsonschema' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
    # a payload the quick check cannot pass asks jsonschema, as before
    assert HP.example is not None
    assert _problems({**HP.example, "name": 3}) == {("/name", "WRONG_TYPE")}


def test_a_vc_version_is_a_vcversion_or_its_value(tmp_path: Path) -> None:
    """issue, Issuer and EntityType take a VCVersion or its value, to the same credential; the
    templates are keyed by VCVersion, and a verifier reads one back; an unknown version is
    refused by name before anything is signed."""
    from vccore import SQLiteStore, VCVersion
    from vccore.issuer import Issuer
    from vccore.verify import check_unsigned

    assert HP.example is not None
    assert set(HP.templates) == set(VCVersion) and all(type(version) is VCVersion for version in HP.templates)
    for vc, suite in CONFIGS:
        version = VCVersion(vc)
        by_member = issue(HP, HP.example, signer=KEY, vc_version=version, suite=suite, now=NOW)
        assert by_member == issue(HP, HP.example, signer=KEY, vc_version=vc, suite=suite, now=NOW)
        assert by_member["@context"][0] == version.context
        assert HP.render(HP.example, issuer=KEY.controller, now=NOW, vc_version=version) == HP.render(
            HP.example, issuer=KEY.controller, now=NOW, vc_version=vc
        )
        unsigned = check_unsigned({k: v for k, v in by_member.items() if k != "proof"}, HP.context_loader())
        assert unsigned.version is version
    store = SQLiteStore(tmp_path / "s.db", status_url="https://issuer.example/status/")
    assert Issuer(signer=KEY, store=store, vc_version="1.1").vc_version is VCVersion.V1_1
    for call in (
        lambda: issue(HP, HP.example, signer=KEY, vc_version="3.0"),
        lambda: Issuer(signer=KEY, store=store, vc_version="3.0"),
        lambda: HP.fill({}, vc_version="3.0"),
    ):
        with pytest.raises(ValueError, match=r"^unknown VC version '3\.0' \(known: 2\.0, 1\.1\)$"):
            call()
    assert store.count() == 0


def test_fields_sharing_a_predicate_are_found_at_load(tmp_path: Path) -> None:
    folder = _copy_type(tmp_path, "VaccinationCertificate")
    _edit_json(folder / "entity.json", lambda m: m.pop("suites"))
    with pytest.raises(EntityTypeError) as caught:
        EntityType.from_directory(folder)
    groups = {frozenset(group) for group in caught.value.details["shared"]}
    assert frozenset({"dose", "totalDoses"}) in groups
    assert frozenset({"vaccinationDate", "effectiveStart", "effectiveUntil"}) in groups


# --- validation --------------------------------------------------------------------------------


def _problems(payload: Any, entity: EntityType = HP) -> set[tuple[str, str]]:
    suite = entity.suites[0] if entity.suites else "eddsa-rdfc-2022"
    version = "2.0" if "2.0" in entity.templates else "1.1"
    with pytest.raises(PayloadError) as caught:
        issue(entity, payload, signer=KEY, now=NOW, suite=suite, vc_version=version)
    return {(p.pointer, p.reason) for p in caught.value.problems}


@pytest.mark.parametrize("field_name", [f.name for f in HP.fields])
def test_each_field_missing(field_name: str) -> None:
    assert HP.example is not None
    payload = {k: v for k, v in HP.example.items() if k != field_name}
    required = next(f.required for f in HP.fields if f.name == field_name)
    if required:
        assert _problems(payload) == {(f"/{field_name}", "MISSING")}
    else:  # optional: issued without it, and nothing is written in its place
        credential = issue(HP, payload, signer=KEY, now=NOW)
        assert verify(credential, now=NOW).verified
        assert "{{" not in json.dumps(credential) and '""' not in json.dumps(credential)


@pytest.mark.parametrize("field_name", [f.name for f in HP.fields])
@pytest.mark.parametrize("wrong", [5, None, True, ["x"], {"x": 1}])
def test_each_field_of_the_wrong_type(field_name: str, wrong: Any) -> None:
    assert HP.example is not None
    assert _problems({**HP.example, field_name: wrong}) == {(f"/{field_name}", "WRONG_TYPE")}


@pytest.mark.parametrize(
    ("field_name", "value", "reason"),
    [
        ("dob", "1991-02-30", "BAD_DATE"),
        ("dob", "29/11/1991", "BAD_DATE"),
        ("dob", "1991-11-29T00:00:00Z", "BAD_DATE"),
        ("registrationDate", "2023-1-9", "BAD_DATE"),
        ("degreeYear", "19", "BAD_DATE"),
        ("validFrom", "2023-09-09", "BAD_DATE"),
        ("validFrom", "2023-09-09T21:01:01", "BAD_DATE"),
        ("validTill", "2025-13-09T21:01:01Z", "BAD_DATE"),
        ("issuanceDate", "yesterday", "BAD_DATE"),
        ("issuer", "www.india.gov.in", "NOT_A_URL"),
        ("issuer", "http://www.india .gov.in", "NOT_A_URL"),
        ("certificateId", "12 34", "INVALID_VALUE"),
        ("name", "", "INVALID_VALUE"),
    ],
)
def test_malformed_values(field_name: str, value: str, reason: str) -> None:
    assert HP.example is not None
    assert _problems({**HP.example, field_name: value}) == {(f"/{field_name}", reason)}


def test_every_problem_at_once() -> None:
    payload = {"name": 7, "dob": "1991-13-01", "registrationId": "r", "issuer": "nope", "extra": 1, "other": 2}
    assert _problems(payload) == {
        ("/name", "WRONG_TYPE"),
        ("/dob", "BAD_DATE"),
        ("/issuer", "NOT_A_URL"),
        ("/extra", "UNKNOWN_FIELD"),
        ("/other", "UNKNOWN_FIELD"),
        ("/registrationCouncil", "MISSING"),
        ("/certificateId", "MISSING"),
    }
    assert _problems([1, 2]) == {("", "WRONG_TYPE")}


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return None


_FREE_TEXT = [
    f.name
    for f in HP.fields
    if f.type == "string" and not f.format and "pattern" not in HP.schema["properties"][f.name]
]
_nasty = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40),
    st.sampled_from(
        [
            "{{name}}",
            "{{$issuer}}",
            '"}, "issuer": "did:example:evil',
            "\\u0000",
            "\x00\x07\x1b\x7f",
            "{}",
            "[]",
            '{"@id": "x"}',
            "@id",
            "\u202e\u2028",
        ]
    ),
)


@given(st.dictionaries(st.sampled_from(_FREE_TEXT), _nasty, min_size=1))
def test_payload_values_fill_slots_and_change_nothing_else(values: dict[str, str]) -> None:
    assert HP.example is not None
    payload = {
        **HP.example,
        **{k: v for k, v in values.items() if len(v) <= HP.schema["properties"][k].get("maxLength", 10**9)},
    }
    credential = issue(HP, payload, signer=KEY, now=NOW)
    reference = issue(HP, HP.example, signer=KEY, now=NOW)
    assert _shape(credential) == _shape(reference)
    assert verify(credential, now=NOW).verified
    for key, value in payload.items():
        if key in _FREE_TEXT:
            placed = credential["credentialSubject"].get(key) or credential["evidence"].get(key)
            assert placed == value


# --- loading checks ------------------------------------------------------------------------------


def _copy_type(tmp_path: Path, name: str = "HealthProfessional") -> Path:
    target = tmp_path / name
    shutil.copytree(TEMPLATES / name, target)
    return target


def _edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t["credentialSubject"].update(nickname="{{name}}"), "does not canonicalize"),
        (lambda t: t["credentialSubject"].update(name="{{fullName}}"), "neither a schema field"),
        (lambda t: t["credentialSubject"].update(name="Dr. {{name}}"), "whole value"),
        (lambda t: t["credentialSubject"].pop("gender"), "never placed"),
        (lambda t: t.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}), "starts with"),
    ],
)
def test_template_errors_are_found_when_the_type_loads(tmp_path: Path, change: Any, words: str) -> None:
    folder = _copy_type(tmp_path)
    _edit_json(folder / "credential-v2.json", change)
    with pytest.raises(EntityTypeError) as caught:
        EntityType.from_directory(folder)
    assert words in caught.value.message
    assert caught.value.details["file"] == "credential-v2.json"


def test_context_digest_is_checked(tmp_path: Path) -> None:
    folder = _copy_type(tmp_path)
    (folder / "context.jsonld").write_text(
        (folder / "context.jsonld").read_text().replace("hp:university", "hp:college")
    )
    with pytest.raises(EntityTypeError) as caught:
        EntityType.from_directory(folder)
    assert "sha256" in caught.value.message


def test_bad_example_and_bad_schema(tmp_path: Path) -> None:
    folder = _copy_type(tmp_path)
    _edit_json(folder / "example-payload.json", lambda p: p.update(dob="soon"))
    with pytest.raises(EntityTypeError) as caught:
        EntityType.from_directory(folder)
    assert "example" in caught.value.message
    folder = _copy_type(tmp_path / "b")
    _edit_json(folder / "schema.json", lambda s: s.update(type=5))
    with pytest.raises(EntityTypeError) as caught:
        EntityType.from_directory(folder)
    assert "the schema is not valid JSON Schema: 5 is not valid under any of the given schemas" in caught.value.message
    with pytest.raises(EntityTypeError) as caught:  # a folder given to load_entity_types is checked too
        load_entity_types(folder, bundled=False)
    assert "not valid JSON Schema" in caught.value.message


NEW_TYPE = {
    "entity.json": {
        "name": "TestResult",
        "description": "A lab test result, added as a folder by a test.",
        "schema": "schema.json",
        "templates": {"2.0": "credential.json"},
        "contexts": [{"url": "https://lab.example/contexts/test-result/v1", "file": "context.jsonld", "sha256": None}],
        "defaults": {"issued": "$now"},
    },
    "schema.json": {
        "type": "object",
        "additionalProperties": False,
        "required": ["patient", "result", "sampledAt"],
        "properties": {
            "patient": {"type": "string", "examples": ["Ravi Kumar"]},
            "result": {"enum": ["positive", "negative"]},
            "sampledAt": {"type": "string", "format": "date-time", "examples": ["2024-01-01T10:00:00Z"]},
            "issued": {"type": "string", "format": "date-time"},
        },
    },
    "credential.json": {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://lab.example/contexts/test-result/v1"],
        "type": ["VerifiableCredential", "TestResultCredential"],
        "issuer": "{{$issuer}}",
        "validFrom": "{{issued}}",
        "credentialSubject": {"type": "Patient", "patientName": "{{patient}}"},
        "evidence": {"type": "LabTest", "outcome": "{{result}}", "sampledAt": "{{sampledAt}}"},
    },
    "context.jsonld": {
        "@context": {
            "@protected": True,
            "lab": "https://lab.example/vocab#",
            "TestResultCredential": "lab:TestResultCredential",
            "Patient": "lab:Patient",
            "LabTest": "lab:LabTest",
            "patientName": "lab:patientName",
            "outcome": "lab:outcome",
            "sampledAt": {"@id": "lab:sampledAt", "@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
        }
    },
}


def _write_new_type(root: Path) -> Path:
    import hashlib

    folder = root / "TestResult"
    folder.mkdir(parents=True)
    files = copy.deepcopy(NEW_TYPE)
    context = json.dumps(files.pop("context.jsonld"), indent=2).encode()
    (folder / "context.jsonld").write_bytes(context)
    files["entity.json"]["contexts"][0]["sha256"] = hashlib.sha256(context).hexdigest()
    for name, data in files.items():
        (folder / name).write_text(json.dumps(data, indent=2))
    return folder


def test_a_new_entity_type_is_a_folder(tmp_path: Path) -> None:
    _write_new_type(tmp_path / "types")
    types = load_entity_types(tmp_path / "types")
    assert {"HealthProfessional", "VaccinationCertificate", "TestResult"} <= set(types)
    payload = {"patient": 'Ravi "Kumar" {{x}}', "result": "negative", "sampledAt": "2024-01-01T10:00:00Z"}
    credential = issue("TestResult", payload, signer=KEY, now=NOW, entity_types=types)
    assert credential["validFrom"] == "2024-01-01T00:00:00Z"  # the $now default
    verifier = Verifier.create(contexts=types["TestResult"].context_loader())
    assert verifier.verify(credential, now=NOW).verified
    assert _problems({**payload, "result": "maybe"}, types["TestResult"]) == {("/result", "INVALID_VALUE")}


_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_FORMATS = {f.name: f.format for f in HP.fields}
_REQUIRED = {f.name for f in HP.fields if f.required}


@given(
    drop=st.sets(st.sampled_from([f.name for f in HP.fields])),
    retype=st.dictionaries(st.sampled_from([f.name for f in HP.fields]), _json_values, max_size=4),
    extra=st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda k: k not in _FORMATS), _json_values, max_size=2
    ),
)
def test_generated_bad_payloads_are_each_reported(
    drop: set[str], retype: dict[str, Any], extra: dict[str, Any]
) -> None:
    assert HP.example is not None
    payload = {k: v for k, v in HP.example.items() if k not in drop}
    payload.update(retype)
    payload.update(extra)
    expected = {(f"/{k}", "MISSING") for k in _REQUIRED if k not in payload}
    expected |= {(f"/{k.replace('~', '~0').replace('/', '~1')}", "UNKNOWN_FIELD") for k in extra}
    for key, value in retype.items():
        if not isinstance(value, str):
            expected.add((f"/{key}", "WRONG_TYPE"))
    problems = HP.validate(payload)
    found = {(p.pointer, p.reason) for p in problems}
    # strings put in place of other strings may or may not be valid for their format/pattern
    assert expected <= found
    assert all(reason in ("BAD_DATE", "NOT_A_URL", "INVALID_VALUE") for pointer, reason in found - expected)
    if not found:
        credential = issue(HP, payload, signer=KEY, now=NOW)
        assert verify(credential, now=NOW).verified
    else:
        with pytest.raises(PayloadError):
            issue(HP, payload, signer=KEY, now=NOW)


@pytest.mark.parametrize(
    ("field_name", "value", "reason"),
    [
        ("certificateId", "ABC\n", "INVALID_VALUE"),
        ("degreeYear", "2019\n", "BAD_DATE"),
        ("degreeYear", "\u0662\u0660\u0661\u0669", "BAD_DATE"),
        ("dob", "\u0661\u0669\u0669\u0661-11-29", "BAD_DATE"),
        ("issuer", "http://www.india.gov.in\n", "NOT_A_URL"),
        ("issuer", "http://www.india.gov.in/\x01", "NOT_A_URL"),
        ("name", "lone \ud800", "INVALID_VALUE"),
    ],
)
def test_what_would_fail_at_signing_fails_validation(field_name: str, value: str, reason: str) -> None:
    assert HP.example is not None
    assert (f"/{field_name}", reason) in _problems({**HP.example, field_name: value})


def test_schemas_must_be_flat_and_closed(tmp_path: Path) -> None:
    folder = _copy_type(tmp_path)
    _edit_json(folder / "schema.json", lambda s: s["properties"]["name"].update(type="object"))
    with pytest.raises(EntityTypeError) as caught:
        EntityType.from_directory(folder)
    assert "name" in caught.value.message
    folder = _copy_type(tmp_path / "b")
    _edit_json(folder / "schema.json", lambda s: s.pop("additionalProperties"))
    with pytest.raises(EntityTypeError) as caught:
        EntityType.from_directory(folder)
    assert "additionalProperties" in caught.value.message


def test_payload_ids_cannot_merge_nodes() -> None:
    assert VAX.example is not None
    clash = {
        **VAX.example,
        "recipientIdentifier": "https://cowin.gov.in/vaccine/1",
        "evidenceId": "https://cowin.gov.in/vaccine/1",
    }
    problems = _problems(clash, VAX)
    assert ("/recipientIdentifier", "INVALID_VALUE") in problems and ("/evidenceId", "INVALID_VALUE") in problems
    assert ("/recipientIdentifier", "INVALID_VALUE") in _problems(
        {**VAX.example, "recipientIdentifier": KEY.controller}, VAX
    )


def test_objects_emptied_by_absent_fields_are_dropped() -> None:
    assert VAX.example is not None
    payload = {k: v for k, v in VAX.example.items() if not k.startswith("recipientAddress") and k != "verifierName"}
    credential = VAX.render(payload, issuer=KEY.controller, now=NOW, vc_version="1.1")
    assert "address" not in credential["credentialSubject"] and "verifier" not in credential["evidence"][0]
    assert "address" in credential["evidence"][0]["facility"]


def test_the_lifecycle_shape_is_checked_at_first_use(tmp_path: Path) -> None:
    import hashlib

    from vccore.issuer import Issuer
    from vccore.store import SQLiteStore

    folder = _copy_type(tmp_path)
    context = json.loads((folder / "context.jsonld").read_text())
    context["@context"]["replaces"] = "https://vccore.dev/vocab/health-professional#replaces"
    data = json.dumps(context).encode()
    (folder / "context.jsonld").write_bytes(data)
    _edit_json(
        folder / "entity.json",
        lambda m: m["contexts"][0].update(
            sha256=hashlib.sha256(data).hexdigest(), url="https://vccore.dev/credentials/hp-test/v1"
        ),
    )
    for template in ("credential-v2.json", "credential-v1.json"):
        _edit_json(
            folder / template, lambda t: t["@context"].__setitem__(1, "https://vccore.dev/credentials/hp-test/v1")
        )
    entity = EntityType.from_directory(folder)
    issuer = Issuer(signer=KEY, store=SQLiteStore(tmp_path / "s.db"), entity_types={entity.name: entity})
    assert HP.example is not None
    with pytest.raises(EntityTypeError) as caught:
        issuer.certify(entity, {k: v for k, v in HP.example.items() if k != "certificateId"}, now=NOW)
    assert "replaces" in caught.value.message


_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3000),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["2024-02-30", "2024-02-29", "1999", "http://x", "did:web:a", "ABC\n", "x" * 300]),
)


@given(st.sampled_from([HP, VAX]), st.data())
def test_the_quick_check_never_passes_what_jsonschema_refuses(entity: EntityType, data: st.DataObject) -> None:
    assert entity.example is not None and entity._quick_check is not None
    payload = dict(entity.example)
    for name in data.draw(st.lists(st.sampled_from([f.name for f in entity.fields]), max_size=4)):
        if data.draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = data.draw(_anything)
    if data.draw(st.booleans()):
        payload[data.draw(st.text(min_size=1, max_size=5))] = 1
    if entity._quick_check(payload):
        assert list(entity._schema_validator().iter_errors(payload)) == []


def test_a_type_is_issued_by_default_in_its_own_version_and_suite(tmp_path: Path) -> None:
    # issue 18, blocker 2: the bundled VaccinationCertificate (VC 1.1 only, eddsa-jcs-2022 only)
    # could not be issued with defaults: UNSUPPORTED_SUITE, then "has no VC 2.0 template".
    from vccore import Ed25519Key, Verifier, issue, open_store
    from vccore.issuer import Issuer

    vaccination = bundled_entity_types()["VaccinationCertificate"]
    assert vaccination.default_vc_version() == "1.1" and vaccination.default_suite() == "eddsa-jcs-2022"
    health = bundled_entity_types()["HealthProfessional"]
    assert health.default_vc_version() == "2.0" and health.default_suite() == "eddsa-rdfc-2022"
    assert vaccination.example is not None
    key = Ed25519Key.from_seed(bytes(32))
    credential = issue("VaccinationCertificate", vaccination.example, signer=key, now=NOW)
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert "https://www.w3.org/2018/credentials/v1" in credential["@context"]
    assert Verifier.create().verify(credential, now=NOW).verified
    issuer = Issuer(signer=key, store=open_store(tmp_path / "vccore.db", status_url="https://example.org/s/"))
    certified = issuer.certify("VaccinationCertificate", vaccination.example, now=NOW)
    assert certified.credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    # what a caller asks for still wins, and is still checked against the type
    with pytest.raises(EntityTypeError) as refused:
        issue("VaccinationCertificate", vaccination.example, signer=key, suite="eddsa-rdfc-2022", now=NOW)
    assert refused.value.code == "UNSUPPORTED_SUITE"


def test_the_command_line_issues_a_type_with_its_own_defaults(tmp_path: Path) -> None:
    from vccore.cli import main

    example = TEMPLATES / "VaccinationCertificate" / "example-payload.json"
    out = tmp_path / "vc.json"
    home = ["--home", str(tmp_path / "home")]
    assert main(["issue", "VaccinationCertificate", str(example), "-o", str(out), *home]) == 0
    assert json.loads(out.read_text())["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    certified = tmp_path / "certified.json"
    assert main(["certify", "VaccinationCertificate", str(example), "-o", str(certified), *home]) == 0
    assert json.loads(certified.read_text())["proof"]["cryptosuite"] == "eddsa-jcs-2022"

"""Issue 20, point 5 and must-show 6: a DIVOC 3.x tenant's schema (and a Sunbird RC one) imported as
a vccore entity type, with a Handlebars credential template, certified through ``vccore serve``'s
DIVOC routes, and verified.

The schemas are real: tests/vectors/divoc-tenant/README.md says where each comes from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import VECTORS
from hypothesis import given, settings
from hypothesis import strategies as st

from vccore import Ed25519Key, Verifier, load_entity_types, open_store
from vccore._compiled import CompiledCredentials
from vccore.cli import main
from vccore.entities import EntityType
from vccore.entity_import import import_schema, write_type
from vccore.errors import EntityTypeError, PayloadError
from vccore.issuer import Issuer, issuer_of
from vccore.suites import get_suite

TENANT = VECTORS / "divoc-tenant"
SCHEMA = TENANT / "TrainingCertificateE.json"
CONTEXT_URL = "http://vc-management-service:7655/vc-management/v1/context/0104783d-0ba9-46c0-a9c9-73eb43c03018"
CONTEXT = TENANT / "TrainingCertificateE.context.jsonld"
BIRTH = TENANT / "BirthCertificateSchemaRequest.json"
KEY = Ed25519Key.from_seed(bytes(range(32)))
TOKEN = "import-test-token"
BASE = "https://issuer.example/status/"
# what a DIVOC source system sends (vc-certification-service: issuer and issuanceDate are required)
PAYLOAD: dict[str, Any] = {
    "name": "Neha",
    "email": "neha@example.org",
    "mobileNo": "9999999999",
    "organisation": "NHA",
    "courseName": "Ayushman Bharat onboarding",
    "courseStartDate": "2022-11-01",
    "courseEndDate": "2022-11-30",
    "issuer": "https://nha.gov.in/",
    "issuanceDate": "2022-12-19T10:43:45.000Z",
}


def imported_divoc() -> Any:
    return import_schema(SCHEMA.read_bytes(), contexts={CONTEXT_URL: CONTEXT.read_bytes()}, source=SCHEMA.name)


def divoc_type() -> EntityType:
    entity: EntityType = imported_divoc().entity_type
    return entity


def manifest_of(files: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(files["entity.json"])
    return manifest


# --- the import -------------------------------------------------------------------------------


def test_a_divoc_tenant_schema_becomes_a_handlebars_type_with_its_context_pinned() -> None:
    imported = imported_divoc()
    manifest = manifest_of(imported.files)
    assert imported.name == manifest["name"] == "TrainingCertificateE"
    assert manifest["templateEngine"] == "handlebars"
    assert manifest["templates"] == {"1.1": "credential.hbs"}
    [pin] = manifest["contexts"]
    assert pin["url"] == CONTEXT_URL and imported.files[pin["file"]] == CONTEXT.read_bytes()
    # the tenant's registry settings and printable templates are kept as data
    assert manifest["osConfig"]["roles"] == ["bhanu1@gmail.com-realm-role"]
    assert manifest["certificateTemplates"]["html"].startswith("minio://Tenant/")
    assert imported.entity_type.certificate_templates == manifest["certificateTemplates"]
    # DIVOC's "{{{issuer}}}" gives way to the key's controller; the payload's issuer is taken and left out
    template = json.loads(imported.files["credential.hbs"])
    assert template["issuer"] == "{{$issuer}}"
    assert manifest["ignored"] == ["issuer"] and manifest["defaults"] == {"issuanceDate": "$now"}
    # DIVOC's generated context gives every text field the term schema:Text: JSON signatures only
    assert manifest["suites"] == ["eddsa-jcs-2022"]
    assert any("eddsa-jcs-2022" in note for note in imported.notes)
    schema = json.loads(imported.files["schema.json"])
    assert schema["additionalProperties"] is False
    assert "issuer" not in schema["required"] and "issuanceDate" not in schema["required"]
    assert imported.files["source-schema.json"] == SCHEMA.read_bytes()


def test_the_files_load_alike_from_memory_and_from_a_folder(tmp_path: Path) -> None:
    imported = imported_divoc()
    folder = write_type(imported, tmp_path / "types")
    from_disk = load_entity_types(tmp_path / "types", bundled=False)["TrainingCertificateE"]
    from_memory = EntityType.from_files(imported.files)
    assert folder == tmp_path / "types" / "TrainingCertificateE"
    assert sorted(p.name for p in folder.iterdir()) == sorted(imported.files)
    assert from_disk.schema == from_memory.schema and from_disk.templates == from_memory.templates
    assert from_disk.contexts == from_memory.contexts == {CONTEXT_URL: CONTEXT.read_bytes()}
    with pytest.raises(FileExistsError):
        write_type(imported, tmp_path / "types")
    assert write_type(imported, tmp_path / "types", replace=True) == folder


def test_a_sunbird_rc_schema_with_an_inline_context_imports_and_issues(tmp_path: Path) -> None:
    imported = import_schema(BIRTH.read_bytes(), source=BIRTH.name)
    entity = imported.entity_type
    assert entity.name == "BirthCertificate" and entity.aliases == ("BirthCertificate16",)
    assert any("did:web:sunbirdrc.dev/vc/BirthCertificate" in note for note in imported.notes)
    payload = {
        "name": "Asha",
        "gender": "female",
        "date_of_birth": "2022-01-01T10:00:00Z",
        "place_of_birth": "Mysore",
        "contact": "9000000000",
    }
    issuer = Issuer(
        signer=KEY, store=open_store(tmp_path / "store.db", status_url=BASE), entity_types={entity.name: entity}
    )
    certified = issuer.certify(entity.name, payload)
    assert certified.credential["issuer"] == issuer_of(KEY)
    assert certified.credential["credentialSubject"]["place_of_birth"] == "Mysore"
    with pytest.raises(PayloadError) as refused:
        issuer.certify(entity.name, {**payload, "place_of_birth": "Delhi"})  # not one of the schema's enum
    assert [p.pointer for p in refused.value.problems] == ["/place_of_birth"]


# --- vccore serve takes the tenant over ---------------------------------------------------------


def test_an_imported_divoc_tenant_certifies_through_the_divoc_routes_and_verifies(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from vccore.http import create_app
    from vccore.http.auth import StaticTokenAuthorizer

    write_type(imported_divoc(), tmp_path / "types")
    types = load_entity_types(tmp_path / "types")
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE), entity_types=types)
    client = TestClient(
        create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN)), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    answer = client.post("/vc-certification/v1/certify/TrainingCertificateE", json=PAYLOAD)
    assert answer.status_code == 200, answer.text
    certificate_id = answer.json()["certificateId"]
    got = client.get(
        f"/vc-certification/v1/certificate/TrainingCertificateE/{certificate_id}",
        headers={"Accept": "application/vc+ld+json"},
    )
    assert got.status_code == 200, got.text
    credential = got.json()
    assert credential["type"] == ["VerifiableCredential", "ProofOfTraining"]
    assert credential["issuer"] == issuer_of(KEY)  # not the payload's
    assert credential["credentialSubject"] == {
        "type": "Person",
        "name": "Neha",
        "email": "neha@example.org",
        "mobileNo": "9999999999",
    }
    assert credential["evidence"]["certificateId"] == certificate_id
    assert credential["issuanceDate"] == "2022-12-19T10:43:45.000Z"
    assert [s["statusPurpose"] for s in credential["credentialStatus"]] == ["revocation", "suspension", "message"]
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    # an independent verifier: the key, the type's pinned context, the status lists
    verifier = Verifier.create(
        suites=["eddsa-jcs-2022", "eddsa-rdfc-2022"],  # the status lists are signed with the issuer's default
        verification_methods=[KEY.to_multikey()],
        entity_types=types,
        status=issuer.status_list_credentials(),
    )
    for _ in range(3):  # the verifier compiles shapes it sees twice: a Handlebars type's is never compiled
        result = verifier.verify(credential)
        assert result.verified, result.to_dict()
    # the server's own verify route, and the tenant's context at DIVOC's context URL
    verified = client.post("/vc-certification/v1/certificate/verify", json={"verifiableCredential": credential})
    assert verified.status_code == 200, verified.text
    served = client.get("/vc-management/v1/context/0104783d-0ba9-46c0-a9c9-73eb43c03018")
    assert served.status_code == 200 and served.content == CONTEXT.read_bytes()
    # an update (PUT) through the same route replaces it
    put = client.put(
        "/vc-certification/v1/certify/TrainingCertificateE",
        json={**PAYLOAD, "certificateId": certificate_id, "name": "Neha K"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["certificateId"] != certificate_id
    old = client.get(f"/vc-certification/v1/certificate/TrainingCertificateE/{certificate_id}")
    assert old.headers["Certificate-State"] == "SUPERSEDED"
    # a field the schema does not name is refused, not rendered
    refused = client.post("/vc-certification/v1/certify/TrainingCertificateE", json={**PAYLOAD, "osid": "x"})
    assert refused.status_code == 422
    assert [p["pointer"] for p in refused.json()["problems"]] == ["/osid"]


def test_the_issuer_takes_the_reference_path_for_a_handlebars_type(tmp_path: Path) -> None:
    entity = divoc_type()
    issuer = Issuer(
        signer=KEY, store=open_store(tmp_path / "store.db", status_url=BASE), entity_types={entity.name: entity}
    )
    assert not entity.compilable
    assert issuer._compiled(entity, "1.1", False) is None
    with pytest.raises(EntityTypeError):  # what keeps the verifier's shapes from compiling one
        CompiledCredentials.build(
            entity,
            "1.1",
            False,
            issuer=issuer_of(KEY),
            status_base=BASE,
            suite=get_suite("eddsa-rdfc-2022"),
            verification_method=KEY.id,
            reading=True,
        )
    made = issuer.certify_batch(entity.name, [PAYLOAD, {**PAYLOAD, "name": "Ravi"}])
    assert [m.credential["credentialSubject"]["name"] for m in made if not isinstance(m, Exception)] == ["Neha", "Ravi"]


# --- hostile data -------------------------------------------------------------------------------

# text, and the pieces of JSON and Handlebars that would break out of a slot spliced as text
HOSTILE = st.lists(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
    | st.sampled_from(['"', "}}", "{{", "{{{", "\\", "\n", "]", '", "x": "', "{{$issuer}}", "}"]),
    max_size=6,
).map("".join)


def _shape(node: Any, path: str = "") -> set[str]:
    """Every JSON path of a document, and the kind of value at its end."""
    if isinstance(node, dict):
        return {path} | {p for key, value in node.items() for p in _shape(value, f"{path}/{key}")}
    if isinstance(node, list):
        return {path} | {p for index, value in enumerate(node) for p in _shape(value, f"{path}/{index}")}
    return {f"{path}:{type(node).__name__}"}


@settings(max_examples=60)
@given(name=HOSTILE, organisation=HOSTILE, mobile=HOSTILE)
def test_hostile_payload_text_never_changes_the_credentials_structure(
    name: str, organisation: str, mobile: str
) -> None:
    entity = divoc_type()
    benign = entity.render({**PAYLOAD, "certificateId": "123456789012"}, issuer=issuer_of(KEY))
    hostile = entity.render(
        {**PAYLOAD, "name": name, "organisation": organisation, "mobileNo": mobile, "certificateId": "123456789012"},
        issuer=issuer_of(KEY),
    )
    assert _shape(hostile) == _shape(benign)
    # each value stays in its slot, escaped as handlebars.js escapes {{...}} (as DIVOC's credentials have them)
    assert hostile["credentialSubject"]["name"] == _escaped(name)
    assert hostile["credentialSubject"]["mobileNo"] == _escaped(mobile)
    assert hostile["evidence"]["organisation"] == _escaped(organisation)


@settings(max_examples=40)
@given(name=HOSTILE)
def test_a_triple_stash_slot_takes_hostile_text_as_it_is_and_nothing_more(tmp_path_factory: Any, name: str) -> None:
    folder = _hand_made(tmp_path_factory.mktemp("t"), GOOD.replace("{{name}}", "{{{name}}}"))
    entity = EntityType.from_directory(folder)
    credential = entity.render({"name": name}, issuer=issuer_of(KEY))
    assert credential["credentialSubject"] == {"name": name}
    assert set(credential) == {"@context", "type", "issuer", "credentialSubject"}


def _escaped(text: str) -> str:
    """handlebars.js's escapeExpression."""
    table = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "`": "&#x60;", "=": "&#x3D;"}
    return "".join(table.get(c, c) for c in text)


# --- nested payloads ----------------------------------------------------------------------------

NESTED_CONTEXT = {
    "@context": {
        "@version": 1.1,
        "@protected": True,
        "ex": "https://example.org/vocab#",
        "SkillCredential": "ex:SkillCredential",
        "Person": {
            "@id": "ex:Person",
            "@context": {
                "@version": 1.1,
                "@protected": True,
                "name": "ex:name",
                "address": {"@id": "ex:address", "@context": {"city": "ex:city", "pin": "ex:pin"}},
                "skills": {"@id": "ex:skill", "@context": {"title": "ex:title", "level": "ex:level"}},
            },
        },
    }
}
NESTED_URL = "https://example.org/contexts/skill/v1"


def nested_schema(template: Any) -> dict[str, Any]:
    """A Sunbird RC schema in the layout of its examples, with a nested payload (``$ref`` to definitions)."""
    definition: dict[str, Any] = {
        "type": "object",
        "title": "Skills",
        "required": ["name", "skills"],
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/definitions/Address"},
            "skills": {"type": "array", "items": {"$ref": "#/definitions/Skill"}},
        },
    }
    definitions = {
        "SkillCertificate": definition,
        "Address": {"type": "object", "properties": {"city": {"type": "string"}, "pin": {"type": "integer"}}},
        "Skill": {
            "type": "object",
            "required": ["title"],
            "properties": {"title": {"type": "string"}, "level": {"type": "string", "enum": ["basic", "expert"]}},
        },
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema",
        "type": "object",
        "title": "SkillCertificate",
        "properties": {"SkillCertificate": {"$ref": "#/definitions/SkillCertificate"}},
        "definitions": definitions,
        "_osConfig": {"credentialTemplate": template},
    }


NESTED_TEMPLATE = (
    '{"@context": ["https://www.w3.org/2018/credentials/v1", "' + NESTED_URL + '"],'
    ' "type": ["VerifiableCredential", "SkillCredential"], "issuer": "{{{issuer}}}",'
    ' "issuanceDate": "{{$now}}",'
    ' "credentialSubject": {"type": "Person", "name": "{{name}}",'
    ' "address": {"city": "{{address.city}}", "pin": "{{address.pin}}"},'
    ' "skills": [{{#each skills}}{{#if @index}},{{/if}}{"title": "{{title}}", "level": "{{level}}"}{{/each}}]}}'
)


def nested_type() -> EntityType:
    entity: EntityType = import_schema(
        nested_schema(NESTED_TEMPLATE), contexts={NESTED_URL: json.dumps(NESTED_CONTEXT).encode()}
    ).entity_type
    return entity


def test_a_nested_payload_fills_a_handlebars_template_with_blocks(tmp_path: Path) -> None:
    entity = nested_type()
    assert entity.suites is None  # every leaf has its own term: the RDF suites may sign it
    payload = {
        "name": "Asha",
        "address": {"city": "Pune", "pin": 411001},
        "skills": [{"title": "Welding", "level": "expert"}, {"title": '"}, {"x": "', "level": "basic"}],
    }
    issuer = Issuer(
        signer=KEY, store=open_store(tmp_path / "store.db", status_url=BASE), entity_types={entity.name: entity}
    )
    credential = issuer.certify(entity.name, payload).credential
    assert credential["credentialSubject"]["skills"] == [
        {"title": "Welding", "level": "expert"},
        {"title": _escaped('"}, {"x": "'), "level": "basic"},
    ]
    assert credential["credentialSubject"]["address"] == {"city": "Pune", "pin": "411001"}
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    verifier = Verifier.create(
        verification_methods=[KEY.to_multikey()],
        entity_types={entity.name: entity},
        status=issuer.status_list_credentials(),
    )
    assert verifier.verify(credential).verified
    with pytest.raises(PayloadError) as refused:
        issuer.certify(entity.name, {**payload, "address": {"city": "Pune", "street": "MG Road"}})
    assert [(p.pointer, p.reason) for p in refused.value.problems] == [("/address/street", "UNKNOWN_FIELD")]


# --- what is refused ----------------------------------------------------------------------------


def _divoc_schema(**changes: Any) -> dict[str, Any]:
    record = json.loads(SCHEMA.read_bytes())
    schema: dict[str, Any] = json.loads(record["schema"])
    for path, value in changes.items():
        node = schema
        *parents, last = path.split("/")
        for part in parents:
            node = node[part]
        node[last] = value
    return schema


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        (b"not json", None),
        ({"title": "X", "_osConfig": {}}, "definitions"),
        (_divoc_schema(title="Nothing", properties={}), "title"),
        (
            _divoc_schema(**{"_osConfig/credentialTemplate": "https://templates.example/t.json"}),
            "_osConfig.credentialTemplate",
        ),
        (_divoc_schema(**{"_osConfig/credentialTemplate": None}), "_osConfig.credentialTemplate"),
        (
            _divoc_schema(**{"definitions/TrainingCertificateE/additionalProperties": True}),
            "definitions.TrainingCertificateE.additionalProperties",
        ),
        (
            _divoc_schema(**{"definitions/TrainingCertificateE/properties/name": {"$ref": "#/definitions/Name"}}),
            "definitions.TrainingCertificateE.name",
        ),
    ],
)
def test_a_schema_vccore_cannot_take_is_refused_naming_the_field(schema: Any, field: str | None) -> None:
    with pytest.raises(EntityTypeError) as refused:
        import_schema(schema, contexts={CONTEXT_URL: CONTEXT.read_bytes()}, source="tenant.json")
    assert refused.value.details["file"] == "tenant.json"
    assert refused.value.details.get("field") == field
    assert "tenant.json" in refused.value.message


def test_an_unpinned_context_is_named_with_the_option_that_pins_it() -> None:
    with pytest.raises(EntityTypeError) as refused:
        import_schema(SCHEMA.read_bytes())
    assert CONTEXT_URL in refused.value.message and f"--context {CONTEXT_URL}=FILE" in refused.value.message
    with pytest.raises(EntityTypeError, match="not JSON"):
        import_schema(SCHEMA.read_bytes(), contexts={CONTEXT_URL: b"<html>"})


def test_a_template_given_for_a_url_is_used_and_never_fetched() -> None:
    template = json.loads(SCHEMA.read_bytes())["schema"]
    body = json.loads(template)
    text = json.dumps(body["_osConfig"]["credentialTemplate"])
    body["_osConfig"]["credentialTemplate"] = "https://templates.example/training.json"
    imported = import_schema(body, contexts={CONTEXT_URL: CONTEXT.read_bytes()}, credential_template=text)
    assert json.loads(imported.files["credential.hbs"])["issuer"] == "{{$issuer}}"


def _hand_made(tmp_path: Path, template: str, schema: dict[str, Any] | None = None) -> Path:
    folder = tmp_path / "T"
    folder.mkdir(exist_ok=True)
    (folder / "schema.json").write_text(
        json.dumps(
            schema
            or {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
            }
        )
    )
    (folder / "credential.hbs").write_text(template)
    (folder / "entity.json").write_text(
        json.dumps(
            {
                "name": "T",
                "templateEngine": "handlebars",
                "schema": "schema.json",
                "templates": {"2.0": "credential.hbs"},
                "suites": ["eddsa-jcs-2022"],
            }
        )
    )
    return folder


GOOD = (
    '{"@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"], '
    '"type": ["VerifiableCredential"], "issuer": "{{$issuer}}", "credentialSubject": {"name": "{{name}}"}}'
)


@pytest.mark.parametrize(
    ("template", "schema", "said"),
    [
        (GOOD.replace("{{$issuer}}", "did:example:someone"), None, "issuer is the signing key's controller"),
        (GOOD.replace('["VerifiableCredential"]', '["VerifiableCredential", "{{name}}"]'), None, "must not depend"),
        (GOOD.replace('"{{name}}"', '"constant"'), None, "never reach the credential"),
        (GOOD.replace("credentials/v2", "credentials/v1", 1), None, "starts with"),
        (
            GOOD,
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {"name": {"type": "object", "properties": {"first": {"type": "string"}}}},
            },
            "additionalProperties: false",
        ),
        ("{{#each}", None, "credential.hbs"),
    ],
)
def test_a_handlebars_type_that_breaks_a_rule_does_not_load(
    tmp_path: Path, template: str, schema: dict[str, Any] | None, said: str
) -> None:
    assert EntityType.from_directory(_hand_made(tmp_path, GOOD)).template_engine == "handlebars"
    with pytest.raises(EntityTypeError) as refused:
        EntityType.from_directory(_hand_made(tmp_path, template, schema))
    assert said in refused.value.message
    assert refused.value.details["file"] in ("credential.hbs", "schema.json")


# --- the command --------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_import_command_writes_the_type_and_says_what_it_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pin = f"{CONTEXT_URL}={CONTEXT}"
    out = tmp_path / "types"
    code, stdout, err = run(capsys, "entities", "import", str(SCHEMA), "--out", str(out), "--context", pin)
    assert code == 0 and stdout == ""
    assert f"vccore: wrote {out / 'TrainingCertificateE'}" in err
    assert "vccore: note: the credential's issuer is the signing key's controller" in err
    code, stdout, _ = run(capsys, "entities", "--json", "--templates", str(out))
    assert code == 0 and json.loads(stdout)["TrainingCertificateE"]["suites"] == ["eddsa-jcs-2022"]
    # again: the folder is there
    code, _, err = run(capsys, "entities", "import", str(SCHEMA), "--out", str(out), "--context", pin)
    assert code == 2 and "give --replace" in err
    code, _, err = run(capsys, "entities", "import", str(SCHEMA), "--out", str(out), "--context", pin, "--replace")
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--context", f"{CONTEXT_URL}={CONTEXT}"], None),
        ([], f"INVALID_ENTITY_TYPE: {SCHEMA}: _osConfig.credentialTemplate.@context names {CONTEXT_URL}"),
        (["--context", CONTEXT_URL], "--context takes URL=FILE"),
        (["--context", f"{CONTEXT_URL}=/nonexistent/context.jsonld"], "cannot read /nonexistent/context.jsonld"),
    ],
)
def test_the_import_commands_exit_statuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str | None
) -> None:
    code, _, err = run(capsys, "entities", "import", str(SCHEMA), "--out", str(tmp_path), *argv)
    if said is None:
        assert code == 0, err
    else:
        assert code == 2 and err.startswith("vccore: ") and said in err, err
        assert not (tmp_path / "TrainingCertificateE").exists()


def test_the_import_command_refuses_a_missing_schema_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "entities", "import", str(tmp_path / "none.json"), "--out", str(tmp_path))
    assert code == 2 and f"cannot read {tmp_path / 'none.json'}" in err

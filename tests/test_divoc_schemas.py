"""Issue 19, row 13 and "What to build" 4 and 5: DIVOC's tenant portal makes and changes entity
types while the server runs (vc-management-service's ``/v1/schema`` and ``/v1/context``).

The schema is a real tenant's (``tests/vectors/divoc-tenant/TrainingCertificateE.json``); the
requests are shaped as DIVOC's tenant portal sends them (``tenant-portal/src/components``:
JsonUpload's POST, SchemaAttributes' context upload, TestAndPublish's PUT, UploadTemplate's
multipart PUT) and answered as ``schema.controller.js`` answers them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("jwt")

from starlette.applications import Starlette
from starlette.testclient import TestClient
from test_divoc_roles import JWKS, REALM, keycloak_token

from vccore import Ed25519Key, open_store
from vccore.errors import LifecycleError
from vccore.http import create_app
from vccore.http.auth import Authorizer, JwtAuthorizer, RoleMapping, StaticTokenAuthorizer, _Grant
from vccore.issuer import Issuer
from vccore.store import Store

KEY = Ed25519Key.from_seed(bytes(range(32)))
BASE = "https://issuer.example/status/"
TOKEN = "static-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TENANT = Path(__file__).parent / "vectors" / "divoc-tenant"
RECORD: dict[str, Any] = json.loads((TENANT / "TrainingCertificateE.json").read_text())
CONTEXT = (TENANT / "TrainingCertificateE.context.jsonld").read_bytes()
FIXTURE_CONTEXT_URL = "http://vc-management-service:7655/vc-management/v1/context/0104783d-0ba9-46c0-a9c9-73eb43c03018"
NAME = "TrainingCertificateE"
PAYLOAD = {
    "name": "Asha Rao",
    "organisation": "NHA",
    "email": "asha@example.org",
    "mobileNo": "9876543210",
    "courseName": "Basic Care",
    "courseStartDate": "2024-01-01",
    "courseEndDate": "2024-02-01",
    "issuer": "https://tenant.example",
    "issuanceDate": "2024-03-01T00:00:00Z",
    "certificateId": "tc-1",
}


def make_issuer(location: str) -> Issuer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = open_store(location, status_url=BASE)
    return Issuer(signer=KEY, store=store)


def make_client(issuer: Issuer, authorizer: Authorizer | None = None) -> TestClient:
    app: Starlette = create_app(issuer, authorizer=authorizer or StaticTokenAuthorizer(TOKEN))
    return TestClient(app)


def upload_context(client: TestClient, data: bytes = CONTEXT, headers: dict[str, str] = AUTH) -> str:
    """SchemaAttributes.js: the context as a form's ``files``; the answer's url goes in the template."""
    answer = client.post(
        "/vc-management/v1/context", files={"files": ("blob", data, "application/json")}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["result"]["ContextURL"]["osid"].startswith("1-")
    url: str = answer.json()["url"]
    return url


def tenant_record(context_url: str, *, name: str = NAME, roles: list[str] | None = None) -> dict[str, Any]:
    """The fixture's Schema record, its context at ``context_url`` (as the portal puts the uploaded
    context's url in the template), renamed to ``name``, with ``roles`` when given."""
    text = RECORD["schema"].replace(FIXTURE_CONTEXT_URL, context_url).replace(NAME, name)
    schema = json.loads(text)
    if roles is not None:
        schema["_osConfig"]["roles"] = roles
    return {**RECORD, "name": name, "schema": json.dumps(schema)}


def create(client: TestClient, record: dict[str, Any], headers: dict[str, str] = AUTH) -> str:
    """JsonUpload.js: POST the record; the schema's id is the answer's osid without its ``1-``."""
    answer = client.post("/vc-management/v1/schema", json=record, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["message"] == "Successfully created Schema"
    osid: str = body["schemaAddResponse"]["result"]["Schema"]["osid"]
    assert osid.startswith("1-")
    return osid[2:]


def certify(client: TestClient, payload: dict[str, Any], name: str = NAME, headers: dict[str, str] = AUTH) -> Any:
    return client.post(f"/vc-certification/v1/certify/{name}", json=payload, headers=headers)


def certified(client: TestClient, payload: dict[str, Any], name: str = NAME) -> dict[str, Any]:
    answer = certify(client, payload, name)
    assert answer.status_code == 200 and "certificateId" in answer.json(), answer.text
    fetched = client.get(f"/vc-certification/v1/certificate/{name}/{answer.json()['certificateId']}", headers=AUTH)
    assert fetched.status_code == 200, fetched.text
    credential: dict[str, Any] = fetched.json()
    return credential


def verdict(client: TestClient, credential: dict[str, Any]) -> str:
    answer = client.post("/vc-certification/v1/certificate/verify", json=credential)
    status: str = answer.json()["status"]["certificateStatus"]
    return status


def graded_context() -> bytes:
    """The context with a term for a new field, ``grade`` (a new upload: a context never changes under its URL)."""
    document = json.loads(CONTEXT)
    document["@context"][NAME]["@context"]["grade"] = "schema:Text"
    return json.dumps(document).encode()


def with_grade(record: dict[str, Any], old_url: str, new_url: str) -> dict[str, Any]:
    """The record with a new field, ``grade``, in the definition and the template's evidence, and
    the context that defines it in place of the old one."""
    schema = json.loads(record["schema"].replace(old_url, new_url))
    schema["definitions"][NAME]["properties"]["grade"] = {"type": "string"}
    schema["_osConfig"]["credentialTemplate"]["evidence"]["grade"] = "{{grade}}"
    return {**record, "schema": json.dumps(schema)}


# --- create, certify, verify, update, restart ------------------------------------------------------


def test_a_tenant_schema_made_through_the_route_certifies_and_verifies_without_a_restart(
    store_location: str,
) -> None:
    issuer = make_issuer(store_location)
    client = make_client(issuer)
    assert certify(client, PAYLOAD).json().keys() == {"transactionId"}  # unknown: DIVOC's 200, UNSUCCESSFUL
    url = upload_context(client)
    assert client.get(url.replace("http://testserver", "")).content == CONTEXT  # served as uploaded
    create(client, tenant_record(url))
    credential = certified(client, PAYLOAD)
    assert url in credential["@context"] and credential["evidence"]["courseName"] == "Basic Care"
    assert verdict(client, credential) == "VALID"
    listed = client.get("/vc-management/v1/schema", headers=AUTH).json()["schemas"]
    assert [s["name"] for s in listed] == [NAME] and listed[0]["status"] == "DRAFT"
    schema = json.loads(listed[0]["schema"])  # as DIVOC keeps it: its mandatory fields added
    assert {"issuer", "issuanceDate", "certificateId"} <= set(schema["definitions"][NAME]["required"])


def test_an_updated_schema_takes_a_new_field_at_once_and_earlier_certificates_still_verify(tmp_path: Path) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    url = upload_context(client)
    record = tenant_record(url)
    schema_id = create(client, record)
    before = certified(client, PAYLOAD)
    graded = {**PAYLOAD, "certificateId": "tc-2", "grade": "A"}
    refused = certify(client, graded)
    assert refused.status_code == 422 and "grade" in refused.text  # not a field of version 1
    # TestAndPublish.js: PUT the whole record (osid and all), published
    put = client.put(
        f"/vc-management/v1/schema/{schema_id}",
        json={
            **with_grade(record, url, upload_context(client, graded_context())),
            "osid": f"1-{schema_id}",
            "status": "PUBLISHED",
        },
        headers=AUTH,
    )
    assert put.status_code == 200, put.text
    assert put.json()["message"] == "Successfully updated Schema" and put.json()["version"] == 2
    after = certified(client, graded)
    assert after["evidence"]["grade"] == "A"
    assert verdict(client, after) == verdict(client, before) == "VALID"
    [listed] = client.get(f"/vc-management/v1/schema/1-{schema_id}", headers=AUTH).json()["schemas"]
    assert listed["status"] == "PUBLISHED" and listed["version"] == 2 and listed["osid"] == f"1-{schema_id}"
    # Sunbird RC: a published schema does not go back to DRAFT
    back = client.put(f"/vc-management/v1/schema/{schema_id}", json={"status": "DRAFT"}, headers=AUTH)
    assert back.status_code == 400 and back.json()["field"] == "status"


def test_a_new_app_on_the_same_store_serves_the_types_made_before(store_location: str) -> None:
    client = make_client(make_issuer(store_location))
    url = upload_context(client)
    schema_id = create(client, tenant_record(url))
    graded = with_grade(tenant_record(url), url, upload_context(client, graded_context()))
    assert client.put(f"/vc-management/v1/schema/{schema_id}", json=graded, headers=AUTH).status_code == 200
    first = certified(client, PAYLOAD)
    # a restart: a new issuer (bundled types only) and a new app on the same store
    again = make_client(make_issuer(store_location))
    assert verdict(again, first) == "VALID"
    second = certified(again, {**PAYLOAD, "certificateId": "tc-9", "grade": "B"})
    assert second["evidence"]["grade"] == "B" and verdict(again, second) == "VALID"
    assert again.get(url.replace("http://testserver", "")).content == CONTEXT
    [listed] = again.get("/vc-management/v1/schema", headers=AUTH).json()["schemas"]
    assert listed["version"] == 2


# --- refusals ----------------------------------------------------------------------------------


def test_a_bad_schema_is_refused_naming_the_field_and_nothing_changes(tmp_path: Path) -> None:
    issuer = make_issuer(str(tmp_path / "vccore.db"))
    client = make_client(issuer)
    url = upload_context(client)
    types_before = issuer.entity_types
    open_schema = json.loads(tenant_record(url)["schema"])
    open_schema["definitions"][NAME]["additionalProperties"] = True
    wrong_evidence = json.loads(tenant_record(url)["schema"])
    wrong_evidence["_osConfig"]["credentialTemplate"]["evidence"]["type"] = "SomethingElse"
    cases = {
        f"definitions.{NAME}.additionalProperties": {**RECORD, "schema": json.dumps(open_schema)},
        "_osConfig.credentialTemplate.evidence.type": {**RECORD, "schema": json.dumps(wrong_evidence)},
        # a context this server was never given (the fixture's, on DIVOC's host): vccore fetches nothing
        "_osConfig.credentialTemplate.@context": RECORD,
        "schema": {"name": NAME, "schema": "{not json"},
    }
    for field, record in cases.items():
        answer = client.post("/vc-management/v1/schema", json=record, headers=AUTH)
        assert answer.status_code == 400, (field, answer.text)
        body = answer.json()
        assert body["field"] == field and body["message"] == body["detail"], body
    assert issuer.store.entity_types() == [] and issuer.entity_types is types_before
    assert client.get("/vc-management/v1/schema", headers=AUTH).json() == {"schemas": []}
    # an update that breaks the type is refused too, and the type stays as it was
    schema_id = create(client, tenant_record(url))
    served = issuer.entity_types[NAME]
    broken = {"schema": json.dumps(open_schema)}
    answer = client.put(f"/vc-management/v1/schema/{schema_id}", json=broken, headers=AUTH)
    assert answer.status_code == 400 and answer.json()["field"] == f"definitions.{NAME}.additionalProperties"
    assert issuer.entity_types[NAME] is served and [s.version for s in issuer.store.entity_types()] == [1]
    # a second schema of the same name: 409, the first kept
    again = client.post("/vc-management/v1/schema", json=tenant_record(url), headers=AUTH)
    assert again.status_code == 409 and again.json()["entity"] == NAME
    assert certify(client, PAYLOAD).status_code == 200


def test_an_upload_that_is_not_a_form_or_not_a_context_is_refused(tmp_path: Path) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    assert client.post("/vc-management/v1/context", json={"@context": {}}, headers=AUTH).status_code == 415
    answer = client.post("/vc-management/v1/context", files={"files": ("x", b"[1]", "application/json")}, headers=AUTH)
    assert answer.status_code == 400 and answer.json()["field"] == "files"
    assert client.post("/vc-management/v1/context", files={"other": ("x", CONTEXT)}, headers=AUTH).status_code == 400
    assert client.post("/vc-management/v1/context", files={"files": ("x", CONTEXT)}).status_code == 401
    # the token before the schema: an unknown schema is a 404 to a token holder only
    assert client.put("/vc-management/v1/schema/nope", json={}).status_code == 401
    unknown = client.put("/vc-management/v1/schema/nope", json={}, headers=AUTH)
    assert unknown.status_code == 404 and unknown.json()["code"] == "UNKNOWN_ENTITY_TYPE"


# --- templates ---------------------------------------------------------------------------------


def test_template_urls_and_an_uploaded_template_are_named_in_the_schema(tmp_path: Path) -> None:
    issuer = make_issuer(str(tmp_path / "vccore.db"))
    client = make_client(issuer)
    schema_id = create(client, tenant_record(upload_context(client)))
    # DIVOC's route is updateTemplateUrl (schema.routes.js); Express takes any case
    urls = {"pdf": "https://tenant.example/templates/training.html"}
    answer = client.put(f"/vc-management/v1/schema/{schema_id}/updateTemplateUrl", json=urls, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "Successfully updated Schema with template URLs"
    assert issuer.entity_types[NAME].certificate_templates["pdf"] == urls["pdf"]
    # Express matches the literal parts in any case, and takes a trailing slash
    lower = client.put(
        f"/vc-management/V1/schema/{schema_id}/updatetemplateurl/", json={"a": "https://a"}, headers=AUTH
    )
    assert lower.status_code == 200, lower.text
    # UploadTemplate.js: a multipart PUT with the template in files
    page = b"<html><body>{{credentialSubject.name}}</body></html>"
    answer = client.put(
        f"/vc-management/v1/schema/{schema_id}/updateTemplate?templateKey=html",
        files={"files": ("training.html", page, "text/html")},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    templates = issuer.entity_types[NAME].certificate_templates
    assert templates["html"] == url and templates["pdf"] == urls["pdf"]
    served = client.get(url.replace("http://testserver", ""))
    assert served.status_code == 200 and served.content == page
    assert (
        served.headers["content-type"].startswith("text/html")
        and "sandbox" in served.headers["content-security-policy"]
    )
    schema = json.loads(
        client.get(f"/vc-management/v1/schema/{schema_id}", headers=AUTH).json()["schemas"][0]["schema"]
    )
    assert schema["_osConfig"]["certificateTemplates"]["html"] == url


# --- who may -----------------------------------------------------------------------------------

ALPHA, BETA = "alpha@tenant.example", "beta@tenant.example"


def tenant_token(user: str) -> str:
    return keycloak_token(realm_roles=["offline_access", f"{user}-realm-role"], username=user)


def divoc_realm() -> JwtAuthorizer:
    """DIVOC's realm with the manage permission: the admin-api client's api role everywhere, a
    tenant's realm role on the types whose _osConfig.roles name it. (Built directly: the roles
    file's reader takes certify, revoke and read only until auth.SCOPES names manage.)"""
    everything = frozenset({"certify", "revoke", "read", "manage"})
    mapping = RoleMapping(
        claims=(("realm_access", "roles"), ("resource_access", "admin-api", "roles")),
        grants=(_Grant("api", everything, None, False), _Grant("*-realm-role", everything, None, True)),
    )
    return JwtAuthorizer(JWKS, issuer=REALM, roles=mapping)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_tenants_token_touches_its_own_types_only(tmp_path: Path) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")), divoc_realm())
    admin = bearer(keycloak_token(clients={"admin-api": ["api"]}, username="service-account-admin-api"))
    alpha, beta = bearer(tenant_token(ALPHA)), bearer(tenant_token(BETA))
    url_e = upload_context(client, headers=admin)
    url_f = upload_context(client, CONTEXT.replace(NAME.encode(), b"TrainingCertificateF"), headers=admin)
    alphas = create(client, tenant_record(url_e, roles=[f"{ALPHA}-realm-role"]), headers=admin)
    betas = create(client, tenant_record(url_f, name="TrainingCertificateF", roles=[f"{BETA}-realm-role"]), admin)
    # each tenant certifies, reads and changes its own type; the other's is a 403 naming it
    assert certify(client, PAYLOAD, headers=alpha).status_code == 200
    refused = certify(client, {**PAYLOAD, "certificateId": "f-1"}, "TrainingCertificateF", headers=alpha)
    assert refused.status_code == 403 and refused.json()["entity"] == "TrainingCertificateF"
    change = {"status": "PUBLISHED"}
    assert client.put(f"/vc-management/v1/schema/{alphas}", json=change, headers=alpha).status_code == 200
    other = client.put(f"/vc-management/v1/schema/{betas}", json=change, headers=alpha)
    assert other.status_code == 403 and other.json()["code"] == "FORBIDDEN"
    assert (
        client.put(
            f"/vc-management/v1/schema/{betas}/updateTemplateUrl", json={"x": "https://a"}, headers=alpha
        ).status_code
        == 403
    )
    assert client.get(f"/vc-management/v1/schema/{betas}", headers=alpha).status_code == 403
    assert [s["name"] for s in client.get("/vc-management/v1/schema", headers=alpha).json()["schemas"]] == [NAME]
    assert client.put(f"/vc-management/v1/schema/{betas}", json=change, headers=beta).status_code == 200
    # a tenant's new schema names its role (DIVOC's addRoleIfNotPresent): its own, not the other's
    url_g = upload_context(client, CONTEXT.replace(NAME.encode(), b"TrainingCertificateG"), headers=alpha)
    create(client, tenant_record(url_g, name="TrainingCertificateG", roles=[]), headers=alpha)
    assert (
        certify(client, {**PAYLOAD, "certificateId": "g-1"}, "TrainingCertificateG", headers=alpha).status_code == 200
    )
    assert certify(client, {**PAYLOAD, "certificateId": "g-2"}, "TrainingCertificateG", headers=beta).status_code == 403


# --- the store ---------------------------------------------------------------------------------


def test_the_store_keeps_versions_in_order_and_documents_for_good(store_location: str) -> None:
    store: Store = make_issuer(store_location).store
    files = {"entity.json": b"{}", "schema.json": b"\x00\xff"}
    store.put_entity_type("T", files, schema_id="s1", record={"name": "T"}, version=1, at="2024-01-01T00:00:00Z")
    with pytest.raises(LifecycleError) as made_twice:
        store.put_entity_type("T", files, schema_id="s2", record={}, version=1, at="2024-01-01T00:00:00Z")
    assert made_twice.value.code == "INVALID_TRANSITION"
    store.put_entity_type("T", {"a": b"2"}, schema_id="s1", record={"v": 2}, version=2, at="2024-01-02T00:00:00Z")
    with pytest.raises(LifecycleError):  # version 2 again: made meanwhile by another server
        store.put_entity_type("T", {"a": b"3"}, schema_id="s1", record={}, version=2, at="2024-01-03T00:00:00Z")
    [kept] = store.entity_types()
    assert (kept.name, kept.schema_id, kept.version, dict(kept.files), dict(kept.record)) == (
        "T",
        "s1",
        2,
        {"a": b"2"},
        {"v": 2},
    )
    assert (kept.created_at, kept.updated_at) == ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")
    first = store.put_document("d", "context", "application/ld+json", b"one", at="2024-01-01T00:00:00Z")
    second = store.put_document("d", "context", "application/ld+json", b"two", at="2024-01-02T00:00:00Z")
    assert first == second and second.data == b"one" and store.get_document("nope") is None


def test_the_openapi_document_describes_the_schema_routes(tmp_path: Path) -> None:
    document = make_client(make_issuer(str(tmp_path / "vccore.db"))).get("/openapi.json").json()
    paths = document["paths"]
    assert paths["/vc-management/v1/schema"]["post"]["security"] == [{"bearer": ["manage"]}]
    for path in (
        "/vc-management/v1/schema/{schemaId}",
        "/vc-management/v1/schema/{schemaId}/updateTemplateUrl",
        "/vc-management/v1/schema/{schemaId}/updateTemplate",
        "/vc-management/v1/context",
        "/templates/sha256/{sha256}",
    ):
        assert path in paths, path


def test_a_store_of_schema_3_is_upgraded_with_entity_types_and_documents(store_location: str) -> None:
    from conftest import raw_rows
    from test_divoc_webhook import _raw

    make_issuer(store_location).store.close()
    _raw(
        store_location,
        "DROP TABLE entity_types",
        "DROP TABLE documents",
        "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
    )
    client = make_client(make_issuer(store_location))
    create(client, tenant_record(upload_context(client)))
    assert raw_rows(store_location, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]
    assert raw_rows(store_location, "SELECT name, version FROM entity_types") == [(NAME, 1)]

"""Issue 19, rows 12 and 13 (in part): DIVOC's public context route, vccore's contexts by sha256,
and the OpenAPI document at DIVOC's api-docs paths, against the real app (Starlette's TestClient)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")

from conftest import TEMPLATES
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vccore import Ed25519Key, load_entity_types, open_store, verify
from vccore.contexts import ContextLoader, bundled_contexts
from vccore.http import create_app
from vccore.http.auth import StaticTokenAuthorizer
from vccore.issuer import Issuer, issuer_of

KEY = Ed25519Key.from_seed(bytes(range(32)))
BASE = "https://issuer.example/status/"
TOKEN = "static-token-for-tests-0123456789"
DIVOC_CONTEXT = "https://divoc.example/vc-management/v1/context/abc"
HP_CONTEXT = "https://vccore.dev/credentials/health-professional/v1"
CONTEXT_BYTES = (TEMPLATES / "HealthProfessional" / "context.jsonld").read_bytes()
CONTEXT_SHA256 = hashlib.sha256(CONTEXT_BYTES).hexdigest()


def tenant_type(parent: Path, name: str, context_url: str, context: bytes = CONTEXT_BYTES) -> Path:
    """A tenant's entity type as DIVOC's portal makes one: HealthProfessional under another name,
    its context pinned at the DIVOC URL the credentials name (``context``: other bytes for it)."""
    folder = parent / name
    shutil.copytree(TEMPLATES / "HealthProfessional", folder)
    for path in folder.glob("*.json"):
        path.write_text(path.read_text().replace(HP_CONTEXT, context_url))
    (folder / "context.jsonld").write_bytes(context)
    manifest = json.loads((folder / "entity.json").read_text())
    manifest.update(name=name, aliases=[])
    manifest["contexts"][0]["sha256"] = hashlib.sha256(context).hexdigest()
    (folder / "entity.json").write_text(json.dumps(manifest))
    return folder


def other_bytes() -> bytes:
    """The same context with another term: a document with other bytes."""
    document = json.loads(CONTEXT_BYTES)
    document["@context"]["tenantNote"] = "https://divoc.example/terms#tenantNote"
    return json.dumps(document).encode()


def make_app(issuer: Issuer) -> Starlette:
    return create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN))


@pytest.fixture
def tenant(tmp_path: Path) -> tuple[TestClient, Issuer]:
    types = load_entity_types(tenant_type(tmp_path / "types", "TenantCertificate", DIVOC_CONTEXT))
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE), entity_types=types)
    return TestClient(make_app(issuer)), issuer  # no token: every route here is public


def certified(client: TestClient, issuer: Issuer) -> dict[str, Any]:
    example = issuer.entity_types["TenantCertificate"].example
    assert example is not None
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.post(
        "/vc-certification/v1/certify/TenantCertificate",
        json={**example, "validTill": "2099-01-01T00:00:00Z"},
        headers=auth,
    )
    assert answer.status_code == 200, answer.text
    fetched = client.get(
        f"/vc-certification/v1/certificate/TenantCertificate/{answer.json()['certificateId']}", headers=auth
    )
    assert fetched.status_code == 200, fetched.text
    credential: dict[str, Any] = fetched.json()
    return credential


# --- row 12: the context a credential names, served where it names it -----------------------------------


def test_a_third_party_verifier_resolves_the_context_a_credential_names(tenant: tuple[TestClient, Issuer]) -> None:
    client, issuer = tenant
    credential = certified(client, issuer)
    assert DIVOC_CONTEXT in credential["@context"]
    served = client.get("/vc-management/v1/context/abc")  # the URL's path, asked of this server
    assert served.status_code == 200, served.text
    assert served.content == CONTEXT_BYTES  # byte for byte as pinned
    assert served.headers["content-type"] == "application/ld+json"
    assert served.headers["etag"] == f'"{CONTEXT_SHA256}"'
    assert served.headers["cache-control"] == "public, max-age=3600"
    assert served.headers["access-control-allow-origin"] == "*"
    trusted = {
        "verification_methods": [{k: v for k, v in KEY.to_multikey().items() if k != "@context"}],
        "trusted_issuers": [issuer_of(KEY)],
    }
    # a verifier that knows only the standard contexts cannot read the credential ...
    alone = verify(credential, contexts=bundled_contexts(), **trusted)  # type: ignore[arg-type]
    assert not alone.verified and DIVOC_CONTEXT in json.dumps([p.to_dict() for p in alone.problems])
    # ... and verifies it with the document this server gave for the URL
    resolved = verify(credential, contexts=bundled_contexts().with_contexts({DIVOC_CONTEXT: served.content}), **trusted)  # type: ignore[arg-type]
    assert resolved.verified, [p.to_dict() for p in resolved.problems]


def test_the_context_route_answers_a_cached_copy_with_304(tenant: tuple[TestClient, Issuer]) -> None:
    client, _ = tenant
    tag = f'"{CONTEXT_SHA256}"'
    for asked in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = client.get("/vc-management/v1/context/abc", headers={"If-None-Match": asked})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag, asked
    assert client.get("/vc-management/v1/context/abc", headers={"If-None-Match": '"other"'}).status_code == 200


def test_the_context_route_ignores_the_case_of_the_id_like_express(tenant: tuple[TestClient, Issuer]) -> None:
    client, _ = tenant
    answer = client.get("/vc-management/v1/context/ABC")
    assert answer.status_code == 200 and answer.content == CONTEXT_BYTES
    # a trailing slash reaches it too (Express takes one; what answers it is the app's, not the route's)
    assert client.get("/vc-management/v1/context/abc/").content == CONTEXT_BYTES
    head = client.head("/vc-management/v1/context/abc")
    assert head.status_code == 200 and head.headers["etag"] == f'"{CONTEXT_SHA256}"'


def test_an_unknown_context_is_a_404_problem_naming_its_id(tenant: tuple[TestClient, Issuer]) -> None:
    client, _ = tenant
    answer = client.get("/vc-management/v1/context/1-nope")
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "UNKNOWN_CONTEXT" and body["osid"] == "1-nope" and "1-nope" in body["detail"]
    # a context pinned at another path is not served at this one
    assert client.get("/vc-management/v1/context/v1").status_code == 404


def test_a_context_pinned_with_other_bytes_on_two_hosts_is_served_to_each_host(tmp_path: Path) -> None:
    a, b = "https://a.example/vc-management/v1/context/x", "https://b.example/vc-management/v1/context/x"
    types = load_entity_types(
        tenant_type(tmp_path / "types", "TenantA", a), tenant_type(tmp_path / "types", "TenantB", b, other_bytes())
    )
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE), entity_types=types)
    app = make_app(issuer)
    assert TestClient(app, base_url="https://a.example").get("/vc-management/v1/context/x").content == CONTEXT_BYTES
    assert TestClient(app, base_url="https://b.example").get("/vc-management/v1/context/x").content == other_bytes()
    elsewhere = TestClient(app).get("/vc-management/v1/context/x")
    assert elsewhere.status_code == 409 and elsewhere.json()["urls"] == [a, b], elsewhere.text
    assert elsewhere.json()["code"] == "CONTEXT_DIGEST_MISMATCH"


def test_a_context_added_while_the_server_runs_is_served(tmp_path: Path) -> None:
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE))
    client = TestClient(make_app(issuer))
    assert client.get("/vc-management/v1/context/abc").status_code == 404
    issuer.entity_types = load_entity_types(tenant_type(tmp_path / "types", "TenantCertificate", DIVOC_CONTEXT))
    assert client.get("/vc-management/v1/context/abc").content == CONTEXT_BYTES


def test_a_pin_whose_file_does_not_match_is_never_served(tmp_path: Path) -> None:
    folder = tmp_path / "contexts"
    folder.mkdir()
    (folder / "good.jsonld").write_bytes(CONTEXT_BYTES)
    (folder / "bad.jsonld").write_bytes(other_bytes())
    index = {
        "https://t.example/vc-management/v1/context/good": {"file": "good.jsonld", "sha256": CONTEXT_SHA256},
        "https://t.example/vc-management/v1/context/bad": {"file": "bad.jsonld", "sha256": CONTEXT_SHA256},
    }
    (folder / "index.json").write_text(json.dumps(index))
    store = open_store(tmp_path / "vccore.db", status_url=BASE)
    client = TestClient(make_app(Issuer(signer=KEY, store=store, contexts=ContextLoader.from_directory(folder))))
    assert client.get("/vc-management/v1/context/good").content == CONTEXT_BYTES
    assert client.get("/vc-management/v1/context/bad").status_code == 404
    other = hashlib.sha256(other_bytes()).hexdigest()
    assert client.get(f"/contexts/sha256/{other}").status_code == 404


# --- every pinned context, by its sha256 -------------------------------------------------------------------


def test_every_pinned_context_is_served_by_its_sha256(tenant: tuple[TestClient, Issuer]) -> None:
    client, _ = tenant
    loader = bundled_contexts()
    pinned = {url: loader.read_bytes(url) for url in loader.urls()} | {DIVOC_CONTEXT: CONTEXT_BYTES}
    assert len(pinned) > 20
    for url, data in pinned.items():
        digest = hashlib.sha256(data).hexdigest()
        answer = client.get(f"/contexts/sha256/{digest}")
        assert answer.status_code == 200 and answer.content == data, url
        assert answer.headers["etag"] == f'"{digest}"' and answer.headers["content-type"] == "application/ld+json"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get(f"/contexts/sha256/{CONTEXT_SHA256.upper()}").content == CONTEXT_BYTES
    unknown = client.get(f"/contexts/sha256/{'0' * 64}")
    assert unknown.status_code == 404 and unknown.json()["code"] == "UNKNOWN_CONTEXT"
    assert unknown.json()["sha256"] == "0" * 64


# --- row 13 (in part): the OpenAPI document at DIVOC's api-docs paths --------------------------------------


@pytest.mark.parametrize("path", ["/vc-certification/api-docs", "/vc-management/api-docs"])
def test_the_api_docs_paths_give_the_openapi_document(tenant: tuple[TestClient, Issuer], path: str) -> None:
    client, _ = tenant
    document = client.get("/openapi.json").json()
    as_json = client.get(path, headers={"Accept": "application/json"})
    assert as_json.status_code == 200 and as_json.json() == document
    assert as_json.headers["content-type"] == "application/json"
    page = client.get(path)  # a browser's Accept, or none: DIVOC's swagger-ui serves a page
    for accept in ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None):
        page = client.get(path, headers={"Accept": accept} if accept else {})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), accept
    assert page.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert "<script" not in page.text and "src=" not in page.text and "<link" not in page.text
    assert "/vc-management/v1/context/{osid}" in page.text and 'href="/openapi.json"' in page.text
    # the portal's "Explore API" link ends with a slash
    assert client.get(path + "/", headers={"Accept": "application/json"}).json() == document
    refused = client.get(path, headers={"Accept": "image/png"})
    assert refused.status_code == 406 and refused.json()["code"] == "NOT_ACCEPTABLE"


def test_the_openapi_document_describes_the_management_routes(tenant: tuple[TestClient, Issuer]) -> None:
    client, _ = tenant
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/vc-management/v1/context/{osid}",
        "/contexts/sha256/{sha256}",
        "/vc-certification/api-docs",
        "/vc-management/api-docs",
    ):
        assert set(paths[path]) == {"get"} and "security" not in paths[path]["get"], path
        assert any(getattr(route, "path", None) == path for route in client.app.routes), path  # type: ignore[attr-defined]

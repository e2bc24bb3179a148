"""Issue 19, row 13: DIVOC's template routes (vc-management-service ``/v1/templates``), as its
tenant portal calls them: upload a certificate template for a tenant, read one back for editing.
Before this, both were 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("jwt")

from local_web import local_web
from test_divoc_schemas import AUTH, make_client, make_issuer

TEMPLATES = "/vc-management/v1/templates"
PAGE = b"<html><body><h1>{{credentialSubject.name}}</h1><img src='{{qrCode}}'></body></html>"


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    with local_web(lambda path: PAGE) as served:
        yield served.url, served.hits


def test_a_template_uploaded_for_a_tenant_is_kept_and_read_back(tmp_path: Path) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    uploaded = client.post(f"{TEMPLATES}/clinic", files={"files": ("t.html", PAGE, "text/html")}, headers=AUTH)
    assert uploaded.status_code == 200, uploaded.text
    body = uploaded.json()
    assert body["message"] == "Successfully uploaded template"
    (url,) = body["uploadTemplateResponse"]["documentLocations"]
    assert "/templates/sha256/" in url
    # served where it says, and read back for the portal's editor from the store (no HTTP client
    # reaches http://testserver)
    assert client.get(url).content == PAGE
    read = client.get(TEMPLATES, params={"template": url}, headers=AUTH)
    assert read.status_code == 200 and read.json() == {"htmlData": PAGE.decode()}


def test_a_template_elsewhere_is_fetched_once_and_a_minio_one_refused(
    tmp_path: Path, web: tuple[str, list[str]]
) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    base, hits = web
    for _ in range(2):
        read = client.get(TEMPLATES, params={"template": f"{base}/t.html"}, headers=AUTH)
        assert read.status_code == 200 and read.json()["htmlData"] == PAGE.decode()
    assert hits == ["/t.html"]
    minio = client.get(TEMPLATES, params={"template": "minio://bucket/t.html"}, headers=AUTH)
    assert minio.status_code == 400 and minio.json()["field"] == "template" and "MinIO" in minio.json()["message"]
    gone = client.get(TEMPLATES, params={"template": "http://127.0.0.1:9/t.html"}, headers=AUTH)
    assert gone.status_code == 502 and gone.json()["code"] == "TEMPLATE_FETCH"


def test_the_template_routes_need_a_token_and_a_valid_tenant(tmp_path: Path) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    files = {"files": ("t.html", PAGE, "text/html")}
    assert client.post(f"{TEMPLATES}/clinic", files=files).status_code == 401
    # DIVOC's GET takes no token and fetches any URL for anyone; vccore's needs manage
    assert client.get(TEMPLATES, params={"template": "http://127.0.0.1:9/x"}).status_code == 401
    bad = client.post(f"{TEMPLATES}/clinic-1", files=files, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["field"] == "tenant"
    assert client.get(TEMPLATES, headers=AUTH).json()["field"] == "template"
    assert "/vc-management/v1/templates/{tenant}" in client.get("/openapi.json").json()["paths"]

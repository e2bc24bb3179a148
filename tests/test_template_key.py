"""Issues 19 and 21: a tenant's own certificate template on DIVOC's fetch route (the ``template-key``
header, as DIVOC's vc-certification-service forwards it to the registry, which picks the schema's
``certificateTemplates[key]``), in ``vccore render --template``, and DIVOC's schema preview
(``POST /vc-management/v1/schema/preview``: sign sample data, print the template as a PDF).

The tenant is the real one of ``tests/vectors/divoc-tenant`` (its schema names its template in
MinIO); the templates are written here, over that tenant's credential fields.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("jwt")
pytest.importorskip("zxingcpp")

from local_web import local_web
from starlette.testclient import TestClient
from test_divoc_schemas import (
    AUTH,
    KEY,
    NAME,
    PAYLOAD,
    create,
    make_client,
    make_issuer,
    tenant_record,
    upload_context,
)

from vccore import pdf
from vccore.certificate_templates import PAGE_SECURITY_HEADERS
from vccore.cli import main
from vccore.qr import decode_text, read_image

CERTIFICATE = f"/vc-certification/v1/certificate/{NAME}"
PREVIEW = "/vc-management/v1/schema/preview"
HTML = (
    b'<!DOCTYPE html><html><head><meta charset="utf-8"><style>body { font-family: sans-serif }</style></head><body>'
    b"<h1>Certificate of Training</h1><p>Awarded to {{credentialSubject.name}}</p>"
    b"<p>Course: {{evidence.courseName}}</p><p>Issued {{dateFormat issuanceDate 'DD-MM-YYYY'}}</p>"
    b'<img src="{{qrCode}}" style="width: 90mm"></body></html>'
)
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
    b'xmlns:xlink="http://www.w3.org/1999/xlink" width="210mm" height="297mm" viewBox="0 0 210 297">'
    b'<text x="20" y="30" font-size="8">Training of {{credentialSubject.name}}</text>'
    b'<text x="20" y="45" font-size="6">Course {{evidence.courseName}}</text>'
    b'<image x="40" y="70" width="130" height="130" xlink:href="{{qrCode}}"/></svg>'
)
POPPLER = all(shutil.which(tool) for tool in ("pdftoppm", "pdftotext"))
needs_printer = pytest.mark.skipif(
    (pdf.chromium_path() is None or not POPPLER) and not os.environ.get("VCCORE_REQUIRE_CHROMIUM"),
    reason="no chromium or no poppler-utils on this machine (CI installs both)",
)


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A tenant's template server on this machine, recording each request."""
    with local_web(lambda path: HTML if path.endswith(".html") else SVG) as served:
        yield served.url, served.hits


def tenant(tmp_path: Path) -> tuple[TestClient, str, dict[str, Any]]:
    """The tenant's schema made, its templates uploaded (``html`` and ``svg``), one certificate issued."""
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    schema_id = create(client, tenant_record(upload_context(client)))
    for key, page, kind in (("html", HTML, "text/html"), ("svg", SVG, "image/svg+xml")):
        answer = client.put(
            f"/vc-management/v1/schema/{schema_id}/updateTemplate?templateKey={key}",
            files={"files": (f"training.{key}", page, kind)},
            headers=AUTH,
        )
        assert answer.status_code == 200, answer.text
    certified = client.post(f"/vc-certification/v1/certify/{NAME}", json=PAYLOAD, headers=AUTH)
    assert certified.status_code == 200, certified.text
    credential = client.get(f"{CERTIFICATE}/tc-1", headers={**AUTH, "Accept": "application/json"}).json()
    return client, schema_id, credential


def fetch(client: TestClient, key: str | None, accept: str) -> Any:
    headers = {**AUTH, "Accept": accept, **({"template-key": key} if key is not None else {})}
    return client.get(f"{CERTIFICATE}/tc-1", headers=headers)


def qr_of_page(page: str, tmp_path: Path) -> str:
    """What zxing-cpp reads from the page's qrCode PNG (its data URL as a browser reads the
    attribute: Handlebars writes ``=`` as ``&#x3D;``)."""
    start = page.index("data:image/png;base64,") + len("data:image/png;base64,")
    end = page.index('"', start)
    path = tmp_path / "qr.png"
    path.write_bytes(base64.b64decode(html.unescape(page[start:end])))
    return read_image(path)


def read_pdf(document: bytes, tmp_path: Path, name: str) -> tuple[str, str]:
    """A PDF's text (pdftotext) and its first page's QR code (pdftoppm at 150 dpi, zxing-cpp)."""
    assert document.startswith(b"%PDF-"), document[:40]
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(document)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, timeout=60).stdout
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", "-f", "1", str(path), str(tmp_path / name)],
        check=True,
        timeout=60,
    )
    return " ".join(text.decode().split()), read_image(tmp_path / f"{name}.png")


# --- DIVOC's fetch route with template-key ----------------------------------------------------------


def test_the_tenants_uploaded_html_template_is_the_page_read_from_the_store(tmp_path: Path) -> None:
    client, _, credential = tenant(tmp_path)
    answer = fetch(client, "html", "text/html")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    for name, value in PAGE_SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    # the template's URL is http://testserver/templates/sha256/..., which no HTTP client reaches:
    # the page was made from the store
    assert "Certificate of Training" in answer.text and "Awarded to Asha Rao" in answer.text
    assert "Course: Basic Care" in answer.text and "Issued 01-03-2024" in answer.text
    decoded = decode_text(qr_of_page(answer.text, tmp_path))  # DIVOC's ZIP, as certificate-api draws it
    assert decoded.format == "divoc" and decoded.credential == credential
    assert answer.headers["certificate-state"] == "VALID"
    # without a key (or an empty one), vccore's own layout, which this type has not; JSON ignores the key
    for key in (None, ""):
        own = fetch(client, key, "text/html")
        assert own.status_code == 400 and own.json()["code"] == "NO_CERTIFICATE_LAYOUT", own.text
    as_json = fetch(client, "html", "application/json")
    assert as_json.status_code == 200 and as_json.json() == credential


def test_with_a_template_key_svg_is_the_tenants_svg_page_not_the_qr_symbol(tmp_path: Path) -> None:
    client, _, credential = tenant(tmp_path)
    answer = fetch(client, "svg", "image/svg+xml")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert "Training of Asha Rao" in answer.text and answer.headers["content-security-policy"]
    assert decode_text(qr_of_page(answer.text, tmp_path)).credential == credential
    # without the key: the QR symbol, as before
    symbol = fetch(client, None, "image/svg+xml")
    assert symbol.status_code == 200 and "Asha Rao" not in symbol.text


def test_an_unknown_key_is_400_naming_the_keys_the_type_has(tmp_path: Path) -> None:
    client, _, _ = tenant(tmp_path)
    answer = fetch(client, "pdf", "text/html")
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["field"] == "template-key"
    assert "html" in body["detail"] and "svg" in body["detail"] and "pdf" in body["detail"]


def test_a_minio_template_is_refused_saying_upload_it(tmp_path: Path) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    create(client, tenant_record(upload_context(client)))  # its html template is in MinIO
    assert client.post(f"/vc-certification/v1/certify/{NAME}", json=PAYLOAD, headers=AUTH).status_code == 200
    answer = fetch(client, "html", "text/html")
    assert answer.status_code == 400, answer.text
    assert "MinIO" in answer.json()["detail"] and "updateTemplate" in answer.json()["detail"]


def test_an_http_template_is_fetched_once_for_the_whole_server(tmp_path: Path, web: tuple[str, list[str]]) -> None:
    base, hits = web
    client, schema_id, credential = tenant(tmp_path)
    urls = {"web": f"{base}/training.html"}
    assert (
        client.put(f"/vc-management/v1/schema/{schema_id}/updateTemplateUrl", json=urls, headers=AUTH).status_code
        == 200
    )
    for _ in range(2):
        answer = fetch(client, "web", "text/html")
        assert answer.status_code == 200, answer.text
        assert "Awarded to Asha Rao" in answer.text
    assert hits == ["/training.html"]
    assert decode_text(qr_of_page(answer.text, tmp_path)).credential == credential


@needs_printer
@pytest.mark.parametrize("key", ["html", "svg"])
def test_a_pdf_of_the_tenants_template_shows_the_fields_and_its_qr_verifies(tmp_path: Path, key: str) -> None:
    client, _, credential = tenant(tmp_path)
    answer = fetch(client, key, "application/pdf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'inline; filename="tc-1.pdf"'
    text, scanned = read_pdf(answer.content, tmp_path, key)
    assert "Asha Rao" in text and "Basic Care" in text
    decoded = decode_text(scanned)
    assert decoded.format == "divoc" and decoded.credential == credential


# --- vccore render --template ---------------------------------------------------------------------


def signed_credential(tmp_path: Path) -> Path:
    _, _, credential = tenant(tmp_path)
    path = tmp_path / "cred.json"
    path.write_text(json.dumps(credential, indent=2))
    return path


def test_render_writes_the_tenants_html_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = signed_credential(tmp_path)
    credential = json.loads(source.read_text())
    template = tmp_path / "training.hbs"
    template.write_bytes(HTML)
    out = tmp_path / "page.html"
    assert main(["render", str(source), "-o", str(out), "--template", str(template), "--unverified"]) == 0
    page = out.read_text()
    assert "Awarded to Asha Rao" in page and "Issued 01-03-2024" in page
    assert decode_text(qr_of_page(page, tmp_path)).credential == credential
    # an HTML template does not make an SVG file
    refused = main(["render", str(source), "-o", str(tmp_path / "p.svg"), "--template", str(template), "--unverified"])
    assert refused != 0 and "HTML" in capsys.readouterr().err


def test_render_refuses_a_template_that_does_not_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = signed_credential(tmp_path)
    template = tmp_path / "broken.html"
    template.write_text("<p>{{#each evidence}}</p>")
    out = tmp_path / "page.html"
    assert main(["render", str(source), "-o", str(out), "--template", str(template), "--unverified"]) != 0
    assert not out.exists() and "TEMPLATE_SYNTAX" in capsys.readouterr().err


@needs_printer
def test_render_prints_the_tenants_svg_template_as_a_pdf(tmp_path: Path) -> None:
    source = signed_credential(tmp_path)
    credential = json.loads(source.read_text())
    template = tmp_path / "training.txt"  # an SVG by its content
    template.write_bytes(SVG)
    out = tmp_path / "page.pdf"
    assert main(["render", str(source), "-o", str(out), "--template", str(template), "--unverified"]) == 0
    text, scanned = read_pdf(out.read_bytes(), tmp_path, "cli")
    assert "Training of Asha Rao" in text and decode_text(scanned).credential == credential


# --- the schema preview ---------------------------------------------------------------------------


def preview_body(client: TestClient, template: str) -> dict[str, Any]:
    """As DIVOC's tenant portal sends it (TestAndPublish.js): the schema's credential template, sample data."""
    schema = json.loads(tenant_record(upload_context(client))["schema"])
    return {"credentialTemplate": schema["_osConfig"]["credentialTemplate"], "data": PAYLOAD, "template": template}


@needs_printer
def test_the_preview_signs_the_sample_and_prints_the_template(tmp_path: Path) -> None:
    client, schema_id, _ = tenant(tmp_path)
    stored = client.get(f"/vc-management/v1/schema/{schema_id}", headers=AUTH).json()["schemas"][0]
    url = json.loads(stored["schema"])["_osConfig"]["certificateTemplates"]["html"]
    answer = client.post(PREVIEW, json=preview_body(client, url), headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    text, scanned = read_pdf(answer.content, tmp_path, "preview")
    assert "Awarded to Asha Rao" in text and "Basic Care" in text
    signed = decode_text(scanned).credential
    assert signed["credentialSubject"]["name"] == "Asha Rao"
    assert signed["proof"]["verificationMethod"] == KEY.id and signed["proof"]["proofValue"]


def test_the_preview_refuses_naming_the_field(tmp_path: Path) -> None:
    client, _, _ = tenant(tmp_path)
    good = preview_body(client, "https://tenant.example/training.html")
    cases = {
        "credentialTemplate": {**good, "credentialTemplate": 7},
        "data": {**good, "data": "not an object"},
        "template": {**good, "template": ""},
    }
    for field, body in cases.items():
        answer = client.post(PREVIEW, json=body, headers=AUTH)
        assert answer.status_code == 400, (field, answer.text)
        assert answer.json()["field"] == field, answer.text
    minio = client.post(PREVIEW, json={**good, "template": "minio://Tenant/t.html"}, headers=AUTH)
    assert minio.status_code == 400 and minio.json()["field"] == "template" and "MinIO" in minio.json()["detail"]
    broken = client.post(PREVIEW, json={**good, "credentialTemplate": "{{#if}}"}, headers=AUTH)
    assert broken.status_code == 400 and broken.json()["field"] == "credentialTemplate", broken.text
    assert client.post(PREVIEW, json=good).status_code == 401
    assert client.post(PREVIEW, json=good, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code in (
        401,
        403,
    )


def test_the_openapi_document_describes_template_key_and_the_preview(tmp_path: Path) -> None:
    client = make_client(make_issuer(str(tmp_path / "vccore.db")))
    paths = client.get("/openapi.json").json()["paths"]
    fetched = paths["/vc-certification/v1/certificate/{entityName}/{certificateId}"]["get"]
    assert "template-key" in [p["name"] for p in fetched["parameters"] if p["in"] == "header"]
    preview = paths[PREVIEW]["post"]
    assert "application/pdf" in preview["responses"]["200"]["content"]
    assert preview["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "credentialTemplate",
        "data",
        "template",
    ]


def test_a_tenants_page_of_a_certificate_that_is_not_current_says_so_at_its_top(tmp_path: Path) -> None:
    """Issue 21, point 4: a tenant's template cannot know the certificate's state, so the page of a
    revoked one carries it in a red band at its top (HTML and SVG, and so the PDF); a current one
    has none."""
    client, _, _ = tenant(tmp_path)
    for key, accept in (("html", "text/html"), ("svg", "image/svg+xml")):
        assert 'role="alert"' not in fetch(client, key, accept).text
    revoked = client.post(
        "/vc-certification/v1/certificate/revoke", json={"certificateId": "tc-1", "entityName": NAME}, headers=AUTH
    )
    assert revoked.status_code == 200, revoked.text
    for key, accept in (("html", "text/html"), ("svg", "image/svg+xml")):
        page = fetch(client, key, accept).text
        band = page[page.index('role="alert"') :][:400]
        assert "REVOKED" in band, band
        assert page.index('role="alert"') < page.index("Asha Rao")  # at the top, before the tenant's text


def test_render_with_a_template_shows_what_does_not_verify(tmp_path: Path) -> None:
    source = signed_credential(tmp_path)
    template = tmp_path / "training.hbs"
    template.write_bytes(HTML)
    out = tmp_path / "page.html"
    assert main(["render", str(source), "-o", str(out), "--template", str(template), "--unverified"]) == 0
    page = out.read_text()
    assert 'role="alert"' in page and "NOT VERIFIED" in page  # signed by a key the command does not trust

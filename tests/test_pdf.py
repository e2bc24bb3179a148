"""Printed certificates (vccore.pdf, headless Chromium): each bundled type's page as a PDF that
poppler reads back (its text, and its QR code from a 150 dpi PNG, which verifies), the state of a
certificate that is not current on its page, DIVOC's route answering ``application/pdf``, and a
hostile page that runs no script and fetches nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from local_web import local_web

pytest.importorskip("zxingcpp")

from vccore import Ed25519Key, Verifier, bundled_entity_types, open_store, pdf, qr, render
from vccore.cli import main
from vccore.issuer import Issuer
from vccore.store import SQLiteStore

TYPES = bundled_entity_types()
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2023, 9, 10, tzinfo=UTC)
LATER = datetime(2024, 1, 1, tzinfo=UTC)
POPPLER = all(shutil.which(tool) for tool in ("pdftoppm", "pdftotext", "pdfinfo", "pdfimages"))

pytestmark = pytest.mark.skipif(
    (pdf.chromium_path() is None or not POPPLER) and not os.environ.get("VCCORE_REQUIRE_CHROMIUM"),
    reason="no chromium or no poppler-utils on this machine (CI installs both)",
)


@pytest.fixture(autouse=True)
def _engine_and_poppler() -> None:
    assert pdf.chromium_path() is not None, "VCCORE_REQUIRE_CHROMIUM is set and chromium is missing"
    assert POPPLER, "VCCORE_REQUIRE_CHROMIUM is set and poppler-utils (pdftoppm, pdftotext) is missing"


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each bundled type's example payload, signed in its default version and first suite."""
    out = {}
    for name, entity in TYPES.items():
        suite = entity.suites[0] if entity.suites else "eddsa-rdfc-2022"
        store = SQLiteStore(tmp_path_factory.mktemp(name) / "s.db", status_url="https://issuer.example/status/")
        issuer = Issuer(signer=KEY, store=store, suite=suite)
        assert entity.example is not None
        out[name] = issuer.certify(entity, entity.example, now=NOW).credential
    return out


def _tool(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


def _read_back(document: bytes, folder: Path, name: str) -> tuple[str, str]:
    """The PDF's text (pdftotext), and its QR code's text read by zxing-cpp from the page made a
    150 dpi PNG (pdftoppm). Checks it is one A4 page whose QR code is drawn, not an image.
    """
    assert document.startswith(b"%PDF-"), document[:20]
    path = folder / f"{name}.pdf"
    path.write_bytes(document)
    info = _tool("pdfinfo", str(path))
    assert "Pages:           1\n" in info and "(A4)" in info, info
    images = _tool("pdfimages", "-list", str(path)).splitlines()[2:]
    assert images == [], f"the page holds images (the QR code should be vector): {images}"
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(folder / name)], check=True, timeout=60
    )
    return _tool("pdftotext", "-layout", str(path), "-"), qr.read_image(folder / f"{name}.png")


def _holds(text: str, credential: dict[str, Any], name: str) -> None:
    """The page shows the type's title and each field's value (as the HTML page prints them)."""
    spec = TYPES[name].certificate
    assert spec is not None
    flat = " ".join(text.replace("\ufb01", "fi").split())
    assert spec.title in flat, flat[:300]
    for label, path in spec.fields:
        value = render.value_at(credential, path)
        assert label in flat, label
        assert value[:40] in flat, (label, value)


@pytest.mark.parametrize("kind", ["html", "svg"])
@pytest.mark.parametrize("fmt", ["compact", "divoc"])
def test_each_bundled_type_prints_a_pdf_whose_qr_verifies(
    tmp_path: Path, credentials: dict[str, dict[str, Any]], kind: str, fmt: str
) -> None:
    for name, credential in credentials.items():
        if kind == "html":
            document = render.certificate_pdf(credential, qr_format=fmt, now=LATER)
        else:
            document = pdf.svg_to_pdf(render.certificate_svg(credential, qr_format=fmt, now=LATER))
        text, scanned = _read_back(document, tmp_path, f"{name}-{kind}-{fmt}")
        _holds(text, credential, name)
        decoded = qr.decode_text(scanned)
        assert decoded.format == fmt and decoded.credential == credential
        assert Verifier.create().verify(decoded.text, now=LATER).verified, name


def test_vccore_render_writes_a_pdf_with_the_state_at_its_time(
    tmp_path: Path, credentials: dict[str, dict[str, Any]]
) -> None:
    source = tmp_path / "cred.json"
    credential = credentials["HealthProfessional"]  # valid until 2025-09-09T21:01:01.121Z
    source.write_text(json.dumps(credential))
    out = tmp_path / "cert.pdf"
    assert main(["render", str(source), "-o", str(out), "--now", "2024-01-01T00:00:00Z"]) == 0
    text, scanned = _read_back(out.read_bytes(), tmp_path, "current")
    _holds(text, credential, "HealthProfessional")
    assert "EXPIRED" not in text and qr.decode_text(scanned).credential == credential
    assert main(["render", str(source), "-o", str(out), "--now", "2026-01-01T00:00:00Z", "--format", "divoc"]) == 0
    text, scanned = _read_back(out.read_bytes(), tmp_path, "expired")
    assert "EXPIRED: valid until 2025-09-09T21:01:01.121Z" in text
    assert qr.decode_text(scanned).format == "divoc"


# --- DIVOC's route --------------------------------------------------------------------------------

TOKEN = "static-token-for-tests-0123456789"
CERTIFY = "/vc-certification/v1/certify/HealthProfessional"
CERTIFICATE = "/vc-certification/v1/certificate/HealthProfessional"
REVOKE = "/vc-certification/v1/certificate/revoke"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from vccore.http import create_app
    from vccore.http.auth import StaticTokenAuthorizer

    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url="https://issuer.example/status/"))
    yield TestClient(
        create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN)), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    issuer.store.close()


def _payload(certificate_id: str, **changes: Any) -> dict[str, Any]:
    example = TYPES["HealthProfessional"].example
    assert example is not None
    return {**example, "certificateId": certificate_id, "validTill": "2099-09-09T21:01:01.121Z", **changes}


def _fetched_pdf(client: Any, certificate_id: str) -> bytes:
    answer = client.get(f"{CERTIFICATE}/{certificate_id}", headers={"Accept": "application/pdf"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == f'inline; filename="{certificate_id}.pdf"'
    content: bytes = answer.content
    return content


def test_divocs_route_answers_a_pdf_whose_qr_verifies(client: Any, tmp_path: Path) -> None:
    assert client.post(CERTIFY, json=_payload("p-1")).status_code == 200
    credential = client.get(f"{CERTIFICATE}/p-1", headers={"Accept": "application/json"}).json()
    text, scanned = _read_back(_fetched_pdf(client, "p-1"), tmp_path, "route")
    _holds(text, credential, "HealthProfessional")
    assert "REVOKED" not in text and "SUSPENDED" not in text and "SUPERSEDED" not in text
    decoded = qr.decode_text(scanned)
    assert decoded.format == "divoc" and decoded.credential == credential
    assert Verifier.create().verify(decoded.text).verified


def test_divocs_route_prints_a_certificate_that_is_not_current_with_its_state(client: Any, tmp_path: Path) -> None:
    for certificate_id in ("revoked", "suspended", "old"):
        assert client.post(CERTIFY, json=_payload(certificate_id)).status_code == 200
    assert client.post(REVOKE, json={"certificateId": "revoked", "entityName": "HealthProfessional"}).status_code == 200
    until = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
    suspend = {"certificateId": "suspended", "entityName": "HealthProfessional", "endDate": until}
    assert client.post(REVOKE, json=suspend).status_code == 200
    updated = client.put(CERTIFY, json=_payload("old", name="Neha Sharma"))
    successor = updated.json()["certificateId"]
    expected = {
        "revoked": "REVOKED: the issuer has revoked this credential",
        "suspended": f"SUSPENDED: the issuer has suspended this credential until {until}T00:00:00Z",
        "old": f"SUPERSEDED: the issuer has replaced this credential with {successor}",
    }
    for certificate_id, banner in expected.items():
        text, scanned = _read_back(_fetched_pdf(client, certificate_id), tmp_path, certificate_id)
        # the banner may wrap anywhere (after a hyphen too): compared without white space
        assert "".join(banner.split()) in "".join(text.split()), (certificate_id, text[:400])
        assert qr.decode_text(scanned).credential["evidence"]["certificateId"] == certificate_id
    text, _ = _read_back(_fetched_pdf(client, successor), tmp_path, "successor")
    assert "SUPERSEDED" not in text and "Neha Sharma" in text


# --- a hostile page -------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets: a page must make none."""
    with local_web(lambda path: b"<p>FETCHED FROM THE NETWORK</p>") as served:
        yield served.url, served.hits


def _hostile(url: str, secret: Path) -> str:
    return f"""<!DOCTYPE html><html><head>
<meta http-equiv="refresh" content="0;url={url}/refresh">
<link rel="stylesheet" href="{url}/stylesheet"><link rel="prefetch" href="{url}/prefetch">
<link rel="preconnect" href="{url}"><link rel="icon" href="{url}/icon">
<style>@import url("{url}/import"); body {{ background: url({url}/background) }}
@font-face {{ font-family: remote; src: url({url}/font) }} p {{ font-family: remote }}</style>
</head><body>
<p id="said">STATIC TEXT</p>
<script>document.getElementById("said").textContent = "SCRIPT RAN"; fetch("{url}/fetch")</script>
<script src="{url}/script.js"></script>
<img src="{url}/image"><iframe src="{url}/iframe"></iframe>
<iframe srcdoc="<script>parent.document.body.append('SRCDOC SCRIPT RAN')</script>"></iframe>
<iframe src="data:text/html,<script>new Image().src='{url}/data-frame'</script>"></iframe>
<object data="{url}/object"></object><embed src="{url}/embed"><video src="{url}/video" autoplay></video>
<iframe src="{secret.as_uri()}"></iframe><img src="{secret.as_uri()}">
<a href="{url}/link">a link</a>
</body></html>"""


def test_a_hostile_page_runs_no_script_and_fetches_nothing(tmp_path: Path, listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    secret = tmp_path / "secret.html"
    secret.write_text("<p>SECRET FILE CONTENT</p>")
    started = time.monotonic()
    document = pdf.html_to_pdf(_hostile(url, secret), timeout=5)
    assert time.monotonic() - started < 5
    (tmp_path / "hostile.pdf").write_bytes(document)
    text = _tool("pdftotext", str(tmp_path / "hostile.pdf"), "-")
    assert "STATIC TEXT" in text
    for said in ("SCRIPT RAN", "FETCHED FROM THE NETWORK", "SECRET FILE CONTENT"):
        assert said not in text
    time.sleep(0.5)  # a request sent late (the refresh) would have arrived by now
    assert hits == []


def test_scripts_run_only_when_the_caller_allows_them(tmp_path: Path, listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    secret = tmp_path / "secret.html"
    secret.write_text("<p>SECRET FILE CONTENT</p>")
    document = pdf.html_to_pdf(_hostile(url, secret), timeout=5, allow_scripts=True)
    (tmp_path / "scripted.pdf").write_bytes(document)
    text = _tool("pdftotext", str(tmp_path / "scripted.pdf"), "-")
    assert "SCRIPT RAN" in text and "SECRET FILE CONTENT" not in text
    time.sleep(0.5)
    assert hits == []  # scripts may run, and still reach nothing


def test_a_page_that_never_finishes_is_stopped_and_the_next_one_prints() -> None:
    started = time.monotonic()
    with pytest.raises(pdf.RenderError, match=r"did not print the page within 2 s") as caught:
        pdf.html_to_pdf("<p>loop</p><script>for (;;) {}</script>", timeout=2, allow_scripts=True)
    assert caught.value.code == "RENDER_ERROR" and time.monotonic() - started < 4
    assert pdf.html_to_pdf("<p>after</p>", timeout=10, allow_scripts=True).startswith(b"%PDF-")


def test_pages_and_bytes_are_bounded(tmp_path: Path) -> None:
    long_page = "".join(f'<p style="page-break-after: always">page {n}</p>' for n in range(30))
    (tmp_path / "long.pdf").write_bytes(pdf.html_to_pdf(long_page, max_pages=3))
    assert "Pages:           3\n" in _tool("pdfinfo", str(tmp_path / "long.pdf"))
    with pytest.raises(pdf.RenderError, match="over 2000 bytes") as caught:
        pdf.html_to_pdf(long_page, max_bytes=2000)
    assert caught.value.code == "RENDER_ERROR"


def test_a_missing_engine_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pdf.shutdown()
    monkeypatch.setenv("VCCORE_CHROMIUM", str(tmp_path / "no-such-chromium"))
    try:
        with pytest.raises(pdf.RenderError, match=r"apt-get install chromium") as caught:
            pdf.html_to_pdf("<p>x</p>")
        assert caught.value.code == "RENDER_ERROR" and "no-such-chromium" in caught.value.message
    finally:
        pdf.shutdown()


def test_divocs_route_without_a_printer_is_503_naming_what_to_install(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert client.post(CERTIFY, json=_payload("n-1")).status_code == 200
    pdf.shutdown()
    monkeypatch.setenv("VCCORE_CHROMIUM", str(tmp_path / "no-such-chromium"))
    try:
        answer = client.get(f"{CERTIFICATE}/n-1", headers={"Accept": "application/pdf"})
        assert answer.status_code == 503 and answer.json()["code"] == "RENDER_ERROR"
        assert "apt-get install chromium" in answer.json()["message"]
    finally:
        pdf.shutdown()

"""Printable certificates: the page's content, escaping, and a real browser (headless Chromium)
whose screenshot's QR code decodes and verifies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from vccore import Ed25519Key, Verifier, bundled_entity_types, qr, render
from vccore.cli import main
from vccore.entities import EntityType, EntityTypeError
from vccore.issuer import Issuer
from vccore.store import SQLiteStore

TYPES = bundled_entity_types()
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2023, 9, 10, tzinfo=UTC)
LATER = datetime(2024, 1, 1, tzinfo=UTC)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def test_the_page_shows_the_fields_and_the_qr(credentials: dict[str, dict[str, Any]]) -> None:
    credential = credentials["HealthProfessional"]
    page = render.certificate_html(credential)
    assert "<title>Health Professional Registration Certificate</title>" in page
    assert "<th>Registration number</th><td>12345-8</td>" in page
    assert "<th>Valid until</th><td>2025-09-09T21:01:01.121Z</td>" in page
    assert '<svg role="img" aria-label="QR code of the credential"' in page and "{{" not in page
    vaccination = render.certificate_html(credentials["VaccinationCertificate"])
    assert "<th>Vaccine name</th>" in vaccination and "Certificate for COVID-19 Vaccination" in vaccination


def test_values_from_the_credential_are_escaped(credentials: dict[str, dict[str, Any]]) -> None:
    hostile = json.loads(json.dumps(credentials["HealthProfessional"]))
    hostile["credentialSubject"]["name"] = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    hostile["evidence"]["certificateId"] = "{{qr}}"  # a placeholder in a value is only text
    page = render.certificate_html(hostile)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "certificate {{qr}}" in page
    svg = render.certificate_svg(hostile)
    ET.fromstring(svg)  # well-formed: nothing in a value ends a text element
    assert "<script" not in svg


def test_the_svg_page_is_a4_and_well_formed(credentials: dict[str, dict[str, Any]]) -> None:
    svg = render.certificate_svg(credentials["HealthProfessional"])
    root = ET.fromstring(svg)
    assert root.get("width") == "210mm" and root.get("height") == "297mm"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Health Professional Registration Certificate" in texts and "Delhi University" in texts


def test_paths_and_what_cannot_be_printed(tmp_path: Path, credentials: dict[str, dict[str, Any]]) -> None:
    credential = {"a": {"b": [{"c": "x"}, {"c": 3}]}, "flag": True}
    assert render.value_at(credential, "a.b.1.c") == "3"
    assert render.value_at(credential, "missing|a.b.0.c") == "x"
    assert render.value_at(credential, "a.b.9.c") == "" and render.value_at(credential, "flag") == "yes"
    with pytest.raises(render.RenderError) as caught:
        render.certificate_html({"type": ["VerifiableCredential", "SomethingElse"]})
    assert caught.value.code == "UNKNOWN_ENTITY_TYPE" and "SomethingElse" in caught.value.message
    with pytest.raises(render.RenderError, match=r"\.html, \.svg or \.pdf"):
        render.render(credentials["HealthProfessional"], tmp_path / "cert.docx")


def test_a_malformed_certificate_layout_is_refused_when_the_type_loads(tmp_path: Path) -> None:
    source = Path(__file__).parent.parent / "templates" / "HealthProfessional"
    folder = tmp_path / "HealthProfessional"
    shutil.copytree(source, folder)
    manifest = json.loads((folder / "entity.json").read_text())
    manifest["certificate"]["fields"].append(["Bad", "credentialSubject..name"])
    (folder / "entity.json").write_text(json.dumps(manifest))
    with pytest.raises(EntityTypeError, match=r"malformed path 'credentialSubject\.\.name'"):
        EntityType.from_directory(folder)


def test_vccore_render_writes_html_and_svg(
    tmp_path: Path, credentials: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "cred.json"
    source.write_text(json.dumps(credentials["HealthProfessional"]))
    for name in ("cert.html", "cert.svg"):
        assert main(["render", str(source), "-o", str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 10_000
    assert main(["render", str(source), "-o", str(tmp_path / "cert.docx")]) == 2
    assert "write .html, .svg or .pdf" in capsys.readouterr().err


# --- in a browser ---------------------------------------------------------------------------------


def _screenshot(page: Path, out: Path) -> None:
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=2",
            "--window-size=800,1131",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("VCCORE_REQUIRE_CHROMIUM"),
    reason="no chromium on this machine (CI installs it)",
)
@pytest.mark.parametrize("suffix", [".html", ".svg"])
@pytest.mark.parametrize("fmt", ["compact", "divoc"])
def test_the_page_in_chromium_shows_a_qr_that_verifies(
    tmp_path: Path, credentials: dict[str, dict[str, Any]], suffix: str, fmt: str
) -> None:
    assert CHROMIUM is not None, "VCCORE_REQUIRE_CHROMIUM is set and chromium is missing"
    for name, credential in credentials.items():
        page = render.render(credential, tmp_path / f"{name}{suffix}", qr_format=fmt)
        shot = tmp_path / f"{name}{suffix}.png"
        _screenshot(page, shot)
        decoded = qr.decode_text(qr.read_image(shot))
        assert decoded.credential == credential and decoded.format == fmt
        assert Verifier.create().verify(decoded.text, now=LATER).verified, name

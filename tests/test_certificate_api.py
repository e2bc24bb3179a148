"""`vccore serve --certificate-api`: Sunbird RC's certificate-api contract (v0.0.13
services/certificate-api), its calls replayed as DIVOC's registry and vc-management-service send
them; tenants' Handlebars HTML and SVG pages with their QR codes read back by zxing-cpp; hostile
templates and data; and `dateFormat` against npm handlebars-dateformat.

How the callers send it, read from their code:

- the registry (Sunbird RC's CertificateServiceImpl, RestTemplate): POST to its `pdf_url`
  (`http://certificate-api:8078/api/v1/certificatePDF` in DIVOC's compose files), `Accept` the
  citizen's own (`application/pdf`, `text/html` or `image/svg+xml`), a JSON body
  `{"templateUrl", "certificate": <the signed credential as compact JSON text>, "entityId",
  "entityName"}`; it reads the answer's bytes;
- vc-management-service's schema preview (sunbird.service.js getCertByApi, axios): POST
  `/api/v1/certificate`, `Authorization` passed on, `Accept: application/pdf`, the body
  `{"certificate": JSON.stringify(credential), "templateUrl"}`.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_web import local_web
from served import free_port
from starlette.testclient import TestClient

from vccore import handlebars
from vccore.certificate_templates import (
    PAGE_SECURITY_HEADERS,
    CertificateTemplates,
    QRSettings,
    date_format_helper,
    qr_text,
)
from vccore.codes import ErrorCode
from vccore.errors import RenderError, TemplateError
from vccore.http.certificate_api import create_certificate_api_app
from vccore.qr import decode_text, read_image

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "interop" / "js"
VECTORS = Path(__file__).parent / "vectors" / "certificate-templates"
CREDENTIAL = json.loads(
    (
        Path(__file__).parent / "vectors" / "divoc" / "divoc2_vaccination_signed_Ed25519Signature2018_testfixture.json"
    ).read_text(encoding="utf-8")
)
CERTIFICATE = json.dumps(CREDENTIAL, separators=(",", ":"), ensure_ascii=False)  # Jackson's JsonNode.toString()
REQUIRE = os.environ.get("VCCORE_REQUIRE_INTEROP") == "1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


HOSTILE = (
    "<html><head><title>quiet</title><script>document.title = 'SCRIPT-RAN'; document.write('SCRIPT-WROTE')</script>"
    '<link rel="stylesheet" href="{web}/style.css"><script src="{web}/script.js"></script></head>'
    '<body><img src="{web}/pixel.png"><iframe src="{web}/frame.html"></iframe>'
    "<p>{{{{credentialSubject.name}}}}</p><p>{{{{{{credentialSubject.gender}}}}}}</p>"
    '<img src="{{{{qrCode}}}}"></body></html>'
)


_SERVED: Any = None  # the running template server, for the assertions on what it was asked


@pytest.fixture
def web() -> Iterator[str]:
    global _SERVED
    routes: dict[str, Any] = {
        "/certificate.html": (VECTORS / "vaccination-certificate.html").read_bytes(),
        "/certificate.svg": (VECTORS / "vaccination-certificate.svg").read_bytes(),
        "/broken.html": b"<p>{{#each evidence}}</p>",
        "/slow.html": (10, b"<p></p>"),
        "/huge.html": b" " * (10 << 20),
    }

    def route(path: str) -> Any:  # the hostile page names URLs on this very server
        return HOSTILE.format(web=_SERVED.url).encode() if path == "/hostile.html" else routes.get(path)

    with local_web(route) as served:
        _SERVED = served
        yield served.url


def _client(settings: QRSettings | None = None) -> TestClient:
    helpers = {"dateFormat": date_format_helper(now=lambda: NOW)}
    return TestClient(create_certificate_api_app(CertificateTemplates(settings=settings, helpers=helpers)))


@pytest.fixture
def client() -> TestClient:
    return _client()


def registry_call(client: TestClient, template_url: str, accept: str, **body: Any) -> Any:
    """As Sunbird RC's registry posts it (CertificateServiceImpl.getCertificate)."""
    request = {
        "templateUrl": template_url,
        "certificate": CERTIFICATE,
        "entityId": "1-abc",
        "entityName": "Vaccination",
    }
    return client.post("/api/v1/certificatePDF", json={**request, **body}, headers={"Accept": accept})


def _qr_of(page: str, tmp_path: Path) -> str:
    """The text zxing-cpp reads from the page's qrCode PNG (the data URL in its src or href)."""
    start = page.index("data:image/png;base64,") + len("data:image/png;base64,")
    end = min(i for i in (page.find('"', start), page.find("'", start)) if i > 0)
    path = tmp_path / "qr.png"
    path.write_bytes(base64.b64decode(page[start:end]))
    return read_image(path)


# --- the contract -------------------------------------------------------------------------------


def test_health_answers_ok(client: TestClient) -> None:
    answer = client.get("/health")
    assert (answer.status_code, answer.text) == (200, "OK")


def test_the_registry_gets_the_tenants_html_page_with_the_fields_and_a_qr_code_of_the_credential(
    client: TestClient, web: str, tmp_path: Path
) -> None:
    answer = registry_call(client, f"{web}/certificate.html", "text/html")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    for name, value in PAGE_SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    page = answer.text
    assert "<td>Bhaya Mitra</td>" in page and "<td>27-08-2021</td>" in page  # dateFormat issuanceDate "DD-MM-yy"
    assert "CoVax (COVPharma), batch MB3428BX" in page and "02 Dec 2020" in page
    decoded = decode_text(_qr_of(page, tmp_path))  # DIVOC's ZIP, the default QR type
    assert decoded.format == "divoc" and decoded.text == CERTIFICATE


def test_the_registry_gets_the_tenants_svg_page(client: TestClient, web: str, tmp_path: Path) -> None:
    answer = registry_call(client, f"{web}/certificate.svg", "image/svg+xml")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert "Name: Bhaya Mitra" in answer.text and "Issued on: 27th August 2021" in answer.text
    assert decode_text(_qr_of(answer.text, tmp_path)).text == CERTIFICATE


def test_the_page_is_the_text_handlebars_js_renders(client: TestClient, web: str) -> None:
    """The same template and data through handlebars.js 4.7 give the same text (dateFormat left out)."""
    if shutil.which("node") is None or not (JS_DIR / "node_modules" / "handlebars").is_dir():
        if REQUIRE:
            pytest.fail("node or interop/js/node_modules/handlebars is missing")
        pytest.skip("node or interop/js/node_modules/handlebars is missing")
    source = (VECTORS / "divoc-vaccination-certificate.html").read_text(encoding="utf-8")
    data = {
        "name": "Bhaya <Mitra> & 'co'",
        "age": "26",
        "gender": "Male",
        "identity": "did:in.gov.uidai.aadhaar:2342343334",
        "beneficiaryId": "12346",
        "recipientAddress": 'Bengaluru, "Karnataka"',
        "vaxEvents": [
            {"dateOfVax": "02 Dec 2020", "doseType": "1 of 2", "vaxName": "CoVax", "vaxBatch": "MB3428BX"},
            {"dateOfVax": "02 Jan 2021", "isBoosterDose": True, "vaxName": "CoVax", "countryOfVax": "IN"},
        ],
        "isFinalDose": True,
        "qrCode": "data:image/png;base64,iVBORw0KGgo=",
    }
    script = (
        "const H = require('handlebars'); let s = ''; process.stdin.on('data', c => s += c);"
        "process.stdin.on('end', () => { const r = JSON.parse(s); process.stdout.write(H.compile(r.t)(r.d)); });"
    )
    node = shutil.which("node")
    assert node is not None
    original = subprocess.run(
        [node, "-e", script], cwd=JS_DIR, input=json.dumps({"t": source, "d": data}), capture_output=True, text=True,
        timeout=30, check=True,
    ).stdout  # fmt: skip
    assert CertificateTemplates().compiled(source).render(data) == original
    assert "Bhaya &lt;Mitra&gt; &amp; &#x27;co&#x27;" in original


def test_vc_management_services_preview_is_a_pdf(client: TestClient, web: str) -> None:
    if importlib.util.find_spec("vccore.pdf") is None:
        pytest.skip("vccore.pdf is not there yet")
    answer = client.post(
        "/api/v1/certificate",
        json={"certificate": CERTIFICATE, "templateUrl": f"{web}/certificate.html"},
        headers={"Accept": "application/pdf", "Authorization": "Bearer a-token"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-")
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:
        text = subprocess.run([pdftotext, "-", "-"], input=answer.content, capture_output=True, check=True).stdout
        assert b"Bhaya Mitra" in text


@pytest.mark.parametrize("template", ["certificate.html", "certificate.svg"])
def test_the_registrys_pdf_shows_the_fields_and_a_qr_code_that_scans(
    client: TestClient, web: str, tmp_path: Path, template: str
) -> None:
    pdftoppm, pdftotext = shutil.which("pdftoppm"), shutil.which("pdftotext")
    if importlib.util.find_spec("vccore.pdf") is None or pdftoppm is None or pdftotext is None:
        pytest.skip("vccore.pdf or poppler (pdftoppm, pdftotext) is missing")
    tools = pdftoppm, pdftotext
    answer = registry_call(client, f"{web}/{template}", "application/pdf")
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"%PDF-")
    (tmp_path / "page.pdf").write_bytes(answer.content)
    text = subprocess.run([tools[1], str(tmp_path / "page.pdf"), "-"], capture_output=True, check=True).stdout
    assert b"Bhaya Mitra" in text
    subprocess.run([tools[0], "-r", "150", "-png", "-f", "1", "-l", "1", str(tmp_path / "page.pdf"), str(tmp_path / "p")],
                   check=True, timeout=60)  # fmt: skip
    (png,) = tmp_path.glob("p*.png")
    assert decode_text(read_image(png)).text == CERTIFICATE


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/html, application/xhtml+xml", "TEXT/HTML", None])
def test_any_other_accept_is_not_found_as_in_the_original(client: TestClient, web: str, accept: str | None) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    if accept is None:  # TestClient sends */* unless told otherwise
        headers = {"Accept": ""}
    answer = client.post(
        "/api/v1/certificate", json={"certificate": CERTIFICATE, "templateUrl": f"{web}/x"}, headers=headers
    )
    assert (answer.status_code, answer.text) == (404, "Not found")
    assert _SERVED.hits == []


def test_other_routes_are_not_found(client: TestClient) -> None:
    assert client.get("/api/v1/certificate", headers={"Accept": "text/html"}).status_code == 404
    assert client.post("/api/v2/certificate", headers={"Accept": "text/html"}, json={}).status_code == 404
    assert client.post("/health").status_code == 404


def test_an_empty_body_and_missing_parameters_are_400_as_in_the_original(client: TestClient, web: str) -> None:
    headers = {"Accept": "text/html"}
    for body in (b"", b"{}"):
        answer = client.post("/api/v1/certificate", content=body, headers=headers)
        assert (answer.status_code, answer.text) == (400, "Bad request")
    for request in (
        {"certificate": "", "templateUrl": f"{web}/certificate.html"},
        {"certificate": CERTIFICATE, "templateUrl": ""},
        {"templateUrl": f"{web}/certificate.html"},
    ):
        answer = client.post("/api/v1/certificate", json=request, headers=headers)
        assert (answer.status_code, answer.text) == (400, "Required parameters missing")
    assert _SERVED.hits == []


def test_a_certificate_that_is_not_a_json_object_is_refused_by_name(client: TestClient, web: str) -> None:
    for certificate in ("not json", "[1, 2]"):
        answer = registry_call(client, f"{web}/certificate.html", "text/html", certificate=certificate)
        assert answer.status_code == 400
        assert answer.json()["code"] == "TEMPLATE_DATA" and answer.json()["field"] == "certificate"


def test_a_template_is_fetched_once_per_url(client: TestClient, web: str) -> None:
    for name in ("Asha", "Ravi"):
        credential = {**CREDENTIAL, "credentialSubject": {**CREDENTIAL["credentialSubject"], "name": name}}
        answer = registry_call(client, f"{web}/certificate.html", "text/html", certificate=json.dumps(credential))
        assert f"<td>{name}</td>" in answer.text
    assert _SERVED.hits == ["/certificate.html"]


# --- the QR types -------------------------------------------------------------------------------


def test_qr_type_url_holds_the_link_the_original_writes(web: str, tmp_path: Path) -> None:
    settings = QRSettings(qr_type="URL", domain="https://tenant.example", additional_query_params="&lang=hi")
    answer = registry_call(_client(settings), f"{web}/certificate.html", "text/html")
    assert _qr_of(answer.text, tmp_path) == "https://tenant.example/certs/1-abc?t=URL&entity=Vaccination&lang=hi"
    # vc-management-service sends no entityId or entityName: JavaScript writes undefined
    assert (
        qr_text(CERTIFICATE, entity_id=None, entity_name=None, settings=settings)
        == "https://tenant.example/certs/undefined?t=URL&entity=undefined&lang=hi"
    )


def test_qr_type_url_w3c_vc_carries_the_zip_in_base64(web: str, tmp_path: Path) -> None:
    settings = QRSettings(qr_type="url-w3c-vc", domain="https://tenant.example")
    answer = registry_call(_client(settings), f"{web}/certificate.html", "text/html")
    link = _qr_of(answer.text, tmp_path)
    head = "https://tenant.example/certs/1-abc?t=url-w3c-vc&data="
    assert link.startswith(head) and link.endswith("&entity=Vaccination")
    archive = base64.b64decode(link[len(head) : -len("&entity=Vaccination")])
    with zipfile.ZipFile(io.BytesIO(archive)) as unzipped:
        assert unzipped.read("certificate.json").decode("utf-8") == CERTIFICATE


# --- hostile templates and data -----------------------------------------------------------------


def test_a_template_url_that_hangs_is_huge_or_missing_is_refused_within_5_s(client: TestClient, web: str) -> None:
    for path in ("/slow.html", "/huge.html", "/missing.html"):
        started = time.monotonic()
        answer = registry_call(client, f"{web}{path}", "text/html")
        assert time.monotonic() - started < 5.0, path
        assert answer.status_code == 502, answer.text
        assert answer.json()["code"] == "TEMPLATE_FETCH" and answer.json()["url"] == f"{web}{path}"


def test_only_http_template_urls_are_fetched(client: TestClient) -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/t.html", "/etc/passwd"):
        answer = registry_call(client, url, "text/html")
        assert answer.status_code == 502 and answer.json()["code"] == "TEMPLATE_FETCH"
        assert "root:" not in answer.text


def test_a_template_that_does_not_parse_is_refused_with_its_position(client: TestClient, web: str) -> None:
    answer = registry_call(client, f"{web}/broken.html", "text/html")
    assert answer.status_code == 400
    assert answer.json()["code"] == "TEMPLATE_SYNTAX" and answer.json()["line"] == 1


def test_a_hostile_template_is_served_under_a_policy_that_runs_and_loads_nothing(client: TestClient, web: str) -> None:
    credential = {**CREDENTIAL, "credentialSubject": {"name": "<script>alert(1)</script>", "gender": "<b>x</b>"}}
    answer = registry_call(client, f"{web}/hostile.html", "text/html", certificate=json.dumps(credential))
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text  # {{ }} escapes as handlebars.js does
    assert "<b>x</b>" in answer.text  # {{{ }}} does not: the policy is what keeps it inert
    assert _SERVED.hits == ["/hostile.html"]  # nothing the page names was fetched


def test_a_hostile_template_printed_to_pdf_runs_and_loads_nothing(client: TestClient, web: str) -> None:
    if importlib.util.find_spec("vccore.pdf") is None:
        pytest.skip("vccore.pdf is not there yet")
    started = time.monotonic()
    answer = registry_call(client, f"{web}/hostile.html", "application/pdf")
    assert time.monotonic() - started < 5.0
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF-")
    assert _SERVED.hits == ["/hostile.html"]
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:  # a script that ran would have written into the page
        text = subprocess.run([pdftotext, "-", "-"], input=answer.content, capture_output=True, check=True).stdout
        assert b"Bhaya Mitra" in text and b"SCRIPT-" not in text


def test_a_template_that_renders_forever_is_stopped_by_the_engines_bounds(client: TestClient) -> None:
    heavy = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{this}}{{/each}}{{/each}}{{/each}}"
    credential = json.dumps({"a": list(range(200))})
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        CertificateTemplates().render(heavy, credential)
    assert time.monotonic() - started < 5.0
    assert caught.value.to_dict()["limit"] in (handlebars.MAX_STEPS, handlebars.MAX_OUTPUT_CHARS)


# --- dateFormat against npm handlebars-dateformat -----------------------------------------------

_HARNESS = """
const H = require('handlebars');
const dateFormat = require('handlebars-dateformat');
const moment = require(require.resolve('moment', {paths: [require.resolve('handlebars-dateformat')]}));
H.registerHelper('dateFormat', dateFormat);
console.warn = () => {};
require('readline').createInterface({input: process.stdin}).on('line', (line) => {
  const r = JSON.parse(line);
  let out;
  try {
    const m = moment(r.data.d);
    out = {text: H.compile(r.template)(r.data), parsed: !!(m._pf.iso || m._pf.rfc2822) || typeof r.data.d === 'number',
           format: m._f || null};
  } catch (e) {
    out = {error: String(e && e.message)};
  }
  process.stdout.write(JSON.stringify(out) + '\\n');
});
"""


class _DateFormat:
    """One node process rendering {{dateFormat d f [true]}} with npm handlebars-dateformat, TZ=UTC."""

    def __init__(self) -> None:
        node = shutil.which("node")
        assert node is not None
        self.proc = subprocess.Popen(
            [node, "-e", _HARNESS], cwd=JS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "TZ": "UTC"},
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def __call__(self, template: str, data: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"template": template, "data": data}) + "\n")
        self.proc.stdin.flush()
        line = self.lines.get(timeout=30)
        assert line, "the handlebars-dateformat harness exited"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def moment_js() -> Iterator[_DateFormat]:
    node = shutil.which("node")
    why = None if node else "node is not on PATH"
    if node is not None:
        found = subprocess.run(
            [node, "-e", "require.resolve('handlebars-dateformat'); require.resolve('handlebars')"],
            cwd=JS_DIR, capture_output=True, check=False,
        )  # fmt: skip
        if found.returncode:
            why = "handlebars-dateformat is not installed in interop/js/node_modules"
    if why is not None:
        if REQUIRE:
            pytest.fail(why)
        pytest.skip(why)
    harness = _DateFormat()
    yield harness
    harness.close()


_FORMAT_TOKENS = [
    "M",
    "Mo",
    "MM",
    "MMM",
    "MMMM",
    "Q",
    "Qo",
    "D",
    "Do",
    "DD",
    "DDD",
    "DDDo",
    "DDDD",
    "d",
    "do",
    "dd",
    "ddd",
    "dddd",
    "e",
    "E",
    "eHHmm",
    "w",
    "wo",
    "ww",
    "W",
    "Wo",
    "WW",
    "YY",
    "YYYY",
    "YYYYY",
    "YYYYYY",
    "Y",
    "gg",
    "gggg",
    "ggggg",
    "GG",
    "GGGG",
    "GGGGG",
    "A",
    "a",
    "H",
    "HH",
    "h",
    "hh",
    "k",
    "kk",
    "hmm",
    "hmmss",
    "Hmm",
    "Hmmss",
    "m",
    "mm",
    "s",
    "ss",
    "S",
    "SS",
    "SSS",
    "SSSS",
    "SSSSSS",
    "SSSSSSSSS",
    "z",
    "zz",
    "Z",
    "ZZ",
    "X",
    "x",
    "N",
    "NN",
    "NNN",
    "NNNN",
    "NNNNN",
    "y",
    "yo",
    "yy",
    "yyy",
    "yyyy",
    "L",
    "LL",
    "LLL",
    "LLLL",
    "l",
    "ll",
    "lll",
    "llll",
    "LT",
    "LTS",
]
_FORMATS = st.lists(
    st.one_of(
        st.sampled_from(_FORMAT_TOKENS),
        st.sampled_from(["-", "/", " ", ", ", ":", "T", "[at] ", "[", "]", "\\", "\\M", "w|", "\n", "<&>", "é", "\\e"]),
    ),
    max_size=6,
).map("".join)
_INSTANTS = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31))


def _iso(moment: datetime, style: int) -> str:
    return [
        moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        moment.strftime("%Y-%m-%dT%H:%M:%S+05:30"),
        moment.strftime("%Y-%m-%d"),
        moment.strftime("%Y-%m-%dT%H:%M"),
        moment.strftime("%Y%m%dT%H%M%S-0800"),
        moment.strftime("%Y-%m-%d %H:%M:%S"),
    ][style]


_DATES = st.one_of(
    st.builds(_iso, _INSTANTS, st.integers(0, 5)),
    st.integers(-(10**13), 10**13),
    st.sampled_from(["2021-02-30", "2021-13-01T00:00:00Z", "2021-01-01T24:00:00Z", "2021-01-01T24:30:00Z",
                     "/Date(1609459200000)/", "December 17, 1995 03:24:00", "", "2021-W05-1", "2021-032", "202101",
                     " 2021-01-01", "2021-01-01T10:00:00Z\n", "2021-01-01T10:00:00 Z", "Sun, 01 Jan 2021 10:00:00 GMT"]),
    st.none(), st.booleans(),
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(date=_DATES, format_=_FORMATS, utc=st.booleans())
def test_date_format_prints_what_handlebars_dateformat_prints(
    moment_js: _DateFormat, date: Any, format_: str, utc: bool
) -> None:
    template = "{{dateFormat d f true}}" if utc else "{{dateFormat d f}}"
    original = moment_js(template, {"d": date, "f": format_})
    compiled = handlebars.compile(template, helpers={"dateFormat": date_format_helper()})
    try:
        ours = compiled.render({"d": date, "f": format_})
    except TemplateError as refused:
        # refused only where moment prints "Invalid date", guesses the date with new Date(), or reads
        # an ISO week date, ordinal date or YYYYMM (which dateFormat does not read)
        assert refused.code == "TEMPLATE_DATA"
        unread = str(original.get("format")).startswith(("GGGG", "YYYYDDD", "YYYY-DDD", "YYYYMM"))
        assert "error" in original or original["text"] == "Invalid date" or not original["parsed"] or unread, (
            original,
            refused,
        )
        return
    assert original.get("text") == ours, (date, format_, original)


def test_date_format_reads_the_examples_of_its_readme() -> None:
    helper = date_format_helper()
    assert helper("2023-05-01T15:50:30.000Z", "DD-MM-yy") == "01-05-2023"  # yy is moment's era year
    assert helper("2023-05-01T15:50:30.000Z", "dddd, MMMM Do YYYY, h:mm:ss a") == "Monday, May 1st 2023, 3:50:30 pm"
    assert helper("2010-01-01T05:06:07Z", "YYYY-MM-DD HH:mm:ss", True) == "2010-01-01 05:06:07"
    assert date_format_helper("Asia/Kolkata")("2023-05-01T20:00:00Z", "LLL Z") == "May 2, 2023 1:30 AM +05:30"
    missing = handlebars.compile(
        '{{dateFormat validUntil "YYYY"}}', helpers={"dateFormat": date_format_helper(now=lambda: NOW)}
    )
    assert missing.render({}) == "2026"  # moment(undefined) is now
    with pytest.raises(ValueError, match="new Date"):
        helper("December 17, 1995 03:24:00", "YYYY")
    with pytest.raises(ValueError, match="needs a format"):
        helper("2023-05-01")


# --- the command --------------------------------------------------------------------------------


def test_the_command_serves_the_contract_on_port_and_qr_variables_as_the_original_reads_them(
    web: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "QR_TYPE": "URL",
        "CERTIFICATE_DOMAIN_URL": "https://tenant.example",
        "ADDITIONAL_QUERY_PARAMS": "&lang=hi",
        "TZ": "Asia/Kolkata",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "vccore", "serve", "--certificate-api", "--log-level", "warning"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).text == "OK":
                    break
            assert process.poll() is None, process.communicate()[1].decode()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        body = {"templateUrl": f"{web}/certificate.html", "certificate": CERTIFICATE, "entityId": "1-abc",
                "entityName": "Vaccination"}  # fmt: skip
        answer = httpx.post(f"{url}/api/v1/certificatePDF", json=body, headers={"Accept": "text/html"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert "<td>02 Dec 2020</td>" not in answer.text
        assert "<td>03 Dec 2020</td>" in answer.text  # 2020-12-02T19:21Z is the next day in Kolkata ($TZ)
        assert _qr_of(answer.text, tmp_path) == "https://tenant.example/certs/1-abc?t=URL&entity=Vaccination&lang=hi"
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_the_command_refuses_both_drop_ins_at_once() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vccore", "serve", "--certificate-api", "--sunbird-signer"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "--certificate-api and --sunbird-signer" in done.stderr


def test_a_printer_that_fails_is_503_with_its_code(
    client: TestClient, web: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("vccore.pdf") is None:
        pytest.skip("vccore.pdf is not there yet")
    import vccore.pdf

    def broken(*_args: Any, **_options: Any) -> bytes:
        raise RenderError("Chromium did not print the page within 10 s", code=ErrorCode.RENDER_ERROR)

    monkeypatch.setattr(vccore.pdf, "html_to_pdf", broken)
    answer = registry_call(client, f"{web}/certificate.html", "application/pdf")
    assert answer.status_code == 503 and answer.json()["code"] == "RENDER_ERROR"

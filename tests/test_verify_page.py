"""Issue 25: the verifier's page (``GET /verify`` of ``vccore serve``). A person at a counter
photographs a certificate's QR code with a phone's camera (a plain file input) and reads the
verdict, first and large; the same as ``vccore verify IMAGE`` says.

The page is driven in headless Chromium over the DevTools protocol on a pipe (as vccore.pdf
drives it), against a real ``vccore serve`` process: each QR image is set on the file input
(``DOM.setFileInputFiles``) and the button clicked, with script and without it. axe-core checks
both pages when it is there (``VCCORE_AXE_CORE`` naming axe.min.js, or interop/js/node_modules).
The finer points (refusals, bounds, the log, the words) run against the app in process.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("zxingcpp")
pytest.importorskip("PIL")

from PIL import Image, ImageDraw, ImageFilter
from served import ServedProcess
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vccore import Ed25519Key, bundled_entity_types, pdf, qr
from vccore.cli import main
from vccore.http import create_app
from vccore.http._service import Service
from vccore.http._status_cache import StatusCache
from vccore.http._verify_words import ENGLISH
from vccore.http.auth import StaticTokenAuthorizer
from vccore.http.verify_page import MAX_PHOTO_BYTES, VerifyPage, parse_multipart
from vccore.issuer import Issuer
from vccore.store import SQLiteStore
from vccore.verify import Verifier

ROOT = Path(__file__).resolve().parent.parent
HP = bundled_entity_types()["HealthProfessional"]
EXAMPLE: dict[str, Any] = dict(HP.example or {})
KEY = Ed25519Key.from_seed(bytes(range(32)))
TOKEN = "static-token-for-tests-0123456789"
FUTURE = {"registrationExpiry": "2030-09-09", "validTill": "2030-09-09T21:01:01.121Z"}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
GREEN, RED = (0x0A, 0x6B, 0x25), (0xA8, 0x00, 0x1E)
SCREENSHOTS = ROOT / "docs" / "verify-page"


# --- the issuer's certificates, in every state, and their QR images --------------------------------


def photo_like(png: bytes, *, angle: float = 4.0, blur: float = 1.0) -> bytes:
    """A QR code as a phone would see it on a printed card: scaled down, turned a few degrees,
    slightly blurred, on a textured background, as a JPEG.
    """
    code = Image.open(io.BytesIO(png)).convert("RGB")
    side = int(code.width * 0.7)
    code = code.resize((side, side), Image.Resampling.BICUBIC)
    card = Image.new("RGB", (side + 120, side + 200), (247, 244, 236))
    card.paste(code, (60, 140))
    ImageDraw.Draw(card).rectangle((60, 40, side + 60, 90), fill=(40, 60, 110))
    mask = Image.new("L", card.size, 255).rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    card = card.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    width, height = card.width + 300, card.height + 360
    background = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    background = Image.blend(background, Image.new("RGB", (width, height), (120, 90, 60)), 0.6)
    background = Image.blend(background, Image.effect_noise((width, height), 24).convert("RGB"), 0.15)
    background.paste(card, (140, 170), mask)
    out = io.BytesIO()
    background.filter(ImageFilter.GaussianBlur(blur)).save(out, "JPEG", quality=82)
    return out.getvalue()


def _cli(*argv: str) -> None:
    assert main(list(argv)) == 0, argv


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An issuer's folder (made by the CLI) with a certificate in each state, its status lists
    exported, and a QR image of each case: ``images`` name -> (path, verdict, holder's name).
    """
    folder = tmp_path_factory.mktemp("verify-page")
    home = folder / "home"
    payloads = {
        "valid": {"certificateId": "1001", **FUTURE},
        "revoked": {"certificateId": "1002", "name": "Ravi", **FUTURE},
        "superseded": {"certificateId": "1003", "name": "Asha", **FUTURE},
        "expired": {"certificateId": "1004", "name": "Meera"},
        "suspended": {"certificateId": "1005", "name": "Kiran", **FUTURE},
        "not-yet-valid": {"certificateId": "1006", "name": "Vikram", **FUTURE, "validFrom": "2029-01-01T00:00:00Z"},
    }
    credentials = {}
    for number, (name, changes) in enumerate(payloads.items()):
        source = folder / f"{name}.json"
        source.write_text(json.dumps({**EXAMPLE, **changes}))
        first = ["--status-url", "https://issuer.example/status/"] if number == 0 else []
        _cli(
            "certify", "HealthProfessional", str(source), "--home", str(home), "-o", str(folder / f"{name}.vc"), *first
        )
        credentials[name] = json.loads((folder / f"{name}.vc").read_text())
    renewal = folder / "renewal.json"
    renewal.write_text(json.dumps({**EXAMPLE, **payloads["superseded"], "registrationExpiry": "2031-09-09"}))
    _cli("update", "HealthProfessional", str(renewal), "--home", str(home), "--json", "-o", str(folder / "renewal.out"))
    successor = json.loads((folder / "renewal.out").read_text())["certificateId"]
    _cli("revoke", "1002", "--home", str(home))
    _cli("suspend", "1005", "--until", "2031-01-01", "--home", str(home))
    _cli("status", "export", str(folder / "lists"), "--home", str(home))
    forged = json.loads(json.dumps(credentials["valid"]))
    forged["credentialSubject"]["name"] = "Mallory"
    images: dict[str, tuple[Path, str, str]] = {}

    def image(name: str, credential: dict[str, Any], verdict: str, holder: str, fmt: str = "compact") -> bytes:
        png = qr.make(credential, format=fmt).png()
        (folder / f"{name}.png").write_bytes(png)
        images[name] = (folder / f"{name}.png", verdict, holder)
        return png

    photo = image("valid-compact", credentials["valid"], "VALID", "Neha")
    image("valid-divoc", credentials["valid"], "VALID", "Neha", "divoc")
    (folder / "valid-photo.jpg").write_bytes(photo_like(photo))
    images["valid-photo"] = (folder / "valid-photo.jpg", "VALID", "Neha")
    image("revoked", credentials["revoked"], "REVOKED", "Ravi")
    image("superseded", credentials["superseded"], "SUPERSEDED", "Asha", "divoc")
    image("suspended", credentials["suspended"], "SUSPENDED", "Kiran")
    image("expired", credentials["expired"], "EXPIRED", "Meera")
    image("not-yet-valid", credentials["not-yet-valid"], "NOT_YET_VALID", "Vikram")
    image("forged", forged, "INVALID", "Mallory")
    return {"home": home, "lists": folder / "lists", "images": images, "successor": successor}


def cli_verdict(capsys: pytest.CaptureFixture[str], path: Path, issued: dict[str, Any]) -> str:
    """What ``vccore verify IMAGE`` says of it, given the issuer's store and exported lists."""
    capsys.readouterr()
    main(["verify", str(path), "--home", str(issued["home"]), "--status-dir", str(issued["lists"]), "--json"])
    verdict: str = json.loads(capsys.readouterr().out)["status"]
    return verdict


# --- headless Chromium over the DevTools pipe --------------------------------------------------------

CHROMIUM = pdf.chromium_path()
REQUIRED = bool(os.environ.get("VCCORE_REQUIRE_CHROMIUM"))
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRED, reason="no chromium on this machine (CI installs it)"
)


class Chromium:
    """A headless Chromium on ``--remote-debugging-pipe``: commands and their answers, the events
    kept in order.
    """

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="vccore-test-chromium-")
        flags = [
            "--headless", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
            "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
            "--disable-sync", "--disable-component-update", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={self.profile.name}",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")
        command = ["/bin/sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null', binary, *flags]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.buffer, self.last = b"", 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.last += 1
        wanted = self.last
        message: dict[str, Any] = {"id": wanted, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.process.stdin.write(json.dumps(message).encode() + b"\0")
        self.process.stdin.flush()
        deadline = time.monotonic() + 60
        while True:
            while b"\0" not in self.buffer:
                left = deadline - time.monotonic()
                ready = select.select([self.process.stdout], [], [], max(left, 0))[0]
                assert ready and left > 0, f"Chromium did not answer {method} within 60 s"
                chunk = os.read(self.process.stdout.fileno(), 1 << 20)
                assert chunk, "Chromium closed the pipe"
                self.buffer += chunk
            raw, _, self.buffer = self.buffer.partition(b"\0")
            answer = json.loads(raw)
            if answer.get("id") == wanted:
                assert "error" not in answer, f"{method}: {answer['error']}"
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self.events.append(answer)

    def close(self) -> None:
        os.killpg(self.process.pid, 9)
        self.process.wait()
        self.profile.cleanup()


class Tab:
    """A phone-sized tab in a browser context of its own; script on or off."""

    def __init__(self, browser: Chromium, *, script: bool) -> None:
        self.browser = browser
        context = browser.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
        target = browser.call("Target.createTarget", {"url": "about:blank", "browserContextId": context})
        self.session: str = browser.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Network", "Log", "Runtime"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", PHONE)
        self.call("Emulation.setScriptExecutionDisabled", {"value": not script})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def events(self, method: str) -> list[dict[str, Any]]:
        mine = (e for e in self.browser.events if e.get("sessionId") == self.session)
        return [e["params"] for e in mine if e["method"] == method]

    def value(self, expression: str) -> Any:
        """What an expression in the page comes to (DevTools runs it even when the page's script is off)."""
        found = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        assert "exceptionDetails" not in found, found
        return found["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline, why = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            try:
                value = self.value(expression)
            except AssertionError as exc:  # asked while the page navigates: its context is gone
                why = f" ({exc})"
            else:
                if value:
                    return value
            time.sleep(0.05)
        raise AssertionError(f"{expression} was still false after {timeout} s{why}")

    def go(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def node(self, selector: str) -> int:
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        found: int = self.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert found, selector
        return found

    def click(self, selector: str) -> None:
        """A person's click: the mouse pressed and released at the middle of the element."""
        node = self.node(selector)
        self.call("DOM.scrollIntoViewIfNeeded", {"nodeId": node})
        quad = self.call("DOM.getContentQuads", {"nodeId": node})["quads"][0]
        x, y = sum(quad[0::2]) / 4, sum(quad[1::2]) / 4
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self) -> Image.Image:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


@pytest.fixture(scope="module")
def served(issued: dict[str, Any]) -> Iterator[ServedProcess]:
    server = ServedProcess(issued["home"], None, token=TOKEN, status_url=None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    assert CHROMIUM is not None, "VCCORE_REQUIRE_CHROMIUM is set and chromium is missing"
    chromium = Chromium(CHROMIUM)
    try:
        yield chromium
    finally:
        chromium.close()


def upload(tab: Tab, served: ServedProcess, path: Path, *, script: bool) -> str:
    """The form loaded, the image set on its file input, the button clicked: the outcome's text."""
    tab.go(f"{served.url}/verify")
    tab.value("window.vccoreMark = 1")  # gone if the page is reloaded
    tab.call("DOM.setFileInputFiles", {"files": [str(path)], "nodeId": tab.node("#photo")})
    navigated = len(tab.events("Page.frameNavigated"))
    tab.click("button[type=submit]")
    text: str = tab.wait_for(
        "document.readyState === 'complete' && document.querySelector('#result #outcome') "
        "&& document.querySelector('#result #outcome').innerText"
    )
    if script:  # shown without a reload, the focus on the verdict
        assert tab.value("window.vccoreMark") == 1 and len(tab.events("Page.frameNavigated")) == navigated
        assert tab.value("document.activeElement.id") == "verdict"
    else:  # a plain form post: the result is a page of its own
        assert tab.value("window.vccoreMark") is None and tab.value("location.pathname") == "/verify"
    return text


# Each word of the verdict in one piece: its range has one box (a word cut in two has two).
WHOLE_WORDS = """(() => {
  const text = document.getElementById('verdict').lastChild;
  let at = 0;
  for (const word of text.textContent.split(' ')) {
    const range = document.createRange();
    range.setStart(text, at);
    range.setEnd(text, at + word.length);
    if (range.getClientRects().length !== 1) { return false; }
    at += word.length + 1;
  }
  return true;
})()"""


def verdict_colour(tab: Tab) -> tuple[int, int, int]:
    """The colour of the verdict's box in a screenshot: read off the pixels, near its top right."""
    box = tab.value("(() => { const r = document.getElementById('verdict').getBoundingClientRect(); "
                    "return [r.right, r.top, r.bottom]; })()")  # fmt: skip
    pixel = tab.screenshot().getpixel((int(box[0]) - 6, int(box[1]) + 6))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def close_to(found: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(found, wanted, strict=True))


@needs_chromium
@pytest.mark.parametrize("script", [True, False], ids=["script", "no-script"])
def test_each_qr_image_set_on_the_file_input_shows_the_verdict_vccore_verify_gives(
    issued: dict[str, Any],
    served: ServedProcess,
    browser: Chromium,
    script: bool,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    tab = Tab(browser, script=script)
    for name, (path, verdict, holder) in issued["images"].items():
        text = upload(tab, served, path, script=script)
        assert text.split("\n", 1)[0].strip().endswith(ENGLISH[f"verdict.{verdict}"]), (name, text)
        assert cli_verdict(capsys, path, issued) == verdict, name
        if verdict == "INVALID":  # a forged certificate's details are not shown as the issuer's
            assert holder not in text and "Neha" not in text and ENGLISH["details.withheld"] in text, text
        else:
            assert f"Name\t{holder}" in text or f"Name\n{holder}" in text, (name, text)
        if verdict == "SUPERSEDED":
            assert f"Replaced by certificate {issued['successor']} on 20" in text and "ask for the new one" in text
        if verdict == "SUSPENDED":
            assert "Suspended until 2031-01-01" in text, text
        assert close_to(verdict_colour(tab), GREEN if verdict == "VALID" else RED), name
        # the verdict's word whole on one line of a phone's screen (SUPERSEDED was cut in two)
        assert tab.value(WHOLE_WORDS), name
        if not script:
            shot = tab.screenshot()
            assert shot.size == (PHONE["width"], PHONE["height"])
            keep(shot, "not-genuine" if verdict == "INVALID" else verdict.lower().replace("_", "-"), tmp_path)
    # nothing but the server itself was asked for anything: no font, script or tracker elsewhere
    asked = {e["request"]["url"] for e in tab.events("Network.requestWillBeSent")}
    assert asked and all(url.startswith(served.url) for url in asked), asked
    assert not [e for e in tab.events("Log.entryAdded") if e["entry"]["level"] == "error"]


def keep(shot: Image.Image, name: str, tmp_path: Path) -> None:
    """A screenshot for the docs: written to docs/verify-page/ when VCCORE_SCREENSHOTS is set."""
    small = shot.quantize(colors=48, method=Image.Quantize.MEDIANCUT)
    target = SCREENSHOTS if os.environ.get("VCCORE_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    small.save(target / f"{name}.png", optimize=True)


@needs_chromium
def test_the_front_page_links_to_the_form_and_the_form_opens_the_camera(
    served: ServedProcess, browser: Chromium, tmp_path: Path
) -> None:
    tab = Tab(browser, script=False)
    tab.go(f"{served.url}/")
    assert tab.value("document.querySelector('a[href=\"/verify\"]').textContent") == ENGLISH["home.verify"]
    tab.click("a[href='/verify']")
    tab.wait_for("location.pathname === '/verify' && document.readyState === 'complete'")
    photo = "document.getElementById('photo')"
    assert tab.value(f"[{photo}.type, {photo}.accept, {photo}.getAttribute('capture')]") == [
        "file",
        "image/*",
        "environment",
    ]
    assert tab.value("document.querySelector('label[for=photo]').textContent") == ENGLISH["form.photo"]
    assert tab.value("document.documentElement.lang") == "en"
    keep(tab.screenshot(), "form", tmp_path)
    # a photo with no QR code in it: said so, plainly
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), (200, 180, 160)).save(blank)
    text = upload(tab, served, blank, script=False)
    assert ENGLISH["verdict.UNREAD"] in text and ENGLISH["input.no_qr"] in text
    keep(tab.screenshot(), "no-qr-code", tmp_path)


def axe_source() -> str | None:
    named = os.environ.get("VCCORE_AXE_CORE")
    path = Path(named) if named else ROOT / "interop" / "js" / "node_modules" / "axe-core" / "axe.min.js"
    return path.read_text(encoding="utf-8") if path.is_file() else None


@needs_chromium
def test_axe_core_finds_nothing_serious_on_the_form_or_the_result(
    issued: dict[str, Any], served: ServedProcess, browser: Chromium
) -> None:
    source = axe_source()
    if source is None:
        if os.environ.get("VCCORE_REQUIRE_INTEROP"):
            pytest.fail("VCCORE_REQUIRE_INTEROP is set and axe-core is not in interop/js/node_modules")
        pytest.skip("axe-core is not installed (interop/js: npm ci; or VCCORE_AXE_CORE=.../axe.min.js)")
    tab = Tab(browser, script=True)
    run = (
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    # the check can fail: a field without a label is a critical finding
    tab.go("data:text/html,<!DOCTYPE html><html lang=en><title>t</title><main><input type=file></main></html>")
    tab.value(source)
    assert "critical" in {v["impact"] for v in tab.value(run)}
    found = {}
    for page, image in (("form", None), ("result", "valid-compact"), ("forged", "forged"), ("no-js-result", "revoked")):
        if image is None:
            tab.go(f"{served.url}/verify")
        elif page == "no-js-result":  # the result page itself, after a plain post
            tab.go(f"{served.url}/verify")
            tab.call(
                "DOM.setFileInputFiles", {"files": [str(issued["images"][image][0])], "nodeId": tab.node("#photo")}
            )
            tab.value("document.getElementById('verify-form').submit()")
            tab.wait_for("document.readyState === 'complete' && !!document.querySelector('h1#verdict')")
        else:
            upload(tab, served, issued["images"][image][0], script=True)
        tab.value(source)
        found[page] = tab.value(run)
    print("axe-core findings:", json.dumps(found))
    serious = {
        page: [v for v in violations if v["impact"] in ("serious", "critical")] for page, violations in found.items()
    }
    assert serious == {page: [] for page in found}, serious


# --- in process: refusals, bounds, the log, the words ---------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    store = SQLiteStore(tmp_path / "s.db", status_url="https://issuer.example/status/")
    issuer = Issuer(signer=KEY, store=store)
    valid = issuer.certify(HP, {**EXAMPLE, "certificateId": "2001", **FUTURE}).credential
    with TestClient(create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN))) as test_client:
        yield test_client, valid


def post_photo(client: TestClient, data: bytes) -> Any:
    return client.post("/verify", files={"photo": ("photo.png", data, "image/png")}, data={"text": ""})


def qr_png(text: str) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=6)
    return out.getvalue()


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ("https://verify.example/c/1001", "input.url"),
        ("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", "input.hc1"),
        ("shc:/5676290952432060346029243740446031222959532654", "input.shc"),
        ("hello there", "input.not_credential"),
    ],
)
def test_a_qr_code_that_holds_no_credential_is_said_to_hold_what_it_holds(
    client: tuple[TestClient, dict[str, Any]], payload: str, key: str
) -> None:
    answer = post_photo(client[0], qr_png(payload))
    assert answer.status_code == 422, answer.text
    assert ENGLISH["verdict.UNREAD"] in answer.text
    expected = ENGLISH[key].format(url=payload)
    assert expected.replace("'", "&#x27;") in answer.text, answer.text


def test_a_photo_too_large_is_refused_before_it_is_decoded(client: tuple[TestClient, dict[str, Any]]) -> None:
    test_client, _ = client
    # over the upload bound: refused by its size
    answer = post_photo(test_client, b"\x89PNG" + bytes(MAX_PHOTO_BYTES))
    assert answer.status_code == 413 and "too large" in answer.text
    # a small file of too many pixels: refused by its header (the QR reader's bound), not decoded
    bomb = io.BytesIO()
    Image.new("1", (16_000, 16_000), 1).save(bomb, "PNG")
    assert len(bomb.getvalue()) < MAX_PHOTO_BYTES
    started = time.monotonic()
    answer = post_photo(test_client, bomb.getvalue())
    assert answer.status_code == 413 and "too large" in answer.text
    assert time.monotonic() - started < 5


def test_a_file_that_is_no_picture_and_an_empty_form_are_said_plainly(
    client: tuple[TestClient, dict[str, Any]],
) -> None:
    test_client, _ = client
    answer = post_photo(test_client, b"%PDF-1.7 not a picture")
    assert answer.status_code == 422 and ENGLISH["input.unreadable"] in answer.text
    answer = test_client.post("/verify", files={"photo": ("", b"", "application/octet-stream")}, data={"text": " "})
    assert answer.status_code == 400 and ENGLISH["input.empty"].replace("'", "&#x27;") in answer.text


def test_pasted_qr_text_and_pasted_json_are_verified_like_a_photo(client: tuple[TestClient, dict[str, Any]]) -> None:
    test_client, valid = client
    for text in (qr.encode_text(valid) + "\r\n", json.dumps(valid, indent=2)):
        answer = test_client.post(
            "/verify", files={"photo": ("", b"", "application/octet-stream")}, data={"text": text}
        )
        assert answer.status_code == 200 and '<h1 id="verdict"' in answer.text and "VALID</h1>" in answer.text
    forged = {**valid, "credentialSubject": {**valid["credentialSubject"], "name": "Mallory"}}
    answer = test_client.post("/verify", data={"text": json.dumps(forged)})  # urlencoded, as curl sends it
    assert answer.status_code == 200 and "NOT GENUINE</h1>" in answer.text and "Mallory" not in answer.text


def test_the_log_has_the_outcome_code_and_nothing_of_the_holder(
    client: tuple[TestClient, dict[str, Any]], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_client, valid = client
    with caplog.at_level(logging.DEBUG):
        post_photo(test_client, qr.make(valid).png())
        post_photo(test_client, qr_png("https://verify.example/c/1001"))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("vccore") and r.name != "vccore.access"]
    assert lines == ["verify page: VALID", "verify page: QR_FORMAT_UNSUPPORTED"], lines
    access = [json.loads(r.getMessage()) for r in caplog.records if r.name == "vccore.access"]
    assert [(line["route"], line["status"]) for line in access] == [("/verify", 200), ("/verify", 422)]

    # a fault nobody foresaw: the page says so; the log has where, never what the error quoted
    def boom(payload: Any) -> Any:
        raise RuntimeError(f"cannot read {payload[:40]} of Neha")

    monkeypatch.setattr(qr, "decode_text", boom)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        answer = post_photo(test_client, qr.make(valid).png())
    assert answer.status_code == 500 and ENGLISH["input.failed"] in answer.text
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("vccore") and r.name != "vccore.access"]
    assert len(lines) == 1 and lines[0].startswith("verify page: VCCORE_ERROR (RuntimeError at test_verify_page.py:")
    assert "Neha" not in caplog.text and "VC1:" not in caplog.text


def test_the_pages_allow_only_their_own_inline_script_and_style(client: tuple[TestClient, dict[str, Any]]) -> None:
    test_client, _ = client
    for path in ("/", "/verify"):
        answer = test_client.get(path)
        policy = answer.headers["content-security-policy"]
        assert answer.status_code == 200 and "default-src 'none'" in policy and "'unsafe-inline'" not in policy
        assert answer.headers["cache-control"] == "no-store"
        assert not re.search(r"(src|href)=\"(https?:)?//", answer.text), "nothing is loaded from elsewhere"
    assert '<a href="/verify">' in test_client.get("/").text
    described = test_client.get("/openapi.json").json()["paths"]
    assert set(described["/verify"]) == {"get", "post"} and "/" in described


def test_a_translation_gives_every_word_or_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"verdict\.VALID"):
        VerifyPage(_service(tmp_path), words={k: v for k, v in ENGLISH.items() if k != "verdict.VALID"})
    with pytest.raises(ValueError, match=r"reason\.EXPIRED names when"):
        VerifyPage(_service(tmp_path), words={**ENGLISH, "reason.EXPIRED": "Expir\u00e9 le {when}."})
    with pytest.raises(ValueError, match=r"form\.intro is not a text"):
        VerifyPage(_service(tmp_path), words={**ENGLISH, "form.intro": "Prenez une photo {"})
    french = {
        **ENGLISH,
        "lang": "fr",
        "verdict.INVALID": "NON AUTHENTIQUE",
        "form.title": "V\u00e9rifier un certificat",
    }
    page = VerifyPage(_service(tmp_path), words=french)
    with TestClient(Starlette(routes=page.routes())) as test_client:
        form = test_client.get("/verify").text
        answer = test_client.post("/verify", data={"text": json.dumps({"@context": [], "type": "x"})}).text
    assert '<html lang="fr">' in form and "V\u00e9rifier un certificat</h1>" in form
    assert "NON AUTHENTIQUE</h1>" in answer


def _service(tmp_path: Path) -> Service:
    issuer = Issuer(signer=KEY, store=SQLiteStore(tmp_path / "t.db", status_url="https://issuer.example/status/"))
    return Service(issuer, StaticTokenAuthorizer(TOKEN), Verifier.create(), StatusCache(issuer, 1.0))


def test_a_multipart_body_gives_its_named_parts_and_nothing_else() -> None:
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
        b'\x89PNG\r\n--x\r\n--xyz\r\nContent-Disposition: form-data; name="text"\r\n\r\nVC1:AB\r\n--xyz--\r\n'
    )
    assert parse_multipart(body, "multipart/form-data; boundary=xyz") == {"photo": b"\x89PNG\r\n--x", "text": b"VC1:AB"}
    with pytest.raises(Exception, match=r"input\.malformed"):
        parse_multipart(body[:-9], "multipart/form-data; boundary=xyz")

"""Printed certificates: an HTML or SVG page made an A4 PDF by headless Chromium.

The engine is Chromium (Debian's ``chromium``, or ``VCCORE_CHROMIUM`` naming a binary), as
Sunbird RC's certificate-api prints with Puppeteer: one browser started on the first PDF and
kept, driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``). Chosen over, on
a 2-core machine (``python -m benchmarks.pdf --compare``; benchmarks/results/pdf.json):

- a Chromium process per page (``--print-to-pdf``): 0.93 s a page (the browser's start each
  time) against 0.13-0.16 s here, and a page given as a file may load other ``file:`` URLs;
- WeasyPrint 70 (Python over Pango): as fast (0.12 s), half the PDF (25 KB against 58-67 KB),
  73 MB against Chromium's 445 MB (PSS, 14 processes); but its own CSS engine, where tenants'
  templates were made for certificate-api's Chromium: DIVOC's VaccinationCertificate template
  (flex columns) comes out in another layout. No script at all, where an operator may need it.

All three keep the QR code vector (paths), and zxing-cpp reads it from a 150 dpi PNG.

A page is data from outside (a credential's values, a tenant's template): nothing it names is
fetched. Every request goes through the protocol's request interception and is refused but for
the page itself (and an SVG's image), answered from memory; ``data:`` URLs never reach the
network. The page's Content-Security-Policy allows only ``data:`` images, styles and fonts and
inline styles. Scripts do not run (off in the browser and in the page) unless the caller passes
``allow_scripts=True``; a navigation the page starts (``<meta http-equiv=refresh>``) is aborted.
Time, pages and the PDF's size are bounded; a browser that does not answer in time is killed,
and the next PDF starts a new one.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from .errors import PrinterProtocolError, PrinterTimeoutError, RenderError

__all__ = ["RenderError", "chromium_path", "html_to_pdf", "shutdown", "svg_to_pdf"]

DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_BYTES: Final = 20 * 1024 * 1024
DEFAULT_MAX_PAGES: Final = 20
MAX_INPUT_BYTES: Final = 32 * 1024 * 1024

# The page is served at a name that resolves nowhere (RFC 2606 .invalid); it is answered from memory.
_ORIGIN: Final = "http://certificate.vccore.invalid"
_PAGE_URL: Final = f"{_ORIGIN}/certificate.html"
_SVG_URL: Final = f"{_ORIGIN}/certificate.svg"
_A4_INCHES: Final = (210 / 25.4, 297 / 25.4)
_CANDIDATES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_INSTALL: Final = (
    "install Chromium (Debian and Ubuntu: apt-get install chromium; Alpine: apk add chromium), or name "
    "a Chromium or Chrome binary in VCCORE_CHROMIUM"
)


# Quiet, and offline: past the request interception, every connection goes to a proxy that is not
# there, and no name resolves.
_FLAGS: Final = (  # split where used; the resolver rule holds spaces
    "--headless --remote-debugging-pipe --disable-gpu --disable-dev-shm-usage --no-first-run "
    "--no-default-browser-check --disable-extensions --disable-background-networking --disable-component-update "
    "--disable-default-apps --disable-sync --disable-breakpad --dns-prefetch-disable --mute-audio --hide-scrollbars "
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication "
    "--proxy-server=127.0.0.1:1 --proxy-bypass-list=<-loopback>"
)


def _policy(allow_scripts: bool) -> str:
    scripts = "'unsafe-inline' data:" if allow_scripts else "'none'"
    return (
        f"default-src 'none'; img-src data: {_SVG_URL}; style-src 'unsafe-inline' data:; font-src data:; "
        f"script-src {scripts}; base-uri 'none'; form-action 'none'"
    )


def chromium_path() -> str | None:
    """The Chromium binary vccore prints with: ``VCCORE_CHROMIUM``, or the first of the usual
    names on the PATH; None when there is none.
    """
    named = os.environ.get("VCCORE_CHROMIUM")
    if named:
        return shutil.which(named)
    return next((found for name in _CANDIDATES if (found := shutil.which(name)) is not None), None)


def html_to_pdf(
    html: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    allow_scripts: bool = False,
    header_footer: bool = False,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """An HTML page printed as an A4 PDF (backgrounds printed; the page's ``@page`` size and
    margins, when it has them, win). Nothing is fetched but ``data:`` URLs; scripts run only with
    ``allow_scripts``; ``header_footer``: Chromium's header (date, title) and footer (page
    numbers) in the margins, as Puppeteer's ``displayHeaderFooter``. Raises :class:`RenderError`
    (``RENDER_ERROR``) naming what failed: no Chromium, a page over ``timeout`` seconds, a PDF
    over ``max_bytes``, the browser's own error. Pages after ``max_pages`` are left out.
    """
    body = html.encode("utf-8")
    return _print(
        {_PAGE_URL: ("text/html; charset=utf-8", body)}, timeout, allow_scripts, header_footer, max_pages, max_bytes
    )


def svg_to_pdf(
    svg: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    allow_scripts: bool = False,
    header_footer: bool = False,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """An SVG document printed on one A4 page, scaled to fit it (its aspect kept). The SVG is
    drawn as an image, which SVG's rules keep from running script or loading anything but
    ``data:`` URLs whatever the options; the options are :func:`html_to_pdf`'s.
    """
    image = f"{_SVG_URL}?{secrets.token_hex(8)}"  # its own URL: never an image cached from another page
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>@page { size: A4; margin: 0 } '
        "html, body { margin: 0 } img { display: block; width: 210mm; height: 296.8mm; object-fit: contain }"
        f'</style></head><body><img alt="" src="{image}"></body></html>'
    )
    documents = {
        _PAGE_URL: ("text/html; charset=utf-8", page.encode("utf-8")),
        image: ("image/svg+xml", svg.encode("utf-8")),
    }
    return _print(documents, timeout, allow_scripts, header_footer, max_pages, max_bytes)


def _print(
    documents: Mapping[str, tuple[str, bytes]],
    timeout: float,
    allow_scripts: bool,
    header_footer: bool,
    max_pages: int,
    max_bytes: int,
) -> bytes:
    size = sum(len(body) for _, body in documents.values())
    if size > MAX_INPUT_BYTES:
        raise RenderError(
            f"the page is {size} bytes; vccore prints pages of at most {MAX_INPUT_BYTES} bytes",
            size=size,
            limit=MAX_INPUT_BYTES,
        )
    if max_pages < 1:
        raise RenderError(f"max_pages is {max_pages}: print at least one page")
    deadline = time.monotonic() + timeout
    browser = _browser(allow_scripts)
    if not browser.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise RenderError(f"the PDF printer was busy for all of the {timeout:g} s allowed", timeout=timeout)
    try:
        return browser.print(documents, deadline, header_footer, max_pages, max_bytes)
    except PrinterTimeoutError:
        browser.kill()  # a page that does not finish may be a page that never will: start afresh
        raise RenderError(f"Chromium did not print the page within {timeout:g} s", timeout=timeout) from None
    except RenderError:
        raise
    except (OSError, ValueError) as exc:
        browser.kill()
        raise RenderError(f"Chromium failed while printing: {exc}{browser.log_tail()}") from None
    finally:
        browser.lock.release()


_browsers: dict[bool, _Chromium] = {}
_browsers_lock = threading.Lock()


def _browser(allow_scripts: bool) -> _Chromium:
    """The kept browser for pages with or without scripts (started with scripts off, so that no
    frame of a page can run one; a page that may run them is printed by another process).
    """
    with _browsers_lock:
        browser = _browsers.get(allow_scripts)
        if browser is None or browser.pid_owner != os.getpid():  # a forked child starts its own
            browser = _browsers[allow_scripts] = _Chromium(allow_scripts)
        return browser


def shutdown() -> None:
    """Stop the browsers kept for printing (they are stopped at exit anyway)."""
    with _browsers_lock:
        for browser in _browsers.values():
            if browser.pid_owner == os.getpid():
                browser.kill()
        _browsers.clear()


atexit.register(shutdown)


class _Chromium:
    """One headless Chromium driven over ``--remote-debugging-pipe`` (the protocol's JSON
    messages, each ended by a NUL byte, on the child's file descriptors 3 and 4).
    """

    def __init__(self, allow_scripts: bool) -> None:
        self.allow_scripts = allow_scripts
        self.lock = threading.Lock()
        self.pid_owner = os.getpid()
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._log: Any = None
        self._buffer = b""
        self._next_id = 0
        self._page: tuple[str, str] | None = None  # the tab kept for pages without script
        self._deadline = 0.0

    def _start(self) -> subprocess.Popen[bytes]:
        executable = chromium_path()
        if executable is None:
            named = os.environ.get("VCCORE_CHROMIUM")
            where = f"VCCORE_CHROMIUM names {named!r}, which is not an executable" if named else "no Chromium found"
            raise RenderError(f"cannot print a PDF: {where}; {_INSTALL}", engine="chromium")
        self._profile = tempfile.TemporaryDirectory(prefix="vccore-chromium-")
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (kept open while the browser runs; closed by kill)
        flags = [*_FLAGS.split(), "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={self._profile.name}"]
        if not self.allow_scripts:
            flags.append("--blink-settings=scriptEnabled=false")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium's sandbox refuses to start as root
        # The child reads the protocol on fd 3 and writes on fd 4: the shell moves our pipes there.
        command = ["/bin/sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null', executable, *flags]
        try:
            self._process = subprocess.Popen(  # noqa: S603 (the binary found above, with fixed flags)
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                start_new_session=True,  # its own process group, killed whole
            )
        except OSError as exc:
            raise RenderError(f"cannot start Chromium ({executable}): {exc}; {_INSTALL}", engine="chromium") from None
        os.set_blocking(self._pipes()[0], False)
        self._buffer = b""
        return self._process

    def kill(self) -> None:
        """Stop the browser and every process it started."""
        process, self._process = self._process, None
        self._page = None
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self) -> str:
        """The last lines Chromium wrote to its standard error, for an error message."""
        if self._log is None:
            return ""
        try:
            self._log.seek(max(0, self._log.seek(0, os.SEEK_END) - 600))
            text = self._log.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return f" (Chromium said: {text})" if text else ""

    def _pipes(self) -> tuple[int, int]:
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise OSError("Chromium is not running")
        return process.stdin.fileno(), process.stdout.fileno()

    def _send(self, method: str, params: Mapping[str, Any] | None = None, session: str | None = None) -> int:
        """Write a command, within the print's deadline (a browser that stops reading cannot hold us)."""
        requests, _ = self._pipes()
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": dict(params or {})}
        if session is not None:
            message["sessionId"] = session
        data = memoryview(json.dumps(message).encode("utf-8") + b"\0")
        while data:
            left = self._deadline - time.monotonic()
            if left <= 0 or not select.select([], [requests], [], left)[1]:
                raise PrinterTimeoutError
            with contextlib.suppress(BlockingIOError):  # the pipe is non-blocking: what fits is written
                data = data[os.write(requests, data[: 1 << 16]) :]
        return self._next_id

    def _receive(self) -> dict[str, Any]:
        _, stream = self._pipes()
        while b"\0" not in self._buffer:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise PrinterTimeoutError
            ready, _, _ = select.select([stream], [], [], left)
            if not ready:
                raise PrinterTimeoutError
            chunk = os.read(stream, 1 << 20)
            if not chunk:
                status = self._process.poll() if self._process is not None else None
                raise OSError(f"Chromium closed the protocol pipe (exit status {status})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        value = json.loads(message)
        if not isinstance(value, dict):
            raise ValueError("a protocol message that is not a JSON object")
        return value

    def _call(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        session: str | None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Send a command and wait for its answer; the events before it go to ``on_event``."""
        wanted = self._send(method, params, session)
        while True:
            message = self._receive()
            if message.get("id") == wanted:
                if "error" in message:
                    raise PrinterProtocolError(f"{method}: {message['error'].get('message', message['error'])}")
                result = message.get("result", {})
                return result if isinstance(result, dict) else {}
            if "method" in message and on_event is not None:
                on_event(message)

    def _wait_for(self, done: Callable[[], bool], on_event: Callable[[dict[str, Any]], None]) -> None:
        while not done():
            message = self._receive()
            if "method" in message:
                on_event(message)

    def print(
        self,
        documents: Mapping[str, tuple[str, bytes]],
        deadline: float,
        header_footer: bool,
        max_pages: int,
        max_bytes: int,
    ) -> bytes:
        """The page (``documents[_PAGE_URL]``, and what it names in ``documents``) as a PDF."""
        self._deadline = deadline
        if self._process is None or self._process.poll() is not None:
            self.kill()
            self._start()
        # Each page has a URL of its own (nothing cached is ever another page's).
        nonce = secrets.token_hex(8)
        page_url = f"{_PAGE_URL}?{nonce}"
        served = {page_url if url == _PAGE_URL else url: found for url, found in documents.items()}
        try:
            if self.allow_scripts:
                # a page that runs script could leave something (storage) for the next page: each
                # gets a browser context of its own, thrown away after it
                context, session = self._open_page()
                try:
                    return self._print_on(session, page_url, served, header_footer, max_pages, max_bytes)
                finally:
                    self._call("Target.disposeBrowserContext", {"browserContextId": context}, None)
            # without script a page leaves nothing behind: one tab prints them all
            if self._page is None:
                self._page = self._open_page()
            return self._print_on(self._page[1], page_url, served, header_footer, max_pages, max_bytes)
        except PrinterProtocolError as exc:
            self.kill()
            raise RenderError(f"Chromium could not print the page: {exc}{self.log_tail()}") from None
        except RenderError:
            self.kill()  # the tab may be mid-way through something: the next page gets a new browser
            raise

    def _open_page(self) -> tuple[str, str]:
        """A tab in a new browser context, its requests intercepted: (context, session)."""
        context = self._call("Target.createBrowserContext", {"disposeOnDetach": True}, None)["browserContextId"]
        target = self._call("Target.createTarget", {"url": "about:blank", "browserContextId": context}, None)
        session = self._call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, None)[
            "sessionId"
        ]
        self._call("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}, session)
        self._call("Page.enable", {}, session)
        self._call("Page.setLifecycleEventsEnabled", {"enabled": True}, session)
        self._call("Emulation.setScriptExecutionDisabled", {"value": not self.allow_scripts}, session)
        return context, session

    def _print_on(
        self,
        session: str,
        page_url: str,
        documents: Mapping[str, tuple[str, bytes]],
        header_footer: bool,
        max_pages: int,
        max_bytes: int,
    ) -> bytes:
        policy = _policy(self.allow_scripts)
        loader: dict[str, str | None] = {"id": None, "loaded": None, "served": None}

        def on_event(message: dict[str, Any]) -> None:
            method, params = message.get("method"), message.get("params", {})
            if method in ("Inspector.targetCrashed", "Target.targetCrashed"):
                raise PrinterProtocolError("the page's renderer crashed")
            if message.get("sessionId") != session:
                return
            if method == "Fetch.requestPaused":
                request = params["request"]
                url = request.get("url", "").split("#", 1)[0]
                found = documents.get(url)
                if url == page_url:  # served once: a page that reloads itself (meta refresh) is not
                    found = None if loader["served"] else found
                    loader["served"] = "yes"
                if found is not None and request.get("method") == "GET":
                    media, body = found
                    headers = [
                        {"name": "Content-Type", "value": media},
                        {"name": "Content-Security-Policy", "value": policy},
                        {"name": "Cache-Control", "value": "no-store"},
                    ]
                    fulfil = {"requestId": params["requestId"], "responseCode": 200, "responseHeaders": headers}
                    self._send(
                        "Fetch.fulfillRequest", {**fulfil, "body": base64.b64encode(body).decode("ascii")}, session
                    )
                else:
                    # Aborted, not a network error: a navigation the page starts (meta refresh)
                    # leaves the page as it was instead of printing an error page
                    self._send(
                        "Fetch.failRequest", {"requestId": params["requestId"], "errorReason": "Aborted"}, session
                    )
            elif method == "Page.lifecycleEvent" and params.get("name") == "load":
                loader["loaded"] = params.get("loaderId")

        navigated = self._call("Page.navigate", {"url": page_url}, session, on_event)
        if navigated.get("errorText"):
            raise RenderError(f"Chromium could not load the page: {navigated['errorText']}")
        loader["id"] = navigated.get("loaderId")
        self._wait_for(lambda: loader["loaded"] is not None and loader["loaded"] == loader["id"], on_event)
        width, height = _A4_INCHES
        printed = self._call(
            "Page.printToPDF",
            {
                "paperWidth": width,
                "paperHeight": height,
                "marginTop": 0,
                "marginBottom": 0,
                "marginLeft": 0,
                "marginRight": 0,
                "printBackground": True,
                "preferCSSPageSize": True,
                "displayHeaderFooter": header_footer,
                "pageRanges": f"1-{max_pages}",
                "transferMode": "ReturnAsStream",
            },
            session,
            on_event,
        )
        return self._read_stream(printed["stream"], session, max_bytes, on_event)

    def _read_stream(
        self,
        handle: str,
        session: str,
        max_bytes: int,
        on_event: Callable[[dict[str, Any]], None],
    ) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            part = self._call("IO.read", {"handle": handle, "size": 1 << 20}, session, on_event)
            data = part.get("data", "")
            chunk = base64.b64decode(data) if part.get("base64Encoded") else data.encode("latin-1")
            size += len(chunk)
            if size > max_bytes:
                self._call("IO.close", {"handle": handle}, session, on_event)
                raise RenderError(f"the PDF is over {max_bytes} bytes, the most allowed", limit=max_bytes)
            chunks.append(chunk)
            if part.get("eof"):
                break
        self._call("IO.close", {"handle": handle}, session, on_event)
        return b"".join(chunks)

"""Printed certificates: time per PDF page and peak memory, beside the HTML and SVG render.

Each bundled type's example credential (both QR formats) is rendered as HTML and SVG
(vccore.render) and printed to PDF (vccore.pdf: the kept headless Chromium), ``--pages`` times
each, in this process. The first PDF, which starts the browser, is timed apart. Memory: this
process's peak RSS, and the peak of Chromium's processes (the browser and every process it
started), summed PSS and RSS, sampled every 10 ms while the PDFs print. Each PDF's size is
recorded, and one of each is read back: pdftoppm at 150 dpi, zxing-cpp on the PNG.

With ``--compare``, the alternatives the engine was chosen over print the same HTML page: a
Chromium process per page (``--print-to-pdf``), and WeasyPrint when ``--weasyprint-python``
names a Python that has it (kept out of vccore's environment).

Prints the figures and writes benchmarks/results/pdf.json.

    python -m benchmarks.pdf [--pages N] [--compare] [--weasyprint-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from benchmarks.stores import RESULTS, machine
from vccore import Ed25519Key, bundled_entity_types, pdf, qr, render
from vccore.issuer import Issuer
from vccore.store import SQLiteStore

NOW = datetime(2023, 9, 10, tzinfo=UTC)
LATER = datetime(2024, 1, 1, tzinfo=UTC)

# WeasyPrint in its own Python: N pages of one HTML file, the time of each, as JSON.
_WEASYPRINT = """
import json, resource, sys, time
import weasyprint
html, out, count = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3])
times = []
for _ in range(count):
    started = time.perf_counter()
    document = weasyprint.HTML(string=html).write_pdf()
    times.append(time.perf_counter() - started)
open(out, "wb").write(document)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"times": times, "version": weasyprint.__version__, "peak_rss_mb": round(peak, 1)}))
"""


def _credentials(folder: Path) -> dict[str, dict[str, Any]]:
    key = Ed25519Key.from_seed(bytes(range(32)))
    out = {}
    for name, entity in bundled_entity_types().items():
        suite = entity.suites[0] if entity.suites else "eddsa-rdfc-2022"
        store = SQLiteStore(folder / f"{name}.db", status_url="https://issuer.example/status/")
        assert entity.example is not None
        out[name] = Issuer(signer=key, store=store, suite=suite).certify(entity, entity.example, now=NOW).credential
        store.close()
    return out


def _tree(root: int) -> list[int]:
    """``root`` and every process under it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory(pids: list[int]) -> tuple[int, int]:
    """Summed PSS and RSS of ``pids``, in bytes (from /proc/PID/smaps_rollup)."""
    pss = rss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name in ("Pss", "Rss"):
                size = int(value.split()[0]) * 1024
                pss, rss = (pss + size, rss) if name == "Pss" else (pss, rss + size)
    return pss, rss


class _EngineWatch:
    """Samples the memory of Chromium's processes (the browser vccore.pdf keeps) until stopped."""

    def __init__(self) -> None:
        self.peak_pss = self.peak_rss = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _browser_pid(self) -> int | None:
        # the kept browser's process: started with a profile folder of vccore.pdf's naming
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    command = (entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                ours = b"--remote-debugging-pipe" in command and any(b"vccore-chromium-" in c for c in command)
                if ours and os.getsid(int(entry.name)) == int(entry.name):  # the session leader: the browser
                    return int(entry.name)
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            root = self._browser_pid()
            if root is not None:
                pids = _tree(root)
                pss, rss = _memory(pids)
                self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
                self.processes = max(self.processes, len(pids))
            self._stop.wait(0.01)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _timed(work: Callable[[], Any], count: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(count):
        started = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - started)
    return times, out


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000, 2),
        "count": len(ordered),
    }


def _read_back(document: bytes, folder: Path, name: str) -> dict[str, Any]:
    """Images in the PDF (a vector QR code has none), and whether zxing-cpp reads the QR code
    from the page made a 150 dpi PNG (needs poppler-utils)."""
    path = folder / f"{name}.pdf"
    path.write_bytes(document)
    out: dict[str, Any] = {"bytes": len(document)}
    if shutil.which("pdftoppm") is None or shutil.which("pdfimages") is None:
        return {**out, "read_back": "poppler-utils missing"}
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    out["images"] = len(listing.splitlines()[2:])
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(folder / name)], check=True)
    try:
        out["qr_reads_at_150_dpi"] = bool(qr.decode_text(qr.read_image(folder / f"{name}.png")).credential)
    except Exception as exc:  # noqa: BLE001 (any failure to read is the figure: it did not scan)
        out["qr_reads_at_150_dpi"] = False
        out["qr_error"] = str(exc)[:200]
    return out


def _per_process(chromium: str, page: Path, out: Path, count: int) -> list[float]:
    times = []
    for _ in range(count):
        with tempfile.TemporaryDirectory() as profile:
            started = time.perf_counter()
            subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-pdf-header-footer",  # (with --blink-settings=scriptEnabled=false it prints nothing)
                    f"--user-data-dir={profile}",
                    f"--print-to-pdf={out}",
                    page.as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            times.append(time.perf_counter() - started)
    return times


def _compare(args: argparse.Namespace, page: str, folder: Path) -> dict[str, Any]:
    html_file = folder / "page.html"
    html_file.write_text(page, encoding="utf-8")
    compared: dict[str, Any] = {}
    chromium = pdf.chromium_path()
    if chromium is not None:
        out = folder / "per-process.pdf"
        times = _per_process(chromium, html_file, out, args.compare_pages)
        compared["chromium_process_per_page"] = {
            **_summary(times),
            **_read_back(out.read_bytes(), folder, "per-process"),
        }
    if args.weasyprint_python:
        out = folder / "weasyprint.pdf"
        answer = subprocess.run(
            [args.weasyprint_python, "-c", _WEASYPRINT, str(html_file), str(out), str(args.compare_pages)],
            capture_output=True,
            text=True,
            check=True,
        )
        said = json.loads(answer.stdout)
        compared["weasyprint"] = {
            "version": said["version"],
            "peak_rss_mb": said["peak_rss_mb"],
            **_summary(said["times"]),
            **_read_back(out.read_bytes(), folder, "weasyprint"),
        }
    return compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20, help="PDFs printed per type and QR format (default 20)")
    parser.add_argument("--compare", action="store_true", help="also time the engines not chosen")
    parser.add_argument("--compare-pages", type=int, default=5, help="pages per engine compared (default 5)")
    parser.add_argument("--weasyprint-python", help="a Python with WeasyPrint installed, for --compare")
    args = parser.parse_args()
    chromium = pdf.chromium_path()
    if chromium is None:
        raise SystemExit("no Chromium: install it (Debian: apt-get install chromium) or set VCCORE_CHROMIUM")
    results: dict[str, Any] = {"machine": machine(), "engine": chromium, "pages": args.pages, "runs": {}}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        credentials = _credentials(folder)
        pdf.shutdown()
        with _EngineWatch() as watch:
            started = time.perf_counter()
            first_page = render.certificate_html(credentials["HealthProfessional"], now=LATER)
            pdf.html_to_pdf(first_page)
            results["first_pdf_ms"] = round((time.perf_counter() - started) * 1000, 1)
            for name, credential in credentials.items():
                for fmt in ("compact", "divoc"):

                    def html(credential: dict[str, Any] = credential, fmt: str = fmt) -> str:
                        return render.certificate_html(credential, qr_format=fmt, now=LATER)

                    def svg(credential: dict[str, Any] = credential, fmt: str = fmt) -> str:
                        return render.certificate_svg(credential, qr_format=fmt, now=LATER)

                    html_times, page = _timed(html, args.pages)
                    svg_times, drawing = _timed(svg, args.pages)

                    def printed_html(page: str = page) -> bytes:
                        return pdf.html_to_pdf(page)

                    def printed_svg(drawing: str = drawing) -> bytes:
                        return pdf.svg_to_pdf(drawing)

                    pdf_times, printed = _timed(printed_html, args.pages)
                    svg_pdf_times, svg_printed = _timed(printed_svg, args.pages)
                    results["runs"][f"{name}/{fmt}"] = {
                        "html_render": _summary(html_times),
                        "svg_render": _summary(svg_times),
                        "html_to_pdf": {**_summary(pdf_times), **_read_back(printed, folder, f"{name}-{fmt}")},
                        "svg_to_pdf": {
                            **_summary(svg_pdf_times),
                            **_read_back(svg_printed, folder, f"{name}-{fmt}-svg"),
                        },
                    }
        results["engine_memory"] = {
            "peak_pss_mb": round(watch.peak_pss / 2**20, 1),
            "peak_rss_mb": round(watch.peak_rss / 2**20, 1),
            "processes": watch.processes,
        }
        results["python_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if args.compare:
            results["compared"] = _compare(args, first_page, folder)
    pdf.shutdown()
    print(f"machine: {results['machine']}; engine: {chromium}")
    print(f"first PDF (starts the browser): {results['first_pdf_ms']} ms")
    print(f"{'run':34} {'html':>8} {'svg':>8} {'html->pdf':>10} {'svg->pdf':>9} {'pdf bytes':>10} {'qr@150dpi':>9}")
    for run, figures in results["runs"].items():
        print(
            f"{run:34} {figures['html_render']['median_ms']:>6} ms {figures['svg_render']['median_ms']:>6} ms "
            f"{figures['html_to_pdf']['median_ms']:>7} ms {figures['svg_to_pdf']['median_ms']:>6} ms "
            f"{figures['html_to_pdf']['bytes']:>10} {figures['html_to_pdf'].get('qr_reads_at_150_dpi', '-')!s:>9}"
        )
    memory = results["engine_memory"]
    print(
        f"Chromium peak: {memory['peak_pss_mb']} MB PSS ({memory['peak_rss_mb']} MB RSS summed) over "
        f"{memory['processes']} processes; this process: {results['python_peak_rss_mb']} MB RSS"
    )
    for engine, figures in results.get("compared", {}).items():
        print(
            f"compared, {engine}: {figures['median_ms']} ms a page (median of {figures['count']}), "
            f"{figures['bytes']} bytes, {figures.get('images')} images, peak RSS {figures.get('peak_rss_mb', '-')} MB, "
            "QR read at 150 dpi: "
            f"{figures.get('qr_reads_at_150_dpi')}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "pdf.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

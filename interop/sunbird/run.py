"""Sunbird RC's certificate-signer, its own code and pinned packages, beside `vccore serve --sunbird-signer`.

    python interop/sunbird/run.py --signer PATH_TO/services/certificate-signer [--requests 2000]

The snapshot (Sunbird-RC/sunbird-rc-core v0.0.13 `services/certificate-signer`, not in this
repository: CI reaches no GitHub) is copied into a work folder and installed with `npm ci` from its
own package-lock.json. Both servers get the same config.json (the snapshot's own: `default` RSA
`did:india`, and an Ed25519 key) and the same requests, as the registry sends them (compact JSON;
the template as an object, as a string, as a URL served here). Printed: for each request, whether
the two Ed25519Signature2018 credentials are identical (both signed within one second, so that
`created` agrees), whether each verifies through the other's /verify, and then /sign requests per
second of each, with the same number of concurrent clients. Exit 1 when a credential differs or
does not verify across.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"the server at {url} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).text.upper() in ("OK", "UP"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url}/health did not answer")


def start_original(snapshot: Path, work: Path, config_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    copy = work / "original"
    shutil.copytree(snapshot, copy, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=copy, check=True)
    port = free_port()
    process = subprocess.Popen(
        ["node", "main.js"],
        cwd=copy,
        env={**os.environ, "PORT": str(port), "CONFIG_BASE_PATH": str(config_dir)},
        stdout=subprocess.DEVNULL,  # it logs every request's data
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url, process)
    return process, url


def start_vccore(config_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vccore", "serve", "--sunbird-signer", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "CONFIG_BASE_PATH": str(config_dir)},
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url, process)
    return process, url


class _Templates(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


def template_server(text: str) -> str:
    _Templates.body = text.encode("utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Templates)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/template.hbs"


# The tests' tenant template (tests/vectors/sunbird/training-request.json): an inline @protected
# context, so that no context has to be fetched by either server.
_REQUEST = json.loads((ROOT / "tests" / "vectors" / "sunbird" / "training-request.json").read_text(encoding="utf-8"))
TEMPLATE: dict[str, Any] = _REQUEST["template"]
DATA: dict[str, Any] = _REQUEST["data"]


def requests_to_send(template_url: str, template_text: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, body) of the /sign requests: the template as an object, as a string and as a URL,
    for the Ed25519 issuer; and one for the RSA default key.
    """
    ed = {**DATA, "issuer": "did:authorizedIssuer:23423#21"}
    return [
        ("object template, Ed25519", {"data": ed, "credentialTemplate": TEMPLATE}),
        ("string template, Ed25519", {"data": ed, "credentialTemplate": template_text}),
        ("URL template, Ed25519", {"data": ed, "credentialTemplate": template_url}),
        ("object template, RSA default", {"data": {**DATA, "issuer": "did:india"}, "credentialTemplate": TEMPLATE}),
    ]


def same_second(original: str, ours: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    for _ in range(20):
        a = httpx.post(f"{original}/sign", content=json.dumps(body, separators=(",", ":")), timeout=10)
        b = httpx.post(f"{ours}/sign", content=json.dumps(body, separators=(",", ":")), timeout=10)
        if a.status_code != 200 or b.status_code != 200:
            raise SystemExit(f"/sign answered {a.status_code} and {b.status_code}: {a.text[:300]} {b.text[:300]}")
        left, right = a.json(), b.json()
        if left["proof"]["created"] == right["proof"]["created"]:
            return left, right
    raise SystemExit("could not sign within one second on both servers")


def verified(url: str, credential: dict[str, Any]) -> bool:
    answer = httpx.post(f"{url}/verify", json={"signedCredentials": credential}, timeout=10)
    return answer.status_code == 200 and answer.json().get("verified") is True


def throughput(url: str, body: dict[str, Any], total: int, clients: int) -> float:
    """/sign requests per second, sent by load.mjs (Node's http client, ``clients`` in flight),
    each with other data (vccore answers an identical request, a registry's retry, from a short
    cache: that would not be signing).
    """
    bodies = [
        json.dumps({**body, "data": {**body["data"], "certificateId": str(1_000_000 + n)}}, separators=(",", ":"))
        for n in range(total)
    ]
    request = json.dumps({"url": f"{url}/sign", "bodies": bodies, "concurrency": clients})
    done = subprocess.run(["node", str(HERE / "load.mjs")], input=request, capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    if answer["failed"]:
        raise SystemExit(f"{url}: {answer['failed']} of {total} /sign requests failed")
    return float(total / answer["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signer", type=Path, required=True, help="a snapshot of services/certificate-signer")
    parser.add_argument("--requests", type=int, default=2000, help="/sign requests per server for the timing")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    if not (args.signer / "main.js").is_file():
        raise SystemExit(f"{args.signer}/main.js is not there: --signer takes services/certificate-signer")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="sunbird-") as tmp:
        work = Path(tmp)
        config_dir = work / "etc"
        config_dir.mkdir()
        shutil.copy(args.signer / "config.json", config_dir / "config.json")
        original, original_url = start_original(args.signer, work, config_dir)
        ours, our_url = start_vccore(config_dir)
        try:
            text = json.dumps(TEMPLATE, indent=2)
            url = template_server(text)
            for name, body in requests_to_send(url, text):
                theirs, mine = same_second(original_url, our_url, body)
                rsa = mine["proof"]["type"] == "RsaSignature2018"
                identical = theirs == mine
                across = verified(original_url, mine) and verified(our_url, theirs)
                ok = across and (identical or rsa)
                failures += not ok
                print(
                    f"{name}: {'identical' if identical else 'differ (RSA-PSS is randomized)' if rsa else 'DIFFER'}; "
                    f"each verifies in the other: {across}"
                )
            body = requests_to_send(url, text)[0][1]
            for target in (original_url, our_url):
                throughput(target, body, 50, args.clients)  # warm up
            rates = {
                label: throughput(target, body, args.requests, args.clients)
                for label, target in (("original", original_url), ("vccore", our_url))
            }
            print(
                f"/sign, Ed25519Signature2018, {args.requests} requests, {args.clients} clients: "
                f"original {rates['original']:.0f}/s, vccore {rates['vccore']:.0f}/s "
                f"({rates['vccore'] / rates['original']:.1f}x)"
            )
        finally:
            for process in (original, ours):
                process.terminate()
                process.wait(timeout=10)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

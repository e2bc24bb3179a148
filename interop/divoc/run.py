"""DIVOC's verification app, its own code and pinned packages, against a local `vccore serve`.

    python interop/divoc/run.py --divoc PATH_TO_A_DIVOC_SNAPSHOT

The snapshot (egovernments/DIVOC, not in this repository: CI reaches no GitHub) gives the app's
code, which app.mjs runs with the axios and jszip versions its package-lock.json pins (installed
here from npm into a work folder). A `vccore serve` on a loopback port certifies certificates,
then suspends, revokes and updates some; each certificate's QR code is fetched as the app's
users get it (image/png), read by a real decoder, and handed to the app's handleScan; the app
verifies it against the server and displays a verdict. Printed: each case, the QR form, what the
app displays, the dates it shows, and whether that is what it should display. Exit 1 when one
is not.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from vccore import bundled_entity_types, qr

HERE = Path(__file__).resolve().parent
CERTIFY = "/vc-certification/v1/certify/HealthProfessional"
CERTIFICATE = "/vc-certification/v1/certificate/HealthProfessional"
REVOKE = "/vc-certification/v1/certificate/revoke"


def pinned(snapshot: Path, package: str) -> str:
    path = snapshot / "verification-app" / "package-lock.json"
    if not path.is_file():
        raise SystemExit(f"{path} is not there: --divoc takes a DIVOC snapshot holding verification-app/")
    lock = json.loads(path.read_text(encoding="utf-8"))
    version: str = lock["packages"][f"node_modules/{package}"]["version"]
    return version


def install(snapshot: Path, work: Path) -> dict[str, str]:
    versions = {name: pinned(snapshot, name) for name in ("axios", "jszip")}
    (work / "package.json").write_text(json.dumps({"private": True, "type": "module", "dependencies": versions}))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, check=True)
    return versions


def serve(work: Path, token: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    home = tempfile.mkdtemp(dir=work, prefix="home-")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vccore",
            "serve",
            "--port",
            str(port),
            "--home",
            home,
            "--status-url",
            f"{url}/status/",
        ],
        env={**os.environ, "VCCORE_API_TOKEN": token},
        stdin=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("vccore serve did not come up")


def scanned_qr(client: httpx.Client, certificate_id: str, work: Path) -> str:
    """The text a QR reader gives for the certificate's QR code, fetched as image/png."""
    png = client.get(f"{CERTIFICATE}/{certificate_id}", headers={"Accept": "image/png"})
    png.raise_for_status()
    path = work / f"{certificate_id}.png"
    path.write_bytes(png.content)
    return qr.read_image(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divoc", type=Path, required=True, help="a snapshot of egovernments/DIVOC")
    parser.add_argument("--work", type=Path, help="a folder for npm and the server (default: a new temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vccore-divoc-app-"))
    work.mkdir(parents=True, exist_ok=True)
    versions = install(args.divoc, work)
    token = secrets.token_urlsafe(24)
    process, url = serve(work, token)
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        example = bundled_entity_types()["HealthProfessional"].example
        assert example is not None

        def certify(certificate_id: str, **changes: Any) -> None:
            body = {**example, "certificateId": certificate_id, "validTill": "2099-01-01T00:00:00Z", **changes}
            client.post(CERTIFY, json=body).raise_for_status()

        for name in ("valid", "suspended", "revoked", "updated"):
            certify(name)
        qrs = {name: scanned_qr(client, name, work) for name in ("valid", "suspended", "revoked", "updated")}
        credential = client.get(f"{CERTIFICATE}/valid").json()
        until = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
        client.post(REVOKE, json={"certificateId": "suspended", "entityName": "HealthProfessional", "endDate": until})
        client.post(REVOKE, json={"certificateId": "revoked", "entityName": "HealthProfessional"})
        client.put(CERTIFY, json={**example, "certificateId": "updated", "name": "Neha R."}).raise_for_status()
        forged = {**credential, "credentialSubject": {**credential["credentialSubject"], "name": "Mallory"}}
        expected = {"valid": "valid", "suspended": "suspended", "revoked": "revoked", "updated": "revoked"}
        cases: list[dict[str, str]] = []
        for name, text in qrs.items():
            cases.append(
                {"name": f"{name} (DIVOC ZIP QR, fetched as image/png)", "scanned": text, "want": expected[name]}
            )
        cases.append({"name": "valid (plain JSON QR)", "scanned": json.dumps(credential), "want": "valid"})
        cases.append({"name": "forged (DIVOC ZIP QR)", "scanned": qr.encode_text(forged, "divoc"), "want": "invalid"})
        cases.append({"name": "forged (plain JSON QR)", "scanned": json.dumps(forged), "want": "invalid"})
        (work / "cases.json").write_text(json.dumps(cases))
        ran = subprocess.run(
            ["node", str(HERE / "app.mjs"), str(args.divoc), url, str(work / "cases.json")],
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    shown = [json.loads(line[5:]) for line in ran.stdout.splitlines() if line.startswith("CASE ")]
    print(f"DIVOC verification app ({args.divoc}), axios {versions['axios']}, jszip {versions['jszip']}, against {url}")
    wrong = 0
    for case, result in zip(cases, shown, strict=True):
        ok = result["shown"] == case["want"]
        wrong += not ok
        dates = ", ".join(
            f"{k} {result[k]}" for k in ("suspensionDate", "suspensionExpiry", "revocationDate") if result[k]
        )
        print(f"{'ok ' if ok else 'BAD'}  {case['name']:<45} shows {result['shown']:<9} {dates}")
    print(f"{len(cases) - wrong} of {len(cases)} as they should be")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

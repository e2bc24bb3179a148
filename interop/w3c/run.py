"""Run the W3C VC test suites against a local `vccore serve` (issue #9), and count the results.

The suites' code is not in this repository (their licences and size aside, these machines reach
no GitHub): prepare them once, by hand, as interop/w3c/README.md says, in a folder holding
`vc-di-eddsa-test-suite/`, `vc-data-model-2.0-test-suite/`, `vc-bitstring-status-list-test-suite/`
and `vc-di-ed25519signature2020-test-suite/`, each with its npm dependencies installed. This
script then

1. makes a working folder with an issuing key and a self-signed TLS certificate for 127.0.0.1
   (the suites' HTTP helper and the status list suite's document loader want https),
2. starts `vccore serve --tls-cert ... --port PORT` (status lists under https://127.0.0.1:PORT/status/),
3. writes each suite's `localConfig.cjs` (vccore's endpoints, tags and options, the bearer token
   for issuing) and runs `npm test` in it,
4. prints, per suite, how many tests passed, failed and were pending, and every failing test's
   title, and writes it all to `results.json` in the working folder.

    python interop/w3c/run.py --suites /tmp/w3c-suites [--only eddsa] [--port 8443] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOKEN = "w3c-suite-run-token-0123456789abcdef"

SUITES = {
    "eddsa": "vc-di-eddsa-test-suite",
    "ed25519signature2020": "vc-di-ed25519signature2020-test-suite",
    "data-model-2.0": "vc-data-model-2.0-test-suite",
    "bitstring-status-list": "vc-bitstring-status-list-test-suite",
}


def implementations(suite: str, did: str, base: str) -> dict[str, Any]:
    """The `implementations` entry of a suite's localConfig.cjs for vccore."""
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def issuer(tags: list[str], options: dict[str, Any] | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": did, "endpoint": f"{base}/credentials/issue", "tags": tags, "headers": auth}
        if options:
            entry["options"] = options
        return entry

    def verifier(tags: list[str], path: str = "/credentials/verify") -> dict[str, Any]:
        return {"id": f"{base}/verifier", "endpoint": f"{base}{path}", "tags": tags}

    if suite == "eddsa":
        issuers = [
            issuer(["eddsa-rdfc-2022"], {"cryptosuite": "eddsa-rdfc-2022"}),
            issuer(["eddsa-jcs-2022"], {"cryptosuite": "eddsa-jcs-2022"}),
        ]
        return {"issuers": issuers, "verifiers": [verifier(["eddsa-rdfc-2022", "eddsa-jcs-2022"])]}
    if suite == "ed25519signature2020":
        return {
            "issuers": [issuer(["Ed25519Signature2020"], {"type": "Ed25519Signature2020"})],
            "verifiers": [verifier(["Ed25519Signature2020"])],
        }
    if suite == "data-model-2.0":
        return {
            "issuers": [issuer(["vc2.0"])],
            "verifiers": [verifier(["vc2.0"])],
            "vpVerifiers": [verifier(["vc2.0"], "/presentations/verify")],
        }
    return {
        "issuers": [
            issuer(
                ["BitstringStatusList"],
                {
                    "credentialStatus": [
                        {"type": "BitstringStatusListEntry"},
                        {"type": "BitstringStatusListEntry", "statusPurpose": "message", "statusSize": 2},
                    ]
                },
            )
        ],
        "verifiers": [verifier(["BitstringStatusList"])],
    }


def local_config(suite: str, did: str, base: str) -> str:
    config = {
        "settings": {"enableInteropTests": False, "testAllImplementations": False},
        "implementations": [{"name": "vccore", "implementation": "vccore", **implementations(suite, did, base)}],
    }
    return "// written by vccore's interop/w3c/run.py\nmodule.exports = " + json.dumps(config, indent=2) + ";\n"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A TLS certificate and key for 127.0.0.1 (the suites do not check it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def count(report: Path) -> dict[str, Any]:
    """Passed, failed and pending tests in a mocha-w3c-interop-reporter index.json."""
    data = json.loads(report.read_text(encoding="utf-8"))
    totals = {"passed": 0, "failed": 0, "pending": 0}
    failures: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            if node.get("type") == "test":
                state = "pending" if node.get("pending") else node.get("state", "pending")
                totals[state if state in totals else "pending"] += 1
                if state == "failed":
                    message = (node.get("err") or {}).get("message", "") if isinstance(node.get("err"), dict) else ""
                    failures.append(
                        " / ".join([*path, node.get("title", "?")]) + (f"  [{message[:300]}]" if message else "")
                    )
                return
            title = node.get("title")
            for key in ("matrices", "tables", "suites", "tests"):
                for child in node.get(key, []) or []:
                    walk(child, [*path, title] if title and key in ("suites", "tests") and title != "vccore" else path)

    walk(data, [])
    return {**totals, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", type=Path, required=True, help="the folder holding the prepared suites")
    parser.add_argument("--only", choices=sorted(SUITES), action="append", help="run only these (repeatable)")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vccore-w3c-"))
    home = work / "home"
    subprocess.run([sys.executable, "-m", "vccore", "keygen", "--out", str(home)], check=True, capture_output=True)
    did = json.loads((home / "key.json").read_text())["controller"]
    cert, key = self_signed(work)
    base = f"https://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vccore",
            "serve",
            "--port",
            str(args.port),
            "--home",
            str(home),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
            "--status-url",
            f"{base}/status/",
            "--log-level",
            "warning",
            # the suites' verifier tests sign with keys of their own: a general verifier trusts any issuer
            "--any-issuer",
        ],
        env={**os.environ, "VCCORE_API_TOKEN": TOKEN},
        stdin=subprocess.DEVNULL,
        stderr=open(work / "server.log", "wb"),  # noqa: SIM115 (the server writes it until it stops; the process owns it)
    )
    results: dict[str, Any] = {"issuer": did, "vccore_server": base}
    try:
        time.sleep(3)
        if server.poll() is not None:
            raise SystemExit(f"vccore serve exited: {(work / 'server.log').read_text()}")
        for name in args.only or sorted(SUITES):
            folder = args.suites / SUITES[name]
            if not (folder / "node_modules").is_dir():
                print(f"{name}: {folder} is not prepared (see interop/w3c/README.md); skipped")
                continue
            (folder / "localConfig.cjs").write_text(local_config(name, did, base), encoding="utf-8")
            shutil.rmtree(folder / "reports", ignore_errors=True)
            (folder / "reports").mkdir()
            started = time.monotonic()
            done = subprocess.run(
                ["npm", "test"],
                cwd=folder,
                env={**os.environ, "NODE_TLS_REJECT_UNAUTHORIZED": "0"},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=1800,
            )
            (work / f"{name}.log").write_bytes(done.stdout)
            report = folder / "reports" / "index.json"
            if not report.exists():
                print(f"{name}: no report (npm test exited {done.returncode}); see {work / (name + '.log')}")
                continue
            counted = count(report)
            counted["seconds"] = round(time.monotonic() - started, 1)
            results[name] = counted
            print(
                f"\n{name}: {counted['passed']} passed, {counted['failed']} failed, {counted['pending']} pending ({counted['seconds']} s)"
            )
            for failure in counted["failures"]:
                print(f"  FAILED {failure}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {work / 'results.json'}; server log: {work / 'server.log'}")
    if not args.keep:
        for child in (home,):
            shutil.rmtree(child, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The ``vccore`` command.

Exit status: 0 done (or verified); 1 refused (not verified, or the library refused to sign);
2 unusable input (a file that cannot be read or is not JSON, a bad argument).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from . import _datetime, __version__
from .canon import canonicalize, canonicalize_nquads
from .contexts import ContextLoader, bundled_contexts
from .errors import VccoreError
from .keys import Ed25519Key, load_key
from .proofs import sign
from .suites import SUITES
from .verify import DEFAULT_SUITES, Verifier

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2


class _Unusable(Exception):
    """Input the command cannot use at all (exit status 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except _Unusable as exc:
        print(f"vccore: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except VccoreError as exc:
        print(f"vccore: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vccore", description="Issue and verify W3C Verifiable Credentials.")
    parser.add_argument("--version", action="version", version=f"vccore {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    keygen = commands.add_parser("keygen", help="write a new Ed25519 key (Multikey JSON, mode 0600)")
    keygen.add_argument("--out", required=True, type=Path, help="folder to write key.json into")
    keygen.set_defaults(run=_keygen)

    sign_cmd = commands.add_parser("sign", help="sign an unsigned credential")
    sign_cmd.add_argument("credential", type=Path)
    sign_cmd.add_argument("--key", required=True, type=Path, help="key file (Multikey JSON, JWK or PEM)")
    sign_cmd.add_argument("--suite", default="eddsa-rdfc-2022", choices=sorted(n for n, s in SUITES.items() if s.sign))
    sign_cmd.add_argument("--created", help="proof creation time, ISO 8601 with zone (default: now)")
    sign_cmd.add_argument("--context", action="append", default=[], metavar="URL=FILE", help="pin an extra context")
    sign_cmd.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    sign_cmd.set_defaults(run=_sign)

    verify_cmd = commands.add_parser("verify", help="verify a credential (exit 0 verified, 1 not, 2 unusable)")
    verify_cmd.add_argument("credential", type=Path)
    verify_cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    verify_cmd.add_argument("--now", help="verify as of this time, ISO 8601 with zone (default: now)")
    verify_cmd.add_argument(
        "--suite", action="append", choices=sorted(SUITES), help="accept only this suite (repeatable; default: all)"
    )
    verify_cmd.add_argument("--context", action="append", default=[], metavar="URL=FILE", help="pin an extra context")
    verify_cmd.add_argument(
        "--trust", action="append", default=[], type=Path, metavar="FILE",
        help="trusted verification methods / DID documents (JSON)",
    )
    verify_cmd.add_argument(
        "--issuer", action="append", metavar="ID", help="trust only credentials from this issuer (repeatable)"
    )
    verify_cmd.set_defaults(run=_verify)

    canon = commands.add_parser("canonicalize", help="print canonical N-Quads (RDFC-1.0)")
    canon.add_argument("file", type=Path)
    canon.add_argument("--from", dest="source", choices=("jsonld", "nquads"), help="input format (default: by extension)")
    canon.add_argument("--context", action="append", default=[], metavar="URL=FILE", help="pin an extra context")
    canon.set_defaults(run=_canonicalize)

    contexts = commands.add_parser("contexts", help="the pinned JSON-LD contexts")
    contexts_commands = contexts.add_subparsers(required=True, metavar="ACTION")
    export = contexts_commands.add_parser("export", help="write every context and an index.json")
    export.add_argument("directory", type=Path)
    export.set_defaults(run=_contexts_export)

    demo = commands.add_parser("demo", help="make a key, sign a sample credential, verify it")
    demo.add_argument("--home", type=Path, default=Path(".vccore-demo"), help="working folder (default .vccore-demo)")
    demo.set_defaults(run=_demo)
    return parser


# --- commands -----------------------------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "key.json"
    if path.exists():
        raise _Unusable(f"{path} exists; vccore does not overwrite keys")
    key = Ed25519Key.generate()
    key.write(path)
    print(f"wrote {path} (mode 0600)")
    print(f"did:key  {key.did_key}")
    print(f"method   {key.id}")
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    credential = _read_json(args.credential)
    key = load_key(args.key)
    signed = sign(
        credential,
        key,
        suite=args.suite,
        created=_parse_time(args.created, "--created") if args.created else None,
        contexts=_contexts(args.context),
    )
    _write_json(signed, args.output)
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    raw = _read_bytes(args.credential)
    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _Unusable(f"{args.credential} is not JSON: {exc}") from None
    try:
        verifier = Verifier.create(
            suites=args.suite or SUITES.keys(),
            contexts=_contexts(args.context),
            verification_methods=[m for path in args.trust for m in _read_trust(path)],
            trusted_issuers=args.issuer or None,
        )
    except VccoreError as exc:  # the verifier's own configuration, not the credential
        raise _Unusable(f"{exc.code}: {exc.message}") from None
    # The text goes in whole: verify() reads it strictly (duplicate keys are a problem it reports).
    result = verifier.verify(raw, now=_parse_time(args.now, "--now") if args.now else None)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif result.verified:
        methods = ", ".join(p.verification_method or "?" for p in result.proofs if p.verified)
        print(f"verified ({methods})")
    else:
        print("not verified")
        for problem in result.problems:
            print(f"  {problem.code}: {problem.detail}")
    return EXIT_OK if result.verified else EXIT_REFUSED


def _canonicalize(args: argparse.Namespace) -> int:
    source = args.source or ("nquads" if args.file.suffix in (".nq", ".nquads") else "jsonld")
    if source == "nquads":
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _Unusable(f"cannot read {args.file}: {exc}") from None
        sys.stdout.write(canonicalize_nquads(text))
    else:
        sys.stdout.write(canonicalize(_read_json(args.file), contexts=_contexts(args.context)))
    return EXIT_OK


def _contexts_export(args: argparse.Namespace) -> int:
    urls = bundled_contexts().export(args.directory)
    print(f"wrote {len(urls)} contexts and index.json to {args.directory}")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    home: Path = args.home
    home.mkdir(parents=True, exist_ok=True)
    key_path = home / "key.json"
    if key_path.exists():
        key = load_key(key_path)
        print(f"key      {key_path} (existing)")
    else:
        key = Ed25519Key.generate()
        key.write(key_path)
        print(f"key      {key_path} (new, mode 0600)")
    print(f"issuer   {key.controller}\n")
    credential = _sample_credential(key.controller)
    (home / "unsigned.json").write_text(json.dumps(credential, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    verifier = Verifier.create()
    status = EXIT_OK
    for suite in DEFAULT_SUITES:
        signed = sign(credential, key, suite=suite)
        out = home / f"signed-{suite}.json"
        out.write_text(json.dumps(signed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"--- {out}")
        print(json.dumps(signed, indent=2, ensure_ascii=False))
        result = verifier.verify(signed)
        print(f"{suite}: {'verified' if result.verified else 'NOT verified'}")
        for problem in result.problems:
            print(f"  {problem.code}: {problem.detail}")
        print()
        status = status if result.verified else EXIT_REFUSED
    return status


def _sample_credential(issuer: str) -> dict[str, Any]:
    """A VC 2.0 credential shaped like DIVOC's health-professional certificate (seed payload)."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:0b6e3c1e-5a59-4e6e-9a1a-1f4d2c7b9e10",
        "type": ["VerifiableCredential", "HealthProfessionalCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2031-01-01T00:00:00Z",
        "credentialSubject": {
            "type": "HealthProfessional",
            "name": "Dr. Asha Rao",
            "gender": "Female",
            "registrationId": "KMC-2011-04523",
            "latestQualification": "MBBS",
            "university": "Rajiv Gandhi University of Health Sciences",
        },
    }


# --- helpers ------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _Unusable(f"cannot read {path}: {exc.strerror}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_bytes(path))
    except (ValueError, RecursionError) as exc:
        raise _Unusable(f"{path} is not JSON: {exc}") from None


def _read_trust(path: Path) -> list[Any]:
    """A trust file: a list of verification methods / DID documents, or
    ``{"verificationMethods": [...], "didDocuments": [...]}``."""
    data = _read_json(path)
    if isinstance(data, dict) and ("verificationMethods" in data or "didDocuments" in data):
        methods, documents = data.get("verificationMethods", []), data.get("didDocuments", [])
        items = [*methods, *documents] if isinstance(methods, list) and isinstance(documents, list) else None
    else:
        items = data if isinstance(data, list) else None
    if items is None or not all(isinstance(item, dict) for item in items):
        raise _Unusable(
            f"{path}: a trust file is a JSON list of objects, or an object whose verificationMethods "
            "and didDocuments are lists of objects"
        )
    return items


def _contexts(pins: list[str]) -> ContextLoader:
    loader = bundled_contexts()
    if not pins:
        return loader
    extra: dict[str, bytes] = {}
    for pin in pins:
        url, sep, file = pin.partition("=")
        if not sep or not url or not file:
            raise _Unusable(f"--context takes URL=FILE, not {pin!r}")
        extra[url] = _read_bytes(Path(file))
    try:
        return loader.with_contexts(extra)
    except VccoreError as exc:
        raise _Unusable(f"--context: {exc.code}: {exc.message}") from None


def _parse_time(text: str, option: str) -> datetime:
    try:
        return _datetime.parse(text)
    except ValueError as exc:
        raise _Unusable(f"{option}: {exc}") from None


def _write_json(data: Any, output: Path | None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())

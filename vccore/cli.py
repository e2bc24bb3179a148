"""The ``vccore`` command.

Exit status: 0 done (or verified); 1 refused (not verified, or the library refused to sign);
2 unusable input (a file that cannot be read or is not JSON, a bad argument).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets
import stat
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import _datetime, _json, __version__, qr, render
from .auth import MAX_LIFETIME
from .batch import BatchError, issue_batch, verify_batch
from .canon import canonicalize, canonicalize_nquads, to_quads
from .contexts import ContextLoader, bundled_contexts
from .entities import EntityType, PayloadError, bundled_entity_types, load_entity_types
from .errors import VccoreError
from .issuer import Issuer, issue, issuer_of
from .keys import Ed25519Key, did_document, did_web, load_key, rotate_key
from .proofs import sign
from .store import Store, open_store
from .suites import SUITES, get_suite
from .verify import Verifier

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
    keygen.add_argument(
        "--rotate", action="store_true",
        help="a new did:web key in the folder's key.json; the old one retired (kept listed in did.json for what it signed)",
    )
    keygen.add_argument(
        "--encrypt", action="store_true",
        help=f"encrypt the secret with a passphrase (from ${PASSPHRASE_ENV}, or asked for on a terminal)",
    )
    keygen.add_argument(
        "--did-web", metavar="HOST[/PATH]", help="make it a did:web key and write the did.json to publish (default: did:key)"
    )
    keygen.set_defaults(run=_keygen)

    issue_cmd = commands.add_parser(
        "issue", help="issue a credential from an entity type's payload; with --batch, a certificate for every line of a file"
    )
    issue_cmd.add_argument("entity", help="entity type (see: vccore entities)")
    issue_cmd.add_argument("payload", type=Path, nargs="?", help="the payload (JSON)")
    issue_cmd.add_argument(
        "--batch", type=Path, metavar="IN.jsonl",
        help="certify one payload per line, recording each in the home folder's store; needs -o; "
        "run again after an interruption to continue",
    )
    issue_cmd.add_argument("--errors", type=Path, metavar="FILE", help="with --batch: rejected lines (default OUT.errors.jsonl)")
    issue_cmd.add_argument("--workers", type=int, default=1, metavar="N", help="with --batch: processes (default 1)")
    issue_cmd.add_argument("--status-url", help="with --batch: base URL of the status lists (set once, when the store is made)")
    issue_cmd.add_argument("--key", type=Path, help="key file (default: key.json in the home folder, made on first use)")
    issue_cmd.add_argument("--home", type=Path, help="working folder (default: $VCCORE_HOME or .vccore)")
    issue_cmd.add_argument("--store", metavar="URL|FILE", help=f"with --batch: the store: a postgresql:// URL or an SQLite file (default: $VCCORE_STORE, else vccore.db in the home folder)")
    issue_cmd.add_argument("--vc", default="2.0", choices=("2.0", "1.1"), help="VC data model version (default 2.0)")
    issue_cmd.add_argument("--suite", default="eddsa-rdfc-2022", choices=sorted(n for n, s in SUITES.items() if s.sign))
    issue_cmd.add_argument("--now", help="issuance time, ISO 8601 with zone (default: now)")
    issue_cmd.add_argument("--templates", action="append", default=[], type=Path, metavar="DIR", help="more entity types")
    issue_cmd.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    issue_cmd.set_defaults(run=_issue)

    for name, helptext in (("certify", "issue a new certificate and record it"), ("update", "re-issue a certificate (the payload's certificateId) and supersede the old one")):
        cmd = commands.add_parser(name, help=helptext)
        cmd.add_argument("entity", help="entity type (see: vccore entities)")
        cmd.add_argument("payload", type=Path, help="the payload (JSON)")
        _issuer_options(cmd)
        cmd.add_argument("--vc", choices=("2.0", "1.1"), help="VC data model version (default: the type's own, 2.0 when it has one)")
        cmd.add_argument("--suite", default="eddsa-rdfc-2022", choices=sorted(n for n, s in SUITES.items() if s.sign))
        cmd.add_argument("--templates", action="append", default=[], type=Path, metavar="DIR", help="more entity types")
        cmd.add_argument("--status-url", help="base URL of the status lists (set once, when the store is made)")
        cmd.add_argument("-o", "--output", type=Path, help="write the credential here instead of standard output")
        cmd.add_argument("--json", action="store_true", help="print {certificateId, transactionId, replaces, credential}")
        cmd.set_defaults(run=_certify if name == "certify" else _update)

    revoke_cmd = commands.add_parser("revoke", help="revoke a certificate for good")
    revoke_cmd.add_argument("certificate_id")
    revoke_cmd.add_argument("--reason")
    _issuer_options(revoke_cmd)
    revoke_cmd.set_defaults(run=lambda a: _change(a, "revoke"))

    suspend_cmd = commands.add_parser("suspend", help="suspend a certificate (until a time, or until unsuspended)")
    suspend_cmd.add_argument("certificate_id")
    suspend_cmd.add_argument("--until", help="end of the suspension, ISO 8601 with zone; it lapses by itself")
    _issuer_options(suspend_cmd)
    suspend_cmd.set_defaults(run=lambda a: _change(a, "suspend"))

    unsuspend_cmd = commands.add_parser("unsuspend", help="lift a suspension")
    unsuspend_cmd.add_argument("certificate_id")
    _issuer_options(unsuspend_cmd)
    unsuspend_cmd.set_defaults(run=lambda a: _change(a, "unsuspend"))

    fetch_cmd = commands.add_parser("fetch", help="a certificate (by certificate or transaction id): its current credential and chain")
    fetch_cmd.add_argument("id")
    _issuer_options(fetch_cmd)
    fetch_cmd.set_defaults(run=_fetch)

    status_cmd = commands.add_parser("status", help="the status lists")
    status_commands = status_cmd.add_subparsers(required=True, metavar="ACTION")
    status_export = status_commands.add_parser("export", help="write the signed status list credentials and an index.json")
    status_export.add_argument("directory", type=Path)
    status_export.add_argument("--valid-for", type=float, default=7.0, metavar="DAYS", help="how long verifiers may rely on this export (default 7)")
    _issuer_options(status_export)
    status_export.set_defaults(run=_status_export)

    entities_cmd = commands.add_parser("entities", help="list the entity types and their fields")
    entities_cmd.add_argument("--json", action="store_true", help="print JSON")
    entities_cmd.add_argument("--templates", action="append", default=[], type=Path, metavar="DIR", help="more entity types")
    entities_cmd.set_defaults(run=_entities)

    sign_cmd = commands.add_parser("sign", help="sign an unsigned credential")
    sign_cmd.add_argument("credential", type=Path)
    sign_cmd.add_argument("--key", required=True, type=Path, help="key file (Multikey JSON, JWK or PEM)")
    sign_cmd.add_argument("--suite", default="eddsa-rdfc-2022", choices=sorted(n for n, s in SUITES.items() if s.sign))
    sign_cmd.add_argument("--created", help="proof creation time, ISO 8601 with zone (default: now)")
    sign_cmd.add_argument("--context", action="append", default=[], metavar="URL=FILE", help="pin an extra context")
    sign_cmd.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    sign_cmd.set_defaults(run=_sign)

    verify_cmd = commands.add_parser("verify", help="verify a credential (exit 0 verified, 1 not, 2 unusable)")
    verify_cmd.add_argument("credential", type=Path, nargs="?")
    verify_cmd.add_argument(
        "--batch", type=Path, metavar="IN.jsonl", help="verify one credential per line; one JSON result per line (exit 0: all verified)"
    )
    verify_cmd.add_argument("-o", "--output", type=Path, help="with --batch: write the results here instead of standard output")
    verify_cmd.add_argument("--workers", type=int, default=1, metavar="N", help="with --batch: processes (default 1)")
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
    verify_cmd.add_argument(
        "--templates", action="append", default=[], type=Path, metavar="DIR", help="know the contexts of these entity types"
    )
    verify_cmd.add_argument("--status-dir", type=Path, metavar="DIR", help="status list credentials (from vccore status export)")
    verify_cmd.add_argument("--home", type=Path, help="the issuer's working folder: its store names the successor of a superseded credential")
    verify_cmd.add_argument("--store", metavar="URL|FILE", help="the issuer's store, read only (default: $VCCORE_STORE, else --home's)")
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

    qr_cmd = commands.add_parser("qr", help="QR codes of credentials")
    qr_commands = qr_cmd.add_subparsers(required=True, metavar="ACTION")
    qr_encode = qr_commands.add_parser("encode", help="write a credential's QR code as PNG or SVG")
    qr_encode.add_argument("credential", type=Path)
    qr_encode.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.png|OUT.svg")
    qr_encode.add_argument("--format", choices=("compact", "divoc"), default="compact", help="payload format (default compact)")
    qr_encode.add_argument("--ecc", choices=("M", "Q"), help="error correction (default: Q when the symbol fits in version 25, else M)")
    qr_encode.set_defaults(run=_qr_encode)
    qr_decode = qr_commands.add_parser("decode", help="the credential in a QR code (an image, or the QR's text)")
    qr_decode.add_argument("image", type=Path, nargs="?")
    qr_decode.add_argument("--text", help="the QR's text instead of an image")
    qr_decode.add_argument("-o", "--output", type=Path, help="write the credential here instead of standard output")
    qr_decode.set_defaults(run=_qr_decode)

    render_cmd = commands.add_parser("render", help="a credential as a printable certificate (A4 HTML or SVG, with its QR code)")
    render_cmd.add_argument("credential", type=Path)
    render_cmd.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.html|OUT.svg")
    render_cmd.add_argument("--format", choices=("compact", "divoc"), default="compact", help="the QR code's payload format (default compact)")
    render_cmd.add_argument("--templates", action="append", default=[], type=Path, metavar="DIR", help="entity types beyond the bundled ones")
    render_cmd.set_defaults(run=_render)

    serve = commands.add_parser(
        "serve", help="DIVOC's certification API and the W3C VC API over HTTP (needs vccore[server])"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate chain (PEM)")
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="the certificate's private key (PEM)")
    serve.add_argument(
        "--jwks", type=Path, metavar="FILE",
        help="accept JWTs signed by these keys (the token issuer's JWKS) with the scope or role certify, revoke or read; "
        f"without it, one static token (${API_TOKEN_ENV}, else api-token in the home folder, made on first start)",
    )
    serve.add_argument("--jwt-issuer", metavar="ISS", help="with --jwks: the tokens' iss (without it, any; a warning says so)")
    serve.add_argument("--jwt-audience", metavar="AUD", help="with --jwks: the tokens' aud (without it, any; a warning says so)")
    serve.add_argument(
        "--jwt-max-lifetime", type=int, metavar="SECONDS",
        help=f"with --jwks: refuse tokens that live longer (exp - iat, or exp - now without iat; default {MAX_LIFETIME}, a day)",
    )
    serve.add_argument(
        "--issuer", action="append", default=[], metavar="ID",
        help="the verify routes trust credentials from this issuer too (repeatable; by default only the server's own)",
    )
    serve.add_argument(
        "--trust", action="append", default=[], type=Path, metavar="FILE",
        help="trusted verification methods / DID documents (JSON), as for vccore verify: the verify routes trust their DIDs too",
    )
    serve.add_argument(
        "--any-issuer", action="store_true",
        help="the verify routes trust any issuer that controls the key that signed (a general VC API verifier, as the W3C suites test one)",
    )
    _issuer_options(serve)
    serve.add_argument("--vc", choices=("2.0", "1.1"), help="VC data model version (default: each type's own)")
    serve.add_argument("--suite", default="eddsa-rdfc-2022", choices=sorted(n for n, s in SUITES.items() if s.sign))
    serve.add_argument("--templates", action="append", default=[], type=Path, metavar="DIR", help="more entity types")
    serve.add_argument("--status-url", help="base URL of the status lists (set once, when the store is made)")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="issue the HealthProfessional example payload and verify it")
    demo.add_argument("--home", type=Path, default=Path(".vccore-demo"), help="working folder (default .vccore-demo)")
    demo.set_defaults(run=_demo)
    return parser


# --- commands -----------------------------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    if args.rotate:
        path = args.out / "key.json"
        if not path.exists():
            raise _Unusable(f"{path} does not exist: nothing to rotate")
        encrypted = "encryptedSecretKey" in path.read_text(encoding="utf-8")
        passphrase = _passphrase(path) if encrypted else None
        if encrypted and passphrase is None:
            raise _Unusable(f"{path} is encrypted: set {PASSPHRASE_ENV} or run on a terminal to be asked")
        key, document = rotate_key(args.out, passphrase=passphrase)
        print(f"wrote {path} (mode 0600): {key.id} signs from now on")
        print(f"wrote {document}: publish it; it still lists the earlier keys, so what they signed verifies")
        return EXIT_OK
    args.out.mkdir(mode=0o700, parents=True, exist_ok=True)  # often the home folder: the store goes there too
    path = args.out / "key.json"
    if path.exists():
        raise _Unusable(f"{path} exists; vccore does not overwrite keys")
    if args.did_web:
        did = did_web(args.did_web)
        key = Ed25519Key.generate(id=f"{did}#key-1", controller=did)
        document = args.out / "did.json"
        document.write_text(json.dumps(did_document(key), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {document}: publish it at https://{args.did_web.strip('/')}{'' if '/' in args.did_web.strip('/') else '/.well-known'}/did.json")
    else:
        key = Ed25519Key.generate()
    passphrase = _passphrase(path, new=True) if args.encrypt else None
    if args.encrypt and passphrase is None:
        raise _Unusable(f"--encrypt needs a passphrase: set {PASSPHRASE_ENV} or run on a terminal to be asked")
    key.write(path, passphrase=passphrase)
    print(f"wrote {path} (mode 0600{', secret encrypted' if passphrase else ''})")
    print(f"issuer   {key.controller}")
    print(f"method   {key.id}")
    return EXIT_OK


def _issue(args: argparse.Namespace) -> int:
    if args.batch is not None:
        return _issue_batch(args)
    if args.payload is None:
        raise _Unusable("issue needs a payload file (or --batch IN.jsonl -o OUT.jsonl)")
    payload = _read_json(args.payload)
    entity_types = _entity_types(args.templates)
    key = _load_key(args.key) if args.key else _home_key(_home(args))
    try:
        credential = issue(
            args.entity,
            payload,
            signer=key,
            vc_version=args.vc,
            suite=args.suite,
            now=_parse_time(args.now, "--now") if args.now else None,
            entity_types=entity_types,
        )
    except PayloadError as exc:
        _print_payload_problems(args, exc)
        return EXIT_REFUSED
    _write_json(credential, args.output)
    return EXIT_OK


def _issue_batch(args: argparse.Namespace) -> int:
    if args.payload is not None:
        raise _Unusable("give a payload file or --batch, not both")
    if args.output is None:
        raise _Unusable("--batch needs -o OUT.jsonl: where the credentials go (and where a re-run continues)")
    _check_workers(args.workers)
    if args.entity not in _entity_types(args.templates):
        known = ", ".join(sorted(_entity_types(args.templates)))
        raise _Unusable(f"no entity type {args.entity!r} (known: {known})")
    make_issuer = functools.partial(_issuer, args, make_key=True)
    # The key and the store now, in this process: a problem stops the batch before it starts. The
    # store is closed again, so that the workers can be forked (no connection may cross a fork).
    make_issuer().store.close()
    try:
        report = issue_batch(
            make_issuer, args.entity, args.batch, args.output, errors=args.errors, workers=args.workers, now=_now(args),
            start_method=_start_method(),
        )
    except BatchError as exc:
        raise _Unusable(exc.message) from None
    errors = args.errors or args.output.with_name(args.output.stem + ".errors.jsonl")
    resumed = f" (continued at line {report.resumed_at:,})" if report.resumed_at > 1 else ""
    print(
        f"vccore: {report.done:,} credentials in {args.output}, {report.rejected:,} lines rejected"
        f"{f' (see {errors})' if report.rejected else ''}{resumed}; {report.seconds:.1f} s",
        file=sys.stderr,
    )
    return EXIT_OK


def _start_method() -> str:
    """Batch workers are forked on Linux when this process runs no other thread (the command line
    closes its store before the batch starts), else spawned (macOS's system libraries are not
    fork-safe): a forked worker starts without importing vccore again."""
    return "fork" if sys.platform.startswith("linux") and threading.active_count() == 1 else "spawn"


def _check_workers(workers: int) -> None:
    if not 1 <= workers <= 256:
        raise _Unusable(f"--workers takes 1 to 256, not {workers}")


def _issuer_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--home", type=Path, help="working folder: key and store (default: $VCCORE_HOME or .vccore)")
    cmd.add_argument(
        "--store", metavar="URL|FILE",
        help="the store: a postgresql:// URL or an SQLite file (default: $VCCORE_STORE, else vccore.db in the home folder)",
    )
    cmd.add_argument("--key", type=Path, help="key file (default: key.json in the home folder, made on first use)")
    cmd.add_argument("--now", help="the time of the change, ISO 8601 with zone (default: now)")


def _issuer(args: argparse.Namespace, *, make_key: bool = False) -> Issuer:
    home = _home(args)
    if args.key:
        key = _load_key(args.key)
    elif make_key or (home / "key.json").exists():
        key = _home_key(home)
    else:
        raise _Unusable(f"no issuing key in {home} (key.json): give --key, or --home of the issuer's folder")
    location = _store_location(args)
    if location is None:
        location = str(home / "vccore.db")
        if not make_key and not (home / "vccore.db").exists():
            raise _Unusable(f"no store in {home} (vccore.db): give --home of the issuer's folder, or --store")
    store = open_store(location, status_base_url=getattr(args, "status_url", None) or os.environ.get("VCCORE_STATUS_URL") or None)
    return Issuer(
        signer=key,
        store=store,
        entity_types=_entity_types(getattr(args, "templates", [])),
        vc_version=getattr(args, "vc", None),
        suite=getattr(args, "suite", "eddsa-rdfc-2022"),
    )


def _now(args: argparse.Namespace) -> datetime | None:
    return _parse_time(args.now, "--now") if args.now else None


def _certify(args: argparse.Namespace) -> int:
    return _issue_recorded(args, lambda issuer, payload: issuer.certify(args.entity, payload, now=_now(args)))


def _update(args: argparse.Namespace) -> int:
    return _issue_recorded(args, lambda issuer, payload: issuer.update(args.entity, payload, now=_now(args)))


def _issue_recorded(args: argparse.Namespace, action: Any) -> int:
    payload = _read_json(args.payload)
    try:
        certified = action(_issuer(args, make_key=True), payload)
    except PayloadError as exc:
        _print_payload_problems(args, exc)
        return EXIT_REFUSED
    print(f"certificateId {certified.certificate_id}  transactionId {certified.transaction_id}"
          + (f"  replaces {certified.replaces}" if certified.replaces else ""), file=sys.stderr)
    _write_json(certified.to_dict() if args.json else certified.credential, args.output)
    return EXIT_OK


def _change(args: argparse.Namespace, action: str) -> int:
    issuer = _issuer(args)
    if action == "revoke":
        record = issuer.revoke(args.certificate_id, args.reason, now=_now(args))
    elif action == "suspend":
        until = _parse_time(args.until, "--until") if args.until else None
        record = issuer.suspend(args.certificate_id, until, now=_now(args))
    else:
        record = issuer.unsuspend(args.certificate_id, now=_now(args))
    summary = {k: v for k, v in record.to_dict().items() if k != "credential"}
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    chain = _issuer(args).fetch(args.id)
    current = chain[-1]
    print(json.dumps({
        "certificateId": current.certificate_id,
        "state": current.state,
        "credential": current.credential,
        "chain": [{k: v for k, v in r.to_dict().items() if k != "credential"} for r in chain],
    }, indent=2, ensure_ascii=False))
    return EXIT_OK


def _status_export(args: argparse.Namespace) -> int:
    issuer = _issuer(args)
    issuer.status_valid_for = timedelta(days=args.valid_for)
    written = issuer.export_status(args.directory, now=_now(args))
    print(f"wrote {len(written)} status list credentials and index.json to {args.directory}")
    return EXIT_OK


def _print_payload_problems(args: argparse.Namespace, exc: PayloadError) -> None:
    print(f"vccore: {exc.code}: {args.payload} is not a valid {args.entity} payload:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem.pointer or '/'}: {problem.reason}: {problem.detail}", file=sys.stderr)


def _entities(args: argparse.Namespace) -> int:
    entity_types = _entity_types(args.templates)
    if args.json:
        listing = {
            name: {
                "description": e.description,
                "vcVersions": sorted(e.templates),
                "contexts": sorted(e.contexts),
                "fields": [
                    {"name": f.name, "type": f.type, "required": f.required, "format": f.format, "description": f.description}
                    for f in e.fields
                ],
            }
            for name, e in sorted(entity_types.items())
        }
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return EXIT_OK
    for name, entity in sorted(entity_types.items()):
        print(f"{name}: {entity.description} (VC {', '.join(sorted(entity.templates, reverse=True))})")
        for f in entity.fields:
            kind = f.type + (f", {f.format}" if f.format else "")
            print(f"  {f.name:<28} {kind:<20} {'required' if f.required else 'optional':<9} {f.description}")
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    credential = _read_json(args.credential)
    key = _load_key(args.key)
    if isinstance(credential, dict) and not get_suite(args.suite).canonicalizes_rdf:
        # JCS signs the JSON without reading it; the verifier reads every suite's credentials
        # in safe mode, so what it would refuse is not signed here either.
        to_quads({k: v for k, v in credential.items() if k != "proof"}, contexts=_contexts(args.context), safe=True)
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
    if args.batch is not None:
        return _verify_batch(args)
    if args.credential is None:
        raise _Unusable("verify needs a credential file (or --batch IN.jsonl)")
    raw = _credential_bytes(args.credential)
    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _Unusable(f"{args.credential} is not JSON: {exc}") from None
    verifier = _verifier(args)
    # The text goes in whole: verify() reads it strictly (duplicate keys are a problem it reports).
    result = verifier.verify(raw, now=_parse_time(args.now, "--now") if args.now else None)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif result.verified:
        methods = ", ".join(p.verification_method or "?" for p in result.proofs if p.verified)
        print(f"verified ({methods})")
    else:
        print(f"not verified ({result.status})")
        for problem in result.problems:
            print(f"  {problem.code}: {problem.detail}")
    if not args.json:
        for warning in result.warnings:
            print(f"  warning: {warning.code}: {warning.detail}")
    return EXIT_OK if result.verified else EXIT_REFUSED


def _verify_batch(args: argparse.Namespace) -> int:
    if args.credential is not None:
        raise _Unusable("give a credential file or --batch, not both")
    _check_workers(args.workers)
    make_verifier = functools.partial(_verifier, args)
    store = make_verifier().store  # its configuration's problems now, before any worker starts
    if store is not None:
        store.close()  # before the workers are forked, as in _issue_batch
    now = _parse_time(args.now, "--now") if args.now else None
    run = functools.partial(verify_batch, make_verifier, args.batch, workers=args.workers, now=now, start_method=_start_method())
    try:
        if args.output is None:
            report = run(sys.stdout.buffer)
        else:
            with open(args.output, "wb") as output:
                report = run(output)
    except BatchError as exc:
        raise _Unusable(exc.message) from None
    except OSError as exc:
        raise _Unusable(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"vccore: {report.done:,} verified, {report.rejected:,} not verified; {report.seconds:.1f} s", file=sys.stderr)
    return EXIT_OK if report.rejected == 0 else EXIT_REFUSED


def _verifier(args: argparse.Namespace) -> Verifier:
    try:
        return Verifier.create(
            suites=args.suite or SUITES.keys(),
            contexts=_contexts(args.context, templates=args.templates),
            verification_methods=[m for path in args.trust for m in _read_trust(path)],
            trusted_issuers=args.issuer or None,
            status=args.status_dir,
            store=_verifier_store(args),
        )
    except VccoreError as exc:  # the verifier's own configuration, not the credential
        raise _Unusable(f"{exc.code}: {exc.message}") from None
    except ValueError as exc:  # an unreadable status folder
        raise _Unusable(str(exc)) from None


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


API_TOKEN_ENV = "VCCORE_API_TOKEN"


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .auth import Authorizer, JwtAuthorizer, StaticTokenAuthorizer
        from .server import create_app
    except ImportError as exc:
        raise _Unusable(f"vccore serve needs the server extra: pip install 'vccore[server]' ({exc})") from None
    if (args.tls_cert is None) != (args.tls_key is None):
        raise _Unusable("--tls-cert and --tls-key go together")
    for path in (args.tls_cert, args.tls_key, args.jwks):
        if path is not None and not path.is_file():
            raise _Unusable(f"cannot read {path}")
    if not 0 < args.port < 65536:
        raise _Unusable(f"--port takes 1 to 65535, not {args.port}")
    if args.any_issuer and args.issuer:
        raise _Unusable("--any-issuer trusts every issuer that controls its key: --issuer adds nothing to it (give one or the other)")
    for value in args.issuer:
        if ":" not in value:
            raise _Unusable(f"--issuer takes an issuer's id (a DID or a URL), not {value!r}")
    trust = [m for path in args.trust for m in _read_trust(path)]
    authorizer: Authorizer
    if args.jwks is not None:
        lifetime = MAX_LIFETIME if args.jwt_max_lifetime is None else args.jwt_max_lifetime
        if lifetime <= 0:
            raise _Unusable(f"--jwt-max-lifetime takes a number of seconds above 0, not {lifetime}")
        authorizer = JwtAuthorizer.from_file(args.jwks, issuer=args.jwt_issuer, audience=args.jwt_audience, max_lifetime=lifetime)
        how = (f"JWTs signed by the keys in {args.jwks} (iss {args.jwt_issuer or 'not checked'}, aud {args.jwt_audience or 'not checked'}; "
               f"tokens live at most {lifetime} s)")
        _warn_unchecked_claims(args)
    elif args.jwt_issuer is not None or args.jwt_audience is not None or args.jwt_max_lifetime is not None:
        raise _Unusable("--jwt-issuer, --jwt-audience and --jwt-max-lifetime go with --jwks")
    else:
        token, where = _api_token(_home(args))
        authorizer = StaticTokenAuthorizer(token)
        how = f"the static token in {where}"
    issuer = _issuer(args, make_key=True)
    try:
        app = create_app(
            issuer, authorizer=authorizer, trusted_issuers=args.issuer, verification_methods=[*trust, *_own_keys(args, issuer)],
            any_issuer=args.any_issuer,
        )
    except VccoreError as exc:  # a trusted key that cannot be read
        raise _Unusable(f"--trust: {exc.code}: {exc.message}") from None
    scheme = "https" if args.tls_cert else "http"
    print(
        f"vccore: serving {scheme}://{args.host}:{args.port} as {issuer_of(issuer.signer)}; store {issuer.store.location}; "
        f"status lists under {issuer.store.status_base_url}; OpenAPI at /openapi.json; protected routes take {how}; "
        f"the verify routes trust {_trusted_names(app.state.verifier.trusted_issuers)}",
        file=sys.stderr,
    )
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level,
        ssl_certfile=str(args.tls_cert) if args.tls_cert else None, ssl_keyfile=str(args.tls_key) if args.tls_key else None,
    )
    return EXIT_OK


def _trusted_names(trusted: frozenset[str] | None) -> str:
    return "any issuer that controls its signing key (--any-issuer)" if trusted is None else ", ".join(sorted(trusted))


def _warn_unchecked_claims(args: argparse.Namespace) -> None:
    """A warning, at start, for each claim of the tokens that JWT mode is not told to check."""
    unchecked = []
    if args.jwt_issuer is None:
        unchecked.append("no --jwt-issuer: a token's iss is not checked (any token signed by a key of the JWKS is taken)")
    if args.jwt_audience is None:
        unchecked.append("no --jwt-audience: a token's aud is not checked (a token made for another service is taken here)")
    for line in unchecked:
        print(f"vccore: warning: {line}", file=sys.stderr)


def _own_keys(args: argparse.Namespace, issuer: Issuer) -> list[Any]:
    """The did.json beside a did:web issuing key (as keygen --did-web and --rotate write it): the
    keys the issuer signed with before a rotation, which the verify routes must know."""
    controller = issuer_of(issuer.signer)
    path = (args.key if args.key else _home(args) / "key.json").parent / "did.json"
    if not controller.startswith("did:web:") or not path.exists():
        return []
    document = _read_json(path)
    named = document.get("id") if isinstance(document, dict) else None
    if named != controller:
        raise _Unusable(f"{path} is the DID document of {named!r}, not of this server's issuer {controller}: move it away or write it anew")
    return [document]


def _api_token(home: Path) -> tuple[str, str]:
    """The static API token: $VCCORE_API_TOKEN, else the home folder's api-token (made, 0600;
    refused, as ssh refuses a key file, when others than its owner may read it)."""
    given = os.environ.get(API_TOKEN_ENV)
    if given:
        if len(given) < 16:
            raise _Unusable(f"${API_TOKEN_ENV} must be at least 16 characters")
        return given, f"${API_TOKEN_ENV}"
    path = home / "api-token"
    if not path.exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secrets.token_urlsafe(32) + "\n")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unusable(f"cannot read {path}: {exc}") from None
    if os.name == "posix" and mode & 0o077:
        raise _Unusable(f"{path} has mode {mode:04o}: others than its owner may read the API token; chmod 600 {path} (and make a new token if it was read)")
    if len(token) < 16:
        raise _Unusable(f"{path} holds a token shorter than 16 characters")
    return token, str(path)


def _demo(args: argparse.Namespace) -> int:
    home: Path = args.home
    key = _home_key(home)
    entity = bundled_entity_types()["HealthProfessional"]
    payload = entity.example
    assert payload is not None
    print(f"issuer   {key.controller} (key {home / 'key.json'})")
    print(f"payload  templates/HealthProfessional/example-payload.json (the seed's Update Certificate sample)\n")
    # The seed payload's validity ended on its validTill; verify as of its validFrom, then today.
    valid_from = _datetime.parse(payload["validFrom"])
    verifier = Verifier.create()
    status = EXIT_OK
    for vc_version, suite in (("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")):
        credential = issue(entity, payload, signer=key, vc_version=vc_version, suite=suite)
        out = home / f"HealthProfessional-vc{vc_version}-{suite}.json"
        out.write_text(json.dumps(credential, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"--- {out}")
        print(json.dumps(credential, indent=2, ensure_ascii=False))
        for moment, label in ((valid_from, f"as of {payload['validFrom']} (validFrom)"), (None, "today")):
            result = verifier.verify(credential, now=moment)
            verdict = "verified" if result.verified else "not verified: " + "; ".join(
                f"{p.code} ({p.detail})" for p in result.problems
            )
            print(f"VC {vc_version} + {suite}, {label}: {verdict}")
            if moment is not None and not result.verified:
                status = EXIT_REFUSED
        print()
    return status


def _store_location(args: argparse.Namespace) -> str | None:
    """--store, else $VCCORE_STORE, else None (the home folder's vccore.db)."""
    return getattr(args, "store", None) or os.environ.get("VCCORE_STORE") or None


def _verifier_store(args: argparse.Namespace) -> Store | None:
    location = _store_location(args)
    if location is not None:
        return open_store(location, read_only=True)
    if args.home is not None and (args.home / "vccore.db").exists():
        return open_store(args.home / "vccore.db", read_only=True)
    return None


def _home(args: argparse.Namespace) -> Path:
    return args.home if args.home is not None else Path(os.environ.get("VCCORE_HOME") or ".vccore")


PASSPHRASE_ENV = "VCCORE_KEY_PASSPHRASE"


def _passphrase(path: Path, *, new: bool = False) -> str | None:
    """The passphrase of a key file: ``$VCCORE_KEY_PASSPHRASE``, or asked for on a terminal,
    never a command-line argument (those show in process lists and shell histories)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        return None
    import getpass

    value = getpass.getpass(f"passphrase for {path}: ")
    if new and getpass.getpass("the same passphrase again: ") != value:
        raise _Unusable("the passphrases differ")
    return value or None


def _load_key(path: Path) -> Ed25519Key:
    """A key file, asking for its passphrase only when it is encrypted."""
    try:
        return load_key(path)
    except VccoreError as exc:
        if exc.code != "KEY_PASSPHRASE_REQUIRED":
            raise
    passphrase = _passphrase(path)
    if passphrase is None:
        raise _Unusable(f"{path} is encrypted: set {PASSPHRASE_ENV} or run on a terminal to be asked")
    return load_key(path, passphrase=passphrase)


def _home_key(home: Path) -> Ed25519Key:
    """The issuing key in a working folder, made (did:key, mode 0600) on first use; encrypted
    when ``$VCCORE_KEY_PASSPHRASE`` is set."""
    path = home / "key.json"
    if path.exists():
        return _load_key(path)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519Key.generate()
    key.write(path, passphrase=os.environ.get(PASSPHRASE_ENV) or None)
    print(f"vccore: made a new issuing key {path} ({key.controller})", file=sys.stderr)
    return key


def _entity_types(directories: list[Path]) -> Mapping[str, EntityType]:
    if not directories:
        return bundled_entity_types()
    try:
        return load_entity_types(*directories)
    except VccoreError as exc:
        raise _Unusable(f"{exc.code}: {exc.message}") from None


# --- helpers ------------------------------------------------------------------------------------


def _qr_encode(args: argparse.Namespace) -> int:
    raw = _read_bytes(args.credential)
    try:
        credential = _json.loads(raw)  # strict: a duplicate key would read two ways
    except ValueError as exc:
        raise _Unusable(f"{args.credential} is not JSON: {exc}") from None
    if not isinstance(credential, dict):
        raise _Unusable(f"{args.credential} is not a JSON object")
    if args.output.suffix.lower() not in (".png", ".svg"):
        raise _Unusable(f"{args.output}: write .png or .svg")
    # minified: the same JSON values (what both the RDF and the JCS suites sign), fewer bytes
    symbol = qr.make(credential, format=args.format, ecc=args.ecc)
    symbol.save(args.output)
    print(f"vccore: {args.output}: QR version {symbol.version}, ECC {symbol.ecc}, {args.format} format ({len(symbol.text):,} characters)", file=sys.stderr)
    return EXIT_OK


def _qr_decode(args: argparse.Namespace) -> int:
    if (args.image is None) == (args.text is None):
        raise _Unusable("qr decode takes an image or --text TEXT")
    decoded = qr.decode_text(args.text) if args.text is not None else qr.decode_text(_read_qr_image(args.image))
    if args.output is not None:
        args.output.write_text(decoded.text, encoding="utf-8")
    else:
        print(decoded.text)
    print(f"vccore: {decoded.format} QR payload, {len(decoded.text.encode('utf-8')):,} bytes of JSON", file=sys.stderr)
    return EXIT_OK


def _render(args: argparse.Namespace) -> int:
    credential = _credential_bytes(args.credential)
    try:
        value = _json.loads(credential)
    except ValueError as exc:
        raise _Unusable(f"{args.credential} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _Unusable(f"{args.credential} is not a JSON object")
    if args.output.suffix.lower() not in (".html", ".htm", ".svg"):
        raise _Unusable(f"{args.output}: write .html or .svg")
    written = render.render(value, args.output, entity_types=_entity_types(args.templates), qr_format=args.format)
    print(f"vccore: {written}", file=sys.stderr)
    return EXIT_OK


_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")


def _credential_bytes(path: Path) -> bytes:
    """A credential file's JSON: the file itself, or the credential in the QR code of an image
    (PNG, JPEG, GIF, BMP, WebP), or in QR text (``VC1:...``, DIVOC's ZIP text)."""
    raw = _read_bytes(path)
    if raw.startswith(_IMAGE_MAGIC):
        return qr.decode_text(_read_qr_image(path)).text.encode("utf-8")
    if raw.lstrip()[:1] in (b"{", b"["):
        return raw
    if raw.startswith(b"PK\x03\x04"):  # a DIVOC QR's ZIP, as bytes
        return qr.decode_text(raw.decode("latin-1")).text.encode("utf-8")
    text = raw.decode("utf-8", errors="replace")
    if text.startswith(("VC", "HC1:", "shc:/")):
        text = text.rstrip("\r\n")  # a text file's last line end is not part of the QR
    return qr.decode_text(text).text.encode("utf-8")


def _read_qr_image(path: Path) -> str:
    """The QR text in an image; an image too large or not an image at all is unusable input."""
    try:
        return qr.read_image(path)
    except qr.QRError as exc:
        if exc.code in ("QR_IMAGE_TOO_LARGE", "QR_IMAGE_UNREADABLE"):
            raise _Unusable(f"{exc.code}: {exc.message}") from None
        raise


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
    """A trust file: one DID document or verification method, a list of them, or
    ``{"verificationMethods": [...], "didDocuments": [...]}``."""
    data = _read_json(path)
    if isinstance(data, dict) and ("verificationMethods" in data or "didDocuments" in data):
        methods, documents = data.get("verificationMethods", []), data.get("didDocuments", [])
        items = [*methods, *documents] if isinstance(methods, list) and isinstance(documents, list) else None
    elif isinstance(data, dict):  # one DID document (a did.json) or one verification method
        items = [data]
    else:
        items = data if isinstance(data, list) else None
    if items is None or not all(isinstance(item, dict) for item in items):
        raise _Unusable(
            f"{path}: a trust file is a JSON list of objects, or an object whose verificationMethods "
            "and didDocuments are lists of objects"
        )
    return items


def _contexts(pins: list[str], *, templates: Sequence[Path] = ()) -> ContextLoader:
    loader = bundled_contexts()
    for entity in _entity_types(list(templates)).values() if templates else ():
        loader = entity.context_loader(loader)
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
        moment = _datetime.parse(text)
        moment.astimezone(UTC)  # what is stored and signed: 9999-12-31T23:59:59-01:00 is no year in UTC
    except ValueError as exc:
        raise _Unusable(f"{option}: {exc}") from None
    except OverflowError:
        raise _Unusable(f"{option}: {text!r} is outside the years 1 to 9999 in UTC") from None
    return moment


def _write_json(data: Any, output: Path | None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())

"""``vccore keygen``: a new issuing key, or a did:web key rotated."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..dids import did_document, did_web
from ..errors import UnusableInputError
from ..key_files import rotate_key
from ..keys import Ed25519Key
from ._common import EXIT_OK
from ._home import PASSPHRASE_ENV, _passphrase


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``keygen``."""
    keygen = commands.add_parser("keygen", help="write a new Ed25519 key (Multikey JSON, mode 0600)")
    keygen.add_argument("--out", required=True, type=Path, help="folder to write key.json into")
    keygen.add_argument(
        "--rotate",
        action="store_true",
        help="a new did:web key in the folder's key.json; the old one retired (kept listed in did.json for what it signed)",
    )
    keygen.add_argument(
        "--encrypt",
        action="store_true",
        help=f"encrypt the secret with a passphrase (from ${PASSPHRASE_ENV}, or asked for on a terminal)",
    )
    keygen.add_argument(
        "--did-web",
        metavar="HOST[/PATH]",
        help="make it a did:web key and write the did.json to publish (default: did:key)",
    )
    keygen.set_defaults(run=_keygen)


def _keygen(args: argparse.Namespace) -> int:
    if args.rotate:
        path = args.out / "key.json"
        if not path.exists():
            raise UnusableInputError(f"{path} does not exist: nothing to rotate")
        encrypted = "encryptedSecretKey" in path.read_text(encoding="utf-8")
        passphrase = _passphrase(path) if encrypted else None
        if encrypted and passphrase is None:
            raise UnusableInputError(f"{path} is encrypted: set {PASSPHRASE_ENV} or run on a terminal to be asked")
        key, document = rotate_key(args.out, passphrase=passphrase)
        print(f"vccore: wrote {path} (mode 0600): {key.id} signs from now on", file=sys.stderr)
        print(
            f"vccore: wrote {document}: publish it; it still lists the earlier keys, so what they signed verifies",
            file=sys.stderr,
        )
        print(f"issuer   {key.controller}")
        print(f"method   {key.id}")
        return EXIT_OK
    args.out.mkdir(mode=0o700, parents=True, exist_ok=True)  # often the home folder: the store goes there too
    path = args.out / "key.json"
    if path.exists():
        raise UnusableInputError(f"{path} exists; vccore does not overwrite keys")
    if args.did_web:
        did = did_web(args.did_web)
        key = Ed25519Key.generate(id=f"{did}#key-1", controller=did)
        document = args.out / "did.json"
        document.write_text(json.dumps(did_document(key), indent=2) + "\n", encoding="utf-8")
        print(
            f"vccore: wrote {document}: publish it at https://{args.did_web.strip('/')}{'' if '/' in args.did_web.strip('/') else '/.well-known'}/did.json",
            file=sys.stderr,
        )
    else:
        key = Ed25519Key.generate()
    passphrase = _passphrase(path, new=True) if args.encrypt else None
    if args.encrypt and passphrase is None:
        raise UnusableInputError(f"--encrypt needs a passphrase: set {PASSPHRASE_ENV} or run on a terminal to be asked")
    key.write(path, passphrase=passphrase)
    print(f"vccore: wrote {path} (mode 0600{', secret encrypted' if passphrase else ''})", file=sys.stderr)
    print(f"issuer   {key.controller}")
    print(f"method   {key.id}")
    return EXIT_OK

"""The issuer's working folder: its key (and the key's passphrase), its store, the options naming them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..codes import ErrorCode
from ..errors import UnusableInputError, VccoreError
from ..issuer import Issuer
from ..key_files import load_key
from ..keys import Ed25519Key
from ..store import open_store
from ._common import _entity_types


def _issuer_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--home", type=Path, help="working folder: key and store (default: $VCCORE_HOME or .vccore)")
    cmd.add_argument(
        "--store",
        metavar="URL|FILE",
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
        raise UnusableInputError(f"no issuing key in {home} (key.json): give --key, or --home of the issuer's folder")
    location = _store_location(args)
    if location is None:
        location = str(home / "vccore.db")
        if not make_key and not (home / "vccore.db").exists():
            raise UnusableInputError(f"no store in {home} (vccore.db): give --home of the issuer's folder, or --store")
    store = open_store(
        location, status_base_url=getattr(args, "status_url", None) or os.environ.get("VCCORE_STATUS_URL") or None
    )
    return Issuer(
        signer=key,
        store=store,
        entity_types=_entity_types(getattr(args, "templates", [])),
        vc_version=getattr(args, "vc", None),
        suite=getattr(args, "suite", None),
    )


def _store_location(args: argparse.Namespace) -> str | None:
    """--store, else $VCCORE_STORE, else None (the home folder's vccore.db)."""
    return getattr(args, "store", None) or os.environ.get("VCCORE_STORE") or None


def _home(args: argparse.Namespace) -> Path:
    return args.home if args.home is not None else Path(os.environ.get("VCCORE_HOME") or ".vccore")


PASSPHRASE_ENV = "VCCORE_KEY_PASSPHRASE"


def _passphrase(path: Path, *, new: bool = False) -> str | None:
    """The passphrase of a key file: ``$VCCORE_KEY_PASSPHRASE``, or asked for on a terminal,
    never a command-line argument (those show in process lists and shell histories).
    """
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        return None
    import getpass

    value = getpass.getpass(f"passphrase for {path}: ")
    if new and getpass.getpass("the same passphrase again: ") != value:
        raise UnusableInputError("the passphrases differ")
    return value or None


def _load_key(path: Path) -> Ed25519Key:
    """A key file, asking for its passphrase only when it is encrypted."""
    try:
        return load_key(path)
    except VccoreError as exc:
        if exc.code != ErrorCode.KEY_PASSPHRASE_REQUIRED:
            raise
    passphrase = _passphrase(path)
    if passphrase is None:
        raise UnusableInputError(f"{path} is encrypted: set {PASSPHRASE_ENV} or run on a terminal to be asked")
    return load_key(path, passphrase=passphrase)


def _home_key(home: Path) -> Ed25519Key:
    """The issuing key in a working folder, made (did:key, mode 0600) on first use; encrypted
    when ``$VCCORE_KEY_PASSPHRASE`` is set.
    """
    path = home / "key.json"
    if path.exists():
        return _load_key(path)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519Key.generate()
    key.write(path, passphrase=os.environ.get(PASSPHRASE_ENV) or None)
    print(f"vccore: made a new issuing key {path} ({key.controller})", file=sys.stderr)
    return key

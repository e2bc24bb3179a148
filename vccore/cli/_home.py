"""The issuer's working folder: its key (and the key's passphrase), its store, the options naming them."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import datetime
from pathlib import Path

from ..codes import ErrorCode
from ..errors import LifecycleError, UnusableInputError, VccoreError
from ..issuer import Issuer
from ..key_files import load_key
from ..keys import Ed25519Key
from ..store import PlaceholderStatusUrlWarning, Store, is_placeholder, open_store
from ._common import TIME_FORMS, _entity_types, _parse_time

KEY_MADE_HELP = "the issuer's key file (default: key.json in the home folder, made there on first use)"
KEY_HELP = "the issuer's key file (default: key.json in the home folder, which certify made)"
CHANGE_NOW_HELP = f"the time of the change: {TIME_FORMS} (default: now)"


def _issuer_options(
    cmd: argparse.ArgumentParser, *, key_help: str | None = KEY_MADE_HELP, now_help: str | None = CHANGE_NOW_HELP
) -> None:
    """--home and --store; --key and --now with the command's own help (None: the command has none)."""
    cmd.add_argument("--home", type=Path, help="working folder: key and store (default: $VCCORE_HOME or .vccore)")
    cmd.add_argument(
        "--store",
        metavar="URL|FILE",
        help="the store: a postgresql:// URL or an SQLite file (default: $VCCORE_STORE, else vccore.db in the home folder)",
    )
    if key_help is not None:
        cmd.add_argument("--key", type=Path, help=key_help)
    if now_help is not None:
        cmd.add_argument("--now", help=now_help)


def _issuer(args: argparse.Namespace, *, make_key: bool = False, warn_placeholder: bool = False) -> Issuer:
    """The issuer of the working folder: its key and store (both made when ``make_key``: what
    certify does on first use). A store that picks a placeholder status URL now is warned of;
    one that holds one already, too when ``warn_placeholder`` (serve).
    """
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
    store = _open_store(
        location, status_url=getattr(args, "status_url", None) or os.environ.get(STATUS_URL_ENV) or None
    )
    if store.picked_status_url:
        _warn(
            f"no status URL given: the new store {store.location} publishes status lists under the placeholder "
            f"{store.status_url}, which nothing can fetch, and every credential certified names it in its signed "
            "credentialStatus, for good. Give the URL where you will publish the lists when the store is made: "
            f"--status-url URL or ${STATUS_URL_ENV}; to move this store: vccore status move URL (credentials "
            "certified before keep the placeholder until re-issued with vccore update)"
        )
    elif warn_placeholder and is_placeholder(store.status_url):
        _warn(
            f"the store {store.location} publishes status lists under the placeholder {store.status_url}, which "
            "nothing can fetch, and every credential certified names it in its signed credentialStatus. Choose "
            "the URL where they will be published: stop the server, run vccore status move URL, start it again"
        )
    return Issuer(
        signer=key,
        store=store,
        entity_types=_entity_types(getattr(args, "templates", [])),
        vc_version=getattr(args, "vc", None),
        suite=getattr(args, "suite", None),
    )


STATUS_URL_ENV = "VCCORE_STATUS_URL"
STATUS_URL_HELP = (
    f"base URL of the status lists, written into every credential (given when the store is made, else "
    f"${STATUS_URL_ENV}, else a placeholder nothing can fetch; to change it later: vccore status move URL)"
)


def _warn(text: str) -> None:
    print(f"vccore: warning: {text}", file=sys.stderr)


def _open_store(location: str, *, status_url: str | None = None, read_only: bool = False) -> Store:
    """open_store, its placeholder warning left to the caller, its refusal of another status URL
    said with the command line's options.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlaceholderStatusUrlWarning)
            return open_store(location, status_url=status_url, read_only=read_only)
    except LifecycleError as exc:
        stored, given = exc.details.get("stored_url"), exc.details.get("status_url")
        if stored is None or given is None:
            raise
        raise UnusableInputError(
            f"the store {location} publishes status lists under {stored}, not {given} (--status-url or "
            f"${STATUS_URL_ENV}): every credential certified names its list's URL in its signed credentialStatus. "
            f"To publish new lists under {given}: vccore status move {given}; credentials certified before keep "
            f"{stored} until re-issued with vccore update"
        ) from None


def _store(args: argparse.Namespace, *, read_only: bool = True) -> Store:
    """The working folder's store alone (no key): what reading commands and status move need."""
    location = _store_location(args)
    if location is None:
        home = _home(args)
        if not (home / "vccore.db").exists():
            raise UnusableInputError(f"no store in {home} (vccore.db): give --home of the issuer's folder, or --store")
        location = str(home / "vccore.db")
    return _open_store(location, read_only=read_only)


def _time_option(text: str | None, option: str) -> datetime | None:
    """A time option's value (see :func:`_parse_time`); None when not given."""
    return None if text is None else _parse_time(text, option)


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
    if not path.exists():
        raise UnusableInputError(
            f"--key: there is no key file {path}: make one with vccore keygen --out FOLDER (it writes "
            "FOLDER/key.json), or leave --key out to use the home folder's"
        )
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

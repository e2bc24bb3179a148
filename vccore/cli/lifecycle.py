"""``vccore revoke``, ``suspend``, ``unsuspend``, ``fetch`` and ``status export``: recorded certificates."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

from ..errors import LifecycleError, UnusableInputError
from ..issuer import fetch_chain
from ..store import checked_status_url
from ._common import EXIT_OK, TIME_FORMS
from ._home import _issuer, _issuer_options, _store, _time_option

_CHANGE_KEY = "the issuer's key file, which signs nothing here but names the store's issuer (default: key.json in the home folder)"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``revoke``, ``suspend``, ``unsuspend``, ``fetch`` and ``status``."""
    revoke_cmd = commands.add_parser("revoke", help="revoke a certificate for good")
    revoke_cmd.add_argument("certificate_id")
    revoke_cmd.add_argument("--reason")
    _issuer_options(revoke_cmd, key_help=_CHANGE_KEY)
    revoke_cmd.set_defaults(run=lambda a: _change(a, "revoke"))

    suspend_cmd = commands.add_parser("suspend", help="suspend a certificate (until a time, or until unsuspended)")
    suspend_cmd.add_argument("certificate_id")
    suspend_cmd.add_argument("--until", help=f"end of the suspension: {TIME_FORMS}; it lapses by itself")
    _issuer_options(suspend_cmd, key_help=_CHANGE_KEY)
    suspend_cmd.set_defaults(run=lambda a: _change(a, "suspend"))

    unsuspend_cmd = commands.add_parser("unsuspend", help="lift a suspension")
    unsuspend_cmd.add_argument("certificate_id")
    _issuer_options(unsuspend_cmd, key_help=_CHANGE_KEY)
    unsuspend_cmd.set_defaults(run=lambda a: _change(a, "unsuspend"))

    fetch_cmd = commands.add_parser(
        "fetch",
        help="a certificate (by certificate or transaction id): its current credential and chain (reads the store only; no key)",
        description="Print a certificate's current credential, its state and its chain of updates. It reads the "
        "store only: the issuer's key is not needed.",
    )
    fetch_cmd.add_argument("id")
    _issuer_options(fetch_cmd, key_help=None, now_help=None)
    fetch_cmd.set_defaults(run=_fetch)

    status_cmd = commands.add_parser("status", help="the status lists: export them, or move their URL")
    status_commands = status_cmd.add_subparsers(required=True, metavar="ACTION")
    status_export = status_commands.add_parser(
        "export", help="write the signed status list credentials and an index.json"
    )
    status_export.add_argument("directory", type=Path)
    status_export.add_argument(
        "--valid-for",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="how long verifiers may rely on this export (default 7)",
    )
    _issuer_options(
        status_export,
        key_help="the issuer's key file, which signs the lists (default: key.json in the home folder)",
        now_help=f"when the lists are signed (their validFrom): {TIME_FORMS} (default: now)",
    )
    status_export.set_defaults(run=_status_export)
    status_move = status_commands.add_parser(
        "move",
        help="publish the status lists under a new URL from now on; credentials issued before keep the old one "
        "(signed) until re-issued with vccore update, and export writes the lists under both",
    )
    status_move.add_argument("url", help="the new base URL of the status lists, such as https://issuer.example/status/")
    _issuer_options(status_move, key_help=None, now_help=None)
    status_move.set_defaults(run=_status_move)


def _change(args: argparse.Namespace, action: str) -> int:
    issuer = _issuer(args)
    now = _time_option(args.now, "--now")
    if action == "revoke":
        record = issuer.revoke(args.certificate_id, args.reason, now=now)
    elif action == "suspend":
        record = issuer.suspend(args.certificate_id, _time_option(args.until, "--until"), now=now)
    else:
        record = issuer.unsuspend(args.certificate_id, now=now)
    print(json.dumps(record.summary(), indent=2))
    return EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    chain = fetch_chain(_store(args), args.id)
    current = chain[-1]
    print(
        json.dumps(
            {
                "certificateId": current.certificate_id,
                "state": current.state,
                "credential": current.credential,
                "chain": [r.summary() for r in chain],
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    return EXIT_OK


def _status_export(args: argparse.Namespace) -> int:
    issuer = _issuer(args)
    issuer.status_valid_for = timedelta(days=args.valid_for)
    written = issuer.export_status(args.directory, now=_time_option(args.now, "--now"))
    print(f"vccore: wrote {len(written)} status list credentials and index.json to {args.directory}", file=sys.stderr)
    return EXIT_OK


def _status_move(args: argparse.Namespace) -> int:
    try:
        checked_status_url(args.url, "vccore status move")
    except LifecycleError as exc:
        raise UnusableInputError(exc.message) from None
    store = _store(args, read_only=False)
    before = store.status_url
    store.move_status_url(args.url)
    if store.status_url == before:
        print(f"the status lists of {store.location} are published under {before} already")
        return EXIT_OK
    earlier = ", ".join(store.earlier_status_urls)
    print(
        f"the status lists of {store.location} are published under {store.status_url} from now on: new credentials "
        f"name it. Credentials issued before name {earlier} in their signed credentialStatus: vccore status "
        "export writes every list under each URL, and vccore update re-issues a certificate under the new one. "
        "Export the lists again (vccore status export), and restart vccore serve if it runs"
    )
    return EXIT_OK

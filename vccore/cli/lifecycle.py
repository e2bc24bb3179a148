"""``vccore revoke``, ``suspend``, ``unsuspend``, ``fetch`` and ``status export``: recorded certificates."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

from ._common import EXIT_OK, _now, _parse_time
from ._home import _issuer, _issuer_options


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``revoke``, ``suspend``, ``unsuspend``, ``fetch`` and ``status``."""
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

    fetch_cmd = commands.add_parser(
        "fetch", help="a certificate (by certificate or transaction id): its current credential and chain"
    )
    fetch_cmd.add_argument("id")
    _issuer_options(fetch_cmd)
    fetch_cmd.set_defaults(run=_fetch)

    status_cmd = commands.add_parser("status", help="the status lists")
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
    _issuer_options(status_export)
    status_export.set_defaults(run=_status_export)


def _change(args: argparse.Namespace, action: str) -> int:
    issuer = _issuer(args)
    if action == "revoke":
        record = issuer.revoke(args.certificate_id, args.reason, now=_now(args))
    elif action == "suspend":
        until = _parse_time(args.until, "--until") if args.until else None
        record = issuer.suspend(args.certificate_id, until, now=_now(args))
    else:
        record = issuer.unsuspend(args.certificate_id, now=_now(args))
    print(json.dumps(record.summary(), indent=2))
    return EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    chain = _issuer(args).fetch(args.id)
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
    written = issuer.export_status(args.directory, now=_now(args))
    print(f"wrote {len(written)} status list credentials and index.json to {args.directory}")
    return EXIT_OK

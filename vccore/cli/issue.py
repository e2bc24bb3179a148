"""``vccore issue`` (one payload, or a batch), ``certify`` and ``update``: credentials from payloads."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from ..batch import BatchError, check_json_lines, issue_batch
from ..errors import UnusableInputError
from ..issuer import issue
from ..payloads import PayloadError
from . import _common
from ._common import (
    EXIT_OK,
    EXIT_REFUSED,
    TIME_FORMS,
    _add_templates_option,
    _check_output,
    _check_workers,
    _entity_types,
    _known_entity,
    _now,
    _parse_time,
    _read_json,
    _warn_entity,
    _write_json,
    signing_suites,
)
from ._home import STATUS_URL_HELP, _home, _home_key, _issuer, _issuer_options, _load_key


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``issue``, ``certify`` and ``update``."""
    issue_cmd = commands.add_parser(
        "issue",
        help="issue a credential from an entity type's payload; with --batch, a certificate for every line of a file",
    )
    issue_cmd.add_argument("entity", help="entity type (see: vccore entities)")
    issue_cmd.add_argument("payload", type=Path, nargs="?", help="the payload (JSON)")
    issue_cmd.add_argument(
        "--batch",
        type=Path,
        metavar="IN.jsonl",
        help="certify one payload per line, recording each in the home folder's store; needs -o; "
        "run again after an interruption to continue",
    )
    issue_cmd.add_argument(
        "--errors", type=Path, metavar="FILE", help="with --batch: rejected lines (default OUT.errors.jsonl)"
    )
    issue_cmd.add_argument("--workers", type=int, default=1, metavar="N", help="with --batch: processes (default 1)")
    issue_cmd.add_argument("--status-url", metavar="URL", help=f"with --batch: {STATUS_URL_HELP}")
    issue_cmd.add_argument(
        "--key", type=Path, help="key file (default: key.json in the home folder, made on first use)"
    )
    issue_cmd.add_argument("--home", type=Path, help="working folder (default: $VCCORE_HOME or .vccore)")
    issue_cmd.add_argument(
        "--store",
        metavar="URL|FILE",
        help="with --batch: the store: a postgresql:// URL or an SQLite file (default: $VCCORE_STORE, else vccore.db in the home folder)",
    )
    _version_and_suite(issue_cmd)
    issue_cmd.add_argument("--now", help=f"issuance time (the proof's created and $now): {TIME_FORMS} (default: now)")
    _add_templates_option(issue_cmd)
    issue_cmd.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    issue_cmd.set_defaults(run=_issue)

    for name, helptext in (
        ("certify", "issue a new certificate and record it"),
        ("update", "re-issue a certificate (the payload's certificateId) and supersede the old one"),
    ):
        cmd = commands.add_parser(name, help=helptext)
        cmd.add_argument("entity", help="entity type (see: vccore entities)")
        cmd.add_argument("payload", type=Path, help="the payload (JSON)")
        _issuer_options(cmd)
        _version_and_suite(cmd)
        _add_templates_option(cmd)
        cmd.add_argument("--status-url", metavar="URL", help=STATUS_URL_HELP)
        cmd.add_argument("-o", "--output", type=Path, help="write the credential here instead of standard output")
        cmd.add_argument(
            "--json", action="store_true", help="print {certificateId, transactionId, replaces, credential}"
        )
        cmd.set_defaults(run=_certify if name == "certify" else _update)


def _issue(args: argparse.Namespace) -> int:
    if args.batch is not None:
        return _issue_batch(args)
    if args.payload is None:
        raise UnusableInputError("issue needs a payload file (or --batch IN.jsonl -o OUT.jsonl)")
    payload = _read_json(args.payload)
    entity_types = _entity_types(args.templates)
    _known_entity(entity_types, args.entity)  # before a key is made in the home folder
    _check_output(args.output)
    _warn_entity(entity_types, args.entity)
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
    _write_json(credential, args.output, what=f"a {args.entity} credential")
    return EXIT_OK


def _issue_batch(args: argparse.Namespace) -> int:
    if args.payload is not None:
        raise UnusableInputError("give a payload file or --batch, not both")
    if args.output is None:
        raise UnusableInputError("--batch needs -o OUT.jsonl: where the credentials go (and where a re-run continues)")
    _check_workers(args.workers)
    entity_types = _entity_types(args.templates)
    _known_entity(entity_types, args.entity)
    _check_output(args.output)
    try:
        check_json_lines(args.batch)  # before a key or a store is made for a run that cannot start
    except BatchError as exc:
        raise UnusableInputError(exc.message) from None
    _warn_entity(entity_types, args.entity)
    make_issuer = functools.partial(_issuer, args, make_key=True)
    # The key and the store now, in this process: a problem stops the batch before it starts. The
    # store is closed again, so that the workers can be forked (no connection may cross a fork).
    make_issuer().store.close()
    try:
        with _common._settled_collector():
            report = issue_batch(
                make_issuer,
                args.entity,
                args.batch,
                args.output,
                errors=args.errors,
                workers=args.workers,
                now=_now(args),
                start_method=_common._start_method(),
            )
    except BatchError as exc:
        raise UnusableInputError(exc.message) from None
    errors = args.errors or args.output.with_name(args.output.stem + ".errors.jsonl")
    if report.resumed_at > report.lines:  # finished by an earlier run: this one wrote nothing
        written, resumed = "holds", " (complete already: nothing issued)"
    else:
        written = "wrote"
        resumed = f" (continued at line {report.resumed_at:,})" if report.resumed_at > 1 else ""
    print(
        f"vccore: {written} {report.done:,} credential{'s' * (report.done != 1)} in {args.output}, "
        f"{report.rejected:,} line{'s' * (report.rejected != 1)} rejected"
        f"{f' (see {errors})' if report.rejected else ''}{resumed}; {report.seconds:.1f} s",
        file=sys.stderr,
    )
    return EXIT_REFUSED if report.rejected else EXIT_OK


def _certify(args: argparse.Namespace) -> int:
    return _issue_recorded(args, lambda issuer, payload: issuer.certify(args.entity, payload, now=_now(args)))


def _update(args: argparse.Namespace) -> int:
    # updates a certificate certify recorded: in a folder without key and store, nothing is made
    return _issue_recorded(
        args, lambda issuer, payload: issuer.update(args.entity, payload, now=_now(args)), make_key=False
    )


def _issue_recorded(args: argparse.Namespace, action: Any, *, make_key: bool = True) -> int:
    payload = _read_json(args.payload)
    # before the issuer's folder is made (a key, a store that picks its status URL for good) and a
    # certificate is recorded: a mistyped entity type or an output with no folder changes nothing
    _known_entity(_entity_types(getattr(args, "templates", [])), args.entity)
    _check_output(args.output)
    issuer = _issuer(args, make_key=make_key)
    _warn_entity(issuer.entity_types, args.entity)
    try:
        certified = action(issuer, payload)
    except PayloadError as exc:
        _print_payload_problems(args, exc)
        return EXIT_REFUSED
    print(
        f"certificateId {certified.certificate_id}  transactionId {certified.transaction_id}"
        + (f"  replaces {certified.replaces}" if certified.replaces else ""),
        file=sys.stderr,
    )
    _write_json(
        certified.to_dict() if args.json else certified.credential,
        args.output,
        what=f"certificate {certified.certificate_id}" + (" with its ids" if args.json else ""),
    )
    return EXIT_OK


def _print_payload_problems(args: argparse.Namespace, exc: PayloadError) -> None:
    print(f"vccore: {exc.code}: {args.payload} is not a valid {args.entity} payload:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem.pointer or '/'}: {problem.reason}: {problem.detail}", file=sys.stderr)


def _version_and_suite(command: argparse.ArgumentParser) -> None:
    """--vc and --suite, whose defaults are the entity type's own."""
    command.add_argument(
        "--vc", choices=("2.0", "1.1"), help="VC data model version (default: the type's own, 2.0 when it has one)"
    )
    command.add_argument(
        "--suite",
        choices=signing_suites(),
        help="the proof suite (default: the type's own, eddsa-rdfc-2022 unless it says otherwise)",
    )

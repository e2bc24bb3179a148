"""``vccore verify``: a credential (a file, an image, QR text), or a batch of them."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from ..batch import BatchError, check_json_lines, verify_batch
from ..errors import UnusableInputError
from ..suites import SUITES
from . import _common
from ._common import (
    EXIT_OK,
    EXIT_REFUSED,
    _check_workers,
    _credential_bytes,
    _parse_time,
)
from ._verifying import add_verifier_options, problem_line, result_json, verifier_from


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``verify``."""
    verify_cmd = commands.add_parser("verify", help="verify a credential (exit 0 verified, 1 not, 2 unusable)")
    verify_cmd.add_argument("credential", type=Path, nargs="?")
    verify_cmd.add_argument(
        "--batch",
        type=Path,
        metavar="IN.jsonl",
        help="verify one credential per line; one JSON result per line (exit 0: all verified)",
    )
    verify_cmd.add_argument(
        "-o", "--output", type=Path, help="with --batch: write the results here instead of standard output"
    )
    verify_cmd.add_argument("--workers", type=int, default=1, metavar="N", help="with --batch: processes (default 1)")
    verify_cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    verify_cmd.add_argument(
        "--suite", action="append", choices=sorted(SUITES), help="accept only this suite (repeatable; default: all)"
    )
    verify_cmd.add_argument(
        "--issuer", action="append", metavar="ID", help="trust only credentials from this issuer (repeatable)"
    )
    add_verifier_options(verify_cmd)
    verify_cmd.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> int:
    if args.batch is not None:
        return _verify_batch(args)
    if args.credential is None:
        raise UnusableInputError("verify needs a credential file (or --batch IN.jsonl)")
    raw = _credential_bytes(args.credential)
    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise UnusableInputError(f"{args.credential} is not JSON: {exc}") from None
    verifier = verifier_from(args)
    # The text goes in whole: verify() reads it strictly (duplicate keys are a problem it reports).
    result = verifier.verify(raw, now=_parse_time(args.now, "--now") if args.now else None)
    if args.json:
        print(json.dumps(result_json(result, args), indent=2, ensure_ascii=False))
    elif result.verified:
        methods = ", ".join(p.verification_method or "?" for p in result.proofs if p.verified)
        print(f"verified ({methods})")
    else:
        print(f"not verified ({result.status})")
        for problem in result.problems:
            print(problem_line(problem, args))
    if not args.json:
        for warning in result.warnings:
            print(problem_line(warning, args, prefix="warning: "))
    return EXIT_OK if result.verified else EXIT_REFUSED


def _verify_batch(args: argparse.Namespace) -> int:
    if args.credential is not None:
        raise UnusableInputError("give a credential file or --batch, not both")
    _check_workers(args.workers)
    make_verifier = functools.partial(verifier_from, args)
    store = make_verifier().store  # its configuration's problems now, before any worker starts
    if store is not None:
        store.close()  # before the workers are forked, as in _issue_batch
    now = _parse_time(args.now, "--now") if args.now else None
    run = functools.partial(
        verify_batch, make_verifier, args.batch, workers=args.workers, now=now, start_method=_common._start_method()
    )
    try:
        check_json_lines(Path(args.batch))  # before the output is made
        with _common._settled_collector():
            if args.output is None:
                report = run(sys.stdout.buffer)
            else:
                with open(args.output, "wb") as output:
                    report = run(output)
    except BatchError as exc:
        raise UnusableInputError(exc.message) from None
    except OSError as exc:
        raise UnusableInputError(f"cannot write {args.output}: {exc.strerror}") from None
    print(
        f"vccore: {report.done:,} verified, {report.rejected:,} not verified; {report.seconds:.1f} s", file=sys.stderr
    )
    return EXIT_OK if report.rejected == 0 else EXIT_REFUSED

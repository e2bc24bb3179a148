"""What the commands that verify share (``verify``, ``render``, ``qr encode``): the verifier their
options make, the hints a command-line user reads under a problem, and the check before a
credential is printed for people.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from .. import _datetime
from ..codes import ErrorCode, ProblemCode
from ..errors import UnusableInputError, VccoreError
from ..results import Problem, VerificationResult
from ..store import RecordState, Store, open_store, record_of_credential
from ..suites import SUITES
from ..verify import Verifier
from ._common import HINTS, TIME_FORMS, _add_context_option, _add_templates_option, _contexts, _parse_time, _read_trust
from ._home import _store_location

# What a command-line user does about a problem, in the options of ``vccore verify`` (and of
# ``vccore render``, which takes the same): a problem's own ``hint`` names Python keywords.
# Looked up by the problem's reason first (UNKNOWN_CONTEXT is a PROOF_TRANSFORMATION_ERROR).
CLI_HINTS: Final[Mapping[str, str]] = {
    ErrorCode.UNKNOWN_CONTEXT: HINTS[ErrorCode.UNKNOWN_CONTEXT],
    ProblemCode.UNKNOWN_VERIFICATION_METHOD: (
        "if you trust this issuer, give --trust FILE (its DID document or verification method, as JSON)"
    ),
    ProblemCode.STATUS_NOT_CHECKED: (
        "to check it, give --status-dir DIR (the issuer's lists, written by vccore status export)"
    ),
    ProblemCode.STATUS_RETRIEVAL_ERROR: (
        "give --status-dir DIR holding this list (the issuer's lists, written by vccore status export)"
    ),
    ProblemCode.UNTRUSTED_ISSUER: "if you trust this issuer, add --issuer with its id",
    ProblemCode.UNSUPPORTED_SUITE: "to accept one of those suites, add --suite NAME",
    ProblemCode.SUPERSEDED: "give the issuer's --home or --store to name the credential that replaced it",
}


def cli_hint(problem: Problem, args: argparse.Namespace) -> str | None:
    """What a command-line user can do about ``problem``, naming this command's options (None: nothing)."""
    if problem.code == ProblemCode.UNSUPPORTED_SUITE and not getattr(args, "suite", None):
        return None  # every suite vccore has was accepted already
    if problem.code == ProblemCode.SUPERSEDED and "successor" in problem.data:
        return None
    if problem.reason is not None and problem.reason in CLI_HINTS:
        return CLI_HINTS[problem.reason]
    return CLI_HINTS.get(problem.code)


def problem_line(problem: Problem, args: argparse.Namespace, *, prefix: str = "") -> str:
    """A problem as the command line prints it: its code and detail, and what to do on the next line."""
    hint = cli_hint(problem, args)
    return f"  {prefix}{problem.code}: {problem.detail}" + (f"\n    {hint}" if hint else "")


def result_json(result: VerificationResult, args: argparse.Namespace) -> dict[str, Any]:
    """``result.to_dict()``, each problem and warning with its command-line ``hint`` when it has one."""
    out = result.to_dict()
    for key, problems in (("problems", result.problems), ("warnings", result.warnings)):
        out[key] = [
            {**item, "hint": hint} if (hint := cli_hint(problem, args)) else item
            for item, problem in zip(out[key], problems, strict=True)
        ]
    return out


def add_verifier_options(cmd: argparse.ArgumentParser) -> None:
    """The options that make a command's verifier (``verify``, ``render``, ``qr encode``): time,
    contexts, trust, status and the issuer's store.
    """
    cmd.add_argument("--now", help=f"verify as of this time: {TIME_FORMS} (default: now)")
    _add_templates_option(cmd, "know the contexts (and layouts) of these entity types")
    _add_context_option(cmd)
    cmd.add_argument(
        "--trust",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="trusted verification methods / DID documents (JSON)",
    )
    cmd.add_argument(
        "--status-dir",
        type=Path,
        metavar="DIR",
        help="status list credentials (from vccore status export): a revoked or suspended credential says so",
    )
    cmd.add_argument(
        "--home",
        type=Path,
        help="the issuer's working folder: its store names the state, and the successor of a superseded credential",
    )
    cmd.add_argument(
        "--store", metavar="URL|FILE", help="the issuer's store, read only (default: $VCCORE_STORE, else --home's)"
    )


def add_print_options(cmd: argparse.ArgumentParser) -> None:
    """The options of a command that prints a credential for people (``render``, ``qr encode``):
    those of its verification, and ``--unverified``.
    """
    add_verifier_options(cmd)
    cmd.add_argument(
        "--unverified",
        action="store_true",
        help="write it even when the credential does not verify, marked NOT VERIFIED",
    )


def printable(credential: Mapping[str, Any], args: argparse.Namespace, *, command: str) -> VerificationResult | None:
    """Verify a credential about to be printed for people (a page, a QR code), with the options of
    :func:`add_print_options`: its result, with what the issuer's store says of its state; or
    None, the problems printed, when it does not verify and ``--unverified`` was not given. One
    that verified but no longer holds (expired, revoked, suspended, superseded) is printed, and its
    page says so.
    """
    verifier = verifier_from(args)
    now = _parse_time(args.now, "--now") if args.now else None
    try:
        result = verifier.verify(credential, now=now)
        if verifier.store is not None and result.authentic:
            result = _with_store_state(result, credential, verifier.store, now or _datetime.now())
    finally:
        if verifier.store is not None:
            verifier.store.close()
    if result.authentic or args.unverified:
        return result
    print(f"vccore: {command}: {args.credential} does not verify, so nothing was written:", file=sys.stderr)
    for problem in result.problems:
        print(problem_line(problem, args), file=sys.stderr)
    print("  (--unverified writes it anyway; a printed page then says NOT VERIFIED)", file=sys.stderr)
    return None


def _with_store_state(
    result: VerificationResult, credential: Mapping[str, Any], store: Store, now: datetime
) -> VerificationResult:
    """The result, with the state the issuer's store records for this very credential (revoked,
    suspended, superseded) when its status lists did not already say so.
    """
    record = record_of_credential(store, credential)
    if record is None:
        return result  # not this store's credential: it says nothing of it
    state = record.effective_state(now)
    found: Problem | None = None
    if state is RecordState.REVOKED:
        found = Problem(ProblemCode.REVOKED, "the issuer has revoked this credential (its store says so)")
    elif state is RecordState.SUSPENDED:
        until = f" until {record.suspended_until}" if record.suspended_until else ""
        found = Problem(
            ProblemCode.SUSPENDED,
            f"the issuer has suspended this credential{until} (its store says so)",
            data={"until": record.suspended_until} if record.suspended_until else {},
        )
    elif state is RecordState.SUPERSEDED:
        successor = f" with certificate {record.replaced_by}" if record.replaced_by else ""
        found = Problem(
            ProblemCode.SUPERSEDED,
            f"the issuer has replaced this credential{successor} (its store says so)",
            data={"successor": record.replaced_by} if record.replaced_by else {},
        )
    if found is None or found.code in result.codes:
        return result
    return VerificationResult(False, (*result.problems, found), result.proofs, result.warnings)


def verifier_from(args: argparse.Namespace) -> Verifier:
    """The verifier that the options of :func:`add_verifier_options` (and verify's --suite, --issuer) make."""
    try:
        return Verifier.create(
            suites=getattr(args, "suite", None) or SUITES.keys(),
            contexts=_contexts(args.context, templates=args.templates),
            verification_methods=[m for path in args.trust for m in _read_trust(path)],
            trusted_issuers=getattr(args, "issuer", None) or None,
            status=args.status_dir,
            store=_verifier_store(args),
        )
    except VccoreError as exc:  # the verifier's own configuration, not the credential
        raise UnusableInputError(f"{exc.code}: {exc.message}") from None
    except ValueError as exc:  # an unreadable status folder
        raise UnusableInputError(str(exc)) from None


def _verifier_store(args: argparse.Namespace) -> Store | None:
    location = _store_location(args)
    if location is not None:
        return open_store(location, read_only=True)
    if args.home is not None and (args.home / "vccore.db").exists():
        return open_store(args.home / "vccore.db", read_only=True)
    return None

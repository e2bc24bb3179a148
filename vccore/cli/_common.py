"""What the commands share: exit statuses, unusable input, reading input files, times, writing JSON, batch workers."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import re
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from .. import _datetime, qr
from ..codes import ErrorCode
from ..contexts import ContextLoader, bundled_contexts
from ..entities import EntityType, bundled_entity_types, load_entity_types
from ..errors import UnusableInputError, VccoreError
from ..issuer import resolve_entity_type

# The one rule for every command (docs/cli.md, "Exit codes", lists the families of each):
EXIT_OK = 0
"""Done; for verify, verified."""
EXIT_REFUSED = 1
"""vccore ran and refused: not verified, a payload or document it will not sign, a change the
store's state refuses, a batch with rejected lines."""
EXIT_UNUSABLE = 2
"""The command could not run as asked: a bad option or argument, an unknown entity type, a file or
folder that is missing or cannot be read or written, input that is neither JSON nor a QR code."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C): 128 + SIGINT, what a tool stopped by the signal gives."""
EXIT_PIPE_CLOSED = 141
"""Standard output was closed before the command finished (``| head -1``): 128 + SIGPIPE, what a
tool killed by the signal gives."""

# The error codes that mean the command could not run as asked (exit 2); every other code of a
# VccoreError is a refusal (exit 1).
UNUSABLE_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.UNKNOWN_ENTITY_TYPE,
        ErrorCode.INVALID_ENTITY_TYPE,
        ErrorCode.UNSUPPORTED_SUITE,
        ErrorCode.QR_MALFORMED,
        ErrorCode.QR_TOO_LARGE,
        ErrorCode.QR_FORMAT_UNSUPPORTED,
        ErrorCode.QR_NOT_FOUND,
        ErrorCode.QR_READER_MISSING,
        ErrorCode.QR_IMAGE_TOO_LARGE,
        ErrorCode.QR_IMAGE_UNREADABLE,
        ErrorCode.INVALID_KEY,
        ErrorCode.KEY_PASSPHRASE_REQUIRED,
        ErrorCode.KEY_PASSPHRASE_WRONG,
        ErrorCode.INVALID_CONTEXT,
        ErrorCode.CONTEXT_DIGEST_MISMATCH,
        ErrorCode.STORE_ERROR,
        ErrorCode.BATCH_ERROR,
        ErrorCode.INVALID_ARGUMENT,
        ErrorCode.AUTH_CONFIG,
    }
)

# What a command-line user does about an error whose message is written for Python callers.
HINTS: dict[ErrorCode, str] = {
    ErrorCode.UNKNOWN_ENTITY_TYPE: "`vccore entities` lists the entity types; a folder of your own: --templates DIR",
    ErrorCode.UNSUPPORTED_SUITE: "leave --suite out (each type has its own default), or give one the type allows",
    ErrorCode.UNKNOWN_CONTEXT: "pin it with --context URL=FILE, or give --templates DIR of the entity type that pins it",
    ErrorCode.UNDEFINED_TERM: "define the term in one of the credential's contexts, or remove it",
    ErrorCode.UNKNOWN_CERTIFICATE: "check the id, and --home or --store: the issuer's folder that recorded it",
    ErrorCode.KEY_PASSPHRASE_WRONG: "check $VCCORE_KEY_PASSPHRASE (or the passphrase typed)",
    ErrorCode.STORE_ERROR: "check --store, --home and $VCCORE_STORE: they name the issuer's store",
    ErrorCode.QR_NOT_FOUND: "give a sharper image with the whole code in view, or the credential's JSON",
    ErrorCode.MISSING_CERTIFICATE_ID: "add certificateId to the payload: the certificate to replace",
}

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")
_QR_TEXT = ("VC", "HC1:", "shc:/")
_READABLE = "a credential (JSON), QR text (VC1:..., DIVOC's ZIP) or a QR image (PNG, JPEG, GIF, BMP, WebP)"


def exit_status(code: ErrorCode | None) -> int:
    """The exit status of a command that stopped on an error with this code (None: unusable input)."""
    return EXIT_UNUSABLE if code is None or code in UNUSABLE_CODES else EXIT_REFUSED


def _credential_bytes(path: Path) -> bytes:
    """A credential file's JSON: the file itself, or the credential in the QR code of an image
    (PNG, JPEG, GIF, BMP, WebP), or in QR text (``VC1:...``, DIVOC's ZIP text). Anything else,
    and a QR that holds no credential, is unusable input naming the file.
    """
    raw = _read_bytes(path)
    if raw.startswith(_IMAGE_MAGIC):
        return _decode_qr(path, _read_qr_image(path)).text.encode("utf-8")
    if raw.lstrip()[:1] in (b"{", b"["):
        return raw
    if qr.is_svg(raw[:1024]):
        raise UnusableInputError(_svg_refusal(path), code=ErrorCode.QR_IMAGE_UNREADABLE)
    if raw.startswith(b"PK\x03\x04"):  # a DIVOC QR's ZIP, as bytes
        return _decode_qr(path, raw.decode("latin-1")).text.encode("utf-8")
    # a text file's last line end is not part of the QR (a space is: base45 has one)
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        return qr.decode_text(text).text.encode("utf-8")
    except qr.QRError as exc:
        if text.startswith(_QR_TEXT) or exc.details.get("format") == "URL":
            raise UnusableInputError(f"{exc.code}: {path}: {exc.message}", code=exc.code) from None
        raise UnusableInputError(
            f"{exc.code}: {path} is neither JSON nor QR text nor a QR image: give {_READABLE}", code=exc.code
        ) from None


def _decode_qr(source: Path | str, text: str) -> qr.Decoded:
    """The credential in a QR's text; unusable input saying what the QR holds instead."""
    try:
        return qr.decode_text(text)
    except qr.QRError as exc:
        raise UnusableInputError(f"{exc.code}: {source}: {exc.message}", code=exc.code) from None


def _read_qr_image(path: Path) -> str:
    """The QR text in an image; a QR image that cannot be read (an SVG, too large, broken, no QR
    code in it) is unusable input.
    """
    try:
        with path.open("rb") as file:
            head = file.read(1024)
    except OSError:
        head = b""  # qr.read_image says why, with its code
    if qr.is_svg(head):
        raise UnusableInputError(_svg_refusal(path), code=ErrorCode.QR_IMAGE_UNREADABLE)
    try:
        return qr.read_image(path)
    except qr.QRError as exc:
        hint = f": {HINTS[exc.code]}" if exc.code in HINTS else ""
        raise UnusableInputError(f"{exc.code}: {exc.message}{hint}", code=exc.code) from None


def _svg_refusal(path: Path) -> str:
    return (
        f"{ErrorCode.QR_IMAGE_UNREADABLE}: {path} is an SVG image, which vccore cannot read (it has no SVG "
        f"renderer): give a PNG, such as `vccore qr encode CRED.json -o qr.png` writes, or the credential's JSON"
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnusableInputError(f"cannot read {path}: {exc.strerror}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_bytes(path))
    except (ValueError, RecursionError) as exc:
        raise UnusableInputError(f"{path} is not JSON: {exc}") from None


def _read_trust(path: Path) -> list[Any]:
    """A trust file: one DID document or verification method, a list of them, or
    ``{"verificationMethods": [...], "didDocuments": [...]}``.
    """
    data = _read_json(path)
    if isinstance(data, dict) and ("verificationMethods" in data or "didDocuments" in data):
        methods, documents = data.get("verificationMethods", []), data.get("didDocuments", [])
        items = [*methods, *documents] if isinstance(methods, list) and isinstance(documents, list) else None
    elif isinstance(data, dict):  # one DID document (a did.json) or one verification method
        items = [data]
    else:
        items = data if isinstance(data, list) else None
    if items is None or not all(isinstance(item, dict) for item in items):
        raise UnusableInputError(
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
            raise UnusableInputError(f"--context takes URL=FILE, not {pin!r}")
        extra[url] = _read_bytes(Path(file))
    try:
        return loader.with_contexts(extra)
    except VccoreError as exc:
        raise UnusableInputError(f"--context: {exc.code}: {exc.message}") from None


def _entity_types(directories: list[Path]) -> Mapping[str, EntityType]:
    if not directories:
        return bundled_entity_types()
    try:
        return load_entity_types(*directories)
    except VccoreError as exc:
        raise UnusableInputError(f"--templates: {exc.code}: {exc.message}", code=exc.code) from None


def _known_entity(entity_types: Mapping[str, EntityType], name: str) -> EntityType:
    """The entity type ``name`` (or an alias of it), checked before anything is made or signed;
    unusable input naming the types there are when there is none such.
    """
    try:
        return resolve_entity_type(name, entity_types)
    except VccoreError as exc:
        raise UnusableInputError(f"{exc.code}: {exc.message}: {HINTS[ErrorCode.UNKNOWN_ENTITY_TYPE]}") from None


def _check_output(output: Path | None) -> None:
    """Refuse an output file whose folder is not there before the work that fills it is done: a
    certify must not record a certificate whose credential then has nowhere to go.
    """
    if output is not None and not output.parent.is_dir():
        raise UnusableInputError(
            f"cannot write {output}: the folder {output.parent} does not exist: make it, or give another path"
        )


def _warn_entity(entity_types: Mapping[str, EntityType], name: str) -> None:
    """Say on standard error what the entity type ``name`` warned of when it loaded."""
    entity = entity_types.get(name)
    for warning in entity.warnings if entity is not None else ():
        print(f"vccore: warning: {warning}", file=sys.stderr)


def signing_suites() -> list[str]:
    """The suites a command may sign with: vccore's keys are Ed25519 (an RSA key signs only in
    Python or through the Sunbird signer drop-in's config.json).
    """
    from ..suites import SUITES

    return sorted(name for name, suite in SUITES.items() if suite.sign is not None and suite.algorithm == "Ed25519")


def _add_context_option(command: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--context URL=FILE``, repeatable: a context pinned beyond the bundled ones."""
    command.add_argument(
        "--context", action="append", default=[], metavar="URL=FILE", help="pin an extra context (repeatable)"
    )


def _add_templates_option(command: argparse.ArgumentParser, helptext: str = "more entity types") -> None:
    """``--templates DIR [DIR ...]``, which may also be repeated."""
    command.add_argument(
        "--templates",
        action="extend",
        nargs="+",
        default=[],
        type=Path,
        metavar="DIR",
        help=f"{helptext}: a folder holding entity.json, or folders that each hold one (one or more; repeatable)",
    )


def _parse_time(text: str, option: str) -> datetime:
    """A time option's value: an ISO 8601 date-time with a zone, or a date, meaning its 00:00:00Z
    (what the HTTP API's endDate takes too).
    """
    if _DATE.fullmatch(text):
        try:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        except ValueError:
            raise UnusableInputError(f"{option}: {text} is not a date of the calendar") from None
    try:
        moment = _datetime.parse(text)
        moment.astimezone(UTC)  # what is stored and signed: 9999-12-31T23:59:59-01:00 is no year in UTC
    except ValueError:
        raise UnusableInputError(
            f"{option}: {json.dumps(text)} is neither a date (2027-01-01, meaning its 00:00:00Z) nor a date-time "
            "with a zone (2027-01-01T09:30:00Z, 2027-01-01T15:00:00+05:30)"
        ) from None
    except OverflowError:
        raise UnusableInputError(f"{option}: {json.dumps(text)} is outside the years 1 to 9999 in UTC") from None
    return moment


TIME_FORMS = "an ISO 8601 date-time with a zone, or a date (its 00:00:00Z)"
_DATE = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)


def _now(args: argparse.Namespace) -> datetime | None:
    return _parse_time(args.now, "--now") if args.now else None


def _write_json(data: Any, output: Path | None, *, what: str = "") -> None:
    """``data`` as indented JSON on standard output, or into ``output`` (said on standard error)."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        _write_text(output, text, what=what)


def _write_text(output: Path, text: str, *, what: str = "") -> None:
    """Write ``text`` into ``output`` and say so on standard error; unusable input when it cannot."""
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UnusableInputError(_cannot_write(output, exc)) from None
    print(f"vccore: wrote {output}{f' ({what})' if what else ''}", file=sys.stderr)


def _cannot_write(output: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) and not output.parent.is_dir():
        return f"cannot write {output}: the folder {output.parent} does not exist: make it, or give another path"
    return f"cannot write {output}: {exc.strerror or exc}: give a path vccore may write"


def _check_workers(workers: int) -> None:
    if not 1 <= workers <= 256:
        raise UnusableInputError(f"--workers takes 1 to 256, not {workers}")


# The batch commands call it as ``_common._start_method()``, so that a test may replace it here.
def _start_method() -> str:
    """Batch workers are forked on Linux when this process runs no other thread (the command line
    closes its store before the batch starts), else spawned (macOS's system libraries are not
    fork-safe): a forked worker starts without importing vccore again.
    """
    return "fork" if sys.platform.startswith("linux") and threading.active_count() == 1 else "spawn"


@contextlib.contextmanager
def _settled_collector() -> Iterator[None]:
    """Around a batch: what this process has built (its modules, its entity types) outlives the
    batch, so the collector's full passes need not walk it again (``gc.freeze``), and the young
    objects are collected every 10,000 allocations, not 700. A 20,000-line ``issue --batch``
    spent 125 ms of its 3.0 s in the collector, 35 ms so. Forked workers inherit both. After the
    batch the collector is as it was (for a caller that runs the command line in its process).
    """
    thresholds = gc.get_threshold()
    caller_froze = gc.get_freeze_count() > 0
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not caller_froze:  # unfreezing is all or nothing: a caller's own freeze stays
            gc.unfreeze()

"""What the commands share: exit statuses, unusable input, reading input files, times, writing JSON, batch workers."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import _datetime, qr
from ..codes import ErrorCode
from ..contexts import ContextLoader, bundled_contexts
from ..entities import EntityType, bundled_entity_types, load_entity_types
from ..errors import UnusableInputError, VccoreError

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")


def _credential_bytes(path: Path) -> bytes:
    """A credential file's JSON: the file itself, or the credential in the QR code of an image
    (PNG, JPEG, GIF, BMP, WebP), or in QR text (``VC1:...``, DIVOC's ZIP text).
    """
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
        if exc.code in (ErrorCode.QR_IMAGE_TOO_LARGE, ErrorCode.QR_IMAGE_UNREADABLE):
            raise UnusableInputError(f"{exc.code}: {exc.message}") from None
        raise


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
        raise UnusableInputError(f"{exc.code}: {exc.message}") from None


def _parse_time(text: str, option: str) -> datetime:
    try:
        moment = _datetime.parse(text)
        moment.astimezone(UTC)  # what is stored and signed: 9999-12-31T23:59:59-01:00 is no year in UTC
    except ValueError as exc:
        raise UnusableInputError(f"{option}: {exc}") from None
    except OverflowError:
        raise UnusableInputError(f"{option}: {text!r} is outside the years 1 to 9999 in UTC") from None
    return moment


def _now(args: argparse.Namespace) -> datetime | None:
    return _parse_time(args.now, "--now") if args.now else None


def _write_json(data: Any, output: Path | None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


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

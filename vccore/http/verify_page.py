"""The verifier's page (``GET /verify``, linked from ``/``): a person at a counter photographs a
certificate's QR code with a phone, or pastes its text, and reads whether it still stands.

The photo goes to the server in a plain form post (``<input type="file" capture>``: no script
needed, none fetched); the server reads its QR code with zxing-cpp, as ``vccore verify IMAGE``
does, within the QR reader's bounds (and a bound on the upload), and verifies the credential
with the server's own verifier: status from the server's own lists, in process; other issuers
as the server's trust settings say. The answer is a page: the verdict first (VALID, SUPERSEDED,
REVOKED, SUSPENDED, EXPIRED, NOT YET VALID, NOT GENUINE), the reason in words, then the holder's
details as the entity type's certificate layout names them. With script, the same post is made
with fetch and the outcome shown without a reload.

A photo is never stored: it is read from memory (an anonymous in-memory file where the system
has one), and dropped with the request. Nothing is logged but the outcome's code.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import traceback
from collections.abc import Mapping
from datetime import UTC
from email.message import Message
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .. import _datetime, qr
from ..codes import CredentialStatus, ErrorCode, ProblemCode
from ..errors import QRError, RenderError, VccoreError, VerifyPageInputError
from ..render import entity_type_of, value_at
from ..results import VerificationResult
from ..store import Record, record_of_credential
from ._service import Handlers, Service
from ._status_cache import ascii_digits
from ._verify_html import Outcome, home_page, page, security_headers
from ._verify_words import ENGLISH, check_words

__all__ = ["MAX_PHOTO_BYTES", "VerifyPage", "openapi_paths", "read_photo"]

MAX_PHOTO_BYTES: Final = 20 << 20
"""The largest post the page takes (20 MiB): a phone's photo, even at 50 megapixels, as a JPEG.
Its pixels are bounded again, before they are decoded, by the QR reader's own limits
(:data:`vccore.qr.MAX_IMAGE_MEMORY`)."""
DECODING_AT_ONCE: Final = 2
"""Photos decoded at the same time: each may take up to MAX_IMAGE_MEMORY bytes while it is read."""
_MAX_PARTS: Final = 8

_log: Final = logging.getLogger("vccore.http.verify")

# What the status problems leave to find in the issuer's record: the dates of a change.
_DATED: Final = frozenset((ProblemCode.REVOKED, ProblemCode.SUPERSEDED, ProblemCode.SUSPENDED))


class VerifyPage(Handlers):
    """The routes ``GET /`` (the front page), ``GET /verify`` (the form) and ``POST /verify``
    (the outcome), over the server's verifier and store. ``words``: the page's words, every key
    of :data:`vccore.http._verify_words.ENGLISH` (the default), to serve the page in another
    language.
    """

    def __init__(self, service: Service, *, words: Mapping[str, str] = ENGLISH) -> None:
        super().__init__(service)
        self.words = check_words(words)
        self._decoding = threading.BoundedSemaphore(DECODING_AT_ONCE)

    def routes(self) -> list[Route]:
        """The page's routes."""
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/verify", self.form, methods=["GET"]),
            Route("/verify", self.verify, methods=["POST"]),
        ]

    async def home(self, request: Request) -> Response:
        """``GET /``: what the server is, and the way to the verifier's page."""
        return HTMLResponse(home_page(self.words, "/verify", "/openapi.json"), headers=security_headers())

    async def form(self, request: Request) -> Response:
        """``GET /verify``: the form."""
        return HTMLResponse(page(self.words, "/verify"), headers=security_headers())

    async def verify(self, request: Request) -> Response:
        """``POST /verify``: a photo (field ``photo``) or text (field ``text``) checked; the
        outcome as a page. A photo if one was chosen, else the text.
        """
        try:
            fields = await _read_form(request)
            outcome = await run_in_threadpool(self._check, fields)
        except VerifyPageInputError as unread:
            outcome = self._unread(unread)
            _log.info("verify page: %s", outcome.code)
        except ClientDisconnect:
            raise
        except Exception as exc:  # noqa: BLE001 (the person at the counter gets a page; the log where it failed)
            # Not the traceback's message: it may quote the credential. Its kind and place only.
            place = traceback.extract_tb(exc.__traceback__)[-1]
            _log.error(
                "verify page: %s (%s at %s:%s)",
                ErrorCode.VCCORE_ERROR,
                type(exc).__name__,
                Path(place.filename).name,
                place.lineno,
            )
            outcome = self._unread(VerifyPageInputError("input.failed", ErrorCode.VCCORE_ERROR, 500))
        else:
            _log.info("verify page: %s", outcome.code)  # the outcome's code only: never who, never what
        fragment = request.headers.get("x-vccore-fragment")
        level = 2 if fragment == "2" else 1
        return HTMLResponse(
            page(self.words, "/verify", outcome, level=level), status_code=outcome.status, headers=security_headers()
        )

    # --- the check ----------------------------------------------------------------------------

    def _check(self, fields: Mapping[str, bytes]) -> Outcome:
        photo, text = fields.get("photo", b""), fields.get("text", b"")
        if photo:
            with self._decoding:
                payload = read_photo(photo)
        elif text.strip():
            try:
                payload = text.decode("utf-8").strip("\r\n")
            except UnicodeDecodeError:
                raise VerifyPageInputError("input.not_credential", ErrorCode.QR_MALFORMED, 422) from None
            if payload.lstrip().startswith(("VC1:", "HC1:", "shc:/")):
                payload = payload.lstrip()
        else:
            raise VerifyPageInputError("input.empty", ErrorCode.MALFORMED_REQUEST, 400)
        try:
            decoded = qr.decode_text(payload)
        except QRError as exc:
            raise _qr_refusal(exc) from None
        # the text as it was put in, read strictly (as `vccore verify` reads it)
        result = self.verifier.verify(decoded.text)
        return self._outcome(result, decoded.credential)

    def _outcome(self, result: VerificationResult, credential: Mapping[str, Any]) -> Outcome:
        words, status = self.words, result.status
        if not result.authentic:
            return Outcome(
                CredentialStatus.INVALID,
                _invalid_reason(words, result),
                CredentialStatus.INVALID,
                note=words["details.withheld"],
            )
        record = record_of_credential(self.store, credential) if set(result.codes) & _DATED else None
        return Outcome(
            status,
            _reason(words, status, result, credential, record),
            status,
            holder=self._holder(credential),
            certificate=self._certificate(credential),
        )

    def _holder(self, credential: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The holder's details as the entity type's certificate layout names them; without a
        layout, the subject's own plain values by their names.
        """
        try:
            spec = entity_type_of(credential, self.issuer.entity_types).certificate
        except RenderError:
            spec = None
        if spec is not None:
            rows = [(label, _readable(value_at(credential, path))) for label, path in spec.fields]
            return [(label, value) for label, value in rows if value]
        subject = credential.get("credentialSubject")
        subject = subject[0] if isinstance(subject, list) and subject else subject
        if not isinstance(subject, Mapping):
            return []
        return [(str(k), value_at(subject, str(k))) for k in subject if value_at(subject, str(k))][:20]

    def _certificate(self, credential: Mapping[str, Any]) -> list[tuple[str, str]]:
        words = self.words
        try:
            spec = entity_type_of(credential, self.issuer.entity_types).certificate
        except RenderError:
            spec = None
        issuer = value_at(credential, "issuer.id|issuer")
        name = value_at(credential, "issuer.name")
        rows = [
            (words["details.kind"], spec.title if spec is not None else ""),
            (words["details.number"], value_at(credential, "evidence.certificateId|evidence.0.certificateId")),
            (words["details.issuer"], f"{name} ({issuer})" if name and issuer else name or issuer),
            (words["details.issued"], _date(value_at(credential, "issuanceDate"))),
            (words["details.valid_from"], _date(value_at(credential, "validFrom"))),
            (words["details.valid_until"], _date(value_at(credential, "validUntil|expirationDate"))),
        ]
        return [(label, value) for label, value in rows if value]

    def _unread(self, unread: VerifyPageInputError) -> Outcome:
        fill = {key: _cut(value) for key, value in unread.fill.items()}
        return Outcome("UNREAD", self.words[unread.key].format(**fill), unread.code, unread.status)


def _reason(
    words: Mapping[str, str],
    status: CredentialStatus,
    result: VerificationResult,
    credential: Mapping[str, Any],
    record: Record | None,
) -> str:
    """Why the verdict is what it is, in the page's words, with the date and successor it names."""
    data: dict[str, str] = {}
    for problem in result.problems:
        if problem.code.value == status.value:
            data = dict(problem.data)
            break
    key = f"reason.{status}"
    if status is CredentialStatus.SUPERSEDED:
        successor = data.get("successor") or (record.replaced_by if record is not None else None)
        date = _date(record.updated_at) if record is not None else ""
        if not successor:
            return words["reason.SUPERSEDED.unnamed"]
        return words[key if date else key + ".undated"].format(successor=_cut(successor), date=date)
    date = ""
    if status is CredentialStatus.REVOKED and record is not None:
        date = _date(record.updated_at)
    elif status is CredentialStatus.SUSPENDED:
        date = _date(data.get("until") or (record.suspended_until if record is not None else None) or "")
    elif status is CredentialStatus.EXPIRED:
        date = _date(value_at(credential, "validUntil|expirationDate"))
    elif status is CredentialStatus.NOT_YET_VALID:
        date = _date(value_at(credential, "validFrom|issuanceDate"))
    if status is CredentialStatus.VALID:
        return words[key]
    return words[key if date else key + ".undated"].format(date=date)


# The problems of a certificate that is not genuine that the page words on their own.
_SAID: Final = frozenset(
    (
        ProblemCode.PROOF_VERIFICATION_ERROR,
        ProblemCode.UNTRUSTED_ISSUER,
        ProblemCode.UNKNOWN_VERIFICATION_METHOD,
        ProblemCode.UNSUPPORTED_SUITE,
        ProblemCode.STATUS_RETRIEVAL_ERROR,
        ProblemCode.PROOF_EXPIRED,
    )
)


def _invalid_reason(words: Mapping[str, str], result: VerificationResult) -> str:
    """The first problem the page has words of its own for, else the general words."""
    for problem in result.problems:
        if problem.code in _SAID:
            return words[f"reason.{problem.code}"]
    return words["reason.INVALID"]


def _date(text: str) -> str:
    """A date or date-time as the page shows it: ``2027-01-01``, or ``2027-01-01 14:30 UTC`` when
    the time of day is not midnight; the text as it is when it is not a date-time.
    """
    if not text:
        return ""
    try:
        moment = _datetime.parse(text, require_zone=False)
    except (ValueError, VccoreError):
        return _cut(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _readable(text: str) -> str:
    """A value of the holder's details: a date-time with a zone as :func:`_date` shows it, any
    other text as it is.
    """
    try:
        _datetime.parse(text)
    except (ValueError, VccoreError):
        return text
    return _date(text)


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _qr_refusal(exc: QRError) -> VerifyPageInputError:
    """What the page says for a QR that holds no credential it reads."""
    kind = exc.details.get("format")
    if exc.code == ErrorCode.QR_FORMAT_UNSUPPORTED and kind == "URL":
        return VerifyPageInputError("input.url", exc.code, 422, url=str(exc.details.get("url", "")))
    if exc.code == ErrorCode.QR_FORMAT_UNSUPPORTED and kind == "HC1":
        return VerifyPageInputError("input.hc1", exc.code, 422)
    if exc.code == ErrorCode.QR_FORMAT_UNSUPPORTED and kind == "SHC":
        return VerifyPageInputError("input.shc", exc.code, 422)
    return VerifyPageInputError("input.not_credential", exc.code, 422)


def openapi_paths() -> dict[str, Any]:
    """The page's routes in the OpenAPI document: HTML for people, no token needed."""
    html = {"text/html": {"schema": {"type": "string"}}}
    answer = {"description": "The outcome page: the verdict first, then the holder's details", "content": html}
    unread = {"description": "Nothing checked (no photo or text, no QR code, not a credential)", "content": html}
    text = {"type": "string", "description": "the QR code's text, or the credential's JSON"}
    photo = {"type": "string", "contentMediaType": "image/*", "description": "a photo of the QR code"}
    form = {"type": "object", "properties": {"photo": photo, "text": text}}
    return {
        "/": {"get": {"summary": "The front page", "responses": {"200": {"description": "HTML", "content": html}}}},
        "/verify": {
            "get": {
                "summary": "The verifier's page: a form for a photo of a QR code, or its text",
                "responses": {"200": {"description": "HTML", "content": html}},
            },
            "post": {
                "summary": "Verify the credential in a photo's QR code (or in text), answered as a page",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {"schema": form},
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"text": text}}
                        },
                    },
                },
                "responses": {
                    "200": answer,
                    "400": unread,
                    "413": {"description": f"The post is over {MAX_PHOTO_BYTES} bytes", "content": html},
                    "415": unread,
                    "422": unread,
                    "503": {"description": "The server has no QR reader", "content": html},
                },
            },
        },
    }


# --- the photo ------------------------------------------------------------------------------------


def read_photo(data: bytes) -> str:
    """The text of the QR code in a photo's bytes (the first one zxing-cpp finds: one result per
    photo), within :data:`MAX_PHOTO_BYTES` and the QR reader's bounds on pixels, checked on the
    image's header before it is decoded. The bytes are read from an anonymous in-memory file
    (Linux's memfd) where the system has one, else from a private temporary folder removed at
    once: never kept.
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise _too_large()
    try:
        if hasattr(os, "memfd_create"):
            descriptor = os.memfd_create("vccore-photo", os.MFD_CLOEXEC)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(descriptor, view) :]
                return qr.read_image(f"/proc/self/fd/{descriptor}")
            finally:
                os.close(descriptor)
        with tempfile.TemporaryDirectory(prefix="vccore-photo-") as folder:
            path = Path(folder) / "photo"
            path.write_bytes(data)
            return qr.read_image(path)
    except QRError as exc:
        raise _photo_refusal(exc) from None


def _too_large() -> VerifyPageInputError:
    return VerifyPageInputError(
        "input.too_large", ErrorCode.QR_IMAGE_TOO_LARGE, 413, limit=f"{MAX_PHOTO_BYTES >> 20} MB"
    )


def _photo_refusal(exc: QRError) -> VerifyPageInputError:
    if exc.code == ErrorCode.QR_NOT_FOUND:
        return VerifyPageInputError("input.no_qr", exc.code, 422)
    if exc.code == ErrorCode.QR_IMAGE_TOO_LARGE:
        return _too_large()
    if exc.code == ErrorCode.QR_READER_MISSING:
        return VerifyPageInputError("input.no_reader", exc.code, 503)
    return VerifyPageInputError("input.unreadable", exc.code, 422)


# --- the form -------------------------------------------------------------------------------------


async def _read_form(request: Request) -> dict[str, bytes]:
    """The form's fields (``photo``, ``text``) from a multipart/form-data or urlencoded body of
    at most :data:`MAX_PHOTO_BYTES`, read as it streams in (python-multipart is not needed).
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not ascii_digits(declared, 20) or int(declared) > MAX_PHOTO_BYTES):
        raise (
            _too_large()
            if ascii_digits(declared, 20)
            else VerifyPageInputError("input.malformed", ErrorCode.MALFORMED_REQUEST, 400)
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_PHOTO_BYTES:
            raise _too_large()
    media = request.headers.get("content-type", "")
    if media.lower().startswith("application/x-www-form-urlencoded"):
        try:
            found = parse_qs(body.decode("ascii"), max_num_fields=_MAX_PARTS)
        except (UnicodeDecodeError, ValueError):
            raise VerifyPageInputError("input.malformed", ErrorCode.MALFORMED_REQUEST, 400) from None
        return {name: values[0].encode("utf-8") for name, values in found.items() if name in ("text",)}
    if not media.lower().startswith("multipart/form-data"):
        raise VerifyPageInputError("input.malformed", ErrorCode.MALFORMED_REQUEST, 415)
    return parse_multipart(bytes(body), media)


def parse_multipart(body: bytes, media: str) -> dict[str, bytes]:
    """The named parts of a multipart/form-data body (RFC 7578), the first of each name, at most
    a few parts; an :class:`VerifyPageInputError` for a body that is not one.
    """
    header = Message()
    header["content-type"] = media
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 70:
        raise VerifyPageInputError("input.malformed", ErrorCode.MALFORMED_REQUEST, 400)
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    at = body.find(delimiter)
    if at < 0:
        raise VerifyPageInputError("input.malformed", ErrorCode.MALFORMED_REQUEST, 400)
    at += len(delimiter)
    fields: dict[str, bytes] = {}
    for _ in range(_MAX_PARTS):
        if body[at : at + 2] == b"--":
            return fields
        if body[at : at + 2] != b"\r\n":
            break
        end = body.find(b"\r\n" + delimiter, at + 2)
        head, found, content = body[at + 2 : max(end, at + 2)].partition(b"\r\n\r\n")
        if end < 0 or not found:
            break
        part = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon and key.strip().lower() == "content-disposition":
                part["content-disposition"] = value.strip()
        field = part.get_param("name", header="content-disposition")
        if isinstance(field, str) and field not in fields:
            fields[field] = content
        at = end + 2 + len(delimiter)
    raise VerifyPageInputError("input.malformed", ErrorCode.MALFORMED_REQUEST, 400)

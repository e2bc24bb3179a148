"""The API's answers: problem details (RFC 9457) and the refusals that become them, media types and their negotiation, DIVOC's verify answer."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._cache import Cache
from ..codes import CredentialStatus, ErrorCode, ProblemCode
from ..errors import ApiError, AuthError, VccoreError
from ..results import VerificationResult
from ..store import Record, RecordSummary

__all__ = [
    "CREDENTIAL_TYPES",
    "STATUS_FOR",
    "ApiError",
    "DivocVerifyAnswers",
    "divoc_verify_answer",
    "drop_in_app",
    "drop_in_refusal",
    "negotiate",
    "problem",
    "summary",
]

CREDENTIAL_TYPES: Final = ("application/vc+ld+json", "application/vc", "application/ld+json", "application/json")
STATUS_FOR: Final = {
    ErrorCode.UNKNOWN_ENTITY_TYPE: 404,
    ErrorCode.UNKNOWN_CERTIFICATE: 404,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.DUPLICATE_CERTIFICATE_ID: 409,
    ErrorCode.INVALID_PAYLOAD: 422,
    ErrorCode.STORE_ERROR: 503,
}


def problem(
    status: int, error: VccoreError | ErrorCode | CredentialStatus, detail: str | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem details answer; ``error`` a VccoreError, or a code with ``detail`` (an
    error code, or the status word of a credential that does not verify).
    """
    if isinstance(error, VccoreError):
        body = {
            "type": f"https://vccore.dev/problems#{error.code}",
            "title": error.code,
            "status": status,
            **error.to_dict(),
            **extra,
        }
    else:
        body = {
            "type": f"https://vccore.dev/problems#{error}",
            "title": error,
            "status": status,
            "code": error,
            "detail": detail or error,
            **extra,
        }
    # DIVOC's services answer errors as {"message": ...}: its clients read that
    body.setdefault("message", body.get("detail"))
    headers = {}
    if isinstance(error, AuthError):
        headers["WWW-Authenticate"] = error.www_authenticate()
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def summary(record: Record) -> RecordSummary:
    """A record as a status change answers it: everything but its credential."""
    return record.summary()


def negotiate(accept: str | None, offered: tuple[str, ...], *, default: str = "application/json") -> str:
    """The offered media type the ``Accept`` header prefers (RFC 9110 section 12.5.1: by
    q-value, then the more specific range, then the order given); ``default`` for no header or
    ``*/*``; 406 when it accepts none of ``offered``.
    """
    if accept is None or not accept.strip():
        return default
    best: tuple[float, int, int, str] | None = None
    for position, part in enumerate(accept.split(",")[:64]):
        media, *params = [p.strip().lower() for p in part.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media == "*/*":
            matches, specificity = [default], 0
        elif media.endswith("/*"):
            matches, specificity = [c for c in offered if c.startswith(media[:-1])], 1
        else:
            matches, specificity = [c for c in offered if c == media], 2
        if quality <= 0 or not matches:
            continue
        candidate = (quality, specificity, -position, matches[0])
        if best is None or candidate[:3] > best[:3]:
            best = candidate
    if best is None:
        raise ApiError(
            406,
            f"none of {json.dumps(accept)} can be given; this resource is one of {', '.join(offered)}",
            code=ErrorCode.NOT_ACCEPTABLE,
        )
    return best[3]


# DIVOC's verify answer (vc-certification-service's certificate.controller.js, verifyCertificate
# and revokeStatus): its words, and its messages for the three it knows. An updated certificate's
# old one is REVOKED there (DIVOC revokes it on update): SUPERSEDED reads REVOKED, the successor
# beside it. EXPIRED and NOT_YET_VALID, which DIVOC does not check, keep vccore's word: DIVOC's
# verification app shows any word it does not know as invalid, which is what they are at a gate.
_DIVOC_WORD: Final = {CredentialStatus.SUPERSEDED: CredentialStatus.REVOKED}
_DIVOC_MESSAGE: Final = {
    CredentialStatus.VALID: "certificate is Valid",
    CredentialStatus.SUSPENDED: "Certificate is Suspended",
    CredentialStatus.REVOKED: "Certificate is Permanently Revoked",
    CredentialStatus.EXPIRED: "Certificate has expired",
    CredentialStatus.NOT_YET_VALID: "Certificate is not valid yet",
}


def divoc_verify_answer(result: VerificationResult, record: Record | None) -> dict[str, Any]:
    """DIVOC's answer to ``POST /vc-certification/v1/certificate/verify``: ``message``, ``status``
    (``certificateStatus``, ``msg``, ``startDate``, ``endDate``) and ``response``, as DIVOC's
    verification app reads them; vccore's result beside them (``verified``, ``problems``,
    ``warnings``, ``proofs``, ``successor``; ``certificateStatus`` also at the top, as earlier
    vccore answered). ``record``: the issuer's record of this very credential, for the dates of a
    revocation or suspension (DIVOC's ``startDate``: when it was revoked or suspended).
    """
    extra = result.to_dict()
    word = result.status if result.authentic else CredentialStatus.INVALID
    word = _DIVOC_WORD.get(word, word)
    msg = _DIVOC_MESSAGE.get(word, "Failed to verify certificate")
    start = end = ""
    if record is not None and word in (CredentialStatus.REVOKED, CredentialStatus.SUSPENDED):
        start = record.updated_at
        if word is CredentialStatus.SUSPENDED and record.suspended_until is not None:
            end = record.suspended_until
    successor = next(
        (p.data["successor"] for p in result.problems if p.code == ProblemCode.SUPERSEDED and "successor" in p.data),
        None,
    )
    if successor is not None:
        msg = f"{msg}: replaced by certificate {successor}"
    answer: dict[str, Any] = {
        "message": "Certificate verified" if result.authentic else "verification failed",
        "status": {"certificateStatus": word, "msg": msg, "startDate": start, "endDate": end},
        "response": {"verifyResp": {"verified": result.authentic}},
        "verified": result.verified,
        "certificateStatus": word,
        "problems": extra["problems"],
        "warnings": extra["warnings"],
        "proofs": extra["proofs"],
    }
    if successor is not None:
        answer["successor"] = successor
    return answer


class DivocVerifyAnswers:
    """:func:`divoc_verify_answer` as responses, each written once for equal results: one issuer's
    valid credentials differ in nothing the answer says. The latest 256 are kept; a
    result whose problems carry data cannot be looked up, and an answer with a record (the dates
    of a revocation or suspension) is written each time.
    """

    def __init__(self) -> None:
        self._written: Cache[VerificationResult, bytes] = Cache(256)

    def response(self, result: VerificationResult, record: Record | None) -> Response:
        status = 200 if result.authentic else 406
        if record is not None:
            return JSONResponse(divoc_verify_answer(result, record), status_code=status)
        try:
            body = self._written.get(result)
        except TypeError:
            return JSONResponse(divoc_verify_answer(result, None), status_code=status)
        if body is None:
            body = bytes(JSONResponse(divoc_verify_answer(result, None)).body)
            self._written.put(result, body)
        return Response(body, status_code=status, media_type=JSONResponse.media_type)


# --- Sunbird RC's drop-ins (vccore serve --sunbird-signer, --certificate-api) -------------------

_CODE_HEADER: Final = "x-vccore-code"


def drop_in_refusal(status: int, error: VccoreError) -> Response:
    """A drop-in's refusal: problem details, with the original's ``error`` (the status's phrase)
    beside them, and the code in a header for the request's log line.
    """
    response = problem(status, error)
    body = json.loads(bytes(response.body))
    body["error"] = HTTPStatus(status).phrase
    refusal = JSONResponse(body, status_code=status, media_type="application/problem+json")
    refusal.headers[_CODE_HEADER] = str(error.code)
    return refusal


def drop_in_app(answer: Callable[[Request], Awaitable[Response]], log: logging.Logger) -> Starlette:
    """One of Sunbird RC's services: every method and path goes to ``answer`` (the originals match
    their routes by prefix), and each request is logged in one line: method, first path segment,
    status, time, error code; never the request's data.
    """

    async def dispatch(request: Request) -> Response:
        started = time.monotonic()
        response = await answer(request)
        code = response.headers.get(_CODE_HEADER)
        segment = request.url.path.split("/")[1] if "/" in request.url.path else request.url.path
        elapsed = (time.monotonic() - started) * 1000
        log.info(
            "%s %s %d %.1f ms%s", request.method, segment, response.status_code, elapsed, f" {code}" if code else ""
        )
        return response

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", dispatch, methods=methods)])

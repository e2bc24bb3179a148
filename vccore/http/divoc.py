"""DIVOC's certification API: the seed's ``/vc-certification/v1/...`` and ``/vc-management/v1/...`` routes."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import time as day_start
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import _datetime, _json, qr, render
from ..codes import CredentialStatus, ErrorCode, ProblemCode
from ..entities import EntityType
from ..errors import VccoreError
from ..issuer import Certified, Issuer, new_transaction_id
from ..payloads import PayloadError
from ..store import LifecycleError, Record
from ._responses import CREDENTIAL_TYPES, STATUS_FOR, ApiError, negotiate, problem, summary
from ._service import Handlers

__all__ = ["DivocApi"]

_CERTIFICATE_TYPES: Final = (*CREDENTIAL_TYPES, "text/html", "image/png", "image/svg+xml")
_DIVOC_STATUS: Final = (
    CredentialStatus.VALID,
    CredentialStatus.SUPERSEDED,
    CredentialStatus.REVOKED,
    CredentialStatus.SUSPENDED,
)


class DivocApi(Handlers):
    """The handlers of DIVOC's certification API."""

    def routes(self) -> list[Route]:
        """The API's routes, in the order they are matched."""
        return [
            Route("/vc-certification/v1/certify/{entity}", self.certify, methods=["POST", "PUT"]),
            Route("/vc-management/v1/transaction/{transaction}", self.transaction, methods=["GET"]),
            Route("/vc-certification/v1/certificate/revoke", self.revoke, methods=["POST"]),
            Route("/vc-certification/v1/certificate/revoke/{entity}/{certificate}", self.unsuspend, methods=["DELETE"]),
            Route("/vc-certification/v1/certificate/verify", self.verify_divoc, methods=["POST"]),
            Route("/vc-certification/v1/certificate/{entity}/{certificate}", self.certificate, methods=["GET"]),
        ]

    async def certify(self, request: Request) -> Response:
        """``POST|PUT /vc-certification/v1/certify/{entity}``: certify or update a payload."""

        async def work() -> Response:
            self._authorize(request, "certify")
            entity = self._entity(request.path_params["entity"])
            payload = await self._json(request)
            if not isinstance(payload, dict):
                raise ApiError(
                    400, f"a payload is a JSON object, not {type(payload).__name__}", code=ErrorCode.MALFORMED_REQUEST
                )
            return await run_in_threadpool(self._certify, entity, payload, request.method == "PUT")

        return await self._guard(work)

    def _certify(self, entity: EntityType, payload: dict[str, Any], update_only: bool) -> Response:
        given = payload.get("certificateId")
        try:
            certified = self._certify_or_update(entity, payload, given, update_only)
        except LifecycleError as exc:
            if exc.code == ErrorCode.STORE_ERROR:
                raise
            return self._failed(entity, given, exc)
        except PayloadError as exc:
            return self._failed(entity, given, exc)
        if certified.replaces is not None:
            # The old certificate is SUPERSEDED now; the new one takes over its state, SUSPENDED
            # too, at a position of its own, maybe in another list set. A new certificate needs
            # nothing: it is VALID, and a position never given before is 0 in every list.
            for changed in (certified.replaces, certified.certificate_id):
                record = self.store.get(changed)
                if record is not None:
                    self._changed(record)
        return JSONResponse({"transactionId": certified.transaction_id, "certificateId": certified.certificate_id})

    def _certify_or_update(
        self, entity: EntityType, payload: dict[str, Any], given: Any, update_only: bool
    ) -> Certified:
        if update_only:
            if not isinstance(given, str):
                raise LifecycleError(
                    "an update (PUT) needs the payload's certificateId: the certificate to replace",
                    code=ErrorCode.MISSING_CERTIFICATE_ID,
                )
            return self.issuer.update(entity, payload)
        if isinstance(given, str) and self.store.get(given) is not None:
            return self.issuer.update(entity, payload)
        try:
            return self.issuer.certify(entity, payload)
        except LifecycleError as exc:
            if exc.code == ErrorCode.DUPLICATE_CERTIFICATE_ID:  # certified by another request meanwhile
                return self.issuer.update(entity, payload)
            raise

    def _failed(self, entity: EntityType, given: Any, exc: VccoreError) -> Response:
        """Record the refused request under a transactionId, and say why."""
        transaction_id = new_transaction_id()
        self.store.record_failure(
            transaction_id,
            entity.name,
            given if isinstance(given, str) else None,
            exc.to_dict(),
            _datetime.format(_datetime.now()),
        )
        extra: dict[str, Any] = {"transactionId": transaction_id}
        if isinstance(exc, PayloadError):
            extra["problems"] = [p.to_dict() for p in exc.problems]
        return problem(STATUS_FOR.get(exc.code, 400), exc, **extra)

    async def transaction(self, request: Request) -> Response:
        """``GET /vc-management/v1/transaction/{transaction}``: what became of a request."""

        async def work() -> Response:
            self._authorize(request, "read")
            transaction_id = request.path_params["transaction"]
            return await run_in_threadpool(self._transaction, transaction_id)

        return await self._guard(work)

    def _transaction(self, transaction_id: str) -> Response:
        record = self.store.get_by_transaction(transaction_id)
        if record is not None:
            return JSONResponse(
                {
                    "transactionId": transaction_id,
                    "certificateId": record.certificate_id,
                    "entityType": record.entity_type,
                    "status": "SUCCESSFUL",
                }
            )
        failure = self.store.get_failure(transaction_id)
        if failure is not None:
            return JSONResponse(
                {
                    "transactionId": transaction_id,
                    "certificateId": failure["certificateId"],
                    "entityType": failure["entityType"],
                    "status": "UNSUCCESSFUL",
                    "reason": failure["reason"],
                }
            )
        raise ApiError(
            404,
            f"no transaction {transaction_id}",
            code=ErrorCode.UNKNOWN_TRANSACTION,
            transaction_id=transaction_id,
        )

    async def certificate(self, request: Request) -> Response:
        """``GET /vc-certification/v1/certificate/{entity}/{certificate}``: by the Accept header."""

        async def work() -> Response:
            self._authorize(request, "read")
            entity = self._entity(request.path_params["entity"])
            wanted = negotiate(request.headers.get("accept"), _CERTIFICATE_TYPES)
            record = await run_in_threadpool(self._record_of, entity, request.path_params["certificate"])
            return await run_in_threadpool(_certificate_response, record, wanted, self.issuer)

        return await self._guard(work)

    async def revoke(self, request: Request) -> Response:
        """``POST /vc-certification/v1/certificate/revoke``: revoke or suspend."""

        async def work() -> Response:
            self._authorize(request, "revoke")
            body = await self._json(request)
            if not isinstance(body, dict):
                raise ApiError(
                    400,
                    "the body is {certificateId, entityName, endDate?, reason?}",
                    code=ErrorCode.MALFORMED_REQUEST,
                )
            certificate_id, entity_name = body.get("certificateId"), body.get("entityName")
            for name, value in (("certificateId", certificate_id), ("entityName", entity_name)):
                if not isinstance(value, str) or not value:
                    raise ApiError(400, f"{name} is required (a string)", code=ErrorCode.MALFORMED_REQUEST, field=name)
            reason = body.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise ApiError(400, "reason is a string", code=ErrorCode.MALFORMED_REQUEST, field="reason")
            until = _end_date(body.get("endDate"))
            entity = self._entity(str(entity_name))
            return await run_in_threadpool(self._revoke, entity, str(certificate_id), until, reason)

        return await self._guard(work)

    def _revoke(self, entity: EntityType, certificate_id: str, until: datetime | None, reason: str | None) -> Response:
        self._record_of(entity, certificate_id)
        if until is None:
            record = self.issuer.revoke(certificate_id, reason)
        else:
            record = self.issuer.suspend(certificate_id, until)
        self._changed(record)
        return JSONResponse(summary(record))

    async def unsuspend(self, request: Request) -> Response:
        """``DELETE /vc-certification/v1/certificate/revoke/{entity}/{certificate}``: lift a suspension."""

        async def work() -> Response:
            self._authorize(request, "revoke")
            entity = self._entity(request.path_params["entity"])
            return await run_in_threadpool(self._unsuspend, entity, request.path_params["certificate"])

        return await self._guard(work)

    def _unsuspend(self, entity: EntityType, certificate_id: str) -> Response:
        self._record_of(entity, certificate_id)
        record = self.issuer.unsuspend(certificate_id)
        self._changed(record)
        return JSONResponse(summary(record))

    async def verify_divoc(self, request: Request) -> Response:
        """``POST /vc-certification/v1/certificate/verify``: DIVOC's verify answer."""

        async def work() -> Response:
            body = await self._json(request)
            credential = _credential_in(body, ("verifiableCredential", "signedCredentials", "credential"))
            result = await run_in_threadpool(self.verifier.verify, credential)
            out = result.to_dict()
            word = result.status
            out["certificateStatus"] = word if word in _DIVOC_STATUS else CredentialStatus.INVALID
            successor = next(
                (
                    p.data.get("successor")
                    for p in result.problems
                    if p.code == ProblemCode.SUPERSEDED and p.data.get("successor")
                ),
                None,
            )
            if successor is not None:
                out["successor"] = successor
            return JSONResponse(out)

        return await self._guard(work)


def _credential_in(body: Any, wrappers: tuple[str, ...]) -> dict[str, Any]:
    """The credential of a verify request: the body itself, or under one of ``wrappers``."""
    if isinstance(body, dict):
        for name in wrappers:
            if name in body and "proof" not in body:
                inner = body[name]
                if isinstance(inner, str):  # DIVOC sends the credential as JSON text
                    try:
                        inner = _json.loads(inner)
                    except ValueError as exc:
                        raise ApiError(
                            400, f"{name} is not JSON: {exc}", code=ErrorCode.MALFORMED_REQUEST, field=name
                        ) from None
                if isinstance(inner, dict):
                    return inner
                raise ApiError(
                    400, f"{name} is a credential (a JSON object)", code=ErrorCode.MALFORMED_REQUEST, field=name
                )
        return body
    raise ApiError(400, "the body is a credential (a JSON object)", code=ErrorCode.MALFORMED_REQUEST)


def _end_date(value: Any) -> datetime | None:
    """``endDate``: an ISO 8601 time with a zone, or a date (the suspension ends as it begins, UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(
            400,
            "endDate is a date (YYYY-MM-DD) or a time with a zone",
            code=ErrorCode.MALFORMED_REQUEST,
            field="endDate",
        )
    try:
        if len(value) == 10:
            return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), day_start(0), tzinfo=UTC)  # noqa: DTZ007 (only its date is kept)
        moment = _datetime.parse(value)
    except (ValueError, VccoreError):
        raise ApiError(
            400,
            f"endDate {value!r} is not a date (YYYY-MM-DD) or a time with a zone",
            code=ErrorCode.MALFORMED_REQUEST,
            field="endDate",
        ) from None
    try:
        moment.astimezone(UTC)  # the store keeps it in UTC
    except OverflowError:
        raise ApiError(
            400,
            f"endDate {value!r} is outside the years 1 to 9999 in UTC",
            code=ErrorCode.MALFORMED_REQUEST,
            field="endDate",
        ) from None
    return moment


def _certificate_response(record: Record, media: str, issuer: Issuer) -> Response:
    if media in CREDENTIAL_TYPES:
        return JSONResponse(record.credential, media_type=media)
    if media == "text/html":
        return HTMLResponse(render.certificate_html(record.credential, entity_types=issuer.entity_types))
    symbol = qr.make(record.credential)
    if media == "image/png":
        return Response(symbol.png(), media_type="image/png")
    return Response(symbol.svg_document(), media_type="image/svg+xml")

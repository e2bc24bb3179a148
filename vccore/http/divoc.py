"""DIVOC's certification API: the seed's ``/vc-certification/v1/...`` and ``/vc-management/v1/...`` routes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from datetime import time as day_start
from functools import partial
from typing import Any, Final, NoReturn
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import _datetime, _json, qr, render
from ..codes import ErrorCode, ProblemCode
from ..entities import EntityType
from ..errors import RenderError, VccoreError
from ..issuer import Certified, Issuer, issuer_of, new_transaction_id
from ..payloads import PayloadError
from ..store import LifecycleError, Record, RecordState, notification, record_of_credential
from ..verify import Verifier
from ._idempotency import (
    Claim,
    claim_key,
    claimed,
    divoc_answer,
    idempotency_key,
    lookup_keys,
    made_for,
    payload_key,
    replay,
)
from ._responses import CREDENTIAL_TYPES, STATUS_FOR, ApiError, DivocVerifyAnswers, negotiate, problem, summary
from ._schema_records import PAGE_TYPES, pdf_name, template_url, tenant_page, tenant_templates
from ._service import Handlers, Service, credential_of, parsed
from .webhook import Callbacks

__all__ = ["DivocApi"]

_CERTIFICATE_TYPES: Final = (*CREDENTIAL_TYPES, "text/html", "application/pdf", "image/png", "image/svg+xml")


_DATED: Final = frozenset((ProblemCode.REVOKED, ProblemCode.SUSPENDED, ProblemCode.SUPERSEDED))
_VERIFY_WRAPPERS: Final = ("verifiableCredential", "signedCredentials", "credential")  # the credential, in a body


class DivocApi(Handlers):
    """The handlers of DIVOC's certification API."""

    def __init__(self, service: Service, callbacks: Callbacks | None = None) -> None:
        """``callbacks``: the tenant webhooks told of every certify and update (none: no webhook)."""
        super().__init__(service)
        self.callbacks = callbacks if callbacks is not None else Callbacks({})
        self.templates = tenant_templates(self.store)  # one cache of tenants' templates for the server
        self._verify_answers = DivocVerifyAnswers()

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
        """``POST|PUT /vc-certification/v1/certify/{entity}``: certify or update a payload.

        Every answer names a transactionId (DIVOC's clients look requests up by it): a refused
        request's is recorded with the reason, but for a refused token (the request is not read,
        and nothing is recorded for a caller who may not write) and for a fault of the server or
        its store (500, 503: given for its log).
        """
        transaction_id = new_transaction_id()
        name = request.path_params["entity"]

        async def work() -> Response:
            subject = self._authorize(request, "certify", self._entity_name(name))
            try:
                entity = self._entity(name)
                sent = idempotency_key(request.headers)
                payload = await self._json(request)
                if not isinstance(payload, dict):
                    raise ApiError(
                        400,
                        f"a payload is a JSON object, not {_json.kind(payload)}",
                        code=ErrorCode.MALFORMED_REQUEST,
                    )
            except ApiError as exc:
                refused = await run_in_threadpool(self._failed, name, None, exc, transaction_id, None)
                if exc.code == ErrorCode.UNKNOWN_ENTITY_TYPE:
                    # DIVOC takes the request (200, its transactionId) and its transaction reads
                    # UNSUCCESSFUL (certificate.controller.js, createCertificate: the entity type
                    # is looked up later, by the consumer); source systems poll the transaction
                    return JSONResponse({"transactionId": transaction_id})
                return refused
            payload = _zoned(entity, payload)
            claim = (
                None if sent is None else (sent, claim_key(f"{request.method} certify {entity.name}", subject, sent))
            )
            key = payload_key(entity.name, payload)
            if request.method == "POST":
                # The common case straight from here to the group commit, which looks the keys
                # up (one query for the group): a new payload's certificate. Anything else (a
                # key found, a refusal, an update) takes the long way, in a thread, as before.
                made = await self.committer.certify_new(
                    entity,
                    payload,
                    key=key,
                    claim=claim and claim[1],
                    notify=self.callbacks.target(entity.name),
                    lookup=lookup_keys(key, claim),
                )
                if made is not None:
                    return divoc_answer(made)  # its keys recorded with it
            return await run_in_threadpool(
                self._certify, entity, payload, key, request.method == "PUT", transaction_id, claim
            )

        return await self._guard(work, correlation={"transactionId": transaction_id})

    def _certify(
        self,
        entity: EntityType,
        payload: dict[str, Any],
        key: str | None,
        update_only: bool,
        transaction_id: str,
        claim: Claim,
    ) -> Response:
        """``key``: the payload's (:func:`payload_key`); ``claim``: the request's Idempotency-Key,
        as sent and as the store knows it (None: none).
        """
        given = payload.get("certificateId")
        try:
            if update_only and not isinstance(given, str):
                raise LifecycleError(
                    "an update (PUT) needs the payload's certificateId: the certificate to replace",
                    code=ErrorCode.MISSING_CERTIFICATE_ID,
                )
            found = self.store.get_by_keys(list(lookup_keys(key, claim)))
            earlier = found.get(key or "")
            # a PUT re-issues the certificate it names, even from the payload that made it (a
            # re-issue has a key of its own); a PUT whose payload made its successor is the same PUT
            if earlier is not None and update_only and earlier.certificate_id == given:
                key = f"reissue:{key}"
                earlier = found.get(key)
            if (answered := made_for(claim, key, found)) is not None:  # this key's request, sent again
                return replay(self.issuer, answered, claimed=True)
            if earlier is not None:
                return claimed(self.store, claim, earlier, replay(self.issuer, earlier))
            try:
                certified = self._certify_or_update(entity, payload, update_only, key, claim)
            except LifecycleError as exc:  # sent twice at once: the other made it (superseded it, took its key)
                lost = exc.code in (ErrorCode.INVALID_TRANSITION, ErrorCode.DUPLICATE_ISSUE_KEY)
                found = self.store.get_by_keys([k for k in (key, claim and claim[1]) if k]) if lost else {}
                if (made := made_for(claim, key, found) or found.get(key or "")) is None:
                    raise
                return claimed(self.store, claim, made, replay(self.issuer, made))
        except LifecycleError as exc:
            if exc.code == ErrorCode.STORE_ERROR:
                raise
            # the payload's own problems first: a conflict is only worth telling of a valid payload
            return self._failed(entity.name, given, self._invalid(entity, payload) or exc, transaction_id, payload)
        except VccoreError as exc:  # the payload's problems, a suite the type does not take, ...
            return self._failed(entity.name, given, exc, transaction_id, payload)
        if certified.replaces is not None:
            # The old certificate is SUPERSEDED now; the new one takes over its state, SUSPENDED
            # too, at a position of its own, maybe in another list set. A new certificate needs
            # nothing: it is VALID, and a position never given before is 0 in every list. Read
            # from what the update returned, not from the store: the update is committed, and
            # a store failing now must not turn its answer into a 503.
            for list_set in certified.list_sets:
                self.status.invalidate(list_set)
        if certified.replayed:  # made by the same payload sent beside this request
            return claimed(self.store, claim, certified, divoc_answer(certified, again=True))
        return divoc_answer(certified)  # its keys recorded with it

    def _certify_or_update(
        self, entity: EntityType, payload: dict[str, Any], update_only: bool, key: str | None, claim: Claim
    ) -> Certified:
        if update_only:
            return self._update(entity, payload, key, claim)
        # with the other certify requests in hand (group commit); the payload's key recorded in
        # the certificate's own transaction: the same payload certified by another request
        # meanwhile gives back that certificate. A certificateId already stored is refused by
        # the group's insert (DUPLICATE_CERTIFICATE_ID), and the request becomes an update, as
        # DIVOC's POST of a known id is: looking the id up first cost every certify a query.
        notify = self.callbacks.target(entity.name)
        made = self.committer.certify(entity, payload, key=key, claim=claim and claim[1], notify=notify)
        if isinstance(made, VccoreError):
            if made.code == ErrorCode.DUPLICATE_CERTIFICATE_ID:  # certified before, or by another request meanwhile
                return self._update(entity, payload, key, claim)
            raise made
        return made

    def _update(self, entity: EntityType, payload: dict[str, Any], key: str | None, claim: Claim) -> Certified:
        notify = self.callbacks.target(entity.name)
        return self.issuer.update(entity, payload, key=key, claim=claim and claim[1], notify=notify)

    def _invalid(self, entity: EntityType, payload: dict[str, Any]) -> PayloadError | None:
        """The payload's problems, if it has any (what certify and update would find)."""
        try:
            entity.values(payload, issuer=issuer_of(self.issuer.signer))
        except PayloadError as exc:
            return exc
        return None

    def _failed(self, entity_name: str, given: Any, exc: VccoreError, transaction_id: str, payload: Any) -> Response:
        """Record the refused request under its transactionId, with its webhook message (DIVOC's
        UNSUCCESSFUL one; ``payload``: the request's, None when it was not read), and say why.
        """
        at = _datetime.format(_datetime.now())
        certificate_id = given if isinstance(given, str) else None
        target = self.callbacks.target(entity_name)
        message = None
        if target is not None:
            message = notification(
                target,
                transaction_id=transaction_id,
                certificate_id=certificate_id,
                status="UNSUCCESSFUL",
                payload=payload,
                entity_type=entity_name,
                at=at,
            )
        self.store.record_failure(transaction_id, entity_name, certificate_id, exc.to_dict(), at, notify=message)
        extra: dict[str, Any] = {"transactionId": transaction_id}
        if isinstance(exc, PayloadError):
            extra["problems"] = [p.to_dict() for p in exc.problems]
        if isinstance(exc, ApiError):
            return problem(exc.status, exc, **{**exc.extra, **extra})
        return problem(STATUS_FOR.get(exc.code, 400), exc, **extra)

    async def transaction(self, request: Request) -> Response:
        """``GET /vc-management/v1/transaction/{transaction}``: what became of a request."""
        transaction_id = request.path_params["transaction"]

        async def work() -> Response:
            self._authorize(request, "read")
            return await run_in_threadpool(self._transaction, request, transaction_id)

        return await self._guard(work, correlation={"transactionId": transaction_id})

    def _transaction(self, request: Request, transaction_id: str) -> Response:
        record = self.store.get_by_transaction(transaction_id)
        failure = self.store.get_failure(transaction_id) if record is None else None
        entity_type = record.entity_type if record is not None else failure["entityType"] if failure else None
        if isinstance(entity_type, str):
            self._authorize(request, "read", entity_type)  # a tenant reads its own entity types' transactions
        if record is not None:
            return JSONResponse(
                {
                    "transactionId": transaction_id,
                    "certificateId": record.certificate_id,
                    "entityType": record.entity_type,
                    "status": "SUCCESSFUL",
                }
            )
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
            transactionId=transaction_id,
        )

    async def certificate(self, request: Request) -> Response:
        """``GET /vc-certification/v1/certificate/{entity}/{certificate}``: by the Accept header; a
        page or PDF of the type's own template when the ``template-key`` header names one.
        """

        async def work() -> Response:
            self._authorize(request, "read", self._entity_name(request.path_params["entity"]))
            entity = self._entity(request.path_params["entity"])
            wanted = negotiate(request.headers.get("accept"), _CERTIFICATE_TYPES)
            url = template_url(entity, request.headers.get("template-key")) if wanted in PAGE_TYPES else None
            record = await run_in_threadpool(self._record_of, entity, request.path_params["certificate"])
            if url is not None:  # certificate-api's page, as DIVOC's registry asks it for
                named = partial(
                    tenant_page, entity_id=record.certificate_id, entity_name=entity.name, verifier=self.verifier
                )
                page = partial(named, filename=pdf_name(record.certificate_id))
                response = await run_in_threadpool(page, self.templates, url, record.credential, wanted)
            else:
                response = await run_in_threadpool(_certificate_response, record, wanted, self.issuer, self.verifier)
            response.headers.update(await run_in_threadpool(self._state_headers, record))
            return response

        return await self._guard(work)

    def _state_headers(self, record: Record) -> dict[str, str]:
        """What the credential's body cannot say (it is as it was signed): the certificate's state
        now, the end of a suspension, and the versions before and after it (RFC 5829 links).
        """
        state = record.effective_state(_datetime.now())
        headers = {"Certificate-State": str(state)}
        if state is RecordState.SUSPENDED and record.suspended_until is not None:
            headers["Certificate-Suspended-Until"] = record.suspended_until
        path = f"/vc-certification/v1/certificate/{quote(record.entity_type, safe='')}/"
        links = []
        if record.replaced_by is not None:
            links.append(f'<{path}{quote(record.replaced_by, safe="")}>; rel="successor-version"')
            latest = self.issuer.fetch(record.certificate_id)[-1].certificate_id
            if latest != record.replaced_by:
                links.append(f'<{path}{quote(latest, safe="")}>; rel="latest-version"')
        if record.replaces is not None:
            links.append(f'<{path}{quote(record.replaces, safe="")}>; rel="predecessor-version"')
        if links:
            headers["Link"] = ", ".join(links)
        return headers

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
            until = _end_date(body.get("endDate"), _datetime.now())
            self._authorize(request, "revoke", self._entity_name(str(entity_name)))
            entity = self._entity(str(entity_name))
            return await run_in_threadpool(self._revoke, entity, str(certificate_id), until, reason)

        return await self._guard(work)

    def _revoke(self, entity: EntityType, certificate_id: str, until: datetime | None, reason: str | None) -> Response:
        self._divoc_record_of(entity, certificate_id)
        if until is None:
            record = self.issuer.revoke(certificate_id, reason)
        else:
            record = self.issuer.suspend(certificate_id, until)
        self._changed(record)
        return JSONResponse({"message": "Certificate Revoked", **summary(record)})

    def _divoc_record_of(self, entity: EntityType, certificate_id: str) -> Record:
        """The record, or DIVOC's 400 for a certificate it has no entry of (certificate.controller.js:
        revokeCertificate "Entry for ... not found", deleteRevokeCertificate "Record not found.").
        """
        try:
            return self._record_of(entity, certificate_id)
        except ApiError as exc:
            raise ApiError(400, exc.message, code=exc.code, extra=exc.extra, **exc.details) from None

    async def unsuspend(self, request: Request) -> Response:
        """``DELETE /vc-certification/v1/certificate/revoke/{entity}/{certificate}``: lift a suspension."""

        async def work() -> Response:
            self._authorize(request, "revoke", self._entity_name(request.path_params["entity"]))
            entity = self._entity(request.path_params["entity"])
            return await run_in_threadpool(self._unsuspend, entity, request.path_params["certificate"])

        return await self._guard(work)

    def _unsuspend(self, entity: EntityType, certificate_id: str) -> Response:
        self._divoc_record_of(entity, certificate_id)
        try:
            record = self.issuer.unsuspend(certificate_id)
        except LifecycleError as exc:
            if exc.code != ErrorCode.INVALID_TRANSITION:
                raise
            # DIVOC: 400 for a certificate revoked for good, or not suspended at all
            raise ApiError(400, exc.message, code=exc.code, **exc.details) from None
        self._changed(record)
        return JSONResponse({"message": "Delete revoked certificate request sent successfully", **summary(record)})

    async def verify_divoc(self, request: Request) -> Response:
        """``POST /vc-certification/v1/certificate/verify``: DIVOC's verify answer."""

        async def work() -> Response:
            credential = await credential_of(request, self.verifier, _VERIFY_WRAPPERS)
            result = await self._verify(credential)
            # the issuer's record gives the dates of a revocation or suspension: looked up only then
            # (a VALID credential, the common case, costs no store query)
            dated = result.authentic and bool(set(result.codes) & _DATED)
            record = await run_in_threadpool(record_of_credential, self.store, parsed(credential)) if dated else None
            return self._verify_answers.response(result, record)

        return await self._guard(work)


def _end_date(value: Any, now: datetime) -> datetime | None:
    """``endDate``: a date (the suspension ends as that day begins, 00:00:00 UTC) or a date-time
    with a zone, after ``now``; 400 naming the field for anything else.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        return _bad_end_date(f"endDate is {_json.kind(value)}")
    try:
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            moment = datetime.combine(date.fromisoformat(value), day_start(0), tzinfo=UTC)
        else:
            moment = _datetime.parse(value)
    except (ValueError, VccoreError):
        return _bad_end_date(f"endDate {json.dumps(value)} is not a date or a date-time with a zone")
    try:
        moment.astimezone(UTC)  # the store keeps it in UTC
    except OverflowError:
        return _bad_end_date(f"endDate {json.dumps(value)} is outside the years 1 to 9999 in UTC")
    if moment <= now:
        raise ApiError(
            400,
            f"endDate {json.dumps(value)} has begun already ({_datetime.format(moment)}): a suspension ends in the "
            "future (to lift one now, DELETE /vc-certification/v1/certificate/revoke/{entityName}/{certificateId})",
            code=ErrorCode.MALFORMED_REQUEST,
            field="endDate",
        )
    return moment


def _bad_end_date(what: str) -> NoReturn:
    raise ApiError(
        400,
        f"{what}: give a date, YYYY-MM-DD (suspended until that day begins, 00:00:00 UTC), or a date-time with "
        "a zone, such as 2027-01-01 or 2027-01-01T00:00:00Z",
        code=ErrorCode.MALFORMED_REQUEST,
        field="endDate",
    )


def _certificate_response(record: Record, media: str, issuer: Issuer, verifier: Verifier) -> Response:
    if media in CREDENTIAL_TYPES:
        return JSONResponse(record.credential, media_type=media)
    if media in ("text/html", "application/pdf"):
        # the page says what the verify routes would: revoked, suspended, superseded, expired
        verification = verifier.verify(record.credential)
        options: dict[str, Any] = {
            "entity_types": issuer.entity_types,
            "verification": verification,
            "qr_format": qr.QRFormat.DIVOC,
        }
        if media == "text/html":
            return HTMLResponse(render.certificate_html(record.credential, **options))
        try:
            printed = render.certificate_pdf(record.credential, **options)
        except RenderError as exc:
            if exc.code != ErrorCode.RENDER_ERROR:
                raise  # the entity type has no layout: the request's fault, as for text/html
            # the printer (no Chromium, a crash, a page over its time) is the server's fault
            raise ApiError(503, f"cannot print the certificate as a PDF: {exc.message}", code=exc.code) from None
        return Response(
            printed,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{pdf_name(record.certificate_id)}"'},
        )
    # DIVOC's QR: a ZIP holding certificate.json, what its verification app unzips
    symbol = qr.make(record.credential, format=qr.QRFormat.DIVOC)
    if media == "image/png":
        return Response(symbol.png(), media_type="image/png")
    return Response(symbol.svg_document(), media_type="image/svg+xml")


_ZONELESS: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?", re.ASCII)


def _zoned(entity: EntityType, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload, its zone-less date-times (``2023-09-09T21:01:01.121``, which DIVOC takes:
    validation.service.js checks them with iso-datestring-validator) read as UTC: ``Z`` added to
    each field the entity type's schema says is a ``date-time``. What a credential says of time
    always has a zone.
    """
    properties = entity.schema.get("properties", {})
    changed = {
        name: value + "Z"
        for name, value in payload.items()
        if isinstance(value, str)
        and isinstance(properties.get(name), Mapping)
        and properties[name].get("format") == "date-time"
        and _ZONELESS.fullmatch(value)
    }
    return {**payload, **changed} if changed else payload

"""``vccore serve``: DIVOC's certification API and the W3C VC API over HTTP (``vccore[server]``).

:func:`create_app` builds an ASGI application (Starlette) around an :class:`~vccore.issuer.Issuer`
and its store; ``vccore serve`` runs it with uvicorn. The routes:

DIVOC 3.x (the seed's certification API):

- ``POST /vc-certification/v1/certify/{entityName}``: certify a payload; a payload whose
  certificateId names a certificate in the store updates it (``PUT`` on the path updates too).
  Answers ``{"transactionId", "certificateId"}`` once the certificate is signed and committed.
  A refused payload answers 4xx with problem details and a ``transactionId`` whose lookup says
  UNSUCCESSFUL, and why.
- ``GET /vc-management/v1/transaction/{transactionId}``
- ``GET /vc-certification/v1/certificate/{entityName}/{certificateId}``: the credential
  (``application/vc+ld+json``, ``application/json``), its printable certificate
  (``text/html``) or its QR code (``image/png``, ``image/svg+xml``), by the ``Accept`` header.
- ``POST /vc-certification/v1/certificate/revoke`` ``{certificateId, entityName, endDate?,
  reason?}``: revoke; with ``endDate``, suspend until then.
- ``DELETE /vc-certification/v1/certificate/revoke/{entityName}/{certificateId}``: lift a
  suspension.
- ``POST /vc-certification/v1/certificate/verify``: ``{certificateStatus: VALID | SUPERSEDED |
  REVOKED | SUSPENDED | INVALID, ...}``, checked against the store's current status. Like
  DIVOC's, which looks its certificates up in its own registry, it trusts this server's issuer
  only, unless told of others (``trusted_issuers``, ``verification_methods``): a credential
  signed by anyone else's key, however real its payload, is INVALID (``UNTRUSTED_ISSUER``).
- ``GET <status URL path>/<set>/<purpose>``: the status list credentials, at the URLs the
  credentials name (the path of the store's status URL), signed on request and kept for a few
  seconds.

The W3C VC API: ``POST /credentials/issue`` (records what it signs; refuses what the issuer's
own machinery owns: status lists, the status URLs, its entity types' credentials),
``POST /credentials/status`` (``{credentialId, credentialStatus: {type, statusPurpose}, status}``:
revoke, suspend, lift a suspension), ``POST /credentials/verify`` and
``POST /presentations/verify`` (``{verifiablePresentation, options: {challenge?, domain?}}``);
its verify routes trust the issuers the DIVOC one does.

Also ``GET /openapi.json`` (the API, with each entity type's payload schema) and ``GET /health``.

Every route that creates, changes or reveals certificates needs a bearer token with the right
permission (:mod:`vccore.auth`), checked before the body is read; verifying and the status
lists are public. Signing and the store run in worker threads; the event loop only parses and
answers. Request bodies over :data:`MAX_BODY` bytes are refused (413).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time as day_start, timezone
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from . import _datetime, _json, qr, render
from .auth import AuthError, Authorizer, bearer_token
from .entities import EntityType, PayloadError
from .errors import VccoreError
from .issuer import Certified, Issuer, issuer_of, new_transaction_id, resolve_entity_type
from .canon import to_quads
from .compiled import add_lifecycle
from .keys import VERIFICATION_RELATIONSHIPS, Ed25519Key, public_key_from_verification_method
from .proofs import sign
from .store import LIST_SIZE, LifecycleError, Record
from .suites import Suite
from .verify import UnsignedCredential, Verifier, check_unsigned

__all__ = ["MAX_BODY", "create_app", "openapi"]

MAX_BODY: Final = 1 << 20
STATUS_TTL: Final = 5.0
"""Seconds a status list set signed for a request is served again (and used by verify) before
it is made anew; a change made through this server makes it anew at once."""
_MAX_LIST_DIGITS: Final = 9

_CREDENTIAL_TYPES: Final = ("application/vc+ld+json", "application/vc", "application/ld+json", "application/json")
_CERTIFICATE_TYPES: Final = (*_CREDENTIAL_TYPES, "text/html", "image/png", "image/svg+xml")
_STATUS_FOR: Final = {
    "UNKNOWN_ENTITY_TYPE": 404,
    "UNKNOWN_CERTIFICATE": 404,
    "INVALID_TRANSITION": 409,
    "DUPLICATE_CERTIFICATE_ID": 409,
    "INVALID_PAYLOAD": 422,
    "STORE_ERROR": 503,
}
_DIVOC_STATUS: Final = ("VALID", "SUPERSEDED", "REVOKED", "SUSPENDED")


class ApiError(VccoreError):
    """A request the API refuses: ``status`` (HTTP) and a stable ``code``."""

    def __init__(self, status: int, message: str, *, code: str, extra: dict[str, Any] | None = None, **details: Any) -> None:
        super().__init__(message, code=code, **details)
        self.status = status
        self.extra = extra or {}
        """Structured members of the problem details (lists, objects), beside the scalar details."""


def problem(status: int, error: VccoreError | str, detail: str | None = None, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem details answer; ``error`` a VccoreError, or a code with ``detail``."""
    if isinstance(error, VccoreError):
        body = {"type": f"https://vccore.dev/problems#{error.code}", "title": error.code, "status": status, **error.to_dict(), **extra}
    else:
        body = {"type": f"https://vccore.dev/problems#{error}", "title": error, "status": status, "code": error, "detail": detail or error, **extra}
    headers = {}
    if isinstance(error, AuthError):
        headers["WWW-Authenticate"] = error.www_authenticate()
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


@dataclass
class _StatusCache:
    """Status list sets signed for requests, by set: (monotonic time made, URL -> credential).

    Each set has a generation, moved on by :meth:`invalidate`. A set is kept only if its
    generation did not move while it was made: one read from the store before a change
    committed, and finished after the change invalidated the set, would otherwise be kept and
    served, stale, for ``ttl`` seconds after the change was answered."""

    issuer: Issuer
    ttl: float = STATUS_TTL

    def __post_init__(self) -> None:
        self._sets: dict[int, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._making: dict[int, threading.Lock] = {}
        self._generations: dict[int, int] = {}
        self._epoch = 0  # moved on by invalidating every set
        self._lock = threading.Lock()

    def invalidate(self, list_number: int | None = None) -> None:
        """Forget a set (every set: None), and any making of it under way; call it after the
        change is committed."""
        with self._lock:
            if list_number is None:
                self._sets.clear()
                self._epoch += 1
            else:
                self._sets.pop(list_number, None)
                self._generations[list_number] = self._generations.get(list_number, 0) + 1

    def _generation(self, list_number: int) -> tuple[int, int]:
        return self._epoch, self._generations.get(list_number, 0)

    def get(self, list_number: int) -> dict[str, dict[str, Any]]:
        cached = self._fresh(list_number)
        if cached is not None:
            return cached
        # One thread signs the set anew; the others wait for it rather than all signing it at
        # once (sixteen threads doing so together stalled verify for two seconds under load).
        with self._lock:
            making = self._making.setdefault(list_number, threading.Lock())
        with making:
            cached = self._fresh(list_number)
            if cached is not None:
                return cached
            with self._lock:
                generation = self._generation(list_number)
            made = self.issuer.status_list_set(list_number)
            with self._lock:
                if self._generation(list_number) == generation:
                    self._sets[list_number] = (time.monotonic(), made)
            # Changed meanwhile: what was read is not kept for anyone else, but this request may
            # have it (it began before the change was answered).
            return made

    def _fresh(self, list_number: int) -> dict[str, dict[str, Any]] | None:
        with self._lock:
            cached = self._sets.get(list_number)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        return None

    def resolve(self, url: str) -> dict[str, Any] | None:
        """A status list credential of this server's store by URL (what its verifier reads)."""
        base = self.issuer.store.status_base_url
        if not url.startswith(base):
            return None  # another issuer's list: never fetched
        set_part, _, purpose = url[len(base):].partition("/")
        if not _ascii_digits(set_part, _MAX_LIST_DIGITS) or purpose not in ("revocation", "suspension", "message"):
            return None
        list_number = int(set_part)
        cached = self._fresh(list_number)  # the verify path: no store query while the set is fresh
        if cached is None:
            if list_number not in self.issuer.store.list_sets():
                return None
            cached = self.get(list_number)
        return cached.get(url)


def _ascii_digits(text: str, most: int) -> bool:
    """1 to ``most`` ASCII digits: what int() is given (str.isdigit() also passes '²' and '٣')."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def create_app(
    issuer: Issuer,
    *,
    authorizer: Authorizer,
    verifier: Verifier | None = None,
    trusted_issuers: Iterable[str] = (),
    verification_methods: Iterable[Mapping[str, Any]] = (),
    any_issuer: bool = False,
    status_ttl: float = STATUS_TTL,
) -> Starlette:
    """The ASGI application. ``verifier`` answers the verify routes; by default one that
    accepts every suite vccore knows (DIVOC's 2018 suites too), reads status from this server's
    store, and trusts the server's own issuer only (with its signer's key, when it is an
    :class:`~vccore.keys.Ed25519Key`), and besides it ``trusted_issuers`` and the DIDs whose keys
    ``verification_methods`` gives (DID documents or verification methods, as
    :meth:`Verifier.create` takes them; a did:web issuer's keys are given this way).
    ``any_issuer``: trust every issuer that controls the key that signed, as a general VC API
    verifier does (what the W3C test suites need); never the default."""
    status = _StatusCache(issuer, status_ttl)
    trusted_issuers, verification_methods = list(trusted_issuers), list(verification_methods)
    if verifier is not None and (trusted_issuers or verification_methods or any_issuer):
        raise ValueError("give a verifier, or whom the default verifier trusts (trusted_issuers, verification_methods), not both")
    own = [{k: v for k, v in issuer.signer.to_multikey().items() if k != "@context"}] if isinstance(issuer.signer, Ed25519Key) else []
    checker = verifier
    if checker is None:
        checker = Verifier.create(
            suites=["eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020", "Ed25519Signature2018", "RsaSignature2018"],
            verification_methods=[*verification_methods, *own],
            status=status.resolve,
            store=issuer.store,
            entity_types=issuer.entity_types,
            contexts=issuer.contexts,
        )
        if not any_issuer:
            # whom the keys name, once Verifier.create has read them (and refused what is not a key)
            trusted = frozenset({issuer_of(issuer.signer), *trusted_issuers, *_controllers(verification_methods)})
            checker = replace(checker, trusted_issuers=trusted)
    api = _Api(issuer, authorizer, checker, status)
    status_path = _url_path(issuer.store.status_base_url)
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route("/vc-certification/v1/certify/{entity}", api.certify, methods=["POST", "PUT"]),
        Route("/vc-management/v1/transaction/{transaction}", api.transaction, methods=["GET"]),
        Route("/vc-certification/v1/certificate/revoke", api.revoke, methods=["POST"]),
        Route("/vc-certification/v1/certificate/revoke/{entity}/{certificate}", api.unsuspend, methods=["DELETE"]),
        Route("/vc-certification/v1/certificate/verify", api.verify_divoc, methods=["POST"]),
        Route("/vc-certification/v1/certificate/{entity}/{certificate}", api.certificate, methods=["GET"]),
        Route("/credentials/issue", api.vc_issue, methods=["POST"]),
        Route("/credentials/status", api.vc_status, methods=["POST"]),
        Route("/credentials/verify", api.vc_verify, methods=["POST"]),
        Route("/presentations/verify", api.vp_verify, methods=["POST"]),
        Route(status_path + "{set}/{purpose}", api.status_list, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    app.state.verifier = checker  # whom it trusts: app.state.verifier.trusted_issuers
    return app


def _controllers(verification_methods: Iterable[Mapping[str, Any]]) -> set[str]:
    """The DIDs whose keys these DID documents or verification methods give: for a DID
    document its id, for a verification method its controller. For what :meth:`Verifier.create`
    has taken (it tells the two apart the same way, and refuses what is neither)."""
    found: set[str] = set()
    for item in verification_methods:
        if "verificationMethod" in item or any(r in item for r in VERIFICATION_RELATIONSHIPS):
            found.add(str(item["id"]))
        else:
            found.add(public_key_from_verification_method(item).controller)
    return found


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem(404, "NOT_FOUND", f"no route {request.url.path}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return problem(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.url.path}")


def _url_path(url: str) -> str:
    """The path of a URL, ending with '/'."""
    after_scheme = url.split("://", 1)[-1]
    path = "/" + after_scheme.split("/", 1)[1] if "/" in after_scheme else "/"
    return path if path.endswith("/") else path + "/"


Handler = Callable[[Request], Awaitable[Response]]


class _Api:
    def __init__(self, issuer: Issuer, authorizer: Authorizer, verifier: Verifier, status: _StatusCache) -> None:
        self.issuer = issuer
        self.authorizer = authorizer
        self.verifier = verifier
        self.status = status
        self.store = issuer.store
        self._entity_credential_types = _entity_credential_types(issuer)

    # --- helpers -------------------------------------------------------------------------------

    def _authorize(self, request: Request, scope: str) -> str:
        return self.authorizer.check(bearer_token(request.headers.get("authorization")), scope)

    async def _json(self, request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not _ascii_digits(declared, 20):
                raise ApiError(400, f"Content-Length {declared!r} is not a number of bytes", code="MALFORMED_REQUEST", field="Content-Length")
            if int(declared) > MAX_BODY:
                raise ApiError(413, f"the body is larger than {MAX_BODY} bytes", code="BODY_TOO_LARGE", limit=MAX_BODY)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise ApiError(413, f"the body is larger than {MAX_BODY} bytes", code="BODY_TOO_LARGE", limit=MAX_BODY)
        try:
            return _json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the body is not JSON: {exc}", code="MALFORMED_REQUEST") from None

    def _entity(self, name: str) -> EntityType:
        try:
            return resolve_entity_type(name, self.issuer.entity_types)
        except VccoreError as exc:
            raise ApiError(404, exc.message, code="UNKNOWN_ENTITY_TYPE", entity=name) from None

    def _record_of(self, entity: EntityType, certificate_id: str) -> Record:
        record = self.store.get(certificate_id)
        if record is None or record.entity_type != entity.name:
            raise ApiError(404, f"no {entity.name} certificate {certificate_id}", code="UNKNOWN_CERTIFICATE", certificate_id=certificate_id)
        return record

    @staticmethod
    async def _guard(work: Callable[[], Awaitable[Response]]) -> Response:
        """Run a handler; vccore's errors become problem details (never a stack trace)."""
        try:
            return await work()
        except AuthError as exc:
            return problem(exc.status, exc)
        except ApiError as exc:
            return problem(exc.status, exc, **exc.extra)
        except VccoreError as exc:
            return problem(_STATUS_FOR.get(exc.code, 400), exc)

    def _changed(self, record: Record) -> None:
        self.status.invalidate(record.status_list)

    # --- service -------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi(self.issuer))

    # --- DIVOC's certification API --------------------------------------------------------------

    async def certify(self, request: Request) -> Response:
        async def work() -> Response:
            self._authorize(request, "certify")
            entity = self._entity(request.path_params["entity"])
            payload = await self._json(request)
            if not isinstance(payload, dict):
                raise ApiError(400, f"a payload is a JSON object, not {type(payload).__name__}", code="MALFORMED_REQUEST")
            return await run_in_threadpool(self._certify, entity, payload, request.method == "PUT")

        return await self._guard(work)

    def _certify(self, entity: EntityType, payload: dict[str, Any], update_only: bool) -> Response:
        given = payload.get("certificateId")
        try:
            certified = self._certify_or_update(entity, payload, given, update_only)
        except LifecycleError as exc:
            if exc.code == "STORE_ERROR":
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

    def _certify_or_update(self, entity: EntityType, payload: dict[str, Any], given: Any, update_only: bool) -> Certified:
        if update_only:
            if not isinstance(given, str):
                raise LifecycleError("an update (PUT) needs the payload's certificateId: the certificate to replace", code="MISSING_CERTIFICATE_ID")
            return self.issuer.update(entity, payload)
        if isinstance(given, str) and self.store.get(given) is not None:
            return self.issuer.update(entity, payload)
        try:
            return self.issuer.certify(entity, payload)
        except LifecycleError as exc:
            if exc.code == "DUPLICATE_CERTIFICATE_ID":  # certified by another request meanwhile
                return self.issuer.update(entity, payload)
            raise

    def _failed(self, entity: EntityType, given: Any, exc: VccoreError) -> Response:
        """Record the refused request under a transactionId, and say why."""
        transaction_id = new_transaction_id()
        self.store.record_failure(transaction_id, entity.name, given if isinstance(given, str) else None, exc.to_dict(), _datetime.format(_datetime.now()))
        extra: dict[str, Any] = {"transactionId": transaction_id}
        if isinstance(exc, PayloadError):
            extra["problems"] = [p.to_dict() for p in exc.problems]
        return problem(_STATUS_FOR.get(exc.code, 400), exc, **extra)

    async def transaction(self, request: Request) -> Response:
        async def work() -> Response:
            self._authorize(request, "read")
            transaction_id = request.path_params["transaction"]
            return await run_in_threadpool(self._transaction, transaction_id)

        return await self._guard(work)

    def _transaction(self, transaction_id: str) -> Response:
        record = self.store.get_by_transaction(transaction_id)
        if record is not None:
            return JSONResponse({
                "transactionId": transaction_id, "certificateId": record.certificate_id,
                "entityType": record.entity_type, "status": "SUCCESSFUL",
            })
        failure = self.store.get_failure(transaction_id)
        if failure is not None:
            return JSONResponse({
                "transactionId": transaction_id, "certificateId": failure["certificateId"],
                "entityType": failure["entityType"], "status": "UNSUCCESSFUL", "reason": failure["reason"],
            })
        raise ApiError(404, f"no transaction {transaction_id}", code="UNKNOWN_TRANSACTION", transaction_id=transaction_id)

    async def certificate(self, request: Request) -> Response:
        async def work() -> Response:
            self._authorize(request, "read")
            entity = self._entity(request.path_params["entity"])
            wanted = _negotiate(request.headers.get("accept"), _CERTIFICATE_TYPES)
            record = await run_in_threadpool(self._record_of, entity, request.path_params["certificate"])
            return await run_in_threadpool(_certificate_response, record, wanted, self.issuer)

        return await self._guard(work)

    async def revoke(self, request: Request) -> Response:
        async def work() -> Response:
            self._authorize(request, "revoke")
            body = await self._json(request)
            if not isinstance(body, dict):
                raise ApiError(400, "the body is {certificateId, entityName, endDate?, reason?}", code="MALFORMED_REQUEST")
            certificate_id, entity_name = body.get("certificateId"), body.get("entityName")
            for name, value in (("certificateId", certificate_id), ("entityName", entity_name)):
                if not isinstance(value, str) or not value:
                    raise ApiError(400, f"{name} is required (a string)", code="MALFORMED_REQUEST", field=name)
            reason = body.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise ApiError(400, "reason is a string", code="MALFORMED_REQUEST", field="reason")
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
        return JSONResponse(_summary(record))

    async def unsuspend(self, request: Request) -> Response:
        async def work() -> Response:
            self._authorize(request, "revoke")
            entity = self._entity(request.path_params["entity"])
            return await run_in_threadpool(self._unsuspend, entity, request.path_params["certificate"])

        return await self._guard(work)

    def _unsuspend(self, entity: EntityType, certificate_id: str) -> Response:
        self._record_of(entity, certificate_id)
        record = self.issuer.unsuspend(certificate_id)
        self._changed(record)
        return JSONResponse(_summary(record))

    async def verify_divoc(self, request: Request) -> Response:
        async def work() -> Response:
            body = await self._json(request)
            credential = _credential_in(body, ("verifiableCredential", "signedCredentials", "credential"))
            result = await run_in_threadpool(self.verifier.verify, credential)
            out = result.to_dict()
            word = result.status
            out["certificateStatus"] = word if word in _DIVOC_STATUS else "INVALID"
            successor = next((p.data.get("successor") for p in result.problems if p.code == "SUPERSEDED" and p.data.get("successor")), None)
            if successor is not None:
                out["successor"] = successor
            return JSONResponse(out)

        return await self._guard(work)

    async def status_list(self, request: Request) -> Response:
        async def work() -> Response:
            base = self.store.status_base_url
            url = f"{base}{request.path_params['set']}/{request.path_params['purpose']}"
            wanted = _negotiate(request.headers.get("accept"), _CREDENTIAL_TYPES)
            credential = await run_in_threadpool(self.status.resolve, url)
            if credential is None:
                raise ApiError(404, f"no status list {url}", code="UNKNOWN_STATUS_LIST", url=url)
            return JSONResponse(credential, media_type=wanted, headers={"Cache-Control": f"public, max-age={int(self.status.ttl)}"})

        return await self._guard(work)

    # --- the W3C VC API --------------------------------------------------------------------------

    async def vc_issue(self, request: Request) -> Response:
        async def work() -> Response:
            self._authorize(request, "certify")
            credential, options = _vc_api_body(await self._json(request), "credential")
            signed = await run_in_threadpool(self._vc_issue, credential, options)
            return JSONResponse({"verifiableCredential": signed}, status_code=201)

        return await self._guard(work)

    def _vc_issue(self, credential: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        """Sign a credential the caller wrote, as this issuer, and record it.

        What is decided is read from the credential as it will be signed (its RDF: another
        spelling of a key changes nothing): the data model is checked first (what a verifier
        would refuse is not signed); what this issuer's own machinery owns is refused (status
        list credentials and any type of the status vocabularies, any URL under the store's
        status URL, the credential types of its entity types, which are issued from a checked
        payload through the certification API). Every credential issued is recorded in the store
        under its ``id`` (a ``urn:uuid:`` one is given when it has none), with entity type
        ``VerifiableCredential``; a VC 2.0 credential carries revocation and suspension entries
        unless asked not to, so that ``POST /credentials/status`` can change its status (a VC
        1.1 one when asked: see :func:`_status_purposes`). Options: the suite (``cryptosuite``:
        eddsa-rdfc-2022 or eddsa-jcs-2022; ``type``: Ed25519Signature2020; default the
        server's), and ``credentialStatus``: ``{type: "BitstringStatusListEntry",
        statusPurpose?: "revocation" | "suspension"}`` for one purpose only, or null for none."""
        ours = issuer_of(self.issuer.signer)
        if "proof" in credential:
            raise ApiError(400, "the credential has a proof already: /credentials/issue signs unsecured credentials", code="MALFORMED_REQUEST", field="proof")
        unsigned = check_unsigned(credential, self.verifier.contexts)
        if unsigned.issuer is None:
            raise ApiError(400, f"the credential names no issuer (this service issues as {ours})", code="MALFORMED_REQUEST", field="issuer")
        if unsigned.issuer != ours:
            raise ApiError(400, f"the credential's issuer {unsigned.issuer!r} is not this service's ({ours})", code="ISSUER_MISMATCH", field="issuer")
        if unsigned.problems or unsigned.version is None:
            problems = unsigned.problems
            raise ApiError(400, "; ".join(p.detail for p in problems), code="MALFORMED_VALUE_ERROR", extra={"problems": [p.to_dict() for p in problems]})
        self._refuse_owned(unsigned)
        suite = _suite_option(options, self.issuer.suite)
        purposes = _status_purposes(options, unsigned.version)
        if unsigned.has_status:
            # Another status service's entries (none may name this issuer's lists: see
            # _refuse_owned) are the caller's to keep; this issuer's own come on request only.
            if "credentialStatus" in options and options["credentialStatus"] is not None:
                raise ApiError(400, "the credential has a credentialStatus already", code="MALFORMED_REQUEST", field="credentialStatus")
            purposes = ()
        document = json.loads(json.dumps(credential))
        certificate_id = unsigned.id if unsigned.id is not None else f"urn:uuid:{uuid.uuid4()}"
        if unsigned.id is None:
            if "id" in document or "@id" in document:  # a blank node's label: nothing to record it under
                raise ApiError(400, "the credential's id must be a URL (or be left out, and one is given)", code="MALFORMED_REQUEST", field="id")
            document = {**{k: v for k, v in document.items() if k == "@context"}, "id": certificate_id, **document}
        if self.store.get(certificate_id) is not None:
            raise ApiError(409, f"a credential with id {certificate_id} is recorded already", code="DUPLICATE_CERTIFICATE_ID", certificate_id=certificate_id)
        status_list, status_index = self.store.allocate_status_positions(1)[0]
        if purposes:
            # Revocation and suspension (or the purpose asked for); not the "message" list, which
            # tells a superseded certificate from a revoked one, and these are never superseded.
            add_lifecycle(document, unsigned.version, self.store.status_base_url, status_list, status_index, None, purposes)
        signed = sign(document, self.issuer.signer, suite=suite, contexts=self.issuer.contexts, copy_document=False)
        stamp = _datetime.format(_datetime.now())
        record = Record(
            certificate_id=certificate_id, transaction_id=new_transaction_id(), entity_type="VerifiableCredential",
            credential=signed, status_list=status_list, status_index=status_index, state="VALID", created_at=stamp, updated_at=stamp,
        )
        with self.store.transaction() as tx:
            tx.insert(record)
        self._changed(record)
        return signed

    def _refuse_owned(self, unsigned: UnsignedCredential) -> None:
        """What only this issuer's own machinery may sign (issue #16: a token that could certify
        signed a status list credential with the real list's id and an all-zero list, which
        turned a revoked credential VALID for a verifier holding it)."""
        status_types = sorted(unsigned.types & _STATUS_LIST_TYPES)
        if status_types:
            raise ApiError(
                400, f"the credential holds {status_types[0]}: status lists are this issuer's own, signed from its store",
                code="RESERVED_BY_ISSUER", field="type",
            )
        base = self.store.status_base_url
        inside = sorted(iri for iri in unsigned.iris if iri.startswith(base))
        if inside:
            raise ApiError(
                400, f"the credential names {inside[0]}, under this issuer's status lists ({base})", code="RESERVED_BY_ISSUER", field="id",
            )
        entity = next((name for kind, name in self._entity_credential_types.items() if kind in unsigned.types), None)
        if entity is not None:
            raise ApiError(
                400, f"{entity} credentials are issued from a payload its schema checks: POST /vc-certification/v1/certify/{entity}",
                code="RESERVED_BY_ISSUER", field="type",
            )

    async def vc_status(self, request: Request) -> Response:
        async def work() -> Response:
            self._authorize(request, "revoke")
            body = await self._json(request)
            if not isinstance(body, dict):
                raise ApiError(400, "the body is {credentialId, credentialStatus: {type, statusPurpose}, status}", code="MALFORMED_REQUEST")
            credential_id, entry, status = body.get("credentialId"), body.get("credentialStatus"), body.get("status")
            if not isinstance(credential_id, str) or not credential_id:
                raise ApiError(400, "credentialId is required (a string)", code="MALFORMED_REQUEST", field="credentialId")
            if not isinstance(entry, dict) or entry.get("type") not in ("BitstringStatusListEntry", "BitstringStatusList"):
                raise ApiError(400, 'credentialStatus is {"type": "BitstringStatusListEntry", "statusPurpose": ...}', code="MALFORMED_REQUEST", field="credentialStatus")
            purpose = entry.get("statusPurpose")
            if purpose not in ("revocation", "suspension"):
                raise ApiError(400, f"credentialStatus.statusPurpose is revocation or suspension, not {purpose!r}", code="MALFORMED_REQUEST", field="credentialStatus.statusPurpose")
            if not isinstance(status, bool):
                raise ApiError(400, "status is true (set) or false (clear)", code="MALFORMED_REQUEST", field="status")
            return await run_in_threadpool(self._vc_status, credential_id, str(purpose), status)

        return await self._guard(work)

    def _vc_status(self, credential_id: str, purpose: str, status: bool) -> Response:
        record = self.store.get(credential_id)
        if record is None:
            raise ApiError(404, f"no credential {credential_id} is recorded", code="UNKNOWN_CERTIFICATE", certificate_id=credential_id)
        # The record's credential is this issuer's own, as it signed it: which of its lists it is
        # on (entries of another status service, which a caller may bring, are not this issuer's
        # to set: setting its own bit would say REVOKED here and change nothing for verifiers).
        entries = record.credential.get("credentialStatus", [])
        base = self.store.status_base_url
        purposes = {
            e.get("statusPurpose") for e in (entries if isinstance(entries, list) else [entries])
            if isinstance(e, dict) and str(e.get("statusListCredential", "")).startswith(base)
        }
        if purpose not in purposes:
            raise ApiError(409, f"credential {credential_id} has no {purpose} entry", code="INVALID_TRANSITION", certificate_id=credential_id)
        if purpose == "revocation" and not status:
            raise ApiError(409, "a revocation is final: it cannot be cleared", code="INVALID_TRANSITION", certificate_id=credential_id)
        if purpose == "revocation":
            changed = self.issuer.revoke(credential_id)
        elif status:
            changed = self.issuer.suspend(credential_id)
        else:
            changed = self.issuer.unsuspend(credential_id)
        self._changed(changed)
        return JSONResponse(_summary(changed))

    async def vc_verify(self, request: Request) -> Response:
        async def work() -> Response:
            credential, _ = _vc_api_body(await self._json(request), "verifiableCredential")
            result = await run_in_threadpool(self.verifier.verify, credential)
            report = {
                "verified": result.verified,
                "checks": ["proof", *(["credentialStatus"] if credential.get("credentialStatus") else [])],
                "warnings": [p.to_dict() for p in result.warnings],
                "errors": [p.to_dict() for p in result.problems],
            }
            if result.verified:
                return JSONResponse(report)
            first = result.problems[0] if result.problems else None
            return problem(
                400, result.status, f"the credential does not verify: {first.detail if first else 'no accepted proof'}", **report
            )

        return await self._guard(work)


    async def vp_verify(self, request: Request) -> Response:
        async def work() -> Response:
            presentation, options = _vc_api_body(await self._json(request), "verifiablePresentation")
            for name in ("challenge", "domain"):
                if options.get(name) is not None and not isinstance(options[name], str):
                    raise ApiError(400, f"options.{name} is a string", code="MALFORMED_REQUEST", field=f"options.{name}")
            result = await run_in_threadpool(
                lambda: self.verifier.verify_presentation(presentation, challenge=options.get("challenge"), domain=options.get("domain"))
            )
            errors = [p.to_dict() for p in result.presentation.problems]
            for index, credential in enumerate(result.credentials):
                errors += [{**p.to_dict(), "credential": index} for p in credential.problems]
            report = {
                "verified": result.verified,
                "checks": ["proof"] if "proof" in presentation else [],
                "warnings": [p.to_dict() for p in result.presentation.warnings] + [w.to_dict() for c in result.credentials for w in c.warnings],
                "errors": errors,
                "credentialResults": [c.to_dict() for c in result.credentials],
            }
            if result.verified:
                return JSONResponse(report)
            first = errors[0]["detail"] if errors else "no accepted proof"
            return problem(400, "INVALID", f"the presentation does not verify: {first}", **report)

        return await self._guard(work)


def _entity_credential_types(issuer: Issuer) -> dict[str, str]:
    """The type IRIs of the credentials each entity type issues (other than VerifiableCredential),
    as its templates' contexts expand them: IRI -> entity type name."""
    out: dict[str, str] = {}
    for name, entity_type in issuer.entity_types.items():
        for template in entity_type.templates.values():
            probe = {"@context": template["@context"], "type": template["type"]}
            try:
                quads = to_quads(probe, contexts=entity_type.context_loader(issuer.contexts), safe=True)
            except VccoreError:
                continue  # a type vccore cannot read is one it cannot issue either
            for _, predicate, obj, _ in quads:
                if predicate == "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>" and obj != "<https://www.w3.org/2018/credentials#VerifiableCredential>":
                    out[obj[1:-1]] = name
    return out


def _vc_api_body(body: Any, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A VC API request's ``{<name>: object, options?: object}``: the object and the options."""
    if not isinstance(body, dict) or not isinstance(body.get(name), dict):
        raise ApiError(400, f"the body is {{{name}, options?}}, the {name} a JSON object", code="MALFORMED_REQUEST", field=name)
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise ApiError(400, "options is a JSON object", code="MALFORMED_REQUEST", field="options")
    return body[name], options


# Status list credentials and their subjects, in the vocabularies that have them (Bitstring
# Status List, StatusList2021, RevocationList2020): only the issuer's store makes these.
_STATUS_LIST_TYPES: Final = frozenset(
    f"{vocabulary}{name}"
    for vocabulary, names in (
        ("https://www.w3.org/ns/credentials/status#", ("BitstringStatusListCredential", "BitstringStatusList")),
        ("https://w3id.org/vc/status-list#", ("StatusList2021Credential", "StatusList2021")),
        ("https://w3id.org/vc-revocation-list-2020#", ("RevocationList2020Credential", "RevocationList2020")),
    )
    for name in names
)


def _status_purposes(options: dict[str, Any], version: str) -> tuple[str, ...]:
    """The status entries a VC API issue request asks for: revocation and suspension unless
    ``options.credentialStatus`` names one purpose, or is null (none). A VC 1.1 credential has
    them on request only: its entries need the status list context added to its ``@context``,
    which its verifiers must then hold (the W3C suites' verifiers do not)."""
    if "credentialStatus" not in options:
        return ("revocation", "suspension") if version == "2.0" else ()
    wanted = options["credentialStatus"]
    if wanted is None:
        return ()
    if not isinstance(wanted, dict) or wanted.get("type") != "BitstringStatusListEntry":
        raise ApiError(400, 'options.credentialStatus is {"type": "BitstringStatusListEntry"}, the one status vccore gives', code="MALFORMED_REQUEST", field="options.credentialStatus")
    purpose = wanted.get("statusPurpose")
    if purpose not in (None, "revocation", "suspension"):
        raise ApiError(400, f"options.credentialStatus.statusPurpose is revocation or suspension, not {purpose!r}", code="MALFORMED_REQUEST", field="options.credentialStatus.statusPurpose")
    return ("revocation", "suspension") if purpose is None else (str(purpose),)


def _suite_option(options: dict[str, Any], default: str | Suite) -> str | Suite:
    """The suite a VC API issue request asks for in its options, or ``default``."""
    cryptosuite, kind = options.get("cryptosuite"), options.get("type")
    if cryptosuite is None and kind in (None, "DataIntegrityProof"):
        return default
    name = cryptosuite if cryptosuite is not None else kind
    if name not in ("eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020") or (cryptosuite is not None and kind not in (None, "DataIntegrityProof")):
        raise ApiError(
            400, f"this service signs with eddsa-rdfc-2022, eddsa-jcs-2022 or Ed25519Signature2020, not {name!r}",
            code="UNSUPPORTED_SUITE", field="options",
        )
    return str(name)


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
                        raise ApiError(400, f"{name} is not JSON: {exc}", code="MALFORMED_REQUEST", field=name) from None
                if isinstance(inner, dict):
                    return inner
                raise ApiError(400, f"{name} is a credential (a JSON object)", code="MALFORMED_REQUEST", field=name)
        return body
    raise ApiError(400, "the body is a credential (a JSON object)", code="MALFORMED_REQUEST")


def _end_date(value: Any) -> datetime | None:
    """``endDate``: an ISO 8601 time with a zone, or a date (the suspension ends as it begins, UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "endDate is a date (YYYY-MM-DD) or a time with a zone", code="MALFORMED_REQUEST", field="endDate")
    try:
        if len(value) == 10:
            return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), day_start(0), tzinfo=timezone.utc)
        moment = _datetime.parse(value)
    except (ValueError, VccoreError):
        raise ApiError(400, f"endDate {value!r} is not a date (YYYY-MM-DD) or a time with a zone", code="MALFORMED_REQUEST", field="endDate") from None
    try:
        moment.astimezone(timezone.utc)  # the store keeps it in UTC
    except OverflowError:
        raise ApiError(400, f"endDate {value!r} is outside the years 1 to 9999 in UTC", code="MALFORMED_REQUEST", field="endDate") from None
    return moment


def _summary(record: Record) -> dict[str, Any]:
    return {k: v for k, v in record.to_dict().items() if k != "credential"}


def _negotiate(accept: str | None, offered: tuple[str, ...], *, default: str = "application/json") -> str:
    """The offered media type the ``Accept`` header prefers (RFC 9110 section 12.5.1: by
    q-value, then the more specific range, then the order given); ``default`` for no header or
    ``*/*``; 406 when it accepts none of ``offered``."""
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
        raise ApiError(406, f"none of {accept!r} can be given; this resource is one of {', '.join(offered)}", code="NOT_ACCEPTABLE")
    return best[3]


def _certificate_response(record: Record, media: str, issuer: Issuer) -> Response:
    if media in _CREDENTIAL_TYPES:
        return JSONResponse(record.credential, media_type=media)
    if media == "text/html":
        return HTMLResponse(render.certificate_html(record.credential, entity_types=issuer.entity_types))
    symbol = qr.make(record.credential)
    if media == "image/png":
        return Response(symbol.png(), media_type="image/png")
    return Response(symbol.svg_document(), media_type="image/svg+xml")


def openapi(issuer: Issuer) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API, with each entity type's payload schema."""
    from .openapi import document

    return document(issuer, status_path=_url_path(issuer.store.status_base_url), list_size=LIST_SIZE)


"""What the routes of both APIs share: the service's state, and the helpers every handler uses."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from .. import _json
from ..codes import ErrorCode
from ..entities import EntityType
from ..errors import VccoreError
from ..issuer import Issuer, resolve_entity_type
from ..results import VerificationResult
from ..store import Record
from ..verify import Verifier
from ._group_commit import GroupCommitter
from ._responses import STATUS_FOR, ApiError, problem
from ._status_cache import StatusCache, ascii_digits
from .auth import AuthError, Authorizer, authorize, bearer_token, misspelt_authorization

# What a verification may spend in the event loop (see Handlers._verify): a credential the
# reference path reads holds some 50-150 JSON values and ties no blank nodes; at these bounds the
# worst one stalls the loop for about 10-20 ms before going to a thread (WorkBudget's figures).
_QUICK_JSON_VALUES: Final = 500
_QUICK_RDFC_WORK: Final = 2_000

__all__ = ["MAX_BODY", "Handlers", "Service", "credential_in", "read_body", "read_json"]

MAX_BODY: Final = 1 << 20

_log: Final = logging.getLogger("vccore.http")


async def read_body(request: Request) -> bytes:
    """The request's body, at most :data:`MAX_BODY` bytes (413), read as it streams in."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not ascii_digits(declared, 20):
            raise ApiError(
                400,
                f"Content-Length {json.dumps(declared)} is not a number of bytes",
                code=ErrorCode.MALFORMED_REQUEST,
                field="Content-Length",
            )
        if int(declared) > MAX_BODY:
            raise ApiError(
                413, f"the body is larger than {MAX_BODY} bytes", code=ErrorCode.BODY_TOO_LARGE, limit=MAX_BODY
            )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(
                413, f"the body is larger than {MAX_BODY} bytes", code=ErrorCode.BODY_TOO_LARGE, limit=MAX_BODY
            )
    return bytes(body)


async def read_json(request: Request) -> Any:
    """The request's body as strict JSON (:func:`read_body`), else a 400 that says why."""
    return _body_json(await read_body(request))


def _body_json(body: bytes) -> Any:
    try:
        return _json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not JSON: {exc}", code=ErrorCode.MALFORMED_REQUEST) from None


async def credential_of(request: Request, verifier: Verifier, wrappers: tuple[str, ...]) -> dict[str, Any] | bytes:
    """The credential of a verify request (:func:`credential_in`), or the body's bytes as they
    are when they are a credential laid out as one ``verifier`` has verified from its text (it
    then reads them without parsing: :meth:`Verifier.knows_text`).
    """
    body = await read_body(request)
    return body if verifier.knows_text(body) else credential_in(_body_json(body), wrappers)


def parsed(credential: dict[str, Any] | bytes) -> dict[str, Any]:
    """What :func:`credential_of` gave, as JSON (its bytes were a credential: a JSON object)."""
    return credential if isinstance(credential, dict) else cast("dict[str, Any]", _json.loads(credential))


def credential_in(body: Any, wrappers: tuple[str, ...]) -> dict[str, Any]:
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


@dataclass(frozen=True)
class Service:
    """The state the routes of both APIs share, made once by :func:`~vccore.http.create_app`: the
    issuer (and its store), who may call, the verifier of the verify routes, the status lists.
    """

    issuer: Issuer
    authorizer: Authorizer
    verifier: Verifier
    status: StatusCache
    committer: GroupCommitter = field(init=False)
    """Certifies the certify requests in hand at once together (one transaction, one sync)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "committer", GroupCommitter(self.issuer))


class Handlers:
    """Route handlers over a :class:`Service`, with the helpers they use; each API subclasses it."""

    def __init__(self, service: Service) -> None:
        self.issuer = service.issuer
        self.authorizer = service.authorizer
        self.verifier = service.verifier
        self.status = service.status
        self.store = service.issuer.store
        self.committer = service.committer

    # --- helpers -------------------------------------------------------------------------------

    def _authorize(self, request: Request, scope: str, entity: str | None = None) -> str:
        """Who calls, if their token grants ``scope`` (on entity type ``entity``, when the call is
        on one: a roles mapping can limit a tenant's role to its own entity types).
        """
        header = request.headers.get("authorization")
        try:
            return authorize(self.authorizer, bearer_token(header), scope, entity)
        except AuthError as exc:
            misspelt = misspelt_authorization(request.headers.keys()) if header is None else None
            if misspelt is None or exc.details.get("token") != "missing":
                raise
            raise misspelt from None

    async def _json(self, request: Request) -> Any:
        return await read_json(request)

    async def _verify(self, credential: Any) -> VerificationResult:
        """The verifier's verdict on ``credential``: in the event loop when it takes little work
        (a credential of a compiled shape, its status lists cached: about 0.2 ms, less than the
        hop to a thread and back), else in a thread, with a request's whole budget.
        """
        quick = self.verifier.verify_bounded(credential, json_values=_QUICK_JSON_VALUES, rdfc_work=_QUICK_RDFC_WORK)
        return quick if quick is not None else await run_in_threadpool(self.verifier.verify, credential)

    def _entity_name(self, name: str) -> str:
        """The entity type a route names, by its own name (an alias resolved), for the authorizer;
        ``name`` itself when there is none such (the call fails later, as it would have).
        """
        try:
            return resolve_entity_type(name, self.issuer.entity_types).name
        except VccoreError:
            return name

    def _entity(self, name: str) -> EntityType:
        try:
            return resolve_entity_type(name, self.issuer.entity_types)
        except VccoreError as exc:
            raise ApiError(404, exc.message, code=ErrorCode.UNKNOWN_ENTITY_TYPE, entity=name) from None

    def _record_of(self, entity: EntityType, certificate_id: str) -> Record:
        record = self.store.get(certificate_id)
        if record is None or record.entity_type != entity.name:
            raise ApiError(
                404,
                f"no {entity.name} certificate {certificate_id}",
                code=ErrorCode.UNKNOWN_CERTIFICATE,
                certificate_id=certificate_id,
            )
        return record

    @staticmethod
    async def _guard(
        work: Callable[[], Awaitable[Response]], *, correlation: Mapping[str, str] | None = None
    ) -> Response:
        """Run a handler; vccore's errors become problem details, and so does a fault nobody
        foresaw (500, its traceback in the log, never in the answer). ``correlation``: the ids of
        the request (a transactionId, a credentialId), read when it fails (a handler may add to
        it as it reads the request), given in every problem but a refused token's (the request
        was not read).
        """
        try:
            return await work()
        except AuthError as exc:
            return problem(exc.status, exc)
        except ApiError as exc:
            return problem(exc.status, exc, **{**exc.extra, **(correlation or {})})
        except VccoreError as exc:
            return problem(STATUS_FOR.get(exc.code, 400), exc, **(correlation or {}))
        except ClientDisconnect:
            raise
        except Exception:  # noqa: BLE001 (whatever it is, the caller gets problem details and the log the traceback)
            ids = dict(correlation or {})
            transaction_id = ids.get("transactionId")
            reference = f"transactionId {transaction_id}" if transaction_id else f"reference {uuid.uuid4()}"
            _log.exception("an unexpected error answered 500 (%s)", reference)
            return problem(
                500,
                ErrorCode.VCCORE_ERROR,
                f"the server failed on this request (an unexpected error): its log has it under {reference}",
                **ids,
            )

    def _changed(self, record: Record) -> None:
        self.status.invalidate(record.status_list)

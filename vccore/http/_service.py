"""What the routes of both APIs share: the service's state, and the helpers every handler uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from .. import _json
from ..codes import ErrorCode
from ..entities import EntityType
from ..errors import VccoreError
from ..issuer import Issuer, resolve_entity_type
from ..store import Record
from ..verify import Verifier
from ._responses import STATUS_FOR, ApiError, problem
from ._status_cache import StatusCache, ascii_digits
from .auth import AuthError, Authorizer, bearer_token

__all__ = ["MAX_BODY", "Handlers", "Service"]

MAX_BODY: Final = 1 << 20


@dataclass(frozen=True)
class Service:
    """The state the routes of both APIs share, made once by :func:`~vccore.http.create_app`: the
    issuer (and its store), who may call, the verifier of the verify routes, the status lists.
    """

    issuer: Issuer
    authorizer: Authorizer
    verifier: Verifier
    status: StatusCache


class Handlers:
    """Route handlers over a :class:`Service`, with the helpers they use; each API subclasses it."""

    def __init__(self, service: Service) -> None:
        self.issuer = service.issuer
        self.authorizer = service.authorizer
        self.verifier = service.verifier
        self.status = service.status
        self.store = service.issuer.store

    # --- helpers -------------------------------------------------------------------------------

    def _authorize(self, request: Request, scope: str) -> str:
        return self.authorizer.check(bearer_token(request.headers.get("authorization")), scope)

    async def _json(self, request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not ascii_digits(declared, 20):
                raise ApiError(
                    400,
                    f"Content-Length {declared!r} is not a number of bytes",
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
        try:
            return _json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the body is not JSON: {exc}", code=ErrorCode.MALFORMED_REQUEST) from None

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
    async def _guard(work: Callable[[], Awaitable[Response]]) -> Response:
        """Run a handler; vccore's errors become problem details (never a stack trace)."""
        try:
            return await work()
        except AuthError as exc:
            return problem(exc.status, exc)
        except ApiError as exc:
            return problem(exc.status, exc, **exc.extra)
        except VccoreError as exc:
            return problem(STATUS_FOR.get(exc.code, 400), exc)

    def _changed(self, record: Record) -> None:
        self.status.invalidate(record.status_list)

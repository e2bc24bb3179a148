"""DIVOC's template routes (vc-management-service ``/v1/templates``).

Its tenant portal uses them to upload a certificate template and to show one for editing:

- ``POST /vc-management/v1/templates/{tenant}`` (the form field ``files``): the template kept in
  the store by its sha256 and served at ``/templates/sha256/{sha256}`` (DIVOC: in MinIO, through
  the registry), answered as ``{"message", "uploadTemplateResponse": {"documentLocations": [URL]}}``;
- ``GET /vc-management/v1/templates?template=URL``: ``{"htmlData": "<the template's text>"}``.

Where vccore differs: both need a token with ``manage`` (DIVOC's GET takes none, and fetches any
URL it is given for anyone: a server-side request forgery); a template uploaded here is read from
the store, another http(s) URL fetched once within 1 MiB and 2 s, and a ``minio://`` one refused
(vccore does not reach MinIO).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _datetime
from ..codes import ErrorCode
from ..errors import TemplateError
from ._responses import ApiError
from ._schema_records import MANAGE, TEMPLATE_PATH, check_template_url, form_file, tenant_templates
from ._service import Handlers, Service

__all__ = ["TEMPLATES_PATH", "TemplatesApi", "openapi_paths"]

TEMPLATES_PATH: Final = "/vc-management/v1/templates"
_TENANT: Final = re.compile(r"[A-Za-z]+")  # DIVOC's isValidTenantName


class TemplatesApi(Handlers):
    """DIVOC's template upload and read, over the store's documents."""

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        self.templates = tenant_templates(self.store)

    def routes(self) -> list[Route]:
        """The two routes."""
        return [
            Route(TEMPLATES_PATH, self.read, methods=["GET"]),
            Route(TEMPLATES_PATH + "/{tenant}", self.upload, methods=["POST"]),
        ]

    async def upload(self, request: Request) -> Response:
        """``POST /vc-management/v1/templates/{tenant}``: keep the template of the field ``files``."""

        async def work() -> Response:
            self._authorize(request, MANAGE)
            tenant = request.path_params["tenant"]
            if not _TENANT.fullmatch(tenant):
                raise ApiError(400, "tenant invalid: letters only", code=ErrorCode.MALFORMED_REQUEST, field="tenant")
            data, media_type = await form_file(request)
            digest = hashlib.sha256(data).hexdigest()
            kind = media_type if media_type in ("text/html", "image/svg+xml") else "text/html"
            at = _datetime.format(_datetime.now())
            await run_in_threadpool(self.store.put_document, digest, "template", kind, data, at=at)
            url = str(request.base_url).rstrip("/") + TEMPLATE_PATH + digest
            message = "Successfully uploaded template"
            return JSONResponse({"message": message, "uploadTemplateResponse": {"documentLocations": [url]}})

        return await self._guard(work)

    async def read(self, request: Request) -> Response:
        """``GET /vc-management/v1/templates?template=URL``: the template's text, as ``htmlData``."""

        async def work() -> Response:
            self._authorize(request, MANAGE)
            url = request.query_params.get("template") or ""
            if not url:
                raise ApiError(
                    400, "template: give the template's URL", code=ErrorCode.MALFORMED_REQUEST, field="template"
                )
            check_template_url(url, "template")
            try:
                text = await run_in_threadpool(self.templates.template_text, url)
            except TemplateError as exc:  # the URL's server, not the request: a bad gateway
                raise ApiError(502, exc.message, code=exc.code, **exc.details) from None
            return JSONResponse({"htmlData": text})

        return await self._guard(work)


def openapi_paths(problems: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI path items of these routes (``problems``: the document's problem answers)."""
    answer = {"description": "DIVOC's answer", "content": {"application/json": {"schema": {"type": "object"}}}}
    security = [{"bearer": [MANAGE]}]
    form = {"required": True, "content": {"multipart/form-data": {"schema": {"type": "object"}}}}

    def parameter(name: str, where: str) -> dict[str, Any]:
        return {"name": name, "in": where, "required": True, "schema": {"type": "string"}}

    return {
        TEMPLATES_PATH: {
            "get": {
                "summary": "A template's text ({htmlData}) by its URL (query template)",
                "parameters": [parameter("template", "query")],
                "responses": {"200": answer, **problems(400, 401, 403, 502)},
                "security": security,
            }
        },
        TEMPLATES_PATH + "/{tenant}": {
            "post": {
                "summary": "Upload a certificate template (form field files): its URL in documentLocations",
                "parameters": [parameter("tenant", "path")],
                "requestBody": form,
                "responses": {"200": answer, **problems(400, 401, 403, 413)},
                "security": security,
            }
        },
    }

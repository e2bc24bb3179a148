"""Sunbird RC's certificate-api on HTTP (``vccore serve --certificate-api``): a drop-in for the
``sunbird-rc-certificate-api`` container (v0.0.13) that DIVOC 3.x and Sunbird RC registries call
for the page of a credential.

Routes as the original matches them, by method and path prefix (the registry posts to
``/api/v1/certificatePDF``), the query string and the ``Authorization`` header ignored:

- ``GET /health...``: ``OK``;
- ``POST /api/v1/certificate...`` with ``Accept`` exactly ``application/pdf`` (an A4 PDF),
  ``text/html`` or ``image/svg+xml`` (the rendered page), and the body ``{"certificate": "<the
  credential's JSON text>", "templateUrl", "entityId"?, "entityName"?}``;
- anything else: 404 ``Not found``.

An empty body or ``{}`` is 400 ``Bad request``, an empty or missing ``certificate`` or
``templateUrl`` 400 ``Required parameters missing`` (text, as the original). Where the original
answers 500 with no body (a template that cannot be fetched, does not parse, or a certificate
that is not JSON), this answers problem details with a code: 502 ``TEMPLATE_FETCH``, 503
``RENDER_ERROR`` (the PDF printer: no Chromium, a page over its time), else 400.
Only the template URL is fetched (1 MiB within 2 s, cached by URL); the page is printed with no
network and no script, and a page served as HTML or SVG goes with a Content-Security-Policy that
forbids both. Logged: the route, the status and the error code; never a request's data.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..certificate_templates import PAGE_SECURITY_HEADERS, CertificateTemplates, print_page
from ..codes import ErrorCode
from ..errors import VccoreError
from ._responses import ApiError, drop_in_app, drop_in_refusal
from ._service import read_json

__all__ = ["PAGE_TYPES", "create_certificate_api_app"]

_log: Final = logging.getLogger("vccore.http.certificate_api")

_STATUS: Final = {ErrorCode.TEMPLATE_FETCH: 502, ErrorCode.RENDER_ERROR: 503}
PAGE_TYPES: Final = ("application/pdf", "text/html", "image/svg+xml")
"""The ``Accept`` values answered, compared exactly as the original compares them."""


def create_certificate_api_app(templates: CertificateTemplates) -> Starlette:
    """The ASGI application answering the certificate-api's routes with ``templates``."""

    async def answer(request: Request) -> Response:
        return await _answer(templates, request, request.url.path)

    return drop_in_app(answer, _log)


async def _answer(templates: CertificateTemplates, request: Request, path: str) -> Response:
    accept = request.headers.get("accept")
    if request.method == "GET" and path.startswith("/health"):
        return PlainTextResponse("OK")
    if request.method != "POST" or not path.startswith("/api/v1/certificate") or accept not in PAGE_TYPES:
        return PlainTextResponse("Not found", status_code=404)
    try:
        body = await _body(request)
        if not isinstance(body, dict) or not body:
            return PlainTextResponse("Bad request", status_code=400)
        certificate, url = body.get("certificate"), body.get("templateUrl")
        if not isinstance(certificate, str) or not isinstance(url, str) or not certificate or not url:
            return PlainTextResponse("Required parameters missing", status_code=400)
        entity_id, entity_name = body.get("entityId"), body.get("entityName")
        for name, value in (("entityId", entity_id), ("entityName", entity_name)):
            if value is not None and not isinstance(value, str):
                raise ApiError(400, f"{name} must be a string", code=ErrorCode.MALFORMED_REQUEST, field=name)
        # fetching is I/O and printing a subprocess: both go to a worker thread
        page = await run_in_threadpool(
            templates.render_url, url, certificate, entity_id=entity_id, entity_name=entity_name
        )
        if accept == "application/pdf":
            return Response(await run_in_threadpool(print_page, page), media_type="application/pdf")
        return Response(page, media_type=f"{accept}; charset=utf-8", headers=PAGE_SECURITY_HEADERS)
    except ApiError as exc:
        return drop_in_refusal(exc.status, exc)
    except VccoreError as exc:
        # the template's server is upstream (502); the printer (no Chromium, a page over its time) ours (503)
        return drop_in_refusal(_STATUS.get(exc.code, 400), exc)
    except Exception:  # noqa: BLE001 (a fault of ours, answered without the request's data, which is not logged)
        _log.exception("certificate-api: unexpected error")
        return PlainTextResponse("Error occurred", status_code=500)


async def _body(request: Request) -> Any:
    """The JSON body; an empty one is None (the original's ``Bad request``)."""
    if request.headers.get("content-length") == "0":
        return None
    return await read_json(request)

"""Sunbird RC's certificate-signer on HTTP (``vccore serve --sunbird-signer``): a drop-in for the
``sunbird-rc-certificate-signer`` container that DIVOC 3.x and Sunbird RC registries call.

Routes as the original's matches them, by method and path prefix, query strings and the
``Authorization`` header ignored:

- ``GET /health...``: ``OK`` (the registry upper-cases the body and accepts ``UP`` or ``OK``);
- ``POST /sign...``: ``{"data", "credentialTemplate"}`` -> the signed credential (compact JSON,
  ``proof`` last);
- ``POST /verify...``: ``{"signedCredentials", "publicKey"?}`` -> ``{"verified", "results",
  "error"?}`` as jsonld-signatures 6 answers, with vccore's ``problems`` and ``warnings``;
- anything else: 404 ``{"error": "Not Found"}``.

Stateless: no store, so that many instances can stand behind a load balancer. A refusal is JSON,
problem details with the original's ``error`` and ``message`` beside (the original answers a
400 as the bare text ``Bad request`` and a rendering fault as 500). What is logged: the route,
the status and the error code; never a request's data.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..codes import ErrorCode
from ..errors import VccoreError
from ..sunbird import SunbirdSigner
from ._responses import ApiError, drop_in_app, drop_in_refusal
from ._service import read_json

__all__ = ["create_signer_app"]

_log: Final = logging.getLogger("vccore.http.signer")

# A template the request names by URL that cannot be fetched is the upstream's fault: 502.
_STATUS: Final = {ErrorCode.TEMPLATE_FETCH: 502}


def create_signer_app(signer: SunbirdSigner) -> Starlette:
    """The ASGI application answering the certificate-signer's three routes with ``signer``."""

    async def answer(request: Request) -> Response:
        return await _answer(signer, request, request.url.path)

    return drop_in_app(answer, _log)


async def _answer(signer: SunbirdSigner, request: Request, path: str) -> Response:
    try:
        if request.method == "GET" and path.startswith("/health"):
            return PlainTextResponse("OK")
        if request.method == "POST" and path.startswith("/sign"):
            body = await read_json(request)
            # Signing is CPU work: a worker thread would only add a hop and contend for the GIL.
            # Fetching a template is I/O, and goes to one.
            if signer.needs_fetch(body):
                return _text(await run_in_threadpool(signer.sign_request, body))
            return _text(signer.sign_request(body))
        if request.method == "POST" and path.startswith("/verify"):
            return _json(signer.verify_request(await read_json(request)))
        return JSONResponse({"error": "Not Found"}, status_code=404)
    except ApiError as exc:
        return drop_in_refusal(exc.status, exc)
    except VccoreError as exc:
        return drop_in_refusal(_STATUS.get(exc.code, 400), exc)
    except Exception:  # noqa: BLE001 (a fault of ours, answered as JSON without the request's data, which is not logged)
        _log.exception("signer: unexpected error on %s", path.split("/")[1] if "/" in path else path)
        return JSONResponse(
            {"error": "Internal Server Error", "message": "the signer failed; see its log"}, status_code=500
        )


def _text(text: str) -> Response:
    return Response(text.encode("utf-8", "surrogatepass"), media_type="application/json")


def _json(data: Any) -> Response:
    # compact and not ASCII-escaped, as JSON.stringify writes it
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return Response(body, media_type="application/json")

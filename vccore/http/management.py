"""DIVOC's management routes a verifier or a tenant's people read: the contexts credentials name
(``/vc-management/v1/context/{osid}``, and every pinned context by its sha256), and the API's
description at DIVOC's ``api-docs`` paths.

DIVOC serves a tenant's context from its store at ``<ROOT_URL>/vc-management/v1/context/<osid>``
and puts that URL in the ``@context`` of the credentials it signs. vccore signs only with pinned
contexts, so it serves exactly those: every context it has pinned (the issuer's loader and its
entity types' ``entity.json``) whose URL has that path, on whatever host the URL names, byte for
byte as pinned, so that a verifier resolving the URL gets the document whose sha256 was pinned;
and the contexts tenants upload (``POST /vc-management/v1/context``, :mod:`vccore.http.schemas`),
kept in the store under their id and never changed there.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..codes import ErrorCode
from ..contexts import ContextLoader, bundled_contexts
from ..entities import EntityType
from ..errors import ContextError
from ._responses import ApiError, negotiate
from ._service import Handlers, Service

__all__ = ["CONTEXT_PATH", "DIGEST_PATH", "ManagementApi"]

CONTEXT_PATH: Final = "/vc-management/v1/context/"
"""The path under which DIVOC serves a tenant's contexts (its vc-management-service, ``v1/context``)."""
DIGEST_PATH: Final = "/contexts/sha256/"
"""vccore's own path for every pinned context, by the sha256 of its bytes."""
API_DOCS: Final = ("/vc-certification/api-docs", "/vc-management/api-docs")
"""DIVOC's two services' swagger-ui paths (each service's ``BASE_URL`` + ``api-docs``)."""

_LD_JSON: Final = "application/ld+json"
_BY_URL_CACHE: Final = "public, max-age=3600"  # the bytes under a URL change only with a new deployment's pins
_BY_DIGEST_CACHE: Final = "public, max-age=31536000, immutable"  # the bytes under a digest never change
_DOCS_TYPES: Final = ("text/html", "application/json", "application/vnd.oai.openapi+json")

_log: Final = logging.getLogger("vccore.http")


@dataclass(frozen=True, slots=True)
class _Served:
    """A pinned context as the routes serve it."""

    url: str
    data: bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class _Index:
    """The pinned contexts of one set of entity types, by DIVOC id and by digest."""

    loader: ContextLoader | None
    types: tuple[EntityType, ...]
    by_id: Mapping[str, tuple[_Served, ...]]
    by_folded_id: Mapping[str, tuple[_Served, ...]]
    by_digest: Mapping[str, _Served]


class ManagementApi(Handlers):
    """The public context routes and the ``api-docs`` pages. ``openapi``: the service's OpenAPI
    document, made when asked for (the entity types it names may change while the server runs).
    """

    def __init__(self, service: Service, *, openapi: Callable[[], dict[str, Any]]) -> None:
        super().__init__(service)
        self._openapi = openapi
        self._index: _Index | None = None
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        """The routes, in the order they are matched."""
        return [
            Route(CONTEXT_PATH + "{osid}", self.context, methods=["GET"]),
            Route(DIGEST_PATH + "{sha256}", self.context_by_digest, methods=["GET"]),
            *(Route(path, self.api_docs, methods=["GET"]) for path in API_DOCS),
        ]

    async def context(self, request: Request) -> Response:
        """``GET /vc-management/v1/context/{osid}``: the pinned context whose URL has this path, else
        the context uploaded under this id (public).
        """
        osid = request.path_params["osid"]

        async def work() -> Response:
            index = await run_in_threadpool(self._current)
            # Express matches paths regardless of case: the id as given, else the one case-folded
            found = index.by_id.get(osid) or index.by_folded_id.get(osid.casefold(), ())
            distinct = {served.sha256: served for served in found}
            if len(distinct) > 1:  # the same path pinned on several hosts: the one this request is for
                host = (request.url.hostname or "").lower()
                here = {s.sha256: s for s in found if (urlsplit(s.url).hostname or "").lower() == host}
                distinct = here or distinct
            if not distinct:
                # a context a tenant uploaded (POST /vc-management/v1/context), not yet in a type
                uploaded = await run_in_threadpool(_uploaded, self.store, osid)
                if uploaded is not None:
                    return _document(request, uploaded, _BY_URL_CACHE)
                raise ApiError(
                    404,
                    f"no context {osid} is pinned on this server: it serves {CONTEXT_PATH}{osid} when an entity "
                    f"type pins a context at a URL with that path (the contexts of its entity.json)",
                    code=ErrorCode.UNKNOWN_CONTEXT,
                    osid=osid,
                )
            if len(distinct) > 1:
                urls = sorted(served.url for served in found)
                raise ApiError(
                    409,
                    f"context {osid} is pinned with different bytes at {', '.join(urls)}: ask for it at its "
                    f"host, or by its sha256 at {DIGEST_PATH}<sha256>",
                    code=ErrorCode.CONTEXT_DIGEST_MISMATCH,
                    osid=osid,
                    extra={"urls": urls, "sha256": sorted(distinct)},
                )
            [served] = distinct.values()
            return _document(request, served, _BY_URL_CACHE)

        return await self._guard(work)

    async def context_by_digest(self, request: Request) -> Response:
        """``GET /contexts/sha256/{sha256}``: any pinned context, by the sha256 of its bytes (public)."""
        digest = request.path_params["sha256"].lower()

        async def work() -> Response:
            served = (await run_in_threadpool(self._current)).by_digest.get(digest)
            if served is None:
                raise ApiError(
                    404,
                    f"no context pinned on this server has sha256 {digest}: the sha256 is of the context's exact "
                    "bytes, in lowercase hex (entity.json and contexts/index.json give it)",
                    code=ErrorCode.UNKNOWN_CONTEXT,
                    sha256=digest,
                )
            return _document(request, served, _BY_DIGEST_CACHE)

        return await self._guard(work)

    async def api_docs(self, request: Request) -> Response:
        """``GET /vc-certification/api-docs``, ``GET /vc-management/api-docs``: the OpenAPI
        document, as JSON when the Accept header asks for it, else a page that loads nothing.
        """

        async def work() -> Response:
            wanted = negotiate(request.headers.get("accept"), _DOCS_TYPES, default="text/html")
            document = self._openapi()
            if wanted != "text/html":
                return JSONResponse(document, media_type=wanted)
            link = request.scope.get("root_path", "") + "/openapi.json"
            return HTMLResponse(
                _page(document, link),
                headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "Vary": "Accept"},
            )

        return await self._guard(work)

    def _current(self) -> _Index:
        """The index of the contexts pinned now, made again when the issuer's loader or entity types change."""
        loader, types = self.issuer.contexts, tuple(self.issuer.entity_types.values())
        index = self._index
        if (
            index is not None
            and index.loader is loader
            and len(index.types) == len(types)
            and all(a is b for a, b in zip(index.types, types, strict=True))
        ):
            return index
        with self._lock:
            self._index = _index(loader, types)
            return self._index


def _uploaded(store: Any, osid: str) -> _Served | None:
    """The context uploaded under ``osid`` (kept in the store, never changed), if any."""
    reader = getattr(store, "get_document", None)  # a store of another make keeps none
    found = reader(osid) if reader is not None else None
    if found is None or found.kind != "context":
        return None
    return _Served(f"{CONTEXT_PATH}{osid}", found.data, found.sha256)


def _index(loader: ContextLoader | None, types: tuple[EntityType, ...]) -> _Index:
    base = loader if loader is not None else bundled_contexts()
    pinned: list[tuple[str, bytes]] = []
    for url in base.urls():
        try:
            pinned.append((url, base.read_bytes(url)))
        except ContextError as exc:  # a broken pin is never served; signing with it fails on its own
            _log.warning("context %s is not served: %s", url, exc.message)
    pinned += [(url, data) for entity in types for url, data in entity.contexts.items()]
    by_id: dict[str, list[_Served]] = {}
    by_folded_id: dict[str, list[_Served]] = {}
    by_digest: dict[str, _Served] = {}
    for url, data in pinned:
        served = _Served(url, data, hashlib.sha256(data).hexdigest())
        by_digest.setdefault(served.sha256, served)
        parts = urlsplit(url)
        osid = unquote(parts.path[len(CONTEXT_PATH) :]) if parts.path.startswith(CONTEXT_PATH) else ""
        if osid and "/" not in osid and not parts.query:
            for found in (by_id.setdefault(osid, []), by_folded_id.setdefault(osid.casefold(), [])):
                if served not in found:
                    found.append(served)
    return _Index(
        loader,
        types,
        {k: tuple(v) for k, v in by_id.items()},
        {k: tuple(v) for k, v in by_folded_id.items()},
        by_digest,
    )


def _document(request: Request, served: _Served, cache_control: str) -> Response:
    """A context's exact bytes, with a strong ETag (its sha256); 304 to a request that has them."""
    digest = base64.b64encode(bytes.fromhex(served.sha256)).decode("ascii")
    headers = {
        "ETag": f'"{served.sha256}"',
        "Cache-Control": cache_control,
        "Repr-Digest": f"sha-256=:{digest}:",  # RFC 9530
        "Access-Control-Allow-Origin": "*",  # JSON-LD 1.1 asks context servers to allow any origin
    }
    asked = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in asked.split(",")}
    if "*" in tags or headers["ETag"] in tags:
        return Response(status_code=304, headers=headers)
    return Response(served.data, media_type=_LD_JSON, headers=headers)


def _page(document: Mapping[str, Any], link: str) -> str:
    """The OpenAPI document as a page that loads nothing: its operations, and a link to the JSON."""
    info = document.get("info", {})
    rows = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            scopes = [s for requirement in operation.get("security", ()) for s in requirement.get("bearer", ())]
            rows.append(
                f"<tr><td>{html.escape(method.upper())}</td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(str(operation.get('summary', '')))}</td>"
                f"<td>{html.escape(', '.join(scopes) or 'public')}</td></tr>"
            )
    title = html.escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left;"
        "vertical-align:top}</style></head><body>"
        f"<h1>{title}</h1><p>{html.escape(str(info.get('description', '')))}</p>"
        f'<p>The OpenAPI 3.1 document: <a href="{html.escape(link)}">{html.escape(link)}</a> '
        "(or this URL with <code>Accept: application/json</code>).</p>"
        "<table><tr><th>Method</th><th>Path</th><th>What it does</th><th>Permission</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )

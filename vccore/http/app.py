"""The ASGI application: :func:`create_app` wires the issuer, its verifier and both APIs' routes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .._cache import Cache
from .._threads import register as register_idle
from ..codes import ErrorCode
from ..entities import EntityType
from ..errors import VccoreError
from ..issuer import Issuer, issuer_of
from ..keys import Ed25519Key
from ..store import LIST_SIZE
from ..verification_methods import VERIFICATION_RELATIONSHIPS, public_key_from_verification_method
from ..verify import Verifier
from ._responses import CREDENTIAL_TYPES, ApiError, negotiate, problem
from ._service import Handlers, Service
from ._status_cache import STATUS_TTL, StatusCache, types_generation
from .auth import Authorizer
from .divoc import DivocApi
from .management import ManagementApi
from .metrics import Metrics, Observed, instrument, metrics_endpoint
from .metrics import openapi_paths as metrics_paths
from .schemas import SchemaApi, TypeRegistry
from .templates import TemplatesApi
from .vc_api import VcApi
from .verify_page import VerifyPage, openapi_paths
from .webhook import Callbacks, WebhookWorker

__all__ = ["create_app", "openapi"]


def create_app(
    issuer: Issuer,
    *,
    authorizer: Authorizer,
    verifier: Verifier | None = None,
    trusted_issuers: Iterable[str] = (),
    verification_methods: Iterable[Mapping[str, Any]] = (),
    any_issuer: bool = False,
    status_ttl: float = STATUS_TTL,
    callbacks: Callbacks | None = None,
    metrics_token: str | None = None,
) -> Starlette:
    """The ASGI application. ``verifier`` answers the verify routes; by default one that
    accepts every suite vccore knows (DIVOC's 2018 suites too), reads status from this server's
    store, and trusts the server's own issuer only (with its signer's key, when it is an
    :class:`~vccore.keys.Ed25519Key`), and besides it ``trusted_issuers`` and the DIDs whose keys
    ``verification_methods`` gives (DID documents or verification methods, as
    :meth:`Verifier.create` takes them; a did:web issuer's keys are given this way).
    ``any_issuer``: trust every issuer that controls the key that signed, as a general VC API
    verifier does (what the W3C test suites need); never the default. ``callbacks``: the tenant
    webhooks (:mod:`vccore.http.webhook`) told of every certify and update on DIVOC's routes, from
    the store's outbox, by a thread that runs while the app does. Every request is counted and
    timed for ``GET /metrics`` and logged on ``vccore.access`` (:mod:`vccore.http.metrics`);
    ``metrics_token``: the bearer token ``/metrics`` takes (None: it is public, as ``/health``).

    The entity types tenants make through DIVOC's schema routes (:mod:`vccore.http.schemas`) are
    kept in the store and served from start: they are added to ``issuer.entity_types`` (the
    server owns the issuer from here), and the default verifier is made anew with them (a
    ``verifier`` given is kept as it is).
    """
    metrics = Metrics()
    instrument(issuer, metrics)  # before anything takes the issuer's store
    status = StatusCache(issuer, status_ttl)
    trusted_issuers, verification_methods = list(trusted_issuers), list(verification_methods)
    if verifier is not None and (trusted_issuers or verification_methods or any_issuer):
        raise ValueError(
            "give a verifier, or whom the default verifier trusts (trusted_issuers, verification_methods), not both"
        )
    own = (
        [{k: v for k, v in issuer.signer.to_multikey().items() if k != "@context"}]
        if isinstance(issuer.signer, Ed25519Key)
        else []
    )
    checker = verifier
    make_verifier: Callable[[Mapping[str, EntityType]], Verifier] | None = None
    if checker is None:

        def default_verifier(trusted: frozenset[str] | None, types: Mapping[str, EntityType]) -> Verifier:
            return Verifier.create(
                suites=[
                    "eddsa-rdfc-2022",
                    "eddsa-jcs-2022",
                    "Ed25519Signature2020",
                    "Ed25519Signature2018",
                    "RsaSignature2018",
                ],
                verification_methods=[*verification_methods, *own],
                trusted_issuers=trusted,
                status=status.resolve,
                store=issuer.store,
                entity_types=types,
                contexts=issuer.contexts,
            )

        checker = default_verifier(None, issuer.entity_types)
        trusted: frozenset[str] | None = None
        if not any_issuer:
            # whom the keys name, once Verifier.create has read them (and refused what is not a key)
            trusted = frozenset({issuer_of(issuer.signer), *trusted_issuers, *_controllers(verification_methods)})
            checker = default_verifier(trusted, issuer.entity_types)

        def make_verifier(types: Mapping[str, EntityType]) -> Verifier:
            return default_verifier(trusted, types)

    service = Service(issuer, authorizer, checker, status)
    common = _Common(service)
    divoc, vc_api = DivocApi(service, callbacks), VcApi(service)
    management = ManagementApi(service, openapi=lambda: openapi(issuer))
    page = VerifyPage(service)  # the verifier's page, /verify, and the front page /

    # the entity types tenants make at run time (DIVOC's schema routes): kept in the store, served
    # from start, and swapped whole into the issuer and every handler's verifier when they change
    def remember(verifier: Verifier) -> None:
        app.state.verifier = verifier  # the app is made below, before any type is installed

    registry = TypeRegistry(issuer, authorizer, make_verifier, [common, divoc, vc_api, management, page], remember)
    schemas = SchemaApi(service, registry)
    registry.handlers.append(schemas)
    templates = TemplatesApi(service)
    # the store's status URL, and each it had before a move: credentials issued then name it
    status_paths = dict.fromkeys(_url_path(u) for u in (issuer.store.status_url, *issuer.store.earlier_status_urls))
    routes = [
        Route("/health", common.health, methods=["GET"]),
        Route("/ready", common.ready, methods=["GET"]),
        Route("/openapi.json", common.openapi, methods=["GET"]),
        Route("/metrics", metrics_endpoint(metrics, metrics_token), methods=["GET"]),
        *divoc.routes(),
        *management.routes(),
        *schemas.routes(),
        *templates.routes(),
        *vc_api.routes(),
        *page.routes(),
        *(Route(path + "{set}/{purpose}", common.status_list, methods=["GET"]) for path in status_paths),
    ]
    divoc_paths = [r.path for r in routes if r.path.startswith(_EXPRESS_PREFIXES)]
    # the tenant webhooks: a thread delivers the store's outbox while the app runs
    webhooks = WebhookWorker(issuer.store, callbacks) if callbacks else None
    app = Starlette(
        lifespan=webhooks.lifespan if webhooks is not None else None,
        routes=routes,
        exception_handlers={404: _not_found, 405: _not_allowed},
        middleware=[
            Middleware(ExpressPaths, templates=divoc_paths),
            Middleware(Observed, metrics=metrics),
            Middleware(FollowTypes, registry=registry),
        ],
    )
    app.state.verifier = checker  # whom it trusts: app.state.verifier.trusted_issuers
    registry.load()  # the types made at run time before this start
    return app


_log = logging.getLogger("vccore.serve")


class FollowTypes:
    """ASGI middleware: before each request, the entity types another worker of this server made
    at run time are loaded (a counter in the memory the workers share, read once a request; in a
    server of one process it never moves).
    """

    def __init__(self, app: Any, registry: TypeRegistry) -> None:
        self.app = app
        self.registry = registry
        self.seen = types_generation()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (now := types_generation()) != self.seen:
            try:
                self.registry.load()
                self.seen = now
            except VccoreError as exc:  # served with the types it has; the next request tries again
                _log.warning("the entity types another worker changed could not be loaded: %s", exc)
        await self.app(scope, receive, send)


def _controllers(verification_methods: Iterable[Mapping[str, Any]]) -> set[str]:
    """The DIDs whose keys these DID documents or verification methods give: for a DID
    document its id, for a verification method its controller. For what :meth:`Verifier.create`
    has taken (it tells the two apart the same way, and refuses what is neither).
    """
    found: set[str] = set()
    for item in verification_methods:
        if "verificationMethod" in item or any(r in item for r in VERIFICATION_RELATIONSHIPS):
            found.add(str(item["id"]))
        else:
            found.add(public_key_from_verification_method(item).controller)
    return found


_EXPRESS_PREFIXES: Final = ("/vc-certification/", "/vc-management/")
_EXPRESS_KEPT: Final = 1024


class ExpressPaths:
    """DIVOC's routes as Express matches them: the literal parts of a path in any case
    (``/vc-management/V1/transaction/...``) and with or without a trailing slash; the parameters
    (entity types, certificate ids) as given. Other paths are left as they are.
    """

    def __init__(self, app: ASGIApp, templates: Iterable[str]) -> None:
        self.app = app
        # each template's segments: the literal ones (in lower case, to compare, and as the route
        # spells them: DIVOC's updateTemplate), a parameter as None
        self.templates: list[list[tuple[str, str] | None]] = [
            [None if part.startswith("{") else (part.lower(), part) for part in template.strip("/").split("/")]
            for template in templates
        ]
        # paths matched before (the verify and certify routes, over and over), the latest kept
        # (None: no route of DIVOC's)
        self._matched: Cache[str, str | None] = Cache(_EXPRESS_KEPT)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.lower().startswith(_EXPRESS_PREFIXES):
                matched = self._matched.get_or_make(path, lambda: self._match(path))
                if matched is not None and matched != path:
                    scope = {**scope, "path": matched, "raw_path": quote(matched).encode("ascii")}
        await self.app(scope, receive, send)

    def _match(self, path: str) -> str | None:
        given = path.strip("/").split("/") if path.strip("/") else []
        for parts in self.templates:
            if len(parts) == len(given) and all(
                part is None or part[0] == segment.lower() for part, segment in zip(parts, given, strict=True)
            ):
                return "/" + "/".join(
                    segment if part is None else part[1] for part, segment in zip(parts, given, strict=True)
                )
        return None


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem(404, ErrorCode.NOT_FOUND, f"no route {request.url.path}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return problem(405, ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}")


def _status_base(current: str, earlier: Iterable[str], request: Request) -> str:
    """Which of the store's status URLs a request for a list names: the one whose path the
    request's is under and whose host it asked for; else the current URL when its path matches;
    else the latest earlier one whose path does.
    """
    under = [u for u in (current, *reversed(tuple(earlier))) if request.url.path.startswith(_url_path(u))]
    host = request.headers.get("host", "")
    named = [u for u in under if u.split("://", 1)[-1].split("/", 1)[0] == host]
    return (named or under or [current])[0]


def _url_path(url: str) -> str:
    """The path of a URL, ending with '/'."""
    after_scheme = url.split("://", 1)[-1]
    path = "/" + after_scheme.split("/", 1)[1] if "/" in after_scheme else "/"
    return path if path.endswith("/") else path + "/"


class _Common(Handlers):
    """The routes neither API owns: the service's health, its OpenAPI document, the status lists."""

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        """200 when the store answers a trivial query within READY_TIMEOUT seconds, else 503."""
        if not hasattr(self, "_probe"):
            self._probe = _StoreProbe(lambda: self.store.get(""))
        failure = await self._probe.check()
        if failure is not None:
            return problem(503, ErrorCode.STORE_ERROR, f"the store is not ready: {failure}")
        return JSONResponse({"status": "ready"})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi(self.issuer))

    async def status_list(self, request: Request) -> Response:
        async def work() -> Response:
            base = _status_base(self.store.status_url, self.store.earlier_status_urls, request)
            url = f"{base}{request.path_params['set']}/{request.path_params['purpose']}"
            wanted = negotiate(request.headers.get("accept"), CREDENTIAL_TYPES)
            credential = await run_in_threadpool(self.status.resolve, url)
            if credential is None:
                raise ApiError(404, f"no status list {url}", code=ErrorCode.UNKNOWN_STATUS_LIST, url=url)
            return JSONResponse(
                credential, media_type=wanted, headers={"Cache-Control": f"public, max-age={int(self.status.ttl)}"}
            )

        return await self._guard(work)


READY_TIMEOUT: Final = 2.0


_PROBE_IDLE: Final = 10.0
"""Seconds the store probe's thread waits for another check before it ends (the next starts it)."""


class _StoreProbe:
    """Asks the store a trivial query from one thread of its own (a daemon: a store that never
    answers keeps it, not a worker of the pool, nor the process from exiting). While a query has
    not answered, every check waits on that one, never sends another. The thread starts with a
    check and ends when none has come for a while: an app whose /ready nobody asks keeps no
    thread (a thread that runs stops a batch from forking its workers in the same process).
    """

    def __init__(self, query: Callable[[], object]) -> None:
        self._query = query
        self._asks: queue.SimpleQueue[concurrent.futures.Future[None] | None] = queue.SimpleQueue()
        self._pending: concurrent.futures.Future[None] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        register_idle(self)

    def end_if_idle(self) -> threading.Thread | None:
        """The thread, told to end once no check waits (a batch about to fork asks: see
        vccore._threads); None when there is no thread.
        """
        with self._lock:
            if self._thread is not None:
                self._asks.put(None)
            return self._thread

    def _answer(self) -> None:
        while True:
            try:
                asked = self._asks.get(timeout=_PROBE_IDLE)
            except queue.Empty:
                asked = None
            if asked is None:  # a while without a check, or asked to end: ends unless one came
                with self._lock:  # (check() asks and looks at the thread under this lock)
                    if self._asks.empty():
                        self._thread = None
                        return
                continue
            if asked.set_running_or_notify_cancel():
                try:
                    self._query()
                    asked.set_result(None)
                except Exception as exc:  # noqa: BLE001 (whatever the store raised is the answer; the thread keeps going)
                    asked.set_exception(exc)

    async def check(self) -> str | None:
        """None when the store answered in time, else why not."""
        with self._lock:
            if self._pending is None or self._pending.done():
                self._pending = concurrent.futures.Future()
                self._asks.put(self._pending)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._answer, name="vccore-ready", daemon=True)
                    self._thread.start()
            pending = self._pending
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(pending)), READY_TIMEOUT)
        except TimeoutError:
            return f"it did not answer within {READY_TIMEOUT:g} s"
        except VccoreError as exc:
            return exc.message
        except Exception as exc:  # noqa: BLE001 (a fault of the store's, not of the request's)
            return type(exc).__name__
        return None


def openapi(issuer: Issuer) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API, with each entity type's payload schema."""
    from .openapi import document

    found = document(issuer, status_path=_url_path(issuer.store.status_url), list_size=LIST_SIZE)
    found["paths"].update(openapi_paths())  # the verifier's page (HTML), described beside it
    found["paths"].update(metrics_paths())
    return found

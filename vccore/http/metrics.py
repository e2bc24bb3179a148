"""What an operator watches on ``vccore serve``: ``GET /metrics`` in Prometheus's text format, and
one access-log line per request, both written by :class:`Observed`, a plain ASGI middleware.

The metrics (:class:`Metrics`, one registry per app, never prometheus_client's global one):

- ``vccore_http_requests_total{method, route, status}`` and
  ``vccore_http_request_duration_seconds{method, route}`` (a histogram);
- ``vccore_certify_outcomes_total{route, code}`` and ``vccore_verify_outcomes_total{route, code}``:
  ``OK`` (a verify: the credential's status word, ``VALID``, ``REVOKED``, ...), or the error code
  of the refusal;
- ``vccore_store_call_duration_seconds{call}``: each call of the store's, by method name;
- ``vccore_status_list_signing_duration_seconds``: each status list set signed.

Labels are route templates (``/vc-certification/v1/certify/{entity}``), never a request's path,
so that no certificate id, entity name or query string reaches them; a path no route matches is
``unmatched``. The access log (logger ``vccore.access``, level INFO) is one JSON object a line:
``method``, ``route``, ``status``, ``ms``, and where there is one ``code`` (the outcome),
``transactionId`` (DIVOC's certify and transaction routes) and ``requestId`` (an
``X-Request-Id`` header of at most 64 letters, digits, ``-``, ``_``, ``.``). Never a body, a
header's value but that one, a token, or a query string.

With several worker processes each serves its own counts, unless ``PROMETHEUS_MULTIPROC_DIR``
names an empty folder shared by the workers before they start: then ``/metrics`` sums every
worker's (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..issuer import Issuer
from ..store import Store

__all__ = [
    "CERTIFY_ROUTES",
    "VERIFY_ROUTES",
    "Metrics",
    "Observed",
    "instrument",
    "metrics_endpoint",
    "openapi_paths",
]

CERTIFY_ROUTES: Final = frozenset({"/vc-certification/v1/certify/{entity}", "/credentials/issue"})
VERIFY_ROUTES: Final = frozenset(
    {"/vc-certification/v1/certificate/verify", "/credentials/verify", "/presentations/verify"}
)
_DIVOC_VERIFY: Final = "/vc-certification/v1/certificate/verify"
_DIVOC_CERTIFY: Final = "/vc-certification/v1/certify/{entity}"
_TRANSACTION: Final = "/vc-management/v1/transaction/{transaction}"
_LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STORE_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_CODE: Final = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_CAPTURE: Final = 64 * 1024  # the part of an answer read for its outcome (they are small)

_access: Final = logging.getLogger("vccore.access")

TEXT_FORMAT: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The text format's content type as every Prometheus reads it (prometheus_client 0.22 and later
name version 1.0.0, which differs only for metric names outside the classic characters)."""


class Metrics:
    """The server's metrics, in a registry of their own (tests make many apps in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "vccore_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "vccore_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.certify = Counter(
            "vccore_certify_outcomes", "Certify and issue requests by outcome", ["route", "code"], registry=registry
        )
        self.verify = Counter(
            "vccore_verify_outcomes", "Verify requests by outcome", ["route", "code"], registry=registry
        )
        self.store = Histogram(
            "vccore_store_call_duration_seconds",
            "Calls of the issuance store, by method",
            ["call"],
            buckets=_STORE_BUCKETS,
            registry=registry,
        )
        self.status_signing = Histogram(
            "vccore_status_list_signing_duration_seconds",
            "Status list sets signed (four list credentials each)",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        # labels() takes a lock and builds a key each time: the children are kept here
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def exposition(self) -> tuple[bytes, str]:
        """The text format, and its content type; every worker's sum in multiprocess mode."""
        from prometheus_client import CollectorRegistry, generate_latest

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            summed = CollectorRegistry()
            multiprocess.MultiProcessCollector(summed)  # type: ignore[no-untyped-call]
            return generate_latest(summed), TEXT_FORMAT
        return generate_latest(self.registry), TEXT_FORMAT


def metrics_endpoint(metrics: Metrics, token: str | None = None) -> Callable[[Request], Any]:
    """``GET /metrics``: public, or with ``token`` only for ``Authorization: Bearer <token>``."""
    import hmac

    async def endpoint(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
                return Response(
                    "/metrics needs the metrics token: Authorization: Bearer <token>\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return endpoint


def openapi_paths() -> dict[str, Any]:
    """``GET /metrics`` in the OpenAPI document."""
    text = {"text/plain; version=0.0.4": {"schema": {"type": "string"}}}
    return {
        "/metrics": {
            "get": {
                "summary": "The server's metrics in Prometheus's text format (requests, latencies, certify and "
                "verify outcomes by code, store and status list timings)",
                "responses": {
                    "200": {"description": "The metrics", "content": text},
                    "401": {"description": "The server has a metrics token, and this request does not send it"},
                },
            }
        }
    }


class Observed:
    """Counts and times every HTTP request, reads the outcome of certify and verify answers, and
    writes the access-log line. It sits inside the middleware that rewrites DIVOC's paths, so the
    router's match (``scope["route"]``) is there once the answer starts.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # (method, route, status) -> the request counter's inc and the latency's observe
        self._request_metrics: dict[tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, watching its answer go out."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        problem = False
        captured: bytearray | None = None

        async def observe(message: Message) -> None:
            nonlocal status, problem, captured
            if message["type"] == "http.response.start":
                status = message["status"]
                # read: a refusal (problem details), DIVOC's certify and verify answers (small);
                # never another answer (a certificate, a list), which says nothing more
                problem = status >= 400 and _is_problem(message)
                if problem or _route_of(scope) in _READ:
                    captured = bytearray()
            elif captured is not None and message["type"] == "http.response.body" and len(captured) <= _MAX_CAPTURE:
                captured += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self._record(scope, status, time.perf_counter() - start, problem, captured)

    def _record(self, scope: Scope, status: int, seconds: float, problem: bool, captured: bytearray | None) -> None:
        metrics, method, route = self.metrics, scope["method"], _route_of(scope)
        if method not in _METHODS:
            method = "OTHER"
        found = self._request_metrics.get((method, route, status))
        if found is None:
            found = self._request_metrics[method, route, status] = (
                metrics.child(metrics.requests, method, route, str(status)).inc,
                metrics.child(metrics.latency, method, route).observe,
            )
        found[0]()
        found[1](seconds)
        kind = _KIND.get(route)
        code, transaction = _outcome(route, status, problem, captured)
        if kind is not None:
            code = code or (
                "VALID" if kind == "verify" and status < 300 else "OK" if status < 300 else f"HTTP_{status}"
            )
            metrics.child(metrics.certify if kind == "certify" else metrics.verify, route, code).inc()
        if not _access.isEnabledFor(logging.INFO):
            return
        if route == _TRANSACTION:
            given = scope["path_params"].get("transaction")
            transaction = given if isinstance(given, str) and _ID.fullmatch(given) else None
        # every value is known to need no JSON escaping: a method of _METHODS, a route template of
        # this app's, digits, and codes and ids checked against _CODE and _ID
        line = f'{{"method":"{method}","route":{json.dumps(route)},"status":{status},"ms":{seconds * 1000:.2f}'
        if code is not None:
            line += f',"code":"{code}"'
        if transaction is not None:
            line += f',"transactionId":"{transaction}"'
        request_id = _request_id(scope)
        if request_id is not None:
            line += f',"requestId":"{request_id}"'
        # the record made here: Logger.info would look up the caller's frame, half its cost
        _access.handle(_access.makeRecord(_access.name, logging.INFO, __file__, 0, line + "}", (), None))


_READ: Final = frozenset({_DIVOC_CERTIFY, _DIVOC_VERIFY})
_KIND: Final = {**dict.fromkeys(CERTIFY_ROUTES, "certify"), **dict.fromkeys(VERIFY_ROUTES, "verify")}
_STATUS_WORD: Final = re.compile(rb'"certificateStatus":"([A-Z][A-Z0-9_]{0,47})"')


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _is_problem(message: Message) -> bool:
    return any(
        name == b"content-type" and value.startswith(b"application/problem+json") for name, value in message["headers"]
    )


def _outcome(route: str, status: int, problem: bool, captured: bytearray | None) -> tuple[str | None, str | None]:
    """The outcome code an answer names and its transactionId: a refusal's code; DIVOC's verify's
    status word (found in the text: its answer is read whole for nothing else); DIVOC's certify's
    ``OK``, or ``ACCEPTED`` for a request taken without a certificate (an unknown entity type).
    """
    if not captured or len(captured) > _MAX_CAPTURE:
        return None, None
    if route == _DIVOC_VERIFY and not problem:
        found = _STATUS_WORD.search(captured)  # the first: "status" comes before the problems
        return (found[1].decode() if found else "OTHER"), None
    try:
        answer = json.loads(captured)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(answer, dict):
        return None, None
    code = answer.get("code") if problem else "OK" if "certificateId" in answer else "ACCEPTED"
    transaction = answer.get("transactionId")
    return (
        code if isinstance(code, str) and _CODE.fullmatch(code) else "OTHER",
        transaction if isinstance(transaction, str) and _ID.fullmatch(transaction) else None,
    )


def _request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _ID.fullmatch(text) else None
    return None


class _TimedStore:
    """The issuer's store, each call of a method timed by name (attributes pass through)."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name.startswith("_") or not callable(found):
            return found
        observe = self._metrics.child(self._metrics.store, name).observe
        if name == "transaction":  # timed from its start to its commit (or rollback)

            @contextlib.contextmanager
            def transaction(*args: Any, **kwargs: Any) -> Iterator[Any]:
                start = time.perf_counter()
                try:
                    with found(*args, **kwargs) as tx:
                        yield tx
                finally:
                    observe(time.perf_counter() - start)

            self.__dict__[name] = transaction
            return transaction

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return found(*args, **kwargs)
            finally:
                observe(time.perf_counter() - start)

        self.__dict__[name] = timed  # found once: the next call does not come through here
        return timed


def instrument(issuer: Issuer, metrics: Metrics) -> None:
    """Time the calls of ``issuer``'s store and its status list signing (the server owns the
    issuer); an issuer instrumented before, for another app, is timed for this one instead.
    """
    store = issuer.store
    issuer.store = cast("Store", _TimedStore(store._store if isinstance(store, _TimedStore) else store, metrics))
    sign = issuer.status_list_set
    sign = getattr(sign, "__wrapped__", sign)
    observe = metrics.status_signing.observe

    def status_list_set(list_number: int, **options: Any) -> dict[str, dict[str, Any]]:
        start = time.perf_counter()
        try:
            return sign(list_number, **options)
        finally:
            observe(time.perf_counter() - start)

    status_list_set.__wrapped__ = sign  # type: ignore[attr-defined]
    setattr(issuer, "status_list_set", status_list_set)  # noqa: B010 (an instance's method replaced: mypy refuses an assignment)

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
permission (:mod:`vccore.http.auth`), checked before the body is read; verifying and the status
lists are public. Signing and the store run in worker threads; the event loop only parses and
answers. Request bodies over :data:`MAX_BODY` bytes are refused (413).

The package: :mod:`~vccore.http.app` (:func:`create_app`, the routes neither API owns),
:mod:`~vccore.http.divoc` and :mod:`~vccore.http.vc_api` (each API's routes),
:mod:`~vccore.http.auth` (bearer tokens), :mod:`~vccore.http.openapi` (the OpenAPI document);
privately ``_service`` (the state both APIs share, reading a request), ``_responses`` (problem
details, content negotiation) and ``_status_cache`` (the status lists signed for requests).
This face imports starlette only when :func:`create_app` or :data:`MAX_BODY` is first asked for:
:mod:`vccore.http.auth` is read without the server extra (the CLI's ``MAX_LIFETIME``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first asked for: see __getattr__
    from ._service import MAX_BODY
    from .app import create_app

__all__ = ["MAX_BODY", "create_app"]


def __getattr__(name: str) -> Any:
    """:func:`create_app` and :data:`MAX_BODY`, imported on first use (they need starlette)."""
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "MAX_BODY":
        from ._service import MAX_BODY

        return MAX_BODY
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

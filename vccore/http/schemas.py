"""DIVOC's schema management (vc-management-service ``/v1/schema`` and ``/v1/context``): a tenant
makes and changes its entity types while the server runs.

DIVOC's tenant portal sends a Sunbird RC Schema record (``{name, schema: "<JSON text>",
status}``); DIVOC adds its mandatory fields (``schema.utils.js``, addMandatoryFields), the
creator's realm role (``role-add.middleware.js``) and stores it in the registry, which makes it an
entity type. vccore does the same, then imports the schema
(:func:`vccore.entity_import.import_schema`), keeps the type's files in the store, and swaps the
served types whole (:class:`TypeRegistry`): the issuer's mapping, the verifier of the verify
routes, and the roles a tenant's token reaches. A schema that cannot be imported is refused
(400, naming the field), and then nothing has changed.

Where vccore differs from DIVOC: every schema, DRAFT or PUBLISHED, is an entity type at once (the
registry loads PUBLISHED ones only); a PUBLISHED schema's definition may change (the registry
refuses); a context is never changed under its id (DIVOC's ``PUT /context/{osid}`` is not served:
upload a new one); uploaded templates are kept in the store and served at
``/templates/sha256/{sha256}`` (DIVOC: MinIO).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _datetime, _json, handlebars, proofs
from ..certificate_templates import CertificateTemplates
from ..codes import ErrorCode
from ..contexts import bundled_contexts
from ..entities import EntityType
from ..entity_import import ImportedType, import_schema
from ..errors import EntityTypeError, LifecycleError, VccoreError
from ..issuer import Issuer
from ..suites import DEFAULT_SUITE
from ..verify import Verifier
from ._responses import ApiError
from ._schema_records import (
    CONTEXT_UPLOAD_PATH,
    MANAGE,
    SCHEMA_PATH,
    TEMPLATE_PATH,
    add_mandatory_fields,
    bad,
    form_file,
    may,
    openapi_paths,
    preview_request,
    record_body,
    schema_of,
    schema_record,
    sunbird,
    tenant_page,
    tenant_templates,
    token_role,
    updated,
    validate,
    with_templates,
)
from ._service import Handlers, Service
from ._status_cache import types_changed
from .auth import Authorizer, JwtAuthorizer, bearer_token

__all__ = ["MANAGE", "SCHEMA_PATH", "SchemaApi", "TypeRegistry", "openapi_paths"]

_CONTEXT_PATH: Final = "/vc-management/v1/context/"
# the files of an imported type, and the part of the schema each is made from
_FIELD_OF_FILE: Final = {
    "credential.hbs": "_osConfig.credentialTemplate",
    "schema.json": "definitions",
    "entity.json": "_osConfig",
    "source-schema.json": "schema",
}
_TEMPLATE_TYPES: Final = ("text/html", "image/svg+xml", "text/plain")
_URLS: Final = re.compile(r"https?://[^\s\"'\\<>]+")

_log: Final = logging.getLogger("vccore.http")


class TypeRegistry:
    """The entity types the server serves, changed by swapping whole mappings: the issuer's
    ``entity_types``, the verifier every handler holds (made anew by ``make_verifier`` for the new
    types; None: the one given to the app, kept), and the entity types a roles mapping's
    "listed" roles reach (each type's ``_osConfig.roles`` added to the mapping file's entries).
    """

    def __init__(
        self,
        issuer: Issuer,
        authorizer: Authorizer,
        make_verifier: Callable[[Mapping[str, EntityType]], Verifier] | None,
        handlers: Iterable[Handlers],
        on_verifier: Callable[[Verifier], None] = lambda verifier: None,
    ) -> None:
        self.issuer = issuer
        self.authorizer = authorizer
        self.make_verifier = make_verifier
        self.handlers = list(handlers)
        self.on_verifier = on_verifier
        self.versions: dict[str, tuple[str, int]] = {}
        """Each type made at run time: its schema id and the version this server serves."""
        self.lock = threading.Lock()
        roles = authorizer.roles if isinstance(authorizer, JwtAuthorizer) else None
        self._file_roles: Mapping[str, tuple[str, ...]] = dict(roles.entity_types) if roles is not None else {}

    def load(self) -> None:
        """Serve the types the store holds (at start, and after a change made elsewhere). A type
        that no longer loads is left out, with a warning in the log.
        """
        reader = getattr(self.issuer.store, "entity_types", None)
        if reader is None:  # a store of another make, without run-time types
            return
        loaded: dict[str, EntityType] = {}
        versions: dict[str, tuple[str, int]] = {}
        for stored in reader():
            try:
                loaded[stored.name] = EntityType.from_files(stored.files, folder=stored.name)
            except Exception as exc:  # noqa: BLE001 (one broken type must not stop the server)
                _log.warning("entity type %s (made at run time) is not served: %s", stored.name, exc)
                continue
            versions[stored.name] = (stored.schema_id, stored.version)
        if loaded:
            self.install(loaded, versions)

    def install(self, types: Mapping[str, EntityType], versions: Mapping[str, tuple[str, int]]) -> None:
        """Serve ``types`` (beside, or instead of, those of the same name), each at its version."""
        with self.lock:
            for name in types:
                if name not in self.versions and name in self.issuer.entity_types:
                    _log.warning("entity type %s made at run time replaces the one the server was started with", name)
            served = {**self.issuer.entity_types, **types}
            verifier = self.make_verifier(served) if self.make_verifier is not None else None
            self.versions.update(versions)
            self.issuer.entity_types = served
            if verifier is not None:
                for handler in self.handlers:
                    handler.verifier = verifier
                self.on_verifier(verifier)
            self._grant_roles(served)

    def _grant_roles(self, served: Mapping[str, EntityType]) -> None:
        """A tenant's token reaches the types whose schema names its role (``_osConfig.roles``)."""
        authorizer = self.authorizer
        if not isinstance(authorizer, JwtAuthorizer) or authorizer.roles is None:
            return
        listed = dict(self._file_roles)
        for name in self.versions:
            entity = served.get(name)
            roles = entity.os_config.get("roles") if entity is not None else None
            if isinstance(roles, list):
                extra = [r for r in roles if isinstance(r, str) and r]
                listed[name] = tuple(dict.fromkeys([*listed.get(name, ()), *extra]))
        authorizer.roles = replace(authorizer.roles, entity_types=listed)


class SchemaApi(Handlers):
    """The handlers of DIVOC's schema, context-upload and template routes."""

    def __init__(self, service: Service, registry: TypeRegistry) -> None:
        super().__init__(service)
        self.registry = registry
        # one change at a time in this process (a change made by another server on the store
        # meanwhile is refused by the store's version check)
        self._changing = threading.Lock()

    def routes(self) -> list[Route]:
        """The routes, in the order they are matched (in any case and with a trailing slash: see app.py)."""
        return [
            Route(SCHEMA_PATH, self.create, methods=["POST"]),
            Route(SCHEMA_PATH, self.list_schemas, methods=["GET"]),
            Route(SCHEMA_PATH + "/preview", self.preview, methods=["POST"]),
            Route(SCHEMA_PATH + "/{schemaId}", self.get_schema, methods=["GET"]),
            Route(SCHEMA_PATH + "/{schemaId}", self.update, methods=["PUT"]),
            Route(SCHEMA_PATH + "/{schemaId}/updateTemplateUrl", self.template_urls, methods=["PUT"]),
            Route(SCHEMA_PATH + "/{schemaId}/updateTemplate", self.upload_template, methods=["PUT"]),
            Route(CONTEXT_UPLOAD_PATH, self.add_context, methods=["POST"]),
            Route(TEMPLATE_PATH + "{sha256}", self.template, methods=["GET"]),
        ]

    # --- the routes --------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        """``POST /vc-management/v1/schema``: a new entity type from a Schema record."""

        async def work() -> Response:
            self._authorize(request, MANAGE)
            body = record_body(await self._json(request))
            role = token_role(request)
            made = await run_in_threadpool(self._create, body, role)
            return JSONResponse(made)

        return await self._guard(work)

    async def list_schemas(self, request: Request) -> Response:
        """``GET /vc-management/v1/schema``: ``{schemas: [...]}``, those the token may manage."""

        async def work() -> Response:
            self._authorize(request, MANAGE)
            token = bearer_token(request.headers.get("authorization"))
            stored = await run_in_threadpool(self.store.entity_types)
            mine = [s for s in stored if may(self.authorizer, token, s.name)]
            return JSONResponse({"schemas": [schema_record(s) for s in mine]})

        return await self._guard(work)

    async def get_schema(self, request: Request) -> Response:
        """``GET /vc-management/v1/schema/{schemaId}``: ``{schemas: [record]}``."""

        async def work() -> Response:
            self._authorize(request, MANAGE)  # the token first: an unknown schema is a 404 to its holder only
            stored = await run_in_threadpool(self._stored, request.path_params["schemaId"])
            self._authorize(request, MANAGE, stored.name)
            return JSONResponse({"schemas": [schema_record(stored)]})

        return await self._guard(work)

    async def update(self, request: Request) -> Response:
        """``PUT /vc-management/v1/schema/{schemaId}``: a new version of a tenant's entity type."""

        async def work() -> Response:
            self._authorize(request, MANAGE)  # the token first: an unknown schema is a 404 to its holder only
            stored = await run_in_threadpool(self._stored, request.path_params["schemaId"])
            self._authorize(request, MANAGE, stored.name)
            body = await self._json(request)
            if not isinstance(body, dict):
                raise bad(f"the body is a Schema record (a JSON object), not {_json.kind(body)}", "body")
            answer = await run_in_threadpool(self._update, stored.name, lambda record: updated(record, body))
            return JSONResponse({"message": "Successfully updated Schema", **answer})

        return await self._guard(work)

    async def template_urls(self, request: Request) -> Response:
        """``PUT /vc-management/v1/schema/{schemaId}/updateTemplateUrl``: templateKey -> URL
        (DIVOC's route, schema.routes.js; its controller is named updateTemplateUrls).
        """

        async def work() -> Response:
            self._authorize(request, MANAGE)  # the token first: an unknown schema is a 404 to its holder only
            stored = await run_in_threadpool(self._stored, request.path_params["schemaId"])
            self._authorize(request, MANAGE, stored.name)
            body = await self._json(request)
            if not isinstance(body, dict) or not all(isinstance(v, str) and v for v in body.values()):
                raise bad("the body maps each template key to its URL (a JSON object of strings)", "body")
            answer = await run_in_threadpool(self._update, stored.name, lambda r: with_templates(r, body))
            answer["templateUpdateResponse"] = answer.pop("schemaUpdateResponse")
            return JSONResponse({"message": "Successfully updated Schema with template URLs", **answer})

        return await self._guard(work)

    async def upload_template(self, request: Request) -> Response:
        """``PUT .../{schemaId}/updateTemplate?templateKey=html``: a certificate template (the form
        field ``files``), kept in the store, served at ``/templates/sha256/{sha256}``, and named in
        the schema's ``certificateTemplates`` under the key.
        """

        async def work() -> Response:
            self._authorize(request, MANAGE)  # the token first: an unknown schema is a 404 to its holder only
            stored = await run_in_threadpool(self._stored, request.path_params["schemaId"])
            self._authorize(request, MANAGE, stored.name)
            key = request.query_params.get("templateKey") or "html"
            data, media_type = await form_file(request)
            media_type = media_type if media_type in _TEMPLATE_TYPES else "text/html"
            at = _datetime.format(_datetime.now())
            digest = hashlib.sha256(data).hexdigest()
            await run_in_threadpool(self.store.put_document, digest, "template", media_type, data, at=at)
            url = str(request.base_url).rstrip("/") + TEMPLATE_PATH + digest
            answer = await run_in_threadpool(self._update, stored.name, lambda r: with_templates(r, {key: url}))
            answer["templateUpdateResponse"] = answer.pop("schemaUpdateResponse")
            return JSONResponse({"message": "Successfully updated Schema", **answer, "url": url})

        return await self._guard(work)

    async def preview(self, request: Request) -> Response:
        """``POST /vc-management/v1/schema/preview``: ``{credentialTemplate, data, template}``, the
        sample signed by this server's key (DIVOC: by its signer) and printed with the template as
        a PDF (DIVOC: by certificate-api). Nothing is recorded.
        """

        async def work() -> Response:
            self._authorize(request, MANAGE)
            template, data, url = preview_request(await self._json(request))
            signed = await run_in_threadpool(self._sample, template, data)
            return await run_in_threadpool(tenant_page, self._templates(), url, signed, "application/pdf")

        return await self._guard(work)

    async def add_context(self, request: Request) -> Response:
        """``POST /vc-management/v1/context``: a JSON-LD context (the form field ``files``), kept
        under a new id and served at ``/vc-management/v1/context/{id}``, never changed there.
        """

        async def work() -> Response:
            self._authorize(request, MANAGE)
            data, _ = await form_file(request)
            try:
                parsed = _json.loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise bad(f"the context is not JSON: {exc}", "files") from None
            if not isinstance(parsed, dict) or not isinstance(parsed.get("@context"), (dict, list)):
                raise bad("the context is not a JSON-LD context (an object with @context)", "files")
            osid = str(uuid.uuid4())
            at = _datetime.format(_datetime.now())
            kept = await run_in_threadpool(self.store.put_document, osid, "context", "application/ld+json", data, at=at)
            url = str(request.base_url).rstrip("/") + _CONTEXT_PATH + osid
            return JSONResponse({"message": sunbird("create", "ContextURL", osid), "url": url, "sha256": kept.sha256})

        return await self._guard(work)

    async def template(self, request: Request) -> Response:
        """``GET /templates/sha256/{sha256}``: an uploaded certificate template, as uploaded (public)."""
        digest = request.path_params["sha256"].lower()

        async def work() -> Response:
            found = await run_in_threadpool(self.store.get_document, digest)
            if found is None or found.kind != "template":
                raise ApiError(404, f"no template {digest} was uploaded here", code=ErrorCode.NOT_FOUND, sha256=digest)
            return Response(
                found.data,
                media_type=found.media_type,
                headers={
                    "Cache-Control": "public, max-age=31536000, immutable",
                    "ETag": f'"{found.sha256}"',
                    # a tenant's upload, on this server's origin: never run as a page here
                    "Content-Security-Policy": "sandbox; default-src 'none'",
                    "X-Content-Type-Options": "nosniff",
                },
            )

        return await self._guard(work)

    def _templates(self) -> CertificateTemplates:
        """The server's tenant templates: the DIVOC fetch route's (one cache of URLs), else this API's own."""
        for handler in self.registry.handlers:
            templates = getattr(handler, "templates", None)
            if isinstance(templates, CertificateTemplates):
                return templates
        self.templates = tenant_templates(self.store)
        return self.templates

    # --- the work, in a thread -------------------------------------------------------------------

    def _stored(self, schema: str) -> Any:
        """The stored type a path names: by its schema id (with or without DIVOC's ``1-``) or name."""
        wanted = schema.removeprefix("1-")
        for stored in self.store.entity_types():
            if stored.schema_id == wanted or stored.name == schema:
                return stored
        raise ApiError(
            404,
            f"no schema {schema} was made on this server (GET {SCHEMA_PATH} lists them)",
            code=ErrorCode.UNKNOWN_ENTITY_TYPE,
            schemaId=schema,
        )

    def _sample(self, template: str, data: dict[str, Any]) -> dict[str, Any]:
        """The preview's credential: ``template`` rendered with ``data`` (as the signer renders it),
        signed with this server's key; the contexts it names that this server pins or was given.
        """
        field = "credentialTemplate"
        try:
            document = handlebars.compile(template).render_json(data)
            if not isinstance(document, dict):
                raise ApiError(
                    400, f"{field} makes {_json.kind(document)}, not a credential", code=ErrorCode.TEMPLATE_NOT_JSON
                )
            found = self._known_contexts({"_osConfig": {field: template}})
            base = self.issuer.contexts or bundled_contexts()
            contexts = base.with_contexts({url: text for url, text in found.items() if url not in base})
            return proofs.sign(
                document, self.issuer.signer, suite=self.issuer.suite or DEFAULT_SUITE, contexts=contexts
            )
        except ApiError as exc:
            raise ApiError(400, exc.message, code=exc.code, field=field) from None
        except VccoreError as exc:  # the template's syntax or JSON, a context this server lacks, an undefined term
            raise ApiError(
                400, f"{field}: the sample cannot be made or signed: {exc.message}", code=exc.code, field=field
            ) from None

    def _create(self, body: dict[str, Any], role: str | None) -> dict[str, Any]:
        with self._changing:
            return self._create_locked(body, role)

    def _create_locked(self, body: dict[str, Any], role: str | None) -> dict[str, Any]:
        record = copy.deepcopy(body)
        schema = schema_of(record)
        validate(schema, str(record["name"]), self._known_contexts(schema))  # DIVOC's validateSchema
        os_config = schema.setdefault("_osConfig", {})
        roles = os_config.setdefault("roles", []) if isinstance(os_config, dict) else None
        if role is not None and isinstance(roles, list) and role not in roles:
            roles.append(role)  # DIVOC's addRoleIfNotPresent
        add_mandatory_fields(schema, str(record["name"]))
        record["schema"] = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
        record.setdefault("status", "DRAFT")
        imported = self._import(record)
        with self.registry.lock:
            taken = {n for e in self.issuer.entity_types.values() for n in (e.name, *e.aliases)}
        clash = sorted({imported.name, *imported.entity_type.aliases} & taken)
        if clash:
            raise ApiError(
                409,
                f"entity type {clash[0]} exists on this server: change it (PUT {SCHEMA_PATH}/<schemaId>), or name the "
                "schema otherwise",
                code=ErrorCode.INVALID_ENTITY_TYPE,
                entity=clash[0],
            )
        osid = str(uuid.uuid4())
        self._keep(imported, osid, record, 1)
        return {
            "message": "Successfully created Schema",
            "schemaAddResponse": sunbird("create", "Schema", osid),
            "entityType": imported.name,
            "version": 1,
            "notes": list(imported.notes),
        }

    def _update(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        with self._changing:
            return self._update_locked(name, change)

    def _update_locked(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        stored = next((s for s in self.store.entity_types() if s.name == name), None)
        if stored is None:
            raise ApiError(404, f"no schema {name}", code=ErrorCode.UNKNOWN_ENTITY_TYPE, entity=name)
        record = change(copy.deepcopy(dict(stored.record)))
        # the contexts of the versions before stay pinned: the certificates they signed name them
        served = self.issuer.entity_types.get(name)
        imported = self._import(record, keep=served.contexts if served is not None else {})
        if imported.name != name:
            raise bad(
                f"the schema now defines {imported.name}, not {name}: an entity type keeps its name (make a new "
                "schema for another)",
                "schema.title",
            )
        self._keep(imported, stored.schema_id, record, stored.version + 1)
        return {
            "schemaUpdateResponse": sunbird("update", "Schema", stored.schema_id),
            "entityType": name,
            "version": stored.version + 1,
            "notes": list(imported.notes),
        }

    def _import(self, record: dict[str, Any], keep: Mapping[str, bytes] | None = None) -> ImportedType:
        contexts = {**(keep or {}), **self._known_contexts(schema_of(record))}
        try:
            return import_schema(record, contexts=contexts, source="the schema")
        except EntityTypeError as exc:
            # a check of the imported type's files: named by the part of the schema they come from
            if "field" not in exc.details:
                file = str(exc.details.get("file", ""))
                exc.details["field"] = _FIELD_OF_FILE.get(file, "_osConfig.credentialTemplate.@context")
            raise

    def _keep(self, imported: ImportedType, osid: str, record: dict[str, Any], version: int) -> None:
        """Store the type, then serve it; a change made elsewhere meanwhile is loaded, and refused here."""
        at = _datetime.format(_datetime.now())
        try:
            self.store.put_entity_type(
                imported.name, imported.files, schema_id=osid, record=record, version=version, at=at
            )
        except LifecycleError as exc:
            if exc.code == ErrorCode.INVALID_TRANSITION:
                self.registry.load()  # serve what the store holds now
                raise ApiError(409, exc.message, code=exc.code, **exc.details) from None
            raise
        self.registry.install({imported.name: imported.entity_type}, {imported.name: (osid, version)})
        types_changed()  # the other workers of this server load it before their next request

    def _known_contexts(self, schema: Any) -> dict[str, bytes]:
        """The contexts the schema's template names that this server can pin: uploaded ones (at
        ``/vc-management/v1/context/{id}``, on any host) and those its types pin already.
        """
        os_config = schema.get("_osConfig") if isinstance(schema, dict) else None
        template = os_config.get("credentialTemplate") if isinstance(os_config, dict) else None
        text = template if isinstance(template, str) else json.dumps(template)
        pinned = {url: data for e in self.issuer.entity_types.values() for url, data in e.contexts.items()}
        found: dict[str, bytes] = {}
        for url in dict.fromkeys(_URLS.findall(text)):
            if url in pinned:
                found[url] = pinned[url]
                continue
            path = urlsplit(url).path
            if path.startswith(_CONTEXT_PATH):
                document = self.store.get_document(path[len(_CONTEXT_PATH) :])
                if document is not None and document.kind == "context":
                    found[url] = document.data
        return found

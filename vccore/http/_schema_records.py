"""DIVOC's schema records as vc-management-service treats them (``schema.utils.js``,
``role-add.middleware.js``, ``schema.controller.js``): the mandatory fields it adds, the checks
it makes on create, the template URLs it sets, the Sunbird RC registry's answers it passes on,
the multipart upload it reads; tenants' certificate pages (a schema's ``certificateTemplates``,
rendered on DIVOC's fetch route and by the preview); and the OpenAPI description of
:mod:`vccore.http.schemas`' routes.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from email import policy
from email.parser import BytesParser
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from .. import _json, render
from .._fetch import fetch_bounded
from ..certificate_templates import (
    MAX_TEMPLATE_BYTES,
    PAGE_SECURITY_HEADERS,
    CertificateTemplates,
    print_page,
    with_notice,
)
from ..codes import ErrorCode
from ..entities import EntityType
from ..errors import VccoreError
from ..store import Store
from ..verify import Verifier
from ._responses import ApiError
from ._service import read_body
from .auth import AuthError, Authorizer, authorize, bearer_token

MANAGE: Final = "manage"
"""The permission that makes and changes entity types (schemas), and uploads contexts and templates."""
SCHEMA_PATH: Final = "/vc-management/v1/schema"
CONTEXT_UPLOAD_PATH: Final = "/vc-management/v1/context"
TEMPLATE_PATH: Final = "/templates/sha256/"
_MANDATORY: Final = ("issuer", "issuanceDate")  # DIVOC's MANDATORY_FIELDS
_MANDATORY_EVIDENCE: Final = ("certificateId",)  # DIVOC's MANDATORY_EVIDENCE_FIELDS
_ROLE_SUFFIX: Final = "-realm-role"
PAGE_TYPES: Final = ("text/html", "image/svg+xml", "application/pdf")
"""What a tenant's template makes: the page (HTML or SVG, as the template is written), or its PDF."""
_UPLOADED: Final = re.compile(re.escape(TEMPLATE_PATH) + r"([0-9a-fA-F]{64})")
_UPSTREAM: Final = {ErrorCode.TEMPLATE_FETCH: 502, ErrorCode.RENDER_ERROR: 503}


# --- DIVOC's rules ------------------------------------------------------------------------------


def record_body(body: Any) -> dict[str, Any]:
    """A create request's Schema record: ``name`` and ``schema`` (JSON text, or the object)."""
    if not isinstance(body, dict):
        raise bad(f"the body is a Schema record {{name, schema, status}}, not {_json.kind(body)}", "body")
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise bad("name is required: the entity type's name (the schema's title)", "name")
    schema_of(body)
    return body


def schema_of(record: Mapping[str, Any]) -> Any:
    """The schema a record holds, parsed (a 400 naming ``schema`` when it is not a JSON object)."""
    schema = record.get("schema")
    if isinstance(schema, str):
        try:
            schema = _json.loads(schema)
        except ValueError as exc:
            raise bad(f"schema is not JSON: {exc}", "schema") from None
    if not isinstance(schema, dict):
        raise bad(f"schema is {_json.kind(schema)}: it is the JSON Schema (as JSON text)", "schema")
    if not isinstance(schema.get("_osConfig", {}), dict):
        raise bad(f"_osConfig is {_json.kind(schema['_osConfig'])}: it is an object", "_osConfig")
    return copy.deepcopy(schema)


def validate(schema: dict[str, Any], name: str, contexts: Mapping[str, bytes]) -> None:
    """DIVOC's validateSchema (on create): the template's evidence is of type ``name``, and one of
    its contexts defines that term. Contexts this server cannot read are left to the import.
    """
    template = (
        schema.get("_osConfig", {}).get("credentialTemplate") if isinstance(schema.get("_osConfig"), dict) else None
    )
    if not isinstance(template, dict):
        return  # DIVOC checks an object template only (vccore takes Handlebars text too)
    where = "_osConfig.credentialTemplate"
    evidence = template.get("evidence")
    evidence = evidence[0] if isinstance(evidence, list) and evidence else evidence
    if not isinstance(evidence, dict):
        raise bad("evidence not available in VC", f"{where}.evidence")
    kind = evidence.get("type")
    if not kind:
        raise bad("evidence doesn't have a valid type", f"{where}.evidence.type")
    if (isinstance(kind, list) and name not in kind) or (not isinstance(kind, list) and kind != name):
        raise bad(f"evidence type doesn't match with schema {name}", f"{where}.evidence.type")
    urls = [u for u in _json.one_or_many(template.get("@context")) if isinstance(u, str)]
    if not urls:
        raise bad("context is not available", f"{where}.@context")
    readable = [contexts[u] for u in urls if u in contexts]
    for data in readable:
        try:
            document = _json.loads(data)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("@context"), dict) and name in document["@context"]:
            return
    if len(readable) == len(urls):
        raise bad(f"evidence type {name} isn't defined in any context", f"{where}.@context")


def add_mandatory_fields(schema: dict[str, Any], name: str) -> None:
    """DIVOC's addMandatoryFields: issuer, issuanceDate and certificateId required strings, and
    placed in an object template (the evidence's certificateId, the top's issuer and issuanceDate).
    """
    os_config = schema.get("_osConfig")
    template = os_config.get("credentialTemplate") if isinstance(os_config, dict) else None
    if not isinstance(template, dict):
        return
    definitions = schema.get("definitions")
    definition = definitions.get(name, definitions.get(schema.get("title"))) if isinstance(definitions, dict) else None
    if isinstance(definition, dict):
        required = definition.setdefault("required", [])
        properties = definition.setdefault("properties", {})
        for field in (*_MANDATORY, *_MANDATORY_EVIDENCE):
            if isinstance(required, list) and field not in required:
                required.append(field)
            if isinstance(properties, dict):
                spec = properties.get(field)
                properties[field] = {**(spec if isinstance(spec, dict) else {}), "type": "string"}
    for field in _MANDATORY:
        if not template.get(field):
            template[field] = "{{{issuer}}}" if field == "issuer" else "{{" + field + "}}"
    evidence = template.get("evidence")
    evidence = evidence[0] if isinstance(evidence, list) and evidence else evidence
    if isinstance(evidence, dict):
        for field in _MANDATORY_EVIDENCE:
            evidence[field] = "{{" + field + "}}"


def updated(record: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The record after a PUT: the fields given replace the stored ones (as the registry merges
    them), the schema with DIVOC's mandatory fields; a PUBLISHED schema stays PUBLISHED.
    """
    if record.get("status") == "PUBLISHED" and body.get("status") == "DRAFT":
        raise bad("Schema status update not allowed for a published schema", "status")
    merged = {**record, **{k: v for k, v in body.items() if k in ("name", "schema", "status")}}
    if "schema" in body:
        schema = schema_of(merged)
        add_mandatory_fields(schema, str(merged.get("name", "")))
        merged["schema"] = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    return merged


def with_templates(record: dict[str, Any], urls: Mapping[str, str]) -> dict[str, Any]:
    """DIVOC's updateSchemaTemplateUrls: each key's URL set in ``_osConfig.certificateTemplates``."""
    schema = schema_of(record)
    os_config = schema.get("_osConfig")
    if isinstance(os_config, dict):
        templates = os_config.get("certificateTemplates")
        os_config["certificateTemplates"] = {**(templates if isinstance(templates, dict) else {}), **urls}
    return {**record, "schema": json.dumps(schema, ensure_ascii=False, separators=(",", ":"))}


def schema_record(stored: Any) -> dict[str, Any]:
    """A stored type as the registry lists a Schema entity, with vccore's version beside."""
    return {
        **stored.record,
        "osid": "1-" + stored.schema_id,
        "osCreatedAt": stored.created_at,
        "osUpdatedAt": stored.updated_at,
        "entityType": stored.name,
        "version": stored.version,
    }


def sunbird(operation: str, entity: str, osid: str) -> dict[str, Any]:
    """The Sunbird RC registry's answer to a create or update, which DIVOC passes on."""
    return {
        "id": f"sunbird-rc.registry.{operation}",
        "ver": "1.0",
        "ets": int(time.time() * 1000),
        "params": {"resmsgid": "", "msgid": str(uuid.uuid4()), "err": "", "status": "SUCCESSFUL", "errmsg": ""},
        "responseCode": "OK",
        "result": {entity: {"osid": "1-" + osid}},
    }


def token_role(request: Request) -> str | None:
    """The realm role DIVOC gives the caller (``preferred_username`` + ``-realm-role``), read from
    a JWT that has been verified already; None for a token that is not a JWT or names no user.
    """
    try:
        token = bearer_token(request.headers.get("authorization"))
        payload = token.split(".")[1] if token is not None and token.count(".") == 2 else ""
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) if payload else None
    except (AuthError, ValueError):
        return None
    user = claims.get("preferred_username") if isinstance(claims, dict) else None
    return user + _ROLE_SUFFIX if isinstance(user, str) and user else None


def may(authorizer: Authorizer, token: str | None, name: str) -> bool:
    try:
        authorize(authorizer, token, MANAGE, name)
    except AuthError:
        return False
    return True


async def form_file(request: Request) -> tuple[bytes, str | None]:
    """The bytes and media type of the ``files`` field of a multipart/form-data body (what DIVOC's
    multer reads), at most MAX_BODY bytes; read with the standard library's MIME parser.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415,
            f"the body is multipart/form-data with the file in the field files, not {content_type or 'untyped'}",
            code=ErrorCode.MALFORMED_REQUEST,
            field="Content-Type",
        )
    body = await read_body(request)
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if message.is_multipart():
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "files":
                data = part.get_payload(decode=True)
                if isinstance(data, bytes):
                    return data, part.get_content_type() if part.get("content-type") else None
    raise bad("the form has no file in the field files", "files")


def bad(message: str, field: str) -> ApiError:
    return ApiError(400, message, code=ErrorCode.INVALID_ENTITY_TYPE, field=field)


# --- tenants' certificate pages -------------------------------------------------------------------


def tenant_templates(store: Store) -> CertificateTemplates:
    """Tenants' templates by URL, rendered as certificate-api renders them. A template uploaded to
    a server on ``store`` (``/templates/sha256/{sha256}``, on any host: the digest names the text)
    is read from the store, never over HTTP; any other http(s) URL is fetched (1 MiB within 2 s)
    once, and kept in a bounded cache by URL.
    """

    def fetch(url: str) -> bytes:
        found = _UPLOADED.fullmatch(urlsplit(url).path)
        document = store.get_document(found.group(1).lower()) if found is not None else None
        if document is not None and document.kind == "template":
            return bytes(document.data)
        return fetch_bounded(url, limit=MAX_TEMPLATE_BYTES, seconds=2.0)

    return CertificateTemplates(fetch=fetch)


def check_template_url(url: str, field: str) -> None:
    """A 400 naming ``field`` for a template URL vccore cannot read: MinIO's (DIVOC's uploads), or
    anything but http(s).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "minio":
        raise ApiError(
            400,
            f"{field}: the template {url} is in MinIO, which vccore does not reach: upload the template instead "
            f"(PUT {SCHEMA_PATH}/{{schemaId}}/updateTemplate?templateKey=<key>), which names it at this server's "
            f"{TEMPLATE_PATH}<sha256>",
            code=ErrorCode.TEMPLATE_FETCH,
            field=field,
            url=url,
        )
    if scheme not in ("http", "https"):
        raise ApiError(
            400, f"{field}: {url!r} is not an http(s):// URL", code=ErrorCode.TEMPLATE_FETCH, field=field, url=url
        )


def template_url(entity: EntityType, key: str | None) -> str | None:
    """The URL of ``entity``'s certificate template ``key`` (DIVOC's ``template-key`` header): None
    for no key, a 400 naming the header for a key the type has not or a URL vccore cannot read.
    """
    if not key:
        return None
    url = entity.certificate_templates.get(key)
    if url is None:
        known = ", ".join(sorted(entity.certificate_templates)) or "none"
        raise ApiError(
            400,
            f"template-key {key!r}: {entity.name} has no such certificate template (its keys: {known})",
            code=ErrorCode.MALFORMED_REQUEST,
            field="template-key",
            entity=entity.name,
        )
    check_template_url(url, "template-key")
    return url


def preview_request(body: Any) -> tuple[str, dict[str, Any], str]:
    """A preview request's parts (schema.controller.js previewSchema's body): the credential
    template's text (the schema's ``_osConfig.credentialTemplate``, an object or its text), the
    sample data, and the template's URL; a 400 naming the field otherwise.
    """
    if not isinstance(body, dict):
        raise _refused(f"the body is {{credentialTemplate, data, template}}, not {_json.kind(body)}", "body")
    template, data, url = body.get("credentialTemplate"), body.get("data"), body.get("template")
    if isinstance(template, dict):
        template = json.dumps(template, ensure_ascii=False)
    if not isinstance(template, str) or not template:
        what = _json.kind(body.get("credentialTemplate"))
        raise _refused(
            f"credentialTemplate is the schema's credential template (an object), not {what}", "credentialTemplate"
        )
    if not isinstance(data, dict):
        raise _refused(f"data is the sample payload (an object), not {_json.kind(data)}", "data")
    if not isinstance(url, str) or not url:
        raise _refused(
            "template is the URL of the certificate template to print (the schema's certificateTemplates)", "template"
        )
    check_template_url(url, "template")
    return template, data, url


def _refused(message: str, field: str) -> ApiError:
    return ApiError(400, message, code=ErrorCode.MALFORMED_REQUEST, field=field)


def pdf_name(certificate_id: str) -> str:
    """A file name for the certificate's PDF: its id, in characters safe in a header."""
    return (re.sub(r"[^A-Za-z0-9._-]", "_", certificate_id)[:100] or "certificate") + ".pdf"


def tenant_page(
    templates: CertificateTemplates,
    url: str,
    credential: Mapping[str, Any],
    media: str,
    *,
    entity_id: str | None = None,
    entity_name: str | None = None,
    filename: str = "certificate.pdf",
    verifier: Verifier | None = None,
) -> Response:
    """The answer of a tenant's template at ``url`` made of ``credential`` (its compact JSON text
    is the page's data and its QR code's): the page for ``text/html`` or ``image/svg+xml``, with
    :data:`PAGE_SECURITY_HEADERS`; its PDF for ``application/pdf``. Blocking: run it in a worker
    thread. A template that cannot be fetched is 502, a printer that fails 503. With ``verifier``,
    a credential that is not current has its state in a band at the page's top.
    """
    text = json.dumps(credential, ensure_ascii=False, separators=(",", ":"))
    notice = render.page_state(credential, verifier.verify(credential))[1] if verifier is not None else []
    try:
        page = with_notice(templates.render_url(url, text, entity_id=entity_id, entity_name=entity_name), notice)
        if media != "application/pdf":
            return Response(page, media_type=f"{media}; charset=utf-8", headers=PAGE_SECURITY_HEADERS)
        printed = print_page(page)
    except VccoreError as exc:
        status = _UPSTREAM.get(exc.code)
        if status is None:
            raise
        raise ApiError(status, exc.message, code=exc.code, **exc.details) from None
    return Response(
        printed, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )


# --- the OpenAPI description --------------------------------------------------------------------


def openapi_paths(problems: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI path items of these routes (``problems``: the document's problem answers)."""
    security = [{"bearer": [MANAGE]}]
    schema_id = {"name": "schemaId", "in": "path", "required": True, "schema": {"type": "string"}}
    record = {
        "type": "object",
        "required": ["name", "schema"],
        "properties": {
            "name": {"type": "string", "description": "The entity type's name (the schema's title)"},
            "schema": {"type": "string", "description": "The Sunbird RC JSON Schema, as JSON text"},
            "status": {"type": "string", "enum": ["DRAFT", "PUBLISHED"]},
        },
    }
    answer = {"description": "Done", "content": {"application/json": {"schema": {"type": "object"}}}}
    form = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"files": {"type": "string", "format": "binary"}}}
            }
        },
    }
    urls = {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}
    preview = {
        "type": "object",
        "required": ["credentialTemplate", "data", "template"],
        "properties": {
            "credentialTemplate": {"description": "The schema's _osConfig.credentialTemplate (an object or its text)"},
            "data": {"type": "object", "description": "The sample payload"},
            "template": {"type": "string", "description": "The certificate template's http(s) URL"},
        },
    }
    change = {"responses": {"200": answer, **problems(400, 401, 403, 404, 409)}, "security": security}
    return {
        SCHEMA_PATH: {
            "post": {
                "summary": "Make an entity type from a Sunbird RC Schema record, at once (DIVOC's schema create)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": record}}},
                **change,
            },
            "get": {
                "summary": "The schemas made here that the token may manage: {schemas: [...]}",
                "responses": {"200": answer, **problems(401, 403)},
                "security": security,
            },
        },
        SCHEMA_PATH + "/preview": {
            "post": {
                "summary": "The sample data signed with this server's key and printed with the template as a PDF "
                "(nothing is recorded)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": preview}}},
                "responses": {
                    "200": {
                        "description": "The certificate's page, printed",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **problems(400, 401, 403, 413, 502, 503),
                },
                "security": security,
            }
        },
        SCHEMA_PATH + "/{schemaId}": {
            "get": {
                "summary": "One schema: {schemas: [record]}",
                "parameters": [schema_id],
                "responses": {"200": answer, **problems(401, 403, 404)},
                "security": security,
            },
            "put": {
                "summary": "A new version of the entity type (the record's fields given replace the stored ones)",
                "parameters": [schema_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": record}}},
                **change,
            },
        },
        SCHEMA_PATH + "/{schemaId}/updateTemplateUrl": {
            "put": {
                "summary": "Set certificate template URLs (templateKey -> URL) in the schema's certificateTemplates",
                "parameters": [schema_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": urls}}},
                **change,
            }
        },
        SCHEMA_PATH + "/{schemaId}/updateTemplate": {
            "put": {
                "summary": "Upload a certificate template (form field files) for templateKey (default html)",
                "parameters": [
                    schema_id,
                    {"name": "templateKey", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "requestBody": form,
                "responses": {"200": answer, **problems(400, 401, 403, 404, 409, 413)},
                "security": security,
            }
        },
        CONTEXT_UPLOAD_PATH: {
            "post": {
                "summary": "Upload a JSON-LD context (form field files): served at the url answered, never changed",
                "requestBody": form,
                "responses": {"200": answer, **problems(400, 401, 403, 413)},
                "security": security,
            }
        },
        TEMPLATE_PATH + "{sha256}": {
            "get": {
                "summary": "An uploaded certificate template, as uploaded (public)",
                "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The template"}, **problems(404)},
            }
        },
    }

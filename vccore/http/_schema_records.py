"""DIVOC's schema records as vc-management-service treats them (``schema.utils.js``,
``role-add.middleware.js``, ``schema.controller.js``): the mandatory fields it adds, the checks
it makes on create, the template URLs it sets, the Sunbird RC registry's answers it passes on,
the multipart upload it reads; and the OpenAPI description of :mod:`vccore.http.schemas`' routes.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections.abc import Callable, Mapping
from email import policy
from email.parser import BytesParser
from typing import Any, Final

from starlette.requests import Request

from .. import _json
from ..codes import ErrorCode
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

"""The OpenAPI 3.1 document of ``vccore serve`` (:mod:`vccore.http`), served at ``/openapi.json``.

Written out here rather than derived: the routes take JSON whose shape is an entity type's JSON
Schema, which the document embeds (one ``<Type>Payload`` schema per type, aliases included in
the ``entityName`` enum), so a client sees exactly what each type accepts.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..codes import CredentialStatus, ErrorCode
from ..issuer import Issuer
from ..store import RecordState
from ._schema_records import openapi_paths
from .templates import openapi_paths as template_paths

__all__ = ["PROBLEM_CODES", "document"]

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
PROBLEM_CODES: tuple[str, ...] = tuple(
    sorted({code.value for code in ErrorCode} | {word.value for word in CredentialStatus if word != "VALID"})
)
"""The ``code`` of the API's problem details: an error's code, or the status word of a credential or
presentation that does not verify (the VC API's verify routes)."""


def _answer(description: str, schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    return {"description": description, **({} if schema is None else {"content": {media: {"schema": schema}}})}


def _problems(*statuses: int) -> dict[str, Any]:
    words = {
        400: "Malformed request",
        401: "No bearer token, or one that does not verify",
        403: "The token lacks the permission",
        404: "Not found",
        406: "None of the accepted media types",
        409: "Not possible in the certificate's state",
        413: "Body too large",
        422: "The payload is invalid for the entity type",
        500: "An unexpected fault of the server (its log has it, under the reference the detail gives)",
        502: "A certificate template could not be fetched from its URL",
        503: "The store, or the PDF printer, is unavailable",
    }
    return {str(s): _answer(words[s], _PROBLEM, "application/problem+json") for s in statuses}


def _get(summary: str, answer: str, *codes: int) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": _answer(answer, {"type": "object"}), **_problems(*codes)}}}


def _secured(scope: str) -> list[dict[str, list[str]]]:
    return [{"bearer": [scope]}]


def _management_paths() -> dict[str, Any]:
    """The routes of :mod:`vccore.http.management` (pinned contexts, DIVOC's api-docs) and of
    :mod:`vccore.http.schemas` (schemas, uploaded contexts and templates).
    """
    context = {
        "description": "The context's exact bytes, as pinned",
        "headers": {
            "ETag": {"description": "The sha256 of the bytes, quoted (strong)", "schema": {"type": "string"}},
            "Repr-Digest": {"description": "RFC 9530: sha-256 of the bytes", "schema": {"type": "string"}},
        },
        "content": {"application/ld+json": {"schema": {"type": "object", "required": ["@context"]}}},
    }
    unchanged = _answer("Not modified: If-None-Match names the ETag")
    docs = {
        "get": {
            "summary": "DIVOC's api-docs path: this document as JSON (Accept: application/json), else an HTML "
            "page listing the operations that loads nothing from the network (public)",
            "responses": {
                "200": {
                    "description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}, "text/html": {}},
                },
                **_problems(406),
            },
        }
    }
    return {
        "/vc-management/v1/context/{osid}": {
            "get": {
                "summary": "A context this server has pinned at a URL whose path is this one, on any host: what "
                "the @context of DIVOC-style credentials names (public)",
                "parameters": [{"name": "osid", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": context, "304": unchanged, **_problems(404, 409)},
            },
        },
        "/contexts/sha256/{sha256}": {
            "get": {
                "summary": "Any context this server has pinned, by the sha256 of its bytes (public)",
                "parameters": [
                    {
                        "name": "sha256",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                    }
                ],
                "responses": {"200": context, "304": unchanged, **_problems(404)},
            },
        },
        "/vc-certification/api-docs": docs,
        "/vc-management/api-docs": docs,
        **openapi_paths(_problems),
        **template_paths(_problems),
    }


def document(issuer: Issuer, *, status_path: str, list_size: int) -> dict[str, Any]:
    """The document for this issuer's entity types and status URL."""
    types = issuer.entity_types
    names = sorted({name for entity in types.values() for name in (entity.name, *entity.aliases)})
    entity_param = {
        "name": "entityName",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": names},
        "description": "An entity type (or an alias, such as DIVOC 3.x's HealthProfessional_1).",
    }
    certificate_param = {"name": "certificateId", "in": "path", "required": True, "schema": {"type": "string"}}
    idempotency = {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 257}}
    payloads = {
        f"{entity.name}Payload": {**entity.schema, "description": entity.description} for entity in types.values()
    }
    payload_ref = {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in sorted(payloads)]}
    credential = {
        "type": "object",
        "description": "A W3C Verifiable Credential (JSON-LD)",
        "additionalProperties": True,
    }
    verification = {"$ref": "#/components/schemas/Verification"}
    certified_answer = {
        **_answer("Signed and recorded", {"$ref": "#/components/schemas/Certified"}),
        "headers": {
            "Idempotent-Replayed": {
                "description": "true when the payload (or Idempotency-Key) was sent before: the answer is "
                "that request's, and nothing was signed",
                "schema": {"const": "true"},
            }
        },
    }
    paths: dict[str, Any] = {
        "/vc-certification/v1/certify/{entityName}": {
            "parameters": [entity_param, idempotency],
            "post": {
                "summary": "Certify a payload; a certificateId already in the store updates that certificate",
                "security": _secured("certify"),
                "requestBody": {"required": True, "content": {"application/json": {"schema": payload_ref}}},
                "responses": {
                    "200": certified_answer,
                    **_problems(400, 401, 403, 404, 409, 413, 422, 500, 503),
                },
            },
            "put": {
                "summary": "Update: re-issue the payload's certificateId and supersede it",
                "security": _secured("certify"),
                "requestBody": {"required": True, "content": {"application/json": {"schema": payload_ref}}},
                "responses": {
                    "200": certified_answer,
                    **_problems(400, 401, 403, 404, 409, 413, 422, 500, 503),
                },
            },
        },
        "/vc-management/v1/transaction/{transactionId}": {
            "get": {
                "summary": "What became of a certify request",
                "security": _secured("read"),
                "parameters": [{"name": "transactionId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _answer("The transaction", {"$ref": "#/components/schemas/Transaction"}),
                    **_problems(401, 403, 404),
                },
            },
        },
        "/vc-certification/v1/certificate/{entityName}/{certificateId}": {
            "get": {
                "summary": "A certificate: the credential, its printable page or its QR code, by the Accept header",
                "description": "With template-key and Accept text/html, image/svg+xml or application/pdf: the page "
                "(or its PDF) of the entity type's own certificate template of that key (certificateTemplates), "
                "rendered as Sunbird RC's certificate-api renders it.",
                "security": _secured("read"),
                "parameters": [
                    entity_param,
                    certificate_param,
                    {
                        "name": "template-key",
                        "in": "header",
                        "required": False,
                        "description": "A key of the entity type's certificateTemplates (DIVOC's header); none: "
                        "vccore's own layout. An unknown key, or a template in MinIO: 400",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The certificate, as it was signed; its state now in the headers",
                        "headers": {
                            "Certificate-State": {
                                "description": "The certificate's state now",
                                "schema": {"enum": [str(state) for state in RecordState]},
                            },
                            "Certificate-Suspended-Until": {
                                "description": "When a suspension in force ends (SUSPENDED only; none: until lifted)",
                                "schema": {"type": "string", "format": "date-time"},
                            },
                            "Link": {
                                "description": "RFC 5829 links to the other versions: successor-version and "
                                "latest-version (an updated certificate), predecessor-version (an update)",
                                "schema": {"type": "string"},
                            },
                        },
                        "content": {
                            "application/vc+ld+json": {"schema": credential},
                            "application/json": {"schema": credential},
                            "text/html": {"schema": {"type": "string"}},
                            "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}},
                            "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
                            "image/svg+xml": {"schema": {"type": "string"}},
                        },
                    },
                    **_problems(400, 401, 403, 404, 406, 502, 503),
                },
            },
        },
        "/vc-certification/v1/certificate/revoke": {
            "post": {
                "summary": "Revoke a certificate; with endDate, suspend it until then",
                "security": _secured("revoke"),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RevokeRequest"}}},
                },
                "responses": {
                    "200": _answer("The certificate's record", {"$ref": "#/components/schemas/Record"}),
                    **_problems(400, 401, 403, 404, 409, 413),
                },
            },
        },
        "/vc-certification/v1/certificate/revoke/{entityName}/{certificateId}": {
            "delete": {
                "summary": "Lift a suspension",
                "security": _secured("revoke"),
                "parameters": [entity_param, certificate_param],
                "responses": {
                    "200": _answer("The certificate's record", {"$ref": "#/components/schemas/Record"}),
                    **_problems(401, 403, 404, 409),
                },
            },
        },
        "/vc-certification/v1/certificate/verify": {
            "post": {
                "summary": "Verify a credential, with its current status (public)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": credential}}},
                "responses": {"200": _answer("The verdict", verification), **_problems(400, 413)},
            },
        },
        status_path + "{set}/{purpose}": {
            "get": {
                "summary": f"A status list credential (W3C Bitstring Status List, {list_size:,} entries; public)",
                "parameters": [
                    {
                        "name": "set",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"},
                    },
                    {
                        "name": "purpose",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["revocation", "suspension", "message", "state"]},
                    },
                ],
                "responses": {"200": _answer("The signed list", credential), **_problems(404, 406)},
            },
        },
        "/credentials/issue": {
            "post": {
                "summary": "W3C VC API: sign a credential as this issuer",
                "security": _secured("certify"),
                "parameters": [idempotency],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["credential"],
                                "properties": {"credential": credential, "options": {"type": "object"}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": _answer("Signed", {"type": "object", "properties": {"verifiableCredential": credential}}),
                    **_problems(400, 401, 403, 409, 413, 422),
                },
            },
        },
        "/credentials/status": {
            "post": {
                "summary": "W3C VC API: set or clear a recorded credential's revocation or suspension",
                "security": _secured("revoke"),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["credentialId", "credentialStatus", "status"],
                                "properties": {
                                    "credentialId": {"type": "string"},
                                    "credentialStatus": {
                                        "type": "object",
                                        "required": ["type", "statusPurpose"],
                                        "properties": {
                                            "type": {
                                                "type": "string",
                                                "enum": ["BitstringStatusListEntry", "BitstringStatusList"],
                                            },
                                            "statusPurpose": {"type": "string", "enum": ["revocation", "suspension"]},
                                        },
                                    },
                                    "status": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _answer("The record, changed", {"type": "object"}),
                    **_problems(400, 401, 403, 404, 409, 413),
                },
            },
        },
        "/credentials/verify": {
            "post": {
                "summary": "W3C VC API: verify a credential (public)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["verifiableCredential"],
                                "properties": {"verifiableCredential": credential, "options": {"type": "object"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _answer("Verified", {"$ref": "#/components/schemas/VcApiVerification"}),
                    **_problems(400, 413),
                },
            },
        },
        "/presentations/verify": {
            "post": {
                "summary": "W3C VC API: verify a presentation and its credentials (public)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["verifiablePresentation"],
                                "properties": {
                                    "verifiablePresentation": {
                                        "type": "object",
                                        "description": "A W3C Verifiable Presentation",
                                    },
                                    "options": {
                                        "type": "object",
                                        "properties": {"challenge": {"type": "string"}, "domain": {"type": "string"}},
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _answer("Verified", {"$ref": "#/components/schemas/VcApiVerification"}),
                    **_problems(400, 413),
                },
            },
        },
        **_management_paths(),
        "/health": _get("Liveness: the process answers", "Up"),
        "/ready": _get("Readiness: the store answers a trivial query within 2 s", "Ready", 503),
        "/openapi.json": _get("This document", "OpenAPI 3.1"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vccore",
            "version": __version__,
            "description": "DIVOC 3.x's certification API and the W3C VC API, signing with vccore.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A JWT from the configured token issuer with the scope or role certify, revoke or read; or the server's static token.",
                },
            },
            "schemas": {
                **payloads,
                "Certified": {
                    "type": "object",
                    "required": ["transactionId"],
                    "properties": {"transactionId": {"type": "string"}, "certificateId": {"type": "string"}},
                },
                "Transaction": {
                    "type": "object",
                    "required": ["transactionId", "status"],
                    "properties": {
                        "transactionId": {"type": "string"},
                        "certificateId": {"type": ["string", "null"]},
                        "entityType": {"type": "string"},
                        "status": {"enum": ["SUCCESSFUL", "UNSUCCESSFUL"]},
                        "reason": {"type": "object"},
                    },
                },
                "RevokeRequest": {
                    "type": "object",
                    "required": ["certificateId", "entityName"],
                    "properties": {
                        "certificateId": {"type": "string"},
                        "entityName": {"type": "string"},
                        "endDate": {
                            "type": "string",
                            "description": "Suspend until then: a date, YYYY-MM-DD (until that day begins, "
                            "00:00:00 UTC), or a date-time with a zone (2027-01-01T00:00:00Z); in the future",
                        },
                        "reason": {"type": "string"},
                    },
                },
                "Record": {
                    "type": "object",
                    "properties": {
                        "certificateId": {"type": "string"},
                        "transactionId": {"type": "string"},
                        "entityType": {"type": "string"},
                        "state": {"enum": [str(state) for state in RecordState]},
                        "statusList": {"type": "integer"},
                        "statusListIndex": {"type": "integer"},
                        "replaces": {"type": ["string", "null"]},
                        "replacedBy": {"type": ["string", "null"]},
                        "suspendedUntil": {"type": ["string", "null"]},
                        "reason": {"type": ["string", "null"]},
                        "createdAt": {"type": "string"},
                        "updatedAt": {"type": "string"},
                    },
                },
                "Verification": {
                    "type": "object",
                    "required": ["certificateStatus", "verified"],
                    "properties": {
                        "certificateStatus": {"enum": ["VALID", "SUPERSEDED", "REVOKED", "SUSPENDED", "INVALID"]},
                        "verified": {"type": "boolean"},
                        "status": {"type": "string"},
                        "successor": {"type": "string"},
                        "problems": {"type": "array", "items": {"type": "object"}},
                        "warnings": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "VcApiVerification": {
                    "type": "object",
                    "properties": {
                        "verified": {"type": "boolean"},
                        "checks": {"type": "array", "items": {"type": "string"}},
                        "warnings": {"type": "array"},
                        "errors": {"type": "array"},
                    },
                },
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details, with vccore's stable code",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "code": {
                            "type": "string",
                            "enum": list(PROBLEM_CODES),
                            "description": "vccore's stable code (docs/codes.md)",
                        },
                        "transactionId": {"type": "string"},
                    },
                },
            },
        },
    }

"""The W3C VC API: ``/credentials/issue``, ``/credentials/status``, ``/credentials/verify``, ``/presentations/verify``."""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _datetime
from .._json import one_or_many
from ..canon import to_quads
from ..codes import CredentialStatus, ErrorCode
from ..errors import VccoreError
from ..issuer import Issuer, issuer_of, new_transaction_id
from ..proofs import sign_with_transform
from ..status import STATE_LIST, STATE_SIZE, add_lifecycle
from ..store import Record, RecordState, list_of
from ..suites import DEFAULT_SUITE, Suite
from ..verify import UnsignedCredential, check_unsigned
from ._idempotency import RequestKeys, idempotency_key, insert_once, issued_before, replayed, request_keys
from ._responses import ApiError, problem, summary
from ._service import Handlers, Service

__all__ = ["VcApi"]


class VcApi(Handlers):
    """The handlers of the W3C VC API."""

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        self._entity_credential_types = _entity_credential_types(service.issuer)

    def routes(self) -> list[Route]:
        """The API's routes, in the order they are matched."""
        return [
            Route("/credentials/issue", self.vc_issue, methods=["POST"]),
            Route("/credentials/status", self.vc_status, methods=["POST"]),
            Route("/credentials/verify", self.vc_verify, methods=["POST"]),
            Route("/presentations/verify", self.vp_verify, methods=["POST"]),
        ]

    async def vc_issue(self, request: Request) -> Response:
        """``POST /credentials/issue`` (VC API): sign a credential, with status entries. A
        refusal names the credential's ``id`` as ``credentialId``, when it has one.
        """
        ids: dict[str, str] = {}

        async def work() -> Response:
            subject = self._authorize(request, "certify", "VerifiableCredential")  # the entity type the VC API records
            sent = idempotency_key(request.headers)
            body = await self._json(request)
            credential, options = _vc_api_body(body, "credential")
            if isinstance(credential.get("id"), str):
                ids["credentialId"] = credential["id"]
            keys = None if sent is None else request_keys("POST /credentials/issue", subject, sent, body)
            signed, again = await run_in_threadpool(self._vc_issue, credential, options, keys)
            answer = {"verifiableCredential": signed}
            return replayed(answer, 201) if again else JSONResponse(answer, status_code=201)

        return await self._guard(work, correlation=ids)

    def _vc_issue(
        self, credential: dict[str, Any], options: dict[str, Any], keys: RequestKeys | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Sign a credential the caller wrote, as this issuer, and record it; and whether it was
        issued before, for a request with the same Idempotency-Key (``keys``).

        What is decided is read from the credential as it will be signed (its RDF: another
        spelling of a key changes nothing): the data model is checked first (what a verifier
        would refuse is not signed); what this issuer's own machinery owns is refused (status
        list credentials and any type of the status vocabularies, any URL under the store's
        status URL, the credential types of its entity types, which are issued from a checked
        payload through the certification API). Every credential issued is recorded in the store
        under its ``id`` (a ``urn:uuid:`` one is given when it has none), with entity type
        ``VerifiableCredential``; a VC 2.0 credential carries revocation and suspension entries
        unless asked not to, so that ``POST /credentials/status`` can change its status (a VC
        1.1 one when asked: see :func:`_status_purposes`). Options: the suite (``cryptosuite``:
        eddsa-rdfc-2022 or eddsa-jcs-2022; ``type``: Ed25519Signature2020; default the
        server's), and ``credentialStatus``: ``{type: "BitstringStatusListEntry",
        statusPurpose?: "revocation" | "suspension"}`` for one purpose only, ``{type,
        statusPurpose: "message", statusSize: 2}`` for the entry of the state list (the four
        states in two bits), an array of these for several, or null for none.
        """
        if keys is not None and (issued := issued_before(self.store, keys)) is not None:
            return issued.credential, True
        ours = issuer_of(self.issuer.signer)
        if "proof" in credential:
            raise ApiError(
                400,
                "the credential has a proof already: /credentials/issue signs unsecured credentials",
                code=ErrorCode.MALFORMED_REQUEST,
                field="proof",
            )
        unsigned = check_unsigned(credential, self.verifier.contexts)
        if unsigned.issuer is None:
            raise ApiError(
                400,
                f"the credential names no issuer (this service issues as {ours})",
                code=ErrorCode.MALFORMED_REQUEST,
                field="issuer",
            )
        if unsigned.issuer != ours:
            raise ApiError(
                400,
                f"the credential's issuer {unsigned.issuer} is not this service's ({ours})",
                code=ErrorCode.ISSUER_MISMATCH,
                field="issuer",
            )
        if unsigned.problems or unsigned.version is None:
            problems = unsigned.problems
            raise ApiError(
                400,
                "; ".join(p.detail for p in problems),
                code=ErrorCode.MALFORMED_VALUE_ERROR,
                extra={"problems": [p.to_dict() for p in problems]},
            )
        self._refuse_owned(unsigned)
        suite = _suite_option(options, self.issuer.suite if self.issuer.suite is not None else DEFAULT_SUITE)
        purposes = _status_purposes(options, unsigned.version)
        if unsigned.has_status:
            # Another status service's entries (none may name this issuer's lists: see
            # _refuse_owned) are the caller's to keep; this issuer's own come on request only.
            if "credentialStatus" in options and options["credentialStatus"] is not None:
                raise ApiError(
                    400,
                    "the credential has a credentialStatus already",
                    code=ErrorCode.MALFORMED_REQUEST,
                    field="credentialStatus",
                )
            purposes = ()
        document = json.loads(json.dumps(credential))
        certificate_id = unsigned.id if unsigned.id is not None else f"urn:uuid:{uuid.uuid4()}"
        if unsigned.id is None:
            if "id" in document or "@id" in document:  # a blank node's label: nothing to record it under
                raise ApiError(
                    400,
                    "the credential's id must be a URL (or be left out, and one is given)",
                    code=ErrorCode.MALFORMED_REQUEST,
                    field="id",
                )
            document = {**{k: v for k, v in document.items() if k == "@context"}, "id": certificate_id, **document}
        if self.store.get(certificate_id) is not None:
            raise ApiError(
                409,
                f"a credential with id {certificate_id} is recorded already",
                code=ErrorCode.DUPLICATE_CERTIFICATE_ID,
                certificate_id=certificate_id,
            )
        status_list, status_index = self.store.allocate_status_positions(1)[0]
        if purposes:
            # Revocation and suspension (or what was asked for); not the one-bit "message" list,
            # which tells a superseded certificate from a revoked one, and these are never
            # superseded (the state list, when asked for, says so in its own values).
            add_lifecycle(document, unsigned.version, self.store.status_url, status_list, status_index, None, purposes)
        signed = sign_with_transform(
            document, self.issuer.signer, suite=suite, contexts=self.issuer.contexts, copy_document=False
        )
        stamp = _datetime.format(_datetime.now())
        record = Record(
            certificate_id=certificate_id,
            transaction_id=new_transaction_id(),
            entity_type="VerifiableCredential",
            credential=signed,
            status_list=status_list,
            status_index=status_index,
            state=RecordState.VALID,
            created_at=stamp,
            updated_at=stamp,
        )
        with self.store.transaction() as tx:
            earlier = insert_once(tx, record, keys)
        if earlier is not None:  # the same Idempotency-Key sent beside this request stored it
            return earlier.credential, True
        self._changed(record)
        return signed, False

    def _refuse_owned(self, unsigned: UnsignedCredential) -> None:
        """What only this issuer's own machinery may sign (issue #16: a token that could certify
        signed a status list credential with the real list's id and an all-zero list, which
        turned a revoked credential VALID for a verifier holding it).
        """
        status_types = sorted(unsigned.types & _STATUS_LIST_TYPES)
        if status_types:
            raise ApiError(
                400,
                f"the credential holds {status_types[0]}: status lists are this issuer's own, signed from its store",
                code=ErrorCode.RESERVED_BY_ISSUER,
                field="type",
            )
        base = self.store.status_url
        inside = sorted(iri for iri in unsigned.iris if iri.startswith(base))
        if inside:
            raise ApiError(
                400,
                f"the credential names {inside[0]}, under this issuer's status lists ({base})",
                code=ErrorCode.RESERVED_BY_ISSUER,
                field="id",
            )
        entity = next((name for kind, name in self._entity_credential_types.items() if kind in unsigned.types), None)
        if entity is not None:
            raise ApiError(
                400,
                f"{entity} credentials are issued from a payload its schema checks: POST /vc-certification/v1/certify/{entity}",
                code=ErrorCode.RESERVED_BY_ISSUER,
                field="type",
            )

    async def vc_status(self, request: Request) -> Response:
        """``POST /credentials/status`` (VC API): set a status bit of this issuer's own lists. A
        refusal names the request's ``credentialId``, once it is one.
        """
        ids: dict[str, str] = {}

        async def work() -> Response:
            self._authorize(request, "revoke")
            body = await self._json(request)
            if not isinstance(body, dict):
                raise ApiError(
                    400,
                    "the body is {credentialId, credentialStatus: {type, statusPurpose}, status}",
                    code=ErrorCode.MALFORMED_REQUEST,
                )
            credential_id, entry, status = body.get("credentialId"), body.get("credentialStatus"), body.get("status")
            if not isinstance(credential_id, str) or not credential_id:
                raise ApiError(
                    400, "credentialId is required (a string)", code=ErrorCode.MALFORMED_REQUEST, field="credentialId"
                )
            ids["credentialId"] = credential_id
            if not isinstance(entry, dict) or entry.get("type") not in (
                "BitstringStatusListEntry",
                "BitstringStatusList",
            ):
                raise ApiError(
                    400,
                    'credentialStatus is {"type": "BitstringStatusListEntry", "statusPurpose": ...}',
                    code=ErrorCode.MALFORMED_REQUEST,
                    field="credentialStatus",
                )
            purpose = entry.get("statusPurpose")
            if purpose not in ("revocation", "suspension"):
                raise ApiError(
                    400,
                    f"credentialStatus.statusPurpose is revocation or suspension, not {json.dumps(purpose)}",
                    code=ErrorCode.MALFORMED_REQUEST,
                    field="credentialStatus.statusPurpose",
                )
            if not isinstance(status, bool):
                raise ApiError(
                    400, "status is true (set) or false (clear)", code=ErrorCode.MALFORMED_REQUEST, field="status"
                )
            return await run_in_threadpool(self._vc_status, request, credential_id, str(purpose), status)

        return await self._guard(work, correlation=ids)

    def _vc_status(self, request: Request, credential_id: str, purpose: str, status: bool) -> Response:
        record = self.store.get(credential_id)
        if record is None:
            raise ApiError(
                404,
                f"no credential {credential_id} is recorded",
                code=ErrorCode.UNKNOWN_CERTIFICATE,
                certificate_id=credential_id,
            )
        self._authorize(request, "revoke", record.entity_type)  # a tenant's role: its own entity types
        # The record's credential is this issuer's own, as it signed it: which of its lists it is
        # on (entries of another status service, which a caller may bring, are not this issuer's
        # to set: setting its own bit would say REVOKED here and change nothing for verifiers).
        entries = record.credential.get("credentialStatus", [])
        base = self.store.status_url
        lists = {
            found[1]
            for e in one_or_many(entries)
            if isinstance(e, dict)
            and str(e.get("statusListCredential", "")).startswith(base)
            and (found := list_of(self.store, str(e["statusListCredential"]))) is not None
        }
        # the state list's entry says revoked and suspended both
        purposes = lists | {"revocation", "suspension"} if STATE_LIST in lists else lists
        if purpose not in purposes:
            raise ApiError(
                409,
                f"credential {credential_id} has no {purpose} entry",
                code=ErrorCode.INVALID_TRANSITION,
                certificate_id=credential_id,
            )
        if purpose == "revocation" and not status:
            raise ApiError(
                409,
                "a revocation is final: it cannot be cleared",
                code=ErrorCode.INVALID_TRANSITION,
                certificate_id=credential_id,
            )
        if purpose == "revocation":
            changed = self.issuer.revoke(credential_id)
        elif status:
            changed = self.issuer.suspend(credential_id)
        else:
            changed = self.issuer.unsuspend(credential_id)
        self._changed(changed)
        return JSONResponse(summary(changed))

    async def vc_verify(self, request: Request) -> Response:
        """``POST /credentials/verify`` (VC API): verify a credential."""

        async def work() -> Response:
            credential, _ = _vc_api_body(await self._json(request), "verifiableCredential")
            result = await self._verify(credential)
            report = {
                "verified": result.verified,
                "checks": ["proof", *(["credentialStatus"] if credential.get("credentialStatus") else [])],
                "warnings": [p.to_dict() for p in result.warnings],
                "errors": [p.to_dict() for p in result.problems],
            }
            if result.verified:
                return JSONResponse(report)
            first = result.problems[0] if result.problems else None
            return problem(
                400,
                result.status,
                f"the credential does not verify: {first.detail if first else 'no accepted proof'}",
                **report,
            )

        return await self._guard(work)

    async def vp_verify(self, request: Request) -> Response:
        """``POST /presentations/verify`` (VC API): verify a presentation and its credentials."""

        async def work() -> Response:
            presentation, options = _vc_api_body(await self._json(request), "verifiablePresentation")
            for name in ("challenge", "domain"):
                if options.get(name) is not None and not isinstance(options[name], str):
                    raise ApiError(
                        400, f"options.{name} is a string", code=ErrorCode.MALFORMED_REQUEST, field=f"options.{name}"
                    )
            result = await run_in_threadpool(
                lambda: self.verifier.verify_presentation(
                    presentation, challenge=options.get("challenge"), domain=options.get("domain")
                )
            )
            errors = [p.to_dict() for p in result.presentation.problems]
            for index, credential in enumerate(result.credentials):
                errors += [{**p.to_dict(), "credential": index} for p in credential.problems]
            report = {
                "verified": result.verified,
                "checks": ["proof"] if "proof" in presentation else [],
                "warnings": [p.to_dict() for p in result.presentation.warnings]
                + [w.to_dict() for c in result.credentials for w in c.warnings],
                "errors": errors,
                "credentialResults": [c.to_dict() for c in result.credentials],
            }
            if result.verified:
                return JSONResponse(report)
            first = errors[0]["detail"] if errors else "no accepted proof"
            return problem(400, CredentialStatus.INVALID, f"the presentation does not verify: {first}", **report)

        return await self._guard(work)


def _entity_credential_types(issuer: Issuer) -> dict[str, str]:
    """The type IRIs of the credentials each entity type issues (other than VerifiableCredential),
    as its templates' contexts expand them: IRI -> entity type name.
    """
    out: dict[str, str] = {}
    for name, entity_type in issuer.entity_types.items():
        for template in entity_type.templates.values():
            probe = {"@context": template["@context"], "type": template["type"]}
            try:
                quads = to_quads(probe, contexts=entity_type.context_loader(issuer.contexts), safe=True)
            except VccoreError:
                continue  # a type vccore cannot read is one it cannot issue either
            for _, predicate, obj, _ in quads:
                if (
                    predicate == "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
                    and obj != "<https://www.w3.org/2018/credentials#VerifiableCredential>"
                ):
                    out[obj[1:-1]] = name
    return out


def _vc_api_body(body: Any, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A VC API request's ``{<name>: object, options?: object}``: the object and the options."""
    if not isinstance(body, dict) or not isinstance(body.get(name), dict):
        raise ApiError(
            400,
            f"the body is {{{name}, options?}}, the {name} a JSON object",
            code=ErrorCode.MALFORMED_REQUEST,
            field=name,
        )
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise ApiError(400, "options is a JSON object", code=ErrorCode.MALFORMED_REQUEST, field="options")
    return body[name], options


# Status list credentials and their subjects, in the vocabularies that have them (Bitstring
# Status List, StatusList2021, RevocationList2020): only the issuer's store makes these.
_STATUS_LIST_TYPES: Final = frozenset(
    f"{vocabulary}{name}"
    for vocabulary, names in (
        ("https://www.w3.org/ns/credentials/status#", ("BitstringStatusListCredential", "BitstringStatusList")),
        ("https://w3id.org/vc/status-list#", ("StatusList2021Credential", "StatusList2021")),
        ("https://w3id.org/vc-revocation-list-2020#", ("RevocationList2020Credential", "RevocationList2020")),
    )
    for name in names
)


def _status_purposes(options: dict[str, Any], version: str) -> tuple[str, ...]:
    """The status entries a VC API issue request asks for, as the list set's lists they are on:
    revocation and suspension unless ``options.credentialStatus`` names others (one object or an
    array of them), or is null (none). ``{type, statusPurpose: "message", statusSize: 2}`` is the
    state list's entry. A VC 1.1 credential has them on request only: its entries need the status
    list context added to its ``@context``, which its verifiers must then hold (the W3C suites'
    verifiers do not).
    """
    if "credentialStatus" not in options:
        return ("revocation", "suspension") if version == "2.0" else ()
    wanted = options["credentialStatus"]
    if wanted is None:
        return ()
    asked: set[str] = set()
    for number, one in enumerate(wanted if isinstance(wanted, list) and wanted else [wanted]):
        field = "options.credentialStatus" + (f"[{number}]" if isinstance(wanted, list) else "")
        asked.update(_status_asked(one, field))
    return tuple(name for name in ("revocation", "suspension", STATE_LIST) if name in asked)


def _status_asked(wanted: Any, field: str) -> tuple[str, ...]:
    """The lists one object of ``options.credentialStatus`` asks for (``field`` names it)."""
    if not isinstance(wanted, dict) or wanted.get("type") != "BitstringStatusListEntry":
        raise ApiError(
            400,
            f'{field} is {{"type": "BitstringStatusListEntry"}}, the one status vccore gives',
            code=ErrorCode.MALFORMED_REQUEST,
            field=field,
        )
    unknown = sorted(set(wanted) - {"type", "statusPurpose", "statusSize"})
    if unknown:
        raise ApiError(
            400,
            f"{field} has {unknown[0]}: vccore writes an entry's other members itself",
            code=ErrorCode.MALFORMED_REQUEST,
            field=f"{field}.{unknown[0]}",
        )
    purpose, size = wanted.get("statusPurpose"), wanted.get("statusSize")
    if purpose not in (None, "revocation", "suspension", "message"):
        raise ApiError(
            400,
            f"{field}.statusPurpose is revocation, suspension or message, not {json.dumps(purpose)}",
            code=ErrorCode.MALFORMED_REQUEST,
            field=f"{field}.statusPurpose",
        )
    # statusSize: 1 for the one-bit lists, 2 (the state list) for message; bool is an int in Python
    expected = STATE_SIZE if purpose == "message" else 1
    if (size is not None or purpose == "message") and (type(size) is not int or size != expected):
        raise ApiError(
            400,
            f"{field}.statusSize is {expected} for "
            + (
                "message (vccore's state list: 0x0 valid, 0x1 suspended, 0x2 revoked, 0x3 superseded)"
                if purpose == "message"
                else "revocation and suspension"
            )
            + f", not {json.dumps(size)}",
            code=ErrorCode.MALFORMED_REQUEST,
            field=f"{field}.statusSize",
        )
    if purpose == "message":
        return (STATE_LIST,)
    return ("revocation", "suspension") if purpose is None else (str(purpose),)


def _suite_option(options: dict[str, Any], default: str | Suite) -> str | Suite:
    """The suite a VC API issue request asks for in its options, or ``default``."""
    cryptosuite, kind = options.get("cryptosuite"), options.get("type")
    if cryptosuite is None and kind in (None, "DataIntegrityProof"):
        return default
    name = cryptosuite if cryptosuite is not None else kind
    if name not in ("eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020") or (
        cryptosuite is not None and kind not in (None, "DataIntegrityProof")
    ):
        raise ApiError(
            400,
            f"this service signs with eddsa-rdfc-2022, eddsa-jcs-2022 or Ed25519Signature2020, not {json.dumps(name)}",
            code=ErrorCode.UNSUPPORTED_SUITE,
            field="options",
        )
    return str(name)

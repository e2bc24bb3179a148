"""The ``Idempotency-Key`` request header (draft-ietf-httpapi-idempotency-key-header): the header
read within its bounds, the store's issue keys a request is known by, and a replayed answer.

A key is stored hashed with who sent it (the token's subject) and the operation it came with (the
method, the route, the entity type), never as sent: two tenants sending the same key do not meet.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple, NoReturn

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response

from .. import _jcs
from ..codes import ErrorCode
from ..errors import LifecycleError, VccoreError
from ..issuer import Certified, Issuer
from ..store import Record, RecordState, Store, StoreTransaction
from ._responses import ApiError

__all__ = [
    "MAX_KEY_LENGTH",
    "REPLAYED",
    "Claim",
    "RequestKeys",
    "claim_key",
    "claimed",
    "idempotency_key",
    "insert_once",
    "issued_before",
    "lookup_keys",
    "made_for",
    "payload_key",
    "record_claim",
    "replayed",
    "request_keys",
    "reused",
]

MAX_KEY_LENGTH: Final = 255
Claim = tuple[str, str] | None
"""A request's Idempotency-Key as sent and as the store knows it (:func:`claim_key`); None: no key."""
REPLAYED: Final = "Idempotent-Replayed"
"""The header of an answer given again (Stripe's name; the draft names none)."""

# A structured-field string (RFC 8941 section 3.3.3: printable ASCII, with \" and \\), or the
# same characters sent bare, as most clients send a UUID, but for the ones that quote or separate
_QUOTED: Final = re.compile(r'"((?:[ !#-\[\]-~]|\\["\\])*)"', re.ASCII)
_BARE: Final = re.compile(r"[!#-+\--:<-\[\]-~]+", re.ASCII)
_FIELD: Final = "Idempotency-Key"


def idempotency_key(headers: Headers) -> str | None:
    """The request's ``Idempotency-Key`` (unquoted), None when it has none; 400 naming the
    problem for a key sent twice, empty, longer than :data:`MAX_KEY_LENGTH` characters, or
    holding a character outside printable ASCII.
    """
    values = headers.getlist(_FIELD)
    if not values:
        return None
    if len(values) > 1:
        _refuse(f"the request has {len(values)} Idempotency-Key headers: send one")
    sent = values[0].strip()
    quoted = _QUOTED.fullmatch(sent)
    if quoted is not None:
        value = re.sub(r"\\(.)", r"\1", quoted[1])
    elif _BARE.fullmatch(sent) is not None or not sent:
        value = sent
    else:
        bad = next(c for c in sent if not ("!" <= c <= "~") or c in '"\\,;')
        _refuse(f"the Idempotency-Key holds {json.dumps(bad)} (U+{ord(bad):04X})")
    if not value:
        _refuse("the Idempotency-Key is empty")
    if len(value) > MAX_KEY_LENGTH:
        _refuse(f"the Idempotency-Key has {len(value)} characters, over {MAX_KEY_LENGTH}")
    return value


def _refuse(problem: str) -> NoReturn:
    raise ApiError(
        400,
        f"{problem}: an Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters, bare (a UUID: "
        "Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324) or quoted as a structured-field string "
        '(Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"), one per request, the same on every retry',
        code=ErrorCode.MALFORMED_REQUEST,
        field=_FIELD,
    )


def claim_key(operation: str, subject: str, value: str) -> str:
    """The store's issue key of an Idempotency-Key ``value``, sent by ``subject`` (who the token
    says calls) with ``operation`` (method, route, entity type): hashed, so that neither the
    header nor the caller is stored, and scoped, so that another caller's key never matches.
    """
    text = json.dumps([operation, subject, value], ensure_ascii=True)
    return "idempotency:" + hashlib.sha256(text.encode("ascii")).hexdigest()


class RequestKeys(NamedTuple):
    """The store's keys of a request with an Idempotency-Key, where they are recorded together
    with what it made (the VC API's issue).
    """

    sent: str
    """The key as the request sent it."""
    claim: str
    """:func:`claim_key`: the key, its caller and operation."""
    request: str
    """The claim and the request's body (its fingerprint): another body under the same key has another."""


def request_keys(operation: str, subject: str, sent: str, body: Any) -> RequestKeys:
    """The keys of a request with Idempotency-Key ``sent`` (see :func:`claim_key`) and ``body``
    (hashed in its canonical form, RFC 8785).
    """
    claim = claim_key(operation, subject, sent)
    try:
        text = _jcs.canonicalize_parsed({"claim": claim, "body": body})
    except (VccoreError, ValueError, TypeError):  # no canonical form: the body as it was parsed
        text = json.dumps({"claim": claim, "body": body}, sort_keys=True, ensure_ascii=True)
    return RequestKeys(sent, claim, "idempotency-request:" + hashlib.sha256(text.encode("utf-8")).hexdigest())


def issued_before(store: Store, keys: RequestKeys) -> Record | None:
    """What an earlier request with this Idempotency-Key stored, if it was this request (422 if
    it was another); None for a key not seen before.
    """
    found = store.get_by_keys([keys.claim, keys.request])
    if keys.claim not in found:
        return None
    if keys.request not in found or found[keys.request].certificate_id != found[keys.claim].certificate_id:
        raise reused(keys.sent)
    return found[keys.claim]


def insert_once(tx: StoreTransaction, record: Record, keys: RequestKeys | None) -> Record | None:
    """Insert ``record`` with its keys (None: none), in ``tx``; or, when a request with the same
    claim stored its own meanwhile (committed, or committing beside this one: waited for), that
    one (422 if it was another request). 409 when the record's id is another certificate's.
    """
    if keys is None:
        tx.insert(record)
        return None
    refused = tx.insert_many([(record, keys.claim)])
    earlier = refused.keys.get(keys.claim)
    if earlier is None and refused.certificate_ids:  # the same id, stored by the same request?
        earlier = tx.certificate_for_key(keys.claim)
    if earlier is not None:
        if tx.certificate_for_key(keys.request) != earlier:
            raise reused(keys.sent)
        return tx.get(earlier)
    if refused.certificate_ids:
        raise LifecycleError(
            f"a credential with id {record.certificate_id} is recorded already",
            code=ErrorCode.DUPLICATE_CERTIFICATE_ID,
            certificate_id=record.certificate_id,
        )
    tx.record_key(keys.request, record.certificate_id)
    return None


def lookup_keys(key: str | None, claim: Claim) -> tuple[str, ...]:
    """The store's keys a certify request looks up first: its payload's (and the re-issue's of
    it, :func:`payload_key`), and its Idempotency-Key's claim.
    """
    return (*((key, f"reissue:{key}") if key else ()), *(claim[1:] if claim else ()))


def payload_key(entity_name: str, payload: Mapping[str, Any]) -> str | None:
    """The store's issue key of a certify request: its entity type and payload, canonical (RFC
    8785), hashed. The same payload sent again has the same key; None for one that has no
    canonical form (it is refused anyway).
    """
    try:
        text = _jcs.canonicalize_parsed({"entityType": entity_name, "payload": payload})
    except (VccoreError, ValueError, TypeError):
        return None
    return "certify:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def replayed(body: Mapping[str, Any], status_code: int = 200) -> JSONResponse:
    """The first answer, given again: its status and body, and :data:`REPLAYED` saying so."""
    return JSONResponse(dict(body), status_code=status_code, headers={REPLAYED: "true"})


def divoc_answer(made: Record | Certified, *, again: bool = False) -> JSONResponse:
    """DIVOC's answer to a certify or update that made ``made`` (``again``: as a replay)."""
    body = {"transactionId": made.transaction_id, "certificateId": made.certificate_id}
    return replayed(body) if again else JSONResponse(body)


def replay(issuer: Issuer, earlier: Record, *, claimed: bool = False) -> JSONResponse:
    """A payload certified before, sent again: that request's answer, while the certificate it
    made has not been replaced (a source system retrying); a conflict once it has. ``claimed``:
    sent again with the Idempotency-Key it came with, and given its answer even then.
    """
    if earlier.state is RecordState.SUPERSEDED and not claimed:
        current = issuer.fetch(earlier.certificate_id)[-1]
        raise LifecycleError(
            f"this payload was certified before, as certificate {earlier.certificate_id} (transaction "
            f"{earlier.transaction_id}), which has been updated since: certificate {current.certificate_id} "
            f"replaces it; to change that one, send the payload with certificateId {current.certificate_id}",
            code=ErrorCode.INVALID_TRANSITION,
            certificate_id=earlier.certificate_id,
            state=earlier.state,
            successor=current.certificate_id,
        )
    return divoc_answer(earlier, again=True)


def reused(value: str) -> ApiError:
    """The draft's 422: a key sent before with another request."""
    return ApiError(
        422,
        f"the Idempotency-Key {json.dumps(value)} came before with another request (another payload): a key names "
        "one request; send that request again with it for its answer, or a new key for a new request",
        code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
        field=_FIELD,
    )


def claimed(store: Store, claim: Claim, made: Record | Certified, answer: Response) -> Response:
    """``answer``, once the request's Idempotency-Key (``claim``) is recorded as the one that
    made ``made``: a replay when a retry sent beside it recorded it first.
    """
    if claim is not None and not record_claim(store, claim[1], made.certificate_id):
        answer.headers[REPLAYED] = "true"
    return answer


def made_for(claim: Claim, key: str | None, found: Mapping[str, Record]) -> Record | None:
    """What the request's Idempotency-Key made (``found``: the store's records of the request's
    keys), when the request's payload (its ``key``) made it; 422 when another payload did; None
    for a key not seen before.
    """
    if claim is None or claim[1] not in found:
        return None
    if key is None or key not in found or found[key].certificate_id != found[claim[1]].certificate_id:
        raise reused(claim[0])
    return found[key]


def record_claim(store: Store, claim: str, certificate_id: str) -> bool:
    """Record that ``claim`` made ``certificate_id``, unless it is recorded already; whether it
    was recorded here (the first answer to the key, which a retry gives again). The issuer
    records one key with a certificate (the payload's): this comes just after, in a transaction
    of its own.
    """
    try:
        with store.transaction() as tx:
            if tx.certificate_for_key(claim) is not None:
                return False
            tx.record_key(claim, certificate_id)
            return True
    except LifecycleError as exc:
        if exc.code != ErrorCode.DUPLICATE_ISSUE_KEY:  # recorded beside this one, by another request
            raise
    return False

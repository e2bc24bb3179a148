"""Issue credentials: payload -> entity type -> validated, rendered, signed credential.

The issuer of every credential is the controller of the signing key (a did:key by default, or a
did:web whose document the issuer publishes), because verifiers check that the issuer controls
the key that signed (Digital Bazaar's ``vc.verifyCredential`` refuses anything else). A payload's
own ``issuer`` field, where an entity type has one, is kept as data in the credential (for
HealthProfessional: ``issuer.url``), never as the issuer's identity.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypedDict

from . import _datetime
from ._compiled import CompiledCredentials
from ._vocab import VCVersion
from .canon import canonicalize
from .codes import ErrorCode
from .contexts import ContextLoader
from .entities import EntityType, EntityTypeError, bundled_entity_types
from .errors import VccoreError
from .keys import Signer
from .proofs import sign_with_transform
from .status import add_lifecycle, list_set_credentials, list_url, state_lists, write_status_lists
from .store import (
    LIST_SIZE,
    LifecycleError,
    Record,
    RecordState,
    Store,
    StoreTransaction,
    credential_json,
    notification,
)
from .suites import DEFAULT_SUITE, Suite, get_suite

__all__ = [
    "Certified",
    "CertifiedDict",
    "Issuer",
    "fetch_chain",
    "issue",
    "issuer_of",
    "resolve_entity_type",
    "status_list_url",
]


def issue(
    entity: EntityType | str,
    payload: Mapping[str, Any],
    *,
    signer: Signer,
    vc_version: VCVersion | str | None = None,
    suite: str | Suite | None = None,
    now: datetime | None = None,
    contexts: ContextLoader | None = None,
    entity_types: Mapping[str, EntityType] | None = None,
) -> dict[str, Any]:
    """The signed credential for ``payload`` (PayloadError lists every problem; nothing is signed).

    ``entity`` is an :class:`EntityType` or the name of one in ``entity_types`` (default: the
    bundled ones). ``vc_version``: a :class:`VCVersion` or its value (ValueError for another);
    ``vc_version`` and ``suite`` default to the type's own (:meth:`EntityType.default_vc_version`,
    :meth:`EntityType.default_suite`: 2.0 and eddsa-rdfc-2022 unless the type says otherwise).
    ``now`` (default: the clock) is the proof's ``created`` and the ``$now`` built-in, so a
    fixed ``now`` reproduces a credential byte for byte.
    """
    entity_type = resolve_entity_type(entity, entity_types)
    version = VCVersion(vc_version) if vc_version is not None else entity_type.default_vc_version()
    suite = suite if suite is not None else entity_type.default_suite()
    _check_suite(entity_type, suite)
    moment = now if now is not None else _datetime.now()
    credential = entity_type.render(payload, issuer=issuer_of(signer), now=moment, vc_version=version)
    # The credential is made here, of new objects but for the payload's own objects and arrays,
    # which it may hold: those must be copied, not shared with the caller's payload.
    shared = any(isinstance(value, (dict, list)) for value in payload.values())
    return sign_with_transform(
        credential,
        signer,
        suite=suite,
        created=moment,
        contexts=entity_type.context_loader(contexts),
        copy_document=shared,
    )


def issuer_of(signer: Signer) -> str:
    """The issuer id for a signer: its ``controller`` if it has one, else its DID (id before '#')."""
    controller = getattr(signer, "controller", None)
    return controller if isinstance(controller, str) else signer.id.split("#", 1)[0]


def _check_suite(entity_type: EntityType, suite: str | Suite) -> None:
    name = suite if isinstance(suite, str) else suite.name
    if entity_type.suites is not None and name not in entity_type.suites:
        raise EntityTypeError(
            f"{entity_type.name} may only be signed with {', '.join(entity_type.suites)}, not {name}",
            code=ErrorCode.UNSUPPORTED_SUITE,
            entity=entity_type.name,
            suite=name,
        )


def resolve_entity_type(entity: EntityType | str, entity_types: Mapping[str, EntityType] | None = None) -> EntityType:
    """``entity`` itself, or the entity type of that name."""
    if isinstance(entity, EntityType):
        return entity
    known = entity_types if entity_types is not None else bundled_entity_types()
    found = known.get(entity) or next((t for t in known.values() if entity in t.aliases), None)
    if found is None:
        raise EntityTypeError(
            f"unknown entity type {json.dumps(entity)}; known: {', '.join(sorted(known)) or 'none'}",
            code=ErrorCode.UNKNOWN_ENTITY_TYPE,
            entity=entity,
        )
    return found


# --- lifecycle ------------------------------------------------------------------------------------

_LIVE: Final = (RecordState.VALID, RecordState.SUSPENDED)
"""The states a certificate can be revoked, suspended or updated from."""


@dataclass(frozen=True, slots=True)
class Certified:
    """A certificate just issued: its ids and signed credential (and what it replaced)."""

    certificate_id: str
    transaction_id: str
    credential: dict[str, Any]
    replaces: str | None = None
    # The credential as compact JSON (vccore.store.credential_json), when it was written for the
    # store already (see _of).
    _json: str | None = field(default=None, init=False, compare=False, repr=False)
    replayed: bool = field(default=False, init=False, compare=False, repr=False)
    """Whether this certificate was made before, and given back for its key (:meth:`Issuer.certify_batch`)."""
    list_sets: tuple[int, ...] = field(default=(), init=False, compare=False, repr=False)
    """The status list sets whose lists this issue changed: the new certificate's, and for an
    update the replaced one's too (what a cache of signed lists must drop, without asking the
    store again)."""

    @classmethod
    def _of(cls, record: Record, *, replayed: bool = False) -> Certified:
        """The certificate a record holds, with the JSON written for the store, if it was."""
        certified = cls(record.certificate_id, record.transaction_id, record.credential, record.replaces)
        object.__setattr__(certified, "_json", record.credential_json)
        object.__setattr__(certified, "replayed", replayed)
        object.__setattr__(certified, "list_sets", (record.status_list,))
        return certified

    def credential_json(self) -> str:
        """The credential as the store writes it: compact JSON, UTF-8 as is."""
        return self._json if self._json is not None else credential_json(self.credential)

    def to_dict(self) -> CertifiedDict:
        """JSON-ready form."""
        return {
            "certificateId": self.certificate_id,
            "transactionId": self.transaction_id,
            "replaces": self.replaces,
            "credential": self.credential,
        }


class CertifiedDict(TypedDict):
    """A :class:`Certified` as JSON (:meth:`Certified.to_dict`)."""

    certificateId: str
    transactionId: str
    replaces: str | None
    credential: dict[str, Any]


class Issuer:
    """Issues, updates, revokes and suspends certificates, keeping their records in a store and
    their status in Bitstring Status Lists (see :mod:`vccore.status`).
    """

    def __init__(
        self,
        *,
        signer: Signer,
        store: Store,
        entity_types: Mapping[str, EntityType] | None = None,
        vc_version: VCVersion | str | None = None,
        suite: str | Suite | None = None,
        contexts: ContextLoader | None = None,
        status_valid_for: timedelta = timedelta(days=7),
    ) -> None:
        """``vc_version``: a :class:`VCVersion` or its value (ValueError for another); None picks
        each entity type's own (2.0 when it has a 2.0 template).
        ``status_valid_for``: how long exported status lists stay valid (``validUntil``): a
        verifier refuses a copy older than that, so a stale copy cannot hide a revocation for
        longer; the issuer must export again within it.
        """
        self.signer = signer
        self.store = store
        self.entity_types = entity_types if entity_types is not None else bundled_entity_types()
        self.vc_version = VCVersion(vc_version) if vc_version is not None else None
        self.suite = suite
        self.contexts = contexts
        self.status_valid_for = status_valid_for
        store.bind_issuer(issuer_of(signer))
        self._checked_shapes: dict[tuple[str, str], EntityType] = {}
        self._compiled_shapes: dict[tuple[str, str, bool, str], tuple[EntityType, CompiledCredentials | None]] = {}

    # --- issuing ---------------------------------------------------------------------------------

    def certify(
        self,
        entity: EntityType | str,
        payload: Mapping[str, Any],
        *,
        now: datetime | None = None,
        notify: str | None = None,
    ) -> Certified:
        """A new certificate. Its certificateId is the payload's, or 12 random digits (DIVOC's
        form) when the payload has none; a certificateId already in the store is an error.
        ``notify``: the webhook (a name of the server's callbacks) told of the certificate, by a
        message put in the store's outbox in the certificate's own transaction.
        """
        entity_type = resolve_entity_type(entity, self.entity_types)
        moment = now if now is not None else _datetime.now()
        with self.store.transaction() as tx:
            given = payload.get("certificateId") if isinstance(payload, Mapping) else None
            if isinstance(given, str) and tx.certificate_id_taken(given):
                raise _duplicate(given)
            # a certificateId of the wrong type is left for validation to report
            certificate_id = _new_certificate_id(tx) if given is None else given
            certified = self._issue(tx, entity_type, payload, certificate_id, moment)
            _notify(tx, notify, certified, entity_type, payload, moment)
            return certified

    def update(
        self,
        entity: EntityType | str,
        payload: Mapping[str, Any],
        *,
        now: datetime | None = None,
        key: str | None = None,
        claim: str | None = None,
        notify: str | None = None,
    ) -> Certified:
        """Re-issue: the payload's certificateId names the certificate to replace. The new one gets
        a new certificateId and says which it replaces (``replaces``); the old one becomes
        SUPERSEDED. All in one transaction: if anything fails, nothing changes. ``key``: an
        idempotency key recorded for the new certificate in that transaction
        (:meth:`vccore.store.Store.get_by_keys` finds it); ``claim``: a second one (an HTTP
        client's Idempotency-Key), DUPLICATE_ISSUE_KEY when another certificate holds it (then
        nothing changes). ``notify``: as for :meth:`certify`.
        """
        entity_type = resolve_entity_type(entity, self.entity_types)
        moment = now if now is not None else _datetime.now()
        old_id = payload.get("certificateId") if isinstance(payload, Mapping) else None
        if not isinstance(old_id, str):
            raise LifecycleError(
                "update needs the payload's certificateId: the certificate to replace",
                code=ErrorCode.MISSING_CERTIFICATE_ID,
            )
        with self.store.transaction() as tx:
            old = _require(tx.get(old_id), old_id)
            state = old.effective_state(moment)
            if state not in _LIVE:
                raise LifecycleError(
                    f"certificate {old_id} is {state}"
                    + (f" (by {old.replaced_by})" if old.replaced_by else "")
                    + ": only a valid or suspended certificate can be updated",
                    code=ErrorCode.INVALID_TRANSITION,
                    certificate_id=old_id,
                    state=state,
                )
            if old.entity_type != entity_type.name:
                raise LifecycleError(
                    f"certificate {old_id} is a {old.entity_type}, not a {entity_type.name}",
                    code=ErrorCode.INVALID_TRANSITION,
                    certificate_id=old_id,
                    state=state,
                )
            # A suspension in force carries over to the successor: an update does not lift it.
            carried = old.suspended_until if state is RecordState.SUSPENDED else None
            certified = self._issue(
                tx,
                entity_type,
                payload,
                _new_certificate_id(tx),
                moment,
                replaces=old_id,
                state=state,
                suspended_until=carried,
            )
            stamp = _datetime.format(moment)
            tx.save(
                replace(
                    old,
                    state=RecordState.SUPERSEDED,
                    replaced_by=certified.certificate_id,
                    suspended_until=None,
                    updated_at=stamp,
                )
            )
            for recorded in (key, claim):  # a claim (a second key) taken already: nothing changes
                if recorded is not None:
                    tx.record_key(recorded, certified.certificate_id)
            _notify(tx, notify, certified, entity_type, payload, moment)
            object.__setattr__(certified, "list_sets", tuple(dict.fromkeys((old.status_list, *certified.list_sets))))
            return certified

    def certify_batch(
        self,
        entity: EntityType | str,
        payloads: Sequence[Any],
        *,
        keys: Sequence[str] | None = None,
        claims: Sequence[str | None] | None = None,
        now: datetime | None = None,
        notify: str | None = None,
        known: tuple[Mapping[str, Record], Collection[str]] | None = None,
    ) -> list[Certified | VccoreError]:
        """Certify many payloads: for each, in order, what :meth:`certify` returns, or the error
        it raises (a rejected payload does not stop the others).

        ``keys`` are idempotency keys, one per payload: a key that has made a certificate before
        (this call or an earlier, interrupted one) gives back that certificate, never a second
        one. Built for throughput from several processes at once: the status positions are taken
        from the store object's reserved block (no transaction, unless the block runs out), the
        credentials are signed outside any transaction, and they are recorded in one (where a
        certificateId taken meanwhile is still refused). A crash before it leaves only unused
        status positions behind, never a credential out of the store. ``notify``: as for
        :meth:`certify`, one message per certificate made by this call (a key's earlier
        certificate was told of by the call that made it). ``claims``: a second key per payload
        (None: none; an HTTP client's Idempotency-Key), recorded with the certificate; one that
        another certificate holds already (recorded meanwhile) makes that payload's answer a
        DUPLICATE_ISSUE_KEY error, and nothing is stored for it. A key given twice in one call:
        the later payloads get the first's answer. ``known``: what the caller has just found in
        the store for these ``keys`` and the payloads' certificateIds (the records by key, the
        ids taken: :func:`vccore.store.look_up`, one round trip; the server's group commit
        does), not asked again; None: asked here. What is stored since is still caught: a
        certificateId taken by the same payload's key gives back its certificate, and the
        insert refuses the rest.
        """
        entity_type = resolve_entity_type(entity, self.entity_types)
        moment = now if now is not None else _datetime.now()
        if keys is not None and len(keys) != len(payloads):
            raise ValueError(f"{len(keys)} keys for {len(payloads)} payloads")
        version = self._version(entity_type)
        _check_suite(entity_type, self._suite(entity_type))
        self._check_shape(entity_type, version)
        results: list[Certified | VccoreError | None] = [None] * len(payloads)
        if known is not None:
            earlier: Mapping[str, Record] = known[0]
        else:
            earlier = self.store.get_by_keys(keys) if keys is not None else {}
        issuer = issuer_of(self.signer)
        todo: dict[int, dict[str, Any]] = {}  # index -> its slot values
        first_with: dict[str, int] = {}
        repeats = {  # a key given twice in one call: the later payloads get the first's answer
            i: first_with[key] for i, key in enumerate(keys or ()) if first_with.setdefault(key, i) != i
        }
        for i, payload in enumerate(payloads):
            if i in repeats:
                continue
            record = earlier.get(keys[i]) if keys is not None else None
            if record is not None:
                results[i] = Certified._of(record, replayed=True)
                continue
            try:
                # refuse before taking a position; a payload without a certificateId is checked as
                # it will be issued, with one of the generated form (the real one comes in step 1)
                if (
                    isinstance(payload, Mapping)
                    and "certificateId" not in payload
                    and "certificateId" in entity_type.schema["properties"]
                ):
                    # kept, and the real id put in its place in step 2: validated once, not twice
                    # (the generated ids are all of this form, 12 digits)
                    todo[i] = entity_type.values({**payload, "certificateId": "0" * 12}, issuer=issuer, now=moment)
                else:
                    todo[i] = entity_type.values(payload, issuer=issuer, now=moment)
            except VccoreError as exc:
                results[i] = exc
        if todo:
            self._certify_todo(
                entity_type,
                version,
                payloads,
                (keys, claims),
                todo,
                moment,
                results,
                notify,
                ids_taken=None if known is None else known[1],
            )
        for i, first in repeats.items():
            made = results[first]
            results[i] = _replayed(made) if isinstance(made, Certified) else made
        assert all(result is not None for result in results)
        return [result for result in results if result is not None]

    def _certify_todo(
        self,
        entity_type: EntityType,
        version: str,
        payloads: Sequence[Any],
        named_by: tuple[Sequence[str] | None, Sequence[str | None] | None],
        todo: dict[int, dict[str, Any]],
        moment: datetime,
        results: list[Certified | VccoreError | None],
        notify: str | None,
        *,
        ids_taken: Collection[str] | None,
    ) -> None:
        # 1. certificateIds (read, not locked: step 3 checks them again under its lock) and status
        #    positions (from this store object's reserved block; a reservation when it runs short)
        named: list[tuple[int, str, dict[str, Any] | None]] = []
        claimed: set[str] = set()
        taken = (
            self.store.certificate_ids_taken(
                [g for i in todo if isinstance(g := payloads[i].get("certificateId"), str)]
            )
            if ids_taken is None
            else ids_taken
        )
        keys = named_by[0]
        late: dict[str, Record] = {}
        if taken and keys is not None:
            # a certificateId taken since the keys were looked up, by the same payload under the
            # same key (sent twice at once): its certificate, not a duplicate
            late = self.store.get_by_keys(
                [keys[i] for i in todo if isinstance(g := payloads[i].get("certificateId"), str) and g in taken]
            )
        for i in todo:
            given = payloads[i].get("certificateId")
            if isinstance(given, str) and given in taken and keys is not None and keys[i] in late:
                results[i] = Certified._of(late[keys[i]], replayed=True)
                continue
            if isinstance(given, str) and (given in claimed or given in taken):
                results[i] = _duplicate(given)
                continue
            certificate_id = given if isinstance(given, str) else _new_certificate_id(self.store, claimed)
            claimed.add(certificate_id)
            payload = None  # the values validated above stand; a generated id is put in them in step 2
            if given is None and "certificateId" in entity_type.schema["properties"]:
                payload = {**payloads[i], "certificateId": certificate_id}
            named.append((i, certificate_id, payload))
        positions = self.store.allocate_status_positions(len(named))
        planned = [(*entry, position) for entry, position in zip(named, positions, strict=True)]
        # 2. signing, outside any transaction
        stamp = _datetime.format(moment)
        made: list[tuple[int, Record]] = []
        transaction_ids = iter(new_transaction_ids(len(planned)))
        for i, certificate_id, payload, position in planned:
            try:
                values = todo[i] if payload is None else {**todo[i], "certificateId": certificate_id}
                signed, text = self._credential(entity_type, version, values, position, moment, None)
            except VccoreError as exc:
                results[i] = exc
                continue
            made.append(
                (
                    i,
                    Record(
                        certificate_id=certificate_id,
                        transaction_id=next(transaction_ids),
                        entity_type=entity_type.name,
                        credential=signed,
                        status_list=position[0],
                        status_index=position[1],
                        state=RecordState.VALID,
                        created_at=stamp,
                        updated_at=stamp,
                        credential_json=text if text is not None else credential_json(signed),
                    ),
                )
            )
        if not made:
            return
        # 3. the records, in a second transaction: those whose key has made a certificate, or whose
        #    certificateId another process has taken, meanwhile (committed, or committing beside
        #    this one: the store waits for it) are left out
        keys, claims = named_by
        with self.store.transaction() as tx:
            refused = tx.insert_many([(record, _named(i, keys, claims)) for i, record in made])
            tx.reserve_ahead(len(named))  # the next call's positions, in this commit: none of their own
            for i, record in made:
                earlier_id = refused.keys.get(keys[i]) if keys is not None else None
                if claims is not None and (claim := claims[i]) is not None and claim in refused.keys:
                    # the claim (a second key: a client's Idempotency-Key) was recorded meanwhile
                    results[i] = LifecycleError(
                        f"issue key {claim!r} has made a certificate already",
                        code=ErrorCode.DUPLICATE_ISSUE_KEY,
                        key=claim,
                    )
                elif earlier_id is not None:  # another process issued this one meanwhile: that stands
                    results[i] = Certified._of(_require(tx.get(earlier_id), earlier_id), replayed=True)
                elif record.certificate_id in refused.certificate_ids:
                    results[i] = _duplicate(record.certificate_id)
                else:
                    results[i] = made_here = Certified._of(record)
                    _notify(tx, notify, made_here, entity_type, payloads[i], moment)

    def _issue(
        self,
        tx: StoreTransaction,
        entity_type: EntityType,
        payload: Mapping[str, Any],
        certificate_id: str,
        moment: datetime,
        *,
        replaces: str | None = None,
        state: RecordState = RecordState.VALID,
        suspended_until: str | None = None,
    ) -> Certified:
        payload_values = dict(payload) if isinstance(payload, Mapping) else payload
        if (
            isinstance(payload_values, dict)
            and "certificateId" in entity_type.schema["properties"]
            and isinstance(payload_values.get("certificateId", certificate_id), str)
        ):
            payload_values["certificateId"] = certificate_id
        status_list, status_index = tx.allocate_status_position()
        signed = self.make_credential(
            entity_type, payload_values, (status_list, status_index), moment, replaces=replaces
        )
        stamp = _datetime.format(moment)
        transaction_id = new_transaction_id()
        tx.insert(
            Record(
                certificate_id=certificate_id,
                transaction_id=transaction_id,
                entity_type=entity_type.name,
                credential=signed,
                status_list=status_list,
                status_index=status_index,
                state=state,
                created_at=stamp,
                updated_at=stamp,
                replaces=replaces,
                suspended_until=suspended_until,
            )
        )
        certified = Certified(certificate_id, transaction_id, signed, replaces)
        object.__setattr__(certified, "list_sets", (status_list,))
        return certified

    def make_credential(
        self,
        entity: EntityType | str,
        payload: Mapping[str, Any],
        position: tuple[int, int],
        moment: datetime,
        *,
        replaces: str | None = None,
    ) -> dict[str, Any]:
        """The signed credential for ``payload`` at a status ``position`` (list set, index),
        without recording it: what :meth:`certify` and :meth:`update` store, and what a benchmark
        times (validate, build, canonicalize, sign).
        """
        entity_type = resolve_entity_type(entity, self.entity_types)
        version = self._version(entity_type)
        _check_suite(entity_type, self._suite(entity_type))
        self._check_shape(entity_type, version)
        values = entity_type.values(payload, issuer=issuer_of(self.signer), now=moment)
        return self._credential(entity_type, version, values, position, moment, replaces)[0]

    def _credential(
        self,
        entity_type: EntityType,
        version: str,
        values: dict[str, Any],
        position: tuple[int, int],
        moment: datetime,
        replaces: str | None,
    ) -> tuple[dict[str, Any], str | None]:
        """The signed credential, and its compact JSON when the compiled shape wrote it (else None)."""
        compiled = self._compiled(entity_type, version, replaces is not None)
        slots = {**values, "$list": str(position[0]), "$index": str(position[1]), "$replaces": replaces}
        rendered = compiled.render(slots) if compiled is not None else None
        transformed: Callable[[dict[str, Any], dict[str, Any]], tuple[str, str] | None] | None = None
        if compiled is not None and rendered is not None:
            # built from the compiled shape: its canonical form needs no second look
            credential, present = rendered
            transformed = lambda document, proof: compiled.transform_present(proof, present)  # noqa: E731
        else:
            credential = entity_type.fill(values, vc_version=version)
            self._add_status(credential, version, position[0], position[1], replaces)
            if compiled is not None:
                transformed = lambda document, proof: compiled.transform(document, proof, slots)  # noqa: E731
        # a payload id may not be another node's id, the status entries' included, on both paths
        entity_type.check_ids(credential, values, vc_version=version)
        signed = sign_with_transform(
            credential,
            self.signer,
            suite=self._suite(entity_type),
            created=moment,
            contexts=entity_type.context_loader(self.contexts),
            transformed=transformed,
            copy_document=False,  # made here, handed over
        )
        text = None
        if (
            compiled is not None
            and rendered is not None
            and len(signed) == len(credential) + 1
            and next(reversed(signed)) == "proof"
            and signed["@context"] is credential["@context"]  # the members as rendered, the proof last
            and (around := compiled.json_text(rendered[1])) is not None
        ):
            text = f'{around[:-1]},"proof":{credential_json(signed["proof"])}}}'
        return signed, text

    def _version(self, entity_type: EntityType) -> VCVersion:
        return self.vc_version if self.vc_version is not None else entity_type.default_vc_version()

    def _suite(self, entity_type: EntityType) -> str | Suite:
        """The suite this issuer signs ``entity_type``'s credentials with: its own, else the type's."""
        return self.suite if self.suite is not None else entity_type.default_suite()

    def _compiled(self, entity_type: EntityType, version: str, updating: bool) -> CompiledCredentials | None:
        """The compiled transformation of this type's credentials (None: the reference path)."""
        if not entity_type.compilable:  # a Handlebars type: its blocks, not its template, fix the shape
            return None
        key = (entity_type.name, version, updating, self.store.status_url)  # the URL changes when the store moves
        found = self._compiled_shapes.get(key)
        if found is None or found[0] is not entity_type:  # another type of the same name: compile anew
            compiled = CompiledCredentials.build(
                entity_type,
                version,
                updating,
                issuer=issuer_of(self.signer),
                status_base=self.store.status_url,
                suite=get_suite(self._suite(entity_type)),
                verification_method=self.signer.id,
                contexts=self.contexts,
            )
            found = self._compiled_shapes[key] = (entity_type, compiled)
        return found[1]

    def _add_status(
        self,
        credential: dict[str, Any],
        version: str,
        status_list: int | str,
        status_index: int | str,
        replaces: str | None,
    ) -> None:
        """What the lifecycle adds to a rendered credential: status entries, the replaced id."""
        add_lifecycle(credential, version, self.store.status_url, status_list, status_index, replaces)

    def _check_shape(self, entity_type: EntityType, version: str) -> None:
        """Once per entity type and version: a certified and an updated credential (with what the
        lifecycle adds) canonicalize in safe mode, so a clash between a type's context and the
        status or lifecycle terms shows at the first use, not at the first update.
        """
        if self._checked_shapes.get((entity_type.name, version)) is entity_type:
            return
        sample = entity_type.render(
            entity_type.sample_payload(),
            issuer=issuer_of(self.signer),
            now=datetime(2000, 1, 1, tzinfo=UTC),
            vc_version=version,
        )
        self._add_status(sample, version, 0, 0, replaces="000000000000")
        try:
            canonicalize(sample, contexts=entity_type.context_loader(self.contexts))
        except VccoreError as exc:
            raise EntityTypeError(
                f"{entity_type.name}: a credential with status entries and replaces does not canonicalize: {exc.message}",
                entity=entity_type.name,
                reason=exc.code,
            ) from None
        self._checked_shapes[(entity_type.name, version)] = entity_type

    # --- status changes ----------------------------------------------------------------------------

    def revoke(self, certificate_id: str, reason: str | None = None, *, now: datetime | None = None) -> Record:
        """Revoke for good. A superseded certificate cannot be revoked (revoke its successor)."""
        return self._change(certificate_id, _LIVE, RecordState.REVOKED, now, reason=reason)

    def suspend(
        self, certificate_id: str, until: datetime | str | None = None, *, now: datetime | None = None
    ) -> Record:
        """Suspend, until a date-time (it then lapses by itself) or until unsuspended. Suspending a
        suspended certificate sets its new end.
        """
        end = _datetime.format(until) if isinstance(until, datetime) else until
        if end is not None:
            _datetime.parse(end)
        return self._change(certificate_id, _LIVE, RecordState.SUSPENDED, now, until=end)

    def unsuspend(self, certificate_id: str, *, now: datetime | None = None) -> Record:
        """Lift a suspension that is in force."""
        return self._change(certificate_id, (RecordState.SUSPENDED,), RecordState.VALID, now)

    def _change(
        self,
        certificate_id: str,
        allowed: tuple[RecordState, ...],
        new_state: RecordState,
        now: datetime | None,
        *,
        reason: str | None = None,
        until: str | None = None,
    ) -> Record:
        moment = now if now is not None else _datetime.now()
        if until is not None and _datetime.parse(until) <= moment:
            # the argument is at fault, not the certificate's state (whatever that is)
            raise LifecycleError(
                f"the suspension's end, {until}, has begun already: give a later time, or unsuspend to lift it now",
                code=ErrorCode.INVALID_ARGUMENT,
                certificate_id=certificate_id,
                field="until",
            )
        with self.store.transaction() as tx:
            record = _require(tx.get(certificate_id), certificate_id)
            state = record.effective_state(moment)
            if state not in allowed:
                raise LifecycleError(
                    f"certificate {certificate_id} is {state}; it cannot become {new_state}"
                    + (f" (it was replaced by {record.replaced_by})" if record.replaced_by else ""),
                    code=ErrorCode.INVALID_TRANSITION,
                    certificate_id=certificate_id,
                    state=state,
                )
            changed = replace(
                record,
                state=new_state,
                suspended_until=until if new_state is RecordState.SUSPENDED else None,
                reason=reason if reason is not None else record.reason,
                updated_at=_datetime.format(moment),
            )
            tx.save(changed)
            return changed

    # --- reading -------------------------------------------------------------------------------

    def fetch(self, certificate_or_transaction_id: str) -> list[Record]:
        """The chain of a certificate, oldest first; found by certificateId or transactionId."""
        return fetch_chain(self.store, certificate_or_transaction_id)

    def status_list_credentials(self, *, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        """Every status list credential, signed now (``now``, default the clock) with the
        issuer's suite, valid for ``status_valid_for``: URL -> credential. States are the
        store's current ones; a suspension whose end has passed at ``now`` is left out.
        """
        moment = now if now is not None else _datetime.now()
        out: dict[str, dict[str, Any]] = {}
        for list_number in self.store.list_sets():
            out.update(self.status_list_set(list_number, now=moment))
        return out

    def status_list_set(self, list_number: int, *, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        """The four status list credentials (revocation, suspension, message, and state: the
        two-bit list of ``statusSize`` 2) of one list set, as :meth:`status_list_credentials`
        makes them: URL -> credential.
        The lists are published under the store's status URL and under each URL it had before a
        move (:attr:`Store.earlier_status_urls`), which credentials issued then still name.
        """
        moment = now if now is not None else _datetime.now()
        rows = list(self.store.status_rows(list_number))
        signing: dict[str, Any] = {
            "issuer": issuer_of(self.signer),
            "signer": self.signer,
            "suite": self.suite if self.suite is not None else DEFAULT_SUITE,
            "contexts": self.contexts,
            "now": moment,
            "valid_for": self.status_valid_for,
        }
        out: dict[str, dict[str, Any]] = {}
        for base_url in (*self.store.earlier_status_urls, self.store.status_url):
            out.update(list_set_credentials(rows, list_number, base_url=base_url, list_size=LIST_SIZE, **signing))
        out.update(state_lists(out, **signing))
        return out

    def export_status(self, directory: str | Path, *, now: datetime | None = None) -> list[Path]:
        """Write every status list credential, and an ``index.json`` (URL -> file), for verifiers.

        Each file is written whole and renamed into place, ``index.json`` last, so that a verifier
        reading the folder meanwhile sees the old export or the new one, never a mix of halves.
        """
        return write_status_lists(
            directory, self.status_list_credentials(now=now), self.store.status_url, self.store.earlier_status_urls
        )


def fetch_chain(store: Store, certificate_or_transaction_id: str) -> list[Record]:
    """The chain of a certificate in ``store``, oldest first; found by certificateId or
    transactionId. Reads only: no key is needed.
    """
    record = store.get(certificate_or_transaction_id) or store.get_by_transaction(certificate_or_transaction_id)
    record = _require(record, certificate_or_transaction_id)
    chain = [record]
    while chain[0].replaces is not None:
        chain.insert(0, _require(store.get(chain[0].replaces), chain[0].replaces))
    while chain[-1].replaced_by is not None:
        chain.append(_require(store.get(chain[-1].replaced_by), chain[-1].replaced_by))
    return chain


def status_list_url(store: Store, list_number: int | str, purpose: str) -> str:
    """The URL of one status list credential of a store (under its current status URL)."""
    return list_url(store.status_url, list_number, purpose)


def new_transaction_id() -> str:
    """A transactionId: a UUID of version 7 (RFC 9562), the milliseconds since 1970 in its first
    48 bits and 74 random bits after. It reads like DIVOC's (version 4) UUIDs, but ids made one
    after another sort one after another, so each lands beside the last in the store's index.
    Random ids each dirtied a page of that index of their own (16 KiB to write per credential):
    a 200-row commit took 11.3 ms with them and 5.0 ms with these, in a store of 60,000 rows,
    and the gap grows with the store.
    """
    return new_transaction_ids(1)[0]


def new_transaction_ids(count: int) -> list[str]:
    """``count`` transactionIds (see :func:`new_transaction_id`) of this millisecond, from one
    read of the system's random source: a read per id cost 2.3 us of each credential in a batch.
    """
    stamp = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | 0b10 << 62
    random = os.urandom(10 * count)
    ids = []
    for start in range(0, 10 * count, 10):
        bits = int.from_bytes(random[start : start + 10], "big")
        digits = f"{stamp | (bits >> 62 & 0xFFF) << 64 | bits & (1 << 62) - 1:032x}"  # as uuid.UUID writes it, in half the time
        ids.append(f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}")
    return ids


def _new_certificate_id(tx: StoreTransaction | Store, claimed: set[str] | frozenset[str] = frozenset()) -> str:
    """12 random digits, as DIVOC makes them; drawn again on a collision (with the store or with
    the ``claimed`` ones of a batch).
    """
    for _ in range(100):
        candidate = f"{secrets.randbelow(10**12):012d}"
        if candidate not in claimed and not tx.certificate_ids_taken([candidate]):
            return candidate
    raise LifecycleError("no free certificateId after 100 draws", code=ErrorCode.STORE_ERROR)


def _notify(
    tx: StoreTransaction,
    callback: str | None,
    certified: Certified,
    entity_type: EntityType,
    payload: Mapping[str, Any],
    moment: datetime,
) -> None:
    """Put the webhook message of a certificate made (DIVOC's SUCCESSFUL one) in the outbox of ``tx``."""
    if callback is not None:
        message = notification(
            callback,
            transaction_id=certified.transaction_id,
            certificate_id=certified.certificate_id,
            status="SUCCESSFUL",
            payload=payload,
            entity_type=entity_type.name,
            at=_datetime.format(moment),
        )
        tx.notify(message)


def _replayed(certified: Certified) -> Certified:
    """``certified``, as given back to a later request with its key."""
    again = replace(certified)
    object.__setattr__(again, "_json", certified._json)
    object.__setattr__(again, "list_sets", certified.list_sets)
    object.__setattr__(again, "replayed", True)
    return again


def _named(i: int, keys: Sequence[str] | None, claims: Sequence[str | None] | None) -> list[str]:
    """The keys the ``i``-th record of a batch is recorded under: its key and its claim."""
    return [k for k in (keys[i] if keys is not None else None, claims[i] if claims is not None else None) if k]


def _duplicate(certificate_id: str) -> LifecycleError:
    return LifecycleError(
        f"certificate {certificate_id} exists; to replace it, use update",
        code=ErrorCode.DUPLICATE_CERTIFICATE_ID,
        certificate_id=certificate_id,
    )


def _require(record: Record | None, certificate_id: str) -> Record:
    if record is None:
        raise LifecycleError(
            f"no certificate {certificate_id} in the store",
            code=ErrorCode.UNKNOWN_CERTIFICATE,
            certificate_id=certificate_id,
        )
    return record

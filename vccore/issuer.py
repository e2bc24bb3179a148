"""Issue credentials: payload -> entity type -> validated, rendered, signed credential.

The issuer of every credential is the controller of the signing key (a did:key by default, or a
did:web whose document the issuer publishes), because verifiers check that the issuer controls
the key that signed (Digital Bazaar's ``vc.verifyCredential`` refuses anything else). A payload's
own ``issuer`` field, where an entity type has one, is kept as data in the credential (for
HealthProfessional: ``issuer.url``), never as the issuer's identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import _datetime
from .contexts import ContextLoader
from .entities import EntityType, EntityTypeError, bundled_entity_types
from .keys import Signer
from .proofs import sign
from .suites import Suite

__all__ = ["issue", "issuer_of", "resolve_entity_type"]


def issue(
    entity: EntityType | str,
    payload: Mapping[str, Any],
    *,
    signer: Signer,
    vc_version: str = "2.0",
    suite: str | Suite = "eddsa-rdfc-2022",
    now: datetime | None = None,
    contexts: ContextLoader | None = None,
    entity_types: Mapping[str, EntityType] | None = None,
) -> dict[str, Any]:
    """The signed credential for ``payload`` (PayloadError lists every problem; nothing is signed).

    ``entity`` is an :class:`EntityType` or the name of one in ``entity_types`` (default: the
    bundled ones). ``now`` (default: the clock) is the proof's ``created`` and the ``$now``
    built-in, so a fixed ``now`` reproduces a credential byte for byte.
    """
    entity_type = resolve_entity_type(entity, entity_types)
    moment = now if now is not None else _datetime.now()
    credential = entity_type.render(payload, issuer=issuer_of(signer), now=moment, vc_version=vc_version)
    return sign(credential, signer, suite=suite, created=moment, contexts=entity_type.context_loader(contexts))


def issuer_of(signer: Signer) -> str:
    """The issuer id for a signer: its ``controller`` if it has one, else its DID (id before '#')."""
    controller = getattr(signer, "controller", None)
    return controller if isinstance(controller, str) else signer.id.split("#", 1)[0]


def resolve_entity_type(entity: EntityType | str, entity_types: Mapping[str, EntityType] | None = None) -> EntityType:
    """``entity`` itself, or the entity type of that name."""
    if isinstance(entity, EntityType):
        return entity
    known = entity_types if entity_types is not None else bundled_entity_types()
    found = known.get(entity)
    if found is None:
        raise EntityTypeError(
            f"unknown entity type {entity!r}; known: {', '.join(sorted(known)) or 'none'}",
            code="UNKNOWN_ENTITY_TYPE",
            entity=entity,
        )
    return found

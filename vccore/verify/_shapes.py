"""Compiled shapes: the entity types' credentials a verifier meets, known by their shape, read without JSON-LD work."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._cache import Cache
from .._compiled import CompiledCredentials
from ..contexts import ContextLoader
from ..entities import EntityType, bundled_entity_types
from ..errors import VccoreError
from ..suites import Suite


class _Shapes:
    """Compiled shapes of the entity types' credentials (vccore._compiled), by what a credential
    shows of its shape, so that the JSON-LD work of verifying them is done once per shape.
    Senders choose the keys (any did:key is an issuer): a shape is compiled on its second sight
    only, and at most 64 are kept (each holds about 100 KB of generated code).
    """

    __slots__ = ("compiled", "contexts", "entity_types", "seen", "suites")

    def __init__(
        self, suites: tuple[Suite, ...], contexts: ContextLoader, entity_types: Mapping[str, EntityType] | None
    ) -> None:
        self.suites = suites
        self.contexts = contexts
        self.entity_types = entity_types
        self.seen: Cache[tuple[Any, ...], bool] = Cache(1024)
        self.compiled: Cache[tuple[Any, ...], tuple[CompiledCredentials | None]] = Cache(64)

    def find(self, credential: Mapping[str, Any], proofs: list[Any]) -> tuple[CompiledCredentials, Suite] | None:
        """The compiled shape that may vouch for ``credential``, by what it shows of its shape (the
        shape then checks the JSON is exactly its own, value for value: see Verifier._document); None.
        """
        context, types = credential.get("@context"), credential.get("type")
        status = credential.get("credentialStatus")
        issuer = credential.get("issuer")
        issuer = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        if not (
            isinstance(context, list)
            and isinstance(types, list)
            and isinstance(status, list)
            and status
            and isinstance(issuer, str)
        ):
            return None
        first = status[0]
        url = first.get("statusListCredential") if isinstance(first, Mapping) else None
        if not isinstance(url, str) or url.count("/") < 3:
            return None
        base = url.rsplit("/", 2)[0] + "/"
        for proof in proofs:
            if not isinstance(proof, Mapping) or not isinstance(proof.get("verificationMethod"), str):
                continue
            suite = next((s for s in self.suites if s.matches(proof)), None)
            if suite is None:
                continue
            try:
                key = (
                    tuple(map(json.dumps, context)),
                    tuple(map(str, types)),
                    issuer,
                    base,
                    suite.name,
                    proof["verificationMethod"],
                )
            except TypeError:
                return None
            compiled = self.compiled.get(key)
            if compiled is None:
                # Compiled on second sight only, so that a stream of one-off made-up shapes costs no
                # more than the reference path.
                if self.seen.get(key) is None:
                    self.seen.put(key, True)
                    return None
                compiled = (self._compile(context, types, issuer, base, suite, proof["verificationMethod"]),)
                self.compiled.put(key, compiled)
            return (compiled[0], suite) if compiled[0] is not None else None
        return None

    def _compile(
        self, context: list[Any], types: list[Any], issuer: str, base: str, suite: Suite, vm_id: str
    ) -> CompiledCredentials | None:
        entity_types = self.entity_types if self.entity_types is not None else bundled_entity_types()
        for entity_type in entity_types.values():
            if not all(url in self.contexts for url in entity_type.contexts):
                continue  # a verifier that does not know the type's contexts must not verify it
            for version, template in entity_type.templates.items():
                if template.get("type") != types or context[: len(template["@context"])] != template["@context"]:
                    continue
                for updating in (False, True):
                    try:
                        compiled = CompiledCredentials.build(
                            entity_type,
                            version,
                            updating,
                            issuer=issuer,
                            status_base=base,
                            suite=suite,
                            verification_method=vm_id,
                            contexts=self.contexts,
                            reading=True,
                        )
                    except VccoreError:
                        compiled = None
                    if compiled is not None and compiled.context == context:
                        return compiled
        return None

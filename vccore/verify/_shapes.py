"""Compiled shapes: the entity types' credentials a verifier meets, known by their shape, read without JSON-LD work."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._cache import Cache
from .._compiled import CompiledCredentials
from .._json import compact
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

    __slots__ = ("compiled", "contexts", "entity_types", "last_learned", "last_match", "seen", "suites", "texts")

    def __init__(
        self, suites: tuple[Suite, ...], contexts: ContextLoader, entity_types: Mapping[str, EntityType] | None
    ) -> None:
        self.suites = suites
        self.contexts = contexts
        self.entity_types = entity_types
        self.seen: Cache[tuple[Any, ...], bool] = Cache(1024)
        self.compiled: Cache[tuple[Any, ...], tuple[CompiledCredentials | None]] = Cache(64)
        # by the compiled shape's id (held in the value, so that the id stays its own), the slots
        # present and the proof's members
        self.texts: Cache[tuple[Any, ...], tuple[CompiledCredentials, _TextShape | None]] = Cache(_MOST_TEXT_SHAPES)
        self.last_learned: tuple[Any, ...] = ()  # the last learn_text's shape, slots and proof, in short
        # the last text matched (held, so that no other object takes its identity) and the match
        self.last_match: tuple[object, tuple[_TextShape, re.Match[str]] | None] = (None, None)

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

    def read_text(self, text: str | bytes) -> Known | None:
        """A credential given as JSON text, read by the text of a shape met before (see
        :class:`_TextShape`) without parsing it; None: parse it.
        """
        found = self._match(text)
        return found[0].read(found[1]) if found is not None else None

    def matches_text(self, text: str | bytes) -> bool:
        """Whether :meth:`read_text` would read ``text`` by a shape's text (its values aside)."""
        return self._match(text) is not None

    def _match(self, text: str | bytes) -> tuple[_TextShape, re.Match[str]] | None:
        last = self.last_match  # a server asks matches_text, then verifies the same body: matched once
        if last[0] is text:
            return last[1]
        found = self._match_anew(text)
        self.last_match = (text, found)
        return found

    def _match_anew(self, text: str | bytes) -> tuple[_TextShape, re.Match[str]] | None:
        if len(text) > _MOST_TEXT or not len(self.texts):
            return None
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                return None  # the JSON reader's to read (another encoding) or refuse
        text = text.strip(" \t\n\r")  # JSON's whitespace around the value (a line's end)
        for _, shape in self.texts.values():
            if shape is not None and (matched := shape.pattern.fullmatch(text)) is not None:
                return shape, matched
        return None

    def learn_text(
        self, found: tuple[CompiledCredentials, Suite] | None, slots: Mapping[str, Any] | None, proofs: list[Any]
    ) -> None:
        """Learn the text of a credential, given as text, that verified through the compiled
        shape ``found`` (its ``slots``, its ``proofs``: one), for :meth:`read_text`: once per set
        of slots present and order of the proof's members.
        """
        proof = proofs[0] if len(proofs) == 1 else None
        if found is None or slots is None or not isinstance(proof, dict):
            return
        seen = (id(found[0]), len(slots), tuple(proof))
        if seen == self.last_learned:  # what nearly every credential of a batch or a server shows
            return
        self.last_learned = seen
        key = (id(found[0]), found[1].name, frozenset(k for k, v in slots.items() if v is not None), tuple(proof))
        self.texts.get_or_make(key, lambda: (found[0], _TextShape.learn(found, slots, proof)))


ReadBy = tuple[tuple[CompiledCredentials, Suite], dict[str, str]]
"""The compiled shape and suite a credential was read by, and its slot values."""
Known = tuple[dict[str, Any], tuple[CompiledCredentials, Suite], dict[str, str]]
"""A credential read by its text: its JSON value, its compiled shape and suite, its slots (those
present, as :meth:`vccore._compiled.CompiledShape._present` gives them)."""

_MOST_TEXT: Final = 64 * 1024
"""The longest text read by a shape's text (a credential of an entity type is a few KiB)."""
_MOST_TEXT_SHAPES: Final = 8
# A slot between quotes holds any string JSON writes without an escape (what json.dumps leaves
# raw; a lone surrogate is the reference path's to judge); one inside a constant string (a status
# entry's list set and index) only digits, so that no text can be split between two slots in more
# than one way, and matching stays linear in the text's length.
_STRING_SLOT: Final = r'([^"\\\x00-\x1f\ud800-\udfff]*)'
_DIGITS_SLOT: Final = "([0-9]{1,20})"
_PROOF_SLOTS: Final = ("created", "proofValue")
_READ: Final[Any] = object()  # a proof member read from the text


@dataclass(frozen=True, slots=True)
class _TextShape:
    """The compact JSON text of a compiled shape's credentials, as vccore writes them (a store,
    a batch's output): the text around the slots of one set of slots present, then the proof's
    members in one order, as a pattern. A text it matches is, character for character, that
    text with these values, so its JSON value is the shape's credential rendered from them: read
    without parsing the JSON, walking it, or finding its shape. Anything else (other spacing,
    order or escapes) does not match, and is parsed.
    """

    pattern: re.Pattern[str]
    slots: tuple[str, ...]  # the slot of each group, in order (a slot met again is a backreference)
    proof: tuple[tuple[str, Any], ...]  # the proof's members in order, each a constant or _READ
    found: tuple[CompiledCredentials, Suite]

    @classmethod
    def learn(
        cls, found: tuple[CompiledCredentials, Suite], slots: Mapping[str, Any], proof: Mapping[str, Any]
    ) -> _TextShape | None:
        """The text shape of a credential read by ``found``, or None (then it is read the long way)."""
        try:
            return cls.build(found, slots, proof)
        except Exception:  # noqa: BLE001 (a text not learned costs speed, never a verdict)
            return None

    @classmethod
    def build(
        cls, found: tuple[CompiledCredentials, Suite], slots: Mapping[str, Any], proof: Mapping[str, Any]
    ) -> _TextShape | None:
        compiled = found[0]
        rendered = compiled.render(slots)
        layout = compiled.text_layout(rendered[1]) if rendered is not None else None
        if (
            rendered is None
            or layout is None
            or not layout.pieces[-1].endswith("}")
            or "@context" in proof
            or not compiled.is_plain_proof(proof)
            or proof.keys() != {*compiled.proof_constants, *_PROOF_SLOTS}
        ):
            return None
        parts: list[str] = []
        groups: list[str] = []
        for i, piece in enumerate(layout.pieces):
            parts.append(re.escape(piece if i < len(layout.slots) else piece[:-1]))
            if i < len(layout.slots):
                slot = layout.slots[i]
                if slot in groups:
                    parts.append(f"(?P={_group(groups.index(slot))})")
                    continue
                quoted = piece.endswith('"') and layout.pieces[i + 1].startswith('"')
                parts.append(f"(?P<{_group(len(groups))}>" + (_STRING_SLOT if quoted else _DIGITS_SLOT)[1:])
                groups.append(slot)
        members: list[tuple[str, Any]] = []
        proof_text: list[str] = []
        for name in proof:
            if name in _PROOF_SLOTS:
                members.append((name, _READ))
                proof_text.append(re.escape(compact(name)) + ':"' + _STRING_SLOT + '"')
            else:
                members.append((name, compiled.proof_constants[name]))
                proof_text.append(re.escape(compact(name) + ":" + compact(compiled.proof_constants[name])))
        parts.append(re.escape(',"proof":{') + ",".join(proof_text) + "}}")
        if set(groups) != rendered[1].keys():
            return None  # (a slot present but not in the text: not read by text)
        return cls(re.compile("".join(parts)), tuple(groups), tuple(members), found)

    def read(self, matched: re.Match[str]) -> Known | None:
        # Every slot present is a group of the pattern, and a group's value is a text, so the
        # slots are what CompiledCredentials.render would find present, as when this was learned
        # (a set of slots present it rendered then; the value of a slot does not change that).
        values = matched.groups()
        slots = dict(zip(self.slots, values, strict=False))
        read_back = iter(values[len(self.slots) :])
        proof = {name: next(read_back) if value is _READ else value for name, value in self.proof}
        credential = self.found[0].render_present(slots)
        if credential is None:
            return None  # a value the reference path judges: parsed, and read the long way
        credential["proof"] = proof
        return credential, self.found, slots


def _group(number: int) -> str:
    return f"s{number}"

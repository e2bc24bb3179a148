"""Credential templates: JSON whose whole-value ``{{field}}`` slots a payload's values fill, never changing what is around them.

And the probes of an entity type's Handlebars templates (:mod:`vccore.handlebars`, whose structural
renderer keeps data from changing the JSON): a payload whose every leaf is told apart, and what the
credential rendered from it shows (which ids hold payload values, which values share a statement).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any, Final

from . import _nquads
from .canon import canonicalize
from .codes import PayloadReason
from .contexts import ContextLoader
from .errors import PayloadError, PayloadProblem
from .payloads import escape_pointer

PLACEHOLDER: Final = re.compile(r"\{\{\s*(\$?[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BUILT_INS: Final = frozenset({"$issuer", "$now"})
_SAMPLE_ISSUER: Final = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _fill(node: Any, values: Mapping[str, Any]) -> Any:
    """Replace whole-value placeholders; an absent value removes its slot."""
    if isinstance(node, str):
        match = PLACEHOLDER.fullmatch(node)
        if match is None:
            return node
        return values.get(match[1], _ABSENT)
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            filled = _fill(value, values)
            if filled is not _ABSENT:
                out[key] = filled
        # An object whose every entry was an absent field goes too: no empty node is left behind.
        return out if out or not node else _ABSENT
    if isinstance(node, list):
        return [filled for filled in (_fill(item, values) for item in node) if filled is not _ABSENT]
    return node


_ABSENT: Final = object()


def _strings(node: Any, pointer: str) -> Iterator[tuple[str, str, bool]]:
    """(JSON pointer, text, is a key) of every string in a template."""
    if isinstance(node, str):
        yield pointer, node, False
    elif isinstance(node, dict):
        for key, value in node.items():
            yield f"{pointer}/{escape_pointer(key)}", key, True
            yield from _strings(value, f"{pointer}/{escape_pointer(key)}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{pointer}/{index}")


def _placed_fields(template: Any, fields: Container[str], fail: Callable[..., Exception]) -> set[str]:
    """The schema fields and built-ins that ``template``'s placeholders name. Raises ``fail(message,
    pointer=...)`` for a placeholder that is a key, shares its string with other text, or names
    neither one of ``fields`` nor a built-in.
    """
    used: set[str] = set()
    for pointer, text, is_key in _strings(template, ""):
        if "{{" not in text and "}}" not in text:
            continue
        if is_key:
            raise fail(f"{pointer}: a placeholder cannot be a key; it fills a value", pointer=pointer)
        match = PLACEHOLDER.fullmatch(text)
        if match is None:
            raise fail(
                f"{pointer}: {text!r} mixes a placeholder with other text; a placeholder is a whole value",
                pointer=pointer,
            )
        name = match[1]
        if name not in BUILT_INS and name not in fields:
            raise fail(
                f"{pointer}: placeholder {{{{{name}}}}} is neither a schema field nor a built-in ({', '.join(sorted(BUILT_INS))})",
                pointer=pointer,
            )
        used.add(name)
    return used


def _id_slots(template: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer, field) of every placeholder that fills an ``id``."""
    if isinstance(template, dict):
        for key, value in template.items():
            here = f"{pointer}/{escape_pointer(key)}"
            if key in ("id", "@id") and isinstance(value, str) and (match := PLACEHOLDER.fullmatch(value)):
                yield here, match[1]
            else:
                yield from _id_slots(value, here)
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from _id_slots(value, f"{pointer}/{index}")


def _all_ids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if (key in ("id", "@id") and isinstance(value, str)) or (key == "issuer" and isinstance(value, str)):
                yield value
            else:
                yield from _all_ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_ids(value)


def _check_ids(rendered: Any, entity: str, values: Mapping[str, Any], slots: list[tuple[str, str]]) -> None:
    """A payload value in an ``id`` slot names a node: two equal ids would merge two nodes (the
    subject and the evidence, or the subject and the issuer) in what is signed.
    """
    counts: dict[str, int] = {}
    for node_id in _all_ids(rendered):
        counts[node_id] = counts.get(node_id, 0) + 1
    problems = [
        PayloadProblem(
            f"/{escape_pointer(name)}",
            PayloadReason.INVALID_VALUE,
            f"{values[name]!r} is also the id of another part of the credential",
        )
        for pointer, name in slots
        if name in values and counts.get(values[name], 0) > 1
    ]
    if problems:
        raise PayloadError(entity, problems)


def _probe_value(spec: Mapping[str, Any], number: int) -> Any:
    """A value for field number ``number`` that no other field's probe contains."""
    kind, fmt = spec.get("type"), spec.get("format")
    if "enum" in spec:
        return spec["enum"][0]
    if kind == "integer":
        return 700_000 + number
    if kind == "number":
        return 700_000.5 + number
    if kind == "boolean":
        return True
    if fmt == "date":
        return f"{1100 + number}-01-01"
    if fmt == "year":
        return f"{1100 + number}"
    if fmt == "date-time":
        return f"{1100 + number}-01-01T00:00:00Z"
    if fmt == "uri":
        return f"https://probe.example/field{number:03d}"
    return f"probe-field-{number:03d}"


def _probe_token(value: Any) -> str:
    return str(value) if not isinstance(value, str) else _nquads.escape_literal(value)


def _sample(spec: Mapping[str, Any], *, required_only: bool = False) -> Any:
    """A value ``spec`` accepts: its first example, else a made-up one (an object of a Handlebars
    type's schema: its fields, or only its required ones; an array: as many items as it needs, at
    least one).
    """
    examples = spec.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if spec.get("enum"):
        return spec["enum"][0]
    kind = spec.get("type")
    if kind == "object":
        required = set(spec.get("required", ()))
        return {
            key: _sample(inner, required_only=required_only)
            for key, inner in spec.get("properties", {}).items()
            if not required_only or key in required
        }
    if kind == "array":
        return [_sample(spec.get("items", {}), required_only=required_only)] * max(1, int(spec.get("minItems", 1)))
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    made_up = "x" * max(1, int(spec.get("minLength", 1)))  # a schema may want a longer one
    return {
        "date": "2000-01-01",
        "year": "2000",
        "date-time": "2000-01-01T00:00:00Z",
        "uri": "https://example.com/x",
    }.get(str(spec.get("format")), made_up)


def _emptiable_groups(template: Any) -> list[frozenset[str]]:
    """Groups of fields that, all absent, leave an object of ``template`` empty (so it goes)."""
    groups: list[frozenset[str]] = []

    def walk(node: Any) -> tuple[set[str], bool]:  # (fields below, has something constant)
        if isinstance(node, str):
            match = PLACEHOLDER.fullmatch(node)
            if match is None or match[1].startswith("$"):
                return set(), True
            return {match[1]}, False
        if isinstance(node, list):
            fields: set[str] = set()
            constant = False
            for item in node:
                f, c = walk(item)
                fields |= f
                constant = constant or c
            return fields, constant
        if isinstance(node, dict):
            fields = set()
            constant = not node
            for value in node.values():
                f, c = walk(value)
                fields |= f
                constant = constant or c
            if not constant:
                groups.append(frozenset(fields))
            return fields, constant
        return set(), True

    walk(template)
    return groups


def _shared_statements(
    template: Any, fields: Mapping[str, Mapping[str, Any]], loader: ContextLoader
) -> list[tuple[str, ...]]:
    """Groups of fields (name -> schema property, in the schema's order) whose values become
    objects of the same subject and predicate.
    """
    probe: dict[str, Any] = {}
    for number, (name, spec) in enumerate(fields.items()):
        probe[name] = _probe_value(spec, number)
    probe.update({"$issuer": _SAMPLE_ISSUER, "$now": "2000-01-01T00:00:00Z"})
    return _shared_in(_fill(template, probe), {name: probe[name] for name in fields}, loader)


def _shared_in(credential: Any, probes: Mapping[str, Any], loader: ContextLoader) -> list[tuple[str, ...]]:
    """Groups of names in ``probes`` (name -> the probe value it put in ``credential``) whose
    values became objects of the same subject and predicate in ``credential``'s RDF.
    """
    lines = canonicalize(credential, contexts=loader, safe=False).splitlines()
    by_statement: dict[tuple[str, str], list[str]] = {}
    for name, value in probes.items():
        token = _probe_token(value)
        for line in lines:
            subject, predicate, rest = line.split(" ", 2)
            if token in rest:
                by_statement.setdefault((subject, predicate), []).append(name)
    return [tuple(names) for names in by_statement.values() if len(names) > 1]


# --- Handlebars templates -----------------------------------------------------------------------


def _probe_payload(schema: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A payload for a (possibly nested) schema in which every leaf holds a value no other leaf
    holds, and its leaves: path (``address.city``, ``courses[].name``) -> that value.
    """
    leaves: dict[str, Any] = {}

    def probe(spec: Mapping[str, Any], path: str) -> Any:
        kind = spec.get("type")
        if kind == "object" and "enum" not in spec:
            return {k: probe(v, f"{path}.{k}") for k, v in spec.get("properties", {}).items()}
        if kind == "array" and "enum" not in spec:
            return [probe(spec.get("items", {}), f"{path}[]")]
        value = leaves[path] = _probe_value(spec, len(leaves))
        return value

    payload = {key: probe(spec, key) for key, spec in schema.get("properties", {}).items()}
    return payload, leaves


def _id_values(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer, id) of every ``id``, ``@id`` and string ``issuer`` in a credential."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{pointer}/{escape_pointer(key)}"
            if key in ("id", "@id", "issuer") and isinstance(value, str):
                yield here, value
            else:
                yield from _id_values(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _id_values(value, f"{pointer}/{index}")


def _handlebars_id_slots(credential: Any, leaves: Mapping[str, Any]) -> dict[str, str]:
    """The ids of a credential rendered from a probe payload that hold a payload value: JSON
    pointer -> the top-level field whose leaf it holds.
    """
    slots: dict[str, str] = {}
    for pointer, value in _id_values(credential):
        for path, leaf in leaves.items():
            if isinstance(leaf, (str, int, float)) and not isinstance(leaf, bool) and str(leaf) in value:
                slots[pointer] = re.split(r"[.\[]", path, maxsplit=1)[0]
    return slots


def _check_handlebars_ids(rendered: Any, entity: str, slots: Mapping[str, str]) -> None:
    """PayloadError when two parts of a credential rendered from a Handlebars template have one
    id: the template's own ids are all different (checked when the type loads), so a payload value
    made them meet, and two nodes would merge in what is signed.
    """
    counts: dict[str, int] = {}
    where: dict[str, list[str]] = {}
    for pointer, value in _id_values(rendered):
        counts[value] = counts.get(value, 0) + 1
        where.setdefault(value, []).append(pointer)
    problems = {
        PayloadProblem(
            f"/{escape_pointer(slots[pointer])}" if pointer in slots else "",
            PayloadReason.INVALID_VALUE,
            f"{value!r} is the id of two parts of the credential ({' and '.join(where[value])})",
        )
        for value, count in counts.items()
        if count > 1
        for pointer in where[value]
        if pointer in slots or not any(p in slots for p in where[value])
    }
    if problems:
        raise PayloadError(entity, sorted(problems, key=lambda p: (p.pointer, p.detail)))

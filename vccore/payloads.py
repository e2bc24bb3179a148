"""Payload validation: the checks that find what is wrong with a payload, as PayloadProblems.

The problems are :class:`vccore.errors.PayloadProblem` values (with a :class:`vccore.codes.PayloadReason`),
and :class:`vccore.errors.PayloadError` carries them; both are re-exported here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from . import _datetime
from .canon import is_iri
from .codes import PayloadReason
from .errors import PayloadError, PayloadProblem

if TYPE_CHECKING:  # jsonschema is imported when first needed: 40 ms of every process's start
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker

# PayloadProblem and PayloadError live in vccore.errors (every exception, and the value one carries).
__all__ = ["PayloadError", "PayloadProblem"]

_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR: Final = re.compile(r"[0-9]{4}")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


# --- formats ------------------------------------------------------------------------------------


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date_time(value: str) -> bool:
    try:
        _datetime.parse(value)
    except ValueError:
        return False
    return True


# The formats entity schemas use (jsonschema's own are lenient or need optional packages): a
# calendar ``date``, a ``year``, an XML Schema ``date-time`` with a time zone, and ``uri`` (an
# absolute URL or a DID, by the same test safe mode applies to IRIs, so that a valid payload
# never fails at signing).
_FORMAT_TESTS: Final[dict[str, Callable[[str], bool]]] = {
    "date": _is_date,
    "year": lambda value: _YEAR.fullmatch(value) is not None,
    "date-time": _is_date_time,
    "uri": is_iri,
}


@cache
def _format_checker() -> FormatChecker:
    """The :data:`_FORMAT_TESTS` as a jsonschema format checker (they pass non-strings: the
    schema's ``type`` speaks for those).
    """
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, test in _FORMAT_TESTS.items():
        checker.checks(name)(lambda value, test=test: not isinstance(value, str) or test(value))
    return checker


_FORMAT_REASONS: Final = {
    "date": PayloadReason.BAD_DATE,
    "year": PayloadReason.BAD_DATE,
    "date-time": PayloadReason.BAD_DATE,
    "uri": PayloadReason.NOT_A_URL,
}


def schema_validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """Jsonschema's validator of ``schema`` with the entity formats: the validator of record."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema, format_checker=_format_checker())


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not valid JSON Schema (2020-12), or None."""
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    return None


# --- validation ---------------------------------------------------------------------------------


def validate_payload(
    payload: Any,
    *,
    entity: str,
    validator: Callable[[], Any],
    quick_check: Callable[[Mapping[str, Any]], bool] | None,
) -> list[PayloadProblem]:
    """Every problem with ``payload`` against an entity type's schema validator (``validator()``
    gives it; empty when it is valid); defaults are not applied. ``quick_check``
    (:func:`quick_checker`) answers first: the validator is asked for only when it cannot.
    """
    if not isinstance(payload, Mapping):
        return [
            PayloadProblem(
                "", PayloadReason.WRONG_TYPE, f"the payload must be a JSON object, not {_json_type(payload)}"
            )
        ]
    if quick_check is not None and quick_check(payload):
        return []  # surely valid: jsonschema, the validator of record, is asked only otherwise
    problems: list[PayloadProblem] = []
    for error in validator().iter_errors(dict(payload)):
        problems.extend(_explain(error, payload, entity))
    problems.extend(
        PayloadProblem(pointer, PayloadReason.INVALID_VALUE, "holds a lone UTF-16 surrogate, which is not text")
        for pointer in _surrogates(payload, "")
    )
    return sorted(set(problems), key=lambda p: (p.pointer, p.reason))


def _surrogates(value: Any, pointer: str) -> Iterator[str]:
    """The JSON pointers of the strings in ``value`` (nested objects and arrays too: a Handlebars
    type's payload nests) that hold a lone surrogate.
    """
    if isinstance(value, str):
        if _SURROGATE.search(value):
            yield pointer
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _surrogates(inner, f"{pointer}/{escape_pointer(str(key))}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _surrogates(inner, f"{pointer}/{index}")


def _explain(error: jsonschema.ValidationError, payload: Mapping[str, Any], entity: str) -> Iterator[PayloadProblem]:
    pointer = "".join(f"/{escape_pointer(str(p))}" for p in error.absolute_path)
    keyword = error.validator
    expected: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if keyword == "required":
        present = instance if isinstance(instance, Mapping) else {}
        for missing in expected:
            if missing not in present and f"'{missing}'" in error.message:
                yield PayloadProblem(
                    f"{pointer}/{escape_pointer(missing)}", PayloadReason.MISSING, f"{missing} is required"
                )
    elif keyword == "additionalProperties":
        known = set(schema.get("properties", {}))
        for extra in sorted(set(instance) - known):
            yield PayloadProblem(
                f"{pointer}/{escape_pointer(extra)}", PayloadReason.UNKNOWN_FIELD, f"{extra} is not a field of {entity}"
            )
    elif keyword == "type":
        yield PayloadProblem(
            pointer, PayloadReason.WRONG_TYPE, f"must be {error.validator_value}, not {_json_type(error.instance)}"
        )
    elif keyword == "format":
        reason = _FORMAT_REASONS.get(str(error.validator_value), PayloadReason.INVALID_VALUE)
        expected = {
            "date": "a date (YYYY-MM-DD)",
            "year": "a year (YYYY)",
            "date-time": "a date-time with a time zone (YYYY-MM-DDThh:mm:ssZ)",
            "uri": "an absolute URL or a DID",
        }.get(str(error.validator_value), f"a {error.validator_value}")
        yield PayloadProblem(pointer, reason, f"{_show(error.instance)} is not {expected}")
    else:
        yield PayloadProblem(pointer, PayloadReason.INVALID_VALUE, _refusal(str(keyword), expected, instance))


def _refusal(keyword: str, expected: Any, value: Any) -> str:
    """What a schema keyword refuses in ``value``, in JSON's words (jsonschema's own messages
    show Python reprs: ``'' should be non-empty``, ``None``, ``True``).
    """
    shown = _show(value)
    if keyword == "minLength":
        if value == "":
            return "is an empty string: give a value, or leave the field out if it is optional"
        return f"{shown} is shorter than {expected} characters"
    if keyword == "maxLength":
        return f"{shown} is longer than {expected} characters"
    if keyword == "pattern":
        return f"{shown} does not match the pattern {_short(expected)}"
    if keyword == "enum":
        choices = expected if isinstance(expected, list) else [expected]
        return f"{shown} is not one of {', '.join(_short(c) for c in choices)}"
    if keyword == "const":
        return f"{shown} is not {_short(expected)}"
    bounds = {
        "minimum": "less than the minimum,",
        "maximum": "more than the maximum,",
        "exclusiveMinimum": "not more than",
        "exclusiveMaximum": "not less than",
        "multipleOf": "not a multiple of",
    }
    if keyword in bounds:
        return f"{shown} is {bounds[keyword]} {_short(expected)}"
    return f"{shown} is refused by the schema's {keyword} {_short(expected)}"


# --- the quick check ----------------------------------------------------------------------------


_QUICK_KEYWORDS: Final = frozenset(
    {
        "type",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "enum",
        "minimum",
        "maximum",
        "description",
        "examples",
        "title",
        "$comment",
        "default",
    }
)


def quick_checker(schema: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool] | None:
    """A check that says True only for payloads the schema surely accepts: the common keywords
    of flat entity schemas, compiled to plain Python. Anything else makes it None (jsonschema
    then checks every payload). A differential test holds it to jsonschema's verdicts.
    """
    if set(schema) - {
        "$schema",
        "$id",
        "title",
        "description",
        "type",
        "additionalProperties",
        "required",
        "properties",
        "$comment",
    }:
        return None
    properties = schema["properties"]
    required = frozenset(schema.get("required", ()))
    checks: dict[str, Callable[[Any], bool]] = {}
    for name, spec in properties.items():
        if not isinstance(spec, dict) or set(spec) - _QUICK_KEYWORDS:
            return None
        check = _quick_field(spec)
        if check is None:
            return None
        checks[name] = check

    def quick(payload: Mapping[str, Any]) -> bool:
        if not required <= payload.keys():
            return False
        for key, value in payload.items():
            check = checks.get(key)
            if check is None or not check(value):
                return False
        return True

    return quick


def _quick_field(spec: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    kind = spec.get("type")
    if kind == "string":
        low, high = spec.get("minLength", 0), spec.get("maxLength")
        pattern = re.compile(spec["pattern"]) if "pattern" in spec else None
        fmt = spec.get("format")
        allowed = spec.get("enum")
        if (fmt is not None and fmt not in _FORMAT_REASONS) or (
            allowed is not None and not all(isinstance(e, str) for e in allowed)
        ):
            return None
        allowed_set = frozenset(allowed) if allowed is not None else None

        search = pattern.search if pattern is not None else None
        conforms = _FORMAT_TESTS[fmt] if fmt is not None else None
        surrogate = _SURROGATE.search

        def string(value: Any) -> bool:
            return (
                type(value) is str
                and low <= len(value)
                and (high is None or len(value) <= high)
                and (search is None or search(value) is not None)
                and (conforms is None or conforms(value))
                and (allowed_set is None or value in allowed_set)
                and surrogate(value) is None
            )

        return string
    if kind == "integer" and not set(spec) & {"enum", "format", "pattern", "minLength", "maxLength"}:
        minimum, maximum = spec.get("minimum"), spec.get("maximum")
        return lambda v: type(v) is int and (minimum is None or v >= minimum) and (maximum is None or v <= maximum)
    if kind == "boolean" and set(spec) <= {"type", "description", "examples", "title", "$comment", "default"}:
        return lambda v: type(v) is bool
    return None


# --- helpers ------------------------------------------------------------------------------------


def escape_pointer(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _short(value: Any) -> str:
    """``value`` as JSON text (``null``, ``true``, ``"text"``), cut at 60 characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _show(value: Any) -> str:
    """``value`` for a person: an empty string named as one, anything else as JSON text."""
    return "an empty string" if value == "" else _short(value)

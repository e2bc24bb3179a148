"""Import a Sunbird RC or DIVOC 3.x entity schema as a vccore entity type (``vccore entities import``).

A Sunbird RC schema (and a DIVOC 3.x tenant's, which the tenant portal and DIVOC's
vc-management-service write into Sunbird RC) is a JSON Schema whose ``definitions`` describe the
entity and whose ``_osConfig`` holds its ``credentialTemplate`` (an object, the text of a
Handlebars template, or a URL of one), its ``certificateTemplates`` and the registry's settings
(``roles``, index fields, ...). It comes as the schema itself or as the registry's Schema record
(``{"name", "schema": "<the schema as JSON text>", "status"}``, what DIVOC's
``/vc-management/v1/schema`` takes and returns).

:func:`import_schema` makes of it the files of a Handlebars entity type's folder (see
:mod:`vccore.entities`), checked by loading them, with nothing on disk; :func:`write_type` puts
them in a folder. What changes on the way, each said in :attr:`ImportedType.notes`:

- The credential's issuer is the signing key's controller, as for every vccore credential: the
  template's ``issuer`` (DIVOC's ``"{{{issuer}}}"``, filled from the payload; Sunbird RC's examples
  write a DID) becomes ``"{{$issuer}}"``. The payload's ``issuer`` is still taken (DIVOC's clients
  send one) and is then ``ignored``, as is any field the template never places: DIVOC dropped
  them too.
- Every object of the payload schema refuses fields it does not name (``additionalProperties:
  false``, added where the schema says nothing; a schema that allows other fields is refused):
  a field the schema does not name never reaches the credential. ``$ref`` to ``definitions`` are
  inlined.
- The fields DIVOC adds (vc-management-service's schema.utils.js): ``issuanceDate`` defaults to
  now and is a date-time; ``issuer`` is optional and a URL; ``certificateId`` gets vccore's
  pattern when the schema has none (it becomes part of URLs), ``validFrom`` and ``validTill`` are
  date-times.
- Contexts are pinned: every context URL of the template that vccore does not bundle must be
  given, with its exact bytes (``contexts``: DIVOC's ``/vc-management/v1/context/{osid}``, which
  ``vccore serve`` then serves itself); a template URL must be given as its text. Nothing is
  fetched. Inline contexts in the template work as they are.
- When the context maps several fields to one term (DIVOC's generated contexts map every text
  field to ``schema:Text``), an RDF signature would not tell their values apart: the type is
  restricted to eddsa-jcs-2022, which signs the JSON.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from . import _json
from ._vocab import CREDENTIALS_V2
from .contexts import bundled_contexts
from .entities import EntityType
from .errors import EntityTypeError

__all__ = ["ImportedType", "import_schema", "write_type"]

_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_PAYLOAD_ISSUER: Final = re.compile(r"\{\{\{?\s*issuer\s*\}?\}\}")
_ISSUER_SLOT: Final = re.compile(r'("issuer"\s*:\s*)"\{\{\{?\s*issuer\s*\}?\}\}"')
# vccore's certificate ids: they become part of URLs (the HealthProfessional type's pattern)
CERTIFICATE_ID_PATTERN: Final = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(?![\\s\\S])"
_DATE_TIMES: Final = ("issuanceDate", "validFrom", "validTill")
_SOURCE: Final = "source-schema.json"


@dataclass(frozen=True, slots=True)
class ImportedType:
    """An imported entity type: its folder's files (name -> bytes), the type they load as, and
    what the import changed or chose, in words.
    """

    name: str
    files: Mapping[str, bytes]
    entity_type: EntityType
    notes: tuple[str, ...]


def import_schema(
    schema: Mapping[str, Any] | str | bytes,
    *,
    contexts: Mapping[str, bytes] | None = None,
    credential_template: str | None = None,
    source: str = "the schema",
) -> ImportedType:
    """The entity type of a Sunbird RC or DIVOC 3.x schema (the schema, or the registry's Schema
    record holding it as text), as a folder's files, loaded and checked.

    ``contexts``: context URL -> exact bytes, for each context of the template vccore does not
    bundle. ``credential_template``: the template's text, when the schema names it by URL (it is
    never fetched); given otherwise, it replaces the schema's. ``source`` names the input in
    errors. EntityTypeError names what cannot be imported (``field``: where in the schema).
    """
    given = contexts or {}
    record, raw = _parse(schema, source)
    body = record
    if isinstance(record.get("schema"), (str, dict)):  # the registry's Schema record
        body = _parse(record["schema"], f"{source} (its schema)")[0]
    definitions = body.get("definitions")
    name, definition = _definition(body, record, source)
    os_config = body.get("_osConfig", {})
    if not isinstance(os_config, dict):
        raise _error(source, "_osConfig", "is not an object")
    notes: list[str] = []
    payload = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **_payload_schema(definition, definitions if isinstance(definitions, dict) else {}, source, name),
        "title": name,
    }
    _divoc_fields(payload)
    text, version = _template_text(os_config, credential_template, source, notes)
    pinned = _pins(text, given, source)

    files: dict[str, bytes] = {_SOURCE: raw, "schema.json": _dump(payload), "credential.hbs": text.encode("utf-8")}
    manifest: dict[str, Any] = {
        "name": name,
        "description": str(definition.get("title") or body.get("title") or name),
        "templateEngine": "handlebars",
        "schema": "schema.json",
        "templates": {version: "credential.hbs"},
        "contexts": [],
        "importedFrom": _SOURCE,
    }
    alias = record.get("name")
    if isinstance(alias, str) and alias != name and _NAME.fullmatch(alias):
        manifest["aliases"] = [alias]
    for url, data in pinned.items():
        file = _context_file(url, files)
        files[file] = data
        manifest["contexts"].append({"url": url, "file": file, "sha256": hashlib.sha256(data).hexdigest()})
    if "issuanceDate" in payload["properties"]:
        manifest["defaults"] = {"issuanceDate": "$now"}
    if isinstance(os_config.get("certificateTemplates"), dict):
        manifest["certificateTemplates"] = os_config["certificateTemplates"]
    manifest["osConfig"] = {
        k: v for k, v in os_config.items() if k not in ("credentialTemplate", "certificateTemplates")
    }
    entity = _load(manifest, files, notes)
    return ImportedType(name, files, entity, tuple(notes))


def write_type(imported: ImportedType, directory: str | Path, *, replace: bool = False) -> Path:
    """Write ``imported``'s files into ``directory``/its name (``directory`` is made if need
    be), whole: into a new folder renamed into place. A folder of that name is an error unless
    ``replace``. Returns the type's folder.
    """
    parent = Path(directory)
    target = parent / imported.name
    if target.exists() and not replace:
        raise FileExistsError(f"{target} exists")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{imported.name}-", dir=parent))
    try:
        for file, data in imported.files.items():
            (staging / file).write_bytes(data)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{imported.name}-old-", dir=parent))
            target.rename(old / imported.name)
            staging.rename(target)
            shutil.rmtree(old)
        else:
            staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


# --- reading the schema ---------------------------------------------------------------------------


def _parse(value: Mapping[str, Any] | str | bytes, source: str) -> tuple[dict[str, Any], bytes]:
    """The JSON object ``value`` is or holds, and its bytes as given (an object: as JSON)."""
    if isinstance(value, Mapping):
        return copy.deepcopy(dict(value)), _dump(value)
    raw = value.encode("utf-8") if isinstance(value, str) else value
    try:
        parsed = _json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EntityTypeError(f"{source} is not JSON: {exc}", file=source) from None
    if not isinstance(parsed, dict):
        raise EntityTypeError(f"{source} is {_json.kind(parsed)}, not a schema (a JSON object)", file=source)
    return parsed, raw


def _definition(body: Mapping[str, Any], record: Mapping[str, Any], source: str) -> tuple[str, dict[str, Any]]:
    """The entity's name and definition: ``definitions`` under the schema's title (the record's
    name, DIVOC's way), or the one its properties refer to.
    """
    definitions = body.get("definitions")
    if not isinstance(definitions, dict) or not definitions:
        raise _error(source, "definitions", "is missing: a Sunbird RC schema defines its entity there")
    candidates = [body.get("title"), record.get("name")]
    properties = body.get("properties")
    if isinstance(properties, dict):
        candidates += [_ref_name(spec.get("$ref")) for spec in properties.values() if isinstance(spec, dict)]
    name = next((c for c in candidates if isinstance(c, str) and c in definitions), None)
    if name is None:
        raise _error(source, "title", f"names none of the definitions ({', '.join(sorted(definitions))})")
    if not _NAME.fullmatch(name):
        raise _error(
            source, f"definitions.{name}", "is not a name vccore takes (a letter, then letters, digits, _ or -)"
        )
    definition = definitions[name]
    if not isinstance(definition, dict):
        raise _error(source, f"definitions.{name}", "is not an object")
    return name, definition


def _ref_name(ref: Any) -> str | None:
    return ref.removeprefix("#/definitions/") if isinstance(ref, str) and ref.startswith("#/definitions/") else None


def _payload_schema(
    spec: Any, definitions: Mapping[str, Any], source: str, path: str, depth: int = 0
) -> dict[str, Any]:
    """``spec`` with its ``$ref`` inlined and every object closed (additionalProperties: false)."""
    where = f"definitions.{path}"
    if depth > 32:
        raise _error(source, where, "refers to itself (a $ref loop): vccore takes payloads of a fixed depth")
    if not isinstance(spec, dict):
        raise _error(source, where, "is not a schema (a JSON object)")
    if "$ref" in spec:
        name = _ref_name(spec["$ref"])
        if name is None or name not in definitions:
            raise _error(source, where, f"refers to {spec['$ref']}, which is not one of the definitions")
        rest = {k: v for k, v in spec.items() if k != "$ref"}
        return {**_payload_schema(definitions[name], definitions, source, path, depth + 1), **rest}
    out = {k: v for k, v in spec.items() if k not in ("$id", "$schema", "definitions", "$comment")}
    if "properties" in spec or spec.get("type") == "object":
        properties = spec.get("properties", {})
        if not isinstance(properties, dict):
            raise _error(source, f"{where}.properties", "is not an object")
        extra = spec.get("additionalProperties", False)
        if extra is not False:
            raise _error(
                source,
                f"{where}.additionalProperties",
                "lets a payload bring fields the schema does not name, which vccore would render unchecked: "
                "name them, and remove additionalProperties",
            )
        out["type"] = "object"
        out["properties"] = {
            key: _payload_schema(inner, definitions, source, f"{path}.{key}", depth + 1)
            for key, inner in properties.items()
        }
        out["additionalProperties"] = False
    if "items" in spec:
        out["items"] = _payload_schema(spec["items"], definitions, source, f"{path}[]", depth + 1)
    return out


def _divoc_fields(schema: dict[str, Any]) -> None:
    """What vccore makes of the fields DIVOC's vc-management-service adds to every schema."""
    properties = schema["properties"]
    required = [r for r in schema.get("required", []) if r not in ("issuer", "issuanceDate")]
    if required or "required" in schema:
        schema["required"] = required
    issuer = properties.get("issuer")
    if isinstance(issuer, dict) and issuer.get("type") == "string" and "format" not in issuer:
        issuer["format"] = "uri"  # DIVOC refuses an issuer that is not a URL (validation.service.js)
    for name in _DATE_TIMES:
        spec = properties.get(name)
        if isinstance(spec, dict) and spec.get("type") == "string" and "format" not in spec:
            spec["format"] = "date-time"
    certificate_id = properties.get("certificateId")
    if isinstance(certificate_id, dict) and not {"pattern", "format", "enum", "const"} & set(certificate_id):
        certificate_id["pattern"] = CERTIFICATE_ID_PATTERN


# --- the credential template --------------------------------------------------------------------


def _template_text(os_config: Mapping[str, Any], given: str | None, source: str, notes: list[str]) -> tuple[str, str]:
    """The Handlebars text of the credential template, its issuer made the signing key's
    controller, and the VC version it is (by its first context).
    """
    template: Any = given if given is not None else os_config.get("credentialTemplate")
    if template is None:
        raise _error(source, "_osConfig.credentialTemplate", "is missing: a schema without one makes no credential")
    if isinstance(template, str) and given is None and _URL.fullmatch(template.strip()):
        raise _error(
            source,
            "_osConfig.credentialTemplate",
            f"is a URL ({template.strip()}), and vccore fetches nothing: give the template's text "
            "(--credential-template FILE)",
        )
    if isinstance(template, str):
        try:
            parsed = _json.loads(template)
        except ValueError:
            parsed = None  # Handlebars blocks between JSON's tokens: kept as text
        if not isinstance(parsed, dict):
            text, count = _ISSUER_SLOT.subn(r'\1"{{$issuer}}"', template)
            if count:
                notes.append(_ISSUER_NOTE.format(was="the payload's issuer"))
            return text, "2.0" if f'"{CREDENTIALS_V2}"' in text.split("]", 1)[0] else "1.1"
        template = parsed
    if not isinstance(template, dict):
        raise _error(source, "_osConfig.credentialTemplate", "is neither an object, nor a template's text, nor a URL")
    template = copy.deepcopy(template)
    issuer = template.get("issuer")
    holder, key = (issuer, "id") if isinstance(issuer, dict) else (template, "issuer")
    was = holder.get(key)
    if was != "{{$issuer}}":
        holder[key] = "{{$issuer}}"
        shown = "the payload's issuer" if isinstance(was, str) and _PAYLOAD_ISSUER.fullmatch(was) else json.dumps(was)
        notes.append(_ISSUER_NOTE.format(was=shown))
    contexts = _json.one_or_many(template.get("@context"))
    version = "2.0" if contexts and contexts[0] == CREDENTIALS_V2 else "1.1"
    return json.dumps(template, indent=2, ensure_ascii=False) + "\n", version


_ISSUER_NOTE: Final = (
    "the credential's issuer is the signing key's controller, as for every vccore credential: the template's "
    'issuer ({was}) is now "{{{{$issuer}}}}"'
)


def _pins(text: str, given: Mapping[str, bytes], source: str) -> dict[str, bytes]:
    """The contexts to pin: each given one, checked to be a JSON object, after every URL of the
    template's ``@context`` that vccore does not bundle is found among them.
    """
    try:
        template = _json.loads(text)
    except ValueError:
        template = None  # a template with blocks: its contexts are checked when it loads
    bundled = bundled_contexts()
    for url in _json.one_or_many(template.get("@context")) if isinstance(template, dict) else ():
        if isinstance(url, str) and url not in bundled and url not in given:
            raise _error(
                source,
                "_osConfig.credentialTemplate.@context",
                f"names {url}, which vccore does not bundle and fetches never: give its file (--context {url}=FILE)",
            )
    for url, data in given.items():
        try:
            context = _json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EntityTypeError(f"the context given for {url} is not JSON: {exc}", file=url) from None
        if not isinstance(context, dict) or "@context" not in context:
            raise EntityTypeError(f"the context given for {url} is not a JSON-LD context (no @context)", file=url)
    return dict(given)


def _context_file(url: str, files: Mapping[str, bytes]) -> str:
    """A file name for a pinned context: the URL's last segment, made safe and unique."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1]).strip(".-")[:64] or "context"
    stem = stem.removesuffix(".jsonld").removesuffix(".json")
    file, number = f"{stem}.jsonld", 1
    while file in files:
        number += 1
        file = f"{stem}-{number}.jsonld"
    return file


# --- loading what was made ----------------------------------------------------------------------


def _load(manifest: dict[str, Any], files: dict[str, bytes], notes: list[str]) -> EntityType:
    """Load the type, settling what the checks find and the import may decide: fields the template
    never places are ignored (as DIVOC ignored them), and fields that share an RDF statement
    restrict the type to eddsa-jcs-2022.
    """
    for _ in range(3):
        files["entity.json"] = _dump(manifest)
        try:
            return EntityType.from_files(files, folder=manifest["name"])
        except EntityTypeError as exc:
            unused, shared = exc.details.get("unused"), exc.details.get("shared")
            if unused and not manifest.get("ignored"):
                manifest["ignored"] = list(unused)
                notes.append(
                    f"{_listed(unused)} never in the credential: a payload may still carry {_them(unused)}, as "
                    f"DIVOC's payloads do, and nothing of {_them(unused)} is signed"
                )
            elif shared and "suites" not in manifest:
                manifest["suites"] = ["eddsa-jcs-2022"]
                groups = "; ".join(", ".join(group) for group in shared)
                notes.append(
                    f"the contexts give one term to several fields ({groups}), so an RDF signature would not tell "
                    "their values apart: the type is signed with eddsa-jcs-2022 only, which signs the JSON"
                )
            else:
                raise
    return EntityType.from_files(files, folder=manifest["name"])


def _listed(names: list[str]) -> str:
    return f"field {names[0]} is" if len(names) == 1 else f"fields {', '.join(names)} are"


def _them(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"


def _error(source: str, field: str, message: str) -> EntityTypeError:
    return EntityTypeError(f"{source}: {field} {message}", file=source, field=field)


def _dump(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

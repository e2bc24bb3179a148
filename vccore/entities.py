"""Entity types as data: a folder per type, holding a JSON Schema, credential templates, contexts.

A folder (``templates/HealthProfessional/`` ships with vccore) holds ``entity.json`` (its keys,
the required and the optional: docs/entity-types.md), the JSON Schema of the flat payload, one
credential template per VC version (``"{{field}}"`` slots, and the built-ins ``$issuer`` and
``$now``: :mod:`vccore._templates`), and the contexts it pins.

Everything is checked when a type is loaded, so that a bad template fails once, at start-up: the
context digests, the schema, that every placeholder names a schema field or a built-in, that
every schema field is placed somewhere in every template, and that a credential rendered from
the schema's examples canonicalizes in safe mode (so every term is defined by a context).

Handlebars types. A type whose entity.json says ``"templateEngine": "handlebars"`` (what ``vccore
entities import`` makes of a Sunbird RC or DIVOC 3.x schema: :mod:`vccore.entity_import`) has
Handlebars credential templates (``"templates": {"1.1": "credential.hbs"}``), rendered by
:mod:`vccore.handlebars`'s structural renderer, in which a data value fills a string or a number
and never changes the JSON around it. Its payload may therefore be nested, objects and arrays, with
one rule kept from the flat types: every object of the schema says ``additionalProperties: false``,
so a field the schema does not name is refused, never rendered unvalidated. What the JSON
templates' slots prove by reading the template is proved for a Handlebars template by rendering
it, at load time: from the schema's examples (the credential canonicalizes in safe mode, its
issuer is the ``$issuer`` built-in, the key's controller, as in every vccore credential), and from
a probe payload whose every leaf is told apart (its ``@context`` and ``type`` do not depend on the
payload; each schema field reaches the credential, but those entity.json lists as ``ignored``;
no two fields share a statement in the RDF, unless the type is signed with eddsa-jcs-2022 only;
which ids hold payload values). ``templates`` then maps each version to the ``@context`` and
``type`` its credentials have (what readers look types up by), and the compiled fast path, which
needs a shape fixed by the template, is not used for these types (:attr:`EntityType.compilable`).
``certificateTemplates`` (template key -> URL of an HTML or SVG Handlebars page) and ``osConfig``
(the rest of Sunbird RC's ``_osConfig``: roles, index fields, ...) are kept as data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources.abc import Traversable
from io import BytesIO, TextIOWrapper
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final

from . import _datetime
from ._json import one_or_many
from ._resources import data_dir
from ._templates import (
    _SAMPLE_ISSUER,
    BUILT_INS,
    _check_handlebars_ids,
    _check_ids,
    _emptiable_groups,
    _fill,
    _handlebars_id_slots,
    _id_slots,
    _placed_fields,
    _probe_payload,
    _sample,
    _shared_in,
    _shared_statements,
)
from ._vocab import CREDENTIALS_V1, CREDENTIALS_V2, VCVersion
from .canon import canonicalize
from .contexts import ContextLoader, bundled_contexts
from .errors import EntityTypeError, PayloadError, PayloadProblem, TemplateError, VccoreError
from .payloads import quick_checker, schema_problem, schema_validator, validate_payload
from .suites import DEFAULT_SUITE

__all__ = [
    "EntityType",
    "EntityTypeError",
    "Field",
    "bundled_entity_types",
    "load_entity_types",
]

VC_VERSIONS: Final = ("2.0", "1.1")
SCALAR_TYPES: Final = frozenset({"string", "integer", "number", "boolean"})
JSON: Final = "json"
HANDLEBARS: Final = "handlebars"
TEMPLATE_ENGINES: Final = (JSON, HANDLEBARS)
_SAMPLE_NOW: Final = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


@dataclass(frozen=True, slots=True)
class Field:
    """A payload field, as the schema describes it."""

    name: str
    type: str
    required: bool
    format: str | None
    description: str


_PATH: Final = re.compile(r"[A-Za-z0-9_@$-]+(?:\.[A-Za-z0-9_@$-]+)*(?:\|[A-Za-z0-9_@$-]+(?:\.[A-Za-z0-9_@$-]+)*)*")


@dataclass(frozen=True, slots=True)
class CertificateSpec:
    """How a credential of the type prints (``certificate`` in entity.json): a title, the fields
    people read (a label, and a path into the credential: dotted keys, list indexes as numbers,
    alternatives after ``|`` for what VC 1.1 and 2.0 call differently), and optionally an HTML
    page of the type's own instead of the bundled ``templates/certificate.html``.
    """

    title: str
    fields: tuple[tuple[str, str], ...]
    page: str | None = field(default=None, repr=False)


def _certificate_spec(root: Traversable, manifest: Mapping[str, Any], name: str) -> CertificateSpec | None:
    spec = manifest.get("certificate")
    if spec is None:
        return None
    fields = spec.get("fields") if isinstance(spec, dict) else None
    if not (
        isinstance(spec, dict)
        and isinstance(spec.get("title"), str)
        and isinstance(fields, list)
        and all(isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f) for f in fields)
    ):
        raise EntityTypeError(
            f"{name}: entity.json certificate has a title and fields: [[label, path], ...]",
            entity=name,
            file="entity.json",
        )
    for label, path in fields:
        if not _PATH.fullmatch(path):
            raise EntityTypeError(
                f"{name}: certificate field {label!r} has a malformed path {path!r}", entity=name, file="entity.json"
            )
    page = None
    if "page" in spec:
        try:
            page = (root / _string(spec, "page", name)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EntityTypeError(
                f"{name}: cannot read the certificate page {spec['page']}: {exc}", entity=name, file=str(spec["page"])
            ) from None
    return CertificateSpec(spec["title"], tuple((label, path) for label, path in fields), page)


@dataclass(frozen=True, slots=True)
class EntityType:
    """A loaded, checked entity type. Build with :meth:`from_directory`."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(repr=False)
    templates: Mapping[VCVersion, Any] = field(repr=False)
    """VC version (:class:`vccore.VCVersion`: "2.0", "1.1") -> credential template (JSON)."""
    contexts: Mapping[str, bytes] = field(repr=False)
    """Context URL -> exact bytes, as pinned in entity.json."""
    defaults: Mapping[str, str]
    fields: tuple[Field, ...]
    example: Mapping[str, Any] | None = field(repr=False)
    suites: tuple[str, ...] | None
    """The only suites this type may be signed with, when entity.json restricts them."""
    # the schema's validator and its quick check (vccore.payloads), set by from_directory
    _validator: Any = field(default=None, init=False, repr=False, compare=False)
    _quick_check: Callable[[Mapping[str, Any]], bool] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _payload_id_slots: dict[str, list[tuple[str, str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # Loaders by base loader: each keeps pyld's processed contexts, which are what make signing
    # fast; a new loader per credential would process every context again.
    _loaders: dict[ContextLoader | None, ContextLoader] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    certificate: CertificateSpec | None = field(default=None, repr=False, compare=False)
    """How its credentials print (:mod:`vccore.render`), if the type says."""
    aliases: tuple[str, ...] = ()
    """Other names the type answers to in an API path (DIVOC 3.x tenants' schema names, such as
    the ``HealthProfessional_1`` of the seed's sample URL)."""
    warnings: tuple[str, ...] = ()
    """What loads but will hurt later, said at load time (``vccore entities`` lists them): a type
    without a ``certificateId`` field can be certified but never updated."""
    template_engine: str = JSON
    """How its credential templates are written: ``json`` (vccore's: whole-value ``{{field}}``
    slots, a flat payload) or ``handlebars`` (Sunbird RC's and DIVOC's, a payload that may nest)."""
    ignored: tuple[str, ...] = ()
    """Payload fields the schema takes and the credential does not say (entity.json ``ignored``):
    an imported DIVOC type's ``issuer``, whose place the signing key's controller takes."""
    certificate_templates: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Template key -> URL of a printable HTML or SVG Handlebars page (Sunbird RC's and DIVOC's
    ``certificateTemplates``), kept as data."""
    os_config: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The rest of an imported schema's ``_osConfig`` (roles, index fields, ...), kept as data."""
    # a Handlebars type's compiled templates, and the ids of its credentials that hold payload values
    _handlebars: dict[VCVersion, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _handlebars_ids: dict[VCVersion, dict[str, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], *, folder: str = "(in memory)") -> EntityType:
        """Load and check the entity type whose folder's files ``files`` holds (name -> bytes, as
        :func:`vccore.entity_import.import_schema` makes them), with nothing on disk: a server can
        make or change a type while it runs. ``folder`` names it in errors.
        """
        return cls.from_directory(_Files(folder, dict(files)))

    @classmethod
    def from_directory(cls, directory: Traversable | str | Path) -> EntityType:
        """Load and check the entity type in ``directory``; EntityTypeError names what is wrong."""
        return cls._load(directory, check_schema=True)

    @classmethod
    def _load(cls, directory: Traversable | str | Path, *, check_schema: bool) -> EntityType:
        """:meth:`from_directory`; ``check_schema`` False for the bundled types, whose schemas the
        test suite checks against JSON Schema's meta-schema (``tests/test_entities.py``): loading
        them then needs no jsonschema, whose import was 40 ms of every process's start.
        """
        root: Traversable = Path(directory) if isinstance(directory, (str, Path)) else directory
        manifest = _read_json(root, "entity.json", root.name)
        name = manifest.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", name):
            raise EntityTypeError(
                f"{root.name}/entity.json: name must be an identifier", entity=root.name, file="entity.json"
            )
        engine = manifest.get("templateEngine", JSON)
        if engine not in TEMPLATE_ENGINES:
            raise EntityTypeError(
                f"{name}: entity.json templateEngine is one of {', '.join(TEMPLATE_ENGINES)}, not {json.dumps(engine)}",
                entity=name,
                file="entity.json",
            )
        schema = _read_json(root, _string(manifest, "schema", name), name)
        problem = schema_problem(schema) if check_schema else None
        if problem is not None:
            raise EntityTypeError(
                f"{name}: the schema is not valid JSON Schema: {problem}", entity=name, file=manifest["schema"]
            )
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            raise EntityTypeError(
                f"{name}: the schema must describe a flat object with properties", entity=name, file=manifest["schema"]
            )
        if schema.get("additionalProperties") is not False:
            raise EntityTypeError(
                f"{name}: the schema must say additionalProperties: false (an unknown field must be refused, not dropped)",
                entity=name,
                file=manifest["schema"],
            )
        if engine == HANDLEBARS:
            for key, spec in schema["properties"].items():
                _check_nested(spec, key, name, manifest["schema"])
        for key, spec in schema["properties"].items() if engine == JSON else ():
            if not _scalar(spec):
                raise EntityTypeError(
                    f"{name}: field {key} must be a string, integer, number or boolean (or an enum of them): a payload "
                    "value fills one slot, it never brings structure of its own",
                    entity=name,
                    file=manifest["schema"],
                )
        suites = manifest.get("suites")
        if suites is not None and not (isinstance(suites, list) and all(isinstance(x, str) for x in suites)):
            raise EntityTypeError(f"{name}: entity.json suites lists suite names", entity=name, file="entity.json")
        aliases = manifest.get("aliases", [])
        if not (
            isinstance(aliases, list)
            and all(isinstance(a, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", a) for a in aliases)
        ):
            raise EntityTypeError(
                f"{name}: entity.json aliases lists other names (identifiers) of the type",
                entity=name,
                file="entity.json",
            )
        contexts = _read_contexts(root, manifest, name)
        templates_spec = manifest.get("templates")
        if not isinstance(templates_spec, dict) or not templates_spec or not set(templates_spec) <= set(VC_VERSIONS):
            raise EntityTypeError(
                f"{name}: entity.json templates maps VC versions {VC_VERSIONS} to files",
                entity=name,
                file="entity.json",
            )
        handlebars: dict[VCVersion, Any] = {}
        if engine == HANDLEBARS:
            handlebars = {VCVersion(v): _compile_handlebars(root, file, name) for v, file in templates_spec.items()}
            templates: dict[VCVersion, Any] = {}  # what each renders to, once checked (_check_handlebars)
        else:
            templates = {VCVersion(version): _read_json(root, file, name) for version, file in templates_spec.items()}
        defaults = manifest.get("defaults", {})
        if not isinstance(defaults, dict) or not all(v in BUILT_INS for v in defaults.values()):
            raise EntityTypeError(
                f"{name}: defaults map payload fields to built-ins {sorted(BUILT_INS)}", entity=name, file="entity.json"
            )
        required = set(schema.get("required", ()))
        fields = tuple(
            Field(
                key,
                str(spec.get("type", "any")) if isinstance(spec, dict) else "any",
                key in required,
                spec.get("format") if isinstance(spec, dict) else None,
                str(spec.get("description", "")) if isinstance(spec, dict) else "",
            )
            for key, spec in schema["properties"].items()
        )
        example = _read_json(root, manifest["example"], name) if "example" in manifest else None
        ignored = manifest.get("ignored", [])
        if not (isinstance(ignored, list) and all(isinstance(f, str) and f in schema["properties"] for f in ignored)):
            raise EntityTypeError(
                f"{name}: entity.json ignored lists fields of the schema", entity=name, file="entity.json"
            )
        certificate_templates = manifest.get("certificateTemplates", {})
        if not (
            isinstance(certificate_templates, dict) and all(isinstance(v, str) for v in certificate_templates.values())
        ):
            raise EntityTypeError(
                f"{name}: entity.json certificateTemplates maps template keys to URLs", entity=name, file="entity.json"
            )
        os_config = manifest.get("osConfig", {})
        if not isinstance(os_config, dict):
            raise EntityTypeError(f"{name}: entity.json osConfig is an object", entity=name, file="entity.json")
        entity = cls(
            name,
            str(manifest.get("description", "")),
            schema,
            templates,
            contexts,
            defaults,
            fields,
            example,
            tuple(suites) if suites is not None else None,
            certificate=_certificate_spec(root, manifest, name),
            aliases=tuple(aliases),
            warnings=_load_warnings(name, schema),
            template_engine=engine,
            ignored=tuple(ignored),
            certificate_templates=MappingProxyType(certificate_templates),
            os_config=MappingProxyType(os_config),
        )
        entity._handlebars.update(handlebars)
        object.__setattr__(entity, "_quick_check", quick_checker(schema))
        if example is not None:
            problems = entity.validate(example)
            if problems:
                raise EntityTypeError(
                    f"{name}: the example payload {manifest['example']} is invalid: {PayloadError(name, problems).message}",
                    entity=name,
                    file=manifest["example"],
                )
        for version, template in templates.items():
            entity._check_template(version, templates_spec[version], template)
        for version in handlebars:
            entity._check_handlebars(version, templates_spec[version])
        return entity

    # --- payloads -----------------------------------------------------------------------------

    def validate(self, payload: Any) -> list[PayloadProblem]:
        """Every problem with ``payload`` (empty when it is valid); defaults are not applied."""
        return validate_payload(
            payload, entity=self.name, validator=self._schema_validator, quick_check=self._quick_check
        )

    def _schema_validator(self) -> Any:
        """Jsonschema's validator of this type's schema, made when first asked for (the quick check
        answers for the valid payloads of a flat schema).
        """
        if self._validator is None:
            object.__setattr__(self, "_validator", schema_validator(self.schema))
        return self._validator

    def render(
        self,
        payload: Mapping[str, Any],
        *,
        issuer: str,
        now: datetime | None = None,
        vc_version: VCVersion | str | None = None,
    ) -> dict[str, Any]:
        """The unsigned credential for ``payload`` (``vc_version`` default: the type's own, see
        :meth:`default_vc_version`); PayloadError lists every problem.
        """
        return self.fill(self.values(payload, issuer=issuer, now=now), vc_version=vc_version)

    def values(self, payload: Mapping[str, Any], *, issuer: str, now: datetime | None = None) -> dict[str, Any]:
        """The slot values for ``payload``: validated (PayloadError lists every problem), with the
        defaults applied and the built-ins (``$issuer``, ``$now``) added.
        """
        moment = now if now is not None else _datetime.now()
        builtins = {"$issuer": issuer, "$now": _datetime.format(moment)}
        values = dict(payload) if isinstance(payload, Mapping) else payload
        if isinstance(values, dict):
            for key, builtin in self.defaults.items():
                values.setdefault(key, builtins[builtin])
        problems = self.validate(values)
        if problems:
            raise PayloadError(self.name, problems)
        values.update(builtins)
        return values

    def fill(self, values: Mapping[str, Any], *, vc_version: VCVersion | str | None = None) -> dict[str, Any]:
        """The template of ``vc_version`` (default: the type's own) filled with slot ``values``
        (as :meth:`values` gives).
        """
        version = VCVersion(vc_version) if vc_version is not None else self.default_vc_version()
        template = self._handlebars.get(version) if self._handlebars else self.templates.get(version)
        if template is None:
            have = self._handlebars or self.templates
            raise EntityTypeError(
                f"{self.name} has no VC {version} template (it has {', '.join(sorted(have))})",
                entity=self.name,
                vc_version=version,
            )
        # a Handlebars template: its structural renderer keeps every value inside its slot
        rendered = template.render_json(values) if self._handlebars else _fill(template, values)
        if not isinstance(rendered, dict):
            raise EntityTypeError(f"{self.name}: a credential template renders a JSON object", entity=self.name)
        self.check_ids(rendered, values, vc_version=version)
        return rendered

    def check_ids(
        self, rendered: Mapping[str, Any], values: Mapping[str, Any], *, vc_version: VCVersion | str | None = None
    ) -> None:
        """PayloadError when a payload value in an ``id`` slot of the template is also the id of
        another part of ``rendered`` (two nodes would merge): what :meth:`fill` checks, for a
        credential built another way (:meth:`vccore._compiled.CompiledCredentials.render`).
        """
        if vc_version is None:
            vc_version = self.default_vc_version()
        if self._handlebars:
            _check_handlebars_ids(rendered, self.name, self._handlebars_ids.get(VCVersion(vc_version), {}))
            return
        slots = self._payload_id_slots.get(vc_version)
        if slots is None:
            version = VCVersion(vc_version)
            slots = self._payload_id_slots[version] = [
                (p, n) for p, n in _id_slots(self.templates[version]) if not n.startswith("$")
            ]
        if slots:
            _check_ids(rendered, self.name, values, slots)

    def emptiable_groups(self, vc_version: VCVersion | str) -> list[frozenset[str]]:
        """Groups of fields that, all absent, leave an object of the template empty (so it goes).
        EntityTypeError for a Handlebars type: its blocks, not absent fields, decide what goes.
        """
        if not self.compilable:
            raise EntityTypeError(f"{self.name}: a Handlebars template has no fixed shape to compile", entity=self.name)
        return _emptiable_groups(self.templates[VCVersion(vc_version)])

    @property
    def compilable(self) -> bool:
        """Whether the compiled fast path (:mod:`vccore._compiled`) can build this type's
        credentials: a JSON template's shape is fixed by the template, a Handlebars template's by
        its blocks and the payload.
        """
        return self.template_engine == JSON

    def default_vc_version(self) -> VCVersion:
        """The VC version this type is issued in unless one is asked for: 2.0 when it has a 2.0
        template, else the first it has.
        """
        versions = self._handlebars or self.templates
        if VCVersion.V2_0 in versions:
            return VCVersion.V2_0
        return next(iter(versions))

    def default_suite(self) -> str:
        """The suite this type is signed with unless one is asked for: the first of the suites
        it is restricted to (entity.json ``suites``), else eddsa-rdfc-2022.
        """
        return self.suites[0] if self.suites else DEFAULT_SUITE

    def context_loader(self, base: ContextLoader | None = None) -> ContextLoader:
        """``base`` (default: the bundled contexts) plus this type's pinned contexts (one loader
        per base, reused).
        """
        loader = self._loaders.get(base)
        if loader is None:
            loader = self._loaders[base] = (base if base is not None else bundled_contexts()).with_contexts(
                self.contexts
            )
        return loader

    def sample_payload(self, *, required_only: bool = False) -> dict[str, Any]:
        """A valid payload built from the schema's examples (or made-up values)."""
        out: dict[str, Any] = {}
        for spec_field in self.fields:
            if required_only and not spec_field.required:
                continue
            spec = self.schema["properties"][spec_field.name]
            out[spec_field.name] = _sample(spec, required_only=required_only)
        return out

    # --- checks --------------------------------------------------------------------------------

    def _samples(self, version: str, fail: Callable[..., EntityTypeError]) -> Iterator[dict[str, Any]]:
        """The credentials of the schema's own examples (all fields, then the required ones)."""
        for required_only in (False, True):
            try:
                yield self.render(
                    self.sample_payload(required_only=required_only),
                    issuer=_SAMPLE_ISSUER,
                    now=_SAMPLE_NOW,
                    vc_version=version,
                )
            except PayloadError as exc:
                raise fail(f"the schema's own examples do not validate: {exc.message}") from None
            except TemplateError as exc:
                raise fail(f"{exc.code}: {exc.message}", **_template_details(exc)) from None

    def _check_template(self, version: str, file: str, template: Any) -> None:
        def fail(message: str, **details: Any) -> EntityTypeError:
            return EntityTypeError(f"{self.name}/{file}: {message}", entity=self.name, file=file, **details)

        if not isinstance(template, dict):
            raise fail("a credential template is a JSON object")
        context = template.get("@context")
        context_list = one_or_many(context)
        expected_first = CREDENTIALS_V2 if version == "2.0" else CREDENTIALS_V1
        if not context_list or context_list[0] != expected_first:
            raise fail(f"a VC {version} template's @context starts with {expected_first}")
        used = _placed_fields(template, self.schema["properties"], fail)
        unused = [f.name for f in self.fields if f.name not in used and f.name not in self.ignored]
        if unused:
            raise fail(f"schema fields {', '.join(unused)} are never placed: they would be validated but not signed")
        loader = self.context_loader()
        for credential in self._samples(version, fail):
            try:
                canonicalize(credential, contexts=loader)
            except VccoreError as exc:
                raise fail(
                    f"a credential rendered from the schema's examples does not canonicalize: {exc.message}",
                    reason=exc.code,
                ) from None
        shared = _shared_statements(template, {f.name: self.schema["properties"][f.name] for f in self.fields}, loader)
        if shared and not (self.suites and all(suite == "eddsa-jcs-2022" for suite in self.suites)):
            raise fail(
                f"fields {'; '.join(' and '.join(group) for group in shared)} land on one subject and predicate in the "
                "RDF, so swapping their values would not change what an RDF suite signs; give each its own term, "
                'or restrict the type to JSON signatures ("suites": ["eddsa-jcs-2022"] in entity.json)',
                shared=[list(group) for group in shared],
            )

    def _check_handlebars(self, version: VCVersion, file: str) -> None:
        """What :meth:`_check_template` proves of a JSON template, proved of a Handlebars one by
        rendering it (the schema's examples, then a probe payload whose every leaf differs).
        """

        def fail(message: str, **details: Any) -> EntityTypeError:
            return EntityTypeError(f"{self.name}/{file}: {message}", entity=self.name, file=file, **details)

        loader = self.context_loader()
        expected_first = CREDENTIALS_V2 if version == "2.0" else CREDENTIALS_V1
        outline: dict[str, Any] | None = None
        for credential in self._samples(version, fail):
            context_list = one_or_many(credential.get("@context"))
            if not context_list or context_list[0] != expected_first:
                raise fail(f"a VC {version} template's @context starts with {expected_first}")
            issuer = credential.get("issuer")
            if (issuer.get("id") if isinstance(issuer, dict) else issuer) != _SAMPLE_ISSUER:
                raise fail(
                    'the credential\'s issuer is the signing key\'s controller: write "issuer": "{{$issuer}}" '
                    '(or an issuer object whose "id" is "{{$issuer}}")'
                )
            try:
                canonicalize(credential, contexts=loader)
            except VccoreError as exc:
                raise fail(
                    f"a credential rendered from the schema's examples does not canonicalize: {exc.message}",
                    reason=exc.code,
                ) from None
            outline = outline or {"@context": credential["@context"], "type": credential.get("type")}
        assert outline is not None
        probe, leaves = _probe_payload(self.schema)
        builtins = {"$issuer": _SAMPLE_ISSUER, "$now": "2000-01-01T00:00:00Z"}
        template = self._handlebars[version]
        try:
            probed = template.render_json({**probe, **builtins})
            without = {
                f.name: template.render_json({**{k: v for k, v in probe.items() if k != f.name}, **builtins})
                for f in self.fields
            }
        except TemplateError as exc:
            raise fail(f"{exc.code}: {exc.message}", **_template_details(exc)) from None
        if not isinstance(probed, dict) or {"@context": probed.get("@context"), "type": probed.get("type")} != outline:
            raise fail("the credential's @context and type must not depend on the payload")
        unused = [f.name for f in self.fields if without[f.name] == probed and f.name not in self.ignored]
        if unused:
            raise fail(
                f"schema fields {', '.join(unused)} never reach the credential: they would be validated but not "
                'signed (list them in entity.json "ignored" if the payload may carry them for nothing)',
                unused=unused,
            )
        shared = _shared_in(probed, leaves, loader)
        if shared and not (self.suites and all(suite == "eddsa-jcs-2022" for suite in self.suites)):
            raise fail(
                f"fields {'; '.join(' and '.join(group) for group in shared)} land on one subject and predicate in the "
                "RDF, so swapping their values would not change what an RDF suite signs; give each its own term, "
                'or restrict the type to JSON signatures ("suites": ["eddsa-jcs-2022"] in entity.json)',
                shared=[list(group) for group in shared],
            )
        self._handlebars_ids[version] = _handlebars_id_slots(probed, leaves)
        self.templates[version] = MappingProxyType(outline)  # type: ignore[index]


def load_entity_types(*directories: Traversable | str | Path, bundled: bool = True) -> dict[str, EntityType]:
    """Entity types from the bundled ``templates/`` (unless ``bundled=False``) and from each folder
    in ``directories``: a folder holding ``entity.json``, or a folder of such folders.
    EntityTypeError names a folder that does not exist or holds no entity type, and both folders
    of a type defined twice.
    """
    roots: list[tuple[Traversable, bool]] = [(data_dir("templates"), False)] if bundled else []
    roots += [(Path(d) if isinstance(d, (str, Path)) else d, True) for d in directories]
    found: dict[str, EntityType] = {}
    where: dict[str, Traversable] = {}
    bundled_folders: list[Traversable] = []
    for root, given in roots:
        folders = _type_folders(root, empty_ok=not given)
        bundled_folders += [] if given else folders
        for folder in folders:
            if any(_same(seen, folder) for seen in where.values()):
                continue  # the same folder given twice (or the bundled one again): one type, loaded once
            entity = EntityType._load(folder, check_schema=given)  # the bundled ones: see _load
            if entity.name in found:
                first = where[entity.name]
                raise EntityTypeError(
                    f"entity type {entity.name} is defined twice, in {first}"
                    f"{' (bundled with vccore)' if first in bundled_folders else ''} and in {folder}: "
                    "remove one of the folders, or rename the type in its entity.json",
                    entity=entity.name,
                    file=str(folder),
                    other=str(first),
                )
            found[entity.name] = entity
            where[entity.name] = folder
    return found


_TEMPLATES_FOLDER: Final = "a templates folder holds entity.json (one entity type) or folders that each hold one"


def _type_folders(root: Traversable, *, empty_ok: bool = False) -> list[Traversable]:
    """The type folders in ``root``: itself when it holds entity.json, else its sub-folders that do."""
    if (root / "entity.json").is_file():
        return [root]
    if not root.is_dir():
        why = "is a file, not a folder" if root.is_file() else "does not exist"
        raise EntityTypeError(f"{root} {why}: {_TEMPLATES_FOLDER}", file=str(root))
    folders = sorted((c for c in root.iterdir() if (c / "entity.json").is_file()), key=lambda c: c.name)
    if not folders and not empty_ok:
        raise EntityTypeError(f"{root} holds no entity type: {_TEMPLATES_FOLDER}", file=str(root))
    return folders


def _same(a: Traversable, b: Traversable) -> bool:
    return a.resolve() == b.resolve() if isinstance(a, Path) and isinstance(b, Path) else a == b


@cache
def bundled_entity_types() -> Mapping[str, EntityType]:
    """The entity types that ship with vccore, loaded and checked on first use."""
    return MappingProxyType(load_entity_types())


# --- helpers ------------------------------------------------------------------------------------


def _read_json(root: Traversable, name: str, entity: str) -> Any:
    try:
        return json.loads((root / name).read_bytes())
    except (OSError, ValueError) as exc:
        raise EntityTypeError(f"{entity}: cannot read {name}: {exc}", entity=entity, file=name) from None


def _load_warnings(name: str, schema: Mapping[str, Any]) -> tuple[str, ...]:
    if "certificateId" in schema["properties"]:
        return ()
    return (  # said, not refused: a type may be issued and never updated
        f"{name} has no certificateId field: its certificates can be certified but never updated (an update names "
        "the certificate it replaces by the payload's certificateId); add a string field certificateId to its "
        'schema and place "{{certificateId}}" in each template',
    )


def _string(manifest: Mapping[str, Any], key: str, entity: str) -> str:
    value = manifest.get(key)
    if not isinstance(value, str):
        raise EntityTypeError(f"{entity}: entity.json needs {key} (a file name)", entity=entity, file="entity.json")
    return value


def _read_contexts(root: Traversable, manifest: Mapping[str, Any], entity: str) -> dict[str, bytes]:
    contexts: dict[str, bytes] = {}
    for spec in manifest.get("contexts", ()):
        if not isinstance(spec, dict) or not all(isinstance(spec.get(k), str) for k in ("url", "file", "sha256")):
            raise EntityTypeError(
                f"{entity}: each context in entity.json has url, file and sha256", entity=entity, file="entity.json"
            )
        try:
            data = (root / spec["file"]).read_bytes()
        except OSError as exc:
            raise EntityTypeError(
                f"{entity}: cannot read {spec['file']}: {exc}", entity=entity, file=spec["file"]
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != spec["sha256"]:
            raise EntityTypeError(
                f"{entity}: {spec['file']} has sha256 {actual}, entity.json pins {spec['sha256']}",
                entity=entity,
                file=spec["file"],
                url=spec["url"],
            )
        contexts[spec["url"]] = data
    return contexts


def _scalar(spec: Any) -> bool:
    """A string, integer, number or boolean, or an enum of them."""
    kinds = spec.get("type") if isinstance(spec, dict) else None
    enum = spec.get("enum") if isinstance(spec, dict) else None
    return kinds in SCALAR_TYPES or bool(
        isinstance(enum, list) and enum and all(isinstance(v, (str, int, float, bool)) for v in enum)
    )


def _check_nested(spec: Any, path: str, entity: str, file: str) -> None:
    """A Handlebars type's field: a scalar, an object whose fields are such and which refuses any
    other (``additionalProperties: false``), or an array of such items.
    """
    if _scalar(spec):
        return
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "object" and isinstance(spec.get("properties"), dict):
        if spec.get("additionalProperties") is not False:
            raise EntityTypeError(
                f"{entity}: object {path} must say additionalProperties: false (an unknown field must be refused, "
                "not rendered)",
                entity=entity,
                file=file,
                field=path,
            )
        for key, inner in spec["properties"].items():
            _check_nested(inner, f"{path}.{key}", entity, file)
        return
    if kind == "array" and isinstance(spec.get("items"), dict):
        _check_nested(spec["items"], f"{path}[]", entity, file)
        return
    raise EntityTypeError(
        f"{entity}: field {path} must be a string, integer, number or boolean (or an enum of them), an object with "
        "properties, or an array with items of one of these",
        entity=entity,
        file=file,
        field=path,
    )


def _compile_handlebars(root: Traversable, name: str, entity: str) -> Any:
    """The Handlebars template in file ``name``; EntityTypeError naming the file and where it
    does not parse.
    """
    from .handlebars import compile as compile_handlebars  # only Handlebars types need it

    try:
        source = (root / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EntityTypeError(f"{entity}: cannot read {name}: {exc}", entity=entity, file=name) from None
    try:
        return compile_handlebars(source)
    except TemplateError as exc:
        raise EntityTypeError(
            f"{entity}/{name}: {exc.code}: {exc.message}", entity=entity, file=name, **_template_details(exc)
        ) from None


def _template_details(exc: TemplateError) -> dict[str, Any]:
    """A TemplateError's details (where in the template), for the EntityTypeError that names its file."""
    return {**{k: v for k, v in exc.details.items() if k not in ("entity", "file")}, "reason": exc.code}


class _Files(Traversable):
    """A type's folder held in memory: file name -> bytes (names may hold ``/``: sub-folders)."""

    def __init__(self, name: str, files: dict[str, bytes], prefix: str = "") -> None:
        self._name, self._files, self._prefix = name, files, prefix

    @property
    def name(self) -> str:
        """The file's or folder's own name."""
        return self._name

    def read_bytes(self) -> bytes:
        """The file's bytes."""
        with self.open("rb") as file:
            data: bytes = file.read()
        return data

    def read_text(self, encoding: str | None = None) -> str:
        """The file's text."""
        with self.open("r", encoding=encoding) as file:
            text: str = file.read()
        return text

    def __repr__(self) -> str:
        return f"{self._name}"

    def iterdir(self) -> Any:
        """The files and folders in this folder."""
        seen = set()
        for key in self._files:
            if key.startswith(self._prefix) and key != self._prefix:
                head = key[len(self._prefix) :].split("/", 1)[0]
                if head not in seen:
                    seen.add(head)
                    yield self.joinpath(head)

    def is_dir(self) -> bool:
        """Whether a file's name starts with this folder's."""
        return self._prefix == "" or any(key.startswith(self._prefix) for key in self._files)

    def is_file(self) -> bool:
        """Whether it is one of the files."""
        return self._prefix.rstrip("/") in self._files and not self._prefix.endswith("/")

    def joinpath(self, *descendants: str) -> _Files:  # type: ignore[override]
        """The file or folder at ``descendants`` below this one."""
        path = self._prefix + "/".join(str(d) for d in descendants)
        return _Files(path.rsplit("/", 1)[-1], self._files, path if path in self._files else path + "/")

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> IO[Any]:
        """The file's bytes (``rb``) or text (``r``); FileNotFoundError for a file that is not there."""
        data = self._files.get(self._prefix)
        if data is None:
            raise FileNotFoundError(f"{self._prefix or self._name}: no such file")
        if "b" in mode:
            return BytesIO(data)
        return TextIOWrapper(BytesIO(data), *args, **kwargs)

"""``vccore entities``: the entity types and their fields; ``vccore entities import``: a Sunbird RC or DIVOC schema as one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UnusableInputError
from ._common import EXIT_OK, _add_context_option, _add_templates_option, _cannot_write, _entity_types, _read_bytes


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``entities`` and ``entities import``."""
    entities_cmd = commands.add_parser("entities", help="list the entity types and their fields")
    entities_cmd.add_argument("--json", action="store_true", help="print JSON")
    _add_templates_option(entities_cmd)
    entities_cmd.set_defaults(run=_entities)
    below = entities_cmd.add_subparsers(title="commands", metavar="COMMAND")
    import_cmd = below.add_parser(
        "import",
        help="make an entity type of a Sunbird RC or DIVOC 3.x schema",
        description="Make an entity type folder of a Sunbird RC or DIVOC 3.x entity schema (the schema, or the "
        "registry's Schema record holding it): its payload schema, its Handlebars credential template, its pinned "
        "contexts. Nothing is fetched: give each context the template names that vccore does not bundle with "
        "--context URL=FILE, and a template the schema names by URL with --credential-template FILE.",
    )
    import_cmd.add_argument("schema", type=Path, metavar="SCHEMA.json", help="the schema")
    import_cmd.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the templates folder: the type goes in DIR/NAME"
    )
    _add_context_option(import_cmd)  # here: a context the template names, written into the type's folder
    import_cmd.add_argument(
        "--credential-template", type=Path, metavar="FILE", help="the credential template, when the schema names a URL"
    )
    import_cmd.add_argument("--replace", action="store_true", help="replace the type's folder if it is there")
    import_cmd.set_defaults(run=_import)


def _entities(args: argparse.Namespace) -> int:
    entity_types = _entity_types(args.templates)
    if args.json:
        listing = {
            name: {
                "description": e.description,
                "vcVersions": sorted(e.templates),
                "contexts": sorted(e.contexts),
                "suites": list(e.suites) if e.suites else None,
                "certificate": e.certificate is not None,
                "warnings": list(e.warnings),
                "fields": [
                    {
                        "name": f.name,
                        "type": f.type,
                        "required": f.required,
                        "format": f.format,
                        "description": f.description,
                    }
                    for f in e.fields
                ],
            }
            for name, e in sorted(entity_types.items())
        }
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return EXIT_OK
    for name, entity in sorted(entity_types.items()):
        suites = f"; suites {', '.join(entity.suites)}" if entity.suites else ""
        print(f"{name}: {entity.description} (VC {', '.join(sorted(entity.templates, reverse=True))}{suites})")
        for f in entity.fields:
            kind = f.type + (f", {f.format}" if f.format else "")
            print(f"  {f.name:<28} {kind:<20} {'required' if f.required else 'optional':<9} {f.description}")
        for warning in entity.warnings:
            print(f"  warning: {warning}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    schema = _read_bytes(args.schema)
    contexts: dict[str, bytes] = {}
    for pin in args.context:
        url, sep, file = pin.partition("=")
        if not sep or not url or not file:
            raise UnusableInputError(f"--context takes URL=FILE, not {pin!r}")
        contexts[url] = _read_bytes(Path(file))
    template = None
    if args.credential_template is not None:
        try:
            template = _read_bytes(args.credential_template).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnusableInputError(f"--credential-template: {args.credential_template} is not UTF-8: {exc}") from None
    from ..entity_import import import_schema, write_type  # (3 ms that no other command needs)

    imported = import_schema(schema, contexts=contexts, credential_template=template, source=str(args.schema))
    target = args.out / imported.name
    if target.exists() and not args.replace:
        raise UnusableInputError(
            f"cannot write {target}: it is there already: give --replace to replace it, or another --out"
        )
    try:
        written = write_type(imported, args.out, replace=args.replace)
    except OSError as exc:
        raise UnusableInputError(_cannot_write(target, exc)) from None
    for note in imported.notes:
        print(f"vccore: note: {note}", file=sys.stderr)
    for warning in imported.entity_type.warnings:
        print(f"vccore: warning: {warning}", file=sys.stderr)
    print(f"vccore: wrote {written} (entity type {imported.name}; --templates {args.out})", file=sys.stderr)
    return EXIT_OK

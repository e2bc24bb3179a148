"""``vccore entities``: the entity types and their fields."""

from __future__ import annotations

import argparse
import json

from ._common import EXIT_OK, _add_templates_option, _entity_types


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``entities``."""
    entities_cmd = commands.add_parser("entities", help="list the entity types and their fields")
    entities_cmd.add_argument("--json", action="store_true", help="print JSON")
    _add_templates_option(entities_cmd)
    entities_cmd.set_defaults(run=_entities)


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

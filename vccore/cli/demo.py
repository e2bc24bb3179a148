"""``vccore demo``: the HealthProfessional example issued in both VC versions and verified."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import _datetime
from ..entities import bundled_entity_types
from ..issuer import issue
from ..verify import Verifier
from ._common import EXIT_OK, EXIT_REFUSED
from ._home import _home_key


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``demo``."""
    demo = commands.add_parser("demo", help="issue the HealthProfessional example payload and verify it")
    demo.add_argument("--home", type=Path, default=Path(".vccore-demo"), help="working folder (default .vccore-demo)")
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    home: Path = args.home
    key = _home_key(home)
    entity = bundled_entity_types()["HealthProfessional"]
    payload = entity.example
    assert payload is not None
    print(f"issuer   {key.controller} (key {home / 'key.json'})")
    print("payload  templates/HealthProfessional/example-payload.json (the seed's Update Certificate sample)\n")
    # The seed payload's validity ended on its validTill; verify as of its validFrom, then today.
    valid_from = _datetime.parse(payload["validFrom"])
    verifier = Verifier.create()
    status = EXIT_OK
    for vc_version, suite in (("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")):
        credential = issue(entity, payload, signer=key, vc_version=vc_version, suite=suite)
        out = home / f"HealthProfessional-vc{vc_version}-{suite}.json"
        out.write_text(json.dumps(credential, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"--- {out}")
        print(json.dumps(credential, indent=2, ensure_ascii=False))
        for moment, label in ((valid_from, f"as of {payload['validFrom']} (validFrom)"), (None, "today")):
            result = verifier.verify(credential, now=moment)
            verdict = (
                "verified"
                if result.verified
                else "not verified: " + "; ".join(f"{p.code} ({p.detail})" for p in result.problems)
            )
            print(f"VC {vc_version} + {suite}, {label}: {verdict}")
            if moment is not None and not result.verified:
                status = EXIT_REFUSED
        print()
    return status

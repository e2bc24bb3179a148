"""``vccore demo``: the seed's HealthProfessional payload, valid from today, issued in both VC
versions, written as JSON, a QR code and a printable page, each verified, then what to try next.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import _datetime, qr
from ..entities import bundled_entity_types
from ..errors import QRError
from ..issuer import issue
from ..verify import Verifier
from ._common import EXIT_OK, EXIT_REFUSED
from ._home import _home_key


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``demo``."""
    demo = commands.add_parser(
        "demo",
        help="issue the HealthProfessional example payload, valid from today, and verify it",
        description="Issue the seed's HealthProfessional payload (its validity moved to today) as VC 2.0 and "
        "VC 1.1, write each as JSON, a QR code and a printable page, verify them, and say what to try next.",
    )
    demo.add_argument("--home", type=Path, default=Path(".vccore-demo"), help="working folder (default .vccore-demo)")
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    home: Path = args.home
    key = _home_key(home)
    entity = bundled_entity_types()["HealthProfessional"]
    assert entity.example is not None
    now = _datetime.now().replace(microsecond=0)
    payload = _valid_from(entity.example, now)
    payload_file = home / "payload.json"
    _write(payload_file, payload)
    print(f"issuer   {key.controller} (key {home / 'key.json'})")
    print(
        f"payload  {payload_file}: the seed's Update Certificate sample "
        f"(templates/HealthProfessional/example-payload.json), valid from now for a year "
        f"(the sample's own validTill, {entity.example['validTill']}, has passed)\n"
    )
    verifier = Verifier.create()
    made: list[tuple[Path, str]] = [(home / "key.json", f"the issuer's Ed25519 key ({key.controller})")]
    made.append((payload_file, "the payload, as a source system would send it"))
    status = EXIT_OK
    for vc_version, suite, name in (
        ("2.0", "eddsa-rdfc-2022", "credential.json"),
        ("1.1", "Ed25519Signature2020", "credential-vc1.1.json"),
    ):
        credential = issue(entity, payload, signer=key, vc_version=vc_version, suite=suite, now=now)
        out = home / name
        _write(out, credential)
        if vc_version == "2.0":
            print(f"--- {out}")
            print(json.dumps(credential, indent=2, ensure_ascii=False))
            print()
        result = verifier.verify(credential)
        verdict = _verdict(result.verified, result.problems)
        status = status if result.verified else EXIT_REFUSED
        made.append((out, f"VC {vc_version}, {suite}: {verdict}"))
    credential = json.loads((home / "credential.json").read_text(encoding="utf-8"))
    symbol = qr.make(credential)
    png = home / "credential.png"
    symbol.save(png)
    made.append((png, f"its QR code (version {symbol.version}, ECC {symbol.ecc}): {_read_back(png, verifier)}"))
    from .. import render  # (with the PDF module behind it: 6 ms that no other command needs)

    page = render.render(credential, home / "credential.html")
    made.append((page, "a printable A4 certificate with the QR code (open it in a browser)"))
    width = max(len(str(path)) for path, _ in made)
    print("made:")
    for path, what in made:
        print(f"  {path!s:<{width}}  {what}")
    print(_next_steps(home, payload_file))
    return status


def _valid_from(example: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The sample payload with its dates moved: issued now, valid for a year."""
    until = now + timedelta(days=365)
    stamp, end = _datetime.format(now), _datetime.format(until)
    moved = {"validFrom": stamp, "issuanceDate": stamp, "validTill": end}
    moved |= {"issuedOn": now.date().isoformat(), "registrationExpiry": until.date().isoformat()}
    return {name: moved.get(name, value) for name, value in example.items()}


def _verdict(verified: bool, problems: Any) -> str:
    if verified:
        return "verified"
    return "NOT verified: " + "; ".join(f"{p.code} ({p.detail})" for p in problems)


def _read_back(png: Path, verifier: Verifier) -> str:
    """The QR code read back from the PNG by a real decoder, and verified."""
    try:
        text = qr.read_image(png)
    except QRError as exc:  # without the images extra (pip install 'vccore[images]')
        return f"not read back ({exc.message})"
    result = verifier.verify(json.loads(qr.decode_text(text).text))
    return "read back and " + _verdict(result.verified, result.problems)


def _next_steps(home: Path, payload_file: Path) -> str:
    steps = [
        (f"vccore verify {shlex.quote(str(home))}/credential.png", "the credential read from its QR code, verified"),
        (
            f"vccore certify HealthProfessional {shlex.quote(str(payload_file))} -o cert.json",
            "issued and recorded in a store (.vccore/): then revoke, suspend, update",
        ),
        ("vccore entities", "the entity types and the fields of their payloads"),
        ("vccore serve", "DIVOC's certification API and the W3C VC API over HTTP"),
    ]
    width = max(len(command) for command, _ in steps)
    lines = ["", "try next" + _activate_hint() + ":"]
    lines += [f"  {command:<{width}}  # {what}" for command, what in steps]
    lines.append("the quickstart in README.md goes on from here; every command: vccore --help and docs/cli.md")
    return "\n".join(lines)


def _activate_hint() -> str:
    """How to put ``vccore`` on PATH, when it runs from a venv that is not active."""
    in_venv = sys.prefix != sys.base_prefix
    if not in_venv or os.environ.get("VIRTUAL_ENV") == sys.prefix:
        return ""
    folder = Path(sys.prefix)
    shown = folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
    return f" (first put vccore on your PATH: . {shlex.quote(str(shown))}/bin/activate)"


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

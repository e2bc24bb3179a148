"""Status list publishing: an issuer's status positions as signed status list credentials, and their export to a folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import _datetime
from ..contexts import ContextLoader
from ..keys import Signer
from ..proofs import sign
from ..suites import Suite
from .bitstring import STATE_LIST, STATE_SIZE, Bitstring, list_url, status_list_credential

__all__ = ["list_set_credentials", "state_lists", "write_status_lists"]


def list_set_credentials(
    rows: Iterable[tuple[int, str, str | None]],
    list_number: int,
    *,
    base_url: str,
    list_size: int,
    issuer: str,
    signer: Signer,
    suite: str | Suite,
    contexts: ContextLoader | None,
    now: datetime,
    valid_for: timedelta,
) -> dict[str, dict[str, Any]]:
    """The three status list credentials (revocation, suspension, message) of list set
    ``list_number``, from its rows as a store gives them (index, state, suspended until), each
    ``list_size`` entries, signed at ``now`` and valid for ``valid_for``: URL -> credential. A
    suspension whose end has passed at ``now`` is left out.
    """
    out: dict[str, dict[str, Any]] = {}
    revoked: dict[int, int] = {}
    superseded: dict[int, int] = {}
    suspended: dict[int, int] = {}
    ends: dict[int, str] = {}
    for index, state, until in rows:
        if state in ("REVOKED", "SUPERSEDED"):
            revoked[index] = 1
            if state == "SUPERSEDED":
                superseded[index] = 1
        elif state == "SUSPENDED" and (until is None or _datetime.parse(until) > now):
            suspended[index] = 1
            if until is not None:
                ends[index] = until
    lists = {
        "revocation": (revoked, None),
        "suspension": (suspended, ends),
        "message": (superseded, None),
    }
    for purpose, (values, suspensions) in lists.items():
        url = list_url(base_url, list_number, purpose)
        unsigned = status_list_credential(
            url,
            issuer=issuer,
            purpose=purpose,
            bits=Bitstring.zeros(list_size).with_values(values),
            valid_from=_datetime.format(now),
            valid_until=_datetime.format(now + valid_for),
            suspensions=suspensions,
        )
        out[url] = sign(unsigned, signer, suite=suite, created=now, contexts=contexts)
    return out


def state_lists(
    lists: Mapping[str, Mapping[str, Any]],
    *,
    issuer: str,
    signer: Signer,
    suite: str | Suite,
    contexts: ContextLoader | None,
    now: datetime,
    valid_for: timedelta,
) -> dict[str, dict[str, Any]]:
    """The state lists (``<base><set>/state``, see :mod:`vccore.status.bitstring`) of the list sets
    in ``lists`` (URL -> credential, as :func:`list_set_credentials` made them), signed at ``now``
    and valid for ``valid_for``: URL -> credential. Each is read off its set's three lists, so it
    says what they say, as of when they were made: revoked (``0x2``) or superseded (``0x3``) where
    the revocation bit is set, suspended (``0x1``) where only the suspension bit is, with the
    suspension list's end dates. A set that has a state list already, or lacks one of the three,
    is passed over.
    """
    out: dict[str, dict[str, Any]] = {}
    for url, revocation in lists.items():
        if not url.endswith("/revocation"):
            continue
        base = url[: -len("revocation")]
        suspension, message = lists.get(base + "suspension"), lists.get(base + "message")
        if suspension is None or message is None or base + STATE_LIST in lists:
            continue
        revoked, suspended, superseded = (
            Bitstring.decode(one["credentialSubject"]["encodedList"]) for one in (revocation, suspension, message)
        )
        if not revoked.length == suspended.length == superseded.length:
            raise ValueError(f"the lists of {base} are not of one length")
        values = dict.fromkeys(suspended.set_indices(), 1)
        values.update(dict.fromkeys(revoked.set_indices(), 2))
        values.update(dict.fromkeys((i for i in superseded.set_indices() if values.get(i) == 2), 3))
        ends = {
            int(item["statusListIndex"]): item["suspendedUntil"]
            for item in suspension["credentialSubject"].get("suspensions", ())
            if values.get(int(item["statusListIndex"])) == 1
        }
        state_url = base + STATE_LIST
        unsigned = status_list_credential(
            state_url,
            issuer=issuer,
            purpose="message",
            bits=Bitstring.zeros(revoked.length * STATE_SIZE).with_values(values, STATE_SIZE),
            valid_from=_datetime.format(now),
            valid_until=_datetime.format(now + valid_for),
            suspensions=ends,
        )
        out[state_url] = sign(unsigned, signer, suite=suite, created=now, contexts=contexts)
    return out


def write_status_lists(
    directory: str | Path,
    credentials: Mapping[str, Mapping[str, Any]],
    base_url: str,
    earlier_urls: Sequence[str] = (),
) -> list[Path]:
    """Write status list credentials (URL -> credential, each URL under ``base_url`` or under one
    of ``earlier_urls``, the URLs a store published under before it moved), and an
    ``index.json`` (URL -> file), for verifiers. A list under ``base_url`` is the file
    ``<set>-<purpose>.json``; one under an earlier URL has that URL's host and path before it
    (``status.example-old-0-revocation.json``), so that each list keeps its own file.

    Each file is written whole and renamed into place, ``index.json`` last, so that a verifier
    reading the folder meanwhile sees the old export or the new one, never a mix of halves.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    prefixes = {url: _file_prefix(url) for url in earlier_urls if url != base_url}
    prefixes[base_url] = ""
    bases = sorted(prefixes, key=len, reverse=True)  # the longest first: one URL may lie under another
    written: list[Path] = []
    index: dict[str, str] = {}
    for url, credential in credentials.items():
        base = next((b for b in bases if url.startswith(b)), None)
        if base is None:
            raise ValueError(f"the status list {url} is under none of {', '.join(bases)}")
        name = prefixes[base] + url[len(base) :].replace("/", "-") + ".json"
        if name in index.values():  # two URLs read alike once their slashes are dashes
            name = f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}"
        written.append(_write_atomically(target / name, json.dumps(credential, indent=2) + "\n"))
        index[url] = name
    _write_atomically(target / "index.json", json.dumps(index, indent=2) + "\n")
    return written


def _file_prefix(url: str) -> str:
    """A file name's start for the lists under ``url``: its host and path, as letters, digits and dashes."""
    rest = url.split("://", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._]+", "-", rest).strip("-.") + "-"


def _write_atomically(path: Path, text: str) -> Path:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path

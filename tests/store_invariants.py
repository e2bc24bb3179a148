"""What must hold of a store whatever happened to it: one checker, run after every concurrency
and crash test, on SQLite and on PostgreSQL.

:func:`check_store` reads the store's tables past vccore (``conftest.raw_rows``), and the status
lists vccore exports, and fails with every broken rule it finds:

- transactionIds and status positions are unique;
- links hold both ways: a record that replaces another is that one's ``replaced_by``, and the
  one replaced is SUPERSEDED; every SUPERSEDED record names its successor;
- each chain of updates has exactly one current certificate (the last, not SUPERSEDED);
- every idempotency key names a certificate in the store, and no certificate has two keys;
- the exported lists say what the records say: a revocation bit for REVOKED and SUPERSEDED, a
  suspension bit for a suspension in force, a message bit for SUPERSEDED, 0 everywhere else;
- what the test saw answered: every certify answered (certificateId -> transactionId) is in the
  store with that transactionId; every request refused (transactionIds) is recorded as a
  failure; every request answered 503 (transactionIds) left nothing behind.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from conftest import raw_rows

from vccore import Ed25519Key, _datetime
from vccore.issuer import Issuer
from vccore.store import open_store

_COLUMNS = "certificate_id, transaction_id, status_list, status_index, state, replaces, replaced_by, suspended_until"


def check_store(
    location: str,
    *,
    signer: Ed25519Key,
    now: datetime,
    answered: Mapping[str, str] | None = None,
    refused: Iterable[str] = (),
    unavailable: Iterable[str] = (),
) -> int:
    """Check ``location``'s store (see the module); the number of records it holds."""
    rows = raw_rows(location, f"SELECT {_COLUMNS} FROM certificates")
    problems: list[str] = []
    by_id = {row[0]: row for row in rows}
    _unique(problems, "transactionId", [row[1] for row in rows])
    _unique(problems, "status position", [(row[2], row[3]) for row in rows])
    for certificate_id, _, _, _, state, replaces, replaced_by, _ in rows:
        if replaces is not None:
            old = by_id.get(replaces)
            if old is None or old[6] != certificate_id or old[4] != "SUPERSEDED":
                problems.append(f"{certificate_id} replaces {replaces}, which does not say so: {old}")
        if replaced_by is not None:
            new = by_id.get(replaced_by)
            if new is None or new[5] != certificate_id:
                problems.append(f"{certificate_id} is replaced by {replaced_by}, which does not say so: {new}")
        if (state == "SUPERSEDED") != (replaced_by is not None):
            problems.append(f"{certificate_id} is {state} and replaced by {replaced_by}")
    for root in (row[0] for row in rows if row[5] is None):
        chain, current = [root], by_id[root]
        while current[6] is not None and current[6] in by_id and len(chain) <= len(rows):
            current = by_id[current[6]]
            chain.append(current[0])
        live = [c for c in chain if by_id[c][4] != "SUPERSEDED"]
        if live != [chain[-1]]:
            problems.append(f"the chain {chain} has current certificates {live}")
    keys = raw_rows(location, "SELECT key, certificate_id FROM issue_keys")
    _unique(problems, "certificate with a key", [certificate_id for _, certificate_id in keys])
    problems += [f"key {key} names {c}, not in the store" for key, c in keys if c not in by_id]
    problems += _lists_disagree(location, rows, signer, now)
    by_transaction = {row[1]: row[0] for row in rows}
    for certificate_id, transaction_id in (answered or {}).items():
        if by_transaction.get(transaction_id) != certificate_id:
            problems.append(f"answered {certificate_id} (transaction {transaction_id}) is not in the store")
    failures = {row[0] for row in raw_rows(location, "SELECT transaction_id FROM failed_transactions")}
    problems += [f"refused transaction {t} is not recorded" for t in refused if t not in failures]
    problems += [
        f"transaction {t} answered 503 but left {by_transaction.get(t) or 'a failure record'} behind"
        for t in unavailable
        if t in by_transaction or t in failures
    ]
    assert not problems, f"{len(problems)} broken rules in {location}:\n" + "\n".join(problems[:20])
    return len(rows)


def _unique(problems: list[str], what: str, values: list[Any]) -> None:
    seen: set[Any] = set()
    problems += [f"{what} {value} twice" for value in values if value in seen or seen.add(value)]


def _lists_disagree(location: str, rows: list[tuple[Any, ...]], signer: Ed25519Key, now: datetime) -> list[str]:
    """The exported lists' bits against the records' states (bits read here, not by vccore)."""
    store = open_store(location)
    try:
        exported = Issuer(signer=signer, store=store).status_list_credentials(now=now)
    finally:
        store.close()
    wanted: dict[tuple[int, str], set[int]] = {}
    for _, _, status_list, index, state, _, _, until in rows:
        purposes = {
            "REVOKED": ["revocation"],
            "SUPERSEDED": ["revocation", "message"],
            "SUSPENDED": ["suspension"] if until is None or _datetime.parse(until) > now else [],
        }.get(state, [])
        for purpose in purposes:
            wanted.setdefault((status_list, purpose), set()).add(index)
    problems = []
    found: dict[tuple[int, str], set[int]] = {}
    for url, credential in exported.items():
        list_set, purpose = url.rstrip("/").split("/")[-2:]
        if purpose not in ("revocation", "suspension", "message"):
            continue
        encoded = credential["credentialSubject"]["encodedList"]
        bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
        found[(int(list_set), purpose)] = {
            i * 8 + b for i, byte in enumerate(bits) if byte for b in range(8) if byte & (0x80 >> b)
        }
    problems += [
        f"list {where}: records say {sorted(wanted.get(where, ()))[:10]}, list says {sorted(found.get(where, ()))[:10]}"
        for where in set(wanted) | set(found)
        if wanted.get(where, set()) != found.get(where, set())
    ]
    missing = {status_list for status_list, _ in wanted} - {status_list for status_list, _ in found}
    problems += [f"list set {m} holds records but is not exported" for m in missing]
    return problems

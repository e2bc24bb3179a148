"""One store, many processes: concurrent issuing, and updates killed at random moments, on
SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import raw_rows
from store_invariants import check_store

from vccore import Ed25519Key, bundled_entity_types
from vccore.issuer import Issuer
from vccore.store import open_store

HP = bundled_entity_types()["HealthProfessional"]
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2024, 1, 1, tzinfo=UTC)
BASE = "https://issuer.example/status/"

# Processes killed at random moments and racing on one store: minutes, not seconds (make test-fast leaves them out).
pytestmark = pytest.mark.slow


def _certify_many(task: tuple[str, int, int]) -> list[str]:
    """In a spawned process: ``count`` certificates, half with a given certificateId, half with
    a generated one, one transaction each."""
    location, worker, count = task
    issuer = Issuer(signer=KEY, store=open_store(location))
    assert HP.example is not None
    ids = []
    for i in range(count):
        payload = {**HP.example, "name": f"Worker {worker} number {i}"}
        if i % 2:
            payload["certificateId"] = f"w{worker}-{i:05d}"
        else:
            payload.pop("certificateId", None)
        ids.append(issuer.certify(HP, payload, now=NOW).certificate_id)
    return ids


def _kind(location: str) -> str:
    return "postgresql" if "://" in location else "sqlite"


def _rows(location: str) -> list[tuple[Any, ...]]:
    return raw_rows(
        location, "SELECT certificate_id, status_list, status_index, state, replaces, replaced_by FROM certificates"
    )


def test_four_processes_issue_into_one_store(store_location: str) -> None:
    open_store(store_location, status_url=BASE)
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        issued = pool.map(_certify_many, [(store_location, worker, 2000) for worker in range(4)])
    ids = [i for batch in issued for i in batch]
    rows = _rows(store_location)
    print(
        f"\n{_kind(store_location)}: 4 processes x 2,000 certify in {time.monotonic() - started:.1f} s; {len(rows)} records"
    )
    assert len(ids) == len(set(ids)) == 8000
    assert {row[0] for row in rows} == set(ids) and len(rows) == 8000  # none lost, none extra
    positions = {(row[1], row[2]) for row in rows}
    assert len(positions) == 8000  # no status index given twice
    store = open_store(store_location)
    for certificate_id in ids[::97]:
        record = store.get(certificate_id)
        assert record is not None
        entry = record.credential["credentialStatus"][0]
        assert entry["statusListIndex"] == str(record.status_index)  # the credential says what the record says
    assert check_store(store_location, signer=KEY, now=NOW) == 8000


def _kill_after(argv: list[str], wanted: int, delay: float) -> tuple[list[str], bool]:
    """Run ``argv``; once it has written ``wanted`` lines, wait ``delay`` seconds and SIGKILL it.
    Returns the whole lines it wrote out (a line cut short by the kill was not written out) and
    whether it was killed (it may have finished first)."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    started = time.monotonic()
    while len(lines) < wanted and time.monotonic() - started < 60:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
    time.sleep(delay)
    killed = process.poll() is None
    if killed:
        process.send_signal(signal.SIGKILL)
    rest, _ = process.communicate(timeout=60)
    return [line for line in [*lines, *rest.splitlines(keepends=True)] if line.endswith("\n")], killed


_UPDATER = """
import sys
from datetime import UTC, datetime
from vccore import Ed25519Key, bundled_entity_types
from vccore.issuer import Issuer
from vccore.store import open_store

hp = bundled_entity_types()["HealthProfessional"]
issuer = Issuer(signer=Ed25519Key.from_seed(bytes(range(32))), store=open_store(sys.argv[1]))
round_ = int(sys.argv[2])
for certificate_id in sys.argv[3:]:
    new = issuer.update(hp, {**hp.example, "certificateId": certificate_id, "name": f"Round {round_}"}, now=datetime(2024, 1, 1, tzinfo=UTC))
    print(certificate_id, new.certificate_id, flush=True)  # written out: it must be in the store
"""


def test_updates_killed_at_random_moments_are_all_or_nothing(store_location: str) -> None:
    """20 runs of a process updating certificates one after another, each killed (SIGKILL) at a
    random moment: every update it reported is in the store, linked both ways; every update is
    whole or absent; no status index is used twice."""
    issuer = Issuer(signer=KEY, store=open_store(store_location, status_url=BASE))
    assert HP.example is not None
    current = [
        issuer.certify(HP, {**HP.example, "certificateId": f"c{i:03d}"}, now=NOW).certificate_id for i in range(40)
    ]
    chance = random.Random(8)
    reported: list[tuple[str, str]] = []
    kills = 0
    for trial in range(20):
        # somewhere inside the update after the first 1 to 11 written out
        lines, killed = _kill_after(
            [sys.executable, "-c", _UPDATER, store_location, str(trial), *current],
            chance.randrange(1, 12),
            chance.uniform(0, 0.03),
        )
        kills += killed
        for line in lines:
            old, new = line.split()
            reported.append((old, new))
        rows = {row[0]: row for row in _rows(store_location)}
        # every update reported is there, linked both ways
        for old, new in reported:
            assert rows[old][3] == "SUPERSEDED" and rows[old][5] == new and rows[new][4] == old
        # every update is whole: a link one way is a link the other way
        for certificate_id, row in rows.items():
            if row[5] is not None:
                assert rows[row[5]][4] == certificate_id and row[3] == "SUPERSEDED"
            if row[4] is not None:
                assert rows[row[4]][5] == certificate_id
        assert len({(row[1], row[2]) for row in rows.values()}) == len(rows)
        # the next run updates what is current now
        current = [certificate_id for certificate_id, row in rows.items() if row[5] is None][:40]
        check_store(store_location, signer=KEY, now=NOW)
    print(
        f"\n{_kind(store_location)}: {kills} of 20 update runs killed; {len(reported)} updates written out, {len(rows)} records"
    )
    assert kills >= 15 and len(reported) >= 40


_BATCHER = """
import sys
from datetime import UTC, datetime
from vccore import Ed25519Key, bundled_entity_types
from vccore.issuer import Certified, Issuer
from vccore.store import open_store

hp = bundled_entity_types()["HealthProfessional"]
issuer = Issuer(signer=Ed25519Key.from_seed(bytes(range(32))), store=open_store(sys.argv[1]))
payload = {k: v for k, v in hp.example.items() if k != "certificateId"}
for round_ in range(1000):
    keys = [f"{round_}:{i}" for i in range(40)]
    results = issuer.certify_batch(hp, [payload] * 40, keys=keys, now=datetime(2024, 1, 1, tzinfo=UTC))
    lines = []
    for key, result in zip(keys, results):
        assert isinstance(result, Certified), result
        entry = result.credential["credentialStatus"][0]
        lines.append(f"{key} {result.certificate_id} {entry['statusListCredential']} {entry['statusListIndex']}\\n")
    sys.stdout.write("".join(lines))  # written out: each must be in the store
    sys.stdout.flush()
"""


def test_batches_killed_at_random_moments_lose_nothing_and_issue_nothing_twice(store_location: str) -> None:
    """20 runs of a process issuing batches of 40 with idempotency keys (the same keys each run,
    so a run first gets back what the runs before it made), each killed (SIGKILL) at a random
    moment: every credential written out has its record at the position it names; a key never
    makes a second certificate; no position is given twice."""
    open_store(store_location, status_url=BASE)
    chance = random.Random(20)
    made: dict[str, tuple[str, int, int]] = {}  # key -> (certificateId, list, index), from every run
    kills = 0
    for _ in range(20):
        # somewhere inside a batch past what earlier runs made
        lines, killed = _kill_after(
            [sys.executable, "-c", _BATCHER, store_location],
            chance.randrange(1, 8) * 40 + len(made),
            chance.uniform(0, 0.05),
        )
        kills += killed
        for line in lines:
            key, certificate_id, url, index = line.split()
            written = (certificate_id, int(url.rsplit("/", 2)[1]), int(index))
            assert made.setdefault(key, written) == written, f"{key} made two certificates"
        rows = {row[0]: row for row in _rows(store_location)}
        keys = dict(raw_rows(store_location, "SELECT key, certificate_id FROM issue_keys"))
        for key, (certificate_id, list_number, index) in made.items():
            assert keys[key] == certificate_id and rows[certificate_id][1:3] == (list_number, index)
        assert len(keys) == len(rows) == len(set(keys.values()))  # every record made by exactly one key
        assert len({row[1:3] for row in rows.values()}) == len(rows)
        check_store(store_location, signer=KEY, now=NOW)
    print(
        f"\n{_kind(store_location)}: {kills} of 20 batch runs killed; {len(made)} credentials written out, {len(rows)} records"
    )
    assert kills >= 15 and len(made) >= 400, (kills, len(made))

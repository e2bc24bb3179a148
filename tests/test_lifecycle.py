"""Certify, update, revoke, suspend; the store; status lists a verifier checks offline (issue #4)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import raw_rows

from vccore import Ed25519Key, Verifier, bundled_entity_types
from vccore.issuer import Issuer
from vccore.store import LIST_SIZE, LifecycleError, SQLiteStore, open_store, permute

HP = bundled_entity_types()["HealthProfessional"]
assert HP.example is not None
PAYLOAD = {k: v for k, v in HP.example.items() if k != "certificateId"}
KEY = Ed25519Key.from_seed(bytes(range(32)))
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BASE = "https://issuer.example/status/"


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


@pytest.fixture
def issuer(store_location: str) -> Issuer:
    """An issuer on a new store: every test that takes it runs on SQLite and on PostgreSQL."""
    return Issuer(signer=KEY, store=open_store(store_location, status_url=BASE))


def statuses(
    issuer: Issuer, chain_of: str, when: datetime, folder: Path, *, export_at: datetime | None = None
) -> list[str]:
    """What a verifier holding only the exported files says of every credential of the chain."""
    issuer.export_status(folder, now=export_at or when)
    verifier = Verifier.create(status=folder)
    return [verifier.verify(record.credential, now=when).status for record in issuer.fetch(chain_of)]


def test_create_update_update_revoke(issuer: Issuer, tmp_path: Path) -> None:
    first = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    assert len(first.certificate_id) == 12 and first.certificate_id.isdigit()
    assert first.credential["evidence"]["certificateId"] == first.certificate_id
    assert statuses(issuer, first.certificate_id, day(0), tmp_path / "s0") == ["VALID"]

    second = issuer.update("HealthProfessional", {**PAYLOAD, "certificateId": first.certificate_id}, now=day(1))
    assert second.replaces == first.certificate_id and second.credential["replaces"] == first.certificate_id
    assert second.certificate_id != first.certificate_id
    assert statuses(issuer, first.certificate_id, day(1), tmp_path / "s1") == ["SUPERSEDED", "VALID"]

    third = issuer.update("HealthProfessional", {**PAYLOAD, "certificateId": second.certificate_id}, now=day(2))
    assert statuses(issuer, third.certificate_id, day(2), tmp_path / "s2") == ["SUPERSEDED", "SUPERSEDED", "VALID"]

    issuer.revoke(third.certificate_id, "registration cancelled", now=day(3))
    assert statuses(issuer, second.certificate_id, day(3), tmp_path / "s3") == ["SUPERSEDED", "SUPERSEDED", "REVOKED"]

    # the chain both ways, by certificate or transaction id
    ids = [r.certificate_id for r in issuer.fetch(first.transaction_id)]
    assert ids == [first.certificate_id, second.certificate_id, third.certificate_id]
    chain = issuer.fetch(third.certificate_id)
    assert [r.replaced_by for r in chain] == [second.certificate_id, third.certificate_id, None]
    assert chain[-1].reason == "registration cancelled"

    # with the store at hand, the verifier names the successor
    verifier = Verifier.create(status=tmp_path / "s3", store=issuer.store)
    problem = verifier.verify(first.credential, now=day(3)).problems[0]
    assert (problem.code, problem.data["successor"]) == ("SUPERSEDED", second.certificate_id)


def test_suspend_unsuspend_and_lapse(issuer: Issuer, tmp_path: Path) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0)).certificate_id
    issuer.suspend(cert, now=day(1))
    assert statuses(issuer, cert, day(1), tmp_path / "a") == ["SUSPENDED"]
    issuer.unsuspend(cert, now=day(2))
    assert statuses(issuer, cert, day(2), tmp_path / "b") == ["VALID"]

    issuer.suspend(cert, until=day(10), now=day(3))
    # exported while the suspension holds: the file carries its end, and the verifier's clock decides
    assert statuses(issuer, cert, day(4), tmp_path / "c") == ["SUSPENDED"]
    verifier = Verifier.create(status=tmp_path / "c")
    result = verifier.verify(issuer.fetch(cert)[0].credential, now=day(4))
    assert result.problems[0].data["until"] == "2024-01-11T00:00:00Z"
    assert verifier.verify(issuer.fetch(cert)[0].credential, now=day(11)).status == "VALID"
    # exported after the end: the bit is clear
    assert statuses(issuer, cert, day(11), tmp_path / "d") == ["VALID"]
    assert issuer.fetch(cert)[0].effective_state(day(11)) == "VALID"


@pytest.mark.parametrize(
    ("steps", "action", "state"),
    [
        (["revoke"], "revoke", "REVOKED"),
        (["revoke"], "suspend", "REVOKED"),
        (["revoke"], "update", "REVOKED"),
        ([], "unsuspend", "VALID"),
        (["update"], "revoke", "SUPERSEDED"),
        (["update"], "update", "SUPERSEDED"),
        (["update"], "suspend", "SUPERSEDED"),
    ],
)
def test_impossible_transitions(issuer: Issuer, steps: list[str], action: str, state: str) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0)).certificate_id

    def do(name: str) -> Any:
        if name == "revoke":
            return issuer.revoke(cert, now=day(1))
        if name == "suspend":
            return issuer.suspend(cert, now=day(1))
        if name == "unsuspend":
            return issuer.unsuspend(cert, now=day(1))
        return issuer.update("HealthProfessional", {**PAYLOAD, "certificateId": cert}, now=day(1))

    for step in steps:
        do(step)
    with pytest.raises(LifecycleError) as caught:
        do(action)
    assert caught.value.code == "INVALID_TRANSITION" and caught.value.details["state"] == state


def test_unknown_and_duplicate_certificates(issuer: Issuer) -> None:
    with pytest.raises(LifecycleError) as caught:
        issuer.revoke("000000000000")
    assert caught.value.code == "UNKNOWN_CERTIFICATE"
    with pytest.raises(LifecycleError) as caught:
        issuer.update("HealthProfessional", {**PAYLOAD, "certificateId": "999"})
    assert caught.value.code == "UNKNOWN_CERTIFICATE"
    given = issuer.certify("HealthProfessional", {**PAYLOAD, "certificateId": "614894628867"})
    assert given.certificate_id == "614894628867"
    with pytest.raises(LifecycleError) as caught:
        issuer.certify("HealthProfessional", {**PAYLOAD, "certificateId": "614894628867"})
    assert caught.value.code == "DUPLICATE_CERTIFICATE_ID"
    with pytest.raises(LifecycleError):
        issuer.suspend(given.certificate_id, until=T0 - timedelta(days=1), now=T0)


def _dump(location: str) -> list[tuple[Any, ...]]:
    """Every record, idempotency key and setting of a store, read past vccore."""
    return [
        *raw_rows(location, "SELECT * FROM certificates ORDER BY certificate_id"),
        *raw_rows(location, "SELECT * FROM issue_keys ORDER BY key"),
        *raw_rows(location, "SELECT * FROM meta ORDER BY key"),
    ]


class _Failing:
    """A signer that fails: a KMS outage in the middle of an update."""

    id = KEY.id
    algorithm = "Ed25519"
    controller = KEY.controller

    def sign(self, data: bytes) -> bytes:
        raise RuntimeError("KMS unavailable")


@pytest.mark.parametrize("where", ["signing", "storing the new record", "marking the old one"])
def test_a_failed_update_changes_nothing(
    issuer: Issuer, store_location: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    old = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    before = _dump(store_location)
    failing = issuer
    with issuer.store.transaction() as tx:
        transaction_class = type(tx)
    if where == "signing":
        failing = Issuer(signer=_Failing(), store=issuer.store)
    elif where == "storing the new record":
        monkeypatch.setattr(
            transaction_class, "insert", lambda self, record: (_ for _ in ()).throw(OSError("disk I/O error"))
        )
    else:
        monkeypatch.setattr(
            transaction_class, "save", lambda self, record: (_ for _ in ()).throw(OSError("disk I/O error"))
        )
    with pytest.raises((RuntimeError, OSError)):
        failing.update("HealthProfessional", {**PAYLOAD, "certificateId": old.certificate_id}, now=day(1))
    monkeypatch.undo()
    assert _dump(store_location) == before
    assert issuer.fetch(old.certificate_id)[-1].state == "VALID"
    assert statuses(issuer, old.certificate_id, day(1), tmp_path / "s") == ["VALID"]


def test_exported_lists_verify_and_tampering_is_reported(issuer: Issuer, tmp_path: Path) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    issuer.revoke(cert.certificate_id, now=day(1))
    folder = tmp_path / "status"
    issuer.export_status(folder, now=day(1))
    index = json.loads((folder / "index.json").read_text())
    assert sorted(index) == [f"{BASE}0/{p}" for p in ("message", "revocation", "state", "suspension")]
    for name in index.values():
        list_credential = json.loads((folder / name).read_text())
        assert Verifier.create().verify(list_credential, now=day(1)).verified

    def status_with(change: Any) -> Any:
        lists = {url: json.loads((folder / name).read_text()) for url, name in index.items()}
        change(lists)
        return Verifier.create(status=lists).verify(cert.credential, now=day(1))

    # clearing the revocation bit breaks the list's signature
    from vccore.status import Bitstring

    cleared = Bitstring.zeros(LIST_SIZE).encode()
    result = status_with(lambda lists: lists[f"{BASE}0/revocation"]["credentialSubject"].update(encodedList=cleared))
    assert not result.verified and "STATUS_VERIFICATION_ERROR" in result.codes
    result = status_with(lambda lists: lists.pop(f"{BASE}0/message"))
    assert not result.verified and "STATUS_RETRIEVAL_ERROR" in result.codes
    other = Ed25519Key.from_seed(bytes(range(5, 37)))
    foreign_issuer = Issuer(signer=other, store=SQLiteStore(tmp_path / "other2.db", status_url=BASE))
    foreign_issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    foreign = foreign_issuer.status_list_credentials(now=day(1))
    result = Verifier.create(status=foreign).verify(cert.credential, now=day(1))
    assert not result.verified and "STATUS_VERIFICATION_ERROR" in result.codes
    assert any("not by the credential's issuer" in p.detail for p in result.problems)
    # without a resolver the status is not checked, and the result says so
    unchecked = Verifier.create().verify(cert.credential, now=day(1))
    assert unchecked.verified and [w.code for w in unchecked.warnings] == ["STATUS_NOT_CHECKED"]


def test_a_short_list_is_refused(issuer: Issuer, tmp_path: Path) -> None:
    from vccore import sign
    from vccore.status import Bitstring, status_list_credential

    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    lists = issuer.status_list_credentials(now=day(0))
    url = f"{BASE}0/revocation"
    short = status_list_credential(
        url, issuer=KEY.controller, purpose="revocation", bits=Bitstring.zeros(1024), valid_from="2024-01-01T00:00:00Z"
    )
    lists[url] = sign(short, KEY, created=day(0))
    result = Verifier.create(status=lists).verify(cert.credential, now=day(0))
    assert "STATUS_LIST_LENGTH_ERROR" in result.codes


def test_positions_are_unique_across_lists(store_location: str) -> None:
    store = open_store(store_location, status_url=BASE)
    positions = set()
    with store.transaction() as tx:
        for _ in range(LIST_SIZE + 20_000):  # more than one list set
            positions.add(tx.allocate_status_position())
    assert len(positions) == LIST_SIZE + 20_000
    assert {p[0] for p in positions} == {0, 1}
    assert all(0 <= index < LIST_SIZE for _, index in positions)
    assert store.list_sets() == [0, 1]
    # positions keep being new after reopening the store
    again = open_store(store_location)
    with again.transaction() as tx:
        assert tx.allocate_status_position() not in positions


def test_the_position_permutation_is_fixed() -> None:
    # Stores depend on it: a changed permutation would hand out positions already taken.
    secret = bytes(range(32))
    assert [permute(n, secret) for n in (0, 1, 2, 1000, LIST_SIZE - 1)] == [3354, 102054, 10657, 56418, 106000]


def test_positions_in_bulk_are_the_positions_one_by_one(tmp_path: Path) -> None:
    one, bulk = SQLiteStore(tmp_path / "one.db"), SQLiteStore(tmp_path / "bulk.db")
    for store in (one, bulk):
        with store.transaction() as tx:
            tx.allocate_status_position()  # makes list set 0
    secret = sqlite3.connect(tmp_path / "one.db").execute("SELECT secret FROM status_lists").fetchone()[0]
    for path in ("one.db", "bulk.db"):  # the same secret, and nearly full, so that a batch spills over
        with sqlite3.connect(tmp_path / path) as connection:
            connection.execute("UPDATE status_lists SET next = ?, secret = ?", (LIST_SIZE - 3, secret))
    with one.transaction() as tx:
        singles = [tx.allocate_status_position() for _ in range(7)]
    with bulk.transaction() as tx:
        together = tx.allocate_status_positions(7)
    assert [p[0] for p in together] == [0, 0, 0, 1, 1, 1, 1]
    assert together[:3] == singles[:3] == [(0, permute(n, secret)) for n in range(LIST_SIZE - 3, LIST_SIZE)]
    assert len(set(together)) == 7 and bulk.list_sets() == [0, 1]


def test_issued_positions_are_unique(issuer: Issuer) -> None:
    issued = [issuer.certify("HealthProfessional", PAYLOAD, now=day(0)) for _ in range(200)]
    entries = {
        (
            c.credential["credentialStatus"][0]["statusListCredential"],
            c.credential["credentialStatus"][0]["statusListIndex"],
        )
        for c in issued
    }
    assert len(entries) == 200
    assert len({c.certificate_id for c in issued}) == 200


def test_the_status_url_of_a_store_is_fixed(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "s.db", status_url="https://a.example/status/")
    with pytest.raises(LifecycleError):
        SQLiteStore(tmp_path / "s.db", status_url="https://b.example/status/")
    assert SQLiteStore(tmp_path / "s.db").status_url == "https://a.example/status/"


def test_vc11_credentials_carry_status_too(tmp_path: Path) -> None:
    issuer = Issuer(
        signer=KEY,
        store=SQLiteStore(tmp_path / "v.db", status_url=BASE),
        vc_version="1.1",
        suite="Ed25519Signature2020",
    )
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    assert "https://www.w3.org/ns/credentials/status/v1" in cert.credential["@context"]
    issuer.revoke(cert.certificate_id, now=day(1))
    assert statuses(issuer, cert.certificate_id, day(1), tmp_path / "s") == ["REVOKED"]


# --- review findings: what a verifier must not be fooled by -------------------------------------


def _lists(issuer: Issuer, when: datetime) -> dict[str, Any]:
    return dict(issuer.status_list_credentials(now=when))


def test_a_stale_export_is_refused_once_it_expires(issuer: Issuer) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    before = _lists(issuer, day(0))  # valid for 7 days
    issuer.revoke(cert.certificate_id, now=day(1))
    verifier = Verifier.create(status=before)
    assert verifier.verify(cert.credential, now=day(2)).status == "VALID"  # the window a stale copy has
    late = verifier.verify(cert.credential, now=day(8))
    assert "STATUS_VERIFICATION_ERROR" in late.codes and any("expired" in p.detail for p in late.problems)
    assert Verifier.create(status=_lists(issuer, day(8))).verify(cert.credential, now=day(8)).status == "REVOKED"


def test_a_list_for_another_url_is_refused(issuer: Issuer, tmp_path: Path) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    issuer.revoke(cert.certificate_id, now=day(0))
    twin = Issuer(signer=KEY, store=SQLiteStore(tmp_path / "twin.db", status_url="https://issuer.example/other/"))
    twin.certify("HealthProfessional", PAYLOAD, now=day(0))
    theirs = _lists(twin, day(0))
    swapped = {url.replace("/other/", "/status/"): credential for url, credential in theirs.items()}
    result = Verifier.create(status=swapped).verify(cert.credential, now=day(0))
    assert result.status == "INVALID" and "STATUS_VERIFICATION_ERROR" in result.codes


def test_a_forged_credential_gets_no_status_lookup(issuer: Issuer) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    issuer.update("HealthProfessional", {**PAYLOAD, "certificateId": cert.certificate_id}, now=day(0))
    lists = _lists(issuer, day(0))
    asked: list[str] = []
    forged = json.loads(json.dumps(cert.credential))
    forged["credentialSubject"]["name"] = "Mallory"
    result = Verifier.create(status=lambda url: asked.append(url) or lists.get(url), store=issuer.store).verify(
        forged, now=day(0)
    )
    assert result.status == "INVALID" and asked == [] and "SUPERSEDED" not in result.codes


def test_other_issuers_messages_are_reported_not_judged(tmp_path: Path) -> None:
    from vccore import sign
    from vccore.status import Bitstring, status_list_credential

    url = "https://issuer.example/messages/1"
    listed = status_list_credential(
        url,
        issuer=KEY.controller,
        purpose="message",
        bits=Bitstring.zeros(LIST_SIZE).with_values({7: 1}),
        valid_from="2024-01-01T00:00:00Z",
    )
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": KEY.controller,
        "credentialSubject": {"id": "did:example:s"},
        "credentialStatus": {
            "type": "BitstringStatusListEntry",
            "statusPurpose": "message",
            "statusListIndex": "7",
            "statusListCredential": url,
            "statusSize": 1,
            "statusMessage": [{"status": "0x0", "message": "pending"}, {"status": "0x1", "message": "accepted"}],
        },
    }
    result = Verifier.create(status={url: sign(listed, KEY, created=day(0))}).verify(
        sign(credential, KEY, created=day(0)), now=day(0)
    )
    assert result.status == "VALID" and [w.code for w in result.warnings] == ["STATUS_MESSAGE"]
    assert "accepted" in result.warnings[0].detail


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda e: e.update(statusListIndex="9" * 12), "RANGE_ERROR"),
        (lambda e: e.update(statusListIndex="1" * 5000), "MALFORMED_VALUE_ERROR"),
        (lambda e: e.update(statusListIndex="-1"), "MALFORMED_VALUE_ERROR"),
        (lambda e: e.update(statusSize=2), "MALFORMED_VALUE_ERROR"),
        (lambda e: e.update(statusPurpose="suspension"), "STATUS_VERIFICATION_ERROR"),
        (lambda e: e.update(statusListCredential="https://nowhere.example/1"), "STATUS_RETRIEVAL_ERROR"),
    ],
)
def test_each_status_problem(issuer: Issuer, change: Any, code: str) -> None:
    from vccore import sign

    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    credential = {k: v for k, v in cert.credential.items() if k != "proof"}
    credential["credentialStatus"] = json.loads(json.dumps(credential["credentialStatus"]))
    change(credential["credentialStatus"][0])
    resigned = sign(credential, KEY, created=day(0), contexts=HP.context_loader())
    result = Verifier.create(status=_lists(issuer, day(0))).verify(resigned, now=day(0))
    assert code in result.codes, result.problems


def test_resolvers_that_misbehave(issuer: Issuer) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    for resolver in (
        lambda url: json.dumps(_lists(issuer, day(0))[url]),
        lambda url: 1 / 0,
        lambda url: ["not", "a", "credential"],
    ):
        result = Verifier.create(status=resolver).verify(cert.credential, now=day(0))
        assert "STATUS_RETRIEVAL_ERROR" in result.codes and "INTERNAL_ERROR" not in result.codes


def test_clock_skew_and_suites(tmp_path: Path) -> None:
    issuer = Issuer(
        signer=KEY,
        store=SQLiteStore(tmp_path / "v.db", status_url=BASE),
        vc_version="1.1",
        suite="Ed25519Signature2020",
    )
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    lists = _lists(issuer, day(0))
    assert all(c["proof"]["type"] == "Ed25519Signature2020" for c in lists.values())
    verifier = Verifier.create(status=lists, suites=["Ed25519Signature2020"])
    assert verifier.verify(cert.credential, now=day(0) - timedelta(minutes=1)).status == "VALID"


def test_vc11_validfrom_is_honoured(issuer: Issuer) -> None:
    future = {**PAYLOAD, "validFrom": "2030-01-01T00:00:00Z", "validTill": "2031-01-01T00:00:00Z"}
    vc11 = Issuer(signer=KEY, store=issuer.store, vc_version="1.1").certify("HealthProfessional", future, now=day(0))
    assert Verifier.create().verify(vc11.credential, now=day(0)).status == "NOT_YET_VALID"


class _CommitFails:
    """A connection whose first COMMIT fails, as a full disk would make it."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        return self._connection.execute(sql, *args)


def test_a_failed_commit_leaves_nothing_and_no_lock(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "vccore.db", status_url=BASE)
    issuer = Issuer(signer=KEY, store=store)
    real = store._connection()
    store._local.connection = _CommitFails(real)
    with pytest.raises(LifecycleError, match="disk is full"):
        issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    store._local.connection = real
    assert store.count() == 0
    assert issuer.certify("HealthProfessional", PAYLOAD, now=day(0)).certificate_id  # the lock is free


def test_a_connection_lost_before_commit_leaves_nothing(pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: the server ends the session in the middle of a certify (a restart, a network
    cut): STORE_ERROR, nothing stored, and the next certify works on a new connection."""
    import psycopg

    from vccore.store._pg_transaction import PostgresTransaction as _PostgresTransaction

    store_location = pg_server.new_database()
    store = open_store(store_location, status_url=BASE)
    issuer = Issuer(signer=KEY, store=store)
    issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    real_insert = _PostgresTransaction.insert

    def insert_then_cut(self: Any, record: Any) -> None:
        real_insert(self, record)
        backend = self._connection.info.backend_pid
        with psycopg.connect(store_location, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

    monkeypatch.setattr(_PostgresTransaction, "insert", insert_then_cut)
    with pytest.raises(LifecycleError) as caught:
        issuer.certify("HealthProfessional", {**PAYLOAD, "certificateId": "cut-0001"}, now=day(0))
    assert caught.value.code == "STORE_ERROR" and "postgresql://postgres@127.0.0.1" in caught.value.message
    monkeypatch.undo()
    assert store.count() == 1 and store.get("cut-0001") is None
    again = issuer.certify("HealthProfessional", {**PAYLOAD, "certificateId": "cut-0001"}, now=day(0))
    assert again.certificate_id == "cut-0001" and store.count() == 2


def test_a_verifier_reads_the_store_while_an_issuer_writes(issuer: Issuer, store_location: str) -> None:
    """A reader is not held up by a writer's transaction, and sees only what is committed."""
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    with issuer.store.transaction() as tx:
        record = tx.get(cert.certificate_id)
        assert record is not None
        tx.save(replace(record, state="REVOKED"))
        reader = open_store(store_location, read_only=True)
        seen = reader.get(cert.certificate_id)
        assert seen is not None and seen.state == "VALID"
    seen = reader.get(cert.certificate_id)
    assert seen is not None and seen.state == "REVOKED"


def test_a_store_belongs_to_one_issuer(issuer: Issuer, tmp_path: Path) -> None:
    issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    with pytest.raises(LifecycleError) as caught:
        Issuer(signer=Ed25519Key.generate(), store=issuer.store)
    assert caught.value.code == "STORE_ERROR"


def test_updating_a_suspended_certificate_keeps_it_suspended(issuer: Issuer, tmp_path: Path) -> None:
    cert = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    issuer.suspend(cert.certificate_id, until=day(30), now=day(1))
    new = issuer.update("HealthProfessional", {**PAYLOAD, "certificateId": cert.certificate_id}, now=day(2))
    record = issuer.fetch(new.certificate_id)[-1]
    assert (record.state, record.suspended_until) == ("SUSPENDED", "2024-01-31T00:00:00Z")
    # and suspending a suspended one sets its new end
    issuer.suspend(new.certificate_id, until=day(40), now=day(3))
    assert issuer.fetch(new.certificate_id)[-1].suspended_until == "2024-02-10T00:00:00Z"


def test_each_type_is_certified_in_its_own_version(tmp_path: Path) -> None:
    from vccore import bundled_entity_types as types

    vax = types()["VaccinationCertificate"]
    assert vax.example is not None
    issuer = Issuer(signer=KEY, store=SQLiteStore(tmp_path / "v.db", status_url=BASE), suite="eddsa-jcs-2022")
    payload = {k: v for k, v in vax.example.items() if k != "certificateId"}
    cert = issuer.certify(vax, payload, now=day(0))
    assert cert.credential["@context"][0] == "https://www.w3.org/2018/credentials/v1"
    assert Verifier.create(status=_lists(issuer, day(0))).verify(cert.credential, now=day(0)).status == "VALID"


def test_a_certificate_id_of_the_wrong_type_is_reported(issuer: Issuer) -> None:
    from vccore import PayloadError

    with pytest.raises(PayloadError) as caught:
        issuer.certify("HealthProfessional", {**PAYLOAD, "certificateId": 614894628867})
    assert [(p.pointer, p.reason) for p in caught.value.problems] == [("/certificateId", "WRONG_TYPE")]


def test_export_into_a_new_folder(issuer: Issuer, tmp_path: Path) -> None:
    issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    written = issuer.export_status(tmp_path / "a" / "b" / "c", now=day(0))
    assert len(written) == 4 and (tmp_path / "a/b/c/index.json").exists()  # revocation, suspension, message, state
    assert not list((tmp_path / "a/b/c").glob(".*.tmp"))


def test_transaction_ids_are_version_7_uuids_in_the_order_they_were_made() -> None:
    """transactionIds read like DIVOC's UUIDs, and sort by when they were made (so that they are
    appended to the store's index, not scattered over it)."""
    import time
    import uuid

    from vccore.issuer import new_transaction_id, new_transaction_ids

    before = time.time_ns() // 1_000_000
    ids = []
    for n in range(3000):
        ids.append(new_transaction_id())
        if n % 1000 == 999:
            time.sleep(0.002)  # into the next millisecond: the order holds across them
    for _ in range(3):  # a batch's, from one read of the random source
        ids.extend(new_transaction_ids(1000))
        time.sleep(0.002)
    after = time.time_ns() // 1_000_000
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 and str(u) == i for u, i in zip(parsed, ids, strict=True))
    assert len(set(ids)) == len(ids)
    stamps = [u.int >> 80 for u in parsed]
    assert all(before <= stamp <= after for stamp in stamps) and stamps == sorted(stamps)
    assert stamps[0] < stamps[-1]


def test_a_certified_credential_has_a_version_7_transaction_id(issuer: Issuer) -> None:
    import uuid

    certified = issuer.certify("HealthProfessional", PAYLOAD, now=day(0))
    assert uuid.UUID(certified.transaction_id).version == 7

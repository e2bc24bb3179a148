"""The stores themselves: status positions reserved in blocks, schema migrations, store URLs
(issue #8). Every test that takes ``store_location`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from conftest import raw_rows

from vccore.store import LIST_SIZE, MAX_BLOCK, LifecycleError, SQLiteStore, open_store

BASE = "https://issuer.example/status/"


def reserved(location: str) -> int:
    """How many positions the store has handed to store objects (the shared counter)."""
    if location.startswith("postgresql://"):
        last, called = raw_rows(location, "SELECT last_value, is_called FROM status_counter")[0]
        return int(last) + 1 if called else 0
    return sum(int(row[0]) for row in raw_rows(location, "SELECT next FROM status_lists"))


def test_positions_are_reserved_in_growing_blocks(store_location: str) -> None:
    """One position reserves one; then blocks double up to MAX_BLOCK: the shared counter moves
    once per block, not once per credential."""
    store = open_store(store_location, status_url=BASE)
    seen = []
    for expected in [1, 3, 3, 7, 7, 7, 7, 15]:  # after the 1st..8th position: 1, 1+2, 1+2+4, 1+2+4+8
        with store.transaction() as tx:
            seen.append(tx.allocate_status_position())
        assert reserved(store_location) == expected
    with store.transaction() as tx:
        seen.extend(tx.allocate_status_positions(3000))
    assert len(set(seen)) == len(seen) == 3008
    assert reserved(store_location) <= 3008 + MAX_BLOCK


def test_two_workers_never_share_a_position(store_location: str) -> None:
    """Two store objects (two workers) taking positions in turn: each from its own blocks."""
    one, two = open_store(store_location, status_url=BASE), open_store(store_location)
    taken: list[tuple[int, int]] = []
    for round_ in range(600):
        store = one if round_ % 3 else two
        with store.transaction() as tx:
            taken.extend(tx.allocate_status_positions(1 + round_ % 5))
    assert len(taken) == len(set(taken)) == sum(1 + r % 5 for r in range(600))
    assert all(0 <= index < LIST_SIZE for _, index in taken)


def test_a_transaction_that_rolls_back_uses_up_no_position(store_location: str) -> None:
    """Positions taken by a transaction that failed were stored nowhere: the next transaction of
    the same store object gets them (none is lost, none is handed out twice)."""
    store = open_store(store_location, status_url=BASE)
    with store.transaction() as tx:
        tx.allocate_status_positions(5)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        failed = tx.allocate_status_positions(3)
        raise RuntimeError("the signer is down")
    with store.transaction() as tx:
        assert tx.allocate_status_positions(3) == failed


def _open_at_once(location: str) -> str:
    return open_store(location, status_url=BASE).status_url


@pytest.mark.slow
def test_workers_started_together_create_one_schema(store_location: str) -> None:
    """Eight processes open a store that does not exist yet, at once: one schema, one set of
    settings, no error."""
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        urls = pool.map(_open_at_once, [store_location] * 8)
    assert urls == [BASE] * 8
    assert raw_rows(store_location, "SELECT count(*) FROM meta WHERE key = 'schema_version'") == [(1,)]


# --- migrations ------------------------------------------------------------------------------------


def _migrations(location: str) -> Any:
    if location.startswith("postgresql://"):
        from vccore.store import postgres

        return postgres, "_MIGRATIONS"
    from vccore.store import sqlite

    return sqlite, "_SQLITE_MIGRATIONS"


def test_an_older_store_is_migrated_once_and_a_newer_one_refused(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, name = _migrations(store_location)
    original = list(getattr(module, name))
    now, later, broken = len(original), len(original) + 1, len(original) + 2
    store = open_store(store_location, status_url=BASE)
    with store.transaction() as tx:
        tx.allocate_status_positions(2)
    assert _version(store_location) == now
    # a later vccore adds a schema version: opening the store runs it, once
    monkeypatch.setattr(module, name, [*original, (later, ("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",))])
    open_store(store_location)
    open_store(store_location)
    assert _version(store_location) == later
    assert raw_rows(store_location, "SELECT count(*) FROM notes") == [(0,)]
    # a migration that fails leaves the store as it was (the same transaction)
    monkeypatch.setattr(
        module,
        name,
        [
            *original,
            (later, ("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",)),
            (broken, ("CREATE TABLE more (x INTEGER)", "THIS IS NOT SQL")),
        ],
    )
    with pytest.raises(LifecycleError) as failed:
        open_store(store_location)
    assert failed.value.code == "STORE_ERROR" and f"migration to store schema {broken} failed" in failed.value.message
    assert _version(store_location) == later
    tables = (
        "SELECT count(*) FROM sqlite_master WHERE name = 'more'"
        if "://" not in store_location
        else "SELECT count(*) FROM pg_tables WHERE tablename = 'more'"
    )
    assert raw_rows(store_location, tables) == [(0,)]
    # the vccore of before refuses the store a newer one made, for writing and reading
    monkeypatch.setattr(module, name, original)
    for read_only in (False, True):
        with pytest.raises(LifecycleError) as newer:
            open_store(store_location, read_only=read_only)
        assert (
            newer.value.code == "STORE_ERROR"
            and f"schema {later}" in newer.value.message
            and "upgrade vccore" in newer.value.message
        )


def _version(location: str) -> int:
    return int(raw_rows(location, "SELECT value FROM meta WHERE key = 'schema_version'")[0][0])


def test_a_reader_does_not_migrate(store_location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, name = _migrations(store_location)
    original = list(getattr(module, name))
    open_store(store_location, status_url=BASE)
    monkeypatch.setattr(module, name, [*original, (len(original) + 1, ("CREATE TABLE notes (id INTEGER)",))])
    with pytest.raises(LifecycleError) as older:
        open_store(store_location, read_only=True)
    assert "open it once for writing" in older.value.message
    assert _version(store_location) == len(original)


def test_a_store_of_schema_1_is_upgraded_with_its_data(store_location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store made by the release before schema 2 (failed transactions): opened, it gains the
    table and keeps every record and position."""
    module, name = _migrations(store_location)
    original = list(getattr(module, name))
    monkeypatch.setattr(module, name, original[:1])
    store = open_store(store_location, status_url=BASE)
    with store.transaction() as tx:
        taken = tx.allocate_status_positions(3)
    before = raw_rows(store_location, "SELECT key, value FROM meta WHERE key <> 'schema_version' ORDER BY key")
    monkeypatch.setattr(module, name, original)
    upgraded = open_store(store_location)
    assert _version(store_location) == len(original) >= 2
    assert raw_rows(store_location, "SELECT key, value FROM meta WHERE key <> 'schema_version' ORDER BY key") == before
    upgraded.record_failure("t-1", "HealthProfessional", None, {"code": "INVALID_PAYLOAD"}, "2024-01-01T00:00:00Z")
    assert upgraded.get_failure("t-1") == {
        "transactionId": "t-1",
        "entityType": "HealthProfessional",
        "certificateId": None,
        "reason": {"code": "INVALID_PAYLOAD"},
        "createdAt": "2024-01-01T00:00:00Z",
    }
    with upgraded.transaction() as tx:
        assert not set(tx.allocate_status_positions(50)) & set(taken)


# --- store URLs ------------------------------------------------------------------------------------


def test_store_locations_are_checked(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path / "a.db"), SQLiteStore)
    with pytest.raises(LifecycleError) as unknown:
        open_store("mysql://db.example/vccore")
    assert unknown.value.code == "STORE_ERROR" and "'mysql'" in unknown.value.message


def test_an_unreachable_server_is_named_without_its_password() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(LifecycleError) as caught:
        open_store("postgresql://vccore:s3cret-pass@127.0.0.1:1/certs?connect_timeout=2")
    message = caught.value.message
    assert caught.value.code == "STORE_ERROR"
    assert "postgresql://vccore@127.0.0.1:1/certs" in message and "s3cret" not in message


def test_threads_taking_positions_while_transactions_fail_never_share_one(store_location: str) -> None:
    """One store object, four threads: two take positions outside transactions (as batches
    do), two inside transactions that fail every other time (their positions go back to the
    pool). What was kept (taken outside, or by a transaction that committed) is never taken twice."""
    import threading

    store = open_store(store_location, status_url=BASE)
    kept: list[tuple[int, int]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def outside() -> None:
        for round_ in range(150):
            got = store.allocate_status_positions(1 + round_ % 7)
            with lock:
                kept.extend(got)

    def inside() -> None:
        for round_ in range(150):
            try:
                with store.transaction() as tx:
                    got = tx.allocate_status_positions(1 + round_ % 3)
                    if round_ % 2:
                        raise KeyError("the signer failed")
                with lock:
                    kept.extend(got)
            except KeyError:
                pass

    def run(work: Any) -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in (outside, outside, inside, inside)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert (
        len(kept)
        == len(set(kept))
        == 2 * sum(1 + r % 7 for r in range(150)) + 2 * sum(1 + r % 3 for r in range(0, 150, 2))
    )


def test_positions_taken_outside_a_transaction_never_come_from_one_that_rolls_back(store_location: str) -> None:
    """A transaction reserves a block of positions and has some left over in the pool; another
    thread asks for positions outside any transaction meanwhile. It must not get the left-over
    ones: the transaction rolls back, the counter behind the block with it, and the block is
    reserved again later. (Taken straight from the pool, they were handed out twice.)"""
    import threading

    store = open_store(store_location, status_url=BASE)
    kept = store.allocate_status_positions(1)  # the list set made (and its secret kept), a block of 1
    got: list[list[tuple[int, int]]] = []
    with pytest.raises(KeyError), store.transaction() as tx:
        tx.allocate_status_positions(1)  # a block of 2: one left over in the pool
        other = threading.Thread(target=lambda: got.append(store.allocate_status_positions(1)))
        other.start()
        other.join(timeout=0.5)  # it waits for the transaction to end, or it took the left-over one
        raise KeyError("the signer failed")
    other.join()
    kept += got[0]
    for _ in range(4):
        kept += store.allocate_status_positions(3)
    assert len(kept) == len(set(kept)) == 14, kept


def test_two_sqlite_writers_keep_the_wal_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers (two store objects, each its own connection and lock descriptor, as two
    worker processes have) in turn: the WAL restarts once it passes WAL_RESTART_FRAMES pages,
    instead of only when a checkpoint happens to run with no transaction beside it."""
    import threading

    from vccore.store import Record
    from vccore.store import sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "WAL_RESTART_FRAMES", 64)
    path = tmp_path / "vccore.db"
    body = {"text": "x" * 3000}
    wal_pages: list[int] = []
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        store = SQLiteStore(path, status_url=BASE)
        try:
            for round_ in range(120):
                with store.transaction() as tx:
                    records = []
                    for n, (status_list, index) in enumerate(
                        tx.allocate_status_positions(20)
                    ):  # ~20 pages a transaction
                        number = f"{worker}-{round_}-{n}"
                        records.append(
                            (
                                Record(
                                    number, f"t-{number}", "Test", body, status_list, index, "VALID", "2026", "2026"
                                ),
                                None,
                            )
                        )
                    tx.insert_many(records)
                wal = path.with_name(path.name + "-wal")
                wal_pages.append(wal.stat().st_size // 16384 if wal.exists() else 0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(SQLiteStore(path).certificate_ids_taken(["1-119-19", "2-0-0"])) == 2
    # 240 transactions of ~20 pages wrote ~4,800 pages; the WAL file (its high-water mark) stays
    # within the limit plus what both writers add between two checkpoints of one of them.
    slack = 2 * sqlite_module.CHECKPOINT_EVERY * 25
    assert max(wal_pages) <= 64 + slack, max(wal_pages)


def _record(number: str, position: tuple[int, int], credential: dict[str, Any]) -> Any:
    from vccore.store import Record

    return Record(
        number,
        f"t-{number}",
        "Test",
        credential,
        position[0],
        position[1],
        "VALID",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
    )


def test_records_stored_many_at_once_read_back_the_same(store_location: str) -> None:
    """insert_many (PostgreSQL: one INSERT of arrays, sent in binary) keeps every character: tabs,
    newlines, backslashes, quotes, what an array's text would quote ({, }, commas, NULL), text
    from every plane; absent fields stay absent."""
    store = open_store(store_location, status_url=BASE)
    odd = {
        "name": 'a\tb\nc\\d"e\\N\r\u0085\u2028\U0001f600 \\\\t',
        "array": '{"a",b}, {NULL}',
        "null": "NULL",
        "empty": "",
        "none": None,
    }
    with store.transaction() as tx:
        positions = tx.allocate_status_positions(3)
        tx.insert_many(
            [
                (_record(f"odd-{i}", p, {**odd, "i": i}), f"key\t{i}\\N" if i else "NULL")
                for i, p in enumerate(positions)
            ]
        )
    for i in range(3):
        record = store.get(f"odd-{i}")
        assert (
            record is not None
            and record.credential == {**odd, "i": i}
            and record.replaces is None
            and record.reason is None
        )
    assert set(store.get_by_keys(["key\t1\\N", "key\t2\\N", "key\t0\\N", "NULL"])) == {"key\t1\\N", "key\t2\\N", "NULL"}
    assert store.certificate_ids_taken(["odd-1", "NULL", '{"odd-2"}']) == {"odd-1"}


def test_hundreds_of_records_stored_at_once_are_all_there_or_none_are(store_location: str) -> None:
    """insert_many of more rows than one statement takes (SQLite: 76 certificate rows, 499 key
    rows to a statement) stores each row with its own values and keys; a row refused in the last
    statement (a status position given twice) leaves none of them, the first statements' rows
    included."""
    store = open_store(store_location, status_url=BASE)
    with store.transaction() as tx:
        positions = tx.allocate_status_positions(231)
        tx.insert_many(
            [(_record(f"many-{i}", p, {"i": i}), (f"a-{i}", f"b-{i}", f"c-{i}")) for i, p in enumerate(positions[:230])]
        )
    found = store.get_by_keys([f"{k}-{i}" for i in range(230) for k in "abc"])
    assert len(found) == 690
    assert all(found[f"{k}-{i}"].certificate_id == f"many-{i}" for i in range(230) for k in "abc")
    assert all((r := store.get(f"many-{i}")) is not None and r.credential == {"i": i} for i in range(230))
    with pytest.raises(LifecycleError), store.transaction() as tx:
        tx.insert_many(
            [(_record(f"more-{i}", (positions[0][0] + 7, i), {}), None) for i in range(199)]
            + [(_record("more-199", positions[0], {}), None)]  # a position taken above
        )
    assert store.certificate_ids_taken([f"more-{i}" for i in range(200)]) == set()


def test_a_records_state_is_a_record_state_stored_as_its_value(store_location: str) -> None:
    """Record takes a RecordState or its value, and reads back a RecordState; the store holds
    the value's text (insert, insert_many and save alike); an unknown state is refused by name."""
    from dataclasses import replace

    from vccore.store import Record, RecordState

    store = open_store(store_location, status_url=BASE)
    with store.transaction() as tx:
        one, two = tx.allocate_status_positions(2)
        tx.insert(replace(_record("by-value", one, {}), state="SUSPENDED"))
        tx.insert_many([(replace(_record("by-member", two, {}), state=RecordState.REVOKED), None)])
        tx.save(replace(_record("by-value", one, {}), state=RecordState.SUPERSEDED, replaced_by="by-member"))
    by_value, by_member = store.get("by-value"), store.get("by-member")
    assert by_value is not None and by_value.state is RecordState.SUPERSEDED
    assert by_member is not None and by_member.state is RecordState.REVOKED and by_member.state == "REVOKED"
    assert by_member.to_dict()["state"] == "REVOKED" and by_member.summary() == {
        k: v for k, v in by_member.to_dict().items() if k != "credential"
    }
    rows = raw_rows(store_location, "SELECT certificate_id, state FROM certificates ORDER BY certificate_id")
    assert [tuple(row) for row in rows] == [("by-member", "REVOKED"), ("by-value", "SUPERSEDED")]
    assert all(type(row[1]) is str for row in rows)
    with pytest.raises(ValueError, match=r"unknown certificate state 'EXPIRED' \(known: VALID, SUPERSEDED"):
        Record("x", "t-x", "Test", {}, 0, 0, "EXPIRED", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")


def test_a_many_insert_leaves_out_what_is_taken_and_names_it(store_location: str) -> None:
    """A certificateId or idempotency key already taken: that record is left out and named (the
    key's with the certificate it made), the others are stored. A status position already held
    breaks a constraint: STORE_ERROR, and none of the transaction's records is stored."""
    store = open_store(store_location, status_url=BASE)
    with store.transaction() as tx:
        held = tx.allocate_status_position()
        assert tx.insert_many([(_record("taken", held, {}), "key-taken")]) == (set(), {})
    with store.transaction() as tx:
        positions = tx.allocate_status_positions(3)
        refused = tx.insert_many(
            [
                (_record("new-1", positions[0], {}), "key-new"),
                (_record("taken", positions[1], {}), "fresh"),
                (_record("fresh", positions[2], {}), "key-taken"),
            ]
        )
    assert refused.certificate_ids == {"taken"} and dict(refused.keys) == {"key-taken": "taken"}
    assert store.get("new-1") is not None and store.get("fresh") is None
    assert {key: r.certificate_id for key, r in store.get_by_keys(["key-new", "fresh", "key-taken"]).items()} == {
        "key-new": "new-1",
        "key-taken": "taken",
    }
    with pytest.raises(LifecycleError) as caught, store.transaction() as tx:
        tx.insert_many(
            [(_record("new-2", tx.allocate_status_position(), {}), None), (_record("new-3", held, {}), None)]
        )
    assert caught.value.code == "STORE_ERROR" and "cannot be stored" in caught.value.message
    assert store.get("new-2") is None and store.get("new-3") is None
    assert store.count() == 2


def test_a_record_with_several_keys_is_left_out_whole_when_one_is_taken(store_location: str) -> None:
    """insert_many with two keys for a record (a payload's and a client's Idempotency-Key): one of
    them taken leaves the record out, and its other key unrecorded; both free, both recorded."""
    store = open_store(store_location, status_url=BASE)
    with store.transaction() as tx:
        assert tx.insert_many([(_record("first", tx.allocate_status_position(), {}), ("payload-1", "claim-1"))]) == (
            set(),
            {},
        )
    with store.transaction() as tx:
        one, two = tx.allocate_status_positions(2)
        refused = tx.insert_many(
            [(_record("second", one, {}), ["payload-2", "claim-1"]), (_record("third", two, {}), ["payload-3"])]
        )
    assert refused.certificate_ids == set() and dict(refused.keys) == {"claim-1": "first"}
    assert store.get("second") is None and store.get("third") is not None
    made = {
        key: record.certificate_id
        for key, record in store.get_by_keys(["payload-1", "claim-1", "payload-2", "payload-3"]).items()
    }
    assert made == {"payload-1": "first", "claim-1": "first", "payload-3": "third"}
    # one key twice in one call (two requests of one group commit under one Idempotency-Key)
    with store.transaction() as tx:
        one, two = tx.allocate_status_positions(2)
        refused = tx.insert_many([(_record("fourth", one, {}), ["claim-4"]), (_record("fifth", two, {}), ["claim-4"])])
    assert dict(refused.keys) == {"claim-4": "fourth"} and store.get("fifth") is None
    assert store.get_by_keys(["claim-4"])["claim-4"].certificate_id == "fourth"


def _use_inherited_store(store: SQLiteStore, inherited: Any) -> None:
    """In a forked child: write through the parent's store object, close it; exit 3 if the
    parent's connection was used."""
    import os

    own = store._connection()
    with store.transaction() as tx:
        tx.allocate_status_positions(5)
    store.close()
    os._exit(3 if own is inherited else 0)


def test_a_forked_process_leaves_the_connection_it_inherited_alone(tmp_path: Path) -> None:
    """SQLite forbids using or closing a connection across fork(): a store object used in a
    forked child opens the child's own, and closing it there leaves the parent's open."""
    store = SQLiteStore(tmp_path / "vccore.db", status_url=BASE)
    inherited = store._connection()
    child = multiprocessing.get_context("fork").Process(target=_use_inherited_store, args=(store, inherited))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert store._connection() is inherited and inherited.execute("SELECT 1").fetchone() == (1,)
    with store.transaction() as tx:
        tx.allocate_status_positions(5)
    assert raw_rows(str(tmp_path / "vccore.db"), "PRAGMA integrity_check") == [("ok",)]


def test_a_new_sqlite_store_and_its_folder_are_its_owners_alone(tmp_path: Path) -> None:
    """The store holds personal data and the status lists' position secrets: mode 0600 (its WAL
    and shared-memory files too), in a folder of mode 0700 when vccore makes it."""
    import os
    import stat

    previous = os.umask(0o022)  # a usual umask, whatever the test runner's
    try:
        store = open_store(tmp_path / "home" / "vccore.db", status_url=BASE)
        with store.transaction() as tx:
            tx.allocate_status_position()
        made = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "home").iterdir()}
        made["home"] = stat.S_IMODE((tmp_path / "home").stat().st_mode)
        store.close()
    finally:
        os.umask(previous)
    assert {"vccore.db", "vccore.db-wal", "vccore.db-shm"} <= made.keys(), made
    assert made == {**dict.fromkeys(made, 384), "home": 0o700}, {name: oct(mode) for name, mode in made.items()}


def test_an_in_memory_sqlite_name_is_refused_not_made_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite3 reads ':memory:' as an in-memory database; vccore's store is a file with a lock
    beside it, and used to make files named ':memory:' and ':memory:.lock' in the current folder."""
    monkeypatch.chdir(tmp_path)
    for name in (":memory:", "file::memory:?cache=shared"):
        with pytest.raises(LifecycleError, match="is a file"):
            open_store(name, status_url="https://issuer.example/status/")
    assert list(tmp_path.iterdir()) == []

"""Issue 22, points 4 and 5: every PostgreSQL session vccore opens sets what its guarantees rest
on (READ COMMITTED, synchronous commits) and bounds its waits (statement and lock timeouts, TCP
keepalives), whatever the server's defaults; and ``GET /ready`` says when the store does not
answer. On a throwaway server whose defaults are an operator's that break them."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pgserver
import psycopg
import pytest
from starlette.testclient import TestClient

from vccore import Ed25519Key, bundled_entity_types
from vccore.codes import ErrorCode
from vccore.errors import LifecycleError
from vccore.http import create_app
from vccore.http.auth import StaticTokenAuthorizer
from vccore.issuer import Issuer
from vccore.store.postgres import PostgresStore

HP = bundled_entity_types()["HealthProfessional"]
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2024, 1, 1, tzinfo=UTC)
BASE = "https://issuer.example/status/"
HOSTILE = {
    "default_transaction_isolation": "serializable",
    "synchronous_commit": "off",
    "statement_timeout": "0",
    "lock_timeout": "0",
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[pgserver.Server]:
    """A server of its own whose defaults are serializable transactions and asynchronous commits."""
    yield from pgserver.for_tests(settings=HOSTILE)


def _show(store: PostgresStore, *names: str) -> list[str]:
    return [store._query(f"SHOW {name}")[0][0] for name in names]


def test_the_server_really_has_the_hostile_defaults(hostile: pgserver.Server) -> None:
    with psycopg.connect(hostile.new_database()) as connection:
        shown = [connection.execute(f"SHOW {name}").fetchone() for name in HOSTILE]
    assert shown == [("serializable",), ("off",), ("0",), ("0",)]


def test_sessions_run_at_read_committed_with_synchronous_commits(hostile: pgserver.Server) -> None:
    store = PostgresStore(hostile.new_database(), status_url=BASE)
    assert _show(store, "default_transaction_isolation", "synchronous_commit") == ["read committed", "on"]
    with store.transaction() as tx:
        assert tx._connection.execute("SHOW transaction_isolation").fetchone() == ("read committed",)
    # a URL cannot take them away either: its own options come before vccore's guarantees
    url = hostile.new_database() + "?options=-c%20default_transaction_isolation%3Dserializable"
    assert _show(PostgresStore(url, status_url=BASE), "default_transaction_isolation") == ["read committed"]


def test_waits_are_bounded_and_the_url_keeps_its_own_bounds(hostile: pgserver.Server) -> None:
    store = PostgresStore(hostile.new_database(), status_url=BASE)
    names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
    assert _show(store, *names) == ["15s", "10s", "1min"]
    info = store._connection().info
    assert {k: info.get_parameters().get(k) for k in ("keepalives", "keepalives_idle", "keepalives_count")} == {
        "keepalives": "1",
        "keepalives_idle": "10",
        "keepalives_count": "3",
    }
    own = "?keepalives_idle=30&options=-c%20statement_timeout%3D5000%20-c%20application_name%3Dmine"
    store = PostgresStore(hostile.new_database() + own, status_url=BASE)
    assert _show(store, "statement_timeout", "lock_timeout", "application_name") == ["5s", "10s", "mine"]
    assert store._connection().info.get_parameters().get("keepalives_idle") == "30"


def test_a_burst_of_certifies_meets_no_serialization_failure(hostile: pgserver.Server) -> None:
    issuer = Issuer(signer=KEY, store=PostgresStore(hostile.new_database(), status_url=BASE))
    assert HP.example is not None
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        for i in range(25):
            try:
                issuer.certify(HP, {**HP.example, "certificateId": f"w{worker}-{i:03d}"}, now=NOW)
            except LifecycleError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [str(f) for f in failures[:3]] == [] and issuer.store.count() == 200


def test_a_certify_that_waits_on_a_lock_fails_in_time(hostile: pgserver.Server) -> None:
    url = hostile.new_database()
    issuer = Issuer(signer=KEY, store=PostgresStore(url + "?options=-c%20lock_timeout%3D500", status_url=BASE))
    assert HP.example is not None
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE certificates IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(LifecycleError) as caught:
            issuer.certify(HP, {**HP.example, "certificateId": "locked-out"}, now=NOW)
        elapsed = time.monotonic() - started
    assert caught.value.code == ErrorCode.STORE_ERROR
    assert "did not answer in time" in str(caught.value), str(caught.value)
    assert elapsed < 5


def _client(store: Any) -> TestClient:
    return TestClient(create_app(Issuer(signer=KEY, store=store), authorizer=StaticTokenAuthorizer("t" * 32)))


@pytest.mark.slow
def test_ready_says_when_the_store_does_not_answer(hostile: pgserver.Server) -> None:
    url = hostile.new_database()
    client = _client(PostgresStore(url, status_url=BASE))
    answer = client.get("/ready")
    assert (answer.status_code, answer.json()) == (200, {"status": "ready"})
    with psycopg.connect(url, autocommit=True) as other:
        rows = other.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    frozen = [pid for (pid,) in rows]
    assert frozen  # the probe's session, and the store's
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        answer = client.get("/ready")
        elapsed = time.monotonic() - started
        assert answer.status_code == 503 and answer.json()["code"] == ErrorCode.STORE_ERROR, answer.text
        assert "did not answer within 2 s" in answer.json()["detail"]
        assert elapsed < 4
        assert client.get("/ready").status_code == 503  # waits on the query still out, sends no other
        assert client.get("/health").status_code == 200  # alive all the same
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_ready_answers_on_a_store_that_answers_and_is_documented(tmp_path: Path) -> None:
    from vccore.store import SQLiteStore

    client = _client(SQLiteStore(str(tmp_path / "vccore.db"), status_url=BASE))
    assert (client.get("/ready").status_code, client.get("/ready").json()) == (200, {"status": "ready"})
    ready = client.get("/openapi.json").json()["paths"]["/ready"]["get"]["responses"]
    assert sorted(ready) == ["200", "503"]


def test_the_ready_probe_keeps_a_thread_only_while_it_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An app nobody asks /ready of runs no probe thread; one asked runs one, which ends when no
    check has come for a while, and starts again with the next. (Each app's thread ran for good:
    a test that made an app left a thread behind, and a batch forking its workers later in the
    same process refused to, a thread running.)"""
    import vccore.http.app
    from vccore.store import SQLiteStore

    monkeypatch.setattr(vccore.http.app, "_PROBE_IDLE", 0.2, raising=False)
    earlier = {t for t in threading.enumerate() if t.name == "vccore-ready"}

    def probes() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "vccore-ready"} - earlier

    client = _client(SQLiteStore(str(tmp_path / "vccore.db"), status_url=BASE))
    assert client.get("/health").status_code == 200 and not probes()
    for _ in range(2):
        assert client.get("/ready").status_code == 200 and len(probes()) == 1
        assert client.get("/ready").status_code == 200 and len(probes()) == 1  # the same thread
        deadline = time.monotonic() + 5
        while probes():
            assert time.monotonic() < deadline, probes()
            time.sleep(0.05)


def test_opening_waits_for_a_migration_however_long_it_takes(hostile: pgserver.Server) -> None:
    """The schema's advisory lock is exempt from the lock timeout: a worker started while another
    migrates waits for it, instead of failing to start."""
    url = hostile.new_database()
    with psycopg.connect(url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (0x7663636F7265,))  # as a migration holds it
        release = threading.Timer(1.0, holder.rollback)
        release.start()
        started = time.monotonic()
        store = PostgresStore(url + "?options=-c%20lock_timeout%3D300", status_url=BASE)
        release.join()
    assert time.monotonic() - started >= 0.9 and store.count() == 0

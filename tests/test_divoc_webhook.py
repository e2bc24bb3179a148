"""The tenant webhook (issue 19, row 10): DIVOC's post-certify message, committed to the store's
outbox with what it tells and delivered at least once to a real HTTP receiver on a loopback port,
across a SIGKILL too. Every test that takes ``store_location`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import raw_rows

from vccore import Ed25519Key, bundled_entity_types
from vccore.errors import UnusableInputError, VccoreError
from vccore.http.webhook import Callback, Callbacks, WebhookWorker, load_callbacks
from vccore.issuer import Issuer
from vccore.store import LifecycleError, Store, notification, open_store

HP = bundled_entity_types()["HealthProfessional"]
assert HP.example is not None
PAYLOAD = {k: v for k, v in HP.example.items() if k != "certificateId"}
KEY = Ed25519Key.from_seed(bytes(range(32)))
BASE = "https://issuer.example/status/"
TOKEN = "tenant-callback-token-1"
ROOT = Path(__file__).resolve().parent.parent


class Receiver:
    """A tenant's webhook receiver: a real HTTP server on a loopback port, in a thread. It answers
    the statuses of ``answers`` in turn (then 200) and keeps what each POST brought.
    """

    def __init__(self, answers: list[int] | None = None, delay: float = 0.0) -> None:
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.answers = list(answers or [])
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    if status == 200:
                        receiver.received.append((self.headers.get("Authorization"), json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def issuer(store_location: str) -> Issuer:
    return Issuer(signer=KEY, store=open_store(store_location, status_url=BASE))


def pending(store: Store) -> list[dict[str, Any]]:
    return [json.loads(row["body"]) for row in store.pending_notifications()]


def drain(worker: WebhookWorker, store: Store, seconds: float = 30) -> None:
    """Deliver until the outbox is empty (each round posts what is due)."""
    deadline = time.monotonic() + seconds
    while store.pending_notifications():
        assert time.monotonic() < deadline, f"the outbox did not empty: {store.pending_notifications()}"
        if not worker.deliver_due():
            time.sleep(0.05)


# --- the outbox: a message commits with what it tells, or not at all ------------------------------


def test_a_certificate_and_its_message_commit_together(issuer: Issuer) -> None:
    made = issuer.certify("HealthProfessional", PAYLOAD, notify="HealthProfessional")
    [body] = pending(issuer.store)
    assert set(body) == {"transactionId", "certificateId", "status", "payload", "entityType"}
    assert body["transactionId"] == made.transaction_id and body["certificateId"] == made.certificate_id
    assert body["status"] == "SUCCESSFUL" and body["entityType"] == "HealthProfessional"
    # the payload is JSON text, with the certificateId made (as DIVOC posts it)
    assert isinstance(body["payload"], str)
    assert json.loads(body["payload"]) == {**PAYLOAD, "certificateId": made.certificate_id}
    issuer.certify("HealthProfessional", PAYLOAD)  # no callback: no message
    assert len(pending(issuer.store)) == 1


def test_what_is_not_committed_leaves_no_message(issuer: Issuer) -> None:
    with pytest.raises(VccoreError):
        issuer.certify("HealthProfessional", {**PAYLOAD, "dob": "1991-13-01"}, notify="HealthProfessional")
    with pytest.raises(LifecycleError):
        issuer.update("HealthProfessional", {**PAYLOAD, "certificateId": "404404404404"}, notify="HealthProfessional")
    message = notification(
        "HealthProfessional",
        transaction_id="t",
        certificate_id="c",
        status="SUCCESSFUL",
        payload={},
        entity_type="HealthProfessional",
        at="2026-01-01T00:00:00Z",
    )
    with pytest.raises(RuntimeError), issuer.store.transaction() as tx:
        tx.notify(message)
        raise RuntimeError("the transaction fails after the message was put")
    assert pending(issuer.store) == [] and issuer.store.count() == 0


def test_an_update_and_a_batch_tell_of_each_certificate_they_make(issuer: Issuer) -> None:
    first = issuer.certify("HealthProfessional", PAYLOAD)
    second = issuer.update(
        "HealthProfessional", {**PAYLOAD, "certificateId": first.certificate_id}, notify="HealthProfessional"
    )
    [updated] = pending(issuer.store)
    assert updated["certificateId"] == second.certificate_id != first.certificate_id
    assert json.loads(updated["payload"])["certificateId"] == second.certificate_id
    payloads = [{**PAYLOAD, "name": f"Person {n}"} for n in range(3)]
    made = issuer.certify_batch("HealthProfessional", payloads, keys=["a", "b", "c"], notify="*")
    again = issuer.certify_batch("HealthProfessional", payloads, keys=["a", "b", "c"], notify="*")
    assert [m.certificate_id for m in made] == [m.certificate_id for m in again]  # type: ignore[union-attr]
    told = pending(issuer.store)[1:]
    assert [b["transactionId"] for b in told] == [m.transaction_id for m in made]  # type: ignore[union-attr]
    assert [r["callback"] for r in issuer.store.pending_notifications()] == ["HealthProfessional", "*", "*", "*"]


def test_a_refused_request_is_recorded_with_its_message(issuer: Issuer) -> None:
    """DIVOC posts UNSUCCESSFUL for a request that made no certificate: the failure and its
    message are one transaction."""
    message = notification(
        "HealthProfessional",
        transaction_id="0190-refused",
        certificate_id=None,
        status="UNSUCCESSFUL",
        payload={**PAYLOAD, "dob": "1991-13-01"},
        entity_type="HealthProfessional",
        at="2026-01-01T00:00:00Z",
    )
    issuer.store.record_failure(
        "0190-refused", "HealthProfessional", None, {"code": "INVALID_PAYLOAD"}, "2026-01-01T00:00:00Z", notify=message
    )
    [body] = pending(issuer.store)
    assert body["status"] == "UNSUCCESSFUL" and body["transactionId"] == "0190-refused"
    assert json.loads(body["payload"])["dob"] == "1991-13-01"  # as sent: no certificateId was made
    with pytest.raises(LifecycleError):  # the same transactionId again: neither is written
        issuer.store.record_failure("0190-refused", "HealthProfessional", None, {}, "2026", notify=message)
    assert len(pending(issuer.store)) == 1


def test_a_store_of_schema_2_is_upgraded_with_an_outbox(store_location: str) -> None:
    store = open_store(store_location, status_url=BASE)
    store.close()
    _raw(
        store_location,
        "DROP TABLE outbox",
        "DROP TABLE entity_types",
        "DROP TABLE documents",
        "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
    )
    issuer = Issuer(signer=KEY, store=open_store(store_location))
    issuer.certify("HealthProfessional", PAYLOAD, notify="HealthProfessional")
    assert len(pending(issuer.store)) == 1
    assert raw_rows(store_location, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]


def _raw(location: str, *statements: str) -> None:
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location) as connection:
            for statement in statements:
                connection.execute(statement)
        return
    import sqlite3

    connection = sqlite3.connect(location)
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


# --- delivery --------------------------------------------------------------------------------------


def test_the_receiver_gets_divocs_body_and_header(issuer: Issuer, receiver: Receiver) -> None:
    made = issuer.certify("HealthProfessional", PAYLOAD, notify="HealthProfessional")
    worker = WebhookWorker(issuer.store, Callbacks({"HealthProfessional": Callback(receiver.url, TOKEN)}))
    drain(worker, issuer.store)
    [(authorization, body)] = receiver.received
    assert authorization == TOKEN  # the token as it is, no "Bearer" (DIVOC's pushToWebhook)
    assert body["transactionId"] == made.transaction_id and body["status"] == "SUCCESSFUL"
    assert issuer.store.pending_notifications() == []  # delivered: it left the outbox


def test_a_failed_delivery_is_retried_with_backoff(issuer: Issuer) -> None:
    failing = Receiver(answers=[500, 503])
    try:
        issuer.certify("HealthProfessional", PAYLOAD, notify="*")
        worker = WebhookWorker(issuer.store, Callbacks({"*": Callback(failing.url)}), base_delay=0.2)
        assert worker.deliver_due() == 1
        [row] = issuer.store.pending_notifications()
        assert row["attempts"] == 1 and row["lastError"] == f"POST {failing.url} answered 500"
        assert row["nextAt"] > time.time()  # not due again at once
        assert worker.deliver_due() == 0
        drain(worker, issuer.store)
        [(authorization, _)] = failing.received
        assert authorization is None  # no token configured: no header
    finally:
        failing.close()


def test_an_unreachable_receiver_is_retried(issuer: Issuer, receiver: Receiver) -> None:
    issuer.certify("HealthProfessional", PAYLOAD, notify="*")
    closed = Receiver()
    closed.close()  # nothing listens there now
    worker = WebhookWorker(issuer.store, Callbacks({"*": Callback(closed.url)}), base_delay=0.05)
    worker.deliver_due()
    [row] = issuer.store.pending_notifications()
    assert row["lastError"].startswith(f"POST {closed.url} failed: ConnectError")
    worker.callbacks = Callbacks({"*": Callback(receiver.url)})  # the receiver is back, elsewhere
    drain(worker, issuer.store)
    assert len(receiver.received) == 1


def test_a_message_claimed_by_a_worker_that_died_is_delivered_after_its_lease(
    issuer: Issuer, receiver: Receiver
) -> None:
    issuer.certify("HealthProfessional", PAYLOAD, notify="*")
    [claimed] = issuer.store.claim_notifications(limit=5, lease=1.0, now=time.time())  # then "dies"
    worker = WebhookWorker(issuer.store, Callbacks({"*": Callback(receiver.url)}))
    assert worker.deliver_due() == 0  # still leased
    time.sleep(1.1)
    assert worker.deliver_due() == 1
    assert [b["transactionId"] for b in receiver.bodies()] == [json.loads(claimed.body)["transactionId"]]
    assert issuer.store.pending_notifications() == []


def test_two_workers_claim_different_messages(issuer: Issuer) -> None:
    for n in range(6):
        issuer.certify("HealthProfessional", {**PAYLOAD, "name": f"P{n}"}, notify="*")
    other = open_store(issuer.store.location if "://" not in issuer.store.location else _url(issuer))
    one = issuer.store.claim_notifications(limit=4, lease=60, now=time.time())
    two = other.claim_notifications(limit=4, lease=60, now=time.time())
    assert len(one) == 4 and len(two) == 2 and not {m.id for m in one} & {m.id for m in two}


def _url(issuer: Issuer) -> str:
    return str(getattr(issuer.store, "url"))  # noqa: B009 (PostgresStore's, not in the protocol)


def test_the_worker_thread_delivers_and_stops(issuer: Issuer, receiver: Receiver) -> None:
    worker = WebhookWorker(issuer.store, Callbacks({"*": Callback(receiver.url, TOKEN)}), poll=0.05)
    worker.start()
    try:
        made = [issuer.certify("HealthProfessional", {**PAYLOAD, "name": f"P{n}"}, notify="*") for n in range(5)]
        deadline = time.monotonic() + 20
        while len(receiver.received) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert sorted(b["transactionId"] for b in receiver.bodies()) == sorted(m.transaction_id for m in made)


def test_retry_delays_grow_to_a_cap_with_jitter(tmp_path: Path) -> None:
    worker = WebhookWorker(
        open_store(tmp_path / "s.db", status_url=BASE), Callbacks({}), base_delay=1.0, max_delay=60.0
    )
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (500, 60.0)]:
        delays = {worker.retry_delay(attempts) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1


# --- the callbacks file ------------------------------------------------------------------------------


def test_callbacks_name_entity_types_and_a_default(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.json"
    path.write_text(
        json.dumps(
            {
                "HealthProfessional": {"url": "https://tenant.example/hook", "tokenEnv": "HP_HOOK_TOKEN"},
                "*": {"url": "https://tenant.example/all"},
            }
        )
    )
    callbacks = load_callbacks(path, environ={"HP_HOOK_TOKEN": TOKEN})
    assert callbacks.by_name["HealthProfessional"] == Callback("https://tenant.example/hook", TOKEN)
    assert callbacks.target("HealthProfessional") == "HealthProfessional"
    assert callbacks.target("NoSuchType") == "*"
    assert Callbacks({"A": Callback("https://a.example/")}).target("B") is None


def test_a_token_in_a_file_only_its_owner_reads_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.json"
    path.write_text(json.dumps({"*": {"url": "https://t.example/", "token": "s3cret"}}))
    path.chmod(0o600)
    assert load_callbacks(path).by_name["*"] == Callback("https://t.example/", "s3cret")


@pytest.mark.parametrize(
    ("entry", "mode", "says"),
    [
        ({"url": "https://t.example/", "token": "s3cret"}, 0o644, "chmod 600"),
        ({"url": "https://t.example/", "tokenEnv": "UNSET_HOOK_TOKEN"}, 0o600, "$UNSET_HOOK_TOKEN, which is not set"),
        ({"url": "ftp://t.example/"}, 0o600, 'url "ftp://t.example/" is not an absolute https://'),
        ({"url": "https://t.example/", "secret": 1}, 0o600, "has secret"),
        ({"url": "https://t.example/", "token": "a", "tokenEnv": "B"}, 0o600, "gives token and tokenEnv"),
    ],
)
def test_a_callbacks_file_that_cannot_be_used_says_why(
    tmp_path: Path, entry: dict[str, Any], mode: int, says: str
) -> None:
    path = tmp_path / "callbacks.json"
    path.write_text(json.dumps({"HealthProfessional": entry}))
    path.chmod(mode)
    with pytest.raises(UnusableInputError) as caught:
        load_callbacks(path, environ={})
    assert says in str(caught.value) and str(path) in str(caught.value)


# --- a SIGKILL mid-run: nothing committed is lost, nothing uncommitted is sent ------------------------

_ISSUING = textwrap.dedent(
    """
    import json, sys
    from vccore import Ed25519Key, bundled_entity_types
    from vccore.errors import VccoreError
    from vccore.http.webhook import Callback, Callbacks, WebhookWorker
    from vccore.issuer import Issuer, new_transaction_id
    from vccore.store import notification, open_store

    location, url = sys.argv[1], sys.argv[2]
    hp = bundled_entity_types()["HealthProfessional"]
    payload = {k: v for k, v in hp.example.items() if k != "certificateId"}
    issuer = Issuer(signer=Ed25519Key.from_seed(bytes(range(32))), store=open_store(location))
    worker = WebhookWorker(issuer.store, Callbacks({"*": Callback(url, "tok")}), poll=0.01, base_delay=0.05,
                           timeout=1.0, lease=2.0)
    worker.start()
    n = 0
    while True:
        n += 1
        if n % 5 == 0:  # a refused request: its failure and its message, as the DIVOC route records them
            tid = new_transaction_id()
            message = notification("*", transaction_id=tid, certificate_id=None, status="UNSUCCESSFUL",
                                   payload={"n": n}, entity_type="HealthProfessional", at="2026-01-01T00:00:00Z")
            issuer.store.record_failure(tid, "HealthProfessional", None, {"code": "INVALID_PAYLOAD"},
                                        "2026-01-01T00:00:00Z", notify=message)
        else:
            tid = issuer.certify("HealthProfessional", {**payload, "name": f"P{n}"}, notify="*").transaction_id
        print(tid, flush=True)
    """
)


@pytest.mark.slow
def test_a_sigkill_loses_no_committed_message(store_location: str, tmp_path: Path) -> None:
    """A process certifies in a loop while its worker delivers (to a receiver that fails every
    third POST and is slow); it is killed mid-run. A new worker on the same store then delivers
    the rest: the receiver has every committed transaction, and none that was not committed.
    """
    Issuer(signer=KEY, store=open_store(store_location, status_url=BASE))
    flaky = Receiver(answers=[200, 200, 500] * 200, delay=0.01)
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _ISSUING, store_location, flaky.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert process.stdout is not None
        answered: list[str] = []
        deadline = time.monotonic() + 60
        # killed mid-run: once some messages were delivered by the process, and others were not
        while len(answered) < 40 or len(flaky.received) < 5:
            answered.append(process.stdout.readline().decode().strip())
            assert answered[-1] and time.monotonic() < deadline, process.stderr.read().decode()  # type: ignore[union-attr]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        store = open_store(store_location)
        committed = {row[0] for row in raw_rows(store_location, "SELECT transaction_id FROM certificates")}
        committed |= {row[0] for row in raw_rows(store_location, "SELECT transaction_id FROM failed_transactions")}
        assert set(answered) <= committed
        before = len(flaky.received)
        assert store.pending_notifications(), "the kill left nothing undelivered: the test shows nothing"
        # the messages the dead worker had claimed are claimed again once their lease runs out
        worker = WebhookWorker(store, Callbacks({"*": Callback(flaky.url, "tok")}), base_delay=0.05, lease=1.0)
        for row in store.pending_notifications():
            if row["nextAt"] > time.time():
                time.sleep(min(row["nextAt"] - time.time(), 60))
        drain(worker, store, seconds=120)
        received = {b["transactionId"] for b in flaky.bodies()}
        assert before > 0 and received == committed
        statuses = {b["transactionId"]: b["status"] for b in flaky.bodies()}
        assert {statuses[t] for t in answered[4::5]} == {"UNSUCCESSFUL"}
    finally:
        flaky.close()


# --- over HTTP: the DIVOC routes notify --------------------------------------------------------------


def test_every_certify_and_update_answered_over_http_reaches_the_receiver(
    store_location: str, receiver: Receiver
) -> None:
    from starlette.testclient import TestClient

    from vccore.http.app import create_app
    from vccore.http.auth import StaticTokenAuthorizer

    api_token = "a-static-api-token-for-tests"
    issuer = Issuer(signer=KEY, store=open_store(store_location, status_url=BASE))
    app = create_app(
        issuer,
        authorizer=StaticTokenAuthorizer(api_token),
        callbacks=Callbacks({"HealthProfessional": Callback(receiver.url, TOKEN), "*": Callback(receiver.url)}),
    )
    certify = "/vc-certification/v1/certify/"
    with TestClient(app, headers={"Authorization": f"Bearer {api_token}"}) as client:
        made = client.post(certify + "HealthProfessional", json=PAYLOAD).json()
        updated = client.put(
            certify + "HealthProfessional", json={**PAYLOAD, "certificateId": made["certificateId"]}
        ).json()
        refused = client.post(certify + "HealthProfessional", json={**PAYLOAD, "dob": "1991-13-01"}).json()
        unknown = client.post(certify + "NoSuchType", json=PAYLOAD).json()
        deadline = time.monotonic() + 20
        while len(receiver.received) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    by_id = {b["transactionId"]: (a, b) for a, b in receiver.received}
    assert by_id[made["transactionId"]][1]["status"] == "SUCCESSFUL"
    assert by_id[made["transactionId"]][0] == TOKEN
    assert by_id[updated["transactionId"]][1]["certificateId"] == updated["certificateId"]
    assert by_id[refused["transactionId"]][1]["status"] == "UNSUCCESSFUL"
    assert by_id[unknown["transactionId"]][1]["entityType"] == "NoSuchType"
    assert by_id[unknown["transactionId"]][0] is None  # the "*" callback has no token


@pytest.mark.slow
def test_a_sigkilled_server_loses_no_message_of_what_it_answered(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vccore serve --callbacks` certifies, updates and refuses over HTTP while a slow, flaky
    receiver takes its messages; it is SIGKILLed, and started again on the same store: the
    receiver then has a message for every transaction the store committed, and for no other."""
    from served import ServedProcess

    api_token = "a-static-api-token-for-tests"
    flaky = Receiver(answers=[200, 500] * 100, delay=0.05)
    monkeypatch.setenv("VCCORE_TEST_HOOK_TOKEN", TOKEN)
    callbacks = tmp_path / "callbacks.json"
    callbacks.write_text(json.dumps({"*": {"url": flaky.url, "tokenEnv": "VCCORE_TEST_HOOK_TOKEN"}}))
    options = ("--callbacks", str(callbacks))
    server = ServedProcess(tmp_path / "home", store_location, *options, token=api_token, status_url=BASE)
    answered: list[str] = []
    try:
        server.start()
        import httpx

        headers = {"Authorization": f"Bearer {api_token}"}
        certify = f"{server.url}/vc-certification/v1/certify/HealthProfessional"
        with httpx.Client(headers=headers, timeout=30) as http:
            last = None
            for n in range(30):
                if n % 6 == 5:
                    answer = http.post(certify, json={**PAYLOAD, "dob": "1991-13-01", "name": f"P{n}"})
                elif last is not None and n % 3 == 0:
                    answer = http.put(certify, json={**PAYLOAD, "name": f"P{n}", "certificateId": last})
                else:
                    answer = http.post(certify, json={**PAYLOAD, "name": f"P{n}"})
                answered.append(answer.json()["transactionId"])
                last = answer.json().get("certificateId", last)
        server.kill()
        committed = {row[0] for row in raw_rows(store_location, "SELECT transaction_id FROM certificates")}
        committed |= {row[0] for row in raw_rows(store_location, "SELECT transaction_id FROM failed_transactions")}
        assert set(answered) <= committed
        assert len({b["transactionId"] for b in flaky.bodies()}) < len(committed), "nothing was left to deliver"
        again = ServedProcess(tmp_path / "home", store_location, *options, token=api_token, status_url=None)
        again.start()
        try:
            deadline = time.monotonic() + 120  # a message the dead server had claimed waits out its lease
            while {b["transactionId"] for b in flaky.bodies()} != committed and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            again.stop()
        assert {b["transactionId"] for b in flaky.bodies()} == committed
        assert {a for a, _ in flaky.received} == {TOKEN}
    finally:
        server.stop()
        flaky.close()

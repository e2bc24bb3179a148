"""`GET /metrics` and the access log of `vccore serve` (issue 23, operations): the Prometheus text
format parsed by prometheus_client's own parser, counters that move with certify and verify,
and no personal data in the metrics or the log lines."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("prometheus_client")

from conftest import seed_request
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from vccore import Ed25519Key, open_store
from vccore.http import create_app
from vccore.http.auth import StaticTokenAuthorizer
from vccore.issuer import Issuer

KEY = Ed25519Key.from_seed(bytes(range(32)))
BASE = "https://issuer.example/status/"
TOKEN = "static-token-for-tests-0123456789"
NAME = "Zebulonia Quixwhistle"  # a name no route, metric or log line has any reason to hold
CERTIFICATE_ID = "987650001234"


def _payload() -> tuple[str, dict[str, Any]]:
    entity, body = seed_request()
    renewed = {"registrationExpiry": "2030-09-09", "validTill": "2030-09-09T21:01:01.121Z"}
    return entity, {**body, **renewed, "name": NAME, "certificateId": CERTIFICATE_ID}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE))
    with TestClient(
        create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN)), headers={"Authorization": f"Bearer {TOKEN}"}
    ) as test_client:
        yield test_client


def _samples(client: TestClient, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _certify_and_verify(client: TestClient) -> dict[str, Any]:
    entity, payload = _payload()
    certified = client.post(f"/vc-certification/v1/certify/{entity}", json=payload, headers={"X-Request-Id": "req-1"})
    assert certified.status_code == 200, certified.text
    credential: dict[str, Any] = client.get(
        f"/vc-certification/v1/certificate/{entity}/{CERTIFICATE_ID}", headers={"Accept": "application/json"}
    ).json()
    verified = client.post("/vc-certification/v1/certificate/verify", json=credential)
    assert verified.json()["certificateStatus"] == "VALID"
    return credential


def test_metrics_parse_and_count_certify_and_verify_by_outcome(client: TestClient) -> None:
    verify_route = "/vc-certification/v1/certificate/verify"
    certify_route = "/vc-certification/v1/certify/{entity}"
    before = _samples(client)
    assert _value(before, "vccore_certify_outcomes_total", route=certify_route, code="OK") == 0
    credential = _certify_and_verify(client)
    revoked = client.post(
        "/vc-certification/v1/certificate/revoke",
        json={"certificateId": CERTIFICATE_ID, "entityName": "HealthProfessional"},
    )
    assert revoked.status_code == 200, revoked.text
    assert client.post(verify_route, json=credential).json()["certificateStatus"] == "REVOKED"
    vc_api = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert vc_api.status_code == 400 and vc_api.json()["code"] == "REVOKED"
    refused = client.post("/vc-certification/v1/certify/HealthProfessional", json={"name": NAME})
    assert refused.status_code == 422 and refused.json()["code"] == "INVALID_PAYLOAD"
    assert client.post(verify_route, content=b"\xff").status_code == 400

    after = _samples(client)
    assert _value(after, "vccore_certify_outcomes_total", route=certify_route, code="OK") == 1
    assert _value(after, "vccore_certify_outcomes_total", route=certify_route, code="INVALID_PAYLOAD") == 1
    assert _value(after, "vccore_verify_outcomes_total", route=verify_route, code="VALID") == 1
    assert _value(after, "vccore_verify_outcomes_total", route=verify_route, code="REVOKED") == 1
    assert _value(after, "vccore_verify_outcomes_total", route=verify_route, code="MALFORMED_REQUEST") == 1
    assert _value(after, "vccore_verify_outcomes_total", route="/credentials/verify", code="REVOKED") == 1
    assert _value(after, "vccore_http_requests_total", method="POST", route=certify_route, status="200") == 1
    assert _value(after, "vccore_http_requests_total", method="POST", route=verify_route, status="200") == 2
    # the latency histogram: its buckets, +Inf holding every request of the route
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in after.items()
        if name == "vccore_http_request_duration_seconds_bucket" and ("route", verify_route) in labels
    }
    assert {"0.001", "0.01", "0.1", "1.0", "+Inf"} <= set(buckets)
    assert buckets["+Inf"] == 3
    # the store's calls and the status list signing were timed (the verify read the lists)
    assert _value(after, "vccore_store_call_duration_seconds_count", call="get") >= 1
    assert _value(after, "vccore_store_call_duration_seconds_count", call="transaction") >= 1
    assert _value(after, "vccore_status_list_signing_duration_seconds_count") >= 1


def test_metrics_labels_are_route_templates_never_ids_or_names(client: TestClient) -> None:
    _certify_and_verify(client)
    client.get(f"/vc-certification/v1/certificate/HealthProfessional/{CERTIFICATE_ID}?who={NAME}")
    client.get(f"/no/such/{CERTIFICATE_ID}")
    text = client.get("/metrics").text
    assert CERTIFICATE_ID not in text and NAME not in text and "Zebulonia" not in text
    assert 'route="/vc-certification/v1/certificate/{entity}/{certificate}"' in text
    assert 'route="unmatched",status="404"' in text


def test_each_app_counts_its_own_requests(tmp_path: Path) -> None:
    """A registry per app: two apps in one process neither collide nor share counts."""
    apps = [
        TestClient(
            create_app(
                Issuer(signer=KEY, store=open_store(tmp_path / f"{n}.db", status_url=BASE)),
                authorizer=StaticTokenAuthorizer(TOKEN),
            )
        )
        for n in range(2)
    ]
    for _ in range(3):
        apps[0].get("/health")
    counts = [
        _value(_samples(app), "vccore_http_requests_total", method="GET", route="/health", status="200") for app in apps
    ]
    assert counts == [3, 0]


def test_metrics_token_when_one_is_given(tmp_path: Path) -> None:
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE))
    client = TestClient(
        create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN), metrics_token="metrics-token-0123456789")
    )
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    assert _samples(client, Authorization="Bearer metrics-token-0123456789")


def test_access_log_has_one_line_per_request_without_personal_data(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="vccore.access"):
        entity, payload = _payload()
        certified = client.post(
            f"/vc-certification/v1/certify/{entity}?note={NAME}", json=payload, headers={"X-Request-Id": "req-42"}
        )
        transaction_id = certified.json()["transactionId"]
        client.get(f"/vc-management/v1/transaction/{transaction_id}")
        client.get(
            f"/vc-certification/v1/certificate/{entity}/{CERTIFICATE_ID}", headers={"Accept": "application/json"}
        )
        client.post(f"/vc-certification/v1/certify/{entity}", json={"name": NAME}, headers={"X-Request-Id": "bad id\n"})
        client.get("/health")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "vccore.access"]
    assert len(lines) == 5
    first, transaction, fetched, refused, health = lines
    assert first["method"] == "POST" and first["route"] == "/vc-certification/v1/certify/{entity}"
    assert first["status"] == 200 and first["code"] == "OK" and isinstance(first["ms"], float)
    assert first["transactionId"] == transaction_id and first["requestId"] == "req-42"
    assert transaction["route"] == "/vc-management/v1/transaction/{transaction}"
    assert transaction["transactionId"] == transaction_id
    assert fetched["route"] == "/vc-certification/v1/certificate/{entity}/{certificate}" and "code" not in fetched
    assert refused["status"] == 422 and refused["code"] and "requestId" not in refused  # an unsafe id is left out
    assert health == {"method": "GET", "route": "/health", "status": 200, "ms": health["ms"]}
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (NAME, "Zebulonia", CERTIFICATE_ID, TOKEN, "note=", payload["registrationId"]):
        assert secret not in everything


_WORKER = """
import sys
from pathlib import Path
from starlette.testclient import TestClient
from vccore import Ed25519Key, open_store
from vccore.http import create_app
from vccore.http.auth import StaticTokenAuthorizer
from vccore.issuer import Issuer

store = open_store(Path(sys.argv[1]), status_url="https://issuer.example/status/")
client = TestClient(create_app(Issuer(signer=Ed25519Key.from_seed(bytes(32)), store=store), authorizer=StaticTokenAuthorizer("t" * 20)))
for _ in range(int(sys.argv[2])):
    client.get("/health")
if sys.argv[2] == "0":
    print(client.get("/metrics").text)
"""


def test_with_a_multiprocess_folder_metrics_sum_every_worker(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR (docs/http.md): each worker process counts in files of its own
    there, and /metrics answers the sum over them (here two workers that served, then a third)."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for number, count in enumerate((3, 4, 0)):
        done = subprocess.run(
            [sys.executable, "-c", _WORKER, str(tmp_path / "vccore.db"), str(count)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert done.stderr == "" or "Warning" in done.stderr, done.stderr
        if number == 2:
            text = done.stdout
    health = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "vccore_http_requests_total" and sample.labels.get("route") == "/health"
    ]
    assert health == [7]
    assert len(list(folder.iterdir())) >= 3  # each worker's own files

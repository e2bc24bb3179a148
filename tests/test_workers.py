"""``vccore serve --workers 2`` (issue 23): one port, two processes. A revoke through one worker
is seen at once by a verify through the other; SIGTERM during load loses no answered certify and
answers none it did not commit; every store invariant holds after."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import ServedProcess
from store_invariants import check_store

from vccore import bundled_entity_types
from vccore.key_files import load_key

HP = bundled_entity_types()["HealthProfessional"]
TOKEN = "workers-token-0123456789abcdef"
BASE = "https://issuer.example/status/"
CERTIFY = "/vc-certification/v1/certify/HealthProfessional"
VERIFY = "/vc-certification/v1/certificate/verify"
assert HP.example is not None
PAYLOAD = {k: v for k, v in HP.example.items() if k != "certificateId"} | {
    "registrationExpiry": "2099-09-09",
    "validTill": "2099-09-09T21:01:01.121Z",
}

pytestmark = pytest.mark.slow  # processes started and signalled


def _served(tmp_path: Path, store_location: str) -> ServedProcess:
    served = ServedProcess(tmp_path / "home", store_location, "--workers", "2", token=TOKEN, status_url=BASE)
    served.start()
    return served


def _fresh(served: ServedProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a connection of its own (so that the two workers share the requests)."""
    with httpx.Client(base_url=served.url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        return http.request(method, path, **kwargs)


def _workers(served: ServedProcess) -> list[int]:
    assert served.process is not None
    found = subprocess.run(["pgrep", "-P", str(served.process.pid)], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


def _status(answer: dict[str, Any]) -> str:
    status = answer["status"]
    return str(status["certificateStatus"] if isinstance(status, dict) else status)


def test_a_revoke_through_one_worker_is_seen_by_the_others_verify_at_once(tmp_path: Path, store_location: str) -> None:
    served = _served(tmp_path, store_location)
    try:
        assert len(_workers(served)) == 2
        made = _fresh(served, "POST", CERTIFY, json={**PAYLOAD, "name": "Revoked Soon"}).json()
        credential = _fresh(
            served, "GET", f"/vc-certification/v1/certificate/HealthProfessional/{made['certificateId']}"
        )
        signed = credential.json()["credential"] if "credential" in credential.json() else credential.json()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:  # both workers sign and keep the list
            before = list(pool.map(lambda _: _fresh(served, "POST", VERIFY, json=signed).json(), range(32)))
        assert {_status(answer) for answer in before} == {"VALID"}, before[:2]
        revoked = _fresh(
            served,
            "POST",
            "/vc-certification/v1/certificate/revoke",
            json={"certificateId": made["certificateId"], "entityName": "HealthProfessional"},
        )
        assert revoked.status_code == 200, revoked.text
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            after = list(pool.map(lambda _: _fresh(served, "POST", VERIFY, json=signed).json(), range(48)))
        assert {_status(answer) for answer in after} == {"REVOKED"}, [_status(a) for a in after]
    finally:
        served.stop()


def test_sigterm_during_load_loses_no_answered_certify(tmp_path: Path, store_location: str) -> None:
    served = _served(tmp_path, store_location)
    answered: dict[str, str] = {}
    failed = 0

    def certify(n: int) -> None:
        nonlocal failed
        try:
            answer = _fresh(served, "POST", CERTIFY, json={**PAYLOAD, "name": f"Load {n}"})
        except httpx.HTTPError:
            failed += 1  # refused or cut: not answered, so not promised
            return
        if answer.status_code == 200:
            answered[answer.json()["certificateId"]] = answer.json()["transactionId"]
        else:
            failed += 1

    assert served.process is not None
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(certify, n) for n in range(400)]
        while len(answered) < 40:
            time.sleep(0.01)
        served.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        concurrent.futures.wait(futures)
    assert served.process.wait(timeout=60) == 0
    print(f"\n{len(answered)} answered, {failed} not, exit {time.monotonic() - started:.1f} s after SIGTERM")
    assert 40 <= len(answered) < 400
    check_store(
        store_location, signer=load_key(tmp_path / "home" / "key.json"), now=datetime.now(UTC), answered=answered
    )


def test_a_certify_answered_is_stored_after_sigkill_of_every_worker(tmp_path: Path, store_location: str) -> None:
    """Group commit answers a certify only once its credential is stored: every worker and the
    parent SIGKILLed during load, every certify answered 200 is in the store."""
    served = _served(tmp_path, store_location)
    answered: dict[str, str] = {}
    cut = 0

    def certify(n: int) -> None:
        nonlocal cut
        try:
            answer = _fresh(served, "POST", CERTIFY, json={**PAYLOAD, "name": f"Killed {n}"})
        except httpx.HTTPError:
            cut += 1
            return
        if answer.status_code == 200:
            answered[answer.json()["certificateId"]] = answer.json()["transactionId"]

    assert served.process is not None
    everyone = [served.process.pid, *_workers(served)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(certify, n) for n in range(600)]
        while len(answered) < 60:
            time.sleep(0.005)
        for pid in everyone:
            os.kill(pid, signal.SIGKILL)
        concurrent.futures.wait(futures)
    served.process.wait(timeout=30)
    print(f"\n{len(answered)} answered before the kill, {cut} cut")
    assert 60 <= len(answered) < 600 and cut > 0
    check_store(
        store_location, signer=load_key(tmp_path / "home" / "key.json"), now=datetime.now(UTC), answered=answered
    )


def test_an_entity_type_made_through_one_worker_is_served_by_every_worker_at_once(
    tmp_path: Path, store_location: str
) -> None:
    """A tenant's schema made through DIVOC's schema route, on one connection (one worker): at
    once, 24 certify requests of that type on fresh connections (both workers) all succeed."""
    from test_divoc_schemas import NAME, create, tenant_record, upload_context
    from test_divoc_schemas import PAYLOAD as TENANT_PAYLOAD

    served = _served(tmp_path, store_location)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=served.url, timeout=60) as http:
            create(http, tenant_record(upload_context(http, headers=auth)), headers=auth)  # type: ignore[arg-type]

        def certify(n: int) -> int:
            payload = {**TENANT_PAYLOAD, "certificateId": f"tc-{n}"}
            answer = _fresh(served, "POST", f"/vc-certification/v1/certify/{NAME}", json=payload)
            return answer.status_code if "certificateId" in answer.json() else 404

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(certify, range(24)))
        assert codes == [200] * 24, codes
    finally:
        served.stop()

"""Status positions over 100,000 issued credentials (slow: run with VCCORE_SLOW_TESTS=1; CI does)."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vccore import Ed25519Key, bundled_entity_types
from vccore.issuer import Issuer
from vccore.store import LIST_SIZE, SQLiteStore

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("VCCORE_SLOW_TESTS"), reason="slow (minutes): set VCCORE_SLOW_TESTS=1"),
]


def test_positions_are_unique_across_100000_issued_credentials(tmp_path: Path) -> None:
    entity = bundled_entity_types()["HealthProfessional"]
    assert entity.example is not None
    payload = {k: v for k, v in entity.example.items() if k != "certificateId"}
    # eddsa-jcs-2022: the cheapest real signature; the positions do not depend on the suite.
    issuer = Issuer(
        signer=Ed25519Key.from_seed(bytes(32)),
        store=SQLiteStore(tmp_path / "scale.db", status_url="https://issuer.example/status/"),
        suite="eddsa-jcs-2022",
    )
    now = datetime(2024, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    for _ in range(100_000):
        issuer.certify(entity, payload, now=now)
    elapsed = time.perf_counter() - started
    # fill the first list set and spill into the second
    with issuer.store.transaction() as tx:
        for _ in range(LIST_SIZE - 100_000):
            tx.allocate_status_position()
    for _ in range(10):
        issuer.certify(entity, payload, now=now)
    with sqlite3.connect(tmp_path / "scale.db") as connection:
        rows = connection.execute(
            "SELECT certificate_id, status_list, status_index, credential FROM certificates"
        ).fetchall()
    assert len(rows) == 100_010
    assert len({(row[1], row[2]) for row in rows}) == 100_010
    assert len({row[0] for row in rows}) == 100_010
    assert {row[1] for row in rows} == {0, 1}
    # and each credential carries the position the store recorded
    for _, status_list, status_index, credential in rows[::997]:
        assert f'"statusListIndex":"{status_index}"' in credential
        assert f"/status/{status_list}/revocation" in credential
    print(f"100,000 credentials certified in {elapsed:.0f} s ({100_000 / elapsed:.0f}/s, eddsa-jcs-2022, SQLite)")

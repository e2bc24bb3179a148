"""The floor under `vccore issue --batch` with one worker: its stages, each measured alone.

What one process on one core cannot do in less time, whatever the batch's own bookkeeping:

- start: a one-line ``issue --batch`` (interpreter, imports, entity types, key, store, compiled
  shape), the best of three;
- the core: ``count`` credentials at the rate ``Issuer.make_credential`` gets in the same round;
- the store: the batch's credentials recorded as the batch records them (``insert_many`` of
  chunks of :data:`vccore.batch.CHUNK_LINES`, each with its idempotency key, one transaction and
  commit each) into a new SQLite store, with no signing;
- reading: the input's lines read and parsed as the batch parses them;
- writing: the credential lines written a chunk at a time, and one fsync.

The wall times sum to a floor with every wait for the disk in it; the CPU times (start and the
core are all CPU here) to a floor with every such wait hidden behind signing. Used by
``benchmarks.batch`` (``--against``) for each round; SQLite only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vccore.batch import CHUNK_LINES, _joined, _parse_object
from vccore.store import Record, SQLiteStore


def stage_floors(
    folder: Path, source: Path, credentials: Path, core_per_s: float, one_line: Callable[[Path], float]
) -> dict[str, float]:
    """The stages' seconds (``*_seconds``: wall, ``*_cpu_seconds``: CPU) and the two floors as a share of
    ``core_per_s`` (``floor_of_core``: wall, ``floor_cpu_of_core``: the disk's waits hidden).
    ``one_line(source)`` runs a batch of that one-line file and gives its seconds.
    """
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "one-line.jsonl"
    with source.open("rb") as stream:
        first.write_bytes(stream.readline())
    start = min(one_line(first) for _ in range(3))
    lines = credentials.read_text(encoding="utf-8").splitlines()
    count = len(lines)
    store_s, store_cpu_s = _timed(_store_alone(folder / "floor.db", lines))
    read_s, read_cpu_s = _timed(lambda: _read_alone(source))
    write_s, write_cpu_s = _timed(lambda: _write_alone(folder / "floor-out.jsonl", lines))
    core_s = count / core_per_s
    wall = start + core_s + store_s + read_s + write_s
    cpu = start + core_s + store_cpu_s + read_cpu_s + write_cpu_s
    return {
        "start_seconds": start,
        "core_seconds": core_s,
        "store_seconds": store_s,
        "store_cpu_seconds": store_cpu_s,
        "read_seconds": read_s,
        "read_cpu_seconds": read_cpu_s,
        "write_seconds": write_s,
        "write_cpu_seconds": write_cpu_s,
        "floor_of_core": count / wall / core_per_s,
        "floor_cpu_of_core": count / cpu / core_per_s,
    }


def _timed(work: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _store_alone(path: Path, lines: list[str]) -> Callable[[], None]:
    """The work of recording ``lines`` in a new store, made ready (records and keys built) but
    not run."""
    stamp = "2024-06-01T00:00:00Z"
    records = [
        (
            Record(
                f"floor-{n}",
                f"t-{n}",
                "HealthProfessional",
                json.loads(line),
                0,
                n,
                "VALID",
                stamp,
                stamp,
                credential_json=line,
            ),
            f"0123456789abcdef0123456789abcdef:{n + 1}",
        )
        for n, line in enumerate(lines)
    ]
    store = SQLiteStore(path, status_url="https://issuer.example/status/")
    store.count()  # made, its schema written: not timed

    def record() -> None:
        try:
            for start in range(0, len(records), CHUNK_LINES):
                with store.transaction() as tx:
                    tx.insert_many(records[start : start + CHUNK_LINES])
        finally:
            store.close()

    return record


def _read_alone(source: Path) -> None:
    with source.open("rb") as stream:
        for line in stream:
            if line.strip():
                _parse_object(line, "payload")  # as the batch parses a line


def _write_alone(path: Path, lines: list[str]) -> None:
    with path.open("wb") as stream:
        for start in range(0, len(lines), CHUNK_LINES):
            stream.write(_joined(lines[start : start + CHUNK_LINES]))  # as the batch joins a chunk
        stream.flush()
        os.fsync(stream.fileno())

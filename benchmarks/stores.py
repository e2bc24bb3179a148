"""What the store-bound benchmarks (batch.py, server.py) share: the store to run on, where the
results go, and the machine they came from."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

RESULTS = Path(__file__).parent / "results"
STORES = ("sqlite", "postgresql")
T = TypeVar("T")


def compile_vccore() -> None:
    """Write vccore's bytecode before the commands are timed, as an installed copy has it (pip
    compiles at install). vccore is installed editable here, and this machine's environment sets
    PYTHONDONTWRITEBYTECODE: every command then compiled all of vccore from source as it
    started, 0.10-0.11 s of a 0.37 s start (measured by hand, 2026-12-02), which no user pays twice.
    """
    import compileall

    import vccore

    compileall.compile_dir(Path(vccore.__file__).parent, quiet=1)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def on_store(kind: str, work: Callable[[Callable[[], str | None]], T]) -> T:
    """``work(new_store)``: ``new_store()`` gives a new store to run on: None for the SQLite file
    of the run's home folder, or the URL of a new database on a throwaway PostgreSQL server
    (tests/pgserver.py, fsync and synchronous commits on, as in production), started and stopped
    around ``work``."""
    if kind == "sqlite":
        return work(lambda: None)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import pgserver

    reason = pgserver.unavailable()
    if reason is not None:
        raise SystemExit(f"--store postgresql: {reason}")
    with pgserver.running(durable=True) as server:
        return work(server.new_database)


def write_results(stem: str, kind: str, results: dict[str, Any]) -> Path:
    """benchmarks/results/STEM.json (STEM-postgresql.json for that store)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / (f"{stem}.json" if kind == "sqlite" else f"{stem}-{kind}.json")
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return path

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pgserver
import pytest
from hypothesis import HealthCheck, settings

VECTORS = Path(__file__).parent / "vectors"

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CI: the same examples on every run, so that a red build can be reproduced.
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True, max_examples=200)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def load_json(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


def load_text(relative: str) -> str:
    return (VECTORS / relative).read_text(encoding="utf-8")


def seed_request() -> tuple[str, dict[str, Any]]:
    """The seed page's sample URL's entity name and its request body, read off the page as it is."""
    page = load_text("divoc/update-certificates-api.txt")
    sample_url = next(line for line in page.splitlines() if "Sample URL:" in line)
    start = page.index("Request Body")
    return sample_url.rsplit("/", 1)[1].strip(), json.loads(page[page.index("{", start) : page.index("}", start) + 1])


@pytest.fixture
def vectors() -> Path:
    return VECTORS


# --- stores: every store test runs on SQLite and on PostgreSQL ------------------------------------

STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """A throwaway PostgreSQL server for the session (skipped, with the reason, where there are no
    server binaries, unless VCCORE_REQUIRE_POSTGRES is set, as CI sets it)."""
    yield from pgserver.for_tests()


@pytest.fixture(params=STORES)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new, empty store is: an SQLite file, or a new database on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "vccore.db")
    server: pgserver.Server = request.getfixturevalue("pg_server")
    return server.new_database()


def raw_rows(location: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query run on the store's own database, past vccore (what a test checks
    vccore against)."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location) as connection:
            return [tuple(row) for row in connection.execute(sql).fetchall()]
    import sqlite3

    with contextlib.closing(sqlite3.connect(location)) as connection:
        return connection.execute(sql).fetchall()


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CUSTOM_CONTEXT = "https://example.org/contexts/training/v1"


def custom_type_folder(parent: Path, name: str = "Trainee") -> Path:
    """A folder of entity types holding one type that ships with no vccore: HealthProfessional
    copied under another name, its context pinned at a URL vccore does not bundle."""
    import shutil

    folder = parent / "types" / name
    shutil.copytree(TEMPLATES / "HealthProfessional", folder)
    for path in folder.glob("*.json"):
        path.write_text(
            path.read_text().replace("https://vccore.dev/credentials/health-professional/v1", CUSTOM_CONTEXT)
        )
    manifest = json.loads((folder / "entity.json").read_text())
    manifest.update(name=name, aliases=[])
    (folder / "entity.json").write_text(json.dumps(manifest))
    return folder.parent

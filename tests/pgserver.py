"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, pg_ctl start on a
free loopback port, a new database per test, everything deleted at the end.

The server binaries are found through ``VCCORE_PG_BINDIR``, then ``pg_ctl`` on the PATH, then
Debian's ``/usr/lib/postgresql/<version>/bin`` (where Debian's postgresql package puts them, off
the PATH). initdb refuses to run as root: as root, the server runs as the ``postgres`` user
(which Debian's package creates), in a folder given to it.

The server is tuned for tests (no fsync: its data dies with it); what the tests kill is vccore's
processes, never the server.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def bindir() -> Path | None:
    """The folder of initdb and pg_ctl, or None."""
    given = os.environ.get("VCCORE_PG_BINDIR")
    if given:
        return Path(given)
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def unavailable() -> str | None:
    """Why a server cannot be started here (a skip reason), or None."""
    found = bindir()
    if found is None or not (found / "initdb").exists():
        return "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set VCCORE_PG_BINDIR"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    return None


class Server:
    """One running throwaway server."""

    def __init__(self, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        """``durable``: fsync and synchronous commits on, as in production (for benchmarks).
        ``settings``: the server's own defaults, given as ``-c name=value`` after the test tuning
        (so they win over it), as an operator's postgresql.conf would set them.
        """
        found = bindir()
        assert found is not None
        self.bin = found
        self.root = Path(tempfile.mkdtemp(prefix="vccore-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._names = itertools.count()
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self._options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c max_connections=200"
            + ("" if durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            + "".join(f" -c {name}={_quoted(value)}" for name, value in (settings or {}).items())
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            self._options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        completed = subprocess.run(
            [str(self.bin / program), *args],
            user=self._user,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        if completed.returncode != 0:
            log = self.root / "server.log"
            raise RuntimeError(
                f"{program} failed ({completed.returncode}): {completed.stdout}\n{log.read_text() if log.exists() else ''}"
            )

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"vccore_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def restart(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: ending every session, as an operator's restart does;
        ``immediate``: a crash, recovered from the WAL on start) and start it again."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", self._options, "-l", str(self.root / "server.log"), "-w", "start"
        )

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and its children."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        return [postmaster, *map(int, children)]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def for_tests(*, durable: bool = False, settings: dict[str, str] | None = None) -> Iterator[Server]:
    """A fixture's body: a running server, or the test skipped with the reason there is none
    (failed instead when VCCORE_REQUIRE_POSTGRES is set, as CI sets it)."""
    import pytest

    reason = unavailable()
    if reason is not None:
        if os.environ.get("VCCORE_REQUIRE_POSTGRES"):
            pytest.fail(f"VCCORE_REQUIRE_POSTGRES is set but no PostgreSQL server can start: {reason}")
        pytest.skip(f"PostgreSQL tests: {reason}")
    with running(durable=durable, settings=settings) as server:
        yield server


@contextlib.contextmanager
def running(*, durable: bool = False, settings: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(durable=durable, settings=settings)
    try:
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _quoted(value: str) -> str:
    """A setting's value as pg_ctl -o passes it to postgres (a shell word: spaces quoted)."""
    return "'" + value.replace("'", "'\\''") + "'" if " " in value or "'" in value else value

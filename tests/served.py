"""`vccore serve` in a process of its own, on a free loopback port, for the tests that talk to it
over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServedProcess:
    """`vccore serve` with a static API token (``options``: more of its command line;
    ``status_url``: its --status-url, or none given)."""

    def __init__(self, home: Path, store: str | None, *options: str, token: str, status_url: str | None) -> None:
        self.home, self.store, self.options = home, store, options
        self.token, self.status_url = token, status_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "VCCORE_API_TOKEN": self.token}
        command = [sys.executable, "-m", "vccore", "serve", "--port", str(self.port), "--home", str(self.home)]
        command += ["--store", self.store] if self.store is not None else []
        command += ["--status-url", self.status_url] if self.status_url is not None else []
        self.process = subprocess.Popen(
            # one worker unless the test asks for more: the tests that count on one process's
            # state (a webhook thread, a log) were written for one
            [*command, "--log-level", "warning", "--workers", "1", *self.options],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vccore serve exited: {self.process.communicate()[1].decode()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("vccore serve did not come up in 60 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> str:
        """Stop it; what it wrote on standard error."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode("utf-8", "replace")

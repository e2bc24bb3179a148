"""Client for the Node.js interop harness in interop/js/vcjs.mjs.

The harness wraps Digital Bazaar's JS VC stack and speaks JSON Lines over
stdin/stdout, so tests can sign in one implementation and verify in the other.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

REPO_ROOT = Path(__file__).resolve().parent.parent
JS_DIR = REPO_ROOT / "interop" / "js"
SCRIPT = JS_DIR / "vcjs.mjs"
DEFAULT_TIMEOUT = 60.0


def available() -> str | None:
    """Return None if the harness can run, else why not (a pytest skip reason)."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (JS_DIR / "node_modules").is_dir():
        return f"{JS_DIR / 'node_modules'} is missing (run `npm ci` in {JS_DIR})"
    return None


def requires_js() -> Any:
    """The mark of a test that needs the harness: skipped where it cannot run, unless
    VCCORE_REQUIRE_INTEROP is set (as CI sets it), where the test fails instead."""
    import pytest

    missing = available()
    required = bool(os.environ.get("VCCORE_REQUIRE_INTEROP"))
    return pytest.mark.skipif(missing is not None and not required, reason=f"JS interop stack unavailable: {missing}")


def running_harness() -> Iterator[JsInterop]:
    """A fixture's body: the harness, running (the test fails where it cannot run)."""
    import pytest

    missing = available()
    if missing is not None:
        pytest.fail(f"VCCORE_REQUIRE_INTEROP is set but the JS stack is unavailable: {missing}")
    with JsInterop() as harness:
        yield harness


def js_key(key: Any) -> dict[str, str]:
    """An Ed25519 key as the harness's sign request takes it."""
    return {
        "id": key.id,
        "controller": key.controller,
        "publicKeyMultibase": key.public_key_multibase,
        "secretKeyMultibase": key.secret_key_multibase,
    }


class JsInteropError(RuntimeError):
    """The harness process died, hung, or answered with something unreadable."""


class JsInterop:
    """One long-running `node vcjs.mjs` process; `call` sends a request."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        node = shutil.which("node")
        if node is None:
            raise JsInteropError("node is not on PATH")
        self.timeout = timeout
        self._proc = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        # Reader threads make a timeout possible (a blocking readline cannot
        # time out) and keep a full stderr pipe from stalling node.
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        assert self._proc.stdout is not None and self._proc.stderr is not None
        threading.Thread(target=self._pump_stdout, args=(self._proc.stdout,), daemon=True).start()
        self._stderr_thread = threading.Thread(target=self._pump_stderr, args=(self._proc.stderr,), daemon=True)
        self._stderr_thread.start()

    def _pump_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)  # EOF: node exited

    def _pump_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line)

    def _failure(self, what: str) -> JsInteropError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=1)
        self._stderr_thread.join(timeout=1)  # let it collect node's last words
        stderr = "".join(self._stderr).strip() or "(empty)"
        return JsInteropError(f"{what} (exit code {self._proc.returncode}); node stderr:\n{stderr}")

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return the harness's JSON response."""
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            raise JsInteropError("the harness is closed")
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise self._failure(f"node harness is not accepting input: {exc}") from exc
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            raise self._failure(f"no answer from node harness within {self.timeout} s") from None
        if line is None:
            raise self._failure("node harness exited")
        try:
            response = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JsInteropError(f"unreadable answer from node harness: {line!r}") from exc
        if not isinstance(response, dict):
            raise JsInteropError(f"unexpected answer from node harness: {line!r}")
        return response

    def close(self) -> None:
        """Close stdin (the harness then exits) and reap the process."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

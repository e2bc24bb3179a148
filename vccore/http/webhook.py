"""The tenant webhook: DIVOC's post-certify message, delivered at least once from the store's outbox.

After every certify or update, successful or not, DIVOC posts ``{transactionId, certificateId,
status, payload, entityType}`` to the tenant's ``callbackUrl`` with the header ``Authorization:
<callbackToken>`` (``backend/vc-certify-consumer/main.js``, ``sendTransactionDetails``; the
token as it is, no ``Bearer``). DIVOC posts once and logs a failure; here each message is
committed to the store's outbox with what it tells (:mod:`vccore.store`), and a
:class:`WebhookWorker` posts it until the receiver answers 2xx, retrying with capped exponential
backoff and jitter. A message claimed by a worker that died is claimed again once its lease runs
out: a receiver may see a message twice (its transactionId tells), never not at all.

Where messages go: :class:`Callbacks`, read from a JSON file (``vccore serve --callbacks FILE``)
mapping an entity type's name, or ``*`` for every other, to ``{"url": ..., "token": ...}`` or
``{"url": ..., "tokenEnv": "NAME"}`` (the token read from that environment variable). DIVOC keeps
one callback per tenant; vccore's entity types stand for its tenants' schemas.
"""

from __future__ import annotations

import json
import logging
import os
import random
import stat
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from ..errors import UnusableInputError
from ..store import OutboxMessage, Store

__all__ = ["Callback", "Callbacks", "WebhookWorker", "load_callbacks"]

ANY_TYPE: Final = "*"
"""The callbacks' entry for every entity type that has none of its own (unknown names too)."""

_log: Final = logging.getLogger("vccore.http.webhook")


@dataclass(frozen=True, slots=True)
class Callback:
    """Where one webhook goes: ``url``, and the ``Authorization`` header's value (None: none sent)."""

    url: str
    token: str | None = None


@dataclass(frozen=True)
class Callbacks:
    """Entity type name (or ``*``) -> :class:`Callback`."""

    by_name: Mapping[str, Callback]

    def target(self, entity_type: str) -> str | None:
        """The callback a request for ``entity_type`` notifies (its name), or None: no webhook."""
        if entity_type in self.by_name:
            return entity_type
        return ANY_TYPE if ANY_TYPE in self.by_name else None

    def __bool__(self) -> bool:
        return bool(self.by_name)


def load_callbacks(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Callbacks:
    """The callbacks in the JSON file at ``path`` (see the module). A ``token`` in the file needs a
    file only its owner reads (mode 0600), as the API token does; ``tokenEnv`` keeps it out. A file
    that cannot be used raises :class:`~vccore.errors.UnusableInputError` naming the entry and the fix.
    """
    environ = os.environ if environ is None else environ
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
        mode = stat.S_IMODE(where.stat().st_mode)
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInputError(f"cannot read the callbacks file {where}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UnusableInputError(f"the callbacks file {where} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UnusableInputError(
            f'the callbacks file {where} is a JSON object: {{"EntityType": {{"url": "https://...", "tokenEnv": "NAME"}}}}'
        )
    found: dict[str, Callback] = {}
    for name, entry in data.items():
        found[name] = _callback(where, name, entry, mode, environ)
    return Callbacks(found)


def _callback(where: Path, name: str, entry: Any, mode: int, environ: Mapping[str, str]) -> Callback:
    at = f"{where}: {name}"
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise UnusableInputError(
            f'{at} is {{"url": "https://...", "token": "..."}} or {{"url": ..., "tokenEnv": "NAME"}}'
        )
    unknown = sorted(set(entry) - {"url", "token", "tokenEnv"})
    if unknown:
        raise UnusableInputError(f"{at} has {', '.join(unknown)}: an entry takes url, and token or tokenEnv")
    url = entry["url"]
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnusableInputError(f"{at}: url {json.dumps(url)} is not an absolute https:// (or http://) URL")
    if "token" in entry and "tokenEnv" in entry:
        raise UnusableInputError(f"{at} gives token and tokenEnv: give one")
    token = entry.get("token")
    if "tokenEnv" in entry:
        variable = entry["tokenEnv"]
        if not isinstance(variable, str) or not environ.get(variable):
            raise UnusableInputError(f"{at}: tokenEnv names ${variable}, which is not set: export it, or drop tokenEnv")
        token = environ[variable]
    elif token is not None:
        if not isinstance(token, str) or not token:
            raise UnusableInputError(f"{at}: token is a non-empty string")
        if os.name == "posix" and mode & 0o077:
            raise UnusableInputError(
                f"{where} has mode {mode:04o} and holds a token: others than its owner may read it; "
                f"chmod 600 {where}, or name an environment variable with tokenEnv"
            )
    return Callback(url, token)


class WebhookWorker:
    """Delivers the store's outbox in a thread of its own (never on the event loop): claims due
    messages for ``lease`` seconds, posts each to its callback, deletes it on 2xx, and on anything
    else (another status, a refused connection, a timeout) makes it due again after a delay of
    ``base_delay * 2**(attempts - 1)`` seconds, at most ``max_delay``, of which a random half is
    taken off (so that retries from many messages spread out).

    A message whose callback is not in ``callbacks`` (the file changed) waits, retried as a failure.
    """

    def __init__(
        self,
        store: Store,
        callbacks: Callbacks,
        *,
        timeout: float = 5.0,
        lease: float | None = None,
        batch: int = 4,
        poll: float = 0.5,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        client: httpx.Client | None = None,
    ) -> None:
        """``timeout``: of one POST. ``lease``: how long a claim holds (default: long enough for a
        whole ``batch`` of timeouts, and 10 s more: 30 s; a server killed mid-delivery has its
        messages posted again that long after it restarts). ``poll``: how often the outbox is looked at.
        """
        self.store = store
        self.callbacks = callbacks
        self.timeout = timeout
        self.batch = batch
        self.lease = lease if lease is not None else batch * timeout + 10.0
        self.poll = poll
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._client = client
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Deliver in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vccore-webhook", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread (messages it claimed and did not finish are claimed again after their lease)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5.0 if timeout is None else timeout)
            self._thread = None

    def wake(self) -> None:
        """Look at the outbox now (after a commit), not at the next poll."""
        self._wake.set()

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """A Starlette lifespan: the worker runs while the app does."""
        self.start()
        try:
            yield
        finally:
            self.stop()

    def _run(self) -> None:
        client = self._client if self._client is not None else httpx.Client(timeout=self.timeout)
        try:
            while not self._stop.is_set():
                try:
                    done = self.deliver_due(client)
                    due = None if done else self.store.next_notification_at()
                except Exception:  # noqa: BLE001 (a store that failed now may answer later; the thread keeps going)
                    _log.exception("the webhook worker could not read the outbox; trying again")
                    done, due = 0, None
                if done:
                    continue  # more may be due
                wait = self.poll if due is None else min(self.poll, max(0.0, due - time.time()))
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            if self._client is None:
                client.close()
            self.store.close()  # this thread's connection

    # --- one round -------------------------------------------------------------------------------

    def deliver_due(self, client: httpx.Client | None = None) -> int:
        """Claim the messages due now (at most ``batch``) and post each once; how many were claimed."""
        messages = self.store.claim_notifications(limit=self.batch, lease=self.lease, now=time.time())
        if not messages:
            return 0
        own = client is None
        used = httpx.Client(timeout=self.timeout) if client is None else client
        try:
            for message in messages:
                if self._stop.is_set():
                    break  # the rest are claimed again after their lease
                self._deliver(used, message)
        finally:
            if own:
                used.close()
        return len(messages)

    def _deliver(self, client: httpx.Client, message: OutboxMessage) -> None:
        callback = self.callbacks.by_name.get(message.callback)
        if callback is None:
            self._failed(message, f"no callback {message.callback} in the callbacks file: add it to deliver this")
            return
        headers = {"Content-Type": "application/json"}
        if callback.token is not None:
            headers["Authorization"] = callback.token
        try:
            response = client.post(callback.url, content=message.body.encode("utf-8"), headers=headers)
        except httpx.HTTPError as exc:
            self._failed(message, f"POST {callback.url} failed: {type(exc).__name__}: {exc}")
            return
        if 200 <= response.status_code < 300:
            self.store.notification_delivered(message.id)
        else:
            self._failed(message, f"POST {callback.url} answered {response.status_code}")

    def _failed(self, message: OutboxMessage, error: str) -> None:
        delay = self.retry_delay(message.attempts)
        _log.warning(
            "webhook message %d (attempt %d): %s; next try in %.1f s", message.id, message.attempts, error, delay
        )
        self.store.notification_failed(message.id, error=error, retry_at=time.time() + delay)

    def retry_delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failure: exponential, capped, half of it random."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(max(attempts - 1, 0), 60))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not a secret)

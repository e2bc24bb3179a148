"""Group commit: the certify requests a server has in hand at once, issued together.

Each certify request used to be one transaction, and one sync of the store to disk (SQLite's
fsync, PostgreSQL's WAL flush): the disk, not the signing, set the pace. :class:`GroupCommitter`
hands every request to one thread, which takes all the requests waiting and issues them with one
:meth:`vccore.issuer.Issuer.certify_batch` (signed outside the transaction, stored in one, synced
once), then answers each. A request is answered only once its credential is stored and synced,
as before; a request that arrives while a group commits waits for the next group, so nothing
waits for a timer. The requests of a group keep their order and their own answers: one refused
(a bad payload, a certificateId taken) does not touch the others. A new payload's request waits
in the event loop, on a future the group settles (:meth:`GroupCommitter.certify_new`), rather
than in a thread of its own: the hop to a thread and back, and a query of its own for its keys,
cost more of the server's CPU than its share of the group's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._threads import register as register_idle
from ..codes import ErrorCode
from ..entities import EntityType
from ..errors import VccoreError
from ..issuer import Certified, Issuer
from ..store import look_up

__all__ = ["GroupCommitter"]

MOST: Final = 256
"""The most requests one group issues (a larger group waits longer for its sync than it saves)."""


@dataclass
class _Request:
    entity: EntityType
    payload: Mapping[str, Any]
    key: str | None
    claim: str | None
    notify: str | None
    lookup: tuple[str, ...] = ()
    """Keys to look up in the store before certifying (any found: the request is not certified here)."""
    future: asyncio.Future[Certified | VccoreError | None] | None = None
    """Settled in its event loop, for a request from there."""
    done: threading.Event | None = None
    """Set for a request from a thread, which waits for it."""
    answer: Certified | VccoreError | None = None
    failure: BaseException | None = None


_Settled = tuple[asyncio.Future[Certified | VccoreError | None], Certified | VccoreError | None, BaseException | None]


def _settle_all(requests: list[_Request]) -> None:
    """Hand each request its answer (or its failure): a waiting thread's by its event, those of
    an event loop in one call into that loop (one wake-up for the group, not one a request).
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
    for request in requests:
        if request.done is not None:
            request.done.set()
        elif request.future is not None:
            by_loop.setdefault(request.future.get_loop(), []).append((request.future, request.answer, request.failure))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[_Settled]) -> None:
    for future, answer, failure in settled:
        if future.done():  # cancelled: the client went away (what was certified stays certified)
            continue
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(answer)


class GroupCommitter:
    """Certifies the requests given to :meth:`certify` by groups, from a thread of its own
    (started on the first request, ended when none has come for a while).
    """

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self._waiting: deque[_Request] = deque()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._end = False  # the thread ends once nothing waits, without its 10 s (see end_if_idle)
        register_idle(self)

    def certify(
        self,
        entity: EntityType,
        payload: Mapping[str, Any],
        *,
        key: str | None = None,
        claim: str | None = None,
        notify: str | None = None,
    ) -> Certified | VccoreError:
        """What :meth:`Issuer.certify_batch` gives for this one payload (with its idempotency
        ``key`` and ``claim``), once it is stored; an error nobody foresaw is raised here, in the
        caller's thread. The caller has looked ``key`` up in the store and found nothing: the
        group does not look it up again (a request for the same key stored meanwhile is still
        found, when the group's records are inserted, and its certificate given back).
        """
        done = threading.Event()
        request = _Request(entity, payload, key, claim, notify, done=done)
        self._enqueue(request)
        done.wait()
        if request.failure is not None:
            raise request.failure
        assert request.answer is not None
        return request.answer

    async def certify_new(
        self,
        entity: EntityType,
        payload: Mapping[str, Any],
        *,
        key: str | None,
        claim: str | None,
        notify: str | None,
        lookup: tuple[str, ...],
    ) -> Certified | None:
        """From the event loop, without a thread of its own: the certificate this request made,
        stored, when it made one; None for anything else (one of the ``lookup`` keys found in
        the store, a payload refused, a certificate given back for its key): the caller then
        takes the request the long way, which finds out what it is and answers it. The group
        looks the keys of all its requests up with one query. An error nobody foresaw (the store
        failing) is raised here.
        """
        future: asyncio.Future[Certified | VccoreError | None] = asyncio.get_running_loop().create_future()
        self._enqueue(_Request(entity, payload, key, claim, notify, lookup=lookup, future=future))
        try:
            answer = await future
        except VccoreError as exc:  # refused as a whole (a suite the type does not take, ...): the long way says so
            if exc.code == ErrorCode.STORE_ERROR:
                raise
            return None
        return answer if isinstance(answer, Certified) and not answer.replayed else None

    def _enqueue(self, request: _Request) -> None:
        with self._lock:
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vccore-group-commit", daemon=True)
                self._thread.start()
            self._lock.notify()

    def end_if_idle(self) -> threading.Thread | None:
        """The thread, told to end once it has no request (a batch about to fork asks: see
        vccore._threads); None when a request waits or there is no thread.
        """
        with self._lock:
            if self._thread is None or self._waiting:
                return None
            self._end = True
            self._lock.notify()
            return self._thread

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiting and not self._end:
                    self._lock.wait(timeout=10)  # a request, or 10 s of none
                if not self._waiting:
                    self._thread, self._end = None, False
                    return
                group = [self._waiting.popleft() for _ in range(min(MOST, len(self._waiting)))]
            for part in _parts(group):
                self._issue(part)

    def _issue(self, part: list[_Request]) -> None:
        try:
            # the keys of the requests from the event loop, and every payload's certificateId: one round trip
            lookup = [key for request in part for key in request.lookup]
            ids = [given for request in part if isinstance(given := request.payload.get("certificateId"), str)]
            found, taken = look_up(self.issuer.store, lookup, ids)
        except BaseException as exc:  # noqa: BLE001 (each request's caller raises it, and logs it there)
            for request in part:
                request.failure = exc
            _settle_all(part)
            return
        # no answer for a request with a key found: its caller takes it the long way
        _settle_all([request for request in part if any(key in found for key in request.lookup)])
        part = [request for request in part if not any(key in found for key in request.lookup)]
        if not part:
            return
        first = part[0]
        try:
            answers = self.issuer.certify_batch(
                first.entity,
                [request.payload for request in part],
                keys=[request.key for request in part if request.key is not None] if first.key is not None else None,
                claims=[request.claim for request in part] if any(r.claim is not None for r in part) else None,
                notify=first.notify,
                known=(found, taken),  # the keys of a request from a thread: looked up there
            )
        except BaseException as exc:  # noqa: BLE001 (each request's caller raises it, and logs it there)
            for request in part:
                request.failure = exc
            _settle_all(part)
            return
        for request, answer in zip(part, answers, strict=True):
            request.answer = answer
        _settle_all(part)


def _parts(group: list[_Request]) -> list[list[_Request]]:
    """The group split into runs that one certify_batch call takes: one entity type, one webhook,
    keys for all or for none; the order kept.
    """
    parts: list[list[_Request]] = []
    for request in group:
        last = parts[-1][0] if parts else None
        if (
            last is not None
            and last.entity is request.entity
            and last.notify == request.notify
            and (last.key is None) == (request.key is None)
        ):
            parts[-1].append(request)
        else:
            parts.append([request])
    return parts

"""Group commit: the certify requests a server has in hand at once, issued together.

Each certify request used to be one transaction, and one sync of the store to disk (SQLite's
fsync, PostgreSQL's WAL flush): the disk, not the signing, set the pace. :class:`GroupCommitter`
hands every request to one thread, which takes all the requests waiting and issues them with one
:meth:`vccore.issuer.Issuer.certify_batch` (signed outside the transaction, stored in one, synced
once), then answers each. A request is answered only once its credential is stored and synced,
as before; a request that arrives while a group commits waits for the next group, so nothing
waits for a timer. The requests of a group keep their order and their own answers: one refused
(a bad payload, a certificateId taken) does not touch the others.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..entities import EntityType
from ..errors import VccoreError
from ..issuer import Certified, Issuer

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
    done: threading.Event = field(default_factory=threading.Event)
    answer: Certified | VccoreError | None = None
    failure: BaseException | None = None


class GroupCommitter:
    """Certifies the requests given to :meth:`certify` by groups, from a thread of its own
    (started on the first request, ended when none has come for a while).
    """

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self._waiting: deque[_Request] = deque()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None

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
        request = _Request(entity, payload, key, claim, notify)
        with self._lock:
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vccore-group-commit", daemon=True)
                self._thread.start()
            self._lock.notify()
        request.done.wait()
        if request.failure is not None:
            raise request.failure
        assert request.answer is not None
        return request.answer

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._lock.wait(timeout=10)  # a request, or 10 s of none
                if not self._waiting:
                    self._thread = None
                    return
                group = [self._waiting.popleft() for _ in range(min(MOST, len(self._waiting)))]
            for part in _parts(group):
                self._issue(part)

    def _issue(self, part: list[_Request]) -> None:
        first = part[0]
        try:
            answers = self.issuer.certify_batch(
                first.entity,
                [request.payload for request in part],
                keys=[request.key for request in part if request.key is not None] if first.key is not None else None,
                claims=[request.claim for request in part] if any(r.claim is not None for r in part) else None,
                notify=first.notify,
                looked_up=True,  # each request's thread looked its keys up before it came here
            )
        except BaseException as exc:  # noqa: BLE001 (each request's thread raises it, and logs it there)
            for request in part:
                request.failure = exc
                request.done.set()
            return
        for request, answer in zip(part, answers, strict=True):
            request.answer = answer
            request.done.set()


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

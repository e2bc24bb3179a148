"""Where status list credentials come from: a folder, a mapping or a callable, as a resolver URL -> credential."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from os import PathLike
from pathlib import Path
from typing import Any

from .. import _json

StatusResolver = Callable[[str], Any]
StatusSource = str | PathLike[str] | Mapping[str, Any] | StatusResolver


class Waits:
    """Whether something asked not to wait would have waited (see :func:`no_waiting`)."""

    __slots__ = ("missed",)

    def __init__(self) -> None:
        self.missed = False


_NO_WAITING: ContextVar[Waits | None] = ContextVar("vccore_no_waiting", default=None)


@contextmanager
def no_waiting() -> Iterator[Waits]:
    """A block in which sources that would wait (a store query, status lists signed anew) answer
    nothing at once, and say so in the :class:`Waits` given: for a verification run in an event
    loop, which must then be run again where waiting is allowed.
    """
    waits = Waits()
    token = _NO_WAITING.set(waits)
    try:
        yield waits
    finally:
        _NO_WAITING.reset(token)


def would_wait() -> bool:
    """For a source about to wait: True (and noted) when the caller asked it not to."""
    waits = _NO_WAITING.get()
    if waits is None:
        return False
    waits.missed = True
    return True


def status_resolver(source: StatusSource) -> StatusResolver:
    """A resolver (URL -> status list credential or None) from a folder, a mapping or a callable."""
    if isinstance(source, Mapping):
        return source.get
    if isinstance(source, (str, PathLike)):
        return _directory_resolver(Path(source))
    if callable(source):
        return source
    raise TypeError("status is a folder, a mapping URL -> credential, or a callable URL -> credential")


def _directory_resolver(folder: Path) -> StatusResolver:
    """Status list credentials from a folder with ``index.json`` (URL -> file), read once each."""
    try:
        index = _json.loads((folder / "index.json").read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: no readable index.json of status list credentials ({exc})") from None
    if not isinstance(index, dict):
        raise ValueError(f"{folder}/index.json maps URLs to file names")
    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def resolve(url: str) -> Any:
        name = index.get(url)
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            return None
        with lock:
            if name not in cache:
                cache[name] = _json.loads((folder / name).read_bytes())
            return cache[name]

    return resolve

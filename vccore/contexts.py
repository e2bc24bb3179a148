"""Offline JSON-LD document loading: every context is pinned by URL and sha256, nothing else loads.

A credential's meaning is fixed by its contexts; a context fetched from the network, or changed
under a stable URL, changes what a signature means. So vccore never fetches: a
:class:`ContextLoader` serves the bundled contexts (``contexts/index.json``) plus any a caller pins
for itself, checks each one's sha256 before it is first used, and refuses every other URL with an
error that names it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from cachetools import LRUCache

from ._resources import data_dir
from .codes import ErrorCode
from .errors import ContextError

__all__ = ["ContextLoader", "PinnedContext", "bundled_contexts"]

UNKNOWN_CONTEXT_HINT: Final = (
    "pin it with ContextLoader.with_contexts({url: bytes}), or give the entity types whose "
    "context it is (entity_types=)"
)
"""What a Python caller does about an unpinned context (the command line words its own)."""

# pyld keeps processed contexts per loader; bound it so that hostile input naming many pinned
# contexts cannot grow it without end.
_PROCESSED_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class PinnedContext:
    """A context document known by its URL and the sha256 of its exact bytes, and where it is."""

    url: str
    sha256: str
    location: Traversable
    source: str = ""


class ContextLoader:
    """An offline, fail-closed JSON-LD document loader over pinned contexts.

    Instances are immutable as far as callers can see: :meth:`with_contexts` returns a new loader,
    so a verifier can pin its own contexts without touching anyone else's.
    """

    __slots__ = ("_aliases", "_documents", "_extra", "_local", "_lock", "_pins")

    def __init__(
        self,
        pins: Mapping[str, PinnedContext],
        *,
        aliases: Mapping[str, str] | None = None,
        extra: Mapping[str, bytes] | None = None,
    ) -> None:
        self._pins = dict(pins)
        self._aliases = dict(aliases or {})
        self._extra = dict(extra or {})
        self._documents: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def pyld_cache(self) -> Any:
        """Pyld's cache of processed contexts for this loader, one per thread: pyld mutates it
        (and the LRU caches inside it) without locks.
        """
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = LRUCache(maxsize=_PROCESSED_CACHE_SIZE)
        return cache

    @classmethod
    def from_directory(cls, directory: Traversable | str | os.PathLike[str]) -> ContextLoader:
        """A loader over a folder holding context files and an ``index.json`` (URL -> file, sha256)."""
        root: Traversable = Path(directory) if isinstance(directory, (str, os.PathLike)) else directory
        index_file = root / "index.json"
        try:
            index = json.loads(index_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ContextError(
                f"cannot read the context index {index_file}: {exc}",
                code=ErrorCode.INVALID_CONTEXT,
                url=str(index_file),
            ) from exc
        pins: dict[str, PinnedContext] = {}
        aliases: dict[str, str] = {}
        for url, entry in index.items():
            pins[url] = PinnedContext(url, entry["sha256"], root / entry["file"], entry.get("source", ""))
            for alias in entry.get("aliases", ()):
                aliases[alias] = url
        return cls(pins, aliases=aliases)

    def with_pins(self, pins: Iterable[PinnedContext]) -> ContextLoader:
        """A new loader that also serves ``pins`` (read lazily, digest-checked on first use)."""
        merged = dict(self._pins)
        for pin in pins:
            known = self._pin_digest(pin.url)
            if known is not None and known != pin.sha256:
                raise ContextError(
                    f"context {pin.url} is already pinned with sha256 {known}, not {pin.sha256}",
                    code=ErrorCode.CONTEXT_DIGEST_MISMATCH,
                    url=pin.url,
                    expected=known,
                    actual=pin.sha256,
                )
            merged[pin.url] = pin
        return ContextLoader(merged, aliases=self._aliases, extra=self._extra)

    def with_contexts(self, contexts: Mapping[str, bytes]) -> ContextLoader:
        """A new loader that also serves ``contexts`` (URL -> exact bytes), pinned to those bytes.

        A URL that is already pinned may only be given again with the same bytes: a context that
        changes under a stable URL is exactly what pinning exists to stop.
        """
        extra = dict(self._extra)
        for url, data in contexts.items():
            if not isinstance(url, str) or not isinstance(data, (bytes, bytearray)):
                raise ContextError(
                    "pinned contexts are given as URL -> bytes", code=ErrorCode.INVALID_CONTEXT, url=str(url)
                )
            data = bytes(data)  # noqa: PLW2901 (the caller's bytearray, copied: a pin must not change under us)
            actual = hashlib.sha256(data).hexdigest()
            known = self._pin_digest(url)
            if known is not None and known != actual:
                raise ContextError(
                    f"context {url} is already pinned with sha256 {known}; the bytes given for it have sha256 {actual}",
                    code=ErrorCode.CONTEXT_DIGEST_MISMATCH,
                    url=url,
                    expected=known,
                    actual=actual,
                )
            try:
                document = json.loads(data)
            except ValueError as exc:
                raise ContextError(
                    f"context {url} is not valid JSON: {exc}", code=ErrorCode.INVALID_CONTEXT, url=url
                ) from exc
            if not isinstance(document, dict) or "@context" not in document:
                raise ContextError(
                    f"context {url} is not a JSON object with an @context",
                    code=ErrorCode.INVALID_CONTEXT,
                    url=url,
                )
            extra[url] = data
        return ContextLoader(self._pins, aliases=self._aliases, extra=extra)

    def _pin_digest(self, url: str) -> str | None:
        url = self._aliases.get(url, url)
        if url in self._pins:
            return self._pins[url].sha256
        if url in self._extra:
            return hashlib.sha256(self._extra[url]).hexdigest()
        return None

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and self._pin_digest(url) is not None

    def urls(self) -> Iterator[str]:
        """Every URL this loader serves (aliases excluded)."""
        yield from self._pins
        yield from (url for url in self._extra if url not in self._pins)

    def read_bytes(self, url: str) -> bytes:
        """The exact, digest-checked bytes of the context at ``url``."""
        canonical = self._aliases.get(url, url)
        if canonical in self._extra:
            return self._extra[canonical]
        pin = self._pins.get(canonical)
        if pin is None:
            raise ContextError(
                f"context {url} is not pinned: vccore loads no context from the network; {UNKNOWN_CONTEXT_HINT}",
                code=ErrorCode.UNKNOWN_CONTEXT,
                url=url,
            )
        try:
            data = pin.location.read_bytes()
        except OSError as exc:
            raise ContextError(
                f"context {url}: cannot read {pin.location.name}: {exc}", code=ErrorCode.INVALID_CONTEXT, url=url
            ) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != pin.sha256:
            raise ContextError(
                f"context {url}: {pin.location.name} has sha256 {actual}, pinned {pin.sha256}",
                code=ErrorCode.CONTEXT_DIGEST_MISMATCH,
                url=url,
                expected=pin.sha256,
                actual=actual,
            )
        return data

    def document(self, url: str) -> Any:
        """The parsed context document at ``url`` (do not mutate it)."""
        canonical = self._aliases.get(url, url)
        with self._lock:
            cached = self._documents.get(canonical)
        if cached is None:
            try:
                cached = json.loads(self.read_bytes(url))
            except ValueError as exc:
                raise ContextError(
                    f"context {url} is not valid JSON: {exc}", code=ErrorCode.INVALID_CONTEXT, url=url
                ) from exc
            with self._lock:
                self._documents[canonical] = cached
        return cached

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        """The pyld document loader interface.

        ``tag: "static"`` lets pyld keep the processed context across calls instead of processing
        it again for every document. pyld rewrites relative ``@context`` URLs inside what it is
        given, so it gets a private copy.
        """
        document = json.loads(json.dumps(self.document(url)))
        return {"contextUrl": None, "documentUrl": url, "document": document, "tag": "static"}

    def export(self, directory: str | os.PathLike[str]) -> list[str]:
        """Write every context and an ``index.json`` (URL -> file, sha256) into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        index: dict[str, dict[str, Any]] = {}
        used: set[str] = set()
        for url in self.urls():
            data = self.read_bytes(url)
            pin = self._pins.get(url)
            name = pin.location.name if pin and pin.location.name not in used else _file_name_for(url, used)
            used.add(name)
            (out / name).write_bytes(data)
            index[url] = {
                "file": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "aliases": sorted(a for a, target in self._aliases.items() if target == url),
            }
        (out / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        return sorted(index)


def _file_name_for(url: str, used: set[str]) -> str:
    stem = "".join(c if c.isalnum() or c in "-." else "-" for c in url.split("://", 1)[-1]).strip("-")
    name = f"{stem[:80]}.jsonld"
    n = 1
    while name in used:
        n += 1
        name = f"{stem[:80]}-{n}.jsonld"
    return name


@cache
def bundled_contexts() -> ContextLoader:
    """The loader over the contexts that ship with vccore: ``contexts/index.json``, and the
    contexts pinned by the bundled entity types (``templates/*/entity.json``).
    """
    return ContextLoader.from_directory(data_dir("contexts")).with_pins(template_pins(data_dir("templates")))


def template_pins(templates: Traversable) -> list[PinnedContext]:
    """The contexts that the entity types in a templates folder pin (their ``entity.json``)."""
    pins: list[PinnedContext] = []
    if not templates.is_dir():
        return pins
    for folder in sorted(templates.iterdir(), key=lambda f: f.name):
        manifest = folder / "entity.json"
        if not folder.is_dir() or not manifest.is_file():
            continue
        try:
            specs = json.loads(manifest.read_bytes()).get("contexts", [])
            pins.extend(
                PinnedContext(s["url"], s["sha256"], folder / s["file"], f"entity type {folder.name}") for s in specs
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ContextError(
                f"{folder.name}/entity.json: unreadable contexts: {exc}",
                code=ErrorCode.INVALID_CONTEXT,
                url=str(manifest),
            ) from exc
    return pins

"""Where status list credentials come from: a folder, a mapping or a callable, as a resolver URL -> credential."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from .. import _json

StatusResolver = Callable[[str], Any]
StatusSource = str | PathLike[str] | Mapping[str, Any] | StatusResolver


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

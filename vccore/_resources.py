"""Where the bundled data folders (contexts/, templates/) are, installed or not."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def data_dir(name: str) -> Traversable:
    """The bundled data folder ``name``: inside the wheel, or at the top of a source checkout."""
    packaged = resources.files("vccore") / "_data" / name
    if packaged.is_dir():
        return packaged
    # Source checkout and editable installs: the folders sit next to the package, where
    # pyproject.toml maps them from when it builds the wheel.
    return Path(__file__).resolve().parent.parent / name

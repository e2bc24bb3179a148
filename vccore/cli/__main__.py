"""``python -m vccore.cli``: the command line (as ``python -m vccore``)."""

from __future__ import annotations

from . import main

if __name__ == "__main__":
    raise SystemExit(main())

"""What every PostgreSQL session of vccore's sets on connecting, whatever the server's defaults.

Passed as libpq parameters (``options`` and the keepalives), so that setting them costs no round
trip:

- what vccore's guarantees rest on, which no URL changes: transactions at READ COMMITTED (the
  store's SQL is written for it; at SERIALIZABLE, concurrent certifies fail with serialization
  errors) and ``synchronous_commit = on`` (an update answered must survive a crash of the
  server, or a client that sends it again gets a second credential under one certificateId);
- bounds on waiting, each kept as the operator's URL gives it when it gives one: a statement
  runs at most 15 s, waits for a lock at most 10 s, a session idle inside a transaction is ended
  after 60 s, and TCP keepalives find a dead peer within about 25 s.
"""

from __future__ import annotations

import os
from typing import Final

import psycopg

# Changeable by the URL (``?options=-c%20lock_timeout%3D2000``): a later -c of one setting wins.
_BOUNDS: Final = "-c statement_timeout=15000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000"
# After the URL's options, so that they win over them.
_GUARANTEES: Final = r"-c default_transaction_isolation=read\ committed -c synchronous_commit=on"
_KEEPALIVES: Final = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}


def session_parameters(url: str) -> dict[str, str]:
    """The libpq parameters to connect to ``url`` with (they replace the URL's of the same name):
    the URL's own ``options`` (or, without them, ``PGOPTIONS``, which libpq reads only when none
    are given) between vccore's bounds and its guarantees, and the keepalives the URL leaves out.
    """
    try:
        given = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        given = {}  # connecting says what is wrong with it
    own = str(given.get("options") or os.environ.get("PGOPTIONS") or "").strip()
    parameters = {name: value for name, value in _KEEPALIVES.items() if given.get(name) in (None, "")}
    parameters["options"] = " ".join(part for part in (_BOUNDS, own, _GUARANTEES) if part)
    return parameters


def timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is the server giving up on a statement or a lock wait by a timeout."""
    return isinstance(
        exc,
        psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable | psycopg.errors.IdleInTransactionSessionTimeout,
    )

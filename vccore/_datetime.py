"""XML Schema dateTime values as the VC data model and Data Integrity use them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

_DATETIME: Final = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", re.ASCII)


def parse(text: object, *, require_zone: bool = True) -> datetime:
    """An aware datetime from XML Schema ``dateTimeStamp`` text (``dateTime`` when
    ``require_zone`` is false, read as UTC); ValueError names what is wrong.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a date-time string")
    return _parse(text, require_zone)


# A verifier reads the same few dates (validity windows, status lists', proofs' created) over
# and over; datetimes are immutable, and a ValueError is not cached.
@lru_cache(maxsize=4096)
def _parse(text: str, require_zone: bool) -> datetime:
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an XML Schema date-time (YYYY-MM-DDThh:mm:ssZ)")
    zone = match[8]
    if zone is None and require_zone:
        raise ValueError(f"{text!r} has no time zone (add Z or an offset)")
    fraction = (match[7] or "")[:7]  # Python keeps microseconds; more digits cannot change order here
    normalized = f"{match[1]}-{match[2]}-{match[3]}T{match[4]}:{match[5]}:{match[6]}{fraction}"
    normalized += "+00:00" if zone in (None, "Z") else zone
    try:
        return datetime.fromisoformat(normalized)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date-time") from None


def format(moment: datetime) -> str:  # noqa: A001 (read as _datetime.format, never imported by name)
    """``YYYY-MM-DDThh:mm:ssZ`` in UTC, whole seconds: the form proofs carry."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone; pass an aware one")
    return _format(moment)


@lru_cache(maxsize=64)  # an issuer formats the same moment for many credentials
def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(UTC)

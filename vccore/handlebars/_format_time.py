"""Sunbird RC 1.0's ``formatTime`` helper: ``moment.tz(date, TIME_ZONE).format()`` (moment-timezone 0.5)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ._runtime import Helper
from ._syntax import _W, UNDEFINED

_ISO: Final = (
    re.compile(f"^{_W}*((?:[+-]\\d{{6}}|\\d{{4}})-(?:\\d\\d-\\d\\d|W\\d\\d-\\d|W\\d\\d|\\d\\d\\d|\\d\\d))(?:(T| )"
               f"(\\d\\d(?::\\d\\d(?::\\d\\d(?:[.,]\\d+)?)?)?)([+-]\\d\\d(?::?\\d\\d)?|{_W}*Z)?)?\\Z", re.ASCII),
    re.compile(f"^{_W}*((?:[+-]\\d{{6}}|\\d{{4}})(?:\\d\\d\\d\\d|W\\d\\d\\d|W\\d\\d|\\d\\d\\d|\\d\\d|))(?:(T| )"
               f"(\\d\\d(?:\\d\\d(?:\\d\\d(?:[.,]\\d+)?)?)?)([+-]\\d\\d(?::?\\d\\d)?|{_W}*Z)?)?\\Z", re.ASCII),
)  # fmt: skip
# moment's isoDates, in its order: (pattern, digits of the year, time allowed); week and ordinal dates: None
_ISO_DATES: Final = [(r"[+-]\d{6}-\d\d-\d\d", 7, True), (r"\d{4}-\d\d-\d\d", 4, True), (r"\d{4}-W\d\d-\d", None, True),
                     (r"\d{4}-W\d\d", None, False), (r"\d{4}-\d{3}", None, True), (r"\d{4}-\d\d", 4, False),
                     (r"[+-]\d{10}", 7, True), (r"\d{8}", 4, True), (r"\d{4}W\d{3}", None, True),
                     (r"\d{4}W\d{2}", None, False), (r"\d{7}", None, True), (r"\d{6}", 4, False), (r"\d{4}", 4, False)]  # fmt: skip


def _moment_utc(text: str) -> tuple[datetime, bool]:
    """An ISO 8601 string as moment reads it: (the time, whether it named its offset); ValueError otherwise."""
    m = _ISO[0].match(text) or _ISO[1].match(text)
    if m is None:
        raise ValueError("is not an ISO 8601 date moment.js reads")
    date, _separator, clock, zone = m.groups()
    year_digits, time_ok = next((y, t) for pattern, y, t in _ISO_DATES if re.search(pattern, date, re.ASCII))
    if year_digits is None or (clock and not time_ok):
        raise ValueError("is a date formatTime does not read (a week or ordinal date, or a month with a time)")
    year = int(date[:year_digits])
    rest = date[year_digits:].replace("-", "")
    month, day = int(rest[:2] or 1), int(rest[2:4] or 1)
    clock_digits = (clock or "").replace(":", "")
    hour, minute, second = (int(clock_digits[i : i + 2] or 0) for i in (0, 2, 4))
    fraction = re.split(r"[.,]", clock or "")[1:] if clock else []
    millis = int(float("0." + fraction[0]) * 1000) if fraction else 0
    next_day = hour == 24 and minute == second == millis == 0
    try:
        moment = datetime(year, month, day, 0 if next_day else hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise ValueError("is a date moment.js calls invalid") from None
    if next_day:
        moment += timedelta(days=1)
    if zone is None:
        return moment, False
    if zone.endswith("Z"):
        return moment, True
    sign = -1 if zone[0] == "-" else 1
    hours, minutes = int(zone[1:3]), int(zone.replace(":", "")[3:5] or 0)
    return moment - sign * timedelta(hours=hours, minutes=minutes), True


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    for known in sorted(available_timezones()):  # moment-timezone reads names in any case
        if known.lower() == name.lower():
            return ZoneInfo(known)
    raise ValueError(f"unknown time zone {name!r}")


def format_time_helper(time_zone: str | None, *, now: Callable[[], datetime] | None = None) -> Helper:
    """Sunbird RC 1.0's ``formatTime`` helper: ``moment.tz(date, TIME_ZONE).format()``.

    Without a time zone (``TIME_ZONE`` unset or empty) it gives the value back unchanged. With
    one, an ISO 8601 string or a number of milliseconds since 1970 prints as
    ``2023-05-01T15:50:30+05:30`` (``Z`` where the offset is zero); a missing value is ``now()``,
    as in moment. Other values raise ValueError, which a render turns into ``TEMPLATE_DATA``.
    An unknown time zone raises ValueError here (moment logs it and prints UTC).
    """
    if not time_zone:
        return lambda date=UNDEFINED, *_args, **_hash: date
    zone = _zone(time_zone)
    clock = now or (lambda: datetime.now(UTC))

    def format_time(date: Any = UNDEFINED, *_args: Any, **_hash: Any) -> str:
        try:
            local = _instant(date, zone, clock).astimezone(UTC).astimezone(zone)  # via UTC: a DST gap moves on
        except OverflowError:
            raise ValueError("is out of the range of dates") from None
        offset = local.utcoffset() or timedelta(0)
        minutes = int(abs(offset.total_seconds()) // 60)
        sign = "-" if offset < timedelta(0) else "+"
        suffix = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}" if minutes else "Z"
        return f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local:%H:%M:%S}{suffix}"

    return format_time


def _instant(date: Any, zone: ZoneInfo, clock: Callable[[], datetime]) -> datetime:
    """``moment.tz(date, zone)``: a missing date is now, a number milliseconds since 1970, a string ISO 8601."""
    if date is UNDEFINED:
        return clock()
    if isinstance(date, (int, float)) and not isinstance(date, bool):
        if math.isnan(date) or abs(date) > 8.64e15:
            raise ValueError("is not a time moment.js reads")
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=math.trunc(date))
    if isinstance(date, str):
        moment, named = _moment_utc(date)
        return moment if named else moment.replace(tzinfo=zone)
    raise ValueError("is not a date formatTime reads")

"""Tenants' certificate templates: a Handlebars HTML or SVG page rendered with a credential's fields,
its QR code and the ``dateFormat`` helper, as Sunbird RC's certificate-api renders it.

The data of a page is the credential's JSON object with one key added, ``qrCode``: a PNG data URL
of the credential's QR code (scale 3, margin 4, error correction M, as npm ``qrcode`` draws it).
What the QR code holds depends on the QR type (the original's ``QR_TYPE``), compared in any case:

- ``URL``: ``{domain}/certs/{entityId}?t={type}&entity={entityName}{extra}``;
- ``URL-W3C-VC``: ``{domain}/certs/{entityId}?t={type}&data={base64 of the ZIP}&entity={entityName}{extra}``;
- anything else (the default, ``W3C-VC``): DIVOC's ZIP holding ``certificate.json``, the
  credential's JSON text as it was sent (:data:`vccore.qr.QRFormat.DIVOC`).

``dateFormat`` is npm ``handlebars-dateformat`` 1.1.3: ``moment(date).format(format)``, or in UTC
when its third parameter is ``true``, in moment 2.31's English locale. Where moment would print
``Invalid date`` or guess a date through JavaScript's ``new Date(text)`` (a string that is neither
ISO 8601 nor ``/Date(ms)/``, ``null``, an ISO week or ordinal date, a year before 1 or after
9999), the helper refuses the value (``TEMPLATE_DATA``) rather than print it.

A page is text from a tenant and values from a credential: values are HTML-escaped as Handlebars
escapes them, and whatever a template says, a page must not run script or load anything where
it is printed or shown. The PDF printer runs neither; a page served to a browser goes with
:data:`PAGE_SECURITY_HEADERS`.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import segno
from cachetools import LRUCache

from . import _datetime, _json, handlebars
from ._fetch import fetch_bounded
from .codes import ErrorCode
from .errors import TemplateError
from .handlebars import UNDEFINED, Helper, Template
from .qr import QRFormat, encode_text, make

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_QR_TYPE",
    "MAX_TEMPLATE_BYTES",
    "PAGE_SECURITY_HEADERS",
    "CertificateTemplates",
    "QRSettings",
    "certificate_data",
    "date_format_helper",
    "qr_data_url",
    "qr_text",
]

DEFAULT_QR_TYPE: Final = "W3C-VC"
DEFAULT_DOMAIN: Final = "https://dev.sunbirded.org"
"""The original's ``CERTIFICATE_DOMAIN_URL`` when it is not set."""
MAX_TEMPLATE_BYTES: Final = 1 << 20
"""The largest template fetched (1 MiB); a URL must answer within 2 s."""
PAGE_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
}
"""Headers for a rendered page served to a browser: no script, no fetch, images only from data URLs."""


# --------------------------------------------------------------------------------- the QR code
@dataclass(frozen=True, slots=True)
class QRSettings:
    """What the QR code of a page holds: the original's ``QR_TYPE``, ``CERTIFICATE_DOMAIN_URL`` and
    ``ADDITIONAL_QUERY_PARAMS`` (appended as they are, after the query).
    """

    qr_type: str = DEFAULT_QR_TYPE
    domain: str = DEFAULT_DOMAIN
    additional_query_params: str = ""


def qr_text(certificate: str, *, entity_id: str | None, entity_name: str | None, settings: QRSettings) -> str:
    """The text of a page's QR code for the credential's JSON text ``certificate`` (see the module's
    notes). A missing ``entity_id`` or ``entity_name`` reads ``undefined``, as JavaScript writes it.
    For the ZIP, the ZIP's bytes as characters U+0000-U+00FF.
    """
    kind = settings.qr_type.upper()
    entity = "undefined" if entity_id is None else entity_id
    name = "undefined" if entity_name is None else entity_name
    base = f"{settings.domain}/certs/{entity}?t={settings.qr_type}"
    if kind == "URL":
        return f"{base}&entity={name}{settings.additional_query_params}"
    archive = encode_text(certificate, QRFormat.DIVOC)
    if kind == "URL-W3C-VC":
        data = base64.b64encode(archive.encode("latin-1")).decode("ascii")  # not URL-encoded, as the original
        return f"{base}&data={data}&entity={name}{settings.additional_query_params}"
    return archive


def qr_data_url(certificate: str, text: str) -> str:
    """A PNG data URL of the QR code holding ``text`` (from :func:`qr_text` for ``certificate``):
    scale 3, margin 4, error correction M. QRError ``QR_TOO_LARGE`` when it does not fit.
    """
    if text.startswith("PK\x03\x04"):  # the ZIP: byte mode, each byte as its UTF-8 form, as DIVOC wrote it
        png = make(certificate, format=QRFormat.DIVOC, ecc="M").png(scale=3)
    else:
        out = io.BytesIO()
        segno.make(text, error="m", micro=False, boost_error=False).save(out, kind="png", scale=3, border=4)
        png = out.getvalue()
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def certificate_data(certificate: str, qr_code: str) -> dict[str, Any]:
    """A page's data: the credential's JSON object (``certificate``, its text) with ``qrCode`` added."""
    try:
        value = _json.loads(certificate)
    except ValueError as exc:
        raise TemplateError(
            f"certificate: not JSON text: {exc}", code=ErrorCode.TEMPLATE_DATA, field="certificate"
        ) from None
    if not isinstance(value, dict):
        raise TemplateError(
            "certificate: the JSON text of an object (the credential)",
            code=ErrorCode.TEMPLATE_DATA,
            field="certificate",
        )
    return {**value, "qrCode": qr_code}


# --------------------------------------------------------------------------------- dateFormat
# moment 2.31's formattingTokens; JavaScript's "." does not match \r, \u2028 and \u2029 either
_TOKENS: Final = re.compile(
    r"(\[[^\[]*\])|(\\e)|(\\)?(eHHmm|[Hh]mm(ss)?|Mo|MM?M?M?|Do|DDDo|DD?D?D?|ddd?d?|do?|w[o|w]?|W[o|W]?|Qo?|N{1,5}"
    r"|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo?|gg(ggg?)?|GG(GGG?)?|e|E|a|A|hh?|HH?|kk?|mm?|ss?|S{1,9}|x|X|zz?|ZZ?"
    "|[^\n\r\u2028\u2029])"
)
_LOCAL_TOKENS: Final = re.compile(r"(\[[^\[]*\])|(\\)?(LTS|LT|LL?L?L?|l{1,4})")
_LONG: Final = {"LTS": "h:mm:ss A", "LT": "h:mm A", "L": "MM/DD/YYYY", "LL": "MMMM D, YYYY",
                "LLL": "MMMM D, YYYY h:mm A", "LLLL": "dddd, MMMM D, YYYY h:mm A",
                "l": "M/D/YYYY", "ll": "MMM D, YYYY", "lll": "MMM D, YYYY h:mm A", "llll": "ddd, MMM D, YYYY h:mm A"}  # fmt: skip
_MONTHS: Final = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                  "November", "December")  # fmt: skip
_DAYS: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ISO: Final = re.compile(
    r"^\s*((?:[+-]\d{6}|\d{4})-(?:\d\d-\d\d|\d\d))(?:(T| )(\d\d(?::\d\d(?::\d\d(?:[.,]\d+)?)?)?)([+-]\d\d(?::?\d\d)?|\s*Z)?)?\Z"
    r"|^\s*((?:[+-]\d{6}|\d{4})(?:\d\d\d\d|))(?:(T| )(\d\d(?:\d\d(?:\d\d(?:[.,]\d+)?)?)?)([+-]\d\d(?::?\d\d)?|\s*Z)?)?\Z",
    re.ASCII,
)
_WEEK_TOKENS: Final = frozenset(("w", "ww", "wo", "W", "WW", "Wo", "gg", "gggg", "ggggg", "GG", "GGGG", "GGGGG"))
_ASP_NET: Final = re.compile(r"^/?Date\((-?\d+)", re.IGNORECASE)


def _zero_fill(number: int, width: int, force_sign: bool = False) -> str:
    digits = str(abs(number))
    return ("+" if force_sign else "") * (number >= 0) + "-" * (number < 0) + "0" * max(0, width - len(digits)) + digits


def _ordinal(number: int) -> str:
    last = number % 10
    suffix = "th" if (number % 100) // 10 == 1 else {1: "st", 2: "nd", 3: "rd"}.get(last, "th")
    return f"{number}{suffix}"


def _week(day: date, dow: int, doy: int) -> tuple[int, int]:
    """The week and week year, as moment's weekOfYear: (week, week year) with weeks starting on ``dow``, week 1 holding 7 + dow - doy January."""

    def offset(year: int) -> int:
        first = 7 + dow - doy
        weekday = (date(year, 1, first).isoweekday() % 7 + 7 - dow) % 7
        return -weekday + first - 1

    def weeks(year: int) -> int:
        return (365 + (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) - offset(year) + offset(year + 1)) // 7

    week = (day.timetuple().tm_yday - offset(day.year) - 1) // 7 + 1
    if week < 1:
        return week + weeks(day.year - 1), day.year - 1
    if week > weeks(day.year):
        return week - weeks(day.year), day.year + 1
    return week, day.year


def _token(piece: str, t: datetime, utc: bool) -> str | None:
    """What moment prints for one format token at local time ``t`` (None: not a piece)."""
    weekday = t.isoweekday() % 7
    offset = t.utcoffset() or timedelta(0)
    minutes = -math.floor(-offset.total_seconds() / 60 + 0.5)  # -Math.round(getTimezoneOffset()): LMT has seconds
    if piece in _WEEK_TOKENS:
        week, week_year = _week(t.date(), *((1, 4) if piece[0] in "WG" else (0, 6)))
        if piece[0] in "Ww":
            return _ordinal(week) if piece.endswith("o") else _zero_fill(week, len(piece))
        return _zero_fill(week_year % 100 if len(piece) == 2 else week_year, len(piece))
    simple: dict[str, Callable[[], str]] = {
        "M": lambda: str(t.month), "MM": lambda: _zero_fill(t.month, 2), "Mo": lambda: _ordinal(t.month),
        "MMM": lambda: _MONTHS[t.month - 1][:3], "MMMM": lambda: _MONTHS[t.month - 1],
        "Q": lambda: str((t.month + 2) // 3), "Qo": lambda: _ordinal((t.month + 2) // 3),
        "D": lambda: str(t.day), "DD": lambda: _zero_fill(t.day, 2), "Do": lambda: _ordinal(t.day),
        "DDD": lambda: str(t.timetuple().tm_yday), "DDDD": lambda: _zero_fill(t.timetuple().tm_yday, 3),
        "DDDo": lambda: _ordinal(t.timetuple().tm_yday),
        "d": lambda: str(weekday), "do": lambda: _ordinal(weekday), "dd": lambda: _DAYS[weekday][:2],
        "ddd": lambda: _DAYS[weekday][:3], "dddd": lambda: _DAYS[weekday], "e": lambda: str(weekday),
        "E": lambda: str(t.isoweekday()), "eHHmm": lambda: f"{weekday}{t.hour:02d}{t.minute:02d}",
        "Y": lambda: _zero_fill(t.year, 4) if t.year <= 9999 else f"+{t.year}",
        "YY": lambda: _zero_fill(t.year % 100, 2), "YYYY": lambda: _zero_fill(t.year, 4),
        "YYYYY": lambda: _zero_fill(t.year, 5), "YYYYYY": lambda: _zero_fill(t.year, 6, True),
        "a": lambda: "pm" if t.hour > 11 else "am", "A": lambda: "PM" if t.hour > 11 else "AM",
        "H": lambda: str(t.hour), "HH": lambda: _zero_fill(t.hour, 2),
        "h": lambda: str(t.hour % 12 or 12), "hh": lambda: _zero_fill(t.hour % 12 or 12, 2),
        "k": lambda: str(t.hour or 24), "kk": lambda: _zero_fill(t.hour or 24, 2),
        "hmm": lambda: f"{t.hour % 12 or 12}{t.minute:02d}", "hmmss": lambda: f"{t.hour % 12 or 12}{t.minute:02d}{t.second:02d}",
        "Hmm": lambda: f"{t.hour}{t.minute:02d}", "Hmmss": lambda: f"{t.hour}{t.minute:02d}{t.second:02d}",
        "m": lambda: str(t.minute), "mm": lambda: _zero_fill(t.minute, 2),
        "s": lambda: str(t.second), "ss": lambda: _zero_fill(t.second, 2),
        "z": lambda: "UTC" if utc else "", "zz": lambda: "Coordinated Universal Time" if utc else "",
        "Z": lambda: f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
        "ZZ": lambda: f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}",
        "X": lambda: str(_millis(t) // 1000), "x": lambda: str(_millis(t)),
    }  # fmt: skip
    if piece in simple:
        return simple[piece]()
    if piece[0] == "S":
        millis = t.microsecond // 1000
        return _zero_fill(
            millis * 10 ** (len(piece) - 3) if len(piece) >= 3 else millis // 10 ** (3 - len(piece)), len(piece)
        )
    if piece[0] == "y":  # the year of the era: every date vccore reads is in Anno Domini
        return _ordinal(t.year) if piece == "yo" else _zero_fill(t.year, len(piece))
    if piece[0] == "N":
        return "Anno Domini" if piece == "NNNN" else "AD"
    return None


def _millis(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _format(t: datetime, format_: str, utc: bool) -> str:
    """``moment.format(format_)`` in the English locale."""
    for _ in range(6):  # expandFormat: long date formats, up to six times
        format_ = _LOCAL_TOKENS.sub(lambda m: _LONG.get(m.group(), m.group()), format_)
    out = []
    if _TOKENS.search(format_) is None:  # only line breaks: the original fails on String.match's null
        raise ValueError("dateFormat: a format of line breaks only")
    for m in _TOKENS.finditer(format_):
        text = m.group()
        printed = _token(text, t, utc)
        if printed is None:
            printed = text[1:-1] if re.match(r"\[[\s\S]", text) else text.replace("\\", "")
        out.append(printed)
    return "".join(out)


def _moment(value: Any, zone: ZoneInfo, now: Callable[[], datetime]) -> datetime:
    """``moment(value)``: the instant, refused (ValueError) where moment prints ``Invalid date`` or guesses."""
    if value is UNDEFINED:
        return now().astimezone(UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > 8.64e15:
            raise ValueError("is not a time moment.js reads (Invalid date)")
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=math.trunc(value))
    if not isinstance(value, str):
        raise ValueError("is not a date dateFormat reads (a string or a number)")
    asp = _ASP_NET.match(value)
    if asp is not None:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(asp[1]))
    m = _ISO.match(value)
    if m is None:
        raise ValueError("is not an ISO 8601 date (moment.js would guess it with new Date())")
    day, _, clock, zone_text = m.groups()[:4] if m[1] else m.groups()[4:]
    year_digits = 7 if day[0] in "+-" else 4
    rest = day[year_digits:].replace("-", "")
    if clock and len(rest) < 4:  # a month with a time: moment falls back to new Date()
        raise ValueError("is a month with a time (moment.js would guess it with new Date())")
    digits = (clock or "").replace(":", "")
    parts = re.split(r"[.,]", digits)
    hour, minute, second = (int(parts[0][i : i + 2] or 0) for i in (0, 2, 4))
    millis = int(float("0." + parts[1]) * 1000) if len(parts) > 1 else 0
    next_day = hour == 24 and minute == second == millis == 0
    try:
        moment = datetime(int(day[:year_digits]), int(rest[:2] or 1), int(rest[2:4] or 1), 0 if next_day else hour,
                          minute, second, millis * 1000, tzinfo=UTC)  # fmt: skip
        moment += timedelta(days=next_day)
    except (ValueError, OverflowError):
        raise ValueError("is a date moment.js calls invalid (Invalid date)") from None
    if zone_text is None:
        return moment.replace(tzinfo=zone)  # the wall clock of the local zone
    if zone_text.strip() == "Z":
        return moment
    sign = -1 if zone_text[0] == "-" else 1
    hours, mins = int(zone_text[1:3]), int(zone_text.replace(":", "")[3:5] or 0)
    return moment - sign * timedelta(hours=hours, minutes=mins)


_ABSENT: Final = object()


def date_format_helper(time_zone: str = "UTC", *, now: Callable[[], datetime] | None = None) -> Helper:
    """The ``dateFormat`` helper of npm ``handlebars-dateformat`` 1.1.3: ``{{dateFormat date format}}`` prints ``date``
    in ``time_zone`` (the process's local zone in the original: ``TZ``), ``{{dateFormat date format
    true}}`` in UTC. A missing date is ``now()``. ValueError (``TEMPLATE_DATA``) for what the module's
    notes list.
    """
    zone = ZoneInfo(time_zone)
    clock = now or _datetime.now

    def date_format(value: Any = UNDEFINED, format_: Any = _ABSENT, utc: Any = UNDEFINED, *_: Any, **__: Any) -> str:
        if format_ is _ABSENT:
            raise ValueError("dateFormat needs a format (the original fails on its options object)")
        in_utc = utc is True
        if format_ is UNDEFINED or format_ is None or format_ in ("", 0, False):  # JavaScript's falsy: the default
            format_ = "YYYY-MM-DDTHH:mm:ss[Z]" if in_utc else "YYYY-MM-DDTHH:mm:ssZ"
        if not isinstance(format_, str):
            raise ValueError("dateFormat: the format is not a string")
        moment = _moment(value, zone, clock)
        try:
            local = moment.astimezone(UTC) if in_utc else moment.astimezone(zone)
        except OverflowError:
            raise ValueError("is out of the range of dates") from None
        return _format(local, format_, in_utc)

    return date_format


# --------------------------------------------------------------------------------- templates
class CertificateTemplates:
    """Tenants' templates, fetched by URL (bounded, each URL once, a bounded cache) and rendered; thread-safe."""

    def __init__(
        self,
        *,
        settings: QRSettings | None = None,
        delimiters: tuple[str, str] = ("{{", "}}"),
        helpers: Mapping[str, Helper] | None = None,
        fetch: Callable[[str], bytes] | None = None,
    ) -> None:
        self.settings = settings or QRSettings()
        self.delimiters = delimiters
        self.helpers = dict(helpers) if helpers is not None else {"dateFormat": date_format_helper()}
        self._fetch = fetch or (lambda url: fetch_bounded(url, limit=MAX_TEMPLATE_BYTES, seconds=2.0))
        self._lock = threading.Lock()
        self._fetched: LRUCache[str, str] = LRUCache(maxsize=64)
        self._compiled: LRUCache[str, Template] = LRUCache(maxsize=64)

    def has_fetched(self, url: str) -> bool:
        """Whether the template at ``url`` is already here (no network to reach it)."""
        with self._lock:
            return url in self._fetched

    def template_text(self, url: str) -> str:
        """The template at ``url``, fetched once (TemplateError ``TEMPLATE_FETCH`` when it cannot be)."""
        with self._lock:
            text = self._fetched.get(url)
        if text is None:
            raw = self._fetch(url)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise TemplateError(
                    f"the template at {url} is not UTF-8 text", code=ErrorCode.TEMPLATE_FETCH, url=url
                ) from None
            with self._lock:
                self._fetched[url] = text
        return text

    def compiled(self, source: str) -> Template:
        """``source`` compiled (TemplateError ``TEMPLATE_SYNTAX`` when it does not parse), kept for the next page."""
        with self._lock:
            known = self._compiled.get(source)
        if known is None:
            known = handlebars.compile(source, delimiters=self.delimiters, helpers=self.helpers)
            with self._lock:
                self._compiled[source] = known
        return known

    def render(
        self, source: str, certificate: str, *, entity_id: str | None = None, entity_name: str | None = None
    ) -> str:
        """The page ``source`` (a Handlebars template's text) makes of ``certificate`` (the credential's JSON text)."""
        template = self.compiled(source)
        text = qr_text(certificate, entity_id=entity_id, entity_name=entity_name, settings=self.settings)
        return template.render(certificate_data(certificate, qr_data_url(certificate, text)))

    def render_url(
        self, url: str, certificate: str, *, entity_id: str | None = None, entity_name: str | None = None
    ) -> str:
        """:meth:`render` with the template at ``url``."""
        return self.render(self.template_text(url), certificate, entity_id=entity_id, entity_name=entity_name)


# an SVG document: its first element, after a byte order mark, an XML declaration, comments and a doctype
_SVG_PAGE: Final = re.compile(
    r"\A\ufeff?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]", re.IGNORECASE | re.DOTALL
)


def is_svg(page: str) -> bool:
    """Whether a page (or a template) is an SVG document rather than HTML, by its first element."""
    return _SVG_PAGE.match(page) is not None


def print_page(page: str) -> bytes:
    """A rendered page printed as certificate-api prints it: A4, backgrounds, Chromium's header and
    footer (:mod:`vccore.pdf`: no network, no script), as SVG or HTML by its first element.
    """
    from . import pdf  # the printer, loaded on the first PDF asked for

    if is_svg(page):
        return pdf.svg_to_pdf(page, header_footer=True)
    return pdf.html_to_pdf(page, header_footer=True)


_BODY: Final = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_SVG_OPEN: Final = re.compile(r"<svg\b[^>]*>", re.IGNORECASE)


def with_notice(page: str, lines: list[str]) -> str:
    """``page`` (a tenant's rendered HTML or SVG) with ``lines`` (the state of a credential that is
    not current: revoked, suspended, superseded, expired, not verified; :func:`vccore.render.page_state`)
    shown at its top in a red band: a tenant's template cannot know the state, and the page must
    not look current. No lines: the page as it is.
    """
    if not lines:
        return page
    escaped = [html.escape(line) for line in lines]
    if is_svg(page):
        svg_open = _SVG_OPEN.search(page)
        height = 14 + 12 * len(lines)
        texts = "".join(
            f'<text x="50%" y="{16 + 12 * i}" text-anchor="middle" font-family="sans-serif" font-size="10" '
            f'font-weight="bold" fill="#fff">{line}</text>'
            for i, line in enumerate(escaped)
        )
        band = f'<g role="alert"><rect x="0" y="0" width="100%" height="{height}" fill="#b00020"/>{texts}</g>'
        return page[: svg_open.end()] + band + page[svg_open.end() :] if svg_open else page
    band = (
        '<div role="alert" style="background:#b00020;color:#fff;font:bold 14pt sans-serif;padding:4mm;'
        'text-align:center">' + "<br>".join(escaped) + "</div>"
    )
    body = _BODY.search(page)
    return page[: body.end()] + band + page[body.end() :] if body else band + page

"""Printable certificates: a credential as an A4 page (HTML with print CSS, SVG, or the HTML
page printed to PDF by :mod:`vccore.pdf`) for people, with its QR code (the whole signed
credential, :mod:`vccore.qr`) for machines.

What a page shows comes from the entity type (``certificate`` in its ``entity.json``: a title and
the fields, each a label and a path into the credential). The HTML page is
``templates/certificate.html`` unless the type brings its own. A page template knows five
placeholders: ``{{title}}``, ``{{fields}}`` (the table rows), ``{{qr}}`` (the QR code as inline
SVG), ``{{value:PATH}}`` and ``{{state}}`` (the notice of a credential that is revoked, suspended,
superseded, expired or not verified; a page without it gets the notice at the top of its body).
A page whose credential did not verify does not invite a scan to verify it. Every value from the credential is escaped for HTML or XML: a
credential is data from outside, and its page must not run or load anything it says.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from . import _datetime, pdf, qr
from ._resources import data_dir
from .codes import ErrorCode, ProblemCode
from .entities import CertificateSpec, EntityType, bundled_entity_types
from .errors import RenderError
from .results import STATUS_WORDS, VerificationResult

__all__ = [
    "RenderError",
    "certificate_html",
    "certificate_pdf",
    "certificate_svg",
    "entity_type_of",
    "page_state",
    "render",
    "value_at",
]


_PLACEHOLDER: Final = re.compile(r"\{\{(title|fields|qr|state|value:[^}]+)\}\}")
_BODY: Final = re.compile(r"<body[^>]*>", re.IGNORECASE)
SCAN_TO_VERIFY: Final = "Scan to verify this certificate."
NOT_VERIFIED: Final = "NOT VERIFIED"
ISSUED_BY: Final = "issuer.id|issuer"
CERTIFICATE_ID: Final = "evidence.certificateId|evidence.0.certificateId"
_STATE_WORDS: Final = {
    ProblemCode.REVOKED: "REVOKED",
    ProblemCode.SUPERSEDED: "SUPERSEDED",
    ProblemCode.SUSPENDED: "SUSPENDED",
    ProblemCode.EXPIRED: "EXPIRED",
    ProblemCode.NOT_YET_VALID: "NOT YET VALID",
}


def page_state(
    credential: Mapping[str, Any], verification: VerificationResult | None = None, *, now: datetime | None = None
) -> tuple[bool, list[str]]:
    """What a page says of its credential's state: whether it may invite a scan to verify (False:
    the credential did not verify, and the page says so), and the lines of its notice (none for a
    credential that verified and holds). Without ``verification``, the state is read from the
    credential's own dates at ``now`` (default: the clock).
    """
    if verification is None:
        return True, _dated_state(credential, now if now is not None else _datetime.now())
    if not verification.authentic:
        codes = ", ".join(dict.fromkeys(p.code for p in verification.problems if p.code not in STATUS_WORDS))
        return False, [
            f"{NOT_VERIFIED}: this credential did not verify ({codes or 'no proof verified'}). "
            "Do not rely on this page."
        ]
    lines = []
    for problem in verification.problems:
        word = _STATE_WORDS.get(problem.code)
        if word is None:
            continue
        if problem.code == ProblemCode.EXPIRED:
            lines.append(f"{word}: valid until {value_at(credential, 'validUntil|expirationDate') or problem.detail}")
        elif problem.code == ProblemCode.NOT_YET_VALID:
            lines.append(f"{word}: valid from {value_at(credential, 'validFrom|issuanceDate') or problem.detail}")
        else:
            lines.append(f"{word}: {problem.detail}")
    return True, list(dict.fromkeys(lines))


def _dated_state(credential: Mapping[str, Any], now: datetime) -> list[str]:
    """EXPIRED or NOT YET VALID, from the credential's dates as written (unreadable dates say nothing)."""
    lines = []
    for path, expired, word, says in (
        ("validUntil|expirationDate", True, _STATE_WORDS[ProblemCode.EXPIRED], "valid until"),
        ("validFrom|issuanceDate", False, _STATE_WORDS[ProblemCode.NOT_YET_VALID], "valid from"),
    ):
        text = value_at(credential, path)
        try:
            moment = _datetime.parse(text) if text else None
        except ValueError:
            moment = None
        if moment is not None and (now > moment if expired else now < moment):
            lines.append(f"{word}: {says} {text}")
    return lines


def _issued_by(credential: Mapping[str, Any]) -> str:
    """The line under the title: who issued the certificate, and its number when it has one."""
    issuer, number = value_at(credential, ISSUED_BY), value_at(credential, CERTIFICATE_ID)
    return f"Issued by {issuer or '(no issuer)'}" + (f" \u00b7 certificate {number}" if number else "")


def entity_type_of(credential: Mapping[str, Any], entity_types: Mapping[str, EntityType] | None = None) -> EntityType:
    """The entity type whose credentials have this credential's types (its template's
    ``type`` values other than ``VerifiableCredential``).
    """
    types = credential.get("type")
    held = (
        {types}
        if isinstance(types, str)
        else {t for t in types if isinstance(t, str)}
        if isinstance(types, list)
        else set()
    )
    for entity in (entity_types if entity_types is not None else bundled_entity_types()).values():
        for template in entity.templates.values():
            wanted = template.get("type")
            own = {wanted} if isinstance(wanted, str) else set(wanted or ())
            own.discard("VerifiableCredential")
            if own and own <= held:
                return entity
    raise RenderError(
        f"no entity type makes credentials of type {', '.join(sorted(held)) or '(none)'}: nothing says how to print it",
        code=ErrorCode.UNKNOWN_ENTITY_TYPE,
        types=", ".join(sorted(held)),
    )


def _spec(entity: EntityType) -> CertificateSpec:
    if entity.certificate is None:
        raise RenderError(
            f"{entity.name} has no certificate layout (certificate in its entity.json)",
            code=ErrorCode.NO_CERTIFICATE_LAYOUT,
            entity=entity.name,
        )
    return entity.certificate


def value_at(credential: Any, path: str) -> str:
    """The text at ``path`` (dotted keys, list indexes; the first of ``a|b`` that is there), or ""."""
    for alternative in path.split("|"):
        node = credential
        for part in alternative.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                break
        else:
            if isinstance(node, (str, int, float)) and not isinstance(node, bool):
                return str(node)
            if isinstance(node, bool):
                return "yes" if node else "no"
    return ""


def certificate_html(
    credential: Mapping[str, Any],
    *,
    entity_types: Mapping[str, EntityType] | None = None,
    qr_format: qr.QRFormat | str = qr.QRFormat.COMPACT,
    verification: VerificationResult | None = None,
    now: datetime | None = None,
) -> str:
    """The printable page of a credential, as HTML. With ``verification`` (the credential's
    result), the page shows its state: revoked, suspended, superseded, expired, or not verified
    at all (then it does not invite a scan to verify); without it, its dates at ``now``.
    """
    entity = entity_type_of(credential, entity_types)
    spec = _spec(entity)
    page = (
        spec.page if spec.page is not None else (data_dir("templates") / "certificate.html").read_text(encoding="utf-8")
    )
    scannable, state = page_state(credential, verification, now=now)
    if not scannable:
        page = page.replace(SCAN_TO_VERIFY, f"{NOT_VERIFIED}: the credential in this code did not verify.")
    notice = (
        '<div role="alert" style="border: 0.8mm solid #b00020; color: #b00020; font-weight: bold; '
        'font-size: 12pt; padding: 3mm 4mm; margin: 0 auto 4mm; max-width: 180mm">'
        + "<br>".join(html.escape(line) for line in state)
        + "</div>"
        if state
        else ""
    )
    if "{{state}}" not in page and notice:
        found = _BODY.search(page)
        at = found.end() if found is not None else 0
        page = f"{page[:at]}\n{notice}{page[at:]}"
    symbol = qr.make(credential, format=qr_format)
    rows = "\n".join(
        f"    <tr><th>{html.escape(label)}</th><td>{html.escape(value_at(credential, path))}</td></tr>"
        for label, path in spec.fields
    )

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name == "title":
            return html.escape(spec.title)
        if name == "fields":
            return rows
        if name == "qr":
            return f'<svg role="img" aria-label="QR code of the credential"{symbol.svg()[4:]}'
        if name == "state":
            return notice
        return html.escape(value_at(credential, name[len("value:") :]))

    return _PLACEHOLDER.sub(fill, page)


def certificate_svg(
    credential: Mapping[str, Any],
    *,
    entity_types: Mapping[str, EntityType] | None = None,
    qr_format: qr.QRFormat | str = qr.QRFormat.COMPACT,
    verification: VerificationResult | None = None,
    now: datetime | None = None,
) -> str:
    """The printable page of a credential, as an A4 SVG (sizes in millimetres); its state as
    :func:`certificate_html` shows it.
    """
    entity = entity_type_of(credential, entity_types)
    spec = _spec(entity)
    symbol = qr.make(credential, format=qr_format)
    scannable, state = page_state(credential, verification, now=now)
    lines = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297">',
        '<rect width="210" height="297" fill="#fff"/>',
        '<g font-family="DejaVu Sans, Noto Sans, Arial, sans-serif" fill="#1b1b1b">',
        f'<text x="15" y="28" font-size="7" fill="#1f4e79" font-weight="bold">{html.escape(spec.title)}</text>',
    ]
    y = 34.0
    for chunk in _wrapped(_issued_by(credential), 100):
        lines.append(f'<text x="15" y="{y:.1f}" font-size="3" fill="#555">{html.escape(chunk)}</text>')
        y += 3.8
    lines.append(f'<rect x="15" y="{y - 1.8:.1f}" width="180" height="0.6" fill="#1f4e79"/>')
    y += 6.0
    if state:
        notice = [chunk for line in state for chunk in _wrapped(line, 80)]
        height = 4.0 + 5.0 * len(notice)
        lines.append(
            f'<rect x="15" y="{y - 5:.1f}" width="180" height="{height:.1f}" fill="none" stroke="#b00020" stroke-width="0.8"/>'
        )
        for chunk in notice:
            lines.append(
                f'<text x="19" y="{y:.1f}" font-size="3.8" font-weight="bold" fill="#b00020">{html.escape(chunk)}</text>'
            )
            y += 5.0
        y += 6.0
    for label, path in spec.fields:
        value = value_at(credential, path)
        lines.append(f'<text x="15" y="{y:.1f}" font-size="3.6" font-weight="bold">{html.escape(label)}</text>')
        for chunk in _wrapped(value, 56) or [""]:
            lines.append(f'<text x="80" y="{y:.1f}" font-size="3.6">{html.escape(chunk)}</text>')
            y += 5.2
        y += 1.0
    size = 70.0
    top = max(y + 4, 297 - 15 - size - 8)
    modules = len(symbol.qr.matrix) + 8
    lines.append("</g>")
    lines.append(
        f'<g transform="translate({(210 - size) / 2:.2f} {top:.2f}) scale({size / modules:.5f})">{_symbol_body(symbol)}</g>'
    )
    caption = SCAN_TO_VERIFY if scannable else f"{NOT_VERIFIED}: the credential in this code did not verify."
    lines.append(
        f'<text x="105" y="{top + size + 5:.1f}" font-size="3" text-anchor="middle" fill="{"#555" if scannable else "#b00020"}" font-family="DejaVu Sans, Arial, sans-serif">{caption}</text>'
    )
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def certificate_pdf(
    credential: Mapping[str, Any],
    *,
    entity_types: Mapping[str, EntityType] | None = None,
    qr_format: qr.QRFormat | str = qr.QRFormat.COMPACT,
    verification: VerificationResult | None = None,
    now: datetime | None = None,
    timeout: float = pdf.DEFAULT_TIMEOUT,
) -> bytes:
    """The printable page of a credential (:func:`certificate_html`, its state shown the same way)
    printed to an A4 PDF by headless Chromium (:func:`vccore.pdf.html_to_pdf`: nothing fetched,
    no script run). Its QR code stays vector in the PDF.
    """
    page = certificate_html(
        credential, entity_types=entity_types, qr_format=qr_format, verification=verification, now=now
    )
    return pdf.html_to_pdf(page, timeout=timeout)


def _symbol_body(symbol: qr.Symbol) -> str:
    """The QR's SVG without its own <svg> element: a white square and the dark modules."""
    inner = symbol.svg()
    start, end = inner.index(">") + 1, inner.rindex("</svg>")
    modules = len(symbol.qr.matrix) + 8
    return f'<rect width="{modules}" height="{modules}" fill="#fff"/>{inner[start:end]}'


def _wrapped(text: str, width: int) -> list[str]:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        while len(word) > width:  # a long token (a URL, an id) is cut
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]  # noqa: PLW2901 (the rest of the word is what the loop goes on with)
        candidate = f"{line} {word}" if line else word
        if len(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def render(
    credential: Mapping[str, Any],
    path: str | Path,
    *,
    entity_types: Mapping[str, EntityType] | None = None,
    qr_format: qr.QRFormat | str = qr.QRFormat.COMPACT,
    verification: VerificationResult | None = None,
    now: datetime | None = None,
) -> Path:
    """Write a credential's printable page: ``.html``, ``.svg`` or ``.pdf``, by the file's suffix.
    ``qr_format``: the :class:`vccore.qr.QRFormat` of its QR code, or its value.
    ``verification``: the credential's result (``Verifier.verify``), whose state the page shows
    (without it, the page shows the state of the credential's dates at ``now``).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    options: dict[str, Any] = {
        "entity_types": entity_types,
        "qr_format": qr_format,
        "verification": verification,
        "now": now,
    }
    if suffix in (".html", ".htm"):
        text = certificate_html(credential, **options)
    elif suffix == ".svg":
        text = certificate_svg(credential, **options)
    elif suffix == ".pdf":
        target.write_bytes(certificate_pdf(credential, **options))
        return target
    else:
        raise RenderError(f"{target.name}: vccore writes a certificate as .html, .svg or .pdf", path=str(target))
    target.write_text(text, encoding="utf-8")
    return target

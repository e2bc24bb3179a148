"""Printable certificates: a credential as an A4 page (HTML with print CSS, or SVG) for people,
with its QR code (the whole signed credential, :mod:`vccore.qr`) for machines.

What a page shows comes from the entity type (``certificate`` in its ``entity.json``: a title and
the fields, each a label and a path into the credential). The HTML page is
``templates/certificate.html`` unless the type brings its own. A page template knows four
placeholders: ``{{title}}``, ``{{fields}}`` (the table rows), ``{{qr}}`` (the QR code as inline
SVG) and ``{{value:PATH}}``. Every value from the credential is escaped for HTML or XML: a
credential is data from outside, and its page must not run or load anything it says.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from . import qr
from ._resources import data_dir
from .codes import ErrorCode
from .entities import CertificateSpec, EntityType, bundled_entity_types
from .errors import RenderError

__all__ = ["RenderError", "certificate_html", "certificate_svg", "entity_type_of", "render", "value_at"]


_PLACEHOLDER: Final = re.compile(r"\{\{(title|fields|qr|value:[^}]+)\}\}")


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
) -> str:
    """The printable page of a credential, as HTML."""
    entity = entity_type_of(credential, entity_types)
    spec = _spec(entity)
    page = (
        spec.page if spec.page is not None else (data_dir("templates") / "certificate.html").read_text(encoding="utf-8")
    )
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
        return html.escape(value_at(credential, name[len("value:") :]))

    return _PLACEHOLDER.sub(fill, page)


def certificate_svg(
    credential: Mapping[str, Any],
    *,
    entity_types: Mapping[str, EntityType] | None = None,
    qr_format: qr.QRFormat | str = qr.QRFormat.COMPACT,
) -> str:
    """The printable page of a credential, as an A4 SVG (sizes in millimetres)."""
    entity = entity_type_of(credential, entity_types)
    spec = _spec(entity)
    symbol = qr.make(credential, format=qr_format)
    lines = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297">',
        '<rect width="210" height="297" fill="#fff"/>',
        '<g font-family="DejaVu Sans, Noto Sans, Arial, sans-serif" fill="#1b1b1b">',
        f'<text x="15" y="28" font-size="7" fill="#1f4e79" font-weight="bold">{html.escape(spec.title)}</text>',
        '<rect x="15" y="32" width="180" height="0.6" fill="#1f4e79"/>',
    ]
    y = 42.0
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
    lines.append(
        f'<text x="105" y="{top + size + 5:.1f}" font-size="3" text-anchor="middle" fill="#555" font-family="DejaVu Sans, Arial, sans-serif">Scan to verify this certificate.</text>'
    )
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


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
) -> Path:
    """Write a credential's printable page: ``.html`` or ``.svg``, by the file's suffix.
    ``qr_format``: the :class:`vccore.qr.QRFormat` of its QR code, or its value.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".html", ".htm"):
        text = certificate_html(credential, entity_types=entity_types, qr_format=qr_format)
    elif suffix == ".svg":
        text = certificate_svg(credential, entity_types=entity_types, qr_format=qr_format)
    else:
        raise RenderError(f"{target.name}: vccore writes a certificate as .html or .svg", path=str(target))
    target.write_text(text, encoding="utf-8")
    return target

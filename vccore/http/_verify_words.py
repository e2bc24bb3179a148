"""The words of the verifier's page (``/verify``), all in one place: a deployment that speaks
another language gives :class:`~vccore.http.verify_page.VerifyPage` a mapping with the same keys.

Placeholders in braces (``{successor}``, ``{date}``, ``{url}``, ``{limit}``) are filled by the
page; every value is escaped for HTML after it is filled. ``lang`` is the page's language tag.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["ENGLISH", "check_words"]

ENGLISH: Final[Mapping[str, str]] = MappingProxyType(
    {
        "lang": "en",
        # the home page (/)
        "home.title": "Certificates",
        "home.intro": "This server issues certificates as W3C Verifiable Credentials, and checks them.",
        "home.verify": "Verify a certificate",
        "home.api": "The API's description (OpenAPI)",
        # the form (/verify)
        "form.title": "Verify a certificate",
        "form.intro": "Take a photo of the certificate's QR code, or paste what the QR code holds.",
        "form.photo": "Photo of the QR code",
        "form.photo_help": "On a phone this opens the camera. The photo is read once and never kept.",
        "form.text": "Or paste the QR code's text, or the certificate's JSON",
        "form.submit": "Verify",
        "form.again": "Verify another certificate",
        "form.working": "Checking the certificate\u2026",
        "form.failed": "The answer did not arrive. Check the connection and try again.",
        # the verdict, large and first
        "verdict.VALID": "VALID",
        "verdict.SUPERSEDED": "SUPERSEDED",
        "verdict.REVOKED": "REVOKED",
        "verdict.SUSPENDED": "SUSPENDED",
        "verdict.EXPIRED": "EXPIRED",
        "verdict.NOT_YET_VALID": "NOT YET VALID",
        "verdict.INVALID": "NOT GENUINE",
        "verdict.UNREAD": "NOT CHECKED",
        # why, in plain words
        "reason.VALID": "The issuer made this certificate, and it still stands.",
        "reason.SUPERSEDED": "Replaced by certificate {successor} on {date}: ask for the new one.",
        "reason.SUPERSEDED.undated": "Replaced by certificate {successor}: ask for the new one.",
        "reason.SUPERSEDED.unnamed": "The issuer has replaced this certificate with a newer one: ask for the new one.",
        "reason.REVOKED": "The issuer withdrew this certificate on {date}. Do not accept it.",
        "reason.REVOKED.undated": "The issuer has withdrawn this certificate. Do not accept it.",
        "reason.SUSPENDED": "Suspended until {date}: the issuer has put this certificate on hold. Do not accept it now.",
        "reason.SUSPENDED.undated": "The issuer has put this certificate on hold. Do not accept it now.",
        "reason.EXPIRED": "It was valid until {date}. Ask for a current certificate.",
        "reason.EXPIRED.undated": "Its time of validity is over. Ask for a current certificate.",
        "reason.NOT_YET_VALID": "It is valid from {date}, not before. Do not accept it yet.",
        "reason.NOT_YET_VALID.undated": "Its time of validity has not begun. Do not accept it yet.",
        "reason.INVALID": "This is not a certificate as its issuer made it. Do not accept it.",
        "reason.PROOF_VERIFICATION_ERROR": (
            "Its signature does not match what it says: it was changed after it was issued, or it is forged. "
            "Do not accept it."
        ),
        "reason.UNTRUSTED_ISSUER": "It was not issued by an issuer this server trusts. Do not accept it.",
        "reason.UNKNOWN_VERIFICATION_METHOD": (
            "It was signed with a key this server does not know, so who issued it cannot be told. Do not accept it."
        ),
        "reason.UNSUPPORTED_SUITE": "It is signed in a way this server does not accept. Do not accept it.",
        "reason.STATUS_RETRIEVAL_ERROR": (
            "Whether the issuer has withdrawn it could not be found out. Do not accept it until it can."
        ),
        "reason.PROOF_EXPIRED": "Its signature was given for a time that is over. Do not accept it.",
        # the details, after the verdict
        "details.holder": "Holder",
        "details.certificate": "Certificate",
        "details.kind": "Kind of certificate",
        "details.number": "Certificate number",
        "details.issuer": "Issued by",
        "details.issued": "Issued",
        "details.valid_from": "Valid from",
        "details.valid_until": "Valid until",
        "details.withheld": "Its details are not shown: nothing in it is known to be the issuer's.",
        # what stopped the check: the photo or the text, not the certificate
        "input.empty": "Choose a photo of the QR code, or paste its text, then press Verify.",
        "input.no_qr": (
            "No QR code was found in the photo. Fill the picture with the QR code, hold the phone still, "
            "avoid glare, and try again."
        ),
        "input.url": (
            "This QR code holds a web address ({url}), not a certificate. A link cannot prove a certificate: "
            "ask for the certificate's own QR code."
        ),
        "input.hc1": (
            "This QR code holds an EU Digital COVID Certificate (HC1:). This page checks W3C Verifiable "
            "Credentials only: use a verifier app for EU certificates."
        ),
        "input.shc": (
            "This QR code holds a SMART Health Card (shc:/). This page checks W3C Verifiable Credentials only: "
            "use a SMART Health Card verifier."
        ),
        "input.too_large": (
            "The photo is too large for this page (at most {limit}). Take it again at a lower resolution, "
            "or crop it to the QR code."
        ),
        "input.unreadable": "This file is not a picture this page reads: use a PNG, JPEG, GIF, BMP or WebP photo.",
        "input.not_credential": "The QR code or the text does not hold a certificate this page reads.",
        "input.no_reader": "This server cannot read photos (it has no QR reader). Paste the QR code's text instead.",
        "input.malformed": "The form could not be read. Reload the page and try again.",
        "input.failed": (
            "The server could not check this certificate. Try again; if it keeps failing, tell whoever runs it."
        ),
    }
)
"""The page's words in English (the default)."""


def check_words(words: Mapping[str, str]) -> Mapping[str, str]:
    """``words`` as the page uses them: every key of :data:`ENGLISH` given, each a string; a
    ValueError names what is missing, so that a translation is found incomplete at start, not
    on the page.
    """
    missing = sorted(key for key in ENGLISH if not isinstance(words.get(key), str))
    if missing:
        raise ValueError(f"the verifier page's words lack {', '.join(missing)}")
    for key, english in ENGLISH.items():
        try:
            named = _placeholders(words[key])
        except ValueError as exc:
            raise ValueError(f"the verifier page's words: {key} is not a text with {{placeholders}}: {exc}") from None
        unknown = named - _placeholders(english)
        if unknown:
            raise ValueError(
                f"the verifier page's words: {key} names {', '.join(sorted(unknown))}, which it is not given"
            )
    return MappingProxyType({key: words[key] for key in ENGLISH})


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}

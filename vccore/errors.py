"""One exception hierarchy for everything vccore builds, signs or loads.

Every error has a stable machine ``code`` (callers and the CLI switch on it, never on the
message) and keyword ``details`` naming the field, URL or value at fault. ``verify()`` does not
raise these for anything that comes from the credential: it turns them into problems with the
same codes (see ``vccore.verify``).

Every exception class of vccore is here, whichever room raises it (the rooms re-export theirs:
``vccore.qr.QRError``, ``vccore.store.LifecycleError``, ...); the codes are
:class:`vccore.codes.ErrorCode` members. :class:`PayloadProblem`, the value a
:class:`PayloadError` carries, is here beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from .codes import ErrorCode, PayloadReason


class VccoreError(Exception):
    """Base class of every error vccore raises on purpose."""

    code: ErrorCode = ErrorCode.VCCORE_ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = ErrorCode(code)
        self.details: dict[str, Any] = details

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (code, details, a subclass's own fields): batch workers send errors back.
        return (_restore, (type(self), self.args, self.__dict__))

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: ``{"code", "detail", **details}``."""
        out: dict[str, Any] = {"code": self.code, "detail": self.message}
        for key, value in self.details.items():
            out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        return out


def _restore(cls: type[VccoreError], args: tuple[Any, ...], state: dict[str, Any]) -> VccoreError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ContextError(VccoreError):
    """A JSON-LD context is unknown, or its bytes do not match their pin.

    Codes: ``UNKNOWN_CONTEXT`` (``url``), ``CONTEXT_DIGEST_MISMATCH`` (``url``, ``expected``,
    ``actual``), ``INVALID_CONTEXT`` (``url``).
    """

    code = ErrorCode.UNKNOWN_CONTEXT


class CanonicalizationError(VccoreError):
    """JSON-LD or RDF input cannot be canonicalized.

    Codes: ``JSONLD_ERROR``, ``INVALID_JSON`` (``path``: a lone surrogate, a non-finite number),
    ``INVALID_NQUADS`` (``line``), ``CANONICALIZATION_LIMIT`` (``limit``), ``INPUT_TOO_DEEP``,
    ``INPUT_TOO_LARGE`` (``limit``), ``WORK_LIMIT`` (``limit``: the request's
    :class:`vccore.canon.WorkBudget` is spent).
    """

    code = ErrorCode.JSONLD_ERROR


class SafeModeError(CanonicalizationError):
    """Safe mode: the document holds something that would not be signed as written.

    Codes: ``UNDEFINED_TERM`` (``term``, ``path``) when no context defines a property,
    ``RELATIVE_IRI`` (``iri``, ``path``) when an ``id`` or ``type`` is not an absolute IRI, and
    ``DATA_LOSS`` (``path``) for any other value that JSON-LD processing would drop.
    """

    code = ErrorCode.UNDEFINED_TERM


class KeyFormatError(VccoreError):
    """A key cannot be read: wrong encoding, multicodec, length or type. Code ``INVALID_KEY``;
    ``KEY_PASSPHRASE_REQUIRED``, ``KEY_PASSPHRASE_WRONG`` (an encrypted key file),
    ``KEY_NOT_ROTATABLE`` (a did:key issuer), ``UNKNOWN_VERIFICATION_METHOD`` (a verifier's key
    resolution).
    """

    code = ErrorCode.INVALID_KEY


class DocumentError(VccoreError):
    """A document to sign is not a usable JSON-LD object. Code ``INVALID_DOCUMENT`` (``field``)."""

    code = ErrorCode.INVALID_DOCUMENT


class SigningError(VccoreError):
    """A proof cannot be created with this signer. Code ``SIGNING_ERROR``."""

    code = ErrorCode.SIGNING_ERROR


class UnsupportedSuiteError(VccoreError):
    """A suite name vccore does not know. Code ``UNSUPPORTED_SUITE`` (``suite``)."""

    code = ErrorCode.UNSUPPORTED_SUITE


class MalformedProofError(VccoreError):
    """A proof's value cannot be decoded. Code ``MALFORMED_PROOF_ERROR``."""

    code = ErrorCode.MALFORMED_PROOF_ERROR


class Unreadable(VccoreError):  # noqa: N818 (read where raised: "raise Unreadable(f'{name} must be a URL')")
    """A signed fact that cannot be read as one value of its kind. Code
    ``MALFORMED_VALUE_ERROR`` (``field``: the term the specs name it by).
    """

    code = ErrorCode.MALFORMED_VALUE_ERROR


class StatusError(VccoreError):
    """A status list cannot be read. Codes ``STATUS_LIST_ERROR``, ``STATUS_LIST_LENGTH_ERROR``."""

    code = ErrorCode.STATUS_LIST_ERROR


class LifecycleError(VccoreError):
    """A certificate cannot make this change. Codes ``UNKNOWN_CERTIFICATE`` (``certificate_id``),
    ``INVALID_TRANSITION`` (``certificate_id``, ``state``), ``DUPLICATE_CERTIFICATE_ID``,
    ``DUPLICATE_ISSUE_KEY`` (``key``), ``STORE_ERROR``.
    """

    code = ErrorCode.INVALID_TRANSITION


class EntityTypeError(VccoreError):
    """An entity type folder is unusable. Code ``INVALID_ENTITY_TYPE`` (``entity``, ``file``)."""

    code = ErrorCode.INVALID_ENTITY_TYPE


@dataclass(frozen=True, slots=True)
class PayloadProblem:
    """One thing wrong with a payload: where (a JSON pointer), a stable reason, and a message.

    Reasons: ``MISSING``, ``WRONG_TYPE``, ``BAD_DATE``, ``NOT_A_URL`` (URL or DID),
    ``UNKNOWN_FIELD``, ``INVALID_VALUE``.
    """

    pointer: str
    reason: PayloadReason
    detail: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"pointer": self.pointer, "reason": self.reason, "detail": self.detail}


class PayloadError(VccoreError):
    """A payload does not match its entity type's schema. Code ``INVALID_PAYLOAD``.

    ``problems`` lists every problem found, not only the first.
    """

    code = ErrorCode.INVALID_PAYLOAD

    def __init__(self, entity: str, problems: Iterable[PayloadProblem]) -> None:
        self.problems = tuple(problems)
        summary = "; ".join(f"{p.pointer or '/'}: {p.detail}" for p in self.problems)
        super().__init__(f"{entity} payload: {summary}", entity=entity)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the problems."""
        out = super().to_dict()
        out["problems"] = [p.to_dict() for p in self.problems]
        return out


class RenderError(VccoreError):
    """A credential cannot be printed. Codes: ``UNKNOWN_ENTITY_TYPE`` (``types``),
    ``NO_CERTIFICATE_LAYOUT`` (``entity``), ``RENDER_ERROR``.
    """

    code = ErrorCode.RENDER_ERROR


class TemplateError(VccoreError):
    """A Handlebars credential template (Sunbird RC's, DIVOC's) cannot make a credential.

    Codes: ``TEMPLATE_SYNTAX`` (the template does not parse: ``line``, ``column``),
    ``TEMPLATE_DATA`` (a data value would change the credential's JSON structure, or is of a
    kind the slot cannot take: ``field``, the data path), ``TEMPLATE_NOT_JSON`` (the rendered
    text is not JSON: ``line``, ``column``), ``TEMPLATE_FETCH`` (a template URL could not be
    fetched within its bounds: ``url``).
    """

    code = ErrorCode.TEMPLATE_SYNTAX


class TemplateValueError(ValueError):
    """Inside :mod:`vccore.handlebars`: a data value that is not JSON data (a set, a date, arrays
    nested too deep), found while printing it; the renderer turns it into a :class:`TemplateError`
    (``TEMPLATE_DATA``) naming the field.
    """


class PrinterTimeoutError(Exception):
    """Inside :mod:`vccore.pdf`: the deadline passed before Chromium answered (a RenderError to callers)."""


class PrinterProtocolError(Exception):
    """Inside :mod:`vccore.pdf`: Chromium answered a command with an error (a RenderError to callers)."""


class VerifyPageInputError(Exception):
    """Inside :mod:`vccore.http.verify_page`: what stopped a check before any credential was read
    (no QR code in the photo, a URL, an empty form): ``key`` names the page's words for it,
    ``code`` is the outcome logged, ``status`` the HTTP status, ``fill`` the words' placeholders.
    """

    def __init__(self, key: str, code: str, status: int, **fill: str) -> None:
        super().__init__(key)
        self.key, self.code, self.status, self.fill = key, code, status, fill


class QRError(VccoreError):
    """A QR payload cannot be made or read.

    Codes: ``QR_TOO_LARGE`` (``bytes``, ``characters``, ``ecc``), ``QR_FORMAT_UNSUPPORTED``
    (``format``: ``HC1`` or ``SHC``), ``QR_MALFORMED`` (what is wrong), ``QR_NOT_FOUND`` (an
    image with no readable QR code), ``QR_READER_MISSING``, ``QR_IMAGE_TOO_LARGE`` (``path``,
    ``limit``; ``width``, ``height`` and ``pixels``, or ``bytes``: an image over vccore's bounds),
    ``QR_IMAGE_UNREADABLE`` (``path``: not an image vccore reads, or a broken one).
    """

    code = ErrorCode.QR_MALFORMED


class BatchError(VccoreError):
    """A batch cannot start or go on: ``BATCH_ERROR`` (``path``)."""

    code = ErrorCode.BATCH_ERROR


# --- the HTTP API's refusals ---------------------------------------------------------------------


class ApiError(VccoreError):
    """A request the API refuses: ``status`` (HTTP) and a stable ``code``."""

    def __init__(
        self, status: int, message: str, *, code: ErrorCode, extra: dict[str, Any] | None = None, **details: Any
    ) -> None:
        super().__init__(message, code=code, **details)
        self.status = status
        self.extra = extra or {}
        """Structured members of the problem details (lists, objects), beside the scalar details."""


_MAX_DESCRIPTION: Final = 200


class AuthError(VccoreError):
    """A request without the right to do what it asks. ``status`` 401 (``UNAUTHENTICATED``:
    no token, or one that does not verify) or 403 (``FORBIDDEN``: ``scope`` missing).
    """

    code = ErrorCode.UNAUTHENTICATED

    @property
    def status(self) -> int:
        """The HTTP status of the refusal: 403 for ``FORBIDDEN``, else 401."""
        return 403 if self.code == ErrorCode.FORBIDDEN else 401

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` header of the refusal (RFC 6750 section 3)."""
        if self.code == ErrorCode.FORBIDDEN:
            return f'Bearer error="insufficient_scope", scope="{_auth_param(str(self.details.get("scope", "")))}"'
        if self.details.get("token") == "missing":
            return 'Bearer realm="vccore"'
        return f'Bearer error="invalid_token", error_description="{_auth_param(self.message)}"'


def _auth_param(text: str) -> str:
    r"""``text`` as an RFC 6750 auth-param value: the characters section 3 allows (printable ASCII
    but '"' and '\'), at most :data:`_MAX_DESCRIPTION` of them. A message can quote the token (a
    kid, a critical extension): a CR or LF there would end the header and start another, and a
    character beyond Latin-1 cannot be sent at all. A '"' becomes "'", anything else '?'; the
    problem details in the body keep the message whole.
    """
    safe = "".join(c if " " <= c <= "~" and c not in '"\\' else "'" if c == '"' else "?" for c in text)
    return safe if len(safe) <= _MAX_DESCRIPTION else safe[: _MAX_DESCRIPTION - 3] + "..."


# --- the command line ----------------------------------------------------------------------------


class UnusableInputError(Exception):
    """Input the command cannot use at all (exit status 2): ``code`` is the error code behind it,
    when a :class:`VccoreError` was (``QR_MALFORMED`` for a QR that holds no credential).
    """

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

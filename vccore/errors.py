"""One exception hierarchy for everything vccore builds, signs or loads.

Every error has a stable machine ``code`` (callers and the CLI switch on it, never on the
message) and keyword ``details`` naming the field, URL or value at fault. ``verify()`` does not
raise these for anything that comes from the credential: it turns them into problems with the
same codes (see ``vccore.verify``).
"""

from __future__ import annotations

from typing import Any


class VccoreError(Exception):
    """Base class of every error vccore raises on purpose."""

    code: str = "VCCORE_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
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

    code = "UNKNOWN_CONTEXT"


class CanonicalizationError(VccoreError):
    """JSON-LD or RDF input cannot be canonicalized.

    Codes: ``JSONLD_ERROR``, ``INVALID_JSON`` (``path``: a lone surrogate, a non-finite number),
    ``INVALID_NQUADS`` (``line``), ``CANONICALIZATION_LIMIT`` (``limit``), ``INPUT_TOO_DEEP``,
    ``INPUT_TOO_LARGE`` (``limit``).
    """

    code = "JSONLD_ERROR"


class SafeModeError(CanonicalizationError):
    """Safe mode: the document holds something that would not be signed as written.

    Codes: ``UNDEFINED_TERM`` (``term``, ``path``) when no context defines a property,
    ``RELATIVE_IRI`` (``iri``, ``path``) when an ``id`` or ``type`` is not an absolute IRI, and
    ``DATA_LOSS`` (``path``) for any other value that JSON-LD processing would drop.
    """

    code = "UNDEFINED_TERM"


class KeyFormatError(VccoreError):
    """A key cannot be read: wrong encoding, multicodec, length or type. Code ``INVALID_KEY``."""

    code = "INVALID_KEY"


class DocumentError(VccoreError):
    """A document to sign is not a usable JSON-LD object. Code ``INVALID_DOCUMENT`` (``field``)."""

    code = "INVALID_DOCUMENT"


class SigningError(VccoreError):
    """A proof cannot be created with this signer. Code ``SIGNING_ERROR``."""

    code = "SIGNING_ERROR"


class UnsupportedSuiteError(VccoreError):
    """A suite name vccore does not know. Code ``UNSUPPORTED_SUITE`` (``suite``)."""

    code = "UNSUPPORTED_SUITE"

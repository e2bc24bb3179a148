"""The W3C names vccore's code refers to: the VC Data Model versions, and the URLs of the contexts."""

from enum import StrEnum
from typing import Final

CREDENTIALS_V1: Final = "https://www.w3.org/2018/credentials/v1"
CREDENTIALS_V2: Final = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2: Final = "https://w3id.org/security/data-integrity/v2"
SECURITY_V2: Final = "https://w3id.org/security/v2"
ED25519_2020: Final = "https://w3id.org/security/suites/ed25519-2020/v1"
ED25519_2018: Final = "https://w3id.org/security/suites/ed25519-2018/v1"
MULTIKEY_V1: Final = "https://w3id.org/security/multikey/v1"
DID_V1: Final = "https://www.w3.org/ns/did/v1"


class VCVersion(StrEnum):
    """A version of the VC Data Model, as vccore's options and results spell it (``"2.0"``, ``"1.1"``).

    A credential says its version by its first ``@context``: :attr:`context`.
    """

    V2_0 = "2.0"
    V1_1 = "1.1"

    @property
    def context(self) -> str:
        """The context URL a credential of this version names first."""
        return CREDENTIALS_V2 if self is VCVersion.V2_0 else CREDENTIALS_V1

    @classmethod
    def _missing_(cls, value: object) -> None:
        raise ValueError(f"unknown VC version {value!r} (known: {', '.join(cls)})")

"""URLs of the W3C contexts that vccore's code refers to by name."""

from typing import Final

CREDENTIALS_V1: Final = "https://www.w3.org/2018/credentials/v1"
CREDENTIALS_V2: Final = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2: Final = "https://w3id.org/security/data-integrity/v2"
SECURITY_V2: Final = "https://w3id.org/security/v2"
ED25519_2020: Final = "https://w3id.org/security/suites/ed25519-2020/v1"
ED25519_2018: Final = "https://w3id.org/security/suites/ed25519-2018/v1"
MULTIKEY_V1: Final = "https://w3id.org/security/multikey/v1"
DID_V1: Final = "https://www.w3.org/ns/did/v1"

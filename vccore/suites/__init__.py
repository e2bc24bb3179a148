"""Proof suites: each one a frozen :class:`Suite` record, looked up by name from an allowlist."""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from ..codes import ErrorCode
from ..errors import MalformedProofError, UnsupportedSuiteError
from ._base import Suite
from .ed25519_signature_2018 import ED25519_SIGNATURE_2018, RSA_SIGNATURE_2018
from .ed25519_signature_2020 import ED25519_SIGNATURE_2020
from .eddsa_jcs_2022 import EDDSA_JCS_2022
from .eddsa_rdfc_2022 import EDDSA_RDFC_2022

# What vccore signs with when neither the caller nor an entity type (entity.json "suites") says.
DEFAULT_SUITE = "eddsa-rdfc-2022"

__all__ = [
    "DEFAULT_SUITE",
    "ED25519_SIGNATURE_2018",
    "ED25519_SIGNATURE_2020",
    "EDDSA_JCS_2022",
    "EDDSA_RDFC_2022",
    "RSA_SIGNATURE_2018",
    "SUITES",
    "MalformedProofError",
    "Suite",
    "get_suite",
    "resolve_suites",
]

SUITES = MappingProxyType(
    {
        suite.name: suite
        for suite in (
            EDDSA_RDFC_2022,
            EDDSA_JCS_2022,
            ED25519_SIGNATURE_2020,
            ED25519_SIGNATURE_2018,
            RSA_SIGNATURE_2018,
        )
    }
)
"""Every suite vccore knows, by name; those whose ``sign`` is None verify only."""


def get_suite(suite: str | Suite) -> Suite:
    """The suite called ``suite`` (or ``suite`` itself); UNSUPPORTED_SUITE if unknown."""
    if isinstance(suite, Suite):
        return suite
    found = SUITES.get(suite)
    if found is None:
        raise UnsupportedSuiteError(
            f"suite {suite!r} is not supported; known suites: {', '.join(SUITES)}",
            code=ErrorCode.UNSUPPORTED_SUITE,
            suite=suite,
        )
    return found


def resolve_suites(suites: Iterable[str | Suite]) -> tuple[Suite, ...]:
    """Suites from names or records, in order, without repeats."""
    if isinstance(suites, (str, Suite)):
        suites = (suites,)
    return tuple(dict.fromkeys(get_suite(s) for s in suites))

"""Who may call the HTTP API (:mod:`vccore.http`): bearer tokens, checked before anything runs.

Two modes:

- **JWT** (what DIVOC deployments do, with Keycloak as the token issuer): a JSON Web Key Set (a
  file, the token issuer's public keys) verifies the token's signature (RS256/PS256, ES256/ES384
  or EdDSA, never "none" or a shared-secret HS* algorithm); ``exp`` is required and checked
  (30 s leeway), ``nbf`` and ``iat`` when present, ``iss`` and ``aud`` when configured. Each of
  these times is an integer (a string, a float or a boolean is refused), and a token may live at
  most ``max_lifetime`` seconds (:data:`MAX_LIFETIME`, a day, unless told otherwise): ``exp``
  minus ``iat``, or minus now when it has no ``iat``. The token's permissions are read from
  ``scope`` (space-separated), ``scp``, ``roles`` and Keycloak's ``realm_access.roles`` together.
- **Static token**: one secret token, compared in constant time, allowed everything. The default
  of ``vccore serve`` on one machine.

Each operation needs one permission (:data:`SCOPES`): ``certify`` (create and update
certificates, the VC API's issue), ``revoke`` (revoke, suspend, lift a suspension) and ``read``
(fetch certificates and transactions). Verifying and the status lists are public.

A refusal is an :class:`AuthError`: 401 (no token, a malformed, forged or expired one) or 403 (a
good token without the permission), with the ``WWW-Authenticate`` header RFC 6750 asks for.
"""

from __future__ import annotations

import difflib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from ..codes import ErrorCode
from ..errors import AuthError

__all__ = [
    "MAX_LIFETIME",
    "SCOPES",
    "AuthError",
    "Authorizer",
    "JwtAuthorizer",
    "StaticTokenAuthorizer",
    "bearer_token",
    "misspelt_authorization",
]

SCOPES: Final = ("certify", "revoke", "read")
_ALGORITHMS: Final = {
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "EC": ("ES256", "ES384", "ES512"),
    "OKP": ("EdDSA",),
}
MAX_TOKEN_CHARS: Final = 16_384
MAX_LIFETIME: Final = 86_400
"""The longest a JWT may live by default, in seconds (``exp`` - ``iat``): a day. Keycloak's access
tokens live 5 minutes unless a realm says otherwise; a token that lives for years is a password
that cannot be changed."""


class Authorizer(Protocol):
    """Checks a request's bearer token for one permission; returns who it is (for the log)."""

    def check(self, token: str | None, scope: str) -> str:
        """Who holds ``token``, if it grants ``scope``; AuthError (401 or 403) otherwise."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case, as
    RFC 7235 has it); None when there is no header; AuthError when it is not a bearer token.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header is not 'Bearer <token>'", token="malformed")
    return token.strip()


def _missing(where: str) -> AuthError:
    """No Authorization header: which header to send, with which scheme, and where the token is."""
    return AuthError(
        f"this call needs a bearer token: send the header Authorization: Bearer <token>, where the token is {where}",
        token="missing",
    )


def misspelt_authorization(header_names: Iterable[str]) -> AuthError | None:
    """The refusal of a request that has no ``Authorization`` header but one spelt near it (the
    seed page writes "Authorisation"), naming it; None when it has none such.
    """
    near = difflib.get_close_matches("authorization", [n.lower() for n in header_names], n=1, cutoff=0.8)
    if not near:
        return None
    return AuthError(
        f"this call needs an Authorization header, and this request has none but has {near[0]}: did you mean "
        "Authorization? Send Authorization: Bearer <token>",
        token="missing",
        header=near[0],
    )


@dataclass(frozen=True)
class StaticTokenAuthorizer:
    """One secret token that may do everything."""

    token: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.token) < 16:
            raise ValueError("a static API token needs at least 16 characters")

    def check(self, token: str | None, scope: str) -> str:
        """The one token, compared in constant time; it grants every scope."""
        if token is None:
            raise _missing(
                "the server's API token: vccore serve takes $VCCORE_API_TOKEN, else the file api-token in its "
                "home folder (.vccore/api-token by default), and names it in the line it prints at start"
            )
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise AuthError("the bearer token is not this server's", token="invalid")
        return "static-token"


class JwtAuthorizer:
    """Tokens signed by a token issuer whose public keys are in a JWKS."""

    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        leeway: float = 30.0,
        max_lifetime: float | None = MAX_LIFETIME,
    ) -> None:
        """``max_lifetime``: the longest a token may live, in seconds (None: no limit)."""
        import jwt  # the server extra

        self._jwt = jwt
        try:
            key_set = jwt.PyJWKSet.from_dict(dict(jwks))
        except (jwt.PyJWKSetError, jwt.InvalidKeyError, TypeError, ValueError) as exc:
            raise AuthError(f"the JWKS cannot be used: {exc}", code=ErrorCode.AUTH_CONFIG) from None
        self._keys: list[Any] = []
        for key in key_set.keys:
            kty = key._jwk_data.get("kty")
            if kty not in _ALGORITHMS:
                raise AuthError(
                    f"the JWKS key {key.key_id or '(no kid)'} is a {kty} key: only RSA, EC and OKP keys sign tokens",
                    code=ErrorCode.AUTH_CONFIG,
                )
            if key._jwk_data.get("use", "sig") != "sig":
                continue
            self._keys.append(key)
        if not self._keys:
            raise AuthError("the JWKS holds no signing key", code=ErrorCode.AUTH_CONFIG)
        self.issuer = issuer
        self.audience = [audience] if isinstance(audience, str) else list(audience) if audience is not None else None
        self.leeway = leeway
        if max_lifetime is not None and not max_lifetime > 0:
            raise AuthError(
                f"the longest token lifetime is a number of seconds above 0, not {max_lifetime}",
                code=ErrorCode.AUTH_CONFIG,
            )
        self.max_lifetime = max_lifetime

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> JwtAuthorizer:
        """A JWKS file (``{"keys": [...]}``, as a token issuer publishes it)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AuthError(f"cannot read the JWKS {path}: {exc}", code=ErrorCode.AUTH_CONFIG) from None
        if not isinstance(data, dict):
            raise AuthError(f"{path} is not a JWKS object", code=ErrorCode.AUTH_CONFIG)
        return cls(data, **options)

    def _key_for(self, header: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if kid is not None:
            for key in self._keys:
                if key.key_id == kid:
                    return key
            raise AuthError(f"no key {json.dumps(kid)} in the token issuer's key set", token="invalid")
        if len(self._keys) == 1:
            return self._keys[0]
        raise AuthError("the token names no key (kid) and the key set has several", token="invalid")

    def check(self, token: str | None, scope: str) -> str:
        """A JWT verified against the key set, with its claims and scopes checked."""
        jwt = self._jwt
        if token is None:
            raise _missing("a JWT from the token issuer whose keys this server takes (vccore serve --jwks)")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(f"the bearer token is longer than {MAX_TOKEN_CHARS} characters", token="invalid")
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header)
            kty = key._jwk_data["kty"]
            allowed = [key._jwk_data["alg"]] if "alg" in key._jwk_data else list(_ALGORITHMS[kty])
            if header.get("alg") not in allowed:
                raise AuthError(
                    f"the token's algorithm {json.dumps(header.get('alg'))} is not one its key signs with ({', '.join(allowed)})",
                    token="invalid",
                )
            # The times are checked below, once they are known to be integers: PyJWT reads them
            # with int(), which takes "1800000000", 1e30 and true alike.
            claims = jwt.decode(
                token,
                key.key,
                algorithms=allowed,
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["exp"],
                    "verify_aud": self.audience is not None,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except AuthError:
            raise
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"the bearer token does not verify: {exc}", token="invalid") from None
        except (TypeError, ValueError) as exc:  # what a hostile token can make a library raise
            raise AuthError(f"the bearer token is unreadable: {type(exc).__name__}", token="invalid") from None
        self._check_times(claims)
        granted = _permissions(claims)
        if scope not in granted:
            raise AuthError(
                f"the token does not allow {scope} (it allows: {', '.join(sorted(granted)) or 'nothing'})",
                code=ErrorCode.FORBIDDEN,
                scope=scope,
            )
        subject = claims.get("sub")
        return str(subject) if isinstance(subject, str) else "(no sub)"

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        """``exp``, ``nbf`` and ``iat`` (RFC 7519 section 4.1): integers, the token within its
        window (with the leeway) and no longer-lived than ``max_lifetime``.
        """
        times: dict[str, int] = {}
        for name in ("exp", "nbf", "iat"):
            if name not in claims:
                continue  # exp is there: the decoding required it
            value = claims[name]
            if type(value) is not int:  # not isinstance: a bool is an int to it
                raise AuthError(
                    f"the token's {name} is {json.dumps(value)[:40]}: a time here is an integer number of seconds since 1970",
                    token="invalid",
                    claim=name,
                )
            times[name] = value
        now = time.time()
        if times["exp"] <= now - self.leeway:
            raise AuthError("the bearer token has expired", token="expired", claim="exp")
        for name in ("nbf", "iat"):
            if name in times and times[name] > now + self.leeway:
                raise AuthError(
                    f"the bearer token is not yet valid ({name} is in the future)", token="invalid", claim=name
                )
        if self.max_lifetime is not None:
            start = times.get("iat")
            lifetime = times["exp"] - (start if start is not None else now)
            if lifetime > self.max_lifetime + (0 if start is not None else self.leeway):
                since = "iat" if start is not None else "now"
                raise AuthError(
                    f"the bearer token lives {int(lifetime)} s (exp - {since}); this server takes tokens that live at most "
                    f"{int(self.max_lifetime)} s",
                    token="invalid",
                    claim="exp",
                    max_lifetime=self.max_lifetime,
                )


def _permissions(claims: Mapping[str, Any]) -> set[str]:
    granted: set[str] = set()
    for name in ("scope", "scp", "roles"):
        value = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(v for v in value if isinstance(v, str))
    realm = claims.get("realm_access")
    if isinstance(realm, Mapping) and isinstance(realm.get("roles"), list):
        granted.update(v for v in realm["roles"] if isinstance(v, str))
    return granted

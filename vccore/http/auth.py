"""Who may call the HTTP API (:mod:`vccore.http`): bearer tokens, checked before anything runs.

Two modes:

- **JWT** (what DIVOC deployments do, with Keycloak as the token issuer): a JSON Web Key Set (a
  file, or a URL fetched again for an unknown ``kid``: :mod:`vccore.http._jwks`) verifies the
  token's signature (RS256/PS256, ES256/ES384 or EdDSA, never "none" or a shared-secret HS*
  algorithm); ``exp`` is required and checked (30 s leeway), ``nbf`` and ``iat`` when present,
  ``iss`` and ``aud`` when configured. Each of these times is an integer (a string, a float or a
  boolean is refused), and a token may live at most ``max_lifetime`` seconds
  (:data:`MAX_LIFETIME`, a day, unless told otherwise): ``exp`` minus ``iat``, or minus now when
  it has no ``iat``. The token's permissions are read from
  ``scope`` (space-separated), ``scp``, ``roles`` and Keycloak's ``realm_access.roles`` together,
  unless a :class:`RoleMapping` is given: then only the token's roles grant permissions, as it
  says, and perhaps on some entity types only (DIVOC's tenants: their schemas' ``_osConfig.roles``).
- **Static token**: one secret token, compared in constant time, allowed everything. The default
  of ``vccore serve`` on one machine.

Each operation needs one permission (:data:`SCOPES`): ``certify`` (certify, update, the VC API's
issue), ``revoke`` (revoke, suspend, unsuspend), ``read`` (fetch certificates, transactions) and
``manage`` (DIVOC's schemas, contexts, templates). Verifying and the status lists are public.

A refusal is an :class:`AuthError`: 401 (no token, a malformed, forged or expired one) or 403 (a
good token without the permission, or with it for other entity types), with the
``WWW-Authenticate`` header RFC 6750 asks for.
"""

from __future__ import annotations

import difflib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from .. import _json
from ..codes import ErrorCode
from ..errors import AuthError
from ._jwks import JWKS_MIN_INTERVAL, JwksUrl, algorithms_of, signing_keys

__all__ = [
    "MAX_LIFETIME",
    "SCOPES",
    "AuthError",
    "Authorizer",
    "EntityAuthorizer",
    "JwksUrl",
    "JwtAuthorizer",
    "RoleMapping",
    "StaticTokenAuthorizer",
    "authorize",
    "bearer_token",
    "misspelt_authorization",
]

SCOPES: Final = ("certify", "revoke", "read", "manage")
MAX_TOKEN_CHARS: Final = 16_384
MAX_LIFETIME: Final = 86_400
"""The longest a JWT may live by default, in seconds (``exp`` - ``iat``): a day. Keycloak's tokens
live 5 minutes unless a realm says otherwise; a token that lives for years is a lasting password."""


class Authorizer(Protocol):
    """Checks a request's bearer token for one permission; returns who it is (for the log)."""

    def check(self, token: str | None, scope: str) -> str:
        """Who holds ``token``, if it grants ``scope``; AuthError (401 or 403) otherwise."""


@runtime_checkable
class EntityAuthorizer(Protocol):
    """An :class:`Authorizer` that can also limit a permission to entity types."""

    def check(self, token: str | None, scope: str) -> str:
        """As :meth:`Authorizer.check`."""

    def check_entity(self, token: str | None, scope: str, entity: str) -> str:
        """As :meth:`Authorizer.check`, on entity type ``entity`` (403 naming it if not granted there)."""


def authorize(authorizer: Authorizer, token: str | None, scope: str, entity: str | None = None) -> str:
    """``authorizer``'s answer for ``scope``, on entity type ``entity`` when there is one and the
    authorizer is an :class:`EntityAuthorizer`; a plain :class:`Authorizer` is asked for ``scope``.
    """
    check_entity = getattr(authorizer, "check_entity", None) if entity is not None else None
    if callable(check_entity):  # isinstance(authorizer, EntityAuthorizer), without walking its members
        return str(check_entity(token, scope, entity))
    return authorizer.check(token, scope)


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

    def check_entity(self, token: str | None, scope: str, entity: str) -> str:
        """The one token grants every scope on every entity type."""
        return self.check(token, scope)


# Where a mapping reads roles unless it says: Keycloak's realm roles (what the Sunbird RC registry
# behind DIVOC compares with a schema's _osConfig.roles).
DEFAULT_ROLE_CLAIMS: Final = (("realm_access", "roles"),)


@dataclass(frozen=True, slots=True)
class _Grant:
    role: str  # a role name, "*" standing for one or more characters
    permissions: frozenset[str]
    entity_types: frozenset[str] | None  # None: every entity type
    listed: bool  # only the entity types whose entityTypes entry names the role


@dataclass(frozen=True)
class RoleMapping:
    """Which roles of a token grant which permissions, on which entity types (``vccore serve
    --roles``; the file's format is in docs/http.md). ``claims``: where the roles are, each a path
    of claim names (a string claim is split at spaces). ``grants``: each role's permissions, on
    every entity type, the ones it names, or (``listed``) those whose ``entity_types`` entry names
    it, as DIVOC names a tenant's role in its schemas' ``_osConfig.roles``.
    """

    claims: tuple[tuple[str, ...], ...]
    grants: tuple[_Grant, ...]
    entity_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path) -> RoleMapping:
        """A roles mapping file (JSON)."""
        try:
            data = _json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise AuthError(f"cannot read the roles mapping {path}: {exc}", code=ErrorCode.AUTH_CONFIG) from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "the roles mapping") -> RoleMapping:
        """``{"claims": [...], "roles": {role: [permission, ...] | {...}}, "entityTypes": {...}}``."""

        def fail(where: str, message: str) -> AuthError:
            return AuthError(f"{source}: {where} {message}", code=ErrorCode.AUTH_CONFIG, field=where)

        def strings(where: str, value: Any, *, allowed: Iterable[str] | None = None) -> tuple[str, ...]:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise fail(where, f"is {_json.kind(value)}: it is a list of names")
            bad = [v for v in value if allowed is not None and v not in allowed]
            if bad:
                raise fail(where, f"names {json.dumps(bad[0])}: the permissions are {', '.join(SCOPES)}")
            return tuple(value)

        if not isinstance(data, dict):
            raise fail("the file", f"is {_json.kind(data)}: it is a JSON object with roles (and claims, entityTypes)")
        unknown = sorted(set(data) - {"claims", "roles", "entityTypes"})
        if unknown:
            raise fail(
                json.dumps(unknown[0]), "is not a key of a roles mapping: its keys are claims, roles, entityTypes"
            )
        claims: tuple[tuple[str, ...], ...] = DEFAULT_ROLE_CLAIMS
        if "claims" in data:
            paths = data["claims"]
            if not isinstance(paths, list) or not paths:
                raise fail("claims", f"is {_json.kind(paths)}: it is a list of claim paths such as realm_access.roles")
            claims = tuple(
                tuple(p.split(".")) if isinstance(p, str) else strings(f"claims[{i}]", p) for i, p in enumerate(paths)
            )
            if not all(all(path) for path in claims):
                raise fail("claims", "holds an empty claim name (a path is names joined by dots)")
        roles = data.get("roles")
        if not isinstance(roles, dict) or not roles:
            raise fail("roles", f"is {_json.kind(roles) if roles != {} else 'empty'}: it maps roles to permissions")
        grants = []
        for role, given in roles.items():
            where = f"roles.{role}"
            if not role:
                raise fail("roles", "names an empty role")
            listing, reach = given, None
            if isinstance(given, dict):
                extra = sorted(set(given) - {"permissions", "entityTypes"})
                if extra:
                    raise fail(where, f"has {json.dumps(extra[0])}: a role's keys are permissions, entityTypes")
                listing, reach = given.get("permissions"), given.get("entityTypes")
            permissions = frozenset(strings(where, listing, allowed=SCOPES))
            if isinstance(reach, str) and reach != "listed":
                raise fail(f"{where}.entityTypes", 'is a string: it is a list of entity types, or "listed"')
            types = None if reach in (None, "listed") else frozenset(strings(f"{where}.entityTypes", reach))
            grants.append(_Grant(role, permissions, types, listed=reach == "listed"))
        entity_types = data.get("entityTypes", {})
        if not isinstance(entity_types, dict):
            raise fail("entityTypes", f"is {_json.kind(entity_types)}: it maps each entity type to its roles")
        listed = {name: strings(f"entityTypes.{name}", value) for name, value in entity_types.items()}
        return cls(claims, tuple(grants), listed)

    def roles_of(self, claims: Mapping[str, Any]) -> list[str]:
        """The token's roles, read at each of :attr:`claims`."""
        held: dict[str, None] = {}  # a dict: in order, each once, in linear time
        for path in self.claims:
            value: Any = claims
            for name in path:
                value = value.get(name) if isinstance(value, Mapping) else None
            value = value.split() if isinstance(value, str) else value
            if isinstance(value, list):
                held.update((v, None) for v in value if isinstance(v, str))
        return list(held)

    def permissions(self, roles: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """What ``roles`` grant: each permission with the entity types it reaches (None: all)."""
        reach: dict[str, set[str] | None] = {}
        for role in roles:
            for grant in self.grants:
                if not _matches(grant.role, role):
                    continue
                types = grant.entity_types
                if grant.listed:
                    types = frozenset(
                        n for n, names in self.entity_types.items() if any(_matches(p, role) for p in names)
                    )
                for permission in grant.permissions:
                    known = reach.get(permission, set())
                    reach[permission] = None if types is None or known is None else known | types
        # a tenant listed with no types yet may still make its first schema (manage)
        return {p: None if t is None else frozenset(t) for p, t in reach.items() if t is None or t or p == "manage"}


def _matches(pattern: str, role: str) -> bool:
    """``role`` is ``pattern``, each ``*`` one or more characters (linear time: roles come from tokens)."""
    if "*" not in pattern:
        return role == pattern
    first, *middle, last = pattern.split("*")
    if not role.startswith(first) or not role.endswith(last):
        return False
    position, end = len(first), len(role) - len(last)
    for part in middle:  # leftmost is best: it leaves the most for the stars after it
        found = role.find(part, position + 1, end - 1)
        if found < 0:
            return False
        position = found + len(part)
    return end - position >= 1


def _listed(names: list[str]) -> str:
    """Names for a message: the first ten, each cut at 80 characters (they come from the token)."""
    shown = [json.dumps(n[:80]) for n in names[:10]]
    return ", ".join(shown + ([f"and {len(names) - 10} more"] if len(names) > 10 else [])) or "none"


class JwtAuthorizer:
    """Tokens signed by a token issuer whose public keys are in a JWKS."""

    def __init__(
        self,
        jwks: Mapping[str, Any] | JwksUrl,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        leeway: float = 30.0,
        max_lifetime: float | None = MAX_LIFETIME,
        roles: RoleMapping | None = None,
    ) -> None:
        """``jwks``: the key set, or where it is fetched from (:meth:`from_url`). ``max_lifetime``:
        the longest a token may live, in seconds (None: no limit). ``roles``: which token roles
        grant which permissions (None: the token's scopes and roles name vccore's permissions).
        """
        import jwt  # the server extra

        self._jwt = jwt
        self._source = jwks if isinstance(jwks, JwksUrl) else None
        self._keys: list[Any] = jwks.keys if isinstance(jwks, JwksUrl) else signing_keys(jwks)
        self.issuer = issuer
        self.audience = [audience] if isinstance(audience, str) else list(audience) if audience is not None else None
        self.leeway = leeway
        if max_lifetime is not None and not max_lifetime > 0:
            raise AuthError(
                f"the longest token lifetime is a number of seconds above 0, not {max_lifetime}",
                code=ErrorCode.AUTH_CONFIG,
            )
        self.max_lifetime = max_lifetime
        self.roles = roles

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

    @classmethod
    def from_url(cls, url: str, *, min_interval: float = JWKS_MIN_INTERVAL, **options: Any) -> JwtAuthorizer:
        """The key set at ``url`` (Keycloak's ``https://HOST/realms/NAME/protocol/openid-connect/certs``),
        fetched now and again for a token naming a key it does not hold, at most once per
        ``min_interval`` seconds (:class:`~vccore.http._jwks.JwksUrl`); AuthError (``AUTH_CONFIG``)
        when it cannot be fetched or used.
        """
        return cls(JwksUrl(url, min_interval=min_interval), **options)

    def _key_for(self, header: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if self._source is not None:
            self._source.refresh_if_old()
            self._keys = self._source.keys
        if kid is not None:
            for attempt in range(2):
                for key in self._keys:
                    if key.key_id == kid:
                        return key
                if attempt or self._source is None or not self._source.refresh_for_unknown_kid():
                    break
                self._keys = self._source.keys  # fetched again: the token issuer may have rotated its keys
            where = f" ({self._source.describe()})" if self._source is not None else ""
            raise AuthError(f"no key {json.dumps(kid)} in the token issuer's key set{where}", token="invalid")
        if len(self._keys) == 1:
            return self._keys[0]
        raise AuthError("the token names no key (kid) and the key set has several", token="invalid")

    def check(self, token: str | None, scope: str) -> str:
        """A JWT verified against the key set, with its claims and scopes checked."""
        return self._check(token, scope, None)

    def check_entity(self, token: str | None, scope: str, entity: str) -> str:
        """As :meth:`check`, for a call on entity type ``entity`` (the roles mapping may limit it)."""
        return self._check(token, scope, entity)

    def _check(self, token: str | None, scope: str, entity: str | None) -> str:
        jwt = self._jwt
        if token is None:
            raise _missing("a JWT from the token issuer whose keys this server takes (vccore serve --jwks[-url])")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(f"the bearer token is longer than {MAX_TOKEN_CHARS} characters", token="invalid")
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header)
            allowed = algorithms_of(key)
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
        if self.roles is not None:
            self._check_roles(self.roles, claims, scope, entity)
        elif scope not in (granted := _permissions(claims)):
            raise AuthError(
                f"the token does not allow {scope} (it allows: {', '.join(sorted(granted)) or 'nothing'})",
                code=ErrorCode.FORBIDDEN,
                scope=scope,
            )
        subject = claims.get("sub")
        return str(subject) if isinstance(subject, str) else "(no sub)"

    @staticmethod
    def _check_roles(mapping: RoleMapping, claims: Mapping[str, Any], scope: str, entity: str | None) -> None:
        """``scope`` granted by the token's roles in ``mapping``, on ``entity`` when it is named."""
        held = mapping.roles_of(claims)
        reach = mapping.permissions(held)
        if scope not in reach:
            raise AuthError(
                f"the token does not allow {scope}: its roles ({_listed(held)}) grant "
                f"{', '.join(sorted(reach)) or 'nothing'} in this server's roles mapping (vccore serve --roles)",
                code=ErrorCode.FORBIDDEN,
                scope=scope,
            )
        types = reach[scope]
        if entity is not None and types is not None and entity not in types:
            raise AuthError(
                f"the token allows {scope} on the entity types {', '.join(sorted(types))}, not on {entity}: none of "
                f"its roles ({_listed(held)}) reaches {entity} in this server's roles mapping (vccore serve --roles)",
                code=ErrorCode.FORBIDDEN,
                scope=scope,
                entity=entity,
            )

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

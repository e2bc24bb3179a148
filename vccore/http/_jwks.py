"""The token issuer's keys for :class:`~vccore.http.auth.JwtAuthorizer`: a JSON Web Key Set read
as signing keys, and :class:`JwksUrl`, the set fetched from a URL (Keycloak's realm endpoint,
``https://HOST/realms/NAME/protocol/openid-connect/certs``) and fetched again when a token names
a key it does not hold.

What keeps a URL from becoming a way to make the server hammer the token issuer, or hang: a
fetch again is made at most once per ``min_interval`` seconds (a token with a random ``kid`` is
refused, not fetched for), each fetch is bounded in size and time, and never follows a redirect
(a JWKS endpoint has no reason to move; a redirect could lead from https to plain http). The URL
is https, or http on a loopback host only (a token issuer on the same machine). A set older than
``max_age`` is fetched again in a thread of its own while the old one keeps answering, so that
a key the token issuer dropped is dropped here too.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..codes import ErrorCode
from ..errors import AuthError

__all__ = ["JWKS_MIN_INTERVAL", "MAX_JWKS_BYTES", "JwksUrl", "signing_keys"]

_ALGORITHMS: Final = {
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "EC": ("ES256", "ES384", "ES512"),
    "OKP": ("EdDSA",),
}
MAX_JWKS_BYTES: Final = 256 * 1024
"""The largest key set fetched (Keycloak's realm endpoint is a few kilobytes)."""
JWKS_SECONDS: Final = 3.0
"""A fetch of the key set must be done within this (a fetch again runs while a request waits)."""
JWKS_MIN_INTERVAL: Final = 30.0
"""Seconds between two fetches for an unknown ``kid``: a token naming a random key is refused
without a fetch within this time of the last."""
JWKS_MAX_AGE: Final = 600.0
"""Seconds a fetched key set is used before it is fetched again (in the background)."""

_log: Final = logging.getLogger("vccore.http.auth")


def algorithms_of(key: Any) -> list[str]:
    """The algorithms a key of the set signs with: its ``alg``, else its key type's."""
    data = key._jwk_data
    return [data["alg"]] if "alg" in data else list(_ALGORITHMS[data["kty"]])


def signing_keys(jwks: Mapping[str, Any], *, source: str = "the JWKS") -> list[Any]:
    """The signing keys of a JWKS (PyJWT's ``PyJWK``): RSA, EC and OKP keys whose ``use`` is
    ``sig`` or not said; AuthError (``AUTH_CONFIG``) for a set that cannot be used or signs nothing.
    """
    import jwt  # the server extra

    try:
        key_set = jwt.PyJWKSet.from_dict(dict(jwks))
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, TypeError, ValueError) as exc:
        raise AuthError(f"{source} cannot be used: {exc}", code=ErrorCode.AUTH_CONFIG) from None
    keys: list[Any] = []
    for key in key_set.keys:
        kty = key._jwk_data.get("kty")
        if kty not in _ALGORITHMS:
            raise AuthError(
                f"the key {key.key_id or '(no kid)'} of {source} is a {kty} key: only RSA, EC and OKP keys sign tokens",
                code=ErrorCode.AUTH_CONFIG,
            )
        if key._jwk_data.get("use", "sig") == "sig":
            keys.append(key)
    if not keys:
        raise AuthError(f"{source} holds no signing key", code=ErrorCode.AUTH_CONFIG)
    return keys


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """``url`` if a key set may be fetched from it: https, or http on a loopback host."""
    parts = urllib.parse.urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme == "https" and host:
        return url
    if scheme == "http" and _loopback(host):
        return url
    raise AuthError(
        f"the JWKS URL {url} is not https: the token issuer's keys are fetched over https only (plain http only "
        "from this machine: localhost, 127.0.0.1, ::1)",
        code=ErrorCode.AUTH_CONFIG,
        url=url,
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        raise AuthError(
            f"the JWKS URL {req.full_url} redirects ({code}) to {newurl}: give the URL it redirects to",
            code=ErrorCode.AUTH_CONFIG,
            url=req.full_url,
        )


def fetch_jwks(url: str, *, limit: int = MAX_JWKS_BYTES, seconds: float = JWKS_SECONDS) -> dict[str, Any]:
    """GET a key set: at most ``limit`` bytes within about ``seconds``, no redirect, a JSON
    object; AuthError (``AUTH_CONFIG``, ``url``) that says what went wrong otherwise.
    """
    check_url(url)
    deadline = time.monotonic() + seconds

    def fail(why: str) -> AuthError:
        return AuthError(f"the JWKS URL {url} {why}", code=ErrorCode.AUTH_CONFIG, url=url)

    opener = urllib.request.build_opener(_NoRedirects())
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (https, or http on loopback: checked above)
    try:
        with opener.open(request, timeout=seconds) as answer:
            body = bytearray()
            while chunk := answer.read1(65536):
                body += chunk
                if len(body) > limit:
                    raise fail(f"answers more than {limit} bytes: a key set is a few kilobytes")
                if time.monotonic() > deadline:
                    raise fail(f"did not answer within {seconds:g} s")
    except AuthError:
        raise
    except urllib.error.HTTPError as exc:
        raise fail(f"answers {exc.code} {exc.reason}") from None
    except TimeoutError:
        raise fail(f"did not answer within {seconds:g} s") from None
    except (OSError, ValueError) as exc:
        if "timed out" in str(exc):
            raise fail(f"did not answer within {seconds:g} s") from None
        raise fail(f"cannot be fetched: {exc}") from None
    try:
        data = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"does not answer JSON: {exc}") from None
    if not isinstance(data, dict):
        raise fail('does not answer a key set (a JSON object {"keys": [...]})')
    return data


class JwksUrl:
    """A key set fetched from a URL: at once (the server does not start without it), again when a
    token names a key it does not hold (at most once per ``min_interval`` seconds), and in the
    background once it is ``max_age`` seconds old. ``clock`` and ``fetch`` are for tests.
    """

    def __init__(
        self,
        url: str,
        *,
        min_interval: float = JWKS_MIN_INTERVAL,
        max_age: float = JWKS_MAX_AGE,
        limit: int = MAX_JWKS_BYTES,
        seconds: float = JWKS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = check_url(url)
        self.min_interval, self.max_age, self.limit, self.seconds = min_interval, max_age, limit, seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._refreshing = False
        self.fetches = 0  # how many fetches were made (for the log and the tests)
        self._fetched_at = clock()
        self.keys = self._fetch()

    def _fetch(self) -> list[Any]:
        self.fetches += 1
        return signing_keys(
            fetch_jwks(self.url, limit=self.limit, seconds=self.seconds), source=f"the JWKS at {self.url}"
        )

    def refresh_for_unknown_kid(self) -> bool:
        """Fetch the set again for a token naming a key it does not hold, unless it was fetched
        within ``min_interval`` seconds; True when it was fetched (and :attr:`keys` may have moved).
        A fetch that fails keeps the keys held, and says so in the log.
        """
        with self._lock:
            now = self._clock()
            if now - self._fetched_at < self.min_interval:
                return False
            self._fetched_at = now
            try:
                self.keys = self._fetch()
            except AuthError as exc:
                _log.warning("the token issuer's keys were not fetched again: %s", exc.message)
                return False
            return True

    def refresh_if_old(self) -> None:
        """Once the set is ``max_age`` seconds old, fetch it again in a thread (the keys held
        answer meanwhile; one such fetch at a time).
        """
        if self._clock() - self._fetched_at < self.max_age or self._refreshing:
            return
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh_old, name="vccore-jwks", daemon=True).start()

    def _refresh_old(self) -> None:
        try:
            with self._lock:
                self._fetched_at = self._clock()
                self.keys = self._fetch()
        except AuthError as exc:
            _log.warning("the token issuer's keys were not fetched again: %s", exc.message)
        finally:
            self._refreshing = False

    def describe(self) -> str:
        """For messages: where the keys come from and when they were fetched."""
        return f"the JWKS at {self.url}, fetched {self._clock() - self._fetched_at:.0f} s ago"

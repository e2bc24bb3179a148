"""The token issuer's keys from a URL (issue 23, operations): Keycloak's realm endpoint fetched at
start, fetched again for a token naming a key the set does not hold (at most once per interval),
in the background once old; bounded in size and time, https only but on loopback."""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
jwt = pytest.importorskip("jwt")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from local_web import local_web  # noqa: E402

from vccore.codes import ErrorCode  # noqa: E402
from vccore.errors import AuthError  # noqa: E402
from vccore.http._jwks import JwksUrl, check_url  # noqa: E402
from vccore.http.auth import JwtAuthorizer  # noqa: E402

OLD = ed25519.Ed25519PrivateKey.generate()
NEW = ed25519.Ed25519PrivateKey.generate()
CERTS = "/realms/divoc/protocol/openid-connect/certs"


def _jwk(key: ed25519.Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    return {
        **json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key())),
        "kid": kid,
        "use": "sig",
        "alg": "EdDSA",
    }


def _set(*keys: tuple[ed25519.Ed25519PrivateKey, str]) -> bytes:
    return json.dumps({"keys": [_jwk(key, kid) for key, kid in keys]}).encode()


def _token(key: ed25519.Ed25519PrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {"sub": "clerk", "scope": "certify", "iat": now, "exp": now + 300}
    return str(jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _served(answers: dict[str, bytes]) -> Callable[[str], bytes | None]:
    """The routes of a token issuer whose key set the test changes (``answers[CERTS]``)."""
    return lambda path: answers.get(path)


def test_keys_are_fetched_at_start_and_a_rotated_key_is_found_after_an_unknown_kid() -> None:
    answers = {CERTS: _set((OLD, "old"))}
    with local_web(_served(answers), content_type="application/json") as web:
        authorizer = JwtAuthorizer.from_url(web.url + CERTS, min_interval=0)
        assert web.hits == [CERTS]
        assert authorizer.check(_token(OLD, "old"), "certify") == "clerk"
        assert web.hits == [CERTS]  # a known kid fetches nothing
        answers[CERTS] = _set((OLD, "old"), (NEW, "new"))  # Keycloak rotates: a new active key
        assert authorizer.check(_token(NEW, "new"), "certify") == "clerk"
        assert web.hits == [CERTS, CERTS]


def test_a_fetch_for_unknown_kids_is_made_at_most_once_per_interval() -> None:
    answers = {CERTS: _set((OLD, "old"))}
    clock = Clock()
    with local_web(_served(answers), content_type="application/json") as web:
        authorizer = JwtAuthorizer(JwksUrl(web.url + CERTS, min_interval=30, clock=clock))
        clock.now += 31
        for attempt in range(50):  # an attacker's random kids
            with pytest.raises(AuthError, match=r"no key .* fetched") as refused:
                authorizer.check(_token(NEW, f"random-{attempt}"), "certify")
            assert refused.value.status == 401
        assert len(web.hits) == 2  # at start, then once for the first unknown kid
        answers[CERTS] = _set((NEW, "new"))
        with pytest.raises(AuthError, match="no key"):
            authorizer.check(_token(NEW, "new"), "certify")  # within the interval: not fetched
        clock.now += 30
        assert authorizer.check(_token(NEW, "new"), "certify") == "clerk"
        assert len(web.hits) == 3
        with pytest.raises(AuthError, match="no key"):  # the old key is gone from the set now
            authorizer.check(_token(OLD, "old"), "certify")


def test_a_set_older_than_its_age_is_fetched_again_and_a_dropped_key_refused() -> None:
    answers = {CERTS: _set((OLD, "old"), (NEW, "new"))}
    clock = Clock()
    with local_web(_served(answers), content_type="application/json") as web:
        source = JwksUrl(web.url + CERTS, max_age=600, clock=clock)
        authorizer = JwtAuthorizer(source)
        answers[CERTS] = _set((NEW, "new"))  # the token issuer drops a key
        clock.now += 601
        assert authorizer.check(_token(OLD, "old"), "certify") == "clerk"  # answered from the set held
        deadline = time.monotonic() + 10
        while source.fetches < 2 or source._refreshing:
            assert time.monotonic() < deadline, "the background fetch did not run"
            time.sleep(0.01)
        with pytest.raises(AuthError, match="no key"):
            authorizer.check(_token(OLD, "old"), "certify")
        assert authorizer.check(_token(NEW, "new"), "certify") == "clerk"


def test_a_failed_fetch_again_keeps_the_keys_held() -> None:
    answers = {CERTS: _set((OLD, "old"))}
    clock = Clock()
    with local_web(_served(answers), content_type="application/json") as web:
        authorizer = JwtAuthorizer(JwksUrl(web.url + CERTS, clock=clock))
        answers[CERTS] = b"<html>maintenance</html>"
        clock.now += 60
        with pytest.raises(AuthError, match="no key"):
            authorizer.check(_token(NEW, "new"), "certify")
        assert authorizer.check(_token(OLD, "old"), "certify") == "clerk"


@pytest.mark.parametrize(
    ("answer", "options", "message"),
    [
        (b'{"keys": []}' + b" " * 300_000, {}, "answers more than 262144 bytes"),
        ((1.5, _set((OLD, "old"))), {"seconds": 0.3}, "did not answer within 0.3 s"),
        (b"[1, 2]", {}, "does not answer a key set"),
        (b"not json", {}, "does not answer JSON"),
        (json.dumps({"keys": [{**_jwk(OLD, "old"), "use": "enc"}]}).encode(), {}, "holds no signing key"),
    ],
)
def test_an_unusable_key_set_is_refused_at_start_with_a_clear_error(
    answer: Any, options: dict[str, Any], message: str
) -> None:
    with local_web({CERTS: answer}, content_type="application/json") as web:
        start = time.monotonic()
        with pytest.raises(AuthError, match=message) as refused:
            JwksUrl(web.url + CERTS, **options)
        assert time.monotonic() - start < 1.2
    assert refused.value.code == ErrorCode.AUTH_CONFIG and web.url + CERTS in refused.value.message


def test_a_missing_key_set_names_the_answer() -> None:
    with (
        local_web({}, content_type="application/json") as web,
        pytest.raises(AuthError, match="answers 404") as refused,
    ):
        JwtAuthorizer.from_url(web.url + "/realms/nope/protocol/openid-connect/certs")
    assert refused.value.code == ErrorCode.AUTH_CONFIG


@pytest.mark.parametrize(
    "url",
    [
        "http://keycloak.example/realms/divoc/protocol/openid-connect/certs",
        "http://10.0.0.5/certs",
        "ftp://keycloak.example/certs",
        "file:///etc/jwks.json",
        "https:///certs",
    ],
)
def test_a_key_set_is_fetched_over_https_only_but_from_loopback(url: str) -> None:
    with pytest.raises(AuthError, match="is not https") as refused:
        JwtAuthorizer.from_url(url)
    assert refused.value.code == ErrorCode.AUTH_CONFIG


@pytest.mark.parametrize(
    "url", ["https://keycloak.example/certs", "http://127.0.0.1:8080/certs", "http://localhost/c", "http://[::1]/c"]
)
def test_https_and_loopback_urls_are_taken(url: str) -> None:
    assert check_url(url) == url


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token issuer for tests")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@contextlib.contextmanager
def _https(body: bytes, cert_file: Path, key_file: Path) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_key_set_over_https_is_taken_from_a_trusted_certificate_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    with _https(_set((OLD, "old")), cert_file, key_file) as url:
        with pytest.raises(AuthError, match="CERTIFICATE_VERIFY_FAILED"):
            JwtAuthorizer.from_url(url + CERTS)  # a certificate no CA of the system's vouches for
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the deployment's private CA
        authorizer = JwtAuthorizer.from_url(url + CERTS)
        assert authorizer.check(_token(OLD, "old"), "certify") == "clerk"


def test_a_redirect_is_not_followed() -> None:
    """A redirect could lead from https to plain http: refused, naming where it leads."""

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://keycloak.example/certs")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(AuthError, match=r"redirects \(302\) to http://keycloak.example/certs") as refused:
            JwtAuthorizer.from_url(f"http://127.0.0.1:{server.server_address[1]}{CERTS}")
    finally:
        server.shutdown()
        server.server_close()
    assert refused.value.code == ErrorCode.AUTH_CONFIG

"""``vccore serve``: the HTTP APIs (:mod:`vccore.http`) run with uvicorn, and their API token."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Any, Final

from ..codes import ErrorCode
from ..errors import UnusableInputError, VccoreError
from ..http.auth import MAX_LIFETIME
from ..issuer import Issuer, issuer_of
from ._common import (
    EXIT_OK,
    _add_context_option,
    _add_templates_option,
    _contexts,
    _read_json,
    _read_trust,
    signing_suites,
)
from ._home import STATUS_URL_HELP, _home, _issuer, _issuer_options

API_TOKEN_ENV = "VCCORE_API_TOKEN"
METRICS_TOKEN_ENV = "VCCORE_METRICS_TOKEN"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``serve``."""
    serve = commands.add_parser(
        "serve", help="DIVOC's certification API and the W3C VC API over HTTP (needs vccore[server])"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=int,
        help="port (default 8000; with --sunbird-signer, $PORT, else 4324 as the original's; "
        "with --certificate-api, $PORT, else 4321)",
    )
    serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate chain (PEM)")
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="the certificate's private key (PEM)")
    serve.add_argument(
        "--jwks",
        type=Path,
        metavar="FILE",
        help="accept JWTs signed by these keys (the token issuer's JWKS) with the scope or role certify, revoke or read; "
        f"without it, one static token (${API_TOKEN_ENV}, else api-token in the home folder, made on first start)",
    )
    serve.add_argument(
        "--jwks-url",
        metavar="URL",
        help="as --jwks, the keys fetched from the token issuer (Keycloak: https://HOST/realms/NAME/protocol/"
        "openid-connect/certs) at start, and again for a token naming an unknown kid, at most every 30 s",
    )
    serve.add_argument(
        "--jwt-issuer", metavar="ISS", help="with --jwks: the tokens' iss (without it, any; a warning says so)"
    )
    serve.add_argument(
        "--jwt-audience", metavar="AUD", help="with --jwks: the tokens' aud (without it, any; a warning says so)"
    )
    serve.add_argument(
        "--jwt-max-lifetime",
        type=int,
        metavar="SECONDS",
        help=f"with --jwks: refuse tokens that live longer (exp - iat, or exp - now without iat; default {MAX_LIFETIME}, a day)",
    )
    serve.add_argument(
        "--roles",
        type=Path,
        metavar="FILE",
        help="with --jwks: which token roles grant which permissions, on which entity types (a JSON roles mapping, "
        "e.g. DIVOC's Keycloak realm: docs/http.md); without it, the token's scope or roles name the permissions",
    )
    serve.add_argument(
        "--issuer",
        action="append",
        default=[],
        metavar="ID",
        help="the verify routes trust credentials from this issuer too (repeatable; by default only the server's own)",
    )
    serve.add_argument(
        "--trust",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="trusted verification methods / DID documents (JSON), as for vccore verify: the verify routes trust their DIDs too",
    )
    serve.add_argument(
        "--any-issuer",
        action="store_true",
        help="the verify routes trust any issuer that controls the key that signed (a general VC API verifier, as the W3C suites test one)",
    )
    _issuer_options(serve, now_help=None)
    serve.add_argument("--vc", choices=("2.0", "1.1"), help="VC data model version (default: each type's own)")
    serve.add_argument(
        "--suite",
        choices=signing_suites(),
        help="the proof suite (default: each type's own, eddsa-rdfc-2022 unless it says otherwise)",
    )
    _add_templates_option(serve, "more entity types, certified and verified")
    serve.add_argument("--status-url", metavar="URL", help=STATUS_URL_HELP)
    serve.add_argument(
        "--callbacks",
        type=Path,
        metavar="FILE",
        help='the tenant webhooks (JSON): {"EntityType" or "*": {"url": URL, "tokenEnv": NAME}}; every certify and '
        "update is posted there, as DIVOC posts it, at least once (a token in the file itself needs mode 0600)",
    )
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument(
        "--no-access-log",
        action="store_true",
        help="no line per request (by default one JSON line on standard error, logger vccore.access: route, status, "
        f"time, outcome code, never a request's data); GET /metrics is public unless ${METRICS_TOKEN_ENV} is set",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes serving the one port (default: the machine's cores; 1 where there is no fork()): "
        "each has its own store connections; a change through one is seen by the others at once; "
        "SIGTERM lets each finish what it accepted",
    )
    signer = serve.add_argument_group(
        "Sunbird RC's certificate-signer (a drop-in for its container: docs/sunbird.md)",
        "it reads the original's variables too: PORT, CONFIG_BASE_PATH, CUSTOM_TEMPLATE_DELIMITERS, "
        "CERTIFICATE_CONTROLLER_ID, CACHE_CONTEXT_URLS, TIME_ZONE",
    )
    signer.add_argument(
        "--sunbird-signer",
        action="store_true",
        help="answer the certificate-signer's GET /health, POST /sign and POST /verify instead of vccore's APIs "
        "(stateless: no store, no key of vccore's own)",
    )
    signer.add_argument(
        "--signer-config",
        type=Path,
        metavar="FILE",
        help="its keys (config.json, as the original reads it; default $CONFIG_BASE_PATH/config.json, else "
        "/etc/signer/config.json)",
    )
    _add_context_option(signer)
    signer.add_argument(
        "--context-lock",
        type=Path,
        metavar="DIR",
        help="the lock folder of the contexts in $CACHE_CONTEXT_URLS (comma-separated): fetched once at start, "
        "pinned by sha256 in DIR/index.json (commit it); a context changed under its URL is refused until the "
        "lock changes (default $CONFIG_BASE_PATH/contexts)",
    )
    pages = serve.add_argument_group(
        "Sunbird RC's certificate-api (a drop-in for its container: docs/sunbird.md)",
        "it reads the original's variables too: PORT (default 4321), QR_TYPE, CERTIFICATE_DOMAIN_URL, "
        "ADDITIONAL_QUERY_PARAMS, CUSTOM_TEMPLATE_DELIMITERS, TZ (dateFormat's zone, default UTC)",
    )
    pages.add_argument(
        "--certificate-api",
        action="store_true",
        help="answer the certificate-api's GET /health and POST /api/v1/certificate (a tenant's Handlebars HTML or "
        "SVG template, by URL, rendered as HTML, SVG or PDF) instead of vccore's APIs (stateless)",
    )
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    if args.certificate_api:
        if args.sunbird_signer:
            raise UnusableInputError("--certificate-api and --sunbird-signer are two servers: start one of each")
        return _serve_certificate_api(args)
    if args.sunbird_signer:
        return _serve_signer(args)
    if args.signer_config is not None or args.context_lock is not None or args.context:
        raise UnusableInputError("--signer-config, --context and --context-lock go with --sunbird-signer")
    if args.port is None:
        args.port = 8000
    try:
        import uvicorn

        from ..http import create_app
        from ..http.auth import Authorizer, JwtAuthorizer, RoleMapping, StaticTokenAuthorizer
        from ..http.webhook import load_callbacks
    except ImportError as exc:
        raise UnusableInputError(f"vccore serve needs the server extra: pip install 'vccore[server]' ({exc})") from None
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UnusableInputError("--tls-cert and --tls-key go together")
    if args.jwks is not None and args.jwks_url is not None:
        raise UnusableInputError("--jwks and --jwks-url are two places for the same keys: give one")
    for path in (args.tls_cert, args.tls_key, args.jwks, args.roles):
        if path is not None and not path.is_file():
            raise UnusableInputError(f"cannot read {path}")
    if not 0 < args.port < 65536:
        raise UnusableInputError(f"--port takes 1 to 65535, not {args.port}")
    if args.any_issuer and args.issuer:
        raise UnusableInputError(
            "--any-issuer trusts every issuer that controls its key: --issuer adds nothing to it (give one or the other)"
        )
    for value in args.issuer:
        if ":" not in value:
            raise UnusableInputError(f"--issuer takes an issuer's id (a DID or a URL), not {value!r}")
    trust = [m for path in args.trust for m in _read_trust(path)]
    callbacks = load_callbacks(args.callbacks) if args.callbacks is not None else None
    authorizer: Authorizer
    if args.jwks is not None or args.jwks_url is not None:
        lifetime = MAX_LIFETIME if args.jwt_max_lifetime is None else args.jwt_max_lifetime
        if lifetime <= 0:
            raise UnusableInputError(f"--jwt-max-lifetime takes a number of seconds above 0, not {lifetime}")
        roles = RoleMapping.from_file(args.roles) if args.roles is not None else None
        claims: dict[str, Any] = {
            "issuer": args.jwt_issuer,
            "audience": args.jwt_audience,
            "max_lifetime": lifetime,
            "roles": roles,
        }
        authorizer = (
            JwtAuthorizer.from_file(args.jwks, **claims)
            if args.jwks is not None
            else JwtAuthorizer.from_url(args.jwks_url, **claims)
        )
        how = (
            f"JWTs signed by the keys in {args.jwks or args.jwks_url} (iss {args.jwt_issuer or 'not checked'}, aud {args.jwt_audience or 'not checked'}; "
            f"tokens live at most {lifetime} s)" + (f"; roles mapped by {args.roles}" if args.roles is not None else "")
        )
        _warn_unchecked_claims(args)
    elif any(getattr(args, name) is not None for name in ("jwt_issuer", "jwt_audience", "jwt_max_lifetime", "roles")):
        raise UnusableInputError(
            "--jwt-issuer, --jwt-audience, --jwt-max-lifetime and --roles go with --jwks or --jwks-url"
        )
    else:
        token, where = _api_token(_home(args))
        authorizer = StaticTokenAuthorizer(token)
        how = f"the static token in {where}"
    if args.workers is None:
        args.workers = min(os.cpu_count() or 1, 64) if hasattr(os, "fork") else 1
    if not 1 <= args.workers <= 64:
        raise UnusableInputError(f"--workers takes 1 to 64, not {args.workers}")
    if args.workers > 1 and not hasattr(os, "fork"):
        raise UnusableInputError("--workers above 1 needs fork(), which this system has not: run one process per port")

    metrics_token = os.environ.get(METRICS_TOKEN_ENV) or None
    if metrics_token is not None and len(metrics_token) < 16:
        raise UnusableInputError(f"${METRICS_TOKEN_ENV} must be at least 16 characters")
    if not args.no_access_log:
        _access_log(args.log_level)

    def build(*, first: bool) -> tuple[Issuer, Any]:
        issuer = _issuer(args, make_key=first, warn_placeholder=first)
        try:
            return issuer, create_app(
                issuer,
                authorizer=authorizer,
                trusted_issuers=args.issuer,
                verification_methods=[*trust, *_own_keys(args, issuer)],
                any_issuer=args.any_issuer,
                callbacks=callbacks,
                metrics_token=metrics_token,
            )
        except VccoreError as exc:  # a trusted key that cannot be read
            raise UnusableInputError(f"--trust: {exc.code}: {exc.message}") from None

    issuer, app = build(first=True)
    scheme = "https" if args.tls_cert else "http"
    print(
        f"vccore: serving {scheme}://{args.host}:{args.port} as {issuer_of(issuer.signer)}; store {issuer.store.location}; "
        f"status lists under {issuer.store.status_url}; OpenAPI at /openapi.json; protected routes take {how}; "
        f"the verify routes trust {_trusted_names(app.state.verifier.trusted_issuers)}"
        + (f"; {args.workers} worker processes" if args.workers > 1 else ""),
        file=sys.stderr,
    )
    options: dict[str, Any] = {
        "log_level": args.log_level,
        "access_log": False,  # the app writes its own line (vccore.access), without the query string
        "ssl_certfile": str(args.tls_cert) if args.tls_cert else None,
        "ssl_keyfile": str(args.tls_key) if args.tls_key else None,
    }
    if args.workers > 1:
        from ..http.workers import serve_workers

        issuer.store.close()  # each worker opens its own
        del issuer, app
        return serve_workers(
            lambda: build(first=False)[1], host=args.host, port=args.port, workers=args.workers, **options
        )
    uvicorn.run(app, host=args.host, port=args.port, timeout_graceful_shutdown=30, **options)
    return EXIT_OK


def _serve_signer(args: argparse.Namespace) -> int:
    """``vccore serve --sunbird-signer``: Sunbird RC's certificate-signer (:mod:`vccore.http.signer`)."""
    try:
        from ..http.signer import create_signer_app
    except ImportError as exc:
        raise UnusableInputError(f"vccore serve needs the server extra: pip install 'vccore[server]' ({exc})") from None
    from ..handlebars import format_time_helper
    from ..sunbird import DEFAULT_CONTROLLER, SignerConfig, SunbirdSigner, lock_contexts

    base = Path(os.environ.get("CONFIG_BASE_PATH") or "/etc/signer/")
    delimiters = _drop_in_settings(args, default_port=4324)
    config_file = args.signer_config if args.signer_config is not None else base / "config.json"
    if not config_file.is_file():
        raise UnusableInputError(
            f"no signer config at {config_file}: give --signer-config FILE, or set $CONFIG_BASE_PATH to the folder "
            "of config.json (the original signer's keys: docs/sunbird.md)",
            code=ErrorCode.INVALID_KEY,
        )
    controller = os.environ.get("CERTIFICATE_CONTROLLER_ID") or DEFAULT_CONTROLLER
    try:
        config = SignerConfig.from_file(config_file, controller=controller)
        contexts = _contexts(args.context)
        urls = [u.strip() for u in (os.environ.get("CACHE_CONTEXT_URLS") or "").split(",") if u.strip()]
        if urls or args.context_lock is not None:
            contexts = lock_contexts(urls, args.context_lock or base / "contexts", base=contexts)
        helpers = {"formatTime": format_time_helper(os.environ.get("TIME_ZONE") or None)}
        signer = SunbirdSigner(config, contexts=contexts, delimiters=delimiters, helpers=helpers)
    except VccoreError as exc:
        raise UnusableInputError(f"{exc.code}: {exc.message}", code=exc.code) from None
    # one line per request (route, status, time, error code: never the request's data), beside uvicorn's
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    names = ", ".join(f"{k.name} ({k.suite}, {k.verification_method})" for k in config.issuers.values())
    return _run_drop_in(
        args,
        create_signer_app(signer),
        f"Sunbird RC certificate-signer at {{url}} (GET /health, POST /sign, POST /verify); keys from {config_file}: {names}",
    )


# vccore's own APIs' options, which neither drop-in takes (the originals check no token either)
_API_ONLY: Final = (
    "jwks", "jwks_url", "jwt_issuer", "jwt_audience", "jwt_max_lifetime", "roles", "issuer", "trust", "any_issuer",
    "home", "store", "key", "vc", "suite", "templates", "status_url", "callbacks", "workers", "no_access_log",
)  # fmt: skip


def _drop_in_settings(args: argparse.Namespace, *, default_port: int) -> tuple[str, str]:
    """What both drop-ins check before they start: no option of vccore's own APIs (a --jwks given
    to a drop-in would look like authentication that is not there), the port ($PORT as the
    original reads it, else ``default_port``), TLS, and $CUSTOM_TEMPLATE_DELIMITERS.
    """
    given = [f"--{name.replace('_', '-')}" for name in _API_ONLY if getattr(args, name, None) not in (None, False, [])]
    if given:
        raise UnusableInputError(
            f"{', '.join(given)}: options of vccore's own APIs, not of a Sunbird drop-in, which runs one process "
            "and takes no token (as the original): put it behind the deployment's gateway, as the original is"
        )
    if args.port is None:
        port = os.environ.get("PORT") or str(default_port)
        if not port.isdigit():
            raise UnusableInputError(f"$PORT must be a port number, not {port!r}")
        args.port = int(port)
    if not 0 < args.port < 65536:
        raise UnusableInputError(f"--port takes 1 to 65535, not {args.port}")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UnusableInputError("--tls-cert and --tls-key go together")
    delimiters = (os.environ.get("CUSTOM_TEMPLATE_DELIMITERS") or "{{,}}").split(",")
    if len(delimiters) != 2 or not all(delimiters):
        raise UnusableInputError(
            f"$CUSTOM_TEMPLATE_DELIMITERS takes an opening and a closing delimiter, as OPEN,CLOSE, not {delimiters!r}"
        )
    return delimiters[0], delimiters[1]


def _run_drop_in(args: argparse.Namespace, app: Any, banner: str) -> int:
    """Run one of Sunbird RC's drop-ins with uvicorn, after saying what it serves (``{url}`` in
    ``banner``); the app logs its own line per request, so uvicorn's access log is off.
    """
    import uvicorn

    scheme = "https" if args.tls_cert else "http"
    print("vccore: " + banner.format(url=f"{scheme}://{args.host}:{args.port}"), file=sys.stderr)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
        ssl_keyfile=str(args.tls_key) if args.tls_key else None,
    )
    return EXIT_OK


def _serve_certificate_api(args: argparse.Namespace) -> int:
    """``vccore serve --certificate-api``: Sunbird RC's certificate-api (:mod:`vccore.http.certificate_api`)."""
    try:
        from ..http.certificate_api import create_certificate_api_app
    except ImportError as exc:
        raise UnusableInputError(f"vccore serve needs the server extra: pip install 'vccore[server]' ({exc})") from None
    from ..certificate_templates import (
        DEFAULT_DOMAIN,
        DEFAULT_QR_TYPE,
        CertificateTemplates,
        QRSettings,
        date_format_helper,
    )

    if args.signer_config is not None or args.context_lock is not None or args.context:
        raise UnusableInputError("--signer-config, --context and --context-lock go with --sunbird-signer")
    delimiters = _drop_in_settings(args, default_port=4321)
    zone = os.environ.get("TZ") or "UTC"
    try:
        helper = date_format_helper(zone.lstrip(":"))
    except (ValueError, OSError):  # zoneinfo's errors for a name it does not know
        raise UnusableInputError(f"$TZ names no time zone this machine knows: {zone!r}") from None
    settings = QRSettings(
        qr_type=os.environ.get("QR_TYPE") or DEFAULT_QR_TYPE,
        domain=os.environ.get("CERTIFICATE_DOMAIN_URL") or DEFAULT_DOMAIN,
        additional_query_params=os.environ.get("ADDITIONAL_QUERY_PARAMS") or "",
    )
    templates = CertificateTemplates(settings=settings, delimiters=delimiters, helpers={"dateFormat": helper})
    return _run_drop_in(
        args,
        create_certificate_api_app(templates),
        f"Sunbird RC certificate-api at {{url}} (GET /health, POST /api/v1/certificate); QR codes hold "
        f"{settings.qr_type}",
    )


def _trusted_names(trusted: frozenset[str] | None) -> str:
    return "any issuer that controls its signing key (--any-issuer)" if trusted is None else ", ".join(sorted(trusted))


def _access_log(level: str) -> None:
    """The app's access lines (:mod:`vccore.http.metrics`) on standard error, each as it is (a
    JSON object), beside uvicorn's own lines.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("vccore.access")
    access.addHandler(handler)
    access.setLevel(level.upper())
    access.propagate = False


def _warn_unchecked_claims(args: argparse.Namespace) -> None:
    """A warning, at start, for each claim of the tokens that JWT mode is not told to check."""
    unchecked = []
    if args.jwt_issuer is None:
        unchecked.append(
            "no --jwt-issuer: a token's iss is not checked (any token signed by a key of the JWKS is taken)"
        )
    if args.jwt_audience is None:
        unchecked.append(
            "no --jwt-audience: a token's aud is not checked (a token made for another service is taken here)"
        )
    for line in unchecked:
        print(f"vccore: warning: {line}", file=sys.stderr)


def _own_keys(args: argparse.Namespace, issuer: Issuer) -> list[Any]:
    """The did.json beside a did:web issuing key (as keygen --did-web and --rotate write it): the
    keys the issuer signed with before a rotation, which the verify routes must know.
    """
    controller = issuer_of(issuer.signer)
    path = (args.key if args.key else _home(args) / "key.json").parent / "did.json"
    if not controller.startswith("did:web:") or not path.exists():
        return []
    document = _read_json(path)
    named = document.get("id") if isinstance(document, dict) else None
    if named != controller:
        raise UnusableInputError(
            f"{path} is the DID document of {named!r}, not of this server's issuer {controller}: move it away or write it anew"
        )
    return [document]


def _api_token(home: Path) -> tuple[str, str]:
    """The static API token: $VCCORE_API_TOKEN, else the home folder's api-token (made, 0600;
    refused, as ssh refuses a key file, when others than its owner may read it).
    """
    given = os.environ.get(API_TOKEN_ENV)
    if given:
        if len(given) < 16:
            raise UnusableInputError(f"${API_TOKEN_ENV} must be at least 16 characters")
        return given, f"${API_TOKEN_ENV}"
    path = home / "api-token"
    if not path.exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secrets.token_urlsafe(32) + "\n")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInputError(f"cannot read {path}: {exc}") from None
    if os.name == "posix" and mode & 0o077:
        raise UnusableInputError(
            f"{path} has mode {mode:04o}: others than its owner may read the API token; chmod 600 {path} (and make a new token if it was read)"
        )
    if len(token) < 16:
        raise UnusableInputError(f"{path} holds a token shorter than 16 characters")
    return token, str(path)

"""Sunbird RC's certificate-signer, as functions: its ``config.json`` keys, ``/sign`` and ``/verify``.

DIVOC 3.x and Sunbird RC registries do not sign by themselves: they post ``{"data",
"credentialTemplate"}`` to the certificate-signer service (``sunbird-rc-certificate-signer``),
which renders the Handlebars template with the data, parses the text as JSON and signs it with
jsonld-signatures 6 (``Ed25519Signature2018`` or ``RsaSignature2018`` over credentials v1, the
suites the verifier apps in the field accept). :class:`SunbirdSigner` answers the same contract
(``vccore serve --sunbird-signer`` puts it on HTTP, :mod:`vccore.http.signer`), with what the
original lacks:

- a data value can never change the credential's JSON structure: the template is rendered by
  :mod:`vccore.handlebars` slot by slot, and a value that would end a string or add a member is
  refused, naming its field (the original answers 500 for a ``"`` or a newline, and signs
  whatever structure a value makes inside ``{{{ }}}``);
- nothing is fetched at signing time but a template named by URL, within a size and a time
  bound; contexts are pinned (:func:`lock_contexts` fetches a list once, into a lock folder the
  operator commits, and refuses a context that changed under its URL);
- every term must be defined (safe mode), as jsonld-signatures 6 requires too;
- verify errors are JSON, an object ``issuer`` finds its key by its ``id``, nothing personal logged;
- repeated identical requests (the registry retries every I/O error) are answered from a short
  cache: the same credential, not a second one.

The original reads its keys from ``$CONFIG_BASE_PATH/config.json``: ``{"issuers": {"<issuer
id>" | "default": {"publicKey", "privateKey", "signatureType": "RSA" | "ED25519",
"verificationMethod"}}}``, RSA keys as PEM, Ed25519 keys as base58 (a 32-byte public key, a
64-byte secret key: seed then public key). A credential is signed by the key of its ``issuer``
(a string, or an object's ``id``), else by ``default``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cachetools import LRUCache, TTLCache

from . import _datetime
from ._document_shapes import DocumentShapes
from ._fetch import fetch_bounded
from ._vocab import CREDENTIALS_V1, SECURITY_V2
from .certificate_templates import CertificateTemplates
from .codes import ErrorCode
from .contexts import ContextLoader, bundled_contexts
from .errors import ContextError, DocumentError, KeyFormatError, SigningError, VccoreError
from .handlebars import Template
from .keys import Ed25519Key, RsaKey, Signer
from .proofs import proof_configuration, sign_with_transform
from .suites import Suite, get_suite
from .suites.ed25519_signature_2018 import transform_urdna2015
from .verification_methods import public_key_from_verification_method
from .verify import Verifier

__all__ = [
    "DEFAULT_CONTROLLER",
    "IssuerKey",
    "SignerConfig",
    "SunbirdSigner",
    "lock_contexts",
]

DEFAULT_CONTROLLER: Final = "https://sunbird.org/"
"""The controller the original names in its verification methods (``CERTIFICATE_CONTROLLER_ID``)."""


_SUITES: Final = {"ED25519": "Ed25519Signature2018", "RSA": "RsaSignature2018"}
_METHOD_TYPES: Final = {"ED25519": "Ed25519VerificationKey2018", "RSA": "RsaVerificationKey2018"}
_PUBLIC_FIELDS: Final = {"ED25519": "publicKeyBase58", "RSA": "publicKeyPem"}
_URL: Final = re.compile(r"https?://[^\s]+", re.IGNORECASE)


@dataclass(frozen=True)
class IssuerKey:
    """One entry of ``config.json``: the key an issuer signs with."""

    name: str
    """The entry's name: an issuer id, or ``default``."""
    signature_type: str
    """``ED25519`` or ``RSA``."""
    verification_method: str
    public_key: str
    """As the config gives it: base58 (Ed25519) or PEM (RSA)."""
    signer: Signer | None = field(repr=False)
    """None for an entry without a private key (verify only)."""

    @property
    def suite(self) -> str:
        """The proof suite this key signs with."""
        return _SUITES[self.signature_type]

    def method(self, controller: str, public_key: str | None = None) -> dict[str, Any]:
        """The verification method document the original builds for this key (another public key
        when a /verify request names one).
        """
        return {
            "@context": SECURITY_V2,
            "id": self.verification_method,
            "type": _METHOD_TYPES[self.signature_type],
            "controller": controller,
            _PUBLIC_FIELDS[self.signature_type]: public_key if public_key is not None else self.public_key,
        }


@dataclass(frozen=True)
class SignerConfig:
    """The signer's keys (``config.json``) and the controller its verification methods name."""

    issuers: Mapping[str, IssuerKey]
    controller: str = DEFAULT_CONTROLLER

    @classmethod
    def from_file(cls, path: str | Path, *, controller: str = DEFAULT_CONTROLLER) -> SignerConfig:
        """Read ``config.json`` (or the folder holding it); KeyFormatError names the entry at fault."""
        file = Path(path)
        if file.is_dir():
            file = file / "config.json"
        try:
            data = json.loads(file.read_bytes())
        except (OSError, ValueError) as exc:
            raise KeyFormatError(f"cannot read the signer config {file}: {exc}", file=str(file)) from None
        return cls.from_json(data, source=str(file), controller=controller)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "config.json", controller: str = DEFAULT_CONTROLLER) -> SignerConfig:
        """The config from its parsed JSON."""
        issuers = data.get("issuers") if isinstance(data, dict) else None
        if not isinstance(issuers, dict) or not issuers:
            raise KeyFormatError(f"{source}: issuers must map issuer ids (or default) to keys", file=source)
        keys: dict[str, IssuerKey] = {}
        for name, entry in issuers.items():
            keys[name] = _issuer_key(name, entry, source)
        return cls(keys, controller)

    def key_for(self, issuer: str | None) -> IssuerKey:
        """The key of ``issuer``'s entry, else the ``default`` one."""
        key = self.issuers.get(issuer) if issuer is not None else None
        if key is None:
            key = self.issuers.get("default")
        if key is None:
            raise SigningError(
                f"the signer has no key for issuer {issuer!r} and no default key", field="issuer", issuer=issuer
            )
        return key


def _issuer_key(name: str, entry: Any, source: str) -> IssuerKey:
    def fail(message: str, field_name: str) -> KeyFormatError:
        return KeyFormatError(f"{source}: issuers.{name}.{field_name}: {message}", file=source, field=field_name)

    if not isinstance(entry, dict):
        raise fail("must be an object", "")
    kind = entry.get("signatureType")
    if kind not in _SUITES:
        raise fail(f"must be RSA or ED25519, not {kind!r}", "signatureType")
    method = entry.get("verificationMethod")
    if not isinstance(method, str) or ":" not in method:
        raise fail(f"must be a DID or URL (the proofs' verificationMethod), not {method!r}", "verificationMethod")
    public = entry.get("publicKey")
    if not isinstance(public, str) or not public:
        raise fail("must be the public key (base58 for ED25519, PEM for RSA)", "publicKey")
    private = entry.get("privateKey")
    if private is not None and not isinstance(private, str):
        raise fail("must be the private key (base58 for ED25519, PEM for RSA)", "privateKey")
    signer: Signer | None = None
    try:
        if kind == "ED25519":
            key = Ed25519Key.from_base58(public, private, id=method)
            signer = key if private else None
        elif private:
            signer = RsaKey.from_pem(private, id=method, public_key_pem=public)
        else:
            document = {"id": method, "type": _METHOD_TYPES[kind], "controller": method, "publicKeyPem": public}
            public_key_from_verification_method(document)
    except KeyFormatError as exc:
        field_name = "publicKey" if exc.details.get("field", "").startswith("public") else "privateKey"
        raise fail(exc.message, field_name) from None
    return IssuerKey(name, kind, method, public, signer)


# --- fetching, bounded ----------------------------------------------------------------------


def lock_contexts(
    urls: Iterable[str],
    directory: str | Path,
    *,
    base: ContextLoader | None = None,
    fetch: Callable[[str], bytes] = fetch_bounded,
) -> ContextLoader:
    """``base`` (default: the bundled contexts) plus the contexts at ``urls``, pinned in the lock
    folder ``directory`` (``index.json``: URL -> file, sha256, as ``vccore contexts export``
    writes it).

    Each URL is fetched once, now. One the lock does not hold yet is written into it; one it holds
    must serve the same bytes, or ContextError (``CONTEXT_DIGEST_MISMATCH``) names it and both
    digests: a context that changed under its URL changes what every signature over it means, so
    it is taken only when the operator changes the lock. When a locked URL cannot be fetched, the
    locked bytes serve. Contexts the lock holds that are not in ``urls`` serve too.
    """
    folder = Path(directory)
    index_file = folder / "index.json"
    index: dict[str, Any] = json.loads(index_file.read_bytes()) if index_file.is_file() else {}
    loader = base if base is not None else bundled_contexts()
    changed = False
    for url in urls:
        entry = index.get(url)
        try:
            data = fetch(url)
        except VccoreError:
            if entry is None:
                raise
            continue
        digest = hashlib.sha256(data).hexdigest()
        if entry is None:
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.jsonld"
            (folder / name).write_bytes(data)
            index[url] = {"file": name, "sha256": digest}
            changed = True
        elif entry.get("sha256") != digest:
            raise ContextError(
                f"context {url} changed: the lock {index_file} pins sha256 {entry.get('sha256')}, it now serves "
                f"{digest}; to take the new one, delete its entry from the lock and start again",
                code=ErrorCode.CONTEXT_DIGEST_MISMATCH,
                url=url,
                expected=entry.get("sha256"),
                actual=digest,
            )
    if changed:
        tmp = index_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(index_file)
    if not index:
        return loader
    locked = ContextLoader.from_directory(folder)
    return loader.with_contexts({url: locked.read_bytes(url) for url in locked.urls()})


# --- the signer -----------------------------------------------------------------------------


class SunbirdSigner:
    """The certificate-signer's ``/sign`` and ``/verify``, as methods; thread-safe."""

    def __init__(
        self,
        config: SignerConfig,
        *,
        contexts: ContextLoader | None = None,
        delimiters: tuple[str, str] = ("{{", "}}"),
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        fetch: Callable[[str], bytes] = fetch_bounded,
        now: Callable[[], datetime] = _datetime.now,
        repeat_seconds: float = 60.0,
    ) -> None:
        self.config = config
        self.contexts = contexts if contexts is not None else bundled_contexts()
        self.delimiters = delimiters
        self.helpers = dict(helpers or {})
        self._now = now
        self._lock = threading.Lock()
        # templates by URL fetched once, and compiled once, as the certificate-api drop-in keeps them
        self._sources = CertificateTemplates(delimiters=delimiters, helpers=self.helpers, fetch=fetch)
        # the registry retries every I/O error with the same record: answer it with the same credential
        self._answers: TTLCache[str, str] = TTLCache(maxsize=1024, ttl=repeat_seconds)
        self._verifiers: LRUCache[tuple[str, str, str | None], Verifier] = LRUCache(maxsize=64)
        # the callers' templates make the same few skeletons: their canonical forms are compiled
        self._shapes = DocumentShapes(self.contexts, reference=transform_urdna2015, rdf_canonize_1=True)

    def _transformed(self, suite: Suite) -> Callable[[dict[str, Any], dict[str, Any]], tuple[str, str] | None]:
        """The canonical document and proof options, by compiled skeletons when the suite is one
        of the 2018 ones (every key of the config signs with one).
        """

        def transformed(document: dict[str, Any], proof: dict[str, Any]) -> tuple[str, str] | None:
            if suite.transform is not transform_urdna2015:
                return None
            config = proof_configuration(suite, proof, document)
            return self._shapes.canonical(document), self._shapes.canonical(config)

        return transformed

    # --- /sign --------------------------------------------------------------------------------

    def sign_request(self, body: Any) -> str:
        """``POST /sign``: ``{"data", "credentialTemplate"}`` -> the signed credential, as the
        compact JSON text the original answers (``JSON.stringify``'s form, not ASCII-escaped).
        """
        if not isinstance(body, dict) or "data" not in body or "credentialTemplate" not in body:
            raise DocumentError(
                "the body must be a JSON object with data and credentialTemplate", field="credentialTemplate"
            )
        return self._signed_text(body["data"], body["credentialTemplate"])

    def needs_fetch(self, body: Any) -> bool:
        """Whether a /sign ``body`` names a template by a URL not fetched yet (I/O, bounded)."""
        template = body.get("credentialTemplate") if isinstance(body, dict) else None
        if not isinstance(template, str) or not _URL.fullmatch(template.strip()):
            return False
        return not self._sources.has_fetched(template.strip())

    def sign(self, data: Any, template: Any) -> dict[str, Any]:
        """The credential ``template`` makes of ``data``, signed by its issuer's key.

        ``template``: a Handlebars template string, an http(s) URL of one (fetched once, within
        bounds), or a JSON object (written as JSON text first, as the original does).
        """
        signed: dict[str, Any] = json.loads(self._signed_text(data, template))
        return signed

    def _signed_text(self, data: Any, template: Any) -> str:
        # the answer is kept as text: a retry gets the same bytes, and no caller can change it
        request_key = hashlib.sha256(
            json.dumps([data, template], sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
        ).hexdigest()
        with self._lock:
            known = self._answers.get(request_key)
        if known is not None:
            return known
        compiled = self._template(template)
        credential = compiled.render_json(data)
        self._check_credential(credential)
        key = self.config.key_for(_issuer_id(credential))
        if key.signer is None:
            raise SigningError(
                f"the signer's key {key.name} has no privateKey: it verifies only", field="issuer", issuer=key.name
            )
        signed = sign_with_transform(
            credential,
            key.signer,
            suite=key.suite,
            created=self._now(),
            contexts=self.contexts,
            transformed=self._transformed(get_suite(key.suite)),
            copy_document=False,
        )
        text = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._answers[request_key] = text
        return text

    def _template(self, template: Any) -> Template:
        if isinstance(template, str) and _URL.fullmatch(template.strip()):
            source = self._sources.template_text(template.strip())
        elif isinstance(template, str):
            source = template
        elif isinstance(template, (dict, list)):
            source = json.dumps(template, ensure_ascii=False, separators=(",", ":"))
        else:
            raise DocumentError(
                "credentialTemplate must be a Handlebars template (a string), its URL, or a JSON object",
                field="credentialTemplate",
            )
        return self._sources.compiled(source)

    @staticmethod
    def _check_credential(credential: Any) -> None:
        """What vc-js 0.6.4's ``issue()`` checks before it signs, each refusal naming its field."""

        def fail(message: str, name: str) -> DocumentError:
            return DocumentError(f"the rendered credential: {message}", field=name)

        if not isinstance(credential, dict):
            raise fail("must be a JSON object", "")
        contexts = credential.get("@context")
        first = contexts[0] if isinstance(contexts, list) and contexts else contexts
        if first != CREDENTIALS_V1:
            raise fail(f"its first @context must be {CREDENTIALS_V1}", "@context")
        types = credential.get("type")
        if "VerifiableCredential" not in (types if isinstance(types, list) else [types]):
            raise fail("type must include VerifiableCredential", "type")
        if not credential.get("credentialSubject"):
            raise fail("credentialSubject is missing", "credentialSubject")
        issuer = _issuer_id(credential)
        if issuer is None or ":" not in issuer:
            raise fail(f"issuer must be a URL or DID, not {json.dumps(credential.get('issuer'))}", "issuer")
        issued = credential.get("issuanceDate")
        try:
            _datetime.parse(issued)
        except ValueError:
            raise fail(
                f"issuanceDate must be an RFC 3339 date-time, not {json.dumps(issued)}", "issuanceDate"
            ) from None
        if "credentialStatus" in credential:
            for status in _as_list(credential["credentialStatus"]) or [None]:
                if not isinstance(status, dict) or "id" not in status or "type" not in status:
                    raise fail("credentialStatus must have an id and a type", "credentialStatus")

    # --- /verify ------------------------------------------------------------------------------

    def verify_request(self, body: Any, *, now: datetime | None = None) -> dict[str, Any]:
        """``POST /verify``: ``{"signedCredentials", "publicKey"?}`` -> the original's answer."""
        credential = body.get("signedCredentials") if isinstance(body, dict) else None
        if not isinstance(credential, dict) or "issuer" not in credential or "proof" not in credential:
            raise DocumentError(
                "signedCredentials must be a signed credential (an object with issuer and proof)",
                field="signedCredentials",
            )
        public_key = body.get("publicKey")
        if public_key is not None and not isinstance(public_key, str):
            raise DocumentError("publicKey must be a string (base58 or PEM)", field="publicKey")
        return self.verify(credential, public_key=public_key, now=now)

    def verify(
        self, credential: Mapping[str, Any], *, public_key: str | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """``{"verified", "results": [{"proof", "verified", "purposeResult"}], "error"?}`` as
        jsonld-signatures 6 answers, with vccore's ``problems`` beside; checked by vccore's
        verifier with the key the credential's issuer has in the config.
        """
        issuer = _issuer_id(credential)
        key = self.config.key_for(issuer)
        verifier = self._verifier(key, issuer or "", public_key)
        result = verifier.verify(credential, now=now)
        controller = {
            "@context": SECURITY_V2,
            "id": key.verification_method,
            "publicKey": [key.method(self.config.controller, public_key)],
            "assertionMethod": [key.verification_method],
        }
        proofs = [p for p in _as_list(credential.get("proof")) if isinstance(p, dict)]
        results = []
        for proof in proofs:
            shown = {"@context": SECURITY_V2, **{k: v for k, v in proof.items() if k != "@context"}}
            entry: dict[str, Any] = {"proof": shown, "verified": result.verified}
            if result.verified:
                entry["purposeResult"] = {"valid": True, "controller": controller}
            else:
                entry["error"] = {"name": "Error", "message": _message(result)}
            results.append(entry)
        answer: dict[str, Any] = {"verified": result.verified, "results": results}
        if not result.verified:
            answer["error"] = {
                "name": "VerificationError",
                "errors": [{"name": "Error", "message": p.detail, "code": p.code} for p in result.problems],
            }
        answer["problems"] = [p.to_dict() for p in result.problems]
        answer["warnings"] = [p.to_dict() for p in result.warnings]
        return answer

    def _verifier(self, key: IssuerKey, issuer: str, public_key: str | None) -> Verifier:
        cache_key = (key.name, issuer, public_key)
        with self._lock:
            verifier = self._verifiers.get(cache_key)
        if verifier is None:
            # The original checks the signature with the issuer's key and no more (no issuer-to-key
            # check): the key was chosen by the issuer, so the method names the issuer as controller.
            method = key.method(issuer or self.config.controller, public_key)
            method.pop("@context")
            verifier = Verifier.create(
                suites=[key.suite], contexts=self.contexts, verification_methods=[method], trusted_issuers=None
            )
            with self._lock:
                self._verifiers[cache_key] = verifier
        return verifier


def _message(result: Any) -> str:
    problems = result.problems
    return problems[0].detail if problems else "not verified"


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]

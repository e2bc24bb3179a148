"""The hostile-input corpus: issue, verify, QR decode and status lists fed what an attacker or a
broken system sends. Every case must end within a second with vccore's own error or "not
verified" and a reason: no other exception, nothing verified, no hang."""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import random
import signal
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vccore import (
    Ed25519Key,
    VccoreError,
    Verifier,
    bundled_contexts,
    bundled_entity_types,
    canonicalize_nquads,
    qr,
    sign,
)
from vccore.issuer import Issuer
from vccore.status import Bitstring, status_list_credential
from vccore.store import LIST_SIZE, SQLiteStore
from vccore.verify import VerificationResult

HP = bundled_entity_types()["HealthProfessional"]
KEY = Ed25519Key.from_seed(bytes(range(32)))
OTHER = Ed25519Key.from_seed(bytes(range(1, 33)))
NOW = datetime(2024, 1, 1, tzinfo=UTC)
TEN_MB = 10 * 1024 * 1024
VECTORS = Path(__file__).parent / "vectors"


class _Setup:
    """A signed credential, a second one, their status lists, and an issuer: built once."""

    def __init__(self, folder: Path) -> None:
        self.issuer = Issuer(
            signer=KEY, store=SQLiteStore(folder / "s.db", status_url="https://issuer.example/status/")
        )
        assert HP.example is not None
        self.credential = self.issuer.certify(HP, HP.example, now=NOW).credential
        self.second = self.issuer.certify(
            HP, {**HP.example, "certificateId": "other-1", "name": "Someone Else"}, now=NOW
        ).credential
        self.lists = self.issuer.status_list_credentials(now=NOW)
        self.verifier = Verifier.create(status=self.lists)


_SETUP: _Setup | None = None


def setup() -> _Setup:
    global _SETUP
    if _SETUP is None:
        import tempfile

        _SETUP = _Setup(Path(tempfile.mkdtemp(prefix="vccore-hostile-")))
    return _SETUP


def with_field(path: tuple[Any, ...], value: Any) -> Callable[[], Any]:
    """Verify the credential with the value at ``path`` replaced (or added)."""

    def run() -> Any:
        credential = copy.deepcopy(setup().credential)
        node = credential
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return setup().verifier.verify(credential, now=NOW)

    return run


def deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


def verify_text(text: str | bytes) -> Callable[[], Any]:
    return lambda: setup().verifier.verify(text, now=NOW)


def with_fields(fields: dict[str, Any]) -> Callable[[], Any]:
    """Verify the credential with these top-level fields replaced (built before the clock starts)."""
    return lambda: setup().verifier.verify({**setup().credential, **fields}, now=NOW)


def chain(length: int) -> list[dict[str, Any]]:
    """``length`` proofs, each naming every proof before it as its previousProof: each one makes
    the verifier canonicalize the document with the proofs it names."""
    proofs = []
    for i in range(length):
        proof = {**setup().credential["proof"], "id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}"}
        if i:
            proof["previousProof"] = [p["id"] for p in proofs]
        proofs.append(proof)
    return proofs


def presented(change: Callable[[dict[str, Any]], Any], *, whole: bool = False, **options: Any) -> Callable[[], Any]:
    """Verify a presentation of the credential, changed; its own result, or its first failing
    credential's (``whole``: every credential's result must say why it failed)."""

    def run() -> Any:
        vp: dict[str, Any] = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [copy.deepcopy(setup().credential)],
        }
        changed = change(vp)
        result = setup().verifier.verify_presentation(vp if changed is None else changed, now=NOW, **options)
        if whole:
            for credential in result.credentials:
                assert credential.verified or credential.problems, credential
        return result.presentation_or_first()

    return run


def _cases() -> Iterator[tuple[str, Callable[[], Any]]]:
    signed = lambda: json.dumps(setup().credential)  # noqa: E731
    # --- verify: text that is not a credential ---
    for cut in (1, 2, 10, 50, 100, 300, 500, 800, 1000, 1200, 1500, 1700, 1900, 2000, -50, -20, -10, -5, -2, -1):
        yield f"verify: truncated at {cut}", (lambda cut=cut: setup().verifier.verify(signed()[:cut], now=NOW))
    for name, text in {
        "empty": "",
        "null": "null",
        "array": "[]",
        "number": "1",
        "string": '"x"',
        "open brace": "{",
        "extra brace": "{}}",
        "NaN": '{"a": NaN}',
        "duplicate keys": '{"a": 1, "a": 2}',
        "BOM": "\ufeff{}",
        "lone surrogate": '{"a": "\\ud800"}',
        "huge number": '{"a": ' + "9" * 5000 + "}",
        "nested text": "[" * 100_000 + "]" * 100_000,
    }.items():
        yield f"verify: {name}", verify_text(text)
    yield "verify: invalid UTF-8", verify_text(b'{"a": "\xff\xfe"}')
    yield "verify: 10 MB of spaces", verify_text(" " * TEN_MB)
    # --- verify: wrong types everywhere ---
    wrong = {
        "null": None,
        "int": 1,
        "bool": True,
        "empty list": [],
        "empty object": {},
        "string": "x",
        "list of ints": [1, 2],
    }
    for field in (
        "@context",
        "type",
        "issuer",
        "validFrom",
        "validUntil",
        "credentialSubject",
        "credentialStatus",
        "proof",
        "id",
        "evidence",
    ):
        for label, value in wrong.items():
            yield f"verify: {field} as {label}", with_field((field,), value)
    for field in ("type", "cryptosuite", "created", "verificationMethod", "proofPurpose", "proofValue"):
        for label, value in {"null": None, "int": 1, "list": [], "object": {}, "other string": "x"}.items():
            yield f"verify: proof.{field} as {label}", with_field(("proof", field), value)
    for field in ("statusListIndex", "statusListCredential", "statusPurpose", "type"):
        for label, value in {"null": None, "int": 7, "object": {}}.items():
            yield f"verify: credentialStatus.{field} as {label}", with_field(("credentialStatus", 0, field), value)
    # --- verify: size and depth ---
    yield "verify: a 10 MB name", with_field(("credentialSubject", "name"), "x" * TEN_MB)
    yield "verify: a 10 MB proofValue", with_field(("proof", "proofValue"), "z" + "1" * TEN_MB)
    yield "verify: 100,000-deep object in the subject", with_field(("credentialSubject", "extra"), deep(100_000))
    yield (
        "verify: 100,000 keys in the subject",
        with_field(("credentialSubject",), {f"k{i}": "v" for i in range(100_000)}),
    )
    yield "verify: 17 proofs", with_field(("proof",), [setup().credential["proof"]] * 17)
    yield "verify: proofs that are not objects", with_field(("proof",), ["x", 1])
    # --- verify: contexts ---
    v2 = "https://www.w3.org/ns/credentials/v2"
    for label, contexts in {
        "a remote context": [v2, "https://evil.example/context.jsonld"],
        "an unknown vocabulary": [v2, "https://vccore.dev/credentials/health-professional/v2"],
        "a known URL with a slash": [v2 + "/", "https://vccore.dev/credentials/health-professional/v1"],
        "a data URL": [v2, "data:application/ld+json,{}"],
        "a file URL": [v2, "file:///etc/passwd"],
        "an inline @import": [v2, {"@import": "https://evil.example/c"}],
        "an inline redefinition": [
            v2,
            "https://vccore.dev/credentials/health-professional/v1",
            {"name": "https://evil.example/name"},
        ],
    }.items():
        yield f"verify: {label}", with_field(("@context",), contexts)

    def other_bytes() -> Any:
        return Verifier.create(contexts=bundled_contexts().with_contexts({v2: b'{"@context": {}}'}))

    yield "verify: a known context URL with other bytes", other_bytes
    # --- verify: signatures ---
    yield (
        "verify: proofs swapped between credentials",
        (lambda: setup().verifier.verify({**setup().second, "proof": setup().credential["proof"]}, now=NOW)),
    )
    yield (
        "verify: signed by another key",
        (
            lambda: setup().verifier.verify(
                sign(
                    {k: v for k, v in setup().credential.items() if k != "proof"},
                    OTHER,
                    created=NOW,
                    contexts=HP.context_loader(),
                ),
                now=NOW,
            )
        ),
    )
    yield (
        "verify: another key's proofValue",
        with_field(
            ("proof", "proofValue"),
            sign(
                {k: v for k, v in setup().credential.items() if k != "proof"},
                OTHER,
                created=NOW,
                contexts=HP.context_loader(),
            )["proof"]["proofValue"],
        ),
    )
    yield (
        "verify: a did:key that is not Ed25519",
        with_field(
            ("proof", "verificationMethod"),
            "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme#zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
        ),
    )
    yield "verify: a did:web key", with_field(("proof", "verificationMethod"), "did:web:evil.example#key-1")
    for label, proof_type in {
        "RsaSignature2018": "RsaSignature2018",
        "BbsBlsSignature2020": "BbsBlsSignature2020",
        "Ed25519Signature2018": "Ed25519Signature2018",
    }.items():
        yield f"verify: a {label} proof", with_field(("proof", "type"), proof_type)
    for cryptosuite in ("ecdsa-rdfc-2019", "bbs-2023", "eddsa-jcs-2022"):
        yield f"verify: cryptosuite {cryptosuite}", with_field(("proof", "cryptosuite"), cryptosuite)
    yield (
        "verify: a poison graph in the subject",
        with_field(
            ("credentialSubject", "knows"),
            [{"@id": f"_:n{i}", "knows": [{"@id": f"_:n{j}"} for j in range(10) if j != i]} for i in range(10)],
        ),
    )
    # --- verify: status lists ---
    url = next(iter(setup().lists))

    def with_lists(change: Callable[[dict[str, Any]], Any]) -> Callable[[], Any]:
        def run() -> Any:
            lists = copy.deepcopy(setup().lists)
            changed = change(lists[url])
            lists[url] = changed if changed is not None else lists[url]
            return Verifier.create(status=lists).verify(setup().credential, now=NOW)

        return run

    def short_list(purpose: str) -> dict[str, Any]:
        unsigned = status_list_credential(
            url,
            issuer=KEY.controller,
            purpose=purpose,
            bits=Bitstring.zeros(LIST_SIZE // 2),
            valid_from="2023-01-01T00:00:00Z",
        )
        return sign(unsigned, KEY, created=NOW)

    yield "status: a list too short", with_lists(lambda lst: short_list(lst["credentialSubject"]["statusPurpose"]))
    yield "status: an unsigned list", with_lists(lambda lst: {k: v for k, v in lst.items() if k != "proof"})
    yield (
        "status: another issuer's list",
        with_lists(
            lambda lst: sign(
                {**{k: v for k, v in lst.items() if k != "proof"}, "issuer": OTHER.controller}, OTHER, created=NOW
            )
        ),
    )
    yield (
        "status: a tampered bitstring",
        with_lists(
            lambda lst: lst["credentialSubject"].update(
                encodedList="u"
                + base64.urlsafe_b64encode(gzip.compress(b"\xff" * (LIST_SIZE // 8))).decode().rstrip("=")
            )
        ),
    )
    gzip_bomb = "u" + base64.urlsafe_b64encode(gzip.compress(b"\x00" * (64 << 20))).decode().rstrip(
        "="
    )  # made once, outside the clock
    yield "status: a gzip bomb", with_lists(lambda lst: lst["credentialSubject"].update(encodedList=gzip_bomb))
    yield "status: not base64", with_lists(lambda lst: lst["credentialSubject"].update(encodedList="u!!!"))
    yield "status: a list that is a string", with_lists(lambda lst: "not a credential")
    yield (
        "status: a 10 MB list",
        with_lists(lambda lst: lst["credentialSubject"].update(encodedList="u" + "A" * TEN_MB)),
    )
    yield (
        "status: a list for another purpose",
        with_lists(lambda lst: lst["credentialSubject"].update(statusPurpose="message")),
    )

    def resolver(answer: Callable[[str], Any]) -> Callable[[], Any]:
        return lambda: Verifier.create(status=answer).verify(setup().credential, now=NOW)

    yield "status: a resolver that raises", resolver(lambda u: 1 / 0)
    yield "status: a resolver that answers JSON text", resolver(lambda u: json.dumps(setup().lists[u]))
    yield "status: a resolver that answers a list", resolver(lambda u: [1, 2])
    yield "status: a resolver that answers nothing", resolver(lambda u: None)
    # --- issue ---
    for label, payload in {
        "None": None,
        "a list": [],
        "a string": "x",
        "a number": 1,
        "an empty object": {},
    }.items():
        yield (
            f"issue: a payload that is {label}",
            (lambda payload=payload: setup().issuer.certify(HP, payload, now=NOW)),
        )
    base = dict(HP.example or {})
    for label, change in {
        "a 10 MB name": {"name": "x" * TEN_MB},
        "a deep object as name": {"name": deep(100_000)},
        "a list as name": {"name": ["a", "b"]},
        "NaN as dob": {"dob": float("nan")},
        "a huge integer": {"name": 10**5000},
        "a lone surrogate": {"name": "\ud800"},
        "100,000 unknown fields": {f"f{i}": "v" for i in range(100_000)},
        "a control character id": {"certificateId": "a\x00b"},
        "a compact IRI issuer": {"issuer": "schema:evil"},
        "a relative URL issuer": {"issuer": "/relative"},
        "an impossible date": {"dob": "1991-02-30"},
        "a date with time": {"dob": "1991-02-03T00:00:00Z"},
        "a non-ASCII digit date": {"dob": "١٩٩١-02-03"},
    }.items():
        yield f"issue: {label}", (lambda change=change: setup().issuer.certify(HP, {**base, **change}, now=NOW))
    # --- QR ---
    rng = random.Random(5)
    for i in range(8):
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        yield f"qr: random bytes {i}", (lambda garbage=garbage: qr.decode_text(garbage))
        yield f"qr: random text {i}", (lambda garbage=garbage: qr.decode_text(garbage.decode("latin-1")))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("certificate.json", b"{" + b" " * (50 << 20) + b"}")
    for label, payload in {
        "empty": "",
        "prefix only": "VC1:",
        "10 MB of base45": "VC1:" + "0" * TEN_MB,
        "10 MB of text": "x" * TEN_MB,
        "a zlib bomb": "VC1:" + qr.b45encode(zlib.compress(b" " * (50 << 20))),
        "a zip bomb": bomb.getvalue().decode("latin-1"),
        "deep JSON inside": "VC1:" + qr.b45encode(zlib.compress(b"[" * 100_000 + b"]" * 100_000)),
        "HC1": "HC1:6BF+70790T9WJWG.FKY*4GO0.O1CV2 O5 N2FBBRW1*70HS8WY04AC*WIFN0AHCD8KD97TK0F90KECTHGWJC0FDC:5AIA%G7X+AQB9746HS80:54IBQF60R6$A80X6S1BTYACG6M+9XG8KIAWNA91AY%67092L4WJCT3EHS8XJC$+DXJCCWENF6OF63W5NW6WF6%JC QE/IAYJC5LEW34U3ET7DXC9 QE-ED8%E.JCBECB1A-:8$96646AL60A60S6Q$D.UDRYA 96NF6L/5QW6307KQEPD09WEQDD+Q6TW6FA7C466KCN9E%961A6DL6FA7D46JPCT3E5JDLA7$Q6E464W5TG6..DX%DZJC6/DTZ9 QE5$CB$DA/D JC1/D3Z8WED1ECW.CCWE.Y92OAGY8MY9L+9MPCG/D5 C5IA5N9$PC5$CWA3T+84.B:A1NDFGCS7KWHHL4IG8KA3VRP73V:G01A1BO*ZFW6HY/OQ0GMVEOYC5/40G:T60P8D2%QD9WQ+V6Q/E8/5E/I/T6/8VV%CGXNAH0+JN/*UL6NP*7EF4A+CXCVSHNG6I5BL2FFX9U2-DZ%1YVIMXPV3WG7B7G2$FHJ:G2T0K-O5R62CF%38ED86-S8SC/Q7*2VRBUBMG1$GPVGE43Y04:-SD$7+%S3-U0.FTV6HZL-ELTXT6N7+YKLN74CV8-13OVC6O/ZH*%7$9KJ/A/H6WL0I8FZH20XDTDJ4VD",
        "SHC": "shc:/56762909524320603460292437404460312229595326546034602925407728043360287028647167452228092861333145643765314159064022030645045908564355034142454136403706366541713724123638030437562204673740753232392543344332605736010645293353127074232843503861103840354235",
        "an unknown version": "VC7:ABC",
        "plain JSON that is not a credential": "[1, 2, 3]",
        "Latin-1 text that is not a ZIP": "PK\x03\x04" + "\xff" * 100,
    }.items():
        yield f"qr: {label}", (lambda payload=payload: qr.decode_text(payload))
    # --- presentations ---

    yield "present: not an object", presented(lambda vp: [vp])
    yield "present: 10 MB of text", presented(lambda vp: "x" * TEN_MB)
    yield "present: 100,000-deep holder", presented(lambda vp: vp.update(holder=deep(100_000)))
    yield (
        "present: 65 credentials",
        presented(lambda vp: vp.update(verifiableCredential=vp["verifiableCredential"] * 65)),
    )
    yield "present: a credential that is a string", presented(lambda vp: vp.update(verifiableCredential=["x"]))
    yield (
        "present: a forged credential inside",
        presented(lambda vp: vp["verifiableCredential"][0]["credentialSubject"].update(name="Mallory")),
    )
    yield (
        "present: an enveloped credential",
        presented(
            lambda vp: vp.update(verifiableCredential=[{"type": "EnvelopedVerifiableCredential", "id": "data:x"}])
        ),
    )
    yield "present: 17 proofs", presented(lambda vp: vp.update(proof=[setup().credential["proof"]] * 17))
    yield (
        "present: a credential's proof as the presentation's",
        presented(lambda vp: vp.update(proof=setup().credential["proof"]), challenge="c"),
    )
    yield "present: no proof, a challenge asked", presented(lambda vp: None, challenge="c")
    yield "present: not a presentation", presented(lambda vp: vp.update(type=["VerifiableCredential"]))
    # --- the cost of one request (issue #16): every bound, at its worst ---
    yield (
        "bound: the review's 84 KB document (64 subjects and 64 evidence objects with one id, 64 values each)",
        with_fields(
            {
                "credentialSubject": [{"id": "urn:x", "name": [f"s{i}-{j}" for j in range(64)]} for i in range(64)],
                "evidence": [
                    {
                        "id": "urn:y",
                        "type": "HealthProfessionalRegistration",
                        "registrationId": [f"e{i}-{j}" for j in range(64)],
                    }
                    for i in range(64)
                ],
            }
        ),
    )
    yield (
        "bound: 65 values of one property, from two objects with one id",
        with_fields(
            {
                "credentialSubject": [
                    {"id": "urn:x", "name": [f"a{j}" for j in range(33)]},
                    {"id": "urn:x", "name": [f"b{j}" for j in range(32)]},
                ],
            }
        ),
    )
    yield (
        "bound: 10,000 values (150 properties of 64)",
        with_fields(
            {
                "@context": [*setup().credential["@context"], {"@vocab": "https://example.org/v#"}],
                "credentialSubject": {f"p{i}": [f"v-{i}-{j}" for j in range(64)] for i in range(150)},
            }
        ),
    )
    yield "bound: 16 chained proofs, each naming all before it", with_fields({"proof": chain(16)})
    yield (
        "bound: 16 chained proofs over 6,400 values",
        with_fields(
            {
                "@context": [*setup().credential["@context"], {"@vocab": "https://example.org/v#"}],
                "credentialSubject": {f"p{i}": [f"v-{i}-{j}" for j in range(64)] for i in range(100)},
                "proof": chain(16),
            }
        ),
    )
    yield (
        "bound: 16 proofs over a poison graph",
        with_fields(
            {
                "credentialSubject": {
                    "knows": [
                        {"@id": f"_:n{i}", "knows": [{"@id": f"_:n{j}"} for j in range(10) if j != i]}
                        for i in range(10)
                    ]
                },
                "proof": [setup().credential["proof"]] * 16,
            }
        ),
    )
    yield (
        "bound: 16 proof chains over a poison graph",
        with_fields(
            {
                "credentialSubject": {
                    "knows": [
                        {"@id": f"_:n{i}", "knows": [{"@id": f"_:n{j}"} for j in range(10) if j != i]}
                        for i in range(10)
                    ]
                },
                "proof": chain(16),
            }
        ),
    )
    wide = {f"p{i}": [f"v-{i}-{j}" for j in range(64)] for i in range(10)}
    yield (
        "bound: a presentation of 64 credentials of 640 values",
        presented(
            lambda vp: vp.update(
                verifiableCredential=[
                    {
                        **copy.deepcopy(setup().credential),
                        "@context": [*setup().credential["@context"], {"@vocab": "https://example.org/v#"}],
                        "credentialSubject": wide,
                    }
                ]
                * 64
            ),
            whole=True,
        ),
    )
    yield (
        "bound: a signed presentation holding 64 credentials",
        presented(
            lambda vp: vp.update(
                verifiableCredential=vp["verifiableCredential"] * 64, proof=setup().credential["proof"]
            ),
            whole=True,
        ),
    )
    # --- canonicalization ---
    poison = (VECTORS / "rdf-canon/rdfc10/test074-in.nq").read_text()
    yield "canonicalize: the rdf-canon poison graph", (lambda: canonicalize_nquads(poison))


CASES = list(_cases())
assert len(CASES) >= 150, len(CASES)


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang


@pytest.mark.parametrize(("name", "run"), CASES, ids=[name for name, _ in CASES])
def test_hostile_input_ends_quickly_and_clearly(name: str, run: Callable[[], Any]) -> None:
    setup()  # built before the clock starts
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 10.0)  # a hang fails the case, never the whole run
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        result = run()
    except VccoreError as exc:
        result = exc
    except _Hang:
        pytest.fail(f"{name}: still running after 10 s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    if isinstance(result, VerificationResult):
        assert not result.verified, f"{name}: verified"
        assert result.problems and all(p.detail for p in result.problems), f"{name}: not verified, but no reason given"
        assert "INTERNAL_ERROR" not in result.codes, f"{name}: {result.problems}"
    elif isinstance(result, VccoreError):
        assert result.code and result.message, f"{name}: an error without a code or message"
    elif isinstance(result, Verifier):
        pytest.fail(f"{name}: a verifier was made")
    else:
        pytest.fail(f"{name}: accepted ({type(result).__name__})")
    # The bound is on the work done: this process's CPU time (a hang that spends wall time is what
    # the 10 s alarm catches). The widest cases within the bounds (16 chained proofs over 6,400
    # values; 64 credentials of 640 values) took 0.55-0.7 s of CPU on this 2-core machine in the
    # morning and 0.95-1.05 s in the evening of 2026-12-01, at 4d103c4 as at HEAD: the 1.0 s bound
    # failed CI on the same code. 2.0 s keeps them apart from what the budgets stop (an unbounded
    # document ran for 65 s in review; the poison graph, forever).
    assert cpu < 2.0, f"{name}: took {cpu:.2f} s of CPU ({elapsed:.2f} s of wall time)"

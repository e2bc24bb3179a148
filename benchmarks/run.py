"""Throughput of vccore against the plain pyld + cryptography pipeline, on the same credentials.

HealthProfessional credentials (VC 2.0, eddsa-rdfc-2022, with their status entries), issued and
verified on one core by vccore and by the plain pipeline, one after the other in this process, so
that the ratio holds however fast the machine is today. Also the time per issuing stage, the
calls a user makes as README.md shows them (benchmarks/public_api.py), and how long the worst
inputs take. Prints a table and writes benchmarks/results/latest.json.

    python -m benchmarks.run [--count N] [--repeat R]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import segno
from pyld import jsonld

import vccore
from benchmarks import public_api
from vccore import (
    Ed25519Key,
    VccoreError,
    Verifier,
    _multibase,
    bundled_entity_types,
    canonicalize,
    canonicalize_nquads,
    qr,
    sign,
)
from vccore.canon import MAX_ARRAY_LENGTH, MAX_JSON_VALUES
from vccore.issuer import Issuer, status_list_url
from vccore.status import PURPOSES, Bitstring, status_list_credential
from vccore.store import LIST_SIZE, SQLiteStore

RESULTS = Path(__file__).parent / "results"
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def payloads(count: int) -> list[dict[str, Any]]:
    """The seed payload, varied: every credential is different."""
    entity = bundled_entity_types()["HealthProfessional"]
    assert entity.example is not None
    return [
        {
            **entity.example,
            "name": f"Dr. Professional {i}",
            "registrationId": f"KMC-{i:08d}",
            "certificateId": f"{100000000000 + i}",
        }
        for i in range(count)
    ]


# --- the baseline: what a developer writes with pyld and cryptography alone ---------------------

_LOADER = None


def _baseline_loader(url: str, options: Any = None) -> dict[str, Any]:
    # An offline loader at its best: tagged "static", so pyld keeps each processed context in
    # its process-wide cache instead of processing it again on every call (untagged, the
    # baseline runs about 1.5x slower on these machines).
    assert _LOADER is not None
    return {"contextUrl": None, "documentUrl": url, "document": json.loads(_LOADER.read_bytes(url)), "tag": "static"}


def _baseline_normalize(document: Any) -> str:
    result: str = jsonld.normalize(
        document, {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _baseline_loader}
    )
    return result


def _baseline_verify_data(document: dict[str, Any], proof: dict[str, Any]) -> bytes:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = document["@context"]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(_baseline_normalize(config).encode()).digest()
        + hashlib.sha256(_baseline_normalize(unsecured).encode()).digest()
    )


def baseline_sign(document: dict[str, Any], key: Ed25519Key, created: str) -> dict[str, Any]:
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": created,
        "verificationMethod": key.id,
        "proofPurpose": "assertionMethod",
    }
    proof["proofValue"] = _multibase.encode(key.sign(_baseline_verify_data(document, proof)))
    return {**document, "proof": proof}


def baseline_verify(document: dict[str, Any], key: Ed25519Key) -> bool:
    signature = _multibase.decode(document["proof"]["proofValue"])
    return key.verify(signature, _baseline_verify_data(document, document["proof"]))


# --- measurement -------------------------------------------------------------------------------


def rate(work: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    """Median items per second over ``repeat`` passes (after one warm-up pass over a tenth)."""
    for item in items[: max(1, len(items) // 10)]:
        work(item)
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            work(item)
        rates.append(len(items) / (time.perf_counter() - started))
    return statistics.median(rates)


def microseconds(work: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    return 1e6 / rate(work, items, repeat)


def hostile_timings() -> dict[str, float]:
    """Seconds to refuse or finish the worst inputs vccore admits (median of 3)."""
    poison = (Path(__file__).parent.parent / "tests/vectors/rdf-canon/rdfc10/test074-in.nq").read_text()
    widest = {
        "@context": {"@vocab": "https://vocab.example/"},
        "@id": "urn:x",
        **{
            f"p{j}": [f"s{i}" for i in range(MAX_ARRAY_LENGTH)]
            for j in range(MAX_JSON_VALUES // (MAX_ARRAY_LENGTH + 1) - 1)
        },
    }

    def seconds(work: Callable[[], Any]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with contextlib.suppress(VccoreError):
                work()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return {
        "poison_graph_refusal_s": seconds(lambda: canonicalize_nquads(poison)),
        "widest_admitted_document_s": seconds(lambda: canonicalize(widest)),
    }


def qr_timings(credential: dict[str, Any], runs: int = 15) -> dict[str, float]:
    """Milliseconds to make the QR symbol of a credential (compact format, ECC M): vccore, and
    segno choosing the mask itself (its default), on the same text; medians of ``runs``."""
    text = qr.encode_text(credential)

    def median_ms(work: Callable[[], Any]) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            work()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    symbol = qr.make(credential, ecc="M")
    return {
        "qr_version": symbol.version,
        "qr_vccore_ms": median_ms(lambda: qr.make(credential, ecc="M")),
        "qr_segno_default_ms": median_ms(lambda: segno.make(text, error="m", mode="alphanumeric", boost_error=False)),
    }


def main() -> None:
    global _LOADER
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    entity = bundled_entity_types()["HealthProfessional"]
    key = Ed25519Key.from_seed(bytes(range(32)))
    folder = Path(tempfile.mkdtemp(prefix="vccore-bench-"))
    issuer = Issuer(signer=key, store=SQLiteStore(folder / "bench.db", status_url="https://issuer.example/status/"))
    _LOADER = entity.context_loader()
    batch = payloads(args.count)
    positions = [(0, i) for i in range(len(batch))]
    created = "2024-01-01T00:00:00Z"

    def vccore_issue(i: int) -> dict[str, Any]:
        return issuer.make_credential(entity, batch[i], positions[i], NOW)

    signed = [vccore_issue(i) for i in range(len(batch))]
    unsigned = [{k: v for k, v in c.items() if k != "proof"} for c in signed]
    assert [baseline_sign(u, key, created) for u in unsigned] == signed, "baseline and vccore disagree"
    # the three (empty) status lists of list set 0, which the credentials point into
    status = {}
    for purpose in PURPOSES:
        url = status_list_url(issuer.store, 0, purpose)
        unsigned_list = status_list_credential(
            url,
            issuer=key.controller,
            purpose=purpose,
            bits=Bitstring.zeros(LIST_SIZE),
            valid_from=created,
            valid_until="2034-01-01T00:00:00Z",
        )
        status[url] = sign(unsigned_list, key, created=NOW)
    verifier = Verifier.create(status=status, contexts=_LOADER)
    assert all(verifier.verify(c, now=NOW).verified for c in signed)

    indexes = list(range(len(batch)))
    results: dict[str, float] = {
        "vccore_issue_per_s": rate(vccore_issue, indexes, args.repeat),
        "pyld_issue_per_s": rate(lambda u: baseline_sign(u, key, created), unsigned, args.repeat),
        "vccore_verify_per_s": rate(lambda c: verifier.verify(c, now=NOW), signed, args.repeat),
        "pyld_verify_per_s": rate(lambda c: baseline_verify(c, key), signed, args.repeat),
    }
    results["issue_ratio"] = results["vccore_issue_per_s"] / results["pyld_issue_per_s"]
    results["verify_ratio"] = results["vccore_verify_per_s"] / results["pyld_verify_per_s"]

    # issuing, stage by stage, as Issuer.make_credential runs them on the compiled path
    compiled = issuer._compiled(entity, "2.0", False)
    assert compiled is not None
    values = [entity.values(p, issuer=key.controller, now=NOW) for p in batch]
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": created,
        "verificationMethod": key.id,
        "proofPurpose": "assertionMethod",
    }
    slots = [{**values[i], "$list": "0", "$index": str(i), "$replaces": None} for i in indexes]

    def build(i: int) -> Any:
        return compiled.render(slots[i])

    made = [build(i) for i in indexes]
    documents = [m[0] for m in made]
    data = [hashlib.sha256(b"x").digest() * 2 for _ in indexes]
    signatures = [key.sign(d) for d in data]
    unsecured = [{k: v for k, v in c.items() if k != "proof"} for c in signed]
    stages = {
        "validate_us": microseconds(lambda p: entity.values(p, issuer=key.controller, now=NOW), batch, args.repeat),
        "build_us": microseconds(build, indexes, args.repeat),
        "canonicalize_us": microseconds(lambda i: compiled.transform_present(proof, made[i][1]), indexes, args.repeat),
        "hash_and_sign_us": microseconds(lambda d: _multibase.encode(key.sign(d)), data, args.repeat),
        "reference_canonicalize_us": microseconds(
            lambda d: canonicalize(d, contexts=_LOADER), documents[: max(20, args.count // 10)], args.repeat
        ),
        # verifying: reading the slot values back out of the credential, its canonical form, the
        # signature check (what is left of a verification is its status, dates and data model)
        "verify_read_us": microseconds(compiled.slots_of, unsecured, args.repeat),
        "verify_canonicalize_us": microseconds(lambda i: compiled.document.canonical(slots[i]), indexes, args.repeat),
        "verify_signature_us": microseconds(lambda i: key.verify(signatures[i], data[i]), indexes, args.repeat),
    }
    results.update(stages)
    # the calls a user makes, as the README shows them, in the same run
    results.update(
        public_api.measure(
            key, args.count, args.repeat, rate=rate, baseline_sign=baseline_sign, baseline_verify=baseline_verify
        )
    )
    results.update(public_api.derived(results))
    results.update(qr_timings(signed[0]))
    results.update(hostile_timings())

    machine = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "cpus": os.cpu_count(),
        "vccore": vccore.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    print(f"HealthProfessional, VC 2.0, eddsa-rdfc-2022, with status; one core, median of {args.repeat} x {args.count}")
    print(f"{'':10}{'vccore/s':>12}{'pyld/s':>12}{'ratio':>8}")
    for what in ("issue", "verify"):
        print(
            f"{what:10}{results[f'vccore_{what}_per_s']:12.0f}{results[f'pyld_{what}_per_s']:12.0f}{results[f'{what}_ratio']:8.2f}"
        )
    print(
        "issue stages (us): validate {validate_us:.0f}, build {build_us:.0f}, canonicalize {canonicalize_us:.0f} "
        "(reference path: {reference_canonicalize_us:.0f}), hash+sign {hash_and_sign_us:.0f}".format(**results)
    )
    print(
        "verify stages (us): read back {verify_read_us:.0f}, canonicalize {verify_canonicalize_us:.0f}, "
        "Ed25519 verify {verify_signature_us:.0f}; the rest of {rest:.0f} goes to status, dates and the data model".format(
            rest=1e6 / results["vccore_verify_per_s"]
            - stages["verify_read_us"]
            - stages["verify_canonicalize_us"]
            - stages["verify_signature_us"],
            **results,
        )
    )
    public_api.report(results)
    print(
        "QR of a credential (compact, ECC M, version {qr_version}): {qr_vccore_ms:.1f} ms; "
        "segno choosing its own mask: {qr_segno_default_ms:.1f} ms (medians)".format(**results)
    )
    print(f"poison graph (rdf-canon test074) refused in {results['poison_graph_refusal_s']:.2f} s")
    print(f"widest document within the input bounds canonicalized in {results['widest_admitted_document_s']:.2f} s")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "latest.json"
    out.write_text(json.dumps({"results": results, "machine": machine, "args": vars(args)}, indent=2) + "\n")
    print(f"machine: {machine['processor']}, {machine['cpus']} CPUs, Python {machine['python']}")
    print(f"wrote {out}")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
